"""The bulk stage's kernel shortcuts give the answers of the tests they shortcut.

``fences._focal_reaches`` decides ``_focal_at(...) >= tt`` mostly without arccos; ``lattice._leg_clear`` scans
the pieces from the one that blocked the last leg (any order gives the same answer) and skips the quads of edges
whose caps are beyond the arc's great circle. Each is checked against the plain computation on random and
borderline cases. (``hullpath._graph_kernel``'s reuse of the retry costs changes no value: the prism tests and
bench_prism's comparison with main's tables cover it.)
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from overflight.analysis.prism._geo import unit
from overflight.analysis.prism.edges import _arc_clear_one, zone_edges
from overflight.analysis.prism.fences import _focal_at, _focal_reaches
from overflight.analysis.prism.lattice import _leg_clear


def _units(rng: np.random.Generator, n: int, lon: float, lat: float, spread: float) -> np.ndarray:
    return np.ascontiguousarray(unit(lon + rng.uniform(-spread, spread, n), lat + rng.uniform(-spread, spread, n)))


def test_focal_reaches_is_focal_at_compared() -> None:
    """Random fences and targets, then targets at (and a hair either side of) the focal sum itself."""
    rng = np.random.default_rng(7)
    x = np.empty(3)
    y = np.empty(3)
    checked = 0
    for _ in range(4000):
        u1, u2, h = (_units(rng, 1, 10.0, 45.0, 5.0)[0] for _ in range(3))
        d = np.cross(h, rng.normal(size=3))
        d /= np.linalg.norm(d)
        sg = 1.0 if rng.random() < 0.5 else -1.0
        s = float(rng.uniform(0.0, math.pi / 2))
        f = _focal_at(h, d, sg, s, u1, u2, y)
        for tt in (float(rng.uniform(0.0, 3.0)), f, np.nextafter(f, 0.0), np.nextafter(f, 4.0), f * (1 + 1e-10),
                   f * (1 - 1e-10), 0.9 * math.pi, 1e-12):
            got = _focal_reaches(h, d, sg, s, u1, u2, x, float(tt), math.cos(tt))
            assert got == (f >= tt), (f, tt)
            assert np.array_equal(x, y)  # (the point, as _focal_at leaves it)
            checked += 1
    # Near a fix: an angle of ~1e-7 rad takes the arccos.
    u1 = unit(np.array([10.0]), np.array([45.0]))[0]
    u2 = unit(np.array([11.0]), np.array([45.0]))[0]
    d = np.cross(u1, np.array([0.0, 0.0, 1.0]))
    d /= np.linalg.norm(d)
    for s in (0.0, 1e-9, 1e-7):
        f = _focal_at(u1, d, 1.0, s, u1, u2, y)
        for tt in (f, np.nextafter(f, 0.0), np.nextafter(f, 4.0)):
            assert _focal_reaches(u1, d, 1.0, s, u1, u2, x, float(tt), math.cos(tt)) == (f >= tt)
    assert checked == 32000


def test_leg_clear_any_first_piece_same_answer() -> None:
    """Legs round an indented island: the answer of ``_leg_clear`` is the same from every first piece, and -1
    (clear) exactly where the clearance test of the whole zone says clear."""
    rng = np.random.default_rng(3)
    ang = np.linspace(0, 2 * math.pi, 400, endpoint=False)
    rad = 1.0 + 0.3 * np.sin(7 * ang)
    island = shapely.Polygon(np.column_stack([10 + rad * np.cos(ang), 45 + 0.7 * rad * np.sin(ang)]))
    ze = zone_edges(island)
    assert ze is not None
    t = ze.tree()
    sub = np.arange(ze.piece_c.shape[0], dtype=np.int64)
    a = _units(rng, 300, 10.0, 45.0, 2.0)
    b = _units(rng, 300, 10.0, 45.0, 2.0)
    blocked = 0
    for k in range(len(a)):
        args = (a[k, 0], a[k, 1], a[k, 2], b[k, 0], b[k, 1], b[k, 2], sub, 0, sub.size, t.piece_cr, t.piece_sr, t)
        first = _leg_clear(*args, -1, *ze.quads())
        for f in range(0, sub.size, 3):
            got = _leg_clear(*args, f, *ze.quads())
            assert (got < 0) == (first < 0)
        assert (first < 0) == _arc_clear_one(a[k, 0], a[k, 1], a[k, 2], b[k, 0], b[k, 1], b[k, 2], t)
        blocked += first >= 0
    assert 30 < blocked < 270  # (both kinds of legs)


def test_near_pieces_cosines_are_einsums() -> None:
    """``near_pieces_all``'s cosines are those of ``np.clip(np.einsum(...), -1, 1)`` on the gathered arrays, bit
    for bit (``fast._focal_pieces`` takes their arccos in place of that array code), and its pairs are those the
    kernel found before (rows, then pieces, in order)."""
    from overflight.analysis.prism.edges import near_pieces_all

    rng = np.random.default_rng(11)
    ring = [(10.0 + 3 * math.cos(a) * (1 + 0.3 * math.sin(7 * a)), 45.0 + 2 * math.sin(a))
            for a in np.linspace(0.0, 2 * math.pi, 700, endpoint=False)]
    ze = zone_edges(shapely.Polygon(ring))
    assert ze is not None
    u1, u2 = _units(rng, 300, 10.0, 45.0, 8.0), _units(rng, 300, 10.0, 45.0, 8.0)
    thr = rng.uniform(0.01, 0.3, 300)
    r, p, d1, d2 = near_pieces_all(u1, u2, thr, ze)
    assert r.size > 1000 and np.all(np.diff(r) >= 0)
    c = ze.piece_c[p]
    assert np.array_equal(d1, np.clip(np.einsum("ij,ij->i", u1[r], c), -1, 1))
    assert np.array_equal(d2, np.clip(np.einsum("ij,ij->i", u2[r], c), -1, 1))
    # Every piece whose spherical bound is within the threshold is there (the kernel keeps a superset).
    a1 = np.arccos(np.clip(u1 @ ze.piece_c.T, -1, 1))
    a2 = np.arccos(np.clip(u2 @ ze.piece_c.T, -1, 1))
    within = a1 + a2 - 2 * ze.piece_rad[None, :] <= thr[:, None] - 1e-9
    got = np.zeros_like(within)
    got[r, p] = True
    assert within.any() and not (within & ~got).any()
