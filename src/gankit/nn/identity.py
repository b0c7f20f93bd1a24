"""A small identity embedder for drawn people (emoji), where a photo-face model does not apply.

Trained as a cosine classifier over identities (role, skin tone, gender: ``data/ages/people.py``), so that girl, woman
and old woman of one skin tone, and the Twemoji and OpenMoji drawings of one emoji, land close together.
``forward`` gives L2-normalised embeddings; the distance is the Euclidean distance between them (as FaceNet's).
Score cards call it "emoji identity embedder (trained on emoji-people)", never a face-recognition model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class EmojiIdentityNet(nn.Module):
    def __init__(
        self, channels: int = 3, n_identities: int = 1, dim: int = 64, widths=(32, 64, 128), scale: float = 16.0
    ):
        super().__init__()
        layers, c = [], channels
        for w in widths:
            layers += [nn.Conv2d(c, w, 3, 2, 1), nn.GroupNorm(8, w), nn.LeakyReLU(0.2)]
            c = w
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, dim))
        self.centres = nn.Parameter(torch.randn(max(1, n_identities), dim) * 0.1)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.body(x), dim=1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Scaled cosine similarity to every identity's centre (the training head)."""
        return self.scale * self(x) @ F.normalize(self.centres, dim=1).t()

    def loss(self, x: torch.Tensor, identity: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(cross-entropy over identities, accuracy) for images with a known identity (id >= 0)."""
        keep = identity >= 0
        lg = self.logits(x[keep])
        y = identity[keep]
        return F.cross_entropy(lg.float(), y), (lg.argmax(1) == y).float().mean()
