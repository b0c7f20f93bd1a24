"""Tiny trained checkpoints of each model kind the studio serves and `gankit export` writes (a few steps, tiny nets).

``stackgan`` uses the weight-free n-gram caption encoder (MiniLM would cost ~10 s to load per process);
``gan3d`` (class-conditional) trains 12 steps at 16^3: its occupancies still sit near 0.5, so the tests draw
the surface at a level some voxels cross (a quantile of the model's own output);
``agecgan`` is a stage-1 run (a noise model to the studio), ``agecgan-encoder`` the stage-2 run on top of it.

Shared by test_serve.py, test_studio_browser.py, test_export.py, benchmarks/studio_load.py and
benchmarks/figures/studio_screenshots.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# Debian's Chromium for the browser tests and the studio screenshots; the flags keep it from stalling on a closed
# network (no update, sync or background fetches) and let it run as root in a container
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
COMMON = [
    "train.steps=3",
    "train.batch_size=4",
    "train.log_every=1",
    "train.sample_every=1",
    "train.threads=1",
    "train.device=cpu",
]
NOISE_NETS = ["model.g_base=16", "model.g_channels=[8]", "model.d_channels=[8]", "data.size=16", "model.init=torch"]


def class_folder(root: Path) -> Path:
    """Two labelled classes of 16 px pictures (a red or a green square on dark noise)."""
    rng = np.random.default_rng(0)
    for k, name in enumerate(["red", "green"]):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(8):
            a = rng.integers(0, 80, (16, 16, 3), dtype=np.uint8)
            a[4:12, 4:12, k] = 255
            Image.fromarray(a).save(root / name / f"{i}.png")
    return root


def aligned_pairs(root: Path, n_train: int = 4, n_test: int = 2, side: int = 16) -> Path:
    """pix2pix's layout (train/, test/; A|B side by side): B is A inverted."""
    rng = np.random.default_rng(1)
    for split, n in (("train", n_train), ("test", n_test)):
        (root / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            a = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
            Image.fromarray(np.concatenate([a, 255 - a], 1)).save(root / split / f"{i}.png")
    return root


def hr_folder(root: Path, n: int = 12, side: int = 32) -> Path:
    """High-resolution pictures for SR: smooth blobs (so bicubic and SR differ from noise)."""
    rng = np.random.default_rng(2)
    root.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:side, 0:side] / side
    for i in range(n):
        c = rng.random((3, 3))
        img = np.stack([np.sin(6 * (xx * c[k, 0] + yy * c[k, 1]) + 6 * c[k, 2]) for k in range(3)], -1)
        Image.fromarray(((img + 1) * 127.5).astype(np.uint8)).save(root / f"{i}.png")
    return root


AGE_NETS = [
    "model.g_dense=32",
    "model.g_channels=[16,8]",
    "model.d_channels=[8,16]",
    "model.e_channels=[8,16]",
    "model.e_dense=32",
    "data.size=16",
    "data.limit=24",
    "train.grid=2",
]
# dfgan and stackgan share the text options; stackgan adds its conditioning augmentation and D's text projection
DFGAN_NETS = [
    "data.limit=8",
    "data.size=16",
    "model.text_encoder=ngrams",
    "model.text_dim=32",
    "model.g_features=4",
    "model.d_features=4",
    "model.latent_dim=8",
    "train.report_every_epochs=null",
    "train.grid=2",
]
TEXT_NETS = [*DFGAN_NETS, "model.condition_dim=8", "model.d_text_dim=8"]
VOXEL_NETS = [
    "data.size=16",
    "data.limit=32",
    "model.g_channels=[16,8]",
    "model.d_channels=[8,16]",
    "model.latent_dim=16",
    "model.conditional=true",
    "train.report_every_epochs=null",
    "train.grid=4",
]


def train_runs(base: Path, kinds=("dcgan", "cgan", "pix2pix", "cyclegan", "srgan", "mlp-gan", "lsgan")) -> dict:
    """{recipe: run directory} for the recipes named (tiny, CPU, ~1-3 s each). Also ``stackgan``, ``dfgan``,
    ``gan3d``, ``agecgan`` (stage 1) and ``agecgan-encoder`` (stage 2, on the stage-1 run)."""
    from gankit import api

    base = Path(base)
    out = base / "runs"
    runs = {}
    for k in kinds:
        if k in ("dcgan", "lsgan"):
            ov = [*COMMON, *NOISE_NETS, f"data.name=folder:{class_folder(base / 'classes')}"]
        elif k == "mlp-gan":
            ov = [
                *COMMON,
                f"data.name=folder:{class_folder(base / 'classes')}",
                "data.size=16",
                "model.g_hidden=[32]",
                "model.d_hidden=[32]",
            ]
        elif k == "cgan":
            ov = [*COMMON, *NOISE_NETS, f"data.name=folder:{class_folder(base / 'classes')}"]
        elif k == "pix2pix":
            ov = [
                *COMMON,
                f"data.name={aligned_pairs(base / 'pairs')}",
                "data.size=16",
                "model.g_ngf=4",
                "model.g_downs=4",
                "model.g_dropout_blocks=1",
                "model.d_ndf=4",
            ]
        elif k == "cyclegan":
            ov = [
                *COMMON,
                f"data.name={aligned_pairs(base / 'pairs')}",
                "data.size=16",
                "model.g_ngf=4",
                "model.g_blocks=1",
                "model.d_ndf=4",
                "model.d_layers=2",
                "data.disjoint=false",
            ]
        elif k == "srgan":
            ov = [
                *COMMON,
                f"data.name=folder:{hr_folder(base / 'hr')}",
                "data.size=32",
                "model.crop=16",
                "model.g_features=8",
                "model.g_blocks=1",
                "train.report_every_epochs=null",
            ]
            runs[k] = api.train("srgan", "srresnet", overrides=ov, out=out)
            continue
        elif k == "stackgan":
            ov = [*COMMON, *TEXT_NETS, "train.steps=30", "train.sample_every=30"]
        elif k == "dfgan":
            ov = [*COMMON, *DFGAN_NETS, "train.steps=30", "train.sample_every=30"]
        elif k == "gan3d":
            ov = [*COMMON, *VOXEL_NETS, "train.steps=12", "train.batch_size=8", "train.sample_every=12"]
        elif k == "agecgan":
            ov = [*COMMON, *AGE_NETS]
        elif k == "agecgan-encoder":
            stage1 = runs.get("agecgan") or api.train("agecgan", overrides=[*COMMON, *AGE_NETS], out=base / "stage1")
            runs[k] = api.train(
                "agecgan",
                "encoder",
                overrides=[*COMMON, *AGE_NETS, f"model.init_from={stage1}", "model.eval_images=2"],
                out=out,
            )
            continue
        else:
            raise ValueError(k)
        runs[k] = api.train(k, overrides=ov, out=out)
    return runs
