"""The fused caps and inside passes (``_captree.reach_far``, ``inside.inside_far``) against the stage-by-stage code.

The grouped least bound must be the exact least (the same float) of the cap bounds taken one by one, for
caps grouped in any order, also where a fix is at a cap's centre (tiny angles, where rounding matters);
the fused passes must write what ``reach_bounds``, ``fixes_inside`` and ``write_far`` wrote.
"""

from __future__ import annotations

import sys

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

import overflight.analysis.prism.verdicts  # noqa: F401  (the package re-exports a function of that name)
from _prism_pairs import pairs_near
from overflight.analysis import membership
from overflight.analysis.prism._captree import cap_forest, cap_tree, focal_lb_all, least_focal_lb, reach_far
from overflight.analysis.prism._geo import dist, unit
from overflight.analysis.prism.caps import reach_bounds, zone_caps
from overflight.analysis.prism.inside import fixes_inside, inside_far, write_far

V = sys.modules["overflight.analysis.prism.verdicts"]
VMAX = 185 / 3.6


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), sizes=st.lists(st.integers(0, 150), min_size=1, max_size=4),
       n=st.integers(1, 25))
def test_forest_least_is_exactly_the_least_cap_bound(seed: int, sizes: list[int], n: int) -> None:
    rng = np.random.default_rng(seed)
    zones = []
    for m in sizes:
        lon0, lat0 = rng.uniform(-180, 180), rng.uniform(-80, 80)
        spread = rng.uniform(0.001, 40)
        cu = unit(lon0 + rng.normal(0, spread, m), np.clip(lat0 + rng.normal(0, spread / 2, m), -90, 90))
        cr = rng.uniform(0, 3e5, m) * (rng.random(m) < 0.7)
        zones.append((cu, cr))
    # Fixes anywhere, and fixes at (or a hair from) the caps' own centres, where the angles are tiny.
    u1 = unit(rng.uniform(-180, 180, n), rng.uniform(-90, 90, n))
    u2 = unit(rng.uniform(-180, 180, n), rng.uniform(-90, 90, n))
    allc = np.vstack([c for c, _ in zones] + [np.zeros((0, 3))])
    if len(allc):
        pick = rng.integers(0, len(allc), n)
        near = rng.random(n) < 0.5
        k = int(near.sum())
        u1[near] = allc[pick[near]] + rng.normal(0, 1e-9, (k, 3)) * (rng.random((k, 1)) < 0.5)
        u1 /= np.linalg.norm(u1, axis=1, keepdims=True)
        u2[near[::-1]] = allc[pick[near[::-1]]]
    for spatial in (False, True):
        forest = cap_forest(zones, spatial=spatial)
        for z, (cu, cr) in enumerate(zones):
            got = least_focal_lb(u1, u2, forest, z)
            # (the compiled bound of each cap: the same arithmetic; numpy's matrix product rounds otherwise)
            ref = focal_lb_all(u1, u2, cap_tree(cu, cr)).min(axis=1) if len(cr) else np.full(n, np.inf)
            np.testing.assert_array_equal(got, ref)


ZONES = ("GRC", "HRV", "NOR", "UZB", "KGZ", "TJK", "DEU", "FRA", "RUS")


def _stage_by_stage(pairs: V.Pairs, caps: V.ZoneCaps, n: int, nz: int) -> tuple[np.ndarray, ...]:
    """The caps and inside stages as ``verdicts_for_pairs`` ran them before they were fused."""
    b_hi = VMAX * (pairs.dt + pairs.e)
    r = pairs.r1 + pairs.r2
    direct = dist(pairs.lon1, pairs.lat1, pairs.lon2, pairs.lat2)
    incons = direct - r > b_hi
    verdict, detour = np.zeros((n, nz), dtype=np.int8), np.full((n, nz), np.nan)
    margin, exact = np.full((n, nz), np.nan), np.zeros((n, nz), dtype=bool)
    u1, u2 = unit(pairs.lon1, pairs.lat1), unit(pairs.lon2, pairs.lat2)
    sl = slice(0, n)
    need = (b_hi + r)[:, None]
    lb = reach_bounds(u1, u2, need, caps)
    cand = lb <= need
    ins = fixes_inside(pairs, sl, u1, u2, need, lb, cand, caps)
    inside, lb = ins.inside, ins.lb
    cand &= (lb <= need) | inside
    nec_in = inside & ~incons[:, None]
    fi = np.broadcast_to((b_hi - (direct - r))[:, None], lb.shape)
    verdict[nec_in], detour[nec_in], margin[nec_in], exact[nec_in] = 2, np.inf, fi[nec_in], True
    cand &= ~inside
    far = ~cand & ~inside
    write_far(far, lb, need, (b_hi - (direct - r))[:, None], verdict, detour, margin)
    cand &= ~incons[:, None]
    return verdict, detour, margin, exact, cand, np.array([int((far & ~incons[:, None]).sum()), int(nec_in.sum())])


