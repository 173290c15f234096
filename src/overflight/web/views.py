"""What the web app shows, computed from a case: plain JSON-able dicts and GeoJSON, no web framework here.

Each function takes an open `Case` and returns data for one panel or map layer. Geometry is simplified for
the requested zoom (one screen pixel is ``360 / (256 * 2**zoom)`` degrees), and tracks are decimated to at
most one fix per pixel per track inside the requested time window, so a case with millions of fixes
answers a pan with a few thousand.
"""

from __future__ import annotations

import itertools
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from overflight.errors import InputError

if TYPE_CHECKING:
    from overflight.case.store import Case
    from overflight.zones import Zone

MAX_ZOOM = 14
TRACK_POINT_CAP = 200_000  # fixes per answer at most (after per-pixel decimation), so a browser never stalls


def _iso(t: Any) -> str | None:
    if t is None:
        return None
    ts = pd.Timestamp(t)
    if pd.isna(ts):
        return None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return str(ts.strftime("%Y-%m-%dT%H:%M:%SZ"))


def pixel_deg(zoom: float) -> float:
    """Degrees of longitude per screen pixel at a web-map zoom level (256-pixel tiles)."""
    return float(360.0 / (256.0 * 2.0 ** max(0.0, min(float(zoom), MAX_ZOOM))))


def parse_time(value: str | None, field: str) -> pd.Timestamp | None:
    """An ISO 8601 time from a query parameter (UTC when it carries no offset); InputError otherwise."""
    if value is None or value == "":
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise InputError(f"not an ISO 8601 time: {value!r}", field=field) from None
    if pd.isna(ts):
        raise InputError(f"not an ISO 8601 time: {value!r}", field=field)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    """``west,south,east,north`` in degrees, or None."""
    if not value:
        return None
    try:
        w, s, e, n = (float(x) for x in value.split(","))
    except ValueError:
        raise InputError(f"bbox must be west,south,east,north in degrees, not {value!r}", field="bbox") from None
    if not (all(map(math.isfinite, (w, s, e, n))) and -90 <= s <= n <= 90 and w <= e):
        raise InputError(f"bbox out of range: {value!r}", field="bbox")
    return w, s, e, n


