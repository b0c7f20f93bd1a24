"""Held-out PSNR and SSIM of a super-resolution network, beside bicubic: ``gankit sr-eval`` and srgan's periodic
report. The network is any module mapping LR to SR in [-1, 1]; nothing here knows the recipe or a checkpoint."""

from __future__ import annotations

import torch
from torch import nn

from ..data.sr import bicubic_up
from .task import psnr, ssim


@torch.no_grad()
def sr_scores(
    G: nn.Module | None, data, scale: int = 4, limit: int | None = None, device="cpu", border: int | None = None
) -> dict:
    """PSNR and SSIM (Y channel, ``scale``-px border cropped, 8-bit) of G and of bicubic on held-out images of an
    ``SRData`` (``heldout``, ``heldout_pair``).

    Returns ``{"sr": {...}, "bicubic": {...}, "n": N, ...}``; ``G=None`` scores bicubic only."""
    border = scale if border is None else border
    n = len(data.heldout) if limit is None else min(limit, len(data.heldout))
    was = G.training if G is not None else False
    if G is not None:
        G.eval()
    acc = {"sr": {"psnr_y": [], "ssim_y": [], "psnr_rgb": []}, "bicubic": {"psnr_y": [], "ssim_y": [], "psnr_rgb": []}}
    try:
        for i in range(n):
            hr, lr = data.heldout_pair(i, device)
            outs = {"bicubic": bicubic_up(lr, scale)}
            if G is not None:
                outs["sr"] = G(lr).float()
            for k, out in outs.items():
                acc[k]["psnr_y"].append(psnr(out, hr, crop=border, quantize=True))
                acc[k]["ssim_y"].append(ssim(out, hr, crop=border, quantize=True))
                acc[k]["psnr_rgb"].append(psnr(out, hr, y=False, crop=border, quantize=True))
    finally:
        if G is not None:
            G.train(was)
    res = {
        k: {m: round(float(sum(v) / max(1, len(v))), 4) for m, v in d.items()} for k, d in acc.items() if d["psnr_y"]
    }
    res.update(n=n, scale=scale, border=border, channel="Y (BT.601)")
    return res
