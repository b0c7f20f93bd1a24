"""LSGAN (seed 002: MNIST, Keras): least-squares loss, D with a linear output. Every toolbox option applies.

Tutorial nets (28x28x1): G dense 100 -> 256*7*7 + BN + ReLU; ConvT 4x4 s2 128 and 64, each + BN + ReLU;
conv 7x7 -> 1, tanh. D conv 4x4 s2 64 and 128, each + BN + LeakyReLU 0.2; dense 1 (linear). Weights
N(0, 0.02), BN gamma 1 (``init: keras-normal02``). D is updated on a real half-batch (d1) and a fake half-batch
(d2), G on the full batch (g): the three curves of the seed's plot_history.

``d_bn_train_in_g``: seed 002 freezes every layer of D inside the combined model *except* batch norm, so under
Keras 2 the combined model's optimizer (G's Adam, with its own moment estimates) also steps D's BN gamma/beta on
G's loss. Here D's BN affine parameters join G's optimizer as a second parameter group and stay unfrozen while
G's loss is computed, so ``update("G", ...)`` moves them exactly as Keras 2 did.
"""

from __future__ import annotations

from torch import nn

from ..config import defaults
from . import dcgan
from .base import frozen


@defaults(
    g_channels=[128, 64],
    g_out_kernel=7,
    d_stem=0,
    d_channels=[64, 128],
    d_kernel=4,
    d_norm="spectral",
    loss="ls",
    d_split_steps=True,
    g_batch_mult=2,
    reuse_fakes=False,
)
class Options(dcgan.Options):
    """dcgan's conv options as seed 002 sets them (28 px, a 7x7 output conv, D on a real then a fake half-batch, G on
    twice D's batch, least squares), with spectral norm in D: the lsgan ``default`` preset."""

    d_bn_train_in_g: bool = False  # G's step also trains D's BN gamma/beta (seed 002 under Keras 2)


def bn_affine(net: nn.Module) -> list[nn.Parameter]:
    """The gamma/beta parameters of every batch-norm layer in ``net``."""
    return [
        p
        for m in net.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine
        for p in (m.weight, m.bias)
    ]


class LSGAN(dcgan.DCGAN):
    name = "lsgan"
    Options = Options

    def make_optimizers(self):
        opts = super().make_optimizers()
        if self.opts.d_bn_train_in_g:  # the combined model's trainable weights: G's + D's BN gamma/beta
            opts["G"].add_param_group({"params": bn_affine(self.D)})
        return opts

    def frozen_critic(self):
        if not self.opts.d_bn_train_in_g:
            return super().frozen_critic()
        return frozen(self.D, keep=bn_affine(self.D))
