"""3D-GAN's volumetric networks (book ch.2; Wu et al. 2016), built by ``models/gan3d.py`` from its Options ``o``
(``latent_dim``, ``g_channels``, ``d_channels``, batch-norm placement, ``g_upsample``, ``conditional``,
``embed_dim``): G maps z to voxel occupancies in [0, 1] through 3D transposed convolutions, D scores voxel grids with
one logit each.

``g_upsample``: ``convT`` (the book) makes every x2 stage a transposed conv 4 s2 p1; ``last`` makes G's last one a
nearest x2 upsample + conv 3 s1 p1 (Odena et al. 2016: a 4/2 transposed conv overlaps unevenly, every other
output voxel gets a different mix of inputs, which shows as checkerboard speckle at the surface); ``all`` does
that at every stage (about 3.4x the multiply-adds of G)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def up2(cin: int, cout: int, resize: bool) -> list[nn.Module]:
    """One x2 stage: nearest upsample + conv 3 (``resize``) or the book's transposed conv 4 s2 p1."""
    if resize:
        return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv3d(cin, cout, 3, 1, 1)]
    return [nn.ConvTranspose3d(cin, cout, 4, 2, 1)]


class Generator3D(nn.Module):
    def __init__(self, o, num_classes: int = 0):
        super().__init__()
        self.embed = nn.Embedding(num_classes, o.embed_dim) if o.conditional and num_classes else None
        cin = o.latent_dim + (o.embed_dim if self.embed is not None else 0)
        bn = lambda c: nn.BatchNorm3d(c, momentum=o.bn_momentum, eps=o.bn_eps)  # noqa: E731
        ch, how = o.g_channels, o.g_upsample
        layers = [nn.ConvTranspose3d(cin, ch[0], 4, 1, 0), bn(ch[0]), nn.ReLU(inplace=True)]
        for a, b in zip(ch, ch[1:]):
            layers += [*up2(a, b, how == "all"), bn(b), nn.ReLU(inplace=True)]
        layers += up2(ch[-1], 1, how != "convT")
        if o.g_bn_out:
            layers.append(bn(1))
        self.net = nn.Sequential(*layers)

    def forward(self, z, label=None):
        if self.embed is not None:
            z = torch.cat([z, self.embed(label)], 1)
        return torch.sigmoid(self.logits(z))

    def logits(self, z):
        return self.net(z[:, :, None, None, None])


class Discriminator3D(nn.Module):
    """Voxels in [0, 1] -> one logit per shape (N x 1)."""

    def __init__(self, o, num_classes: int = 0):
        super().__init__()
        self.num_classes = num_classes if o.conditional else 0
        bn = lambda c: nn.BatchNorm3d(c, momentum=o.bn_momentum, eps=o.bn_eps)  # noqa: E731
        layers, cin = [], 1 + self.num_classes
        for i, c in enumerate(o.d_channels):
            layers.append(nn.Conv3d(cin, c, 4, 2, 1))
            if i > 0 or o.d_bn_first:
                layers.append(bn(c))
            layers.append(nn.LeakyReLU(o.slope, inplace=True))
            cin = c
        layers.append(nn.Conv3d(cin, 1, 4, 1, 0))
        if o.d_bn_out:
            layers.append(bn(1))
        self.net = nn.Sequential(*layers)

    def forward(self, x, label=None):
        if self.num_classes:
            planes = F.one_hot(label, self.num_classes).to(x.dtype)[:, :, None, None, None]
            x = torch.cat([x, planes.expand(-1, -1, *x.shape[2:])], 1)
        return self.net(x).flatten(1)
