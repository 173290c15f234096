"""Compiled and vectorised helpers of the prism stages give exactly the values of what they replaced.

- ``avoid._components`` labels connected components as scipy's ``connected_components`` (the reference);
- ``avoid._disjoint_hulls`` makes the greedy choice of the Python loop it replaced (kept here), and the hulls
  it picks are pairwise disjoint by shapely;
- ``edges.FixLegs.legs`` and ``edges.lambert_via`` give ``edges.lambert``'s values bit for bit, within the
  Andoyer-Lambert allowance of GeographicLib;
- ``_geo.unit`` gives the values of the ``np.stack`` formula it replaced.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from overflight.analysis.prism._geo import unit
from overflight.analysis.prism.avoid import _components, _disjoint_hulls, _touching_pairs
from overflight.analysis.prism.edges import LAM_ABS, LAM_REL, FixLegs, lambert, lambert_via
from overflight.geodesy import GEOD


@pytest.mark.parametrize("seed", range(20))
def test_components_label_as_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 80))
    m = int(rng.integers(0, 120))
    a, b = rng.integers(0, n, m), rng.integers(0, n, m)
    _, ref = connected_components(coo_matrix((np.ones(m), (a, b)), shape=(n, n)), directed=False)
    assert np.array_equal(_components(n, a, b), ref)


def _greedy_reference(hulls: np.ndarray, order: np.ndarray) -> list[int]:
    """The Python loop ``_disjoint_hulls`` replaced."""
    tree = shapely.STRtree(hulls)
    hit_a, hit_b = tree.query(hulls, predicate="intersects")
    touching: dict[int, set[int]] = {}
    for x, y in zip(hit_a.tolist(), hit_b.tolist(), strict=True):
        if x != y:
            touching.setdefault(x, set()).add(y)
    chosen: list[int] = []
    blocked: set[int] = set()
    for k in order.tolist():
        if k in blocked:
            continue
        chosen.append(k)
        blocked |= touching.get(k, set())
    return chosen


@pytest.mark.parametrize("seed", range(10))
def test_disjoint_hulls_greedy_choice(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    centres = rng.uniform(0, 10, (n, 2))
    hulls = np.array([shapely.Point(c).buffer(float(rng.uniform(0.2, 1.5)), quad_segs=2) for c in centres],
                     dtype=object)
    order = np.argsort(-shapely.area(hulls), kind="stable")
    got = _disjoint_hulls(hulls, order, _touching_pairs(hulls))
    assert got == _greedy_reference(hulls, order)
    picked = hulls[got]
    for i in range(len(picked)):
        for j in range(i + 1, len(picked)):
            assert not shapely.intersects(picked[i], picked[j])


def test_lambert_legs_and_via_are_lamberts_values() -> None:
    rng = np.random.default_rng(3)
    n, m = 400, 5000
    lon1, lat1 = rng.uniform(-180, 180, n), rng.uniform(-89, 89, n)
    lon2 = lon1 + rng.uniform(-15, 15, n)
    lat2 = np.clip(lat1 + rng.uniform(-15, 15, n), -89, 89)
    rows = rng.integers(0, n, m)
    x = lon1[rows] + rng.uniform(-10, 10, m)
    y = np.clip(lat1[rows] + rng.uniform(-10, 10, m), -89.5, 89.5)
    d1, d2 = FixLegs(lon1, lat1, lon2, lat2).legs(rows, x, y)
    assert np.array_equal(d1, lambert(lon1[rows], lat1[rows], x, y))
    assert np.array_equal(d2, lambert(x, y, lon2[rows], lat2[rows]))
    ref = GEOD.inv(lon1[rows], lat1[rows], x, y)[2]  # GeographicLib
    assert np.all(np.abs(d1 - ref) <= LAM_REL * ref + LAM_ABS)
    bx, by = x + rng.uniform(-1, 1, m), np.clip(y + rng.uniform(-1, 1, m), -89.9, 89.9)
    via = lambert_via(lon1[rows], lat1[rows], x, y, bx, by)
    assert np.array_equal(via, lambert(lon1[rows], lat1[rows], x, y) + lambert(x, y, bx, by))


@pytest.mark.parametrize("shape", [(), (1,), (17,), (5, 4)])
def test_unit_matches_the_stack_formula(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(len(shape))
    lon, lat = rng.uniform(-180, 180, shape), rng.uniform(-90, 90, shape)
    lo, la = np.radians(lon), np.radians(lat)
    ref = np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)
    assert np.array_equal(unit(lon, lat), ref)
