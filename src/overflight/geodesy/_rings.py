"""Rings of vertices to polygons that stay correct across ±180° longitude and around the poles."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import shapely
from numpy.typing import NDArray
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from overflight.errors import InputError
from overflight.geodesy._core import (
    _WORLD,
    GEOD,
    FloatArray,
    IntArray,
    Interior,
    _path,
    _positive,
    wrap_lon,
)

# ----------------------------------------------------------------------------------------------------------
# antimeridian- and pole-safe polygons


def _polygonal_parts(geom: BaseGeometry) -> list[Polygon]:
    # make_valid can return a collection holding a MultiPolygon: flatten every level.
    out: list[Polygon] = []
    for p in shapely.get_parts(geom):
        if p.geom_type in ("MultiPolygon", "GeometryCollection"):
            out.extend(_polygonal_parts(p))
        elif isinstance(p, Polygon) and not p.is_empty and p.area > 0.0:
            out.append(p)
    return out


def _finish(parts: list[Polygon]) -> Polygon | MultiPolygon:
    """One valid geometry from polygon parts, exteriors counter-clockwise."""
    if not parts:
        raise InputError("the shape encloses no area", field="geometry")
    geom: BaseGeometry = parts[0] if len(parts) == 1 else MultiPolygon(parts)
    if not shapely.is_valid(geom):
        geom = shapely.union_all(_polygonal_parts(shapely.make_valid(geom)))
    geom = shapely.orient_polygons(geom, exterior_cw=False)
    parts = _polygonal_parts(geom)
    if not parts:
        raise InputError("the shape encloses no area", field="geometry")
    out: Polygon | MultiPolygon = parts[0] if len(parts) == 1 else MultiPolygon(parts)
    return out


def _split_unwrapped(
    geom: BaseGeometry, exact: tuple[FloatArray, FloatArray, FloatArray] | None = None
) -> list[Polygon]:
    """Cut a polygon drawn in unwrapped longitudes into the [-180, 180] window and its ±360° shifts.

    The pieces are shifted back into [-180, 180]; pieces of different windows that share an edge (a ring
    that runs a little past its own seam) are merged. ``exact`` = (x, y, lon) maps unwrapped vertices to
    their original longitudes, so a vertex comes back bit for bit rather than as ``(lon + 360) - 360``.
    """
    lookup = None
    if exact is not None:
        keys = exact[0] + 1j * exact[1]  # complex numbers sort by (x, y): one vectorised lookup table
        order = np.argsort(keys, kind="stable")
        lookup = (keys[order], exact[2][order])
    if not shapely.is_valid(geom):
        geom = shapely.union_all(_polygonal_parts(shapely.make_valid(geom)))
    if geom.is_empty:
        return []
    minx, _, maxx, _ = geom.bounds
    # One window of margin each side: the division may round across a window edge; extra windows are empty.
    k0 = math.floor((minx + 180.0) / 360.0) - 1
    k1 = math.floor((maxx + 180.0) / 360.0) + 1
    pieces: list[Polygon] = []
    windows = 0
    for k in range(k0, k1 + 1):  # a handful of windows at most, not a per-vertex loop
        window = shapely.box(-180.0 + 360.0 * k, -90.0, 180.0 + 360.0 * k, 90.0)
        piece = shapely.intersection(geom, window)
        if k or lookup is not None:
            piece = shapely.transform(piece, lambda c, s=360.0 * k: _shift_back(c, s, lookup))
        found = _polygonal_parts(piece)
        windows += bool(found)
        pieces.extend(found)
    if windows > 1:
        pieces = _polygonal_parts(shapely.union_all(pieces))
    return pieces


def _shift_back(
    coords: FloatArray, shift: float, lookup: tuple[NDArray[np.complex128], FloatArray] | None
) -> FloatArray:
    out = coords.copy()
    out[:, 0] -= shift
    if lookup is not None and lookup[0].size:
        keys, lons = lookup
        query = coords[:, 0] + 1j * coords[:, 1]
        idx = np.clip(np.searchsorted(keys, query), 0, keys.size - 1)
        # Only a vertex of the ring, only a rounding apart, and never one that landed on the window's
        # edge (moving it off ±180 would open a sliver against the neighbouring piece).
        hit = (keys[idx] == query) & (np.abs(lons[idx] - out[:, 0]) < 1e-9) & (np.abs(out[:, 0]) != 180.0)
        out[hit, 0] = lons[idx[hit]]
    return out


def _expand_pole_vertices(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """Replace each vertex at a pole by two pole vertices at its neighbours' longitudes.

    A pole has no longitude, so a ring through it is drawn in lon/lat along the pole's line (lat ±90)
    from the incoming edge's meridian to the outgoing one. Returns the new ring and a mask of the edges
    that run along a pole line (their longitude change is free; see :func:`ring_to_geometry`).
    """
    n = lon.size
    pole = np.abs(lat) == 90.0
    if not pole.any():
        return lon, lat, np.zeros(n, dtype=bool)
    cnt = np.where(pole, 2, 1)
    idx = np.repeat(np.arange(n), cnt)
    new_lon = lon[idx].copy()
    new_lat = lat[idx].copy()
    pi = np.flatnonzero(pole)
    first = (np.cumsum(cnt) - cnt)[pi]
    new_lon[first] = lon[(pi - 1) % n]
    new_lon[first + 1] = lon[(pi + 1) % n]
    free = np.zeros(new_lon.size, dtype=bool)
    free[first] = True  # the edge from the first copy to the second runs along the pole line
    return new_lon, new_lat, free


def _insert_pole_crossings(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Put a pole vertex on every edge that joins opposite meridians (its geodesic runs over a pole)."""
    nxt_lon = np.roll(lon, -1)
    nxt_lat = np.roll(lat, -1)
    over = (
        (np.abs(wrap_lon(nxt_lon - lon)) == 180.0)
        & (np.abs(lat) < 90.0)
        & (np.abs(nxt_lat) < 90.0)
        & (lat + nxt_lat != 0.0)
    )
    if not over.any():
        return lon, lat
    at = np.flatnonzero(over) + 1
    return np.insert(lon, at, lon[over]), np.insert(lat, at, np.copysign(90.0, (lat + nxt_lat)[over]))


