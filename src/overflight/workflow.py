"""The analyst's workflow: files as they come, into a case, analysed there, recorded as evidence.

`overflight transit … --case CASE`, `overflight prism … --case CASE` and `overflight attribution … --case CASE`
call these functions. Each one first stores in the case everything the analysis reads (the tracks as a dataset,
the sightings or wreckage as observations, the zones with their provenance), then runs the analysis *on the
case* through `overflight.analysis.case_runs` / `overflight.analysis.attribution`, which record the run (its
parameters, input hashes, boundary set, result table) and the evidence items for the claims whose scope the
results match. `overflight case verify` can thus re-run every analysis from the case file alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from overflight.case import Case
from overflight.errors import InputError
from overflight.evidence.model import EvidenceItem, Observation
from overflight.tracks.validate import ValidationReport
from overflight.units import DistanceLike, DurationLike, SpeedLike


@dataclass
class CaseRun:
    """What an analysis run added to a case."""

    run_id: str
    table: pd.DataFrame
    evidence: list[EvidenceItem] = field(default_factory=list)
    imported: dict[str, int] = field(default_factory=dict)
    report: ValidationReport | None = None
    sentence: str = ""


def _check_source(case: Case, source_id: str | None) -> None:
    if source_id is not None and source_id not in case.sources():
        known = ", ".join(sorted(case.sources())) or "none"
        raise InputError(f"unknown source {source_id!r} (sources in the case: {known}); import it with the "
                         "claims first (`overflight case import`)", file=case.path, field="--source")


def store_zones(case: Case, zones: str | None, ids: Sequence[str] | None = None,
                id_field: str | None = None) -> list[str] | None:
    """Store the zones an analysis uses in the case.

    Store the zones an analysis uses (a boundary set, zone file or spec file, optionally narrowed to
    ``ids``) in the case, and return the ids to run on (None: every zone the case holds).
    """
    if zones is None:
        if ids:
            case.zones(list(ids))  # every id must be in the case already: InputError names the first missing
        return list(ids) if ids else None
    from overflight.zones import ZoneSet, load_zones

    full = load_zones(zones, id_field=id_field)
    # The set's own provenance, not the selection's: a zone stored again by a later run is then unchanged,
    # and the input hashes of the runs that read it before stay valid.
    zs = ZoneSet([full[i] for i in ids], full.provenance) if ids else full
    case.add_zones(zs)
    return [z.id for z in zs]


def import_tracks(case: Case, path: str | Path, *, dataset: str | None = None, source_id: str | None = None,
                  illustrative: bool = False, sort: bool = False,
                  **read_options: Any) -> tuple[str, int, ValidationReport]:
    """Read a track file (options of `overflight.tracks.read_tracks`) and store it as one dataset.

    The dataset is named after the file unless ``dataset`` is given; a dataset of that name is replaced.
    Returns (dataset, fixes stored, validation report).
    """
    from overflight.tracks import read_tracks

    _check_source(case, source_id)
    p = Path(path)
    tracks, report = read_tracks(p, sort=sort, **read_options)
    name = dataset or p.name
    n = case.add_tracks(tracks, dataset=name, source_id=source_id, illustrative=illustrative)
    return name, n, report


def import_observations(case: Case, observations: Sequence[Observation]) -> dict[str, int]:
    """Store observations (same id: replaced)."""
    for o in observations:
        _check_source(case, o.source_id)
    return case.add_observations(observations)


def transit_into_case(case: Case, tracks: str | Path | None, *, zones: str | None = None,
                      zone_ids: Sequence[str] | None = None, id_field: str | None = None,
                      dataset: str | None = None, source_id: str | None = None, max_gap_s: DurationLike = 600.0,
                      step_m: DistanceLike = 5000.0, sort: bool = False, **read_options: Any) -> CaseRun:
    """Run transit on a case's tracks and record it with its evidence.

    Import a track file (or use the case's dataset when ``tracks`` is None), run transit on the case and
    record it with its evidence (see `overflight.analysis.case_runs.run_transit`).
    """
    from overflight.analysis.case_runs import run_transit

    imported: dict[str, int] = {}
    report = None
    if tracks is not None:
        dataset, n, report = import_tracks(case, tracks, dataset=dataset, source_id=source_id, sort=sort,
                                           **read_options)
        imported["fixes"] = n
    ids = store_zones(case, zones, zone_ids, id_field)
    before = {e.id for e in case.evidence()}
    run_id, visits = run_transit(case, dataset=dataset, zones=ids, max_gap_s=max_gap_s, step_m=step_m)
    new = [e for e in case.evidence() if e.run_id == run_id and e.id not in before]
    return CaseRun(run_id, visits, new, imported, report,
                   f"{len(visits)} visits, {int(visits['observed'].sum()) if len(visits) else 0} observed")


def prism_into_case(case: Case, sightings: str | Path | Sequence[Observation] | None, *, vmax_mps: SpeedLike,
                    zones: str | None = None, zone_ids: Sequence[str] | None = None, id_field: str | None = None,
                    keep_impossible: bool = True, source_id: str | None = None,
                    credibility: int | str | None = None, **read_options: Any) -> CaseRun:
    """Run prism reasoning on a case's sightings and record it with its evidence.

    Import sightings (a file read by `overflight.evidence.sightings.read_sightings`, or observations),
    run prism reasoning on all the case's sightings and record it with its evidence.
    """
    from overflight.analysis.case_runs import run_prism
    from overflight.evidence.sightings import read_sightings

    imported: dict[str, int] = {}
    if sightings is not None:
        obs = (read_sightings(sightings, source_id=source_id, credibility=credibility, **read_options)
               if isinstance(sightings, str | Path) else list(sightings))
        counts = import_observations(case, obs)
        imported[f"sightings ({counts.get('inserted', 0)} new, {counts.get('updated', 0)} updated)"] = len(obs)
    ids = store_zones(case, zones, zone_ids, id_field)
    before = {e.id for e in case.evidence()}
    run_id, table = run_prism(case, vmax_mps=vmax_mps, zones=ids, keep_impossible=keep_impossible)
    new = [e for e in case.evidence() if e.run_id == run_id and e.id not in before]
    counts_v = table["verdict"].astype(str).value_counts().to_dict() if len(table) else {}
    return CaseRun(run_id, table, new, imported, None,
                   ", ".join(f"{n} {v}" for v, n in sorted(counts_v.items()) if n) or "no pairs")


def attribution_into_case(case: Case, points: str | Path | None, *, zones: str | None = None,
                          zone_ids: Sequence[str] | None = None, id_field: str | None = None,
                          kind: str = "wreckage", source_id: str | None = None,
                          credibility: int | str | None = None, target: str | None = None,
                          region: str | None = None, references: Sequence[Mapping[str, Any]] = (),
                          claim: str | None = None, threshold: float = 0.9, direction: str = "more",
                          cluster_eps_m: float | None = None, **read_options: Any) -> CaseRun:
    """Attribute a case's wreckage or impact points to its zones, recorded with evidence.

    Import wreckage/impact points (a file as for sightings) and attribute the case's points of that kind
    to its zones (`overflight.analysis.attribution.run_attribution`), recorded with its evidence.
    """
    from overflight.analysis.attribution import run_attribution
    from overflight.evidence.sightings import read_sightings

    imported: dict[str, int] = {}
    if points is not None:
        obs = read_sightings(points, source_id=source_id, credibility=credibility, kind=kind, **read_options)
        import_observations(case, obs)
        imported[kind] = len(obs)
    ids = store_zones(case, zones, zone_ids, id_field)
    res = run_attribution(case, target=target, region=region, kinds=(kind,), zones=ids, references=references,
                          claim=claim, threshold=threshold, direction=direction, cluster_eps_m=cluster_eps_m)
    return CaseRun(res.run_id or "", res.table, list(res.evidence), imported, None,
                   res.share.sentence() if res.share else f"{len(res.table)} points")


__all__ = ["CaseRun", "attribution_into_case", "import_observations", "import_tracks", "prism_into_case",
           "store_zones", "transit_into_case"]
