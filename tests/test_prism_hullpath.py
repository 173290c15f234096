"""The bulk stage's paths round the parts' convex hulls (``hullpath``) and the graded lattice (``lattice``), fast mode.

Each is an upper bound on the avoiding length: checked against hand-built ways round lon/lat squares (GeographicLib
lengths of the tangent legs) and against ``evaluate`` in precise mode (the visibility graph over the zone itself,
true WGS84 lengths, to 0.1 %).
"""

from __future__ import annotations

import sys

import numpy as np
import shapely
from shapely.geometry import Polygon, box

import overflight.analysis.prism.verdicts  # noqa: F401  (the package re-exports a function of that name)
from overflight.analysis.prism.fast import SETTLE_NECESSARY, SETTLE_POSSIBLE, settle_zone, zone_edges
from overflight.analysis.prism.hullbound import part_hulls
from overflight.analysis.prism.hullpath import hull_graph_paths, hull_paths, ring_graph_paths, ring_nodes
from overflight.analysis.prism.lattice import graded_columns, graded_lattice_paths
from overflight.geodesy import GEOD, circle

V = sys.modules["overflight.analysis.prism.verdicts"]


def _way(*pts: tuple[float, float]) -> float:
    """GeographicLib length of the chain of geodesics through `pts`."""
    a = np.array(pts)
    return float(np.sum(GEOD.inv(a[:-1, 0], a[:-1, 1], a[1:, 0], a[1:, 1])[2]))


def _one(*v: float) -> list[np.ndarray]:
    return [np.array([x]) for x in v]


def test_hull_path_round_a_square() -> None:
    """Fixes either side of a 1-degree lon/lat square: the way round is over its two northern corners (the
    great circle between them bulges north, out of the square): the path's length is that chain's, plus the
    push and the Lambert allowance, and no path is found within a budget just below it."""
    sq = shapely.segmentize(box(19.5, 44.5, 20.5, 45.5), 0.01)  # short edges: small tolerances, a small push
    ze = zone_edges(sq)
    ph = part_hulls(sq, float(ze.tol.max()))
    assert ph is not None
    p = (19.0, 45.0, 21.0, 45.0)
    way = _way((19.0, 45.0), (19.5, 45.5), (20.5, 45.5), (21.0, 45.0))
    for fn in (hull_paths, hull_graph_paths):
        got, ln = fn(*_one(*p, way * 1.001), ph, ze)
        assert got[0] and way <= ln[0] <= way * (1 + 3e-5) + 20.0
        got, _ = fn(*_one(*p, way * 0.999), ph, ze)
        assert not got[0]
    ev = V.evaluate(*p, sq, budget_hi=way * 1.001, precise=True)
    assert ev.verdict == "possible" and abs(ev.detour - way) <= 1e-3 * way


def test_hull_graph_path_between_three_squares() -> None:
    """Squares B and C block both ways round A alone: the one-hull path fails, the graph threads between B and C,
    within the GeographicLib length of the hand-built way (A's north-east corner, B's south-west corner)."""
    zone = shapely.segmentize(shapely.MultiPolygon([box(19.5, 44.5, 20.5, 45.5), box(20.8, 45.2, 21.3, 46.0),
                                                    box(20.8, 44.0, 21.3, 44.8)]), 0.01)
    ze = zone_edges(zone)
    ph = part_hulls(zone, float(ze.tol.max()))
    assert ph is not None
    p = (19.0, 45.0, 21.8, 45.0)
    direct = _way((19.0, 45.0), (21.8, 45.0))
    budget = 1.3 * direct
    got, _ = hull_paths(*_one(*p, budget), ph, ze)
    assert not got[0]
    got, ln = hull_graph_paths(*_one(*p, budget), ph, ze)
    assert got[0]
    hand = _way((19.0, 45.0), (19.5, 45.5), (20.5, 45.5), (20.8, 45.2), (21.8, 45.0))
    assert direct < ln[0] <= hand * (1 + 3e-5) + 30.0
    ev = V.evaluate(*p, zone, budget_hi=budget, precise=True)
    assert ev.verdict == "possible" and ev.detour <= ln[0] * (1 + 1e-3) + 1.0


def test_ring_graph_path_out_of_a_bay() -> None:
    """A fix deep in a narrow bay, the other beyond the coast: no path round the hull starts there (the fix lies
    inside it); through the rings' corners the way is out along the bay to its northern tip, then to fix 2: within
    the GeographicLib length of that hand-built way (plus the push and the allowance), and no longer than the
    precise avoiding length allows."""
    bay = shapely.segmentize(_bay(), 0.05)  # short edges: small tolerances, a small push
    ze = zone_edges(bay)
    ph = part_hulls(bay, float(ze.tol.max()))
    rn = ring_nodes(bay)
    assert ph is not None and rn is not None
    p = (20.5, 45.0, 18.0, 46.5)
    hand = _way((20.5, 45.0), (19.0, 45.06), (18.0, 46.5))
    budget = 1.05 * hand
    assert not hull_paths(*_one(*p, budget), ph, ze)[0][0]
    assert not hull_graph_paths(*_one(*p, budget), ph, ze)[0][0]
    got, ln = ring_graph_paths(*_one(*p, budget), rn, ze)
    assert got[0] and ln[0] <= hand * (1 + 3e-5) + 30.0
    ev = V.evaluate(*p, bay, budget_hi=budget, precise=True)
    assert ev.verdict == "possible" and ev.detour <= ln[0] * (1 + 1e-3) + 1.0 and ev.detour >= hand * (1 - 1e-3)


