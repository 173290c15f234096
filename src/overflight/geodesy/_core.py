"""WGS84 constants, the one geodesic solver, the inverse and direct problems, densification, areas."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import shapely
from numpy.typing import NDArray
from pyproj import Geod, Transformer
from shapely.geometry.base import BaseGeometry

from overflight.errors import InputError

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
    if total == n:  # every segment is one piece (fixes closer than the step): the segments themselves
        return x1.copy(), y1.copy(), x2.copy(), y2.copy(), np.arange(n, dtype=np.int64), np.zeros(n), np.ones(n)
    owner = np.repeat(np.arange(n, dtype=np.int64), npieces)
    j = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(npieces) - npieces, npieces)
    nn = npieces[owner].astype(np.float64)
    f0 = j / nn
    f1 = (j + 1) / nn
    first = j == 0
    sx = x1[owner]
    sy = y1[owner]
    # Only inner points need the direct problem: a segment's first start is its own end (most segments of a
    # track are one piece, and the direct problem is most of this function's time).
    inner = np.flatnonzero(~first)
    if inner.size:
        o = owner[inner]
        ix, iy, _ = GEOD.fwd(x1[o], y1[o], a[o], d[o] * f0[inner])
        sx[inner] = np.asarray(ix, dtype=np.float64)
        sy[inner] = np.asarray(iy, dtype=np.float64)
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


__all__ = ["EARTH_AREA_M2", "GEOD", "R_MEAN", "R_POLAR_CURVATURE_MIN", "WGS84_A", "WGS84_B", "WGS84_F", "FloatArray",
           "IntArray", "Interior", "aeqd_transformer", "densify", "densify_path", "densify_segments", "direct",
           "distance", "geodesic_area_m2", "inverse", "wrap_lon"]
