"""The lazy visibility search of fast mode (``_dijkstra.lazy_shortest``) finds the eager graph's shortest path.

``avoid._graph_path`` with ``lazy=True`` tests and measures edges only as its A* reaches them; on random
obstacles (islands and holes in a gnomonic plane) it must give the eager search's length (bit for bit, the
same geodesic problems summed along the same path) whenever that length is within the limit, and (inf,
empty) otherwise: fast mode needs no path beyond its limit. The path found must avoid the obstacle's
interior (shapely).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Point

from overflight.analysis.prism._geo import SPH_LO, Gnomonic, dist
from overflight.analysis.prism.avoid import _graph_path


def _obstacle(rng: np.random.Generator, holes: bool) -> shapely.Geometry:
    """Random star-shaped islands between the fixes (planar metres), some with a hole."""
    parts = []
    for _ in range(int(rng.integers(1, 7))):
        cx, cy = rng.uniform(-150e3, 150e3), rng.uniform(-80e3, 80e3)
        k = int(rng.integers(5, 40))
        t = np.sort(rng.uniform(0, 2 * np.pi, k))
        r = rng.uniform(10e3, 70e3) * rng.uniform(0.4, 1.0, k)
        poly = shapely.Polygon(np.c_[cx + r * np.cos(t), cy + r * np.sin(t)])
        if holes and rng.random() < 0.5:
            poly = poly.difference(Point(cx, cy).buffer(0.2 * float(r.min()), quad_segs=3))
        parts.append(shapely.make_valid(poly))
    return shapely.union_all(parts)


@pytest.mark.parametrize("seed", range(40))
def test_lazy_search_finds_the_eager_shortest_path(seed: int) -> None:
    rng = np.random.default_rng(seed)
    gn = Gnomonic(float(rng.uniform(-20, 40)), float(rng.uniform(30, 60)))
    obst = _obstacle(rng, holes=seed % 2 == 1)
    p1, p2 = np.array([-200e3, rng.uniform(-30e3, 30e3)]), np.array([200e3, rng.uniform(-30e3, 30e3)])
    if obst.intersects(Point(p1)) or obst.intersects(Point(p2)):
        obst = obst.difference(Point(p1).buffer(5e3)).difference(Point(p2).buffer(5e3))
    lon, lat = gn.inv(np.array([p1[0], p2[0]]), np.array([p1[1], p2[1]]))
    ll1, ll2 = (float(lon[0]), float(lat[0])), (float(lon[1]), float(lat[1]))
    direct = float(dist(*ll1, *ll2))
    scale_lo = math.cos(400e3 / 6371e3) ** 2 * SPH_LO
    for limit in (direct * rng.uniform(1.0, 1.3), direct * 1.6):
        eager, _ = _graph_path(p1, p2, ll1, ll2, obst, gn.inv, limit, scale_lo, direct)
        lazy, lpath = _graph_path(p1, p2, ll1, ll2, obst, gn.inv, limit, scale_lo, direct, lazy=True)
        if eager <= limit:
            assert lazy == eager
            assert len(lpath) >= 2
            legs = shapely.linestrings(np.stack([lpath[:-1], lpath[1:]], axis=1))
            assert not shapely.relate_pattern(legs, obst, "T********").any()
            assert not shapely.relate_pattern(LineString(lpath), obst.buffer(-1.0), "T********")
        else:
            assert lazy == math.inf and len(lpath) == 0
