"""Admiralty grades: parsing, defaults, errors naming file/row/field."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overflight.errors import InputError
from overflight.evidence.grading import Grade, parse_credibility, parse_grade, parse_reliability


@given(st.sampled_from("ABCDEFabcdef"), st.integers(1, 6))
def test_every_valid_grade_round_trips(letter: str, digit: int) -> None:
    g = parse_grade(f"{letter}{digit}")
    assert (g.reliability, g.credibility) == (letter.upper(), digit)
    assert str(g) == f"{letter.upper()}{digit}"
    assert parse_reliability(letter) == letter.upper() and parse_credibility(str(digit)) == digit


@pytest.mark.parametrize("missing", [None, "", "  ", float("nan")])
def test_missing_grades_are_f_and_6(missing: object) -> None:
    assert parse_reliability(missing) == "F"
    assert parse_credibility(missing) == 6
    assert parse_grade(missing) == Grade("F", 6)


@pytest.mark.parametrize("bad", ["G", "AA", "1", "x"])
def test_bad_reliability_names_file_row_field(bad: str) -> None:
    with pytest.raises(InputError) as ei:
        parse_reliability(bad, file="s.csv", row=7, field="reliability")
    assert (ei.value.file, ei.value.row, ei.value.field) == ("s.csv", 7, "reliability")
    assert "s.csv, row 7, field 'reliability'" in str(ei.value)


@pytest.mark.parametrize("bad", ["0", "7", "2.5", "B", True, 3.5])
def test_bad_credibility_is_rejected(bad: object) -> None:
    with pytest.raises(InputError):
        parse_credibility(bad, file="c.yaml", row="claims[2]")


def test_strength_classes() -> None:
    assert Grade("C", 3).strong and not Grade("D", 1).strong and not Grade("A", 4).strong
    assert Grade("E", 1).discounted and Grade("A", 5).discounted and not Grade("F", 6).discounted
    assert parse_credibility(2.0) == 2  # a CSV number read as float
    assert "usually reliable" in Grade("B", 2).describe()