def _archipelago(seed: int) -> shapely.MultiPolygon:
    """Islands (discs of 10-40 km, GeographicLib circles) scattered around (20E, 45N)."""
    rng = np.random.default_rng(seed)
    discs = [circle(float(lo), float(la), float(r), max_error_m=50.0)
             for lo, la, r in zip(rng.uniform(18.0, 22.0, 14), rng.uniform(44.0, 46.0, 14), rng.uniform(10e3, 40e3, 14),
                                  strict=True)]
    return shapely.MultiPolygon(list(shapely.get_parts(shapely.union_all(discs))))


def _bay() -> Polygon:
    """A coast with a deep narrow bay open to the west (fixes inside it must thread out of it)."""
    return Polygon([(19.0, 44.0), (22.0, 44.0), (22.0, 46.0), (19.0, 46.0), (19.0, 45.06), (21.0, 45.03),
                    (21.0, 44.97), (19.0, 44.94)])


WIDE = (16.0, 42.5, 24.0, 47.5)  # where fix 1 is drawn (lon0, lat0, lon1, lat1), unless told


def _pairs(zone: shapely.Geometry, n: int, seed: int, box_: tuple[float, float, float, float] = WIDE) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out: list[tuple[float, float, float, float]] = []
    hull = zone.convex_hull
    while len(out) < n:
        lo1, la1 = rng.uniform(box_[0], box_[2]), rng.uniform(box_[1], box_[3])
        lo2, la2 = rng.uniform(16.0, 24.0), rng.uniform(42.5, 47.5)
        if zone.intersects(shapely.Point(lo1, la1)) or zone.intersects(shapely.Point(lo2, la2)):
            continue
        if not hull.intersects(shapely.LineString([(lo1, la1), (lo2, la2)])):
            continue
        out.append((lo1, la1, lo2, la2))
    return np.array(out)


def test_new_paths_above_the_precise_avoiding_length() -> None:
    """Wherever the hull paths or the graded lattice find a path, the precise verdict is "possible" and the precise
    avoiding length is no longer than the path (random pairs round islands, and out of a bay)."""
    found = 0
    cases = ((_archipelago(3), 1, (16.0, 42.5, 24.0, 47.5)), (_archipelago(9), 2, (16.0, 42.5, 24.0, 47.5)),
             (_bay(), 3, (19.1, 44.98, 20.9, 45.02)))
    for zone, seed, bx in cases:
        ze = zone_edges(zone)
        ph = part_hulls(zone, float(ze.tol.max()))
        rn = ring_nodes(zone)
        assert ph is not None and rn is not None
        pairs = _pairs(zone, 10, seed, bx)
        direct = np.asarray(GEOD.inv(pairs[:, 0], pairs[:, 1], pairs[:, 2], pairs[:, 3])[2])
        budget = direct * np.random.default_rng(seed).uniform(1.02, 1.4, len(pairs))
        args = (pairs[:, 0], pairs[:, 1], pairs[:, 2], pairs[:, 3], budget)
        results = [hull_paths(*args, ph, ze), hull_graph_paths(*args, ph, ze), graded_lattice_paths(*args, ze),
                   ring_graph_paths(*args, rn, ze)]
        for k in range(len(pairs)):
            lens = [float(ln[k]) for got, ln in results if got[k]]
            if not lens:
                continue
            found += 1
            assert direct[k] <= min(lens) and max(lens) <= budget[k]
            ev = V.evaluate(*(float(v) for v in pairs[k]), zone, budget_hi=float(budget[k]), precise=True)
            assert ev.verdict == "possible"
            assert ev.detour <= min(lens) * (1 + 1e-3) + 1.0
    assert found >= 8


def test_settle_zone_fast_agrees_with_precise_tight_budgets() -> None:
    """settle_zone in fast mode, budgets close to the direct length (where the new paths matter), never contradicts
    the precise verdict."""
    settled = 0
    for zone, seed in ((_archipelago(5), 7), (_bay(), 8), (_archipelago(13), 9)):
        ze = zone_edges(zone)
        pairs = _pairs(zone, 12, seed)
        direct = np.asarray(GEOD.inv(pairs[:, 0], pairs[:, 1], pairs[:, 2], pairs[:, 3])[2])
        b_hi = direct * np.random.default_rng(seed).uniform(1.0, 1.15, len(pairs))
        z = np.zeros(len(pairs))
        status, _, _, _ = settle_zone(pairs[:, 0], pairs[:, 1], pairs[:, 2], pairs[:, 3], z, z, b_hi, direct,
                                      np.maximum(1.25 * b_hi, b_hi + 1000.0), zone, ze, precise=False, two_leg=True)
        for k in np.flatnonzero((status == SETTLE_POSSIBLE) | (status == SETTLE_NECESSARY)):
            ev = V.evaluate(*(float(v) for v in pairs[k]), zone, budget_hi=float(b_hi[k]), precise=True)
            assert ev.verdict == ("possible" if status[k] == SETTLE_POSSIBLE else "necessary")
            settled += 1
    assert settled >= 6


def test_graded_columns() -> None:
    """Column places run from 0 to 1, increasing, symmetric, the first step `h0`, steps growing to the middle."""
    f = graded_columns(30, 0.002)
    assert f.size == 32 and f[0] == 0.0 and f[-1] == 1.0
    st = np.diff(f)
    assert np.all(st > 0) and abs(st[0] - 0.002) < 1e-9
    assert np.allclose(f, 1 - f[::-1], atol=1e-9)
    assert np.all(np.diff(st[:15]) > 0)
