"""The analysis layers of a case's exports, and which zones an export needs.

- `used_zone_ids`: the zones the claims cite and the analyses used (zones visited by transit, zones tested by
  prism, the target, region and zones of an attribution): exports hold those by default, not every state
  of a boundary set;
- `crossings`: every entry and exit of the recorded transit runs, with the bracketing fixes and time range;
- `prism_areas`: the potential path area (a geodesic ellipse) of every sighting pair a prism run judged,
  with the verdicts per zone;
- `claim_verdicts`: one located row per claim (a point inside its area) with its derived verdict;
- `track_segments`: a track cut where two fixes lie further apart in time than the transit run's
  ``max_gap``, so a map does not draw an unobserved gap as a flown line;
- `oriented`: polygons with RFC 7946 ring orientation (exteriors counter-clockwise, holes clockwise).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from overflight.errors import InputError
from overflight.units import DurationLike, parse_duration

if TYPE_CHECKING:
    from overflight.case.store import Case

DEFAULT_MAX_GAP_S = 600.0


def oriented(geom: BaseGeometry) -> BaseGeometry:
    """The geometry with RFC 7946 ring orientation: exterior rings counter-clockwise, holes clockwise."""
    out: BaseGeometry = shapely.orient_polygons(geom, exterior_cw=False)
    return out


def used_zone_ids(case: Case) -> set[str]:
    """Ids of the zones the case's claims cite or its analyses used (module docstring)."""
    ids: set[str] = set()
    for c in case.claims().values():
        ids.update(c.where_zones)
    for r in case.runs():
        p = r.parameters
        if r.kind == "transit":
            cols, rows = case.run_rows(r.id)
            if "zone_id" in cols:
                j = cols.index("zone_id")
                ids.update(str(row[j]) for row in rows)
        elif r.kind in ("prism", "attribution"):
            ids.update(p.get("zones") or [])
            ids.update(z for z in (p.get("target"), p.get("region")) if z)
    return ids


@dataclass(frozen=True)
class Crossing:
    """One entry or exit of a transit visit."""

    run_id: str
    event: str  # entry | exit
    row: dict[str, Any]

    def get(self, key: str) -> Any:
        """The row's value of ``key`` for this event (``entry_key`` or ``exit_key``)."""
        return self.row.get(f"{self.event}_{key}")

    @property
    def properties(self) -> dict[str, Any]:
        """The feature's properties: run, track, zone, event, time, kind, observed, disputed and brackets."""
        r = self.row
        out = {"run": self.run_id, "track_id": r.get("track_id"), "zone_id": r.get("zone_id"), "event": self.event,
               "time": _second(self.get("time")), "kind": self.get("kind"), "observed": r.get("observed"),
               "disputed": r.get("disputed")}
        for k in ("time_min", "time_max", "before_time", "after_time"):
            if self.get(k) is not None:
                out[k] = _second(self.get(k))
        for k in ("before_lon", "before_lat", "after_lon", "after_lat"):
            if self.get(k) is not None:
                out[k] = self.get(k)
        return out


def _second(t: Any) -> str | None:
    if t is None:
        return None
    ts = pd.Timestamp(t)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return str(ts.round("s").strftime("%Y-%m-%dT%H:%M:%SZ"))


def crossings(case: Case) -> Iterator[Crossing]:
    """Entries and exits (with a position) of every recorded transit run."""
    for r in case.runs():
        if r.kind != "transit":
            continue
        cols, rows = case.run_rows(r.id)
        for row in rows:
            rec = dict(zip(cols, row, strict=True))
            for event in ("entry", "exit"):
                if rec.get(f"{event}_lon") is not None and rec.get(f"{event}_lat") is not None:
                    yield Crossing(r.id, event, rec)


@dataclass(frozen=True)
class PrismArea:
    """The potential path area of one sighting pair of a prism run, with its verdict per zone."""

    run_id: str
    track_id: str
    start: pd.Timestamp
    end: pd.Timestamp
    vmax_mps: float
    geometry: BaseGeometry | None  # None: the two sightings are inconsistent at that speed
    verdicts: dict[str, str]


