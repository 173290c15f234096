"""``avoid._candidate_edges``' block test (``_surely_not_tangent``) drops only pairs the tangent test drops.

- where the block test says a box of partners surely fails the tangent test at a vertex, every direction in the
  box (corners, edges, random points, points within a hair of the corners) fails ``_tangent``;
- on ring-ordered nodes (the convex vertices of wiggly polygons, the case the blocks are made for: small boxes),
  the candidate edges are the pairwise filters' (``_prism_pairs.reference_edges``), in row-major order.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from _prism_pairs import reference_edges
from overflight.analysis.prism.avoid import CAND_BLOCK, _candidate_edges, _surely_not_tangent, _tangent, convex_vertices


@pytest.mark.parametrize("seed", range(4))
def test_block_test_implies_tangent_fails(seed: int) -> None:
    rng = np.random.default_rng(seed)
    said = 0
    for _ in range(2000):
        v = np.zeros(2)
        # Neighbours: short ring edges, some nearly collinear (the vertex's angle close to 180 degrees).
        a = rng.normal(size=2) * 10 ** rng.uniform(-1, 3)
        b = -a * rng.uniform(0.2, 5) + rng.normal(size=2) * 10 ** rng.uniform(-6, 2)
        c = rng.normal(size=2) * 10 ** rng.uniform(2, 6)
        half = np.abs(rng.normal(size=2)) * 10 ** rng.uniform(-3, 5)
        ex0, ex1, ey0, ey1 = c[0] - half[0], c[0] + half[0], c[1] - half[1], c[1] + half[1]
        amag = float(np.abs(a).sum() + np.abs(b).sum())
        if not _surely_not_tangent(a[0], a[1], b[0], b[1], ex0, ex1, ey0, ey1, amag):
            continue
        said += 1
        t = rng.uniform(0, 1, (64, 2))
        t = np.vstack([t, [[0, 0], [0, 1], [1, 0], [1, 1]], rng.uniform(0, 1e-12, (8, 2)),
                       1 - rng.uniform(0, 1e-12, (8, 2)),
                       np.column_stack([rng.uniform(0, 1, 16), rng.integers(0, 2, 16)])])
        w = np.column_stack([ex0 + (ex1 - ex0) * t[:, 0], ey0 + (ey1 - ey0) * t[:, 1]])
        k = len(w)
        ok = _tangent(np.tile(v, (k, 1)), np.tile(a, (k, 1)), np.tile(b, (k, 1)), w)
        assert not ok.any()
    assert said > 100  # the test does drop boxes


def _wiggly(rng: np.random.Generator, n: int, cx: float, cy: float, r: float) -> shapely.Polygon:
    t = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = r * (1 + 0.15 * rng.normal(size=n).cumsum() / np.sqrt(n) + 0.02 * rng.normal(size=n))
    return shapely.Polygon(np.column_stack([cx + np.abs(rad) * np.cos(t), cy + np.abs(rad) * np.sin(t)]))


@pytest.mark.parametrize("seed", range(4))
def test_candidate_edges_on_rings_match_pairwise_filters(seed: int) -> None:
    rng = np.random.default_rng(seed)
    polys = [_wiggly(rng, int(rng.integers(50, 400)), *rng.uniform(-3e4, 3e4, 2), rng.uniform(2e3, 1e4))
             for _ in range(3)]
    obstacle = shapely.make_valid(shapely.union_all(polys))
    nodes, prev, nxt = convex_vertices(obstacle)
    assert len(nodes) > 4 * CAND_BLOCK
    p1, p2 = np.array([-6e4, -1e3]), np.array([6e4, 2e3])
    pts = np.vstack([p1, p2, nodes])
    allp = np.vstack([pts[:2], prev])
    alln = np.vstack([pts[:2], nxt])
    dp1 = np.hypot(*(pts - p1).T)
    dp2 = np.hypot(*(pts - p2).T)
    dp1[1] = dp2[0] = float(np.hypot(*(p1 - p2)))
    cut = float(dp1[1] * rng.uniform(1.2, 3.0))
    i, j = _candidate_edges(pts, allp, alln, dp1, dp2, cut, 0.99)
    order = np.lexsort((j, i))
    assert np.array_equal(order, np.arange(i.size))  # row-major, as the pairwise order
    got = set(zip(i.tolist(), j.tolist(), strict=True))
    assert len(got) == len(i)
    ref, edge = reference_edges(pts, allp, alln, dp1, dp2, cut, 0.99)
    assert (got ^ ref) <= edge
    assert len(ref) > 0
