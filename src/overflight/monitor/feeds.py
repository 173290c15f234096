"""Feed URLs and their readers: TCP (SBS, Beast) with reconnect and back-off, aircraft.json polling, JSON lines.

Feed URLs (options after ``?``, joined by ``&``):

* ``sbs://HOST:PORT`` — SBS-1/BaseStation text. ``tz=`` the zone of its date/time fields (an IANA name,
  default ``UTC``: readsb writes UTC, dump1090 the receiver's local time, so pass e.g.
  ``tz=Europe/Berlin`` for a dump1090 on a Berlin clock);
* ``beast://HOST:PORT`` — Beast binary frames, decoded with pyModeS; times are the wall clock at receipt;
* ``aircraft-json:PATH_OR_URL`` — readsb/dump1090 ``aircraft.json``, polled every ``interval=`` seconds
  (default 1); a position's time is ``now - seen_pos``; ``type`` tags MLAT and TIS-B positions;
* ``jsonl:-`` (or ``jsonl:PATH``) — one JSON object per line: ``hex``, ``time`` (ISO 8601 or epoch seconds),
  ``lon``, ``lat``, optional ``alt_m``, ``source``, ``callsign``.

Every feed takes ``name=`` (label in alerts and the case) and ``grade=`` (Admiralty grade of the sensor,
default ``B2``; MLAT and TIS-B/ADS-R positions are graded one step less credible).

A reader runs in its own thread and hands raw blocks (or decoded positions) to the monitor through a bounded
queue; when the queue is full the reader waits (TCP back-pressure), so nothing read is dropped.
"""

from __future__ import annotations

import json
import queue
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from overflight.errors import InputError
from overflight.evidence.grading import Grade, parse_grade
from overflight.monitor.coverage import FeedLiveness
from overflight.monitor.geofence import SOURCES, Positions
from overflight.monitor.sbs import hex_key
from overflight.units import FEET, parse_duration

KINDS = ("sbs", "beast", "aircraft-json", "jsonl")
_JSON_TYPES = {"adsb_icao": "adsb", "adsb_icao_nt": "adsb", "adsb_other": "adsb", "mlat": "mlat",
               "tisb_icao": "tisb", "tisb_trackfile": "tisb", "tisb_other": "tisb", "adsr_icao": "adsr",
               "adsr_other": "adsr", "mode_s": "modes", "other": "other"}


@dataclass
class FeedSpec:
    """A parsed feed URL."""

    url: str
    kind: str
    target: str  # host:port, path or URL
    name: str
    tz: str = "UTC"
    grade: Grade = field(default_factory=lambda: Grade("B", 2))
    interval: float = 1.0

    @property
    def host_port(self) -> tuple[str, int]:
        """Host and port of a TCP feed target."""
        host, _, port = self.target.rpartition(":")
        return host.strip("[]"), int(port)


def parse_feed(url: str, index: int = 0) -> FeedSpec:
    """Parse a feed URL (see the module docstring); InputError naming the part that is wrong."""
    text = url.strip()
    kind = next((k for k in KINDS if text.startswith(k + ":")), None)
    if kind is None:
        raise InputError(f"feed {url!r} must start with one of {', '.join(k + ':' for k in KINDS)}", field="feed")
    rest = text[len(kind) + 1:]
    if kind in ("sbs", "beast"):
        rest = rest.removeprefix("//")
    target, _, query = rest.partition("?")
    opts = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    known = {k: opts.pop(k) for k in ("name", "tz", "grade", "interval") if k in opts}
    if opts and kind == "aircraft-json" and target.startswith(("http://", "https://")):
        target += "?" + urllib.parse.urlencode(opts)  # the user's own query parameters
    elif opts:
        raise InputError(f"unknown feed option(s) {', '.join(sorted(opts))} in {url!r}", field="feed")
    spec = FeedSpec(url=text, kind=kind, target=target, name=known.get("name") or f"{kind}-{index}")
    if "tz" in known:
        try:
            pd.Timestamp("2000-01-01").tz_localize(known["tz"])
        except Exception:
            raise InputError(f"unknown time zone {known['tz']!r} in feed {url!r}", field="tz") from None
        spec.tz = known["tz"]
    if "grade" in known:
        spec.grade = parse_grade(known["grade"], file=url, field="grade")
    if "interval" in known:
        spec.interval = parse_duration(known["interval"])  # seconds, or with a unit ("2s")
        if not spec.interval > 0:
            raise InputError(f"interval {known['interval']!r} in feed {url!r} must be above zero", field="interval")
    if kind in ("sbs", "beast"):
        try:
            _, port = spec.host_port
        except ValueError:
            raise InputError(f"feed {url!r} needs HOST:PORT", field="feed") from None
        if not 0 < port < 65536:
            raise InputError(f"feed {url!r}: port {port} is not in 1-65535", field="feed")
    if not target:
        raise InputError(f"feed {url!r} names no source", field="feed")
    return spec


