"""The least cap bound over many caps, per pair, with caps grouped so that far groups are skipped (compiled).

``caps._focal_lb`` bounds the focal sum over one cap: ``SPH_LO R (σ(u1, c) + σ(u2, c)) (1 - 1e-9) - 2 r``.
The least of these over a zone's parts or boundary pieces is what the caps and inside stages need; most
caps are far from a given pair. Caps go in groups of at most ``GROUP`` (near ones together: a k-d split of
their centres) under a group centre g. By the triangle inequality on the sphere, ``σ(u, c) >= σ(u, g) - a``
for a member at angle ``a`` from g, so the member's bound is at least ``S_g - w`` with
``S_g = (σ(u1, g) + σ(u2, g)) K`` (``K = SPH_LO R (1 - 1e-9)``) and its slack ``w = 2 a K + 2 r + 1``
(1 m for rounding); the group's is the least over its members, ``S_g - max w``. Groups are visited by
that bound, nearest first, and the visit stops at the first group whose bound exceeds the least value
found; within a group, a member whose own lower bound exceeds it is skipped. The skipped caps could not
have lowered it: the same least value, the same float, as the bound of every cap taken one by one.

The σ of those lower bounds need not be exact, only below the true angle: for a chord ``c = |u - g|``,
``σ = 2 asin(c / 2) >= c + c³ / 24 + 3 c⁵ / 640 + 5 c⁷ / 7168 + 35 c⁹ / 294912`` (the series of asin has
positive terms; the rest is under 1e-12 rad (6 µm) for c < 0.2 (1,300 km), 3 cm at 3,000 km, 60 m at
6,000 km): a square root and a polynomial (LLVM vectorises them) where the exact angle needs an arccos
(five times dearer). Only the caps that may be the least get their arccos.

Without `exact` (the fast mode's bounds) no arccos at all: the bounds are those of the chords' series,
lower than the arccos ones (by the series' rest: more only for far caps, which stay far) and as certain (the
series is rounded as little as the arccos, and ``1 - 1e-9`` covers both): for the caps near a pair, the ones
that decide, the same to a micrometre.

A ``CapTree`` holds the groups of several zones one after another (``zone_g``: zone z's groups are
``zone_g[z]:zone_g[z + 1]``), so that one compiled pass can take every zone of a chunk of pairs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from overflight._jit import kernel
from overflight.analysis.prism._geo import R_SPHERE, SPH_LO, FloatArray

GROUP = 64  # caps per group (32 to 128 within 10 % on the ne-admin0 benchmark, 64 the best; 16 and 8 slower)

_K = SPH_LO * R_SPHERE
_F = 1 - 1e-9


class CapTree(NamedTuple):
    """Caps (centres, radii in metres) in groups, each group's caps consecutive, of one zone or of several."""

    c: FloatArray  # (m, 3) unit centres
    r: FloatArray  # (m,) metres
    w: FloatArray  # (m,) metres: the member's slack below its group's focal sum (2 a K + 2 r + 1)
    group_c: FloatArray  # (g, 3) unit group centres
    group_w: FloatArray  # (g,) the largest slack of the group's members
    group_start: NDArray[np.int64]  # (g,) members: c[group_start[j]:group_end[j]]
    group_end: NDArray[np.int64]
    zone_g: NDArray[np.int64]  # (zones + 1,): zone z's groups are zone_g[z]:zone_g[z + 1]


