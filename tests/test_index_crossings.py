"""ZoneIndex.crossings: hand-computed crossings, re-entry, the antimeridian, geodesic densification, and a
property test on Natural Earth (parity and directions agree with locate_all; points lie on the border)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from geographiclib.geodesic import Geodesic
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Polygon, box

from overflight.index import CoordinateWarning, ZoneIndex
from overflight.zones import ZoneSet

TILES = [box(10 + 1.25 * i, 40, 10 + 1.25 * (i + 1), 41.25) for i in range(4)]
OVERLAP = box(10.5, 40.5, 11.5, 41.5)
HOLED = Polygon([(30, 0), (34, 0), (34, 4), (30, 4)], [[(31, 1), (33, 1), (33, 3), (31, 3)]])
ISLAND = box(31.5, 1.5, 32.5, 2.5)
SPLIT = MultiPolygon([box(175, 60, 180, 62), box(-180, 60, -175, 62)])
BAND = box(-5, 61.3, 45, 62.0)
GEOMS = [*TILES, OVERLAP, HOLED, ISLAND, SPLIT, BAND]
I_OVERLAP, I_HOLED, I_ISLAND, I_SPLIT, I_BAND = range(4, 9)


@pytest.fixture(scope="module")
def index() -> ZoneIndex:
    return ZoneIndex(GEOMS, fine_edges=1.0)


def rows(c) -> list[tuple[int, float, int, int]]:  # type: ignore[no-untyped-def]
    return [(int(s), round(float(f), 9), int(z), int(d))
            for s, f, z, d in zip(c.segment, c.fraction, c.zone, c.direction, strict=True)]


def test_several_borders_and_overlap(index: ZoneIndex) -> None:
    c = index.crossings([9.5], [40.6], [15.5], [40.6])
    f = lambda x: round((x - 9.5) / 6.0, 9)  # noqa: E731
    got = rows(c)
    expected = [(0, f(10.0), 0, 1), (0, f(10.5), I_OVERLAP, 1), (0, f(11.25), 0, -1), (0, f(11.25), 1, 1),
                (0, f(11.5), I_OVERLAP, -1), (0, f(12.5), 1, -1), (0, f(12.5), 2, 1), (0, f(13.75), 2, -1),
                (0, f(13.75), 3, 1), (0, f(15.0), 3, -1)]
    assert sorted(got) == sorted(expected)
    assert np.allclose(c.lat, 40.6) and (np.diff(c.fraction) >= 0).all()


def test_reentry_hole_and_island(index: ZoneIndex) -> None:
    c = index.crossings([29.5, 34.5], [2.0, 2.0], [34.5, 29.5], [2.0, 2.0])
    f = lambda x: round((x - 29.5) / 5.0, 9)  # noqa: E731
    fwd = [(0, f(30), I_HOLED, 1), (0, f(31), I_HOLED, -1), (0, f(31.5), I_ISLAND, 1),
           (0, f(32.5), I_ISLAND, -1), (0, f(33), I_HOLED, 1), (0, f(34), I_HOLED, -1)]
    got = rows(c)
    assert got[:6] == fwd
    # the reverse segment: same places, reversed order and directions
    back = [(1, round(1 - fr, 9), z, -d) for _, fr, z, d in reversed(fwd)]
    assert got[6:] == back


def test_start_inside_and_on_border(index: ZoneIndex) -> None:
    # starts inside tile 0 -> first crossing of tile 0 is a leave
    c = index.crossings([10.2], [40.3], [12.0], [40.3])
    assert rows(c)[0][2:] == (0, -1)
    # starts exactly on the shared border x=11.25 (belongs to the tile east of it), goes west
    c = index.crossings([11.25], [40.3], [10.9], [40.3])
    assert sorted(rows(c)) == [(0, 0.0, 0, 1), (0, 0.0, 1, -1)]


def test_antimeridian(index: ZoneIndex) -> None:
    c = index.crossings([177.0, 177.0, -177.0, 180.0, -180.0], [61.0, 61.0, 61.0, 59.0, 63.0],
                        [-177.0, -170.0, 177.0, 180.0, 180.0], [61.0, 61.0, 61.0, 63.0, 59.0])
    got = rows(c)
    # 0, 2: inside the split zone across the seam -> nothing; 1: leave at -175 (8 of 13 degrees)
    # 3, 4: along the 180 meridian (taken as -180: the zone's eastern half) -> enter at 60, leave at 62
    assert got == [(1, round(8 / 13, 9), I_SPLIT, -1),
                   (3, 0.25, I_SPLIT, 1), (3, 0.75, I_SPLIT, -1),
                   (4, 0.25, I_SPLIT, 1), (4, 0.75, I_SPLIT, -1)]
    assert np.allclose(c.lon[1:], -180.0)


def _geodesic_lat_crossings(lat_target: float) -> list[tuple[float, float]]:
    """Fractions and longitudes where the geodesic (0,60)->(40,60) crosses a latitude (bisection)."""
    g = Geodesic.WGS84
    line = g.InverseLine(60.0, 0.0, 60.0, 40.0)
    s = line.s13

    def lat_at(f: float) -> float:
        return float(line.Position(f * s)["lat2"])

    out = []
    for lo, hi in ((0.0, 0.5), (0.5, 1.0)):
        a, b = lo, hi
        for _ in range(60):
            m = 0.5 * (a + b)
            if (lat_at(m) > lat_target) == (lat_at(a) > lat_target):
                a = m
            else:
                b = m
        out.append((a, float(line.Position(a * s)["lon2"])))
    return out


def test_geodesic_crosses_band_the_straight_line_misses(index: ZoneIndex) -> None:
    # the straight lon/lat line stays at lat 60; the geodesic rises to 61.52 and crosses lat 61.3
    assert len(index.crossings([0.0], [60.0], [40.0], [60.0])) == 0
    c = index.crossings([0.0], [60.0], [40.0], [60.0], densify_m=1000.0)
    band = c.zone == I_BAND
    assert c.direction[band].tolist() == [1, -1]
    ref = _geodesic_lat_crossings(61.3)
    assert np.allclose(c.lat[band], 61.3, atol=1e-12)
    assert np.allclose(c.fraction[band], [r[0] for r in ref], atol=2e-5)
    assert np.allclose(c.lon[band], [r[1] for r in ref], atol=1e-3)


def test_bad_segments(index: ZoneIndex) -> None:
    with pytest.warns(CoordinateWarning, match="1 of 2 segments"):
        c = index.crossings([9.5, np.nan], [40.6, 0.0], [15.5, 1.0], [40.6, 0.0])
    assert set(c.segment.tolist()) == {0}
    df = c.to_frame(index.ids)
    assert list(df.columns) == ["segment", "fraction", "lon", "lat", "zone", "direction", "zone_id"]


@pytest.fixture(scope="module")
def ne_index(ne_admin0: ZoneSet) -> ZoneIndex:
    return ZoneIndex(ne_admin0)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from([None, 5000.0]))
def test_ne_crossings_consistent(ne_index: ZoneIndex, ne_admin0: ZoneSet, seed: int, dens: float | None) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    x1 = rng.uniform(20, 45, n)
    y1 = rng.uniform(40, 60, n)
    x2 = x1 + rng.normal(0, 1.5, n)
    y2 = y1 + rng.normal(0, 1.0, n)
    c = ne_index.crossings(x1, y1, x2, y2, densify_m=dens)
    p1, z1 = ne_index.locate_all(x1, y1)
    p2, z2 = ne_index.locate_all(x2, y2)
    start = set(zip(p1.tolist(), z1.tolist(), strict=True))
    end = set(zip(p2.tolist(), z2.tolist(), strict=True))
    state = set(start)
    for s, z, d in zip(c.segment.tolist(), c.zone.tolist(), c.direction.tolist(), strict=True):
        if d == 1:
            assert (s, z) not in state
            state.add((s, z))
        else:
            assert (s, z) in state
            state.remove((s, z))
    assert state == end
    # every crossing point lies on that zone's border
    geoms = ne_admin0.geometries()
    if len(c):
        d = shapely.distance(shapely.boundary(geoms[c.zone]), shapely.points(c.lon, c.lat))
        assert (d < 1e-9).all()


def test_more_overlapping_zones_than_the_kernel_tracks_is_an_error() -> None:
    """A path inside more than MAXZ zones at once cannot be tracked: an InputError, never a silent cut."""
    from overflight.errors import InputError
    from overflight.index._segments import MAXZ

    squares = [shapely.box(0.0, 0.0, 1.0, 1.0)] * (MAXZ + 1)
    idx = ZoneIndex(squares)
    assert len(idx.locate_all([0.5], [0.5])[0]) == MAXZ + 1  # locate has no such limit
    with pytest.raises(InputError, match="overlapping zones"):
        idx.crossings([0.5], [0.5], [2.0], [0.5])
    few = ZoneIndex(squares[:3])
    assert sorted(few.crossings([0.5], [0.5], [2.0], [0.5]).zone.tolist()) == [0, 1, 2]


def test_crossings_agree_with_the_shapely_reference_on_natural_earth() -> None:
    # The reference (tests/_reference_crossings.py, the shapely path transit carried before issue 13)
    # densifies the same geodesics, finds zone changes with prepared contains and the hits with an STRtree:
    # an independent route to the same crossings.
    from _reference_crossings import ShapelyLocator
    from overflight import boundaries
    from overflight.geodesy import inverse

    zs = boundaries.load("ne-admin0")
    idx = ZoneIndex.cached(zs)
    ref = ShapelyLocator(zs)
    rng = np.random.default_rng(13)
    n = 1500
    x1, y1 = rng.uniform(-10, 40, n), rng.uniform(35, 60, n)  # Europe: many borders and coasts
    x2, y2 = x1 + rng.normal(0, 3, n), np.clip(y1 + rng.normal(0, 2, n), -89, 89)
    x2 = np.where(x2 >= 180, x2 - 360, x2)
    az, _, ln = inverse(x1, y1, x2, y2)
    a = idx.crossings(x1, y1, x2, y2, densify_m=20_000.0, azimuth=az, length_m=ln)
    b = ref.crossings(x1, y1, x2, y2, densify_m=20_000.0, azimuth=az, length_m=ln)
    assert len(a) > 1000
    # The reference sees only changes of membership between the ends of each densified piece: a border
    # crossed twice inside one piece (a cape cut off) is invisible to it.  So compare per (segment, piece,
    # zone): an odd number of index crossings there must be exactly the reference's, an even number absent.
    nsub = np.maximum(1, np.ceil(ln / 20_000.0))

    def keyed(c) -> dict[tuple[int, int, int], list[tuple[int, float]]]:  # type: ignore[no-untyped-def]
        out: dict[tuple[int, int, int], list[tuple[int, float]]] = {}
        for sg, z, d, f in zip(c.segment.tolist(), c.zone.tolist(), c.direction.tolist(), c.fraction.tolist(),
                               strict=True):
            piece = min(int(f * nsub[sg]), int(nsub[sg]) - 1)
            out.setdefault((sg, piece, int(z)), []).append((int(d), f))
        return out

    ga, gb = keyed(a), keyed(b)
    odd = {k: sorted(v, key=lambda t: t[1]) for k, v in ga.items() if len(v) % 2 == 1}
    assert len(odd) > 500
    assert set(odd) == set(gb)
    for k, v in odd.items():
        w = sorted(gb[k], key=lambda t: t[1])
        assert [d for d, _ in v] == [d for d, _ in w], k
        np.testing.assert_allclose([f for _, f in v], [f for _, f in w], atol=1e-9)


def test_bad_densify_step_is_an_input_error(index: ZoneIndex) -> None:
    from overflight.errors import InputError

    with pytest.raises(InputError, match="densify_m"):
        index.crossings([9.5], [40.6], [15.5], [40.6], densify_m=-1.0)
