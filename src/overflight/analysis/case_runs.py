"""Transit and prism runs recorded in a case, with the evidence they yield, and re-runnable by `case verify`.

A run's parameters name everything it read from the case (track dataset, zone ids, sighting source), so
`overflight case verify` can recompute its result table from the case alone and compare hashes.

Evidence rules (one line of reasoning each):
- an *observed* transit visit to a zone named by a claim about transit or overflight, inside the claim's
  window, supports an asserting claim (denials receive it through their ``answers`` link, flipped);
  unobserved visits (the crossing falls in a gap) are not evidence by themselves: they are handed to prism
  reasoning, whose ``necessary`` verdict is;
- a prism ``necessary`` verdict for such a zone, inside the window, supports the asserting claim;
  ``possible`` is no evidence either way, and ``impossible`` for one pair says nothing about other drones.

Whether such an item counts is decided by the verdict rule with the case's item facts
(`overflight.evidence.facts`): a disputed visit does not; a ``necessary`` counts only from a run at the
object's highest plausible speed that finds no pair of that object inconsistent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from overflight.evidence.grading import MISSING_RELIABILITY
from overflight.evidence.model import Claim, EvidenceItem
from overflight.evidence.sightings import SIGHTING_COLUMNS
from overflight.units import DistanceLike, DurationLike, SpeedLike, parse_distance, parse_duration, parse_speed

if TYPE_CHECKING:
    from overflight.case.store import Case

TRANSIT_CLAIMS = ("transit", "overflight")


def _zoneset(case: Case, zone_ids: Sequence[str] | None) -> Any:
    zs = case.zones(list(zone_ids) if zone_ids else None)
    from overflight.zones import ZoneSet

    return ZoneSet([z for z in zs if z.is_areal], zs.provenance)


def _claims_for(case: Case, zone_id: str, start: pd.Timestamp, end: pd.Timestamp) -> list[Claim]:
    """Asserting transit/overflight claims whose scope names this zone and whose window overlaps [start, end]."""
    out = []
    for c in case.claims().values():
        if c.stance != "asserts" or c.what not in TRANSIT_CLAIMS or zone_id not in c.where_zones:
            continue
        if c.window_start is not None and end < pd.Timestamp(c.window_start):
            continue
        if c.window_end is not None and start > pd.Timestamp(c.window_end):
            continue
        out.append(c)
    return out


# ------------------------------------------------------------------------------------------ transit

def transit_table(case: Case, params: Mapping[str, Any]) -> pd.DataFrame:
    """Recompute a recorded transit run's visits from the case (`overflight.case.kinds`)."""
    from overflight.analysis.transit import transit

    tracks = case.tracks(params.get("dataset"))
    zs = _zoneset(case, params.get("zones"))
    res = transit(tracks[["track_id", "time", "lon", "lat", "alt_m"]], zs, max_gap=float(params["max_gap_s"]),
                  step_m=float(params["step_m"]))
    if not params.get("brackets"):  # runs recorded before the bracketing fixes existed re-run as they were made
        return res.visits.reset_index(drop=True)
    from overflight.analysis.crossing_times import bracket_visits  # the crossing times' bracketing fixes

    return bracket_visits(res.visits, tracks, float(params["max_gap_s"])).reset_index(drop=True)


def transit_inputs(case: Case, params: Mapping[str, Any]) -> dict[str, str]:
    """The input hashes of a transit run: the tracks and zones it read."""
    ds = params.get("dataset")
    where, args = ("WHERE dataset = ?", [ds]) if ds else ("", [])
    return {"tracks": case.table_hash("tracks", where, args), "zones": _zones_hash(case, params.get("zones"))}


def _zones_hash(case: Case, ids: Sequence[str] | None) -> str:
    if ids:
        return case.table_hash("zones", "WHERE id IN (SELECT unnest(?))", [list(ids)])
    return case.table_hash("zones")


