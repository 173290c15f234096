"""Analyses started from the web page, run one at a time in a background thread, with their progress.

A job runs the library's recording call (`run_transit`, `run_prism`, `run_attribution`), then re-derives the
verdicts, and reports which evidence items and verdicts changed. The server keeps answering meanwhile: reads
use their own DuckDB cursors, only writes wait for the job.
"""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from overflight.errors import InputError, OverflightError
from overflight.units import parse_duration, parse_speed

if TYPE_CHECKING:
    from overflight.case.store import Case

KINDS = ("transit", "prism", "attribution")


def _zones(v: Any) -> list[str] | None:
    if v is None or v == "" or v == []:
        return None
    items = v if isinstance(v, list) else str(v).replace(";", ",").split(",")
    return [str(x).strip() for x in items if str(x).strip()]


def _speed_mps(v: Any) -> float:
    if isinstance(v, int | float):
        return float(v) / 3.6  # a bare number is km/h, the unit the form shows
    return float(parse_speed(str(v)))


def _seconds(v: Any, default: float) -> float:
    if v is None or v == "":
        return default
    if isinstance(v, int | float):
        return float(v)
    return float(parse_duration(str(v)))


def prepare(kind: str, params: Mapping[str, Any]) -> Callable[[Case], str]:
    """Check the form's parameters now (InputError names the field) and return the call that runs them."""
    try:
        if kind == "transit":
            from overflight.analysis.case_runs import run_transit

            ds, zones = params.get("dataset") or None, _zones(params.get("zones"))
            gap, step = _seconds(params.get("max_gap"), 600.0), float(params.get("step_m") or 5000.0)
            return lambda case: run_transit(case, dataset=ds, zones=zones, max_gap_s=gap, step_m=step)[0]
        if kind == "prism":
            from overflight.analysis.case_runs import run_prism

            if params.get("vmax") in (None, ""):
                raise InputError("a top speed is needed (e.g. 185kmh)", field="vmax")
            vmax, zones = _speed_mps(params["vmax"]), _zones(params.get("zones"))
            if not vmax > 0:
                raise InputError("the top speed must be positive", field="vmax")
            source = str(params.get("source") or "observations")
            if source not in ("observations", "track-gaps"):
                raise InputError("source is observations or track-gaps", field="source")
            gap = _seconds(params.get("max_gap"), 600.0)
            ds = params.get("dataset") or None
            keep = bool(params.get("keep_impossible", True))
            return lambda case: run_prism(case, vmax_mps=vmax, zones=zones, source=source, dataset=ds,
                                          max_gap_s=gap, keep_impossible=keep)[0]
        if kind == "attribution":
            from overflight.analysis.attribution import run_attribution

            target = params.get("target") or None
            region = params.get("region") or None
            claim = params.get("claim") or None
            threshold = float(params.get("threshold") or 0.9)
            if not 0 < threshold < 1:
                raise InputError("threshold is a share between 0 and 1", field="threshold")
            zones = _zones(params.get("zones"))
            return lambda case: run_attribution(case, target=target, region=region, claim=claim,
                                                threshold=threshold, zones=zones).run_id or "attribution"
    except (ValueError, TypeError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(str(exc), field="parameters") from None
    raise InputError(f"unknown analysis {kind!r}: one of {', '.join(KINDS)}", field="kind")


@dataclass
class Job:
    """One analysis started from the page."""

    id: str
    kind: str
    params: dict[str, Any]
    state: str = "queued"  # queued, running, evaluating, done, failed
    stage: str = "waiting for the case"
    started: float = field(default_factory=time.time)
    finished: float | None = None
    run_id: str | None = None
    new_evidence: list[str] = field(default_factory=list)
    verdict_changes: dict[str, list[str | None]] = field(default_factory=dict)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        end = self.finished or time.time()
        return {"id": self.id, "kind": self.kind, "params": self.params, "state": self.state, "stage": self.stage,
                "elapsed_s": round(end - self.started, 1), "run": self.run_id, "new_evidence": self.new_evidence,
                "verdict_changes": self.verdict_changes, "error": self.error}


class JobRunner:
    """Runs jobs one after another on a worker thread, each with its own case cursor and the write lock."""

    def __init__(self, open_writer: Callable[[], Case], write_lock: threading.Lock,
                 on_change: Callable[[], None]) -> None:
        self._open = open_writer
        self._lock = write_lock
        self._on_change = on_change
        self.jobs: dict[str, Job] = {}

    def submit(self, kind: str, params: Mapping[str, Any]) -> Job:
        call = prepare(kind, params)
        job = Job(uuid.uuid4().hex[:12], kind, dict(params))
        self.jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, call), daemon=True, name=f"job-{job.id}").start()
        return job

    def _run(self, job: Job, call: Callable[[Case], str]) -> None:
        with self._lock:
            case = self._open()
            try:
                before = {e.id for e in case.evidence()}
                old = {k: v.verdict for k, v in case.verdicts().items()}
                job.state, job.stage = "running", f"running {job.kind}"
                job.run_id = call(case)
                job.state, job.stage = "evaluating", "re-deriving the verdicts"
                new = {k: v.verdict for k, v in case.evaluate().items()}
                job.new_evidence = sorted({e.id for e in case.evidence()} - before)
                job.verdict_changes = {k: [old.get(k), v] for k, v in new.items() if old.get(k) != v}
                job.state, job.stage = "done", f"{job.run_id} recorded"
            except OverflightError as exc:
                job.state, job.stage, job.error = "failed", "failed", str(exc)
            except Exception as exc:  # a bug must reach the page, not vanish with the thread
                job.state, job.stage = "failed", "failed"
                job.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
            finally:
                job.finished = time.time()
                case.con.close()
                self._on_change()


__all__ = ["KINDS", "Job", "JobRunner", "prepare"]
