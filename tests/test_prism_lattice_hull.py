"""The bulk stage's many-leg lattice paths (``lattice``) and hull lower bounds (``hullbound``), fast mode.

A lattice path is an upper bound on the avoiding length, a hull bound a lower bound: both are checked
against ``evaluate`` in precise mode (the visibility graph over the zone itself, true WGS84 lengths, to
0.1 %), and the hull bound also against a hand-computed value (the way round a geodesic disc).
"""

from __future__ import annotations

import math
import sys

import numpy as np
import shapely
from shapely.geometry import Polygon

import overflight.analysis.prism.verdicts  # noqa: F401  (the package re-exports a function of that name)
from overflight.analysis.prism.fast import SETTLE_NECESSARY, SETTLE_POSSIBLE, settle_zone, zone_edges
from overflight.analysis.prism.hullbound import hull_lower_bound, part_hulls
from overflight.analysis.prism.lattice import lattice_paths
from overflight.geodesy import GEOD, circle

V = sys.modules["overflight.analysis.prism.verdicts"]


def _archipelago(seed: int) -> shapely.MultiPolygon:
    """Islands (discs of 10-40 km, GeographicLib circles) scattered around (20E, 45N)."""
    rng = np.random.default_rng(seed)
    discs = [circle(float(lo), float(la), float(r), max_error_m=50.0)
             for lo, la, r in zip(rng.uniform(18.0, 22.0, 14), rng.uniform(44.0, 46.0, 14), rng.uniform(10e3, 40e3, 14),
                                  strict=True)]
    u = shapely.union_all(discs)
    return shapely.MultiPolygon(list(shapely.get_parts(u)))


def _u_shape() -> Polygon:
    """A non-convex zone: a U open to the north, about 300 km across."""
    return Polygon([(18.5, 44.0), (21.5, 44.0), (21.5, 46.5), (21.0, 46.5), (21.0, 44.6), (19.0, 44.6), (19.0, 46.5),
                    (18.5, 46.5)])


def _pairs(zone: shapely.Geometry, n: int, seed: int) -> list[tuple[float, float, float, float]]:
    """Fix pairs on either side of the zone (both outside it), whose direct segment meets the zone's hull."""
    rng = np.random.default_rng(seed)
    out: list[tuple[float, float, float, float]] = []
    hull = zone.convex_hull
    while len(out) < n:
        lo1, la1 = rng.uniform(16.0, 24.0), rng.uniform(42.5, 47.5)
        lo2, la2 = rng.uniform(16.0, 24.0), rng.uniform(42.5, 47.5)
        if zone.intersects(shapely.Point(lo1, la1)) or zone.intersects(shapely.Point(lo2, la2)):
            continue
        if not hull.intersects(shapely.LineString([(lo1, la1), (lo2, la2)])):
            continue
        out.append((lo1, la1, lo2, la2))
    return out


def _precise(p: tuple[float, float, float, float], zone: shapely.Geometry, budget: float) -> V.Evaluation:
    return V.evaluate(*p, zone, budget_hi=budget, precise=True)


def test_hull_bound_round_a_disc() -> None:
    """For a geodesic disc of radius rho crossed through its centre by fixes at distance D from it, the way round
    is two tangents and an arc: on the sphere 2 acos(cos D / cos rho) + rho (pi - 2 acos(tan rho / tan D))
    (radians); the bound is within 1 % below it (SPH_LO, the disc's chords) and never above."""
    rho_m, d_m = 60e3, 150e3
    disc = circle(20.0, 45.0, rho_m, max_error_m=10.0)
    lon1, lat1, _ = GEOD.fwd(20.0, 45.0, 270.0, d_m)
    lon2, lat2, _ = GEOD.fwd(20.0, 45.0, 90.0, d_m)
    ze = zone_edges(disc)
    ph = part_hulls(disc, float(ze.tol.max()))
    assert ph is not None
    lb = float(hull_lower_bound(np.array([lon1]), np.array([lat1]), np.array([lon2]), np.array([lat2]), ph)[0])
    r = 6371008.8
    rho, d = rho_m / r, d_m / r
    tangent = math.acos(math.cos(d) / math.cos(rho))
    arc = rho * (math.pi - 2 * math.acos(math.tan(rho) / math.tan(d)))
    way = (2 * tangent + arc) * r
    assert 0.99 * way < lb < way
    ev = _precise((float(lon1), float(lat1), float(lon2), float(lat2)), disc, 3 * way)
    assert ev.exact and lb <= ev.detour * (1 + 1e-3)