def run_transit(case: Case, *, dataset: str | None = None, zones: Sequence[str] | None = None,
                max_gap_s: DurationLike = 600.0, step_m: DistanceLike = 5000.0) -> tuple[str, pd.DataFrame]:
    """Run transit on the case's tracks against its zones, record it with its evidence; (run id, visits).

    ``max_gap_s`` and ``step_m`` take unit strings (``"10min"``, ``"5km"``) or seconds and metres.
    """
    params = {"dataset": dataset, "zones": list(zones) if zones else None, "max_gap_s": parse_duration(max_gap_s),
              "step_m": parse_distance(step_m), "brackets": True}
    visits = transit_table(case, params)
    tracks = case.tracks(dataset)
    sources = case.sources()
    src_by_track = tracks.groupby("track_id")["source_id"].first().to_dict() if not tracks.empty else {}
    evidence = []
    for i, v in enumerate(visits.to_dict("records")):
        if not bool(v["observed"]):
            continue
        start, end = pd.Timestamp(v["entry_time"]), pd.Timestamp(v["exit_time"])
        for c in _claims_for(case, str(v["zone_id"]), start, end):
            sid = src_by_track.get(v["track_id"])
            rel = sources[sid].reliability if sid in sources else MISSING_RELIABILITY
            evidence.append(EvidenceItem(
                id=f"transit:{c.id}:{v['track_id']}:{v['zone_id']}:{i}", claim_id=c.id, kind="transit_row",
                direction="supports", source_id=sid, result_row=i, reliability=rel, credibility=2,
                reasoning=(f"track {v['track_id']} was in {v['zone_id']} from {start:%Y-%m-%d %H:%M} to "
                           f"{end:%H:%M} UTC ({v['entry_kind']} → {v['exit_kind']}), crossings observed"
                           + ("; DISPUTED: the track was inside another state's claim as well"
                              if bool(v.get("disputed", False)) else ""))))
    zs = _zoneset(case, zones)
    run_id = case.record_run("transit", params, transit_inputs(case, params), zs.provenance, visits, evidence)
    return run_id, visits


# ------------------------------------------------------------------------------------------ prism

#: how a prism run places its observations in time; recorded in new runs' parameters ("times"), so runs made
#: before windows were honoured (no such parameter: the window's start, its stated time_err_s) re-run as made.
TIMES_WINDOW = "window-midpoint"
#: a prism run's sightings: the sighting file's columns and what each pair is about.
PRISM_SIGHTING_COLUMNS = [*SIGHTING_COLUMNS, "object"]


def sightings_frame(case: Case, params: Mapping[str, Any]) -> pd.DataFrame:
    """The sightings a prism run reads.

    The sightings a prism run reads: the case's sighting observations grouped by their ``group`` property,
    or, with ``source = "track-gaps"``, the two fixes around every gap longer than ``max_gap_s`` in a dataset.

    With ``params["times"] == TIMES_WINDOW`` an observation's window ``[time_start, time_end]`` is honoured as
    time error: its time is the window's midpoint and its time error half the window plus any ``time_err_s``
    property. A sighting given by place name only (``area``, no coordinates) sits at the gazetteer's place,
    with the place's extent as position error (or its ``precision_m`` when larger). The ``object`` column is
    what the pair is about (the observation's ``object`` property, else its group; for gaps the track).
    """
    if params.get("source", "observations") == "track-gaps":
        t = case.tracks(params.get("dataset"))
        t = t.sort_values(["track_id", "time"]).reset_index(drop=True)
        dt = t.groupby("track_id")["time"].diff().dt.total_seconds()
        after = np.flatnonzero(dt.to_numpy() > float(params["max_gap_s"]))
        rows = []
        for k, j in enumerate(after):
            for r in (t.iloc[j - 1], t.iloc[j]):
                rows.append({"track_id": f"{r['track_id']}-gap{k + 1}", "time": r["time"], "lon": r["lon"],
                             "lat": r["lat"], "pos_err_m": float(params.get("pos_err_m", 0.0)), "time_err_s": 0.0,
                             "observation": None, "object": str(r["track_id"])})
        return pd.DataFrame(rows, columns=PRISM_SIGHTING_COLUMNS)
    obs = case.observations_frame(["sighting"])
    if obs.empty:
        return pd.DataFrame(columns=PRISM_SIGHTING_COLUMNS)
    props = [json.loads(p) if isinstance(p, str) and p else {} for p in obs["properties"]]
    group = pd.Series([str(p.get("group", i)) for p, i in zip(props, obs["id"], strict=True)], index=obs.index)
    obj = pd.Series([str(p["object"]) if p.get("object") not in (None, "") else g
                     for p, g in zip(props, group, strict=True)], index=obs.index)
    terr = pd.Series([float(p.get("time_err_s", 0.0)) for p in props], index=obs.index)
    start = pd.to_datetime(obs["time_start"], utc=True)
    time = start
    if params.get("times") == TIMES_WINDOW:
        end = pd.to_datetime(obs["time_end"], utc=True).fillna(start)
        half = (end - start).dt.total_seconds().fillna(0.0) / 2.0
        time = start + pd.to_timedelta(half, unit="s")
        terr = terr + half
    from overflight.evidence.matching import place_named  # place names -> gazetteer place, extent as error

    obs = place_named(obs)
    lon, lat = obs["lon"].astype(float), obs["lat"].astype(float)
    pos = obs["precision_m"].astype(float).fillna(0.0)
    out = pd.DataFrame({
        "track_id": group.astype(str), "time": time, "lon": lon, "lat": lat, "pos_err_m": pos, "time_err_s": terr,
        "observation": obs["id"], "object": obj,
    })
    return out.sort_values(["track_id", "time"]).reset_index(drop=True)


