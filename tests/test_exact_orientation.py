"""The ZoneIndex's orientation predicate is exact: its sign equals the sign computed in rational arithmetic.

Reference: Python's `fractions.Fraction` (exact rational arithmetic on the same doubles), independent of the
expansion arithmetic the kernel uses.  Near-degenerate inputs are made the way real data makes them: a point
interpolated onto a segment and rounded, and vertices that `make_valid` rounded onto an intersection.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import shapely
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon

from overflight.index import ZoneIndex
from overflight.index._kernels import orient_exact, orient_sign


def _exact(ax: float, ay: float, bx: float, by: float, px: float, py: float) -> int:
    f = Fraction
    o = (f(bx) - f(ax)) * (f(py) - f(ay)) - (f(by) - f(ay)) * (f(px) - f(ax))
    return (o > 0) - (o < 0)


def _normal(v: float) -> bool:
    # expansion arithmetic is exact while products do not underflow: degrees near 1e-300 are not coordinates
    return v == 0.0 or abs(v) > 1e-100


coord = st.floats(-180.0, 180.0, allow_nan=False, allow_infinity=False).filter(_normal)


@settings(max_examples=400, deadline=None)
@given(coord, coord, coord, coord, st.floats(0.0, 1.0), st.integers(-3, 3), st.integers(-3, 3))
def test_sign_is_exact_for_points_rounded_onto_a_segment(ax: float, ay: float, bx: float, by: float,
                                                         t: float, ux: int, uy: int) -> None:
    # a point on A-B in exact arithmetic, rounded to doubles, then moved by a few units in the last place
    px = float(np.nextafter(ax + t * (bx - ax), np.inf * ux)) if ux else ax + t * (bx - ax)
    py = float(np.nextafter(ay + t * (by - ay), np.inf * uy)) if uy else ay + t * (by - ay)
    assume(_normal(px) and _normal(py))
    want = _exact(ax, ay, bx, by, px, py)
    assert orient_exact(ax, ay, bx, by, px, py) == want
    assert orient_sign(ax, ay, bx, by, px, py) == want


@settings(max_examples=200, deadline=None)
@given(coord, coord, coord, coord, coord, coord)
def test_sign_is_exact_for_any_points(ax: float, ay: float, bx: float, by: float, px: float, py: float) -> None:
    want = _exact(ax, ay, bx, by, px, py)
    assert orient_exact(ax, ay, bx, by, px, py) == want
    assert orient_sign(ax, ay, bx, by, px, py) == want


def test_collinear_and_tiny_cases_by_hand() -> None:
    assert orient_exact(0.0, 0.0, 2.0, 2.0, 1.0, 1.0) == 0  # on the line
    assert orient_exact(0.0, 0.0, 1.0, 0.0, 0.5, 1e-90) == 1  # left by a hair
    assert orient_exact(0.0, 0.0, 1.0, 0.0, 0.5, -1e-90) == -1
    # 0.1 + 0.2 style: the float determinant is 0 but the exact one is not
    ax, ay, bx, by = 0.1, 0.1, 0.3, 0.3
    px = py = 0.2
    assert orient_exact(ax, ay, bx, by, px, py) == _exact(ax, ay, bx, by, px, py)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(-20, 20), st.integers(-20, 20)), min_size=4, max_size=8, unique=True),
       st.lists(st.tuples(st.integers(-40, 40), st.integers(-40, 40)), min_size=1, max_size=30))
@example([(-20, 11), (16, -13), (20, 18), (-16, -17)], [(11, -12)])  # found by hypothesis: float orient was 0
def test_zone_index_equals_shapely_off_the_border_of_rounded_bowties(ring: list[tuple[int, int]],
                                                                    halves: list[tuple[int, int]]) -> None:
    """Self-intersecting rings repaired by make_valid get vertices rounded onto the intersection; points on
    half-integer grids then lie within rounding of those edges without being on them.  Off the border (as
    shapely's robust predicates say), the ZoneIndex must give shapely's answer."""
    g = shapely.make_valid(Polygon(ring))
    parts = [p for p in shapely.get_parts(g) if p.geom_type == "Polygon" and p.area > 0]
    if not parts:
        return
    zone = shapely.multipolygons(parts) if len(parts) > 1 else parts[0]
    xy = np.array(halves, dtype=float) / 2.0
    off = ~shapely.intersects_xy(zone.boundary, xy[:, 0], xy[:, 1])
    got = ZoneIndex([zone]).locate(xy[off, 0], xy[off, 1]) == 0
    assert (got == shapely.contains_xy(zone, xy[off, 0], xy[off, 1])).all()
