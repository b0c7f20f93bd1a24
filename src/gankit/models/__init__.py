"""The model families. Each preset names its recipe; this table is the one hop from name to code."""
from __future__ import annotations

from ..errors import ConfigError
from .base import Recipe
from .cyclegan import CycleGAN
from .cgan import CGAN
from .dcgan import DCGAN
from .lsgan import LSGAN
from .mlp_gan import MLPGAN
from .pix2pix import Pix2Pix
from .r3gan import R3GAN
from .srgan import SRGAN

RECIPES: dict[str, type[Recipe]] = {"mlp-gan": MLPGAN, "dcgan": DCGAN, "lsgan": LSGAN, "cgan": CGAN, "pix2pix": Pix2Pix, "cyclegan": CycleGAN, "srgan": SRGAN, "r3gan": R3GAN}


def recipe_class(name: str) -> type[Recipe]:
    try:
        return RECIPES[name]
    except KeyError:
        raise ConfigError(f"unknown recipe '{name}' (have: {', '.join(RECIPES)})") from None
