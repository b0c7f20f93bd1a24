"""pix2pix's U-Net generator (Isola et al. 2017, appendix 6.1.1): an encoder-decoder with skip connections.

Encoder: ``num_downs`` convs k4 s2 (C64-C128-C256-C512-C512...), LeakyReLU 0.2, norm on all but the first and the
innermost (a norm on a 1x1 map with batch 1 would zero it). Decoder: ReLU, ConvTranspose k4 s2, norm, dropout 0.5 on
the ``dropout_blocks`` blocks next to the innermost; each decoder output is concatenated with the mirrored encoder
output (``cat([skip, up])`` on channels). Last: ReLU, ConvTranspose to ``out_ch``, tanh. With num_downs=8, ngf=64 and
batch norm this is the reference U-Net-256 (54,413,955 parameters for RGB -> RGB; tests/test_pix2pix.py).
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import ConvTranspose2d
from .norm2d import conv_bias, norm2d


class UNet(nn.Module):
    """What both U-Nets share (this one and the pix2pix book's, ``nn/pix2pix_book.py``): ``num_downs`` encoder
    blocks in ``downs``, whose outputs are the decoder's skips."""

    num_downs: int
    downs: nn.ModuleList

    @property
    def stride(self) -> int:
        """Input sides must be multiples of this."""
        return 2**self.num_downs

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every encoder block's output, the innermost last."""
        skips = []
        for d in self.downs:
            x = d(x)
            skips.append(x)
        return skips


class UNetGenerator(UNet):
    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        num_downs: int = 8,
        ngf: int = 64,
        norm: str = "batch",
        dropout: float = 0.5,
        dropout_blocks: int = 3,
        max_mult: int = 8,
    ):
        super().__init__()
        if num_downs < 2:
            raise ValueError("a U-Net needs at least 2 down-sampling steps")
        self.num_downs = num_downs
        bias = conv_bias(norm)
        ch = [ngf * min(2**i, max_mult) for i in range(num_downs)]
        downs = [nn.Conv2d(in_ch, ch[0], 4, 2, 1, bias=bias)]
        for i in range(1, num_downs):
            inner = i == num_downs - 1
            layers = [nn.LeakyReLU(0.2), nn.Conv2d(ch[i - 1], ch[i], 4, 2, 1, bias=bias)]
            if not inner:
                layers.append(norm2d(norm, ch[i]))
            downs.append(nn.Sequential(*layers))
        self.downs = nn.ModuleList(downs)
        ups = []
        for i in range(num_downs - 1, 0, -1):  # innermost first
            cin = ch[i] if i == num_downs - 1 else 2 * ch[i]
            layers = [nn.ReLU(), ConvTranspose2d(cin, ch[i - 1], 4, 2, 1, bias=bias), norm2d(norm, ch[i - 1])]
            k = num_downs - 1 - i  # 0 for the innermost block
            if dropout > 0 and 1 <= k <= dropout_blocks:
                layers.append(nn.Dropout(dropout))
            ups.append(nn.Sequential(*layers))
        ups.append(nn.Sequential(nn.ReLU(), ConvTranspose2d(2 * ch[0], out_ch, 4, 2, 1), nn.Tanh()))
        self.ups = nn.ModuleList(ups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = self.encode(x)
        x = self.ups[0](skips[-1])
        for up, skip in zip(self.ups[1:], reversed(skips[:-1])):
            x = up(torch.cat([skip, x], 1))
        return x
