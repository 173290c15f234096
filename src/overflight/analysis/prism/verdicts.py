"""Prism verdicts: between two sightings, was entering a zone impossible, possible or necessary?

For a pair of fixes p1, p2 with a time gap and a top speed, ``budget = vmax * dt``. With
``D = d(p1, p2)``, ``E = min over x in Z of d(p1, x) + d(x, p2)`` (the shortest path that enters the zone)
and ``A`` the shortest path from p1 to p2 that avoids the zone (all true WGS84 geodesic lengths):

- ``inconsistent``: D > budget (the fixes cannot both be right at that speed);
- ``impossible``: E > budget (the potential path area misses the zone);
- ``necessary``: a fix lies in the zone, or A > budget (every path within the budget meets the zone);
- ``possible``: otherwise.

Uncertainty. Fix i may be anywhere within ``r_i`` metres (``pos_err_m``) and its time anywhere within
``± e_i`` seconds (``time_err_s``). A verdict is reported only if it holds for every such configuration,
using conservative bounds (``r = r1 + r2``, ``budget_hi = vmax * (dt + e1 + e2)``):

- inconsistent for all: ``D - r > budget_hi`` (the triangle inequality bounds every moved pair);
- impossible for all: ``E - r > budget_hi`` (moving a focus by r_i changes every focal sum by <= r_i);
- necessary for all: a fix's whole error disc lies in the zone, or ``A' - r > budget_hi`` where A' is the
  avoiding length for the zone minus both error discs (a path from a moved fix, prefixed by the short
  geodesic from the nominal fix, avoids the zone without the discs, hence ``A(moved) >= A' - r``);
- possible otherwise — which then also covers "undetermined by the uncertainty".

Membership. "A fix lies in the zone" is decided by the one membership rule of every analysis
(``overflight.analysis.membership``: the ZoneIndex rule, a fix on a border belongs to the zone north or east
of it). Zone objects with a validity period ``[valid_from, valid_to)`` are entered only while in force: the
reachable set shrinks to the period's part of the gap and ``necessary`` follows a stricter rule (``period``).

``margin_m`` is how much the budget (``budget_hi``) would have to change for the verdict to flip, the
nearest flip either way; ``detour_m`` is A for necessary/possible (inf when a fix lies in the zone), E for
impossible, NaN for inconsistent. Both are computed to 0.1 % when the value is within 1.25 budgets (when
``precise``); beyond that (a far-away zone) they are certified lower bounds, flagged ``detour_exact=False``.
The same flag marks the bounds given when a search reaches its memory ceiling (``fast.SPLIT_MAX``,
``avoid.GRAPH_MAX_EDGES``): a verdict that would need the exact value then stays ``possible``. Under a
validity period, ``detour_m`` of a ``possible`` row is the entering length within the period (not exact).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from overflight.analysis import membership
from overflight.analysis.prism._geo import (
    R_SPHERE,
    SPH_HI,
    SPH_LO,
    FloatArray,
    Gnomonic,
    cap_polygon,
    disc_cover,
    dist,
    ellipse_plane,
    midpoint,
    unit,
)
from overflight.analysis.prism.avoid import entering_bounds, shortest_avoiding
from overflight.analysis.prism.fast import (
    SETTLE_IMPOSSIBLE,
    SETTLE_NECESSARY,
    SETTLE_POSSIBLE,
    ZoneEdges,
    settle_zone,
    zone_edges,
)
from overflight.analysis.prism.period import NEVER, WHOLE, classify, lens_inside, period_ns
from overflight.errors import InputError
from overflight.index import ZoneIndex

VERDICTS = ("impossible", "possible", "necessary", "inconsistent")
VERDICT_COLUMNS = [
    "track_id", "from_index", "to_index", "zone_id", "verdict", "budget_m", "direct_m", "detour_m", "margin_m",
    "detour_exact",
]
EXACT_FACTOR = 1.25  # detours up to this many budgets are computed exactly, longer ones bounded
MAX_REACH_M = 6_000_000.0  # the gnomonic plane must stay well inside a hemisphere


@dataclass
class Pairs:
    """Consecutive sighting pairs, flattened to arrays."""

    track_id: np.ndarray
    from_index: np.ndarray
    to_index: np.ndarray
    lon1: FloatArray
    lat1: FloatArray
    lon2: FloatArray
    lat2: FloatArray
    r1: FloatArray
    r2: FloatArray
    dt: FloatArray
    e: FloatArray  # e1 + e2
    t1_ns: np.ndarray | None = None  # int64 ns since the epoch of each fix (needed for validity periods)
    t2_ns: np.ndarray | None = None


@dataclass
class Evaluation:
    """Everything the verdict of one (pair, zone) rests on."""

    verdict: str
    detour: float
    margin: float
    exact: bool
    path_lon: FloatArray | None = None
    path_lat: FloatArray | None = None


# --------------------------------------------------------------------------------------------- inputs


def _zone_items(zones: Any) -> list[tuple[str, BaseGeometry]]:
    """(id, geometry) from a ZoneSet, an iterable of Zone, a mapping id -> geometry or a GeoDataFrame."""
    if isinstance(zones, Mapping):
        items = [(str(k), v) for k, v in zones.items()]
    elif hasattr(zones, "geometry") and hasattr(zones, "index") and isinstance(zones, pd.DataFrame):
        items = [(str(i), g) for i, g in zip(zones.index, zones.geometry, strict=True)]
    elif isinstance(zones, Iterable):
        items = [(str(z.id), z.geometry) for z in zones]
    else:
        raise InputError(f"zones must be a ZoneSet, Zones or a mapping id -> geometry, not {type(zones).__name__}",
                         field="zones")
    out = []
    for zid, g in items:
        if not isinstance(g, BaseGeometry) or g.is_empty:
            raise InputError("zone has no geometry", row=zid, field="geometry")
        if g.geom_type not in ("Polygon", "MultiPolygon", "Point", "MultiPoint", "GeometryCollection"):
            raise InputError(f"zone geometry must be an area or a point, not {g.geom_type}", row=zid, field="geometry")
        out.append((zid, g))
    return out


def _sightings_frame(sightings: Any) -> tuple[pd.DataFrame, str | None]:
    if isinstance(sightings, str | Path):
        from overflight.tracks import read_tracks

        df, _ = read_tracks(sightings)
        return df, str(sightings)
    if not isinstance(sightings, pd.DataFrame):
        raise InputError("sightings must be a track table (DataFrame) or a file path", field="sightings")
    return sightings, None


def _resolve_places(df: pd.DataFrame, pos_err_col: str, file: str | None) -> pd.DataFrame:
    """Fill lon/lat of rows that only name a place, with the place's extent as position error."""
    if "place" not in df.columns:
        return df
    need = df["place"].notna() & (df["lon"].isna() | df["lat"].isna())
    if not need.any():
        return df
    from overflight import gazetteer

    df = df.copy()
    for idx in np.flatnonzero(need.to_numpy()):
        label = df.index[int(idx)]
        name = str(df["place"].iloc[idx])
        try:
            place = gazetteer.resolve(name)
        except Exception as exc:  # the gazetteer raises its own errors: name the row here
            raise InputError(f"cannot resolve place {name!r}: {exc}", file=file, row=int(idx), field="place") from None
        df.loc[label, "lon"], df.loc[label, "lat"] = float(place.lon), float(place.lat)
        extent = float(getattr(place, "extent_m", 0.0) or getattr(place, "radius_m", 0.0) or 0.0)
        cur = df[pos_err_col].iloc[idx] if pos_err_col in df.columns else np.nan
        if not np.isfinite(cur) if isinstance(cur, float) else pd.isna(cur):
            df.loc[label, pos_err_col] = extent
    return df


