"""The studio's API (in process, httpx TestClient): sampling, sliders, truncation, interpolation, classes, uploads to
translation and SR models, captions to a text model, shapes and meshes from a 3D model, faces to an ageing model,
the run's pictures, malformed uploads (each a 4xx, the server keeps serving), the bounded
queue (429), and a hypothesis fuzz of every route that finds no 5xx."""

from __future__ import annotations

import io
import struct
import threading
import time
import zipfile
import zlib

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from studio_runs import train_runs

from gankit.serve.app import create_app
from gankit.serve.gate import Busy, Gate
from gankit.serve.panels import load_models
from gankit.serve.uploads import Limits, decode, sniff

LIMITS = Limits(max_bytes=200_000, max_pixels=1_000_000)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
        return train_runs(
            tmp_path_factory.mktemp("serve"),
            (
                "dcgan",
                "cgan",
                "pix2pix",
                "cyclegan",
                "srgan",
                "stackgan",
                "dfgan",
                "gan3d",
                "agecgan",
                "agecgan-encoder",
            ),
        )


@pytest.fixture(scope="module")
def models(runs):
    return load_models(list(runs.values()), wait_s=0.3, max_queue=2)


@pytest.fixture(scope="module")
def client(models):
    saved = Image.MAX_IMAGE_PIXELS  # create_app lowers Pillow's global bomb limit: restore it for other tests
    yield TestClient(create_app(None, limits=LIMITS, models=models))
    Image.MAX_IMAGE_PIXELS = saved


@pytest.fixture(scope="module")
def ids(client):
    """{family: model id}; the stage-2 agecgan run (the ageing model) is ``agecgan-encoder``."""
    return {
        m["family"] + ("-encoder" if m["kind"] == "age" else ""): m["id"]
        for m in client.get("/api/models").json()["models"]
    }


def png(arr: np.ndarray | None = None, mode="RGB", size=(24, 20), fmt="PNG") -> bytes:
    if arr is None:
        arr = np.random.default_rng(0).integers(0, 256, (size[1], size[0], len(mode)), dtype=np.uint8)
    im = Image.fromarray(arr if arr.shape[2] > 1 else arr[:, :, 0], mode)
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


def as_image(resp) -> Image.Image:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "image/png"
    return Image.open(io.BytesIO(resp.content))


def pixels(resp) -> np.ndarray:
    return np.asarray(as_image(resp).convert("RGB"), dtype=np.int16)


def tile(grid: np.ndarray, r: int, c: int, side: int = 16, k: int = 4) -> np.ndarray:
    """Image (r, c) of a grid made with 2 px padding at ``side`` px, then enlarged ``k`` times."""
    y, x = (2 + r * (side + 2)) * k, (2 + c * (side + 2)) * k
    return grid[y : y + side * k, x : x + side * k]


