"""R3GAN, small (Huang, Gokaslan, Kuleshov & Tompkin, "The GAN is dead; long live the GAN! A modern baseline
GAN", NeurIPS 2024 / 2025): the relativistic pairing loss with zero-centred gradient penalties on real (R1) and
fake (R2) samples, and a ResNet G and D with no normalisation (``nn/resnet_gan.py``).

D: softplus(-(D(x) - D(G(z)))) + gamma/2 (||grad D(x)||^2 + ||grad D(G(z))||^2); G: softplus(-(D(G(z)) - D(x))),
each real paired with one fake of the same class. As in the official code, the learning rate (``lr`` -> ``lr *
lr_end``) and gamma (``gamma`` -> ``gamma * gamma_end``) follow a cosine over a fixed horizon of ``decay_steps``
steps (not the run's length, so a run under a time budget decays too), then stay; Adam with beta1 = 0, and beta2
rising from ``beta2_start`` to ``train.beta2`` over the same horizon (the official code's 0.9 -> 0.99).
``conditional: true`` (labelled data): a class embedding concatenated to z in G, a projection D.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from .. import losses
from ..config import added
from ..errors import ConfigError
from ..nn import augment as _aug
from ..nn import check_pow2_size, diff_augment
from ..nn.resnet_gan import ResNetDiscriminator, ResNetGenerator
from .base import Recipe, frozen


@dataclass
class Options:
    latent_dim: int = 64
    conditional: bool = False
    embed_dim: int = 32
    widths: list[int] = field(default_factory=lambda: [64, 64, 32])  # G: one per resolution, D mirrors
    blocks: int = 1  # residual blocks per resolution
    expansion: int = 2  # inverted-bottleneck width factor
    group_width: int = 16  # channels per group of the 3x3 convs
    gamma: float = 2.0  # R1 and R2 weight (gamma / 2 each; the paper's CIFAR value: 0.05)
    gamma_end: float = 0.1  # gamma's final fraction
    lr_end: float = 0.25  # the learning rate's final fraction
    decay_steps: int = 20000  # cosine horizon of both
    reg_every: int = 4  # R1/R2 on every k-th D step with gamma * k (StyleGAN2's lazy regularisation); 1 = the paper
    diffaug: str = ""  # DiffAugment policy applied to everything D sees
    last_gain: float = 0.0  # init gain of each residual branch's last conv (x the Fix-up gain); 0 = Fix-up, the paper
    # Adam's beta2 rises from this to train.beta2 along the cosine horizon (official code: 0.9 -> 0.99); None: constant
    beta2_start: float | None = added(0.9, before=None)
    # steps: the trainer's (1+t)/(10+t) ramp; cosine: the half-life follows the cosine horizon up from 0 (official code)
    ema_ramp: str = "steps"
    # basis: the paper's s x s basis scaled per channel by z; dense: a linear map of z to the whole map
    g_input: str = added("dense", before="basis")
    # G's last activation: linear (the paper) or tanh (saturates flat backgrounds at +-1 cheaply)
    g_out: str = added("tanh", before="linear")
    mbstd: int = 0  # StyleGAN's minibatch-std map in D's head over groups of this many samples; 0 = off (the paper)
    # MSGAN (Mao et al. 2019): weight of 1 / (|G(z1,y) - G(z2,y)| / |z1 - z2|) in G's loss
    mode_seeking: float = added(0.2, before=0.0)


def cosine(step: int, horizon: int, end: float) -> float:
    t = min(1.0, step / max(1, horizon))
    return end + (1 - end) * 0.5 * (1 + math.cos(math.pi * t))


class R3GAN(Recipe):
    name = "r3gan"
    Options = Options

    @classmethod
    def validate(cls, cfg):
        o = cfg.model
        if not o.widths or o.blocks < 1 or o.expansion < 1 or o.group_width < 1:
            raise ConfigError("model.widths must be non-empty and model.blocks, expansion, group_width >= 1")
        if o.g_input not in ("basis", "dense"):
            raise ConfigError(f"model.g_input must be basis or dense, got {o.g_input!r}")
        if o.g_out not in ("linear", "tanh"):
            raise ConfigError(f"model.g_out must be linear or tanh, got {o.g_out!r}")
        if o.beta2_start is not None and not 0 <= o.beta2_start < 1:
            raise ConfigError(f"model.beta2_start must be in [0, 1) or null, got {o.beta2_start}")
        if o.last_gain < 0:
            raise ConfigError(f"model.last_gain must be >= 0, got {o.last_gain}")
        if o.ema_ramp not in ("steps", "cosine"):
            raise ConfigError(f"model.ema_ramp must be steps or cosine, got {o.ema_ramp!r}")
        if o.mbstd < 0 or o.mode_seeking < 0:
            raise ConfigError(f"model.mbstd and model.mode_seeking must be >= 0, got {o.mbstd}, {o.mode_seeking}")
        if o.mbstd and cfg.train.batch_size % o.mbstd:
            raise ConfigError(
                f"model.mbstd={o.mbstd} must divide train.batch_size={cfg.train.batch_size} (its groups "
                f"must not mix real with fake samples)"
            )
        if o.reg_every < 1:
            raise ConfigError(f"model.reg_every must be >= 1, got {o.reg_every}")
        if o.gamma < 0 or not 0 < o.gamma_end <= 1 or not 0 < o.lr_end <= 1:
            raise ConfigError("model.gamma must be >= 0, model.gamma_end and model.lr_end in (0, 1]")
        if cfg.data.size is not None:
            check_pow2_size("r3gan generator", cfg.data.size, len(o.widths) - 1)
        try:
            _aug.parse(o.diffaug)
        except ValueError as e:
            raise ConfigError(f"model.diffaug: {e}") from None

    def build(self):
        o = self.opts
        self.conditional = bool(o.conditional)
        k = self.num_classes if self.conditional else 0
        if self.conditional and k < 2:
            raise ConfigError(
                f"r3gan model.conditional=true needs labelled data (data.name={self.cfg.data.name} has "
                f"{self.num_classes} classes); set model.conditional=false"
            )
        c, h, _ = self.shape
        s = check_pow2_size("r3gan generator", h, len(o.widths) - 1)
        self.G = ResNetGenerator(
            o.latent_dim,
            c,
            s,
            o.widths,
            o.blocks,
            o.expansion,
            o.group_width,
            k,
            o.embed_dim if k else 0,
            dense_input=o.g_input == "dense",
            last_gain=o.last_gain,
            tanh=o.g_out == "tanh",
        )
        self.D = ResNetDiscriminator(
            c, s, o.widths, o.blocks, o.expansion, o.group_width, k, last_gain=o.last_gain, mbstd=o.mbstd
        )

    def generate(self, G, z, label=None):
        return G(z, label)

    def lr_lambda(self, total_steps):
        o = self.opts
        return lambda step: cosine(step, o.decay_steps, o.lr_end)

    def ema_decay(self, step, ema):
        if self.opts.ema_ramp == "steps" or not 0 < ema < 1:
            return super().ema_decay(step, ema)
        # the official code's EMA: its half-life (in steps here) rises from 0 to train.ema's along the cosine horizon
        half_life = math.log(0.5) / math.log(ema) * (1 - cosine(step, self.opts.decay_steps, 0.0))
        return 0.5 ** (1 / half_life) if half_life > 0 else 0.0

    def _D(self, net, x, label):
        return net(diff_augment(x, self.opts.diffaug, self.gen) if self.opts.diffaug else x, label)

    def train_step(self, batch):
        o, real = self.opts, batch["image"]
        lab = batch.get("label") if self.conditional else None
        n = real.shape[0]
        both_lab = None if lab is None else torch.cat([lab, lab])
        gamma = o.gamma * cosine(self.step, o.decay_steps, o.gamma_end)
        if o.beta2_start is not None:
            end = self.cfg.train.beta2
            beta2 = end - (end - o.beta2_start) * cosine(self.step, o.decay_steps, 0.0)
            for opt in self.optim.values():
                for g in opt.param_groups:
                    g["betas"] = (g["betas"][0], beta2)

        # D main + R1/R2: one forward over real and fake (nothing in D mixes samples), one gradient of both
        with torch.no_grad():
            fake = self.G(self.latent(n), lab)
        reg = gamma > 0 and self.step % o.reg_every == 0
        x = torch.cat([real.detach(), fake]).requires_grad_(reg)
        lr, lf = self._D(self.w.D, x, both_lab).split([n, n])
        d = adv = losses.rp_d(lr, lf)
        if reg:
            r1, r2 = (p.mean() for p in losses.zero_centered_gp(torch.cat([lr, lf]), x).split([n, n]))
            d = adv + o.reg_every * gamma / 2 * (r1 + r2)
            self.report("loss/D_r1", r1.detach())
            self.report("loss/D_r2", r2.detach())
        self.update("D", d)
        self.report("loss/D", adv.detach())
        acc, _ = losses.d_accuracy(lr.detach(), lf.detach(), "rp")  # the pairs D ranks right
        self.report("D/acc_real", acc)
        self.report("D/acc_fake", acc)
        self.report("D/logit_gap", lr.detach().float().mean() - lf.detach().float().mean())

        # G main: its fakes against the same reals; with mode seeking the batch's halves share their reals and classes
        ms = o.mode_seeking and n >= 2
        if ms:
            real, lab = (None if t is None else losses.mode_seeking_halves(t) for t in (real, lab))
            both_lab = None if lab is None else torch.cat([lab, lab])
        z = self.latent(n)
        g_fake = self.w.G(z, lab)
        with frozen(self.D):
            gr, gf = self._D(self.D, torch.cat([real, g_fake]), both_lab).split([n, n])
            g = losses.rp_g(gr, gf)
        self.report("loss/G_adv", g.detach())
        if ms:
            term, ratio = losses.mode_seeking(g_fake, z, o.mode_seeking)
            self.report("loss/G_ms_ratio", ratio.detach())
            g = g + term
        self.update("G", g)
        self.report("loss/G", g.detach())
