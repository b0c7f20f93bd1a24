"""pix2pix (Isola et al. 2017; book ch. 8): paired image-to-image translation with a conditional GAN.

G: U-Net (``nn/unet.py``), dropout 0.5 in the decoder blocks next to the bottleneck. D: a conditional PatchGAN
(``nn/patchgan.py``) that sees the input and the output image concatenated on channels, so it judges whether the
output fits *this* input (the book's D sees the output only). Loss: cGAN (BCE on logits by default) + 100 * L1 to the
target; D's loss is halved (as in the reference code), Adam 2e-4, beta1 0.5.

Presets: ``paper`` (256 px facades, U-Net-256, 70x70 PatchGAN, batch 1, jitter 286 -> 256 + flip, linear decay over
the second half) and ``default`` (Twemoji -> OpenMoji at 64 px, a narrower 6-level U-Net and a 34x34 PatchGAN).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from .. import losses
from ..errors import ConfigError
from ..nn import init_weights
from ..nn.patchgan import PatchDiscriminator
from ..nn.unet import UNetGenerator
from .base import frozen
from .translation import Norm, TranslationRecipe, lr_factor  # noqa: F401  (lr_factor: part of pix2pix's schedule)


@dataclass
class Options:
    g_ngf: int = 32  # channels of the first encoder conv (the paper: 64)
    g_downs: int = 6  # down-samplings: the image side is a multiple of 2^g_downs (6 -> 64; the paper: 8 -> 256)
    g_norm: Norm = "batch"
    g_dropout: float = 0.5
    g_dropout_blocks: int = 1  # decoder blocks next to the bottleneck that get dropout (the paper: 3)
    d_ndf: int = 32  # the paper: 64
    d_layers: int = 2  # stride-2 convs; 2 + the stride-1 layer = a 34x34 PatchGAN (3: the paper's 70x70)
    d_s1_layer: bool = True
    d_norm: Norm = "batch"
    loss: Literal["bce", "ls", "hinge"] = "bce"
    lambda_l1: float = 100.0
    d_loss_scale: float = 0.5  # D's loss is (real + fake) * this: D learns at half G's rate
    lr_decay_start: float = 1.0  # fraction of the run after which the LR falls linearly to 0 (1.0: constant)
    init: Literal["normal02", "keras", "torch"] = "normal02"


class Pix2Pix(TranslationRecipe):
    name = "pix2pix"
    Options = Options
    nets = ("G", "D")

    @classmethod
    def validate(cls, cfg):
        o = cfg.model
        if o.g_downs < 2:
            raise ConfigError(f"model.g_downs must be >= 2, got {o.g_downs}")
        if not 0 <= o.g_dropout_blocks <= o.g_downs - 2:
            raise ConfigError(
                f"model.g_dropout_blocks must be in 0..{o.g_downs - 2} (model.g_downs - 2), got {o.g_dropout_blocks}"
            )
        if not 0 <= o.g_dropout < 1:
            raise ConfigError(f"model.g_dropout must be in [0, 1), got {o.g_dropout}")
        if o.d_layers < 1:
            raise ConfigError(f"model.d_layers must be >= 1, got {o.d_layers}")
        if not 0 < o.lr_decay_start <= 1:
            raise ConfigError(f"model.lr_decay_start must be in (0, 1], got {o.lr_decay_start}")
        cls.check_size(cfg, 2**o.g_downs, f"the U-Net halves it model.g_downs={o.g_downs} times")

    def build(self):
        o, c = self.opts, self.shape[0]
        self._check_shape(2**o.g_downs, f"the U-Net halves it model.g_downs={o.g_downs} times")
        self.G = init_weights(
            UNetGenerator(c, c, o.g_downs, o.g_ngf, o.g_norm, o.g_dropout, o.g_dropout_blocks), o.init
        )
        self.D = init_weights(PatchDiscriminator(2 * c, o.d_ndf, o.d_layers, o.d_norm, o.d_s1_layer), o.init)

    def discriminate(self, D: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Patch logits for output ``y`` given input ``x``."""
        return D(torch.cat([x, y], 1))

    def lr_lambda(self, total_steps):
        return lambda step: lr_factor(step, total_steps, self.opts.lr_decay_start)

    def train_step(self, batch):
        o = self.opts
        x, y = batch["A"], batch["B"]
        fake = self.w.G(x)

        lr_ = self.discriminate(self.w.D, x, y)
        lf = self.discriminate(self.w.D, x, fake.detach())
        d_r, d_f = losses.d_real(o.loss, lr_), losses.d_fake(o.loss, lf)
        self.update("D", (d_r + d_f) * o.d_loss_scale)

        with frozen(self.D):
            g_adv = losses.g_loss(o.loss, self.discriminate(self.D, x, fake))
        l1 = F.l1_loss(fake.float(), y.float())
        self.update("G", g_adv + o.lambda_l1 * l1)

        acc_r, acc_f = losses.d_accuracy(lr_.detach(), lf.detach(), o.loss)
        self.report("loss/D_real", d_r.detach())
        self.report("loss/D_fake", d_f.detach())
        self.report("loss/G_adv", g_adv.detach())
        self.report("loss/G_L1", l1.detach())
        self.report("D/acc_real", acc_r)
        self.report("D/acc_fake", acc_f)
