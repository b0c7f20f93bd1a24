"""``emoji-captions``: Twemoji (PNG) and OpenMoji (SVG) paired by codepoint (``data/pairs.py``), each emoji captioned
in several phrasings of its names (``phrasing.py``). Stage I trains on both renderings at ``data.size`` (64); with
``hr`` (stage II) the items are OpenMoji rendered from SVG at the HR size (128 or 256). The held-out split is fixed
by codepoint group (skin-tone variants share a group), 12 % of groups, as ``pairs.is_test`` hashes them."""

from __future__ import annotations

import hashlib

import torch

from ..images import resize_batch
from ..openmoji import openmoji_dir, render_svg
from ..pairs import emoji_codes, load_emoji_pairs
from ..sources import decode_many, read_decoded, twemoji_dir, write_decoded
from .dataset import CaptionSet, group_ids, index_captions
from .phrasing import emoji_captions

HELDOUT_PERCENT = 12  # emoji groups held out (the pairs split's rate)


def emoji_group(code: str) -> str:
    """The codepoints without skin-tone modifiers and FE0F: the five skin tones of one emoji share a group."""
    cps = [c for c in code.lower().split("-") if c != "fe0f" and not 0x1F3FB <= int(c, 16) <= 0x1F3FF]
    return "-".join(cps) or code.lower()


def is_heldout_group(group: str) -> bool:
    return int.from_bytes(hashlib.sha256(group.encode()).digest()[:4], "big") % 100 < HELDOUT_PERCENT


def load_emoji_captions(size: int, hr: int | None, background: str, limit: int | None) -> CaptionSet:
    """Stage I (``hr`` None): Twemoji and OpenMoji of every codepoint both sets draw, at ``size``. Stage II: OpenMoji
    rendered at ``hr`` from the SVGs. ``limit`` caps the codepoints of each split."""
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
        caps, item_caps = index_captions(per_item)
        groups, _ = group_ids([emoji_group(k) for k in keys])
        src = str(openmoji_dir()) if hr is not None else f"{twemoji_dir()} + {openmoji_dir()}"
        return CaptionSet(images.contiguous(), caps, item_caps, groups, "emoji-captions", src, keys)

    out = build(train)
    out.test = build(test)
    return out


def _openmoji_hr(codes: list[str], side: int, background: str) -> torch.Tensor:
    """OpenMoji of ``codes`` rendered from SVG at ``side`` px (cached per selection)."""
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
