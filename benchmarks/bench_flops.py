"""Training throughput and achieved FLOP/s of DCGAN-32, pix2pix-256 and SRGAN (a GPU table; runs on CPU too).

FLOPs of one training step are counted by ``torch.utils.flop_counter.FlopCounterMode`` (matmuls and convolutions,
forward and backward: 2 per multiply-add), then the step is timed with the recipe's fast path as configured by its
preset plus ``--fast`` (bf16 autocast, channels-last, fused Adam; TF32 and cudnn.benchmark on CUDA). Batches are
random tensors of the right shape: this measures compute, not data loading. SRGAN uses a random-initialised VGG19
(same compute as the real one) written to a temporary file, because weights cannot be downloaded here.

Usage: python benchmarks/bench_flops.py [--device cuda] [--iters N] [--fast] [--only dcgan,pix2pix,srgan]
Prints one JSON line per model. No GPU here: the CUDA figures are for a machine that has one.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

from gankit.models import recipe_class, resolve_config
from gankit.train.fast import apply_fast_path

sys.path.insert(0, str(Path(__file__).parent))
from roofline import flops_and_time  # noqa: E402

FAST = ["train.precision=auto", "train.channels_last=true", "train.fused=true"]


def setups(vgg_path: str) -> dict:
    """name: (recipe, preset, overrides, shape, batch maker)."""

    def dcgan(b, dev):
        return {"image": torch.rand(b, 3, 32, 32, device=dev) * 2 - 1}

    def pix2pix(b, dev):
        return {
            "A": torch.rand(b, 3, 256, 256, device=dev) * 2 - 1,
            "B": torch.rand(b, 3, 256, 256, device=dev) * 2 - 1,
        }

    def srgan(b, dev):
        return {"lr": torch.rand(b, 3, 24, 24, device=dev) * 2 - 1, "hr": torch.rand(b, 3, 96, 96, device=dev) * 2 - 1}

    return {
        "dcgan-32": ("dcgan", "default", ["data.size=32"], (3, 32, 32), dcgan),
        "pix2pix-256": ("pix2pix", "paper", [], (3, 256, 256), pix2pix),
        "srgan-96": ("srgan", "paper", [f"model.vgg_weights={vgg_path}"], (3, 96, 96), srgan),
    }


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def measure(name, spec, dev, iters, fast):
    recipe, preset, extra, shape, make = spec
    cfg = resolve_config(recipe, preset, overrides=extra + (FAST if fast else []))
    r = recipe_class(recipe)(cfg, shape, 0, dev)
    r.gen = torch.Generator(device=dev).manual_seed(0)
    ctx = apply_fast_path(r, cfg.train, dev)
    b = cfg.train.batch_size
    cl = cfg.train.channels_last
    batch = {k: v.contiguous(memory_format=torch.channels_last) if cl else v for k, v in make(b, dev).items()}

    flops, dt = flops_and_time(r, ctx, batch, iters, lambda: sync(dev))
    return {
        "bench": name,
        "device": str(dev),
        "batch": b,
        "precision": cfg.train.precision,
        "img_per_s": round(b / dt, 1),
        "step_ms": round(dt * 1e3, 2),
        "gflop_per_step": round(flops / 1e9, 2),
        "achieved_tflop_s": round(flops / dt / 1e12, 4),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--iters", type=int, default=None, help="timed steps (default 20 on CUDA, 3 on the CPU)")
    ap.add_argument("--fast", action="store_true", help="force the fast path on every model (presets may not have it)")
    ap.add_argument("--only", default="dcgan,pix2pix,srgan")
    a = ap.parse_args()
    dev = torch.device(a.device)
    iters = a.iters or (20 if dev.type == "cuda" else 3)
    with tempfile.TemporaryDirectory() as tmp:
        import torchvision
        from safetensors.torch import save_file

        vgg = Path(tmp) / "vgg19-random.safetensors"
        save_file({k: v.contiguous() for k, v in torchvision.models.vgg19(weights=None).state_dict().items()}, str(vgg))
        for name, spec in setups(str(vgg)).items():
            if name.split("-")[0] in a.only.split(","):
                print(json.dumps(measure(name, spec, dev, iters, a.fast)), flush=True)


if __name__ == "__main__":
    main()