def _feature(geom: Any, props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": json.loads(shapely.to_geojson(geom)), "properties": props}


def _fc(features: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features, **extra}


# ------------------------------------------------------------------------------------------ summary

def summary(case: Case) -> dict[str, Any]:
    """Counts, datasets, time extent, bounding box and whether any data is illustrative."""
    con = case.con
    counts = case.counts()
    t = con.execute("SELECT min(time), max(time), min(lon), min(lat), max(lon), max(lat), "
                    "bool_or(illustrative) FROM tracks").fetchone()
    o = con.execute("SELECT min(time_start), max(coalesce(time_end, time_start)), min(lon), min(lat), max(lon), "
                    "max(lat), bool_or(illustrative) FROM observations").fetchone()
    c = con.execute("SELECT min(window_start), max(window_end), min(date_made), max(date_made) FROM claims"
                    ).fetchone()
    assert t is not None and o is not None and c is not None
    times = [x for x in (t[0], t[1], o[0], o[1], c[0], c[1]) if x is not None]
    boxes = [b for b in ((t[2], t[3], t[4], t[5]), (o[2], o[3], o[4], o[5])) if b[0] is not None]
    bbox = [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
            max(b[3] for b in boxes)] if boxes else None
    datasets = [{"dataset": r[0], "tracks": int(r[1]), "fixes": int(r[2]), "illustrative": bool(r[3])}
                for r in con.execute("SELECT dataset, count(DISTINCT track_id), count(*), bool_or(illustrative) "
                                     "FROM tracks GROUP BY dataset ORDER BY dataset").fetchall()]
    zones = [{"id": r[0], "name": r[1], "kind": r[2], "set": r[3]}
             for r in con.execute("SELECT id, name, kind, set_name FROM zones ORDER BY kind, id").fetchall()]
    return {
        "path": str(case.path), "meta": case.meta(), "counts": counts,
        "extent": {"start": _iso(min(times)) if times else None, "end": _iso(max(times)) if times else None,
                   "bbox": bbox},
        "illustrative": bool(t[6]) or bool(o[6]), "datasets": datasets, "zones": zones,
        "claims_dates": [_iso(c[2]), _iso(c[3])],
    }


# ------------------------------------------------------------------------------------------ zones

@dataclass
class ZoneLayer:
    """The case's zones with their overlaps (disputed areas), simplified per zoom on demand and cached;
    zones with a validity period are shown only for windows in which they are in force (`in_force`)."""

    ids: list[str]
    names: list[str]
    kinds: list[str]
    sets: list[str]
    geoms: np.ndarray
    properties: list[dict[str, Any]]
    overlaps: list[tuple[str, str, Any]]
    _cache: dict[int, dict[str, Any]]
    periods: dict[str, Zone] = field(default_factory=dict)  # the zones with a validity period, by id

    @classmethod
    def from_case(cls, case: Case) -> ZoneLayer:
        from overflight.zones import Zone

        rows = case.con.execute("SELECT id, name, kind, set_name, geometry, properties, valid_from, valid_to "
                                "FROM zones ORDER BY id").fetchall()
        geoms = shapely.from_wkb([r[4] for r in rows]) if rows else np.array([], dtype=object)
        props = [json.loads(r[5] or "{}") for r in rows]
        periods = {r[0]: Zone(id=r[0], name=r[1] or r[0], kind=r[2] or "", geometry=g, valid_from=r[6],
                              valid_to=r[7]) for r, g in zip(rows, geoms, strict=True) if r[6] or r[7]}
        # Disputed areas: two areal zones of the same kind (states) that overlap, e.g. Crimea in RUS and UKR.
        overlaps: list[tuple[str, str, Any]] = []
        areal = [i for i, g in enumerate(geoms) if g.geom_type in ("Polygon", "MultiPolygon")]
        if areal:
            tree = shapely.STRtree(geoms[areal])
            a, b = tree.query(geoms[areal], predicate="intersects")
            for i, j in zip(a, b, strict=True):
                ia, ib = areal[i], areal[j]
                if ia >= ib or rows[ia][2] != rows[ib][2]:
                    continue
                inter = shapely.intersection(geoms[ia], geoms[ib])
                if shapely.area(inter) > 0:
                    overlaps.append((rows[ia][0], rows[ib][0], inter))
        return cls([r[0] for r in rows], [r[1] or r[0] for r in rows], [r[2] or "" for r in rows],
                   [r[3] or "" for r in rows], geoms, props, overlaps, {}, periods)

    def geojson(self, zoom: float, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None
                ) -> dict[str, Any]:
        z = int(max(0, min(MAX_ZOOM, math.floor(zoom))))
        if z not in self._cache:
            tol = pixel_deg(z)
            simple = shapely.simplify(self.geoms, tol, preserve_topology=True) if len(self.geoms) else self.geoms
            disputed = {i for pair in self.overlaps for i in pair[:2]}
            feats = []
            for zid, name, kind, set_name, g, p in zip(self.ids, self.names, self.kinds, self.sets, simple,
                                                     self.properties, strict=True):
                per = self.periods.get(zid)
                feats.append(_feature(g, {"layer": "zone", "id": zid, "name": name, "kind": kind, "set": set_name,
                                          "approximate": bool(p.get("approximate", False)),
                                          "disputed": zid in disputed,
                                          "valid_from": _iso(per.valid_from) if per else None,
                                          "valid_to": _iso(per.valid_to) if per else None}))
            for a, b, g in self.overlaps:
                feats.append(_feature(shapely.simplify(g, tol, preserve_topology=True),
                                      {"layer": "disputed", "id": f"{a}|{b}", "name": f"in both {a} and {b}",
                                       "kind": "disputed", "zones": [a, b]}))
            self._cache[z] = _fc(feats, zoom=z, tolerance_deg=tol)
        fc = self._cache[z]
        if not self.periods or (start is None and end is None):
            return fc
        off = {zid for zid, zone in self.periods.items() if not in_force(zone, start, end)}
        keep = [f for f in fc["features"] if f["properties"]["id"] not in off
                and not set(f["properties"].get("zones") or ()) & off]
        return {**fc, "features": keep, "not_in_force": sorted(off)}


def basemap(name: str = "ne-admin0") -> ZoneLayer:
    """The embedded boundary set as a base map (drawn under the case's own zones when it has no states)."""
    from overflight import boundaries

    zs = boundaries.load(name)
    geoms = np.array(list(zs.geometries()), dtype=object)
    return ZoneLayer(list(zs.ids), [z.name for z in zs], [z.kind for z in zs], [name] * len(zs), geoms,
                     [{} for _ in zs], [], {})


def in_force(zone: Zone, start: pd.Timestamp | None, end: pd.Timestamp | None) -> bool:
    """Is the zone in force at some instant of the window [start, end]? (``Zone.active_at`` at the window's
    first instant not before the zone's ``valid_from``: the validity rule of every analysis.)"""
    if not zone.is_timed:
        return True
    t = start
    if zone.valid_from is not None:
        vf = pd.Timestamp(zone.valid_from)
        vf = vf.tz_localize("UTC") if vf.tzinfo is None else vf
        t = vf if t is None or vf > t else t
    if t is None:
        t = end
    if t is None:
        return True
    if end is not None and t > end:
        return False
    return bool(zone.active_at([t])[0])


# ------------------------------------------------------------------------------------------ tracks

@dataclass
class TrackLayer:
    """Every stored fix as arrays sorted by (track, time), so a window and a zoom cut them without a query."""

    track_ids: np.ndarray  # names, one per track
    code: np.ndarray  # int32 track number per fix
    t: np.ndarray  # int64 ns since the epoch
    lon: np.ndarray
    lat: np.ndarray
    illustrative: np.ndarray  # bool per track
    max_gap_s: float

    @classmethod
    def from_case(cls, case: Case, max_gap_s: float = 600.0) -> TrackLayer:
        df = case.con.execute("SELECT track_id, epoch_ns(time) AS t, lon, lat, illustrative FROM tracks "
                              "ORDER BY track_id, time").df()
        tid = df["track_id"].astype(str).to_numpy()
        if len(tid):
            names, code = np.unique(tid, return_inverse=True)
        else:
            names, code = np.array([], dtype=str), np.array([], dtype=np.int32)
        ill_per = np.zeros(len(names), dtype=bool)
        if len(tid):
            np.logical_or.at(ill_per, code, df["illustrative"].fillna(False).to_numpy(dtype=bool))
        return cls(names, code.astype(np.int32), df["t"].to_numpy(dtype=np.int64),
                   df["lon"].to_numpy(dtype=np.float64), df["lat"].to_numpy(dtype=np.float64), ill_per, max_gap_s)

    def window(self, start: pd.Timestamp | None, end: pd.Timestamp | None, zoom: float,
               bbox: tuple[float, float, float, float] | None = None, crossings: pd.DataFrame | None = None
               ) -> dict[str, Any]:
        """Tracks inside [start, end] as lines (observed stretches) and dashed gaps (unobserved stretches).

        Decimation keeps a fix when it falls in another pixel cell than the fix kept before it on its track
        (vectorised: one comparison per fix), always keeps both ends of every gap, then thins evenly to
        `TRACK_POINT_CAP`. A bbox keeps the fixes inside it (padded) and their neighbours.
        """
        n_all = len(self.t)
        m = np.ones(n_all, dtype=bool)
        if start is not None:
            m &= self.t >= start.value
        if end is not None:
            m &= self.t <= end.value
        if bbox is not None:
            w, s, e, n = bbox
            pad_x, pad_y = (e - w) * 0.5, (n - s) * 0.5
            inside = (self.lon >= w - pad_x) & (self.lon <= e + pad_x) & (self.lat >= s - pad_y) & (
                self.lat <= n + pad_y)
            near = inside.copy()
            near[1:] |= inside[:-1]
            near[:-1] |= inside[1:]
            m &= near
        idx = np.flatnonzero(m)
        code, t, lon, lat = self.code[idx], self.t[idx], self.lon[idx], self.lat[idx]
        px = pixel_deg(zoom) * 2.0
        cx = np.floor(lon / px).astype(np.int64)
        cy = np.floor(lat / px).astype(np.int64)
        new_track = np.ones(len(idx), dtype=bool)
        new_track[1:] = (code[1:] != code[:-1]) | (idx[1:] != idx[:-1] + 1)
        gap_after = np.zeros(len(idx), dtype=bool)
        gap_after[:-1] = ~new_track[1:] & ((t[1:] - t[:-1]) > self.max_gap_s * 1e9)
        gap_before = np.zeros(len(idx), dtype=bool)
        gap_before[1:] = gap_after[:-1]
        last = np.zeros(len(idx), dtype=bool)
        last[:-1] = new_track[1:]
        if len(idx):
            last[-1] = True
        moved = np.ones(len(idx), dtype=bool)
        moved[1:] = (cx[1:] != cx[:-1]) | (cy[1:] != cy[:-1])
        keep = new_track | last | gap_after | gap_before | moved
        must = new_track | last | gap_after | gap_before
        k = np.flatnonzero(keep)
        if len(k) > TRACK_POINT_CAP:
            stride = math.ceil(len(k) / TRACK_POINT_CAP)
            sel = np.zeros(len(k), dtype=bool)
            sel[::stride] = True
            k = k[sel | must[k]]
        feats: list[dict[str, Any]] = []
        kc, kt, kx, ky, kgap, knew = code[k], t[k], lon[k], lat[k], gap_after[k], new_track[k]
        # Split into runs: a new track/stretch starts at knew, and after every gap.
        cut = np.flatnonzero(knew[1:] | kgap[:-1]) + 1 if len(k) > 1 else np.array([], dtype=np.int64)
        for a, b in zip(np.r_[0, cut], np.r_[cut, len(k)], strict=True):
            if b - a < 1:
                continue
            tr = int(kc[a])
            coords = np.c_[np.rad2deg(np.unwrap(np.deg2rad(kx[a:b]))), ky[a:b]].round(5).tolist()
            if len(coords) == 1:
                coords = coords * 2
            feats.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords},
                          "properties": {"layer": "track", "id": str(self.track_ids[tr]),
                                         "illustrative": bool(self.illustrative[tr]),
                                         "start": _iso(pd.Timestamp(int(kt[a]), tz="UTC")),
                                         "end": _iso(pd.Timestamp(int(kt[b - 1]), tz="UTC"))}})
        for g in np.flatnonzero(kgap[:-1]) if len(k) > 1 else []:
            tr = int(kc[g])
            feats.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": [
                [round(float(kx[g]), 5), round(float(ky[g]), 5)], [round(float(kx[g + 1]), 5),
                                                                    round(float(ky[g + 1]), 5)]]},
                "properties": {"layer": "gap", "id": str(self.track_ids[tr]), "illustrative": bool(
                    self.illustrative[tr]), "start": _iso(pd.Timestamp(int(kt[g]), tz="UTC")),
                    "end": _iso(pd.Timestamp(int(kt[g + 1]), tz="UTC")),
                    "note": f"unobserved: no fix for more than {self.max_gap_s / 60:.0f} min, path unknown"}})
        if crossings is not None and not crossings.empty:
            feats.extend(_crossing_features(crossings, start, end))
        return _fc(feats, fixes_in_window=len(idx), fixes_sent=len(k), fixes_total=int(n_all))


