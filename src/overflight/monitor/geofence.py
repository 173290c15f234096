"""The streaming geofence: per-aircraft state and enter/exit events, computed batch by batch.

Every batch of positions is turned into the same segments a batch `transit` would see (each aircraft's
previous position to its next), and the segments are crossed with the zones by the same calls:
``ZoneIndex.crossings`` for borders (geodesic pieces of ``step_m``), and transit's own rules for floors and
ceilings (`TransitEngine._alt_ok` / `_vertical`) and validity periods (`_in_period` / `_period_bounds`).
A crossing's time is interpolated along its segment exactly as transit does, so the monitor and a batch
transit over the same positions agree on every crossing point and time.

Per aircraft, on top of transit's rule:

* **track start** — the first position of an aircraft (or the first after it went stale) inside a zone is an
  ``enter`` of kind ``track_start`` (there is no crossing point: the aircraft was first heard inside);
* **hysteresis** — an ``exit`` is held until the aircraft has stayed outside for ``hysteresis_s`` of its own
  time; re-entering before that cancels the exit and the re-entry (counted as ``flaps_suppressed``), so a
  track running along a border does not flap. The exit, once confirmed, carries the first crossing's
  point and time. Entries are never held (an alert must be prompt);
* **stale expiry** — an aircraft not heard for ``stale_s`` (wall clock) is dropped; each zone it was in gets an
  ``exit_unknown`` event at its last position (where it left is not known);
* **jumps** — a position implying a speed above ``max_speed_mps`` from the aircraft's last accepted position is
  rejected and counted (``rejected_jump``); after ``reset_after`` consecutive rejections the track restarts at
  the new position (the earlier one was the bad one);
* positions out of time order or repeating the last time are rejected and counted.

Membership state survives a zone reload (`reload`: zones kept by id and geometry keep their visits) and a
restart (`resume`: visits still open in the case).

Size: one class (~600 of its ~750 lines) whose batch path and per-aircraft rules share the state arrays
and the invariants above (order, hysteresis, stale expiry, jumps); split, each half would have to re-check
what the other guarantees. The position batch (`Positions`) and counters are the small part that is not it.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from overflight.analysis.transit import TransitEngine
from overflight.errors import InputError
from overflight.geodesy import GEOD, R_MEAN, WGS84_B
from overflight.index import ZoneIndex
from overflight.monitor.sbs import CallsignTable, key_hex
from overflight.units import DistanceLike, DurationLike, SpeedLike, parse_distance, parse_duration, parse_speed
from overflight.zones import ZoneSet, ZoneSetLike, as_zoneset

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: position sources; MLAT and TIS-B/ADS-R positions are computed or relayed and grade lower than ADS-B
SOURCES = ("adsb", "mlat", "tisb", "adsr", "modes", "other")
ALTITUDE_REFS = ("baro", "geom")
_NS = 1_000_000_000
_R_MIN = float(math.floor(WGS84_B))  # polar radius: an approximate length with it is never much above the true geodesic
_R_MEAN = R_MEAN


@dataclass
class Positions:
    """One batch of positions (equal-length arrays).

    key : aircraft key (24-bit ICAO address, bit 24 set for a non-ICAO address).
    time_ns : position time, ns since the epoch UTC.
    lon, lat : degrees WGS84.
    alt_m : altitude in metres of the monitor's altitude reference (NaN when unknown).
    source : index into `SOURCES`.
    recv : wall-clock receipt time, seconds since the epoch.
    feed : index of the feed that delivered it.
    """

    key: I64
    time_ns: I64
    lon: F64
    lat: F64
    alt_m: F64
    source: npt.NDArray[np.int8]
    recv: F64
    feed: npt.NDArray[np.int16]

    def __len__(self) -> int:
        return int(self.key.size)

    @staticmethod
    def empty() -> Positions:
        """No positions."""
        return Positions(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0),
                         np.zeros(0, np.int8), np.zeros(0), np.zeros(0, np.int16))

    @staticmethod
    def concat(parts: Iterable[Positions]) -> Positions:
        """Positions of several batches, in order."""
        ps = [p for p in parts if len(p)]
        if not ps:
            return Positions.empty()
        return Positions(*(np.concatenate([getattr(p, f) for p in ps]) for f in
                           ("key", "time_ns", "lon", "lat", "alt_m", "source", "recv", "feed")))


@dataclass
class _Visit:
    enter_id: str
    enter_ns: int
    pending: dict[str, Any] | None = None  # an exit held by the hysteresis


@dataclass
class GeofenceStats:
    """Counters (cumulative)."""

    positions: int = 0
    accepted: int = 0
    rejected_bad_position: int = 0
    rejected_out_of_order: int = 0
    rejected_duplicate: int = 0
    rejected_jump: int = 0
    track_resets: int = 0
    flaps_suppressed: int = 0
    expired: int = 0
    events: dict[str, int] = field(default_factory=lambda: {"enter": 0, "exit": 0, "exit_unknown": 0})

    @property
    def rejected(self) -> int:
        """Positions rejected for any reason."""
        return (self.rejected_bad_position + self.rejected_out_of_order + self.rejected_duplicate
                + self.rejected_jump)

    def as_dict(self) -> dict[str, Any]:
        """The counters as a plain mapping (for the status file)."""
        d = {k: v for k, v in self.__dict__.items() if k != "events"}
        d["rejected"] = self.rejected
        d["events"] = dict(self.events)
        return d


def iso_utc(t_ns: int) -> str:
    """ISO 8601 UTC text of a time in ns (fraction only when not whole seconds)."""
    sec, ns = divmod(int(t_ns), _NS)
    frac = f".{ns:09d}".rstrip("0") if ns else ""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + frac + "Z"


def event_id(hex_id: str, zone_id: str, event: str, time_ns: int) -> str:
    """Deterministic id of an event.

    Deterministic id of an event (same aircraft, zone, kind and millisecond → same id): restarts and
    replays write the same observation again instead of a second one.
    """
    text = f"{hex_id}|{zone_id}|{event}|{int(time_ns) // 1_000_000}"
    return "mon-" + hashlib.sha1(text.encode()).hexdigest()[:16]


class Geofence:
    """Streaming enter/exit detection over a zone set (see the module docstring for the rules).

    Parameters
    ----------
    zones : the zones (anything `overflight.zones.as_zoneset` takes); their floors, ceilings and validity
        periods are honoured.
    index : a `ZoneIndex` built on ``zones`` (built here when omitted).
    step_m : geodesic densification step (as transit's ``step_m``): metres or text (``"5km"``).
    stale_s : time without a position (wall clock) after which an aircraft is dropped: seconds or text
        (``"1min"``).
    hysteresis_s : time an aircraft must stay outside before its exit is confirmed: seconds or text.
    max_speed_mps : positions implying a faster move are rejected: m/s or text (``"1400kmh"``).
    reset_after : consecutive rejected jumps after which the track restarts at the new position.
    altitude_ref : ``"baro"`` or ``"geom"`` — which altitude the feeds supply and floors/ceilings are tested on.
    """

    def __init__(self, zones: ZoneSet, index: ZoneIndex | None = None, *, step_m: DistanceLike = 5000.0,
                 stale_s: DurationLike = 60.0, hysteresis_s: DurationLike = 10.0,
                 max_speed_mps: SpeedLike = 700.0, reset_after: int = 3, altitude_ref: str = "baro") -> None:
        if altitude_ref not in ALTITUDE_REFS:
            raise InputError(f"altitude reference must be one of {ALTITUDE_REFS}, not {altitude_ref!r}",
                             field="altitude")
        # numbers are seconds, m/s and metres; text carries its unit ("1min", "1400kmh", "5km")
        stale_s = parse_duration(stale_s, field="stale")
        hysteresis_s = parse_duration(hysteresis_s, field="hysteresis")
        max_speed_mps = parse_speed(max_speed_mps, default_unit="mps", field="max speed")
        step_m = parse_distance(step_m, field="step")
        for name, v in (("stale", stale_s), ("max speed", max_speed_mps), ("step", step_m)):
            if not (v > 0 and math.isfinite(v)):
                raise InputError(f"{name} must be a positive number, not {v!r}", field=name)
        if not hysteresis_s >= 0:
            raise InputError(f"hysteresis must be >= 0 seconds, not {hysteresis_s!r}", field="hysteresis")
        self.step_m = float(step_m)
        self.stale_s = float(stale_s)
        self.hysteresis_ns = int(hysteresis_s * _NS)
        self.hysteresis_s = float(hysteresis_s)
        self.max_speed = float(max_speed_mps)
        self.reset_after = int(reset_after)
        self.altitude_ref = altitude_ref
        self.stats = GeofenceStats()
        self._set_zones(as_zoneset(zones), index)
        # per-slot state
        self._cap = 0
        self._grow(1024)
        self._slot_of: dict[int, int] = {}
        self._free: list[int] = []
        self._next = 0
        self._alive_slots = np.zeros(0, np.int64)
        self._keys_index = pd.Index(np.zeros(0, np.int64))
        self._index_dirty = False
        self.inside: dict[int, dict[int, _Visit]] = {}
        self._pending_slots: set[int] = set()
        self.callsign = CallsignTable()
        self._resumed: dict[int, dict[str, _Visit]] = {}
        self._resumed_at: float | None = None

    # ------------------------------------------------------------------ zones
    def _set_zones(self, zones: ZoneSet, index: ZoneIndex | None) -> None:
        self.zones = zones
        self.index = index if index is not None else ZoneIndex(zones)
        # transit's engine holds the floor/ceiling/validity arrays and rules; the monitor calls the same ones
        self.rules = TransitEngine(zones, step_m=self.step_m, index=self.index)
        self.zone_ids = list(zones.ids)
        # compile (or load) the index kernels now, not at the first alert
        self.index.locate_all(np.zeros(1), np.zeros(1))
        self.index.crossings(np.zeros(1), np.zeros(1), np.full(1, 0.1), np.full(1, 0.1))
        self._geom_hash = [hashlib.sha1(shapely.to_wkb(g)).hexdigest() for g in zones.geometries()]

    def reload(self, zones: ZoneSetLike, index: ZoneIndex | None = None, now: float | None = None
               ) -> list[dict[str, Any]]:
        """Switch to a new zone set without losing aircraft state.

        Visits of zones kept with the same id and geometry continue. A zone that is gone, or whose geometry
        changed, is left (``exit``, kind ``zone_reload``) by every aircraft in it; an aircraft whose last
        position lies in a new or changed zone enters it (kind ``zone_reload``). Returns those events.
        """
        zones = as_zoneset(zones)
        old_ids, old_hash = self.zone_ids, self._geom_hash
        old_inside = self.inside
        self._set_zones(zones, index)
        keep = {i: zones.ids.index(z) for i, z in enumerate(old_ids)
                if z in zones and old_hash[i] == self._geom_hash[zones.index_of(z)]}
        events: list[dict[str, Any]] = []
        self.inside = {}
        for slot, vis in old_inside.items():
            for zi, v in vis.items():
                if zi in keep:
                    self.inside.setdefault(slot, {})[keep[zi]] = v
                else:
                    events.append(self._event(slot, old_ids[zi], "exit", "zone_reload", self._last_fix(slot),
                                              now))
        kept_new = set(keep.values())
        slots = np.flatnonzero(self._alive)
        if len(slots):
            p0, z0 = self.index.locate_all(_wrap(self._lon[slots]), self._lat[slots])
            p, z = np.asarray(p0, np.int64), np.asarray(z0, np.int64)
            ok = self.rules._alt_ok(self._alt[slots[p]], z) & self._active(z, self._t[slots[p]])
            for pi, zi in zip(p[ok].tolist(), z[ok].tolist(), strict=True):
                slot = int(slots[pi])
                if zi in kept_new or zi in self.inside.get(slot, {}):
                    continue
                ev = self._event(slot, self.zone_ids[zi], "enter", "zone_reload", self._last_fix(slot), now)
                self.inside.setdefault(slot, {})[zi] = _Visit(ev["id"], int(self._t[slot]))
                events.append(ev)
        self._pending_slots = {s for s, vis in self.inside.items() if any(v.pending for v in vis.values())}
        self._count(events)
        return events

    def _active(self, zone: I64, t_ns: I64) -> npt.NDArray[np.bool_]:
        ok: npt.NDArray[np.bool_] = (t_ns >= self.rules.valid_from[zone]) & (t_ns < self.rules.valid_to[zone])
        return ok

    # ------------------------------------------------------------------ slots
    def _grow(self, n: int) -> None:
        old = self._cap
        def ext(a: np.ndarray | None, dtype: Any, fill: Any) -> np.ndarray:
            out = np.full(n, fill, dtype=dtype)
            if a is not None:
                out[:old] = a[:old]
            return out
        g = getattr
        self._key = ext(g(self, "_key", None), np.int64, -1)
        self._t = ext(g(self, "_t", None), np.int64, 0)
        self._lon = ext(g(self, "_lon", None), np.float64, np.nan)
        self._lat = ext(g(self, "_lat", None), np.float64, np.nan)
        self._alt = ext(g(self, "_alt", None), np.float64, np.nan)
        self._recv = ext(g(self, "_recv", None), np.float64, 0.0)
        self._src = ext(g(self, "_src", None), np.int8, 0)
        self._feed = ext(g(self, "_feed", None), np.int16, 0)
        self._rej = ext(g(self, "_rej", None), np.int32, 0)
        self._alive = ext(g(self, "_alive", None), np.bool_, False)
        self._started = ext(g(self, "_started", None), np.bool_, False)  # has an accepted fix
        self._cap = n

    def _slots(self, keys: I64) -> I64:
        """Slots of the batch's keys, creating slots for new aircraft."""
        if self._index_dirty:
            alive = np.flatnonzero(self._alive)
            self._keys_index = pd.Index(self._key[alive])
            self._alive_slots = alive
            self._index_dirty = False
        if len(self._keys_index) == 0:
            self._alive_slots = np.zeros(0, np.int64)
        pos = self._keys_index.get_indexer(pd.Index(keys))
        out = np.where(pos >= 0, self._alive_slots[np.maximum(pos, 0)] if len(self._alive_slots) else -1, -1)
        new = np.flatnonzero(pos < 0)
        if len(new):
            uk, inv = np.unique(keys[new], return_inverse=True)
            ns = np.empty(len(uk), np.int64)
            for i, k in enumerate(uk.tolist()):  # one step per new aircraft, not per position
                ns[i] = self._new_slot(int(k))
            out[new] = ns[inv]
            self._index_dirty = True
        return out.astype(np.int64)

    def _new_slot(self, k: int) -> int:
        if self._free:
            s = self._free.pop()
        else:
            s = self._next
            self._next += 1
            if s >= self._cap:
                self._grow(self._cap * 2)
        self._slot_of[k] = s
        self._key[s] = k
        self._alive[s] = True
        self._started[s] = False
        self._rej[s] = 0
        self._index_dirty = True
        return s

    def _drop_slot(self, s: int) -> None:
        k = int(self._key[s])
        self._slot_of.pop(k, None)
        self._alive[s] = False
        self._started[s] = False
        self._key[s] = -1
        self.inside.pop(s, None)
        self._pending_slots.discard(s)
        self._free.append(s)
        self._index_dirty = True

    @property
    def n_aircraft(self) -> int:
        """Aircraft currently tracked."""
        return len(self._slot_of)

    def _last_fix(self, s: int) -> tuple[int, float, float, float, int, float, int]:
        return (int(self._t[s]), float(self._lon[s]), float(self._lat[s]), float(self._alt[s]), int(self._src[s]),
                float(self._recv[s]), int(self._feed[s]))

    # ------------------------------------------------------------------ events
    def _event(self, slot: int, zone_id: str, event: str, kind: str,
               fix: tuple[int, float, float, float, int, float, int], now: float | None = None) -> dict[str, Any]:
        t_ns, lon, lat, alt, src, recv, feed = fix
        hx = key_hex(int(self._key[slot]))
        return {
            "id": event_id(hx, zone_id, event, t_ns), "event": event, "kind": kind, "aircraft": hx,
            "callsign": None, "_key": int(self._key[slot]), "zone_id": zone_id,
            "time": iso_utc(t_ns), "time_ns": t_ns,
            "lon": round(lon, 7), "lat": round(lat, 7), "alt_m": None if not math.isfinite(alt) else round(alt, 1),
            "altitude_ref": self.altitude_ref, "source": SOURCES[src], "feed": feed,
            "received": recv if now is None else now,
        }

    def _count(self, events: list[dict[str, Any]]) -> None:
        """Count the events and fill in their callsigns (one vectorised lookup for the lot)."""
        keyed = [e for e in events if "_key" in e]
        if keyed:
            names = self.callsign.get_many(np.array([e.pop("_key") for e in keyed], np.int64))
            for e, name in zip(keyed, names, strict=True):
                e["callsign"] = name
        for e in events:
            self.stats.events[e["event"]] = self.stats.events.get(e["event"], 0) + 1

    def resume(self, open_visits: Iterable[Mapping[str, Any]], now: float) -> None:
        """Visits still open in the case (``aircraft``, ``zone_id``, ``id``, ``time_ns``) after a restart.

        An aircraft heard again inside the zone continues its visit silently; one heard outside it gets an
        ``exit_unknown``; one not heard within ``stale_s`` gets an ``exit_unknown`` at expiry.
        """
        from overflight.monitor.sbs import hex_key

        for v in open_visits:
            if v["zone_id"] not in self.zones:
                continue
            self._resumed.setdefault(hex_key(str(v["aircraft"])), {})[str(v["zone_id"])] = \
                _Visit(str(v["id"]), int(v["time_ns"]))
        self._resumed_at = now

    def expire(self, now: float) -> list[dict[str, Any]]:
        """Drop aircraft not heard for ``stale_s``; ``exit`` (held exits) / ``exit_unknown`` events."""
        events: list[dict[str, Any]] = []
        stale = np.flatnonzero(self._alive & (now - self._recv > self.stale_s))
        for s in stale.tolist():
            fix = self._last_fix(s)
            for zi, v in sorted(self.inside.get(s, {}).items()):
                if v.pending is not None:
                    events.append(v.pending)
                else:
                    events.append(self._event(s, self.zone_ids[zi], "exit_unknown", "stale", fix))
            self._drop_slot(s)
            self.stats.expired += 1
        if self._resumed and self._resumed_at is not None and now - self._resumed_at > self.stale_s:
            for k, zs in self._resumed.items():  # resumed visits whose aircraft never came back
                hx = key_hex(k)
                t_r = int(self._resumed_at * _NS)
                for zid in zs:
                    events.append({"id": event_id(hx, zid, "exit_unknown", t_r), "event": "exit_unknown",
                                   "kind": "not_heard_after_restart", "aircraft": hx, "callsign": None,
                                   "zone_id": zid, "time": iso_utc(t_r), "time_ns": t_r, "lon": None, "lat": None,
                                   "alt_m": None, "altitude_ref": self.altitude_ref, "source": None, "feed": None,
                                   "received": now})
            self._resumed = {}
        self._count(events)
        return events

    def open_visits(self) -> list[dict[str, Any]]:
        """(aircraft, zone_id, enter id, enter time) of every visit not yet closed."""
        out = []
        for s, vis in self.inside.items():
            for zi, v in vis.items():
                out.append({"aircraft": key_hex(int(self._key[s])), "zone_id": self.zone_ids[zi],
                            "id": v.enter_id, "time_ns": v.enter_ns})
        return out

    # ------------------------------------------------------------------ the batch
    def process(self, pos: Positions, callsigns: Mapping[int, str] | None = None,
                callsign_arrays: tuple[I64, I64] | None = None) -> tuple[list[dict[str, Any]], npt.NDArray[np.bool_]]:
        """Process one batch; returns (events in time order per aircraft, accepted mask over the batch).

        ``callsigns`` (key → text) or ``callsign_arrays`` (keys, packed as by the SBS parser) update the
        callsigns shown in events.
        """
        if callsigns:
            self.callsign.update_dict(dict(callsigns))
        if callsign_arrays is not None:
            self.callsign.update(*callsign_arrays)
        n = len(pos)
        accepted = np.zeros(n, dtype=bool)
        st = self.stats
        st.positions += n
        if n == 0:
            return [], accepted
        with np.errstate(invalid="ignore"):
            valid = (np.abs(pos.lat) <= 90.0) & (np.abs(pos.lon) <= 180.0) & (pos.time_ns > 0)
        st.rejected_bad_position += int(n - valid.sum())
        rows = np.flatnonzero(valid)
        slot = self._slots(pos.key[rows])
        order = np.lexsort((pos.time_ns[rows], slot))
        rows, slot = rows[order], slot[order]
        t = pos.time_ns[rows]
        same_prev = np.zeros(len(rows), dtype=bool)
        same_prev[1:] = slot[1:] == slot[:-1]
        first = ~same_prev
        # duplicates (same aircraft and time as the previous row) and rows not after the last accepted fix
        dup = same_prev & np.r_[False, t[1:] == t[:-1]]
        started = self._started[slot]
        old = started & (t <= self._t[slot])
        st.rejected_duplicate += int(dup.sum())
        st.rejected_out_of_order += int((old & ~dup).sum())
        keep = ~(dup | old)
        rows, slot, t = rows[keep], slot[keep], t[keep]
        lon = pos.lon[rows]
        lat = pos.lat[rows]
        alt = pos.alt_m[rows]
        m = len(rows)
        # A carried fix is not continued from after reset_after rejected jumps, or when it is older than
        # stale_s by the feed's own clock (the aircraft went stale between two batches).
        started = self._started[slot]
        reset = (self._rej[slot] >= self.reset_after) | (started & ((t - self._t[slot]) > self.stale_s * _NS))
        # jumps: compare with the previous kept fix (or the carried one); reject the first offender per
        # aircraft and compare again, so one outlier costs one position, not two
        ok = np.ones(m, dtype=bool)
        seg_d: F64 | None = None  # the distances of the final pass are the segments' lengths
        for _ in range(32):
            idx = np.flatnonzero(ok)
            s_i = slot[idx]
            prev_in = np.zeros(len(idx), dtype=bool)
            prev_in[1:] = s_i[1:] == s_i[:-1]
            has_prev = prev_in | (started[idx] & ~reset[idx])
            if not has_prev.any():
                break
            sh = np.maximum(np.arange(len(idx)) - 1, 0)
            plon = np.where(prev_in, lon[idx][sh], self._lon[s_i])
            plat = np.where(prev_in, lat[idx][sh], self._lat[s_i])
            pt = np.where(prev_in, t[idx][sh], self._t[s_i])
            d = _haversine_m(plon, plat, lon[idx], lat[idx])
            dt = (t[idx] - pt) / _NS
            fast = has_prev & (d > self.max_speed * np.maximum(dt, 1e-9) + 100.0)  # 100 m: position noise
            if not fast.any():
                seg_d = d[has_prev]
                break
            fi = np.flatnonzero(fast)
            firsts = fi[np.r_[True, s_i[fi[1:]] != s_i[fi[:-1]]]]
            ok[idx[firsts]] = False
        nrej = int((~ok).sum())
        st.rejected_jump += nrej
        if nrej:
            # consecutive rejections (after the aircraft's last accepted fix) decide a reset next time
            rs, rt = slot[~ok], t[~ok]
            last_ok = pd.Series(t[ok]).groupby(slot[ok]).max().to_dict() if ok.any() else {}
            for s in np.unique(rs).tolist():
                lt = last_ok.get(s)
                after = int((rt[rs == s] > lt).sum()) if lt is not None else int((rs == s).sum())
                self._rej[s] = after if lt is not None else int(self._rej[s]) + after
        rows, slot, t, lon, lat, alt, started, reset = (rows[ok], slot[ok], t[ok], lon[ok], lat[ok], alt[ok],
                                                         started[ok], reset[ok])
        m = len(rows)
        accepted[rows] = True
        st.accepted += m
        if m == 0:
            return [], accepted
        src = pos.source[rows]
        recv = pos.recv[rows]
        feed = pos.feed[rows]
        first = np.r_[True, slot[1:] != slot[:-1]]
        # restarts: a fix that does not continue its aircraft's carried one
        restart = first & started & reset
        carry = first & started & ~restart
        # Layout as transit: per aircraft, the carried fix (if it continues) then its new fixes.
        nc = int(carry.sum())
        pos_new = np.arange(m) + np.cumsum(carry)  # where each new fix goes
        tot = m + nc
        f_slot = np.empty(tot, np.int64)
        f_t = np.empty(tot, np.int64)
        f_lon = np.empty(tot)
        f_lat = np.empty(tot)
        f_alt = np.empty(tot)
        f_src = np.empty(tot, np.int8)
        f_recv = np.empty(tot)
        f_feed = np.empty(tot, np.int16)
        f_new = np.zeros(tot, dtype=bool)
        f_slot[pos_new], f_t[pos_new], f_lon[pos_new], f_lat[pos_new], f_alt[pos_new] = slot, t, lon, lat, alt
        f_src[pos_new], f_recv[pos_new], f_feed[pos_new] = src, recv, feed
        f_new[pos_new] = True
        cpos = pos_new[carry] - 1
        cs = slot[carry]
        f_slot[cpos], f_t[cpos], f_lon[cpos], f_lat[cpos], f_alt[cpos] = (cs, self._t[cs], self._lon[cs],
                                                                          self._lat[cs], self._alt[cs])
        f_src[cpos], f_recv[cpos], f_feed[cpos] = self._src[cs], self._recv[cs], self._feed[cs]
        seg_start = np.zeros(tot, dtype=bool)
        seg_start[:-1] = (f_slot[1:] == f_slot[:-1]) & f_new[1:]
        starts_at = pos_new[restart | (first & ~started)]  # track starts
        s_idx = np.flatnonzero(seg_start)
        ev = [self._track_starts(starts_at, f_lon, f_lat, f_alt, f_t)]
        if len(s_idx):
            approx = seg_d * (_R_MIN / _R_MEAN) if seg_d is not None and seg_d.size == s_idx.size else None
            ev.append(self._segment_events(s_idx, f_t, f_lon, f_lat, f_alt, approx))
        events = _concat(ev)
        # Restarted tracks: what they were in is no longer known to continue (at the old carried fix).
        pre: list[dict[str, Any]] = []
        for s in slot[restart].tolist():
            for zi, v in sorted(self.inside.pop(s, {}).items()):
                pre.append(v.pending if v.pending is not None else
                           self._event(s, self.zone_ids[zi], "exit_unknown", "track_reset", self._last_fix(s)))
            self._pending_slots.discard(s)
        # carry the last fix of each aircraft
        last = np.r_[slot[1:] != slot[:-1], True]
        ls = slot[last]
        self._t[ls], self._lon[ls], self._lat[ls], self._alt[ls] = t[last], lon[last], lat[last], alt[last]
        self._src[ls], self._recv[ls], self._feed[ls] = src[last], recv[last], feed[last]
        self._started[ls] = True
        out = pre + self._apply(events, f_slot=f_slot, f_t=f_t, f_lon=f_lon, f_lat=f_lat,
                          f_alt=f_alt, f_src=f_src, f_recv=f_recv, f_feed=f_feed)
        if restart.any():
            st.track_resets += int(restart.sum())
        self._count(out)
        return out, accepted

    # ------------------------------------------------------------------ crossings (transit's rules)
    def _track_starts(self, rows: I64, lon: F64, lat: F64, alt: F64, t: I64) -> dict[str, np.ndarray]:
        if len(rows) == 0:
            return _none()
        p0, z0 = self.index.locate_all(_wrap(lon[rows]), lat[rows])
        p, z = np.asarray(p0, np.int64), np.asarray(z0, np.int64)
        r = rows[p]
        ok = self.rules._alt_ok(alt[r], z) & self._active(z, t[r])
        r, z = r[ok], z[ok]
        return dict(row=r, frac=np.zeros(len(r)), zone=z, dir=np.ones(len(r), np.int64), lon=lon[r], lat=lat[r],
                    start=np.ones(len(r), bool))

    def _segment_events(self, s_idx: I64, t: I64, lon: F64, lat: F64, alt: F64, approx: F64 | None = None
                        ) -> dict[str, np.ndarray]:
        a, b = s_idx, s_idx + 1
        rules = self.rules
        # Short segments (< step_m) are one straight piece in transit's densification too; only the long
        # ones need the geodesic (length and azimuth) to be cut into pieces.
        if approx is None:
            approx = _haversine_m(lon[a], lat[a], lon[b], lat[b], radius=_R_MIN)
        long_ = approx > 0.9 * self.step_m
        parts: list[dict[str, np.ndarray]] = []
        for sel, dens in ((np.flatnonzero(~long_), False), (np.flatnonzero(long_), True)):
            if len(sel) == 0:
                continue
            sa, sb = a[sel], b[sel]
            if dens:
                az, _, ln = GEOD.inv(lon[sa], lat[sa], lon[sb], lat[sb])
                c = self.index.crossings(_wrap(lon[sa]), lat[sa], _wrap(lon[sb]), lat[sb], densify_m=self.step_m,
                                         azimuth=np.asarray(az, float), length_m=np.asarray(ln, float))
            else:
                c = self.index.crossings(_wrap(lon[sa]), lat[sa], _wrap(lon[sb]), lat[sb])
            if len(c) == 0:
                continue
            row = sa[np.asarray(c.segment, np.int64)]
            frac = np.asarray(c.fraction, np.float64)
            zone = np.asarray(c.zone, np.int64)
            a_f = alt[row] + frac * (alt[row + 1] - alt[row])
            ok = rules._alt_ok(a_f, zone)
            parts.append(dict(row=row[ok], frac=frac[ok], zone=zone[ok], dir=np.asarray(c.direction, np.int64)[ok],
                              lon=np.asarray(c.lon, np.float64)[ok], lat=np.asarray(c.lat, np.float64)[ok],
                              start=np.zeros(int(ok.sum()), bool)))
        if len(rules.limited):  # climbs and descents through floors and ceilings: transit's own rule
            lim = np.r_[rules.floor[rules.limited], rules.ceiling[rules.limited]]
            lim = lim[np.isfinite(lim)]
            a0, a1 = alt[a][:, None], alt[b][:, None]
            through = ((np.minimum(a0, a1) <= lim) & (np.maximum(a0, a1) >= lim) & (a0 != a1)).any(axis=1)
            k = np.flatnonzero(through)
            if len(k):
                sk = s_idx[k]
                az, _, ln = GEOD.inv(lon[sk], lat[sk], lon[sk + 1], lat[sk + 1])
                parts.append(rules._vertical(sk, lon, lat, np.asarray(az, float), np.asarray(ln, float), alt))
        ev = _concat(parts)
        if len(rules.timed):
            ev = rules._in_period(ev, t)
            t0, t1 = t[a], t[b]
            span = np.zeros(len(s_idx), dtype=bool)
            for z in rules.timed:
                for bound in (rules.valid_from[z], rules.valid_to[z]):
                    span |= (t0 < bound) & (t1 >= bound)
            k = np.flatnonzero(span)
            if len(k):
                sk = s_idx[k]
                az, _, ln = GEOD.inv(lon[sk], lat[sk], lon[sk + 1], lat[sk + 1])
                pb = rules._period_bounds(sk, t, lon, lat, np.asarray(az, float), np.asarray(ln, float), alt)
                ev = _concat([ev, pb])
        return ev

    # ------------------------------------------------------------------ state machine (rare events only)
    def _apply(self, ev: dict[str, np.ndarray], *, f_slot: I64, f_t: I64, f_lon: F64,
               f_lat: F64, f_alt: F64, f_src: npt.NDArray[np.int8], f_recv: F64,
               f_feed: npt.NDArray[np.int16]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        row = ev["row"]
        if len(row):
            nxt = np.minimum(row + 1, len(f_t) - 1)
            fr = np.where(ev["start"], 0.0, np.clip(ev["frac"], 0.0, 1.0))
            t_ev = f_t[row] + np.round((f_t[nxt] - f_t[row]).astype(np.float64) * fr).astype(np.int64)
            alt_ev = np.where(ev["start"], f_alt[row], f_alt[row] + fr * (f_alt[nxt] - f_alt[row]))
            # the position that revealed the event: the segment's end (or the fix itself for a start)
            cause = np.where(ev["start"], row, nxt)
            order = np.lexsort((ev["frac"], row))
            # plain Python lists in event order: the loop below touches only these (events are rare)
            o_slot = f_slot[row[order]].tolist()
            o_zone = ev["zone"][order].tolist()
            o_dir = ev["dir"][order].tolist()
            o_start = ev["start"][order].tolist()
            o_why = ev["why"][order].tolist()
            c_o = cause[order]
            o_fix = list(zip(t_ev[order].tolist(), ev["lon"][order].tolist(), ev["lat"][order].tolist(),
                             alt_ev[order].tolist(), f_src[c_o].tolist(), f_recv[c_o].tolist(),
                             f_feed[c_o].tolist(), strict=True))
            for s, zi, d, is_start, why, fix in zip(o_slot, o_zone, o_dir, o_start, o_why, o_fix, strict=True):
                vis = self.inside.setdefault(s, {})
                v = vis.get(zi)
                if is_start:
                    res = self._resumed.get(int(self._key[s]), {}).pop(self.zone_ids[zi], None)
                    if res is not None:  # still inside a visit opened before the restart
                        vis[zi] = res
                        continue
                    if v is None:
                        e = self._event(s, self.zone_ids[zi], "enter", "track_start", fix)
                        vis[zi] = _Visit(e["id"], fix[0])
                        out.append(e)
                    continue
                kind = ("valid_from" if d > 0 else "valid_to") if why else "crossing"
                if d > 0:
                    if v is not None and v.pending is not None:
                        if fix[0] - int(v.pending["time_ns"]) < self.hysteresis_ns:
                            v.pending = None  # back in before the exit was confirmed: a flap
                            self.stats.flaps_suppressed += 1
                            continue
                        out.append(v.pending)  # out long enough: the exit stands, this is a new visit
                        v = None
                    if v is None:
                        e = self._event(s, self.zone_ids[zi], "enter", kind, fix)
                        vis[zi] = _Visit(e["id"], fix[0])
                        out.append(e)
                elif v is not None and v.pending is None:
                    v.pending = self._event(s, self.zone_ids[zi], "exit", kind, fix)
                    self._pending_slots.add(s)
        # Aircraft resumed from the case and heard again outside the zones they were in.
        if self._resumed:
            for s in set(f_slot[np.flatnonzero(np.r_[True, f_slot[1:] != f_slot[:-1]])].tolist()):
                k = int(self._key[s])
                res_z = self._resumed.pop(k, None)
                if not res_z:
                    continue
                for zid in sorted(res_z):
                    out.append(self._event(s, zid, "exit_unknown", "outside_after_restart", self._last_fix(s)))
        # Confirm held exits whose aircraft stayed outside long enough (by its own time).
        for s in list(self._pending_slots):
            vis = self.inside.get(s, {})
            now_t = int(self._t[s])
            for zi in sorted(vis):
                v = vis[zi]
                if v.pending is not None and now_t - int(v.pending["time_ns"]) >= self.hysteresis_ns:
                    v.pending["received"] = float(self._recv[s])  # latency: from the fix that confirmed it
                    out.append(v.pending)
                    del vis[zi]
            if not any(v.pending for v in vis.values()):
                self._pending_slots.discard(s)
            if not vis:
                self.inside.pop(s, None)
        return out

    def flush(self) -> list[dict[str, Any]]:
        """Confirm every held exit now (at shutdown)."""
        out: list[dict[str, Any]] = []
        for s in sorted(self._pending_slots):
            vis = self.inside.get(s, {})
            for zi in sorted(vis):
                if vis[zi].pending is not None:
                    out.append(vis.pop(zi).pending)  # type: ignore[arg-type]
        self._pending_slots.clear()
        self._count(out)
        return out


def _wrap(lon: F64) -> F64:
    out: F64 = (np.asarray(lon, np.float64) + 180.0) % 360.0 - 180.0
    return out


def _haversine_m(lon1: F64, lat1: F64, lon2: F64, lat2: F64, radius: float = _R_MEAN) -> F64:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2 - lon1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    out: F64 = 2 * radius * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return out


_KEYS = ("row", "frac", "zone", "dir", "lon", "lat", "start", "why")


def _none() -> dict[str, np.ndarray]:
    return dict(row=np.zeros(0, np.int64), frac=np.zeros(0), zone=np.zeros(0, np.int64), dir=np.zeros(0, np.int64),
                lon=np.zeros(0), lat=np.zeros(0), start=np.zeros(0, bool), why=np.zeros(0, np.int8))


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Join event tables; ``why`` is 1 for a validity-period bound (transit's marker), else 0."""
    parts = [p for p in parts if len(p["row"])]
    if not parts:
        return _none()
    for p in parts:
        if "why" not in p:
            p["why"] = np.zeros(len(p["row"]), np.int8)
    return {k: np.concatenate([p[k] for p in parts]) for k in _KEYS}


__all__ = ["ALTITUDE_REFS", "F64", "I64", "SOURCES", "Geofence", "GeofenceStats", "Positions", "event_id", "iso_utc"]
