"""Mode S DF17 (ADS-B) frames built from known positions, and Beast framing: a simulator's and a test's tools.

* `airborne_position` — DF17, type code 11 (barometric altitude, 25 ft steps), airborne CPR (17 bits) for an
  even (``odd=False``) or odd frame, with the CRC-24 parity;
* `identification` — DF17, type code 4, an 8-character callsign;
* `beast_frame` — a Beast binary frame (``0x1a``, type ``'3'``, 48-bit 12 MHz counter, signal level, payload;
  every ``0x1a`` inside the frame doubled); ``mlat=True`` writes the MLAT magic counter ``0xFF004D4C4154``.

The encoder follows ICAO Annex 10 vol. IV / DO-260B (CPR: NZ = 15, Nb = 17); tests check it against
pyModeS, an independent decoder.
"""

from __future__ import annotations

import math

from overflight.errors import InputError

NZ = 15
GENERATOR = 0x1FFF409  # CRC-24 generator polynomial of Mode S
MLAT_COUNTER = 0xFF004D4C4154
_CHARS = "#ABCDEFGHIJKLMNOPQRSTUVWXYZ##### ###############0123456789######"


def crc24(data: bytes) -> int:
    """Mode S parity (CRC-24 remainder) of ``data`` (the message without its last 3 bytes)."""
    reg = 0
    for byte in data:
        reg ^= byte << 16
        for _ in range(8):
            reg <<= 1
            if reg & 0x1000000:
                reg ^= GENERATOR
    return reg & 0xFFFFFF


def nl(lat: float) -> int:
    """Number of longitude zones at a latitude (the CPR NL function)."""
    a = abs(lat)
    if a == 0:
        return 59
    if a == 87:
        return 2
    if a > 87:
        return 1
    x = 1 - (1 - math.cos(math.pi / (2 * NZ))) / math.cos(math.pi / 180 * a) ** 2
    return math.floor(2 * math.pi / math.acos(x))


def cpr_encode(lat: float, lon: float, odd: bool) -> tuple[int, int]:
    """Airborne CPR (17-bit) latitude and longitude of a position for an even or odd frame."""
    i = 1 if odd else 0
    dlat = 360.0 / (4 * NZ - i)
    yz = math.floor(2 ** 17 * ((lat % dlat) / dlat) + 0.5)
    rlat = dlat * (yz / 2 ** 17 + math.floor(lat / dlat))
    ni = max(nl(rlat) - i, 1)
    dlon = 360.0 / ni
    xz = math.floor(2 ** 17 * ((lon % dlon) / dlon) + 0.5)
    return yz & 0x1FFFF, xz & 0x1FFFF


def _alt_code(alt_ft: float) -> int:
    n = round((alt_ft + 1000) / 25)
    if not 0 <= n < 2 ** 11:
        raise InputError(f"altitude {alt_ft} ft outside the 25 ft code's range", field="alt_ft")
    return ((n >> 4) << 5) | 0x10 | (n & 0xF)


def _df17(icao: int, me: int) -> str:
    head = (17 << 3) | 5  # DF17, capability 5 (airborne)
    body = bytes([head]) + icao.to_bytes(3, "big") + me.to_bytes(7, "big")
    return (body + crc24(body).to_bytes(3, "big")).hex().upper()


def airborne_position(icao: int, lat: float, lon: float, alt_ft: float, odd: bool, tc: int = 11) -> str:
    """DF17 airborne position (barometric altitude) as 28 hex characters."""
    yz, xz = cpr_encode(lat, lon, odd)
    me = (tc << 51) | (_alt_code(alt_ft) << 36) | ((1 if odd else 0) << 34) | (yz << 17) | xz
    return _df17(icao, me)


def identification(icao: int, callsign: str) -> str:
    """DF17 aircraft identification (type code 4) as 28 hex characters."""
    cs = callsign.upper().ljust(8)[:8]
    me = 4 << 51
    for k, ch in enumerate(cs):
        code = _CHARS.find(ch) if ch != "#" else -1
        if code < 0:
            raise InputError(f"callsign character {ch!r} cannot be encoded", field="callsign")
        me |= code << (42 - 6 * k)
    return _df17(icao, me)


def beast_frame(msg_hex: str, counter: int = 0, signal: int = 0x80, *, mlat: bool = False) -> bytes:
    """A Beast binary frame for a 7- or 14-byte Mode S message (0x1a bytes escaped)."""
    payload = bytes.fromhex(msg_hex)
    kind = {2: b"1", 7: b"2", 14: b"3"}.get(len(payload))
    if kind is None:
        raise InputError(f"a Mode S message has 7 or 14 bytes, not {len(payload)}", field="payload")
    ts = (MLAT_COUNTER if mlat else counter & 0xFFFFFFFFFFFF).to_bytes(6, "big")
    body = ts + bytes([signal & 0xFF]) + payload
    return b"\x1a" + kind + body.replace(b"\x1a", b"\x1a\x1a")


__all__ = [
    "GENERATOR",
    "MLAT_COUNTER",
    "NZ",
    "airborne_position",
    "beast_frame",
    "cpr_encode",
    "crc24",
    "identification",
    "nl",
]
