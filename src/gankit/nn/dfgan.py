"""DF-GAN's networks (Tao et al., "DF-GAN: A Simple and Effective Baseline for Text-to-Image Synthesis", CVPR 2022),
small: one stage, text fused into every generator block by caption-predicted channel-wise affines, and a
discriminator whose one-way head judges (image features, caption) together.

- ``Affine``: ``gamma(c) * x + beta(c)``, gamma and beta two-layer MLPs of the condition ``c``; their last layers
  start at zero weight with bias 1 (gamma) and 0 (beta), so at initialisation the affine is the identity for any
  caption and the text's influence is learnt, never imposed.
- ``Fuse`` (DF-GAN's DFBlock): affine, LeakyReLU, affine, LeakyReLU.
- ``GBlock``: nearest 2x upsampling, then ``shortcut(x) + conv(fuse(conv(fuse(x))))`` (with ``norm``, x first
  scaled to unit RMS per pixel, so activations cannot grow from block to block); G's condition is
  ``[z, caption embedding]`` as in the official code; its output goes through LeakyReLU, a 3x3 conv and tanh.
- ``DBlock``: ``avgpool(shortcut(x)) + gamma * residual(x)`` with a learnt scalar gamma starting at 0.
- ``TextNorm``: caption embeddings centred on the training captions' mean and whitened (or only rescaled): a
  sentence encoder's vectors share a large common component, beside which the words that tell two emoji apart
  (a colour) move the vector little; G and D see them with every direction of the training captions at about unit
  variance, as z's components are.
- ``Discriminator``: image -> 4x4 features (``features``); ``head(features, caption)``: the caption replicated
  over the 4x4 map, concatenated, 3x3 conv, LeakyReLU, 4x4 conv to one logit (the one-way output), plus, with
  ``projection``, ``<W c, mean-pooled features>`` (Miyato & Koyama's projection term).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def widths(features: int, size: int) -> list[int]:
    """Channels from the 4x4 map up to ``size`` (G; D reads the list backwards): ``features * min(2^k, 8)``."""
    n = size.bit_length() - 2  # 4 px -> 1 entry, 8 -> 2, ..., 32 -> 4
    return [features * min(2**k, 8) for k in range(n)][::-1]


class TextNorm(nn.Module):
    """``(e - mean) @ proj``, fitted once on the training captions' embeddings (``fit``) and saved with G (buffers).

    ``whiten``: ``proj = U diag((lambda + s * mean(lambda))^-1/2) U^T`` (ZCA with shrinkage ``s``, so directions of
    almost no variance are not blown up), scaled so the components' mean variance is 1; ``center``: ``proj`` a
    multiple of the identity with the same mean variance."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("proj", torch.eye(dim))

    @torch.no_grad()
    def fit(self, emb: torch.Tensor, mode: str = "whiten", shrink: float = 0.1) -> "TextNorm":
        e = emb.double()
        mean = e.mean(0)
        cov = torch.cov((e - mean).T)
        if mode == "whiten":
            lam, u = torch.linalg.eigh(cov)
            lam = lam.clamp_min(0)
            w = (lam + shrink * lam.mean()).rsqrt()
            proj = (u * w) @ u.T
            proj = proj * (len(lam) / (lam * w.square()).sum()).sqrt()
        elif mode == "center":
            proj = torch.eye(len(mean), dtype=e.dtype) * (len(mean) / cov.trace()).sqrt()
        else:
            raise ValueError(f"TextNorm mode {mode!r}: center or whiten")
        self.mean.copy_(mean)
        self.proj.copy_(proj)
        return self

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        return (emb.to(self.mean.dtype) - self.mean) @ self.proj


