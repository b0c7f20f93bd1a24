"""pix2pix (Isola et al. 2017; book ch. 8): paired image-to-image translation with a conditional GAN.

G: U-Net (``nn/unet.py``), dropout 0.5 in the decoder blocks next to the bottleneck. D: a conditional PatchGAN
(``nn/patchgan.py``) that sees the input and the output image concatenated on channels, so it judges whether the
output fits *this* input (the book's D sees the output only). Loss: cGAN (BCE on logits by default) + 100 * L1 to the
target; D's loss is halved (as in the reference code), Adam 2e-4, beta1 0.5.

Presets: ``paper`` (256 px facades, U-Net-256, 70x70 PatchGAN, batch 1, jitter 286 -> 256 + flip, linear decay over
the second half), ``book`` (ch. 8 as written: 1-channel facades, the book's U-Net of upsample + conv with its decoder
widths, an unconditional whole-image D with minibatch discrimination and a 2-way softmax, D on real and fake batches
in turn with fakes from G in inference mode, one Adam 1e-4 / beta1 0.9; ``nn/pix2pix_book.py``) and ``default``
(Twemoji -> OpenMoji at 64 px, a narrower 6-level U-Net and a 34x34 PatchGAN).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from .. import losses
from ..errors import ConfigError
from ..nn import init_weights
from ..nn.patchgan import PatchDiscriminator
from ..nn.pix2pix_book import BookDiscriminator, BookUNet
from ..nn.unet import UNetGenerator
from .base import frozen, predict
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
    g_arch: Literal["paper", "book"] = "paper"  # book: upsample + conv decoder, ReLU after each concat (ch. 8)
    g_up_channels: list[int] = field(default_factory=list)  # book: decoder widths, innermost first (g_downs - 1)
    d_arch: Literal["patch", "book"] = "patch"  # book: unconditional whole-image D, minibatch disc., 2-way softmax
    d_alternate: bool = False  # book: D trains on the real batch at even steps and on G's fakes at odd ones
    fakes_eval: bool = False  # book: D's fakes from G in inference mode (Keras predict: BN running stats, no dropout)


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
        if o.g_arch == "book" and len(o.g_up_channels) != o.g_downs - 1:
            raise ConfigError(
                f"model.g_arch=book needs model.g_up_channels with {o.g_downs - 1} widths (model.g_downs - 1), "
                f"got {o.g_up_channels}"
            )

    @property
    def conditional_d(self) -> bool:
        """The book's D judges the output alone; the paper's sees (input, output)."""
        return self.opts.d_arch != "book"

    def build(self):
        o, c = self.opts, self.shape[0]
        self._check_shape(2**o.g_downs, f"the U-Net halves it model.g_downs={o.g_downs} times")
        if o.g_arch == "book":
            G = BookUNet(c, c, o.g_downs, o.g_ngf, o.g_up_channels, o.g_dropout, o.g_dropout_blocks)
        else:
            G = UNetGenerator(c, c, o.g_downs, o.g_ngf, o.g_norm, o.g_dropout, o.g_dropout_blocks)
        self.G = init_weights(G, o.init)
        if o.d_arch == "book":
            self.D = init_weights(BookDiscriminator(c, self.shape[1], o.d_ndf), o.init)
        else:
            self.D = init_weights(PatchDiscriminator(2 * c, o.d_ndf, o.d_layers, o.d_norm, o.d_s1_layer), o.init)

    def discriminate(self, D: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Patch logits for output ``y`` given input ``x`` (the book's D: one logit for ``y`` alone)."""
        return D(torch.cat([x, y], 1)) if self.conditional_d else D(y)

    def lr_lambda(self, total_steps):
        return lambda step: lr_factor(step, total_steps, self.opts.lr_decay_start)

    def train_step(self, batch):
        o = self.opts
        x, y = batch["A"], batch["B"]
        real_turn = o.d_alternate and self.step % 2 == 0  # the book's D sees no fakes on this step
        # Keras' predict: before G's training forward moves its BN statistics
        eval_fakes = predict(self.G, x) if o.fakes_eval and not real_turn else None
        fake = self.w.G(x)
        d_fake_in = fake.detach() if eval_fakes is None else eval_fakes

        if o.d_alternate:  # the book's batch_counter starts at 1 each epoch: odd (real) first, then even (fake)
            self._alternate_d_step(x, y, d_fake_in)
        else:
            lr_ = self.discriminate(self.w.D, x, y)
            lf = self.discriminate(self.w.D, x, d_fake_in)
            d_r, d_f = losses.d_real(o.loss, lr_), losses.d_fake(o.loss, lf)
            self.update("D", (d_r + d_f) * o.d_loss_scale)
            acc_r, acc_f = losses.d_accuracy(lr_.detach(), lf.detach(), o.loss)
            self.report("loss/D_real", d_r.detach())
            self.report("loss/D_fake", d_f.detach())
            self.report("D/acc_real", acc_r)
            self.report("D/acc_fake", acc_f)

        with frozen(self.D):
            g_adv = losses.g_loss(o.loss, self.discriminate(self.D, x, fake))
        l1 = F.l1_loss(fake.float(), y.float())
        self.update("G", g_adv + o.lambda_l1 * l1)
        self.report("loss/G_adv", g_adv.detach())
        self.report("loss/G_L1", l1.detach())

    def _alternate_d_step(self, x, y, fake):
        """One D step on the real batch (even steps) or on the fakes (odd steps), each with its own batch norm
        statistics, as the book's ``generate_and_extract_patches`` by batch parity."""
        o = self.opts
        real_turn = self.step % 2 == 0
        logits = self.discriminate(self.w.D, x, y if real_turn else fake)
        loss = losses.d_real(o.loss, logits) if real_turn else losses.d_fake(o.loss, logits)
        self.update("D", loss * o.d_loss_scale)
        side = "real" if real_turn else "fake"
        acc = losses.d_accuracy(logits.detach(), logits.detach(), o.loss)[0 if real_turn else 1]
        self.report(f"loss/D_{side}", loss.detach())
        self.report(f"D/acc_{side}", acc)
