"""Vanilla GAN with dense networks (seed 003: MNIST, Keras).

G: z -> 256 -> 512 -> 1024 -> C*H*W, LeakyReLU 0.2, tanh.  D: 1024 -> 512 -> 256 -> 1, LeakyReLU 0.2,
dropout 0.3. D sees one batch of real (target 0.9: one-sided label smoothing) and fake images together.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from .. import losses
from ..nn import init_weights
from .base import Recipe, frozen


@dataclass
class Options:
    latent_dim: int = 100
    g_hidden: list[int] = field(default_factory=lambda: [256, 512, 1024])
    d_hidden: list[int] = field(default_factory=lambda: [1024, 512, 256])
    g_norm: Literal["none", "batch"] = "none"
    dropout: float = 0.3
    slope: float = 0.2
    loss: Literal["bce", "minimax", "ls", "hinge"] = "bce"
    real_label: float = 0.9  # one-sided label smoothing (the seed's 0.9)
    init: Literal["keras", "normal02", "torch"] = "keras"


def mlp(sizes: list[int], slope: float, norm: bool = False, dropout: float = 0.0) -> list[nn.Module]:
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b)] + ([nn.BatchNorm1d(b)] if norm else []) + [nn.LeakyReLU(slope)]
        if dropout:
            layers.append(nn.Dropout(dropout))
    return layers


class MLPGAN(Recipe):
    name = "mlp-gan"
    Options = Options

    def build(self):
        o, dim = self.opts, math.prod(self.shape)
        self.G = nn.Sequential(*mlp([o.latent_dim, *o.g_hidden], o.slope, o.g_norm == "batch"),
                               nn.Linear(o.g_hidden[-1], dim), nn.Tanh(), nn.Unflatten(1, self.shape))
        self.D = nn.Sequential(nn.Flatten(), *mlp([dim, *o.d_hidden], o.slope, dropout=o.dropout),
                               nn.Linear(o.d_hidden[-1], 1))
        for net in (self.G, self.D):
            init_weights(net, o.init)

    def train_step(self, batch):
        o, real = self.opts, batch["image"]
        n = real.shape[0]
        with torch.no_grad():
            fake = self.G(self.latent(n))
        logits = self.w.D(torch.cat([real, fake]))
        lr, lf = logits[:n], logits[n:]
        d_loss = losses.d_real(o.loss, lr, o.real_label) + losses.d_fake(o.loss, lf)
        self.optim["D"].zero_grad(set_to_none=True)
        d_loss.backward()
        self.optim["D"].step()

        with frozen(self.D):
            g_out = self.D(self.w.G(self.latent(n)))
            g_loss = losses.g_loss(o.loss, g_out)
        self.optim["G"].zero_grad(set_to_none=True)
        g_loss.backward()
        self.optim["G"].step()

        acc_r, acc_f = losses.d_accuracy(lr.detach(), lf.detach(), o.loss)
        self.report("loss/D", d_loss.detach())
        self.report("loss/G", g_loss.detach())
        self.report("D/acc_real", acc_r)
        self.report("D/acc_fake", acc_f)
        self.report("D/logit_gap", (lr.detach().mean() - lf.detach().mean()))
