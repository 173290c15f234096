"""The running monitor: feed threads → one engine loop (parse, geofence, coverage) → sinks; signals; status file.

Signals: SIGHUP reloads the zones (state kept, see `Geofence.reload`; a zone file that fails to load keeps the
old zones and is reported in the status); SIGTERM and SIGINT stop it: queued input is processed, held exits
confirmed, coverage written and every sink flushed. A restart with the same case resumes the visits the
case holds open, so it raises no second ``enter`` for an aircraft still inside.

The status file (JSON, rewritten atomically about once a second) is what ``overflight monitor status`` shows.
`Monitor.subscribe` registers a callback for every batch of events (a hook for a live view, e.g. server-sent
events in the web app).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import queue
import signal
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from overflight.errors import InputError, OverflightError
from overflight.index import ZoneIndex
from overflight.monitor.coverage import CellCoverage, CoverageRecorder, FeedLiveness
from overflight.monitor.feeds import FeedSpec, Item, Reader, make_reader, parse_feed
from overflight.monitor.geofence import SOURCES, Geofence, Positions
from overflight.monitor.sbs import POSITION, STATUS_NAMES, SbsParser
from overflight.monitor.sinks import CaseSink, JsonlSink, WebhookSink, open_visits
from overflight.units import DistanceLike, DurationLike, SpeedLike, parse_distance, parse_duration, parse_speed
from overflight.zones import ZoneSet, load_zones


@dataclass
class MonitorConfig:
    """Everything a monitor run needs (the CLI options, one to one)."""

    zones: str
    feeds: Sequence[str]
    zone_ids: Sequence[str] | None = None
    case: Path | None = None
    webhook: str | None = None
    jsonl: str | None = None
    status: Path | None = None
    # durations are seconds, speeds m/s, distances metres, or text with a unit ("1min", "1400kmh", "5km");
    # __post_init__ turns each into a float
    stale_s: DurationLike = 60.0
    hysteresis_s: DurationLike = 10.0
    max_speed_mps: SpeedLike = 700.0
    step_m: DistanceLike = 5000.0
    altitude: str = "baro"
    gap_s: DurationLike = 90.0
    bucket_s: DurationLike = 60.0
    cell_deg: float = 0.25
    recent_s: DurationLike = 600.0
    coverage_every_s: DurationLike = 60.0
    status_every_s: DurationLike = 1.0
    queue_items: int = 256  # x up to 256 kB per read: a bounded backlog, then TCP back-pressure
    backoff: tuple[float, float] = (0.5, 30.0)
    webhook_queue: int = 1000
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("stale_s", "hysteresis_s", "gap_s", "bucket_s", "recent_s", "coverage_every_s",
                     "status_every_s"):
            setattr(self, name, parse_duration(getattr(self, name), field=name.removesuffix("_s")))
        self.max_speed_mps = parse_speed(self.max_speed_mps, default_unit="mps", field="max_speed")
        self.step_m = parse_distance(self.step_m, field="step")


_PUT_MARGIN_S = 0.25  # a reader stamps receipt time just before it queues the item


def _load(cfg: MonitorConfig) -> tuple[ZoneSet, ZoneIndex]:
    zs = load_zones(cfg.zones, ids=list(cfg.zone_ids) if cfg.zone_ids else None)
    if len(zs) == 0:
        raise InputError("no zones to watch", file=cfg.zones, field="zone")
    return zs, ZoneIndex(zs)


class Monitor:
    """A live monitor (see the module docstring). Build it, then `run()` (blocks until stopped)."""

    def __init__(self, cfg: MonitorConfig) -> None:
        self.cfg = cfg
        self.specs: list[FeedSpec] = [parse_feed(u, i) for i, u in enumerate(cfg.feeds)]
        if not self.specs:
            raise InputError("give at least one --feed", field="feed")
        names = [s.name for s in self.specs]
        if len(set(names)) != len(names):
            raise InputError(f"feed names must differ: {names}", field="feed")
        self.zones, index = _load(cfg)
        self.geofence = Geofence(self.zones, index, step_m=cfg.step_m, stale_s=cfg.stale_s,
                                 hysteresis_s=cfg.hysteresis_s, max_speed_mps=cfg.max_speed_mps,
                                 altitude_ref=cfg.altitude)
        self.session = uuid.uuid4().hex[:12]
        self.live = [FeedLiveness(s.name, gap_s=cfg.gap_s) for s in self.specs]
        self.cells = CellCoverage(self.zones, cfg.cell_deg, cfg.recent_s)
        self.coverage = CoverageRecorder(self.live, self.cells, cfg.bucket_s)
        self.queue: queue.Queue[Item] = queue.Queue(maxsize=cfg.queue_items)
        self.stop_event = threading.Event()
        self._hup = threading.Event()
        self.parsers = [SbsParser(s.tz) for s in self.specs]
        self.sinks: list[Any] = []
        self.jsonl = JsonlSink(cfg.jsonl) if cfg.jsonl else None
        self.webhook = WebhookSink(cfg.webhook, queue_size=cfg.webhook_queue) if cfg.webhook else None
        self.case_sink = CaseSink(cfg.case, self.specs, self.session) if cfg.case else None
        self._subscribers: list[Callable[[list[dict[str, Any]]], None]] = []
        self.counts = {k: 0 for k in ("lines_in", *STATUS_NAMES, "records_in", "records_rejected",
                                      "partial_lines")}
        self.feed_counts = [{k: 0 for k in ("lines_in", *STATUS_NAMES)} for _ in self.specs]
        self.alerts = 0
        self.latencies: deque[float] = deque(maxlen=20000)
        self.batch_s: deque[float] = deque(maxlen=5000)  # engine time per batch (wall)
        self.batch_cpu_s: deque[float] = deque(maxlen=5000)  # and its CPU time (less when the core is shared)
        self.started = time.time()
        self.reload_error: str | None = None
        self.reloads = 0
        self._rate: deque[tuple[float, int]] = deque(maxlen=120)
        self._cov_seq = 0
        self.readers: list[Reader] = []
        if cfg.case is not None:
            try:
                self.geofence.resume(open_visits(cfg.case), time.time())
            except OverflightError as exc:
                raise InputError(f"cannot resume from the case: {exc}", file=cfg.case) from None

    # ------------------------------------------------------------------ hooks
    def subscribe(self, fn: Callable[[list[dict[str, Any]]], None]) -> None:
        """Call ``fn(events)`` for every batch of events (from the engine thread; keep it quick)."""
        self._subscribers.append(fn)

    def request_reload(self) -> None:
        """Ask the loop to reload the zones (what SIGHUP does)."""
        self._hup.set()

    def stop(self) -> None:
        """Ask the loop to stop."""
        self.stop_event.set()

    # ------------------------------------------------------------------ loop
    def run(self, *, install_signals: bool = True, duration_s: DurationLike | None = None) -> None:
        """Run until stopped (SIGTERM/SIGINT, `stop()`, every jsonl feed ended, or ``duration_s``: seconds or text)."""
        limit_s = None if duration_s is None else parse_duration(duration_s, field="duration")
        if install_signals and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGHUP, lambda *_: self._hup.set())
            signal.signal(signal.SIGTERM, lambda *_: self.stop_event.set())
            signal.signal(signal.SIGINT, lambda *_: self.stop_event.set())
        self.readers = [make_reader(s, i, self.queue, self.live[i], self.stop_event, backoff=self.cfg.backoff,
                                    altitude_ref=self.cfg.altitude) for i, s in enumerate(self.specs)]
        for r in self.readers:
            r.start()
        self.write_status()
        # Long-lived objects (zones, index, aircraft state) out of the cycle collector's way: a full
        # collection over them is a stall of a few hundred ms, i.e. late alerts. Refcounting still frees them.
        gc.freeze()
        last_freeze = time.time()
        last_expire = last_status = time.time()
        last_cov = time.time()
        self.coverage.tick(time.time())
        try:
            while not self.stop_event.is_set():
                drained_at = time.time()
                items = self._drain(0.1)
                if items:
                    t_b, c_b = time.perf_counter(), time.thread_time()
                    self._handle(items)
                    self.batch_s.append(time.perf_counter() - t_b)
                    self.batch_cpu_s.append(time.thread_time() - c_b)
                now = time.time()
                if now - last_expire >= 0.5:
                    self._emit(self.geofence.expire(now))
                    last_expire = now
                if self.queue.empty():
                    # Everything received before the drain has been handled (less a reader's put in flight,
                    # hence the margin); with a backlog, `observe` closes the buckets by receipt time instead.
                    self.coverage.tick(drained_at - _PUT_MARGIN_S)
                if now - last_cov >= float(self.cfg.coverage_every_s):
                    self._write_coverage(now)
                    last_cov = now
                if self._hup.is_set():
                    self._hup.clear()
                    self._reload(now)
                if now - last_freeze >= 30.0:
                    gc.freeze()
                    last_freeze = now
                if now - last_status >= float(self.cfg.status_every_s):
                    self.write_status(now)
                    last_status = now
                if limit_s is not None and now - self.started >= limit_s:
                    break
                if all(r.spec.kind == "jsonl" for r in self.readers) and not any(r.is_alive() for r in
                                                                                  self.readers) \
                        and self.queue.empty():
                    break
        finally:
            self._shutdown()

    def _drain(self, timeout: float) -> list[Item]:
        items: list[Item] = []
        try:
            items.append(self.queue.get(timeout=timeout))
        except queue.Empty:
            return items
        while len(items) < 64:  # bounded batches: a backlog is worked off in steps, not in one long stall
            try:
                items.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return items

    def _handle(self, items: list[Item]) -> None:
        parts: list[Positions] = []
        callsigns: dict[int, str] = {}
        cs_keys: list[np.ndarray] = []
        cs_vals: list[np.ndarray] = []
        for it in items:
            fc = self.feed_counts[it.feed]
            if it.reset:
                if self.parsers[it.feed].reset():  # an unterminated line from a connection that is gone
                    self.counts["partial_lines"] += 1
                continue
            if it.data is not None:
                b = self.parsers[it.feed].feed(it.data)
                c = np.bincount(b.status, minlength=5)
                self.counts["lines_in"] += it.lines
                fc["lines_in"] += it.lines
                for i, name in enumerate(STATUS_NAMES):
                    self.counts[name] += int(c[i])
                    fc[name] += int(c[i])
                ci = np.flatnonzero(b.callsign != 0)
                if len(ci):
                    cs_keys.append(b.key[ci])
                    cs_vals.append(b.callsign[ci])
                sel = np.flatnonzero(b.status == POSITION)
                if len(sel):
                    alt = b.alt_m[sel] if self.cfg.altitude == "baro" else np.full(len(sel), np.nan)
                    parts.append(Positions(b.key[sel], b.time_ns[sel], b.lon[sel], b.lat[sel], alt,
                                           np.zeros(len(sel), np.int8), np.full(len(sel), it.recv),
                                           np.full(len(sel), it.feed, np.int16)))
            elif it.positions is not None:
                self.counts["records_in"] += it.lines
                self.counts["records_rejected"] += it.rejected
                fc["lines_in"] += it.lines
                parts.append(it.positions)
                if it.callsigns:
                    callsigns.update(it.callsigns)
        pos = Positions.concat(parts)
        arrays = (np.concatenate(cs_keys), np.concatenate(cs_vals)) if cs_keys else None
        events, accepted = self.geofence.process(pos, callsigns, arrays)
        if accepted.any():
            self.coverage.observe(pos.lon[accepted], pos.lat[accepted], pos.recv[accepted])
        self._rate.append((time.time(), self.counts["lines_in"] + self.counts["records_in"]))
        self._emit(events)

    def _emit(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        now = time.time()
        for e in events:
            e["emitted"] = now
            self.latencies.append(now - float(e["received"]))
            if e.get("feed") is not None:
                e["feed_name"] = self.specs[int(e["feed"])].name
        self.alerts += len(events)
        if self.jsonl:
            self.jsonl.write(events)
        if self.webhook:
            self.webhook.write(events)
        if self.case_sink:
            self.case_sink.write(events)
        for fn in self._subscribers:
            with contextlib.suppress(Exception):  # a subscriber must never stop the monitor
                fn(events)

    def _write_coverage(self, now: float) -> None:
        if self.case_sink is None:
            return
        self._cov_seq += 1
        rows = self.coverage.take(now)
        params = {"session": self.session, "seq": self._cov_seq, "feeds": [s.url for s in self.specs],
                  "gap_s": self.cfg.gap_s, "bucket_s": self.cfg.bucket_s, "cell_deg": self.cfg.cell_deg,
                  "recent_s": self.cfg.recent_s, "zones": self.cfg.zones}
        self.case_sink.write_coverage(params, rows, self.zones.provenance)

    def _reload(self, now: float) -> None:
        try:
            zs, idx = _load(self.cfg)
        except (OverflightError, OSError, ValueError) as exc:
            self.reload_error = str(exc)
            return
        self.reload_error = None
        self.reloads += 1
        events = self.geofence.reload(zs, idx, now)
        self.zones = zs
        self.cells.set_zones(zs)
        self._emit(events)

    def _shutdown(self) -> None:
        self.stop_event.set()
        for r in self.readers:
            r.join(timeout=3.0)
        items = self._drain(0.0)
        while items:
            self._handle(items)
            items = self._drain(0.0)
        self._emit(self.geofence.flush())
        now = time.time()
        self.coverage.tick(now)  # every reader has stopped and everything queued is handled
        self._write_coverage(now)
        if self.webhook:
            self.webhook.close()
        if self.case_sink:
            self.case_sink.close()
        if self.jsonl:
            self.jsonl.close()
        self.write_status(now, running=False)

    # ------------------------------------------------------------------ status
    def status(self, now: float | None = None, running: bool = True) -> dict[str, Any]:
        """The monitor's status: feeds, rates, counters, sinks (what the status file holds)."""
        now = time.time() if now is None else now
        rate = 0.0
        if len(self._rate) >= 2:
            (t0, n0), (t1, n1) = self._rate[0], self._rate[-1]
            rate = (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0
        lat = np.asarray(self.latencies) if self.latencies else np.zeros(0)
        feeds = []
        readers: list[Reader | None] = list(self.readers) or [None] * len(self.specs)
        for spec, live, rd, fc in zip(self.specs, self.live, readers, self.feed_counts, strict=True):
            iv, gaps = live.snapshot(now)
            feeds.append({"name": spec.name, "url": spec.url, "kind": spec.kind, "tz": spec.tz,
                          "grade": str(spec.grade), "connected": live.connected, "connects": live.connects,
                          "last_data_age_s": None if live.last is None else round(now - live.last, 3),
                          "listening_intervals": len(iv), "gaps": [{"start": a, "end": b, "why": w}
                                                                   for a, b, w in gaps[-20:]],
                          "counts": fc, "errors": rd.errors if rd else 0,
                          "last_error": rd.last_error if rd else None})
        parsed = sum(self.counts[k] for k in STATUS_NAMES if k != "garbage")
        return {
            "running": running, "pid": os.getpid(), "session": self.session, "started": self.started,
            "now": now, "zones": self.cfg.zones, "n_zones": len(self.zones), "reloads": self.reloads,
            "reload_error": self.reload_error, "aircraft": self.geofence.n_aircraft,
            "messages_per_s": round(rate, 1), "alerts": self.alerts,
            "lines": {**self.counts, "parsed": parsed, "rejected": self.counts["garbage"]},
            "geofence": self.geofence.stats.as_dict(),
            "latency_ms": {"n": int(lat.size), "p50": float(np.percentile(lat, 50) * 1e3) if lat.size else None,
                           "p99": float(np.percentile(lat, 99) * 1e3) if lat.size else None},
            "batch_ms": {"n": len(self.batch_s),
                         "p50": float(np.percentile(self.batch_s, 50) * 1e3) if self.batch_s else None,
                         "p99": float(np.percentile(self.batch_s, 99) * 1e3) if self.batch_s else None,
                         "max": float(max(self.batch_s) * 1e3) if self.batch_s else None},
            "feeds": feeds, "sources": list(SOURCES), "altitude_ref": self.cfg.altitude,
            "sinks": {"jsonl": self.jsonl.stats() if self.jsonl else None,
                      "webhook": self.webhook.stats() if self.webhook else None,
                      "case": self.case_sink.stats() if self.case_sink else None},
            "open_visits": sum(len(v) for v in self.geofence.inside.values()),
        }

    def write_status(self, now: float | None = None, running: bool = True) -> None:
        """Write `status` to the status file atomically (when one is configured)."""
        if self.cfg.status is None:
            return
        doc = self.status(now, running)
        p = Path(self.cfg.status)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=1, default=str))
        os.replace(tmp, p)


def read_status(path: str | Path) -> dict[str, Any]:
    """The status a running (or stopped) monitor last wrote; InputError if there is none."""
    p = Path(path)
    try:
        doc: dict[str, Any] = json.loads(p.read_text())
    except FileNotFoundError:
        raise InputError("no monitor status here (start the monitor with --status PATH)", file=p) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not a monitor status file ({exc})", file=p) from None
    return doc


__all__ = ["Monitor", "MonitorConfig", "read_status"]
