"""Bulk settlement of (pair, zone) verdicts, vectorised over every candidate pair of one zone at once.

Most candidates that survive the cheap cap filters are settled without per-pair geometry:

- *impossible*: ``E``, the least focal sum ``d(p1, x) + d(x, p2)`` over the zone's boundary, exceeds the
  budget (and neither fix lies in the zone);
- *possible* with the direct path as the avoiding path: the great-circle arc p1→p2 provably stays clear of
  every boundary edge (so it neither enters nor touches the zone, as in the precise path's gnomonic test)
  and ``E`` is within the budget.

``E`` is bounded on the boundary's straight lon/lat edges exactly as ``avoid.entering_bounds`` does (the
focal sum is 2-Lipschitz: on an edge it is at least the mean of its end values minus the edge's length;
edges whose bound is below the best value are split in 8), but for all candidates together and with the
Andoyer-Lambert distance, whose error against GeographicLib stays below 1.5e-6 of the distance up to
6,000 km (checked on 2·10^6 random pairs, poles included); it is used with a 1e-5 + 1 m allowance.
Everything else (a fix inside the zone, an arc near the boundary, long gaps) is left to ``evaluate``.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from overflight.analysis.prism._geo import R_SPHERE, SPH_HI, SPH_LO, FloatArray, unit
from overflight.analysis.prism.edges import (
    LAM_ABS,
    LAM_MAX_M,
    LAM_REL,
    FixLegs,
    ZoneEdges,
    _arc_clear,
    _expand,
    _expand_groups,
    _expand_near,
    _first_path_kernel,
    _lam_gap,
    _lam_hi,
    _lam_lo,
    lambert,
    lambert_via,
    near_pieces_all,
    vertex_near,
    zone_edges,
)
from overflight.analysis.prism.fences import (
    FENCE_HALVINGS,
    FENCES,
    TURN_FENCES,
    TURN_FENCES_FIRST,
    TURN_FENCES_MORE,
    TURNS,
    fence_bound,
    half_chord,
    turned_fence_bound,
)
from overflight.analysis.prism.hullbound import hull_lower_bound, part_hulls
from overflight.analysis.prism.hullpath import hull_graph_paths, hull_paths, ring_graph_paths, zone_ring_nodes
from overflight.analysis.prism.lattice import graded_lattice_paths, lattice_paths

IntArray = NDArray[np.int64]

REL_TOL = 2e-4  # same as avoid.entering_bounds
SPLIT_MIN_M = 0.05  # sub-edges shorter than this (metres) are not split further
SPLIT_MAX = 200_000  # at most this many entries are split per round (about 0.3 GB of temporaries)
ROW_BLOCK = 1024  # pairs per block of the cap tests in entering_bounds_many
EDGE_BLOCK = 1_000_000  # (pair, edge) entries per block of refinement (about 0.2 GB)
SETTLE_UNSETTLED, SETTLE_IMPOSSIBLE, SETTLE_POSSIBLE, SETTLE_NECESSARY = 0, 1, 2, 3
# Waypoints tried for two-leg avoiding paths, as (angle from the minor axis in degrees, fraction of the way
# from the centre to the ellipse of the budget), in order; each on both sides of the direct arc.
WAYPOINTS = ((0.0, 0.95), (0.0, 0.5), (-40.0, 0.9), (40.0, 0.9), (0.0, 0.25), (-40.0, 0.5), (40.0, 0.5),
             (-65.0, 0.9), (65.0, 0.9), (0.0, 0.75), (-20.0, 0.7), (20.0, 0.7),
             (-20.0, 0.97), (20.0, 0.97), (-55.0, 0.97), (55.0, 0.97), (-80.0, 0.97), (80.0, 0.97),
             (-80.0, 0.7), (80.0, 0.7), (0.0, 0.1))
# Then, for the pairs none of those served (typically a direct arc through an archipelago or along a coast),
# a ring near the ellipse of the budget, every 5 degrees: the way round the whole obstacle, when there is one.
RING = tuple((float(a), 0.97) for a in range(-85, 90, 5) if (float(a), 0.97) not in WAYPOINTS)
_SPLIT_T = np.linspace(0.0, 1.0, 9)  # where ``_refine`` splits a sub-edge (in 8)


def _stage(cands: list[tuple[float, float, float]]) -> tuple[FloatArray, FloatArray, FloatArray]:
    """A stage of ``two_leg_paths``' waypoints as arrays: fractions, sines of the angles, sides x their cosines."""
    th = np.radians(np.array([c_[0] for c_ in cands]))
    return (np.array([c_[1] for c_ in cands]), np.sin(th), np.array([c_[2] for c_ in cands]) * np.cos(th))


