"""overflight.geodesy against independent references.

References: the pure-Python ``geographiclib`` package (an implementation independent of the C code that
pyproj wraps) for every distance, position and azimuth; shapely on the same data; closed-form areas.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from geographiclib.geodesic import Geodesic
from pyproj import Geod
from shapely.geometry import MultiPolygon, Point, Polygon

from overflight import geodesy
from overflight.errors import InputError

GL = Geodesic.WGS84
PG = Geod(ellps="WGS84")  # used only for area and for vectorised nearest-vertex pre-selection


def gl_dist(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    return float(GL.Inverse(lat1, lon1, lat2, lon2, Geodesic.DISTANCE)["s12"])


def gl_direct(lon: float, lat: float, az: float, s: float) -> tuple[float, float]:
    r = GL.Direct(lat, lon, az, s, Geodesic.LATITUDE | Geodesic.LONGITUDE)
    return float(r["lon2"]), float(r["lat2"])


def covers(geom: Polygon | MultiPolygon, x: float, y: float) -> bool:
    """Point in polygon, boundary included (a point at ±180° lies on a seam)."""
    return bool(shapely.covers(geom, Point(float(geodesy.wrap_lon(x)), y)))


def area(geom: Polygon | MultiPolygon) -> float:
    return float(PG.geometry_area_perimeter(geom)[0])


def exterior_coords(geom: Polygon | MultiPolygon) -> np.ndarray:
    return np.concatenate([np.asarray(p.exterior.coords) for p in shapely.get_parts(geom)])


def all_edges(geom: Polygon | MultiPolygon) -> tuple[np.ndarray, np.ndarray]:
    rings = shapely.get_rings(shapely.get_parts(geom))
    a = []
    b = []
    for r in rings:
        c = np.asarray(r.coords)
        a.append(c[:-1])
        b.append(c[1:])
    return np.concatenate(a), np.concatenate(b)


def assert_no_world_wrap(geom: Polygon | MultiPolygon) -> None:
    """Only an edge along a pole's line may span a wide range of longitude."""
    a, b = all_edges(geom)
    wide = np.abs(b[:, 0] - a[:, 0]) > 90.0
    assert np.all((np.abs(a[wide, 1]) == 90.0) & (a[wide, 1] == b[wide, 1]))


def assert_well_formed(geom: Polygon | MultiPolygon) -> None:
    assert isinstance(geom, (Polygon, MultiPolygon))
    assert shapely.is_valid(geom), shapely.is_valid_reason(geom)
    minx, miny, maxx, maxy = geom.bounds
    assert minx >= -180.0 and maxx <= 180.0 and miny >= -90.0 and maxy <= 90.0
    for p in shapely.get_parts(geom):
        assert p.exterior.is_ccw
    assert_no_world_wrap(geom)


def random_points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    lon = rng.uniform(-180.0, 180.0, n)
    lat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    return lon, lat


def membership_agrees(
    geom: Polygon | MultiPolygon,
    lon0: float,
    lat0: float,
    r_in: float,
    r_out: float,
    lon: np.ndarray,
    lat: np.ndarray,
    tol: float,
) -> int:
    """Check inside/outside against geographiclib distances; returns how many points were decisive."""
    checked = 0
    inside = shapely.contains_xy(geom, lon, lat)
    for x, y, ins in zip(lon, lat, inside, strict=True):
        d = gl_dist(lon0, lat0, x, y)
        if r_in + tol < d < r_out - tol:
            assert ins, (x, y, d)
            checked += 1
        elif d < r_in - tol or d > r_out + tol:
            assert not ins, (x, y, d)
            checked += 1
    return checked


# ---------------------------------------------------------------------------------------------------------
# inverse / direct against geographiclib


