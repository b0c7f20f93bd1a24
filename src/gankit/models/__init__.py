"""The model families. Each preset names its recipe; ``RECIPES`` maps that name to its class.

A family is one module here (``models/<name>.py``, dashes as underscores) whose ``Recipe`` subclass declares its
``name``: importing the module registers it (``Recipe.__init_subclass__``), and every module of this package is
imported below, so adding a family edits no list.
"""

from __future__ import annotations

import importlib
import pkgutil

from .. import config as C
from ..errors import ConfigError
from .base import RECIPES, Recipe

for _m in pkgutil.iter_modules(__path__):  # every module here; each family class registers under its `name`
    importlib.import_module(f"{__name__}.{_m.name}")


def recipe_class(name: str) -> type[Recipe]:
    try:
        return RECIPES[name]
    except KeyError:
        raise ConfigError(f"unknown recipe '{name}' (have: {', '.join(RECIPES)})") from None


def resolve_config(
    recipe: str, preset: str = "default", config_file=None, overrides: list[str] | dict | None = None
) -> C.Config:
    """``config.resolve`` by recipe name: preset YAML <- config file <- dotted overrides, validated."""
    return C.resolve(recipe_class(recipe), preset, config_file, overrides)


def config_from_dict(raw: dict) -> C.Config:
    """``config.from_dict`` for plain data that names its recipe (a YAML file, a checkpoint's config)."""
    if not isinstance(raw, dict) or "recipe" not in raw:
        raise ConfigError("config: missing 'recipe'")
    return C.from_dict(raw, recipe_class(raw["recipe"]))