def huge_header_png(w=50_000, h=50_000) -> bytes:
    """A 100-byte PNG whose header claims w x h pixels (RGB): a decompression bomb's calling card."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------- models and noise sampling


def test_models_listing_describes_each_kind(client, ids):
    info = {
        m["family"] + ("-encoder" if m["kind"] == "age" else ""): m for m in client.get("/api/models").json()["models"]
    }
    assert {f: m["kind"] for f, m in info.items()} == {
        "dcgan": "noise",
        "cgan": "noise",
        "pix2pix": "translate",
        "cyclegan": "translate",
        "srgan": "upscale",
        "stackgan": "text",
        "dfgan": "text",
        "gan3d": "voxel",
        "agecgan": "noise",
        "agecgan-encoder": "age",
    }
    assert info["stackgan"]["stage"] == "stage1" and info["stackgan"]["text_encoder"] == "ngrams"
    assert info["dfgan"]["text_encoder"] == "ngrams" and "stage1" not in info["dfgan"]["outputs"]
    assert info["gan3d"]["resolution"] == 16 and info["gan3d"]["mesh_formats"] == ["obj", "ply"]
    assert info["gan3d"]["conditional"] and info["gan3d"]["classes"] == [
        "chair",
        "table",
        "sofa",
        "bed",
        "shelf",
        "lamp",
    ]
    assert info["agecgan"]["conditional"] and info["agecgan"]["classes"] == ["child", "adult", "older"]
    assert (
        info["agecgan-encoder"]["classes"] == ["child", "adult", "older"]
        and info["agecgan-encoder"]["source"] == "adult"
    )
    assert info["agecgan-encoder"]["detect_faces"] is False  # an emoji model takes the whole picture
    assert info["dcgan"]["step"] == 3 and info["dcgan"]["ema"] is True and info["dcgan"]["sliders"] == 6
    assert info["cgan"]["conditional"] and info["cgan"]["classes"] == ["green", "red"]
    assert info["cyclegan"]["directions"] == ["AtoB", "BtoA"] and info["pix2pix"]["directions"] == ["AtoB"]
    assert info["srgan"]["scale"] == 4
    page = client.get("/")
    assert page.status_code == 200 and 'id="model"' in page.text and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200
    assert "http" not in client.get("/static/app.js").text.replace("http.", "")  # no CDN, nothing remote


def test_same_seed_same_grid_other_seed_other_grid(client, ids):
    url = f"/api/models/{ids['dcgan']}/sample.png"
    a, a2, b = (pixels(client.get(url, params={"seed": s, "n": 4})) for s in (5, 5, 6))
    assert a.shape == (4 * (2 + 2 * 18), 4 * (2 + 2 * 18), 3)  # 2 x 2 tiles of 16 px + 2 px padding, enlarged x4
    assert np.array_equal(a, a2) and np.abs(a - b).mean() > 1


def test_sliders_and_truncation_move_the_latent(client, ids, models):
    url = f"/api/models/{ids['dcgan']}/sample.png"
    base = pixels(client.get(url, params={"seed": 1, "n": 4}))
    slid = pixels(client.get(url, params={"seed": 1, "n": 4, "sliders": "0,3"}))
    assert np.abs(base - slid).mean() > 1
    flat = pixels(client.get(url, params={"seed": 1, "n": 4, "truncation": 0}))  # every latent pulled to the mean
    tiles = [tile(flat, r, c) for r in (0, 1) for c in (0, 1)]
    assert all(np.array_equal(tiles[0], t) for t in tiles[1:])
    m = models[ids["dcgan"]]
    z = m.latents(2, 1, 0.5, [0, 2])
    assert np.allclose((z - 0.5 * m.pipe.latents(2, 1)) @ m.directions[1].cpu(), 2, atol=1e-5)


def test_interpolation_starts_at_seed_a_and_ends_at_seed_b(client, ids):
    mid = ids["dcgan"]
    strip = pixels(client.get(f"/api/models/{mid}/interpolate.png", params={"seed_a": 3, "seed_b": 9, "steps": 5}))
    assert strip.shape == (4 * 20, 4 * (2 + 5 * 18), 3)
    for k, seed in ((0, 3), (4, 9)):
        one = pixels(client.get(f"/api/models/{mid}/sample.png", params={"seed": seed, "n": 1}))
        assert one.shape == (64, 64, 3)  # a single image: no grid padding
        assert np.abs(tile(strip, 0, k) - one).max() <= 1
    assert np.abs(tile(strip, 0, 0) - tile(strip, 0, 2)).mean() > 1


def test_class_picker(client, ids):
    url = f"/api/models/{ids['cgan']}/sample.png"
    a, b = (pixels(client.get(url, params={"seed": 0, "n": 4, "cls": k})) for k in (0, 1))
    assert np.abs(a - b).mean() > 0.5
    r = client.get(url, params={"cls": 2})
    assert r.status_code == 400 and "out of range" in r.json()["error"]
    r = client.get(f"/api/models/{ids['dcgan']}/sample.png", params={"cls": 0})
    assert r.status_code == 400 and "not class-conditional" in r.json()["error"]


def test_bad_parameters_are_4xx_with_a_message(client, ids):
    mid = ids["dcgan"]
    for params, code, text in (
        ({"seed": -1}, 422, "seed"),
        ({"n": 0}, 422, "n"),
        ({"n": "x"}, 422, "n"),
        ({"truncation": "nan"}, 4, ""),
        ({"sliders": "1,a"}, 400, "sliders"),
        ({"sliders": "9"}, 400, "sliders"),
        ({"sliders": "1,1,1,1,1,1,1"}, 400, "at most"),
    ):
        r = client.get(f"/api/models/{mid}/sample.png", params=params)
        assert r.status_code == code or (code == 4 and 400 <= r.status_code < 500), (params, r.status_code)
        assert text in r.json()["error"]
    assert client.get("/api/models/nope/sample.png").status_code == 404
    r = client.get(f"/api/models/{ids['pix2pix']}/sample.png")
    assert r.status_code == 400 and "translate model" in r.json()["error"]
    r = client.post(f"/api/models/{mid}/apply", files={"file": ("a.png", png())})
    assert r.status_code == 400 and "noise model" in r.json()["error"]


# --------------------------------------------------------------------------- uploads


def test_translation_keeps_the_size_and_directions_differ(client, ids):
    data = png(size=(37, 23))
    out = as_image(client.post(f"/api/models/{ids['pix2pix']}/apply", files={"file": ("x.png", data)}))
    assert out.size == (37, 23)
    cyc = f"/api/models/{ids['cyclegan']}/apply"
    fwd = pixels(client.post(cyc, files={"file": ("x.png", data)}, data={"direction": "AtoB"}))
    back = pixels(client.post(cyc, files={"file": ("x.png", data)}, data={"direction": "BtoA"}))
    assert np.abs(fwd - back).mean() > 0.5
    r = client.post(cyc, files={"file": ("x.png", data)}, data={"direction": "up"})
    assert r.status_code == 400 and "AtoB" in r.json()["error"]


def test_upscale_x4_keeps_alpha_and_accepts_jpeg_and_webp(client, ids):
    url = f"/api/models/{ids['srgan']}/apply"
    out = as_image(client.post(url, files={"file": ("a.png", png(mode="RGBA", size=(10, 7)))}))
    assert out.size == (40, 28) and out.mode == "RGBA"
    for fmt in ("JPEG", "WEBP"):
        out = as_image(client.post(url, files={"file": ("a.bin", png(size=(9, 6), fmt=fmt))}))
        assert out.size == (36, 24)
    big = np.zeros((600, 600, 3), dtype=np.uint8)  # 360 000 px: over the SR input limit, under the upload limit
    r = client.post(url, files={"file": ("big.png", png(big))})
    assert r.status_code == 413 and "input limit" in r.json()["error"]


def malformed() -> dict[str, tuple[bytes, int, str]]:
    good = png(size=(64, 64))
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("a.png", good)
    return {
        "truncated.png": (good[: len(good) // 2], 400, "unreadable PNG"),
        "huge.png": (huge_header_png(), 413, "-pixel limit"),
        "drawing.svg": (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>',
            415,
            "SVG",
        ),
        "inside.png": (b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="9" height="9"/></svg>', 415, "SVG"),
        "archive.zip": (zbuf.getvalue(), 415, "zip"),
        "empty.png": (b"", 400, "empty"),
        "notes.png": (b"just some text, not a picture", 415, "only PNG, JPEG and WebP"),
        "anim.gif": (png(size=(8, 8), fmt="GIF", mode="RGB"), 415, "GIF"),
        "too-many-bytes.png": (b"\x89PNG\r\n\x1a\n" + bytes(LIMITS.max_bytes), 413, "limit"),
    }


@pytest.mark.parametrize("name", list(malformed()))
def test_malformed_upload_is_refused_and_the_server_keeps_serving(client, ids, name):
    data, code, text = malformed()[name]
    t0 = time.perf_counter()
    for family in ("pix2pix", "srgan"):
        r = client.post(f"/api/models/{ids[family]}/apply", files={"file": (name, data, "image/png")})
        assert r.status_code == code, (name, r.status_code, r.text)
        assert text in r.json()["error"]
    assert time.perf_counter() - t0 < 5  # refused up front (the 50k x 50k header is never decoded)
    assert client.get(f"/api/models/{ids['dcgan']}/sample.png", params={"n": 1}).status_code == 200
    ok = client.post(f"/api/models/{ids['pix2pix']}/apply", files={"file": ("fine.png", png())})
    assert ok.status_code == 200


def test_content_decides_not_the_name(client, ids):
    r = client.post(f"/api/models/{ids['pix2pix']}/apply", files={"file": ("photo.txt", png(), "text/plain")})
    assert r.status_code == 200  # a real PNG with a wrong extension is read as what it is
    assert sniff(png(fmt="JPEG")) == "JPEG" and sniff(b"GIF89a....") is None


def test_decode_refuses_a_bomb_before_allocating_it():
    import tracemalloc

    tracemalloc.start()
    with pytest.raises(Exception) as e:
        decode(huge_header_png(), Limits())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert getattr(e.value, "status", None) == 413 and peak < 5_000_000  # 50k x 50k RGB would be 7.5 GB
    assert "50000 x 50000" in str(e.value) or "2500000000 pixels" in str(e.value)
    assert decode(png(mode="L", size=(5, 4)), Limits()).mode == "RGB"


def test_missing_file_field_and_oversized_body(client, ids):
    url = f"/api/models/{ids['pix2pix']}/apply"
    r = client.post(url)
    assert r.status_code == 422 and "file" in r.json()["error"]
    r = client.post(
        url, content=b"x" * (LIMITS.max_bytes + 100_000), headers={"content-type": "application/octet-stream"}
    )
    assert r.status_code == 413 and "200,000 bytes" in r.json()["error"]

    def streamed():  # no Content-Length: refused while it streams in, not after buffering it all
        yield b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        yield b"Content-Type: image/png\r\n\r\n"
        for _ in range(100):
            yield b"\x89PNG" + bytes(10_000)

    r = client.post(url, content=streamed(), headers={"content-type": "multipart/form-data; boundary=xx"})
    assert r.status_code == 413 and "limited to" in r.json()["error"]
    assert client.get("/api/models").status_code == 200


# --------------------------------------------------------------------------- the run's pictures, concurrency


def test_run_pictures_and_no_path_from_a_request(client, ids):
    mid = ids["dcgan"]
    info = client.get(f"/api/models/{mid}/run").json()
    names = [f["name"] for f in info["files"]]
    assert "loss.png" in names and "samples/step-0000003.png" in names and "health.md" in names
    assert "step 3" in info["health"] or "3" in info["health"]
    assert as_image(client.get(f"/api/models/{mid}/run/samples/step-0000003.png")).size[0] > 16
    for bad in (
        "../config.yaml",
        "config.yaml",
        "checkpoints/latest",
        "samples/../run.json",
        "%2e%2e/run.json",
        "/etc/passwd",
        "samples/step-9.png",
    ):
        r = client.get(f"/api/models/{mid}/run/{bad}")
        assert r.status_code == 404, bad


def test_gate_bounds_the_queue_and_the_wait():
    g = Gate(max_queue=2, wait_s=0.2)
    held = threading.Event()
    release = threading.Event()

    def holder():
        with g.turn():
            held.set()
            release.wait(5)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(5)
    t0 = time.perf_counter()
    with pytest.raises(Busy, match="busy for more than"):
        with g.turn():
            pass
    assert 0.15 < time.perf_counter() - t0 < 2
    release.set()
    t.join()
    with g.turn():  # free again
        pass


def test_a_busy_model_answers_429(client, ids, models):
    m = models[ids["dcgan"]]
    with m.gate._lock:  # another request is using the model for longer than the wait
        r = client.get(f"/api/models/{ids['dcgan']}/sample.png", params={"n": 1})
        assert r.status_code == 429 and r.headers["retry-after"] == "1" and "busy" in r.json()["error"]
        assert client.get(f"/api/models/{ids['cgan']}/sample.png", params={"n": 1}).status_code == 200


def test_panels_by_modality_and_stage(runs, models):
    from gankit.pipelines import AgePipeline, NoisePipeline, TextPipeline, VoxelPipeline, pipeline_for
    from gankit.serve.panels import AgePanel, NoisePanel, TextPanel, VoxelPanel, panel_for

    assert pipeline_for("dcgan") is NoisePipeline and pipeline_for("lsgan") is NoisePipeline
    assert pipeline_for("stackgan") is TextPipeline and pipeline_for("gan3d") is VoxelPipeline
    assert pipeline_for("agecgan", {"model": {"stage": "encoder"}}) is AgePipeline
    assert pipeline_for("agecgan", {"model": {"stage": "gan"}}) is NoisePipeline  # stage 1 has no encoder: it samples
    panels = {type(m.pipe): type(m) for m in models.values()}
    assert panels[NoisePipeline] is NoisePanel and panels[TextPipeline] is TextPanel
    assert panels[VoxelPipeline] is VoxelPanel and panels[AgePipeline] is AgePanel
    assert all(panel_for(m.pipe) is type(m) for m in models.values())
    with pytest.raises(Exception, match="name at least one"):
        load_models([])


def test_same_checkpoint_named_twice_is_loaded_once(runs):
    ms = load_models([runs["dcgan"], runs["dcgan"] / "checkpoints"])
    assert len(ms) == 1


# --------------------------------------------------------------------------- text, 3D and ageing models


@pytest.mark.parametrize("family", ["stackgan", "dfgan"])
def test_text_model_draws_the_caption_and_walks_between_captions(client, ids, family):
    url = f"/api/models/{ids[family]}/text.png"
    a = pixels(client.get(url, params={"caption": "a red apple", "seed": 3, "n": 4}))
    assert a.shape == (4 * (2 + 2 * 18), 4 * (2 + 2 * 18), 3)  # 2 x 2 images of 16 px, enlarged x4
    assert np.array_equal(a, pixels(client.get(url, params={"caption": "a red apple", "seed": 3, "n": 4})))
    other_caption = pixels(client.get(url, params={"caption": "a blue car", "seed": 3, "n": 4}))
    other_seed = pixels(client.get(url, params={"caption": "a red apple", "seed": 4, "n": 4}))
    assert np.abs(a - other_caption).mean() > 0.2 and np.abs(a - other_seed).mean() > 0.2
    walk = pixels(
        client.get(
            f"/api/models/{ids[family]}/text-interpolate.png",
            params={"caption_a": "a red apple", "caption_b": "a blue car", "seed": 3, "steps": 4},
        )
    )
    assert walk.shape == (4 * 20, 4 * (2 + 4 * 18), 3)
    for k, caption in ((0, "a red apple"), (3, "a blue car")):  # the walk starts and ends at the two captions
        one = pixels(client.get(url, params={"caption": caption, "seed": 3, "n": 1}))
        assert np.abs(tile(walk, 0, k) - one).max() <= 1
    assert np.abs(tile(walk, 0, 0) - tile(walk, 0, 3)).mean() > 0.2
    for params, code, text in (
        ({"caption": "   "}, 400, "type a caption"),
        ({"caption": "x" * 201}, 422, "caption"),
        ({"caption": "a cat", "stage1": "true"}, 400, "stage-II"),
        ({}, 422, "caption"),
    ):
        r = client.get(url, params=params)
        assert r.status_code == code and text in r.json()["error"], (params, r.text)
    r = client.get(f"/api/models/{ids['dcgan']}/text.png", params={"caption": "a cat"})
    assert r.status_code == 400 and "draws captions" in r.json()["error"]


def level(model, seed: int = 1, n: int = 2, q: float = 0.85) -> float:
    """An occupancy level that some of the tiny, young generator's voxels cross (its outputs sit near 0.5)."""
    return round(float(model.voxels(seed, n).quantile(q)), 5)


