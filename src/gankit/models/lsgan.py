"""LSGAN (seed 002: MNIST, Keras): least-squares loss, D with a linear output. Every toolbox option applies.

Tutorial nets (28x28x1): G dense 100 -> 256*7*7 + BN + ReLU; ConvT 4x4 s2 128 and 64, each + BN + ReLU;
conv 7x7 -> 1, tanh. D conv 4x4 s2 64 and 128, each + BN + LeakyReLU 0.2; dense 1 (linear). Weights
N(0, 0.02). D is updated on a real half-batch (d1) and a fake half-batch (d2), G on the full batch (g):
the three curves of the seed's plot_history.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from . import dcgan
from .toolbox import LossKind


@dataclass
class Options(dcgan.Options):
    g_base: int = 256
    g_channels: list[int] = field(default_factory=lambda: [128, 64])
    g_norm: Literal["none", "batch", "instance"] = "batch"
    g_act: Literal["lrelu", "relu", "tanh"] = "relu"
    g_out_kernel: int = 7
    d_stem: int = 0
    d_channels: list[int] = field(default_factory=lambda: [64, 128])
    d_kernel: int = 4
    d_norm: dcgan.Norm = "batch"
    d_dropout: float = 0.0
    loss: LossKind = "ls"
    init: Literal["keras", "normal02", "torch"] = "normal02"


class LSGAN(dcgan.DCGAN):
    name = "lsgan"
    Options = Options
