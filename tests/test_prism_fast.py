"""The bulk (vectorised) prism path must give the same verdicts as the precise one, pair by pair."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import shapely
from geographiclib.geodesic import Geodesic
from shapely.geometry import box

import overflight.analysis.prism.verdicts  # noqa: F401  (the package re-exports a function of that name)
from overflight.analysis.prism.fast import (
    LAM_ABS,
    LAM_MAX_M,
    LAM_REL,
    SETTLE_IMPOSSIBLE,
    SETTLE_POSSIBLE,
    lambert,
    settle_zone,
    zone_edges,
)
from overflight.geodesy import GEOD

V = sys.modules["overflight.analysis.prism.verdicts"]
G = Geodesic.WGS84
VMAX = 185 / 3.6


def test_lambert_distance_within_its_allowance_of_geographiclib() -> None:
    rng = np.random.default_rng(7)
    n = 3000
    lon1 = rng.uniform(-180, 180, n)
    lat1 = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lat1[:200] = rng.choice([-90.0, 90.0, 0.0, 89.99, -89.99], 200)
    az = rng.uniform(0, 360, n)
    d = rng.uniform(0, LAM_MAX_M, n)
    d[:300] = rng.uniform(0, 5000, 300)
    ref = np.empty(n)
    lon2, lat2 = np.empty(n), np.empty(n)
    for i in range(n):
        g = G.Direct(lat1[i], lon1[i], az[i], d[i])
        lon2[i], lat2[i] = g["lon2"], g["lat2"]
        ref[i] = G.Inverse(lat1[i], lon1[i], lat2[i], lon2[i])["s12"]
    err = np.abs(lambert(lon1, lat1, lon2, lat2) - ref)
    # The allowance used is LAM_REL * d + LAM_ABS; the formula is several times better than that.
    assert np.all(err <= LAM_REL * ref + LAM_ABS)
    assert np.all(err <= 0.3 * LAM_REL * ref + 0.01)


def _zones(ne_admin0: object) -> dict[str, shapely.Geometry]:
    ids = ["NOR", "HRV", "GRC", "DEU", "POL", "CZE", "ITA", "DNK", "BLR", "FIN", "CHE", "AUT"]
    out = {i: ne_admin0[i].geometry for i in ids}  # type: ignore[index]
    # Long straight lon/lat edges at high latitude, where the great-circle edge strays far from them.
    out["BOX"] = box(12.0, 66.0, 40.0, 69.0)
    out["HOLE"] = shapely.Polygon([(18, 50), (30, 50), (30, 58), (18, 58)], [[(22, 53), (26, 53), (26, 55), (22, 55)]])
    return out


def _random_pairs(n: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    lon1 = rng.uniform(3.0, 40.0, n)
    lat1 = rng.uniform(38.0, 71.0, n)
    d = rng.uniform(30e3, 700e3, n)
    lon2, lat2, _ = GEOD.fwd(lon1, lat1, rng.uniform(0, 360, n), d)
    direct = np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])
    r1 = np.where(rng.random(n) < 0.3, rng.uniform(0, 20e3, n), 0.0)
    r2 = np.where(rng.random(n) < 0.3, rng.uniform(0, 20e3, n), 0.0)
    b_hi = direct * rng.uniform(0.98, 1.7, n)
    return lon1, lat1, np.asarray(lon2), np.asarray(lat2), r1, r2, b_hi, direct


def test_bulk_settlement_matches_evaluate_on_random_pairs(ne_admin0: object) -> None:
    """Every combination the bulk path settles gets the verdict (and detour/margin) of `evaluate`."""
    lon1, lat1, lon2, lat2, r1, r2, b_hi, direct = _random_pairs(2500, seed=3)
    need = b_hi + r1 + r2
    limit = np.maximum(V.EXACT_FACTOR * need, need + 1000.0)
    consistent = direct - (r1 + r2) <= b_hi
    rng = np.random.default_rng(4)
    checked = {"impossible": 0, "possible": 0}
    for zid, g in _zones(ne_admin0).items():
        ze = zone_edges(g)
        assert ze is not None
        idx = np.flatnonzero(consistent)
        status, detour, margin, exact = settle_zone(lon1[idx], lat1[idx], lon2[idx], lat2[idx], r1[idx], r2[idx],
                                                    b_hi[idx], direct[idx], limit[idx], g, ze)
        # Check every "possible", and the "impossible" ones that come within two budgets (a sample of the rest).
        near = (status == SETTLE_IMPOSSIBLE) & (detour < 2 * need[idx])
        far = np.flatnonzero((status == SETTLE_IMPOSSIBLE) & ~near)
        pick = np.concatenate([np.flatnonzero(status == SETTLE_POSSIBLE), np.flatnonzero(near),
                               rng.choice(far, size=min(5, far.size), replace=False)])
        for k in pick:
            i = idx[k]
            ev = V.evaluate(float(lon1[i]), float(lat1[i]), float(lon2[i]), float(lat2[i]), g,
                            budget_hi=float(b_hi[i]), r1=float(r1[i]), r2=float(r2[i]), precise=True,
                            direct=float(direct[i]))
            got = "impossible" if status[k] == SETTLE_IMPOSSIBLE else "possible"
            assert ev.verdict == got, (zid, i)
            checked[got] += 1
            assert exact[k] == ev.exact, (zid, i)
            if got == "possible":
                assert detour[k] == pytest.approx(ev.detour, rel=1e-9)
            elif ev.exact:
                assert detour[k] == pytest.approx(ev.detour, rel=1e-3)
            # Both sides compute the entering length to 2e-4 of itself.
            e_scale = max(abs(detour[k]), float(direct[i]), 1.0)
            assert abs(margin[k] - ev.margin) <= 5e-4 * e_scale + 1.0, (zid, i, margin[k], ev.margin)
    # The sample exercises both bulk verdicts substantially.
    assert checked["possible"] >= 300
    assert checked["impossible"] >= 300


def test_pipeline_with_and_without_bulk_agree(ne_admin0: object) -> None:
    lon1, lat1, lon2, lat2, r1, r2, b_hi, _ = _random_pairs(160, seed=11)
    dt = b_hi / VMAX
    ids = np.arange(lon1.size)
    pairs = V.Pairs(np.array([f"t{i}" for i in ids], dtype=object), ids, ids, lon1, lat1, lon2, lat2, r1, r2, dt,
                    np.zeros(lon1.size))
    zones = {k: v for k, v in _zones(ne_admin0).items() if k not in ("NOR", "GRC", "HRV", "ITA", "DNK")}
    caps = V.zone_caps(list(zones.items()))
    stats: dict[str, int] = {}
    a = V._verdicts_for_pairs(pairs, caps, VMAX, precise=True, keep_impossible=True, stats=stats)
    b = V._verdicts_for_pairs(pairs, caps, VMAX, precise=True, keep_impossible=True, bulk=False)
    assert (a["verdict"].astype(str) == b["verdict"].astype(str)).all()
    assert (a["detour_exact"] == b["detour_exact"]).all()
    assert stats["bulk_possible"] > 0 and stats["bulk_impossible"] > 0
    assert sum(stats.values()) == len(a)
    assert set(a["verdict"].astype(str)) >= {"impossible", "possible", "necessary"}


def test_arc_along_or_through_the_boundary_is_left_to_evaluate() -> None:
    zone = box(10.0, 50.0, 12.0, 51.0)
    ze = zone_edges(zone)
    assert ze is not None
    # Touching a corner, running along an edge, and crossing a corner: none may be settled as "possible".
    lon1 = np.array([9.0, 10.0, 9.5])
    lat1 = np.array([49.0, 50.0, 49.5])
    lon2 = np.array([10.0, 12.0, 12.5])
    lat2 = np.array([50.0, 50.0, 51.5])
    direct = np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])
    b_hi = direct * 1.3
    status, *_ = settle_zone(lon1, lat1, lon2, lat2, np.zeros(3), np.zeros(3), b_hi, direct, b_hi * 1.25, zone, ze)
    assert (status != SETTLE_POSSIBLE).all()
