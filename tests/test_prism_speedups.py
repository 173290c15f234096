"""Speed-ups of the fast prism path agree with the precise one.

- ``_geo.ellipse_plane`` (the obstacle clip of ``evaluate`` in fast mode) contains its spherical ellipse, and
  fast-mode ``evaluate`` gives the verdicts of the precise one on arcs through archipelagos and coasts;
- the ring of waypoints of ``fast.two_leg_paths`` settles only pairs that ``evaluate`` finds "possible";
- the compiled ``fast._arc_clear`` answers as the array version it replaced (kept here as the reference);
- the edges and vertices that ``fast.entering_bounds_many`` leaves out in fast mode change no settlement.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

import overflight.analysis.prism.verdicts  # noqa: F401  (the package re-exports a function of that name)
from _prism_pairs import pairs_near
from overflight.analysis.prism import edges, fast
from overflight.analysis.prism._geo import Gnomonic, ellipse_plane, midpoint, unit
from overflight.analysis.prism.fast import SETTLE_POSSIBLE, ZoneEdges, settle_zone, zone_edges
from overflight.geodesy import GEOD

V = sys.modules["overflight.analysis.prism.verdicts"]
ISLANDS = ("GRC", "HRV", "ITA", "FIN", "SWE", "DNK", "NOR")


def _pairs_near(g: shapely.Geometry, n: int, seed: int) -> tuple[np.ndarray, ...]:
    return pairs_near(g, n, seed, pad=(1.0, 1.0), max_d=800e3, err_share=0.2, max_err=10e3)


def _sph_focal(u: NDArray[np.float64], u1: NDArray[np.float64], u2: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(np.arccos(np.clip(u @ u1, -1, 1)) + np.arccos(np.clip(u @ u2, -1, 1)))


@pytest.mark.parametrize("seed", range(6))
def test_ellipse_plane_contains_the_spherical_ellipse(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lon1, lat1 = float(rng.uniform(-180, 180)), float(rng.uniform(-80, 80))
    d = float(rng.uniform(1e3, 2e6))
    lon2, lat2, _ = GEOD.fwd(lon1, lat1, float(rng.uniform(0, 360)), d)
    u1, u2 = unit(lon1, lat1), unit(lon2, lat2)
    sigma = float(np.arccos(np.clip(u1 @ u2, -1, 1)))
    tau = sigma * float(rng.choice([1.0 + 1e-9, 1.001, 1.05, 1.6, 3.0]))
    gn = Gnomonic(*midpoint(lon1, lat1, float(lon2), float(lat2)))
    poly = ellipse_plane(gn, (lon1, lat1), (float(lon2), float(lat2)), tau)
    assert poly is not None and poly.is_valid
    # Points all over (and just around) the ellipse's bounding box in its own frame, and on the direct arc;
    # those with a focal sum <= tau are inside.
    m = (u1 + u2) / np.linalg.norm(u1 + u2)
    major = (u2 - u1) - ((u2 - u1) @ m) * m
    major /= np.linalg.norm(major)
    minor = np.cross(m, major)
    small = math.acos(min(1.0, math.cos(tau / 2) / math.cos(sigma / 2)))
    k = 20000
    a = rng.uniform(-1.3, 1.3, k) * math.tan(tau / 2)
    b = rng.uniform(-1.3, 1.3, k) * (math.tan(small) + 1e-9)
    pts = m + a[:, None] * major + b[:, None] * minor
    t = rng.uniform(0, 1, (200, 1))
    pts = np.vstack([pts, u1 * (1 - t) + u2 * t])
    pts /= np.linalg.norm(pts, axis=1, keepdims=True)
    f = _sph_focal(pts, u1, u2)
    inside = pts[f <= tau]
    assert len(inside) > 50
    lon = np.degrees(np.arctan2(inside[:, 1], inside[:, 0]))
    lat = np.degrees(np.arcsin(inside[:, 2]))
    x, y = gn.fwd(lon, lat)
    assert shapely.contains_xy(poly, x, y).all()
    # ... and the polygon is not much larger than the ellipse.
    far = pts[f > tau * 1.2 + 1e-6]
    x, y = gn.fwd(np.degrees(np.arctan2(far[:, 1], far[:, 0])), np.degrees(np.arcsin(far[:, 2])))
    assert not shapely.contains_xy(poly, x, y).any()


def test_ellipse_plane_declines_what_it_cannot_certify() -> None:
    gn = Gnomonic(10.0, 50.0)
    assert ellipse_plane(gn, (10.0, 50.0), (10.0, 50.0), 0.01) is None  # coincident fixes: no major axis
    assert ellipse_plane(gn, (9.0, 50.0), (11.0, 50.0), 1.5) is None  # too large
    assert ellipse_plane(gn, (9.0, 50.0), (11.0, 50.0), 0.0) is None


def test_fast_evaluate_matches_precise_through_archipelagos(ne_admin0: object) -> None:
    """Fast mode clips the obstacle to the ellipse of the budget: the verdicts stay those of the precise path."""
    checked = {"possible": 0, "necessary": 0}
    for k, zid in enumerate(ISLANDS):
        g = ne_admin0[zid].geometry  # type: ignore[index]
        lon1, lat1, lon2, lat2, r1, r2, b_hi, direct = _pairs_near(g, 400, seed=70 + k)
        # Only arcs through the zone with no fix inside reach the avoiding path (and the clip).
        ok = direct - (r1 + r2) <= b_hi
        ok &= ~(shapely.intersects_xy(g, lon1, lat1) | shapely.intersects_xy(g, lon2, lat2))
        arcs = shapely.linestrings(np.stack([np.column_stack([lon1, lat1]), np.column_stack([lon2, lat2])], axis=1))
        ok &= shapely.intersects(arcs, g)
        for i in np.flatnonzero(ok)[:18]:
            args = (float(lon1[i]), float(lat1[i]), float(lon2[i]), float(lat2[i]), g)
            kw = {"budget_hi": float(b_hi[i]), "r1": float(r1[i]), "r2": float(r2[i]), "direct": float(direct[i])}
            slow = V.evaluate(*args, precise=True, **kw)
            quick = V.evaluate(*args, precise=False, **kw)
            assert quick.verdict == slow.verdict, (zid, i)
            if slow.verdict in checked:
                checked[slow.verdict] += 1
    assert checked["possible"] >= 20 and checked["necessary"] >= 20, checked


def _no_lattice(lon1: np.ndarray, *args: object, **kwargs: object) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(len(lon1), dtype=bool), np.full(len(lon1), np.inf)


def test_ring_waypoints_settle_only_possible_pairs(ne_admin0: object, monkeypatch: pytest.MonkeyPatch) -> None:
    gained = 0
    for k, zid in enumerate(ISLANDS):
        g = ne_admin0[zid].geometry  # type: ignore[index]
        ze = zone_edges(g)
        assert ze is not None
        lon1, lat1, lon2, lat2, r1, r2, b_hi, direct = _pairs_near(g, 500, seed=90 + k)
        need = b_hi + r1 + r2
        idx = np.flatnonzero(direct - (r1 + r2) <= b_hi)
        limit = np.maximum(V.EXACT_FACTOR * need, need + 1000.0)[idx]
        args = (lon1[idx], lat1[idx], lon2[idx], lat2[idx], r1[idx], r2[idx], b_hi[idx], direct[idx], limit, g, ze)
        # The lattice and hull paths (tried after the ring) would settle most of the same pairs: off, to see the
        # ring's own.
        for later in ("lattice_paths", "hull_paths", "hull_graph_paths", "graded_lattice_paths", "ring_graph_paths"):
            monkeypatch.setattr(fast, later, _no_lattice)
        with_ring = settle_zone(*args, precise=False, two_leg=True)[0]
        monkeypatch.setattr(fast, "RING", ())
        without = settle_zone(*args, precise=False, two_leg=True)[0]
        monkeypatch.undo()
        assert ((with_ring != without) <= ((with_ring == SETTLE_POSSIBLE) & (without == 0))).all()
        for j in np.flatnonzero(with_ring != without):
            i = idx[j]
            ev = V.evaluate(float(lon1[i]), float(lat1[i]), float(lon2[i]), float(lat2[i]), g,
                            budget_hi=float(b_hi[i]), r1=float(r1[i]), r2=float(r2[i]), precise=True,
                            direct=float(direct[i]))
            assert ev.verdict == "possible", (zid, i)
            gained += 1
    assert gained >= 5


def _arc_clear_reference(u1: np.ndarray, u2: np.ndarray, ze: ZoneEdges) -> np.ndarray:
    """The array version of ``fast._arc_clear`` (before it was compiled), pair by pair over near pieces."""
    n = len(u1)
    npl = np.cross(u1, u2)
    npl = npl / np.maximum(np.linalg.norm(npl, axis=1, keepdims=True), 1e-300)
    half = 0.5 * np.arccos(np.clip(np.sum(u1 * u2, axis=1), -1, 1))
    mid = u1 + u2
    mid = mid / np.maximum(np.linalg.norm(mid, axis=1, keepdims=True), 1e-300)
    # Pieces within reach: groups, then pieces, whose caps come within the half-arc of the arc's midpoint.
    ang = np.arccos(np.clip(mid @ ze.group_c.T, -1, 1))
    rg, gi = np.nonzero(ang <= half[:, None] + ze.group_rad[None, :] + 1e-9)
    ri, pi = fast._expand_groups(rg, gi, ze)
    a = np.arccos(np.clip(np.einsum("ij,ij->i", mid[ri], ze.piece_c[pi]), -1, 1))
    near = a <= half[ri] + ze.piece_rad[pi] + 1e-9
    ri, pi = ri[near], pi[near]
    off = np.abs(np.einsum("ij,ij->i", ze.piece_c[pi], npl[ri]))
    keep = off <= np.sin(np.minimum(ze.piece_rad[pi] + 1e-9, math.pi / 2))
    ri, pi = ri[keep], pi[keep]
    clear = np.ones(n, dtype=bool)
    if ri.size == 0:
        return clear
    r, e = fast._expand(ri, pi, ze)
    st = np.sin(ze.tol[e])
    sa = np.einsum("ij,ij->i", ze.ua[e], npl[r])
    sb = np.einsum("ij,ij->i", ze.ub[e], npl[r])
    sep1 = ((sa > st) & (sb > st)) | ((sa < -st) & (sb < -st))
    nrm = ze.normal[e]
    s1 = np.einsum("ij,ij->i", u1[r], nrm)
    s2 = np.einsum("ij,ij->i", u2[r], nrm)
    sep2 = (((s1 > st) & (s2 > st)) | ((s1 < -st) & (s2 < -st))) & np.any(nrm != 0, axis=1)
    clear[np.unique(r[~(sep1 | sep2)])] = False
    return clear


@pytest.mark.parametrize("zid", ["GRC", "NOR", "RUS", "CHE", "IDN"])
def test_compiled_arc_clear_matches_the_array_version(ne_admin0: object, zid: str) -> None:
    g = ne_admin0[zid].geometry  # type: ignore[index]
    ze = zone_edges(g)
    assert ze is not None
    rng = np.random.default_rng(len(zid))
    x0, y0, x1, y1 = g.bounds
    n = 6000
    lon1 = rng.uniform(x0 - 2, x1 + 2, n)
    lat1 = rng.uniform(max(y0 - 2, -89), min(y1 + 2, 89), n)
    lon2 = lon1 + rng.normal(0, 2, n)
    lat2 = np.clip(lat1 + rng.normal(0, 1.5, n), -89, 89)
    pt = rng.random(n) < 0.15  # points (u1 == u2) are tested too
    lon2[pt], lat2[pt] = lon1[pt], lat1[pt]
    # Some arcs end on a boundary vertex (the tolerance decides them).
    xy = shapely.get_coordinates(g)
    on = rng.choice(n, n // 10, replace=False)
    k = rng.choice(len(xy), on.size)
    lon2[on], lat2[on] = xy[k, 0], xy[k, 1]
    u1, u2 = unit(lon1, lat1), unit(lon2, lat2)
    got = fast._arc_clear(u1, u2, ze)
    ref = _arc_clear_reference(u1, u2, ze)
    assert got.any() and not got.all()
    assert (got == ref).all()


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), holes=st.booleans(), axis_aligned=st.booleans())
def test_segment_index_agrees_with_shapely(seed: int, holes: bool, axis_aligned: bool) -> None:
    """The compiled visibility test meets the same segments as shapely's intersects with the boundary."""
    from overflight.analysis.prism._visibility import SegmentIndex

    rng = np.random.default_rng(seed)
    centres = shapely.points(rng.uniform(0, 100, (int(rng.integers(1, 20)), 2)))
    radii = rng.uniform(1, 15, len(centres))
    poly = shapely.union_all(shapely.buffer(centres, radii, quad_segs=int(rng.integers(1, 6))))
    if holes:
        poly = poly.difference(shapely.union_all(shapely.buffer(shapely.points(rng.uniform(0, 100, (5, 2))), 6)))
    n = 500
    a = rng.uniform(-20, 120, (n, 2))
    b = rng.uniform(-20, 120, (n, 2))
    if axis_aligned:  # vertical and horizontal segments walk a single column or row of cells
        b[: n // 3, 0] = a[: n // 3, 0]
        b[n // 3: 2 * n // 3, 1] = a[n // 3: 2 * n // 3, 1]
    # Segments ending on boundary vertices touch it: they meet it, as in shapely.
    v = shapely.get_coordinates(poly.boundary)
    b[-20:] = v[rng.integers(0, len(v), 20)]
    got = SegmentIndex(poly).hits(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    ref = shapely.intersects(poly.boundary, shapely.linestrings(np.stack([a, b], axis=1)))
    assert np.array_equal(got, ref)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), holes=st.booleans())
def test_segment_index_inside_agrees_with_shapely(seed: int, holes: bool) -> None:
    """The grid's crossing count says inside where shapely's contains_xy does, for points off the boundary
    (the visibility test asks only about graph nodes, which lie off the shrunk obstacle's boundary)."""
    from overflight.analysis.prism._visibility import SegmentIndex

    rng = np.random.default_rng(seed)
    centres = shapely.points(rng.uniform(0, 100, (int(rng.integers(1, 20)), 2)))
    poly = shapely.union_all(shapely.buffer(centres, rng.uniform(1, 15, len(centres)),
                                            quad_segs=int(rng.integers(1, 6))))
    if holes:
        poly = poly.difference(shapely.union_all(shapely.buffer(shapely.points(rng.uniform(0, 100, (5, 2))), 6)))
    p = rng.uniform(-20, 120, (1000, 2))
    off = shapely.distance(poly.boundary, shapely.points(p)) > 1e-6
    got = SegmentIndex(poly).inside(p[:, 0], p[:, 1])
    ref = shapely.contains_xy(poly, p[:, 0], p[:, 1])
    assert np.array_equal(got[off], ref[off])


def _no_hull(lon1: np.ndarray, *args: object, **kwargs: object) -> np.ndarray:
    return np.zeros(len(lon1))


def test_lattice_and_hulls_settle_only_what_precise_agrees_with(ne_admin0: object,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Real islands and coasts: what the lattice paths and hull bounds add to settle_zone (fast) is only newly
    settled pairs, "possible" or "necessary" as the precise evaluation has them."""
    gained = 0
    for k, zid in enumerate(ISLANDS):
        g = ne_admin0[zid].geometry  # type: ignore[index]
        ze = zone_edges(g)
        assert ze is not None
        lon1, lat1, lon2, lat2, r1, r2, b_hi, direct = _pairs_near(g, 300, seed=190 + k)
        need = b_hi + r1 + r2
        idx = np.flatnonzero(direct - (r1 + r2) <= b_hi)
        limit = np.maximum(V.EXACT_FACTOR * need, need + 1000.0)[idx]
        args = (lon1[idx], lat1[idx], lon2[idx], lat2[idx], r1[idx], r2[idx], b_hi[idx], direct[idx], limit, g, ze)
        with_new = settle_zone(*args, precise=False, two_leg=True)[0]
        monkeypatch.setattr(fast, "lattice_paths", _no_lattice)
        monkeypatch.setattr(fast, "hull_lower_bound", _no_hull)
        without = settle_zone(*args, precise=False, two_leg=True)[0]
        monkeypatch.undo()
        assert ((with_new != without) <= (without == 0)).all()
        for j in np.flatnonzero(with_new != without):
            i = idx[j]
            ev = V.evaluate(float(lon1[i]), float(lat1[i]), float(lon2[i]), float(lat2[i]), g,
                            budget_hi=float(b_hi[i]), r1=float(r1[i]), r2=float(r2[i]), precise=True,
                            direct=float(direct[i]))
            assert ev.verdict == ("possible" if with_new[j] == SETTLE_POSSIBLE else "necessary"), (zid, i)
            gained += 1
    assert gained >= 5


@pytest.mark.parametrize("zid", ["GRC", "NOR", "RUS", "CHE", "HRV"])
def test_skipped_edges_and_vertices_change_no_settlement(ne_admin0: object, zid: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # entering_bounds_many (fast mode) leaves out edges and vertices certainly beyond the target: settle_zone's
    # statuses and values, every one, are those of a run that measures them all.
    g = ne_admin0[zid].geometry  # type: ignore[index]
    ze = zone_edges(g)
    assert ze is not None
    lon1, lat1, lon2, lat2, r1, r2, b_hi, direct = pairs_near(g, 1500, 7 + len(zid), pad=(1.0, 1.0), max_d=800e3,
                                                              err_share=0.2, max_err=10e3)
    need = b_hi + r1 + r2
    idx = np.flatnonzero(direct - (r1 + r2) <= b_hi)
    limit = np.maximum(V.EXACT_FACTOR * need, need + 1000.0)[idx]
    args = (lon1[idx], lat1[idx], lon2[idx], lat2[idx], r1[idx], r2[idx], b_hi[idx], direct[idx], limit, g, ze)
    dropped = [0]
    expand_near = edges._expand_near

    def counted(ri: np.ndarray, pi: np.ndarray, ze_: ZoneEdges, *rest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = expand_near(ri, pi, ze_, *rest)
        dropped[0] += fast._expand(ri, pi, ze_)[0].size - out[0].size
        return out

    monkeypatch.setattr(fast, "_expand_near", counted)
    skipped = settle_zone(*args, precise=False, two_leg=True)
    assert dropped[0] > 0  # (the skip is in use)
    monkeypatch.setattr(fast, "_expand_near", lambda ri, pi, ze_, *_: fast._expand(ri, pi, ze_))
    monkeypatch.setattr(fast, "vertex_near", lambda ri, pts, *_: np.ones(len(ri), dtype=bool))
    full = settle_zone(*args, precise=False, two_leg=True)
    assert (skipped[0] != 0).sum() > 100
    for a, b in zip(skipped, full, strict=True):
        x, y = np.asarray(a), np.asarray(b)
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f")
