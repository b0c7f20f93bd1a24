"""SRResNet / SRGAN networks (Ledig et al. 2017), and the variant of the book's chapter 5.

Generator, ``arch="paper"``: conv 9x9 + PReLU; ``blocks`` x [conv3-BN-PReLU-conv3-BN + skip]; conv3-BN + global
skip; log2(scale) x [conv3 (features -> 4 features) - PixelShuffle(2) - PReLU]; conv 9x9 -> C, then ``tanh`` so
the output lives in [-1, 1] like every gankit image.
Generator, ``arch="book"``: ReLU instead of PReLU, residual blocks conv-ReLU-BN-conv-BN, and each x2 stage is
nearest UpSampling + conv3 (-> ``up_features``, 256 in the book) + ReLU.

Discriminator, ``head="dense"`` (paper): 8 conv3 blocks, channels f, f, 2f, 2f, 4f, 4f, 8f, 8f with strides
1, 2, 1, 2, ... ; BN on all but the first, LeakyReLU(0.2); flatten; dense 1024; LeakyReLU; dense 1 (a logit).
``head="patch"`` (book): Keras' Dense on a 4-D tensor acts per position, i.e. 1x1 convs 8f -> 1024 -> 1, giving
a map of logits (B x 1 x H/16 x W/16). The book puts BN *after* the activation (``bn_after_act``).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _bn(ch: int, momentum: float, eps: float) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(ch, momentum=momentum, eps=eps)


class ResidualBlock(nn.Module):
    def __init__(self, ch: int, arch: str, momentum: float, eps: float):
        super().__init__()
        if arch == "book":  # conv -> ReLU -> BN -> conv -> BN
            layers = [
                nn.Conv2d(ch, ch, 3, 1, 1),
                nn.ReLU(),
                _bn(ch, momentum, eps),
                nn.Conv2d(ch, ch, 3, 1, 1),
                _bn(ch, momentum, eps),
            ]
        else:  # paper: conv -> BN -> PReLU -> conv -> BN
            layers = [
                nn.Conv2d(ch, ch, 3, 1, 1),
                _bn(ch, momentum, eps),
                nn.PReLU(ch),
                nn.Conv2d(ch, ch, 3, 1, 1),
                _bn(ch, momentum, eps),
            ]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.body(x)


class SRResNet(nn.Module):
    """LR (B x C x h x w, [-1, 1]) -> SR (B x C x scale*h x scale*w, [-1, 1])."""

    def __init__(
        self,
        channels: int = 3,
        features: int = 64,
        blocks: int = 16,
        scale: int = 4,
        arch: str = "paper",
        up_features: int = 256,
        bn_momentum: float = 0.1,
        bn_eps: float = 1e-5,
    ):
        super().__init__()
        if scale < 2 or scale & (scale - 1):
            raise ValueError(f"scale must be a power of two >= 2, got {scale}")
        self.scale, self.arch = scale, arch
        act = (lambda c: nn.ReLU()) if arch == "book" else (lambda c: nn.PReLU(c))
        self.head = nn.Sequential(nn.Conv2d(channels, features, 9, 1, 4), act(features))
        self.body = nn.Sequential(*[ResidualBlock(features, arch, bn_momentum, bn_eps) for _ in range(blocks)])
        self.fuse = nn.Sequential(nn.Conv2d(features, features, 3, 1, 1), _bn(features, bn_momentum, bn_eps))
        ups, ch = [], features
        for _ in range(int(math.log2(scale))):
            if arch == "book":
                ups += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ch, up_features, 3, 1, 1), nn.ReLU()]
                ch = up_features
            else:
                ups += [nn.Conv2d(ch, ch * 4, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU(ch)]
        self.up = nn.Sequential(*ups)
        self.tail = nn.Conv2d(ch, channels, 9, 1, 4)

    def forward(self, lr):
        h = self.head(lr)
        x = self.fuse(self.body(h)) + h
        return torch.tanh(self.tail(self.up(x)))


class SRDiscriminator(nn.Module):
    """HR image -> logits: one per image (``head="dense"``) or a patch map (``head="patch"``)."""

    def __init__(
        self,
        channels: int = 3,
        size: int = 96,
        features: int = 64,
        dense: int = 1024,
        head: str = "dense",
        slope: float = 0.2,
        bn_momentum: float = 0.1,
        bn_eps: float = 1e-5,
        bn_after_act: bool = False,
    ):
        super().__init__()
        layers, ch = [], channels
        for i in range(8):
            out = features * 2 ** (i // 2)
            layers.append(nn.Conv2d(ch, out, 3, 1 + i % 2, 1))
            if i == 0:
                layers.append(nn.LeakyReLU(slope))
            elif bn_after_act:
                layers += [nn.LeakyReLU(slope), _bn(out, bn_momentum, bn_eps)]
            else:
                layers += [_bn(out, bn_momentum, bn_eps), nn.LeakyReLU(slope)]
            ch = out
        self.features = nn.Sequential(*layers)
        if head == "patch":
            self.head = nn.Sequential(nn.Conv2d(ch, dense, 1), nn.LeakyReLU(slope), nn.Conv2d(dense, 1, 1))
        else:
            side = size
            for _ in range(4):
                side = (side + 1) // 2  # conv3, stride 2, padding 1
            self.head = nn.Sequential(
                nn.Flatten(), nn.Linear(ch * side * side, dense), nn.LeakyReLU(slope), nn.Linear(dense, 1)
            )

    def forward(self, x):
        return self.head(self.features(x))