def make_pairs(
    sightings: Any, *, pos_err_col: str = "pos_err_m", time_err_col: str = "time_err_s",
) -> Pairs:
    """Consecutive pairs (by time) within each ``track_id`` of a sightings table or file."""
    df, file = _sightings_frame(sightings)
    for col in ("time", "lon", "lat"):
        if col not in df.columns:
            raise InputError(f"sightings need a {col!r} column", file=file, field=col)
    if "track_id" not in df.columns:
        df = df.assign(track_id="track")
    df = _resolve_places(df, pos_err_col, file)
    t = df["time"]
    if not isinstance(t.dtype, pd.DatetimeTZDtype):
        try:
            t = pd.to_datetime(t, utc=False)
        except (TypeError, ValueError) as exc:
            raise InputError(f"cannot read times: {exc}", file=file, field="time") from None
        if not isinstance(t.dtype, pd.DatetimeTZDtype):
            raise InputError("times must be timezone-aware (e.g. 2024-06-21T01:40Z)", file=file, field="time")
    t = t.dt.tz_convert("UTC")
    lon = pd.to_numeric(df["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(df["lat"], errors="coerce").to_numpy(dtype=float)
    for name, arr, lim in (("lon", lon, 540.0), ("lat", lat, 90.0)):
        bad = ~np.isfinite(arr) | (np.abs(arr) > lim)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"bad coordinate {df[name].iloc[i]!r}", file=file, row=i, field=name)
    if t.isna().any():
        i = int(np.flatnonzero(t.isna().to_numpy())[0])
        raise InputError("missing time", file=file, row=i, field="time")

    def err(col: str) -> FloatArray:
        if col not in df.columns:
            return np.zeros(len(df))
        raw = df[col]
        # An empty cell means "no error given" (0); text that is not a finite number ('abc', 'nan') is an error.
        blank = raw.isna().to_numpy() | (raw.astype("str").str.strip() == "").to_numpy()
        v = pd.to_numeric(raw.where(~blank), errors="coerce").to_numpy(dtype=float)
        v = np.where(blank, 0.0, v)
        if (v < 0).any() or not np.isfinite(v).all():
            i = int(np.flatnonzero((v < 0) | ~np.isfinite(v))[0])
            raise InputError(f"error must be a non-negative number, got {df[col].iloc[i]!r}", file=file, row=i,
                             field=col)
        return v

    r, e = err(pos_err_col), err(time_err_col)
    tid = df["track_id"].astype(str).to_numpy()
    ns = t.dt.as_unit("ns").astype("int64").to_numpy() if hasattr(t.dt, "as_unit") else t.astype("int64").to_numpy()
    order = np.lexsort((ns, tid))
    tid_s, ns_s = tid[order], ns[order]
    same = tid_s[1:] == tid_s[:-1]
    a, b = order[:-1][same], order[1:][same]
    labels = df.index.to_numpy()
    return Pairs(
        track_id=tid[a], from_index=labels[a], to_index=labels[b],
        lon1=lon[a], lat1=lat[a], lon2=lon[b], lat2=lat[b], r1=r[a], r2=r[b],
        dt=(ns_s[1:][same] - ns_s[:-1][same]) / 1e9, e=e[a] + e[b], t1_ns=ns[a], t2_ns=ns[b],
    )


# --------------------------------------------------------------------------------------- zone caps


@dataclass
class _ZoneCaps:
    """Bounding caps of each zone and each of its polygon parts (true geodesic radii, padded)."""

    ids: list[str]
    geoms: list[BaseGeometry]
    zone_u: FloatArray  # (nz, 3)
    zone_r: FloatArray  # (nz,)
    part_u: list[FloatArray]
    part_r: list[FloatArray]
    piece_u: list[FloatArray]  # caps of boundary pieces (<= PIECE vertices each)
    piece_r: list[FloatArray]
    edges: dict[int, ZoneEdges | None] = field(default_factory=dict)  # built on first use, for bulk settling
    timed: list[Any] = field(default_factory=list)  # per zone: the Zone when it has a validity period, else None
    source: Any = None  # the zones given (a ZoneSet lets the membership index come from the cache)
    _index: ZoneIndex | None = None

    def zone_edges(self, z: int) -> ZoneEdges | None:
        if z not in self.edges:
            self.edges[z] = zone_edges(self.geoms[z])
        return self.edges[z]

    def period(self, z: int) -> Any:
        """The Zone object of a zone with a validity period (its ``active_at`` decides), else None."""
        return self.timed[z] if self.timed else None

    def index(self) -> ZoneIndex:
        """The ZoneIndex deciding which fixes lie in which zone (the one membership rule)."""
        if self._index is None:
            src = self.source
            ok = src is not None and hasattr(src, "provenance") and list(getattr(src, "ids", [])) == self.ids
            self._index = membership.zone_index(src if ok else self.geoms)
        return self._index


def _cap_of(coords: FloatArray) -> tuple[FloatArray, float]:
    u = unit(coords[:, 0], coords[:, 1])
    c = u.sum(axis=0)
    norm = float(np.linalg.norm(c))
    if norm < 1e-9:
        return np.array([0.0, 0.0, 1.0]), math.pi * R_SPHERE  # covers the globe
    c = c / norm
    clon = math.degrees(math.atan2(c[1], c[0]))
    clat = math.degrees(math.asin(max(-1.0, min(1.0, c[2]))))
    # Great-circle angles scaled by SPH_HI bound the true distances from above (a cap must cover, not fit):
    # one dot product per vertex instead of a geodesic inverse problem.
    cu = unit(clon, clat)
    rad = float(np.arccos(np.clip(u @ cu, -1, 1)).max())
    # Points on an edge are within half the edge's length of one of its ends.
    seg = float(np.arccos(np.clip(np.sum(u[:-1] * u[1:], axis=1), -1, 1)).max()) if len(coords) > 1 else 0.0
    return cu, (rad + seg / 2.0) * R_SPHERE * SPH_HI + 100.0


PIECE = 48


def _piece_caps(g: BaseGeometry) -> tuple[FloatArray, FloatArray]:
    """Caps covering every boundary ring of `g` in runs of PIECE edges (vectorised over all pieces)."""
    rings = shapely.get_rings(shapely.get_parts(g))
    starts, ends, coords_all = [], [], []
    off = 0
    for ring in rings:
        c = shapely.get_coordinates(ring)
        k = len(c)
        b = np.arange(0, max(k - 1, 1), PIECE)
        starts.append(off + b)
        ends.append(off + np.minimum(b + PIECE, k - 1) + 1)
        coords_all.append(c)
        off += k
    xy = np.vstack(coords_all)
    st, en = np.concatenate(starts), np.concatenate(ends)
    u = unit(xy[:, 0], xy[:, 1])
    # Centre: normalised sum of each run's unit vectors (cumulative sums give every run at once).
    cs = np.vstack([np.zeros((1, 3)), np.cumsum(u, axis=0)])
    c = cs[en] - cs[st]
    c = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-15)
    owner = np.repeat(np.arange(len(st)), en - st)
    idx = np.concatenate([np.arange(a, b) for a, b in zip(st, en, strict=True)])
    ang = np.arccos(np.clip(np.sum(u[idx] * c[owner], axis=1), -1, 1))
    rad = np.zeros(len(st))
    np.maximum.at(rad, owner, ang)
    # Great-circle radius to true metres (upper bound), plus margin for straight lon/lat edges between vertices.
    seg = np.arccos(np.clip(np.sum(u[:-1] * u[1:], axis=1), -1, 1))
    seg = np.append(seg, 0.0)
    segmax = np.zeros(len(st))
    np.maximum.at(segmax, owner, seg[idx])
    return c, (rad + segmax / 2) * R_SPHERE * SPH_HI * 1.001 + 200.0


