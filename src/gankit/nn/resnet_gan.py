"""The R3GAN nets (Huang et al., "The GAN is dead; long live the GAN! A modern baseline GAN", 2025), small: a
ResNet generator and discriminator with no normalisation layer at all.

- Residual block: x + conv1x1(act(grouped conv3x3(act(conv1x1(x))))) — an inverted bottleneck (``expansion``),
  grouped 3x3 convolution (``groups``, ResNeXt-style), leaky ReLU 0.2 with separate biases. Fix-up
  initialisation: He-normal weights scaled by L^(-1/(2m-2)) (L blocks in the net, m = 3 layers per block) and
  the block's last conv at zero, so every block starts as the identity and no normalisation is needed.
- Resampling: bilinear up-sampling in G, average pooling in D, a 1x1 conv where the width changes.
- G starts from a learned s x s basis scaled per channel by a linear map of z (and a class embedding) and ends in a
  1x1 conv, linear as in the paper or (``tanh``, not in the paper) squashed into the data's [-1, 1]; D ends
  in a depthwise s x s conv and a linear unit — or, conditional, a projection onto a class embedding; ``mbstd``
  (not in the paper) adds StyleGAN's minibatch-std map before that head.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .layers import MinibatchStd

SLOPE = 0.2
GAIN = math.sqrt(2 / (1 + SLOPE**2))


def msr_(w: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    fan_in = w.shape[1] * w[0][0].numel()
    with torch.no_grad():
        return w.normal_(0, gain / math.sqrt(fan_in))


class BiasAct(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(ch))

    def forward(self, x):
        # the bias in x's dtype: under bf16 autocast an fp32 bias would promote the whole map to fp32, and the next
        # conv would cast it back (a copy of every activation: 23 % of r3gan's step, benchmarks/profile_step.py)
        return F.leaky_relu(x + self.bias.to(x.dtype).view(1, -1, *([1] * (x.dim() - 2))), SLOPE)


def conv(cin: int, cout: int, k: int, groups: int = 1, gain: float = 1.0) -> nn.Conv2d:
    c = nn.Conv2d(cin, cout, k, 1, (k - 1) // 2, groups=groups, bias=False)
    msr_(c.weight, gain)
    return c


class ResidualBlock(nn.Module):
    def __init__(self, ch: int, groups: int, expansion: int, total_blocks: int, last_gain: float = 0.0):
        super().__init__()
        wide = ch * expansion
        gain = GAIN * total_blocks ** (-1 / (2 * 3 - 2))
        self.f = nn.Sequential(
            conv(ch, wide, 1, gain=gain),
            BiasAct(wide),
            conv(wide, wide, 3, groups, gain),
            BiasAct(wide),
            conv(wide, ch, 1, gain=last_gain * gain),
        )

    def forward(self, x):
        return x + self.f(x)


class Up(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.proj = conv(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x):
        return F.interpolate(self.proj(x), scale_factor=2, mode="bilinear", align_corners=False)


class Down(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.proj = conv(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x):
        return self.proj(F.avg_pool2d(x, 2))


def _groups(ch: int, group_width: int) -> int:
    return max(1, ch * 1 // group_width) if ch % group_width == 0 else 1


class ResNetGenerator(nn.Module):
    """``widths[0]`` at s x s, doubling the resolution for each further width; ``blocks`` residual blocks per stage."""

    def __init__(
        self,
        latent_dim: int,
        out_ch: int,
        start: int,
        widths: list[int],
        blocks: int = 1,
        expansion: int = 2,
        group_width: int = 16,
        num_classes: int = 0,
        embed_dim: int = 0,
        dense_input: bool = False,
        last_gain: float = 0.0,
        tanh: bool = False,
    ):
        super().__init__()
        total = blocks * len(widths)
        self.tanh = tanh
        self.embed = None
        if num_classes and embed_dim:
            self.embed = nn.Embedding(num_classes, embed_dim)
            nn.init.normal_(self.embed.weight)
        self.start, self.width = start, widths[0]
        zdim = latent_dim + (embed_dim if self.embed is not None else 0)
        # the paper: a learned s x s basis, scaled per channel by a linear map of z; dense: z -> every pixel of the map
        self.basis = None if dense_input else nn.Parameter(torch.randn(widths[0], start, start))
        self.lin = nn.Linear(zdim, widths[0] * (start * start if dense_input else 1), bias=False)
        msr_(self.lin.weight)
        layers: list[nn.Module] = []
        for i, w in enumerate(widths):
            if i:
                layers.append(Up(widths[i - 1], w))
            layers += [
                ResidualBlock(w, _groups(w * expansion, group_width), expansion, total, last_gain)
                for _ in range(blocks)
            ]
        self.body = nn.Sequential(*layers)
        self.out = conv(widths[-1], out_ch, 1)

    def forward(self, z, label=None):
        if self.embed is not None:
            z = torch.cat([z, self.embed(label)], 1)
        h = self.lin(z)
        x = (
            h.view(-1, self.width, self.start, self.start)
            if self.basis is None
            else self.basis[None] * h[:, :, None, None]
        )
        y = self.out(self.body(x))
        return torch.tanh(y) if self.tanh else y


class ResNetDiscriminator(nn.Module):
    """Mirror of the generator: 1x1 conv from the image, stages of residual blocks and a 2x down-sampling, a
    depthwise s x s basis conv and a linear unit (projection onto a class embedding when conditional)."""

    def __init__(
        self,
        in_ch: int,
        start: int,
        widths: list[int],
        blocks: int = 1,
        expansion: int = 2,
        group_width: int = 16,
        num_classes: int = 0,
        last_gain: float = 0.0,
        mbstd: int = 0,
    ):
        super().__init__()
        widths = list(reversed(widths))
        total = blocks * len(widths)
        self.inp = conv(in_ch, widths[0], 1)
        layers: list[nn.Module] = []
        for i, w in enumerate(widths):
            layers += [
                ResidualBlock(w, _groups(w * expansion, group_width), expansion, total, last_gain)
                for _ in range(blocks)
            ]
            if i + 1 < len(widths):
                layers.append(Down(w, widths[i + 1]))
        self.body = nn.Sequential(*layers)
        self.mbstd = MinibatchStd(mbstd) if mbstd else nn.Identity()
        top = widths[-1] + (1 if mbstd else 0)
        self.basis = nn.Conv2d(top, top, start, groups=top, bias=False)
        msr_(self.basis.weight)
        out = top if num_classes else 1
        self.lin = nn.Linear(top, out, bias=False)
        msr_(self.lin.weight)
        self.embed = None
        if num_classes:
            self.embed = nn.Embedding(num_classes, top)
            nn.init.normal_(self.embed.weight, 0, 1 / math.sqrt(top))

    def forward(self, x, label=None):
        h = self.lin(self.basis(self.mbstd(self.body(self.inp(x)))).flatten(1))
        if self.embed is not None:
            h = (h * self.embed(label)).sum(1, keepdim=True)
        return h
