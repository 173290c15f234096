"""The compiled SBS-1 line parser (`parse_block` and its helpers): numpy and numba only, so the install
can build it ahead of time with the other kernels (see `overflight._aot_build`). The format and the
counting rule are described in `overflight.monitor.sbs`, which drives it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from overflight._jit import kernel
from overflight.units import FEET

POSITION, MESSAGE, HEARTBEAT, OTHER, GARBAGE = 0, 1, 2, 3, 4
STATUS_NAMES = ("position", "message", "heartbeat", "other", "garbage")
NON_ICAO = 1 << 24  # set in the key of a non-ICAO address ("~" prefix in readsb)

POW10 = np.array([10.0 ** k for k in range(23)])


@kernel
def _num(buf: npt.NDArray[np.uint8], s: int, e: int, pow10: npt.NDArray[np.float64]) -> tuple[bool, float]:
    """Decimal number in buf[s:e]; empty is NaN; returns (ok, value)."""
    while s < e and buf[s] == 32:
        s += 1
    while e > s and (buf[e - 1] == 32 or buf[e - 1] == 13):
        e -= 1
    if s == e:
        return True, np.nan
    neg = False
    if buf[s] == 45 or buf[s] == 43:
        neg = buf[s] == 45
        s += 1
    mant = 0
    nd = 0
    frac = 0
    seen_dot = False
    any_digit = False
    for i in range(s, e):
        c = buf[i]
        if 48 <= c <= 57:
            any_digit = True
            if nd < 18:
                mant = mant * 10 + (c - 48)
                nd += 1
                if seen_dot:
                    frac += 1
            elif not seen_dot:
                return False, np.nan  # too many integer digits for an SBS field
        elif c == 46 and not seen_dot:
            seen_dot = True
        else:
            return False, np.nan
    if not any_digit or frac > 22:
        return False, np.nan
    v = float(mant) / pow10[frac]
    return True, -v if neg else v


@kernel
def _days_from_civil(y: int, m: int, d: int) -> int:
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@kernel
def _digits(buf: npt.NDArray[np.uint8], s: int, n: int) -> int:
    v = 0
    for i in range(s, s + n):
        c = buf[i]
        if c < 48 or c > 57:
            return -1
        v = v * 10 + (c - 48)
    return v


@kernel
def _datetime_ms(buf: npt.NDArray[np.uint8], ds: int, de: int, ts: int, te: int) -> int:
    """'YYYY/MM/DD' (or '-') and 'HH:MM:SS[.fff]' as naive epoch milliseconds; -1 if malformed."""
    if de - ds != 10 or te - ts < 8:
        return -1
    y = _digits(buf, ds, 4)
    mo = _digits(buf, ds + 5, 2)
    d = _digits(buf, ds + 8, 2)
    hh = _digits(buf, ts, 2)
    mi = _digits(buf, ts + 3, 2)
    ss = _digits(buf, ts + 6, 2)
    if y < 0 or mo < 1 or mo > 12 or d < 1 or d > 31 or hh < 0 or hh > 23 or mi < 0 or mi > 59 or ss < 0 or ss > 60:
        return -1
    ms = 0
    if te - ts > 8:
        if buf[ts + 8] != 46:
            return -1
        scale = 100
        for i in range(ts + 9, te):
            c = buf[i]
            if c < 48 or c > 57:
                return -1
            ms += (c - 48) * scale
            scale //= 10
    return ((_days_from_civil(y, mo, d) * 24 + hh) * 60 + mi) * 60_000 + ss * 1000 + ms


@kernel
def _hexval(c: int) -> int:
    if 48 <= c <= 57:
        return c - 48
    if 65 <= c <= 70:
        return c - 55
    if 97 <= c <= 102:
        return c - 87
    return -1


@kernel
def parse_block(buf: npt.NDArray[np.uint8], start: int, pow10: npt.NDArray[np.float64],
                status: npt.NDArray[np.int8], mtype: npt.NDArray[np.int8], key: npt.NDArray[np.int64],
                t_ms: npt.NDArray[np.int64], alt: npt.NDArray[np.float64], lat: npt.NDArray[np.float64],
                lon: npt.NDArray[np.float64], ground: npt.NDArray[np.int8], cs: npt.NDArray[np.int64],
                ) -> tuple[int, int]:  # pragma: no cover - compiled
    """Parse newline-terminated lines of ``buf`` from ``start`` until the outputs are full.

    Returns (lines parsed, position after the last one). Only the fields the monitor uses are read as
    numbers: altitude, latitude and longitude of position messages (MSG,2 and MSG,3), the callsign of
    MSG,1 (packed into an int64, 8 bytes big-endian); every MSG line's type, hex id and date/time are checked.
    """
    n = buf.size
    cap = status.size
    fs = np.empty(23, np.int64)
    fe = np.empty(23, np.int64)
    line = 0
    i = start
    while i < n and line < cap:
        j = i
        while j < n and buf[j] != 10:
            j += 1
        if j == n:
            break  # an unterminated tail: the caller keeps it for the next block
        end = j
        if end > i and buf[end - 1] == 13:
            end -= 1
        nf = 0
        fs[0] = i
        k = i
        while k < end and nf < 22:
            if buf[k] == 44:
                fe[nf] = k
                nf += 1
                fs[nf] = k + 1
            k += 1
        fe[nf] = end
        nf += 1
        st = GARBAGE
        mt = 0
        key[line] = -1
        cs[line] = 0
        lat[line] = np.nan
        lon[line] = np.nan
        alt[line] = np.nan
        ground[line] = -1
        t_ms[line] = -1
        if end == i:
            st = HEARTBEAT
        elif nf == 22 and k == end and fe[0] - fs[0] == 3 and buf[fs[0]] == 77 and buf[fs[0] + 1] == 83 \
                and buf[fs[0] + 2] == 71:
            ok = fe[1] - fs[1] == 1 and 49 <= buf[fs[1]] <= 56
            if ok:
                mt = buf[fs[1]] - 48
                hs, he = fs[4], fe[4]
                flag = 0
                if he > hs and buf[hs] == 126:  # "~": not an ICAO address
                    flag = NON_ICAO
                    hs += 1
                if he - hs != 6:
                    ok = False
                else:
                    v = 0
                    for q in range(hs, he):
                        h = _hexval(buf[q])
                        if h < 0:
                            ok = False
                            break
                        v = v * 16 + h
                    key[line] = v | flag
            if ok:
                tm = _datetime_ms(buf, fs[6], fe[6], fs[7], fe[7])
                t_ms[line] = tm
                ok = tm >= 0
            if ok and (mt == 2 or mt == 3):
                ok1, a = _num(buf, fs[11], fe[11], pow10)
                ok2, y = _num(buf, fs[14], fe[14], pow10)
                ok3, x = _num(buf, fs[15], fe[15], pow10)
                ok = ok1 and ok2 and ok3
                alt[line] = a * FEET
                lat[line] = y
                lon[line] = x
                gb = fs[21]
                if fe[21] > gb:
                    if buf[gb] == 45 or buf[gb] == 49:
                        ground[line] = 1
                    elif buf[gb] == 48:
                        ground[line] = 0
            elif ok and mt == 1:
                c = 0
                good = True
                for q in range(fs[10], min(fe[10], fs[10] + 8)):
                    ch = buf[q]
                    if ch < 32 or ch > 126:
                        good = False
                    c = (c << 8) | ch
                for _q in range(fe[10] - fs[10], 8):
                    c = (c << 8) | 32
                cs[line] = c if good and fe[10] > fs[10] else 0
            if ok:
                st = POSITION if (mt == 2 or mt == 3) and not np.isnan(lat[line]) and not np.isnan(lon[line]) \
                    else MESSAGE
        elif nf < 22 and end - i >= 3:
            c0, c1, c2 = buf[i], buf[i + 1], buf[i + 2]
            if (c0 == 83 and c1 == 69 and c2 == 76) or (c0 == 73 and c1 == 68 and c2 == 44) or \
                    (c0 == 65 and c1 == 73 and c2 == 82) or (c0 == 83 and c1 == 84 and c2 == 65) or \
                    (c0 == 67 and c1 == 76 and c2 == 75):
                st = OTHER
        status[line] = st
        mtype[line] = mt
        line += 1
        i = j + 1
    return line, i


__all__ = ["GARBAGE", "HEARTBEAT", "MESSAGE", "NON_ICAO", "OTHER", "POSITION", "POW10", "STATUS_NAMES",
           "parse_block"]