def _densify_wide_edges(lon: FloatArray, lat: FloatArray, max_dlon: float) -> tuple[FloatArray, FloatArray]:
    """Subdivide, along the geodesic, every ring edge that spans more than ``max_dlon`` degrees of longitude."""
    nxt_lon = np.roll(lon, -1)
    nxt_lat = np.roll(lat, -1)
    span = np.abs(wrap_lon(nxt_lon - lon))
    wide = (span > max_dlon) & (np.abs(lat) < 90.0) & (np.abs(nxt_lat) < 90.0)
    if not wide.any():
        return lon, lat
    n = np.where(wide, np.minimum(np.ceil(span / max_dlon), 360), 1).astype(np.int64)
    az = np.zeros(lon.size)
    dist = np.zeros(lon.size)
    a, _, d = GEOD.inv(lon[wide], lat[wide], nxt_lon[wide], nxt_lat[wide])
    az[wide] = a
    dist[wide] = d
    edge = np.repeat(np.arange(lon.size), n)
    k = np.arange(edge.size) - np.repeat(np.cumsum(n) - n, n)
    out_lon = lon[edge].copy()
    out_lat = lat[edge].copy()
    sub = k > 0
    e = edge[sub]
    x, y, _ = GEOD.fwd(lon[e], lat[e], az[e], dist[e] * k[sub] / n[e])
    out_lon[sub] = wrap_lon(np.asarray(x, dtype=np.float64))
    out_lat[sub] = y
    return out_lon, out_lat


