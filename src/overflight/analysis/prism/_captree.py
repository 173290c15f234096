"""The least cap bound over many caps, per pair, with caps grouped so that far groups are skipped (compiled).

``caps._focal_lb`` bounds the focal sum over one cap: ``SPH_LO R (σ(u1, c) + σ(u2, c)) (1 - 1e-9) - 2 r``.
The least of these over a zone's parts or boundary pieces is what the caps and inside stages need; most
caps are far from a given pair. Caps go in groups of ``GROUP`` consecutive ones under a group cap (centre,
angle covering the members' centres, largest member radius): by the triangle inequality on the sphere no
member's bound is below the group's (less 1 m for rounding), so groups are visited nearest first and the
visit stops at the first group whose bound exceeds the least value found: the same least value.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from overflight._jit import kernel
from overflight.analysis.prism._geo import R_SPHERE, SPH_LO, FloatArray

GROUP = 16


class CapTree(NamedTuple):
    """Caps (centres, radii in metres) in groups of consecutive caps, each with a covering group cap."""

    c: FloatArray  # (m, 3) unit centres
    r: FloatArray  # (m,) metres
    group_c: FloatArray  # (g, 3)
    group_ang: FloatArray  # (g,) radians: the members' centres lie within this angle of the group's
    group_r: FloatArray  # (g,) the largest member radius (metres)
    group_start: NDArray[np.int64]  # (g,)
    group_end: NDArray[np.int64]


def cap_tree(cu: FloatArray, cr: FloatArray) -> CapTree:
    """Group the caps (`cu` (m, 3) centres, `cr` (m,) radii) in runs of ``GROUP``."""
    cu = np.ascontiguousarray(np.asarray(cu, dtype=np.float64).reshape(-1, 3))
    cr = np.ascontiguousarray(np.asarray(cr, dtype=np.float64).reshape(-1))
    m = len(cr)
    gs = np.arange(0, m, GROUP, dtype=np.int64)
    ge = np.minimum(gs + GROUP, m).astype(np.int64)
    cs = np.vstack([np.zeros((1, 3)), np.cumsum(cu, axis=0)])
    gc = cs[ge] - cs[gs]
    nrm = np.linalg.norm(gc, axis=1, keepdims=True)
    gc = np.where(nrm > 1e-9, gc / np.maximum(nrm, 1e-300), cu[gs])
    own = np.repeat(np.arange(len(gs)), ge - gs)
    ang = np.arccos(np.clip(np.sum(cu * gc[own], axis=1), -1.0, 1.0))
    gang = np.zeros(len(gs))
    np.maximum.at(gang, own, ang)
    gr = np.zeros(len(gs))
    np.maximum.at(gr, own, cr)
    return CapTree(cu, cr, np.ascontiguousarray(gc), gang * (1 + 1e-9) + 1e-12, gr, gs, ge)


_K = SPH_LO * R_SPHERE
_F = 1 - 1e-9


@kernel
def _acos(x: float) -> float:
    return math.acos(min(max(x, -1.0), 1.0))


@kernel
def _least_kernel(u1: FloatArray, u2: FloatArray, t: CapTree) -> FloatArray:
    n = u1.shape[0]
    ng = t.group_c.shape[0]
    out = np.full(n, np.inf)
    glb = np.empty(ng)
    for k in range(n):
        a0, a1, a2 = u1[k, 0], u1[k, 1], u1[k, 2]
        b0, b1, b2 = u2[k, 0], u2[k, 1], u2[k, 2]
        for g in range(ng):
            c = t.group_c[g]
            s = _acos(a0 * c[0] + a1 * c[1] + a2 * c[2]) + _acos(b0 * c[0] + b1 * c[1] + b2 * c[2])
            glb[g] = (s - 2.0 * t.group_ang[g]) * _K * _F - 2.0 * t.group_r[g] - 1.0
        best = np.inf
        for g in np.argsort(glb):
            if glb[g] > best:
                break
            for p in range(t.group_start[g], t.group_end[g]):
                c = t.c[p]
                s = _acos(a0 * c[0] + a1 * c[1] + a2 * c[2]) + _acos(b0 * c[0] + b1 * c[1] + b2 * c[2])
                v = s * _K * _F - 2.0 * t.r[p]
                if v < best:
                    best = v
        out[k] = best
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


def focal_lb_all(u1: FloatArray, u2: FloatArray, tree: CapTree) -> FloatArray:
    """The cap bound of every pair (rows) for every cap of the tree (columns), as ``caps._focal_lb``."""
    return np.asarray(_dense_kernel(np.ascontiguousarray(u1, dtype=np.float64),
                                    np.ascontiguousarray(u2, dtype=np.float64), tree), dtype=np.float64)


def least_focal_lb(u1: FloatArray, u2: FloatArray, tree: CapTree) -> FloatArray:
    """min over the tree's caps of the cap bound, for each pair (rows of `u1`, `u2`)."""
    if len(u1) == 0 or len(tree.r) == 0:
        return np.full(len(u1), np.inf)
    return np.asarray(_least_kernel(np.ascontiguousarray(u1, dtype=np.float64),
                                    np.ascontiguousarray(u2, dtype=np.float64), tree), dtype=np.float64)


__all__ = ["CapTree", "cap_tree", "focal_lb_all", "least_focal_lb"]
