"""DCGAN (seeds 000/001: CIFAR-10, Keras; book ch.4: 64 px anime faces) and the conv G/D builders that LSGAN
and cGAN reuse. Every toolbox option (models/toolbox.py) applies.

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
from torch import nn

from ..metrics.task import d_accuracy
from ..data.images import to_float
from ..config import defaults
from ..errors import ConfigError
from ..nn import ConvTranspose2d, init_weights, maybe_sn, conv_norm
from .base import check_pow2_size
from .toolbox import Critic, GANRecipe, Toolbox

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


def act(kind: str, slope: float) -> nn.Module:
    """In place: every activation here follows a conv, linear or norm layer, none of which needs its output for
    the backward pass, so reusing the buffer saves a large allocation per layer."""
    if kind == "tanh":
        return nn.Tanh()
    return nn.ReLU(inplace=True) if kind == "relu" else nn.LeakyReLU(slope, inplace=True)


def g_stages(o) -> int:
    return {"conv": len(o.g_channels), "paper": len(o.g_channels) + 1, "book": 3}[o.arch]


class Generator(nn.Module):
    """``net(z)``; a conditional generator (cGAN) first concatenates a learned class embedding to z."""

    def __init__(self, net: nn.Module, num_classes: int = 0, embed_dim: int = 0):
        super().__init__()
        self.net = net
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes and embed_dim else None

    def forward(self, z, label=None):
        if self.embed is not None:
            z = torch.cat([z, self.embed(label)], 1)
        return self.net(z)


def conv_generator(o, shape, in_dim: int) -> nn.Sequential:
    c, h, w = shape
    s = check_pow2_size("generator", h, g_stages(o))
    bn1 = lambda n: nn.BatchNorm1d(n, momentum=o.bn_momentum, eps=o.bn_eps)
    n2 = lambda ch: conv_norm(o.g_norm, ch, o.bn_momentum, o.bn_eps)
    a = lambda: act(o.g_act, o.slope)
    if o.arch == "book":
        layers = [nn.Linear(in_dim, 2048), a(), nn.Linear(2048, 256 * s * s)]
        layers += [bn1(256 * s * s)] if o.g_norm == "batch" else []
        layers += [a(), nn.Unflatten(1, (256, s, s))]
        for i, (cin, cout) in enumerate([(256, 128), (128, 64), (64, c)]):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 5, 1, 2)]
            if o.g_conv_bn == "all" or (o.g_conv_bn == "hidden" and i < 2):  # book-bn: not in the book
                layers.append(nn.BatchNorm2d(cout, momentum=o.bn_momentum, eps=o.bn_eps))
            layers.append(a() if i < 2 else nn.Tanh())
        return nn.Sequential(*layers)
    if o.arch == "paper":
        layers = [nn.Linear(in_dim, o.g_base * s * s), nn.Unflatten(1, (o.g_base, s, s)), *n2(o.g_base), a()]
    else:
        layers = [nn.Linear(in_dim, o.g_base * s * s)]
        if o.g_norm == "batch":
            layers.append(bn1(o.g_base * s * s))
        layers += [a(), nn.Unflatten(1, (o.g_base, s, s))]
        if o.g_norm == "instance":
            layers += n2(o.g_base)
    ch = o.g_base
    for nxt in o.g_channels:
        layers += [ConvTranspose2d(ch, nxt, 4, 2, 1), *n2(nxt), a()]
        ch = nxt
    if o.arch == "paper":
        layers += [ConvTranspose2d(ch, c, 4, 2, 1), nn.Tanh()]
    else:
        layers += [nn.Conv2d(ch, c, o.g_out_kernel, 1, o.g_out_kernel // 2), nn.Tanh()]
    return nn.Sequential(*layers)


def conv_body(o, shape, in_ch: int) -> tuple[nn.Sequential, int]:
    """D's feature extractor (ending in Flatten) and its feature count."""
    c, h, w = shape
    sn = maybe_sn(o.d_norm)
    n2 = lambda ch: conv_norm(o.d_norm, ch, o.bn_momentum, o.bn_eps)
    lr = lambda: nn.LeakyReLU(o.slope, inplace=True)
    if o.arch == "book":
        layers = [sn(nn.Conv2d(in_ch, 128, 5, 1, 2)), lr(), nn.MaxPool2d(2),
                  sn(nn.Conv2d(128, 256, 3)), *n2(256), lr(), nn.MaxPool2d(2),
                  sn(nn.Conv2d(256, 512, 3)), *n2(512), lr(), nn.MaxPool2d(2), nn.Flatten()]
        n_feat = _count(nn.Sequential(*layers), in_ch, h, w)
        return nn.Sequential(*layers, sn(nn.Linear(n_feat, 1024)), lr()), 1024
    k, layers, ch = o.d_kernel, [], in_ch
    pad = (k - 1) // 2
    if o.d_stem:
        layers += [sn(nn.Conv2d(in_ch, o.d_stem, k, 1, "same")), lr()]
        ch = o.d_stem
    for i, nxt in enumerate(o.d_channels):
        layers.append(sn(nn.Conv2d(ch, nxt, k, 2, pad)))
        if not (o.arch == "paper" and i == 0):  # the paper: no norm on D's input layer
            layers += n2(nxt)
        layers.append(lr())
        ch = nxt
    layers.append(nn.Flatten())
    return nn.Sequential(*layers), _count(nn.Sequential(*layers), in_ch, h, w)


def _count(net, c, h, w) -> int:
    with torch.no_grad():
        was = net.training
        net.eval()
        try:
            n = net(torch.zeros(1, c, h, w)).numel()
        except RuntimeError as e:  # a map shrank below the kernel: the image is too small for D's layers
            raise ConfigError(f"data.size={h} is too small for the discriminator's layers "
                              f"({str(e).splitlines()[0]})") from None
        net.train(was)
    return n


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