_STAGES: dict[tuple[object, object], tuple[tuple[FloatArray, FloatArray, FloatArray], ...]] = {}


def _stages() -> tuple[tuple[FloatArray, FloatArray, FloatArray], ...]:
    """``two_leg_paths``' stages of waypoints, built once for the current ``WAYPOINTS`` and ``RING``.

    The first waypoints settle most pairs: they are tried alone, then all the others at once, then the ring.
    """
    key = (WAYPOINTS, RING)
    if key not in _STAGES:
        cands = [(a, f, sd) for a, f in WAYPOINTS for sd in (1.0, -1.0)]
        ring = [(a, f, sd) for a, f in RING for sd in (1.0, -1.0)]
        _STAGES[key] = (_stage(cands[:2]), _stage(cands[2:]), _stage(ring))
    return _STAGES[key]


def _focal_pieces(u1: FloatArray, u2: FloatArray, limit: FloatArray, ze: ZoneEdges,
                  ) -> tuple[IntArray, IntArray, FloatArray]:
    """(row, piece, lower bound) for the pieces whose least focal sum may be within `limit[row]`.

    The bound is spherical (true distance >= SPH_LO x great-circle distance) over the piece's cap.
    """
    # Groups, then their pieces, in one compiled pass: it keeps a superset of the pieces of the groups whose
    # bound is within the limit (its threshold is padded for rounding; a group's cap holds its pieces' caps, so
    # a group beyond the limit has every piece beyond it, with room), which then get the bound below.
    # (the kernel's clipped cosines of the angles to the pieces' centres: no gathers of rows and centres here)
    r, p, d1, d2 = near_pieces_all(u1, u2, ((limit + 2.0) / (SPH_LO * R_SPHERE)) * (1 + 1e-9) + 1e-9, ze)
    f = np.arccos(d1)
    f += np.arccos(d2)
    plb = SPH_LO * R_SPHERE * (f - 2 * ze.piece_rad[p]) - 2.0
    keep = plb <= limit[r]
    return r[keep], p[keep], plb[keep]