def zone_caps(items: list[tuple[str, BaseGeometry]], source: Any = None) -> _ZoneCaps:
    """Bounding caps for a list of (id, geometry); `source`, the zones they came from (Zone objects carry
    the validity periods, a ZoneSet lets the membership index come from the cache)."""
    zu, zr, pu, pr, qu, qr = [], [], [], [], [], []
    for _, g in items:
        if g.geom_type in ("Polygon", "MultiPolygon"):
            cu_, cr_ = _piece_caps(g)
        else:
            pts = shapely.get_coordinates(g)
            cu_, cr_ = unit(pts[:, 0], pts[:, 1]), np.full(len(pts), 1.0)
        qu.append(cu_)
        qr.append(cr_)
        parts = [p for p in shapely.get_parts(g) if not p.is_empty]
        us, rs = [], []
        for p in parts:
            coords = shapely.get_coordinates(p.exterior if p.geom_type == "Polygon" else p)
            cu, cr = _cap_of(coords)
            us.append(cu)
            rs.append(cr)
        cu, cr = _cap_of(shapely.get_coordinates(g))
        zu.append(cu)
        zr.append(max(cr, max(rs)))
        pu.append(np.array(us))
        pr.append(np.array(rs))
    caps = _ZoneCaps([i for i, _ in items], [g for _, g in items], np.array(zu), np.array(zr), pu, pr, qu, qr)
    if source is not None and not isinstance(source, Mapping | pd.DataFrame) and isinstance(source, Iterable):
        zl = list(source)
        if [str(getattr(z, "id", None)) for z in zl] == caps.ids:
            caps.timed = [z if period_ns(z) is not None else None for z in zl]
            caps.source = source
    return caps