def prism_areas(case: Case, *, max_error_m: float = 200.0, max_vertices: int = 720) -> Iterator[PrismArea]:
    """One area per (run, sighting pair) of every recorded prism run, drawn from the case's sightings."""
    from overflight.analysis.case_runs import sightings_frame
    from overflight.analysis.prism import InconsistentFixesWarning, ppa

    for r in case.runs():
        if r.kind != "prism":
            continue
        table = case.run_results(r.id)
        if table.empty:
            continue
        try:
            s = sightings_frame(case, r.parameters)
        except InputError:
            continue
        vmax = float(r.parameters["vmax_mps"])
        for key, g in table.groupby(["track_id", "from_index", "to_index"], sort=False):
            k: tuple[Any, ...] = key if isinstance(key, tuple) else (key, -1, -1)
            tid, a, b = str(k[0]), int(k[1]), int(k[2])
            if not (0 <= a < len(s) and 0 <= b < len(s)):
                continue  # the case's sightings changed since the run (`case verify` says so)
            p, q = s.iloc[a], s.iloc[b]
            t1, t2 = pd.Timestamp(p["time"]), pd.Timestamp(q["time"])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", InconsistentFixesWarning)
                geom = ppa((float(p["lon"]), float(p["lat"])), t1, (float(q["lon"]), float(q["lat"])), t2, vmax,
                           max_error_m=max_error_m, max_vertices=max_vertices)
            yield PrismArea(r.id, tid, t1, t2, vmax,
                            None if geom.is_empty else oriented(geom),
                            {str(z): str(v) for z, v in zip(g["zone_id"], g["verdict"], strict=True)})


def claim_verdicts(case: Case, zone_geoms: dict[str, BaseGeometry]) -> Iterator[tuple[BaseGeometry | None,
                                                                                      dict[str, Any]]]:
    """(point, properties) per claim.

    A point inside the claim's area (its geometry, else its zones), and the stored verdict (``not evaluated`` before
    `overflight case evaluate`).
    """
    verdicts = case.verdicts()
    for cid, c in case.claims().items():
        parts = [c.where_geometry] if c.where_geometry is not None else \
            [zone_geoms[z] for z in c.where_zones if z in zone_geoms]
        pt = shapely.point_on_surface(shapely.union_all(parts)) if parts else None
        v = verdicts.get(cid)
        yield pt, {"claim": cid, "verdict": v.verdict if v else "not evaluated", "statement": c.statement,
                   "claimant": c.claimant, "stance": c.stance, "what": c.what, "zones": list(c.where_zones),
                   "window_start": _second(c.window_start) if c.window_start else None,
                   "window_end": _second(c.window_end) if c.window_end else None}


def max_gap_for(case: Case, dataset: str) -> float:
    """The ``max_gap_s`` of the latest transit run on a dataset (or on all tracks), else 600 s."""
    gap = DEFAULT_MAX_GAP_S
    for r in case.runs():
        if r.kind == "transit" and r.parameters.get("dataset") in (None, dataset):
            gap = float(r.parameters.get("max_gap_s", gap))
    return gap


def track_segments(times: pd.Series, max_gap_s: DurationLike) -> list[np.ndarray]:
    """Row positions of a track's observed pieces: cut where consecutive fixes are more than max_gap apart.

    ``max_gap_s``: seconds, or text with a unit (``"10min"``).
    """
    t = pd.to_datetime(times, utc=True).to_numpy(dtype="datetime64[ns]").view(np.int64)
    cut = np.flatnonzero(np.diff(t) > parse_duration(max_gap_s, field="max_gap") * 1e9) + 1
    return np.split(np.arange(len(t)), cut)


def geojson_geometry(geom: BaseGeometry) -> dict[str, Any]:
    """A GeoJSON geometry object with RFC 7946 ring orientation."""
    out: dict[str, Any] = json.loads(shapely.to_geojson(oriented(geom)))
    return out


__all__ = ["Crossing", "PrismArea", "claim_verdicts", "crossings", "geojson_geometry", "max_gap_for", "oriented",
           "prism_areas", "track_segments", "used_zone_ids"]