@dataclass
class Item:
    """What a reader hands to the monitor: raw SBS bytes, or decoded positions."""

    feed: int
    recv: float
    data: bytes | None = None
    positions: Positions | None = None
    callsigns: dict[int, str] | None = None
    lines: int = 0  # lines (or records) the reader counted in this item
    rejected: int = 0  # records the reader itself could not parse
    reset: bool = False  # the connection ended: forget a partial line held from it


class Reader(threading.Thread):
    """Base reader thread: reconnects with exponential back-off until stopped."""

    def __init__(self, spec: FeedSpec, index: int, out: queue.Queue[Item], live: FeedLiveness,
                 stop: threading.Event, *, backoff: tuple[float, float] = (0.5, 30.0),
                 altitude_ref: str = "baro") -> None:
        super().__init__(name=f"feed-{spec.name}", daemon=True)
        self.spec = spec
        self.index = index
        self.out = out
        self.live = live
        self.stop_event = stop
        self.backoff = backoff
        self.altitude_ref = altitude_ref
        self.errors = 0
        self.last_error: str | None = None
        self.bytes_in = 0
        self.lines_in = 0

    def put(self, item: Item) -> None:
        """Hand one item to the monitor, waiting while its queue is full (until stopped)."""
        while not self.stop_event.is_set():
            try:
                self.out.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def run(self) -> None:
        """Read sessions until stopped, reconnecting with back-off after errors."""
        delay = self.backoff[0]
        while not self.stop_event.is_set():
            try:
                delivered = self.session()
            except (OSError, ValueError) as exc:
                delivered = False
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
            self.live.disconnect(time.time(), "disconnected" if delivered else "no connection")
            if self.spec.kind == "sbs" and delivered:
                self.put(Item(self.index, time.time(), reset=True))
            if self.spec.kind == "jsonl" and self.done:
                return
            delay = self.backoff[0] if delivered else min(delay * 2, self.backoff[1])
            self.stop_event.wait(delay)

    done = False

    def session(self) -> bool:  # pragma: no cover - overridden
        """One connection's worth of reading; True when it delivered anything."""
        raise NotImplementedError


class TcpReader(Reader):
    """SBS text or Beast binary over TCP; a 1 s receive timeout lets it notice stop requests and silence."""

    def session(self) -> bool:
        """Read one TCP connection until it ends or the reader stops; True when it delivered anything."""
        host, port = self.spec.host_port
        delivered = False
        with socket.create_connection((host, port), timeout=5.0) as sock:
            sock.settimeout(1.0)
            self.live.connect(time.time())
            decoder = None
            if self.spec.kind == "beast":
                from overflight.monitor.beast import BeastDecoder

                decoder = BeastDecoder(self.index, self.altitude_ref)
            while not self.stop_event.is_set():
                try:
                    data = sock.recv(1 << 18)
                except TimeoutError:
                    continue
                if not data:
                    return delivered
                delivered = True
                now = time.time()
                self.bytes_in += len(data)
                if decoder is None:
                    nl = data.count(b"\n")
                    self.lines_in += nl
                    self.live.note(now, messages=nl)
                    self.put(Item(self.index, now, data=data, lines=nl))
                else:
                    before = decoder.counts.frames
                    pos = decoder.feed(data, now)
                    self.live.note(now, messages=decoder.counts.frames - before)
                    cs = dict(decoder.callsigns)
                    decoder.callsigns.clear()
                    self.put(Item(self.index, now, positions=pos, callsigns=cs,
                                  lines=decoder.counts.frames - before))
        return delivered


class AircraftJsonReader(Reader):
    """Polls aircraft.json (a file path or an http URL) every ``interval`` seconds."""

    def session(self) -> bool:
        """Poll the aircraft.json document until stopped; True when it delivered anything."""
        self.live.connect(time.time())
        delivered = False
        seen: dict[str, float] = {}
        while not self.stop_event.is_set():
            t0 = time.time()
            try:
                doc = self._fetch()
            except (OSError, ValueError) as exc:
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                return delivered
            delivered = True
            pos, cs, n, bad = aircraft_json_positions(doc, self.index, seen, self.altitude_ref)
            self.lines_in += n
            self.live.note(time.time(), messages=n, heartbeats=0 if n else 1)
            self.put(Item(self.index, time.time(), positions=pos, callsigns=cs, lines=n, rejected=bad))
            self.stop_event.wait(max(self.spec.interval - (time.time() - t0), 0.05))
        return delivered

    def _fetch(self) -> dict[str, Any]:
        t = self.spec.target
        if t.startswith(("http://", "https://")):
            with urllib.request.urlopen(t, timeout=5.0) as r:
                raw = r.read()
        else:
            raw = Path(t).read_bytes()
        doc = json.loads(raw)
        if not isinstance(doc, dict):
            raise ValueError("aircraft.json is not a JSON object")
        return doc


