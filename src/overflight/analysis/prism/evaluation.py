"""Stage 4 of the prism verdicts, *evaluate*: the verdict of one pair of fixes for one zone, geometry in full.

Everything the earlier stages (caps, inside, bulk) leave open comes here: the zone is cut to the cap the
pair can reach, projected to a gnomonic plane centred between the fixes, and the entering length E and the
avoiding length A are bounded there (``avoid``) with true WGS84 lengths. Definitions: ``verdicts``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from overflight.analysis import membership
from overflight.analysis.prism._geo import (
    R_SPHERE,
    SPH_LO,
    FloatArray,
    Gnomonic,
    cap_polygon,
    disc_cover,
    dist,
    ellipse_plane,
    midpoint,
)
from overflight.analysis.prism.avoid import entering_bounds, shortest_avoiding
from overflight.analysis.prism.pairs import Pairs
from overflight.analysis.prism.period import NEVER, WHOLE, classify, lens_inside
from overflight.errors import InputError

EXACT_FACTOR = 1.25  # detours up to this many budgets are computed exactly, longer ones bounded
MAX_REACH_M = 6_000_000.0  # the gnomonic plane must stay well inside a hemisphere


@dataclass
class Evaluation:
    """Everything the verdict of one (pair, zone) rests on."""

    verdict: str
    detour: float
    margin: float
    exact: bool
    path_lon: FloatArray | None = None
    path_lat: FloatArray | None = None



def evaluate(
    lon1: float, lat1: float, lon2: float, lat2: float, zone: BaseGeometry, *, budget_hi: float,
    r1: float = 0.0, r2: float = 0.0, precise: bool = True, direct: float | None = None, hulls: bool = True,
    graded: bool = True, inside: tuple[bool, bool] | None = None,
    period_reach: tuple[float, float] | None = None,
) -> Evaluation:
    """The verdict for one pair of fixes and one zone (see the module docstring for the definitions).

    `budget_hi` is the widest budget (``vmax * (dt + e1 + e2)``); `r1`, `r2` the position errors;
    `hulls` lets the avoiding path try the convex hulls of the zone's parts first, `graded` a superset of
    the zone kept finer near the fixes (``avoid.graded_outer``; both give the same verdicts, faster).
    `inside` says whether each fix lies in the zone by the one membership rule (computed here when not
    given; it counts for a fix without position error). `period_reach` (metres from fix 1, fix 2) limits
    where the zone may be entered, for a zone in force during part of the gap only (``period``): then
    the verdict is ``impossible`` or ``possible`` (whose detour is the entering length, not exact).
    """
    d = float(dist(lon1, lat1, lon2, lat2)) if direct is None else direct
    r = r1 + r2
    if d - r > budget_hi:
        return Evaluation("inconsistent", math.nan, d - r - budget_hi, True)
    need = budget_hi + r  # focal sums above this cannot matter for a verdict
    flip_incons = budget_hi - (d - r)
    limit = max(EXACT_FACTOR * need, need + 1000.0)
    reach = (limit + d) / 2.0 + r
    if reach > MAX_REACH_M:
        limit = max(2 * (MAX_REACH_M - r) - d, need)
        reach = (limit + d) / 2.0 + r
        if reach > MAX_REACH_M * 1.5:
            raise InputError(f"gap too long for prism analysis: budget {budget_hi / 1000:.0f} km", field="time")
    mlon, mlat = midpoint(lon1, lat1, lon2, lat2)
    if period_reach is not None:
        return _evaluate_reach(lon1, lat1, lon2, lat2, zone, budget_hi, r1, r2, d, limit, (mlon, mlat),
                               period_reach)
    if zone.geom_type in ("Point", "MultiPoint"):
        pts = shapely.get_coordinates(zone)
        e = float((dist(lon1, lat1, pts[:, 0], pts[:, 1]) + dist(pts[:, 0], pts[:, 1], lon2, lat2)).min())
        if e - r > budget_hi:
            return Evaluation("impossible", e, min(e - r - budget_hi, flip_incons), True)
        return Evaluation("possible", d, max(budget_hi - (e - r), 0.0), True)
    if not precise and r == 0:
        quick = _fast_crossing(lon1, lat1, lon2, lat2, zone, (mlon, mlat), d=d, need=need, limit=limit,
                               reach=reach, inside=inside, budget_hi=budget_hi, flip_incons=flip_incons,
                               hulls=hulls, graded=graded)
        if quick is not None:
            return quick
    cap = cap_polygon(mlon, mlat, reach)
    xmin, ymin, xmax, ymax = cap.bounds
    zc = shapely.intersection(shapely.clip_by_rect(zone, xmin - 1e-6, ymin - 1e-6, xmax + 1e-6, ymax + 1e-6), cap)
    zc = shapely.make_valid(zc) if not zc.is_valid else zc
    if not zc.is_empty and zc.geom_type not in ("Polygon", "MultiPolygon"):
        # Keep the areal parts of a mixed result (a valid (Multi)Polygon needs no union).
        zc = shapely.union_all([p for p in shapely.get_parts(zc) if p.geom_type == "Polygon"])
    if zc.is_empty or zc.area == 0:
        return Evaluation("impossible", limit, min(limit - r - budget_hi, flip_incons), False)
    gn = Gnomonic(mlon, mlat)
    obst = gn.geometry_fwd(zc)
    if not obst.is_valid:
        obst = shapely.make_valid(obst)
    p1 = np.array([float(v) for v in gn.fwd(lon1, lat1)])
    p2 = np.array([float(v) for v in gn.fwd(lon2, lat2)])
    scale_lo = math.cos(reach / R_SPHERE) ** 2 * SPH_LO  # true metres >= planar metres * scale_lo
    boundary = obst.boundary
    if inside is None:
        in1, in2 = membership.point_in(zone, [lon1, lon2], [lat1, lat2]).tolist()
        inside = (bool(in1), bool(in2))
    for p, ri, ins in ((p1, r1, inside[0]), (p2, r2, inside[1])):
        pt = Point(p)
        # A fix without error: the membership rule (a border point by the ZoneIndex rule); with an error
        # disc: the whole disc inside (measured in the plane, scaled to a lower bound on true metres).
        if (ri == 0 and ins) or (ri > 0 and obst.contains(pt) and boundary.distance(pt) * scale_lo >= ri):
            return Evaluation("necessary", math.inf, flip_incons, True)
    for p, ri, ins in ((p1, r1, inside[0]), (p2, r2, inside[1])):
        pt = Point(p)
        if ri == 0 and not ins and obst.intersects(pt):
            # Outside by the rule (on, or a hair off, a lon/lat edge) yet covered in the plane, whose edges
            # are great circles (a lon/lat edge along a parallel sags from its great circle by metres per
            # degree): the fix starts from the border, as the rule's geometry has it.
            depth = float(boundary.distance(pt))
            obst = obst.difference(pt.buffer(depth * (1 + 1e-6) + 1e-3, quad_segs=16))
            boundary = obst.boundary
    seg = LineString([p1, p2])
    ll1, ll2 = (lon1, lat1), (lon2, lat2)
    crosses = bool(obst.intersects(seg))
    if crosses:
        e_lo = e_hi = d
    else:
        e_lo, e_hi = entering_bounds(zc, ll1, ll2, target=need)
        e_lo = min(e_lo, limit)
    if e_lo - r > budget_hi:
        exact = e_hi < limit
        return Evaluation("impossible", e_hi if exact else e_lo, min(e_lo - r - budget_hi, flip_incons), exact)
    if not crosses or (r == 0 and not shapely.relate_pattern(seg, obst, "T********")):
        # The direct geodesic misses (or only touches) the zone: it is the avoiding path.
        return Evaluation("possible", d, max(budget_hi - (max(e_hi, d) - r), 0.0), e_hi < limit)
    # Avoiding path: the zone minus both error discs (pushed out to cover the geodesic discs).
    obst_a = obst
    for p, ri in ((p1, r1), (p2, r2)):
        if ri > 0:
            obst_a = obst_a.difference(Point(p).buffer(ri / scale_lo + 1.0, quad_segs=16))
    ell: BaseGeometry | None = None
    if not precise:
        # Only whether the avoiding length exceeds `need` matters, and shortest_avoiding searches no further
        # than `cut`. A path of legs along great circles with true length <= cut lies in the spherical
        # ellipse of sum cut / (SPH_LO R): it avoids the zone iff it avoids the zone's part in that ellipse,
        # so the obstacle is clipped to it (smaller hulls, simplifications and graphs; the same verdicts).
        cut = min(limit, need * (1 + 1e-6) + 1.0)
        ell = ellipse_plane(gn, ll1, ll2, cut / (SPH_LO * R_SPHERE) * (1 + 1e-9) + 1e-9)
        if ell is not None:
            obst_a = shapely.intersection(obst_a, ell)
    return _avoiding_verdict(p1, p2, ll1, ll2, obst_a, gn, ell, limit=limit, need=need, precise=precise,
                             scale_lo=scale_lo, hulls=hulls, graded=graded, r=r, budget_hi=budget_hi,
                             flip_incons=flip_incons, e_hi=e_hi)


def _avoiding_verdict(
    p1: FloatArray, p2: FloatArray, ll1: tuple[float, float], ll2: tuple[float, float], obst_a: BaseGeometry,
    gn: Gnomonic, ell: BaseGeometry | None, *, limit: float, need: float, precise: bool, scale_lo: float,
    hulls: bool, graded: bool, r: float, budget_hi: float, flip_incons: float, e_hi: float, crosses: bool = False,
) -> Evaluation:
    """The verdict from the avoiding length around `obst_a` (clipped to `ell` in fast mode, if not None).

    `crosses`: the direct segment is known to enter `obst_a`'s interior (``shortest_avoiding``).
    """
    cut = min(limit, need * (1 + 1e-6) + 1.0)
    res = shortest_avoiding(p1, p2, ll1, ll2, obst_a, gn.inv, limit=limit, target=need, precise=precise,
                            scale_lo=scale_lo, hulls=hulls, graded=graded, crosses=crosses)
    exact = res.upper < limit and res.upper <= res.lower * (1 + 1e-3)
    if ell is not None and res.upper > cut:
        # Beyond `cut` the clipped obstacle is not the zone: that path may cross it, its length is only a
        # lower bound on the avoiding length (still enough for the verdict), and it is not drawn.
        exact = False
        res = replace(res, path_lon=np.zeros(0), path_lat=np.zeros(0))
    if res.lower - r > budget_hi:
        return Evaluation("necessary", res.upper if exact else res.lower,
                          min(res.lower - r - budget_hi, flip_incons), exact, res.path_lon, res.path_lat)
    margin = budget_hi - (max(e_hi, res.upper) - r)
    # No avoiding path found (the search hit its memory ceiling): the certified lower bound is all there is.
    shown = res.upper if math.isfinite(res.upper) else res.lower
    return Evaluation("possible", shown, max(margin, 0.0), exact, res.path_lon, res.path_lat)


ELL_PAD = 0.01  # the lon/lat box around the ellipse is widened by this share of its size on each side


def _fast_crossing(
    lon1: float, lat1: float, lon2: float, lat2: float, zone: BaseGeometry, mid: tuple[float, float], *,
    d: float, need: float, limit: float, reach: float, inside: tuple[bool, bool] | None, budget_hi: float,
    flip_incons: float, hulls: bool, graded: bool,
) -> Evaluation | None:
    """``evaluate`` in fast mode, with the zone cut to a box around the budget's ellipse.

    For fixes without position error whose direct arc crosses the zone, the zone is cut to a lon/lat box
    around the ellipse of the budget instead of the whole reachable cap.

    Only the zone's part in that ellipse can matter (``evaluate``'s clip in fast mode), so the GEOS
    overlays at the start run on that part. None (``evaluate`` goes the general way) when the arc does not
    cross the zone, a fix lies in it, or the box would wrap around the antimeridian or reach a pole.
    """
    if inside is None or inside[0] or inside[1]:
        return None
    ll1, ll2 = (lon1, lat1), (lon2, lat2)
    gn = Gnomonic(*mid)
    cut = min(limit, need * (1 + 1e-6) + 1.0)
    ell = ellipse_plane(gn, ll1, ll2, cut / (SPH_LO * R_SPHERE) * (1 + 1e-9) + 1e-9)
    if ell is None:
        return None
    # The ellipse's edges are great-circle arcs in lon/lat: sample them densely (a bulge between samples is
    # metres, the padding kilometres).
    ring = shapely.get_coordinates(shapely.segmentize(ell.exterior, ell.length / 1024.0))
    elon, elat = gn.inv(ring[:, 0], ring[:, 1])
    x0, x1, y0, y1 = float(elon.min()), float(elon.max()), float(elat.min()), float(elat.max())
    if x1 - x0 > 90.0 or y1 > 85.0 or y0 < -85.0:
        return None
    px, py = ELL_PAD * (x1 - x0) + 1e-6, ELL_PAD * (y1 - y0) + 1e-6
    zc = shapely.clip_by_rect(zone, x0 - px, y0 - py, x1 + px, y1 + py)
    if zc.is_empty:
        return None
    if zc.geom_type not in ("Polygon", "MultiPolygon"):
        zc = shapely.union_all([q for q in shapely.get_parts(zc) if q.geom_type == "Polygon"])
        if zc.is_empty:
            return None
    obst = gn.geometry_fwd(zc)
    if not obst.is_valid:
        obst = shapely.make_valid(obst)
    p1 = np.array([float(v) for v in gn.fwd(lon1, lat1)])
    p2 = np.array([float(v) for v in gn.fwd(lon2, lat2)])
    scale_lo = math.cos(reach / R_SPHERE) ** 2 * SPH_LO
    boundary = obst.boundary
    for p in (p1, p2):
        pt = Point(p)
        if obst.intersects(pt):
            # As in ``evaluate``: outside by the rule yet covered in the plane, the fix starts from the border.
            depth = float(boundary.distance(pt))
            obst = obst.difference(pt.buffer(depth * (1 + 1e-6) + 1e-3, quad_segs=16))
            boundary = obst.boundary
    seg = LineString([p1, p2])
    if not obst.intersects(seg):
        return None
    if not shapely.relate_pattern(seg, obst, "T********"):
        return Evaluation("possible", d, max(budget_hi - d, 0.0), d < limit)
    # The segment enters obst's interior and lies inside the ellipse (its points' spherical focal sum is the
    # fixes' distance, below the ellipse's), so it enters obst_a's interior too: not tested again.
    obst_a = shapely.intersection(obst, ell)
    return _avoiding_verdict(p1, p2, ll1, ll2, obst_a, gn, ell, limit=limit, need=need, precise=False,
                             scale_lo=scale_lo, hulls=hulls, graded=graded, r=0.0, budget_hi=budget_hi,
                             flip_incons=flip_incons, e_hi=d, crosses=True)


def _evaluate_reach(
    lon1: float, lat1: float, lon2: float, lat2: float, zone: BaseGeometry, budget_hi: float, r1: float,
    r2: float, d: float, limit: float, mid: tuple[float, float], reach: tuple[float, float],
) -> Evaluation:
    """``impossible`` or ``possible`` for a zone that can be entered only within `reach` of each fix."""
    r = r1 + r2
    need = budget_hi + r
    flip_incons = budget_hi - (d - r)
    span = (limit + d) / 2.0 + r
    zc = shapely.intersection(zone, cap_polygon(mid[0], mid[1], span))
    for (lo, la), rho in (((lon1, lat1), reach[0]), ((lon2, lat2), reach[1])):
        if rho < need and not zc.is_empty:
            # A lon/lat polygon that contains the geodesic disc: the clipped zone covers the reachable part.
            zc = shapely.intersection(zc, disc_cover(lo, la, max(rho, 1.0)))
    if not zc.is_empty and zc.geom_type not in ("Polygon", "MultiPolygon"):
        zc = shapely.union_all([p for p in shapely.get_parts(zc) if p.geom_type == "Polygon"])
    if zc.is_empty or zc.area == 0:
        return Evaluation("impossible", math.inf, flip_incons, True)
    e_lo, e_hi = entering_bounds(zc, (lon1, lat1), (lon2, lat2), target=need)
    e_lo = min(e_lo, limit)
    if shapely.intersects(zc, LineString([(lon1, lat1), (lon2, lat2)])):
        e_lo = d  # the direct path may pass through the zone's reachable part: E >= d is all that is known
    if e_lo - r > budget_hi:
        return Evaluation("impossible", e_lo, min(e_lo - r - budget_hi, flip_incons), False)
    return Evaluation("possible", max(e_hi, d), max(budget_hi - (max(e_hi, d) - r), 0.0), False)



def _evaluate_in_period(
    pairs: Pairs, i: int, zone: BaseGeometry, per: Any, vmax: float, b_hi: float, direct: float,
    inside: tuple[bool, bool], precise: bool,
) -> Evaluation:
    """The verdict of pair `i` for a zone in force during its period only (`per`: the Zone; see ``period``)."""
    if pairs.t1_ns is None or pairs.t2_ns is None:
        raise InputError("zones with a validity period need the sightings' times (pairs made by make_pairs)",
                         field="time")
    r1, r2 = float(pairs.r1[i]), float(pairs.r2[i])
    w = classify(int(pairs.t1_ns[i]), int(pairs.t2_ns[i]), float(pairs.e[i]), r1 + r2, vmax, per)
    args = (float(pairs.lon1[i]), float(pairs.lat1[i]), float(pairs.lon2[i]), float(pairs.lat2[i]), zone)
    flip_incons = b_hi - (direct - (r1 + r2))
    if w.case == NEVER:
        return Evaluation("impossible", math.inf, flip_incons, True)
    if w.case == WHOLE:
        return evaluate(*args, budget_hi=b_hi, r1=r1, r2=r2, precise=precise, direct=direct, inside=inside)
    if (inside[0] and r1 == 0 and w.fix1_in_force) or (inside[1] and r2 == 0 and w.fix2_in_force):
        return Evaluation("necessary", math.inf, flip_incons, True)
    if lens_inside(args[:4], zone, int(pairs.t1_ns[i]), int(pairs.t2_ns[i]), float(pairs.e[i]), r1 + r2, vmax, w):
        return Evaluation("necessary", math.inf, flip_incons, False)
    return evaluate(*args, budget_hi=b_hi, r1=r1, r2=r2, precise=precise, direct=direct,
                    period_reach=(w.reach1, w.reach2))


@dataclass
class Evaluated:
    """The (pair, zone) combinations evaluated one at a time, and the avoiding paths found (for maps)."""

    row: NDArray[np.int64]
    zone: NDArray[np.int64]
    verdict: list[str]
    detour: FloatArray
    margin: FloatArray
    exact: NDArray[np.bool_]
    paths: dict[tuple[int, int], tuple[FloatArray, FloatArray]]  # (row, zone) -> (lon, lat), paths of > 2 vertices


def evaluate_many(
    pairs: Pairs, rows: NDArray[np.int64], zones: NDArray[np.int64], m1: NDArray[np.bool_], m2: NDArray[np.bool_],
    geoms: list[BaseGeometry], periods: list[Any], vmax: float, b_hi: FloatArray, direct: FloatArray, *,
    precise: bool, start: int = 0,
) -> Evaluated:
    """``evaluate`` each (pair ``rows[k]``, zone ``zones[k]``).

    `m1`, `m2` are the chunk's memberships (rows from `start`), `periods` the Zone of each zone with a
    validity period (else None).
    """
    k = len(rows)
    detour, margin, exact = np.full(k, np.nan), np.full(k, np.nan), np.zeros(k, dtype=bool)
    verdict: list[str] = []
    paths: dict[tuple[int, int], tuple[FloatArray, FloatArray]] = {}
    for j, (i, z) in enumerate(zip(rows.tolist(), zones.tolist(), strict=True)):
        ins = (bool(m1[i - start, z]), bool(m2[i - start, z]))
        per = periods[z]
        if per is not None:
            ev = _evaluate_in_period(pairs, i, geoms[z], per, vmax, float(b_hi[i]), float(direct[i]), ins, precise)
        else:
            ev = evaluate(float(pairs.lon1[i]), float(pairs.lat1[i]), float(pairs.lon2[i]), float(pairs.lat2[i]),
                          geoms[z], budget_hi=float(b_hi[i]), r1=float(pairs.r1[i]), r2=float(pairs.r2[i]),
                          precise=precise, direct=float(direct[i]), inside=ins)
        verdict.append(ev.verdict)
        detour[j], margin[j], exact[j] = ev.detour, ev.margin, ev.exact
        if ev.path_lon is not None and ev.path_lat is not None and len(ev.path_lon) > 2:
            paths[(i, z)] = (ev.path_lon, ev.path_lat)
    return Evaluated(rows, zones, verdict, detour, margin, exact, paths)


__all__ = [
    "ELL_PAD", "EXACT_FACTOR", "MAX_REACH_M", "Evaluated", "Evaluation", "_evaluate_in_period", "_evaluate_reach",
    "evaluate", "evaluate_many",
]