class Affine(nn.Module):
    """Channel-wise ``gamma(c) * x + beta(c)``; the identity at initialisation (gamma 1, beta 0 for every ``c``)."""

    def __init__(self, cond_dim: int, channels: int):
        super().__init__()
        self.gamma = nn.Sequential(nn.Linear(cond_dim, channels), nn.ReLU(), nn.Linear(channels, channels))
        self.beta = nn.Sequential(nn.Linear(cond_dim, channels), nn.ReLU(), nn.Linear(channels, channels))
        nn.init.zeros_(self.gamma[2].weight)
        nn.init.ones_(self.gamma[2].bias)
        nn.init.zeros_(self.beta[2].weight)
        nn.init.zeros_(self.beta[2].bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.gamma(c)[:, :, None, None] * x + self.beta(c)[:, :, None, None]


class Fuse(nn.Module):
    """DF-GAN's deep fusion block: two text-conditioned affines, each followed by LeakyReLU(0.2)."""

    def __init__(self, cond_dim: int, channels: int):
        super().__init__()
        self.a0, self.a1 = Affine(cond_dim, channels), Affine(cond_dim, channels)

    def forward(self, x, c):
        return F.leaky_relu(self.a1(F.leaky_relu(self.a0(x, c), 0.2), c), 0.2)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Each pixel's feature vector scaled to unit root-mean-square (ProGAN/StyleGAN's PixelNorm)."""
    return x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + eps)


class GBlock(nn.Module):
    def __init__(self, cond_dim: int, cin: int, cout: int, norm: bool = False):
        super().__init__()
        self.fuse1, self.c1 = Fuse(cond_dim, cin), nn.Conv2d(cin, cout, 3, 1, 1)
        self.fuse2, self.c2 = Fuse(cond_dim, cout), nn.Conv2d(cout, cout, 3, 1, 1)
        self.sc = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        self.norm = norm

    def forward(self, x, c):
        if self.norm:
            x = pixel_norm(x)
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.sc(x) + self.c2(self.fuse2(self.c1(self.fuse1(x, c)), c))


class Generator(nn.Module):
    """(z, caption embedding) -> image in [-1, 1]: a dense map of z to 4x4, then one ``GBlock`` per doubling."""

    def __init__(
        self,
        latent_dim: int,
        text_dim: int,
        features: int,
        size: int,
        channels: int = 3,
        norm: bool = False,
        fc_text: bool = False,
        text_norm: bool = False,
    ):
        super().__init__()
        ch = widths(features, size)
        self.text_norm = TextNorm(text_dim) if text_norm else None  # applied by the recipe (D sees the same vectors)
        self.latent_dim, self.fc_text = latent_dim, fc_text
        self.fc = nn.Linear(latent_dim + (text_dim if fc_text else 0), ch[0] * 16)
        cond = latent_dim + text_dim
        self.blocks = nn.ModuleList(GBlock(cond, a, b, norm) for a, b in zip(ch[:-1], ch[1:]))
        self.to_rgb = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(ch[-1], channels, 3, 1, 1), nn.Tanh())

    def forward(self, z: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        c = torch.cat([z, emb.to(z.dtype)], 1)
        x = self.fc(c if self.fc_text else z).view(z.shape[0], -1, 4, 4)
        for b in self.blocks:
            x = b(x, c)
        return self.to_rgb(x)


class DBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.res = nn.Sequential(
            nn.Conv2d(cin, cout, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
            nn.LeakyReLU(0.2),
        )
        self.sc = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return F.avg_pool2d(self.sc(x), 2) + self.gamma * self.res(x)


class Discriminator(nn.Module):
    """``features(x)``: image -> (8f) x 4 x 4; ``head(h, emb)``: the one-way conditional logit (N,)."""

    def __init__(self, text_dim: int, features: int, size: int, channels: int = 3, projection: bool = False):
        super().__init__()
        ch = widths(features, size)[::-1]
        self.stem = nn.Conv2d(channels, ch[0], 3, 1, 1)
        self.blocks = nn.Sequential(*(DBlock(a, b) for a, b in zip(ch[:-1], ch[1:])))
        self.joint = nn.Sequential(
            nn.Conv2d(ch[-1] + text_dim, features * 2, 3, 1, 1, bias=False),
            nn.LeakyReLU(0.2),
            nn.Conv2d(features * 2, 1, 4, 1, 0, bias=False),
        )
        self.proj = nn.Linear(text_dim, ch[-1], bias=False) if projection else None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.stem(x))

    def head(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        e = emb.to(h.dtype)
        out = self.joint(torch.cat([h, e[:, :, None, None].expand(-1, -1, *h.shape[2:])], 1)).flatten(1).sum(1)
        if self.proj is not None:
            out = out + (self.proj(e) * h.mean((2, 3))).sum(1)
        return out

    def forward(self, x: torch.Tensor, emb: torch.Tensor, wrong: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of (x, emb); with ``wrong``, those of (the first ``len(wrong)`` rows of x, wrong) appended: the
        mismatched pairs reuse the images' features (one call, so a DDP-wrapped D sees one forward)."""
        h = self.features(x)
        out = self.head(h, emb)
        return out if wrong is None else torch.cat([out, self.head(h[: wrong.shape[0]], wrong)])
