"""Faces with an age label (Age-cGAN, the book's chapter 3): ``load_ages(cfg.data)`` -> ``AgeSet``.

One job per module: ``dataset.py`` the age set (with ``balance`` the index space repeats the smaller bins so every
bin fills the same share of an epoch: adults dominate the emoji about 30 to 1); ``bins.py`` age arithmetic and the
book's bins; ``people.py`` an emoji's age, gender and identity from its name; one reader per source
(``data.name``):

- ``emoji-people`` (embedded default): ``emoji.py``, Twemoji and OpenMoji people in three bins (child, adult,
  older), the ``medium-dark`` skin tone held out;
- ``wiki:PATH`` or a folder holding ``wiki.mat`` (IMDB-WIKI ``wiki_crop``): ``wiki.py``, the book's six bins;
- ``utkface:PATH`` or a folder of ``<age>_*.jpg`` files: ``utkface.py``, the six bins from the file names;

both photo sources become an AgeSet in ``photos.py``.
"""

from __future__ import annotations

from pathlib import Path

from ...config import DataConfig
from ...errors import DataError
from .bins import BOOK_BINS, age_bin, datenum_to_age, valid_age
from .dataset import AgeSet, balanced_order
from .emoji import load_emoji_people
from .people import EMOJI_BINS, Person, classify_person, emoji_name, emoji_people
from .photos import load_photos
from .utkface import read_utk_folder
from .wiki import read_wiki_mat

__all__ = [
    "AgeSet",
    "load_ages",
    "load_emoji_people",
    "load_photos",
    "read_wiki_mat",
    "read_utk_folder",
    "balanced_order",
    "BOOK_BINS",
    "EMOJI_BINS",
    "age_bin",
    "datenum_to_age",
    "valid_age",
    "Person",
    "classify_person",
    "emoji_name",
    "emoji_people",
]


def load_ages(cfg: DataConfig, balance: bool = True, people: str = "faces") -> AgeSet:
    """The training split (``.test``: held out) of ``data.name``; see the module docstring."""
    spec = cfg.name.strip()
    if cfg.split != "train":
        raise DataError(f"{spec}: data.split must be 'train' (the held-out split comes with it as .test)")
    kind, _, where = spec.partition(":")
    if kind == "emoji-people" and not where:
        s = load_emoji_people(cfg, people)
    else:
        root = Path(where if kind in ("wiki", "utkface", "folder") and where else spec).expanduser()
        if not root.is_dir():
            raise DataError(f"age data folder not found: {root} (use emoji-people, wiki:PATH or utkface:PATH)")
        if kind == "wiki" or (kind != "utkface" and (root / "wiki.mat").is_file()):
            if not (root / "wiki.mat").is_file():
                raise DataError(f"{root}: no wiki.mat (IMDB-WIKI wiki_crop layout)")
            s = load_photos(cfg, root, "wiki")
        else:
            s = load_photos(cfg, root, "utk")
    if balance:
        s.order = balanced_order(s.labels, s.num_classes)
    return s
