"""What a case says about each evidence item: the objects it shows, illustrative data, reasons not to count.

Verdict rule 2 (`overflight.evidence.rule2`) weighs items by these facts; they are read from the case alone
(runs, their stored result rows, observations, tracks), so `case verify` recomputes the same facts.

Objects (how items are keyed, ``docs/verdicts.md``):

- a transit row shows the track: ``object:<track id>``;
- a prism verdict shows the object of its sighting pair: the ``object`` property of the group's
  observations when given, else the group (``object:<group>``); for a track-gap run the track
  (``object:<track id>``, so a transit row and a prism verdict about one track count once);
- an observation item shows the observation's ``object`` property, else its sighting ``group``
  (``object:<id>``), else the observation itself (``observation:<id>``: one find, one object); an
  observation with ``count`` n and no object shows at least n objects;
- any other item shows itself (``item:<id>``).

Prism speed rule: a ``necessary`` verdict counts only from a run whose speed is at least the highest
plausible speed recorded for the object, and only when that run finds no pair of the same object
``inconsistent`` (which would show the object flew faster than the run assumed). The highest plausible
speed is the largest upper end of the ``vmax_kmh`` ranges recorded for the object (an observation's
``vmax_kmh`` property, ``"150-185"`` or ``185``; a run's ``vmax_range_kmh`` parameter); with none recorded,
the fastest speed any prism run of the case tested for the object. Claims carry no speed in the case
schema, so a claim cannot set it.

Disputed visits: a transit row flagged ``disputed`` (the track was inside another state's claim as well)
does not establish presence in either state alone: it enters the trail, marked, and does not count.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from overflight.errors import OverflightError
from overflight.evidence.model import EvidenceItem, ItemFacts, Observation

if TYPE_CHECKING:
    from overflight.case.store import Case


def parse_kmh_range(value: Any) -> tuple[float, float] | None:
    """A speed range in km/h from ``185``, ``"150-185"``, ``[150, 185]``; None when blank or unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, list | tuple) and len(value) == 2:
        lo, hi = float(value[0]), float(value[1])
    elif isinstance(value, int | float):
        lo = hi = float(value)
    else:
        nums = re.findall(r"\d+(?:\.\d+)?", str(value))
        if not nums or len(nums) > 2:
            return None
        lo, hi = float(nums[0]), float(nums[-1])
    return (min(lo, hi), max(lo, hi))


def observation_object(o: Observation) -> str | None:
    """The object an observation is about, when it says: its ``object`` property, else its sighting group."""
    for key in ("object", "group"):
        v = o.properties.get(key)
        if v not in (None, ""):
            return str(v)
    return None


def _kmh(mps: float) -> float:
    return float(mps) * 3.6


