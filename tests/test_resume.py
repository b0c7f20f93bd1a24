"""N steps in one run == N/2 steps, process killed (SIGKILL), resumed for N/2: bitwise-identical weights."""
import signal

import pytest
from safetensors.torch import load_file

from conftest import gankit

N = 8
COMMON = [f"--steps", str(N), "--no-progress", "train.ckpt_every=4", "train.log_every=2", "train.sample_every=100",
          "data.limit=256", "train.batch_size=16", "train.threads=1"]
DATA = {"mlp-gan": ["--data", "twemoji", "data.size=16"],  # tiny embedded data; 3 channels exercise the MLP reshape
        "dcgan": ["--data", "twemoji", "data.size=32"],
        "lsgan": ["--data", "twemoji", "data.size=28", "data.channels=1"]}


FAST = ["train.channels_last=true", "train.precision=bf16", "train.fused=true"]


@pytest.mark.parametrize("recipe, extra", [("mlp-gan", []), ("dcgan", ["model.d_split_steps=true"]),
                                           ("lsgan", ["model.d_split_steps=true"]), ("dcgan", FAST)],
                         ids=["mlp-gan", "dcgan", "lsgan", "dcgan-fast-path"])
def test_resume_is_bitwise_identical(recipe, extra, tmp_path):
    args = ["train", recipe, *COMMON, *DATA[recipe], *extra]
    gankit(*args, "--out", tmp_path / "full")
    crashed = gankit(*args, "--out", tmp_path / "part", env={"GANKIT_TEST_CRASH_AT": str(N // 2)}, check=False)
    assert crashed.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL), crashed.stderr
    (run,) = (tmp_path / "part").iterdir()
    assert sorted(p.name for p in (run / "checkpoints").glob("step-*")) == [f"step-{N // 2:07d}"]
    gankit("train", "--resume", run, "--no-progress")
    (full,) = (tmp_path / "full").iterdir()
    a = load_file(str(full / "checkpoints" / f"step-{N:07d}" / "tensors.safetensors"))
    b = load_file(str(run / "checkpoints" / f"step-{N:07d}" / "tensors.safetensors"))
    nets = [k for k in a if k.startswith(("net.", "ema.", "optim."))]
    assert nets and set(a) == set(b)
    different = [k for k in a if not (a[k].shape == b[k].shape and (a[k] == b[k]).all())]
    assert different == []
    # the metrics log holds each step once, continuing where the checkpoint was
    steps = [__import__("json").loads(l)["step"] for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == N
