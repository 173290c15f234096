"""Admiralty grading (NATO STANAG 2511): source reliability A–F and information credibility 1–6.

The two axes are graded independently: a source's reliability is a property of the source, the credibility
of a claim or observation a property of that piece of information. A missing grade means "cannot be judged"
(F for reliability, 6 for credibility), never an error; a malformed grade is an `InputError` that names the
file, row and field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from overflight.errors import InputError

RELIABILITY: dict[str, str] = {
    "A": "completely reliable",
    "B": "usually reliable",
    "C": "fairly reliable",
    "D": "not usually reliable",
    "E": "unreliable",
    "F": "reliability cannot be judged",
}
CREDIBILITY: dict[int, str] = {
    1: "confirmed by other sources",
    2: "probably true",
    3: "possibly true",
    4: "doubtful",
    5: "improbable",
    6: "truth cannot be judged",
}
MISSING_RELIABILITY = "F"
MISSING_CREDIBILITY = 6

Where = str | Path | None


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and value != value:  # NaN from a CSV cell
        return True
    return isinstance(value, str) and value.strip() == ""


def parse_reliability(value: Any, *, file: Where = None, row: int | str | None = None,
                      field: str = "reliability") -> str:
    """A reliability letter A–F from user input (case-insensitive); missing → ``"F"``.

    Raises
    ------
    InputError
        When the value is not one of A–F.
    """
    if _missing(value):
        return MISSING_RELIABILITY
    s = str(value).strip().upper()
    if s not in RELIABILITY:
        raise InputError(f"reliability {value!r} is not an Admiralty grade A–F", file=file, row=row, field=field)
    return s


def parse_credibility(value: Any, *, file: Where = None, row: int | str | None = None,
                      field: str = "credibility") -> int:
    """A credibility digit 1–6 from user input (int or text); missing → ``6``.

    Raises
    ------
    InputError
        When the value is not one of 1–6.
    """
    if _missing(value):
        return MISSING_CREDIBILITY
    if isinstance(value, bool):
        raise InputError(f"credibility {value!r} is not an Admiralty grade 1–6", file=file, row=row, field=field)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    s = str(value).strip()
    if not re.fullmatch(r"[1-6]", s):
        raise InputError(f"credibility {value!r} is not an Admiralty grade 1–6", file=file, row=row, field=field)
    return int(s)


@dataclass(frozen=True, order=True)
class Grade:
    """A two-axis Admiralty grade such as ``B2``."""

    reliability: str = MISSING_RELIABILITY
    credibility: int = MISSING_CREDIBILITY

    def __str__(self) -> str:
        return f"{self.reliability}{self.credibility}"

    @property
    def strong(self) -> bool:
        """Reliability A–C and credibility 1–3: one such item is enough to establish a side (see verdicts)."""
        return self.reliability in "ABC" and self.credibility <= 3

    @property
    def discounted(self) -> bool:
        """Unreliable source (E) or improbable information (5): never counts towards a verdict."""
        return self.reliability == "E" or self.credibility == 5

    def describe(self) -> str:
        """Both axes in words, e.g. ``B2 (usually reliable, probably true)``."""
        return f"{self} ({RELIABILITY[self.reliability]}, {CREDIBILITY[self.credibility]})"


def parse_grade(value: Any, *, file: Where = None, row: int | str | None = None, field: str = "grade") -> Grade:
    """A combined grade like ``"B2"``; a missing value gives ``F6``, one missing axis its default.

    Raises
    ------
    InputError
        When the text is not a letter A–F followed by a digit 1–6.
    """
    if _missing(value):
        return Grade()
    s = str(value).strip().upper()
    m = re.fullmatch(r"([A-Z])?\s*([0-9])?", s)
    if not m or not s:
        raise InputError(f"grade {value!r} is not an Admiralty grade like B2", file=file, row=row, field=field)
    return Grade(parse_reliability(m.group(1), file=file, row=row, field=field),
                 parse_credibility(m.group(2), file=file, row=row, field=field))


__all__ = [
    "CREDIBILITY",
    "MISSING_CREDIBILITY",
    "MISSING_RELIABILITY",
    "RELIABILITY",
    "Grade",
    "Where",
    "parse_credibility",
    "parse_grade",
    "parse_reliability",
]
