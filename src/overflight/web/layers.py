"""The map layers of the web app: zones (with overlaps and validity periods) and tracks, per zoom and window.

A `ZoneLayer` simplifies the case's zones for the requested zoom (one screen pixel is
``360 / (256 * 2**zoom)`` degrees) and caches each level; a `TrackLayer` decimates tracks to at most one fix
per pixel per track inside the requested time window, so a case with millions of fixes answers a pan with a
few thousand. The panels built on them are in `overflight.web.views`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from overflight.case.export import iso_second as _iso
from overflight.units import DurationLike, parse_duration

if TYPE_CHECKING:
    from overflight.case.store import Case
    from overflight.zones import Zone

MAX_ZOOM = 14
TRACK_POINT_CAP = 200_000  # fixes per answer at most (after per-pixel decimation), so a browser never stalls


def pixel_deg(zoom: float) -> float:
    """Degrees of longitude per screen pixel at a web-map zoom level (256-pixel tiles)."""
    return float(360.0 / (256.0 * 2.0 ** max(0.0, min(float(zoom), MAX_ZOOM))))


def _feature(geom: Any, props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": json.loads(shapely.to_geojson(geom)), "properties": props}


def _fc(features: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features, **extra}


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
    def from_case(cls, case: Case, max_gap_s: DurationLike = 600.0) -> TrackLayer:
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
                   df["lon"].to_numpy(dtype=np.float64), df["lat"].to_numpy(dtype=np.float64), ill_per,
                   parse_duration(max_gap_s, field="max_gap"))

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


__all__ = [
    "MAX_ZOOM",
    "TRACK_POINT_CAP",
    "TrackLayer",
    "ZoneLayer",
    "basemap",
    "in_force",
    "latest_transit",
    "pixel_deg",
]
