"""Property tests for overflight.geodesy's polygon construction over random centres, radii and rings."""

from __future__ import annotations

import math
import os

import numpy as np
import shapely
from geographiclib.geodesic import Geodesic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import MultiPolygon, Point, Polygon

from overflight import geodesy

GL = Geodesic.WGS84
PG = Geod(ellps="WGS84")
R_MEAN = 6371007.2  # radius of the sphere with WGS84's area

lons = st.floats(min_value=-180.0, max_value=180.0, allow_nan=False)
lats = st.floats(min_value=-90.0, max_value=90.0, allow_nan=False)
# log-uniform radii from 1 m to 15,000 km (beyond a hemisphere)
radii = st.floats(min_value=0.0, max_value=math.log10(15_000_000.0)).map(lambda e: 10.0**e)

SETTINGS = settings(
    max_examples=int(os.environ.get("GEODESY_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def covers_position(geom: Polygon | MultiPolygon, lon: float, lat: float) -> bool:
    """Whether the geometry covers a position, whichever way it is written (±180°, any pole longitude)."""
    if abs(lat) >= 90.0 - 1e-9:  # at a pole (ring_to_geometry snaps within 1e-9° to it)
        return bool(shapely.intersects(geom, shapely.box(-180.0, lat, 180.0, lat)))
    x = float(geodesy.wrap_lon(lon))
    return bool(shapely.covers(geom, Point(x, lat)) or (x == -180.0 and shapely.covers(geom, Point(180.0, lat))))


def check_shape(geom: Polygon | MultiPolygon, lon: float, lat: float) -> None:
    assert isinstance(geom, (Polygon, MultiPolygon))
    assert shapely.is_valid(geom), shapely.is_valid_reason(geom)
    minx, miny, maxx, maxy = geom.bounds
    assert minx >= -180.0 and maxx <= 180.0 and miny >= -90.0 and maxy <= 90.0
    assert covers_position(geom, lon, lat)
    for p in shapely.get_parts(geom):
        assert p.exterior.is_ccw
    # never a polygon wrapping the world: only an edge along (or within a metre of) a pole's line spans
    # 180° of longitude or more (a ring passing metres from a pole legitimately has steps of nearly 180°)
    for ring in shapely.get_rings(shapely.get_parts(geom)):
        c = np.asarray(ring.coords)
        wide = np.abs(np.diff(c[:, 0])) >= 180.0
        assert np.all(np.abs(c[:-1][wide, 1]) > 89.99999)
        assert np.all(np.abs(c[1:][wide, 1]) > 89.99999)


@SETTINGS
@given(lon=lons, lat=lats, r=radii)
def test_circle_properties(lon: float, lat: float, r: float) -> None:
    geom = geodesy.circle(lon, lat, r)
    check_shape(geom, lon, lat)
    assert not covers_position(geom, lon + 180.0, -lat)  # the antipode
    if r < 9_000_000.0:
        # the spherical cap's area, to the ellipsoid's flattening (f ≈ 0.34 %), less what the chords cut
        # off (at most perimeter x sagitta, max_error_m = 1 m); 0.1 m² slack for GeographicLib's own area
        # rounding on a metre-sized ring at a pole
        cap = 2.0 * math.pi * R_MEAN**2 * (1.0 - math.cos(r / R_MEAN))
        chords = 2.0 * math.pi * R_MEAN * math.sin(r / R_MEAN) * 1.0
        a = PG.geometry_area_perimeter(geom)[0]
        assert cap * (1 - 4e-3) - chords - 0.1 < a < cap * (1 + 4e-3) + 0.1


@st.composite
def star_rings(draw: st.DrawFn) -> tuple[float, float, np.ndarray, np.ndarray]:
    """A ring star-shaped round a centre, densified along its geodesic edges (as shape builders do)."""
    lon = draw(lons)
    lat = draw(lats)
    n = draw(st.integers(min_value=6, max_value=14))
    r0 = draw(st.floats(min_value=1_000.0, max_value=3_000_000.0))
    jit = draw(st.lists(st.floats(-0.35, 0.35), min_size=n, max_size=n))
    scale = draw(st.lists(st.floats(0.5, 1.0), min_size=n, max_size=n))
    az = (np.arange(n) + np.array(jit)) * (360.0 / n)
    vx, vy, _ = geodesy.direct(lon, lat, az, r0 * np.array(scale))
    dx, dy, _, _ = geodesy.densify_path(np.append(vx, vx[0]), np.append(vy, vy[0]), max(r0 / 20.0, 50.0))
    return lon, lat, dx[:-1], dy[:-1]


@SETTINGS
@given(ring=star_rings(), start=st.integers(min_value=0, max_value=1000))
def test_ring_to_geometry_properties(ring: tuple[float, float, np.ndarray, np.ndarray], start: int) -> None:
    lon, lat, rx, ry = ring
    geom = geodesy.ring_to_geometry(rx, ry)
    check_shape(geom, lon, lat)
    # the same region whichever vertex the ring starts at and whichever way it runs
    k = start % rx.size
    other = geodesy.ring_to_geometry(np.roll(rx, k)[::-1], np.roll(ry, k)[::-1])
    a = PG.geometry_area_perimeter(geom)[0]
    assert PG.geometry_area_perimeter(other)[0] == a or abs(PG.geometry_area_perimeter(other)[0] - a) < 1e-6 * a
    assert shapely.symmetric_difference(geom, other).area < 1e-9 * max(geom.area, 1e-9)
    # the ring runs clockwise round its centre, so "right" is the same region and "left" the rest
    right = geodesy.ring_to_geometry(rx, ry, interior="right")
    assert shapely.symmetric_difference(geom, right).area < 1e-9 * max(geom.area, 1e-9)
    left = geodesy.ring_to_geometry(rx, ry, interior="left")
    assert not covers_position(left, lon, lat)
    assert shapely.union(geom, left).area == 360.0 * 180.0 or abs(shapely.union(geom, left).area - 64800.0) < 1e-6


@SETTINGS
@given(
    lon=lons,
    lat=lats,
    outer=st.floats(min_value=1_000.0, max_value=6_000_000.0),
    inner_frac=st.floats(min_value=0.05, max_value=0.95),
    a0=st.floats(min_value=0.0, max_value=360.0),
    a1=st.floats(min_value=0.0, max_value=360.0),
)
def test_annulus_and_sector_properties(
    lon: float, lat: float, outer: float, inner_frac: float, a0: float, a1: float
) -> None:
    ring = geodesy.annulus(lon, lat, inner_frac * outer, outer)
    assert shapely.is_valid(ring)
    assert not covers_position(ring, lon, lat)
    # a point halfway between the radii, on any bearing, is inside
    x, y, _ = geodesy.direct(lon, lat, a0, (1.0 + inner_frac) / 2.0 * outer)
    assert covers_position(ring, float(x), float(y))
    span = (a1 - a0) % 360.0 or 360.0
    if a0 != a1 and span > 1e-3:  # narrower wedges may rightly be refused as enclosing no area
        wedge = geodesy.sector(lon, lat, outer, a0, a1)
        check_shape(wedge, lon, lat)
        if span > 2.0:  # a bearing well inside the wedge, half-way out
            x, y, _ = geodesy.direct(lon, lat, a0 + span / 2.0, outer / 2.0)
            assert covers_position(wedge, float(x), float(y))


@settings(
    max_examples=int(os.environ.get("GEODESY_EXAMPLES", "60")) // 2,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    lon=lons,
    lat=st.floats(min_value=-89.0, max_value=89.0),
    steps=st.lists(st.tuples(st.floats(-20.0, 20.0), st.floats(-10.0, 10.0)), min_size=1, max_size=4),
    width=st.floats(min_value=100.0, max_value=300_000.0),
)
def test_buffer_line_properties(lon: float, lat: float, steps: list[tuple[float, float]], width: float) -> None:
    line_lon = lon + np.concatenate([[0.0], np.cumsum([s[0] for s in steps])])
    line_lat = np.clip(lat + np.concatenate([[0.0], np.cumsum([s[1] for s in steps])]), -89.5, 89.5)
    geom = geodesy.buffer_line(line_lon, line_lat, width)
    check_shape(geom, lon, lat)
    for x, y in zip(line_lon, line_lat, strict=True):
        assert covers_position(geom, x, y)
    # a point at 1.2 x width straight out from the first vertex, away from the line, is outside
    az12, _, d = geodesy.inverse(line_lon[0], line_lat[0], line_lon[1], line_lat[1])
    if d > 0:
        x, y, _ = geodesy.direct(line_lon[0], line_lat[0], float(az12) + 180.0, 1.2 * width)
        # unless another part of the line comes back near it (distance to the densely sampled line)
        dl, db, _, _ = geodesy.densify_path(line_lon, line_lat, width / 50.0)
        if float(np.min(geodesy.distance(x, y, dl, db))) > 1.05 * width:
            assert not covers_position(geom, float(x), float(y))
