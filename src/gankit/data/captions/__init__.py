"""Image-caption data for text-to-image models (StackGAN): ``load_captions(cfg.data)`` -> ``CaptionSet``.

One job per module: ``dataset.py`` the caption set (a batch draws one of the item's captions at random, so every
caption is seen, and a *mismatched* caption from a different group: never a paraphrase of the same emoji, never the
same bird class); ``phrasing.py`` emoji captions from Unicode / CLDR names; one reader per source (``data.name``):

- ``emoji-captions`` (embedded default): ``emoji.py``, Twemoji and OpenMoji paired by codepoint;
- ``cub`` / a folder holding ``CUB_200_2011/``: ``cub.py``, birds with ``text_c10`` captions or the
  char-CNN-RNN embedding pickles;
- ``folder:PATH`` / a path: ``folder.py``, images with same-named ``.txt`` captions or a ``captions.csv``.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import DataError
from ..sources import locate
from .cub import cub_crop, is_cub, load_cub
from .dataset import CaptionSet, embed_captions, grid_rows
from .emoji import emoji_group, load_emoji_captions
from .folder import load_caption_folder
from .phrasing import emoji_captions, emoji_names

__all__ = [
    "grid_rows",
    "embed_captions",
    "CaptionSet",
    "load_captions",
    "load_emoji_captions",
    "load_cub",
    "load_caption_folder",
    "is_cub",
    "cub_crop",
    "emoji_group",
    "emoji_captions",
    "emoji_names",
]


def load_captions(cfg, hr: int | None = None) -> CaptionSet:
    """The caption dataset named by ``cfg`` (a DataConfig); ``hr``: stage II's image side (items at that size)."""
    spec = cfg.name.strip()
    size = hr or cfg.size or 64
    if cfg.limit is not None and cfg.limit < 1:
        raise DataError(f"data.limit must be >= 1, got {cfg.limit}")
    if cfg.split != "train":
        raise DataError(f"{spec}: data.split must be 'train' (the held-out split is kept for evaluation)")
    if spec == "emoji-captions":
        return load_emoji_captions(cfg.size or 64, hr, cfg.background, cfg.limit)
    if spec == "cub":
        root = locate("cub", is_cub)
        return load_cub(root, size, cfg.limit, cfg.skip_bad)
    path = Path(spec[7:] if spec.startswith("folder:") else spec).expanduser()
    if not path.exists():
        raise DataError(
            f"unknown caption dataset '{spec}' (named: emoji-captions, cub; or folder:PATH with "
            f"same-named .txt captions or a captions.csv)"
        )
    if not path.is_dir():
        raise DataError(f"{path}: not a folder")
    if is_cub(path):
        return load_cub(path, size, cfg.limit, cfg.skip_bad)
    return load_caption_folder(path, size, cfg.background, cfg.limit, cfg.skip_bad)
