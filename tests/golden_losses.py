"""The first 20 steps' losses of every default preset at seed 0, recorded before a refactor and compared after.

``python tests/golden_losses.py --record [RECIPE...]`` rewrites this CPU's part of ``tests/data/golden_losses.json``
(only when a change is meant to alter the numbers, and only for that recipe: say so in the commit);
``tests/test_golden_losses.py`` trains the same runs and compares, bit for bit in fp32 and within the fast-path
tolerance at the preset's own precision.

fp32 kernels differ between CPU instruction sets (oneDNN picks AVX2 or AVX-512 code; one rounding difference at step
2 grows into another run within 20 steps), so the record holds one section per ``torch.backends.cpu.
get_cpu_capability()``: a refactor is checked bit for bit on every kind of CPU that has a section.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import torch

PATH = Path(__file__).parent / "data" / "golden_losses.json"
STEPS = 20
RUNS = {  # preset -> overrides that keep the run small (the nets and the optimizer are the preset's own)
    "mlp-gan": ["data.limit=512"],
    "dcgan": ["data.limit=256"],
    "lsgan": ["data.limit=256"],
    "cgan": ["data.limit=512"],
    "pix2pix": ["data.limit=48"],
    "cyclegan": ["data.limit=48", "model.g_out=tanh", "model.g_up=transpose"],  # the generator recorded
    "srgan": ["data.limit=48"],
}
PRECISIONS = ("fp32", "preset")
# the memory layout and optimizer kernels the fp32 record was made with (the presets' own at the time): later presets
# may turn the fast path on, and the bitwise comparison must keep the recorded layout
_FAST_THEN = ("dcgan", "lsgan")
FP32_LAYOUT = {
    r: [f"train.channels_last={str(r in _FAST_THEN).lower()}", f"train.fused={str(r in _FAST_THEN).lower()}"]
    for r in RUNS
}


def losses_of(recipe: str, precision: str) -> dict[str, list[float]]:
    from gankit import api

    torch.set_num_threads(1)
    extra = [] if precision == "preset" else [f"train.precision={precision}", *FP32_LAYOUT[recipe]]
    with tempfile.TemporaryDirectory() as d:
        run = api.train(
            recipe,
            overrides=[
                *RUNS[recipe],
                *extra,
                f"train.steps={STEPS}",
                "train.log_every=1",
                "train.sample_every=100000",
                "train.ckpt_every=100000",
                "train.report_every_epochs=null",
                "train.seed=0",
            ],
            out=d,
        )
        rows = [json.loads(ln) for ln in (Path(run) / "metrics.jsonl").read_text().splitlines() if ln.strip()]
    out: dict[str, list[float]] = {}
    for r in rows:
        for k, v in r.items():
            if k.startswith("loss/"):
                out.setdefault(k, []).append(v)
    return out


def cpu() -> str:
    """The record's section for this machine: the instruction set PyTorch's CPU kernels use (AVX2, AVX512, ...)."""
    return torch.backends.cpu.get_cpu_capability()


def record(recipes=None) -> None:
    """Rewrite this CPU's record of ``recipes`` (all by default), keeping the other recipes and the other CPUs'."""
    data = json.loads(PATH.read_text()) if PATH.exists() else {}
    mine = data.get(cpu(), {}) if recipes else {}
    mine.update({f"{r}/{p}": losses_of(r, p) for r in (recipes or RUNS) for p in PRECISIONS})
    data[cpu()] = mine
    PATH.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    if "--record" in sys.argv:
        record([a for a in sys.argv[1:] if a != "--record"])
    else:
        print(json.dumps({r: losses_of(r, "fp32") for r in sys.argv[1:] or RUNS}, indent=1))