def aircraft_json_positions(doc: dict[str, Any], feed: int, seen: dict[str, float], altitude_ref: str = "baro"
                            ) -> tuple[Positions, dict[int, str], int, int]:
    """Positions in one aircraft.json document (new ones only: a position already seen is not repeated).

    Returns (positions, callsigns, aircraft records, records rejected as malformed).
    """
    now = float(doc.get("now", time.time()))
    ac = doc.get("aircraft") or []
    keys, ts, lons, lats, alts, srcs = [], [], [], [], [], []
    cs: dict[int, str] = {}
    bad = 0
    for a in ac if isinstance(ac, list) else []:
        try:
            hx = str(a["hex"])
            key = hex_key(hx)
            if a.get("flight"):
                cs[key] = str(a["flight"]).strip()
            if a.get("lat") is None or a.get("lon") is None:
                continue
            t = now - float(a.get("seen_pos", 0.0))
            if seen.get(hx) is not None and t <= seen[hx] + 1e-3:
                continue  # the same position again
            seen[hx] = t
            # readsb: alt_baro / alt_geom; dump1090-mutability: "altitude" (barometric)
            alt = a.get("alt_baro", a.get("altitude")) if altitude_ref == "baro" else a.get("alt_geom")
            alt_m = float(alt) * FEET if isinstance(alt, int | float) else np.nan
            src = _JSON_TYPES.get(str(a.get("type", "adsb_icao")), "other")
            # "mlat" / "tisb" list the fields that came from MLAT / TIS-B (both programs)
            if "lat" in (a.get("mlat") or ()):
                src = "mlat"
            elif "lat" in (a.get("tisb") or ()):
                src = "tisb"
            keys.append(key)
            ts.append(round(t * 1e9))
            lons.append(float(a["lon"]))
            lats.append(float(a["lat"]))
            alts.append(alt_m)
            srcs.append(SOURCES.index(src))
        except (KeyError, TypeError, ValueError):
            bad += 1
    n = len(keys)
    return (Positions(np.asarray(keys, np.int64), np.asarray(ts, np.int64), np.asarray(lons, float),
                      np.asarray(lats, float), np.asarray(alts, float), np.asarray(srcs, np.int8),
                      np.full(n, now), np.full(n, feed, np.int16)), cs, len(ac) if isinstance(ac, list) else 0, bad)


class JsonlReader(Reader):
    """JSON lines from stdin (``-``) or a file; ends at end of input."""

    def session(self) -> bool:
        """Read JSON lines from the file (or stdin) until it ends or the reader stops."""
        fh = sys.stdin.buffer if self.spec.target == "-" else open(self.spec.target, "rb")  # noqa: SIM115
        self.live.connect(time.time())
        try:
            while not self.stop_event.is_set():
                line = fh.readline()
                if not line:
                    self.done = True
                    return True
                now = time.time()
                self.lines_in += 1
                pos, cs, bad = jsonl_positions([line], self.index, now, self.altitude_ref)
                self.live.note(now, messages=1)
                self.put(Item(self.index, now, positions=pos, callsigns=cs, lines=1, rejected=bad))
        finally:
            if fh is not sys.stdin.buffer:
                fh.close()
        return True


def jsonl_positions(lines: list[bytes], feed: int, recv: float, altitude_ref: str = "baro"
                    ) -> tuple[Positions, dict[int, str], int]:
    """Positions from JSON lines; malformed lines are counted (third value), never raised."""
    keys, ts, lons, lats, alts, srcs = [], [], [], [], [], []
    cs: dict[int, str] = {}
    bad = 0
    for raw in lines:
        if not raw.strip():
            continue
        try:
            d = json.loads(raw)
            key = hex_key(str(d["hex"]))
            t = d["time"]
            t_ns = (round(float(t) * 1e9) if isinstance(t, int | float)
                    else pd.Timestamp(t).tz_convert("UTC").value)
            lon, lat = float(d["lon"]), float(d["lat"])
            alt = d.get("alt_m" if altitude_ref == "baro" else "alt_geom_m", d.get("alt_m"))
            src = SOURCES.index(str(d.get("source", "adsb")))
            if d.get("callsign"):
                cs[key] = str(d["callsign"]).strip()
        except (KeyError, TypeError, ValueError, json.JSONDecodeError):
            bad += 1
            continue
        keys.append(key)
        ts.append(t_ns)
        lons.append(lon)
        lats.append(lat)
        alts.append(float(alt) if alt is not None else np.nan)
        srcs.append(src)
    n = len(keys)
    return (Positions(np.asarray(keys, np.int64), np.asarray(ts, np.int64), np.asarray(lons, float),
                      np.asarray(lats, float), np.asarray(alts, float), np.asarray(srcs, np.int8),
                      np.full(n, recv), np.full(n, feed, np.int16)), cs, bad)


def make_reader(spec: FeedSpec, index: int, out: queue.Queue[Item], live: FeedLiveness, stop: threading.Event,
                **kw: Any) -> Reader:
    """The reader thread for a feed of this kind."""
    cls = {"sbs": TcpReader, "beast": TcpReader, "aircraft-json": AircraftJsonReader, "jsonl": JsonlReader}
    return cls[spec.kind](spec, index, out, live, stop, **kw)


__all__ = [
    "KINDS",
    "AircraftJsonReader",
    "FeedSpec",
    "Item",
    "JsonlReader",
    "Reader",
    "TcpReader",
    "aircraft_json_positions",
    "jsonl_positions",
    "make_reader",
    "parse_feed",
]
