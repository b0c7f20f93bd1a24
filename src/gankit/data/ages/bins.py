"""Age arithmetic: a photo's age from Matlab datenums (IMDB-WIKI) and the book's six age bins."""

from __future__ import annotations

from datetime import date

BOOK_BINS = ["0-18", "19-29", "30-39", "40-49", "50-59", "60+"]
BOOK_EDGES = (18, 29, 39, 49, 59)  # upper ends of bins 0..4; 60+ is bin 5


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
