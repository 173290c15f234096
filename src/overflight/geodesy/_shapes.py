"""Geodesic shapes: circles, annuli, sectors and buffers around lines, as antimeridian-safe polygons."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from overflight.errors import InputError
from overflight.geodesy._core import (
    _HALF_MERIDIAN_M,
    _MAX_CIRCLE_VERTICES,
    _MIN_CIRCLE_VERTICES,
    _R_MEAN,
    FloatArray,
    _floats,
    _path,
    _positive,
    densify_path,
    direct,
    inverse,
    wrap_lon,
)
from overflight.geodesy._rings import (
    _finish,
    _polygonal_parts,
    _split_unwrapped,
    ring_to_geometry,
)

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


__all__ = ["annulus", "buffer_line", "buffer_point", "circle", "circle_ring", "sector"]
