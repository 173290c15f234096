"""ZoneIndex on hand-made geometry: holes, multipolygons, shared borders, the antimeridian, bad input, threads,
save/load.  References are shapely predicates on the same geometry and hand-computed answers."""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

from overflight.errors import InputError
from overflight.index import CoordinateWarning, ZoneIndex

# a 4 x 3 tiling of 1.25-degree squares (shared borders and 4-way vertices), a square with a hole and an
# island in the hole, a zone split at the antimeridian, a point and a line zone (ignored)
TILES = [
    box(10 + 1.25 * i, 40 + 1.25 * j, 10 + 1.25 * (i + 1), 40 + 1.25 * (j + 1)) for j in range(3) for i in range(4)
]
HOLED = Polygon([(30, 0), (34, 0), (34, 4), (30, 4)], [[(31, 1), (33, 1), (33, 3), (31, 3)]])
ISLAND = box(31.5, 1.5, 32.5, 2.5)
SPLIT = MultiPolygon([box(175, 60, 180, 62), box(-180, 60, -175, 62)])
OVERLAP = box(10.5, 40.5, 11.5, 41.5)  # overlaps tiles 0, 1, 4, 5
GEOMS = [*TILES, HOLED, ISLAND, SPLIT, Point(0, 0), LineString([(0, 0), (1, 1)]), OVERLAP]
N_TILES = len(TILES)
I_HOLED, I_ISLAND, I_SPLIT, I_POINT, I_LINE, I_OVERLAP = range(N_TILES, N_TILES + 6)


@pytest.fixture(scope="module")
def index() -> ZoneIndex:
    return ZoneIndex(GEOMS, cell_deg=1.0, fine_edges=1.0)


def reference(x: np.ndarray, y: np.ndarray) -> set[tuple[int, int]]:
    out = set()
    for z, g in enumerate(GEOMS):
        if g.geom_type in ("Polygon", "MultiPolygon"):
            for p in np.flatnonzero(shapely.contains_xy(g, x, y)):
                out.add((int(p), z))
    return out


def test_ignored_zones_listed(index: ZoneIndex) -> None:
    assert index.ignored == [str(I_POINT), str(I_LINE)]
    assert index.locate([0.0], [0.0])[0] == -1


def test_hand_points(index: ZoneIndex) -> None:
    x = np.array([10.1, 14.9, 32.0, 31.2, 30.5, 177.0, -177.0, 0.0, 10.6])
    y = np.array([40.1, 43.7, 2.0, 2.0, 0.5, 61.0, 61.0, 0.0, 40.6])
    # island in hole -> island; in hole only -> nothing; ring -> holed; both halves of the split zone
    expected = [0, 11, I_ISLAND, -1, I_HOLED, I_SPLIT, I_SPLIT, -1, 0]
    assert index.locate(x, y).tolist() == expected
    pi, zi = index.locate_all(x, y)
    got = set(zip(pi.tolist(), zi.tolist(), strict=True))
    assert (8, 0) in got and (8, I_OVERLAP) in got  # overlapping zones: both reported
    assert got == reference(x, y)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_random_points_match_shapely(index: ZoneIndex, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 3000
    x = np.concatenate(
        [rng.uniform(9, 16, n), rng.uniform(29, 35, n), rng.uniform(174, 180, n // 2), rng.uniform(-180, -174, n // 2)]
    )
    y = np.concatenate([rng.uniform(39, 45, n), rng.uniform(-1, 5, n), rng.uniform(59, 63, n)])
    pi, zi = index.locate_all(x, y)
    ref = reference(x, y)
    # exclude points within 1e-9 deg of any edge (the documented tie rule applies there)
    near = shapely.distance(shapely.points(x, y), shapely.boundary(shapely.union_all(GEOMS[: N_TILES + 3]))) < 1e-9
    got = {(p, z) for p, z in zip(pi.tolist(), zi.tolist(), strict=True) if not near[p]}
    assert got == {(p, z) for p, z in ref if not near[p]}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4 * 8), st.integers(0, 3 * 8)), min_size=1, max_size=50))
def test_shared_border_points_belong_to_exactly_one_tile(index: ZoneIndex, grid_pts: list[tuple[int, int]]) -> None:
    """Points on tile edges and 4-way vertices (exact multiples of 1.25/8) go to exactly one tile: the one
    north of an east-west edge, east of a north-south edge."""
    x = np.array([10 + 1.25 * i / 8 for i, _ in grid_pts])
    y = np.array([40 + 1.25 * j / 8 for _, j in grid_pts])
    pi, zi = index.locate_all(x, y)
    tiles = zi < N_TILES
    counts = np.bincount(pi[tiles], minlength=x.size)
    # perturbed point (x + tiny, y + small) decides: inside the tiled area unless on its north/east rim
    inside = (x < 15.0) & (y < 43.75)
    assert (counts == inside.astype(int)).all()
    # and the tile is the one containing the perturbed point
    px, py = x + 1e-7, y + 1e-6
    for p, z in zip(pi[tiles], zi[tiles], strict=True):
        assert TILES[z].contains(Point(px[p], py[p]))


