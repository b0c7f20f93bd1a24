"""A frozen torchvision VGG19 feature stack for perceptual (content) losses, from a weights file the user gives.

The weights are never downloaded: ``load_vgg(path, "vgg54")`` reads a torchvision ``vgg19`` state_dict (.pth or
.safetensors) and keeps ``features`` up to the named layer.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError, ConfigError

VGG_CUT = {"vgg22": 9, "vgg33": 16, "vgg54": 36}  # torchvision vgg19().features[:cut] ends after that ReLU
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class VGGFeatures(nn.Module):
    """Frozen torchvision VGG19 ``features[:cut]`` on [-1, 1] inputs mapped to ImageNet normalisation."""

    def __init__(self, state_dict: dict, cut: int):
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        with torch.random.fork_rng(devices=[]):  # its random init is overwritten: keep the run's RNG stream intact
            feats = make_layers(cfgs["E"], batch_norm=False)[:cut]  # torchvision's vgg19().features, truncated
        sd = {k[len("features.") :]: v for k, v in state_dict.items() if k.startswith("features.")} or dict(state_dict)
        sd = {k: v for k, v in sd.items() if k.split(".")[0].isdigit() and int(k.split(".")[0]) < cut}
        feats.load_state_dict(sd)  # strict: every layer up to the cut must be in the file
        self.net = feats.eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x):
        return self.net(((x + 1) / 2 - self.mean) / self.std)


def load_vgg(path: str | Path, layer: str, key: str = "model.vgg_weights") -> VGGFeatures:
    """VGG19 features up to ``layer`` (a ``VGG_CUT`` name) from the state_dict at ``path``; errors name ``key``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"{key}: file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd = load_file(str(path))
        else:
            sd = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(sd, dict) and "state_dict" in sd:
            sd = sd["state_dict"]
        return VGGFeatures(sd, VGG_CUT[layer])
    except (RuntimeError, KeyError, ValueError, OSError, TypeError, AttributeError) as e:
        raise CheckpointError(
            f"{key}={path}: not a torchvision VGG19 state_dict ({str(e).splitlines()[0][:200]})"
        ) from None
