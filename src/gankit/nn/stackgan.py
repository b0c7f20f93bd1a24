"""StackGAN's networks (Zhang et al. 2017 as the book's chapter 6 builds them), sized by a base width ``f``.

With ``f=64``, a 1024-d text embedding and the book's sizes (stage I 64 px, stage II 256 px) the parameter
counts equal the book's Keras summaries (trainable parameters): G1 10,268,480, D1 3,094,785 (+131,200 for the
text compressor, which the book keeps as a separate, never-trained model and gankit trains inside D), G2
28,636,864, D2 48,472,833.

Fixed against the book: log sigma is the *second* half of the CA output (the book slices mu twice), every
sample draws its own epsilon (passed in, so the caller's seeded generator decides), and the compressor is trained.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def kl_loss(mu: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) per dimension, averaged over the batch and the dimensions."""
    return (-log_sigma + 0.5 * (-1 + torch.exp(2 * log_sigma) + mu**2)).mean()


class CondAugment(nn.Module):
    """Conditioning augmentation: Dense(emb -> 2c) + LeakyReLU(0.2) gives [mu | log sigma]; c = mu + sigma * eps."""

    def __init__(self, emb_dim: int, c_dim: int = 128):
        super().__init__()
        self.fc = nn.Linear(emb_dim, 2 * c_dim)
        self.act = nn.LeakyReLU(0.2)
        self.c_dim = c_dim

    def forward(self, emb: torch.Tensor, eps: torch.Tensor):
        ml = self.act(self.fc(emb))
        mu, log_sigma = ml[:, : self.c_dim], ml[:, self.c_dim :]
        return mu + torch.exp(log_sigma) * eps, mu, log_sigma


def _bn(c, momentum, eps):
    return nn.BatchNorm2d(c, momentum=momentum, eps=eps)


def up_block(i: int, o: int, momentum: float, eps: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(i, o, 3, 1, 1, bias=False),
        _bn(o, momentum, eps),
        nn.ReLU(True),
    )


def _log2(n: int, what: str) -> int:
    k = int(round(math.log2(n))) if n > 0 else -1
    if k < 1 or 2**k != n:
        raise ValueError(f"{what} must be a power of two, got {n}")
    return k


