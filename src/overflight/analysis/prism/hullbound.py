"""Lower bounds on the avoiding length from the convex hulls of a zone's parts, for the bulk stage (fast mode).

For one polygon part P of the zone and fixes p1, p2 outside its (spherical) convex hull H, a path from
p1 to p2 avoiding P can be shortened to one avoiding H (a path entering a pocket of H leaves it across the
same lid, and the lid's arc is shorter; ``avoid.hull_bounds`` uses the same argument): so every avoiding
path is at least as long, on the sphere, as the taut path around H. When the direct arc crosses H, that
path is a tangent from p1, a chain of H's edges and a tangent to p2, on one side of H or the other (the
shorter of the two; which vertices are tangent does not depend on the gnomonic plane they are found in,
only the lengths are spherical).

The avoiding paths of ``evaluate`` are chains of great-circle legs, each weighted with its geodesic
length, which is at least SPH_LO times its great-circle length (as in ``fast.fence_bound``; away from the
equator a larger factor, ``hull_lower_bound``). So ``SPH_LO · R · taut`` bounds them from below, less a
slop for rounding and for the zone's lon/lat edges, which stray from the great-circle edges between the
same vertices by at most the largest edge tolerance (``ZoneEdges.tol``): moving the boundary by δ changes
the taut length around a convex set by at most ``(2 pi + 4) δ``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from overflight._jit import kernel
from overflight.analysis.prism._geo import R_SPHERE, SPH_LO, FloatArray, unit
from overflight.geodesy import WGS84_A, WGS84_F

IntArray = NDArray[np.int64]


@dataclass
class PartHulls:
    """The convex hulls of a zone's polygon parts (unit vectors, counter-clockwise seen from outside the sphere)."""

    v: FloatArray  # (nv, 3) hull vertices, part after part
    start: IntArray  # (nh,)
    end: IntArray
    c: FloatArray  # (nh, 3) cap centre of each hull
    cos_r: FloatArray  # (nh,) cosine of a radius covering the hull
    slop: float  # metres subtracted from every bound (lon/lat vs great-circle edges, rounding)


def _cross(a: FloatArray, b: FloatArray) -> FloatArray:
    """``np.cross`` of two 3-vectors (the same operations, without its per-call set-up)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def part_hulls(g: BaseGeometry, tol_max: float) -> PartHulls | None:
    """The hulls of `g`'s polygon parts (those within a 60-degree cap); `tol_max` the largest edge tolerance (rad)."""
    if g.geom_type not in ("Polygon", "MultiPolygon"):
        return None
    # Each part's frame, then every part's hull in one GEOS call (the parts' points as lines: GEOS takes the
    # hull of the same coordinates in the same order), then back on the sphere part by part.
    pxy: list[FloatArray] = []
    pid: list[NDArray[np.int64]] = []
    frames: list[tuple[FloatArray, FloatArray, FloatArray]] = []
    for p in shapely.get_parts(g):
        if p.geom_type != "Polygon" or p.is_empty:
            continue
        xy = shapely.get_coordinates(p.exterior)[:-1]
        if len(xy) < 3:
            continue
        u = unit(xy[:, 0], xy[:, 1])
        c = u.sum(axis=0)
        nc = float(np.linalg.norm(c))
        if nc < 1e-9:
            continue
        c /= nc
        if float((u @ c).min()) < 0.5:  # more than 60 degrees across: not used
            continue
        e = _cross(np.array([0.0, 0.0, 1.0]), c)
        if float(np.linalg.norm(e)) < 1e-9:
            e = np.array([1.0, 0.0, 0.0])
        e /= np.linalg.norm(e)
        n = _cross(c, e)
        w = u @ c
        pxy.append(np.column_stack([(u @ e) / w, (u @ n) / w]))
        pid.append(np.full(len(xy), len(frames)))
        frames.append((c, e, n))
    vs, st, en, cs, crs = [], [], [], [], []
    off = 0
    if frames:
        hulls = shapely.convex_hull(shapely.linestrings(np.vstack(pxy), indices=np.concatenate(pid)))
        poly = shapely.get_type_id(hulls) == 3
        rings = shapely.get_exterior_ring(shapely.orient_polygons(hulls[poly], exterior_cw=False))
        hxy, hid = shapely.get_coordinates(rings, return_index=True)
        cut = np.searchsorted(hid, np.arange(len(rings) + 1))
        for q, f in enumerate(np.flatnonzero(poly)):
            c, e, n = frames[f]
            hx = hxy[cut[q]:cut[q + 1]][:-1]
            hv = c[None, :] + hx[:, :1] * e[None, :] + hx[:, 1:2] * n[None, :]
            hv /= np.linalg.norm(hv, axis=1, keepdims=True)
            vs.append(hv)
            st.append(off)
            off += len(hv)
            en.append(off)
            cs.append(c)
            crs.append(float((hv @ c).min()) - 1e-9)
    if not vs:
        return None
    slop = (2 * math.pi + 4) * tol_max * R_SPHERE + 1.0
    return PartHulls(np.vstack(vs), np.array(st, dtype=np.int64), np.array(en, dtype=np.int64), np.array(cs),
                     np.array(crs), slop)


