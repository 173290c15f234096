"""WGS84 geodesics and geodesic shapes that stay correct across ±180° longitude and around the poles.

Every computation goes through one cached :class:`pyproj.Geod` (GeographicLib's C code), called once per
array, never once per point. Positions are longitude/latitude in degrees, distances in metres, azimuths in
degrees clockwise from north.

Shapes (:func:`circle`, :func:`annulus`, :func:`sector`, :func:`buffer_line`) come back as shapely
``Polygon``/``MultiPolygon`` in lon/lat, valid, with counter-clockwise exteriors, inside the
[-180, 180] x [-90, 90] window: a shape that crosses the antimeridian is split there into parts that meet
exactly at ±180°, and a shape around a pole is closed through the pole. :func:`ring_to_geometry` does
that work for any ordered ring of vertices and is public so other shapes (the space-time prism's geodesic
ellipse) can reuse it.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import shapely
from numpy.typing import NDArray
from pyproj import Geod, Transformer
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from overflight.errors import InputError

__all__ = [
    "EARTH_AREA_M2",
    "GEOD",
    "R_MEAN",
    "R_POLAR_CURVATURE_MIN",
    "WGS84_A",
    "WGS84_B",
    "WGS84_F",
    "aeqd_transformer",
    "annulus",
    "buffer_line",
    "buffer_point",
    "circle",
    "circle_ring",
    "densify",
    "densify_path",
    "densify_segments",
    "direct",
    "distance",
    "geodesic_area_m2",
    "inverse",
    "ring_to_geometry",
    "sector",
    "wrap_lon",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Interior = Literal["auto", "right", "left"]

#: WGS84 semi-major axis in metres.
WGS84_A = 6378137.0
#: WGS84 flattening.
WGS84_F = 1 / 298.257223563
#: WGS84 semi-minor (polar) axis in metres.
WGS84_B = WGS84_A * (1 - WGS84_F)
#: IUGG mean Earth radius in metres, for spheres that bound or approximate (never for a returned distance).
R_MEAN = 6371008.8
#: Smallest radius of curvature of the WGS84 ellipsoid (b²/a, at the equator across the meridian): a geodesic
#: of length s joins points whose surface normals are at most s / R_POLAR_CURVATURE_MIN radians apart.
R_POLAR_CURVATURE_MIN = WGS84_B * WGS84_B / WGS84_A

#: The one WGS84 geodesic solver every function here uses (GeographicLib's C implementation via PROJ).
#: Other modules use this object (or the functions below); none builds its own ``pyproj.Geod``.
GEOD = Geod(a=WGS84_A, f=WGS84_F)

#: Total area of the WGS84 ellipsoid in m² (GeographicLib's value).
EARTH_AREA_M2 = 510065621724088.5

_R_MEAN = R_MEAN
# Half the length of a meridian: no geodesic circle can be larger than this.
_HALF_MERIDIAN_M = 20003931.4586
_MAX_CIRCLE_VERTICES = 3600
_MIN_CIRCLE_VERTICES = 32
# A densified path larger than this is a mistake in the inputs (a step of a few metres over a continent).
_MAX_DENSE_POINTS = 20_000_000
_WORLD = shapely.box(-180.0, -90.0, 180.0, 90.0)


# ----------------------------------------------------------------------------------------------------------
# input helpers


def wrap_lon(lon: npt.ArrayLike) -> FloatArray:
    """Normalise longitudes to [-180, 180).

    Parameters
    ----------
    lon : array_like
        Longitudes in degrees, any range.

    Returns
    -------
    numpy.ndarray
        The same longitudes in [-180, 180); NaN stays NaN.
    """
    x = np.asarray(lon, dtype=np.float64)
    # Values already in range are returned bit for bit: shapes built separately must meet exactly.
    out: FloatArray = np.where((x >= -180.0) & (x < 180.0), x, (x + 180.0) % 360.0 - 180.0)
    return out


def _floats(value: npt.ArrayLike, field: str) -> FloatArray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"not a number: {exc}", field=field) from None
    return arr


def _first_bad(mask: NDArray[np.bool_]) -> int | None:
    flat = np.flatnonzero(mask.ravel())
    return int(flat[0]) if flat.size else None


def _check_lat(lat: FloatArray, field: str = "lat") -> None:
    # NaN passes on purpose (it propagates as NaN); only finite-but-impossible values are an error.
    bad = np.abs(lat) > 90.0
    row = _first_bad(bad)
    if row is not None:
        raise InputError(f"latitude {lat.ravel()[row]!r} outside [-90, 90]", row=row if lat.ndim else None, field=field)


def _check_finite(arr: FloatArray, field: str) -> None:
    row = _first_bad(~np.isfinite(arr))
    if row is not None:
        raise InputError(f"value {arr.ravel()[row]!r} is not a finite number", row=row, field=field)


def _positive(value: float, field: str, *, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"not a number: {value!r}", field=field) from None
    if not math.isfinite(v) or v < 0.0 or (v == 0.0 and not allow_zero):
        raise InputError(f"must be a positive finite number, got {value!r}", field=field)
    return v


def _path(lon: npt.ArrayLike, lat: npt.ArrayLike, min_len: int) -> tuple[FloatArray, FloatArray]:
    x = np.atleast_1d(_floats(lon, "lon")).astype(np.float64, copy=True)
    y = np.atleast_1d(_floats(lat, "lat")).astype(np.float64, copy=True)
    if x.ndim != 1 or y.ndim != 1 or x.shape != y.shape:
        raise InputError(f"lon and lat must be 1-D and of equal length, got {x.shape} and {y.shape}", field="lon")
    if x.size < min_len:
        raise InputError(f"needs at least {min_len} vertices, got {x.size}", field="lon")
    _check_finite(x, "lon")
    _check_finite(y, "lat")
    _check_lat(y)
    return x, y


# ----------------------------------------------------------------------------------------------------------
# inverse and direct problems


def inverse(
    lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike, lat2: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Solve the geodesic inverse problem on WGS84 (vectorised, inputs broadcast).

    Parameters
    ----------
    lon1, lat1, lon2, lat2 : array_like
        Start and end points in degrees.

    Returns
    -------
    az12 : numpy.ndarray
        Azimuth of the geodesic at point 1 towards point 2, degrees clockwise from north, in (-180, 180].
    az21 : numpy.ndarray
        Azimuth at point 2 back towards point 1 (the "back azimuth"), same convention.
    dist : numpy.ndarray
        Geodesic distance in metres.

    Raises
    ------
    InputError
        A latitude outside [-90, 90].
    """
    arrays = np.broadcast_arrays(
        _floats(lon1, "lon1"), _floats(lat1, "lat1"), _floats(lon2, "lon2"), _floats(lat2, "lat2")
    )
    _check_lat(arrays[1], "lat1")
    _check_lat(arrays[3], "lat2")
    shape = arrays[0].shape
    flat = [np.ascontiguousarray(a, dtype=np.float64).ravel().copy() for a in arrays]
    az12, az21, dist = GEOD.inv(flat[0], flat[1], flat[2], flat[3])
    return (
        np.asarray(az12, dtype=np.float64).reshape(shape),
        np.asarray(az21, dtype=np.float64).reshape(shape),
        np.asarray(dist, dtype=np.float64).reshape(shape),
    )


