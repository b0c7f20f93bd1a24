"""The studio in a real browser: Playwright drives Debian's Chromium against `gankit serve` on a free loopback port.

Pick a model, change the seed, move a latent slider, pick a class, upload an image to a translation model (file
picker) and to an SR model (drag and drop), move the compare slider, type a caption for a text model, turn a 3D
model's shapes and change their seed, drop a face on an ageing model. Every check asserts that the picture on the page
really changed (element screenshots differ); a model of each modality shows its own panel's controls and no other's.
Screenshots are kept as test artefacts under the pytest temp dir (``.../studio-shots/``)."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from studio_runs import CHROMIUM, CHROMIUM_ARGS, train_runs

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian chromium is not installed (make test installs it)"
)
WAIT_MS = 60_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(runs: list[Path], log: Path, **env) -> tuple[subprocess.Popen, str]:
    """`gankit serve` in a fresh process with its default host; the base URL once /api/models answers."""
    for _ in range(3):  # the free port can be taken between probing and binding: try another
        port = free_port()
        e = {**os.environ, "OMP_NUM_THREADS": "1", **env}
        with open(log, "w") as out:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(
                [sys.executable, "-m", "gankit.cli", "serve", *map(str, runs), "--port", str(port), "--threads", "1"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=e,
            )
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(url + "/api/models", timeout=2) as r:
                    if r.status == 200:
                        return proc, url
            except OSError:
                time.sleep(0.3)
        proc.kill()
        proc.wait()
    raise AssertionError(f"gankit serve did not start:\n{log.read_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("studio")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANKIT_CACHE", str(base / "cache"))
        runs = train_runs(base, ("dcgan", "cgan", "pix2pix", "srgan", "stackgan", "gan3d", "agecgan-encoder"))
    log = base / "serve.log"
    proc, url = start_server(list(runs.values()), log, GANKIT_CACHE=str(base / "cache"))
    yield {
        "url": url,
        "log": log,
        "shots": tmp_path_factory.mktemp("studio-shots"),
        "base": base,
        "pid": proc.pid,
        "runs": runs,
    }
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def page(server):
    import tempfile

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1200, "height": 1000},
        )
        pg = ctx.new_page()
        pg.set_default_timeout(WAIT_MS)
        pg.console_errors = []
        pg.on("console", lambda m: m.type == "error" and pg.console_errors.append(m.text))
        pg.failed = []
        pg.on("response", lambda r: r.status >= 400 and pg.failed.append(f"{r.status} {r.request.method} {r.url}"))
        pg.goto(server["url"] + "/")
        pg.wait_for_function("window.studio && window.studio.ready && window.studio.renders >= 2")
        yield pg
        ctx.close()


def version(page, img: str) -> int:
    return int(page.eval_on_selector(f"#{img}", "el => Number(el.dataset.version || 0)"))


def wait_new(page, img: str, before: int) -> None:
    page.wait_for_function(
        "([id, v]) => Number(document.getElementById(id).dataset.version || 0) > v", arg=[img, before]
    )
    page.wait_for_function("id => !window.studio.pending[id]", arg=img)


def shot(page, selector: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(page.locator(selector).screenshot())).convert("RGB"), dtype=np.int16)


def differs(a: np.ndarray, b: np.ndarray, min_mean: float = 0.5) -> bool:
    return a.shape != b.shape or float(np.abs(a - b).mean()) > min_mean


def pick(page, family: str) -> None:
    value = page.eval_on_selector(
        "#model", "(s, f) => Array.from(s.options).find(o => o.textContent.startsWith(f + ' ')).value", family
    )
    page.select_option("#model", value)
    page.wait_for_function("f => window.studio.current && window.studio.current.family === f", arg=family)


def settled(page, img: str) -> None:
    """The image has been shown at least once and no request for it is in flight."""
    page.wait_for_function("id => !window.studio.pending[id] && document.getElementById(id).dataset.version", arg=img)


def test_server_listens_on_loopback_by_default(server):
    assert "studio: http://127.0.0.1:" in server["log"].read_text()


def test_pick_model_change_seed_move_slider(page, server):
    pick(page, "dcgan")
    page.wait_for_function("() => !window.studio.pending.grid && document.getElementById('grid').dataset.version")
    assert "dcgan" in page.inner_text("#model") and page.is_visible("#noise-panel")
    assert page.is_hidden("#image-panel") and page.is_hidden("#class-row")
    before = shot(page, "#grid")
    v = version(page, "grid")
    page.fill("#seed", "7")
    wait_new(page, "grid", v)
    after_seed = shot(page, "#grid")
    assert differs(before, after_seed), "changing the seed did not change the grid"
    v = version(page, "grid")
    page.focus("#sliders input[data-index='0']")
    for _ in range(15):
        page.keyboard.press("ArrowRight")
    assert page.eval_on_selector("#sliders input[data-index='0']", "el => el.value") == "1.5"
    wait_new(page, "grid", v)
    after_slider = shot(page, "#grid")
    assert differs(after_seed, after_slider), "moving a latent slider did not change the grid"
    v = version(page, "interp")
    page.fill("#seed-b", "123")
    page.dispatch_event("#seed-b", "change")
    wait_new(page, "interp", v)
    page.screenshot(path=str(server["shots"] / "studio-noise.png"), full_page=True)
    assert page.get_attribute("#download-grid", "href").startswith("blob:")
    assert page.get_attribute("#download-grid", "download") == "dcgan-seed7.png"


def test_class_picker_changes_the_grid(page):
    pick(page, "cgan")
    page.wait_for_selector("#class-row", state="visible")
    page.wait_for_function("() => !window.studio.pending.grid")
    before = shot(page, "#grid")
    v = version(page, "grid")
    page.select_option("#class", "1")
    wait_new(page, "grid", v)
    assert differs(before, shot(page, "#grid")), "picking a class did not change the grid"


def _upload_png(path: Path, size=(48, 40)) -> Path:
    rng = np.random.default_rng(3)
    arr = np.kron(rng.integers(0, 256, (size[1] // 8, size[0] // 8, 3)), np.ones((8, 8, 1))).astype(np.uint8)
    Image.fromarray(arr).save(path)
    return path


def test_upload_to_a_translation_model_and_compare(page, server):
    pick(page, "pix2pix")
    assert page.is_visible("#image-panel") and page.is_hidden("#noise-panel")
    src = _upload_png(server["base"] / "upload.png")
    v = version(page, "out-img")
    page.set_input_files("#file", str(src))
    wait_new(page, "out-img", v)
    dims = page.eval_on_selector("#out-img", "el => [el.naturalWidth, el.naturalHeight]")
    assert dims == [48, 40]  # the output keeps the input's size
    page.wait_for_function("() => document.getElementById('in-img').naturalWidth > 0")
    assert differs(shot(page, "#in-img"), shot(page, "#out-img"), 2), "the output is the input unchanged"
    before = shot(page, "#compare")
    page.focus("#compare-pos")
    for _ in range(30):
        page.keyboard.press("ArrowLeft")
    assert page.eval_on_selector("#cmp-out", "el => el.style.clipPath") == "inset(0px 0px 0px 20%)"
    assert differs(before, shot(page, "#compare")), "the compare slider did not move the split"
    page.screenshot(path=str(server["shots"] / "studio-translate.png"), full_page=True)


def test_drop_an_image_on_an_sr_model(page, server):
    pick(page, "srgan")
    data = server["base"] / "drop.png"
    _upload_png(data, size=(24, 16))
    import base64

    b64 = base64.b64encode(data.read_bytes()).decode()
    v = version(page, "out-img")
    before = shot(page, "#image-panel")
    dt = page.evaluate_handle(
        """b64 => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], 'drop.png', { type: 'image/png' }));
        return dt; }""",
        b64,
    )
    page.dispatch_event("#drop", "drop", {"dataTransfer": dt})
    wait_new(page, "out-img", v)
    dims = page.eval_on_selector("#out-img", "el => [el.naturalWidth, el.naturalHeight]")
    assert dims == [96, 64]  # x4
    assert differs(before, shot(page, "#image-panel")), "dropping an image changed nothing on the page"
    assert "enlarges x4" in page.inner_text("#limits")
    page.screenshot(path=str(server["shots"] / "studio-upscale.png"), full_page=True)


def test_refused_upload_shows_the_servers_message(page, server):
    pick(page, "pix2pix")
    bad = server["base"] / "not-an-image.png"
    bad.write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    errors = page.evaluate("() => window.studio.errors")
    page.set_input_files("#file", str(bad))
    page.wait_for_function("n => window.studio.errors > n", arg=errors)
    assert "only PNG, JPEG and WebP" in page.inner_text("#status")


def test_type_a_caption_for_a_text_model(page, server):
    pick(page, "stackgan")
    assert page.is_visible("#text-panel") and page.is_hidden("#noise-panel") and page.is_hidden("#image-panel")
    settled(page, "text-grid")
    settled(page, "text-interp")
    before = shot(page, "#text-grid")
    v = version(page, "text-grid")
    page.fill("#caption", "")
    page.type("#caption", "a blue car")  # key by key, as a user types: the page waits for a pause
    wait_new(page, "text-grid", v)
    settled(page, "text-grid")
    assert differs(before, shot(page, "#text-grid"), 0.2), "typing a caption did not change the images"
    assert page.get_attribute("#download-text", "download") == "a-blue-car-seed0.png"
    page.screenshot(path=str(server["shots"] / "studio-text.png"), full_page=True)


def test_3d_model_turntable_appears_and_follows_the_seed(page, server):
    from gankit import api

    pick(page, "gan3d")
    assert page.is_visible("#voxel-panel") and page.is_hidden("#noise-panel")
    settled(page, "views")
    # the tiny, young generator's occupancies sit near 0.5: draw the surface at a level some of them cross
    level = float(api.load(server["runs"]["gan3d"]).sample(4, seed=0).quantile(0.85))
    v = version(page, "views")
    page.fill("#voxel-threshold", f"{level:.5f}")
    page.dispatch_event("#voxel-threshold", "change")
    wait_new(page, "views", v)
    settled(page, "views")
    settled(page, "turntable")
    dims = page.eval_on_selector("#turntable", "el => [el.naturalWidth, el.naturalHeight]")
    assert dims[0] > 96 and dims[1] > 96  # 2 x 2 shapes turning, 96 px each
    assert page.get_attribute("#download-gif", "href").startswith("blob:")
    before = shot(page, "#views")
    v = version(page, "views")
    page.fill("#voxel-seed", "5")
    wait_new(page, "views", v)
    settled(page, "views")
    assert differs(before, shot(page, "#views"), 1), "changing the seed did not change the shapes"
    assert "seed=5" in page.get_attribute("#download-mesh", "href") and "threshold=0." in page.get_attribute(
        "#download-mesh", "href"
    )
    with page.expect_download() as dl:
        page.click("#download-mesh")
    path = dl.value.path()
    assert dl.value.suggested_filename == "gan3d-seed5-0.obj" and Path(path).read_bytes().startswith((b"v ", b"#"))
    page.screenshot(path=str(server["shots"] / "studio-3d.png"), full_page=True)


def test_drop_a_face_on_an_ageing_model(page, server):
    from PIL import ImageDraw

    pick(page, "agecgan")
    assert page.is_visible("#image-panel") and page.is_visible("#age-row") and page.is_hidden("#compare-fig")
    face = Image.new("RGB", (40, 40), "white")
    d = ImageDraw.Draw(face)
    d.ellipse((3, 3, 36, 36), fill=(250, 200, 60))
    d.ellipse((12, 13, 16, 17), fill="black")
    d.ellipse((24, 13, 28, 17), fill="black")
    path = server["base"] / "face.png"
    face.save(path)
    page.fill("#age-steps", "3")
    v = version(page, "out-img")
    page.set_input_files("#file", str(path))
    wait_new(page, "out-img", v)
    settled(page, "out-img")
    dims = page.eval_on_selector("#out-img", "el => [el.naturalWidth, el.naturalHeight]")
    assert dims == [4 * (2 + 4 * 18), 4 * 20]  # the input, then the three age bins
    strip = shot(page, "#out-img")
    v = version(page, "out-img")
    page.select_option("#age-target", "older")
    wait_new(page, "out-img", v)
    settled(page, "out-img")
    assert page.eval_on_selector("#out-img", "el => [el.naturalWidth, el.naturalHeight]") == [64, 64]
    assert differs(strip, shot(page, "#out-img")), "picking a target age did not change the output"
    assert page.get_attribute("#download-out", "download") == "face-agecgan.png"
    page.screenshot(path=str(server["shots"] / "studio-age.png"), full_page=True)
    # a picture unlike the training faces is re-aged all the same, and the page says so (the far-input check)
    square = server["base"] / "square.png"
    Image.new("RGB", (40, 40), (0, 0, 255)).save(square)  # a blue square: 2.2x the check's threshold
    v = version(page, "out-img")
    page.set_input_files("#file", str(square))
    wait_new(page, "out-img", v)
    settled(page, "out-img")
    assert "far from the faces this model was trained on" in page.inner_text("#status")
    assert page.get_attribute("#status", "class") == "warning"


# What a user sees of each pipeline's panel: the page element (a control or the picture it drives) by modality. An
# element shared by several panels (the upload box) is listed under each of them.
CONTROLS = {
    "noise": ["#seed", "#truncation", "#sliders", "#grid", "#seed-b", "#interp"],
    "translate": ["#drop", "#compare-fig"],
    "upscale": ["#drop", "#compare-fig"],
    "age": ["#drop", "#age-target", "#age-source", "#age-steps"],
    "text": ["#caption", "#text-seed", "#text-grid", "#caption-b", "#text-interp"],
    "voxel": ["#voxel-seed", "#voxel-threshold", "#views", "#turntable", "#mesh-index"],
}
OPENED = {
    "noise": "dcgan",
    "translate": "pix2pix",
    "upscale": "srgan",
    "text": "stackgan",
    "voxel": "gan3d",
    "age": "agecgan",
}  # the server's agecgan run is the stage-2 (ageing) one


@pytest.mark.parametrize("kind", list(CONTROLS))
def test_a_model_shows_its_own_panel_and_no_other(page, kind):
    """Opened with a model of each modality, exactly that pipeline's controls are visible (rendered, not merely
    present): a pix2pix model once showed the ageing controls, its hidden row laid out by a display rule."""
    pick(page, OPENED[kind])
    assert page.inner_text("#model-info").startswith(f"{kind} model")
    mine = set(CONTROLS[kind])
    for other in CONTROLS.values():
        for sel in other:
            assert page.is_visible(sel) == (sel in mine), (kind, sel, "shown" if sel in mine else "hidden", "expected")
    assert page.is_hidden("#direction-row")  # the only translation model here runs one way: nothing to pick
    assert page.is_visible("#run-panel")


def test_run_pictures_are_shown(page):
    pick(page, "dcgan")
    page.wait_for_function("() => document.getElementById('loss-img').naturalWidth > 0")
    page.wait_for_function("() => document.getElementById('sample-img').naturalWidth > 0")
    assert page.inner_text("#sample-name").startswith("step-")
    assert "no scores recorded" in page.inner_text("#scores")
    page.click("#health-box summary")
    assert page.inner_text("#health").strip()
    # the page's own errors: at most the refused upload of the upload test (when that ran on this worker's page:
    # pytest-xdist may hand the module's tests to both workers), no script errors, no other failed request
    assert not [e for e in page.console_errors if "415" not in e], (page.console_errors, page.failed)
    assert len(page.failed) <= 1 and all(f.startswith("415 POST") for f in page.failed), page.failed


def test_bounded_load_two_models_no_error_and_flat_memory(server):
    """60 concurrent sample / interpolation / upload requests (4 at a time, 90 s at most) against a noise and a
    translation model: all answered 200 with a PNG, and the server's RSS flat after warm-up (the full-size run is
    benchmarks/studio_load.py; figures in docs/studio.md)."""
    import httpx

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from studio_load import run_load

    models = {m["family"]: m["id"] for m in httpx.get(server["url"] + "/api/models").json()["models"]}
    pid = int(server["pid"])
    res = run_load(server["url"], pid, models["dcgan"], models["pix2pix"], requests=60, concurrency=4, time_limit=90)
    assert res["statuses"] == {"200": res["requests"]} and not res["errors"], res
    assert res["requests"] >= 30  # not cut short by the time limit before half the work was done
    assert res["rss_mb"]["growth_after_warmup"] < 40, res["rss_mb"]
