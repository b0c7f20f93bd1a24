"""CycleGAN's ResNet generator (Johnson et al. 2016 as used by Zhu et al. 2017, appendix 7.2).

c7s1-ngf, d(2 ngf), d(4 ngf), ``n_blocks`` x R(4 ngf), u(2 ngf), u(ngf), c7s1-out + tanh; every conv but the last is
followed by the norm (instance norm over each image's channels) and ReLU; a residual block is
conv3-norm-ReLU-conv3-norm plus its input, no activation after the add. Reflection padding by default (the book uses
zero padding). 9 blocks at 256 px, 6 up to 128 px; ngf=64 and 9 blocks: 11,378,179 parameters.

Two options of gankit's CycleGAN default, off for the paper's net:

- ``up="resize"``: each u(k) is a nearest-neighbour 2x upsample and a 3x3 conv instead of a stride-2 transposed conv
  (the same parameter count; Odena et al. 2016: no checkerboard from uneven kernel overlap);
- ``out="residual"``: the output is ``x + c7s1(...)`` with no tanh, and ``init_identity`` zeroes that last conv, so
  an untrained G returns its input exactly and training only has to learn the change between the domains. In train
  mode the sum is left unclamped (a value past [-1, 1] gets gradients from D and the L1 losses instead of none from
  a clamp); in eval mode it is clamped to [-1, 1].
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
        up: str = "transpose",
        out: str = "tanh",
    ):
        super().__init__()
        if padding not in ("reflect", "zero"):
            raise ValueError(f"padding must be reflect or zero, got {padding!r}")
        if up not in ("transpose", "resize") or out not in ("tanh", "residual"):
            raise ValueError(f"up must be transpose or resize and out tanh or residual, got {up!r}, {out!r}")
        if out == "residual" and in_ch != out_ch:
            raise ValueError(f"a residual output needs as many input as output channels, got {in_ch} and {out_ch}")
        bias = conv_bias(norm)
        self.n_down = n_down
        layers = [*_conv(in_ch, ngf, 7, padding, bias), norm2d(norm, ngf), nn.ReLU()]
        for i in range(n_down):
            c = ngf * 2**i
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1, bias=bias), norm2d(norm, 2 * c), nn.ReLU()]
        c = ngf * 2**n_down
        layers += [ResnetBlock(c, norm, padding, dropout) for _ in range(n_blocks)]
        for i in range(n_down):
            c, b = ngf * 2 ** (n_down - i), bias if up_bias is None else up_bias
            if up == "resize":
                layers += [nn.Upsample(scale_factor=2, mode="nearest"), *_conv(c, c // 2, 3, padding, b)]
            else:
                layers.append(ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1, bias=b))
            layers += [norm2d(norm, c // 2), nn.ReLU()]
        layers += _conv(ngf, out_ch, 7, padding, True)
        self.residual = out == "residual"
        if not self.residual:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    @torch.no_grad()
    def init_identity(self) -> "ResnetGenerator":
        """Zero the last conv of a residual-output G (after any weight init): G(x) = x until training moves it."""
        if not self.residual:
            raise ValueError("init_identity needs out='residual'")
        last = self.net[-1]
        last.weight.zero_()
        last.bias.zero_()
        return self

    @property
    def stride(self) -> int:
        """Input sides must be multiples of this."""
        return 2**self.n_down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.residual:
            return self.net(x)
        y = x + self.net(x)
        return y if self.training else y.clamp(-1, 1)