class Stage1G(nn.Module):
    """[z, c] -> Dense(16f * 4 * 4, no bias) -> ReLU -> (upsample, conv3, BN, ReLU) x log2(size/4) -> conv3 -> tanh."""

    def __init__(
        self,
        emb_dim: int,
        z_dim: int = 100,
        c_dim: int = 128,
        f: int = 64,
        size: int = 64,
        fc_bn: bool = False,
        bn_momentum: float = 0.1,
        bn_eps: float = 1e-5,
        channels: int = 3,
    ):
        super().__init__()
        n_up = _log2(size // 4, "stage-I size / 4")
        self.ca = CondAugment(emb_dim, c_dim)
        top = f * 2**n_up
        self.top = top
        self.fc = nn.Sequential(
            nn.Linear(c_dim + z_dim, top * 16, bias=False),
            *([nn.BatchNorm1d(top * 16, momentum=bn_momentum, eps=bn_eps)] if fc_bn else []),
            nn.ReLU(True),
        )
        ups = [up_block(top // 2**k, top // 2 ** (k + 1), bn_momentum, bn_eps) for k in range(n_up)]
        self.ups = nn.Sequential(*ups)
        self.out = nn.Sequential(nn.Conv2d(f, channels, 3, 1, 1, bias=False), nn.Tanh())

    def forward(self, emb, z, eps):
        c, mu, log_sigma = self.ca(emb, eps)
        x = self.fc(torch.cat([c, z], 1)).view(-1, self.top, 4, 4)
        return self.out(self.ups(x)), mu, log_sigma


class TextCompressor(nn.Module):
    """Dense(emb -> n_d) + ReLU, replicated over the m_d x m_d map (the book's 4 x 4 x 128)."""

    def __init__(self, emb_dim: int, n_d: int = 128):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(emb_dim, n_d), nn.ReLU(True))

    def forward(self, emb, side: int = 4):
        return self.fc(emb)[:, :, None, None].expand(-1, -1, side, side)


def down_convs(f: int, n: int, momentum: float, eps: float, channels: int = 3) -> tuple[nn.Sequential, int]:
    """n stride-2 4x4 convs, no bias: f (no BN), 2f, 4f ... each BN + LeakyReLU(0.2)."""
    layers, c = [], channels
    for k in range(n):
        o = f * 2**k
        layers.append(nn.Conv2d(c, o, 4, 2, 1, bias=False))
        if k:
            layers.append(_bn(o, momentum, eps))
        layers.append(nn.LeakyReLU(0.2, True))
        c = o
    return nn.Sequential(*layers), c


class _JointHead(nn.Module):
    """[image features | replicated text] -> conv1 (bias) -> BN -> LeakyReLU -> flatten -> Dense 1 (logit)."""

    def __init__(self, c_img: int, n_d: int, c_out: int, momentum: float, eps: float):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(c_img + n_d, c_out, 1), _bn(c_out, momentum, eps), nn.LeakyReLU(0.2, True))
        self.fc = nn.Linear(c_out * 16, 1)

    def forward(self, x, t):
        return self.fc(self.conv(torch.cat([x, t], 1)).flatten(1)).squeeze(1)


class Stage1D(nn.Module):
    """Matching-aware D: image -> 4 x 4 x 8f features; joined with the compressed text; one logit per pair."""

    def __init__(
        self,
        emb_dim: int,
        f: int = 64,
        size: int = 64,
        n_d: int = 128,
        bn_momentum: float = 0.1,
        bn_eps: float = 1e-5,
        channels: int = 3,
    ):
        super().__init__()
        self.image, c = down_convs(f, _log2(size // 4, "stage-I size / 4"), bn_momentum, bn_eps, channels)
        self.text = TextCompressor(emb_dim, n_d)
        self.head = _JointHead(c, n_d, f * 8, bn_momentum, bn_eps)

    def forward(self, img, emb):
        return self.head(self.image(img), self.text(emb))


class ResBlock(nn.Module):
    def __init__(self, c: int, momentum: float, eps: float):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c, c, 3, 1, 1),
            _bn(c, momentum, eps),
            nn.ReLU(True),
            nn.Conv2d(c, c, 3, 1, 1),
            _bn(c, momentum, eps),
        )
        self.act = nn.ReLU(True)

    def forward(self, x):
        return self.act(x + self.body(x))


class Stage2G(nn.Module):
    """Stage-I image (S) -> encoder to S/4 (conv3 2f, conv4/2 4f + BN, conv4/2 8f + BN) -> [c tiled | x] ->
    conv3 8f -> residual blocks -> (upsample, conv3, BN, ReLU) x (2 + log2 scale) -> conv3 -> tanh."""

    def __init__(
        self,
        emb_dim: int,
        c_dim: int = 128,
        f: int = 64,
        scale: int = 4,
        res_blocks: int = 4,
        bn_momentum: float = 0.1,
        bn_eps: float = 1e-5,
        channels: int = 3,
    ):
        super().__init__()
        m, e = bn_momentum, bn_eps
        self.ca = CondAugment(emb_dim, c_dim)
        self.encode = nn.Sequential(
            nn.Conv2d(channels, 2 * f, 3, 1, 1, bias=False),
            nn.ReLU(True),
            nn.Conv2d(2 * f, 4 * f, 4, 2, 1, bias=False),
            _bn(4 * f, m, e),
            nn.ReLU(True),
            nn.Conv2d(4 * f, 8 * f, 4, 2, 1, bias=False),
            _bn(8 * f, m, e),
            nn.ReLU(True),
        )
        self.joint = nn.Sequential(
            nn.Conv2d(8 * f + c_dim, 8 * f, 3, 1, 1, bias=False), _bn(8 * f, m, e), nn.ReLU(True)
        )
        self.res = nn.Sequential(*[ResBlock(8 * f, m, e) for _ in range(res_blocks)])
        n_up = 2 + _log2(scale, "model.scale")
        chans = [8 * f] + [
            f * 2 ** min(3, n_up - 1 - k) for k in range(n_up)
        ]  # x4 (book): 8f 8f 4f 2f f; x2: 8f 4f 2f f
        self.ups = nn.Sequential(*[up_block(chans[k], chans[k + 1], m, e) for k in range(n_up)])
        self.out = nn.Sequential(nn.Conv2d(f, channels, 3, 1, 1, bias=False), nn.Tanh())

    def forward(self, emb, lr_img, eps):
        c, mu, log_sigma = self.ca(emb, eps)
        x = self.encode(lr_img)
        x = torch.cat([c[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3]), x], 1)
        x = self.res(self.joint(x))
        return self.out(self.ups(x)), mu, log_sigma


class Stage2D(nn.Module):
    """Down to 4 x 4 (f ... f * 2^(n-1)), conv1 to half, conv1 to 8f + BN, plus a bottleneck residual branch
    (conv1 2f, conv3 2f, conv3 8f), LeakyReLU, then the joint text head."""

    def __init__(
        self,
        emb_dim: int,
        f: int = 64,
        size: int = 256,
        n_d: int = 128,
        bn_momentum: float = 0.1,
        bn_eps: float = 1e-5,
        channels: int = 3,
    ):
        super().__init__()
        m, e = bn_momentum, bn_eps
        self.down, top = down_convs(f, _log2(size // 4, "stage-II size / 4"), m, e, channels)
        self.squeeze = nn.Sequential(
            nn.Conv2d(top, top // 2, 1, bias=False),
            _bn(top // 2, m, e),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(top // 2, 8 * f, 1, bias=False),
            _bn(8 * f, m, e),
        )
        self.branch = nn.Sequential(
            nn.Conv2d(8 * f, 2 * f, 1, bias=False),
            _bn(2 * f, m, e),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * f, 2 * f, 3, 1, 1, bias=False),
            _bn(2 * f, m, e),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * f, 8 * f, 3, 1, 1, bias=False),
            _bn(8 * f, m, e),
        )
        self.act = nn.LeakyReLU(0.2, True)
        self.text = TextCompressor(emb_dim, n_d)
        self.head = _JointHead(8 * f, n_d, 8 * f, m, e)

    def forward(self, img, emb):
        x = self.squeeze(self.down(img))
        x = self.act(x + self.branch(x))
        return self.head(x, self.text(emb))


__all__ = ["kl_loss", "CondAugment", "Stage1G", "Stage1D", "Stage2G", "Stage2D", "TextCompressor", "ResBlock"]
