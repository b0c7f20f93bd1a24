"""Provenance cards: everything that changes a score, written beside every score, and compared before two scores
are put side by side (``compare`` lists what differs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

# The fields that make two scores comparable. Paths, timestamps and what was evaluated (the fake side) are not.
PROTOCOL_FIELDS = (
    ("extractor", "name"),
    ("extractor", "sha256"),
    ("extractor", "input_size"),
    ("extractor", "resizer"),
    ("image_size",),
    ("n_real",),
    ("n_fake",),
    ("reference", "dataset"),
    ("reference", "split"),
    ("reference", "fingerprint"),
    ("seed",),
    ("options",),
    ("quantised",),
    ("gankit",),
    ("torch",),
)


def _get(card: dict, path: tuple):
    v = card
    for k in path:
        if not isinstance(v, dict) or k not in v:
            return None
        v = v[k]
    return v


def _short(v) -> str:
    if isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v):
        return v[:12] + "…"
    return json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else str(v)


def compare(a: dict, b: dict) -> list[str]:
    """Human-readable differences between two cards' protocols (empty when the scores are comparable)."""
    out = []
    for path in PROTOCOL_FIELDS:
        va, vb = _get(a, path), _get(b, path)
        if va != vb:
            out.append(f"{'.'.join(path)}: {_short(va)} vs {_short(vb)}")
    return out


def warn_if_different(a: dict, b: dict, what: str = "the other score", file=None) -> list[str]:
    diffs = compare(a, b)
    if diffs:
        print(
            f"warning: these scores are not comparable with {what}; the protocol differs in: " + "; ".join(diffs),
            file=file or sys.stderr,
        )
    return diffs


def load(path: str | Path) -> dict:
    """A card from a result JSON written by ``gankit eval`` (``{"scores": ..., "card": ...}``) or a bare card."""
    from ..errors import GankitError

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise GankitError(f"{path}: not a readable score card ({e})") from None
    card = data.get("card", data) if isinstance(data, dict) else None
    if not isinstance(card, dict) or "extractor" not in card:
        raise GankitError(f"{path}: no provenance card in this file")
    return card
