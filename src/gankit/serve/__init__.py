"""``gankit serve``: a local web studio over trained checkpoints (FastAPI + one static page).

Needs the ``serve`` extra (fastapi, uvicorn, python-multipart); ``import gankit`` never imports this package.
``gankit.serve.app.create_app(paths)`` builds the app, ``gankit.serve.app.serve(paths)`` runs it with uvicorn;
``gankit.serve.panels`` holds one panel per pipeline (noise, translate, upscale, text, voxel, age) over
``gankit.pipelines``; ``gate`` the per-model request queue; ``runs`` a run's pictures and score cards.
"""
