"""N steps in one run == N/2 steps, process killed (SIGKILL), resumed for N/2: bitwise-identical weights."""

import json

import pytest
from conftest import gankit, gankit_killed
from safetensors.torch import load_file

N = 8
COMMON = [
    "--steps",
    str(N),
    "--no-progress",
    "train.ckpt_every=4",
    "train.log_every=2",
    "train.sample_every=100",
    "data.limit=256",
    "train.batch_size=16",
    "train.threads=1",
]
DATA = {
    "mlp-gan": ["--data", "twemoji", "data.size=16"],  # tiny embedded data; 3 channels exercise the MLP reshape
    "dcgan": ["--data", "twemoji", "data.size=32"],
    "lsgan": ["--data", "twemoji", "data.size=28", "data.channels=1"],
}


# bf16 is emulated (slow) on CPUs without AVX-512-BF16/AMX, so the fast-path case runs narrow nets
FAST = ["train.channels_last=true", "train.precision=bf16", "train.fused=true"]
NARROW = ["model.g_base=32", "model.g_channels=[16,16,16]", "model.d_stem=8", "model.d_channels=[16,16,32]"]


# where the first process dies: right after the step-4 save; at step 6, between the saves at 4 and 8 (the log
# holds steps 5-6 that no checkpoint has: resume must drop them); inside the step-8 save, after its tensors file is
# written and before its state file is (the step-4 checkpoint must still load and resume bitwise)
CRASH = {
    "after-save": {"at_step": N // 2},
    "between-saves": {"at_step": N // 2 + 2},
    "in-write": {"in_write": f"step-{N:07d}"},
}


@pytest.mark.parametrize(
    "recipe, preset, extra, crash",
    [
        ("mlp-gan", "default", [], "between-saves"),
        ("dcgan", "default", ["model.d_split_steps=true"], "after-save"),
        ("lsgan", "default", ["model.d_split_steps=true"], "in-write"),
        ("lsgan", "tutorial", [], "between-saves"),  # G's optimizer also holds D's BN gamma/beta (seed 002)
        ("dcgan", "default", FAST + NARROW, "between-saves"),
    ],
    ids=["mlp-gan", "dcgan", "lsgan", "lsgan-tutorial", "dcgan-fast-path"],
)
def test_resume_is_bitwise_identical(recipe, preset, extra, crash, tmp_path):
    args = ["train", recipe, "-p", preset, *COMMON, *DATA[recipe], *extra]
    gankit(*args, "--out", tmp_path / "full")
    gankit_killed(*args, "--out", tmp_path / "part", **CRASH[crash])
    (run,) = (tmp_path / "part").iterdir()
    assert sorted(p.name for p in (run / "checkpoints").glob("step-*")) == [f"step-{N // 2:07d}"]
    logged = [json.loads(l)["step"] for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert max(logged) == {"after-save": N // 2, "between-saves": N // 2 + 2, "in-write": N}[crash]
    if crash == "in-write":  # a half-written checkpoint: its tensors, no state file, under a temporary name
        (tmp,) = (run / "checkpoints").glob(".tmp-*")
        assert (tmp / "tensors.safetensors").exists() and not (tmp / "state.json").exists()
        assert (run / "checkpoints" / "latest").read_text().strip() == f"step-{N // 2:07d}"
    gankit("train", "--resume", run, "--no-progress")
    (full,) = (tmp_path / "full").iterdir()
    a = load_file(str(full / "checkpoints" / f"step-{N:07d}" / "tensors.safetensors"))
    b = load_file(str(run / "checkpoints" / f"step-{N:07d}" / "tensors.safetensors"))
    nets = [k for k in a if k.startswith(("net.", "ema.", "optim."))]
    assert nets and set(a) == set(b)
    different = [k for k in a if not (a[k].shape == b[k].shape and (a[k] == b[k]).all())]
    assert different == []
    assert not list((run / "checkpoints").glob(".tmp-*"))  # the resumed run cleared the half-written one
    # the metrics log holds each step once, continuing where the checkpoint was, with the uninterrupted run's
    # losses (the rows of steps past the checkpoint that the crash left behind were dropped, then recomputed)
    rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    ref = [json.loads(l) for l in (full / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in rows]
    assert steps == sorted(set(steps)) and steps[-1] == N and steps == [r["step"] for r in ref]
    loss = lambda rs: [(r["step"], {k: v for k, v in r.items() if k.startswith(("loss/", "D/"))}) for r in rs]
    assert loss(rows) == loss(ref)
