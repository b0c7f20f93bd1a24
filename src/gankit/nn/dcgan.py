"""DCGAN's conv networks (models/dcgan.py) that LSGAN and cGAN reuse, built from a recipe's Options ``o`` (``arch``
conv / book / paper, widths, norms, activation): G as ``Generator(conv_generator(o, shape, in_dim))``, D's feature
extractor as ``conv_body`` (the toolbox's ``Critic`` adds the head), and cGAN's conditional-batch-norm generator."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from .layers import CondBatchNorm2d, ConvTranspose2d, check_pow2_size, conv_norm, maybe_sn


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
        layers = [
            sn(nn.Conv2d(in_ch, 128, 5, 1, 2)),
            lr(),
            nn.MaxPool2d(2),
            sn(nn.Conv2d(128, 256, 3)),
            *n2(256),
            lr(),
            nn.MaxPool2d(2),
            sn(nn.Conv2d(256, 512, 3)),
            *n2(512),
            lr(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        ]
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
            raise ConfigError(
                f"data.size={h} is too small for the discriminator's layers ({str(e).splitlines()[0]})"
            ) from None
        net.train(was)
    return n


class CBNGenerator(nn.Module):
    """dense [z, e(y)] -> g_base x s x s, BN, act; per stage: ConvT 4x4 s2, conditional BN on [z, e(y)], act;
    conv to the image, tanh."""

    def __init__(self, o, shape, num_classes: int):
        super().__init__()
        c, h, _ = shape
        s = check_pow2_size("generator", h, len(o.g_channels))
        self.z_skip = o.z_skip
        self.embed = nn.Embedding(num_classes, o.embed_dim)
        cond = o.embed_dim + (o.latent_dim if o.z_skip else 0)
        self.stem = nn.Sequential(
            nn.Linear(o.latent_dim + o.embed_dim, o.g_base * s * s),
            nn.BatchNorm1d(o.g_base * s * s, momentum=o.bn_momentum, eps=o.bn_eps),
            act(o.g_act, o.slope),
            nn.Unflatten(1, (o.g_base, s, s)),
        )
        self.ups, self.norms = nn.ModuleList(), nn.ModuleList()
        ch = o.g_base
        for nxt in o.g_channels:
            self.ups.append(ConvTranspose2d(ch, nxt, 4, 2, 1))
            self.norms.append(CondBatchNorm2d(nxt, cond, o.bn_momentum, o.bn_eps))
            ch = nxt
        self.act = act(o.g_act, o.slope)
        self.out = nn.Sequential(nn.Conv2d(ch, c, o.g_out_kernel, 1, o.g_out_kernel // 2), nn.Tanh())

    def forward(self, z, label):
        e = self.embed(label)
        cond = torch.cat([z, e], 1) if self.z_skip else e
        x = self.stem(torch.cat([z, e], 1))
        for up, norm in zip(self.ups, self.norms):
            x = self.act(norm(up(x), cond))
        return self.out(x)