def test_voxel_model_views_turntable_and_meshes(client, ids, models):
    import trimesh

    mid = ids["gan3d"]
    thr = level(models[mid])
    get = lambda route, **kw: client.get(
        f"/api/models/{mid}/{route}", params={"seed": 1, "n": 2, "threshold": thr, **kw}
    )  # noqa: E731
    views = pixels(get("views.png"))
    assert views.shape == (2 + 2 * 98, 2 + 6 * 98, 3)  # one row of six 96 px views per shape
    assert np.array_equal(views, pixels(get("views.png")))
    assert (views < 250).any(axis=2).mean() > 0.01  # a shape is drawn, not an empty white field
    assert np.abs(views - pixels(get("views.png", seed=2))).mean() > 1
    assert np.abs(views - pixels(get("views.png", threshold=0.999))).mean() > 1  # the level moves the surface
    view = lambda k: views[2:98, 2 + 98 * k : 98 * (k + 1)]  # noqa: E731
    assert np.abs(view(0) - view(3)).mean() > 1  # the views go around the shape
    r = get("turntable.gif", frames=6)
    assert r.status_code == 200 and r.headers["content-type"] == "image/gif"
    gif = Image.open(io.BytesIO(r.content))
    assert gif.n_frames == 6 and gif.size == (2 + 2 * 98, 2 + 98)
    frames = []
    for k in range(gif.n_frames):
        gif.seek(k)
        frames.append(np.asarray(gif.convert("RGB"), dtype=np.int16))
    assert np.abs(frames[0] - frames[3]).mean() > 1  # it turns
    meshes = {}
    for fmt, index in (("obj", 0), ("ply", 0), ("obj", 1)):
        r = get(f"mesh.{fmt}", index=index)
        assert r.status_code == 200 and f"seed1-{index}.{fmt}" in r.headers["content-disposition"], r.text
        m = trimesh.load(io.BytesIO(r.content), file_type=fmt, force="mesh")
        assert len(m.faces) > 10 and m.bounds.min() >= 0 and m.bounds.max() <= 1  # voxel units / resolution
        meshes[fmt, index] = m
    assert len(meshes["obj", 0].faces) == len(meshes["ply", 0].faces)  # one shape, two formats
    assert not np.array_equal(meshes["obj", 0].bounds, meshes["obj", 1].bounds)
    chair, lamp = (pixels(get("views.png", cls=k)) for k in (0, 5))
    assert np.abs(chair - lamp).mean() > 0.5  # the class picker reaches G
    for params, code, text in (
        ({"index": 2, "n": 2}, 400, "index must be in 0..1"),
        ({"cls": 6}, 400, "out of range"),
        ({"threshold": 1}, 422, "threshold"),
    ):
        r = client.get(f"/api/models/{mid}/mesh.obj", params=params)
        assert r.status_code == code and text in r.json()["error"], (params, r.text)
    assert client.get(f"/api/models/{mid}/mesh.fbx").status_code == 422
    assert client.get(f"/api/models/{mid}/views.png", params={"n": 10}).status_code == 422
    r = client.get(f"/api/models/{ids['dcgan']}/views.png")
    assert r.status_code == 400 and "3D shapes" in r.json()["error"]