def test_fused_caps_and_inside_write_what_the_stages_wrote(ne_admin0: object) -> None:
    items = [(z, ne_admin0[z].geometry) for z in ZONES]  # type: ignore[index]
    items.append(("PT", shapely.Point(21.0, 45.0)))  # a point zone: no inside, no boundary pieces
    caps = zone_caps(items)
    cols = [pairs_near(g, 40, 7 + k, pad=(1.0, 1.0), max_d=600e3, err_share=0.25, max_err=8e3)
            for k, (_, g) in enumerate(items[:-1])]
    lon1, lat1, lon2, lat2, r1, r2, b_hi, _ = (np.concatenate(c) for c in zip(*cols, strict=True))
    # Some pairs too fast for their gap (inconsistent) and some with slack (far zones become reachable).
    scale = np.random.default_rng(3).choice([0.3, 1.0, 1.5], lon1.size)
    ids = np.arange(lon1.size)
    pairs = V.Pairs(np.array([f"t{i}" for i in ids], dtype=object), ids, ids, lon1, lat1, lon2, lat2, r1, r2,
                    scale * b_hi / VMAX, np.zeros(lon1.size))
    n, nz = lon1.size, len(items)
    ref = _stage_by_stage(pairs, caps, n, nz)

    b_hi2 = VMAX * (pairs.dt + pairs.e)
    r = pairs.r1 + pairs.r2
    direct = dist(pairs.lon1, pairs.lat1, pairs.lon2, pairs.lat2)
    incons = direct - r > b_hi2
    assert 0 < incons.sum() < n
    verdict, detour = np.zeros((n, nz), dtype=np.int8), np.full((n, nz), np.nan)
    margin, exact = np.full((n, nz), np.nan), np.zeros((n, nz), dtype=bool)
    cand = np.zeros((n, nz), dtype=bool)
    u1, u2 = unit(pairs.lon1, pairs.lat1), unit(pairs.lon2, pairs.lat2)
    need = b_hi2 + r
    flip = b_hi2 - (direct - r)
    n_far = reach_far(u1, u2, need, flip, incons, caps.zone_u, caps.zone_r, caps.forest("part"), verdict, detour,
                      margin, cand)
    m1 = membership.members(pairs.lon1, pairs.lat1, caps.zones(), index=caps.index())
    m2 = membership.members(pairs.lon2, pairs.lat2, caps.zones(), index=caps.index())
    poly = np.array([g.geom_type in ("Polygon", "MultiPolygon") for _, g in items])
    f2, n_nec = inside_far(u1, u2, need, flip, incons, m1, m2, pairs.r1 == 0, pairs.r2 == 0, poly,
                           np.ones(nz, dtype=bool), caps.forest("piece"), cand, verdict, detour, margin, exact)
    # Where a row is inconsistent, every value is written later: compare the others.
    ok = ~incons
    for got, want in zip((verdict, detour, margin, exact, cand), ref[:5], strict=True):
        np.testing.assert_array_equal(got[ok], want[ok])
    assert not cand[incons].any()
    np.testing.assert_array_equal([n_far + f2, n_nec], ref[5])
    assert n_nec > 0 and cand.any() and (verdict[ok] == 0).any()

    # Fast mode (no arccos where the chords' bounds settle): the same pairs go on, and every settled
    # value is a bound on the precise-mode one from below.
    fv, fd = np.zeros((n, nz), dtype=np.int8), np.full((n, nz), np.nan)
    fm, fe = np.full((n, nz), np.nan), np.zeros((n, nz), dtype=bool)
    fc = np.zeros((n, nz), dtype=bool)
    reach_far(u1, u2, need, flip, incons, caps.zone_u, caps.zone_r, caps.forest("part"), fv, fd, fm, fc, exact=False)
    inside_far(u1, u2, need, flip, incons, m1, m2, pairs.r1 == 0, pairs.r2 == 0, poly, np.ones(nz, dtype=bool),
               caps.forest("piece"), fc, fv, fd, fm, fe, exact_lb=False)
    np.testing.assert_array_equal(fc, cand)
    np.testing.assert_array_equal(fv[ok], verdict[ok])
    np.testing.assert_array_equal(fe[ok], exact[ok])
    both = ok[:, None] & ~np.isnan(detour) & np.isfinite(detour)
    # (to rounding: a chord's series and an arccos of the same angle differ by ~1e-16 rad either way)
    assert (fd[both] - detour[both]).max() <= 1e-3, (fd[both] - detour[both]).max()
    assert (fm[both] - margin[both]).max() <= 1e-3, (fm[both] - margin[both]).max()
    np.testing.assert_array_equal(np.isnan(fd[ok]), np.isnan(detour[ok]))
