"""Vanilla GAN with dense networks (seed 003: MNIST, Keras). Every toolbox option applies.

G: z -> 256 -> 512 -> 1024 -> C*H*W, LeakyReLU 0.2, tanh.  D: 1024 -> 512 -> 256 -> 1, LeakyReLU 0.2,
dropout 0.3 after the 1024 and 512 layers (the seed has none after 256: ``d_head_dropout: false``).
D sees a batch of real (target 0.9: one-sided label smoothing) and fake images in one update.
"""

from __future__ import annotations

import math
from dataclasses import field
from typing import Literal

from torch import nn

from ..config import defaults
from ..nn import dense_norm, init_weights, maybe_sn
from ..nn.critic import Critic
from ..nn.dcgan import Generator
from .toolbox import GANRecipe, Toolbox


@defaults(real_label=0.9, mode_seeking=1.0)
class Options(Toolbox):
    """Seed 003's dense nets with batch norm in G, dropout 0.2 and mode seeking 1.0: the mlp-gan ``default`` preset
    (the seed's values: ``tutorial``)."""

    latent_dim: int = 100
    g_hidden: list[int] = field(default_factory=lambda: [256, 512, 1024])
    d_hidden: list[int] = field(default_factory=lambda: [1024, 512, 256])
    g_norm: Literal["none", "batch", "instance"] = "batch"  # the seed: none
    d_norm: Literal["none", "batch", "instance", "spectral"] = "none"
    dropout: float = 0.2  # the seed: 0.3
    d_head_dropout: bool = True  # dropout also after D's last hidden layer, before the output unit (not in seed 003)
    slope: float = 0.2
    init: Literal["keras", "normal02", "torch"] = "keras"


def mlp(sizes: list[int], slope: float, norm: str = "none", dropout: float = 0.0) -> list[nn.Module]:
    layers, sn = [], maybe_sn(norm)
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [sn(nn.Linear(a, b)), *dense_norm(norm, b), nn.LeakyReLU(slope)]
        if dropout:
            layers.append(nn.Dropout(dropout))
    return layers


class MLPGAN(GANRecipe):
    name = "mlp-gan"
    Options = Options

    def build(self):
        o, dim = self.opts, math.prod(self.shape)
        self.G = Generator(
            nn.Sequential(
                *mlp([o.latent_dim, *o.g_hidden], o.slope, o.g_norm),
                nn.Linear(o.g_hidden[-1], dim),
                nn.Tanh(),
                nn.Unflatten(1, self.shape),
            )
        )
        body = nn.Sequential(nn.Flatten(), *mlp([dim, *o.d_hidden], o.slope, o.d_norm, o.dropout))
        if o.dropout:  # the last dropout belongs to the head: features (feature matching) are taken before it
            body = body[:-1]
        self.D = Critic(body, o.d_hidden[-1], o, dropout=o.dropout if o.d_head_dropout else 0.0)
        for net in (self.G, self.D):
            init_weights(net, o.init)
