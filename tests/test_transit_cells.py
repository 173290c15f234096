"""transit_cells.may_cross: the segments it leaves out have no crossings (the rest give all of them); zones_column."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from overflight.analysis.transit_cells import MARGIN, may_cross, may_cross_rows
from overflight.geodesy import inverse
from overflight.index import ZoneIndex
from overflight.index._kernels import EPS
from overflight.zones import ZoneSet, as_zoneset

STEP = 5000.0


def _segments(rng: np.random.Generator, n: int, x: tuple[float, float], y: tuple[float, float]
              ) -> tuple[np.ndarray, ...]:
    x1 = rng.uniform(*x, n)
    y1 = rng.uniform(*y, n)
    scale = 10 ** rng.uniform(-5, 0.5, n)  # a metre to a few hundred km
    x2 = np.clip(x1 + rng.normal(0, 1, n) * scale, -180.0, np.nextafter(180.0, 0))
    y2 = np.clip(y1 + rng.normal(0, 1, n) * scale, -90.0, 90.0)
    az, _, ln = inverse(x1, y1, x2, y2)
    az = np.where(ln < 0.9 * STEP, np.nan, az)  # as transit hands them: no azimuth for one-piece segments
    return x1, y1, x2, y2, np.asarray(az, float), np.asarray(ln, float)


def _same_crossings(index: ZoneIndex, segs: tuple[np.ndarray, ...]) -> float:
    x1, y1, x2, y2, az, ln = segs
    mask = may_cross(index.grid, x1, y1, x2, y2, ln, STEP)
    every = index.crossings(x1, y1, x2, y2, densify_m=STEP, azimuth=az, length_m=ln)
    s = np.flatnonzero(mask)
    some = index.crossings(x1[s], y1[s], x2[s], y2[s], densify_m=STEP, azimuth=az[s], length_m=ln[s])
    assert np.array_equal(every.segment, s[some.segment])
    for f in ("fraction", "lon", "lat", "zone", "direction"):
        assert np.array_equal(getattr(every, f), getattr(some, f)), f
    return float(mask.mean())


def test_rows_variant_is_the_same_mask(ne_admin0: ZoneSet) -> None:
    # may_cross_rows reads the ends of segment k at fixes rows[k] and rows[k] + 1 in place (what transit hands)
    index = ZoneIndex.cached(ne_admin0)
    rng = np.random.default_rng(11)
    x1, y1, x2, y2, _, ln = _segments(rng, 50_000, (-12.0, 60.0), (30.0, 66.0))
    lon = np.empty(2 * len(x1))
    lat = np.empty(2 * len(x1))
    lon[0::2], lon[1::2], lat[0::2], lat[1::2] = x1, x2, y1, y2
    rows = np.arange(0, len(lon), 2, dtype=np.int64)
    assert np.array_equal(may_cross_rows(index.grid, lon, lat, rows, ln, STEP),
                          may_cross(index.grid, x1, y1, x2, y2, ln, STEP))
    assert len(may_cross_rows(index.grid, lon, lat, rows[:0], ln[:0], STEP)) == 0


def test_margin_covers_the_kernels_box() -> None:
    assert MARGIN >= 10 * EPS


def test_left_out_segments_cross_nothing_ne_admin0(ne_admin0: ZoneSet) -> None:
    index = ZoneIndex.cached(ne_admin0)
    rng = np.random.default_rng(7)
    sent = _same_crossings(index, _segments(rng, 200_000, (-12.0, 60.0), (30.0, 66.0)))
    assert 0.0 < sent < 1.0  # some are left out, some are asked


def test_cell_borders_and_antimeridian() -> None:
    # Zones whose borders lie on cell lines (integers, halves) and on the antimeridian; segments along them.
    index = ZoneIndex(as_zoneset({
        "A": shapely.box(0.0, 0.0, 2.0, 2.0), "B": shapely.box(2.0, 0.0, 3.5, 1.0),
        "E": shapely.box(178.0, -1.0, 180.0, 1.0), "W": shapely.box(-180.0, -1.0, -178.0, 1.0),
        # overlapping a neighbour (a disputed area): a cell in two zones is not simple
        "C": shapely.box(1.0, 1.0, 2.5, 1.75)}))
    rng = np.random.default_rng(3)
    grid_pts = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0])
    n = 20_000
    x1 = rng.choice(grid_pts, n) + rng.choice([0.0, 1e-12, -1e-12, 1e-8, 3e-3], n)
    y1 = rng.choice(grid_pts[:5], n) + rng.choice([0.0, 1e-12, -1e-12, 1e-8, 3e-3], n)
    d = rng.choice([0.0, 1e-10, 1e-6, 1e-3, 0.02], n)
    x2 = x1 + d * rng.choice([-1.0, 0.0, 1.0], n)
    y2 = y1 + d * rng.choice([-1.0, 0.0, 1.0], n)
    az, _, ln = inverse(x1, y1, x2, y2)
    _same_crossings(index, (x1, y1, x2, y2, np.where(ln < 0.9 * STEP, np.nan, az), ln))
    east = _segments(rng, 20_000, (177.0, 179.999), (-2.0, 2.0))
    west = _segments(rng, 20_000, (-180.0, -177.0), (-2.0, 2.0))
    _same_crossings(index, east)
    _same_crossings(index, west)


@pytest.mark.parametrize("bad", [np.nan, 180.0, 200.0])
def test_odd_segments_are_always_sent(bad: float) -> None:
    index = ZoneIndex(as_zoneset({"A": shapely.box(0.0, 0.0, 2.0, 2.0)}))
    x = np.array([50.0, bad])
    y = np.array([50.0, 50.0])
    mask = may_cross(index.grid, x, y, x + 0.001, y, np.array([100.0, 100.0]), STEP)
    assert mask.tolist() == [False, True]
    assert may_cross(index.grid, x[:1], y[:1], x[:1] + 0.001, y[:1], np.array([np.nan]), STEP).tolist() == [True]
    assert may_cross(index.grid, x[:1], y[:1], x[:1] + 0.001, y[:1], np.array([STEP * 1.01]), STEP).tolist() == [True]


def test_zones_column_is_zones_of() -> None:
    from overflight.analysis.locate import zones_column

    index = ZoneIndex(as_zoneset({"A": shapely.box(0.0, 0.0, 2.0, 2.0), "B": shapely.box(1.0, 1.0, 3.0, 3.0),
                                  "C": shapely.box(1.5, 1.5, 2.5, 2.5)}))
    rng = np.random.default_rng(5)
    x, y = rng.uniform(-0.5, 3.5, 5000), rng.uniform(-0.5, 3.5, 5000)
    col, located = zones_column(index, x, y)
    want = index.zones_of(x, y)
    assert col.to_pylist() == want.tolist()
    assert located == int((want != "").sum())
    assert {"A|B", "A|B|C", "B|C"} <= set(want.tolist())
