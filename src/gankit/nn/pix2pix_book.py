"""The pix2pix book's own nets (ch. 8, ``build_unet_generator`` / ``build_patchgan_discriminator``), preset ``book``.

G (``BookUNet``): encoder convs k4 s2 'same' with bias, BN (Keras defaults: momentum 0.99, eps 1e-3) on all but the
first, then LeakyReLU 0.2; decoder blocks of nearest upsample x2 -> conv k4 s1 'same' -> BN -> dropout 0.5 (the
``dropout_blocks`` next to the bottleneck) -> concat(skip) -> ReLU (the ReLU also hits the skip), with the book's
decoder widths (``up_channels``: 512, 1024, 1024, 1024, 1024, 512, 256 at 256 px); last: upsample, conv k4 to
``out_ch``, tanh. D (``BookDiscriminator``): an unconditional whole-image classifier, log2(size) convs k4 s2 of
``ndf * min(n_layers, 2**i)`` filters (BN on all but the first), a Dense(2) softmax on the flattened features,
minibatch discrimination (100 kernels x 5) on the same features, and a Dense(2) softmax on both.

One fix each: the book puts BN on the layer whose output is 1 x 1 (G's innermost encoder conv, D's last conv); at
the book's batch size 1 that normalises one value per channel, so the layer outputs its shift beta whatever the
input (G's bottleneck carries nothing, and D's every feature is constant: it cannot tell any two images apart).
Both drop that one BN (the reference U-Net does the same; docs/fidelity.md).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .layers import MinibatchDiscrimination
from .unet import UNet


def same4(cin: int, cout: int) -> list[nn.Module]:
    """Keras ``Conv2D(k=4, s=1, padding='same')``: TensorFlow pads 1 before and 2 after."""
    return [nn.ZeroPad2d((1, 2, 1, 2)), nn.Conv2d(cin, cout, 4, 1, 0)]


def keras_bn(ch: int) -> nn.BatchNorm2d:
    """Keras ``BatchNormalization()`` defaults (momentum 0.99, epsilon 1e-3) in PyTorch's terms."""
    return nn.BatchNorm2d(ch, momentum=0.01, eps=1e-3)


class BookUNet(UNet):
    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        num_downs: int,
        ngf: int,
        up_channels: list[int],
        dropout: float = 0.5,
        dropout_blocks: int = 3,
    ):
        super().__init__()
        if len(up_channels) != num_downs - 1:
            raise ValueError(f"up_channels needs {num_downs - 1} widths (one per decoder block), got {up_channels}")
        self.num_downs = num_downs
        ch = [ngf * min(2**i, 8) for i in range(num_downs)]
        downs, c = [], in_ch
        for i, w in enumerate(ch):
            norm = 0 < i < num_downs - 1  # none on the first (the book) nor the 1x1 innermost (the fix)
            downs.append(nn.Sequential(nn.Conv2d(c, w, 4, 2, 1), *([keras_bn(w)] if norm else []), nn.LeakyReLU(0.2)))
            c = w
        self.downs = nn.ModuleList(downs)
        ups = []
        for k, (w, skip) in enumerate(zip(up_channels, reversed(ch[:-1]))):
            drop = [nn.Dropout(dropout)] if dropout > 0 and k < dropout_blocks else []
            ups.append(nn.Sequential(nn.Upsample(scale_factor=2), *same4(c, w), keras_bn(w), *drop))
            c = w + skip
        self.ups = nn.ModuleList(ups)
        self.relu = nn.ReLU()
        self.out = nn.Sequential(nn.Upsample(scale_factor=2), *same4(c, out_ch), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = self.encode(x)
        x = skips[-1]
        for up, skip in zip(self.ups, reversed(skips[:-1])):
            x = self.relu(torch.cat([up(x), skip], 1))  # Keras: concatenate([decoder, encoder]) -> relu
        return self.out(x)


class BookDiscriminator(nn.Module):
    """Returns one logit per image: the book's 2-way softmax as ``z_real - z_fake`` (softmax cross-entropy on the
    two units is BCE-with-logits on their difference, so the shared losses apply unchanged)."""

    def __init__(self, in_ch: int, size: int, ndf: int = 64, kernels: int = 100, kernel_dim: int = 5):
        super().__init__()
        n = int(math.floor(math.log2(size)))  # total_conv_layers: the last map is 1 x 1
        widths = [ndf * min(n, 2**i) for i in range(n)]
        layers, c = [], in_ch
        for i, w in enumerate(widths):
            norm = 0 < i < n - 1  # none on the first (the book) nor on the 1x1 map (the fix)
            layers += [nn.Conv2d(c, w, 4, 2, 1), *([keras_bn(w)] if norm else []), nn.LeakyReLU(0.2)]
            c = w
        self.features = nn.Sequential(*layers, nn.Flatten())
        feat = c * (size // 2**n) ** 2
        self.patch_out = nn.Linear(feat, 2)  # the "PatchGAN" model's own Dense(2, softmax)
        self.mbd = MinibatchDiscrimination(feat, kernels, kernel_dim)  # sums over the others: the book's sum over all
        nn.init.xavier_uniform_(self.mbd.T)  # adds exp(0) = 1 per kernel, a constant the next Dense's bias absorbs
        self.out = nn.Linear(2 + kernels, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)
        z = self.out(torch.cat([self.patch_out(f).softmax(1), self.mbd(f)], 1))
        return z[:, 1] - z[:, 0]  # class 1 = real ([0, 1]), class 0 = fake ([1, 0]), as the book's labels
