"""Durations, speeds and distances with units."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overflight.errors import InputError
from overflight.units import parse_distance, parse_duration, parse_speed


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("10min", 600),
        ("6h", 21600),
        ("1.5h", 5400),
        ("2d", 172800),
        (45, 45),
        ("30", 30),
        (" 5 min ", 300),
    ],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "mps"),
    [
        ("185kmh", 185 / 3.6),
        ("100kt", 100 * 1852 / 3600),
        ("50mps", 50),
        ("120km/h", 120 / 3.6),
        ("60mph", 60 * 1609.344 / 3600),
    ],
)
def test_speeds(text: str, mps: float) -> None:
    assert parse_speed(text) == pytest.approx(mps)


def test_distances() -> None:
    assert parse_distance("12nm") == pytest.approx(22224.0)
    assert parse_distance("5km") == 5000.0
    assert parse_distance(250) == 250.0


@pytest.mark.parametrize("bad", ["fast", "185", "10 parsecs", "", "-5kmh", "kmh"])
def test_bad_speed_is_a_clear_error(bad: str) -> None:
    with pytest.raises(InputError, match="speed"):
        parse_speed(bad)


@given(st.text(max_size=20))
def test_parsers_never_raise_anything_but_input_error(text: str) -> None:
    for parse in (parse_duration, parse_speed, parse_distance):
        try:
            value = parse(text)
        except InputError:
            continue
        assert math.isfinite(value) or math.isinf(value)


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False), st.sampled_from(["s", "min", "h"]))
def test_duration_scales(value: float, unit: str) -> None:
    factor = {"s": 1, "min": 60, "h": 3600}[unit]
    assert parse_duration(f"{value!r}{unit}") == pytest.approx(value * factor)