def _face(size=(40, 36)) -> bytes:
    """A cartoon face on transparent ground (an RGBA PNG): yellow disc, two eyes, a mouth."""
    from PIL import ImageDraw

    im = Image.new("RGBA", size, (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.ellipse((3, 2, size[0] - 4, size[1] - 3), fill=(250, 200, 60, 255))
    d.ellipse((12, 12, 16, 16), fill=(40, 30, 20, 255))
    d.ellipse((size[0] - 17, 12, size[0] - 13, 16), fill=(40, 30, 20, 255))
    d.arc((12, 16, size[0] - 12, size[1] - 9), 20, 160, fill=(120, 40, 20, 255), width=2)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def test_age_model_reages_an_uploaded_face(client, ids):
    url = f"/api/models/{ids['agecgan-encoder']}/apply"
    face = _face()
    strip = pixels(client.post(url, files={"file": ("face.png", face)}, data={"steps": "3"}))
    assert strip.shape == (4 * 20, 4 * (2 + 4 * 18), 3)  # the input, then child, adult, older
    assert np.abs(tile(strip, 0, 1) - tile(strip, 0, 3)).mean() > 0.5  # the ages differ
    one = lambda **kw: pixels(client.post(url, files={"file": ("face.png", face)}, data={"steps": "3", **kw}))  # noqa: E731
    child, older = one(target="child"), one(target="older")
    assert child.shape == (64, 64, 3) and np.abs(child - older).mean() > 0.5
    assert np.array_equal(older, one(target="older"))  # the same request gives the same face
    assert np.abs(tile(strip, 0, 3) - older).max() <= 1  # the strip's last column is the "older" image
    assert np.abs(one(target="older", steps="0") - older).mean() > 0.1  # the identity steps move the latent
    assert np.abs(one(target="older", source="child") - older).mean() > 0.1  # the face's own age matters
    for data, code, text in (
        ({"target": "90+"}, 400, "not an age bin"),
        ({"source": "baby"}, 400, "source"),
        ({"steps": "999"}, 422, "steps"),
        ({"direction": "AtoB"}, 400, "no direction"),
    ):
        r = client.post(url, files={"file": ("face.png", face)}, data=data)
        assert r.status_code == code and text in r.json()["error"], (data, r.text)
    for name in ("truncated.png", "huge.png", "drawing.svg", "empty.png"):
        bad, code, text = malformed()[name]
        r = client.post(url, files={"file": (name, bad)}, data={"target": "older"})
        assert r.status_code == code and text in r.json()["error"], (name, r.text)
    r = client.post(f"/api/models/{ids['pix2pix']}/apply", files={"file": ("x.png", png())}, data={"target": "older"})
    assert r.status_code == 400 and "only for ageing models" in r.json()["error"]


def test_age_model_warns_of_a_picture_far_from_its_training_faces(client, ids, runs):
    """The far-input check saved with stage 2 reaches the page: a training face comes back plain, noise comes back
    re-aged all the same, with the warning in the X-Gankit-Warning header (app.js shows it above the panels)."""
    from gankit.data.ages import load_ages
    from gankit.data.images import to_uint8
    from gankit.train import checkpoint as ckpt
    from gankit.train.loader import config_from_dict

    url = f"/api/models/{ids['agecgan-encoder']}/apply"
    data = config_from_dict(ckpt.load(runs["agecgan-encoder"]).config).data
    face = to_uint8(load_ages(data).images[:1])[0].permute(1, 2, 0).numpy()
    noise = np.random.default_rng(0).integers(0, 256, face.shape, dtype=np.uint8)
    for arr, far in ((face, False), (noise, True)):
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="PNG")
        r = client.post(url, files={"file": ("x.png", buf.getvalue())}, data={"steps": "0", "target": "older"})
        assert r.status_code == 200 and as_image(r).size == (64, 64)
        warning = r.headers.get("x-gankit-warning", "")
        assert ("far from the faces this model was trained on" in warning) == far, warning


def test_agecgan_stage1_is_a_noise_model_with_age_bins(client, ids):
    url = f"/api/models/{ids['agecgan']}/sample.png"
    child, older = (pixels(client.get(url, params={"seed": 0, "n": 4, "cls": k})) for k in (0, 2))
    assert np.abs(child - older).mean() > 0.5
    assert client.get(url, params={"cls": 3}).status_code == 400


# --------------------------------------------------------------------------- fuzz


ROUTES = [
    "/",
    "/api/models",
    "/api/models/{mid}",
    "/api/models/{mid}/sample.png",
    "/api/models/{mid}/interpolate.png",
    "/api/models/{mid}/run",
    "/api/models/{mid}/run/{name}",
    "/api/models/{mid}/apply",
    "/static/{name}",
    "/api/models/{mid}/text.png",
    "/api/models/{mid}/text-interpolate.png",
    "/api/models/{mid}/views.png",
    "/api/models/{mid}/turntable.gif",
    "/api/models/{mid}/mesh.{name}",
]
PARAMS = [
    "seed",
    "n",
    "cls",
    "truncation",
    "sliders",
    "seed_a",
    "seed_b",
    "steps",
    "mode",
    "direction",
    "caption",
    "caption_a",
    "caption_b",
    "stage1",
    "views",
    "frames",
    "index",
    "threshold",
    "target",
    "source",
]
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
value = st.one_of(
    text,
    st.integers(-(2**40), 2**40).map(str),
    st.floats(allow_nan=True).map(str),
    st.lists(st.floats(-10, 10), max_size=8).map(lambda v: ",".join(map(str, v))),
)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    route=st.sampled_from(ROUTES),
    mid=st.one_of(st.sampled_from(["dcgan", "cgan", "pix2pix", "srgan", "stackgan", "gan3d", "agecgan-encoder"]), text),
    name=text,
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    params=st.dictionaries(st.sampled_from(PARAMS), value, max_size=5),
    body=st.one_of(
        st.none(),
        st.binary(max_size=300),
        st.binary(max_size=200).map(lambda b: b"\x89PNG\r\n\x1a\n" + b),
        st.binary(max_size=200).map(lambda b: b"\xff\xd8\xff" + b),
        st.binary(max_size=200).map(lambda b: b"RIFF\x00\x00\x00\x00WEBP" + b),
    ),
)
def test_fuzz_no_route_answers_5xx(client, ids, route, mid, name, method, params, body):
    from urllib.parse import quote

    url = route.replace("{mid}", quote(ids.get(mid, mid), safe="")).replace("{name}", quote(name, safe="/"))
    kw = {"params": params}
    if body is not None and method == "POST":
        kw["files"] = {"file": ("f.png", body)}
        kw["data"] = {k: v for k, v in params.items() if k in ("direction", "target", "source", "steps")}
    r = client.request(method, url, **kw)
    assert r.status_code < 500, (method, url, params, r.status_code, r.text[:200])
    if r.status_code >= 400 and url.startswith("/api/"):
        assert r.headers["content-type"].startswith("application/json") and r.json()["error"]


def test_cli_serve_bad_input_is_one_line_and_exit_2(runs, tmp_path, capsys):
    from gankit.cli import main as cli

    for args, msg in (
        ([str(tmp_path / "missing")], "checkpoint not found"),
        ([str(runs["dcgan"]), "--port", "0"], "--port must be in"),
        ([str(runs["dcgan"]), "--max-pixels", "0"], "must be positive"),
    ):
        rc = cli(["serve", *args])
        err = capsys.readouterr().err
        assert rc == 2 and msg in err and len(err.strip().splitlines()) == 1, (args, err)
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        rc = cli(["serve", str(runs["dcgan"]), "--port", str(taken.getsockname()[1])])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot listen there" in err and len(err.strip().splitlines()) == 1, err
