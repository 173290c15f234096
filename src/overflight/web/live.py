"""The live layer: alerts of a monitor, kept in a ring buffer that the server streams as server-sent events.

Two sources: a monitor run inside the server (`MonitorLive`: `overflight.monitor.runner.Monitor` on a thread,
its alerts through ``Monitor.subscribe``, its status through the status file it rewrites every second), or
another monitor's JSON-lines output followed as it grows (`JsonlLive`, what ``overflight monitor --jsonl``
writes). Each alert gets a sequence number, the SSE event id, so a reconnecting page resumes where it was.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MAX_ALERTS = 5000


class LiveFeed:
    """Numbered alerts (newest last, at most `MAX_ALERTS`) and what the source says of itself."""

    def __init__(self, describe: str) -> None:
        self.describe = describe
        self._alerts: deque[tuple[int, dict[str, Any]]] = deque(maxlen=MAX_ALERTS)
        self._seq = 0
        self._lock = threading.Lock()
        self.rejected = 0  # lines of a followed file that were not alerts

    def push(self, events: Sequence[dict[str, Any]]) -> None:
        with self._lock:
            for e in events:
                self._seq += 1
                self._alerts.append((self._seq, {k: v for k, v in e.items() if not k.startswith("_")}))

    def since(self, seq: int) -> list[tuple[int, dict[str, Any]]]:
        with self._lock:
            return [(s, e) for s, e in self._alerts if s > seq]

    @property
    def last_seq(self) -> int:
        return self._seq

    def status(self) -> dict[str, Any]:
        return {"source": self.describe, "alerts": self._seq, "rejected_lines": self.rejected}

    def zones(self) -> dict[str, Any]:
        """The zones the source watches, as GeoJSON (none known for a followed file)."""
        return {"type": "FeatureCollection", "features": []}

    def start(self) -> None:  # pragma: no cover - overridden
        pass

    def stop(self) -> None:  # pragma: no cover - overridden
        pass


class MonitorLive(LiveFeed):
    """A monitor on a thread of the server (no signals: the server's shutdown stops it)."""

    def __init__(self, feeds: Sequence[str], zones: str, zone_ids: Sequence[str] | None = None,
                 **options: Any) -> None:
        from overflight.monitor.runner import Monitor, MonitorConfig

        super().__init__(f"monitor on {', '.join(feeds)}")
        self._dir = Path(tempfile.mkdtemp(prefix="overflight-live-"))
        cfg = MonitorConfig(zones=zones, feeds=list(feeds), zone_ids=zone_ids, status=self._dir / "status.json",
                            **options)
        self.monitor = Monitor(cfg)  # InputError now (bad feed URL, zones) rather than on a thread later
        self.monitor.subscribe(self.push)
        self._thread: threading.Thread | None = None

    def zones(self) -> dict[str, Any]:
        import shapely

        return {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": json.loads(shapely.to_geojson(z.geometry)),
             "properties": {"layer": "live-zone", "id": z.id, "name": z.name, "floor_m": z.floor_m,
                            "ceiling_m": z.ceiling_m}} for z in self.monitor.zones]}

    def start(self) -> None:
        self._thread = threading.Thread(target=self.monitor.run, kwargs={"install_signals": False}, daemon=True,
                                        name="live-monitor")
        self._thread.start()

    def stop(self) -> None:
        self.monitor.stop()
        if self._thread is not None:
            self._thread.join(15)

    def status(self) -> dict[str, Any]:
        from overflight.errors import OverflightError
        from overflight.monitor.runner import read_status

        out = super().status()
        try:
            st = read_status(self.monitor.cfg.status or "")
        except (OverflightError, OSError, ValueError):
            return {**out, "running": False}
        out.update({"running": bool(st.get("running")), "aircraft": st.get("aircraft"),
                    "messages_per_s": st.get("messages_per_s"), "open_visits": st.get("open_visits"),
                    "zones": st.get("n_zones"),
                    "feeds": [{"name": f["name"], "url": f["url"], "connected": f["connected"],
                               "last_data_age_s": f["last_data_age_s"]} for f in st.get("feeds", [])]})
        return out


class JsonlLive(LiveFeed):
    """Follows a monitor's JSON-lines alert file as it grows (from its start; a truncated file is re-read)."""

    def __init__(self, path: Path, poll_s: float = 0.25) -> None:
        super().__init__(f"alerts file {path}")
        self.path = path
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lines = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._follow, daemon=True, name="live-jsonl")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _follow(self) -> None:
        pos, partial = 0, b""
        while not self._stop.is_set():
            try:
                size = self.path.stat().st_size
                if size < pos:  # truncated or replaced: start over
                    pos, partial = 0, b""
                if size > pos:
                    with self.path.open("rb") as fh:
                        fh.seek(pos)
                        data = fh.read(size - pos)
                    pos += len(data)
                    *complete, partial = (partial + data).split(b"\n")
                    self._take(complete)
            except OSError:
                pass  # not there yet: the monitor may start after the server
            self._stop.wait(self.poll_s)

    def _take(self, lines: list[bytes]) -> None:
        events = []
        for raw in lines:
            if not raw.strip():
                continue
            self.lines += 1
            try:
                e = json.loads(raw)
            except ValueError:
                self.rejected += 1
                continue
            if not isinstance(e, dict) or "event" not in e or not {"lon", "lat"} <= set(e):
                self.rejected += 1
                continue
            events.append(e)
        self.push(events)

    def status(self) -> dict[str, Any]:
        return {**super().status(), "running": self._thread is not None and self._thread.is_alive(),
                "lines": self.lines, "file_exists": self.path.exists()}


def alerts_geojson(items: Sequence[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """Alerts as map points (alerts without a position are kept as features without geometry)."""
    feats = []
    for seq, e in items:
        lon, lat = e.get("lon"), e.get("lat")
        ok = isinstance(lon, int | float) and isinstance(lat, int | float)
        feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]} if ok else None,
                      "properties": {"layer": "live", "seq": seq, "id": str(e.get("id", seq)),
                                     "event": str(e.get("event", "")), "kind": str(e.get("kind", "")),
                                     "aircraft": str(e.get("aircraft", "")), "callsign": e.get("callsign"),
                                     "zone": str(e.get("zone_id", "")), "time": e.get("time"),
                                     "alt_m": e.get("alt_m"), "feed": e.get("feed_name")}})
    return {"type": "FeatureCollection", "features": feats, "now": time.time()}


__all__ = [
    "MAX_ALERTS",
    "JsonlLive",
    "LiveFeed",
    "MonitorLive",
    "alerts_geojson",
]