def _pairs(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    lon1, lat1 = random_points(rng, 6000)
    lon2, lat2 = random_points(rng, 6000)
    # near-antipodal pairs, including exact antipodes on and off the equator
    a_lon, a_lat = random_points(rng, 2000)
    jit = rng.choice([0.0, 1e-9, 1e-6, 1e-3, 0.1, 0.5], size=(2000, 2))
    b_lon = a_lon + 180.0 + jit[:, 0] * rng.choice([-1, 1], 2000)
    b_lat = -a_lat + jit[:, 1] * rng.choice([-1, 1], 2000)
    a_lat[:50] = 0.0
    b_lat[:50] = 0.0
    b_lat = np.clip(b_lat, -90, 90)
    # near-pole pairs, including points exactly at a pole
    p_lon, _ = random_points(rng, 2000)
    p_lat = rng.choice([1, -1], 2000) * (90.0 - rng.choice([0.0, 1e-7, 1e-3, 0.1, 1.0], 2000))
    q_lon, q_lat = random_points(rng, 2000)
    q_lat[:1000] = rng.choice([1, -1], 1000) * (90.0 - rng.uniform(0, 2, 1000))
    lon1 = np.concatenate([lon1, a_lon, p_lon])
    lat1 = np.concatenate([lat1, a_lat, p_lat])
    lon2 = np.concatenate([lon2, b_lon, q_lon])
    lat2 = np.concatenate([lat2, b_lat, q_lat])
    return lon1, lat1, lon2, lat2


def test_inverse_matches_geographiclib_on_10000_pairs() -> None:
    rng = np.random.default_rng(2)
    lon1, lat1, lon2, lat2 = _pairs(rng)
    assert lon1.size == 10_000
    az12, az21, dist = geodesy.inverse(lon1, lat1, lon2, lat2)
    assert np.array_equal(geodesy.distance(lon1, lat1, lon2, lat2), dist)
    worst_d = worst_p = 0.0
    for i in range(lon1.size):
        ref = GL.Inverse(lat1[i], lon1[i], lat2[i], lon2[i])
        worst_d = max(worst_d, abs(ref["s12"] - dist[i]))
        # Azimuths checked in metres: travelling our az12 for our distance must land on point 2 and
        # our az21 must lead back to point 1 (well-posed even where the azimuth is not unique).
        x, y = gl_direct(lon1[i], lat1[i], az12[i], dist[i])
        worst_p = max(worst_p, gl_dist(x, y, lon2[i], lat2[i]))
        x, y = gl_direct(lon2[i], lat2[i], az21[i], dist[i])
        worst_p = max(worst_p, gl_dist(x, y, lon1[i], lat1[i]))
    assert worst_d < 1e-3
    assert worst_p < 1e-4


def test_direct_matches_geographiclib_on_10000_cases() -> None:
    rng = np.random.default_rng(3)
    lon, lat = random_points(rng, 10_000)
    lat[:1000] = rng.choice([1, -1], 1000) * (90.0 - rng.choice([0.0, 1e-6, 0.01, 0.5], 1000))
    az = rng.uniform(-180.0, 360.0, 10_000)
    dist = rng.uniform(0.0, 20_000_000.0, 10_000)
    dist[:200] = 0.0
    lon2, lat2, az21 = geodesy.direct(lon, lat, az, dist)
    assert np.all((lon2 >= -180.0) & (lon2 < 180.0))
    worst = worst_az = 0.0
    for i in range(lon.size):
        ref = GL.Direct(lat[i], lon[i], az[i], dist[i])
        worst = max(worst, gl_dist(lon2[i], lat2[i], ref["lon2"], ref["lat2"]))
        if abs(ref["lat2"]) < 89.9:  # an azimuth at a pole depends on the longitude convention
            back = (ref["azi2"] + 180.0 + 180.0) % 360.0 - 180.0
            worst_az = max(worst_az, abs((az21[i] - back + 180.0) % 360.0 - 180.0))
    assert worst < 1e-4
    assert worst_az < 1e-8


def test_scalars_and_broadcasting() -> None:
    az12, az21, d = geodesy.inverse(0.0, 0.0, 1.0, 0.0)
    assert np.ndim(d) == 0 and float(d) == pytest.approx(111319.49079327357, abs=1e-6)
    assert float(az12) == pytest.approx(90.0) and abs(float(az21)) == pytest.approx(90.0)
    lon2, lat2, _ = geodesy.direct(179.0, 0.0, 90.0, 300_000.0)
    assert np.ndim(lon2) == 0 and -180.0 <= float(lon2) < -178.0 and float(lat2) == pytest.approx(0.0, abs=1e-9)
    d = geodesy.distance(np.zeros((3, 1)), 0.0, np.arange(4.0), np.zeros(4))
    assert d.shape == (3, 4)
    assert d[1, 2] == pytest.approx(gl_dist(0, 0, 2, 0), abs=1e-6)


def test_bad_latitude_is_an_input_error_naming_the_field() -> None:
    with pytest.raises(InputError) as err:
        geodesy.inverse([0, 0], [0, 91], [1, 1], [0, 0])
    assert err.value.field == "lat1" and err.value.row == 1
    with pytest.raises(InputError):
        geodesy.direct(0, -90.5, 0, 1)
    with pytest.raises(InputError):
        geodesy.inverse("x", 0, 0, 0)


# ---------------------------------------------------------------------------------------------------------
# densification


@pytest.mark.parametrize(
    ("p1", "p2", "step"),
    [
        ((0.0, 0.0), (10.0, 10.0), 100_000.0),
        ((179.0, 10.0), (-179.0, 12.0), 7_000.0),  # over the antimeridian
        ((10.0, 89.0), (-170.0, 88.0), 5_000.0),  # over the North Pole
        ((0.0, 10.0), (179.0, -10.5), 250_000.0),  # nearly antipodal
        ((5.0, 5.0), (5.0, 5.0), 1000.0),  # a zero-length geodesic
    ],
)
def test_densify_steps_and_points_on_the_geodesic(
    p1: tuple[float, float], p2: tuple[float, float], step: float
) -> None:
    lon, lat = geodesy.densify(p1[0], p1[1], p2[0], p2[1], step)
    assert (lon[0], lat[0]) == p1 and (lon[-1], lat[-1]) == p2
    assert np.all((lon >= -180.0) & (lon < 180.0))
    ref = GL.Inverse(p1[1], p1[0], p2[1], p2[0])
    n = lon.size - 1
    assert n == max(1, math.ceil(ref["s12"] / step))
    line = GL.Line(p1[1], p1[0], ref["azi1"])
    steps = [gl_dist(lon[i], lat[i], lon[i + 1], lat[i + 1]) for i in range(n)]
    assert max(steps) <= step * (1 + 1e-9)
    assert max(steps) - min(steps) < 1e-6  # equal steps
    for k in range(n + 1):
        pos = line.Position(ref["s12"] * k / n)
        assert gl_dist(lon[k], lat[k], pos["lon2"], pos["lat2"]) < 1e-4


def test_densify_path_segments_and_fractions() -> None:
    lon = np.array([170.0, -175.0, -175.0, 10.0, 12.0])
    lat = np.array([0.0, 5.0, 5.0, 80.0, 80.5])
    step = 150_000.0
    dl, db, seg, frac = geodesy.densify_path(lon, lat, step)
    assert seg[-1] == 3 and frac[-1] == 1.0 and (dl[-1], db[-1]) == (12.0, 80.5)
    assert np.all(np.diff(seg) >= 0)
    for i in range(4):
        ref = GL.Inverse(lat[i], lon[i], lat[i + 1], lon[i + 1])
        mine = seg == i
        at_start = mine & (frac == 0.0)
        assert at_start.sum() == 1
        assert dl[at_start][0] == lon[i] and db[at_start][0] == lat[i]  # source vertices exactly
        expected = max(1, math.ceil(ref["s12"] / step))
        assert int((mine & (frac < 1.0)).sum()) == expected
        line = GL.Line(lat[i], lon[i], ref["azi1"])
        for x, y, f in zip(dl[mine], db[mine], frac[mine], strict=True):
            pos = line.Position(f * ref["s12"])
            assert gl_dist(x, y, pos["lon2"], pos["lat2"]) < 1e-4


def test_densify_path_bad_input() -> None:
    with pytest.raises(InputError) as err:
        geodesy.densify_path([0, np.nan, 2], [0, 0, 0], 1000)
    assert err.value.field == "lon" and err.value.row == 1
    with pytest.raises(InputError):
        geodesy.densify_path([0], [0], 1000)
    with pytest.raises(InputError) as err:
        geodesy.densify_path([0, 1], [0, 0], 0)
    assert err.value.field == "max_step_m"
    with pytest.raises(InputError):
        geodesy.densify_path([0, 179], [0, 0], 0.01)  # would be ~2 billion vertices


# ---------------------------------------------------------------------------------------------------------
# circles


@pytest.mark.parametrize(
    ("lon", "lat", "r"),
    [
        (179.5, 0.0, 200_000.0),
        (10.0, 89.0, 500_000.0),
        (46.2, 48.3, 800_000.0),
        (-180.0, -60.0, 50_000.0),
        (0.0, 90.0, 1_000_000.0),
        (30.0, 0.0, 3_000_000.0),
    ],
)
def test_circle_vertices_lie_on_the_radius(lon: float, lat: float, r: float) -> None:
    geom = geodesy.circle(lon, lat, r)
    assert_well_formed(geom)
    c = exterior_coords(geom)
    c = c[np.abs(c[:, 1]) < 90.0]  # vertices added at a pole close the cap, they are not on the circle
    seam = np.abs(c[:, 0]) == 180.0
    err = np.array([abs(gl_dist(lon, lat, x, y) - r) for x, y in c])
    assert err.max() < 1.0
    assert err[~seam].max() < 1e-3  # vertices from the direct problem: exact
    # the vertex count keeps every chord within max_error_m of the circle
    ring_lon, ring_lat = geodesy.circle_ring(lon, lat, r)
    if ring_lon.size < 3600:
        nxt = np.roll(np.arange(ring_lon.size), -1)
        for i in range(0, ring_lon.size, max(1, ring_lon.size // 200)):
            inv = GL.Inverse(ring_lat[i], ring_lon[i], ring_lat[nxt[i]], ring_lon[nxt[i]])
            mx, my = gl_direct(ring_lon[i], ring_lat[i], inv["azi1"], inv["s12"] / 2)
            assert r - gl_dist(lon, lat, mx, my) <= 1.0


def test_circle_over_the_antimeridian_is_two_parts_meeting_at_180() -> None:
    r = 200_000.0
    geom = geodesy.circle(179.5, 0.0, r)
    assert_well_formed(geom)
    parts = list(shapely.get_parts(geom))
    assert isinstance(geom, MultiPolygon) and len(parts) == 2
    east = next(p for p in parts if p.bounds[2] == 180.0)
    west = next(p for p in parts if p.bounds[0] == -180.0)
    assert east.bounds[0] > 177.0 and west.bounds[2] < -178.0
    # the parts meet exactly: the same seam latitudes on both sides
    e = np.asarray(east.exterior.coords)
    w = np.asarray(west.exterior.coords)
    assert np.array_equal(np.unique(e[e[:, 0] == 180.0, 1]), np.unique(w[w[:, 0] == -180.0, 1]))
    # area: π r² up to the curvature term (~1e-4 at 200 km), and equal to the same circle away from 180
    a = area(geom)
    assert a == pytest.approx(math.pi * r * r, rel=1e-3)
    assert a == pytest.approx(area(geodesy.circle(0.5, 0.0, r)), rel=1e-9)
    rng = np.random.default_rng(5)
    lon = geodesy.wrap_lon(rng.uniform(177.0, 182.0, 400))
    lat = rng.uniform(-2.5, 2.5, 400)
    assert membership_agrees(geom, 179.5, 0.0, -1.0, r, lon, lat, tol=5.0) > 300


def test_circle_round_the_north_pole_contains_it() -> None:
    r = 500_000.0
    geom = geodesy.circle(10.0, 89.0, r)
    assert_well_formed(geom)
    assert isinstance(geom, Polygon)
    assert shapely.covers(geom, Point(123.0, 90.0))
    lons = np.linspace(-179.99, 179.99, 73)  # ±180 itself is on the boundary
    assert shapely.contains_xy(geom, lons, np.full(73, 89.95)).all()
    assert area(geom) == pytest.approx(math.pi * r * r, rel=1e-3)
    rng = np.random.default_rng(6)
    lon = rng.uniform(-180.0, 180.0, 500)
    lat = rng.uniform(83.0, 90.0, 500)
    assert membership_agrees(geom, 10.0, 89.0, -1.0, r, lon, lat, tol=200.0) > 400


def test_circle_larger_than_a_hemisphere() -> None:
    r = 15_000_000.0
    geom = geodesy.circle(20.0, 30.0, r)
    assert_well_formed(geom)
    assert shapely.covers(geom, Point(20.0, 30.0))
    assert not shapely.covers(geom, Point(-160.0, -30.0))  # the antipode
    rng = np.random.default_rng(7)
    lon, lat = random_points(rng, 300)
    assert membership_agrees(geom, 20.0, 30.0, -1.0, r, lon, lat, tol=20_000.0) > 200


def test_circle_bad_input() -> None:
    for bad in (0.0, -5.0, math.nan, 25_000_000.0):
        with pytest.raises(InputError) as err:
            geodesy.circle(0.0, 0.0, bad)
        assert err.value.field == "radius_m"
    with pytest.raises(InputError):
        geodesy.circle(0.0, 95.0, 1000.0)


# ---------------------------------------------------------------------------------------------------------
# annulus, sector


@pytest.mark.parametrize(
    ("lon", "lat", "inner", "outer"),
    [
        (46.2, 48.3, 22_000.0, 800_000.0),
        (179.9, 60.0, 100_000.0, 500_000.0),
        (10.0, 85.0, 100_000.0, 1_000_000.0),
        (10.0, 89.5, 100_000.0, 1_000_000.0),
    ],
)
def test_annulus_area_is_outer_minus_inner(lon: float, lat: float, inner: float, outer: float) -> None:
    geom = geodesy.annulus(lon, lat, inner, outer)
    assert_well_formed(geom)
    expected = area(geodesy.circle(lon, lat, outer)) - area(geodesy.circle(lon, lat, inner))
    assert area(geom) == pytest.approx(expected, rel=1e-9)
    assert area(geom) == pytest.approx(math.pi * (outer**2 - inner**2), rel=2e-2)
    assert not shapely.covers(geom, Point(lon, lat))
    rng = np.random.default_rng(8)
    dist = rng.uniform(0.0, outer * 1.2, 300)
    az = rng.uniform(0.0, 360.0, 300)
    plon, plat, _ = geodesy.direct(lon, lat, az, dist)
    assert membership_agrees(geom, lon, lat, inner, outer, plon, plat, tol=100.0) > 250


def test_annulus_bad_radii() -> None:
    with pytest.raises(InputError) as err:
        geodesy.annulus(0.0, 0.0, 5000.0, 5000.0)
    assert err.value.field == "inner_m"


@pytest.mark.parametrize(
    ("lon", "lat", "a0", "a1", "inside", "outside"),
    [
        (0.0, 0.0, 350.0, 10.0, [355.0, 0.0, 5.0, 9.5], [11.0, 345.0, 90.0, 180.0]),
        (179.9, 0.0, 45.0, 135.0, [50.0, 90.0, 130.0], [40.0, 140.0, 270.0]),
        (20.0, 45.0, 10.0, 300.0, [20.0, 150.0, 290.0], [305.0, 340.0, 0.0]),
        (0.0, 89.0, 90.0, 270.0, [100.0, 180.0, 260.0], [80.0, 0.0, 280.0]),
    ],
)
def test_sector_contains_bearings_inside_only(
    lon: float, lat: float, a0: float, a1: float, inside: list[float], outside: list[float]
) -> None:
    r = 300_000.0
    geom = geodesy.sector(lon, lat, r, a0, a1)
    assert_well_formed(geom)
    for frac in (0.3, 0.9):
        for az in inside:
            x, y = gl_direct(lon, lat, az, frac * r)
            assert shapely.contains_xy(geom, geodesy.wrap_lon(x), y), (az, frac)
        for az in outside:
            x, y = gl_direct(lon, lat, az, frac * r)
            assert not shapely.contains_xy(geom, geodesy.wrap_lon(x), y), (az, frac)
    x, y = gl_direct(lon, lat, inside[0], 1.05 * r)
    assert not shapely.contains_xy(geom, geodesy.wrap_lon(x), y)
    span = (a1 - a0) % 360.0
    assert area(geom) == pytest.approx(area(geodesy.circle(lon, lat, r)) * span / 360.0, rel=2e-3)


def test_sector_from_a_pole_and_full_turn() -> None:
    geom = geodesy.sector(0.0, 90.0, 200_000.0, 0.0, 270.0)
    assert_well_formed(geom)
    assert area(geom) == pytest.approx(area(geodesy.circle(0.0, 90.0, 200_000.0)) * 0.75, rel=1e-3)
    full = geodesy.sector(5.0, 5.0, 100_000.0, 0.0, 360.0)
    assert area(full) == pytest.approx(area(geodesy.circle(5.0, 5.0, 100_000.0)), rel=1e-12)
    with pytest.raises(InputError):
        geodesy.sector(0.0, 0.0, 1000.0, 10.0, 10.0)


# ---------------------------------------------------------------------------------------------------------
# line buffers


def _line_distance(dense_lon: np.ndarray, dense_lat: np.ndarray, x: float, y: float) -> float:
    """Distance from (x, y) to a densely sampled line: nearest vertices by pyproj, then geographiclib."""
    _, _, d = PG.inv(np.full(dense_lon.size, x), np.full(dense_lon.size, y), dense_lon, dense_lat)
    near = np.argsort(d)[:3]
    return min(gl_dist(x, y, dense_lon[i], dense_lat[i]) for i in near)


def _check_buffer(lon: list[float], lat: list[float], w: float, seed: int) -> Polygon | MultiPolygon:
    geom = geodesy.buffer_line(lon, lat, w)
    assert_well_formed(geom)
    # vertices 200 m apart: the distance to the sampled line overestimates by < 0.2 m at these widths
    dense_lon, dense_lat, _, _ = geodesy.densify_path(lon, lat, 200.0)
    rng = np.random.default_rng(seed)
    # Points at 0.9 w and 1.1 w from random feet on the line (perpendicular offsets), and beyond the ends.
    i = rng.integers(0, dense_lon.size - 1, 40)
    checked = 0
    for k in i:
        inv = GL.Inverse(dense_lat[k], dense_lon[k], dense_lat[k + 1], dense_lon[k + 1])
        if inv["s12"] == 0.0:
            continue
        for side in (-90.0, 90.0):
            for factor in (0.9, 1.1):
                x, y = gl_direct(dense_lon[k], dense_lat[k], inv["azi1"] + side, factor * w)
                ref = _line_distance(dense_lon, dense_lat, x, y)
                if abs(ref - w) < 0.05 * w:
                    continue  # a foot near a bend: the point is not where the construction put it
                assert covers(geom, x, y) == (ref < w), (x, y, ref)
                checked += 1
    for end, prev in ((0, 1), (-1, -2)):
        inv = GL.Inverse(lat[prev], lon[prev], lat[end], lon[end])
        out_az = inv["azi2"]
        for factor in (0.9, 1.1):
            x, y = gl_direct(lon[end], lat[end], out_az, factor * w)
            assert covers(geom, x, y) == (factor < 1.0)
            checked += 1
    assert checked > 60
    return geom


def test_buffer_line_over_the_antimeridian() -> None:
    w = 50_000.0
    geom = _check_buffer([179.0, -179.0], [10.0, 10.0], w, seed=9)
    assert isinstance(geom, MultiPolygon) and len(geom.geoms) == 2
    east, west = sorted(geom.geoms, key=lambda p: -p.bounds[2])
    assert east.bounds[2] == 180.0 and west.bounds[0] == -180.0
    mid = GL.Inverse(10.0, 179.0, 10.0, -179.0)
    mx, my = gl_direct(179.0, 10.0, mid["azi1"], mid["s12"] / 2)
    assert shapely.covers(geom, Point(geodesy.wrap_lon(mx), my))


def test_buffer_line_with_bends() -> None:
    _check_buffer([178.0, -179.0, -177.0, -178.5], [10.0, 12.0, 9.0, 7.0], 30_000.0, seed=10)
    _check_buffer([30.0, 45.0, 52.0], [50.0, 48.0, 51.5], 80_000.0, seed=11)


def test_buffer_line_over_the_pole() -> None:
    geom = _check_buffer([0.0, 180.0], [85.0, 85.0], 100_000.0, seed=12)
    assert shapely.covers(geom, Point(0.0, 90.0))


def test_buffer_point_is_circle() -> None:
    assert geodesy.buffer_point is geodesy.circle
    one = geodesy.buffer_line([3.0], [4.0], 1000.0)
    assert one.equals(geodesy.circle(3.0, 4.0, 1000.0))


# ---------------------------------------------------------------------------------------------------------
# ring_to_geometry


def test_ring_to_geometry_orientation_modes() -> None:
    ring_lon, ring_lat = geodesy.circle_ring(170.0, -30.0, 2_000_000.0)  # clockwise, crosses 180
    auto = geodesy.ring_to_geometry(ring_lon, ring_lat)
    right = geodesy.ring_to_geometry(ring_lon, ring_lat, interior="right")
    rev = geodesy.ring_to_geometry(ring_lon[::-1], ring_lat[::-1])
    left = geodesy.ring_to_geometry(ring_lon, ring_lat, interior="left")
    for g in (auto, right, rev, left):
        assert_well_formed(g)
    assert auto.equals(right) and shapely.normalize(auto).equals_exact(shapely.normalize(rev), 1e-12)
    assert shapely.covers(auto, Point(170.0, -30.0)) and not shapely.covers(left, Point(170.0, -30.0))
    assert shapely.covers(left, Point(-10.0, 30.0))  # the antipode
    # left and right tile the globe
    assert shapely.union(auto, left).area == pytest.approx(360.0 * 180.0)
    assert shapely.intersection(auto, left).area == pytest.approx(0.0, abs=1e-9)


def test_ring_through_a_pole_vertex() -> None:
    # a lune from the North Pole to the equator between meridians 170 E and 170 W
    geom = geodesy.ring_to_geometry([0.0, 170.0, -170.0], [90.0, 0.0, 0.0])
    assert_well_formed(geom)
    assert shapely.contains_xy(geom, [179.0, -179.0, 175.0], [45.0, 45.0, 80.0]).all()
    assert not shapely.contains_xy(geom, [0.0, 160.0], [45.0, 45.0]).any()


def test_ring_bad_input() -> None:
    with pytest.raises(InputError):
        geodesy.ring_to_geometry([0, 1], [0, 0])
    with pytest.raises(InputError):
        geodesy.ring_to_geometry([0, 1, 1, 0], [0, 0, 0, 0])  # no area
    lon = np.linspace(0, 720, 40, endpoint=False)
    with pytest.raises(InputError):
        geodesy.ring_to_geometry(lon, np.full(40, 60.0))  # winds round the pole twice
    with pytest.raises(InputError) as err:
        geodesy.ring_to_geometry([0, 1, 2], [0, 1, 0], interior="inside")  # type: ignore[arg-type]
    assert err.value.field == "interior"
