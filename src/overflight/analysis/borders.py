"""Geodesic distance (WGS84) from points to the border of a zone: `border_distance`.

Used by attribution (``border_m:<zone>``) and by observation matching; split from `overflight.analysis.attribution`
so that module stays the statistics of a share inside zones.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from overflight.errors import InputError
from overflight.geodesy import GEOD as _GEOD


def _xy(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x = np.asarray(lon, dtype=float).ravel()
    y = np.asarray(lat, dtype=float).ravel()
    if x.shape != y.shape:
        raise InputError(f"lon and lat differ in length ({x.size} vs {y.size})", field="lon")
    bad = ~np.isfinite(x) | ~np.isfinite(y) | (np.abs(x) > 180) | (np.abs(y) > 90)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"position ({x[i]}, {y[i]}) is not a lon/lat in degrees", row=i, field="lon")
    return x, y


def _edges(geometry: Any) -> tuple[NDArray[np.float64], ...]:
    """Start/end lon/lat of every border edge, without the cut edges along the antimeridian."""
    polys = shapely.get_parts(geometry)
    rings = shapely.get_rings(polys[shapely.get_type_id(polys) == 3])
    if len(rings) == 0:
        raise InputError(f"zone geometry {geometry.geom_type} has no border", field="geometry")
    coords, idx = shapely.get_coordinates(rings, return_index=True)
    same = idx[1:] == idx[:-1]
    x0, y0, x1, y1 = coords[:-1, 0][same], coords[:-1, 1][same], coords[1:, 0][same], coords[1:, 1][same]
    cut = (np.abs(x0) == 180) & (x0 == x1)
    keep = ~cut & ((x0 != x1) | (y0 != y1))
    return x0[keep], y0[keep], x1[keep], y1[keep]


def _unit(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.float64]:
    lo, la = np.radians(lon), np.radians(lat)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def border_distance(lon: ArrayLike, lat: ArrayLike, geometry: Any, *, max_step_m: float = 200.0,
                    candidates: int = 8, iterations: int = 40) -> NDArray[np.float64]:
    """Geodesic distance (m, WGS84) from each point to the nearest border of a zone geometry.

    Border edges are taken as given: straight in lon/lat between the vertices, as boundary data is drawn
    (cut edges along ±180° are not borders and are skipped).

    How exact: each edge is sampled every `max_step_m` metres; a k-d tree on the unit sphere finds the
    `candidates` nearest samples of each point; the true minimum is then located on the sub-edges next to
    each candidate by golden-section search with exact ellipsoidal distances (`pyproj.Geod`, GeographicLib),
    to well below a metre. If the nearest sub-edge is not next to any candidate, the answer is still within
    ``max_step_m / 2`` of the truth (the nearest sample is then at most that much farther): 100 m by default.

    Returns
    -------
    numpy.ndarray
        Distances in metres, one per point (0 for a point on the border).
    """
    x, y = _xy(lon, lat)
    x0, y0, x1, y1 = _edges(geometry)
    ne = x0.size
    _, _, elen = _GEOD.inv(x0, y0, x1, y1)
    nsub = np.maximum(1, np.ceil(np.asarray(elen) / max_step_m)).astype(np.int64)
    edge = np.repeat(np.arange(ne), nsub)
    start = np.repeat(np.cumsum(nsub) - nsub, nsub)
    t = (np.arange(edge.size) - start) / nsub[edge]
    vx, vy = x0[edge] + t * (x1[edge] - x0[edge]), y0[edge] + t * (y1[edge] - y0[edge])
    tree = cKDTree(_unit(vx, vy))
    k = int(min(candidates, edge.size))
    _, cand = tree.query(_unit(x, y), k=k)
    cand = np.asarray(cand).reshape(x.size, k)
    ce, ct, cn = edge[cand], t[cand], nsub[edge[cand]]
    # Two intervals per candidate: its own sub-edges, and the end of the previous edge when it is a vertex.
    prev = np.where(ce > 0, ce - 1, ce)
    e2 = np.stack([ce, np.where(ct == 0, prev, ce)], axis=-1)
    lo = np.stack([np.maximum(0.0, ct - 1.0 / cn), np.where(ct == 0, 1.0 - 1.0 / nsub[prev], ct)], axis=-1)
    hi = np.stack([np.minimum(1.0, ct + 1.0 / cn), np.where(ct == 0, 1.0, ct)], axis=-1)
    px = np.broadcast_to(x[:, None, None], e2.shape).ravel()
    py = np.broadcast_to(y[:, None, None], e2.shape).ravel()
    e2, lo, hi = e2.ravel(), lo.ravel(), hi.ravel()
    ax, ay, dx, dy = x0[e2], y0[e2], x1[e2] - x0[e2], y1[e2] - y0[e2]

    def f(tt: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(_GEOD.inv(px, py, ax + tt * dx, ay + tt * dy)[2], dtype=float)

    g = (math.sqrt(5) - 1) / 2
    a, b = lo.copy(), hi.copy()
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iterations):  # golden section: the distance along a short sub-edge is unimodal
        left = fc < fd
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        c_new = b - g * (b - a)
        d_new = a + g * (b - a)
        c, d = c_new, d_new
        fc, fd = f(c), f(d)
    best = np.minimum.reduce([fc, fd, f(lo), f(hi)])
    out: NDArray[np.float64] = best.reshape(x.size, -1).min(axis=1)
    return out


__all__ = ["border_distance"]