def latest_transit(case: Case) -> pd.DataFrame | None:
    """The visits of the most recent transit run (None without one)."""
    runs = [r for r in case.runs() if r.kind == "transit"]
    if not runs:
        return None
    df = case.run_results(runs[-1].id)
    df["run_id"] = runs[-1].id
    df["row"] = np.arange(len(df))
    return df


def _crossing_features(v: pd.DataFrame, start: pd.Timestamp | None, end: pd.Timestamp | None
                       ) -> list[dict[str, Any]]:
    out = []
    for side in ("entry", "exit"):
        tt = pd.to_datetime(v[f"{side}_time"], utc=True)
        kind = v[f"{side}_kind"]
        m = (kind == "crossing").to_numpy().copy()
        if start is not None:
            m &= (tt >= start).to_numpy()
        if end is not None:
            m &= (tt <= end).to_numpy()
        for r, when in zip(v[m].to_dict("records"), tt[m], strict=True):
            out.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [
                float(r[f"{side}_lon"]), float(r[f"{side}_lat"])]},
                "properties": {"layer": "crossing", "id": f"{r['run_id']}:{r['row']}:{side}",
                               "track": str(r["track_id"]), "zone": str(r["zone_id"]), "side": side,
                               "time": _iso(when), "observed": bool(r["observed"]),
                               "disputed": bool(r["disputed"]), "run": r["run_id"], "row": int(r["row"])}})
    return out


