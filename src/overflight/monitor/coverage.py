"""When and where the monitor was listening, and the ``coverage`` evidence that record supports.

Two records, both kept on the wall clock (receipt time):

* **listening** — per feed, the intervals during which it was connected and delivering: each message or
  heartbeat extends the current interval; silence longer than ``gap_s`` (or a disconnect) ends it, and the
  silence is a **gap**. A feed that reconnects starts a new interval.
* **zone coverage** — the receiver's observed coverage: the world is cut into ``cell_deg`` cells; a cell is
  *seen* when a position was received in it within the last ``recent_s``. Every ``bucket_s`` the monitor writes,
  per zone, how many of the zone's cells were seen. A bucket is judged by the positions *received* before its
  end, whenever the engine gets to them, so a backlog or a slow first batch changes no bucket. A zone nobody
  flew near cannot be said to be covered, however long the feed was up.

Both go into the case as runs of kind ``monitor_coverage`` (sensor records: `verify` checks their stored rows
against their hash; they cannot be recomputed from anything else). `check_coverage` then judges every claim
of absence that names zones and a window: it is **covered** when, for every claimed zone, listening
intervals cover the whole window with no gap, and every zone bucket overlapping the window saw at least
``min_cells`` cells. A covered claim without a monitor ``enter`` alert in its zones and window gets one
``coverage`` evidence item that supports it (graded by the monitor's source); monitor alerts inside the
window become ``observation`` items that contradict it; a claim with a gap gets nothing, so the verdict rule
leaves it ``unverified`` — silence is never evidence. The check is recorded as a ``coverage_check`` run,
which `verify` re-derives from the case.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from overflight.errors import InputError
from overflight.evidence.model import EvidenceItem
from overflight.units import DurationLike, parse_duration

if TYPE_CHECKING:
    from overflight.case.store import Case
    from overflight.zones import ZoneSet

COVERAGE_COLUMNS = ("record", "feed", "zone_id", "start", "end", "cells_total", "cells_seen")


@dataclass
class FeedLiveness:
    """Listening intervals and gaps of one feed (thread-safe)."""

    name: str
    gap_s: DurationLike = 90.0  # seconds, or text with a unit ("90s"); a float of seconds after construction
    connected: bool = False
    connects: int = 0
    messages: int = 0
    heartbeats: int = 0
    last: float | None = None
    start: float | None = None
    intervals: list[tuple[float, float]] = field(default_factory=list)
    gaps: list[tuple[float, float, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.gap_s = parse_duration(self.gap_s, field="gap")

    def connect(self, now: float) -> None:
        """Record that the feed connected at ``now``."""
        with self._lock:
            self.connected = True
            self.connects += 1

    def disconnect(self, now: float, why: str = "disconnected") -> None:
        """Record that the feed dropped at ``now`` (closing the listening interval)."""
        with self._lock:
            self.connected = False
            self._close(why, now)

    def _close(self, why: str, now: float) -> None:
        if self.start is not None and self.last is not None:
            self.intervals.append((self.start, self.last))
            self.gaps.append((self.last, now, why))  # provisional end: extended by the next delivery
        self.start = None

    def note(self, now: float, messages: int = 0, heartbeats: int = 0) -> None:
        """Data or a heartbeat arrived at ``now``."""
        with self._lock:
            self.messages += messages
            self.heartbeats += heartbeats
            if self.start is not None and self.last is not None and now - self.last > float(self.gap_s):
                self._close("silent", now)
            if self.start is None:
                if self.gaps and self.gaps[-1][1] <= now:
                    g = self.gaps[-1]
                    self.gaps[-1] = (g[0], now, g[2])
                self.start = now
            self.last = now

    def snapshot(self, now: float) -> tuple[list[tuple[float, float]], list[tuple[float, float, str]]]:
        """Closed intervals plus the current one (up to the last delivery, never beyond), and the gaps."""
        with self._lock:
            iv = list(self.intervals)
            if self.start is not None and self.last is not None:
                iv.append((self.start, self.last))
            return iv, list(self.gaps)


class CellCoverage:
    """Last receipt time of a position in each ``cell_deg`` cell, and the cells of each zone."""

    def __init__(self, zones: ZoneSet, cell_deg: float = 0.25, recent_s: DurationLike = 600.0) -> None:
        if not (cell_deg > 0 and (180.0 / cell_deg).is_integer()):
            raise InputError(f"coverage cell size must divide 180 degrees, not {cell_deg!r}", field="cell_deg")
        self.cell_deg = float(cell_deg)
        self.recent_s = parse_duration(recent_s, field="recent")  # seconds, or text with a unit
        self.nx = round(360.0 / cell_deg)
        self.ny = round(180.0 / cell_deg)
        self.last_seen = np.full(self.nx * self.ny, -np.inf)
        self.set_zones(zones)

    def set_zones(self, zones: ZoneSet) -> None:
        """The cells each zone's geometry touches (computed once per zone set)."""
        self.zone_ids = list(zones.ids)
        cd = self.cell_deg
        self.zone_cells: list[npt.NDArray[np.int64]] = []
        for g in zones.geometries():
            if g is None or g.is_empty:
                self.zone_cells.append(np.zeros(0, np.int64))
                continue
            x0, y0, x1, y1 = g.bounds
            ix = np.arange(math.floor((x0 + 180) / cd), min(math.floor((x1 + 180) / cd) + 1, self.nx))
            iy = np.arange(math.floor((y0 + 90) / cd), min(math.floor((y1 + 90) / cd) + 1, self.ny))
            mx, my = np.meshgrid(ix, iy)
            gx, gy = mx.ravel(), my.ravel()
            boxes = shapely.box(gx * cd - 180, gy * cd - 90, (gx + 1) * cd - 180, (gy + 1) * cd - 90)
            shapely.prepare(g)
            hit = shapely.intersects(g, boxes)
            self.zone_cells.append((gy[hit] * self.nx + gx[hit]).astype(np.int64))

    def update(self, lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64],
               recv: npt.NDArray[np.float64]) -> None:
        """Mark the cells of these positions as seen at their receive times."""
        if len(lon) == 0:
            return
        ix = np.clip(((lon + 180.0) / self.cell_deg).astype(np.int64), 0, self.nx - 1)
        iy = np.clip(((lat + 90.0) / self.cell_deg).astype(np.int64), 0, self.ny - 1)
        np.maximum.at(self.last_seen, iy * self.nx + ix, recv)

    def seen(self, at: float) -> list[tuple[int, int]]:
        """Per zone: (cells seen within ``recent_s`` before ``at``, cells in all)."""
        cut = at - self.recent_s
        return [(int((self.last_seen[c] >= cut).sum()), int(c.size)) for c in self.zone_cells]