class _CaseView:
    """The parts of a case the facts need, read once."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.obs = {o.id: o for o in case.observations()}
        self.runs = {r.id: r for r in case.runs()}
        self._results: dict[str, pd.DataFrame] = {}
        self._objects: dict[str, dict[str, str]] = {}
        self._illus: dict[str, dict[str, bool]] = {}
        self._track_flags: dict[tuple[str, str], bool] | None = None
        self._incons: dict[str, dict[str, str]] = {}

    def results(self, run_id: str) -> pd.DataFrame:
        if run_id not in self._results:
            self._results[run_id] = self.case.run_results(run_id)
        return self._results[run_id]

    def track_illustrative(self, track_id: str, dataset: str | None) -> bool:
        if self._track_flags is None:
            rows = self.case.con.execute("SELECT dataset, track_id, bool_or(coalesce(illustrative, false)) "
                                         "FROM tracks GROUP BY dataset, track_id").fetchall()
            self._track_flags = {(str(d), str(t)): bool(f) for d, t, f in rows}
        if dataset:
            return self._track_flags.get((str(dataset), track_id), False)
        return any(f for (_, t), f in self._track_flags.items() if t == track_id)

    def inconsistent_objects(self, run_id: str) -> dict[str, str]:
        """For a prism run: object → the first pair group it was found inconsistent in."""
        if run_id not in self._incons:
            objects, _ = self.prism_objects(run_id)
            res = self.results(run_id)
            out: dict[str, str] = {}
            if "verdict" in res:
                for g in res.loc[res["verdict"] == "inconsistent", "track_id"].astype(str):
                    out.setdefault(objects.get(g, g), g)
            self._incons[run_id] = out
        return self._incons[run_id]

    def prism_objects(self, run_id: str) -> tuple[dict[str, str], dict[str, bool]]:
        """For a prism run: pair group (result ``track_id``) → object, and → rests on illustrative data."""
        if run_id in self._objects:
            return self._objects[run_id], self._illus[run_id]
        run = self.runs[run_id]
        objects: dict[str, str] = {}
        illus: dict[str, bool] = {}
        if run.parameters.get("source", "observations") == "track-gaps":
            from overflight.analysis.case_runs import sightings_frame

            try:
                s = sightings_frame(self.case, run.parameters)
            except OverflightError:
                s = pd.DataFrame(columns=["track_id", "object"])
            ds = run.parameters.get("dataset")
            for g, obj in zip(s["track_id"], s.get("object", s["track_id"]), strict=True):
                objects[str(g)] = str(obj)
                illus[str(g)] = self.track_illustrative(str(obj), ds)
        else:
            for o in self.obs.values():
                if o.kind != "sighting":
                    continue
                g = str(o.properties.get("group", o.id))
                named = o.properties.get("object")
                if named not in (None, "") or g not in objects:
                    objects[g] = str(named) if named not in (None, "") else objects.get(g, g)
                illus[g] = illus.get(g, False) or o.illustrative
        self._objects[run_id], self._illus[run_id] = objects, illus
        return objects, illus


def _speed_limits(view: _CaseView) -> tuple[dict[str, float], dict[str, str]]:
    """Object → highest plausible speed (km/h), and where that figure comes from."""
    recorded: dict[str, tuple[float, str]] = {}
    tested: dict[str, tuple[float, str]] = {}
    for o in view.obs.values():
        obj = observation_object(o)
        rng = parse_kmh_range(o.properties.get("vmax_kmh"))
        if obj is not None and rng is not None and rng[1] > recorded.get(obj, (-1.0, ""))[0]:
            recorded[obj] = (rng[1], f"vmax_kmh {o.properties.get('vmax_kmh')} of observation {o.id}")
    for run in view.runs.values():
        if run.kind != "prism":
            continue
        objects, _ = view.prism_objects(run.id)
        res = view.results(run.id)
        v = _kmh(run.parameters.get("vmax_mps", 0.0))
        rng = parse_kmh_range(run.parameters.get("vmax_range_kmh"))
        groups = set(res["track_id"].astype(str)) if "track_id" in res else set()
        for g in groups:
            obj = objects.get(g, g)
            if v > tested.get(obj, (-1.0, ""))[0]:
                tested[obj] = (v, f"the fastest prism run for it, {run.id}")
            if rng is not None and rng[1] > recorded.get(obj, (-1.0, ""))[0]:
                recorded[obj] = (rng[1], f"vmax_range_kmh of {run.id}")
    limits, why = {}, {}
    for obj in set(recorded) | set(tested):
        val, w = recorded.get(obj) or tested[obj]
        limits[obj], why[obj] = val, w
    return limits, why


def item_facts(case: Case, items: Iterable[EvidenceItem] | None = None) -> dict[str, ItemFacts]:
    """Facts for every evidence item of the case (or these items); see the module docstring."""
    view = _CaseView(case)
    items = list(case.evidence() if items is None else items)
    limits, limit_why = _speed_limits(view) if any(e.kind == "prism_verdict" for e in items) else ({}, {})
    out: dict[str, ItemFacts] = {}
    for e in items:
        run = view.runs.get(e.run_id) if e.run_id else None
        row: dict[str, Any] | None = None
        if run is not None and e.result_row is not None:
            res = view.results(run.id)
            if 0 <= e.result_row < len(res):
                row = {str(k): v for k, v in res.iloc[e.result_row].to_dict().items()}
        if run is not None and run.kind == "transit" and row is not None:
            tid = str(row["track_id"])
            disputed = bool(row.get("disputed", False))
            out[e.id] = ItemFacts(
                objects=(f"object:{tid}",), illustrative=view.track_illustrative(tid, run.parameters.get("dataset")),
                excluded=("disputed visit: the track was inside another state's claim at the same time; "
                          "presence in either state alone is not established") if disputed else None,
                note="disputed visit" if disputed else "")
        elif run is not None and run.kind == "prism" and row is not None:
            out[e.id] = _prism_facts(view, run.id, row, limits, limit_why)
        elif e.observation_id and e.observation_id in view.obs:
            o = view.obs[e.observation_id]
            obj = observation_object(o)
            out[e.id] = ItemFacts(objects=(f"object:{obj}",) if obj else (f"observation:{o.id}",),
                                  count=int(o.count) if (o.count and o.count > 1 and not obj) else 1,
                                  illustrative=o.illustrative)
        elif run is not None and run.kind == "attribution":
            res = view.results(run.id)
            ids = [str(i) for i in res["id"]] if "id" in res else []
            out[e.id] = ItemFacts(illustrative=any(view.obs[i].illustrative for i in ids if i in view.obs))
    return out


def _prism_facts(view: _CaseView, run_id: str, row: Mapping[str, Any], limits: Mapping[str, float],
                 limit_why: Mapping[str, str]) -> ItemFacts:
    run = view.runs[run_id]
    objects, illus = view.prism_objects(run_id)
    group = str(row["track_id"])
    obj = objects.get(group, group)
    v = _kmh(run.parameters.get("vmax_mps", 0.0))
    excluded = None
    bad = view.inconsistent_objects(run_id).get(obj)
    if bad is not None:
        excluded = (f"run {run_id} assumes at most {v:.0f} km/h, but it finds a pair of {obj} inconsistent "
                    f"({bad}): the object flew faster than that, so the speed is contradicted")
    elif obj in limits and v + 1e-6 < limits[obj]:
        excluded = (f"run {run_id} assumes at most {v:.0f} km/h, below the highest plausible speed recorded for "
                    f"{obj} ({limits[obj]:.0f} km/h, {limit_why[obj]}): a slower assumed speed only adds "
                    "'necessary' results")
    return ItemFacts(objects=(f"object:{obj}",), illustrative=bool(illus.get(group, False)), excluded=excluded)


def facts_json(facts: Mapping[str, ItemFacts]) -> str:
    """The facts as canonical JSON (for debugging and tests)."""
    return json.dumps({k: f.as_json() for k, f in sorted(facts.items())}, sort_keys=True)


__all__ = ["item_facts", "observation_object", "parse_kmh_range"]