# ------------------------------------------------------------------------------------------ observations

def _overlaps(a0: pd.Series, a1: pd.Series, start: pd.Timestamp | None, end: pd.Timestamp | None) -> np.ndarray:
    """Intervals [a0, a1] that meet the window [start, end] (an interval, not an instant)."""
    m = np.ones(len(a0), dtype=bool)
    if start is not None:
        m &= (a1.fillna(a0) >= start).to_numpy()
    if end is not None:
        m &= (a0 <= end).to_numpy()
    return m


def observations(case: Case, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None
                 ) -> dict[str, Any]:
    """Observations meeting the window: a point each, and a position-error disc where the error is known."""
    from overflight.geodesy import circle

    df = case.observations_frame()
    feats: list[dict[str, Any]] = []
    if df.empty:
        return _fc(feats)
    t0 = pd.to_datetime(df["time_start"], utc=True)
    t1 = pd.to_datetime(df["time_end"], utc=True)
    keep = _overlaps(t0, t1, start, end) & df["lon"].notna().to_numpy() & df["lat"].notna().to_numpy()
    for r, a, b in zip(df[keep].to_dict("records"), t0[keep], t1[keep], strict=True):
        props = {"layer": "observation", "id": r["id"], "kind": r["kind"], "source": r["source_id"],
                 "start": _iso(a), "end": _iso(b if not pd.isna(b) else a), "precision_m": r["precision_m"],
                 "area": r["area"], "description": r["description"] or "", "illustrative": bool(r["illustrative"]),
                 "credibility": int(r["credibility"]) if r["credibility"] is not None else None}
        props = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in props.items()}
        feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
                      "properties": props})
        p = r["precision_m"]
        if p is not None and math.isfinite(p) and p > 0:
            disc = circle(float(r["lon"]), float(r["lat"]), float(p), max_error_m=max(1.0, float(p) / 200))
            feats.append(_feature(disc, {**props, "layer": "disc"}))
    return _fc(feats)


