"""What the web app shows, computed from a case: plain JSON-able dicts and GeoJSON, no web framework here.

Each function takes an open `Case` and returns data for one panel or map layer. The zone and track layers
(simplified per zoom, decimated per window) are in `overflight.web.layers` and re-exported here.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from overflight.case.export import iso_second as _iso
from overflight.errors import InputError
from overflight.web.layers import MAX_ZOOM as MAX_ZOOM
from overflight.web.layers import TRACK_POINT_CAP as TRACK_POINT_CAP
from overflight.web.layers import TrackLayer as TrackLayer
from overflight.web.layers import ZoneLayer as ZoneLayer
from overflight.web.layers import _fc, _feature
from overflight.web.layers import basemap as basemap
from overflight.web.layers import in_force as in_force
from overflight.web.layers import latest_transit as latest_transit
from overflight.web.layers import pixel_deg as pixel_deg

if TYPE_CHECKING:
    from overflight.case.store import Case


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