class CoverageRecorder:
    """Collects the listening intervals of every feed and the zone buckets, and hands them out as rows."""

    def __init__(self, feeds: Sequence[FeedLiveness], cells: CellCoverage, bucket_s: DurationLike = 60.0) -> None:
        self.feeds = list(feeds)
        self.cells = cells
        self.bucket_s = parse_duration(bucket_s, field="bucket")  # seconds, or text with a unit
        self._bucket_start: float | None = None
        self._zone_rows: list[dict[str, Any]] = []

    def tick(self, now: float) -> None:
        """Close the zone buckets that ended by ``now``.

        Call it only once every position received before ``now`` has gone through `observe` (the monitor
        calls it when its queue is empty).
        """
        if self._bucket_start is None:
            self._bucket_start = now
            return
        while now - self._bucket_start >= self.bucket_s:
            self._close(self._bucket_start + self.bucket_s)

    def observe(self, lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64],
                recv: npt.NDArray[np.float64]) -> None:
        """Mark the cells of these positions as seen, closing every bucket that ends among their receipt times.

        A bucket is judged by the positions received before its end, however late the engine
        handles them (a backlog, a slow first batch): the record does not depend on the engine's lag.
        """
        rest = np.ones(len(recv), bool)
        if self._bucket_start is not None:
            while rest.any() and recv[rest].max() >= (end := self._bucket_start + self.bucket_s):
                early = rest & (recv < end)
                self.cells.update(lon[early], lat[early], recv[early])
                rest &= ~early
                self._close(end)
        self.cells.update(lon[rest], lat[rest], recv[rest])

    def _close(self, end: float) -> None:
        start = self._bucket_start
        if start is None:
            return
        for zid, (seen, total) in zip(self.cells.zone_ids, self.cells.seen(end), strict=True):
            self._zone_rows.append({"record": "zone", "feed": None, "zone_id": zid, "start": _dt(start),
                                    "end": _dt(end), "cells_total": total, "cells_seen": seen})
        self._bucket_start = end

    def take(self, now: float) -> pd.DataFrame:
        """Rows for the case: zone buckets closed since the last call, plus every feed's intervals and gaps.

        Buckets are closed by `tick` and `observe` only, never here: ``now`` may be ahead of what the engine has
        handled.
        """
        rows = self._zone_rows
        self._zone_rows = []
        for f in self.feeds:
            iv, gaps = f.snapshot(now)
            rows += [{"record": "listening", "feed": f.name, "zone_id": None, "start": _dt(a), "end": _dt(b),
                      "cells_total": None, "cells_seen": None} for a, b in iv]
            rows += [{"record": "gap", "feed": f.name, "zone_id": why, "start": _dt(a), "end": _dt(b),
                      "cells_total": None, "cells_seen": None} for a, b, why in gaps]
        return pd.DataFrame(rows, columns=list(COVERAGE_COLUMNS))


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


