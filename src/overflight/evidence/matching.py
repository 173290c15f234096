"""Evidence from observations: graded sightings, wreckage and impacts inside a claim's window and area.

For each claim about a transit, overflight, launch or strike with a place (zone ids or a geometry), every
observation of a fitting kind whose time window overlaps the claim's window and whose location lies inside
the claim's area becomes an ``observation`` evidence item: supporting an assertion, contradicting a claim
of absence. An observation given by place name only (``area``, no coordinates) is placed by the
gazetteer, with the place's extent as its precision. Location precision is honoured: a point inside the
area but closer to its border than its precision radius is *ambiguous* and yields no evidence (the row
says so). An observation without a time
cannot be placed in a window and is skipped when the claim has one.

The run is recorded as kind ``observation_match`` and re-run by `overflight case verify`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from overflight._deprecated import deprecated_names
from overflight.errors import InputError, OverflightError
from overflight.evidence.model import Claim, EvidenceItem

if TYPE_CHECKING:
    from overflight.case.store import Case

#: claim "what" -> observation kinds that bear on it
FITTING_KINDS: dict[str, tuple[str, ...]] = {
    "transit": ("sighting", "wreckage", "impact"),
    "overflight": ("sighting", "wreckage", "impact"),
    "launch": ("sighting",),
    "strike": ("impact", "wreckage"),
}

COLUMNS = ["claim_id", "observation_id", "kind", "inside", "border_m", "precision_m", "outcome"]
PLACED_COLUMNS = [*COLUMNS[:2], "lon", "lat", *COLUMNS[2:]]  # runs with "places": where each observation was put


def _area(claim: Claim, zones: Any) -> Any:
    parts = []
    if claim.where_geometry is not None:
        parts.append(claim.where_geometry)
    for zid in claim.where_zones:
        if zones is None or zid not in zones:
            raise InputError(f"claim {claim.id!r} names zone {zid!r}, which the case does not hold",
                             field="where")
        parts.append(zones[zid].geometry)
    return shapely.union_all(parts) if parts else None


def rerun_observation_match(case: Case, params: Mapping[str, Any]) -> pd.DataFrame:
    """The result table of an observation match (one row per candidate claim/observation pair)."""
    from overflight.analysis.attribution import border_distance, contains

    claims = case.claims()
    wanted = params.get("claims") or list(claims)
    obs = case.observations_frame()
    if params.get("places") == PLACES_GAZETTEER:
        obs = place_named(obs)
    obs = obs[obs["lon"].notna() & obs["lat"].notna()].reset_index(drop=True)
    try:
        zones = case.zones()
    except InputError:
        zones = None
    rows: list[pd.DataFrame] = []
    for cid in wanted:
        if cid not in claims:
            raise InputError(f"unknown claim {cid!r}", field="claims")
        c = claims[cid]
        kinds = FITTING_KINDS.get(c.what)
        if not kinds or (not c.where_zones and c.where_geometry is None):
            continue
        o = obs[obs["kind"].isin(kinds)]
        if c.window_start is not None or c.window_end is not None:
            ts = pd.to_datetime(o["time_start"], utc=True)
            te = pd.to_datetime(o["time_end"], utc=True).fillna(ts)
            lo = pd.Timestamp(c.window_start) if c.window_start else pd.Timestamp.min.tz_localize("UTC")
            hi = pd.Timestamp(c.window_end) if c.window_end else pd.Timestamp.max.tz_localize("UTC")
            o = o[ts.notna().to_numpy() & (ts <= hi).to_numpy() & (te >= lo).to_numpy()]
        if o.empty:
            continue
        area = _area(c, zones)
        x, y = o["lon"].to_numpy(float), o["lat"].to_numpy(float)
        inside = contains(area, x, y)
        border = np.full(x.size, np.nan)
        if inside.any():
            border[inside] = border_distance(x[inside], y[inside], area)
        prec = o["precision_m"].to_numpy(dtype=float, na_value=np.nan)
        ambiguous = inside & (np.nan_to_num(prec, nan=0.0) > border)
        direction = "contradicts" if c.is_absence else "supports"
        outcome = np.where(~inside, "outside", np.where(ambiguous, "ambiguous location", direction))
        rows.append(pd.DataFrame({"claim_id": cid, "observation_id": o["id"].to_numpy(), "lon": x, "lat": y,
                                  "kind": o["kind"].to_numpy(), "inside": inside, "border_m": border,
                                  "precision_m": prec, "outcome": outcome}))
    cols = PLACED_COLUMNS if params.get("places") == PLACES_GAZETTEER else COLUMNS
    if not rows:
        return pd.DataFrame({c: [] for c in cols})
    return pd.concat(rows, ignore_index=True)[cols]


#: recorded in new runs' parameters ("places"): observations given by place name only are placed by the
#: gazetteer; runs recorded without it (when such observations were skipped) re-run as they were made.
PLACES_GAZETTEER = "gazetteer"


def place_named(obs: pd.DataFrame) -> pd.DataFrame:
    """Place observations given by a place name only.

    Observations with an ``area`` and no coordinates placed at the gazetteer's place, with the place's
    extent as location precision (or their own ``precision_m`` when larger).
    """
    named = (obs["lon"].isna() | obs["lat"].isna()) & obs["area"].notna()
    if not named.any():
        return obs
    from overflight import gazetteer

    obs = obs.copy()
    for idx in obs.index[named]:
        oid, area = str(obs.at[idx, "id"]), str(obs.at[idx, "area"])
        try:
            place = gazetteer.resolve(area)
        except OverflightError as exc:
            raise InputError(f"observation {oid}: cannot place {area!r}: {exc}", file="observations", row=oid,
                             field="area") from None
        prec = float(np.nan_to_num(obs["precision_m"].to_numpy(dtype=float, na_value=np.nan)[obs.index.get_loc(idx)]))
        obs.at[idx, "lon"], obs.at[idx, "lat"] = float(place.lon), float(place.lat)
        obs.at[idx, "precision_m"] = max(prec, float(place.extent_m))
    return obs


def observation_match_inputs(case: Case, params: Mapping[str, Any]) -> dict[str, str]:
    """Input hashes: claims, observations, zones."""
    return {t: case.table_hash(t) for t in ("claims", "observations", "zones")}


@dataclass
class MatchResult:
    """What `match_observations` produced."""

    run_id: str | None
    table: pd.DataFrame
    evidence: list[EvidenceItem] = field(default_factory=list)


def match_observations(case: Case, *, claims: Sequence[str] | None = None, record: bool = True) -> MatchResult:
    """Turn observations inside claims' windows and areas into evidence, recorded as one analysis run."""
    started = datetime.now(UTC)
    params = {"claims": list(claims) if claims else None, "places": PLACES_GAZETTEER}
    table = rerun_observation_match(case, params)
    obs = {o.id: o for o in case.observations()}
    srcs = case.sources()
    items = []
    for i, rec in enumerate(table.to_dict(orient="records")):
        if rec["outcome"] not in ("supports", "contradicts"):
            continue
        o = obs[str(rec["observation_id"])]
        if o.lon is None or o.lat is None:  # placed by the gazetteer (see `place_named`)
            o = replace(o, lon=float(rec["lon"]), lat=float(rec["lat"]))
        cid, border_km = str(rec["claim_id"]), float(rec["border_m"]) / 1000.0
        rel = srcs[o.source_id].reliability if o.source_id in srcs else "F"
        when = o.time_start.strftime("%Y-%m-%d %H:%M") if o.time_start else "?"
        where = f"{o.area} " if o.area else ""
        illus = " [illustrative]" if o.illustrative else ""
        items.append(EvidenceItem(
            id=f"obs-{cid}-{o.id}", claim_id=cid, kind="observation",
            direction=str(rec["outcome"]), reasoning=f"{o.kind} {o.id} {where}at {o.lat:.3f}N {o.lon:.3f}E, {when} "
            f"UTC, inside the claim's area and window ({border_km:.0f} km from its edge){illus}",
            reliability=rel, credibility=o.credibility, source_id=o.source_id, result_row=i,
            observation_id=o.id))
    run_id = None
    if record:
        prov = None
        try:
            prov = case.zones().provenance
        except InputError:
            prov = None
        run_id = case.record_run("observation_match", params, observation_match_inputs(case, params), prov, table,
                                 items, started=started)
    return MatchResult(run_id, table, items)


__getattr__ = deprecated_names(__name__, {"rerun": "rerun_observation_match",
                                          "inputs": "observation_match_inputs"})

__all__ = ["COLUMNS", "PLACED_COLUMNS", "PLACES_GAZETTEER", "MatchResult", "match_observations",
           "observation_match_inputs", "place_named", "rerun_observation_match"]