def _focal_lb(u1: FloatArray, u2: FloatArray, cu: FloatArray, cr: FloatArray) -> FloatArray:
    """Lower bound on min over a cap of d(p1, x) + d(x, p2): true distance >= SPH_LO x great-circle distance."""
    # In place (same arithmetic, same order as SPH_LO * R * (a1 + a2) * (1 - 1e-9) - 2 cr): this runs over
    # every pair x cap, and temporaries dominate its cost.
    a1 = np.asarray(u1 @ cu.T, dtype=np.float64)
    np.arccos(np.clip(a1, -1.0, 1.0, out=a1), out=a1)
    a2 = np.asarray(u2 @ cu.T, dtype=np.float64)
    np.arccos(np.clip(a2, -1.0, 1.0, out=a2), out=a2)
    a1 += a2
    a1 *= SPH_LO * R_SPHERE
    a1 *= 1 - 1e-9
    a1 -= 2.0 * cr[None, :]
    return a1


# --------------------------------------------------------------------------------------- one pair, one zone


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
    res = shortest_avoiding(p1, p2, ll1, ll2, obst_a, gn.inv, limit=limit, target=need, precise=precise,
                            scale_lo=scale_lo, hulls=hulls, graded=graded)
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


# --------------------------------------------------------------------------------------------- batch