# ----------------------------------------------------------------------------- case side

def _records(case: Case) -> pd.DataFrame:
    frames = [case.run_results(r.id) for r in case.runs() if r.kind == "monitor_coverage"]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=list(COVERAGE_COLUMNS))
    df = pd.concat(frames, ignore_index=True)
    for c in ("start", "end"):
        df[c] = pd.to_datetime(df[c], utc=True, format="ISO8601")
    return df


def _union_covers(intervals: list[tuple[pd.Timestamp, pd.Timestamp]], a: pd.Timestamp, b: pd.Timestamp,
                  ) -> tuple[bool, float]:
    """Whether the union of intervals covers [a, b]; and the seconds of [a, b] it leaves uncovered."""
    covered = 0.0
    cur = a
    for s, e in sorted(intervals):
        if e <= cur:
            continue
        if s > cur:
            if s >= b:
                break
            cur = s  # a hole from cur to s
        end = min(e, b)
        covered += (end - cur).total_seconds()
        cur = end
        if cur >= b:
            break
    total = (b - a).total_seconds()
    return covered >= total - 1e-6, max(total - covered, 0.0)


def coverage_rows(case: Case, *, min_cells: int = 1, claim_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per (absence claim, zone): whether the monitor was listening there throughout the window."""
    rec = _records(case)
    listen = rec[rec["record"] == "listening"]
    intervals = list(zip(listen["start"], listen["end"], strict=True))
    zrows = rec[rec["record"] == "zone"]
    alerts = [o for o in case.observations() if o.properties.get("monitor_event") == "enter"]
    out: list[dict[str, Any]] = []
    for cid, c in sorted(case.claims().items()):
        if claim_ids is not None and cid not in claim_ids:
            continue
        if not c.is_absence or not c.where_zones or c.window_start is None or c.window_end is None:
            continue
        a, b = pd.Timestamp(c.window_start), pd.Timestamp(c.window_end)
        for zid in c.where_zones:
            listened, hole = _union_covers(intervals, a, b)
            zb = zrows[(zrows["zone_id"] == zid) & (zrows["end"] > a) & (zrows["start"] < b)]
            zb_ok = zb[zb["cells_seen"].astype(float) >= min_cells]
            observed, zhole = _union_covers(list(zip(zb_ok["start"], zb_ok["end"], strict=True)), a, b)
            hits = sorted(o.id for o in alerts if o.properties.get("zone_id") == zid and o.time_start is not None
                          and a <= pd.Timestamp(o.time_start) <= b)
            status = ("alert" if hits else "covered" if listened and observed else
                      "gap" if not listened else "zone not observed")
            out.append({"claim_id": cid, "zone_id": zid, "window_start": a, "window_end": b,
                        "listened": listened, "unlistened_s": round(hole, 3), "zone_observed": observed,
                        "zone_unobserved_s": round(zhole, 3), "zone_buckets": len(zb), "alerts": json.dumps(hits),
                        "status": status})
    cols = ["claim_id", "zone_id", "window_start", "window_end", "listened", "unlistened_s", "zone_observed",
            "zone_unobserved_s", "zone_buckets", "alerts", "status"]
    return pd.DataFrame(out, columns=cols)


def rerun_coverage_check(case: Case, params: Mapping[str, Any]) -> pd.DataFrame:
    """Recompute a recorded coverage check from the case (`overflight.case.kinds`)."""
    return coverage_rows(case, min_cells=int(params.get("min_cells", 1)), claim_ids=params.get("claim_ids"))


def rerun_monitor_coverage(case: Case, params: Mapping[str, Any]) -> pd.DataFrame:
    """The stored rows of a monitor coverage record (a sensor record re-runs as itself)."""
    # A sensor record is primary data: its "re-run" is the record itself, located by its session and number.
    for r in case.runs():
        if r.kind == "monitor_coverage" and r.parameters.get("session") == params.get("session") and \
                r.parameters.get("seq") == params.get("seq"):
            df = case.run_results(r.id)
            return df
    return pd.DataFrame(columns=list(COVERAGE_COLUMNS))


def check_coverage(case: Case, *, source_id: str | None = None, min_cells: int = 1,
                   credibility: int = 2, claim_ids: Sequence[str] | None = None) -> tuple[str, pd.DataFrame]:
    """Judge every claim of absence against the monitor's records; store the evidence; return (run id, rows).

    ``source_id`` names the monitor's sensor source (default: the first ``sensor`` source that wrote
    monitor records); its reliability and ``credibility`` grade the coverage items.
    """
    rows = coverage_rows(case, min_cells=min_cells, claim_ids=claim_ids)
    sources = case.sources()
    if source_id is None:
        cands = sorted(s.id for s in sources.values() if s.kind == "sensor" and s.id.startswith("monitor"))
        source_id = cands[0] if cands else None
    rel = sources[source_id].reliability if source_id in sources else "F"
    items: list[EvidenceItem] = []
    obs = {o.id: o for o in case.observations()}
    earlier = {e.id for e in case.evidence()}
    for cid, g in rows.groupby("claim_id", sort=True):
        if not (g["status"] == "covered").all() and f"coverage-{cid}" in earlier:
            # an earlier check found coverage (before the claim's window or zones changed): it no longer counts
            items.append(EvidenceItem(
                id=f"coverage-{cid}", claim_id=str(cid), kind="coverage", direction="supports",
                reasoning="the monitor's record no longer covers the claimed zones and window "
                          f"({', '.join(sorted(set(g['status'])))})", reliability="F", credibility=6,
                source_id=source_id, result_row=int(g.index[0])))
        if (g["status"] == "covered").all():
            zones = ", ".join(g["zone_id"])
            items.append(EvidenceItem(
                id=f"coverage-{cid}", claim_id=str(cid), kind="coverage", direction="supports",
                reasoning=f"the monitor was listening throughout the window and observed positions around "
                          f"{zones}; no aircraft entered", reliability=rel, credibility=credibility,
                source_id=source_id, result_row=int(g.index[0])))
        for i, r in zip(g.index.tolist(), g.to_dict("records"), strict=True):
            for oid in json.loads(r["alerts"]):
                o = obs.get(oid)
                items.append(EvidenceItem(
                    id=f"coverage-{cid}-{oid}", claim_id=str(cid), kind="observation", direction="contradicts",
                    reasoning=f"the monitor saw an aircraft enter {r['zone_id']} in the window",
                    reliability=sources[o.source_id].reliability if o and o.source_id in sources else "F",
                    credibility=o.credibility if o else 6, source_id=o.source_id if o else None,
                    result_row=int(i), observation_id=oid))
    params = {"min_cells": min_cells, "claim_ids": list(claim_ids) if claim_ids is not None else None}
    run_id = case.record_run("coverage_check", params, {}, None, rows, items)
    return run_id, rows


__all__ = [
    "COVERAGE_COLUMNS",
    "CellCoverage",
    "CoverageRecorder",
    "FeedLiveness",
    "check_coverage",
    "coverage_rows",
    "rerun_coverage_check",
    "rerun_monitor_coverage",
]