def distance(lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike, lat2: npt.ArrayLike) -> FloatArray:
    """Geodesic distance in metres between two sets of points (vectorised, inputs broadcast).

    See :func:`inverse` for the parameters.
    """
    return inverse(lon1, lat1, lon2, lat2)[2]


def direct(
    lon: npt.ArrayLike, lat: npt.ArrayLike, az_deg: npt.ArrayLike, dist_m: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Solve the geodesic direct problem on WGS84 (vectorised, inputs broadcast).

    Parameters
    ----------
    lon, lat : array_like
        Start points in degrees.
    az_deg : array_like
        Azimuth at the start, degrees clockwise from north.
    dist_m : array_like
        Distance to travel along the geodesic in metres (negative goes backwards).

    Returns
    -------
    lon2, lat2 : numpy.ndarray
        End points; longitudes normalised to [-180, 180).
    az21 : numpy.ndarray
        Azimuth at the end point back towards the start (back azimuth), degrees.
    """
    arrays = np.broadcast_arrays(
        _floats(lon, "lon"), _floats(lat, "lat"), _floats(az_deg, "az_deg"), _floats(dist_m, "dist_m")
    )
    _check_lat(arrays[1])
    shape = arrays[0].shape
    flat = [np.ascontiguousarray(a, dtype=np.float64).ravel().copy() for a in arrays]
    lon2, lat2, az21 = GEOD.fwd(flat[0], flat[1], flat[2], flat[3])
    return (
        wrap_lon(np.asarray(lon2, dtype=np.float64)).reshape(shape),
        np.asarray(lat2, dtype=np.float64).reshape(shape),
        np.asarray(az21, dtype=np.float64).reshape(shape),
    )


# ----------------------------------------------------------------------------------------------------------
# densification


def densify_segments(
    lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike, lat2: npt.ArrayLike, max_step_m: float,
    *, az: npt.ArrayLike | None = None, dist: npt.ArrayLike | None = None, max_pieces: int = _MAX_DENSE_POINTS,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, IntArray, FloatArray, FloatArray]:
    """Cut each geodesic segment into equal pieces no longer than ``max_step_m``.

    This is the one geodesic densification routine of the package: :func:`densify_path`, :func:`densify`,
    the zone index's segment crossings and the monitor all cut geodesics through it. Segment ``i`` runs from
    ``(lon1[i], lat1[i])`` to ``(lon2[i], lat2[i])`` and becomes ``ceil(length / max_step_m)`` pieces (at
    least one); all segments are solved in one inverse and one direct call.

    Parameters
    ----------
    lon1, lat1, lon2, lat2 : array_like
        Segment ends in degrees (1-D, equal length; not validated here: hot paths call this).
    max_step_m : float
        Largest allowed piece length in metres.
    az, dist : array_like, optional
        Forward azimuth and geodesic length of each segment when the caller has them (saves the inverse).
    max_pieces : int, optional
        More pieces than this in total is an :class:`~overflight.errors.InputError` (a step of a few metres
        over a continent is a mistake in the inputs).

    Returns
    -------
    start_lon, start_lat, end_lon, end_lat : numpy.ndarray
        Ends of every piece; a segment's first start and last end are its own ends exactly (not re-computed),
        other points come from the direct problem (longitudes as pyproj returns them, not wrapped).
    owner : numpy.ndarray of int64
        The segment each piece belongs to (pieces of one segment are consecutive).
    f0, f1 : numpy.ndarray
        Fractions of the segment's geodesic length at the piece's start and end.

    Raises
    ------
    InputError
        A non-positive step, or more than ``max_pieces`` pieces.

    Examples
    --------
    >>> from overflight.geodesy import densify_segments
    >>> sx, sy, ex, ey, owner, f0, f1 = densify_segments([0.0], [0.0], [1.0], [0.0], 50_000)
    >>> owner.tolist(), f1.round(2).tolist()
    ([0, 0, 0], [0.33, 0.67, 1.0])
    """
    x1 = np.asarray(lon1, dtype=np.float64).ravel()
    y1 = np.asarray(lat1, dtype=np.float64).ravel()
    x2 = np.asarray(lon2, dtype=np.float64).ravel()
    y2 = np.asarray(lat2, dtype=np.float64).ravel()
    step = _positive(max_step_m, "max_step_m")
    n = x1.size
    if az is None or dist is None:
        if n:
            a, _, d = GEOD.inv(x1.copy(), y1.copy(), x2.copy(), y2.copy())
        else:
            a, d = np.zeros(0), np.zeros(0)
    else:
        a, d = az, dist
    a = np.asarray(a, dtype=np.float64).ravel()
    d = np.asarray(d, dtype=np.float64).ravel()
    npieces = np.maximum(np.ceil(d / step), 1).astype(np.int64)
    total = int(npieces.sum())
    if total > max_pieces:
        raise InputError(f"max_step_m={step:g} would give {total} pieces (more than {max_pieces})", field="max_step_m")
    owner = np.repeat(np.arange(n, dtype=np.int64), npieces)
    j = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(npieces) - npieces, npieces)
    nn = npieces[owner].astype(np.float64)
    f0 = j / nn
    f1 = (j + 1) / nn
    if total:
        sx, sy, _ = GEOD.fwd(x1[owner], y1[owner], a[owner], d[owner] * f0)
    else:
        sx, sy = np.zeros(0), np.zeros(0)
    sx = np.asarray(sx, dtype=np.float64)
    sy = np.asarray(sy, dtype=np.float64)
    first = j == 0
    sx[first] = x1[owner][first]
    sy[first] = y1[owner][first]
    ex = np.empty(total)
    ey = np.empty(total)
    ex[:-1] = sx[1:]
    ey[:-1] = sy[1:]
    last = j == npieces[owner] - 1
    ex[last] = x2[owner][last]
    ey[last] = y2[owner][last]
    return sx, sy, ex, ey, owner, f0, f1


def densify_path(
    lon: npt.ArrayLike, lat: npt.ArrayLike, max_step_m: float
) -> tuple[FloatArray, FloatArray, IntArray, FloatArray]:
    """Densify a polyline along its geodesic segments so no step exceeds ``max_step_m``.

    Each segment is cut into ``ceil(length / max_step_m)`` equal steps (at least one) by
    :func:`densify_segments`.

    Parameters
    ----------
    lon, lat : array_like
        The polyline's vertices (at least 2), degrees.
    max_step_m : float
        Largest allowed step in metres.

    Returns
    -------
    lon, lat : numpy.ndarray
        Dense vertices, the source vertices included exactly (longitudes normalised to [-180, 180)).
    seg_index : numpy.ndarray of int64
        For each dense vertex, the source segment it lies on (segment ``i`` runs from vertex ``i`` to
        ``i + 1``); the last vertex belongs to the last segment.
    frac : numpy.ndarray
        Fraction of that segment's geodesic length at which the dense vertex lies, in [0, 1]: source
        vertex ``i`` has ``(seg_index, frac) == (i, 0)`` and the final vertex ``(n - 2, 1)``.

    Raises
    ------
    InputError
        Fewer than 2 vertices, a non-finite coordinate, a latitude outside [-90, 90], a non-positive step,
        or a step so small the result would exceed 20 million vertices.

    Examples
    --------
    >>> from overflight.geodesy import densify_path
    >>> lon, lat, seg, frac = densify_path([0.0, 2.0], [0.0, 0.0], 100_000)
    >>> lon.round(3).tolist(), seg.tolist(), frac.tolist()
    ([0.0, 0.667, 1.333, 2.0], [0, 0, 0, 0], [0.0, 0.3333333333333333, 0.6666666666666666, 1.0])
    """
    x, y = _path(lon, lat, 2)
    step = _positive(max_step_m, "max_step_m")
    sx, sy, _, _, seg, frac, _ = densify_segments(
        x[:-1], y[:-1], x[1:], y[1:], step, max_pieces=_MAX_DENSE_POINTS - 1
    )
    nseg = x.size - 1
    out_lon = wrap_lon(np.append(sx, x[-1]))
    out_lat = np.append(sy, y[-1])
    out_seg = np.append(seg, nseg - 1).astype(np.int64)
    out_frac = np.append(frac, 1.0)
    return out_lon, out_lat, out_seg, out_frac


def densify(lon1: float, lat1: float, lon2: float, lat2: float, max_step_m: float) -> tuple[FloatArray, FloatArray]:
    """Points along the geodesic from (lon1, lat1) to (lon2, lat2), both ends included, in equal steps.

    Parameters
    ----------
    lon1, lat1, lon2, lat2 : float
        End points in degrees.
    max_step_m : float
        Largest allowed step in metres; the geodesic is cut into ``ceil(length / max_step_m)`` equal steps.

    Returns
    -------
    lon, lat : numpy.ndarray
        The points, longitudes normalised to [-180, 180).
    """
    lo, la, _, _ = densify_path([lon1, lon2], [lat1, lat2], max_step_m)
    return lo, la


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


# ----------------------------------------------------------------------------------------------------------
# geodesic shapes


def _circle_vertex_count(radius_m: float, max_error_m: float) -> int:
    """Vertices so the chord sagitta of the ring stays below ``max_error_m`` (capped at 3600)."""
    rho = _R_MEAN * math.sin(min(radius_m / _R_MEAN, math.pi))  # radius of the small circle in space
    rho = max(rho, 1e-9)
    theta = math.pi / 2 if max_error_m >= rho else 2.0 * math.acos(1.0 - max_error_m / rho)
    n = math.ceil(2.0 * math.pi / theta)
    return int(min(max(n, _MIN_CIRCLE_VERTICES), _MAX_CIRCLE_VERTICES))


def _center(lon: float, lat: float) -> tuple[float, float]:
    x = float(_floats(lon, "lon"))
    y = float(_floats(lat, "lat"))
    if not math.isfinite(x):
        raise InputError(f"longitude {lon!r} is not a finite number", field="lon")
    if not math.isfinite(y) or abs(y) > 90.0:
        raise InputError(f"latitude {lat!r} outside [-90, 90]", field="lat")
    return float(wrap_lon(x)), y


def _radius(radius_m: float, field: str) -> float:
    r = _positive(radius_m, field)
    if r >= _HALF_MERIDIAN_M:
        raise InputError(f"{r:g} m is larger than half a meridian ({_HALF_MERIDIAN_M:.0f} m)", field=field)
    return r


def circle_ring(lon: float, lat: float, radius_m: float, *, max_error_m: float = 1.0) -> tuple[FloatArray, FloatArray]:
    """The vertices of a geodesic circle, clockwise from north (azimuth 0, then increasing).

    Parameters are those of :func:`circle`. Returns ``(lon, lat)`` arrays (not closed).
    """
    x, y = _center(lon, lat)
    r = _radius(radius_m, "radius_m")
    n = _circle_vertex_count(r, _positive(max_error_m, "max_error_m"))
    az = np.arange(n, dtype=np.float64) * (360.0 / n)
    ring_lon, ring_lat, _ = direct(x, y, az, r)
    return ring_lon, ring_lat


def circle(lon: float, lat: float, radius_m: float, *, max_error_m: float = 1.0) -> Polygon | MultiPolygon:
    """All points within ``radius_m`` (geodesic) of a centre, as a lon/lat polygon.

    Parameters
    ----------
    lon, lat : float
        Centre in degrees.
    radius_m : float
        Geodesic radius in metres, positive and below half a meridian (~20,004 km).
    max_error_m : float
        Largest sagitta of a chord between two vertices; the vertex count follows from it (at least 32,
        at most 3600). The vertices lie on the circle to GeographicLib's precision.

    Returns
    -------
    shapely.Polygon or shapely.MultiPolygon
        Split at ±180°, closed through a pole it encloses; a disc larger than a hemisphere comes back as
        the world minus the complementary disc.
    """
    ring_lon, ring_lat = circle_ring(lon, lat, radius_m, max_error_m=max_error_m)
    return ring_to_geometry(ring_lon, ring_lat, interior="right")


buffer_point = circle


def annulus(
    lon: float, lat: float, inner_m: float, outer_m: float, *, max_error_m: float = 1.0
) -> Polygon | MultiPolygon:
    """All points at a geodesic distance between ``inner_m`` and ``outer_m`` from a centre.

    Parameters
    ----------
    lon, lat : float
        Centre in degrees.
    inner_m, outer_m : float
        Inner and outer radii in metres, ``0 <= inner_m < outer_m`` (``inner_m == 0`` gives a circle).
    max_error_m : float
        See :func:`circle`.

    Returns
    -------
    shapely.Polygon or shapely.MultiPolygon
        Valid, split at ±180°; the hole is a hole, or a cut-out of the parts where it straddles ±180°.
    """
    inner = _positive(inner_m, "inner_m", allow_zero=True)
    outer = _radius(outer_m, "outer_m")
    if inner >= outer:
        raise InputError(f"inner radius {inner:g} m must be smaller than outer radius {outer:g} m", field="inner_m")
    big = circle(lon, lat, outer, max_error_m=max_error_m)
    if inner == 0.0:
        return big
    small = circle(lon, lat, inner, max_error_m=max_error_m)
    return _finish(_polygonal_parts(shapely.difference(big, small)))


def sector(
    lon: float,
    lat: float,
    radius_m: float,
    from_deg: float,
    to_deg: float,
    *,
    max_error_m: float = 1.0,
) -> Polygon | MultiPolygon:
    """A geodesic circular sector: points within ``radius_m`` at bearings from ``from_deg`` to ``to_deg``.

    Bearings run clockwise from north, from ``from_deg`` to ``to_deg``: ``sector(..., 350, 10)`` is the
    20° wedge through north. ``from_deg`` and ``to_deg`` a multiple of 360° apart but not equal
    (0 and 360) give the whole circle.

    Parameters
    ----------
    lon, lat : float
        Apex in degrees.
    radius_m : float
        Geodesic radius in metres.
    from_deg, to_deg : float
        Start and end bearings in degrees.
    max_error_m : float
        See :func:`circle`.

    Returns
    -------
    shapely.Polygon or shapely.MultiPolygon
        Valid, split at ±180°. The straight sides are geodesics from the apex, densified.
    """
    x, y = _center(lon, lat)
    r = _radius(radius_m, "radius_m")
    a0 = float(_floats(from_deg, "from_deg"))
    a1 = float(_floats(to_deg, "to_deg"))
    if not (math.isfinite(a0) and math.isfinite(a1)):
        raise InputError("bearings must be finite numbers", field="from_deg")
    if a0 == a1:
        raise InputError(f"from_deg and to_deg are equal ({a0:g}): the sector is empty", field="to_deg")
    span = (a1 - a0) % 360.0
    if span == 0.0:
        return circle(x, y, r, max_error_m=max_error_m)
    n_full = _circle_vertex_count(r, _positive(max_error_m, "max_error_m"))
    n_arc = max(2, math.ceil(n_full * span / 360.0)) + 1
    az_arc = a0 + np.linspace(0.0, span, n_arc)
    # Radial sides are geodesics: densify them so their lon/lat drawing stays near the true side.
    n_rad = min(max(2, math.ceil(r / 10_000.0)), 2000)
    d_rad = np.linspace(0.0, r, n_rad + 1)[1:-1]
    az = np.concatenate([np.full(d_rad.size, a0), az_arc, np.full(d_rad.size, a0 + span)])
    dist = np.concatenate([d_rad, np.full(n_arc, r), d_rad[::-1]])
    rl, rb, _ = direct(x, y, az, dist)
    ring_lon = np.concatenate([[x], rl])
    ring_lat = np.concatenate([[y], rb])
    return ring_to_geometry(ring_lon, ring_lat, interior="right")


def buffer_line(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    width_m: float,
    *,
    max_step_m: float | None = None,
    max_error_m: float = 1.0,
) -> Polygon | MultiPolygon:
    """All points within ``width_m`` (geodesic) of a polyline whose segments are geodesics.

    The line is densified; the result is the union of geodesic discs at the source vertices and, for each
    dense segment, the band between the offsets at ±90° of its azimuth at both ends. It is built in
    longitudes unwrapped from the first vertex (so a line over ±180° stays one shape) and split at ±180°
    at the end. Near a pole (within the width of the line) each piece is built through
    :func:`ring_to_geometry` instead, which is slower but pole-safe.

    Parameters
    ----------
    lon, lat : array_like
        The line's vertices in degrees (one vertex gives a circle).
    width_m : float
        Buffer distance in metres on each side.
    max_step_m : float, optional
        Densification step; default ``clip(width_m, 1 km, 20 km)``.
    max_error_m : float
        Chord sagitta for the end and joint discs, see :func:`circle`.

    Returns
    -------
    shapely.Polygon or shapely.MultiPolygon
        Valid, split at ±180°.
    """
    x, y = _path(lon, lat, 1)
    w = _radius(width_m, "width_m")
    if x.size == 1:
        return circle(float(x[0]), float(y[0]), w, max_error_m=max_error_m)
    step = min(max(w, 1_000.0), 20_000.0) if max_step_m is None else _positive(max_step_m, "max_step_m")
    dl, db, _, frac = densify_path(x, y, step)
    nv = dl.size
    is_src = np.append(frac[:-1] == 0.0, True)
    src_lon, src_lat = dl[is_src], db[is_src]
    az, back, d = inverse(dl[:-1], db[:-1], dl[1:], db[1:])
    # Offsets at ±90° of the geodesic at every dense vertex. A vertex inside a source segment gets one
    # pair, shared by the bands on both sides, so neighbouring bands meet exactly (an ulp apart they
    # would only touch at a point); a source vertex gets one pair per side and a disc covers the joint.
    out_lon, out_lat, in_lon, in_lat = dl[:-1], db[:-1], dl[1:], db[1:]
    base_lon = np.concatenate([out_lon, out_lon, in_lon, in_lon])
    base_lat = np.concatenate([out_lat, out_lat, in_lat, in_lat])
    az_in = back + 180.0  # forward azimuth on arrival at the segment's end
    off_az = np.concatenate([az - 90.0, az + 90.0, az_in - 90.0, az_in + 90.0])
    ol, ob, _ = direct(base_lon, base_lat, off_az, w)
    m = nv - 1
    # Index (into the offset arrays) of the left/right offsets used at each band's start and end.
    seg_ids = np.arange(m)
    end_interior = ~is_src[1:]
    end_left = np.where(end_interior, np.minimum(seg_ids + 1, m - 1), 2 * m + seg_ids)
    end_right = np.where(end_interior, m + np.minimum(seg_ids + 1, m - 1), 3 * m + seg_ids)
    start_left, start_right = seg_ids, m + seg_ids
    keep = d > 0.0
    n_disc = _circle_vertex_count(w, _positive(max_error_m, "max_error_m"))

    # Metres from the nearest pole to the line, conservatively (a degree of latitude is > 110.5 km).
    pole_gap = (90.0 - float(np.max(np.abs(db)))) * 110_500.0
    if pole_gap <= w + step:
        # Slow path, one ring_to_geometry per piece: unwrapping relative to the line is not meaningful
        # when the pieces wind round or touch a pole.
        pieces: list[BaseGeometry] = []
        for i in np.flatnonzero(keep):
            idx = [start_left[i], end_left[i], end_right[i], start_right[i]]
            ring_x = [dl[i], *ol[idx[:2]], dl[i + 1], *ol[idx[2:]]]
            ring_y = [db[i], *ob[idx[:2]], db[i + 1], *ob[idx[2:]]]
            try:
                pieces.append(ring_to_geometry(ring_x, ring_y, interior="auto"))
            except InputError:
                continue  # a degenerate band adds nothing the discs do not cover
        for lo, la in zip(src_lon, src_lat, strict=True):
            pieces.append(circle(float(lo), float(la), w, max_error_m=max_error_m))
        return _finish(_polygonal_parts(shapely.union_all(pieces)))

    # Unwrap: dense vertex i sits at xu[i]; every generated point lies within 180° of its base vertex.
    xu = dl[0] + np.concatenate([[0.0], np.cumsum(wrap_lon(np.diff(dl)))])
    base_x = np.concatenate([xu[:-1], xu[:-1], xu[1:], xu[1:]])
    ox = base_x + wrap_lon(ol - base_lon)
    sel = np.flatnonzero(keep)
    hx = np.stack(
        [xu[sel], ox[start_left[sel]], ox[end_left[sel]], xu[sel + 1], ox[end_right[sel]], ox[start_right[sel]]],
        axis=1,
    )
    hy = np.stack(
        [db[sel], ob[start_left[sel]], ob[end_left[sel]], db[sel + 1], ob[end_right[sel]], ob[start_right[sel]]],
        axis=1,
    )
    bands = shapely.make_valid(shapely.polygons(np.stack([hx, hy], axis=2)))

    disc_az = np.arange(n_disc, dtype=np.float64) * (360.0 / n_disc)
    k = src_lon.size
    cl, cb, _ = direct(np.repeat(src_lon, n_disc), np.repeat(src_lat, n_disc), np.tile(disc_az, k), w)
    cx = np.repeat(xu[is_src], n_disc) + wrap_lon(cl - np.repeat(src_lon, n_disc))
    discs = shapely.polygons(np.stack([cx.reshape(k, n_disc), cb.reshape(k, n_disc)], axis=2))
    union = shapely.union_all(np.concatenate([bands, discs]))
    return _finish(_split_unwrapped(union))


def geodesic_area_m2(geom: BaseGeometry) -> float:
    """Geodesic area of a lon/lat polygon or multipolygon on WGS84, in m² (always positive).

    Parameters
    ----------
    geom : shapely geometry
        Polygonal geometry in degrees; other geometry types have area 0.

    Returns
    -------
    float
        The area in square metres.

    Examples
    --------
    >>> import shapely
    >>> from overflight.geodesy import geodesic_area_m2
    >>> round(geodesic_area_m2(shapely.box(0, 0, 1, 1)) / 1e6)
    12309
    """
    return float(abs(GEOD.geometry_area_perimeter(geom)[0]))


def aeqd_transformer(lon: float, lat: float) -> Any:
    """A PROJ transformer from lon/lat degrees to WGS84 azimuthal equidistant metres centred at a point.

    Distances from the centre are true geodesic distances; built from a pipeline string, so no CRS
    database look-up (cheap enough to build one per point, ~40 µs).

    Parameters
    ----------
    lon, lat : float
        The centre in degrees.

    Returns
    -------
    pyproj.Transformer
        ``transform(lon, lat)`` gives x, y in metres; ``direction="INVERSE"`` goes back.

    Examples
    --------
    >>> from overflight.geodesy import aeqd_transformer
    >>> x, y = aeqd_transformer(10.0, 50.0).transform(10.0, 51.0)
    >>> round(float(y))
    111239
    """
    return Transformer.from_pipeline(
        f"+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
        f"+step +proj=aeqd +lat_0={float(lat):.12f} +lon_0={float(lon):.12f} +ellps=WGS84"
    )
