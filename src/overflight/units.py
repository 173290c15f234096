"""Parse durations (`90s`, `10min`, `6h`), speeds (`185kmh`, `100kt`, `50mps`) and distances (`12nm`, `5km`)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TypeAlias

from overflight.errors import InputError

__all__ = [
    "ALT_MAX_M",
    "ALT_MIN_M",
    "DISTANCE_UNITS",
    "DURATION_UNITS",
    "FEET",
    "SPEED_UNITS",
    "DistanceLike",
    "DurationLike",
    "SpeedLike",
    "parse_distance",
    "parse_duration",
    "parse_speed",
]

#: A duration: text with a unit (``"90s"``, ``"10min"``, ``"6h"``) or a number of seconds.
DurationLike: TypeAlias = str | float | int
#: A speed: text with a unit (``"185kmh"``, ``"100kt"``, ``"50mps"``) or a number of metres per second.
SpeedLike: TypeAlias = str | float | int
#: A distance: text with a unit (``"500m"``, ``"12nm"``, ``"5km"``) or a number of metres.
DistanceLike: TypeAlias = str | float | int

_NUMBER = r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"

DURATION_UNITS: dict[str, float] = {
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0, "m": 60.0,
    "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
}

# Speeds in metres per second per unit.
SPEED_UNITS: dict[str, float] = {
    "mps": 1.0, "m/s": 1.0, "ms": 1.0,
    "kmh": 1000.0 / 3600.0, "km/h": 1000.0 / 3600.0, "kph": 1000.0 / 3600.0,
    "kt": 1852.0 / 3600.0, "kts": 1852.0 / 3600.0, "knot": 1852.0 / 3600.0, "knots": 1852.0 / 3600.0,
    "mph": 1609.344 / 3600.0,
}

#: Plausible altitudes (m above sea level) for fixes and zone limits: below the Dead Sea shore (and
#: barometric readings on a high-pressure day) up to the edge of space; anything else is a unit or data error.
FEET = 0.3048  #: metres in a foot (ADS-B and Mode S altitudes are in feet)
ALT_MIN_M = -1_000.0
ALT_MAX_M = 100_000.0

DISTANCE_UNITS: dict[str, float] = {
    "m": 1.0, "km": 1000.0, "nm": 1852.0, "nmi": 1852.0, "mi": 1609.344, "ft": 0.3048,
}


def _parse(text: str | float | int, units: dict[str, float], what: str, default_unit: str | None) -> float:
    x = _parse_any(text, units, what, default_unit)
    if not math.isfinite(x):
        raise InputError(f"{what} {text!r} is not a finite number")
    return x


def _parse_any(text: str | float | int, units: dict[str, float], what: str, default_unit: str | None) -> float:
    if isinstance(text, bool):
        raise InputError(f"{what} {text!r} is not a number")
    if isinstance(text, int | float):
        if default_unit is None:
            raise InputError(f"{what} {text!r} needs a unit, e.g. {', '.join(list(units)[:3])}")
        return float(text) * units[default_unit]
    s = str(text).strip().lower().replace(" ", "")
    m = re.fullmatch(_NUMBER + r"([a-z/]*)", s)
    if not m:
        raise InputError(f"cannot read {what} {text!r}: expected a number and a unit like {_examples(what)}")
    value, unit = float(m.group(1)), m.group(2)
    if not unit:
        if default_unit is None:
            raise InputError(f"{what} {text!r} has no unit: write it like {_examples(what)}")
        unit = default_unit
    if unit not in units:
        raise InputError(f"unknown unit {unit!r} in {what} {text!r}; known units: {', '.join(sorted(units))}")
    return value * units[unit]


def _named(parse: Callable[[str | float | int, dict[str, float], str, str | None], float], text: str | float | int,
           units: dict[str, float], what: str, default_unit: str | None, field: str | None) -> float:
    try:
        return parse(text, units, what, default_unit)
    except InputError as exc:
        if field is None:
            raise
        raise InputError(exc.reason, field=field) from None


def _examples(what: str) -> str:
    return {"duration": "90s, 10min, 6h", "speed": "185kmh, 100kt, 50mps", "distance": "500m, 12nm, 5km"}[what]


def parse_duration(text: DurationLike, default_unit: str | None = "s", *, field: str | None = None) -> float:
    """Return a duration in seconds from text such as ``90s``, ``10min``, ``6h`` (a bare number is seconds).

    ``field`` names the argument or option in the InputError raised for text that is not a duration.

    Examples
    --------
    >>> from overflight.units import parse_duration
    >>> parse_duration("10min"), parse_duration(90)
    (600.0, 90.0)
    """
    return _named(_parse, text, DURATION_UNITS, "duration", default_unit, field)


def parse_speed(text: SpeedLike, default_unit: str | None = None, *, field: str | None = None) -> float:
    """Return a speed in metres per second from text such as ``185kmh``, ``100kt``, ``50mps`` (above zero).

    A speed of zero is refused: as a top speed it makes every pair of fixes "inconsistent". A bare number
    needs ``default_unit`` (the library's verbs pass ``"mps"``: a number is metres per second). ``field``
    names the argument or option in the InputError.

    Examples
    --------
    >>> from overflight.units import parse_speed
    >>> round(parse_speed("185kmh"), 2), parse_speed(50, default_unit="mps")
    (51.39, 50.0)
    """
    v = _named(_parse, text, SPEED_UNITS, "speed", default_unit, field)
    if not v > 0:
        raise InputError(f"speed {text!r} must be above zero", field=field)
    return v


def parse_distance(text: DistanceLike, default_unit: str | None = "m", *, field: str | None = None) -> float:
    """Return a distance in metres from text such as ``500m``, ``12nm``, ``5km`` (a bare number is metres).

    ``field`` names the argument or option in the InputError raised for text that is not a distance.

    Examples
    --------
    >>> from overflight.units import parse_distance
    >>> parse_distance("12nm"), parse_distance("5km")
    (22224.0, 5000.0)
    """
    return _named(_parse, text, DISTANCE_UNITS, "distance", default_unit, field)