def verdicts(
    sightings: Any, zones: Any, vmax: float, *, pos_err_col: str = "pos_err_m", time_err_col: str = "time_err_s",
    precise: bool = True, keep_impossible: bool = True, paths: dict[tuple[int, str], Any] | None = None,
) -> pd.DataFrame:
    """Prism verdicts for each consecutive pair of sightings in each track and each zone.

    Parameters
    ----------
    sightings : DataFrame or path
        A track table (``track_id``, ``time`` tz-aware, ``lon``, ``lat``; optional position error in metres
        and time error in seconds, ± each; a ``place`` column names a place for rows without coordinates)
        or a track file read with ``overflight.tracks.read_tracks``.
    zones : ZoneSet, iterable of Zone, or mapping id -> shapely geometry (lon/lat WGS84)
        Areas (or points). Zone objects with a validity period are entered only while in force
        (``overflight.analysis.prism.period``); altitude limits are not used.
    vmax : float
        Top speed in metres per second (``overflight.units.parse_speed("185kmh")``).
    pos_err_col, time_err_col : str
        Columns holding the position error radius (m) and time error (± s); missing means 0.
    precise : bool
        Refine detour and margin to 0.1 % (otherwise only as far as the verdict needs).
    keep_impossible : bool
        Keep rows whose verdict is ``impossible`` (most rows, for a world-wide zone set).
    paths : dict, optional
        If given, filled with ``(pair number, zone_id) -> (lon array, lat array)`` of each avoiding path
        found (for maps).

    Returns
    -------
    DataFrame
        Columns ``track_id, from_index, to_index, zone_id, verdict, budget_m, direct_m, detour_m, margin_m,
        detour_exact`` (indices are the sightings' index labels), ordered by pair then zone.
    """
    if not np.isfinite(vmax) or vmax <= 0:
        raise InputError(f"vmax must be a positive speed in m/s, got {vmax!r}", field="vmax")
    pairs = make_pairs(sightings, pos_err_col=pos_err_col, time_err_col=time_err_col)
    caps = zone_caps(_zone_items(zones), source=zones)
    return _verdicts_for_pairs(pairs, caps, vmax, precise=precise, keep_impossible=keep_impossible, paths=paths)