def in_window(fc: Mapping[str, Any], start: pd.Timestamp | None, end: pd.Timestamp | None) -> dict[str, Any]:
    """The features of `fc` whose [start, end] interval meets the window (features without times stay)."""
    if start is None and end is None:
        return dict(fc)
    feats = fc["features"]
    a = pd.to_datetime(pd.Series([f["properties"].get("start") for f in feats], dtype=object), utc=True)
    b = pd.to_datetime(pd.Series([f["properties"].get("end") for f in feats], dtype=object), utc=True).fillna(a)
    keep = _overlaps(a, b, start, end) | a.isna().to_numpy()
    return {**fc, "features": [f for f, k in zip(feats, keep, strict=True) if k]}


# ------------------------------------------------------------------------------------------ prisms

def prisms(case: Case, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None) -> dict[str, Any]:
    """The potential path areas (geodesic ellipses) of every prism run's sighting pairs, with their verdict."""
    from overflight.analysis.case_runs import sightings_frame
    from overflight.analysis.prism import InconsistentFixesWarning, ppa

    feats = []
    for run in case.runs():
        vmax = float(run.parameters.get("vmax_mps", 0) or 0)
        if run.kind != "prism" or vmax <= 0:
            continue
        s = sightings_frame(case, run.parameters)
        table = case.run_results(run.id)
        verdict_of: dict[tuple[int, int], list[str]] = {}
        for r in table.to_dict("records"):
            verdict_of.setdefault((int(r["from_index"]), int(r["to_index"])), []).append(
                f"{r['zone_id']}: {r['verdict']}")
        for group, g in s.groupby("track_id", sort=True):
            for (ia, a), (ib, b) in itertools.pairwise(list(g.iterrows())):
                ta, tb = pd.Timestamp(a["time"]), pd.Timestamp(b["time"])
                if (start is not None and tb < start) or (end is not None and ta > end):
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", InconsistentFixesWarning)  # no ellipse: nothing to draw
                    geom = ppa((a["lon"], a["lat"]), ta, (b["lon"], b["lat"]), tb, vmax, max_error_m=200.0)
                if geom.is_empty:
                    continue
                verdicts = verdict_of.get((int(ia), int(ib)), [])  # type: ignore[call-overload]
                feats.append(_feature(geom, {
                    "layer": "prism", "id": f"{run.id}:{group}:{ia}-{ib}", "run": run.id, "group": str(group),
                    "speed_kmh": round(vmax * 3.6), "start": _iso(ta), "end": _iso(tb), "pair": f"{ia}-{ib}",
                    "verdicts": verdicts, "illustrative": True if "ILL" in str(group) else None}))
    return _fc(feats)