def _kd_groups(cu: FloatArray, group: int = GROUP) -> list[NDArray[np.int64]]:
    """Cap numbers in groups of at most `group`, near centres together (halving along the widest axis)."""
    out: list[NDArray[np.int64]] = []
    todo = [np.arange(len(cu), dtype=np.int64)]
    while todo:
        ix = todo.pop()
        if len(ix) <= group:
            out.append(ix)
            continue
        p = cu[ix]
        o = ix[np.argsort(p[:, int(np.argmax(p.max(axis=0) - p.min(axis=0)))], kind="stable")]
        h = ((-(-len(o) // group)) // 2) * group  # the first half a whole number of groups
        todo += [o[h:], o[:h]]
    return out


def cap_tree(cu: FloatArray, cr: FloatArray, *, spatial: bool = False) -> CapTree:
    """Group the caps (`cu` (m, 3) centres, `cr` (m,) radii): runs of ``GROUP`` in the order given, or, with
    `spatial`, near caps together (reordered: for ``least_focal_lb``, whose value does not depend on the order;
    ``focal_lb_all`` gives its columns in the tree's order)."""
    return cap_forest([(cu, cr)], spatial=spatial)


def cap_forest(caps: Sequence[tuple[FloatArray, FloatArray]], *, spatial: bool = True, group: int = GROUP) -> CapTree:
    """One tree holding the grouped caps of each zone (``(centres, radii)`` per zone), zone after zone.

    Groups of at most `group` caps.
    """
    cs_, rs_, sizes, nzg = [], [], [], []
    for cu, cr in caps:
        u = np.asarray(cu, dtype=np.float64).reshape(-1, 3)
        rr = np.asarray(cr, dtype=np.float64).reshape(-1)
        if spatial and len(rr) > group:
            groups = _kd_groups(u, group)
            order = np.concatenate(groups)
            sz = np.array([len(g) for g in groups], dtype=np.int64)
        else:
            order = np.arange(len(rr))
            gs0 = np.arange(0, len(rr), group, dtype=np.int64)
            sz = np.minimum(gs0 + group, len(rr)) - gs0
        cs_.append(u[order])
        rs_.append(rr[order])
        sizes.append(sz)
        nzg.append(len(sz))
    cu = np.ascontiguousarray(np.vstack(cs_) if cs_ else np.zeros((0, 3)))
    cr = np.ascontiguousarray(np.concatenate(rs_) if rs_ else np.zeros(0))
    sz = np.concatenate(sizes) if sizes else np.zeros(0, dtype=np.int64)
    ge = np.cumsum(sz).astype(np.int64)
    gs = (ge - sz).astype(np.int64)
    csum = np.vstack([np.zeros((1, 3)), np.cumsum(cu, axis=0)])
    gc = csum[ge] - csum[gs]
    nrm = np.linalg.norm(gc, axis=1, keepdims=True)
    gc = np.where(nrm > 1e-9, gc / np.maximum(nrm, 1e-300), cu[gs] if len(gs) else gc)
    own = np.repeat(np.arange(len(gs)), sz)
    ang = np.arccos(np.clip(np.sum(cu * gc[own], axis=1), -1.0, 1.0)) * (1 + 1e-9) + 1e-12
    w = 2.0 * ang * (_K * _F) + 2.0 * cr + 1.0
    gw = np.full(len(gs), -np.inf)
    np.maximum.at(gw, own, w)
    zg = np.concatenate([[0], np.cumsum(nzg)]).astype(np.int64)
    return CapTree(cu, cr, np.ascontiguousarray(w), np.ascontiguousarray(gc), gw, gs, ge, zg)


@kernel
def _acos(x: float) -> float:
    return math.acos(min(max(x, -1.0), 1.0))


@kernel
def _arc_lo(a0: float, a1: float, a2: float, g0: float, g1: float, g2: float) -> float:
    """A lower bound on the angle between two unit vectors, from their chord (see the module's note)."""
    d0, d1, d2 = a0 - g0, a1 - g1, a2 - g2
    q = d0 * d0 + d1 * d1 + d2 * d2
    # 2 asin(c / 2) to its c^9 term, in c² (each term positive: every partial sum is below the angle).
    return math.sqrt(q) * (1.0 + q * (1.0 / 24.0 + q * (3.0 / 640.0 + q * (5.0 / 7168.0 + q * (35.0 / 294912.0)))))


@kernel
def _visit(a0: float, a1: float, a2: float, b0: float, b1: float, b2: float, t: CapTree, g: int, sg: float,
           best: float, exact: bool) -> float:
    """The least of `best` and the bounds of group g's caps (`sg`: the group's focal sum bound)."""
    for p in range(t.group_start[g], t.group_end[g]):
        if sg - t.w[p] > best:
            continue
        c = t.c[p]
        lo = (_arc_lo(a0, a1, a2, c[0], c[1], c[2]) + _arc_lo(b0, b1, b2, c[0], c[1], c[2])) * _K * _F - 2.0 * t.r[p]
        if not exact:
            # (a skipped group's members are above `best` by their arccos bounds, so `best` stays below
            # every member's arccos bound: a lower bound on the exact least)
            if lo < best:
                best = lo
            continue
        if lo - 1.0 > best:
            continue
        s = _acos(a0 * c[0] + a1 * c[1] + a2 * c[2]) + _acos(b0 * c[0] + b1 * c[1] + b2 * c[2])
        v = s * _K * _F - 2.0 * t.r[p]
        if v < best:
            best = v
    return best


@kernel
def _least_one(a0: float, a1: float, a2: float, b0: float, b1: float, b2: float, t: CapTree, z: int,
               glb: FloatArray, gsum: FloatArray, exact: bool) -> float:
    """min over zone z's caps of the cap bound of the pair (a, b); `glb`, `gsum` are scratch (>= its groups).

    Without `exact`, a lower bound on it from the chords (see the module's note), with no arccos.
    """
    g0, g1 = t.zone_g[z], t.zone_g[z + 1]
    ng = g1 - g0
    if ng == 0:
        return np.inf
    if ng == 1:  # (most zones: no order to find)
        c = t.group_c[g0]
        sg = (_arc_lo(a0, a1, a2, c[0], c[1], c[2]) + _arc_lo(b0, b1, b2, c[0], c[1], c[2])) * _K * _F
        return _visit(a0, a1, a2, b0, b1, b2, t, g0, sg, np.inf, exact)
    for j in range(ng):
        c = t.group_c[g0 + j]
        s = (_arc_lo(a0, a1, a2, c[0], c[1], c[2]) + _arc_lo(b0, b1, b2, c[0], c[1], c[2])) * _K * _F
        gsum[j] = s
        glb[j] = s - t.group_w[g0 + j]
    best = np.inf
    for j in np.argsort(glb[:ng]):
        if glb[j] > best:
            break
        best = _visit(a0, a1, a2, b0, b1, b2, t, g0 + j, gsum[j], best, exact)
    return best


@kernel
def _least_kernel(u1: FloatArray, u2: FloatArray, t: CapTree, z: int, exact: bool) -> FloatArray:
    n = u1.shape[0]
    out = np.full(n, np.inf)
    ng = max(t.zone_g[z + 1] - t.zone_g[z], 1)
    glb, gsum = np.empty(ng), np.empty(ng)
    for k in range(n):
        out[k] = _least_one(u1[k, 0], u1[k, 1], u1[k, 2], u2[k, 0], u2[k, 1], u2[k, 2], t, z, glb, gsum, exact)
    return out


@kernel
def _dense_kernel(u1: FloatArray, u2: FloatArray, t: CapTree) -> FloatArray:
    n, m = u1.shape[0], t.c.shape[0]
    out = np.empty((n, m))
    for k in range(n):
        a0, a1, a2 = u1[k, 0], u1[k, 1], u1[k, 2]
        b0, b1, b2 = u2[k, 0], u2[k, 1], u2[k, 2]
        for p in range(m):
            c = t.c[p]
            s = _acos(a0 * c[0] + a1 * c[1] + a2 * c[2]) + _acos(b0 * c[0] + b1 * c[1] + b2 * c[2])
            out[k, p] = s * _K * _F - 2.0 * t.r[p]
    return out


@kernel
def _reach_kernel(u1: FloatArray, u2: FloatArray, need: FloatArray, flip: FloatArray, incons: NDArray[np.bool_],
                  zc: FloatArray, zr: FloatArray, parts: CapTree, verdict: NDArray[np.int8], detour: FloatArray,
                  margin: FloatArray, cand: NDArray[np.bool_], exact: bool) -> int:
    n, nz = u1.shape[0], zc.shape[0]
    mg = 1
    for z in range(nz):
        mg = max(mg, parts.zone_g[z + 1] - parts.zone_g[z])
    glb, gsum = np.empty(mg), np.empty(mg)
    lo = np.full(nz, -np.inf)
    far = 0
    for k in range(n):
        a0, a1, a2 = u1[k, 0], u1[k, 1], u1[k, 2]
        b0, b1, b2 = u2[k, 0], u2[k, 1], u2[k, 2]
        nd, fl = need[k], flip[k]
        if not exact:
            # Fast mode first takes the chords' bound of every zone cap and writes each zone as settled by it
            # (loops without branches, which LLVM vectorises): most pairs are far from most zones, and any
            # certain bound settles them. The few zones it does not settle are redone below.
            for z in range(nz):
                lo[z] = (_arc_lo(a0, a1, a2, zc[z, 0], zc[z, 1], zc[z, 2])
                         + _arc_lo(b0, b1, b2, zc[z, 0], zc[z, 1], zc[z, 2])) * _K * _F - 2.0 * zr[z]
            for z in range(nz):
                v = lo[z]
                detour[k, z] = v if (v > 0.0 or v != v) else 0.0
                m = v - nd
                margin[k, z] = m if (m < fl or m != m) else fl
        kept = 0
        for z in range(nz):
            # Where that does not settle it, and always in precise mode, the arccos bound (_dense_kernel's
            # arithmetic, the same floats): the same pairs go on as with it alone.
            v = lo[z]
            if not (exact or v <= nd):
                continue
            v = (_acos(a0 * zc[z, 0] + a1 * zc[z, 1] + a2 * zc[z, 2])
                 + _acos(b0 * zc[z, 0] + b1 * zc[z, 1] + b2 * zc[z, 2])) * _K * _F - 2.0 * zr[z]
            if v <= nd:
                p = _least_one(a0, a1, a2, b0, b1, b2, parts, z, glb, gsum, exact)
                if p > v or p != p:  # np.maximum (NaN propagates)
                    v = p
            if v <= nd:
                cand[k, z] = True
                detour[k, z] = v  # (the bound, kept there for the inside stage, which overwrites it)
                margin[k, z] = np.nan
                kept += 1
            else:
                detour[k, z] = v if (v > 0.0 or v != v) else 0.0
                m = v - nd
                margin[k, z] = m if (m < fl or m != m) else fl
        if not incons[k]:
            far += nz - kept
    return far


def focal_lb_all(u1: FloatArray, u2: FloatArray, tree: CapTree) -> FloatArray:
    """The cap bound of every pair (rows) for every cap of the tree (columns), as ``caps._focal_lb``."""
    return np.asarray(_dense_kernel(np.ascontiguousarray(u1, dtype=np.float64),
                                    np.ascontiguousarray(u2, dtype=np.float64), tree), dtype=np.float64)


def least_focal_lb(u1: FloatArray, u2: FloatArray, tree: CapTree, zone: int = 0, *, exact: bool = True) -> FloatArray:
    """min over the caps of the tree's `zone` of the cap bound, for each pair (rows of `u1`, `u2`).

    Without `exact`, a lower bound on it with no arccos (the chords' series: see the module's note).
    """
    if len(u1) == 0 or tree.zone_g[zone + 1] == tree.zone_g[zone]:
        return np.full(len(u1), np.inf)
    return np.asarray(_least_kernel(np.ascontiguousarray(u1, dtype=np.float64),
                                    np.ascontiguousarray(u2, dtype=np.float64), tree, zone, exact),
                      dtype=np.float64)


def reach_far(u1: FloatArray, u2: FloatArray, need: FloatArray, flip: FloatArray, incons: NDArray[np.bool_],
              zc: FloatArray, zr: FloatArray, parts: CapTree, verdict: NDArray[np.int8], detour: FloatArray,
              margin: FloatArray, cand: NDArray[np.bool_], *, exact: bool = True) -> int:
    """The caps stage in one compiled pass over every (pair, zone) of a chunk; returns how many it settled.

    The bound of each pair (rows of `u1`, `u2`) for each zone: its zone cap (`zc`, `zr`), and where that is
    within `need` (per row), the least over its parts' caps (`parts`, one zone per zone), the larger of the
    two. Within `need`: `cand` set, the bound left in `detour`, margin NaN. Beyond: verdict 0 ("impossible":
    `verdict` must hold 0 on entry, so that its pages are not written for nothing), detour ``max(lb, 0)``,
    margin ``min(lb - need, flip)`` (`flip` per row). The count leaves out `incons` rows. `detour`, `margin`
    (every element: they may come uninitialised) and `cand` (rows x zones, C order) are written in place.
    Without `exact` the bounds are the chords' (fast mode: certain, lower, and the same verdicts; see the
    module's note).
    """
    f = np.ascontiguousarray
    return int(_reach_kernel(f(u1, dtype=np.float64), f(u2, dtype=np.float64), f(need, dtype=np.float64).reshape(-1),
                             f(flip, dtype=np.float64).reshape(-1), f(incons, dtype=np.bool_), f(zc, dtype=np.float64),
                             f(zr, dtype=np.float64), parts, verdict, detour, margin, cand, exact))


__all__ = ["GROUP", "CapTree", "cap_forest", "cap_tree", "focal_lb_all", "least_focal_lb", "reach_far"]
