"""The studio screenshots in docs/studio.md and the README: `gankit serve` on a free loopback port, driven by
Playwright in Debian's Chromium (as tests/test_studio_browser.py does).

    python benchmarks/figures/studio_screenshots.py NOISE_RUN TRANSLATE_RUN [--out docs/img]
    python benchmarks/figures/studio_screenshots.py --voxel GAN3D_RUN [--voxel-seed 7]

writes studio-noise.png (seed 11, slider d1 moved, a class-free grid and an interpolation) and studio-translate.png
(a held-out Twemoji uploaded to the translation model, input | output and the compare view); with ``--voxel``,
studio-3d.png (a gan3d model's turntable and six views of four shapes of one seed, one class per shape).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def held_out_emoji(k: int = 3) -> Path:
    from gankit.data.pairs import emoji_codes, split_codes
    from gankit.data.sources import twemoji_dir

    return twemoji_dir() / f"{split_codes(emoji_codes())[1][k]}.png"


@contextmanager
def studio_page(runs: list[Path], height: int):
    """`gankit serve RUNS` and a headless Chromium page on it, the studio ready; both closed on exit."""
    from playwright.sync_api import sync_playwright
    from studio_load import start

    sys.path.insert(0, str(ROOT / "tests"))
    from studio_runs import CHROMIUM, CHROMIUM_ARGS

    proc, url = start(runs, threads=1)
    try:
        with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
            ctx = p.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1100, "height": height},
            )
            page = ctx.new_page()
            page.set_default_timeout(120_000)
            page.goto(url + "/")
            page.wait_for_function("window.studio && window.studio.ready && window.studio.renders >= 2")
            yield page
            ctx.close()
    finally:
        proc.terminate()
        proc.wait(10)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("noise_run", type=Path, nargs="?")
    ap.add_argument("translate_run", type=Path, nargs="?")
    ap.add_argument("--voxel", type=Path, help="a gan3d run: write studio-3d.png")
    ap.add_argument("--voxel-seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    ap.add_argument("--emoji", type=int, default=3, help="which held-out Twemoji to upload")
    a = ap.parse_args(argv)
    if (a.noise_run is None) != (a.translate_run is None) or (a.noise_run is None and a.voxel is None):
        ap.error("give NOISE_RUN and TRANSLATE_RUN, or --voxel GAN3D_RUN, or all three")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    if a.voxel is not None:
        voxel_shot(a.voxel, a.voxel_seed, a.out)
    if a.noise_run is None:
        return 0
    with studio_page([a.noise_run, a.translate_run], height=900) as page:
        page.fill("#seed", "11")
        page.focus("#sliders input[data-index='0']")
        for _ in range(12):
            page.keyboard.press("ArrowRight")
        page.wait_for_timeout(500)
        page.wait_for_function("() => Object.keys(window.studio.pending).length === 0")
        page.screenshot(path=str(a.out / "studio-noise.png"))
        second = page.eval_on_selector("#model", "s => s.options[1].value")
        page.select_option("#model", second)
        page.wait_for_selector("#image-panel", state="visible")
        n = page.evaluate("() => window.studio.renders")
        page.set_input_files("#file", str(held_out_emoji(a.emoji)))
        page.wait_for_function("n => window.studio.renders > n", arg=n)
        page.wait_for_function("() => Object.keys(window.studio.pending).length === 0")
        page.eval_on_selector("#compare-pos", "el => { el.value = 40; el.dispatchEvent(new Event('input')); }")
        page.screenshot(path=str(a.out / "studio-translate.png"))
    print(f"wrote {a.out / 'studio-noise.png'} and {a.out / 'studio-translate.png'}")
    return 0


def voxel_shot(run: Path, seed: int, out: Path) -> None:
    with studio_page([run], height=700) as page:
        n = page.evaluate("() => window.studio.renders")
        page.fill("#voxel-seed", str(seed))
        page.wait_for_function("n => window.studio.renders >= n + 2", arg=n)
        page.wait_for_function("() => Object.keys(window.studio.pending).length === 0")
        page.screenshot(path=str(out / "studio-3d.png"))
    print(f"wrote {out / 'studio-3d.png'}")


if __name__ == "__main__":
    sys.exit(main())
