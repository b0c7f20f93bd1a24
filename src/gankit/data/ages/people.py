"""An emoji's age group, gender, role and skin tone, read from its name: the Unicode name (``unicodedata``) of one
code point, the ``emoji`` package's CLDR name for ZWJ sequences. Three bins, because that is all the names tell
apart: ``child`` (baby, child, boy, girl), ``adult`` (person, man, woman and every role or activity person) and
``older`` (older person, old man, old woman). No emoji separates 30 from 50, and babies (6 codes) are too few for a
bin of their own. Multi-person emoji (families, couples, holding hands) are left out. Identity = (role, skin tone,
gender): girl / woman / old woman in one skin tone are one person at three ages."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ...errors import DataError
from ..pairs import emoji_codes

EMOJI_BINS = ["child", "adult", "older"]
SKIN_TONES = {0x1F3FB: "light", 0x1F3FC: "medium-light", 0x1F3FD: "medium", 0x1F3FE: "medium-dark", 0x1F3FF: "dark"}


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


_AGE_WORDS = {
    "baby": (0, "neutral"),
    "child": (0, "neutral"),
    "boy": (0, "male"),
    "girl": (0, "female"),
    "person": (1, "neutral"),
    "man": (1, "male"),
    "woman": (1, "female"),
    "older person": (2, "neutral"),
    "old man": (2, "male"),
    "old woman": (2, "female"),
    "adult": (1, "neutral"),
    "older adult": (2, "neutral"),
    "older man": (2, "male"),
    "older woman": (2, "female"),
}  # the last four: unicodedata's names
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
            role = name[len(words) :].strip(" :")
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
