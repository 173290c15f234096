"""``fast.turned_fence_bound``: fences at a slant across the budget's ellipse make a pair "necessary" in bulk.

Checked against ``evaluate`` in precise mode (the visibility graph over the zone itself, true WGS84
lengths), which the fence must never contradict, and against GeographicLib lengths around the wall.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import shapely
from shapely.geometry import Polygon

import overflight.analysis.prism.verdicts  # noqa: F401  (the package re-exports a function of that name)
from overflight.analysis.prism.fast import (
    SETTLE_NECESSARY,
    fence_bound,
    settle_zone,
    turned_fence_bound,
    zone_edges,
)
from overflight.geodesy import GEOD

V = sys.modules["overflight.analysis.prism.verdicts"]


def _band(lon: float, lat: float, azimuth: float, half_m: float, gaps: tuple[float, ...] = ()) -> Polygon:
    """A wall `2 half_m` wide along the geodesic through (lon, lat) at `azimuth`, 1,600 km long (GeographicLib),
    with a gap (a disc of 0.4 degrees) centred at each distance in `gaps` (metres from the centre)."""
    s = np.arange(-800e3, 800e3 + 1, 20e3)
    clon, clat, caz = GEOD.fwd(np.full(s.size, lon), np.full(s.size, lat), np.where(s < 0, azimuth + 180, azimuth),
                               np.abs(s))
    caz = np.where(s < 0, np.asarray(caz) + 180, caz)
    left = np.column_stack(GEOD.fwd(clon, clat, np.asarray(caz) - 90, np.full(s.size, half_m))[:2])
    right = np.column_stack(GEOD.fwd(clon, clat, np.asarray(caz) + 90, np.full(s.size, half_m))[:2])
    wall = Polygon(np.vstack([left, right[::-1]]))
    for g in gaps:
        glon, glat, _ = GEOD.fwd(lon, lat, azimuth if g >= 0 else azimuth + 180, abs(g))
        wall = wall.difference(shapely.Point(glon, glat).buffer(0.4))
    return wall


def _one(v: float) -> np.ndarray:
    return np.array([v], dtype=float)


def test_slanted_wall_is_a_turned_fence_only() -> None:
    """A narrow wall crossing the direct arc at 50° (40° from a perpendicular fence): no perpendicular fence
    fits in it, a turned one does, and the precise evaluation agrees that the pair must enter it; a gap in the
    wall undoes both."""
    wall = _band(16.0, 50.0, 40.0, 15e3)
    gap = _band(16.0, 50.0, 40.0, 15e3, gaps=(60e3,))
    lon1, lat1, lon2, lat2 = 13.0, 50.0, 19.0, 50.0
    direct = float(GEOD.inv(lon1, lat1, lon2, lat2)[2])
    budget = 1.15 * direct
    z = np.zeros(1)
    args = (_one(lon1), _one(lat1), _one(lon2), _one(lat2), _one(budget), z, z)
    ze = zone_edges(wall)
    assert ze is not None
    assert not fence_bound(*args, wall, ze)[0]
    assert turned_fence_bound(*args, wall, ze)[0]
    ev = V.evaluate(lon1, lat1, lon2, lat2, wall, budget_hi=budget, precise=True)
    assert ev.verdict == "necessary" and ev.detour > budget
    # Independent: the way round either end of the wall, by GeographicLib, is longer than the budget.
    for end in shapely.get_coordinates(wall)[[0, 80]]:
        around = GEOD.inv(lon1, lat1, *end)[2] + GEOD.inv(*end, lon2, lat2)[2]
        assert around > budget
    zg = zone_edges(gap)
    assert zg is not None
    assert not turned_fence_bound(*args, gap, zg)[0]
    assert V.evaluate(lon1, lat1, lon2, lat2, gap, budget_hi=budget, precise=True).verdict == "possible"
    # In bulk, fast mode: settled "necessary" with the length at which evaluate stops looking.
    st, det, mar, ex = settle_zone(*args[:4], z, z, args[4], _one(direct), _one(1.25 * budget), wall, ze,
                                   precise=False, two_leg=True)
    cut = budget * (1 + 1e-6) + 1.0
    assert st[0] == SETTLE_NECESSARY and det[0] == cut and mar[0] == cut - budget and not ex[0]


def test_turned_fences_never_contradict_the_precise_evaluation() -> None:
    """Random pairs across slanted walls and a wall with gaps: every pair the turned fence calls
    "necessary" is "necessary" in precise evaluation, and the fence serves a good share of those."""
    rng = np.random.default_rng(11)
    zones = [_band(16.0, 50.0, 40.0, 20e3), _band(16.0, 50.0, -55.0, 25e3), _band(16.0, 50.0, 30.0, 20e3, (-150e3,)),
             _band(16.0, 50.0, 60.0, 20e3, (40e3, -90e3))]
    served = agree = 0
    for zone in zones:
        ze = zone_edges(zone)
        assert ze is not None
        n = 60
        lon1, lat1 = rng.uniform(11.0, 15.0, n), rng.uniform(48.0, 52.0, n)
        lon2, lat2 = rng.uniform(17.0, 21.0, n), rng.uniform(48.0, 52.0, n)
        direct = np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])
        budget = direct * rng.uniform(1.02, 1.4, n)
        out = ~(shapely.intersects_xy(zone, lon1, lat1) | shapely.intersects_xy(zone, lon2, lat2))
        z = np.zeros(n)
        got = turned_fence_bound(lon1, lat1, lon2, lat2, budget, z, z, zone, ze) & out
        for i in range(n):
            if not out[i]:
                continue
            ev = V.evaluate(float(lon1[i]), float(lat1[i]), float(lon2[i]), float(lat2[i]), zone,
                            budget_hi=float(budget[i]), precise=True)
            if got[i]:
                served += 1
                assert ev.verdict == "necessary", i
                assert ev.detour > budget[i] or math.isinf(ev.detour)
            agree += ev.verdict == "necessary"
    assert served >= 20 and served <= agree


def test_turned_fence_keeps_clear_of_error_discs() -> None:
    """A fix whose error disc reaches the fence's great circle: that fence does not count."""
    wall = _band(16.0, 50.0, 40.0, 15e3)
    ze = zone_edges(wall)
    assert ze is not None
    lon1, lat1, lon2, lat2 = _one(13.0), _one(50.0), _one(19.0), _one(50.0)
    budget = _one(1.15 * float(GEOD.inv(13.0, 50.0, 19.0, 50.0)[2]))
    z = np.zeros(1)
    assert turned_fence_bound(lon1, lat1, lon2, lat2, budget, z, z, wall, ze)[0]
    assert not turned_fence_bound(lon1, lat1, lon2, lat2, budget, _one(300e3), z, wall, ze)[0]