def _verdicts_for_pairs(
    pairs: Pairs, caps: _ZoneCaps, vmax: float, *, precise: bool, keep_impossible: bool,
    paths: dict[tuple[int, str], Any] | None = None, chunk: int = 4096, bulk: bool = True,
    stats: dict[str, int] | None = None,
) -> pd.DataFrame:
    """Verdicts for every (pair, zone); `bulk` settles what it can with ``fast.settle_zone`` (same verdicts,
    vectorised), `stats` (if given) counts the (pair, zone) combinations settled by each stage."""
    n, nz = len(pairs.lon1), len(caps.ids)
    st: dict[str, int] = {"caps": 0, "inside": 0, "bulk_impossible": 0, "bulk_possible": 0, "bulk_necessary": 0,
                          "evaluate": 0,
                          "inconsistent": 0}
    if n == 0 or nz == 0:
        return pd.DataFrame({c: [] for c in VERDICT_COLUMNS})
    budget = vmax * pairs.dt
    b_hi = vmax * (pairs.dt + pairs.e)
    r = pairs.r1 + pairs.r2
    direct = dist(pairs.lon1, pairs.lat1, pairs.lon2, pairs.lat2)
    verdict = np.full((n, nz), 0, dtype=np.int8)  # index into VERDICTS
    detour = np.full((n, nz), np.nan)
    margin = np.full((n, nz), np.nan)
    exact = np.zeros((n, nz), dtype=bool)
    u1, u2 = unit(pairs.lon1, pairs.lat1), unit(pairs.lon2, pairs.lat2)
    incons = direct - r > b_hi
    for s in range(0, n, chunk):
        sl = slice(s, min(s + chunk, n))
        lb = _focal_lb(u1[sl], u2[sl], caps.zone_u, caps.zone_r)
        need = (b_hi[sl] + r[sl])[:, None]
        cand = lb <= need
        for z in np.flatnonzero(cand.any(axis=0)):
            rows = np.flatnonzero(cand[:, z])
            plb = _focal_lb(u1[sl][rows], u2[sl][rows], caps.part_u[z], caps.part_r[z]).min(axis=1)
            lb[rows, z] = np.maximum(lb[rows, z], plb)
        cand = lb <= need
        # Which fixes lie in which zone: the one membership rule (ZoneIndex), for every fix of the chunk.
        m1 = membership.members(pairs.lon1[sl], pairs.lat1[sl], caps.geoms, index=caps.index())
        m2 = membership.members(pairs.lon2[sl], pairs.lat2[sl], caps.geoms, index=caps.index())
        # Fixes inside a zone (no position error) settle "necessary" without geometry work (zones with a
        # validity period: only while in force, decided pair by pair below).
        inside = np.zeros_like(cand)
        for z in np.flatnonzero(cand.any(axis=0)):
            rows = np.flatnonzero(cand[:, z])
            g = caps.geoms[z]
            if g.geom_type not in ("Polygon", "MultiPolygon"):
                continue
            gi = s + rows
            ins = (m1[rows, z] & (pairs.r1[gi] == 0)) | (m2[rows, z] & (pairs.r2[gi] == 0))
            if caps.period(int(z)) is None:
                inside[rows[ins], z] = True
            # The ellipse far from every boundary piece and no fix inside: the zone is out of reach (a fix
            # inside with a position error keeps the pair: its whole ellipse may lie in the zone).
            rest = rows[~(m1[rows, z] | m2[rows, z])]
            if rest.size:
                blb = _focal_lb(u1[sl][rest], u2[sl][rest], caps.piece_u[z], caps.piece_r[z]).min(axis=1)
                lb[rest, z] = np.maximum(lb[rest, z], blb)
                # No boundary in reach: a fix inside would have been found above, so the zone is missed.
        cand &= (lb <= need) | inside
        nec_in = inside & ~incons[sl][:, None]
        if nec_in.any():
            fi = np.broadcast_to((b_hi[sl] - (direct[sl] - r[sl]))[:, None], lb.shape)
            verdict[sl][nec_in] = VERDICTS.index("necessary")
            detour[sl][nec_in] = np.inf
            margin[sl][nec_in] = fi[nec_in]
            exact[sl][nec_in] = True
        cand &= ~inside
        far = ~cand & ~inside
        blk_d = direct[sl][:, None]
        flip_incons = (b_hi[sl] - (direct[sl] - r[sl]))[:, None]
        verdict[sl][far] = 0
        detour[sl][far] = np.broadcast_to(np.maximum(lb, 0.0), lb.shape)[far]
        margin[sl][far] = np.minimum(lb - need, flip_incons)[far]
        del blk_d
        cand &= ~incons[sl][:, None]
        st["caps"] += int((far & ~incons[sl][:, None]).sum())
        st["inside"] += int(nec_in.sum())
        if bulk:
            lim_all = np.maximum(EXACT_FACTOR * need[:, 0], need[:, 0] + 1000.0)
            for z in np.flatnonzero(cand.any(axis=0)):
                ze = caps.zone_edges(int(z))
                if ze is None or caps.period(int(z)) is not None:
                    continue
                rows = np.flatnonzero(cand[:, z])
                gi = s + rows
                lim = lim_all[rows]
                go = (lim + direct[gi]) / 2.0 + r[gi] <= MAX_REACH_M
                rows, gi, lim = rows[go], gi[go], lim[go]
                status, det, mar, ex = settle_zone(
                    pairs.lon1[gi], pairs.lat1[gi], pairs.lon2[gi], pairs.lat2[gi], pairs.r1[gi], pairs.r2[gi],
                    b_hi[gi], direct[gi], lim, caps.geoms[z], ze, precise=precise,
                    two_leg=not precise and paths is None)
                done = status != 0
                code = np.array([0, VERDICTS.index("impossible"), VERDICTS.index("possible"),
                                 VERDICTS.index("necessary")], dtype=np.int8)
                verdict[gi[done], z] = code[status[done]]
                detour[gi[done], z], margin[gi[done], z], exact[gi[done], z] = det[done], mar[done], ex[done]
                cand[rows[done], z] = False
                st["bulk_impossible"] += int((status == SETTLE_IMPOSSIBLE).sum())
                st["bulk_possible"] += int((status == SETTLE_POSSIBLE).sum())
                st["bulk_necessary"] += int((status == SETTLE_NECESSARY).sum())
        st["evaluate"] += int(cand.sum())
        for i_loc, z in zip(*np.nonzero(cand), strict=True):
            i = s + int(i_loc)
            if incons[i]:
                continue
            ins = (bool(m1[i_loc, z]), bool(m2[i_loc, z]))
            per = caps.period(int(z))
            if per is not None:
                ev = _evaluate_in_period(pairs, i, caps.geoms[z], per, vmax, float(b_hi[i]), float(direct[i]),
                                         ins, precise)
            else:
                ev = evaluate(float(pairs.lon1[i]), float(pairs.lat1[i]), float(pairs.lon2[i]),
                              float(pairs.lat2[i]), caps.geoms[z], budget_hi=float(b_hi[i]), r1=float(pairs.r1[i]),
                              r2=float(pairs.r2[i]), precise=precise, direct=float(direct[i]), inside=ins)
            verdict[i, z] = VERDICTS.index(ev.verdict)
            detour[i, z], margin[i, z], exact[i, z] = ev.detour, ev.margin, ev.exact
            if paths is not None and ev.path_lon is not None and len(ev.path_lon) > 2:
                paths[(i, caps.ids[z])] = (ev.path_lon, ev.path_lat)
    st["inconsistent"] += int(incons.sum()) * nz
    if stats is not None:
        for k, v in st.items():
            stats[k] = stats.get(k, 0) + v
    verdict[incons, :] = VERDICTS.index("inconsistent")
    detour[incons, :] = np.nan
    margin[incons, :] = (direct - r - b_hi)[incons, None]
    exact[incons, :] = True
    zone_cats = list(dict.fromkeys(caps.ids))
    zone_pos = {z: k for k, z in enumerate(zone_cats)}
    zone_codes = np.array([zone_pos[z] for z in caps.ids], dtype=np.int32)
    # One construction over fresh arrays (copy=False: nothing else holds them); the track ids are typed
    # once per pair, then repeated, instead of inferring the type of n x nz objects.
    tid = pd.Series(pairs.track_id).array.take(np.repeat(np.arange(n), nz))
    out = pd.DataFrame({
        "track_id": tid,
        "from_index": np.repeat(pairs.from_index, nz),
        "to_index": np.repeat(pairs.to_index, nz),
        "zone_id": pd.Categorical.from_codes(np.tile(zone_codes, n), categories=pd.Index(zone_cats)),
        "verdict": pd.Categorical.from_codes(verdict.ravel(), categories=pd.Index(list(VERDICTS))),
        "budget_m": np.repeat(budget, nz),
        "direct_m": np.repeat(direct, nz),
        "detour_m": detour.ravel(),
        "margin_m": margin.ravel(),
        "detour_exact": exact.ravel(),
    }, copy=False)
    if not keep_impossible:
        out = out[out["verdict"] != "impossible"].reset_index(drop=True)
    return out


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


