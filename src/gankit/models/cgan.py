"""Class-conditional GAN (Mirza & Osindero 2014; projection D of Miyato & Koyama 2018; conditional batch norm
of de Vries et al. 2017 with z at every scale as in BigGAN, Brock et al. 2019).

G (``g_cond``):
- ``cbn`` (default): z and a learned class embedding (``embed_dim``) go into the dense layer, and every
  up-sampling stage's batch norm takes its gain and bias from [z, embed(y)] (``z_skip``; from embed(y) alone
  with ``z_skip: false``). A G that could make one image per class must now fight z at every scale.
- ``input``: the embedding concatenated to z, then the conv generator of nn/dcgan.py (the original cGAN).
D: the conv body of nn/dcgan.py with the class fed in one of two ways (``d_cond``):
``projection`` — logit = w.f(x) + <embed(y), f(x)>; ``concat`` — one-hot class maps stacked onto the image.
The default preset trains it with the hinge loss and spectral norm in D (SN-GAN / projection-D practice).
Fakes in D's step take the real batch's classes; G's step draws classes uniformly. The periodic grid has one
row per class; ``gankit sample CKPT --class 3`` draws one class. Every toolbox option applies.
"""

from __future__ import annotations

from typing import Literal

import torch

from ..config import added, defaults
from ..errors import ConfigError
from ..nn import init_weights
from ..nn.critic import Critic
from ..nn.dcgan import CBNGenerator, Generator, conv_body, conv_generator
from . import dcgan


@defaults(
    g_channels=[128, 64],
    d_stem=0,
    d_channels=[64, 128],
    d_kernel=4,
    d_norm="spectral",
    loss="hinge",
    reuse_fakes=False,
    mode_seeking=0.3,
)
class Options(dcgan.Options):
    """dcgan's conv options at 28 px (two up-sampling stages, a 4x4-kernel D without a stem), spectral norm and the
    hinge loss in D, mode seeking 0.3 (MSGAN), plus the class inputs below: the cgan ``default`` preset."""

    embed_dim: int = 50
    g_cond: Literal["cbn", "input"] = added("cbn", before="input")
    z_skip: bool = True  # cbn: each stage's norm is conditioned on z as well as on the class
    d_cond: Literal["projection", "concat"] = "projection"


class CGAN(dcgan.DCGAN):
    name = "cgan"
    Options = Options
    conditional = True

    @classmethod
    def validate(cls, cfg):
        super().validate(cfg)
        o = cfg.model
        if o.g_cond == "cbn" and (o.arch != "conv" or o.g_norm != "batch"):
            raise ConfigError(
                "model.g_cond=cbn needs model.arch=conv and model.g_norm=batch (use g_cond=input otherwise)"
            )

    def build(self):
        o, k = self.opts, self.num_classes
        if k < 2:
            raise ConfigError(
                f"cgan needs labelled data with at least 2 classes (data.name={self.cfg.data.name} "
                f"has {k}); use fashion-mnist, mnist, cifar10 or folder:PATH with class subfolders"
            )
        if o.g_cond == "cbn":
            self.G = init_weights(CBNGenerator(o, self.shape, k), o.init)
        else:
            net = conv_generator(o, self.shape, o.latent_dim + o.embed_dim)
            self.G = init_weights(Generator(net, k, o.embed_dim), o.init)
        in_ch = self.shape[0] + (k if o.d_cond == "concat" else 0)
        body, n_feat = conv_body(o, self.shape, in_ch)
        self.D = init_weights(Critic(body, n_feat, o, dropout=o.d_dropout, num_classes=k, cond=o.d_cond), o.init)

    def fixed_inputs(self, data, n, generator):
        """One row per class, ``grid`` columns (the same latents in every row)."""
        cols = max(1, round(n**0.5))
        z = self.latent(cols, generator).repeat(self.num_classes, 1)
        label = torch.arange(self.num_classes, device=self.device).repeat_interleave(cols)
        return {"z": z, "label": label}

    def visualize(self, nets, fixed):
        cols = int((fixed["label"] == 0).sum())
        return self.sample(nets["G"], fixed["z"], fixed["label"]), cols
