"""Age-cGAN's networks (Antipov et al. 2017; the book's chapter 3), built by ``models/agecgan.py``: a generator
conditioned on a one-hot age bin, a discriminator that tiles the age over its first feature map (the book's
``expand_label_input``), and the encoder that inverts G (z from an image)."""

from __future__ import annotations

import torch
from torch import nn

EXACT = "donot_use_mm_for_euclid_dist"  # cdist without the |a|^2 + |b|^2 - 2ab shortcut (exact 0 for a bank face)


class AgeGenerator(nn.Module):
    """z ⊕ one-hot(age) -> dense -> dense (BN) -> reshape -> [nearest x2, conv5, BN, LeakyReLU]* -> x2, conv5,
    tanh."""

    def __init__(
        self,
        latent: int,
        k: int,
        channels: int,
        size: int,
        dense: int,
        widths: list[int],
        dropout: float = 0.2,
        bn_momentum: float = 0.1,
        conv_bn_momentum: float = 0.2,
        bn_eps: float = 1e-5,
    ):
        super().__init__()
        self.start, self.width0, self.k = size // 2 ** len(widths), widths[0], k
        self.fc = nn.Sequential(
            nn.Linear(latent + k, dense),
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Linear(dense, widths[0] * self.start**2),
            nn.BatchNorm1d(widths[0] * self.start**2, momentum=bn_momentum, eps=bn_eps),
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
        )
        blocks = []
        for a, b in zip(widths, widths[1:]):
            blocks += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(a, b, 5, 1, 2),
                nn.BatchNorm2d(b, momentum=conv_bn_momentum, eps=bn_eps),
                nn.LeakyReLU(0.2),
            ]
        blocks += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(widths[-1], channels, 5, 1, 2), nn.Tanh()]
        self.conv = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.fc(torch.cat([z, y.to(z.dtype)], 1))
        return self.conv(h.view(-1, self.width0, self.start, self.start))


class AgeDiscriminator(nn.Module):
    """conv3 s2 -> concat(one-hot age tiled over the map) -> [conv3 s2, BN, LeakyReLU]* -> dense logit."""

    def __init__(
        self, k: int, channels: int, size: int, widths: list[int], bn_momentum: float = 0.1, bn_eps: float = 1e-5
    ):
        super().__init__()
        self.first = nn.Sequential(nn.Conv2d(channels, widths[0], 3, 2, 1), nn.LeakyReLU(0.2))
        rest, c = [], widths[0] + k
        for w in widths[1:]:
            rest += [nn.Conv2d(c, w, 3, 2, 1), nn.BatchNorm2d(w, momentum=bn_momentum, eps=bn_eps), nn.LeakyReLU(0.2)]
            c = w
        self.rest = nn.Sequential(*rest, nn.Flatten())
        side = size // 2 ** len(widths)
        self.out = nn.Linear(c * side * side, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.first(x)
        tiled = y.to(h.dtype)[:, :, None, None].expand(-1, -1, h.shape[2], h.shape[3])
        return self.out(self.rest(torch.cat([h, tiled], 1))).flatten()


class AgeEncoder(nn.Module):
    """conv5 s2 (no BN) -> [conv5 s2, BN, LeakyReLU]* -> dense (BN, LeakyReLU) -> linear z."""

    def __init__(
        self,
        latent: int,
        channels: int,
        size: int,
        widths: list[int],
        dense: int,
        bn_momentum: float = 0.1,
        bn_eps: float = 1e-5,
    ):
        super().__init__()
        layers, c = [nn.Conv2d(channels, widths[0], 5, 2, 2), nn.LeakyReLU(0.2)], widths[0]
        for w in widths[1:]:
            layers += [nn.Conv2d(c, w, 5, 2, 2), nn.BatchNorm2d(w, momentum=bn_momentum, eps=bn_eps), nn.LeakyReLU(0.2)]
            c = w
        side = size // 2 ** len(widths)
        layers += [
            nn.Flatten(),
            nn.Linear(c * side * side, dense),
            nn.BatchNorm1d(dense, momentum=bn_momentum, eps=bn_eps),
            nn.LeakyReLU(0.2),
            nn.Linear(dense, latent),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class InputCheck(nn.Module):
    """How far an input lies from the training faces: the distance from its picture, average-pooled to ``side`` x
    ``side``, to the nearest of ``n`` training faces pooled alike (``bank``), against ``threshold`` (calibrated by
    ``fit`` on held-out faces). Buffers only: saved with the encoder, never trained. An apple or a cat drawn like the
    emoji lies well beyond the held-out people (``docs/ageing.md``)."""

    def __init__(self, n: int, channels: int, side: int):
        super().__init__()
        self.side = side
        self.register_buffer("bank", torch.zeros(n, channels * side * side))
        self.register_buffer("threshold", torch.tensor(float("inf")))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.adaptive_avg_pool2d(x.detach().float(), self.side).flatten(1)

    @torch.no_grad()
    def distance(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cdist(self.features(x), self.bank.to(x.device), compute_mode=EXACT).min(1).values

    @torch.no_grad()
    def fit(self, train: torch.Tensor, held: torch.Tensor | None, margin: float, q: float = 0.99) -> None:
        """``bank``: the ``train`` faces (N >= len(bank), evenly spaced); ``threshold``: ``margin`` x the ``q``
        quantile of the ``held`` faces' distances (without held-out faces: of each bank face to its nearest other)."""
        idx = torch.linspace(0, len(train) - 1, len(self.bank)).round().long()
        self.bank.copy_(self.features(train[idx]))
        if held is not None and len(held):
            d = self.distance(held)
        else:
            dd = torch.cdist(self.bank, self.bank, compute_mode=EXACT)
            d = dd.fill_diagonal_(float("inf")).min(1).values
        self.threshold.fill_(float(torch.quantile(d.float(), q)) * margin)