def _dedupe_ring(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    same_as_prev = (lat == np.roll(lat, 1)) & ((lon == np.roll(lon, 1)) | (np.abs(lat) == 90.0))
    if same_as_prev.all():
        return lon[:1], lat[:1]
    return lon[~same_as_prev], lat[~same_as_prev]


def _crossing_lats(x0: FloatArray, y0: FloatArray, x1: FloatArray, y1: FloatArray, c: FloatArray) -> FloatArray:
    """Latitude where each edge meets meridian ``c`` (unwrapped degrees), along the edge's geodesic."""
    az, _, d = GEOD.inv(x0.copy(), y0.copy(), x1.copy(), y1.copy())
    t = (c - x0) / (x1 - x0)
    _, lat, _ = GEOD.fwd(x0.copy(), y0.copy(), np.asarray(az), t * np.asarray(d))
    return np.asarray(lat, dtype=np.float64)


def ring_to_geometry(
    lon: npt.ArrayLike, lat: npt.ArrayLike, *, interior: Interior = "auto", max_dlon_deg: float | None = 1.0
) -> Polygon | MultiPolygon:
    """Build a valid lon/lat polygon from an ordered ring of vertices, split at ±180° and closed at poles.

    The ring (e.g. points from :func:`direct` around a shape; closing vertex optional) is unwrapped so no
    step jumps more than 180° of longitude. A ring whose unwrapped longitude changes by ±360° in total
    encloses a pole and is closed through that pole (vertices at latitude ±90). The unwrapped polygon is
    then cut along the meridians ±180° (+ k·360°), the pieces are shifted back into [-180, 180], so a shape
    over the antimeridian comes back as parts that meet exactly at ±180° and never as a polygon wrapping
    the world. Edges are geodesics: where one crosses ±180°, the crossing vertex is put on it; one that
    spans more than ``max_dlon_deg`` of longitude (near a pole a short geodesic sweeps many degrees, and a
    straight line in lon/lat would cut far off it) is subdivided along it; one that joins opposite
    meridians runs over the pole. A vertex at a pole (within 1e-9°) is drawn along the pole's line between
    its neighbours' meridians.

    Parameters
    ----------
    lon, lat : array_like
        Ring vertices in degrees, in order (at least 3 distinct). Longitudes in any range.
    interior : {"auto", "right", "left"}
        Which of the two regions the ring splits the globe into is the polygon: ``"auto"`` the smaller
        one; ``"right"`` the one on the right of the direction of travel (a clockwise ring, as produced
        by :func:`direct` with increasing azimuth); ``"left"`` the one on the left.
    max_dlon_deg : float or None
        Subdivide edges spanning more longitude than this (at most 360 pieces per edge); ``None`` keeps
        the edges as given, straight in lon/lat.

    Returns
    -------
    shapely.Polygon or shapely.MultiPolygon
        Valid, within [-180, 180] x [-90, 90], exteriors counter-clockwise.

    Raises
    ------
    InputError
        Non-finite coordinates, latitudes outside [-90, 90], fewer than 3 distinct vertices, a ring that
        winds around a pole more than once, or a ring that encloses no area.
    """
    if interior not in ("auto", "right", "left"):
        raise InputError(f"interior must be 'auto', 'right' or 'left', got {interior!r}", field="interior")
    x_in, y_in = _path(lon, lat, 3)
    # A vertex within 1e-9° (0.1 mm) of a pole is the pole: its longitude means nothing and would draw
    # a spurious edge half way round the world.
    y_in = np.where(np.abs(y_in) >= 90.0 - 1e-9, np.copysign(90.0, y_in), y_in)
    lon0, lat0 = _dedupe_ring(wrap_lon(x_in), y_in)
    if lon0.size < 3:
        raise InputError(f"a ring needs at least 3 distinct vertices, got {lon0.size}", field="lon")
    lon0, lat0 = _insert_pole_crossings(lon0, lat0)
    if max_dlon_deg is not None:
        lon0, lat0 = _densify_wide_edges(lon0, lat0, _positive(max_dlon_deg, "max_dlon_deg"))
    ring_lon, ring_lat, free = _expand_pole_vertices(lon0, lat0)
    # Unwrap with integer multiples of 360 per vertex so that shifting back later is exact.
    raw = np.roll(ring_lon, -1) - ring_lon
    step = wrap_lon(raw)
    if free.any():
        # An edge along a pole line has no length; its longitude change is whatever keeps the ring from
        # winding round the pole it touches (the pole is on the boundary, not inside).
        fi = np.flatnonzero(free)
        others = step.copy()
        others[fi] = 0.0
        step[fi] = 0.0
        step[fi[0]] = -others.sum()
    wraps = np.rint((step - raw) / 360.0).astype(np.int64)
    w = np.concatenate([[0], np.cumsum(wraps)])
    x = np.append(ring_lon, ring_lon[0]) + 360.0 * w
    y = np.append(ring_lat, ring_lat[0])
    winding = int(w[-1])
    if abs(winding) > 1:
        raise InputError("the ring winds round a pole more than once", field="lon")

    x, y, exact_lon = _insert_seam_vertices(x, y, np.append(free, False), np.append(ring_lon, ring_lon[0]))

    if winding == 0:
        candidate: BaseGeometry = Polygon(np.column_stack([x, y]))
        exact = (x, y, exact_lon)
    else:
        # Rotate the ring to start on a seam meridian (an odd multiple of 180°, present after the
        # insertion above): the pole closure then runs along a window edge and needs no merging.
        # Of the seam crossings take the one nearest the North Pole, so the closure (a meridian from
        # there up to the pole) crosses no other part of the ring.
        on_seam = np.flatnonzero(np.mod(x[:-1] - 180.0, 360.0) == 0.0)
        s = int(on_seam[np.argmax(y[on_seam])])
        shift = 360.0 * winding
        xr = np.concatenate([x[s:-1], x[: s + 1] + shift])
        yr = np.concatenate([y[s:-1], y[: s + 1]])
        exact = (xr, yr, np.concatenate([exact_lon[s:-1], exact_lon[: s + 1]]))
        xr = np.append(xr, [xr[-1], xr[0]])
        yr = np.append(yr, [90.0, 90.0])  # closed through the North Pole; the complement is the south
        candidate = Polygon(np.column_stack([xr, yr]))

    if not shapely.is_valid(candidate):
        candidate = shapely.union_all(_polygonal_parts(shapely.make_valid(candidate)))
    if candidate.is_empty or candidate.area == 0.0:
        raise InputError("the ring encloses no area", field="lon")
    # On the globe dA = R² cos(lat) dlon dlat, so a region covering half the globe or more spans at least
    # 2π rad² (~20,626 deg²) in lon/lat: anything less is surely the smaller region. Above that,
    # GeographicLib decides: it reduces signed areas to (-A/2, A/2], so for a counter-clockwise polygon
    # a positive value means it is the smaller of the two regions its boundary cuts the globe into.
    if candidate.area < 20_000.0:
        candidate_is_smaller = True
    else:
        oriented = shapely.orient_polygons(candidate, exterior_cw=False)
        candidate_is_smaller = GEOD.geometry_area_perimeter(oriented)[0] > 0.0
    if interior == "auto":
        want_smaller = True
    else:
        ring_area = GEOD.polygon_area_perimeter(ring_lon, ring_lat)[0]
        # ring_area > 0: the smaller region lies on the ring's left.
        want_smaller = (ring_area <= 0.0) if interior == "right" else (ring_area >= 0.0)

    parts = _split_unwrapped(candidate, exact)
    if candidate_is_smaller != want_smaller:
        parts = _polygonal_parts(shapely.difference(_WORLD, shapely.union_all(parts)))
    return _finish(parts)


def _seam(j: IntArray) -> FloatArray:
    out: FloatArray = 180.0 + 360.0 * j.astype(np.float64)  # exact: small integers times 360
    return out


def _insert_seam_vertices(
    x: FloatArray, y: FloatArray, free: NDArray[np.bool_], lon: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Insert a vertex wherever an edge of the closed unwrapped ring crosses an odd multiple of 180°.

    ``lon`` holds each vertex's original longitude and is carried along (a new vertex gets -180).
    """
    x0, x1 = x[:-1], x[1:]
    lo = np.minimum(x0, x1)
    hi = np.maximum(x0, x1)
    j_lo = np.floor((lo - 180.0) / 360.0).astype(np.int64) + 1  # first seam strictly above lo
    j_hi = np.ceil((hi - 180.0) / 360.0).astype(np.int64) - 1  # last seam strictly below hi
    # The division can round across an integer right at a seam: settle with exact comparisons.
    j_lo = np.where(_seam(j_lo) <= lo, j_lo + 1, j_lo)
    j_lo = np.where(_seam(j_lo - 1) > lo, j_lo - 1, j_lo)
    j_hi = np.where(_seam(j_hi) >= hi, j_hi - 1, j_hi)
    j_hi = np.where(_seam(j_hi + 1) < hi, j_hi + 1, j_hi)
    nc = np.maximum(0, j_hi - j_lo + 1)
    if not nc.any():
        return x, y, lon
    cnt = 1 + nc
    edge = np.repeat(np.arange(x0.size), cnt)
    off = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    X = x0[edge].copy()
    Y = y[:-1][edge].copy()
    L = lon[:-1][edge].copy()
    cr = off > 0
    e = edge[cr]
    o = off[cr] - 1
    ascending = x1[e] > x0[e]
    j = np.where(ascending, j_lo[e] + o, j_hi[e] - o)
    c = 180.0 + 360.0 * j.astype(np.float64)
    lat_c = y[e].copy()  # edges along a pole line stay on it
    geo = ~free[e]
    if geo.any():
        ge = e[geo]
        lat_c[geo] = _crossing_lats(x[ge], y[ge], x[ge + 1], y[ge + 1], c[geo])
    X[cr] = c
    Y[cr] = lat_c
    L[cr] = -180.0
    return np.append(X, x[-1]), np.append(Y, y[-1]), np.append(L, lon[-1])


__all__ = ["ring_to_geometry"]
