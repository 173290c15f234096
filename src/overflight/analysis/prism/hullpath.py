"""Avoiding paths round the convex hulls of a zone's parts and through its salient corners (bulk stage, fast mode).

When the direct arc crosses one part of a zone and the way round it is tight (a corner of a country, the
tip of a peninsula, a small island near a fix), neither the two-leg paths nor the lattice get close
enough to the shortest avoiding path to stay within the budget. The taut path round the part's convex
hull (``hullbound``: a tangent from fix 1, a chain of hull edges, a tangent to fix 2, on either side) is
the shortest avoiding path whenever the part is the only obstacle and its hull's pockets do not help;
with each hull vertex pushed outwards by a little more than the edges' tolerance it is a path of
great-circle legs clear of the part (``hull_paths``). Round several parts at once, a best-first search
over the pushed hull vertices of every part in the budget's ellipse (``hull_graph_paths``); out of a bay
or a strait that holds a fix (inside a part's hull), the same search over the rings' salient convex
corners (``ring_graph_paths``). Together they settled 600 of the 1,663 pairs that bench_prism 100000 --fast
left to ``evaluate`` (all "possible" ones; 1,051 are left).

Why each is an upper bound on the avoiding length: the path is only a candidate. It counts when every leg
is certainly clear of every boundary edge of the zone (``edges._arc_clear_kernel``: neither entering nor
touching, both versions of each edge), so that, fix 1 lying outside the zone, the whole path stays outside
(as for ``lattice``), and when its length, measured leg by leg with the Andoyer-Lambert distance plus its
allowance (an upper bound on each leg's geodesic length), is within the budget.

(This module is over 600 lines: two kernels, one-hull paths and the graph search, share its frame and push.)
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from overflight._jit import kernel
from overflight.analysis.prism._geo import R_SPHERE, FloatArray, unit
from overflight.analysis.prism.edges import (
    LAM_ABS,
    LAM_REL,
    EdgeTree,
    FixLegs,
    ZoneEdges,
    _arc_clear_kernel,
    _arc_clear_one,
    _lam_reduced,
)
from overflight.analysis.prism.hullbound import PartHulls, _angle
from overflight.geodesy import WGS84_F

IntArray = NDArray[np.int64]
PUSH = 3.0  # hull vertices are pushed out by this many times the largest edge tolerance ...
PUSH_MIN = 2e-7  # ... plus this (radians, about 1.3 m)


@kernel
def _leg_len(va: FloatArray, vb: FloatArray) -> float:
    """Andoyer-Lambert length of the leg va -> vb plus its allowance (an upper bound on the geodesic)."""
    lo_a = math.degrees(math.atan2(va[1], va[0]))
    lo_b = math.degrees(math.atan2(vb[1], vb[0]))
    ba = math.atan((1 - WGS84_F) * math.tan(math.asin(min(max(va[2], -1.0), 1.0))))
    bb = math.atan((1 - WGS84_F) * math.tan(math.asin(min(max(vb[2], -1.0), 1.0))))
    return _lam_reduced(lo_a, ba, math.cos(ba), lo_b, bb, math.cos(bb)) * (1 + LAM_REL) + LAM_ABS


@kernel
def _hull_path_kernel(
    u1: FloatArray, u2: FloatArray, lon1: FloatArray, b1: FloatArray, cb1: FloatArray, lon2: FloatArray,
    b2: FloatArray, cb2: FloatArray, budget: FloatArray, v: FloatArray, start: IntArray, end: IntArray,
    c: FloatArray, cos_r: FloatArray, push: float, t: EdgeTree,
) -> tuple[NDArray[np.bool_], FloatArray]:
    """For each pair, whether a path round one hull its direct arc crosses is clear and within `budget`.

    The hull's frame and tangent vertices are found as in ``hullbound._hull_lb_kernel`` (gnomonic plane at
    the fixes' midpoint m, fixes on the x axis); the path's interior vertices are the chain's vertices
    pushed out along their outer bisector by `push` radians (more in the plane, which stretches).
    """
    n = u1.shape[0]
    found = np.zeros(n, dtype=np.bool_)
    out = np.full(n, np.inf)
    px = np.empty(v.shape[0])
    py = np.empty(v.shape[0])
    pw = np.empty(v.shape[0])
    e = np.empty(3)
    nn = np.empty(3)
    m = np.empty(3)
    nmax = 1
    for h in range(start.size):
        nmax = max(nmax, end[h] - start[h])
    pts = np.empty((nmax + 2, 3))
    la = np.empty((nmax + 1, 3))
    lb = np.empty((nmax + 1, 3))
    for i in range(n):
        a, b = u1[i], u2[i]
        for q in range(3):
            m[q] = a[q] + b[q]
        mn = math.sqrt(m[0] ** 2 + m[1] ** 2 + m[2] ** 2)
        if mn < 1e-9:
            continue
        for q in range(3):
            m[q] /= mn
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
        best = np.inf
        for hh in range(start.size):
            cr = cos_r[hh]
            sr = math.sqrt(max(0.0, 1.0 - cr * cr))
            cc = c[hh]
            if abs(cc[0] * nn[0] + cc[1] * nn[1] + cc[2] * nn[2]) > sr:
                continue
            dm = cc[0] * m[0] + cc[1] * m[1] + cc[2] * m[2]
            if dm < math.cos(min(half + math.acos(min(max(cr, -1.0), 1.0)), math.pi)):
                continue
            s0, s1 = start[hh], end[hh]
            k = s1 - s0
            ok = True
            for j in range(s0, s1):
                w = v[j, 0] * m[0] + v[j, 1] * m[1] + v[j, 2] * m[2]
                if w < 0.5:  # (the budget's ellipse is far smaller: a hull reaching this far is no way round)
                    ok = False
                    break
                pw[j] = w
                px[j] = (v[j, 0] * e[0] + v[j, 1] * e[1] + v[j, 2] * e[2]) / w
                py[j] = (v[j, 0] * nn[0] + v[j, 1] * nn[1] + v[j, 2] * nn[2]) / w
            if not ok:
                continue
            cross = False
            for tt in range(k):
                j = s0 + tt
                jn = s0 + (tt + 1) % k
                if (py[j] > 0) != (py[jn] > 0):
                    xc = px[j] + (0.0 - py[j]) * (px[jn] - px[j]) / (py[jn] - py[j])
                    if x1 < xc < x2:
                        cross = True
            if not cross:
                continue
            # Tangent vertices, as in the lower bound: a1/b1 where fix 1's visible chain starts/ends (fix 2 too).
            a1 = b1_ = a2 = b2_ = -1
            for tt in range(k):
                j = s0 + tt
                jp = s0 + (tt - 1) % k
                jn = s0 + (tt + 1) % k
                vin1 = (px[j] - px[jp]) * (0.0 - py[jp]) - (py[j] - py[jp]) * (x1 - px[jp]) < 0
                vout1 = (px[jn] - px[j]) * (0.0 - py[j]) - (py[jn] - py[j]) * (x1 - px[j]) < 0
                vin2 = (px[j] - px[jp]) * (0.0 - py[jp]) - (py[j] - py[jp]) * (x2 - px[jp]) < 0
                vout2 = (px[jn] - px[j]) * (0.0 - py[j]) - (py[jn] - py[j]) * (x2 - px[j]) < 0
                if vout1 and not vin1:
                    a1 = tt
                if vin1 and not vout1:
                    b1_ = tt
                if vout2 and not vin2:
                    a2 = tt
                if vin2 and not vout2:
                    b2_ = tt
            if a1 < 0 or b1_ < 0 or a2 < 0 or b2_ < 0:
                continue
            for side in range(2):
                # Side 0: fix 1 -> b1, counter-clockwise to a2 -> fix 2; side 1: fix 1 -> a1, clockwise to b2.
                ta, tb = (b1_, a2) if side == 0 else (a1, b2_)
                step = 1 if side == 0 else -1
                np_ = 0
                for q in range(3):
                    pts[0, q] = a[q]
                np_ = 1
                tt = ta
                while True:
                    j = s0 + tt
                    jp = s0 + (tt - 1) % k
                    jn = s0 + (tt + 1) % k
                    # Outer normals of the two hull edges at j (counter-clockwise hull: outside on the right).
                    ex0, ey0 = px[j] - px[jp], py[j] - py[jp]
                    ex1, ey1 = px[jn] - px[j], py[jn] - py[j]
                    l0 = max(math.hypot(ex0, ey0), 1e-300)
                    l1 = max(math.hypot(ex1, ey1), 1e-300)
                    nx, ny = ey0 / l0 + ey1 / l1, -ex0 / l0 - ex1 / l1
                    ln_ = max(math.hypot(nx, ny), 1e-300)
                    cosh_ = max(ln_ / 2.0, 0.2)  # cos of half the turn: pushing by push / cos keeps both edges out
                    dd = push / (pw[j] * pw[j]) / cosh_
                    qx, qy = px[j] + dd * nx / ln_, py[j] + dd * ny / ln_
                    vn = 0.0
                    for q in range(3):
                        pts[np_, q] = m[q] + qx * e[q] + qy * nn[q]
                        vn += pts[np_, q] ** 2
                    vn = math.sqrt(vn)
                    for q in range(3):
                        pts[np_, q] /= vn
                    np_ += 1
                    if tt == tb or np_ > k:
                        break
                    tt = (tt + step) % k
                for q in range(3):
                    pts[np_, q] = b[q]
                np_ += 1
                # Length first (cheap), the fixes' legs with their own reduced latitudes.
                total = 0.0
                for s in range(np_ - 1):
                    if s == 0:
                        va = pts[1]
                        lo_v = math.degrees(math.atan2(va[1], va[0]))
                        bv = math.atan((1 - WGS84_F) * math.tan(math.asin(min(max(va[2], -1.0), 1.0))))
                        total += _lam_reduced(lon1[i], b1[i], cb1[i], lo_v, bv, math.cos(bv)) * (1 + LAM_REL) + LAM_ABS
                    elif s == np_ - 2:
                        va = pts[s]
                        lo_v = math.degrees(math.atan2(va[1], va[0]))
                        bv = math.atan((1 - WGS84_F) * math.tan(math.asin(min(max(va[2], -1.0), 1.0))))
                        total += _lam_reduced(lo_v, bv, math.cos(bv), lon2[i], b2[i], cb2[i]) * (1 + LAM_REL) + LAM_ABS
                    else:
                        total += _leg_len(pts[s], pts[s + 1])
                if not (total <= budget[i] and total < best):
                    continue
                for s in range(np_ - 1):
                    for q in range(3):
                        la[s, q] = pts[s, q]
                        lb[s, q] = pts[s + 1, q]
                if _arc_clear_kernel(la[:np_ - 1], lb[:np_ - 1], t).all():
                    best = total
        if best < np.inf:
            found[i] = True
            out[i] = best
    return found, out


def hull_paths(
    lon1: FloatArray, lat1: FloatArray, lon2: FloatArray, lat2: FloatArray, budget: FloatArray, ph: PartHulls,
    ze: ZoneEdges,
) -> tuple[NDArray[np.bool_], FloatArray]:
    """For each pair (fix 1 outside the zone), whether a path round one part's hull avoids the zone within `budget`.

    Returns (found, an upper bound on the path's WGS84 length where found, else inf); see the module note.
    """
    n = len(lon1)
    if n == 0:
        return np.zeros(0, dtype=bool), np.zeros(0)
    return _by_push(_hull_path_kernel, lon1, lat1, lon2, lat2, budget, (ph.v, ph.start, ph.end, ph.c, ph.cos_r), ze)


def _by_push(fn: Any, lon1: FloatArray, lat1: FloatArray, lon2: FloatArray, lat2: FloatArray, budget: FloatArray,
             geo: tuple[Any, ...], ze: ZoneEdges) -> tuple[NDArray[np.bool_], FloatArray]:
    """Run kernel `fn` (candidates `geo`) with the pushes of ``pushes(ze)`` in turn, each for the pairs not served."""
    n = len(lon1)
    fl = FixLegs(lon1, lat1, lon2, lat2)
    cc = np.ascontiguousarray
    u1, u2, bud = cc(unit(lon1, lat1)), cc(unit(lon2, lat2)), cc(budget, dtype=np.float64)
    found = np.zeros(n, dtype=bool)
    length = np.full(n, np.inf)
    todo = np.arange(n)
    for push in pushes(ze):
        if todo.size == 0:
            break
        got, ln = fn(cc(u1[todo]), cc(u2[todo]), fl.lon1[todo], fl.b1[todo], fl.cb1[todo], fl.lon2[todo], fl.b2[todo],
                     fl.cb2[todo], cc(bud[todo]), *geo, push, ze.tree())
        got = np.asarray(got, dtype=bool)
        found[todo[got]] = True
        length[todo[got]] = np.asarray(ln)[got]
        todo = todo[~got]
    return found, length


def pushes(ze: ZoneEdges) -> tuple[float, ...]:
    """How far hull vertices are pushed out (radians), in turn: past every edge's tolerance.

    A leg can be certified clear of an edge only when it passes it by more than the edge's tolerance. (A first,
    smaller push past 90 % of the edges' tolerances served 2 more pairs in 1,600 for 60 % more time: not used.)
    """
    return (PUSH * float(ze.tol.max()) + PUSH_MIN,)


GRAPH_NODES = 1500  # a pair with more hull vertices in its ellipse than this is left to ``evaluate``
GRAPH_TRIES = 8  # clearance tests when a node is reached by a blocked leg: its best parents among the settled nodes
RING_CHUNK = 64  # ring vertices per chunk whose hull picks the salient ones (``ring_nodes``)
GRAPH_TESTS = 2000  # clearance tests per pair at most (a search that fails would try every leg in the ellipse)
GRAPH_SLACK = 1.01  # spherical search: paths up to this share over the budget are kept (the Lambert check decides)


@kernel
def _side(ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> float:
    """Twice the signed area of (a, b, c) in the plane: > 0 when c lies left of a -> b."""
    return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)


@kernel
def _graph_kernel(
    u1: FloatArray, u2: FloatArray, lon1: FloatArray, b1: FloatArray, cb1: FloatArray, lon2: FloatArray,
    b2: FloatArray, cb2: FloatArray, budget: FloatArray, v: FloatArray, pv: FloatArray, nv: FloatArray,
    start: IntArray, end: IntArray, c: FloatArray, cos_r: FloatArray, push: float, t: EdgeTree,
) -> tuple[NDArray[np.bool_], FloatArray]:
    """For each pair, whether a path through pushed-out convex vertices of the zone is clear and within budget.

    Candidate vertices `v` come in groups (``start``, ``end``) with caps (centre `c`, cosine of radius `cos_r`),
    each with its neighbours on its ring or hull (`pv` before, `nv` after, counter-clockwise): the hulls'
    vertices (``hull_graph_paths``) or the rings' salient vertices (``ring_graph_paths``). Nodes: the fixes and
    the candidates inside the budget's spherical ellipse, pushed out as in ``_hull_path_kernel``. A best-first
    search (A*, the spherical distance to fix 2 as heuristic) over legs tangent at their ends (both neighbours
    on one side), each leg tested for clearance when its end is settled (``GRAPH_TRIES`` other parents tried
    when it is blocked). Finding the path needs no proof: the path found is then certified leg by leg
    (clearance, Andoyer-Lambert length with its allowance, see the module note).
    """
    n = u1.shape[0]
    found = np.zeros(n, dtype=np.bool_)
    out = np.full(n, np.inf)
    nvx = v.shape[0]
    px = np.empty((nvx, 3))  # plane coordinates of each candidate, its neighbour before and after
    py = np.empty((nvx, 3))
    pw = np.empty(nvx)
    mx = GRAPH_NODES + 2
    node = np.empty((mx, 3))
    nx_ = np.empty(mx)
    ny_ = np.empty(mx)
    prv = np.empty((mx, 2))
    nxt = np.empty((mx, 2))
    has = np.zeros(mx, dtype=np.bool_)
    g = np.empty(mx)
    hh_ = np.empty(mx)
    par = np.empty(mx, dtype=np.int64)
    closed = np.zeros(mx, dtype=np.bool_)
    tried = np.zeros(mx, dtype=np.bool_)
    alt = np.empty(mx)  # cost to a blocked node through each settled node (its other parents)
    la = np.empty((1, 3))
    lb = np.empty((1, 3))
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
        tsum = budget[i] * GRAPH_SLACK / R_SPHERE  # spherical focal sum of the search's ellipse
        reach = 0.5 * tsum + half  # every point of the ellipse lies within this of m
        if not reach < 0.45 * math.pi:
            continue
        # Nodes 0 and 1: the fixes.
        for q in range(3):
            node[0, q] = a[q]
            node[1, q] = b[q]
        nx_[0], ny_[0], nx_[1], ny_[1] = -math.tan(half), 0.0, math.tan(half), 0.0
        has[0] = has[1] = False
        k = 2
        over = False
        for h in range(start.size):
            cr = cos_r[h]
            dm = c[h, 0] * m[0] + c[h, 1] * m[1] + c[h, 2] * m[2]
            if dm < math.cos(min(reach + math.acos(min(max(cr, -1.0), 1.0)), math.pi)):
                continue
            s0, s1 = start[h], end[h]
            for j in range(s0, s1):
                fs = _angle(a, v[j]) + _angle(v[j], b)
                if fs > tsum:
                    continue
                ok = True
                for r_ in range(3):
                    vv = v[j] if r_ == 0 else (pv[j] if r_ == 1 else nv[j])
                    w = vv[0] * m[0] + vv[1] * m[1] + vv[2] * m[2]
                    if w < 0.5:
                        ok = False
                        break
                    if r_ == 0:
                        pw[j] = w
                    px[j, r_] = (vv[0] * e[0] + vv[1] * e[1] + vv[2] * e[2]) / w
                    py[j, r_] = (vv[0] * nn[0] + vv[1] * nn[1] + vv[2] * nn[2]) / w
                if not ok:
                    continue
                if k >= mx:
                    over = True
                    break
                ex0, ey0 = px[j, 0] - px[j, 1], py[j, 0] - py[j, 1]
                ex1, ey1 = px[j, 2] - px[j, 0], py[j, 2] - py[j, 0]
                l0 = max(math.hypot(ex0, ey0), 1e-300)
                l1 = max(math.hypot(ex1, ey1), 1e-300)
                ox, oy = ey0 / l0 + ey1 / l1, -ex0 / l0 - ex1 / l1
                ln_ = max(math.hypot(ox, oy), 1e-300)
                dd = push / (pw[j] * pw[j]) / max(ln_ / 2.0, 0.2)
                qx, qy = px[j, 0] + dd * ox / ln_, py[j, 0] + dd * oy / ln_
                vn = 0.0
                for q in range(3):
                    node[k, q] = m[q] + qx * e[q] + qy * nn[q]
                    vn += node[k, q] ** 2
                vn = math.sqrt(vn)
                for q in range(3):
                    node[k, q] /= vn
                nx_[k], ny_[k] = px[j, 0], py[j, 0]
                prv[k, 0], prv[k, 1] = px[j, 1], py[j, 1]
                nxt[k, 0], nxt[k, 1] = px[j, 2], py[j, 2]
                has[k] = True
                k += 1
            if over:
                break
        if over or k == 2:
            continue
        for j in range(k):
            g[j] = np.inf
            par[j] = -1
            closed[j] = False
            hh_[j] = R_SPHERE * _angle(node[j], b)
        g[0] = 0.0
        lim = budget[i] * GRAPH_SLACK
        tests = 0
        while tests < GRAPH_TESTS:
            # The open node of least g + h (a dense scan: a few hundred nodes).
            best, bj = np.inf, -1
            for j in range(k):
                if not closed[j] and g[j] + hh_[j] < best:
                    best, bj = g[j] + hh_[j], j
            if bj < 0 or best > lim:
                break
            u = bj
            if u != 0:
                # Its leg from the parent, tested now; when blocked, the best other settled parents in turn.
                for q in range(3):
                    la[0, q] = node[par[u], q]
                    lb[0, q] = node[u, q]
                good = _arc_clear_one(la[0, 0], la[0, 1], la[0, 2], lb[0, 0], lb[0, 1], lb[0, 2], t)
                tests += 1
                if not good:
                    # Each settled node's cost through it, once (neither g of a settled node nor u moves while
                    # the parents are tried): the rounds below pick from these values, as if each computed them.
                    for j in range(k):
                        tried[j] = j == par[u]
                        if closed[j] and not tried[j]:
                            alt[j] = g[j] + R_SPHERE * _angle(node[j], node[u])
                    g[u] = np.inf
                    for _ in range(GRAPH_TRIES):
                        cb, cj = np.inf, -1
                        for j in range(k):
                            if closed[j] and not tried[j]:
                                cst = alt[j]
                                if cst < cb:
                                    cb, cj = cst, j
                        if cj < 0 or cb + hh_[u] > lim:
                            break
                        tried[cj] = True
                        for q in range(3):
                            la[0, q] = node[cj, q]
                        tests += 1
                        if _arc_clear_one(la[0, 0], la[0, 1], la[0, 2], lb[0, 0], lb[0, 1], lb[0, 2], t):
                            g[u] = cb
                            par[u] = cj
                            good = True
                            break
                if not good:
                    g[u] = np.inf  # open again: a node settled later may reach it
                    continue
            closed[u] = True
            if u == 1:
                break
            # Relax the legs from u that are tangent to both ends' hulls.
            for j in range(1, k):
                if closed[j]:
                    continue
                if has[u]:
                    s1_ = _side(nx_[u], ny_[u], nx_[j], ny_[j], prv[u, 0], prv[u, 1])
                    s2_ = _side(nx_[u], ny_[u], nx_[j], ny_[j], nxt[u, 0], nxt[u, 1])
                    if s1_ * s2_ < 0:
                        continue
                if has[j]:
                    s1_ = _side(nx_[u], ny_[u], nx_[j], ny_[j], prv[j, 0], prv[j, 1])
                    s2_ = _side(nx_[u], ny_[u], nx_[j], ny_[j], nxt[j, 0], nxt[j, 1])
                    if s1_ * s2_ < 0:
                        continue
                cst = g[u] + R_SPHERE * _angle(node[u], node[j])
                if cst < g[j] and cst + hh_[j] <= lim:
                    g[j] = cst
                    par[j] = u
        if not closed[1] or not g[1] < np.inf:
            continue
        # The path found, measured leg by leg with the Andoyer-Lambert distance and its allowance.
        total = 0.0
        j = 1
        while j != 0:
            p = par[j]
            if p == 0 and j == 1:
                total += _lam_reduced(lon1[i], b1[i], cb1[i], lon2[i], b2[i], cb2[i]) * (1 + LAM_REL) + LAM_ABS
            elif p == 0:
                va = node[j]
                lo_v = math.degrees(math.atan2(va[1], va[0]))
                bv = math.atan((1 - WGS84_F) * math.tan(math.asin(min(max(va[2], -1.0), 1.0))))
                total += _lam_reduced(lon1[i], b1[i], cb1[i], lo_v, bv, math.cos(bv)) * (1 + LAM_REL) + LAM_ABS
            elif j == 1:
                va = node[p]
                lo_v = math.degrees(math.atan2(va[1], va[0]))
                bv = math.atan((1 - WGS84_F) * math.tan(math.asin(min(max(va[2], -1.0), 1.0))))
                total += _lam_reduced(lo_v, bv, math.cos(bv), lon2[i], b2[i], cb2[i]) * (1 + LAM_REL) + LAM_ABS
            else:
                total += _leg_len(node[p], node[j])
            j = p
        if total <= budget[i]:
            found[i] = True
            out[i] = total
    return found, out


def hull_graph_paths(
    lon1: FloatArray, lat1: FloatArray, lon2: FloatArray, lat2: FloatArray, budget: FloatArray, ph: PartHulls,
    ze: ZoneEdges,
) -> tuple[NDArray[np.bool_], FloatArray]:
    """For each pair (fix 1 outside the zone), whether a path through the parts' hull vertices avoids the zone.

    The way round several parts at once (islands, a coast and its islands); returns (found, an upper bound on
    the path's WGS84 length where found, else inf); see the module note and ``_graph_kernel``.
    """
    if len(lon1) == 0:
        return np.zeros(0, dtype=bool), np.zeros(0)
    idx = np.arange(ph.v.shape[0])
    k = np.repeat(ph.end - ph.start, ph.end - ph.start)
    s0 = np.repeat(ph.start, ph.end - ph.start)
    pv, nv = ph.v[s0 + (idx - s0 - 1) % k], ph.v[s0 + (idx - s0 + 1) % k]
    return _by_push(_graph_kernel, lon1, lat1, lon2, lat2, budget, (ph.v, pv, nv, ph.start, ph.end, ph.c, ph.cos_r), ze)


@dataclass
class RingNodes:
    """Salient convex vertices of a zone's outer rings, with their ring neighbours, in groups with caps."""

    v: FloatArray
    pv: FloatArray
    nv: FloatArray
    start: IntArray
    end: IntArray
    c: FloatArray
    cos_r: FloatArray


def ring_nodes(g: BaseGeometry, chunk: int = RING_CHUNK) -> RingNodes | None:
    """The convex vertices of `g`'s outer rings that are hull vertices of their chunk of `chunk` consecutive ones.

    Only candidates for ``_graph_kernel``: the way out of a bay or a strait bends at such corners (a fix inside a
    part's hull, where no path round the hull starts). Convexity and the chunks' hulls are taken in lon/lat.
    """
    if g.geom_type not in ("Polygon", "MultiPolygon"):
        return None
    # Every part's exterior, every chunk at once (one GEOS call for all the chunks' hulls).
    parts = shapely.get_parts(shapely.orient_polygons(g, exterior_cw=False))
    parts = parts[(shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)]
    xy_all, ring = shapely.get_coordinates(shapely.get_exterior_ring(parts), return_index=True)
    cnt = np.bincount(ring, minlength=len(parts))
    first = np.concatenate([[0], np.cumsum(cnt)[:-1]])
    k_r = cnt - 1  # the closing vertex dropped
    use = k_r >= 4
    keep = np.repeat(use, cnt) & (np.arange(len(ring)) != np.repeat(first + cnt - 1, cnt))
    xy, ring = xy_all[keep], ring[keep]
    if len(xy) == 0:
        return None
    k = np.repeat(k_r, cnt)[keep]
    loc = (np.arange(len(keep)) - np.repeat(first, cnt))[keep]  # index within the ring
    base = np.arange(len(ring)) - loc
    prv, nxt = xy[base + (loc - 1) % k], xy[base + (loc + 1) % k]
    a, b = xy - prv, nxt - xy
    convex = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0] > 0
    # Chunks of `chunk` consecutive vertices of each ring, numbered in order.
    nch = -(-k_r[use] // chunk)
    ch_first = np.zeros(len(parts), dtype=np.int64)
    ch_first[use] = np.concatenate([[0], np.cumsum(nch)[:-1]])
    cid = ch_first[ring] + loc // chunk
    # (the chunks as lines: GEOS takes the hull of the same coordinates as of the points, in the same order, and
    # builds no point geometries; a chunk of one vertex is its own hull)
    ncid = int(cid[-1]) + 1
    size = np.bincount(cid, minlength=ncid)
    two = size[cid] >= 2
    hulls = shapely.convex_hull(shapely.linestrings(xy[two], indices=(np.cumsum(size >= 2) - 1)[cid[two]]))
    hv, hid = shapely.get_coordinates(hulls, return_index=True)
    hid = np.flatnonzero(size >= 2)[hid]
    hv, hid = np.concatenate([hv, xy[~two]]), np.concatenate([hid, cid[~two]])
    # A vertex is on its chunk's hull when (chunk, x, y) is among the hull's coordinates (+ 0.0: -0.0 as 0.0,
    # as == compares them).
    key = np.dtype([("c", np.int64), ("x", np.float64), ("y", np.float64)])
    pk, hk = np.empty(len(xy), dtype=key), np.empty(len(hv), dtype=key)
    pk["c"], pk["x"], pk["y"] = cid, xy[:, 0] + 0.0, xy[:, 1] + 0.0
    hk["c"], hk["x"], hk["y"] = hid, hv[:, 0] + 0.0, hv[:, 1] + 0.0
    on = np.isin(pk.view(np.void), hk.view(np.void)) & convex
    j = np.flatnonzero(on)
    if j.size == 0:
        return None
    vs, ps, ns = [xy[j]], [prv[j]], [nxt[j]]
    cj = cid[j]
    st_mask = np.r_[True, cj[1:] != cj[:-1]]
    st = np.flatnonzero(st_mask)
    en = np.r_[st[1:], j.size]
    v, pv, nv = (unit(q[:, 0], q[:, 1]) for q in (np.vstack(vs), np.vstack(ps), np.vstack(ns)))
    start, end = np.array(st, dtype=np.int64), np.array(en, dtype=np.int64)
    c = np.add.reduceat(v, start, axis=0)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    cos_r = np.minimum.reduceat(np.sum(v * np.repeat(c, end - start, axis=0), axis=1), start) - 1e-9
    return RingNodes(np.ascontiguousarray(v), np.ascontiguousarray(pv), np.ascontiguousarray(nv), start, end, c, cos_r)


_RING: dict[int, RingNodes | None] = {}  # ring_nodes per ZoneEdges (by id; dropped with it)


def zone_ring_nodes(g: BaseGeometry, ze: ZoneEdges) -> RingNodes | None:
    """``ring_nodes(g)``, built once per zone (kept while its ``ZoneEdges`` lives)."""
    key = id(ze)
    if key not in _RING:
        _RING[key] = ring_nodes(g)
        weakref.finalize(ze, _RING.pop, key, None)
    return _RING[key]


def ring_graph_paths(
    lon1: FloatArray, lat1: FloatArray, lon2: FloatArray, lat2: FloatArray, budget: FloatArray, rn: RingNodes,
    ze: ZoneEdges,
) -> tuple[NDArray[np.bool_], FloatArray]:
    """``hull_graph_paths`` through the rings' salient vertices (``ring_nodes``): out of bays and straits."""
    if len(lon1) == 0:
        return np.zeros(0, dtype=bool), np.zeros(0)
    return _by_push(_graph_kernel, lon1, lat1, lon2, lat2, budget, (rn.v, rn.pv, rn.nv, rn.start, rn.end, rn.c,
                                                                    rn.cos_r), ze)


__all__ = ["GRAPH_NODES", "PUSH", "PUSH_MIN", "RING_CHUNK", "RingNodes", "hull_graph_paths", "hull_paths", "pushes",
           "ring_graph_paths", "ring_nodes", "zone_ring_nodes"]