def prism_paths(case: Case, run_id: str, pair: str) -> dict[str, Any]:
    """The avoiding paths of one sighting pair of a prism run (``pair`` = "from_index-to_index"), for every
    zone the run found it possible or necessary to enter (``overflight.analysis.prism.paths``)."""
    from overflight.analysis.case_runs import sightings_frame
    from overflight.analysis.prism.paths import avoiding_paths

    run = case.run(run_id)
    if run.kind != "prism":
        raise InputError(f"{run_id} is a {run.kind} run, not a prism run", field="run")
    try:
        ia, ib = (int(x) for x in pair.split("-"))
    except ValueError:
        raise InputError(f"pair must be FROM-TO sighting numbers, not {pair!r}", field="pair") from None
    table = case.run_results(run.id)
    rows = table[(table["from_index"] == ia) & (table["to_index"] == ib)]
    if rows.empty:
        raise InputError(f"{run_id} has no sighting pair {pair}", field="pair")
    zone_ids = sorted(set(rows["zone_id"][rows["verdict"].isin(["possible", "necessary"])].astype(str)))
    s = sightings_frame(case, run.parameters).loc[[ia, ib]]
    found = avoiding_paths(s.drop(columns=["observation", "object"]), case.zones(zone_ids) if zone_ids else [],
                           float(run.parameters["vmax_mps"])) if zone_ids else []
    feats = []
    for p in found:
        props = {"layer": "avoid", "id": f"{run.id}:{p.track_id}:{ia}-{ib}:{p.zone_id}", "run": run.id,
                 "zone": p.zone_id, "verdict": p.verdict, "kind": p.kind, "note": p.note, "budget_m": p.budget_m,
                 "length_m": p.length_m, "start": _iso(s.loc[ia, "time"]), "end": _iso(s.loc[ib, "time"])}
        geom = ({"type": "LineString", "coordinates": [[x, y] for x, y in zip(p.lon, p.lat, strict=True)]}
                if p.kind != "none" else None)
        feats.append({"type": "Feature", "geometry": geom, "properties": props})
    return _fc(feats, run=run.id, pair=pair)


def attribution(case: Case) -> dict[str, Any]:
    """The latest attribution run drawn: distance bands around its references, and the clusters of finds
    (convex hull of each cluster's points, with how many finds it holds)."""
    from overflight.geodesy import annulus

    runs = [r for r in case.runs() if r.kind == "attribution"]
    if not runs:
        return _fc([])
    run = runs[-1]
    feats = []
    for ref in run.parameters.get("references") or []:
        lo, hi = float(ref.get("min_km") or 0.0), ref.get("max_km")
        if hi is None:
            continue
        band = annulus(float(ref["lon"]), float(ref["lat"]), lo * 1000, float(hi) * 1000, max_error_m=500.0)
        feats.append(_feature(band, {"layer": "band", "id": f"{run.id}:band:{ref.get('name')}", "run": run.id,
                                     "name": f"{lo:g}-{float(hi):g} km from {ref.get('name')}"}))
    t = case.run_results(run.id)
    if {"lon", "lat", "cluster"} <= set(t.columns):
        for k, g in t[t["cluster"].astype(int) >= 0].groupby("cluster"):
            hull = shapely.convex_hull(shapely.multipoints(np.c_[g["lon"], g["lat"]]))
            hull = shapely.buffer(hull, 0.05) if hull.geom_type != "Polygon" else hull
            feats.append(_feature(hull, {"layer": "cluster", "id": f"{run.id}:cluster:{k}", "run": run.id,
                                         "finds": len(g), "members": [str(x) for x in g["id"]],
                                         "start": _iso(pd.to_datetime(g["time"], utc=True).min()) if "time" in g
                                         else None,
                                         "end": _iso(pd.to_datetime(g["time"], utc=True).max()) if "time" in g
                                         else None,
                                         "name": f"cluster {k}: {len(g)} finds", "illustrative": None}))
    return _fc(feats, run=run.id)


