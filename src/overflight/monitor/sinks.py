"""Where alerts go: JSON lines (stdout or a file), a webhook, and the case file.

* `JsonlSink` writes each event as one JSON line and flushes per batch.
* `WebhookSink` POSTs each event as JSON from its own thread, with retries and back-off, through a bounded
  queue: when the receiver is slow or dead the queue fills and further events are *dropped and counted* —
  intake never waits for a webhook.
* `CaseSink` turns events into observations (kind ``sighting``, one ``sensor`` source per feed, graded from the
  feed; MLAT/TIS-B/ADS-R positions one credibility step lower) and coverage rows into ``monitor_coverage``
  runs, writing from its own thread in small transactions (the case file is opened and closed each time, so
  other tools can use it between writes). A write that fails (the case is locked) is retried; nothing is
  lost while the process lives. Event ids are deterministic, so writing an event twice stores it once.
"""

from __future__ import annotations

import contextlib
import json
import queue
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import pandas as pd

from overflight.errors import OverflightError
from overflight.evidence.model import Observation, Source
from overflight.monitor.feeds import FeedSpec
from overflight.units import DurationLike, parse_duration


def _plain(e: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in e.items() if not k.startswith("_")}


class JsonlSink:
    """One JSON object per event per line, to stdout (``-``) or a file (appended)."""

    def __init__(self, target: str | Path) -> None:
        self.target = str(target)
        self._fh: IO[str] = sys.stdout if self.target == "-" else open(self.target, "a", encoding="utf-8")  # noqa: SIM115
        self.written = 0

    def write(self, events: Sequence[dict[str, Any]]) -> None:
        """Append the events as JSON lines."""
        if not events:
            return
        self._fh.write("".join(json.dumps(_plain(e), ensure_ascii=False) + "\n" for e in events))
        self._fh.flush()
        self.written += len(events)

    def close(self) -> None:
        """Close the file (never stdout)."""
        if self._fh is not sys.stdout:
            self._fh.close()

    def stats(self) -> dict[str, Any]:
        """What the sink has written."""
        return {"target": self.target, "written": self.written}


class WebhookSink:
    """HTTP POST of each event (JSON body) with ``retries`` attempts; a bounded queue that drops when full."""

    def __init__(self, url: str, *, queue_size: int = 1000, retries: int = 3, timeout: DurationLike = 5.0,
                 backoff: float = 0.5) -> None:
        self.url = url
        self.q: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=queue_size)
        self.retries = retries
        self.timeout = parse_duration(timeout, field="timeout")  # seconds, or text with a unit
        self.backoff = backoff
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.attempts = 0
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name="webhook", daemon=True)
        self._thread.start()

    def write(self, events: Sequence[dict[str, Any]]) -> None:
        """Queue the events for posting (dropped and counted when the queue is full)."""
        for e in events:
            try:
                self.q.put_nowait(_plain(e))
            except queue.Full:
                self.dropped += 1

    def _run(self) -> None:
        while True:
            e = self.q.get()
            if e is None:
                return
            body = json.dumps(e, ensure_ascii=False).encode()
            for attempt in range(self.retries):
                self.attempts += 1
                try:
                    req = urllib.request.Request(self.url, data=body, method="POST",
                                                 headers={"Content-Type": "application/json"})
                    with urllib.request.urlopen(req, timeout=self.timeout) as r:
                        if 200 <= r.status < 300:
                            self.sent += 1
                            break
                        self.last_error = f"HTTP {r.status}"
                except Exception as exc:  # any failure of the receiver is retried, then counted
                    self.last_error = f"{type(exc).__name__}: {exc}"
                time.sleep(self.backoff * 2 ** attempt)
            else:
                self.failed += 1

    def close(self, timeout: DurationLike = 5.0) -> None:
        """Send what is queued (within ``timeout``: seconds or text), then stop."""
        deadline = time.time() + parse_duration(timeout, field="timeout")
        while not self.q.empty() and time.time() < deadline:
            time.sleep(0.05)
        with contextlib.suppress(queue.Full):
            self.q.put_nowait(None)
        self._thread.join(max(deadline - time.time(), 0.1))

    def stats(self) -> dict[str, Any]:
        """What the sink has sent, failed and dropped."""
        return {"url": self.url, "sent": self.sent, "failed": self.failed, "dropped": self.dropped,
                "queued": self.q.qsize(), "attempts": self.attempts, "last_error": self.last_error}


def source_for(feed: FeedSpec) -> Source:
    """The sensor source a feed's observations cite."""
    return Source(id=f"monitor-{feed.name}", name=f"overflight monitor, feed {feed.name}", kind="sensor",
                  link=None, reliability=feed.grade.reliability,
                  notes=f"live feed {feed.url}; grade {feed.grade}")


def event_credibility(feed: FeedSpec, source: str | None) -> int:
    """ADS-B positions keep the feed's credibility; computed or relayed ones (MLAT, TIS-B, ADS-R) one step less."""
    c = feed.grade.credibility
    return c if source in (None, "adsb") else min(c + 1, 6)


