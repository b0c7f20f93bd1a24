"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

The same differentiable transforms are applied to real and generated images every time D sees them (in D's
and G's steps), so D cannot overfit a small dataset while G's gradients still flow through the transform.
All draws use the given ``torch.Generator`` (seeded, checkpointed). Images are float [-1, 1], NCHW.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")


def parse(policy: str) -> list[str]:
    parts = [p.strip() for p in policy.split(",") if p.strip()]
    bad = [p for p in parts if p not in POLICIES]
    if bad:
        raise ValueError(f"unknown DiffAugment policy {', '.join(bad)} (have {', '.join(POLICIES)})")
    return parts


def _rand(x, *shape, generator=None):
    return torch.rand(x.shape[0], *shape, generator=generator, device=x.device, dtype=x.dtype)


def color(x: torch.Tensor, generator=None) -> torch.Tensor:
    x = x + (_rand(x, 1, 1, 1, generator=generator) - 0.5)  # brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(x, 1, 1, 1, generator=generator) * 2) + mean  # saturation
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (_rand(x, 1, 1, 1, generator=generator) + 0.5) + mean  # contrast


def translation(x: torch.Tensor, ratio: float = 0.125, generator=None) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its size (zero = mid-grey padding in [-1, 1] is 0)."""
    n, c, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    tx = torch.randint(-sh, sh + 1, (n, 1, 1), generator=generator, device=x.device)
    ty = torch.randint(-sw, sw + 1, (n, 1, 1), generator=generator, device=x.device)
    gb, gx, gy = torch.meshgrid(
        torch.arange(n, device=x.device),
        torch.arange(h, device=x.device),
        torch.arange(w, device=x.device),
        indexing="ij",
    )
    gx = torch.clamp(gx + tx + 1, 0, h + 1)
    gy = torch.clamp(gy + ty + 1, 0, w + 1)
    pad = F.pad(x, [1, 1, 1, 1, 0, 0, 0, 0])
    return pad.permute(0, 2, 3, 1).contiguous()[gb, gx, gy].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, ratio: float = 0.5, generator=None) -> torch.Tensor:
    """Zero (mid-grey) one square of ``ratio`` of the image side at a random place in each image."""
    n, c, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ox = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=generator, device=x.device)
    oy = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=generator, device=x.device)
    gb, gx, gy = torch.meshgrid(
        torch.arange(n, device=x.device),
        torch.arange(ch, device=x.device),
        torch.arange(cw, device=x.device),
        indexing="ij",
    )
    gx = torch.clamp(gx + ox - ch // 2, 0, h - 1)
    gy = torch.clamp(gy + oy - cw // 2, 0, w - 1)
    mask = torch.ones(n, h, w, dtype=x.dtype, device=x.device)
    mask[gb, gx, gy] = 0
    return x * mask.unsqueeze(1)


def diff_augment(x: torch.Tensor, policy: str | list[str], generator: torch.Generator | None = None) -> torch.Tensor:
    for p in parse(policy) if isinstance(policy, str) else policy:
        x = {"color": color, "translation": translation, "cutout": cutout}[p](x, generator=generator)
    return x