# ------------------------------------------------------------------------------------------ claims board

def _focus_of(case: Case, e: Any, cache: dict[str, Any]) -> dict[str, Any] | None:
    """Where and when an evidence item is: a bbox, a time window and the map features it names."""
    from overflight.analysis.case_runs import sightings_frame

    if e.observation_id:
        r = case.con.execute("SELECT lon, lat, time_start, coalesce(time_end, time_start) FROM observations "
                             "WHERE id = ?", [e.observation_id]).fetchone()
        if r and r[0] is not None:
            return {"bbox": [r[0], r[1], r[0], r[1]], "start": _iso(r[2]), "end": _iso(r[3]),
                    "features": [e.observation_id]}
    if not e.run_id or e.run_id not in cache.setdefault("runs", {r.id: r for r in case.runs()}):
        return None
    run = cache["runs"][e.run_id]
    table = cache.setdefault(f"rows:{run.id}", case.run_results(run.id))
    if run.kind == "transit" and e.result_row is not None and e.result_row < len(table):
        r = table.iloc[e.result_row]
        xs, ys = [r["entry_lon"], r["exit_lon"]], [r["entry_lat"], r["exit_lat"]]
        return {"bbox": [min(xs), min(ys), max(xs), max(ys)], "start": r["entry_time"], "end": r["exit_time"],
                "features": [str(r["track_id"]), str(r["zone_id"])]}
    if run.kind == "prism" and e.result_row is not None and e.result_row < len(table):
        r = table.iloc[e.result_row]
        s = cache.setdefault(f"s:{run.id}", sightings_frame(case, run.parameters))
        a, b = s.loc[int(r["from_index"])], s.loc[int(r["to_index"])]
        feats = [f"{run.id}:{r['track_id']}:{int(r['from_index'])}-{int(r['to_index'])}", str(r["zone_id"])]
        feats += [str(x) for x in (a.get("observation"), b.get("observation")) if isinstance(x, str)]
        return {"bbox": [min(a["lon"], b["lon"]), min(a["lat"], b["lat"]), max(a["lon"], b["lon"]),
                         max(a["lat"], b["lat"])], "start": _iso(a["time"]), "end": _iso(b["time"]),
                "features": feats}
    if run.kind == "attribution" and {"lon", "lat"} <= set(table.columns) and len(table):
        tt = pd.to_datetime(table["time"], utc=True) if "time" in table else None
        return {"bbox": [float(table["lon"].min()), float(table["lat"].min()), float(table["lon"].max()),
                         float(table["lat"].max())],
                "start": _iso(tt.min()) if tt is not None else None,
                "end": _iso(tt.max()) if tt is not None else None,
                "features": [str(x) for x in table["id"]] if "id" in table else []}
    return None


