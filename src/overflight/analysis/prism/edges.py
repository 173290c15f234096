"""Zone boundary edges for the bulk prism stage.

Edge arrays in pieces and groups with bounding caps, the Andoyer-Lambert distance with its allowance, and
the compiled test that an arc is clear of every edge.

The Andoyer-Lambert distance's error against GeographicLib stays below 1.5e-6 of the distance up to
6,000 km (checked on 2·10^6 random pairs, poles included); it is used with a 1e-5 + 1 m allowance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from overflight._jit import grow, kernel
from overflight.analysis.prism._geo import R_SPHERE, SPH_HI, SPH_LO, FloatArray, unit
from overflight.geodesy import WGS84_A, WGS84_F

IntArray = NDArray[np.int64]

LAM_REL = 1e-5  # allowance on the Andoyer-Lambert distance: relative ...
LAM_ABS = 1.0  # ... plus absolute (metres)
LAM_MAX_M = 6_000_000.0  # the allowance was checked up to this distance
NEAR_SCALE = (1 - 5e-5) * SPH_LO * R_SPHERE  # metres per radian of the bounds of ``_expand_near``, ``vertex_near``
EDGE_PIECE = 16  # boundary edges per piece (the unit of pruning)
GROUP = 16  # pieces per group (a coarser first level of pruning)
QUAD = 4  # edges per quad (a finer level of caps within pieces, for the lattice's leg test)


@kernel  # a plain kernel: LLVM inlines it into its callers anyway
def _lam_reduced(lo1: float, b1: float, cb1: float, lo2: float, b2: float, cb2: float) -> float:
    """The Andoyer-Lambert distance from reduced latitudes `b1`, `b2` and their cosines (the same operations)."""
    dl = math.radians(lo2 - lo1)
    h = math.sin((b2 - b1) / 2) ** 2 + cb1 * cb2 * math.sin(dl / 2) ** 2
    sg = 2 * math.asin(math.sqrt(min(max(h, 0.0), 1.0)))
    x = y = 0.0
    if sg > 0:
        p, q = (b1 + b2) / 2, (b2 - b1) / 2
        x = (sg - math.sin(sg)) * math.sin(p) ** 2 * math.cos(q) ** 2 / math.cos(sg / 2) ** 2
        y = (sg + math.sin(sg)) * math.cos(p) ** 2 * math.sin(q) ** 2 / math.sin(sg / 2) ** 2
    return WGS84_A * (sg - WGS84_F / 2 * (x + y))


@kernel
def _lambert_kernel(ends: FloatArray) -> FloatArray:
    """`ends`: (4, n) rows lon1, lat1, lon2, lat2 in degrees."""
    out = np.empty(ends.shape[1])
    for k in range(ends.shape[1]):
        b1 = math.atan((1 - WGS84_F) * math.tan(math.radians(ends[1, k])))
        b2 = math.atan((1 - WGS84_F) * math.tan(math.radians(ends[3, k])))
        out[k] = _lam_reduced(ends[0, k], b1, math.cos(b1), ends[2, k], b2, math.cos(b2))
    return out


def lambert(lon1: object, lat1: object, lon2: object, lat2: object) -> FloatArray:
    """Andoyer-Lambert geodesic distance on WGS84 in metres (inputs broadcast; see the module note on accuracy)."""
    a, b, c, d = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (lon1, lat1, lon2, lat2)))
    ends = np.stack([v.reshape(-1) for v in (a, b, c, d)])
    return np.asarray(_lambert_kernel(ends), dtype=np.float64).reshape(a.shape)




@kernel
def _reduced_kernel(lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    b = np.empty(lat.size)
    cb = np.empty(lat.size)
    for k in range(lat.size):
        b[k] = math.atan((1 - WGS84_F) * math.tan(math.radians(lat[k])))
        cb[k] = math.cos(b[k])
    return b, cb


@kernel
def _legs_kernel(
    lon1: FloatArray, b1: FloatArray, cb1: FloatArray, lon2: FloatArray, b2: FloatArray, cb2: FloatArray,
    rows: IntArray, x: FloatArray, y: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    n = x.size
    d1 = np.empty(n)
    d2 = np.empty(n)
    for k in range(n):
        r = rows[k]
        bv = math.atan((1 - WGS84_F) * math.tan(math.radians(y[k])))
        cbv = math.cos(bv)
        d1[k] = _lam_reduced(lon1[r], b1[r], cb1[r], x[k], bv, cbv)
        d2[k] = _lam_reduced(x[k], bv, cbv, lon2[r], b2[r], cb2[r])
    return d1, d2


@kernel
def _legs_reduced_kernel(
    lon1: FloatArray, b1: FloatArray, cb1: FloatArray, lon2: FloatArray, b2: FloatArray, cb2: FloatArray,
    rows: IntArray, x: FloatArray, bx: FloatArray, cbx: FloatArray, pts: IntArray,
) -> tuple[FloatArray, FloatArray]:
    """``_legs_kernel`` at points ``pts`` of arrays whose reduced latitudes `bx` (and cosines) are known."""
    n = pts.size
    d1 = np.empty(n)
    d2 = np.empty(n)
    for k in range(n):
        r = rows[k]
        q = pts[k]
        d1[k] = _lam_reduced(lon1[r], b1[r], cb1[r], x[q], bx[q], cbx[q])
        d2[k] = _lam_reduced(x[q], bx[q], cbx[q], lon2[r], b2[r], cb2[r])
    return d1, d2


@kernel
def _via_kernel(ax: FloatArray, ay: FloatArray, mx: FloatArray, my: FloatArray, bx: FloatArray,
                by: FloatArray) -> FloatArray:
    out = np.empty(ax.size)
    for k in range(ax.size):
        ba = math.atan((1 - WGS84_F) * math.tan(math.radians(ay[k])))
        bm = math.atan((1 - WGS84_F) * math.tan(math.radians(my[k])))
        bb = math.atan((1 - WGS84_F) * math.tan(math.radians(by[k])))
        cm = math.cos(bm)
        out[k] = (_lam_reduced(ax[k], ba, math.cos(ba), mx[k], bm, cm)
                  + _lam_reduced(mx[k], bm, cm, bx[k], bb, math.cos(bb)))
    return out


def lambert_via(ax: FloatArray, ay: FloatArray, mx: FloatArray, my: FloatArray, bx: FloatArray,
                by: FloatArray) -> FloatArray:
    """``lambert(a, m) + lambert(m, b)`` element-wise (the same values; m's reduced latitude computed once)."""
    f = np.ascontiguousarray
    return np.asarray(_via_kernel(f(ax, dtype=np.float64), f(ay, dtype=np.float64), f(mx, dtype=np.float64),
                                  f(my, dtype=np.float64), f(bx, dtype=np.float64), f(by, dtype=np.float64)),
                      dtype=np.float64)


class FixLegs:
    """The fixes of many pairs prepared for ``legs``: their reduced latitudes (and cosines), computed once."""

    def __init__(self, lon1: FloatArray, lat1: FloatArray, lon2: FloatArray, lat2: FloatArray) -> None:
        f = np.ascontiguousarray
        self.lon1, self.lon2 = f(lon1, dtype=np.float64), f(lon2, dtype=np.float64)
        self.b1, self.cb1 = _reduced_kernel(f(lat1, dtype=np.float64))
        self.b2, self.cb2 = _reduced_kernel(f(lat2, dtype=np.float64))

    def legs(self, rows: IntArray, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``(lambert(fix 1 of rows, (x, y)), lambert((x, y), fix 2 of rows))``: the same values, element-wise.

        The reduced latitude of each point is computed once for both legs, those of the fixes once per pair.
        """
        f = np.ascontiguousarray
        return _legs_kernel(self.lon1, self.b1, self.cb1, self.lon2, self.b2, self.cb2,  # type: ignore[no-any-return]
                            f(rows, dtype=np.int64), f(x, dtype=np.float64), f(y, dtype=np.float64))


    def legs_at(self, rows: IntArray, lon: FloatArray, red: tuple[FloatArray, FloatArray], pts: IntArray,
                ) -> tuple[FloatArray, FloatArray]:
        """``legs(rows, lon[pts], lat[pts])`` for points whose reduced latitudes ``red`` are known.

        ``red`` is ``_reduced_kernel(lat)``: the same values, without recomputing them (a zone's vertices,
        once per zone).
        """
        f = np.ascontiguousarray
        return _legs_reduced_kernel(  # type: ignore[no-any-return]
            self.lon1, self.b1, self.cb1, self.lon2, self.b2, self.cb2, f(rows, dtype=np.int64), lon, red[0], red[1],
            f(pts, dtype=np.int64))


def _lam_lo(v: FloatArray) -> FloatArray:
    return np.asarray(v * (1 - LAM_REL) - LAM_ABS, dtype=np.float64)


def _lam_hi(v: FloatArray) -> FloatArray:
    return np.asarray(v * (1 + LAM_REL) + LAM_ABS, dtype=np.float64)


def _lam_gap(v: FloatArray) -> FloatArray:
    """Least difference of ``_lam_hi`` and ``_lam_lo`` around values near `v` (what refinement cannot close)."""
    return np.asarray(2 * (LAM_REL * v + LAM_ABS), dtype=np.float64)


@dataclass
class ZoneEdges:
    """A zone's boundary edges (every ring), grouped in pieces of consecutive edges with bounding caps."""

    a: FloatArray  # (ne, 2) lon/lat of the edge starts
    b: FloatArray  # (ne, 2) ends
    ua: FloatArray  # (ne, 3) unit vectors
    ub: FloatArray
    normal: FloatArray  # (ne, 3) unit normal of the edge's great circle
    tol: FloatArray  # (ne,) radians: the lon/lat edge strays at most this far from the great-circle edge
    length: FloatArray  # (ne,) metres: upper bound on the length of the lon/lat edge as a curve
    piece_start: IntArray  # (np,)
    piece_end: IntArray
    piece_c: FloatArray  # (np, 3) cap centres
    piece_rad: FloatArray  # (np,) radians: covers both the great-circle and the lon/lat edges
    group_start: IntArray  # (ng,) groups of GROUP consecutive pieces (first index) ...
    group_end: IntArray
    group_c: FloatArray  # (ng, 3) ... with caps covering their pieces' caps
    group_rad: FloatArray  # (ng,) radians
    cont: NDArray[np.bool_]  # (ne,) the edge's end is the next edge's start
    sin_tol: FloatArray  # (ne,) sin(tol), the side-test threshold of ``_arc_clear``
    has_normal: NDArray[np.bool_]  # (ne,) False for a degenerate (zero-length) edge
    piece_off: FloatArray  # (np,) sin(min(piece_rad + 1e-9, pi / 2)): a piece's reach off a great circle
    _tree: EdgeTree | None = None
    _vertices: tuple[FloatArray, tuple[FloatArray, FloatArray], FloatArray, tuple[FloatArray, FloatArray]] | None = None
    hulls: Any = None  # the parts' convex hulls (``hullbound.PartHulls``, False when none), built on first use
    _edge_caps: tuple[FloatArray, FloatArray, FloatArray] | None = None
    _near: tuple[float, float, FloatArray, FloatArray] | None = None  # ``near_consts``, once per zone

    def near_consts(self) -> tuple[float, float, FloatArray, FloatArray]:
        """Constants of ``near_pieces_all``, once per zone rather than per call.

        2 max group_rad, 2 max piece_rad, and (n, 2) cos and sin of 2 group_rad, of 2 piece_rad.
        """
        if self._near is None:
            f = np.ascontiguousarray
            self._near = (2.0 * float(self.group_rad.max()), 2.0 * float(self.piece_rad.max()),
                          f(np.column_stack([np.cos(2.0 * self.group_rad), np.sin(2.0 * self.group_rad)])),
                          f(np.column_stack([np.cos(2.0 * self.piece_rad), np.sin(2.0 * self.piece_rad)])))
        return self._near
    _quads: tuple[FloatArray, FloatArray] | None = None

    def quads(self) -> tuple[FloatArray, FloatArray]:
        """Caps of every ``QUAD`` consecutive edges (from edge 0: inside pieces), built as the pieces' caps.

        Centres (nq, 3) and ``sin(min(rad + 1e-9, pi / 2))`` (the reach off a great circle, as ``piece_off``):
        ``lattice._leg_clear`` skips the edges of a quad whose cap is beyond the arc's great circle, which the
        first side test of each of its edges would pass.
        """
        if self._quads is None:
            ne = self.ua.shape[0]
            st = np.arange(0, ne, QUAD)
            en = np.minimum(st + QUAD, ne)
            cs = np.vstack([np.zeros((1, 3)), np.cumsum(self.ua + self.ub, axis=0)])
            c = cs[en] - cs[st]
            c = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-15)
            owner = np.repeat(np.arange(len(st)), en - st)
            seg = np.arccos(np.clip(np.sum(self.ua * self.ub, axis=1), -1, 1))
            ang = np.maximum(np.arccos(np.clip(np.sum(self.ua * c[owner], axis=1), -1, 1)),
                             np.arccos(np.clip(np.sum(self.ub * c[owner], axis=1), -1, 1))) + seg / 2 + self.tol
            rad = np.zeros(len(st))
            np.maximum.at(rad, owner, ang)
            rad = rad * 1.0001 + 1e-7
            self._quads = (np.ascontiguousarray(c), np.sin(np.minimum(rad + 1e-9, math.pi / 2)))
        return self._quads

    def edge_caps(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Caps holding each edge, both versions (as pieces' caps), for ``_expand_near``.

        Centres (ne, 3), and the cosine and sine of ``2 rad + length / NEAR_SCALE`` (radians).
        """
        if self._edge_caps is None:
            c = self.ua + self.ub
            c = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-15)
            half = np.maximum(np.arccos(np.clip(np.sum(self.ua * c, axis=1), -1, 1)),
                              np.arccos(np.clip(np.sum(self.ub * c, axis=1), -1, 1)))
            w = 2.0 * ((half + self.tol) * 1.0001 + 1e-7) + self.length / NEAR_SCALE
            self._edge_caps = (np.ascontiguousarray(c), np.cos(w), np.sin(w))
        return self._edge_caps

    def vertices(self) -> tuple[FloatArray, tuple[FloatArray, FloatArray], FloatArray, tuple[FloatArray, FloatArray]]:
        """(start lons, their reduced latitudes and cosines, end lons, theirs) for ``FixLegs.legs_at``."""
        if self._vertices is None:
            f = np.ascontiguousarray
            self._vertices = (f(self.a[:, 0], dtype=np.float64), _reduced_kernel(f(self.a[:, 1], dtype=np.float64)),
                              f(self.b[:, 0], dtype=np.float64), _reduced_kernel(f(self.b[:, 1], dtype=np.float64)))
        return self._vertices

    def tree(self) -> EdgeTree:
        """The arrays of the compiled clearance test, grouped."""
        if self._tree is None:
            self._tree = edge_tree(self)
        return self._tree


def zone_edges(g: BaseGeometry) -> ZoneEdges | None:
    """Edge arrays of a polygonal zone (None for point zones)."""
    if g.geom_type not in ("Polygon", "MultiPolygon"):
        return None
    rings = shapely.get_rings(shapely.get_parts(g))
    a_l, b_l = [], []
    for ring in rings:
        c = shapely.get_coordinates(ring)
        if len(c) < 2:
            continue
        a_l.append(c[:-1])
        b_l.append(c[1:])
    a, b = np.vstack(a_l), np.vstack(b_l)
    ua, ub = unit(a[:, 0], a[:, 1]), unit(b[:, 0], b[:, 1])
    nrm = np.cross(ua, ub)
    nn = np.linalg.norm(nrm, axis=1, keepdims=True)
    nrm = np.where(nn > 1e-15, nrm / np.maximum(nn, 1e-300), 0.0)
    # Deviation of the lon/lat edge from the great-circle edge: sampled at 5 interior points, padded (the
    # deviation is a smooth bump vanishing at both ends), plus 1 cm.
    dev = np.zeros(len(a))
    for t in (0.125, 0.25, 0.5, 0.75, 0.875):
        m = unit(a[:, 0] + t * (b[:, 0] - a[:, 0]), a[:, 1] + t * (b[:, 1] - a[:, 1]))
        dev = np.maximum(dev, np.abs(np.sum(m * nrm, axis=1)))
    tol = np.arcsin(np.clip(dev, 0, 1)) * 1.5 + 1e-9
    mid = (a + b) / 2
    length = (lambert(a[:, 0], a[:, 1], mid[:, 0], mid[:, 1]) + lambert(mid[:, 0], mid[:, 1], b[:, 0], b[:, 1]))
    length = _lam_hi(length) * (1 + 1e-4) + 2 * tol * R_SPHERE * SPH_HI
    ne = len(a)
    st = np.arange(0, ne, EDGE_PIECE)
    en = np.minimum(st + EDGE_PIECE, ne)
    cs = np.vstack([np.zeros((1, 3)), np.cumsum(ua + ub, axis=0)])
    c = cs[en] - cs[st]
    c = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-15)
    owner = np.repeat(np.arange(len(st)), en - st)
    seg = np.arccos(np.clip(np.sum(ua * ub, axis=1), -1, 1))
    ang = np.maximum(np.arccos(np.clip(np.sum(ua * c[owner], axis=1), -1, 1)),
                     np.arccos(np.clip(np.sum(ub * c[owner], axis=1), -1, 1))) + seg / 2 + tol
    rad = np.zeros(len(st))
    np.maximum.at(rad, owner, ang)
    rad = rad * 1.0001 + 1e-7
    gs = np.arange(0, len(st), GROUP)
    ge = np.minimum(gs + GROUP, len(st))
    gcs = np.vstack([np.zeros((1, 3)), np.cumsum(c, axis=0)])
    gc = gcs[ge] - gcs[gs]
    gc = gc / np.maximum(np.linalg.norm(gc, axis=1, keepdims=True), 1e-15)
    gown = np.repeat(np.arange(len(gs)), ge - gs)
    gang = np.arccos(np.clip(np.sum(c * gc[gown], axis=1), -1, 1)) + rad
    grad = np.zeros(len(gs))
    np.maximum.at(grad, gown, gang)
    cont = np.zeros(ne, dtype=bool)
    cont[:-1] = np.all(b[:-1] == a[1:], axis=1)
    return ZoneEdges(a, b, ua, ub, nrm, tol, length, st, en, c, rad, gs, ge, gc, grad * 1.0001 + 1e-7, cont,
                     np.sin(tol), np.any(nrm != 0, axis=1), np.sin(np.minimum(rad + 1e-9, math.pi / 2)))


def _expand_groups(ri: IntArray, gi: IntArray, ze: ZoneEdges) -> tuple[IntArray, IntArray]:
    """(row, group) pairs to (row, piece) pairs."""
    cnt = ze.group_end[gi] - ze.group_start[gi]
    r = np.repeat(ri, cnt)
    p = np.repeat(ze.group_start[gi] - np.concatenate([[0], np.cumsum(cnt)[:-1]]), cnt) + np.arange(int(cnt.sum()))
    return r, p



@kernel
def _beyond(d1: float, d2: float, ct: float, st: float, c2r: float, s2r: float) -> bool:
    """Whether acos(d1) + acos(d2) certainly exceeds t + 2 rad (cos t = ct, sin t = st, cos 2 rad = c2r, ...).

    Without arccos: both angles lie in [0, pi], so a sum within t + 2 rad < pi has a cosine at least
    cos(t + 2 rad); a cosine below that by more than rounding (1e-12) shows the sum is beyond. False when
    t + 2 rad may reach pi (nothing shown).
    """
    if not st > 0.0 or not c2r >= 0.0 or not ct * c2r - st * s2r > -1.0 + 1e-9 or st * c2r + ct * s2r < 0.0:
        return False  # (t not in (0, pi), 2 rad beyond pi / 2, or t + 2 rad possibly >= pi)
    cs = d1 * d2 - math.sqrt(max(0.0, 1.0 - d1 * d1)) * math.sqrt(max(0.0, 1.0 - d2 * d2))
    return cs < ct * c2r - st * s2r - 1e-12


@kernel
def _near_pieces_all_kernel(u1: FloatArray, u2: FloatArray, thr: FloatArray, cmin_g: FloatArray, cmin_p: FloatArray,
                            group_c: FloatArray, group_cs: FloatArray, group_start: IntArray, group_end: IntArray,
                            piece_c: FloatArray, piece_cs: FloatArray) -> tuple[IntArray, IntArray]:
    """The (row, piece) pairs of ``near_pieces_all``: rows in order, then pieces in order.

    A group's (piece's) bound is ``σ(u1, c) + σ(u2, c) - 2 rad`` over its cap, beyond ``thr[row]`` when each
    angle alone is (``cos < cmin``) or ``_beyond`` shows it; `group_cs`, `piece_cs`: (n, 2) cos and sin of
    2 rad.
    """
    n = u1.shape[0]
    cap = 1024
    r_out = np.empty(cap, dtype=np.int64)
    p_out = np.empty(cap, dtype=np.int64)
    m = 0
    for i in range(n):
        a0, a1, a2 = u1[i, 0], u1[i, 1], u1[i, 2]
        b0, b1, b2 = u2[i, 0], u2[i, 1], u2[i, 2]
        t, cg, cm = thr[i], cmin_g[i], cmin_p[i]
        ct, st = math.cos(t), math.sin(t)
        for g in range(group_c.shape[0]):
            c = group_c[g]
            e1 = min(max(a0 * c[0] + a1 * c[1] + a2 * c[2], -1.0), 1.0)
            e2 = min(max(b0 * c[0] + b1 * c[1] + b2 * c[2], -1.0), 1.0)
            if not (e1 >= cg and e2 >= cg) or _beyond(e1, e2, ct, st, group_cs[g, 0], group_cs[g, 1]):
                continue
            for p in range(group_start[g], group_end[g]):
                c = piece_c[p]
                d1 = min(max(a0 * c[0] + a1 * c[1] + a2 * c[2], -1.0), 1.0)
                d2 = min(max(b0 * c[0] + b1 * c[1] + b2 * c[2], -1.0), 1.0)
                if d1 >= cm and d2 >= cm and not _beyond(d1, d2, ct, st, piece_cs[p, 0], piece_cs[p, 1]):
                    if m == cap:
                        r_out = grow(r_out, 2 * cap, m)
                        p_out = grow(p_out, 2 * cap, m)
                        cap *= 2
                    r_out[m] = i
                    p_out[m] = p
                    m += 1
    return r_out[:m], p_out[:m]


@kernel
def _piece_cosines_kernel(u1: FloatArray, u2: FloatArray, rows: IntArray, pieces: IntArray, piece_c: FloatArray,
                          ) -> tuple[FloatArray, FloatArray]:
    """``np.clip(np.einsum("ij,ij->i", u[rows], piece_c[pieces]), -1, 1)`` for u1 and u2, bit for bit.

    Summed in the order of numpy's einsum over 3 columns, (x0 y0 + x2 y2) + x1 y1 (the plain order differs in
    the last bit for a third of the values); elements, not row views.
    """
    n = rows.size
    d1 = np.empty(n)
    d2 = np.empty(n)
    for k in range(n):
        i = rows[k]
        p = pieces[k]
        c0, c1, c2 = piece_c[p, 0], piece_c[p, 1], piece_c[p, 2]
        d1[k] = min(max((u1[i, 0] * c0 + u1[i, 2] * c2) + u1[i, 1] * c1, -1.0), 1.0)
        d2[k] = min(max((u2[i, 0] * c0 + u2[i, 2] * c2) + u2[i, 1] * c1, -1.0), 1.0)
    return d1, d2


def near_pieces_all(u1: FloatArray, u2: FloatArray, thr: FloatArray, ze: ZoneEdges,
                    ) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """The (row, piece) pairs whose spherical focal bound ``σ(u1, c) + σ(u2, c) - 2 rad`` may be within `thr`.

    `thr` in radians, per row. Every group of the zone for every row, in one compiled pass, without arccos: the
    groups whose bound may be within `thr`, then their pieces whose bound may be (a group's cap holds its
    pieces' caps, so a group beyond `thr` has every piece beyond it). Rows in order, then pieces (the order of
    the dense cap tests of groups and ``_expand_groups`` it replaced). Callers pad `thr` for rounding, then
    apply their own bound to what is left. Also returns the clipped cosines ``u1[row] · c``, ``u2[row] · c`` of
    each pair's piece centre c (those of ``np.clip(np.einsum(...), -1, 1)``).
    """
    f = np.ascontiguousarray
    thr = f(thr, dtype=np.float64)
    g_max, p_max, gcs, pcs = ze.near_consts()
    cmin_g = np.cos(np.minimum(thr + g_max, math.pi)) - 1e-9
    cmin_p = np.cos(np.minimum(thr + p_max, math.pi)) - 1e-9
    u1, u2 = f(u1, dtype=np.float64), f(u2, dtype=np.float64)
    r, p = _near_pieces_all_kernel(u1, u2, thr, cmin_g, cmin_p, ze.group_c, gcs, ze.group_start, ze.group_end,
                                   ze.piece_c, pcs)
    # (the cosines in a pass of their own: stored by the kernel above, they doubled its time)
    d1, d2 = _piece_cosines_kernel(u1, u2, r, p, ze.piece_c)
    return r, p, d1, d2


@kernel
def _expand_near_kernel(u1: FloatArray, u2: FloatArray, rows: IntArray, pieces: IntArray, piece_start: IntArray,
                        piece_end: IntArray, edge_c: FloatArray, edge_cw: FloatArray, edge_sw: FloatArray,
                        ct: FloatArray, st: FloatArray) -> tuple[IntArray, IntArray]:
    """``_expand``'s pairs less those ``_beyond`` shows past the angle of cosine ``ct[row]`` (``_expand_near``)."""
    total = 0
    for k in range(rows.size):
        total += piece_end[pieces[k]] - piece_start[pieces[k]]
    r_out = np.empty(total, dtype=np.int64)
    e_out = np.empty(total, dtype=np.int64)
    m = 0
    for k in range(rows.size):
        i = rows[k]
        a0, a1, a2 = u1[i, 0], u1[i, 1], u1[i, 2]
        b0, b1, b2 = u2[i, 0], u2[i, 1], u2[i, 2]
        cti, sti = ct[i], st[i]
        for e in range(piece_start[pieces[k]], piece_end[pieces[k]]):
            c = edge_c[e]
            d1 = min(max(a0 * c[0] + a1 * c[1] + a2 * c[2], -1.0), 1.0)
            d2 = min(max(b0 * c[0] + b1 * c[1] + b2 * c[2], -1.0), 1.0)
            if not _beyond(d1, d2, cti, sti, edge_cw[e], edge_sw[e]):
                r_out[m] = i
                e_out[m] = e
                m += 1
    return r_out[:m], e_out[:m]


@kernel
def _vertex_near_kernel(u1: FloatArray, u2: FloatArray, rows: IntArray, pts: IntArray, ua: FloatArray,
                        ct: FloatArray, st: FloatArray) -> NDArray[np.bool_]:
    """Whether the focal sum at vertex ``ua[pts[k]]`` may be within the angle of cosine ``ct[rows[k]]``."""
    out = np.empty(rows.size, dtype=np.bool_)
    for k in range(rows.size):
        i = rows[k]
        v = ua[pts[k]]
        d1 = min(max(u1[i, 0] * v[0] + u1[i, 1] * v[1] + u1[i, 2] * v[2], -1.0), 1.0)
        d2 = min(max(u2[i, 0] * v[0] + u2[i, 1] * v[1] + u2[i, 2] * v[2], -1.0), 1.0)
        out[k] = not _beyond(d1, d2, ct[i], st[i], 1.0, 0.0)
    return out


def _near_threshold(thr: FloatArray) -> tuple[FloatArray, FloatArray]:
    """A threshold in metres on the bounds of ``_expand_near`` and ``vertex_near`` as an angle for ``_beyond``.

    ``SPH_LO R (A - w) (1 - 5e-5) - 3 m > thr`` (A: the sum of the angles to the fixes) is ``A > w + (thr + 3) /
    NEAR_SCALE``; padded up for rounding (only what is certainly beyond is dropped). Returns its cosine and sine.
    """
    t = (np.asarray(thr, dtype=np.float64) + 3.0) / NEAR_SCALE * (1 + 1e-9) + 1e-12
    return np.cos(t), np.sin(t)


def vertex_near(rows: IntArray, pts: IntArray, ze: ZoneEdges, u1: FloatArray, u2: FloatArray, thr: FloatArray,
                ) -> NDArray[np.bool_]:
    """False where the Andoyer-Lambert focal sum at the edge starts `pts` certainly exceeds ``thr[rows]`` (metres).

    The bound, ``SPH_LO R (σ(u1, v) + σ(u2, v)) (1 - 5e-5) - 3 m``, is below that sum (true distance >= SPH_LO x
    great-circle distance, Lambert's error 1.5e-6 of the distance, with rounding). `u1`, `u2`, `thr`: per row.
    """
    f = np.ascontiguousarray
    return np.asarray(_vertex_near_kernel(f(u1, dtype=np.float64), f(u2, dtype=np.float64), f(rows, dtype=np.int64),
                                          f(pts, dtype=np.int64), f(ze.ua, dtype=np.float64), *_near_threshold(thr)),
                      dtype=bool)


def _expand_near(rows: IntArray, pieces: IntArray, ze: ZoneEdges, u1: FloatArray, u2: FloatArray, thr: FloatArray,
                 ) -> tuple[IntArray, IntArray]:
    """``_expand(rows, pieces)`` less the (row, edge) pairs certainly beyond ``thr[row]`` (metres).

    Dropped: those where ``SPH_LO R (σ(u1, c) + σ(u2, c) - 2 rad) (1 - 5e-5) - 3 m - length`` exceeds the
    threshold (c, rad: the edge's cap; shown without arccos, ``_beyond``). That is below the Andoyer-Lambert
    focal sum at either end of the edge (true distance >= SPH_LO x great-circle distance; Lambert's error 1.5e-6
    of the distance, with rounding) and below ``fast._refine``'s first lower bound on the edge (the ends' mean
    less 1e-5 and 1 m, less the edge's length): every value the edge would give is above the threshold. `u1`,
    `u2`, `thr`: per row.
    """
    c, cw, sw = ze.edge_caps()
    f = np.ascontiguousarray
    return _expand_near_kernel(  # type: ignore[no-any-return]
        f(u1, dtype=np.float64), f(u2, dtype=np.float64), f(rows, dtype=np.int64), f(pieces, dtype=np.int64),
        ze.piece_start, ze.piece_end, c, cw, sw, *_near_threshold(thr))


def _expand(rows: IntArray, pieces: IntArray, ze: ZoneEdges) -> tuple[IntArray, IntArray]:
    """(row, piece) pairs to (row, edge) pairs."""
    cnt = ze.piece_end[pieces] - ze.piece_start[pieces]
    r = np.repeat(rows, cnt)
    start = np.repeat(ze.piece_start[pieces] - np.concatenate([[0], np.cumsum(cnt)[:-1]]), cnt)
    return r, start + np.arange(int(cnt.sum()))


class EdgeTree(NamedTuple):
    """The arrays of a ``ZoneEdges`` that the compiled clearance test reads (pieces in groups, edges in pieces)."""

    group_c: FloatArray
    group_rad: FloatArray
    group_start: IntArray
    group_end: IntArray
    piece_c: FloatArray
    piece_rad: FloatArray
    piece_off: FloatArray
    piece_start: IntArray
    piece_end: IntArray
    ua: FloatArray
    ub: FloatArray
    normal: FloatArray
    sin_tol: FloatArray
    has_normal: NDArray[np.bool_]
    group_cr: FloatArray  # cos and sin of group_rad + 1e-9 (the arc test's quick rejection, no arccos)
    group_sr: FloatArray
    piece_cr: FloatArray  # the same for piece_rad
    piece_sr: FloatArray


def edge_tree(ze: ZoneEdges) -> EdgeTree:
    """The arrays of a zone's edges that the compiled arc test reads, as one argument."""
    return EdgeTree(ze.group_c, ze.group_rad, ze.group_start, ze.group_end, ze.piece_c, ze.piece_rad, ze.piece_off,
                    ze.piece_start, ze.piece_end, ze.ua, ze.ub, ze.normal, ze.sin_tol, ze.has_normal,
                    np.cos(ze.group_rad + 1e-9), np.sin(ze.group_rad + 1e-9), np.cos(ze.piece_rad + 1e-9),
                    np.sin(ze.piece_rad + 1e-9))


@kernel
def _arc_clear_one(a0: float, a1: float, a2: float, b0: float, b1: float, b2: float, t: EdgeTree) -> bool:
    """Whether the arc a→b (unit vectors) is certainly clear of every edge (``_arc_clear``'s tests, for one arc)."""
    # The arc's plane normal, half-length and midpoint (as the array code computed them).
    c0, c1, c2 = a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0
    cn = max(math.sqrt(c0 * c0 + c1 * c1 + c2 * c2), 1e-300)
    n0, n1, n2 = c0 / cn, c1 / cn, c2 / cn
    half = 0.5 * math.acos(min(max(a0 * b0 + a1 * b1 + a2 * b2, -1.0), 1.0))
    m0, m1, m2 = a0 + b0, a1 + b1, a2 + b2
    mn = max(math.sqrt(m0 * m0 + m1 * m1 + m2 * m2), 1e-300)
    m0, m1, m2 = m0 / mn, m1 / mn, m2 / mn
    # Most caps are far from the arc: cos(angle) well below cos(half + rad) (both below pi) shows that
    # arccos(d) > half + rad + 1e-9 without the arccos (the margin 1e-12 covers the rounding of both sides
    # many times over); the others take the test as before, so every decision is the same.
    ch, sh = math.cos(half), math.sin(half)
    for g in range(t.group_c.shape[0]):
        dg = min(max(m0 * t.group_c[g, 0] + m1 * t.group_c[g, 1] + m2 * t.group_c[g, 2], -1.0), 1.0)
        if half + t.group_rad[g] + 1e-9 < 3.0 and dg < ch * t.group_cr[g] - sh * t.group_sr[g] - 1e-12:
            continue
        if not np.arccos(dg) <= half + t.group_rad[g] + 1e-9:
            continue
        for p in range(t.group_start[g], t.group_end[g]):
            # (the tests of a piece are independent: the cheapest first)
            if not abs(t.piece_c[p, 0] * n0 + t.piece_c[p, 1] * n1 + t.piece_c[p, 2] * n2) <= t.piece_off[p]:
                continue
            dp = min(max(m0 * t.piece_c[p, 0] + m1 * t.piece_c[p, 1] + m2 * t.piece_c[p, 2], -1.0), 1.0)
            if half + t.piece_rad[p] + 1e-9 < 3.0 and dp < ch * t.piece_cr[p] - sh * t.piece_sr[p] - 1e-12:
                continue
            if not np.arccos(dp) <= half + t.piece_rad[p] + 1e-9:
                continue
            for e in range(t.piece_start[p], t.piece_end[p]):
                st = t.sin_tol[e]
                sa = t.ua[e, 0] * n0 + t.ua[e, 1] * n1 + t.ua[e, 2] * n2
                sb = t.ub[e, 0] * n0 + t.ub[e, 1] * n1 + t.ub[e, 2] * n2
                if (sa > st and sb > st) or (sa < -st and sb < -st):
                    continue
                # (elements, not a row view: a view costs two reference counts per edge)
                s1 = a0 * t.normal[e, 0] + a1 * t.normal[e, 1] + a2 * t.normal[e, 2]
                s2 = b0 * t.normal[e, 0] + b1 * t.normal[e, 1] + b2 * t.normal[e, 2]
                if t.has_normal[e] and ((s1 > st and s2 > st) or (s1 < -st and s2 < -st)):
                    continue
                return False
    return True


@kernel
def _arc_clear_kernel(u1: FloatArray, u2: FloatArray, t: EdgeTree) -> NDArray[np.bool_]:
    n = u1.shape[0]
    clear = np.ones(n, dtype=np.bool_)
    for k in range(n):
        clear[k] = _arc_clear_one(u1[k, 0], u1[k, 1], u1[k, 2], u2[k, 0], u2[k, 1], u2[k, 2], t)
    return clear


@kernel
def _first_path_kernel(lon1: FloatArray, b1: FloatArray, cb1: FloatArray, lon2: FloatArray, b2: FloatArray,
                       cb2: FloatArray, u1: FloatArray, u2: FloatArray, budget: FloatArray, rows: IntArray,
                       vlon: FloatArray, vlat: FloatArray, v: FloatArray, t: EdgeTree) -> tuple[IntArray, FloatArray]:
    """For waypoints grouped by row (`rows` sorted), the first of each row within the budget with both legs clear.

    Waypoint k (lon/lat ``vlon[k]``, ``vlat[k]``, unit vector ``v[k]``) serves row ``r = rows[k]`` when its focal
    sum ``_lam_hi(d(p1, v)) + _lam_hi(d(v, p2))`` (the values of ``FixLegs.legs``: `lon1`, `b1`, `cb1`, ... of
    the fixes, per row, as `u1`, `u2`, `budget`) is within ``budget[r]`` and the legs u1→v and v→u2 are clear
    (``_arc_clear_one``). Returns (the waypoints found, at most one per row in order, and their focal sums): the
    same as measuring every waypoint, then testing those within the budget in order; a row's later waypoints are
    neither measured nor tested.
    """
    n = rows.size
    out = np.empty(n, dtype=np.int64)
    fs = np.empty(n)
    m = 0
    done = -1
    for k in range(n):
        r = rows[k]
        if r == done:
            continue
        bv = math.atan((1 - WGS84_F) * math.tan(math.radians(vlat[k])))
        cbv = math.cos(bv)
        d1 = _lam_reduced(lon1[r], b1[r], cb1[r], vlon[k], bv, cbv)
        d2 = _lam_reduced(vlon[k], bv, cbv, lon2[r], b2[r], cb2[r])
        f = (d1 * (1 + LAM_REL) + LAM_ABS) + (d2 * (1 + LAM_REL) + LAM_ABS)
        if not f <= budget[r]:
            continue
        if not _arc_clear_one(u1[r, 0], u1[r, 1], u1[r, 2], v[k, 0], v[k, 1], v[k, 2], t):
            continue
        if not _arc_clear_one(v[k, 0], v[k, 1], v[k, 2], u2[r, 0], u2[r, 1], u2[r, 2], t):
            continue
        out[m] = k
        fs[m] = f
        m += 1
        done = r
    return out[:m], fs[:m]


def _arc_clear(u1: FloatArray, u2: FloatArray, ze: ZoneEdges) -> NDArray[np.bool_]:
    """For each arc u1[i]→u2[i] (great circle, < 180°), whether it is certainly clear of every edge of the zone.

    With u1 == u2, whether the point is clear of every edge by the edge's tolerance.

    An arc and an edge are apart when one lies wholly on one side of the other's great circle, beyond the
    edge's tolerance (a side function is concave along an arc, so its ends decide). Only edges of pieces
    within reach are tested: the piece's cap centre within half-arc + cap radius of the arc's midpoint
    (groups of pieces first), and within the cap radius of the arc's great circle. One compiled pass per
    arc, which stops at the first edge it cannot clear.
    """
    if len(u1) == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(_arc_clear_kernel(np.ascontiguousarray(u1, dtype=np.float64),
                                        np.ascontiguousarray(u2, dtype=np.float64), ze.tree()), dtype=bool)


__all__ = [
    "EDGE_PIECE", "GROUP", "LAM_ABS", "LAM_MAX_M", "LAM_REL", "EdgeTree", "ZoneEdges", "edge_tree", "lambert",
    "zone_edges",
]
