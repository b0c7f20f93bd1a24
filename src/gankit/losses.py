"""GAN losses on raw discriminator outputs (logits), one function per objective.

``d_loss(kind, real, fake)`` and ``g_loss(kind, fake)`` return scalars; label smoothing targets are
arguments, so one-sided smoothing (real 0.9) and noisy labels are the caller's choice.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

KINDS = ("bce", "minimax", "ls", "hinge", "wgan")


def _target(x: torch.Tensor, value) -> torch.Tensor:
    return value.expand_as(x).to(x.dtype) if torch.is_tensor(value) else torch.full_like(x, float(value))


def d_real(kind: str, real: torch.Tensor, target=1.0) -> torch.Tensor:
    """D's loss on real samples."""
    real = real.float()
    if kind in ("bce", "minimax"):
        return F.binary_cross_entropy_with_logits(real, _target(real, target))
    if kind == "ls":
        return F.mse_loss(real, _target(real, target))
    if kind == "hinge":
        return F.relu(1.0 - real).mean()
    if kind == "wgan":
        return -real.mean()
    raise ValueError(f"unknown loss {kind!r} (have {', '.join(KINDS)})")


def d_fake(kind: str, fake: torch.Tensor, target=0.0) -> torch.Tensor:
    """D's loss on generated samples."""
    fake = fake.float()
    if kind in ("bce", "minimax"):
        return F.binary_cross_entropy_with_logits(fake, _target(fake, target))
    if kind == "ls":
        return F.mse_loss(fake, _target(fake, target))
    if kind == "hinge":
        return F.relu(1.0 + fake).mean()
    if kind == "wgan":
        return fake.mean()
    raise ValueError(f"unknown loss {kind!r} (have {', '.join(KINDS)})")


def g_loss(kind: str, fake: torch.Tensor, target=1.0) -> torch.Tensor:
    """G's loss. ``bce`` is the non-saturating -log D(G(z)); ``minimax`` is the original log(1 - D(G(z)))."""
    fake = fake.float()
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(fake, _target(fake, target))
    if kind == "minimax":
        return -F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    if kind == "ls":
        return F.mse_loss(fake, _target(fake, target))
    if kind in ("hinge", "wgan"):
        return -fake.mean()
    raise ValueError(f"unknown loss {kind!r} (have {', '.join(KINDS)})")


def d_accuracy(real: torch.Tensor, fake: torch.Tensor, kind: str = "bce") -> tuple[torch.Tensor, torch.Tensor]:
    """Fraction of real judged real and fake judged fake (threshold 0 on logits, 0.5 for least squares)."""
    t = 0.5 if kind == "ls" else 0.0
    return (real.float() > t).float().mean(), (fake.float() <= t).float().mean()
