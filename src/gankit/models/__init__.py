"""The model families. Each preset names its recipe; this table is the one hop from name to code."""
from __future__ import annotations

from .. import config as C
from ..errors import ConfigError
from .base import Recipe
from .cyclegan import CycleGAN
from .cgan import CGAN
from .dcgan import DCGAN
from .gan3d import GAN3D
from .lsgan import LSGAN
from .mlp_gan import MLPGAN
from .pix2pix import Pix2Pix
from .r3gan import R3GAN
from .srgan import SRGAN
from .agecgan import AgeCGAN
from .stackgan import StackGAN

RECIPES: dict[str, type[Recipe]] = {"mlp-gan": MLPGAN, "dcgan": DCGAN, "lsgan": LSGAN, "cgan": CGAN, "pix2pix": Pix2Pix, "cyclegan": CycleGAN, "srgan": SRGAN, "gan3d": GAN3D, "agecgan": AgeCGAN,
                                    "stackgan": StackGAN, "r3gan": R3GAN}


def recipe_class(name: str) -> type[Recipe]:
    try:
        return RECIPES[name]
    except KeyError:
        raise ConfigError(f"unknown recipe '{name}' (have: {', '.join(RECIPES)})") from None


def resolve_config(recipe: str, preset: str = "default", config_file=None, overrides: list[str] | dict | None = None
                   ) -> C.Config:
    """``config.resolve`` by recipe name: preset YAML <- config file <- dotted overrides, validated."""
    return C.resolve(recipe_class(recipe), preset, config_file, overrides)


def config_from_dict(raw: dict) -> C.Config:
    """``config.from_dict`` for plain data that names its recipe (a YAML file, a checkpoint's config)."""
    if not isinstance(raw, dict) or "recipe" not in raw:
        raise ConfigError("config: missing 'recipe'")
    return C.from_dict(raw, recipe_class(raw["recipe"]))
