"""The PatchGAN discriminator (pix2pix, CycleGAN): a fully convolutional net whose every output logit judges one
overlapping patch of the input.

``n_layers`` convs k4 s2 (C64 without norm, then C128, C256 ... capped at 8 x ndf), optionally one conv k4 s1
(``s1_layer``), then a conv k4 s1 to one channel; LeakyReLU 0.2. The paper's 70x70 PatchGAN is n_layers=3 with the
stride-1 layer (a 30x30 map for 256 px input); the CycleGAN book's D (ch. 7) is n_layers=4 without it (94x94 patches).
For pix2pix the input is the (condition, image) pair concatenated on channels.
"""

from __future__ import annotations

import torch
from torch import nn

from .norm2d import conv_bias, norm2d


class PatchDiscriminator(nn.Module):
    def __init__(self, in_ch: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch", s1_layer: bool = True):
        super().__init__()
        bias = conv_bias(norm)
        layers = [nn.Conv2d(in_ch, ndf, 4, 2, 1), nn.LeakyReLU(0.2)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, 2, 1, bias=bias),
                norm2d(norm, ndf * mult),
                nn.LeakyReLU(0.2),
            ]
        if s1_layer:
            prev, mult = mult, min(2**n_layers, 8)
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, 1, 1, bias=bias),
                norm2d(norm, ndf * mult),
                nn.LeakyReLU(0.2),
            ]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    @property
    def receptive_field(self) -> int:
        """Side of the input patch one output logit sees (from the conv kernels and strides)."""
        rf = 1
        for m in reversed([m for m in self.net if isinstance(m, nn.Conv2d)]):
            rf = (rf - 1) * m.stride[0] + m.kernel_size[0]
        return rf

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
