"""DCGAN (seeds 000/001: CIFAR-10, Keras; book ch.4: 64 px anime faces); its conv G/D builders, which LSGAN
and cGAN reuse, are in nn/dcgan.py. Every toolbox option (models/toolbox.py) applies.

``arch: conv`` — the seeds' tutorial nets (CIFAR-10, 32x32x3):
  G: dense 100 -> 256*4*4, LeakyReLU; 3 x [ConvT 4x4 s2 128, LeakyReLU]; conv 3x3 -> 3, tanh  (1,466,115 params)
  D: conv 3x3 64 s1; 3 x conv 3x3 s2 (128, 128, 256), LeakyReLU 0.2; dropout 0.4; dense 1   (522,497 params)
  The seed updates D twice per iteration (a real half-batch, then a fake half-batch: two optimizer steps)
  and G once on a full batch; ``d_split_steps`` keeps that behaviour.
``arch: book`` — book ch.4 (64x64x3): G dense 2048 -> 16384 + BN -> 3 x [nearest upsample, conv 5x5]
  (128, 64, 3), ReLU, tanh (34,839,427 params; ``g_conv_bn`` adds BN after the convs: preset ``book-bn``);
  D conv 5x5 128 'same' + max-pool, conv 3x3 256 'valid' + max-pool,
  conv 3x3 512 'valid' + max-pool, dense 1024, dense 1, LeakyReLU 0.2 (20,361,473 params).
``arch: paper`` — Radford et al.'s all-convolutional nets: G z -> 4x4 x g_base + BN + ReLU, ConvT 4x4 s2 stages
  with BN + ReLU, a last ConvT to the image + tanh; D strided 4x4 convs with LeakyReLU 0.2 and BN after every
  conv but the first, a linear unit on the last 4x4 map (= the paper's final 4x4 conv).
"""

from __future__ import annotations

from dataclasses import field
from typing import Literal

import torch

from ..config import defaults
from ..data.images import to_float
from ..errors import ConfigError
from ..metrics.task import d_accuracy
from ..nn import check_pow2_size, init_weights
from ..nn.critic import Critic
from ..nn.dcgan import Generator, conv_body, conv_generator, g_stages
from .toolbox import GANRecipe, Toolbox

Norm = Literal["none", "batch", "instance", "spectral"]
Init = Literal["keras", "normal02", "keras-normal02", "torch"]  # nn.init_weights' schemes


@defaults(reuse_fakes=True)
class Options(Toolbox):
    """The conv nets' options (cgan and lsgan inherit them), defaulting to dcgan's ``default`` preset: the seeds'
    ``arch: conv`` nets with batch norm in G and D, ReLU in G, no dropout, one D step on real and fake together and
    one G forward per step (``reuse_fakes``), N(0, 0.02) init. The seeds' values: the ``tutorial`` preset."""

    arch: Literal["conv", "book", "paper"] = "conv"
    latent_dim: int = 100
    g_base: int = 256  # channels of the dense layer's feature map
    g_channels: list[int] = field(default_factory=lambda: [128, 128, 128])  # one 2x upsampling stage each
    g_norm: Literal["none", "batch", "instance"] = "batch"  # the seed: none
    g_act: Literal["lrelu", "relu", "tanh"] = "relu"  # the seed: lrelu
    g_out_kernel: int = 3
    d_stem: int = 64  # channels of a stride-1 first conv; 0 for none
    d_channels: list[int] = field(default_factory=lambda: [128, 128, 256])  # one stride-2 conv each
    d_kernel: int = 3
    d_norm: Norm = "batch"  # the seed: none
    d_dropout: float = 0.0  # the seed: 0.4
    slope: float = 0.2
    bn_momentum: float = 0.01  # PyTorch convention (Keras' 0.99 == 0.01 here)
    bn_eps: float = 1e-3  # Keras' default
    init: Init = "normal02"  # the seed: keras
    g_conv_bn: Literal["none", "hidden", "all"] = "none"  # arch book: BN after G's convs (hidden ones / all three)


class DCGAN(GANRecipe):
    name = "dcgan"
    Options = Options

    @classmethod
    def validate(cls, cfg):
        super().validate(cfg)
        o = cfg.model
        if cfg.data.size is not None:
            check_pow2_size(f"{cls.name} generator", cfg.data.size, g_stages(o))
        if o.g_conv_bn != "none" and o.arch != "book":
            raise ConfigError(f"model.g_conv_bn={o.g_conv_bn} is for model.arch=book (other archs: model.g_norm)")
        if o.arch == "book" and (o.g_norm not in ("none", "batch") or cfg.data.size is None):
            raise ConfigError("model.arch=book: needs data.size (64 for the book's nets) and g_norm none or batch")

    def build(self):
        o = self.opts
        self.G = init_weights(Generator(conv_generator(o, self.shape, o.latent_dim)), o.init)
        body, n_feat = conv_body(o, self.shape, self.shape[0])
        self.D = init_weights(Critic(body, n_feat, o, dropout=o.d_dropout), o.init)

    @torch.no_grad()
    def epoch_report(self, data, step):
        """Seed 000's summarize_performance: D accuracy on 150 real and 150 fake images (eval mode)."""
        n = min(150, len(data))
        idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(step))[:n]
        real = to_float(data.images[idx]).to(self.device)
        lab = data.labels[idx].to(self.device) if self.conditional else None
        g = torch.Generator(self.device).manual_seed(step)
        fake = self.sample(self.G, self.latent(n, g), lab)
        acc = d_accuracy(self.D, real, fake, self.opts.loss, label=lab)
        return {"eval/" + k.replace("/", "_"): v for k, v in acc.items()}