def test_hull_bound_below_the_precise_avoiding_length() -> None:
    """Archipelagos and a U-shaped zone: the hull bound never exceeds the precise avoiding length."""
    checked = 0
    for zone, seed in ((_archipelago(3), 1), (_archipelago(7), 2), (_u_shape(), 3)):
        ze = zone_edges(zone)
        ph = part_hulls(zone, float(ze.tol.max()))
        assert ph is not None
        for p in _pairs(zone, 8, seed):
            lb = float(hull_lower_bound(*(np.array([v]) for v in p), ph)[0])
            direct = float(GEOD.inv(*p)[2])
            ev = _precise(p, zone, 2.0 * max(lb, direct))
            assert ev.verdict in ("possible", "necessary")
            if ev.exact:
                assert lb <= ev.detour * (1 + 1e-3) + 1.0
                checked += lb > direct
            else:  # a certified lower bound beyond 1.25 budgets: the hull bound must not pass it either way
                assert ev.verdict == "necessary"
    assert checked >= 5  # the bound did work (above the direct length) in enough cases


def test_lattice_paths_above_the_precise_avoiding_length() -> None:
    """Where the lattice finds a path round the islands, the precise avoiding length is no longer."""
    found = 0
    for zone, seed in ((_archipelago(3), 4), (_archipelago(11), 5), (_u_shape(), 6)):
        ze = zone_edges(zone)
        for p in _pairs(zone, 8, seed):
            direct = float(GEOD.inv(*p)[2])
            budget = 1.3 * direct
            got, ln = lattice_paths(*(np.array([v]) for v in p), np.array([budget]), ze)
            if not got[0]:
                continue
            found += 1
            assert direct <= ln[0] <= budget
            ev = _precise(p, zone, budget)
            assert ev.verdict == "possible"
            assert ev.detour <= ln[0] * (1 + 1e-3) + 1.0
    assert found >= 5


def test_settle_zone_fast_agrees_with_precise() -> None:
    """settle_zone in fast mode (two-leg, lattice, fences, hulls) never contradicts the precise verdict."""
    settled = 0
    for zone, seed in ((_archipelago(5), 7), (_u_shape(), 8)):
        ze = zone_edges(zone)
        pairs = np.array(_pairs(zone, 12, seed))
        direct = np.asarray(GEOD.inv(pairs[:, 0], pairs[:, 1], pairs[:, 2], pairs[:, 3])[2])
        b_hi = direct * np.random.default_rng(seed).uniform(1.0, 1.5, len(pairs))
        z = np.zeros(len(pairs))
        status, _, _, _ = settle_zone(pairs[:, 0], pairs[:, 1], pairs[:, 2], pairs[:, 3], z, z, b_hi, direct,
                                      np.maximum(1.25 * b_hi, b_hi + 1000.0), zone, ze, precise=False, two_leg=True)
        for k in np.flatnonzero((status == SETTLE_POSSIBLE) | (status == SETTLE_NECESSARY)):
            ev = _precise(tuple(pairs[k]), zone, float(b_hi[k]))
            assert ev.verdict == ("possible" if status[k] == SETTLE_POSSIBLE else "necessary")
            settled += 1
    assert settled >= 6


def test_meridian_ratio_bounds_geodesics() -> None:
    """GeographicLib lengths of random geodesics (10 m to 2,000 km) whose ends lie at |latitude| >= phi are at
    least meridian_ratio(phi) times their great-circle length on the sphere of radius R (geographic lon/lat)."""
    from overflight.analysis.prism._geo import R_SPHERE, sph_angle, unit
    from overflight.analysis.prism.hullbound import meridian_ratio

    rng = np.random.default_rng(0)
    n = 200_000
    lat1 = rng.uniform(0.0, 89.0, n) * rng.choice([-1.0, 1.0], n)
    lon1 = rng.uniform(-180.0, 180.0, n)
    lon2, lat2, _ = GEOD.fwd(lon1, lat1, rng.uniform(0, 360, n), 10 ** rng.uniform(1.0, 6.3, n))
    lat2 = np.asarray(lat2)
    same = np.sign(lat2) == np.sign(lat1)
    d = np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])
    sig = sph_angle(unit(lon1, lat1), unit(lon2, lat2)) * R_SPHERE
    phi = np.minimum(np.abs(lat1), np.abs(lat2))
    ok = same & (sig > 0)
    assert np.all(d[ok] >= meridian_ratio(phi[ok]) * sig[ok] * (1 - 1e-9) - 1e-3)
