"""The 2-D normalisation layers the translation nets choose between by name."""

from __future__ import annotations

from torch import nn

NORMS = ("batch", "instance", "instance_affine", "none")


def norm2d(kind: str, channels: int) -> nn.Module:
    """``batch``; ``instance`` (per image and channel, no learned scale: the CycleGAN/pix2pix code's default);
    ``instance_affine`` (with a learned per-channel scale and shift); ``none``."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "instance_affine":
        return nn.InstanceNorm2d(channels, affine=True, track_running_stats=False)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r} (have {', '.join(NORMS)})")


def conv_bias(kind: str) -> bool:
    """A conv followed by batch norm needs no bias (the norm's shift replaces it)."""
    return kind != "batch"
