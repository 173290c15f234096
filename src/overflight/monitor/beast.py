"""Beast binary frames (dump1090/readsb port 30005) → Mode S messages → positions, decoded with pyModeS 3.

Framing: ``0x1a``, a type byte (``'1'`` Mode A/C, 2 bytes; ``'2'`` Mode S short, 7; ``'3'`` Mode S long, 14;
``'4'`` status), a 6-byte big-endian 12 MHz counter, one signal byte, the payload; a ``0x1a`` inside a frame
is doubled. A frame whose counter is ``0xFF004D4C4154`` is an MLAT result (tagged ``mlat``). The counter is
the receiver's free-running clock: it is never used as a time. A position's time is the wall clock at
receipt (``recv``).

Decoding is pyModeS's `PipeDecoder` (even/odd CPR pairs, then local decoding; it holds positions back
until three agree, so a new aircraft's first alerts come a few frames late). DF17 positions are ``adsb``;
DF18 with CF 2, 3 or 5 ``tisb``, CF 6 ``adsr``, CF 0/1 ``adsb``. Type codes 9-18 carry barometric
altitude, 20-22 GNSS (geometric) height: a position's altitude is used only when it matches the monitor's
altitude reference. Frames that are not Beast, fail the CRC or do not decode are counted, never raised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from overflight.monitor.geofence import SOURCES, Positions
from overflight.monitor.modes import MLAT_COUNTER
from overflight.units import FEET

_LEN = {0x31: 2, 0x32: 7, 0x33: 14, 0x34: 14}  # '4' (status) is skipped after framing


@dataclass
class BeastCounts:
    """Counters of a Beast stream: frames, framing errors, skipped bytes, undecoded messages, positions."""

    frames: int = 0
    bad_frames: int = 0  # framing errors: bytes skipped to resynchronise
    skipped_bytes: int = 0
    undecoded: int = 0  # CRC failures and messages pyModeS rejects
    positions: int = 0
    by_type: dict[str, int] = field(default_factory=dict)


class BeastFramer:
    """Incremental Beast deframer: `feed(bytes)` → list of (type byte, counter, signal, payload)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.counts = BeastCounts()

    def feed(self, data: bytes) -> list[tuple[int, int, int, bytes]]:
        """Add received bytes; return the complete frames found (type, timestamp, signal, message)."""
        buf = self._buf
        buf.extend(data)
        out: list[tuple[int, int, int, bytes]] = []
        i = 0
        n = len(buf)
        while True:
            j = buf.find(b"\x1a", i)
            if j < 0:
                self.counts.skipped_bytes += n - i
                i = n
                break
            if j > i:
                self.counts.skipped_bytes += j - i
                self.counts.bad_frames += 1
            if j + 1 >= n:
                i = j
                break
            kind = buf[j + 1]
            if kind not in _LEN:  # a doubled 0x1a outside a frame, or garbage: resync
                self.counts.bad_frames += 1
                i = j + 1
                continue
            need = 7 + _LEN[kind]
            body = bytearray()
            k = j + 2
            broken = False
            while len(body) < need and k < n:
                b = buf[k]
                if b == 0x1A:
                    if k + 1 >= n:
                        break
                    if buf[k + 1] != 0x1A:  # a new frame starts inside this one: it was cut short
                        broken = True
                        break
                    k += 1
                body.append(b)
                k += 1
            if broken:
                self.counts.bad_frames += 1
                i = k
                continue
            if len(body) < need:
                i = j  # incomplete: wait for more bytes
                break
            self.counts.frames += 1
            out.append((kind, int.from_bytes(body[:6], "big"), body[6], bytes(body[7:])))
            i = k
        del buf[:i]
        if len(buf) > 1 << 16:  # never hold more than a few frames' worth of undecodable bytes
            self.counts.skipped_bytes += len(buf)
            buf.clear()
        return out


class BeastDecoder:
    """Beast bytes → `Positions` (with callsigns), through pyModeS's `PipeDecoder`."""

    def __init__(self, feed: int = 0, altitude_ref: str = "baro") -> None:
        import pyModeS

        self.framer = BeastFramer()
        self.pipe = pyModeS.PipeDecoder()
        self.feed_idx = feed
        self.altitude_ref = altitude_ref
        self.callsigns: dict[int, str] = {}

    @property
    def counts(self) -> BeastCounts:
        """The framer's counters."""
        return self.framer.counts

    def feed(self, data: bytes, recv: float) -> Positions:
        """Add received bytes (received at ``recv``, epoch seconds); return the positions decoded."""
        c = self.framer.counts
        keys: list[int] = []
        lats: list[float] = []
        lons: list[float] = []
        alts: list[float] = []
        srcs: list[int] = []
        for kind, counter, _signal, payload in self.framer.feed(data):
            if kind not in (0x32, 0x33):
                c.by_type[chr(kind)] = c.by_type.get(chr(kind), 0) + 1
                continue
            c.by_type[chr(kind)] = c.by_type.get(chr(kind), 0) + 1
            try:
                r: dict[str, Any] = dict(self.pipe.decode(payload.hex(), timestamp=recv))
            except Exception:  # pyModeS raises on some malformed payloads; a feed must never crash
                c.undecoded += 1
                continue
            if r.get("error") or r.get("crc_valid") is False:
                c.undecoded += 1
                continue
            icao = r.get("icao")
            if not icao:
                continue
            key = int(str(icao), 16)
            if r.get("callsign"):
                self.callsigns[key] = str(r["callsign"]).strip().rstrip("_")
            lat, lon = r.get("latitude"), r.get("longitude")
            if lat is None or lon is None:
                continue
            df = payload[0] >> 3
            tc = int(r.get("typecode") or 0)
            if counter == MLAT_COUNTER:
                src = SOURCES.index("mlat")
            elif df == 18:
                cf = payload[0] & 7
                src = SOURCES.index("tisb" if cf in (2, 3, 5) else "adsr" if cf == 6 else "adsb")
            elif df == 17:
                src = SOURCES.index("adsb")
            else:
                src = SOURCES.index("other")
            alt_ft = r.get("altitude")
            geom = 20 <= tc <= 22
            use = alt_ft is not None and ((self.altitude_ref == "geom") == geom)
            keys.append(key)
            lats.append(float(lat))
            lons.append(float(lon))
            alts.append(float(alt_ft) * FEET if use and alt_ft is not None else np.nan)
            srcs.append(src)
        c.positions += len(keys)
        n = len(keys)
        t_ns = int(recv * 1e9)
        return Positions(np.asarray(keys, np.int64), np.full(n, t_ns, np.int64), np.asarray(lons, float),
                         np.asarray(lats, float), np.asarray(alts, float), np.asarray(srcs, np.int8),
                         np.full(n, recv), np.full(n, self.feed_idx, np.int16))


__all__ = ["BeastCounts", "BeastDecoder", "BeastFramer"]