@kernel
def _angle(p: FloatArray, q: FloatArray) -> float:
    """Angle between unit vectors, stable for short arcs (acos loses ~1e-8 rad there: 0.1 m per hull edge)."""
    x = p[1] * q[2] - p[2] * q[1]
    y = p[2] * q[0] - p[0] * q[2]
    z = p[0] * q[1] - p[1] * q[0]
    return math.atan2(math.sqrt(x * x + y * y + z * z), p[0] * q[0] + p[1] * q[1] + p[2] * q[2])


@kernel
def _hull_lb_kernel(u1: FloatArray, u2: FloatArray, v: FloatArray, start: IntArray, end: IntArray, c: FloatArray,
                    cos_r: FloatArray) -> FloatArray:
    """For each pair, the largest spherical taut length (radians) around a hull its direct arc crosses (0 if none)."""
    n = u1.shape[0]
    out = np.zeros(n)
    px = np.empty(v.shape[0])
    py = np.empty(v.shape[0])
    e = np.empty(3)
    nn = np.empty(3)
    m = np.empty(3)
    for i in range(n):
        a, b = u1[i], u2[i]
        for q in range(3):
            m[q] = a[q] + b[q]
        mn = math.sqrt(m[0] ** 2 + m[1] ** 2 + m[2] ** 2)
        if mn < 1e-9:
            continue
        for q in range(3):
            m[q] /= mn
        # The plane: e along the direct arc, nn across it.
        d = b[0] * m[0] + b[1] * m[1] + b[2] * m[2]
        for q in range(3):
            e[q] = b[q] - d * m[q]
        en_ = math.sqrt(e[0] ** 2 + e[1] ** 2 + e[2] ** 2)
        if en_ < 1e-15:
            continue
        for q in range(3):
            e[q] /= en_
        nn[0] = m[1] * e[2] - m[2] * e[1]
        nn[1] = m[2] * e[0] - m[0] * e[2]
        nn[2] = m[0] * e[1] - m[1] * e[0]
        half = 0.5 * math.acos(min(max(a[0] * b[0] + a[1] * b[1] + a[2] * b[2], -1.0), 1.0))
        x1 = -math.tan(half)
        x2 = math.tan(half)
        best = 0.0
        for h in range(start.size):
            # The hull's cap must meet the direct arc (near its great circle and its midpoint).
            cr = cos_r[h]
            sr = math.sqrt(max(0.0, 1.0 - cr * cr))
            cc = c[h]
            if abs(cc[0] * nn[0] + cc[1] * nn[1] + cc[2] * nn[2]) > sr:
                continue
            dm = cc[0] * m[0] + cc[1] * m[1] + cc[2] * m[2]
            if dm < math.cos(min(half + math.acos(min(max(cr, -1.0), 1.0)), math.pi)):
                continue
            s0, s1 = start[h], end[h]
            k = s1 - s0
            ok = True
            for j in range(s0, s1):
                w = v[j, 0] * m[0] + v[j, 1] * m[1] + v[j, 2] * m[2]
                if w < 0.05:
                    ok = False
                    break
                px[j] = (v[j, 0] * e[0] + v[j, 1] * e[1] + v[j, 2] * e[2]) / w
                py[j] = (v[j, 0] * nn[0] + v[j, 1] * nn[1] + v[j, 2] * nn[2]) / w
            if not ok:
                continue
            # Fixes at (x1, 0) and (x2, 0). Edge j -> j+1 (counter-clockwise) is visible from a point when the
            # point lies on its right (outside). Both fixes strictly outside the hull; the segment between them
            # crossing it: some vertex strictly above and some strictly below the axis between x1 and x2 ...
            vis1_any = False
            vis2_any = False
            cross = False
            for t in range(k):
                j = s0 + t
                jn = s0 + (t + 1) % k
                ex, ey = px[jn] - px[j], py[jn] - py[j]
                if ex * (0.0 - py[j]) - ey * (x1 - px[j]) < 0:
                    vis1_any = True
                if ex * (0.0 - py[j]) - ey * (x2 - px[j]) < 0:
                    vis2_any = True
                # ... the edge crosses the axis strictly between the fixes.
                if (py[j] > 0) != (py[jn] > 0):
                    xc = px[j] + (0.0 - py[j]) * ex / ey
                    if x1 < xc < x2:
                        cross = True
            if not (vis1_any and vis2_any and cross):
                continue
            # Tangent vertices: a1 where p1's visible chain starts, b1 where it ends (same for p2).
            a1 = b1 = a2 = b2 = -1
            for t in range(k):
                j = s0 + t
                jp = s0 + (t - 1) % k
                jn = s0 + (t + 1) % k
                vin1 = (px[j] - px[jp]) * (0.0 - py[jp]) - (py[j] - py[jp]) * (x1 - px[jp]) < 0
                vout1 = (px[jn] - px[j]) * (0.0 - py[j]) - (py[jn] - py[j]) * (x1 - px[j]) < 0
                vin2 = (px[j] - px[jp]) * (0.0 - py[jp]) - (py[j] - py[jp]) * (x2 - px[jp]) < 0
                vout2 = (px[jn] - px[j]) * (0.0 - py[j]) - (py[jn] - py[j]) * (x2 - px[j]) < 0
                if vout1 and not vin1:
                    a1 = t
                if vin1 and not vout1:
                    b1 = t
                if vout2 and not vin2:
                    a2 = t
                if vin2 and not vout2:
                    b2 = t
            if a1 < 0 or b1 < 0 or a2 < 0 or b2 < 0:
                continue
            # Side 1: p1 -> b1, counter-clockwise to a2, -> p2; side 2: p1 -> a1, clockwise to b2, -> p2.
            sides = np.empty(2)
            for side in range(2):
                ta, tb = (b1, a2) if side == 0 else (b2, a1)  # the chain runs counter-clockwise from ta to tb
                ln = 0.0
                t = ta
                steps = 0
                while t != tb and steps <= k:
                    j = s0 + t
                    jn = s0 + (t + 1) % k
                    ln += _angle(v[j], v[jn])
                    t = (t + 1) % k
                    steps += 1
                f1 = s0 + (b1 if side == 0 else a1)
                f2 = s0 + (a2 if side == 0 else b2)
                ln += _angle(a, v[f1]) + _angle(b, v[f2])
                sides[side] = ln
            best = max(best, min(sides[0], sides[1]))
        out[i] = best
    return out


