"""Many-leg avoiding paths through a lattice in the budget's ellipse, for the bulk stage (fast mode).

When the direct arc crosses a zone and no two-leg path (``fast.two_leg_paths``) goes round it — an arc
through an archipelago or along an indented coast — a path that weaves between the islands often exists
well within the budget. Nodes are laid out in columns across the ellipse (gnomonic frame centred between
the fixes: ``ncol`` columns evenly between them, ``nrow`` nodes each, denser near the direct arc, then, for
the pairs that lattice did not serve, evenly spaced: ``POWERS``), and a
dynamic programme over columns (each leg from one column to the next) finds the shortest such path on the
sphere whose legs are certainly clear of every zone edge (``edges._arc_clear_kernel``, tested lazily:
candidates in order of their length, the first clear one kept).

Why it is an upper bound on the avoiding length: fix 1 lies outside the zone and every leg of the path
is clear of every boundary edge (neither entering nor touching, the lon/lat and great-circle versions of
each edge), so each leg keeps the side of its start: the whole path stays outside. Its length is then
measured leg by leg with the Andoyer-Lambert distance plus its allowance (``_lam_hi``: an upper bound on
each leg's geodesic length, as ``two_leg_paths`` measures its two legs); the path counts only when that
sum is within the budget. The lattice only chooses which path is tried: nothing about it needs to be
exact.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from overflight._jit import grow, kernel
from overflight.analysis.prism._geo import R_SPHERE, FloatArray, unit
from overflight.analysis.prism.edges import (
    LAM_ABS,
    LAM_REL,
    QUAD,
    EdgeTree,
    FixLegs,
    ZoneEdges,
    _lam_reduced,
)
from overflight.geodesy import WGS84_F

NCOL = 30  # columns of nodes between the fixes
NROW = 61  # nodes per column (odd: the direct arc's own point is one)
POWERS = (2.0, 1.0)  # row spacing: offsets from the arc grow as |s|^power (s in [-1, 1]); tried in turn
WINDOW = 10  # a leg between two columns of nodes moves by at most this many rows
TRIES = 3  # clearance tests per node at most (the shortest candidates first): a node inside the zone gives up soon


def graded_columns(ncol: int, h0: float) -> FloatArray:
    """Column places (fractions of the direct arc, 0 and 1 the fixes), steps growing geometrically from `h0`.

    From each fix to the middle: fine steps where a path threads out of a strait or a bay next to a fix.
    """
    half = (ncol + 1) / 2
    lo, hi = 1.0 + 1e-9, 4.0  # the ratio g with h0 (g^half - 1) / (g - 1) = 1/2, by bisection
    for _ in range(100):
        g = (lo + hi) / 2
        lo, hi = (g, hi) if h0 * (g**half - 1) / (g - 1) < 0.5 else (lo, g)
    k = np.arange(ncol + 2)
    f = h0 * (g ** np.minimum(k, ncol + 1 - k) - 1) / (g - 1)
    f = np.where(k <= half, f, 1 - f)
    f[0], f[-1] = 0.0, 1.0
    return np.asarray(f, dtype=np.float64)


SLACK = 1.01  # spherical search: paths up to this share over the budget are kept (the Lambert check decides)


@kernel
def _leg_clear(a0: float, a1: float, a2: float, b0: float, b1: float, b2: float, sub: NDArray[np.int64], h0: int,
               h1: int, cr: FloatArray, sr: FloatArray, t: EdgeTree, first: int, qc: FloatArray,
               qoff: FloatArray) -> int:
    """Whether the arc a→b is clear of every edge of the pieces ``sub[h0:h1]`` (``_arc_clear_kernel``'s tests).

    Returns -1 when it is clear, else the entry of `sub` whose piece holds an edge it cannot clear. The caller
    keeps in `sub` every piece whose cap meets a region holding the arc: the others are disjoint from the arc
    (their caps hold both versions of their edges), so skipping them keeps the answer certain. The pieces are
    scanned from entry `first` (when in range) round to it: the answer is the same in any order, and the piece
    that blocked the last leg tested (a neighbour's, usually blocked by the same coast) then comes first.
    """
    c0, c1, c2 = a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0
    cn = max(math.sqrt(c0 * c0 + c1 * c1 + c2 * c2), 1e-300)
    n0, n1, n2 = c0 / cn, c1 / cn, c2 / cn
    # The arc's half-length and midpoint, once a piece comes within reach of its great circle (many legs have
    # none: no arccos for them).
    half = ch = sh = m0 = m1 = m2 = 0.0
    near = False
    s0 = first if h0 <= first < h1 else h0
    for q in range(h0, h1):
        h = q + (s0 - h0)
        if h >= h1:
            h -= h1 - h0
        p = sub[h]
        # The piece's cap must come within reach of the arc's great circle ...
        if not abs(t.piece_c[p, 0] * n0 + t.piece_c[p, 1] * n1 + t.piece_c[p, 2] * n2) <= t.piece_off[p]:
            continue
        if not near:
            near = True
            half = 0.5 * math.acos(min(max(a0 * b0 + a1 * b1 + a2 * b2, -1.0), 1.0))
            ch, sh = math.cos(half), math.sin(half)
            m0, m1, m2 = a0 + b0, a1 + b1, a2 + b2
            mn = max(math.sqrt(m0 * m0 + m1 * m1 + m2 * m2), 1e-300)
            m0, m1, m2 = m0 / mn, m1 / mn, m2 / mn
        # ... and of its midpoint: angle(m, c) <= half + rad, as cos(angle) >= cos(half + rad) (both below
        # pi; `cr`, `sr`: cos and sin of the piece's radius plus 1e-9).
        dp = m0 * t.piece_c[p, 0] + m1 * t.piece_c[p, 1] + m2 * t.piece_c[p, 2]
        if half + t.piece_rad[p] + 1e-9 < math.pi and dp < ch * cr[p] - sh * sr[p] - 1e-12:
            continue
        es, ee = t.piece_start[p], t.piece_end[p]
        # By quads of QUAD edges (``ZoneEdges.quads``, each the piece's edges among them): a quad whose cap is
        # beyond the arc's great circle has every edge's ends beyond it by more than the edge's tolerance, so
        # the first side test below would pass each of them.
        for qd in range(es // QUAD, (ee + QUAD - 1) // QUAD):
            if not abs(qc[qd, 0] * n0 + qc[qd, 1] * n1 + qc[qd, 2] * n2) <= qoff[qd]:
                continue
            for e in range(max(es, QUAD * qd), min(ee, QUAD * qd + QUAD)):
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
                return h
    return -1


@kernel
def _lattice_kernel(
    u1: FloatArray, u2: FloatArray, lon1: FloatArray, b1: FloatArray, cb1: FloatArray, lon2: FloatArray,
    b2: FloatArray, cb2: FloatArray, budget: FloatArray, cols: FloatArray, nrow: int, power: float, t: EdgeTree,
    window: int, tries: int, qc: FloatArray, qoff: FloatArray,
) -> tuple[NDArray[np.bool_], FloatArray]:
    """For each pair, whether a lattice path clear of the zone is within `budget`, and its length (else inf).

    `cols` are the columns' places along the direct arc, increasing from 0 (fix 1) to ``cols[-1]`` (fix 2).
    """
    n = u1.shape[0]
    ncol = cols.size - 2
    found = np.zeros(n, dtype=np.bool_)
    out = np.full(n, np.inf)
    if tries < 1:  # (no leg is ever tested: no path)
        return found, out
    nodes = np.empty((ncol + 2, nrow, 3))
    cost = np.empty((ncol + 2, nrow))  # spherical length (metres) of the best clear path to each node
    back = np.empty((ncol + 2, nrow), dtype=np.int64)
    cand = np.empty(nrow)
    order = np.empty(nrow, dtype=np.int64)
    sub = np.empty(t.piece_c.shape[0], dtype=np.int64)
    cr, sr = t.piece_cr, t.piece_sr  # cos and sin of piece_rad + 1e-9
    bnd = np.empty((ncol + 2, 3))
    slab_s = np.zeros(ncol + 2, dtype=np.int64)
    slab_e = np.zeros(ncol + 2, dtype=np.int64)
    slab_p = np.empty(1024, dtype=np.int64)
    m = np.empty(3)
    ax = np.empty(3)
    hint = -1  # the entry of slab_p whose piece blocked the last leg tested (tested first next)
    nr = np.empty(3)
    for i in range(n):
        a, b = u1[i], u2[i]
        for q in range(3):
            m[q] = a[q] + b[q]
            ax[q] = b[q] - a[q]
        mn = math.sqrt(m[0] * m[0] + m[1] * m[1] + m[2] * m[2])
        if mn < 1e-9:
            continue
        for q in range(3):
            m[q] /= mn
        dm = ax[0] * m[0] + ax[1] * m[1] + ax[2] * m[2]
        for q in range(3):
            ax[q] -= dm * m[q]
        an = math.sqrt(ax[0] * ax[0] + ax[1] * ax[1] + ax[2] * ax[2])
        if an < 1e-15:
            continue
        for q in range(3):
            ax[q] /= an
        nr[0] = m[1] * ax[2] - m[2] * ax[1]
        nr[1] = m[2] * ax[0] - m[0] * ax[2]
        nr[2] = m[0] * ax[1] - m[1] * ax[0]
        c = 0.5 * math.acos(min(max(a[0] * b[0] + a[1] * b[1] + a[2] * b[2], -1.0), 1.0))
        big = min(budget[i] / (2 * R_SPHERE), 0.45 * math.pi)
        if not big > c:
            continue
        small = math.acos(min(max(math.cos(big) / max(math.cos(c), 1e-12), -1.0), 1.0))
        tc, tb, ts = math.tan(c), math.tan(big), math.tan(small)
        lim = budget[i] * SLACK
        # The lattice: column 0 is fix 1 (row 0), column ncol + 1 fix 2 (row 0).
        for q in range(3):
            nodes[0, 0, q] = a[q]
            nodes[ncol + 1, 0, q] = b[q]
        for k in range(1, ncol + 1):
            x = -tc + 2 * tc * cols[k] / cols[ncol + 1]
            w = ts * math.sqrt(max(0.0, 1.0 - (x / tb) ** 2)) * 0.98
            for j in range(nrow):
                s = -1.0 + 2.0 * j / (nrow - 1)
                y = w * s * abs(s) ** (power - 1.0)  # power 2: denser near the direct arc
                vn = 0.0
                for q in range(3):
                    nodes[k, j, q] = m[q] + x * ax[q] + y * nr[q]
                    vn += nodes[k, j, q] ** 2
                vn = math.sqrt(vn)
                for q in range(3):
                    nodes[k, j, q] /= vn
        # Every node and both fixes lie within angle `reg` of m, hence so does every leg (a cap narrower than a
        # hemisphere is convex): only the pieces whose caps come that near can meet a leg.
        # (the farthest node is the one of least cosine: one arccos, not one per node)
        dmin = 1.0
        for k in range(1, ncol + 1):
            for j in range(nrow):
                dv = nodes[k, j, 0] * m[0] + nodes[k, j, 1] * m[1] + nodes[k, j, 2] * m[2]
                dmin = min(dmin, min(max(dv, -1.0), 1.0))
        reg = max(c, math.acos(dmin))
        if not reg < 0.49 * math.pi:
            continue
        reg += 1e-9
        ns = 0
        for g in range(t.group_c.shape[0]):
            dg = min(max(m[0] * t.group_c[g, 0] + m[1] * t.group_c[g, 1] + m[2] * t.group_c[g, 2], -1.0), 1.0)
            if not math.acos(dg) <= reg + t.group_rad[g] + 1e-9:
                continue
            for p in range(t.group_start[g], t.group_end[g]):
                dp = min(max(m[0] * t.piece_c[p, 0] + m[1] * t.piece_c[p, 1] + m[2] * t.piece_c[p, 2], -1.0), 1.0)
                if math.acos(dp) <= reg + t.piece_rad[p] + 1e-9:
                    sub[ns] = p
                    ns += 1
        # Then by slab: the legs of step k (column k - 1 to column k) lie, in the gnomonic plane at m, between
        # the lines x = xs[k - 1] and x = xs[k], i.e. between the great circles of normals ax - x m. A cap
        # wholly beyond either (its centre farther from the circle than sin(radius), ``piece_off``) cannot
        # meet those legs; each step keeps the pieces of `sub` that reach its slab (CSR in slab_p).
        for k in range(ncol + 2):
            x = -tc + 2 * tc * cols[k] / cols[ncol + 1]
            nn = 0.0
            for q in range(3):
                bnd[k, q] = ax[q] - x * m[q]
                nn += bnd[k, q] ** 2
            nn = math.sqrt(nn)
            for q in range(3):
                bnd[k, q] /= nn
        cnt = 0
        for k in range(1, ncol + 2):
            slab_s[k] = cnt
            for h in range(ns):
                p = sub[h]
                off = t.piece_off[p]
                s0 = t.piece_c[p, 0] * bnd[k - 1, 0] + t.piece_c[p, 1] * bnd[k - 1, 1] + t.piece_c[p, 2] * bnd[k - 1, 2]
                s1 = t.piece_c[p, 0] * bnd[k, 0] + t.piece_c[p, 1] * bnd[k, 1] + t.piece_c[p, 2] * bnd[k, 2]
                if s0 >= -off and s1 <= off:
                    if cnt == slab_p.size:
                        slab_p = grow(slab_p, 2 * cnt, cnt)
                    slab_p[cnt] = p
                    cnt += 1
            slab_e[k] = cnt
        cost[0, 0] = 0.0
        back[0, 0] = 0
        prev_n = 1
        alive = True
        for k in range(1, ncol + 2):
            cur_n = 1 if k == ncol + 1 else nrow
            any_ok = False
            for j in range(cur_n):
                # (the node's coordinates as scalars: row views cost reference counts in this loop)
                v0, v1, v2 = nodes[k, j, 0], nodes[k, j, 1], nodes[k, j, 2]
                cost[k, j] = np.inf
                # Spherical distance from this node to fix 2: a lower bound on what the path still needs
                # (computed at the node's first candidate: many nodes have none).
                dr = -1.0
                nc = 0
                p_lo, p_hi = 0, prev_n
                if prev_n > 1 and cur_n > 1:  # legs between columns of the lattice: rows within WINDOW
                    p_lo, p_hi = max(0, j - window), min(prev_n, j + window + 1)
                for p in range(p_lo, p_hi):
                    cp = cost[k - 1, p]
                    if not cp < np.inf:
                        continue
                    # Only the first `tries` candidates in order of length are tested: the others are not kept.
                    # (A candidate no shorter than the last kept one would be placed after it, ties keeping
                    # the order of p: the kept ones are the first `tries` of the whole sorted list, as before.)
                    if nc == tries and not cp < cand[tries - 1]:
                        continue  # (the leg adds a length >= 0)
                    if dr < 0.0:
                        dr = R_SPHERE * math.acos(min(max(v0 * b[0] + v1 * b[1] + v2 * b[2], -1.0), 1.0))
                    if cp + dr > lim:
                        continue  # (then so is tot + dr below, the leg being >= 0: rounding is monotonic)
                    # The chord (shorter than the arc by a third of a millionth for legs of 100 km): it only
                    # ranks the candidates.
                    leg = R_SPHERE * math.sqrt((nodes[k - 1, p, 0] - v0) ** 2 + (nodes[k - 1, p, 1] - v1) ** 2
                                               + (nodes[k - 1, p, 2] - v2) ** 2)
                    tot = cp + leg
                    if tot + dr > lim:
                        continue
                    # Insertion into the sorted candidates (when full, the last one drops out).
                    if nc == tries:
                        if not tot < cand[tries - 1]:
                            continue
                        pos = tries - 1
                    else:
                        pos = nc
                        nc += 1
                    while pos > 0 and cand[pos - 1] > tot:
                        cand[pos] = cand[pos - 1]
                        order[pos] = order[pos - 1]
                        pos -= 1
                    cand[pos] = tot
                    order[pos] = p
                for h in range(min(nc, tries)):
                    p = order[h]
                    blk = _leg_clear(nodes[k - 1, p, 0], nodes[k - 1, p, 1], nodes[k - 1, p, 2], v0, v1, v2, slab_p,
                                     slab_s[k], slab_e[k], cr, sr, t, hint, qc, qoff)
                    if blk < 0:
                        cost[k, j] = cand[h]
                        back[k, j] = p
                        any_ok = True
                        break
                    hint = blk
            if not any_ok:
                alive = False
                break
            prev_n = cur_n
        if not alive:
            continue
        # The path found, measured with the Andoyer-Lambert distance and its allowance, leg by leg.
        total = 0.0
        j = 0
        k = ncol + 1
        while k > 0:
            p = back[k, j]
            va, vb = nodes[k - 1, p], nodes[k, j]
            lo_a = math.degrees(math.atan2(va[1], va[0]))
            la_a = math.asin(min(max(va[2], -1.0), 1.0))
            lo_b = math.degrees(math.atan2(vb[1], vb[0]))
            la_b = math.asin(min(max(vb[2], -1.0), 1.0))
            if k - 1 == 0:
                lo_a, ba, cba = lon1[i], b1[i], cb1[i]
            else:
                ba = math.atan((1 - WGS84_F) * math.tan(la_a))
                cba = math.cos(ba)
            if k == ncol + 1:
                lo_b, bb, cbb = lon2[i], b2[i], cb2[i]
            else:
                bb = math.atan((1 - WGS84_F) * math.tan(la_b))
                cbb = math.cos(bb)
            total += _lam_reduced(lo_a, ba, cba, lo_b, bb, cbb) * (1 + LAM_REL) + LAM_ABS
            j = p
            k -= 1
        if total <= budget[i]:
            found[i] = True
            out[i] = total
    return found, out


def lattice_paths(
    lon1: FloatArray, lat1: FloatArray, lon2: FloatArray, lat2: FloatArray, budget: FloatArray, ze: ZoneEdges,
    ncol: int = NCOL, nrow: int = NROW, powers: tuple[float, ...] = POWERS, cols: FloatArray | None = None,
    window: int = WINDOW, tries: int = TRIES,
) -> tuple[NDArray[np.bool_], FloatArray]:
    """For each pair (fix 1 outside the zone), whether a lattice path avoids the zone within `budget` (metres).

    Returns (found, an upper bound on the path's WGS84 length where found, else inf); see the module note.
    """
    n = len(lon1)
    if n == 0:
        return np.zeros(0, dtype=bool), np.zeros(0)
    fl = FixLegs(lon1, lat1, lon2, lat2)
    c = np.ascontiguousarray
    u1, u2, bud = c(unit(lon1, lat1)), c(unit(lon2, lat2)), c(budget, dtype=np.float64)
    found = np.zeros(n, dtype=bool)
    length = np.full(n, np.inf)
    todo = np.arange(n)
    xc = np.arange(ncol + 2, dtype=np.float64) if cols is None else np.ascontiguousarray(cols, dtype=np.float64)
    for pw in powers:  # each spacing of the rows in turn, for the pairs the previous ones did not serve
        if todo.size == 0:
            break
        got, ln = _lattice_kernel(c(u1[todo]), c(u2[todo]), fl.lon1[todo], fl.b1[todo], fl.cb1[todo], fl.lon2[todo],
                                  fl.b2[todo], fl.cb2[todo], c(bud[todo]), xc, int(nrow), float(pw), ze.tree(),
                                  int(window), int(tries), *ze.quads())
        got = np.asarray(got, dtype=bool)
        found[todo[got]] = True
        length[todo[got]] = np.asarray(ln)[got]
        todo = todo[~got]
    return found, length


GRADED_NCOL, GRADED_H0, GRADED_TRIES = 30, 0.002, 10  # the second lattice (``graded_lattice_paths``)


def graded_lattice_paths(
    lon1: FloatArray, lat1: FloatArray, lon2: FloatArray, lat2: FloatArray, budget: FloatArray, ze: ZoneEdges,
) -> tuple[NDArray[np.bool_], FloatArray]:
    """``lattice_paths`` with columns crowded near the fixes and more clearance tests per node.

    For the pairs the first lattice did not serve: a path threading out of a strait or a bay next to a fix.
    """
    return lattice_paths(lon1, lat1, lon2, lat2, budget, ze, ncol=GRADED_NCOL, powers=(2.0,), tries=GRADED_TRIES,
                         cols=graded_columns(GRADED_NCOL, GRADED_H0))


__all__ = ["NCOL", "NROW", "graded_columns", "graded_lattice_paths", "lattice_paths"]