def event_observation(e: dict[str, Any], feed: FeedSpec, session: str) -> Observation:
    """The case observation an enter/exit event becomes."""
    t = datetime.fromtimestamp(int(e["time_ns"]) / 1e9, UTC)
    verb = {"enter": "entered", "exit": "left", "exit_unknown": "was last known inside"}[e["event"]]
    cs = f" ({e['callsign']})" if e.get("callsign") else ""
    alt = f", {e['alt_m']:.0f} m {e['altitude_ref']}" if e.get("alt_m") is not None else ""
    return Observation(
        id=str(e["id"]), kind="sighting", source_id=source_for(feed).id, lon=e.get("lon"), lat=e.get("lat"),
        time_start=t, time_end=t, credibility=event_credibility(feed, e.get("source")),
        description=f"aircraft {e['aircraft']}{cs} {verb} zone {e['zone_id']} ({e['kind']}, {e.get('source')}{alt})",
        properties={"monitor_event": e["event"], "monitor_session": session, **_plain(e)})


class CaseSink:
    """Writes events and coverage records into the case from a background thread (see module docstring)."""

    def __init__(self, path: str | Path, feeds: Sequence[FeedSpec], session: str, *,
                 flush_s: DurationLike = 0.5) -> None:
        self.path = Path(path)
        self.feeds = list(feeds)
        self.session = session
        self.flush_s = parse_duration(flush_s, field="flush")  # seconds, or text with a unit
        self._lock = threading.Lock()
        self._events: list[dict[str, Any]] = []
        self._coverage: list[tuple[dict[str, Any], pd.DataFrame, Any]] = []
        self.written_events = 0
        self.written_records = 0
        self.errors = 0
        self.last_error: str | None = None
        self._sources_done = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="case-sink", daemon=True)
        self._thread.start()

    def write(self, events: Sequence[dict[str, Any]]) -> None:
        """Queue the events for the case writer thread."""
        if events:
            with self._lock:
                self._events.extend(events)
            self._wake.set()

    def write_coverage(self, params: dict[str, Any], rows: pd.DataFrame, provenance: Any) -> None:
        """Queue a coverage record for the case writer thread."""
        with self._lock:
            self._coverage.append((params, rows, provenance))
        self._wake.set()

    @property
    def pending(self) -> int:
        """Events and records not yet written."""
        with self._lock:
            return len(self._events) + len(self._coverage)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_s)
            self._wake.clear()
            self.flush_once()

    def flush_once(self) -> bool:
        """Write what is pending; False (and kept for later) if the case could not be written."""
        with self._lock:
            events, self._events = self._events, []
            cov, self._coverage = self._coverage, []
        if not events and not cov:
            return True
        from overflight.case.store import Case

        try:
            with Case.create(self.path, exist_ok=True) as case:
                if not self._sources_done:
                    case.add_sources([source_for(f) for f in self.feeds])
                    self._sources_done = True
                if events:
                    case.add_observations([event_observation(e, self.feeds[int(e["feed"])] if e.get("feed")
                                                             is not None else self.feeds[0], self.session)
                                           for e in events])
                for params, rows, prov in cov:
                    case.record_run("monitor_coverage", params, {}, prov, rows)
        except (OverflightError, OSError) as exc:
            self.errors += 1
            self.last_error = str(exc)
            with self._lock:  # keep them, in order, for the next attempt
                self._events = events + self._events
                self._coverage = cov + self._coverage
            return False
        self.written_events += len(events)
        self.written_records += len(cov)
        return True

    def close(self, timeout: DurationLike = 10.0) -> None:
        """Stop the thread and write everything still pending (retrying until ``timeout``: seconds or text)."""
        wait_s = parse_duration(timeout, field="timeout")
        self._stop.set()
        self._wake.set()
        self._thread.join(wait_s)
        deadline = time.time() + wait_s
        while self.pending and time.time() < deadline:
            if not self.flush_once():
                time.sleep(0.2)

    def stats(self) -> dict[str, Any]:
        """What the sink has written, what is pending and the last error."""
        return {"path": str(self.path), "written_events": self.written_events,
                "written_coverage_records": self.written_records, "pending": self.pending, "errors": self.errors,
                "last_error": self.last_error}


def open_visits(path: str | Path) -> list[dict[str, Any]]:
    """Visits the monitor opened in the case and never closed (for a restart to resume from)."""
    from overflight.case.store import Case

    p = Path(path)
    if not p.exists():
        return []
    with Case.open(p, read_only=True) as case:
        obs = [o for o in case.observations(["sighting"]) if "monitor_event" in o.properties]
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for o in sorted(obs, key=lambda o: (int(o.properties.get("time_ns", 0)), o.properties["monitor_event"] != "enter")):
        pr = o.properties
        last[(str(pr["aircraft"]), str(pr["zone_id"]))] = pr
    return [{"aircraft": a, "zone_id": z, "id": pr["id"], "time_ns": int(pr["time_ns"])}
            for (a, z), pr in sorted(last.items()) if pr["monitor_event"] == "enter"]


__all__ = [
    "CaseSink",
    "JsonlSink",
    "WebhookSink",
    "event_credibility",
    "event_observation",
    "open_visits",
    "source_for",
]