def _chevron(half_m: float, gap: float | None = None) -> Polygon:
    """Two walls from (16, 50), one to the north-east (azimuth 30°), one to the south-east (150°), `2 half_m` wide
    and 800 km long, overlapping at their start: a '<' across the direct arc from (13, 50) to (19, 50), the second
    fix in its mouth; with `gap`, a gap (a disc of 0.4 degrees) that far along the north-east wall."""
    parts = []
    for az in (30.0, 150.0):
        s = np.arange(-40e3, 800e3 + 1, 20e3)
        clon, clat, caz = GEOD.fwd(np.full(s.size, 16.0), np.full(s.size, 50.0), np.where(s < 0, az + 180, az),
                                   np.abs(s))
        caz = np.where(s < 0, np.asarray(caz) + 180, caz)
        left = np.column_stack(GEOD.fwd(clon, clat, np.asarray(caz) - 90, np.full(s.size, half_m))[:2])
        right = np.column_stack(GEOD.fwd(clon, clat, np.asarray(caz) + 90, np.full(s.size, half_m))[:2])
        parts.append(Polygon(np.vstack([left, right[::-1]])))
    wall = shapely.union(*parts)
    if gap is not None:
        glon, glat, _ = GEOD.fwd(16.0, 50.0, 30.0, gap)
        wall = wall.difference(shapely.Point(glon, glat).buffer(0.4))
    return wall


def test_bent_wall_is_a_bent_fence() -> None:
    """A wall bent where the direct arc crosses it: no straight fence fits in it (along one arm, a straight one
    leaves the other), a fence bent at its foot does, and the precise evaluation agrees that the pair must enter
    it; a gap in one arm undoes both."""
    lon1, lat1, lon2, lat2 = 13.0, 50.0, 19.0, 50.0
    direct = float(GEOD.inv(lon1, lat1, lon2, lat2)[2])
    budget = 1.15 * direct
    z = np.zeros(1)
    args = (_one(lon1), _one(lat1), _one(lon2), _one(lat2), _one(budget), z, z)
    wall = _chevron(15e3)
    ze = zone_edges(wall)
    assert ze is not None
    assert not fence_bound(*args, wall, ze)[0]
    assert turned_fence_bound(*args, wall, ze)[0]
    ev = V.evaluate(lon1, lat1, lon2, lat2, wall, budget_hi=budget, precise=True)
    assert ev.verdict == "necessary" and ev.detour > budget
    gap = _chevron(15e3, gap=100e3)
    zg = zone_edges(gap)
    assert zg is not None
    assert not turned_fence_bound(*args, gap, zg)[0]
    assert V.evaluate(lon1, lat1, lon2, lat2, gap, budget_hi=budget, precise=True).verdict == "possible"
