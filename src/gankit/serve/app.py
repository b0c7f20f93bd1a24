"""The studio's web app: one static page and a small JSON/PNG API over the checkpoints named on the command line.

Routes (``{mid}`` is a model id from ``GET /api/models``):

- ``GET  /``                              the page (``static/index.html``; no build step, no CDN)
- ``GET  /api/models``                    the model picker: family, data, step, best score, what the model can do
- ``GET  /api/models/{mid}/sample.png``   noise models: ``seed, n, cls, truncation, sliders=a,b,...`` -> a PNG grid
- ``GET  /api/models/{mid}/interpolate.png``  ``seed_a, seed_b, steps, cls, truncation, mode`` -> a PNG strip
- ``POST /api/models/{mid}/apply``        image models: multipart ``file`` (+ ``direction``; ageing models:
                                          ``target``, ``source``, ``steps``) -> the output PNG (with an
                                          ``X-Gankit-Warning`` header for a face far from the training faces)
- ``GET  /api/models/{mid}/text.png``     text models: ``caption, seed, n, stage1`` -> a PNG grid
- ``GET  /api/models/{mid}/text-interpolate.png``  ``caption_a, caption_b, seed, steps, stage1`` -> a PNG strip
- ``GET  /api/models/{mid}/views.png``    voxel models: ``seed, n, cls, views, threshold`` -> shaded views of each shape
- ``GET  /api/models/{mid}/turntable.gif``  ``seed, n, cls, frames, threshold`` -> the shapes turning (animated GIF)
- ``GET  /api/models/{mid}/mesh.{obj|ply}``  ``seed, n, index, cls, threshold`` -> one shape as a mesh file
- ``GET  /api/models/{mid}/run``          the run's pictures (loss curves, health report, sample grids), score cards
- ``GET  /api/models/{mid}/run/{name}``   one of those files (only names that listing returned)

Every error is JSON ``{"error": "..."}`` with a 4xx code. Generation runs in a worker thread
(``run_in_threadpool``); each model is used by one request at a time, with a bounded queue (429 when full).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal, Optional

from fastapi import FastAPI, File, Form, Query, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from ..errors import GankitError
from ..fileio import gankit_version
from .gate import Busy
from .panels import (
    MAX_CAPTION,
    MAX_SLIDER,
    AgePanel,
    ImagePanel,
    NoisePanel,
    Panel,
    TextPanel,
    VoxelPanel,
    load_models,
    png_bytes,
)
from .runs import run_files
from .uploads import Limits, UploadError, decode

STATIC = Path(__file__).with_name("static")
MAX_SEED = 2**31 - 1


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class BodyLimit:
    """Pure ASGI middleware: refuse a request body over ``max_bytes`` (by Content-Length, or while it streams in)
    with 413 before the multipart parser buffers it."""

    def __init__(self, app, max_bytes: int, upload_limit: int):
        self.app, self.max_bytes, self.upload_limit = app, max_bytes, upload_limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        too_big = _error(413, f"request body too large: uploads are limited to {self.upload_limit:,} bytes")
        if length is not None:
            try:
                if int(length) > self.max_bytes:
                    return await too_big(scope, receive, send)
            except ValueError:
                return await _error(400, "bad Content-Length header")(scope, receive, send)
        seen, started, tripped = 0, False, False

        async def counted():
            nonlocal seen, tripped
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    tripped = True
                    raise _TooLarge
            return msg

        async def tracked(msg):
            nonlocal started
            if tripped:  # the body parser turned our exception into its own 400: answer 413 instead
                if msg["type"] == "http.response.start" and not started:
                    started = True
                    await too_big(scope, receive, send)
                return
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await too_big(scope, receive, send)


class _TooLarge(Exception):
    pass


def create_app(
    paths,
    device: str = "cpu",
    limits: Limits = Limits(),
    max_queue: int = 8,
    wait_s: float = 30.0,
    models: dict[str, Panel] | None = None,
) -> FastAPI:
    """The app serving the checkpoints ``paths`` (run dirs or checkpoints; loaded here, once). ``models`` instead
    of ``paths`` serves panels built elsewhere (tests share them between apps)."""
    from PIL import Image

    # Pillow's own bomb guard as a second line behind the explicit pixel check in uploads.decode
    Image.MAX_IMAGE_PIXELS = limits.max_pixels
    models = models if models is not None else load_models(paths, device, max_queue, wait_s)
    app = FastAPI(title="gankit studio", version=gankit_version(), docs_url=None, redoc_url=None)
    app.state.models = models
    app.add_middleware(
        BodyLimit,
        max_bytes=limits.max_bytes + 64 * 1024,  # room for the multipart framing
        upload_limit=limits.max_bytes,
    )

    @app.exception_handler(HTTPException)
    async def _http(request, exc: HTTPException):
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, exc: RequestValidationError):
        parts = []
        for e in exc.errors()[:3]:
            where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("query", "body", "path"))
            parts.append(f"{where or 'request'}: {e.get('msg', 'invalid')}")
        return _error(422, "; ".join(parts) or "invalid request")

    @app.exception_handler(UploadError)
    async def _upload(request, exc: UploadError):
        return _error(exc.status, str(exc))

    @app.exception_handler(GankitError)
    async def _gankit(request, exc: GankitError):
        return _error(400, str(exc))

    @app.exception_handler(Busy)
    async def _busy(request, exc: Busy):
        return _error(429, str(exc), {"Retry-After": "1"})

    def model(mid: str, kind: type | None = None) -> Panel:
        m = models.get(mid)
        if m is None:
            raise HTTPException(404, f"no model '{mid[:60]}' (GET /api/models lists them)")
        if kind is not None and not isinstance(m, kind):
            what = {
                NoisePanel: "samples from noise",
                ImagePanel: "takes an uploaded image",
                TextPanel: "draws captions",
                VoxelPanel: "samples 3D shapes",
            }.get(kind, kind.__name__)
            raise HTTPException(400, f"model '{mid}' is a {m.kind} model; this route needs one that {what}")
        return m

    def png(im) -> Response:
        """The image as a PNG response; a warning the panel attached to it (``im.info["warning"]``, e.g. an ageing
        model's far-input check) travels in the ``X-Gankit-Warning`` header, which the page shows."""
        headers = {"Cache-Control": "no-store"}
        if im.info.get("warning"):
            headers["X-Gankit-Warning"] = str(im.info["warning"]).encode("ascii", "replace").decode()
        return Response(png_bytes(im), media_type="image/png", headers=headers)

    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/models")
    async def list_models():
        return {
            "gankit": gankit_version(),
            "models": [m.info() for m in models.values()],
            "limits": {"max_bytes": limits.max_bytes, "max_pixels": limits.max_pixels},
        }

    @app.get("/api/models/{mid}")
    async def one_model(mid: str):
        return model(mid).info()

    @app.get("/api/models/{mid}/sample.png")
    async def sample(
        mid: str,
        seed: int = Query(0, ge=0, le=MAX_SEED),
        n: int = Query(16, ge=1, le=64),
        cls: Optional[int] = Query(None, ge=0, le=100_000),
        truncation: float = Query(1.0, ge=0.0, le=2.0),
        sliders: Optional[str] = Query(None, max_length=200, description="comma-separated numbers"),
    ):
        m = model(mid, NoisePanel)
        vals = _floats(sliders, "sliders")
        im = await run_in_threadpool(m.sample, seed, n, cls, _finite(truncation, "truncation"), vals)
        return png(im)

    @app.get("/api/models/{mid}/interpolate.png")
    async def interpolate(
        mid: str,
        seed_a: int = Query(0, ge=0, le=MAX_SEED),
        seed_b: int = Query(1, ge=0, le=MAX_SEED),
        steps: int = Query(8, ge=2, le=16),
        cls: Optional[int] = Query(None, ge=0, le=100_000),
        truncation: float = Query(1.0, ge=0.0, le=2.0),
        mode: Literal["slerp", "lerp"] = "slerp",
    ):
        m = model(mid, NoisePanel)
        im = await run_in_threadpool(m.interpolate, seed_a, seed_b, steps, cls, _finite(truncation, "truncation"), mode)
        return png(im)

    @app.post("/api/models/{mid}/apply")
    async def apply(
        mid: str,
        file: UploadFile = File(...),
        direction: Optional[str] = Form(None, max_length=8),
        target: Optional[str] = Form(None, max_length=40),
        source: Optional[str] = Form(None, max_length=40),
        steps: Optional[int] = Form(None, ge=0, le=AgePanel.max_steps),
    ):
        m = model(mid, ImagePanel)
        age = {k: v for k, v in (("target", target), ("source", source), ("steps", steps)) if v not in (None, "")}
        if age and not isinstance(m, AgePanel):
            raise GankitError(f"{', '.join(age)}: only for ageing models (this is a {m.kind} model)")
        data = await file.read(limits.max_bytes + 1)
        name = (file.filename or "upload")[:80]
        im = await run_in_threadpool(decode, data, limits, name)
        out = await run_in_threadpool(m.apply, im, direction or None, **age)
        return png(out)

    @app.get("/api/models/{mid}/text.png")
    async def text(
        mid: str,
        caption: str = Query(..., max_length=MAX_CAPTION),
        seed: int = Query(0, ge=0, le=MAX_SEED),
        n: int = Query(16, ge=1, le=64),
        stage1: bool = False,
    ):
        m = model(mid, TextPanel)
        return png(await run_in_threadpool(m.generate, caption, seed, n, stage1))

    @app.get("/api/models/{mid}/text-interpolate.png")
    async def text_interpolate(
        mid: str,
        caption_a: str = Query(..., max_length=MAX_CAPTION),
        caption_b: str = Query(..., max_length=MAX_CAPTION),
        seed: int = Query(0, ge=0, le=MAX_SEED),
        steps: int = Query(8, ge=2, le=16),
        stage1: bool = False,
    ):
        m = model(mid, TextPanel)
        return png(await run_in_threadpool(m.interpolate, caption_a, caption_b, seed, steps, stage1))

    @app.get("/api/models/{mid}/views.png")
    async def views(
        mid: str,
        seed: int = Query(0, ge=0, le=MAX_SEED),
        n: int = Query(4, ge=1, le=VoxelPanel.max_shapes),
        cls: Optional[int] = Query(None, ge=0, le=100_000),
        views: int = Query(6, ge=1, le=12),
        threshold: float = Query(0.5, gt=0, lt=1),
    ):
        m = model(mid, VoxelPanel)
        return png(await run_in_threadpool(m.views, seed, n, cls, views, 96, threshold))

    @app.get("/api/models/{mid}/turntable.gif")
    async def turntable(
        mid: str,
        seed: int = Query(0, ge=0, le=MAX_SEED),
        n: int = Query(4, ge=1, le=VoxelPanel.max_shapes),
        cls: Optional[int] = Query(None, ge=0, le=100_000),
        frames: int = Query(24, ge=2, le=48),
        threshold: float = Query(0.5, gt=0, lt=1),
    ):
        m = model(mid, VoxelPanel)
        gif = await run_in_threadpool(m.turntable, seed, n, cls, frames, 96, threshold)
        return Response(gif, media_type="image/gif", headers={"Cache-Control": "no-store"})

    @app.get("/api/models/{mid}/mesh.{fmt}")
    async def mesh(
        mid: str,
        fmt: Literal["obj", "ply"],
        seed: int = Query(0, ge=0, le=MAX_SEED),
        n: int = Query(4, ge=1, le=VoxelPanel.max_shapes),
        index: int = Query(0, ge=0),
        cls: Optional[int] = Query(None, ge=0, le=100_000),
        threshold: float = Query(0.5, gt=0, lt=1),
    ):
        m = model(mid, VoxelPanel)
        data = await run_in_threadpool(m.mesh, seed, n, index, cls, fmt, threshold)
        name = f"{m.checkpoint.config['recipe']}-seed{seed}-{index}.{fmt}"
        media = "model/obj" if fmt == "obj" else "application/octet-stream"
        return Response(
            data,
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
        )

    @app.get("/api/models/{mid}/run")
    async def run_info(mid: str):
        m = model(mid)
        files = run_files(m.run_dir)
        health = files.get("health.md")
        return {
            "files": [{"name": k, "url": f"/api/models/{mid}/run/{k}"} for k in files],
            "health": health.read_text(errors="replace")[:20000] if health else None,
            "best": m.checkpoint.state.get("best"),
            "cards": m.info()["cards"],
        }

    @app.get("/api/models/{mid}/run/{name:path}")
    async def run_file(mid: str, name: str):
        m = model(mid)
        path = run_files(m.run_dir).get(name)  # only names the listing gives: no path from a request reaches disk
        if path is None:
            raise HTTPException(404, f"the run has no file '{name[:80]}'")
        media = {".png": "image/png", ".md": "text/plain; charset=utf-8", ".json": "application/json"}
        return FileResponse(path, media_type=media.get(path.suffix, "application/octet-stream"))

    return app


def _finite(v: float, name: str) -> float:
    if not math.isfinite(v):
        raise GankitError(f"{name} must be a finite number")
    return v


def _floats(text: str | None, name: str) -> list[float] | None:
    if text is None or not text.strip():
        return None
    try:
        vals = [float(v) for v in text.split(",")]
    except ValueError:
        raise GankitError(f"{name}: comma-separated numbers expected, got '{text[:40]}'") from None
    if any(not math.isfinite(v) or abs(v) > MAX_SLIDER for v in vals):
        raise GankitError(f"{name}: each value must be a number in [-{MAX_SLIDER:g}, {MAX_SLIDER:g}]")
    return vals


def serve(
    paths,
    host: str = "127.0.0.1",
    port: int = 8000,
    device: str = "cpu",
    threads: int | None = None,
    limits: Limits = Limits(),
    log=print,
) -> None:
    """Load the checkpoints and run the app with uvicorn until interrupted."""
    import socket

    import torch
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:  # a clear one-line error before loading anything
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise GankitError(f"--host {host} --port {port}: cannot listen there ({e.strerror or e})") from None
    if threads:
        torch.set_num_threads(threads)
    app = create_app(paths, device=device, limits=limits)
    for info in (m.info() for m in app.state.models.values()):
        log(f"  {info['id']}: {info['family']} ({info['kind']}) on {info['data']}, step {info['step']}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        log(f"warning: listening on {host}: anyone who can reach this machine can use the studio")
    log(f"studio: http://{'[' + host + ']' if ':' in host else host}:{port}/  (Ctrl-C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
