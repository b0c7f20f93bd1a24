"""Full-reference scores for super-resolution: PSNR and SSIM, the way SR papers report them.

Both are computed on 8-bit images (float inputs in [-1, 1] are rounded to uint8 first, as a saved PNG would
be), on the **Y channel** of ITU-R BT.601 YCbCr (MATLAB ``rgb2ycbcr``: Y = 16 + (65.481 R + 128.553 G +
24.966 B) / 255 for R, G, B in 0..255), after cropping a **border of ``scale`` pixels** on every side. This is
the convention of SRGAN (Ledig et al. 2017) and most SR benchmarks. ``y=False`` scores RGB instead.

SSIM is Wang et al. (2004): 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, L = 255, "valid"
filtering, mean of the SSIM map — as the reference MATLAB ``ssim_index`` computes it.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .data.images import to_uint8


def _u8(x: torch.Tensor) -> torch.Tensor:
    return x if x.dtype == torch.uint8 else to_uint8(x)


def to_y(x: torch.Tensor, y: bool = True) -> torch.Tensor:
    """uint8 (or float [-1, 1]) N x C x H x W -> float64 in 0..255: Y (N x 1 x H x W) or all channels."""
    x = _u8(x).double()
    if not y or x.shape[1] == 1:
        return x
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0


def _shave(x: torch.Tensor, border: int) -> torch.Tensor:
    return x[..., border: x.shape[-2] - border, border: x.shape[-1] - border] if border else x


def psnr(sr: torch.Tensor, hr: torch.Tensor, border: int = 4, y: bool = True) -> torch.Tensor:
    """Per-image PSNR in dB (N values) between ``sr`` and ``hr`` (N x C x H x W)."""
    a, b = _shave(to_y(sr, y), border), _shave(to_y(hr, y), border)
    mse = (a - b).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(255.0 ** 2 / mse)


def _gauss(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    g = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-g ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(sr: torch.Tensor, hr: torch.Tensor, border: int = 4, y: bool = True) -> torch.Tensor:
    """Per-image SSIM (N values), averaged over channels when ``y=False``."""
    a, b = _shave(to_y(sr, y), border), _shave(to_y(hr, y), border)
    c = a.shape[1]
    w = _gauss().to(a.device)[None, None].expand(c, 1, 11, 11)
    f = lambda t: F.conv2d(t, w, groups=c)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = f(a), f(b)
    s_aa = f(a * a) - mu_a ** 2
    s_bb = f(b * b) - mu_b ** 2
    s_ab = f(a * b) - mu_a * mu_b
    m = ((2 * mu_a * mu_b + c1) * (2 * s_ab + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (s_aa + s_bb + c2))
    return m.flatten(1).mean(1)


def psnr_from_mse(mse: float, peak: float = 2.0) -> float:
    """PSNR of a mean squared error measured on [-1, 1] images (peak-to-peak 2)."""
    return 10 * math.log10(peak ** 2 / mse) if mse > 0 else float("inf")