def claims_board(case: Case) -> list[dict[str, Any]]:
    """Every claim with claimant, date, source grade, scope, derived verdict, reasoning and evidence pool."""
    from overflight.report.build import claims_frame

    frame, reasoning = claims_frame(case)
    claims = case.claims()
    evidence = case.evidence()
    by_claim: dict[str, list[Any]] = {}
    for e in evidence:
        by_claim.setdefault(e.claim_id, []).append(e)
    cache: dict[str, Any] = {}
    focus = {e.id: _focus_of(case, e, cache) for e in evidence}
    out = []
    for row in frame.to_dict("records"):
        c = claims[row["id"]]
        linked = set(c.answers) | {o.id for o in claims.values() if c.id in o.answers}
        pool: list[tuple[Any, str | None]] = [(e, None) for e in by_claim.get(c.id, [])]
        pool += [(e, lid) for lid in sorted(linked) for e in by_claim.get(lid, [])]
        out.append({
            "id": c.id, "statement": c.statement, "claimant": c.claimant, "date_made": _iso(c.date_made),
            "stance": c.stance, "what": c.what, "source": row["source"], "reliability": row["reliability"],
            "credibility": row["credibility"], "grade": f"{row['reliability']}{row['credibility']}",
            "scope": row["scope"], "where_zones": list(c.where_zones), "window_start": _iso(c.window_start),
            "window_end": _iso(c.window_end), "answers": list(c.answers), "verdict": row["verdict"],
            "reasoning": reasoning[c.id], "url": c.url,
            "evidence": [{"id": e.id, "kind": e.kind, "direction": e.direction, "reasoning": e.reasoning,
                          "grade": f"{e.reliability}{e.credibility}", "run": e.run_id, "row": e.result_row,
                          "observation": e.observation_id, "via": via, "focus": focus.get(e.id)}
                         for e, via in pool],
        })
    return out


def claims_for_feature(board: Sequence[Mapping[str, Any]], feature_id: str) -> list[str]:
    """The claims whose scope names this feature (a zone) or whose evidence points at it."""
    out = []
    for c in board:
        hit = feature_id in c["where_zones"] or any(
            e["focus"] and feature_id in e["focus"]["features"] for e in c["evidence"])
        if hit:
            out.append(str(c["id"]))
    return out


# ------------------------------------------------------------------------------------------ timeline, runs

def timeline(case: Case) -> dict[str, Any]:
    """Intervals for the timeline: claims' windows, observations, and each track's span."""
    items: list[dict[str, Any]] = []
    for c in case.claims().values():
        if c.window_start or c.window_end:
            items.append({"lane": "claims", "id": c.id, "start": _iso(c.window_start or c.window_end),
                          "end": _iso(c.window_end or c.window_start), "label": c.id})
    for r in case.con.execute("SELECT id, kind, time_start, coalesce(time_end, time_start) FROM observations "
                              "WHERE time_start IS NOT NULL ORDER BY time_start").fetchall():
        items.append({"lane": str(r[1]), "id": r[0], "start": _iso(r[2]), "end": _iso(r[3]), "label": r[0]})
    for r in case.con.execute("SELECT track_id, min(time), max(time) FROM tracks GROUP BY track_id ORDER BY 1"
                              ).fetchall():
        items.append({"lane": "tracks", "id": r[0], "start": _iso(r[1]), "end": _iso(r[2]), "label": r[0]})
    # Zones in force for a period (an open end is drawn to the case's other items' extent by the page).
    for r in case.con.execute("SELECT id, valid_from, valid_to FROM zones WHERE valid_from IS NOT NULL OR "
                              "valid_to IS NOT NULL ORDER BY id").fetchall():
        items.append({"lane": "zones", "id": r[0], "start": _iso(r[1]), "end": _iso(r[2]), "label": r[0],
                      "open_start": r[1] is None, "open_end": r[2] is None})
    return {"items": items}


def runs(case: Case) -> list[dict[str, Any]]:
    """The recorded analysis runs, newest last."""
    return [{"id": r.id, "kind": r.kind, "parameters": r.parameters, "boundary_set": (r.zoneset or {}).get("name"),
             "started": _iso(r.started), "finished": _iso(r.finished), "rows": r.n_rows, "user": r.user,
             "result_hash": r.result_hash} for r in case.runs()]


def run_rows(case: Case, run_id: str, offset: int = 0, limit: int = 200) -> dict[str, Any]:
    """A page of one run's result table."""
    cols, rows = case.run_rows(run_id)
    return {"run": run_id, "columns": cols, "rows": rows[offset:offset + limit], "total": len(rows),
            "offset": offset}


__all__ = [
    "MAX_ZOOM",
    "TRACK_POINT_CAP",
    "TrackLayer",
    "ZoneLayer",
    "attribution",
    "claims_board",
    "claims_for_feature",
    "in_window",
    "latest_transit",
    "observations",
    "parse_bbox",
    "parse_time",
    "pixel_deg",
    "prisms",
    "run_rows",
    "runs",
    "summary",
    "timeline",
]