def test_antimeridian_rule(index: ZoneIndex) -> None:
    # lon 180 is treated as -180: inside the eastern half; out-of-range lon needs normalize_lon
    assert index.locate([180.0, -180.0, 179.999, -179.999], [61.0] * 4).tolist() == [I_SPLIT] * 4
    # on the zone's western rim at -180 the point is east of the edge -> inside; at 175 (west rim) too
    assert index.locate([175.0], [61.0]).tolist() == [I_SPLIT]
    with pytest.warns(CoordinateWarning, match="1 of 1"):
        assert index.locate([-183.0], [61.0]).tolist() == [-1]
    assert index.locate([-183.0, 537.0], [61.0, 61.0], normalize_lon=True).tolist() == [I_SPLIT, I_SPLIT]


def test_bad_values_warn_or_raise(index: ZoneIndex) -> None:
    x = np.array([10.1, np.nan, 10.1, 200.0, 10.1])
    y = np.array([40.1, 40.1, 91.0, 40.1, -np.inf])
    with pytest.warns(CoordinateWarning, match="4 of 5 points"):
        assert index.locate(x, y).tolist() == [0, -1, -1, -1, -1]
    with pytest.warns(CoordinateWarning):
        pi, _ = index.locate_all(x, y)
    assert pi.tolist() == [0]
    with pytest.raises(InputError) as err:
        index.locate(x, y, strict=True)
    assert err.value.row == 1 and err.value.field == "lon"
    with pytest.raises(InputError):
        index.locate([1.0, 2.0], [1.0])
    # numpy would cast complex to real with only a warning, silently dropping the imaginary part
    for lon, lat, field in (([10.1 + 0j], [40.1], "lon"), ([10.1], np.array([40.1 + 2j]), "lat")):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(InputError) as err:
                index.locate(lon, lat)
        assert err.value.field == field and "complex" in str(err.value)


def test_poles() -> None:
    ant = box(-180, -90, 180, -60)
    idx = ZoneIndex([ant])
    # the south pole (and any point on the -90 edge) is inside: points move north in ties
    assert idx.locate([0.0, 180.0, -180.0, 10.0], [-90.0, -90.0, -90.0, 90.0]).tolist() == [0, 0, 0, -1]


def test_threads_equal_serial(index: ZoneIndex) -> None:
    rng = np.random.default_rng(5)
    x = rng.uniform(-180, 180, 400_000)
    y = rng.uniform(-90, 90, 400_000)
    x[:1000] = rng.uniform(9, 16, 1000)
    y[:1000] = rng.uniform(39, 45, 1000)
    serial = index.locate(x, y)
    assert (index.locate(x, y, threads=4) == serial).all()
    with ThreadPoolExecutor(4) as ex:
        parts = list(ex.map(lambda i: index.locate(x[i::4], y[i::4]), range(4)))
    for i in range(4):
        assert (parts[i] == serial[i::4]).all()
    pi1, zi1 = index.locate_all(x, y)
    pi2, zi2 = index.locate_all(x, y, threads=3)
    assert (pi1 == pi2).all() and (zi1 == zi2).all()


def test_save_load_and_cache(index: ZoneIndex, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = index.save(tmp_path / "idx")
    loaded = ZoneIndex.load(path, GEOMS)
    x = np.array([10.1, 32.0, 177.0])
    y = np.array([40.1, 2.0, 61.0])
    assert (loaded.locate(x, y) == index.locate(x, y)).all()
    other = [*GEOMS[:-1], box(10.5, 40.5, 11.5, 41.6)]
    with pytest.raises(InputError, match="different zone set"):
        ZoneIndex.load(path, other)
    monkeypatch.setenv("OVERFLIGHT_CACHE", str(tmp_path / "cache"))
    a = ZoneIndex.cached(GEOMS)
    assert a.build_seconds > 0
    b = ZoneIndex.cached(GEOMS)
    assert b.build_seconds == 0.0  # loaded, not rebuilt
    assert list((tmp_path / "cache" / "index").glob("*.npz"))
    assert (b.locate(x, y) == index.locate(x, y)).all()
    (tmp_path / "bad.npz").write_bytes(b"not an index")
    with pytest.raises(InputError):
        ZoneIndex.load(tmp_path / "bad.npz", GEOMS)


def test_no_warning_for_good_input(index: ZoneIndex) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        index.locate([10.1], [40.1])


def test_nested_zones_covering_whole_cells() -> None:
    # Whole 1-degree cells lie in both zones with no edge in them: the cell answers from its candidate list.
    idx = ZoneIndex([box(0, 0, 10, 10), box(2, 2, 8, 8)], cell_deg=1.0)
    x = np.array([4.5, 1.5, 4.25, 12.0])
    y = np.array([4.5, 1.5, 7.75, 5.0])
    pi, zi = idx.locate_all(x, y)
    assert list(zip(pi.tolist(), zi.tolist(), strict=True)) == [(0, 0), (0, 1), (1, 0), (2, 0), (2, 1)]
    assert idx.locate(x, y).tolist() == [0, 0, 0, -1]
    assert idx.locate(x[::-1], y[::-1]).tolist() == [-1, 0, 0, 0]
