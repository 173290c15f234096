"""Prism verdicts under validity periods, against answers computed by hand on the equator.

Fixes p1 = (0, 0) and p2 = (1, 0) on the equator, 1200 s apart, at 100 m/s: budget 120 km, direct
a·π/180 = 111,319.5 m. The zone is the box [0.4, 0.6] x [-0.3, 0.3]: its nearest points to p1 and p2 are
(0.4, 0) and (0.6, 0), 0.4° = 44,527.8 m away along the equator; it spans the whole ellipse (semi-minor
sqrt(60² - 55.66²) = 22.4 km < 0.3° of latitude = 33.2 km), so with the zone always in force every path
crosses it: *necessary*. The object can be at x at time t iff d(p1, x) <= v (t - t1) and
d(x, p2) <= v (t2 - t); it reaches the box no earlier than t1 + 445.28 s and leaves it no later than
t2 - 445.28 s.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from shapely.geometry import box

from overflight.analysis.prism import verdicts
from overflight.analysis.prism.period import NEVER, PARTIAL, WHOLE, classify
from overflight.zones import Zone

T1 = pd.Timestamp("2025-06-01T00:00:00Z")
DT = 1200.0
V = 100.0
EDGE_S = 0.4 * 6378137.0 * math.pi / 180 / V  # 445.28 s: from a fix to the box at full speed
BOX = box(0.4, -0.3, 0.6, 0.3)


def _zone(zid: str, start_s: float | None, end_s: float | None, geom: object = BOX) -> Zone:
    vf = None if start_s is None else (T1 + pd.Timedelta(seconds=start_s)).to_pydatetime()
    vt = None if end_s is None else (T1 + pd.Timedelta(seconds=end_s)).to_pydatetime()
    return Zone(zid, zid, "restricted", geom, valid_from=vf, valid_to=vt)  # type: ignore[arg-type]


def _pair(lon1: float = 0.0, lat1: float = 0.0, lon2: float = 1.0, lat2: float = 0.0, dt: float = DT,
          time_err: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({"track_id": "a", "time": [T1, T1 + pd.Timedelta(seconds=dt)], "lon": [lon1, lon2],
                         "lat": [lat1, lat2], "time_err_s": [time_err, time_err]})


def _verdict(zones: list[Zone], **kw: float) -> dict[str, str]:
    df = verdicts(_pair(**kw), zones, V)
    return dict(zip(df["zone_id"].astype(str), df["verdict"].astype(str), strict=True))


def test_box_on_the_equator_under_periods() -> None:
    zones = [
        _zone("always", None, None),
        _zone("whole", -3600, DT + 3600),
        _zone("later", DT + 1, DT + 3600),  # starts after the second fix
        _zone("first_440s", 0, 440),  # ends before the object can reach the box (445.28 s)
        _zone("first_450s", 0, 450),  # the box is reachable at 445.28 s
        _zone("last_440s", DT - 440, DT + 3600),  # the object must have left it 445.28 s before t2
        _zone("last_450s", DT - 450, DT + 3600),
        # 500 s to 700 s: at 600 s the object is within 60 km of both fixes, a lens inside the box.
        _zone("middle", 500, 700),
        # 100 s to 460 s: it may reach the box at 445.28 s, but may as well still be west of it at 460 s.
        _zone("early", 100, 460),
    ]
    got = _verdict(zones)
    assert got == {"always": "necessary", "whole": "necessary", "later": "impossible", "first_440s": "impossible",
                   "first_450s": "possible", "last_440s": "impossible", "last_450s": "possible",
                   "middle": "necessary", "early": "possible"}


def test_time_errors_widen_the_window() -> None:
    """±10 s on each fix: a period ending at 440 s may meet a first fix taken 20 s earlier (10 + 10 in all)."""
    got = _verdict([_zone("first_440s", 0, 440), _zone("first_420s", 0, 420)], time_err=10.0)
    # The window may end 20 s later relative to the first fix (e1 + e2 = 20 s): 460 s > 445.28 s.
    assert got["first_440s"] == "possible"
    # 420 + 20 = 440 s < 445.28 s: still out of reach.
    assert got["first_420s"] == "impossible"


def test_a_fix_in_the_zone_counts_only_while_the_zone_is_in_force() -> None:
    """The first fix lies in a small box around it; the box is in force at [valid_from, valid_to)."""
    small = box(-0.05, -0.05, 0.05, 0.05)  # 5.6 km around p1: the object leaves it after >= 55.7 s
    zones = [
        _zone("from_t1", 0, 3600, small),  # in force at t1 (valid_from == t1): necessary
        _zone("until_t1", -3600, 0, small),  # valid_to == t1: not in force at t1, nor after: impossible
        _zone("after_60s", 60, 3600, small),  # the object may have left it by then (55.7 s)
        _zone("after_50s", 50, 3600, small),  # at 50 s it is within 5 km of p1: inside, so necessary
    ]
    got = _verdict(zones)
    assert got == {"from_t1": "necessary", "until_t1": "impossible", "after_60s": "possible",
                   "after_50s": "necessary"}


def test_second_fix_at_the_end_of_the_period() -> None:
    """valid_to == t2 with p2 deep inside: just before t2 every path is in the zone, so necessary."""
    small = box(0.95, -0.05, 1.05, 0.05)
    got = _verdict([_zone("to_t2", 0, DT, small), _zone("from_t2", DT, None, small),
                    _zone("gone_before", 0, DT - 60, small)])
    # gone_before: ends 60 s before t2; 60 s x 100 m/s = 6 km > 5.57 km from p2 to the box's west edge.
    assert got == {"to_t2": "necessary", "from_t2": "necessary", "gone_before": "possible"}


@pytest.mark.parametrize("start,end,case", [(-10, DT + 10, WHOLE), (0, DT + 1, WHOLE), (0, DT, PARTIAL),
                                            (DT, DT + 5, PARTIAL), (DT + 1e-9, DT + 5, NEVER), (-5, 0, NEVER),
                                            (-5, 1e-9, PARTIAL)])
def test_window_classification_at_the_boundaries(start: float, end: float, case: int) -> None:
    """[valid_from, valid_to) against the closed gap [t1, t2], to the nanosecond."""
    t1 = T1.value
    t2 = t1 + int(DT * 1e9)
    # pandas Timestamps (datetime subclasses) keep the nanoseconds a datetime would drop.
    vf = pd.Timestamp(t1 + round(start * 1e9), tz="UTC")
    vt = pd.Timestamp(t1 + round(end * 1e9), tz="UTC")
    z = Zone("z", "z", "restricted", BOX, valid_from=vf, valid_to=vt)
    assert classify(t1, t2, 0.0, 0.0, V, z).case == case