def prism_table(case: Case, params: Mapping[str, Any]) -> pd.DataFrame:
    """Recompute a recorded prism run's verdict rows from the case (`overflight.case.kinds`)."""
    from overflight.analysis.prism import verdicts

    s = sightings_frame(case, params)
    zs = _zoneset(case, params.get("zones"))
    df = verdicts(s.drop(columns=["observation", "object"], errors="ignore"), zs, float(params["vmax_mps"]),
                  keep_impossible=bool(params.get("keep_impossible", True)))
    return df.reset_index(drop=True)


def prism_inputs(case: Case, params: Mapping[str, Any]) -> dict[str, str]:
    """The input hashes of a prism run: the sightings (or tracks) and zones it read."""
    if params.get("source", "observations") == "track-gaps":
        ds = params.get("dataset")
        where, args = ("WHERE dataset = ?", [ds]) if ds else ("", [])
        data = case.table_hash("tracks", where, args)
    else:
        data = case.table_hash("observations", "WHERE kind = 'sighting'")
    return {"sightings": data, "zones": _zones_hash(case, params.get("zones"))}


def run_prism(case: Case, *, vmax_mps: SpeedLike, zones: Sequence[str] | None = None, source: str = "observations",
              dataset: str | None = None, max_gap_s: DurationLike = 600.0, pos_err_m: DistanceLike = 0.0,
              keep_impossible: bool = False, vmax_range_kmh: tuple[float, float] | None = None
              ) -> tuple[str, pd.DataFrame]:
    """Prism verdicts for the case's sightings (or track gaps) against its zones, recorded with evidence.

    ``vmax_range_kmh`` records the plausible speed range of the objects (the speed rule of
    `overflight.evidence.facts` reads its upper end). Observation windows count as time error. Speeds,
    durations and distances take unit strings (``"185kmh"``, ``"10min"``, ``"2km"``) or SI numbers.
    """
    vmax_mps = parse_speed(vmax_mps, default_unit="mps")
    params: dict[str, Any] = {"vmax_mps": vmax_mps, "zones": list(zones) if zones else None, "source": source,
                              "keep_impossible": keep_impossible, "times": TIMES_WINDOW}
    if vmax_range_kmh is not None:
        params["vmax_range_kmh"] = [float(vmax_range_kmh[0]), float(vmax_range_kmh[1])]
    if source == "track-gaps":
        params.update({"dataset": dataset, "max_gap_s": parse_duration(max_gap_s),
                       "pos_err_m": parse_distance(pos_err_m)})
    table = prism_table(case, params)
    s = sightings_frame(case, params)
    sources = case.sources()
    obs_src: dict[str, tuple[str | None, int]] = {}
    if source == "observations":
        for o in case.observations(["sighting"]):
            obs_src[o.id] = (o.source_id, o.credibility)
    tracks = case.tracks(dataset) if source == "track-gaps" else pd.DataFrame()
    evidence = []
    for i, r in enumerate(table.to_dict("records")):
        if r["verdict"] != "necessary":
            continue
        a, b = s.loc[r["from_index"]], s.loc[r["to_index"]]
        start, end = pd.Timestamp(a["time"]), pd.Timestamp(b["time"])
        zone, detour, budget = str(r["zone_id"]), float(r["detour_m"]), float(r["budget_m"])
        for c in _claims_for(case, zone, start, end):
            if source == "observations":
                grades = [obs_src.get(str(x), (None, 6)) for x in (a["observation"], b["observation"])]
                sid = grades[0][0]
                cred = max(g[1] for g in grades)
            else:
                sid = str(tracks["source_id"].iloc[0]) if not tracks.empty else None
                cred = 2
            rel = sources[sid].reliability if sid in sources else MISSING_RELIABILITY
            why = (f"a fix lies in {zone}" if not np.isfinite(detour) else
                   f"budget {budget / 1000:.0f} km, shortest path avoiding it {detour / 1000:.0f} km")
            evidence.append(EvidenceItem(
                id=f"prism:{c.id}:{r['track_id']}:{zone}:{vmax_mps:.1f}:{i}", claim_id=c.id, kind="prism_verdict",
                direction="supports", source_id=sid, result_row=i, reliability=rel, credibility=cred,
                reasoning=(f"{r['track_id']}: between {start:%H:%M} and {end:%H:%M} UTC at ≤ {vmax_mps * 3.6:.0f} "
                           f"km/h every path had to enter {zone} ({why})")))
    zs = _zoneset(case, zones)
    run_id = case.record_run("prism", params, prism_inputs(case, params), zs.provenance, table, evidence)
    return run_id, table


__all__ = [
    "PRISM_SIGHTING_COLUMNS",
    "TIMES_WINDOW",
    "TRANSIT_CLAIMS",
    "prism_inputs",
    "prism_table",
    "run_prism",
    "run_transit",
    "sightings_frame",
    "transit_inputs",
    "transit_table",
]