def meridian_ratio(lat_deg: FloatArray) -> FloatArray:
    """M(lat) / R: the least ratio of WGS84 length to spherical length (geographic lon/lat) of a short step there.

    The ellipsoid's metric is ``M^2 dlat^2 + N^2 cos^2 lat dlon^2`` and the sphere's ``R^2 (dlat^2 +
    cos^2 lat dlon^2)``; M <= N, so every step is at least M / R times its spherical length. M grows with |lat|.
    """
    e2 = WGS84_F * (2 - WGS84_F)
    s = np.sin(np.radians(np.asarray(lat_deg, dtype=np.float64)))
    return np.asarray(WGS84_A * (1 - e2) / (1 - e2 * s * s) ** 1.5 / R_SPHERE, dtype=np.float64)


def hull_lower_bound(lon1: FloatArray, lat1: FloatArray, lon2: FloatArray, lat2: FloatArray, ph: PartHulls,
                     target: FloatArray | None = None) -> FloatArray:
    """A lower bound (metres) on the avoiding length, for fixes outside the zone (module note); 0 if none.

    With `target`, the bound holds for the paths no longer than `target` (the only ones that can decide whether
    the avoiding length exceeds it) and is tighter than SPH_LO times the spherical length: such a path lies in
    the spherical ellipse of focal sum ``S = target / (SPH_LO R)``, within ``c + S / 2`` of the fixes' midpoint
    m (c: half the fixes' angle; triangle inequality), so nowhere nearer the equator than ``|lat(m)| - c - S/2``.
    A geodesic's least |latitude| is at an end (its latitude has no interior minimum within one hemisphere),
    so each leg of the path is at least ``M(that latitude) / R`` times its spherical length
    (``meridian_ratio``). Where that latitude is not positive, SPH_LO is used.
    """
    if len(lon1) == 0:
        return np.zeros(0)
    c = np.ascontiguousarray
    u1, u2 = unit(lon1, lat1), unit(lon2, lat2)
    taut = _hull_lb_kernel(c(u1), c(u2), ph.v, ph.start, ph.end, ph.c, ph.cos_r)
    k = np.full(len(lon1), SPH_LO)
    if target is not None:
        m = u1 + u2
        m /= np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-300)
        half = 0.5 * np.arccos(np.clip(np.sum(u1 * u2, axis=1), -1, 1))
        reach = half + 0.5 * np.asarray(target, dtype=np.float64) / (SPH_LO * R_SPHERE) * (1 + 1e-9) + 1e-9
        lat_min = np.degrees(np.abs(np.arcsin(np.clip(m[:, 2], -1, 1))) - reach)
        k = np.where(lat_min > 0, np.maximum(k, meridian_ratio(np.maximum(lat_min, 0.0)) * (1 - 1e-9)), k)
    return np.asarray(k * R_SPHERE * taut * (1 - 1e-9) - ph.slop, dtype=np.float64)


__all__ = ["PartHulls", "hull_lower_bound", "part_hulls"]
