"""Shared by the prism tests: random sighting pairs around a zone, many of whose direct arcs cross it, and the
reference candidate edges of a visibility graph."""

from __future__ import annotations

import numpy as np
import shapely

from overflight.analysis.prism.avoid import _tangent
from overflight.geodesy import GEOD


def pairs_near(
    g: shapely.Geometry, n: int, seed: int, *, pad: tuple[float, float] = (2.0, 1.5), max_d: float = 900e3,
    err_share: float = 0.25, max_err: float = 15e3,
) -> tuple[np.ndarray, ...]:
    """(lon1, lat1, lon2, lat2, r1, r2, b_hi, direct): first fixes within the zone's bounds widened by `pad`
    degrees (lon, lat), second fixes 50 km to `max_d` away, position errors up to `max_err` on a share
    `err_share` of the fixes, budgets 1.0 to 1.6 times the direct distance."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = g.bounds
    lon1 = rng.uniform(x0 - pad[0], x1 + pad[0], n)
    lat1 = rng.uniform(y0 - pad[1], y1 + pad[1], n)
    d = rng.uniform(50e3, max_d, n)
    lon2, lat2, _ = GEOD.fwd(lon1, lat1, rng.uniform(0, 360, n), d)
    lon2, lat2 = np.asarray(lon2), np.asarray(lat2)
    direct = np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])
    r1 = np.where(rng.random(n) < err_share, rng.uniform(0, max_err, n), 0.0)
    r2 = np.where(rng.random(n) < err_share, rng.uniform(0, max_err, n), 0.0)
    b_hi = direct * rng.uniform(1.0, 1.6, n)
    return lon1, lat1, lon2, lat2, r1, r2, b_hi, direct


def reference_edges(pts: np.ndarray, allp: np.ndarray, alln: np.ndarray, dp1: np.ndarray, dp2: np.ndarray,
                     cut: float, scale_lo: float) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """The pairwise filters (lower bound, then bitangent at each obstacle vertex), pair by pair; also the
    pairs whose bound is within rounding of the cut (either answer is right for them)."""
    n = len(pts)
    i, j = np.triu_indices(n, 1)
    plen = np.hypot(*(pts[i] - pts[j]).T)
    lb = np.minimum(dp1[i] + dp2[j], dp1[j] + dp2[i]) + plen * scale_lo
    edge = np.abs(lb - cut) <= 1e-9 * cut
    tan = np.ones(i.size, dtype=bool)
    mi, mj = i >= 2, j >= 2
    tan[mi] &= _tangent(pts[i[mi]], allp[i[mi]], alln[i[mi]], pts[j[mi]])
    tan[mj] &= _tangent(pts[j[mj]], allp[j[mj]], alln[j[mj]], pts[i[mj]])
    keep = (lb <= cut) & tan
    return set(zip(i[keep].tolist(), j[keep].tolist(), strict=True)), set(
        zip(i[edge].tolist(), j[edge].tolist(), strict=True))
