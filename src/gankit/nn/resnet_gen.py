"""CycleGAN's ResNet generator (Johnson et al. 2016 as used by Zhu et al. 2017, appendix 7.2).

c7s1-ngf, d(2 ngf), d(4 ngf), ``n_blocks`` x R(4 ngf), u(2 ngf), u(ngf), c7s1-out + tanh; every conv but the last is
followed by the norm (instance norm over each image's channels) and ReLU; a residual block is
conv3-norm-ReLU-conv3-norm plus its input, no activation after the add. Reflection padding by default (the book uses
zero padding). 9 blocks at 256 px, 6 up to 128 px; ngf=64 and 9 blocks: 11,378,179 parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import ConvTranspose2d
from .norm2d import conv_bias, norm2d


def _conv(cin, cout, k, padding: str, bias=True, stride=1):
    p = k // 2
    if padding == "reflect" and stride == 1:
        return [nn.ReflectionPad2d(p), nn.Conv2d(cin, cout, k, stride, 0, bias=bias)]
    return [nn.Conv2d(cin, cout, k, stride, p, bias=bias)]


class ResnetBlock(nn.Module):
    def __init__(self, ch: int, norm: str, padding: str, dropout: float = 0.0):
        super().__init__()
        bias = conv_bias(norm)
        layers = [*_conv(ch, ch, 3, padding, bias), norm2d(norm, ch), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [*_conv(ch, ch, 3, padding, bias), norm2d(norm, ch)]
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        ngf: int = 64,
        n_blocks: int = 9,
        norm: str = "instance",
        padding: str = "reflect",
        dropout: float = 0.0,
        n_down: int = 2,
        up_bias: bool | None = None,
    ):
        super().__init__()
        if padding not in ("reflect", "zero"):
            raise ValueError(f"padding must be reflect or zero, got {padding!r}")
        bias = conv_bias(norm)
        self.n_down = n_down
        layers = [*_conv(in_ch, ngf, 7, padding, bias), norm2d(norm, ngf), nn.ReLU()]
        for i in range(n_down):
            c = ngf * 2**i
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1, bias=bias), norm2d(norm, 2 * c), nn.ReLU()]
        c = ngf * 2**n_down
        layers += [ResnetBlock(c, norm, padding, dropout) for _ in range(n_blocks)]
        for i in range(n_down):
            c = ngf * 2 ** (n_down - i)
            layers += [
                ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1, bias=bias if up_bias is None else up_bias),
                norm2d(norm, c // 2),
                nn.ReLU(),
            ]
        layers += [*_conv(ngf, out_ch, 7, padding, True), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    @property
    def stride(self) -> int:
        """Input sides must be multiples of this."""
        return 2**self.n_down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
