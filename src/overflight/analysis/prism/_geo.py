"""Geodesic helpers for the prism analysis: WGS84 distances, spherical caps, a gnomonic plane.

The gnomonic projection maps great circles to straight lines, so planar shortest-path geometry in it is
spherical geometry. It is spherical only: every length the prism analysis reports is re-measured with
true WGS84 geodesics (GeographicLib through pyproj), the plane only decides *which* path.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from overflight.geodesy import GEOD, circle, circle_ring
from overflight.geodesy import R_MEAN as R_SPHERE

FloatArray = NDArray[np.float64]

# WGS84 geodesic length / great-circle length on the sphere of radius R_SPHERE (geographic latitudes)
# stays within [0.99442, 1.00439] (checked on 10^6 random pairs); these bound it with a margin.
SPH_LO = 0.9940
SPH_HI = 1.0050


def dist(lon1: object, lat1: object, lon2: object, lat2: object) -> FloatArray:
    """True WGS84 geodesic distance in metres (vectorised, inputs broadcast)."""
    a, b, c, d = np.broadcast_arrays(
        np.asarray(lon1, dtype=np.float64), np.asarray(lat1, dtype=np.float64),
        np.asarray(lon2, dtype=np.float64), np.asarray(lat2, dtype=np.float64),
    )
    if a.size == 0:
        return np.zeros(a.shape)
    out = GEOD.inv(np.ravel(a), np.ravel(b), np.ravel(c), np.ravel(d))[2]
    return np.asarray(out, dtype=np.float64).reshape(a.shape)


def unit(lon: object, lat: object) -> FloatArray:
    """Unit vectors (..., 3) of geographic lon/lat treated as spherical coordinates."""
    lo = np.radians(np.asarray(lon, dtype=np.float64))
    la = np.radians(np.asarray(lat, dtype=np.float64))
    cl = np.cos(la)
    # Written into one array (the values of np.stack of the three, without its per-call set-up: this runs
    # thousands of times per evaluation on a few points).
    out = np.empty((*(lo.shape if lo.shape == la.shape else np.broadcast_shapes(lo.shape, la.shape)), 3))
    np.multiply(cl, np.cos(lo), out=out[..., 0])
    np.multiply(cl, np.sin(lo), out=out[..., 1])
    out[..., 2] = np.sin(la)
    return out


def sph_angle(u: FloatArray, v: FloatArray) -> FloatArray:
    """Angle in radians between unit vectors (broadcast), stable for small angles."""
    cr = np.linalg.norm(np.cross(u, v), axis=-1)
    dt = np.sum(u * v, axis=-1)
    return np.asarray(np.arctan2(cr, dt), dtype=np.float64)


def midpoint(lon1: float, lat1: float, lon2: float, lat2: float) -> tuple[float, float]:
    """Point halfway along the geodesic."""
    az, _, d = GEOD.inv(lon1, lat1, lon2, lat2)
    lon, lat, _ = GEOD.fwd(lon1, lat1, az, d / 2.0)
    return float(lon), float(lat)


class Gnomonic:
    """Spherical gnomonic projection centred on (lon0, lat0), metres at the centre."""

    def __init__(self, lon0: float, lat0: float) -> None:
        self.lon0, self.lat0 = lon0, lat0
        self.c = unit(lon0, lat0)
        lo, la = math.radians(lon0), math.radians(lat0)
        self.e = np.array([-math.sin(lo), math.cos(lo), 0.0])
        self.n = np.array([-math.sin(la) * math.cos(lo), -math.sin(la) * math.sin(lo), math.cos(la)])

    def fwd(self, lon: object, lat: object) -> tuple[FloatArray, FloatArray]:
        v = unit(lon, lat)
        cz = v @ self.c
        if np.any(cz <= 1e-6):
            raise ValueError("point beyond the gnomonic hemisphere")
        return R_SPHERE * (v @ self.e) / cz, R_SPHERE * (v @ self.n) / cz

    def inv(self, x: object, y: object) -> tuple[FloatArray, FloatArray]:
        xa = np.asarray(x, dtype=np.float64) / R_SPHERE
        ya = np.asarray(y, dtype=np.float64) / R_SPHERE
        v = self.c + xa[..., None] * self.e + ya[..., None] * self.n
        v = v / np.linalg.norm(v, axis=-1, keepdims=True)
        return np.degrees(np.arctan2(v[..., 1], v[..., 0])), np.degrees(np.arcsin(np.clip(v[..., 2], -1, 1)))

    def coords_fwd(self, xy: FloatArray) -> FloatArray:
        x, y = self.fwd(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    def geometry_fwd(self, geom: BaseGeometry) -> BaseGeometry:
        """Project a lon/lat geometry lying within the hemisphere; parts split at ±180° are re-joined."""
        parts = shapely.get_parts(geom)
        if len(parts) < 2:
            return shapely.transform(geom, self.coords_fwd)
        b = shapely.bounds(parts)
        seam = (b[:, 0] <= -179.999999) | (b[:, 2] >= 179.999999)
        proj = shapely.transform(parts, self.coords_fwd)
        if seam.sum() < 2:
            return shapely.multipolygons(proj)
        # Halves of a part that met at the antimeridian touch along a common edge: merge them.
        merged = shapely.get_parts(shapely.union_all(proj[seam]))
        return shapely.multipolygons(np.concatenate([proj[~seam], merged]))

    def max_scale(self, angle_rad: float) -> float:
        """Largest linear scale factor of the projection within `angle_rad` of the centre (radial sec²)."""
        return 1.0 / math.cos(angle_rad) ** 2


def ellipse_plane(gn: Gnomonic, ll1: tuple[float, float], ll2: tuple[float, float], tau: float,
                  n: int = 128) -> BaseGeometry | None:
    """A convex polygon in `gn`'s plane containing the spherical ellipse {x : σ(p1, x) + σ(x, p2) <= tau}.

    σ: great-circle angles (radians) between the geographic lon/lat taken as spherical. Vertices lie on the
    ellipse of a slightly larger sum: seen from its centre m, a spherical ellipse is a cone's section, so
    ``m + tan(a) cos t · major + tan(b) sin t · minor`` (normalised; cos a = cos b cos c) is exact. The
    focal sum is 2-Lipschitz, so on an edge it is at least its ends' least value minus the edge's length;
    that is checked to stay above `tau` (with 1e-7 rad for rounding), and the polygon, whose boundary then
    misses the ellipse and which holds its centre, contains it. None when that cannot be certified (huge or
    degenerate ellipses, points off the hemisphere).
    """
    u1, u2 = unit(*ll1), unit(*ll2)
    m = u1 + u2
    nm = float(np.linalg.norm(m))
    if not 0 < tau < 1.2 or nm < 1e-9:
        return None
    m = m / nm
    major = u2 - u1
    major = major - float(major @ m) * m
    na = float(np.linalg.norm(major))
    if na < 1e-12:
        return None
    major = major / na
    # m x major, component by component (np.cross's own products and differences, without its set-up).
    minor = np.array([m[1] * major[2] - m[2] * major[1], m[2] * major[0] - m[0] * major[2],
                      m[0] * major[1] - m[1] * major[0]])
    c = 0.5 * math.acos(max(-1.0, min(1.0, float(u1 @ u2))))
    big = (tau * (1 + 4 * math.pi / n) + 1e-7) / 2  # room for the edges (about 2 pi big / n long)
    small = math.acos(max(-1.0, min(1.0, math.cos(big) / max(math.cos(c), 1e-12))))
    t = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    x = m + (math.tan(big) * np.cos(t))[:, None] * major + (math.tan(small) * np.sin(t))[:, None] * minor
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    fv = np.arccos(np.clip(x @ u1, -1, 1)) + np.arccos(np.clip(x @ u2, -1, 1))
    edge = np.arccos(np.clip(np.sum(x * np.roll(x, -1, axis=0), axis=1), -1, 1))
    if float(np.minimum(fv, np.roll(fv, -1)).min() - edge.max()) - 1e-7 < tau:
        return None
    lon = np.degrees(np.arctan2(x[:, 1], x[:, 0]))
    lat = np.degrees(np.arcsin(np.clip(x[:, 2], -1, 1)))
    try:
        px, py = gn.fwd(lon, lat)
    except ValueError:  # beyond the plane's hemisphere
        return None
    return shapely.Polygon(np.column_stack([px, py]))


_WINDOW = shapely.box(-180.0, -90.0, 180.0, 90.0)
FAST_CAP_MAX_M = 5_000_000.0  # the plain-ring shortcut is used (and tested) only for caps up to this radius


def _plain_ring_polygon(lon: FloatArray, lat: FloatArray) -> BaseGeometry | None:
    """The polygon ``geodesy.ring_to_geometry(lon, lat, interior="right")`` returns for a clockwise ring
    that stays clear of the poles and of ±180° and has no edge spanning 1° of longitude; None otherwise.

    Such a ring needs none of that function's seam, pole or densification steps: its polygon is the ring
    cut to the [-180, 180] window (a no-op that fixes GEOS's vertex order) and oriented counter-clockwise,
    the same operations in the same order, so the same coordinates (``test_prism_shortcuts`` checks it).
    """
    if (lat.size < 3 or float(lat.max()) >= 89.0 or float(lat.min()) <= -89.0 or float(lon.max()) >= 179.0
            or float(lon.min()) <= -179.0):
        return None
    closed_lon, closed_lat = np.append(lon, lon[0]), np.append(lat, lat[0])
    if float(np.abs(np.diff(closed_lon)).max()) >= 1.0:
        return None
    poly = shapely.Polygon(np.column_stack([closed_lon, closed_lat]))
    out = shapely.orient_polygons(shapely.intersection(poly, _WINDOW), exterior_cw=False)
    if out.geom_type != "Polygon" or out.is_empty:
        return None
    return out


def disc_cover(lon: float, lat: float, radius_m: float) -> BaseGeometry:
    """A lon/lat polygon that contains the geodesic disc of `radius_m`, tighter than ``cap_polygon``.

    The ring's chords sag by at most ``err`` (``geodesy.circle``); its straight lon/lat edges stray from
    the geodesic chords by less than 1e-4 of the radius (chords under 1/100 of it, any latitude that
    ``circle`` does not close through a pole): the radius is enlarged by both.
    """
    err = max(radius_m * 1e-5, 1.0)
    return circle(lon, lat, radius_m * (1 + 1e-4) + 2 * err + 1.0, max_error_m=err)


@functools.lru_cache(maxsize=256)
def cap_polygon(lon: float, lat: float, radius_m: float) -> BaseGeometry:
    """A lon/lat polygon that contains the geodesic disc of `radius_m` (chords pushed outwards)."""
    # A 256-gon's chords sag by (1 - cos(pi/256)) of the radius: enlarge by more than that, plus 1 km.
    r = radius_m * 1.0002 + 1000.0
    err = max(radius_m * 7.6e-5, 1.0)
    if r <= FAST_CAP_MAX_M:
        # Most caps are away from the poles and the antimeridian: the same polygon as ``circle`` without
        # its general (and costlier) ring handling.
        ring_lon, ring_lat = circle_ring(lon, lat, r, max_error_m=err)
        fast = _plain_ring_polygon(np.asarray(ring_lon, dtype=np.float64), np.asarray(ring_lat, dtype=np.float64))
        if fast is not None:
            return fast
    return circle(lon, lat, r, max_error_m=err)


__all__ = [
    "FAST_CAP_MAX_M",
    "R_SPHERE",
    "SPH_HI",
    "SPH_LO",
    "FloatArray",
    "Gnomonic",
    "cap_polygon",
    "disc_cover",
    "dist",
    "ellipse_plane",
    "midpoint",
    "sph_angle",
    "unit",
]