SUMMARY_ORDER = ("inconsistent", "necessary", "impossible", "possible")


def summarize(verdicts_df: pd.DataFrame, by: tuple[str, ...] = ("track_id", "zone_id")) -> pd.DataFrame:
    """Combine pair verdicts per track and zone.

    Rule, in order: ``inconsistent`` if any pair is inconsistent (a fix or the speed is wrong, and every
    other verdict of the track rests on them); ``necessary`` if any pair is necessary (the object must have
    been in the zone during that gap); ``impossible`` if every pair is impossible; ``possible`` otherwise.
    Also counts the pairs per verdict and gives the smallest margin among the pairs with the summary verdict.
    """
    if verdicts_df.empty:
        return pd.DataFrame(columns=[*by, "verdict", "n_pairs", *(f"n_{v}" for v in VERDICTS), "margin_m"])
    df = verdicts_df.copy()
    df["verdict"] = df["verdict"].astype(str)
    counts = pd.crosstab([df[c].astype(str) for c in by], df["verdict"]).reindex(columns=list(VERDICTS), fill_value=0)
    counts.columns = [f"n_{c}" for c in counts.columns]
    counts["n_pairs"] = counts.sum(axis=1)
    v = np.where(counts["n_inconsistent"] > 0, "inconsistent",
        np.where(counts["n_necessary"] > 0, "necessary",
        np.where(counts["n_impossible"] == counts["n_pairs"], "impossible", "possible")))
    counts["verdict"] = v
    key = [df[c].astype(str) for c in by]
    mm = df.assign(**{c: k for c, k in zip(by, key, strict=True)})
    merged = mm.merge(counts[["verdict"]].rename(columns={"verdict": "summary"}), left_on=list(by), right_index=True)
    mins = merged[merged["verdict"] == merged["summary"]].groupby(list(by))["margin_m"].min()
    counts["margin_m"] = mins.reindex(counts.index)
    out = counts.reset_index()
    return out[[*by, "verdict", "n_pairs", *(f"n_{v}" for v in VERDICTS), "margin_m"]]


__all__ = [
    "EXACT_FACTOR",
    "MAX_REACH_M",
    "PIECE",
    "SUMMARY_ORDER",
    "VERDICTS",
    "VERDICT_COLUMNS",
    "Evaluation",
    "Pairs",
    "evaluate",
    "make_pairs",
    "summarize",
    "verdicts",
    "zone_caps",
]
