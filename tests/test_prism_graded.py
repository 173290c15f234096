"""Speed-ups of the avoiding-path search give the results of the plain computation.

- ``avoid._candidate_edges`` (dense blocks) against the pairwise filters it replaces;
- ``avoid.graded_outer`` is a superset of the zone, and ``evaluate`` with it gives the verdicts without it
  (fixes in narrow channels: Euboean gulf, Finnish and Croatian coasts, Danish straits);
- ``fast.half_chord`` (closed form) against a bisection of the focal sum along the fence;
- ``avoid.convex_vertices`` (all rings at once) against a ring-by-ring loop.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import shapely
from shapely.geometry import Point

import overflight.analysis.prism.verdicts  # noqa: F401  (the package re-exports a function of that name)
from _prism_pairs import reference_edges
from overflight.analysis.prism._geo import Gnomonic
from overflight.analysis.prism.avoid import LEVELS, _candidate_edges, convex_vertices, graded_outer
from overflight.analysis.prism.fast import half_chord

V = sys.modules["overflight.analysis.prism.verdicts"]

# Pairs from the benchmark whose fast path needed the avoiding-path search, with a fix near the coast:
# (zone, lon1, lat1, lon2, lat2, budget_hi in metres).
CHANNEL_CASES = [
    ("GRC", 23.264, 38.689, 27.86, 41.908, 786529.0),
    ("GRC", 23.732, 38.397, 31.674, 36.031, 907105.0),
    ("FIN", 30.458, 58.531, 24.411, 64.678, 1189462.0),
    ("FIN", 24.546, 59.35, 19.558, 65.767, 824310.0),
    ("HRV", 13.344, 47.693, 17.146, 42.964, 797720.0),
    ("DNK", 15.595, 55.083, 8.292, 56.679, 740437.0),
    ("DEU", 13.751, 54.248, 6.896, 53.628, 525085.0),
]


@pytest.mark.parametrize("seed", range(6))
def test_candidate_edges_match_pairwise_filters(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 700))
    pts = rng.normal(size=(n, 2)) * 1e5
    # Ring neighbours close to each vertex; some collinear, some coincident (degenerate) neighbours.
    allp = pts + rng.normal(size=(n, 2)) * 1e3
    alln = pts + rng.normal(size=(n, 2)) * 1e3
    k = rng.choice(n, n // 10, replace=False)
    alln[k] = pts[k] + (pts[k] - allp[k])
    allp[k[: len(k) // 2]] = pts[k[: len(k) // 2]]
    allp[:2], alln[:2] = pts[:2], pts[:2]
    dp1 = np.hypot(*(pts - pts[0]).T)
    dp2 = np.hypot(*(pts - pts[1]).T)
    dp1[1] = dp2[0] = float(np.hypot(*(pts[0] - pts[1])))
    cut = float(dp1[1] * rng.uniform(1.05, 2.5))
    i, j = _candidate_edges(pts, allp, alln, dp1, dp2, cut, 0.99)
    assert np.all(i < j)
    got = set(zip(i.tolist(), j.tolist(), strict=True))
    ref, edge = reference_edges(pts, allp, alln, dp1, dp2, cut, 0.99)
    assert len(got) == len(i)  # no duplicates
    assert (got ^ ref) <= edge
    assert len(ref) > 0


def test_half_chord_matches_bisection() -> None:
    rng = np.random.default_rng(3)
    n = 20000
    a1 = rng.uniform(0, 1.5, n)
    a2 = rng.uniform(0, 1.5, n)
    tt = (a1 + a2) * rng.uniform(1.0, 3.0, n)
    c1, c2 = np.cos(a1), np.cos(a2)

    def focal(s: np.ndarray) -> np.ndarray:
        return np.asarray(np.arccos(np.clip(c1 * np.cos(s), -1, 1)) + np.arccos(np.clip(c2 * np.cos(s), -1, 1)))

    lo, hi = np.zeros(n), np.full(n, math.pi / 2)
    for _ in range(50):
        mid = (lo + hi) / 2
        big = focal(mid) >= tt
        hi, lo = np.where(big, mid, hi), np.where(big, lo, mid)
    ref_ok = (focal(hi) >= tt) & (hi < math.pi / 2 - 1e-6)
    s, f = half_chord(c1, c2, tt)
    ok = (f >= tt) & (s < math.pi / 2 - 1e-6)
    np.testing.assert_allclose(f, focal(s), rtol=0, atol=0)
    # Every fence the bisection allows is allowed, with the same half-chord up to the outward nudge.
    assert ok[ref_ok].all()
    assert ref_ok.sum() > n // 4
    np.testing.assert_allclose(s[ref_ok], hi[ref_ok], rtol=3e-6, atol=1e-8)
    assert (f[ok] >= tt[ok]).all()


@pytest.mark.parametrize("case", CHANNEL_CASES[:4])
def test_graded_outer_covers_the_zone(ne_admin0: object, case: tuple[str, float, float, float, float, float]) -> None:
    zid, lon1, lat1, lon2, lat2, _ = case
    g = ne_admin0[zid].geometry  # type: ignore[index]
    mlon, mlat = (lon1 + lon2) / 2, (lat1 + lat2) / 2
    gn = Gnomonic(mlon, mlat)
    zc = shapely.clip_by_rect(g, mlon - 14, mlat - 9, mlon + 14, mlat + 9)
    obst = gn.geometry_fwd(zc)
    p1 = np.array([float(v) for v in gn.fwd(lon1, lat1)])
    p2 = np.array([float(v) for v in gn.fwd(lon2, lat2)])
    plen = float(np.hypot(*(p2 - p1)))
    clear = [float(obst.distance(Point(p))) for p in (p1, p2)]
    for tau in (plen / 40, plen / 300, plen / LEVELS[0]):
        outer = shapely.simplify(obst, tau).buffer(1.5 * tau, quad_segs=2)
        for pt, c in zip((p1, p2), clear, strict=True):
            if outer.intersects(Point(pt)):
                outer = outer.difference(Point(pt).buffer(0.99 * c, quad_segs=4))
        go = graded_outer(obst, outer, [p1, p2], clear, plen / 5, tau / 25)
        # A superset of the zone (allowing for overlay rounding), differing from the coarse one only near
        # the fixes.
        assert shapely.area(shapely.difference(obst, go)) <= 1e-9 * shapely.area(obst)
        extra = shapely.difference(go, outer)
        near = shapely.union(Point(p1).buffer(plen / 5 * 1.001), Point(p2).buffer(plen / 5 * 1.001))
        assert shapely.area(shapely.difference(extra, near)) <= 1e-9 * shapely.area(obst)
        assert shapely.area(shapely.difference(outer, go)) > 0  # it does open something near a fix
        assert not go.intersects(Point(p1)) and not go.intersects(Point(p2))


@pytest.mark.parametrize("case", CHANNEL_CASES)
def test_graded_superset_gives_the_same_verdicts(ne_admin0: object,
                                                 case: tuple[str, float, float, float, float, float]) -> None:
    zid, lon1, lat1, lon2, lat2, budget = case
    g = ne_admin0[zid].geometry  # type: ignore[index]
    for b in (budget, budget * 0.93):
        a = V.evaluate(lon1, lat1, lon2, lat2, g, budget_hi=b, precise=False, graded=True)
        ref = V.evaluate(lon1, lat1, lon2, lat2, g, budget_hi=b, precise=False, graded=False)
        assert a.verdict == ref.verdict, (zid, b)
        # The plain precise ladder (no hulls, no graded superset, no early stop) agrees.
        plain = V.evaluate(lon1, lat1, lon2, lat2, g, budget_hi=b, precise=True, graded=False, hulls=False)
        assert a.verdict == plain.verdict, (zid, b)
        if plain.exact and a.verdict == "possible":
            assert a.detour >= plain.detour * (1 - 1e-3)
        if a.verdict == "possible":
            # Both found a path within the budget; a path is never shorter than the shortest one.
            assert a.detour <= b and ref.detour <= b
        if a.verdict == "necessary":
            assert a.detour > b and ref.detour > b


def _convex_vertices_loop(geom: shapely.Geometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    geom = shapely.orient_polygons(geom, exterior_cw=False)
    out, prevs, nexts = [], [], []
    for poly in shapely.get_parts(geom):
        if poly.is_empty or poly.geom_type != "Polygon":
            continue
        for ring in [poly.exterior, *poly.interiors]:
            r = np.asarray(ring.coords)[:-1]
            if len(r) < 3:
                continue
            prev, nxt = np.roll(r, 1, axis=0), np.roll(r, -1, axis=0)
            a, b = r - prev, nxt - r
            keep = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0] > 0
            out.append(r[keep])
            prevs.append(prev[keep])
            nexts.append(nxt[keep])
    z = np.zeros((0, 2))
    return (np.vstack(out), np.vstack(prevs), np.vstack(nexts)) if out else (z, z, z)


@pytest.mark.parametrize("zid", ["FIN", "GRC", "ITA", "CHE", "LSO"])
def test_convex_vertices_match_ring_loop(ne_admin0: object, zid: str) -> None:
    g = ne_admin0[zid].geometry  # type: ignore[index]
    geoms = [g, shapely.GeometryCollection([g, Point(0, 0)]), shapely.Polygon()]
    if zid == "ITA":  # holes (San Marino, Vatican)
        assert any(len(p.interiors) for p in shapely.get_parts(g))
    for geom in geoms:
        got = convex_vertices(geom)
        ref = _convex_vertices_loop(geom)
        for a, b in zip(got, ref, strict=True):
            np.testing.assert_array_equal(a, b)
    assert len(convex_vertices(g)[0]) > 10


def test_graded_superset_leaves_no_slit_along_its_discs(ne_admin0: object, monkeypatch: pytest.MonkeyPatch) -> None:
    # From the 100000-pair benchmark (Cyprus): with one level of plen / 100, the graded superset was cut along
    # the same discs on both sides, and a hairline slit left between its pieces let the visibility graph
    # cross the zone (a 342 km "avoiding" path where the shortest one is 351 km: possible, not necessary).
    import overflight.analysis.prism.avoid as avoid

    g = ne_admin0["CYP"].geometry  # type: ignore[index]
    args = (34.08124447913494, 35.063689478823804, 33.23118356736392, 37.83733616733742, g)
    kw = {"budget_hi": 350117.2479827295, "direct": 317073.5771507196, "inside": (False, False)}
    ref = V.evaluate(*args, precise=True, **kw)
    assert ref.verdict == "necessary" and ref.exact
    monkeypatch.setattr(avoid, "LEVELS", (100.0,))
    a = V.evaluate(*args, precise=False, **kw)
    assert a.verdict == "necessary"
    assert a.detour <= ref.detour
