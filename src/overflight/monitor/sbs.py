"""SBS-1 / BaseStation text (port 30003) parsed in batches by one compiled pass over the raw bytes.

A batch is a block of complete lines. Each line gets a status:

* ``POSITION`` — ``MSG,2`` or ``MSG,3`` with a latitude and a longitude;
* ``MESSAGE`` — any other well-formed ``MSG,<1-8>`` line (identification, velocity, altitude, squawk);
* ``HEARTBEAT`` — an empty line (dump1090 and readsb send a bare CRLF when they have nothing to say);
* ``OTHER`` — the shorter BaseStation records (``SEL``, ``ID``, ``AIR``, ``STA``, ``CLK``);
* ``GARBAGE`` — anything else (wrong field count, bad hex id, a number that is not a number, a bad date).

Counting rule: every line is exactly one of these, so lines in = parsed (the first four) + rejected
(garbage). The generated date/time (fields 7 and 8) is the receiver's clock with no zone: it is read as
naive milliseconds and converted with the feed's ``tz`` (UTC unless told; dump1090 writes local time,
readsb UTC). Numbers are parsed exactly (an integer mantissa over a power of ten below 1e22 is correctly
rounded), so they equal Python's ``float()`` of the same text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from overflight.monitor._sbs_kernels import (
    GARBAGE,
    HEARTBEAT,
    MESSAGE,
    NON_ICAO,
    OTHER,
    POSITION,
    POW10,
    STATUS_NAMES,
    parse_block,
)


def unpack_callsign(c: int) -> str:
    """The text of a callsign packed by `parse_block`."""
    return int(c).to_bytes(8, "big").decode("ascii", "replace").strip()


class CallsignTable:
    """Latest callsign per aircraft key, updated from arrays without a Python step per line."""

    def __init__(self) -> None:
        self.keys = np.zeros(0, np.int64)
        self.vals = np.zeros(0, np.int64)
        self.extra: dict[int, str] = {}

    def update(self, keys: npt.NDArray[np.int64], packed: npt.NDArray[np.int64]) -> None:
        """Set the callsigns of these keys (the last value of a key wins)."""
        if len(keys) == 0:
            return
        # last value per key: the new arrays after the old, keep the last occurrence of each key
        k = np.concatenate([self.keys, keys])
        v = np.concatenate([self.vals, packed])
        rev_k = k[::-1]
        uk, first = np.unique(rev_k, return_index=True)
        self.keys, self.vals = uk, v[::-1][first]

    def update_dict(self, d: dict[int, str]) -> None:
        """Set callsigns from a mapping key -> callsign."""
        self.extra.update(d)

    def get_many(self, keys: npt.NDArray[np.int64]) -> list[str | None]:
        """Callsigns of many keys at once (None where unknown)."""
        out: list[str | None] = [None] * len(keys)
        if self.keys.size:
            i = np.minimum(np.searchsorted(self.keys, keys), self.keys.size - 1)
            hit = self.keys[i] == keys
            for j in np.flatnonzero(hit).tolist():
                out[j] = unpack_callsign(int(self.vals[i[j]]))
        for j, k in enumerate(keys.tolist()):
            if k in self.extra:
                out[j] = self.extra[k]
        return out

    def get(self, key: int) -> str | None:
        """The callsign of a key, or None."""
        if key in self.extra:
            return self.extra[key]
        i = int(np.searchsorted(self.keys, key))
        if i < self.keys.size and self.keys[i] == key:
            return unpack_callsign(int(self.vals[i]))
        return None


@dataclass
class SbsBatch:
    """The parsed lines of one block (arrays of equal length, one entry per line).

    The arrays are views of the parser's buffers: valid until its next `feed`.
    """

    status: npt.NDArray[np.int8]
    mtype: npt.NDArray[np.int8]
    key: npt.NDArray[np.int64]
    time_ns: npt.NDArray[np.int64]
    alt_m: npt.NDArray[np.float64]
    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    ground: npt.NDArray[np.int8]
    callsign: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.status.size)

    def counts(self) -> dict[str, int]:
        """Lines by parse status."""
        c = np.bincount(self.status, minlength=5)
        return {name: int(c[i]) for i, name in enumerate(STATUS_NAMES)}

    @property
    def callsigns(self) -> dict[int, str]:
        """Callsigns of the identification messages in this batch (key → text)."""
        sel = np.flatnonzero(self.callsign != 0)
        return {int(self.key[i]): unpack_callsign(int(self.callsign[i])) for i in sel}


class SbsParser:
    """Incremental parser: feed it bytes as they arrive, get a `SbsBatch` of the complete lines.

    Parameters
    ----------
    tz : time zone of the receiver's date/time fields (an IANA name; default UTC).
    """

    def __init__(self, tz: str = "UTC") -> None:
        self.tz = tz
        self._tail = b""
        self._cap = 0
        self._alloc(1 << 16)

    def _alloc(self, n: int) -> None:
        self._cap = n
        self._st = np.empty(n, np.int8)
        self._mt = np.empty(n, np.int8)
        self._key = np.empty(n, np.int64)
        self._t = np.empty(n, np.int64)
        self._ns = np.empty(n, np.int64)
        self._alt = np.empty(n, np.float64)
        self._lat = np.empty(n, np.float64)
        self._lon = np.empty(n, np.float64)
        self._gr = np.empty(n, np.int8)
        self._cs = np.empty(n, np.int64)

    @property
    def pending(self) -> int:
        """Bytes of an unterminated last line held for the next block."""
        return len(self._tail)

    def reset(self) -> int:
        """Forget a held partial line (the connection it came from is gone); returns its length."""
        n, self._tail = len(self._tail), b""
        return n

    def feed(self, data: bytes) -> SbsBatch:
        """Parse the complete lines in (held tail +) ``data``; keep any unterminated tail."""
        block = self._tail + data if self._tail else data
        cut = block.rfind(b"\n") + 1
        self._tail = block[cut:]
        if len(self._tail) > 1 << 16:  # a 64 kB "line" is not SBS: keep only its end, counted as one line later
            self._tail = self._tail[-(1 << 12):]
        return self._parse(block, cut)

    def _parse(self, block: bytes, cut: int) -> SbsBatch:
        buf = np.frombuffer(block, dtype=np.uint8)[:cut]
        n, pos = 0, 0
        while pos < cut:
            if n == self._cap:  # more lines than the buffers hold: grow, keeping what is parsed
                old: list[np.ndarray] = [self._st, self._mt, self._key, self._t, self._alt, self._lat, self._lon,
                                         self._gr, self._cs]
                self._alloc(self._cap * 2)
                new: list[np.ndarray] = [self._st, self._mt, self._key, self._t, self._alt, self._lat, self._lon,
                                         self._gr, self._cs]
                for dst, src in zip(new, old, strict=True):
                    dst[:n] = src[:n]
            k, pos = parse_block(buf, pos, POW10, self._st[n:], self._mt[n:], self._key[n:], self._t[n:],
                                 self._alt[n:], self._lat[n:], self._lon[n:], self._gr[n:], self._cs[n:])
            n += k
        st = self._st[:n]
        ns = self._ns[:n]
        np.multiply(self._t[:n], 1_000_000, out=ns)
        if self.tz not in ("UTC", "utc", "Z") and n:
            ok = self._t[:n] >= 0
            loc = pd.DatetimeIndex(ns[ok]).tz_localize(self.tz, ambiguous="NaT", nonexistent="NaT")
            conv = loc.tz_convert("UTC").asi8 if len(loc) else np.zeros(0, np.int64)
            bad_t = conv == np.iinfo(np.int64).min  # NaT: a local time that does not exist or is ambiguous
            ns[ok] = conv
            st[np.flatnonzero(ok)[bad_t]] = GARBAGE
        return SbsBatch(st, self._mt[:n], self._key[:n], ns, self._alt[:n], self._lat[:n], self._lon[:n],
                        self._gr[:n], self._cs[:n])


def key_hex(key: int) -> str:
    """The hex id of an aircraft key ('~' prefix for a non-ICAO address), lower case."""
    k = int(key)
    return ("~" if k & NON_ICAO else "") + f"{k & 0xFFFFFF:06x}"


def hex_key(text: str) -> int:
    """The aircraft key of a hex id ('~abc123' for a non-ICAO address)."""
    t = text.strip().lower()
    flag = NON_ICAO if t.startswith("~") else 0
    return int(t.lstrip("~"), 16) | flag


__all__ = [
    "GARBAGE",
    "HEARTBEAT",
    "MESSAGE",
    "NON_ICAO",
    "OTHER",
    "POSITION",
    "STATUS_NAMES",
    "CallsignTable",
    "SbsBatch",
    "SbsParser",
    "hex_key",
    "key_hex",
    "parse_block",
    "unpack_callsign",
]
