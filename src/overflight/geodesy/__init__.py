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

This package is the one place that holds the WGS84 constants and imports pyproj: every other module asks it
(:data:`GEOD` for hot loops that call the solver directly, the functions below otherwise). Its parts:
``_core`` (constants, inverse/direct, densification, areas, the azimuthal equidistant projection), ``_rings``
(rings to antimeridian- and pole-safe polygons) and ``_shapes`` (circles, annuli, sectors, buffers).
"""

from __future__ import annotations

from overflight.geodesy._core import (
    EARTH_AREA_M2,
    GEOD,
    R_MEAN,
    R_POLAR_CURVATURE_MIN,
    WGS84_A,
    WGS84_B,
    WGS84_F,
    aeqd_transformer,
    densify,
    densify_path,
    densify_segments,
    direct,
    distance,
    geodesic_area_m2,
    inverse,
    wrap_lon,
)
from overflight.geodesy._rings import ring_to_geometry
from overflight.geodesy._shapes import (
    annulus,
    buffer_line,
    buffer_point,
    circle,
    circle_ring,
    sector,
)

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
