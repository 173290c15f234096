"""ZoneIndex against shapely on Natural Earth admin-0: random points over Eurasia and every GeoNames place.

The 1,000,000-point Eurasia run is `python benchmarks/bench_locate.py --exact 1000000`; here 200,000 points.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from overflight.index import ZoneIndex
from overflight.zones import ZoneSet


@pytest.fixture(scope="module")
def ne_index(ne_admin0: ZoneSet) -> ZoneIndex:
    return ZoneIndex(ne_admin0)


def shapely_memberships(zs: ZoneSet, x: np.ndarray, y: np.ndarray) -> set[tuple[int, int]]:
    """Memberships by shapely `contains_xy` per zone (prepared), on the points in the zone's bounding box."""
    geoms = zs.geometries()
    tree = shapely.STRtree(geoms)
    pi, zi = tree.query(shapely.points(x, y))
    ref: set[tuple[int, int]] = set()
    for z in np.unique(zi):
        cand = pi[zi == z]
        g = geoms[z]
        shapely.prepare(g)
        inside = shapely.contains_xy(g, x[cand], y[cand])
        ref.update((int(p), int(z)) for p in cand[inside])
    return ref


def compare(index: ZoneIndex, zs: ZoneSet, x: np.ndarray, y: np.ndarray) -> tuple[int, int]:
    """Assert locate_all == shapely except for points within 1e-9 deg of a border; return (#memberships, #near)."""
    pi, zi = index.locate_all(x, y)
    ref = shapely_memberships(zs, x, y)
    ours = set(zip(pi.tolist(), zi.tolist(), strict=True))
    diff = sorted(ours ^ ref)
    geoms = zs.geometries()
    # a disagreement is allowed only for a point within 1e-9 deg of that zone's border
    far = [(p, z) for p, z in diff if shapely.distance(shapely.boundary(geoms[z]), shapely.Point(x[p], y[p])) >= 1e-9]
    assert not far, far[:10]
    # locate() is the first zone of locate_all()
    first = index.locate(x, y)
    expect = np.full(x.size, -1, dtype=np.int32)
    order = np.lexsort((-zi, pi))  # per point, smallest zone last -> assignment keeps it
    expect[pi[order]] = zi[order]
    assert (first == expect).all()
    return len(ref), len(diff)


def test_eurasia_random_points(ne_index: ZoneIndex, ne_admin0: ZoneSet) -> None:
    rng = np.random.default_rng(20240621)
    n = 200_000
    x = rng.uniform(20, 180, n)
    y = rng.uniform(0, 80, n)
    nmember, _ = compare(ne_index, ne_admin0, x, y)
    assert nmember > 0.4 * n  # most of Eurasia is land: the comparison is not vacuous


def test_all_geonames_places(ne_index: ZoneIndex, ne_admin0: ZoneSet) -> None:
    from overflight import gazetteer

    df = gazetteer.places()
    x = df["lon"].to_numpy(np.float64)
    y = df["lat"].to_numpy(np.float64)
    assert x.size > 140_000
    nmember, _ = compare(ne_index, ne_admin0, x, y)
    assert nmember > 0.95 * x.size  # places are on land (a few coastal ones fall in the sea at 1:10m)


def test_points_near_borders(ne_index: ZoneIndex, ne_admin0: ZoneSet) -> None:
    """Points 1e-7..1e-3 deg off border vertices: the hardest cases the comparison allows."""
    geoms = ne_admin0.geometries()
    coords = shapely.get_coordinates(shapely.boundary(geoms[[ne_admin0.index_of(i) for i in
                                                           ("UKR", "RUS", "KAZ", "NOR", "IDN", "FJI")]]))
    rng = np.random.default_rng(7)
    pick = coords[rng.integers(0, len(coords), 40_000)]
    off = 10.0 ** rng.uniform(-7, -3, (40_000, 1)) * rng.normal(size=(40_000, 2))
    x = np.clip(pick[:, 0] + off[:, 0], -180, 180)
    y = np.clip(pick[:, 1] + off[:, 1], -90, 90)
    compare(ne_index, ne_admin0, x, y)