def entering_bounds_many(
    lon1: FloatArray, lat1: FloatArray, lon2: FloatArray, lat2: FloatArray, limit: FloatArray, ze: ZoneEdges,
    target: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Bounds (lower, upper) on min over the zone boundary of d(p1, x) + d(x, p2), for many pairs.

    Edges whose focal sum certainly exceeds `limit` are skipped: the lower bound is then capped at `limit`
    and the upper bound may be inf. With `target`, refinement stops as soon as the bounds are on one side
    of it (lower > target, or upper <= target) instead of agreeing to ``REL_TOL``: both stay certified.
    Without it they agree to ``REL_TOL`` plus the Lambert allowance (``_lam_gap``) unless the work ceiling
    (``SPLIT_MAX`` entries split per round) stopped the refinement first.

    Memory is bounded whatever the pairs and the zone: pairs go in blocks of ``ROW_BLOCK`` (the cap tests
    are dense over pairs x piece groups), then in blocks of about ``EDGE_BLOCK`` (pair, edge) entries (one
    pair's entries are never split: they are at most the zone's edges).
    """
    n = len(lon1)
    lo = np.full(n, np.inf)
    up = np.full(n, np.inf)
    if n == 0:
        return lo, up
    if target is not None:
        # Pieces beyond the target cannot settle anything: the lower bound is then capped just above it.
        limit = np.minimum(limit, target * (1 + 1e-6) + 1.0)
    floor = np.full(n, np.inf)
    u1, u2 = unit(lon1, lat1), unit(lon2, lat2)
    skip = None
    if target is not None:
        # Edges whose every value (focal sums at the ends, the first lower bound) is certainly above both the
        # capped limit and target / (1 - REL_TOL) need no Lambert distance: they would change neither bound where
        # it matters (``_refine``), so they are dropped before it.
        skip = np.maximum(limit, target / (1 - REL_TOL)) * (1 + 1e-9) + 1.0
    fl = FixLegs(lon1, lat1, lon2, lat2)  # the fixes' reduced latitudes, once for every edge of the zone
    alon, ared, _, _ = ze.vertices()
    for s in range(0, n, ROW_BLOCK):
        e_ = min(n, s + ROW_BLOCK)
        # Group, then piece level, on the sphere: true distance >= SPH_LO x great-circle distance.
        ri, pi, plb = _focal_pieces(u1[s:e_], u2[s:e_], limit[s:e_], ze)  # (slices: views, not gathers)
        if ri.size == 0:
            continue
        ri += s
        # Upper bound from each piece's first vertex, then drop pieces that cannot beat it.
        if skip is None:
            l1, l2 = fl.legs_at(ri, alon, ared, ze.piece_start[pi])
            fv = _lam_hi(l1) + _lam_hi(l2)
        else:  # (a vertex certainly beyond the threshold changes nothing that matters either: see ``_refine``)
            fv = np.full(ri.size, np.inf)
            near = vertex_near(ri, ze.piece_start[pi], ze, u1, u2, skip)
            l1, l2 = fl.legs_at(ri[near], alon, ared, ze.piece_start[pi[near]])
            fv[near] = _lam_hi(l1) + _lam_hi(l2)
        np.minimum.at(up, ri, fv)
        up_ri = up[ri]
        keep = plb <= np.minimum(up_ri, limit[ri])
        if target is not None:
            keep &= up_ri > target[ri]  # a vertex within the target already settles the pair
        ri, pi = ri[keep], pi[keep]
        if ri.size == 0:
            continue
        # Entries per pair, then blocks of consecutive pairs (ri is sorted) of about EDGE_BLOCK entries.
        cum = np.cumsum(ze.piece_end[pi] - ze.piece_start[pi])
        cuts = np.searchsorted(cum, np.arange(EDGE_BLOCK, int(cum[-1]), EDGE_BLOCK))
        cuts = np.unique(np.searchsorted(ri, ri[np.minimum(cuts, ri.size - 1)]))  # at pair boundaries
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, ri.size], strict=True):
            if b > a:
                _refine(fl, ri[a:b], pi[a:b], ze, up, floor, target, None if skip is None else (u1, u2, skip))
    lo = np.minimum(np.minimum(floor, up), limit)
    return np.maximum(lo, 0.0), up


def _refine(
    fl: FixLegs, ri: IntArray, pi: IntArray, ze: ZoneEdges, up: FloatArray, floor: FloatArray,
    target: FloatArray | None, skip: tuple[FloatArray, FloatArray, FloatArray] | None = None,
) -> None:
    """Bound the focal sum on the edges of pieces `pi` for pairs `ri`, lowering `up` and `floor` in place.

    With `skip` (u1, u2, threshold per pair), edges whose values all certainly exceed the threshold are left out
    (``edges._expand_near``). With a target, such an edge changes nothing that matters: its lower bound is
    above the capped limit (``lo`` takes the limit), and where its ends would lower ``up`` both values are above
    target / (1 - REL_TOL), so every entry of the pair is selected for splitting (or not) alike, no pair is
    settled "possible" by it, and an upper bound above the limit is not used (``ex`` is False either way).
    """
    r, e = _expand(ri, pi, ze) if skip is None else _expand_near(ri, pi, ze, *skip)
    ax, ay, bx, by = ze.a[e, 0], ze.a[e, 1], ze.b[e, 0], ze.b[e, 1]

    def focal(x: FloatArray, y: FloatArray, rr: IntArray) -> FloatArray:
        d1, d2 = fl.legs(rr, x, y)  # lambert(fix 1, x) and lambert(x, fix 2): the same values
        return d1 + d2

    alon, ared, blon, bred = ze.vertices()
    d1, d2 = fl.legs_at(r, alon, ared, e)  # (the edges' ends: their reduced latitudes are the zone's, once)
    fa = d1 + d2
    # An edge's end is the next edge's start (same pair, same ring): reuse its value.
    fb = np.empty_like(fa)
    same = np.zeros(e.size, dtype=bool)
    if e.size > 1:
        same[:-1] = (e[1:] == e[:-1] + 1) & (r[1:] == r[:-1]) & ze.cont[e[:-1]]
    fb[:-1][same[:-1]] = fa[1:][same[:-1]]
    o = ~same
    d1, d2 = fl.legs_at(r[o], blon, bred, e[o])
    fb[o] = d1 + d2
    length = ze.length[e]
    np.minimum.at(up, r, _lam_hi(np.minimum(fa, fb)))
    # Certified lower bound on the edge (length bounds the true length of the lon/lat edge).
    lb = _lam_lo((fa + fb) / 2) - length
    t = _SPLIT_T
    for _ in range(8):
        if target is not None:
            # Only what can still decide "focal sum <= target" for pairs not yet settled either way.
            sel = (lb < up[r] * (1 - REL_TOL)) & (lb <= target[r]) & (up[r] > target[r])
        else:
            # The two bounds of one value differ by the Lambert allowance on both sides (2 m and more),
            # which no splitting closes: aiming at REL_TOL alone kept every sub-edge near the minimum of a
            # short pair (focal sums under ~11 km) selected, 8 times more of them each round (issue 20:
            # 13 GB for one pair of fixes among the Lofoten skerries).
            sel = lb < up[r] * (1 - REL_TOL) - _lam_gap(up[r])
        sel &= length > SPLIT_MIN_M  # splitting a sub-edge this short cannot raise its bound by more
        if int(np.count_nonzero(sel)) > SPLIT_MAX:
            # A ceiling on the work of one round (its temporaries are ~9 times the entries split): split
            # the entries furthest below their pair's upper bound; the others keep their (certified) bounds.
            cand = np.flatnonzero(sel)
            rel = lb[cand] / np.maximum(up[r[cand]], 1.0)
            sel[cand[np.argpartition(rel, SPLIT_MAX)[SPLIT_MAX:]]] = False
        # Entries not refined further hold their bound.
        np.minimum.at(floor, r[~sel], lb[~sel])
        if not sel.any():
            return
        r, ax, ay, bx, by, fa, fb = r[sel], ax[sel], ay[sel], bx[sel], by[sel], fa[sel], fb[sel]
        px = ax[:, None] + (bx - ax)[:, None] * t[None, :]
        py = ay[:, None] + (by - ay)[:, None] * t[None, :]
        rr = np.repeat(r, 7)
        fi = focal(px[:, 1:-1].ravel(), py[:, 1:-1].ravel(), rr).reshape(-1, 7)
        f = np.column_stack([fa, fi, fb])
        np.minimum.at(up, r, _lam_hi(fi.min(axis=1)))
        ax, ay = px[:, :-1].ravel(), py[:, :-1].ravel()
        bx, by = px[:, 1:].ravel(), py[:, 1:].ravel()
        fa, fb = f[:, :-1].ravel(), f[:, 1:].ravel()
        r = np.repeat(r, 8)
        mx, my = (ax + bx) / 2, (ay + by) / 2
        # A sub-edge this short is as long as its two half-chords, up to a tiny fraction.
        length = _lam_hi(lambert_via(ax, ay, mx, my, bx, by)) * (1 + 1e-4) + 0.01
        lb = _lam_lo((fa + fb) / 2) - length
    np.minimum.at(floor, r, lb)


def settle_zone(
    lon1: FloatArray, lat1: FloatArray, lon2: FloatArray, lat2: FloatArray, r1: FloatArray, r2: FloatArray,
    b_hi: FloatArray, direct: FloatArray, limit: FloatArray, zone: BaseGeometry, ze: ZoneEdges,
    *, precise: bool = True, two_leg: bool = False,
) -> tuple[NDArray[np.int8], FloatArray, FloatArray, NDArray[np.bool_]]:
    """Settle what can be settled in bulk for many pairs against one zone.

    Returns (status, detour, margin, exact): status is SETTLE_IMPOSSIBLE, SETTLE_POSSIBLE, or
    SETTLE_UNSETTLED for pairs left to ``verdicts.evaluate``; the other arrays follow ``evaluate``'s
    definitions for the settled ones. With ``precise=False`` the entering length is refined only until
    the verdict is settled: the verdicts are the same, the detours of "impossible" may be certified lower
    bounds (``exact`` False) and margins lower bounds. With ``two_leg``, pairs whose direct arc meets the
    zone are settled "possible" when ``two_leg_paths`` (then ``lattice_paths``, paths of many legs) finds a
    path around it within the budget (then ``detour`` is that path's length, an upper bound on the shortest
    one, and ``margin`` a lower bound), and SETTLE_NECESSARY when ``fence_bound`` shows every avoiding path
    exceeds it (``detour`` is then the lower bound budget + r, ``margin`` 0, a lower bound), or when
    ``turned_fence_bound`` or ``hull_lower_bound`` (``hullbound``: taut paths round a hull) shows every avoiding
    path exceeds ``cut = (budget + r)(1 + 1e-6) + 1 m``, the length at which ``evaluate`` stops looking in
    fast mode (``detour`` is then ``cut``, ``margin`` ``cut - r - budget``, as ``evaluate`` reports them when
    its search ends there; when it ends below ``cut`` its values are lower by at most ``cut - budget - r``,
    i.e. 1e-6 of the budget plus 1 m: the same verdict, both certified lower bounds).
    """
    n = len(lon1)
    status = np.zeros(n, dtype=np.int8)
    detour = np.full(n, np.nan)
    margin = np.full(n, np.nan)
    exact = np.zeros(n, dtype=bool)
    r = r1 + r2
    # A fix inside the zone (or on its boundary) and long gaps go the precise way.
    ok = ~(shapely.intersects_xy(zone, lon1, lat1) | shapely.intersects_xy(zone, lon2, lat2))
    ok &= limit <= LAM_MAX_M / 2
    # The precise path tests insideness with great-circle edges, this one with lon/lat edges: they agree
    # unless a fix lies between the two versions of an edge, i.e. within that edge's tolerance of it.
    for lo_, la_ in ((lon1, lat1), (lon2, lat2)):
        i_ok = np.flatnonzero(ok)
        u = unit(lo_[i_ok], la_[i_ok])
        ok[i_ok] = _arc_clear(u, u, ze)
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return status, detour, margin, exact

    def put(k: NDArray[np.int64], how: int, det: FloatArray, mar: FloatArray | float,
            ex: NDArray[np.bool_] | bool = False) -> None:
        # settle rows k: the verdict, its detour and margin, whether the detour is exact (the bounds are not)
        status[k], detour[k], margin[k], exact[k] = how, det, mar, ex

    def put_past_cut(k: NDArray[np.int64], cut: FloatArray) -> None:
        # "necessary": every avoiding path exceeds ``cut``; detour and margin as ``evaluate`` reports them there
        put(k, SETTLE_NECESSARY, cut, np.minimum(cut - r[k] - b_hi[k], b_hi[k] - (direct[k] - r[k])))

    def slanted_fences(j: NDArray[np.int64], feet: tuple[float, ...]) -> NDArray[np.bool_]:
        # settle rows j that a turned fence with its foot at one of ``feet`` proves "necessary"; returns which it did
        cut = (b_hi[j] + r[j]) * (1 + 1e-6) + 1.0
        nec = turned_fence_bound(lon1[j], lat1[j], lon2[j], lat2[j], cut, r1[j], r2[j], zone, ze, feet)
        put_past_cut(j[nec], cut[nec])
        return nec

    e_lo, e_hi = entering_bounds_many(lon1[idx], lat1[idx], lon2[idx], lat2[idx], limit[idx], ze,
                                      None if precise else b_hi[idx] + r[idx])
    flip_incons = b_hi[idx] - (direct[idx] - r[idx])
    imp = e_lo - r[idx] > b_hi[idx]
    ex = e_hi < limit[idx]
    if not precise:
        ex &= e_hi <= e_lo * (1 + REL_TOL) + LAM_ABS
    i = idx[imp]
    put(i, SETTLE_IMPOSSIBLE, np.where(ex[imp], e_hi[imp], e_lo[imp]),
        np.minimum(e_lo[imp] - r[i] - b_hi[i], flip_incons[imp]), ex[imp])
    # "possible" needs the entering length certainly within the budget: in between, ``evaluate`` decides
    # with its own bounds.
    rest = ~imp & (e_hi - r[idx] <= b_hi[idx])
    if rest.any():
        j = idx[rest]
        clear = _arc_clear(unit(lon1[j], lat1[j]), unit(lon2[j], lat2[j]), ze)
        k = j[clear]
        put(k, SETTLE_POSSIBLE, direct[k], np.maximum(b_hi[k] - (np.maximum(e_hi[rest][clear], direct[k]) - r[k]), 0.0),
            ex[rest][clear])
        if two_leg and (~clear).any():
            # The direct arc meets the zone: look for a two-leg path around it within the budget ...
            j2 = j[~clear]
            e2 = e_hi[rest][~clear]
            got, ln, _, _ = two_leg_paths(lon1[j2], lat1[j2], lon2[j2], lat2[j2], b_hi[j2] + r[j2], ze)
            k2 = j2[got]
            # (the path's length: an upper bound on the avoiding length)
            put(k2, SETTLE_POSSIBLE, ln[got], np.maximum(b_hi[k2] - (np.maximum(e2[got], ln[got]) - r[k2]), 0.0))
            # ... or a fence inside the zone across the ellipse, which makes it "necessary".
            j3 = j2[~got]
            nec = fence_bound(lon1[j3], lat1[j3], lon2[j3], lat2[j3], b_hi[j3] + r[j3], r1[j3], r2[j3], zone, ze)
            k3 = j3[nec]
            # (the budget: a lower bound on the avoiding length; margin 0, a lower bound: the fence shows only
            # that the verdict holds)
            put(k3, SETTLE_NECESSARY, b_hi[k3] + r[k3], 0.0)
            # ... or the taut path around one part's convex hull longer than ``evaluate``'s cut (below) ...
            j6 = j3[~nec]
            e6 = e2[~got][~nec]
            cut6 = (b_hi[j6] + r[j6]) * (1 + 1e-6) + 1.0
            if ze.hulls is None:
                ze.hulls = part_hulls(zone, float(ze.tol.max())) or False
            nec6 = np.zeros(j6.size, dtype=bool)
            if ze.hulls is not False:
                plain = (r1[j6] == 0) & (r2[j6] == 0)  # (error discs cut from the zone are not in the hulls)
                nec6[plain] = hull_lower_bound(lon1[j6[plain]], lat1[j6[plain]], lon2[j6[plain]], lat2[j6[plain]],
                                               ze.hulls, cut6[plain]) > cut6[plain]
            put_past_cut(j6[nec6], cut6[nec6])
            # ... or a fence at a slant, shown for the length at which ``evaluate`` (fast mode) stops looking:
            # then that length is a lower bound on the avoiding length, as the one ``evaluate`` reports. (The
            # fences of TURN_FENCES_FIRST before the lattice, which is slow where it finds nothing, the others
            # after every path step. A pair with such a fence has no avoiding path within the budget, so no path
            # step could settle it, and the order changes no result.)
            j4 = j6[~nec6]
            e4 = e6[~nec6]
            nec = slanted_fences(j4, TURN_FENCES_FIRST)
            # ... or a path of many legs through a lattice in the ellipse (between islands, along a coast) ...
            j5 = j4[~nec]
            e5 = e4[~nec]
            got5, ln5 = lattice_paths(lon1[j5], lat1[j5], lon2[j5], lat2[j5], b_hi[j5] + r[j5], ze)
            k5 = j5[got5]
            # (the path's length: an upper bound on the avoiding length)
            put(k5, SETTLE_POSSIBLE, ln5[got5],
                np.maximum(b_hi[k5] - (np.maximum(e5[got5], ln5[got5]) - r[k5]), 0.0))
            # ... or a path round one part's hull, or through several parts' hull vertices, then a lattice with columns
            # crowded near the fixes, then through the rings' salient corners (tight ways round a corner or islands,
            # threading out of a strait or a bay): the path's length is an upper bound on the avoiding length.
            j7 = j5[~got5]
            e7 = e5[~got5]
            got7 = np.zeros(j7.size, dtype=bool)
            ln7 = np.full(j7.size, np.inf)
            if ze.hulls is not False and j7.size:
                got7, ln7 = hull_paths(lon1[j7], lat1[j7], lon2[j7], lat2[j7], b_hi[j7] + r[j7], ze.hulls, ze)
                g9 = np.flatnonzero(~got7)  # (then round several parts at once: through their hulls' vertices)
                i9 = j7[g9]
                got9, ln9 = hull_graph_paths(lon1[i9], lat1[i9], lon2[i9], lat2[i9], b_hi[i9] + r[i9], ze.hulls, ze)
                got7[g9[got9]], ln7[g9[got9]] = True, ln9[got9]
            g8 = np.flatnonzero(~got7)
            i8 = j7[g8]
            got8, ln8 = graded_lattice_paths(lon1[i8], lat1[i8], lon2[i8], lat2[i8], b_hi[i8] + r[i8], ze)
            got7[g8[got8]], ln7[g8[got8]] = True, ln8[got8]
            rn = zone_ring_nodes(zone, ze) if (~got7).any() else None
            if rn is not None:  # (last, through the rings' salient corners: out of a bay that holds a fix)
                g10 = np.flatnonzero(~got7)
                i10 = j7[g10]
                got10, ln10 = ring_graph_paths(lon1[i10], lat1[i10], lon2[i10], lat2[i10], b_hi[i10] + r[i10], rn, ze)
                got7[g10[got10]], ln7[g10[got10]] = True, ln10[got10]
            k7 = j7[got7]
            put(k7, SETTLE_POSSIBLE, ln7[got7], np.maximum(b_hi[k7] - (np.maximum(e7[got7], ln7[got7]) - r[k7]), 0.0))
            # ... or, last (it serves few pairs), a fence at a slant with its foot at one of the other places (near
            # the fixes).
            slanted_fences(j7[~got7], TURN_FENCES_MORE)
    return status, detour, margin, exact


def two_leg_paths(
    lon1: FloatArray, lat1: FloatArray, lon2: FloatArray, lat2: FloatArray, budget: FloatArray, ze: ZoneEdges,
) -> tuple[NDArray[np.bool_], FloatArray, FloatArray, FloatArray]:
    """Find, for each pair, a path p1 → v → p2 of two great-circle legs clear of every zone edge within `budget`.

    Waypoints v are tried in the order of ``WAYPOINTS``, then ``RING``, inside the (spherical, approximate)
    ellipse of the budget; a waypoint counts only when its focal sum, with the Andoyer-Lambert allowance, is
    within the budget and both legs are certainly clear of the zone (``_arc_clear``: neither entering nor
    touching).
    Such a path avoids the zone, so the shortest avoiding path is at most its length. Returns (found,
    length of the path found or inf, waypoint lon, waypoint lat (NaN where none was found)).
    """
    n = len(lon1)
    found = np.zeros(n, dtype=bool)
    length = np.full(n, np.inf)
    wlon, wlat = np.full(n, np.nan), np.full(n, np.nan)
    if n == 0:
        return found, length, wlon, wlat
    u1, u2 = unit(lon1, lat1), unit(lon2, lat2)
    m = u1 + u2
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    ax = u2 - u1
    ax -= np.sum(ax * m, axis=1, keepdims=True) * m
    ax /= np.maximum(np.linalg.norm(ax, axis=1, keepdims=True), 1e-300)
    nrm = np.cross(m, ax)
    # Half-axes on the sphere (angles): semi-major from the budget, focal distance from the fixes.
    c = 0.5 * np.arccos(np.clip(np.sum(u1 * u2, axis=1), -1, 1))
    big = np.minimum(budget / (2 * R_SPHERE * SPH_HI), 0.45 * math.pi)
    small = np.arccos(np.clip(np.cos(big) / np.maximum(np.cos(c), 1e-12), -1, 1))  # spherical Pythagoras
    todo = np.flatnonzero(big > c)
    fl = FixLegs(lon1, lat1, lon2, lat2)
    for fr, sin_th, sd_cos in _stages():
        if todo.size == 0:
            break
        k = fr.size
        rows = np.repeat(todo, k)  # row-major: all candidates of a row together, in order
        # (rows x candidates by broadcasting, not gathers of repeated rows and tiled constants: the same values)
        x = np.tan(big[todo][:, None] * fr) * sin_th
        y = sd_cos * np.tan(small[todo][:, None] * fr)
        v = m[todo][:, None, :] + x[:, :, None] * ax[todo][:, None, :]
        v += y[:, :, None] * nrm[todo][:, None, :]
        v = v.reshape(-1, 3)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        vlon = np.degrees(np.arctan2(v[:, 1], v[:, 0]))
        vlat = np.degrees(np.arcsin(np.clip(v[:, 2], -1, 1)))
        # The first candidate of each row within the budget (``_lam_hi`` on both legs) whose legs are both clear,
        # in one compiled pass that stops measuring and testing a row at its first.
        c = np.ascontiguousarray
        first, f = _first_path_kernel(fl.lon1, fl.b1, fl.cb1, fl.lon2, fl.b2, fl.cb2, c(u1), c(u2),
                                      c(budget, dtype=np.float64), c(rows, dtype=np.int64), c(vlon), c(vlat), c(v),
                                      ze.tree())
        rr = rows[first]
        found[rr] = True
        length[rr] = f
        wlon[rr], wlat[rr] = vlon[first], vlat[first]
        todo = todo[~found[todo]]
    return found, length, wlon, wlat


__all__ = [  # (the edge arrays, the Lambert distance and the clearance test live in ``edges``, fences in ``fences``)
    "FENCES", "FENCE_HALVINGS", "LAM_ABS", "LAM_MAX_M", "LAM_REL", "TURNS", "TURN_FENCES", "ZoneEdges", "_arc_clear",
    "_expand", "_expand_groups", "entering_bounds_many", "fence_bound", "half_chord", "lambert", "settle_zone",
    "turned_fence_bound", "two_leg_paths", "zone_edges",
]
