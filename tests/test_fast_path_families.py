"""The fast path (bf16 autocast, channels-last, fused Adam) on every family that defaults to it beyond the DCGAN family
(``tests/test_fast_path.py``) and gan3d (``tests/test_gan3d.py``): losses track fp32, and resume stays bitwise."""

import json

import pytest
import torch

from gankit.models import resolve_config
from gankit.train.fast import cpu_has_bf16
from gankit.train.trainer import Trainer

FAST = ["train.channels_last=true", "train.precision=bf16", "train.fused=true"]
FP32 = ["train.channels_last=false", "train.precision=fp32", "train.fused=false"]
COMMON = [
    "train.log_every=5",
    "train.steps=20",
    "train.sample_every=1000",
    "train.ckpt_every=1000",
    "train.threads=1",
    "train.report_every_epochs=null",
    "train.device=cpu",
]
FAMILIES = {
    "pix2pix": (
        [
            "model.g_ngf=8",
            "model.g_downs=4",
            "model.g_dropout_blocks=0",
            "model.d_ndf=8",
            "data.size=16",
            "data.limit=48",
            "train.batch_size=4",
        ],
        ("loss/D_real", "loss/D_fake", "loss/G_L1"),
    ),
    "cyclegan": (
        [
            "model.g_ngf=8",
            "model.g_blocks=1",
            "model.d_ndf=8",
            "model.d_layers=2",
            "data.size=16",
            "data.limit=48",
            "train.batch_size=2",
        ],
        ("loss/cycle", "loss/D_A_real", "loss/D_B_fake"),
    ),
    "srgan": (
        [
            "data.limit=48",
            "data.size=64",
            "model.crop=32",
            "model.g_features=8",
            "model.g_blocks=1",
            "model.d_features=8",
            "model.d_dense=16",
            "train.batch_size=4",
        ],
        ("loss/G_content", "loss/D_real"),
    ),
    # None: every logged loss
    "mlp-gan": (["model.g_hidden=[32,64]", "model.d_hidden=[64,32]", "data.limit=256", "train.batch_size=16"], None),
    "cgan": (
        [
            "model.g_base=64",
            "model.g_channels=[32,16]",
            "model.d_channels=[32,64]",
            "model.embed_dim=16",
            "data.limit=256",
            "train.batch_size=16",
            "train.grid=2",
        ],
        None,
    ),
    "r3gan": (
        [
            "model.widths=[32,16,16]",
            "model.latent_dim=16",
            "model.group_width=8",
            "model.reg_every=2",
            "data.limit=256",
            "train.batch_size=8",
        ],
        None,
    ),
    "agecgan": (
        [
            "model.g_dense=32",
            "model.g_channels=[16,8]",
            "model.d_channels=[8,16]",
            "data.size=16",
            "data.limit=64",
            "train.batch_size=8",
            "train.grid=2",
        ],
        None,
    ),
    "stackgan": (
        [
            "data.limit=24",
            "data.size=32",
            "model.text_encoder=ngrams",
            "model.text_dim=64",
            "model.g_features=4",
            "model.d_features=4",
            "model.condition_dim=16",
            "model.d_text_dim=16",
            "model.latent_dim=16",
            "train.batch_size=8",
            "train.grid=2",
        ],
        None,
    ),
}


def losses(tmp_path, recipe, extra):
    over, keys = FAMILIES[recipe]
    run = Trainer(
        resolve_config(recipe, "default", overrides=over + COMMON + extra), out=tmp_path, progress=False
    ).fit()
    rows = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines()]
    keys = keys or sorted({k for r in rows for k in r if k.startswith("loss/")})
    return {k: [r[k] for r in rows if k in r] for k in keys}


@pytest.mark.skipif(not cpu_has_bf16(), reason="bf16 autocast is emulated (slow) on this CPU; the path is not used")
@pytest.mark.parametrize("recipe", list(FAMILIES))
def test_fast_path_losses_track_fp32(recipe, tmp_path):
    ref, fast = losses(tmp_path / "ref", recipe, FP32), losses(tmp_path / "fast", recipe, FAST)
    assert ref != fast  # bf16 really ran
    for k in ref:  # the DCGAN test's tolerance: every 5-step mean within 0.03 (relative above 1)
        assert len(ref[k]) == 4
        for a, b in zip(ref[k], fast[k]):
            assert abs(a - b) < 0.03 * max(1.0, abs(a)), (k, ref[k], fast[k])


@pytest.mark.parametrize("recipe", list(FAMILIES))
def test_fast_path_resume_is_bitwise(recipe, tmp_path):
    """Killed after the step-4 save of an 8-step run and resumed == the uninterrupted run (schedules included:
    cyclegan decays its LR over the second half, srgan drops it at the middle; r3gan's lazy R1/R2 lands on step 6)."""
    from conftest import gankit, gankit_killed
    from safetensors.torch import load_file

    args = [
        "train",
        recipe,
        "--steps",
        8,
        "--no-progress",
        *FAMILIES[recipe][0],
        *COMMON[1:],
        *FAST,
        "train.log_every=2",
        "train.ckpt_every=4",
    ]
    gankit(*args, "--out", tmp_path / "full")
    gankit_killed(*args, "--out", tmp_path / "part", at_step=4)
    (part,) = (tmp_path / "part").iterdir()
    gankit("train", "--resume", part, "--no-progress")
    (full,) = (tmp_path / "full").iterdir()
    a, b = (load_file(str(d / "checkpoints" / "step-0000008" / "tensors.safetensors")) for d in (full, part))
    assert set(a) == set(b) and any(k.startswith("optim.") for k in a)
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
