"""CycleGAN (Zhu et al. 2017; book ch. 7): unpaired translation between domains A and B.

Nets (paper notation): ``G`` maps A -> B, ``F`` maps B -> A (ResNet generators, ``nn/resnet_gen.py``); ``D_B`` tells
real B from G(A), ``D_A`` real A from F(B) (PatchGANs, ``nn/patchgan.py``). Generators' loss: least-squares
adversarial + 10 * cycle L1 (F(G(a)) ~ a, G(F(b)) ~ b) + 5 * identity L1 (G(b) ~ b, F(a) ~ a); G and F share one
Adam. Each D learns from a pool of the last 50 fakes (``nn/image_pool.py``, held in the ``pool`` net so checkpoints
carry it) with loss (real + fake) / 2. The learning rate falls linearly to 0 over the second half of the run.
Instance norm normalises each image's channels (the book's keras-contrib call normalised rows instead).

Presets: ``paper`` (256 px, 9 blocks, batch 1, jitter 286 -> 256 + flip), ``book`` (ch. 7: 128 px, ngf 32, 6 blocks,
zero padding, 94x94-patch D, identity weight 1, on trainA/trainB with independent sampling — without the book's bugs),
and ``default`` (Twemoji <-> OpenMoji at 64 px, unpaired, a small 6-block net). ``g_out="residual"`` (output = input
+ a residual whose last conv starts at zero) makes G and F start as the identity and ``g_up="resize"`` upsamples by
resize + conv; with ``train.ema`` they are sampled from EMA copies. Not the default: at 3 CPU-minutes such G and F
had not left the identity (cycle and identity losses hold them there; ``docs/translation.md``).
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
from ..nn.image_pool import PoolPair
from ..nn.patchgan import PatchDiscriminator
from ..nn.resnet_gen import ResnetGenerator
from ..viz.grid import pad_rows
from .base import frozen, make_optimizer
from .translation import Norm, TranslationRecipe, lr_factor


@dataclass
class Options:
    g_ngf: int = 16  # CPU-sized (the paper: 64)
    g_blocks: int = 6  # residual blocks: 9 at 256 px (the paper), 6 up to 128 px
    g_norm: Norm = "instance"
    g_padding: Literal["reflect", "zero"] = "reflect"
    g_dropout: float = 0.0
    d_ndf: int = 32  # the paper: 64
    d_layers: int = 2  # a 34x34 PatchGAN (the paper: 3)
    d_s1_layer: bool = True  # with d_layers=3: the 70x70 PatchGAN
    d_norm: Norm = "instance"
    loss: Literal["ls", "bce", "hinge"] = "ls"
    lambda_cycle: float = 10.0
    lambda_identity: float = 5.0  # the paper's 0.5 * lambda_cycle; the book uses 1.0; 0 turns it off
    pool_size: int = 50
    lr_decay_start: float = 0.5  # fraction of the run after which the LR falls linearly to 0
    init: Literal["normal02", "keras", "torch"] = "normal02"
    g_up_bias: bool = True  # false: G's transposed convs have no bias (the book's use_bias=False)
    d_split_steps: bool = False  # book: two steps per D (real batch, then fakes) instead of one on (real + fake) / 2
    # G's output: tanh (the paper), or residual (input + a zero-initialised residual: G starts as the identity)
    g_out: Literal["tanh", "residual"] = "tanh"
    g_up: Literal["transpose", "resize"] = "transpose"  # resize: nearest 2x + conv3


def translate_both(G: nn.Module, F_: nn.Module, a: torch.Tensor, b: torch.Tensor, identity: bool = True) -> dict:
    """Every image of one CycleGAN step: fakes, cycle reconstructions and (``identity``) identity mappings.

    G runs on [a; b] and F on [b; a] in one call each (instance norm is per image, so batching changes nothing)."""
    n = a.shape[0]
    g_in, f_in = (torch.cat([a, b]), torch.cat([b, a])) if identity else (a, b)
    g_out, f_out = G(g_in), F_(f_in)
    out = {"fake_B": g_out[:n], "fake_A": f_out[:n]}
    if identity:
        out["idt_B"], out["idt_A"] = g_out[n:], f_out[n:]
    out["rec_A"], out["rec_B"] = F_(out["fake_B"]), G(out["fake_A"])
    return out


def cycle_loss(out: dict, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """||F(G(a)) - a||_1 + ||G(F(b)) - b||_1 (means over pixels)."""
    return F.l1_loss(out["rec_A"].float(), a.float()) + F.l1_loss(out["rec_B"].float(), b.float())


def identity_loss(out: dict, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """||G(b) - b||_1 + ||F(a) - a||_1: keeps colours when the input already looks like the target domain."""
    return F.l1_loss(out["idt_B"].float(), b.float()) + F.l1_loss(out["idt_A"].float(), a.float())


class CycleGAN(TranslationRecipe):
    name = "cyclegan"
    Options = Options
    nets = ("G", "F", "D_A", "D_B", "pool")
    ema_nets = ("G", "F")  # with train.ema > 0
    paired_data = False

    @classmethod
    def validate(cls, cfg):
        o = cfg.model
        if o.g_blocks < 0 or o.d_layers < 1 or o.pool_size < 0:
            raise ConfigError("model.g_blocks >= 0, model.d_layers >= 1 and model.pool_size >= 0 are required")
        if not 0 < o.lr_decay_start <= 1:
            raise ConfigError(f"model.lr_decay_start must be in (0, 1], got {o.lr_decay_start}")
        if o.lambda_cycle < 0 or o.lambda_identity < 0:
            raise ConfigError("model.lambda_cycle and model.lambda_identity must be >= 0")
        cls.check_size(cfg, 4, "the generator halves it twice")

    def build(self):
        o, c = self.opts, self.shape[0]
        self._check_shape(4, "the generator halves it twice")

        kw = dict(up_bias=None if o.g_up_bias else False, up=o.g_up, out=o.g_out)

        def gen():
            G = init_weights(
                ResnetGenerator(c, c, o.g_ngf, o.g_blocks, o.g_norm, o.g_padding, o.g_dropout, **kw), o.init
            )
            return G.init_identity() if o.g_out == "residual" else G

        dis = lambda: init_weights(PatchDiscriminator(c, o.d_ndf, o.d_layers, o.d_norm, o.d_s1_layer), o.init)
        self.G, self.F = gen(), gen()
        self.D_A, self.D_B = dis(), dis()
        self.pool = PoolPair(o.pool_size, self.shape)

    def make_optimizers(self):
        t = self.cfg.train
        lr_d = t.lr_d if t.lr_d is not None else t.lr
        return {
            "G": make_optimizer([*self.G.parameters(), *self.F.parameters()], t, t.lr),
            "D_A": make_optimizer(self.D_A.parameters(), t, lr_d),
            "D_B": make_optimizer(self.D_B.parameters(), t, lr_d),
        }

    def translators(self, nets):
        return [(nets["G"], "A", "B"), (nets["F"], "B", "A")]

    def visualize(self, nets, fixed):
        paired = bool(fixed.get("paired", torch.tensor([True]))[0])
        if paired:
            return super().visualize(nets, fixed)
        # an unpaired held-out split has no targets: show input | translation | cycle reconstruction
        cols, rows = self.cfg.train.grid, []
        for G, Fb, src in ((nets["G"], nets["F"], "A"), (nets["F"], nets["G"], "B")):
            x = fixed[src]
            out = self.translate(G, x)
            rec = self.translate(Fb, out)
            for i in range(0, x.shape[0], cols):
                rows += [x[i : i + cols], out[i : i + cols], rec[i : i + cols]]
        return pad_rows(rows, cols), cols

    def lr_lambda(self, total_steps):
        return lambda step: lr_factor(step, total_steps, self.opts.lr_decay_start)

    def train_step(self, batch):
        o = self.opts
        a, b = batch["A"], batch["B"]

        with frozen(self.D_A, self.D_B):
            out = translate_both(self.w.G, self.w.F, a, b, identity=o.lambda_identity > 0)
            adv_G = losses.g_loss(o.loss, self.D_B(out["fake_B"]))
            adv_F = losses.g_loss(o.loss, self.D_A(out["fake_A"]))
            cyc = cycle_loss(out, a, b)
            idt = identity_loss(out, a, b) if o.lambda_identity > 0 else torch.zeros((), device=a.device)
            total = adv_G + adv_F + o.lambda_cycle * cyc + o.lambda_identity * idt
        self.update("G", total)

        d_logs = {}
        for name, D, real, fake, pool in (
            ("A", "D_A", a, out["fake_A"], self.pool.A),
            ("B", "D_B", b, out["fake_B"], self.pool.B),
        ):
            past = pool.query(fake.detach(), self.gen)
            if o.d_split_steps:  # the book's D.train_on_batch(real, 1), then (fake, 0)
                d_r = losses.d_real(o.loss, getattr(self.w, D)(real))
                self.update(D, d_r)
                d_f = losses.d_fake(o.loss, getattr(self.w, D)(past))
                self.update(D, d_f)
            else:
                lr_, lf = getattr(self.w, D)(real), getattr(self.w, D)(past)
                d_r, d_f = losses.d_real(o.loss, lr_), losses.d_fake(o.loss, lf)
                self.update(D, 0.5 * (d_r + d_f))
            d_logs[name] = (d_r.detach(), d_f.detach())

        self.report("loss/G_adv", adv_G.detach())
        self.report("loss/F_adv", adv_F.detach())
        self.report("loss/cycle", cyc.detach())
        self.report("loss/identity", idt.detach())
        for name, (d_r, d_f) in d_logs.items():
            self.report(f"loss/D_{name}_real", d_r)
            self.report(f"loss/D_{name}_fake", d_f)
