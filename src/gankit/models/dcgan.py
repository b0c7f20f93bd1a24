"""DCGAN (seeds 000/001: CIFAR-10, Keras) and the shared conv G/D builders that LSGAN reuses.

Tutorial nets (CIFAR-10, 32x32x3):
  G: dense 100 -> 256*4*4, LeakyReLU; 3 x [ConvT 4x4 s2 128, LeakyReLU]; conv 3x3 -> 3, tanh  (1,466,115 params)
  D: conv 3x3 64 s1; 3 x conv 3x3 s2 (128, 128, 256), LeakyReLU 0.2; dropout 0.4; dense 1   (522,497 params)
The seed updates D twice per iteration (a real half-batch, then a fake half-batch: two optimizer steps)
and G once on a full batch; ``d_split_steps`` keeps that behaviour.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn
from torch.nn.utils import parametrizations

from .. import losses
from ..data.images import to_float
from ..nn import init_weights
from .base import Recipe, check_pow2_size, frozen

Norm = Literal["none", "batch", "spectral"]


@dataclass
class Options:
    latent_dim: int = 100
    g_base: int = 256  # channels of the dense layer's feature map
    g_channels: list[int] = field(default_factory=lambda: [128, 128, 128])  # one 2x upsampling stage each
    g_norm: Literal["none", "batch"] = "none"
    g_act: Literal["lrelu", "relu"] = "lrelu"
    g_out_kernel: int = 3
    d_stem: int = 64  # channels of a stride-1 first conv; 0 for none
    d_channels: list[int] = field(default_factory=lambda: [128, 128, 256])  # one stride-2 conv each
    d_kernel: int = 3
    d_norm: Norm = "none"
    d_dropout: float = 0.4
    slope: float = 0.2
    bn_momentum: float = 0.01  # PyTorch convention (Keras' 0.99 == 0.01 here)
    bn_eps: float = 1e-3  # Keras' default
    loss: Literal["bce", "minimax", "ls", "hinge"] = "bce"
    real_label: float = 1.0
    d_split_steps: bool = True  # seed: one D step on real, another on fake (half-batches)
    g_batch_mult: int = 2  # G's batch is this many times D's half-batch (seed: 2 -> n_batch)
    init: Literal["keras", "normal02", "torch"] = "keras"


def act(kind: str, slope: float) -> nn.Module:
    return nn.ReLU() if kind == "relu" else nn.LeakyReLU(slope)


class ConvGenerator(nn.Module):
    def __init__(self, o, shape):
        super().__init__()
        c, h, w = shape
        s = check_pow2_size("generator", h, len(o.g_channels))
        bn = lambda ch, d=2: (nn.BatchNorm2d(ch, momentum=o.bn_momentum, eps=o.bn_eps) if d == 2 else
                              nn.BatchNorm1d(ch, momentum=o.bn_momentum, eps=o.bn_eps))
        layers = [nn.Linear(o.latent_dim, o.g_base * s * s)]
        if o.g_norm == "batch":
            layers.append(bn(o.g_base * s * s, 1))
        layers += [act(o.g_act, o.slope), nn.Unflatten(1, (o.g_base, s, s))]
        ch = o.g_base
        for nxt in o.g_channels:
            layers.append(nn.ConvTranspose2d(ch, nxt, 4, 2, 1))
            if o.g_norm == "batch":
                layers.append(bn(nxt))
            layers.append(act(o.g_act, o.slope))
            ch = nxt
        layers += [nn.Conv2d(ch, c, o.g_out_kernel, 1, o.g_out_kernel // 2), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z)


class ConvDiscriminator(nn.Module):
    def __init__(self, o, shape):
        super().__init__()
        c, h, w = shape
        sn = parametrizations.spectral_norm if o.d_norm == "spectral" else (lambda m: m)
        k, layers, ch = o.d_kernel, [], c
        pad = (k - 1) // 2
        if o.d_stem:
            layers += [sn(nn.Conv2d(c, o.d_stem, k, 1, "same")), nn.LeakyReLU(o.slope)]
            ch = o.d_stem
        for nxt in o.d_channels:
            layers.append(sn(nn.Conv2d(ch, nxt, k, 2, pad)))
            if o.d_norm == "batch":
                layers.append(nn.BatchNorm2d(nxt, momentum=o.bn_momentum, eps=o.bn_eps))
            layers.append(nn.LeakyReLU(o.slope))
            ch = nxt
        self.features = nn.Sequential(*layers)
        with torch.no_grad():
            n_feat = self.features(torch.zeros(1, c, h, w)).numel()
        head = [nn.Flatten()] + ([nn.Dropout(o.d_dropout)] if o.d_dropout else []) + [sn(nn.Linear(n_feat, 1))]
        self.head = nn.Sequential(*head)

    def forward(self, x):
        return self.head(self.features(x))


class DCGAN(Recipe):
    name = "dcgan"
    Options = Options

    @classmethod
    def validate(cls, cfg):
        if cfg.data.size is not None:
            check_pow2_size(f"{cls.name} generator", cfg.data.size, len(cfg.model.g_channels))

    def build(self):
        self.G = init_weights(ConvGenerator(self.opts, self.shape), self.opts.init)
        self.D = init_weights(ConvDiscriminator(self.opts, self.shape), self.opts.init)

    def _d_update(self, loss):
        self.optim["D"].zero_grad(set_to_none=True)
        loss.backward()
        self.optim["D"].step()

    def train_step(self, batch):
        o, real = self.opts, batch["image"]
        half = real.shape[0]
        with torch.no_grad():
            fake = self.G(self.latent(half))
        if o.d_split_steps:  # the seed: two separate D updates, real then fake
            lr = self.w.D(real)
            d1 = losses.d_real(o.loss, lr, o.real_label)
            self._d_update(d1)
            lf = self.w.D(fake)
            d2 = losses.d_fake(o.loss, lf)
            self._d_update(d2)
        else:
            lr, lf = self.w.D(real), self.w.D(fake)
            d1, d2 = losses.d_real(o.loss, lr, o.real_label), losses.d_fake(o.loss, lf)
            self._d_update(d1 + d2)

        with frozen(self.D):
            g_out = self.D(self.w.G(self.latent(half * o.g_batch_mult)))
            g_loss = losses.g_loss(o.loss, g_out)
        self.optim["G"].zero_grad(set_to_none=True)
        g_loss.backward()
        self.optim["G"].step()

        acc_r, acc_f = losses.d_accuracy(lr.detach(), lf.detach(), o.loss)
        self.report("loss/D_real", d1.detach())
        self.report("loss/D_fake", d2.detach())
        self.report("loss/G", g_loss.detach())
        self.report("D/acc_real", acc_r)
        self.report("D/acc_fake", acc_f)
        self.report("D/logit_gap", lr.detach().float().mean() - lf.detach().float().mean())

    @torch.no_grad()
    def epoch_report(self, data, step):
        """Seed 000's summarize_performance: D accuracy on 150 real and 150 fake images (eval mode)."""
        n = min(150, len(data))
        idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(step))[:n]
        real = to_float(data.images[idx]).to(self.device)
        self.D.eval()
        try:
            fake = self.sample(self.G, self.latent(n, torch.Generator(self.device).manual_seed(step)))
            acc_r, acc_f = losses.d_accuracy(self.D(real), self.D(fake), self.opts.loss)
        finally:
            self.D.train()
        return {"eval/D_acc_real": acc_r.item(), "eval/D_acc_fake": acc_f.item()}
