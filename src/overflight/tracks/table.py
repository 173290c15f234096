"""The canonical track table and the column-level helpers every reader shares.

A track table is a pandas DataFrame with columns ``track_id`` (str), ``time`` (datetime64[ns, UTC]),
``lon``, ``lat`` (float64, WGS84 degrees) and ``alt_m`` (float64 metres, NaN when unknown), plus any extra
columns (speed, callsign, squawk, ...), sorted by (track_id, time) with a 0..n-1 index.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from overflight.errors import InputError
from overflight.units import FEET

TRACK_COLUMNS: tuple[str, ...] = ("track_id", "time", "lon", "lat", "alt_m")
TIME_DTYPE = "datetime64[ns, UTC]"


# Names recognised when the caller gives no column mapping (compared lower-cased, first match wins).
LON_NAMES = ("lon", "lng", "long", "longitude", "lon_deg", "longitude_deg", "x")
LAT_NAMES = ("lat", "latitude", "lat_deg", "latitude_deg", "y")
TIME_NAMES = ("time", "timestamp", "datetime", "date_time", "time_utc", "timestamp_utc", "utc", "when", "t")
ID_NAMES = ("track_id", "trackid", "track", "id", "icao24", "hex", "flight")
ALT_NAMES = ("alt_m", "altitude_m", "alt", "altitude", "ele", "elevation", "height", "alt_ft", "altitude_ft")

# Trailing zone designator after a clock time: Z, UTC/GMT, +hh, +hhmm, +hh:mm.
_OFFSET_RE = (r"(?:\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?|T\d{4}(?:\d{2}(?:[.,]\d+)?)?)\s*"
              r"(?:[zZ]|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$")  # extended (21:30:00Z) or basic (T213000Z)
_EPOCH_RE = r"[+-]?\d+(?:\.\d*)?"
# Plausible range for a fix; keeps epoch milliseconds (read as seconds) and typos out of datetime64[ns].
_MIN_EPOCH_S = 315532800.0  # 1980-01-01: smaller numbers are counters or durations, not epoch times
_MAX_EPOCH_S = 7258118400.0  # 2200-01-01

TIME_OK, TIME_BAD, TIME_NAIVE, TIME_DST = 0, 1, 2, 3  # TIME_DST: a bad_time that a DST change explains


def empty_tracks(extra: Sequence[str] = ()) -> pd.DataFrame:
    """Return an empty track table with the canonical columns (and ``extra`` object columns)."""
    df = pd.DataFrame(
        {
            "track_id": pd.Series([], dtype=str),
            "time": pd.Series([], dtype=TIME_DTYPE),
            "lon": pd.Series([], dtype="float64"),
            "lat": pd.Series([], dtype="float64"),
            "alt_m": pd.Series([], dtype="float64"),
        }
    )
    for name in extra:
        df[name] = pd.Series([], dtype=object)
    return df


def make_tracks(df: pd.DataFrame, *, file: str | Path | None = None) -> pd.DataFrame:
    """Coerce ``df`` to a canonical track table and check it.

    Parameters
    ----------
    df
        A frame with at least ``track_id``, ``time``, ``lon``, ``lat``; ``alt_m`` is added as NaN when missing.
        Naive times are refused (give them a zone first); aware times are converted to UTC.
    file
        Named in errors.

    Returns
    -------
    pandas.DataFrame
        A new frame: canonical columns first, extras after, sorted by (track_id, time), index 0..n-1.

    Raises
    ------
    InputError
        When a column is missing, a time is missing or naive, or a coordinate is NaN or out of range.
    """
    missing = [c for c in ("track_id", "time", "lon", "lat") if c not in df.columns]
    if missing:
        raise InputError(
            f"track table lacks column(s) {', '.join(missing)}; it has {', '.join(map(str, df.columns))}",
            file=file,
            field=missing[0],
        )
    out = df.copy()
    if "alt_m" not in out.columns:
        out["alt_m"] = np.nan
    out["track_id"] = out["track_id"].astype(str)
    t = out["time"]
    if not isinstance(t.dtype, pd.DatetimeTZDtype):
        if pd.api.types.is_datetime64_dtype(t.dtype):
            raise InputError("times have no time zone; localize them first", file=file, field="time")
        try:
            t = pd.to_datetime(t, utc=True, format="ISO8601")
        except (ValueError, TypeError) as exc:
            raise InputError(f"cannot read times: {exc}", file=file, field="time") from None
    out["time"] = t.dt.tz_convert("UTC").dt.as_unit("ns")
    for c in ("lon", "lat", "alt_m"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64")
    bad_t = out["time"].isna().to_numpy()
    if bad_t.any():
        i = int(np.flatnonzero(bad_t)[0])
        raise InputError("missing time", file=file, row=i + 1, field="time")
    lon, lat = out["lon"].to_numpy(), out["lat"].to_numpy()
    bad = ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"bad coordinate lon={float(lon[i])!r} lat={float(lat[i])!r}", file=file, row=i + 1,
                         field="lon/lat")
    alt = out["alt_m"].to_numpy()
    bad_alt = np.isinf(alt)
    if bad_alt.any():
        i = int(np.flatnonzero(bad_alt)[0])
        raise InputError(f"altitude {float(alt[i])!r} is not finite", file=file, row=i + 1, field="alt_m")
    return sort_tracks(out)


def sort_tracks(df: pd.DataFrame, *, codes: np.ndarray | None = None) -> pd.DataFrame:
    """Order columns canonically and rows by (track_id, time), stable, with a fresh 0..n-1 index.

    ``codes``: the rows' track ids factorized in sorted order (``pd.factorize(ids, sort=True)``), when the
    caller has them already.
    """
    cols = list(TRACK_COLUMNS) + [c for c in df.columns if c not in TRACK_COLUMNS]
    out = df[cols]
    if len(out) < 2:
        return out.reset_index(drop=True)
    t = out["time"]
    if not (isinstance(t.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(t.dtype)):
        return out.sort_values(["track_id", "time"], kind="stable").reset_index(drop=True)
    # The same order as sort_values(["track_id", "time"], kind="stable", na_position="last"), from integer
    # codes: a stable lexsort of (id code, ns) is several times faster than sorting a million id strings.
    if codes is None:
        codes, _ = pd.factorize(out["track_id"], sort=True)
    codes = np.where(codes < 0, np.iinfo(np.int64).max, codes)
    ns = t.to_numpy(dtype="datetime64[ns]", na_value=np.datetime64("NaT")).view(np.int64)
    ns = np.where(ns == np.iinfo(np.int64).min, np.iinfo(np.int64).max, ns)
    order = np.lexsort((ns, codes))
    if (order[1:] > order[:-1]).all():  # already in order: no copy
        return out.reset_index(drop=True)
    return out.take(order).reset_index(drop=True)


def parse_tz(tz: str | tzinfo | None) -> tzinfo | None:
    """Turn ``"UTC"``, ``"Europe/Moscow"`` or a fixed offset ``"+03:00"`` into a tzinfo (None stays None)."""
    if tz is None or isinstance(tz, tzinfo):
        return tz
    s = tz.strip()
    m = re.fullmatch(r"(?:UTC|GMT)?([+-])(\d{1,2}):?(\d{2})?", s)
    if m:
        hours, mins = int(m.group(2)), int(m.group(3) or 0)
        if mins >= 60 or hours * 60 + mins > 14 * 60:
            raise InputError(f"time zone offset {tz!r} is outside -14:00..+14:00 (or minutes over 59)", field="tz")
        minutes = hours * 60 + mins
        return timezone(timedelta(minutes=minutes if m.group(1) == "+" else -minutes))
    if s.upper() in ("UTC", "Z", "GMT"):
        return UTC
    try:
        return ZoneInfo(s)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"unknown time zone {tz!r}; use an IANA name such as Europe/Moscow or +03:00",
                         field="tz") from None


def _epoch_seconds(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    x = pd.to_numeric(values, errors="coerce").astype("float64")
    ok = x.between(_MIN_EPOCH_S, _MAX_EPOCH_S).to_numpy()
    ns = np.full(len(x), np.iinfo(np.int64).min, dtype=np.int64)
    xv = x.to_numpy()
    # Round to the microsecond so decimal seconds like 1718964000.1 do not come out as ...099999 ns.
    ns[ok] = np.round(xv[ok] * 1e6).astype(np.int64) * 1000
    t = pd.Series(pd.to_datetime(ns, utc=True).as_unit("ns"), index=values.index)
    code = np.where(ok, TIME_OK, TIME_BAD).astype(np.int8)
    return t, code


def _plausible(t: pd.Series) -> pd.Series:
    lo = pd.Timestamp("1900-01-01", tz="UTC")
    hi = pd.Timestamp("2200-01-01", tz="UTC")
    if isinstance(t.dtype, pd.DatetimeTZDtype):  # tested on the integers (NaT, the smallest, stays NaT)
        ns = np.asarray(t.array.as_unit("ns").asi8)  # UTC nanoseconds as held (NaT: the int64 minimum)
        nat = np.iinfo(np.int64).min
        if bool(((ns == nat) | ((ns >= lo.value) & (ns < hi.value))).all()):
            return t
    return t.where((t >= lo) & (t < hi))


def parse_times(
    values: pd.Series, *, tz: str | tzinfo | None = None, time_format: str | None = None
) -> tuple[pd.Series, np.ndarray]:
    """Parse a column of times to UTC without guessing zones.

    Parameters
    ----------
    values
        Strings (ISO 8601 with ``Z`` or an offset, each value may carry its own offset; naive strings;
        epoch seconds as text), numbers (epoch seconds) or datetimes.
    tz
        Zone for values that carry none. Without it, naive values are reported, never assumed UTC.
    time_format
        A strptime format for non-ISO text (default ISO 8601).

    Returns
    -------
    (times, codes)
        ``times`` is datetime64[ns, UTC] (NaT where not usable) aligned with ``values``; ``codes`` is int8:
        0 ok, 1 unparseable or missing (``bad_time``), 2 no zone and no ``tz`` (``naive_time``).
    """
    zone = parse_tz(tz)
    n = len(values)
    if n == 0:
        return pd.Series([], dtype=TIME_DTYPE, index=values.index), np.zeros(0, dtype=np.int8)
    dt = values.dtype
    if isinstance(dt, pd.DatetimeTZDtype):
        if dt == _UTC_NS:  # (a Parquet timestamp column): tested on the integers, the values kept as they are
            ns = np.asarray(values.array.asi8)
            nat = ns == np.iinfo(np.int64).min
            if bool((nat | ((ns >= _NS_LO) & (ns < _NS_HI))).all()):
                return values, np.where(nat, TIME_BAD, TIME_OK).astype(np.int8)
        t = _plausible(values.dt.tz_convert("UTC")).dt.as_unit("ns")
        return t, np.where(t.isna(), TIME_BAD, TIME_OK).astype(np.int8)
    if pd.api.types.is_datetime64_dtype(dt):
        if zone is None:
            codes = np.where(values.isna(), TIME_BAD, TIME_NAIVE).astype(np.int8)
            return pd.Series(pd.NaT, index=values.index, dtype=TIME_DTYPE), codes
        loc = values.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
        t = _plausible(loc.dt.tz_convert("UTC")).dt.as_unit("ns")
        return t, _local_codes(values, loc, t)
    if pd.api.types.is_numeric_dtype(dt) and not pd.api.types.is_bool_dtype(dt):
        return _epoch_seconds(values)

    # pyarrow (RE2) does the per-value text tests in C; pandas' .str would loop in Python.
    arrow = arrow_strings(values)
    if arrow is None:
        arrow = pa.array(values.astype("str").to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    if time_format is None and _zulu_iso(arrow):
        # Every value is zoned ISO 8601 text as _ISO_AWARE takes it (checked on the bytes): nothing to trim,
        # nothing empty, no regex to run.
        fast = _iso_aware(arrow, values.isna().to_numpy(), values.index, all_ok=True)
        if fast is not None:
            return fast
    arr = pc.utf8_trim_whitespace(arrow)
    missing = values.isna().to_numpy() | _np_bool(pc.equal(arr, ""))
    if time_format is None:
        fast = _iso_aware(arr, missing, values.index)
        if fast is not None:
            return fast
    s = pd.Series(arr.to_numpy(zero_copy_only=False), index=values.index, dtype=object)
    out = pd.Series(pd.NaT, index=values.index, dtype=TIME_DTYPE)
    codes = np.full(n, TIME_BAD, dtype=np.int8)
    epoch = _np_bool(pc.match_substring_regex(arr, "^" + _EPOCH_RE + "$")) & ~missing
    if epoch.any():
        t, c = _epoch_seconds(s[epoch])
        out[epoch] = t
        codes[epoch] = c
    rest = ~missing & ~epoch
    aware = _np_bool(pc.match_substring_regex(arr, _OFFSET_RE)) & rest
    naive = rest & ~aware
    fmt = time_format or "ISO8601"
    if aware.any():
        # A trailing UTC/GMT word is not ISO 8601; spell it as an offset.
        sa = pd.Series(
            pc.replace_substring_regex(arr.filter(pa.array(aware)), r"\s*(?:UTC|GMT)$", "+00:00")
            .to_numpy(zero_copy_only=False),
            index=values.index[aware],
            dtype=object,
        )
        t = _plausible(pd.to_datetime(sa, utc=True, format=fmt, errors="coerce")).dt.as_unit("ns")
        out[aware] = t
        codes[aware] = np.where(t.isna(), TIME_BAD, TIME_OK)
    if naive.any():
        try:
            raw = pd.to_datetime(s[naive], format=fmt, errors="coerce")
        except ValueError:  # values with and without a zone that the offset pattern did not tell apart
            raw = pd.to_datetime(s[naive], format=fmt, errors="coerce", utc=True)
            if zone is None:
                codes[naive] = np.where(raw.isna(), TIME_BAD, TIME_NAIVE)
                return out, codes
            raw = raw.dt.tz_localize(None)
        if isinstance(raw.dtype, pd.DatetimeTZDtype):  # a custom format with %z
            t = _plausible(raw.dt.tz_convert("UTC")).dt.as_unit("ns")
            out[naive] = t
            codes[naive] = np.where(t.isna(), TIME_BAD, TIME_OK)
        elif zone is None:
            codes[naive] = np.where(raw.isna(), TIME_BAD, TIME_NAIVE)
        else:
            loc = raw.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
            t = _plausible(loc.dt.tz_convert("UTC")).dt.as_unit("ns")
            out[naive] = t
            codes[naive] = _local_codes(raw, loc, t)
    return out, codes


# ISO 8601 extended with seconds and an explicit zone (Z or +hh:mm), the form archives and feeds write. A
# column made only of such values (or empty cells) is parsed by one Arrow cast; anything else, or a value that
# cast refuses (30 February), takes the general path below, which decides each value as before.
_ISO_AWARE = (r"^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])[T ](?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
              r"(?:\.\d{1,9})?(?:Z|[+-](?:0\d|1[0-4]):[0-5]\d)$")
_UTC_NS = pd.DatetimeTZDtype("ns", "UTC")
_NS_LO = pd.Timestamp("1900-01-01", tz="UTC").value
_NS_HI = pd.Timestamp("2200-01-01", tz="UTC").value


# The fixed-width forms of _ISO_AWARE with a "Z": YYYY-MM-DD[T ]HH:MM:SS[.f{1,9}]Z, tested on the bytes: the
# lowest and highest byte at each position (tens of month, day, hour, minute and second bounded), then the
# few pairs and the "T or space" that a range per position cannot say.
_ZULU_LO = np.frombuffer(b"0000-00-00 00:00:00.000000000", dtype=np.uint8)
_ZULU_HI = np.frombuffer(b"9999-19-39T29:59:59.999999999", dtype=np.uint8)


_ZULU_TILED: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _zulu_pattern(width: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The lowest byte and the span of bytes at each position, repeated for m values (kept for the next chunk)."""
    key = (width, m)
    got = _ZULU_TILED.get(key)
    if got is None:
        lo = np.concatenate([_ZULU_LO[:width - 1], [90]]).astype(np.uint8)
        hi = np.concatenate([_ZULU_HI[:width - 1], [90]]).astype(np.uint8)
        got = (np.tile(lo, m), np.tile(hi - lo, m))
        if len(_ZULU_TILED) > 4:  # a few chunk sizes at a time (threads may add theirs)
            _ZULU_TILED.clear()
        _ZULU_TILED[key] = got
    return got


def _zulu_iso(arr: pa.Array) -> bool:
    """True when every non-null value matches _ISO_AWARE in the form ``2024-05-01T12:00:00[.123]Z``.

    All values of one length (one number of fraction digits), checked position by position on the Arrow data
    buffer (what the regex would find, at a small part of its cost); False means "not known": the regex decides.
    """
    if not isinstance(arr, pa.Array) or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return False
    n = len(arr)
    if n == 0 or arr.null_count == n or arr.buffers()[2] is None:
        return False
    off_t = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    off = np.frombuffer(arr.buffers()[1], dtype=off_t)[arr.offset:arr.offset + n + 1].astype(np.int64)
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
    starts = off[:-1]
    lens = off[1:] - starts
    if arr.null_count:
        valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        starts, lens = starts[valid], lens[valid]
    width = int(lens[0])
    if not (width == 20 or 22 <= width <= 30) or not (lens == width).all():
        return False
    m = len(starts)
    if int(starts[-1] - starts[0]) == width * (m - 1):  # back to back: one row of bytes per value
        block = data[int(starts[0]):int(starts[0]) + width * m].reshape(m, width)
    else:
        block = data[starts[:, None] + np.arange(width)]
    if not bool((block[:, width - 1] == 90).all()):  # ... "Z"
        return False
    lo, span = _zulu_pattern(width, m)
    flat = block.reshape(-1)  # one pass over the bytes (a test along rows of ~27 bytes is several times slower)
    work = np.empty_like(flat)
    np.subtract(flat, lo, out=work)  # bytes below their lowest wrap round to high values
    if not bool(np.less_equal(work, span, out=work.view(np.bool_)).all()):
        return False
    c = [block[:, i] for i in (5, 6, 8, 9, 11, 12)]
    bad = ((c[0] == 48) & (c[1] == 48)) | ((c[0] == 49) & (c[1] > 50))  # month 00, 13-19
    bad |= ((c[2] == 48) & (c[3] == 48)) | ((c[2] == 51) & (c[3] > 49))  # day 00, 32-39
    bad |= (c[4] == 50) & (c[5] > 51)  # hour 24-29
    t = block[:, 10]
    bad |= (t != 84) & (t != 32)  # "T" or a space
    return not bool(bad.any())


def _iso_aware(arr: pa.Array | pa.ChunkedArray, missing: np.ndarray, index: pd.Index, *, all_ok: bool = False
               ) -> tuple[pd.Series, np.ndarray] | None:
    """Times of a column of zoned ISO 8601 text in one cast, or None when the column needs the general path.

    ``all_ok``: every non-missing value is known to match _ISO_AWARE (see _zulu_iso).
    """
    ok = ~missing if all_ok else _np_bool(pc.match_substring_regex(arr, _ISO_AWARE))
    if not (ok | missing).all():
        return None
    try:
        src = arr if all_ok else pc.if_else(pa.array(ok), arr, pa.scalar(None, arr.type))
        ts = pc.cast(src, pa.timestamp("ns", "UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    nat = np.iinfo(np.int64).min
    ns = np.asarray(pc.fill_null(pc.cast(ts, pa.int64()), nat).to_numpy(zero_copy_only=False), dtype=np.int64)
    good = ok & (ns >= _NS_LO) & (ns < _NS_HI)
    ns = np.where(good, ns, nat)
    t = pd.Series(pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC"), index=index)
    return t, np.where(good, TIME_OK, TIME_BAD).astype(np.int8)


def factorize_sorted(ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(ids.astype(str), sort=True)``: int64 codes and the sorted unique ids (object array).

    For Arrow-backed text without nulls the hashing is Arrow's dictionary encoding and only the (few) distinct
    ids are sorted, by code point as Python sorts text; pandas' own factorize of the same column costs several
    times more (it is done once per chunk by the validator and once by the transit kernel).
    """
    if isinstance(ids.dtype, pd.CategoricalDtype):
        got = _factorize_categorical(ids)
        if got is not None:
            return got
    arr = arrow_strings(ids)
    if arr is None or arr.null_count:
        codes, uniq = pd.factorize(ids.astype(str), sort=True)
        return np.asarray(codes, dtype=np.int64), np.asarray(uniq, dtype=object)
    enc = pc.dictionary_encode(arr)
    words = np.asarray(enc.dictionary.to_numpy(zero_copy_only=False), dtype=object)
    order = np.argsort(words, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    codes = rank[np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)]
    return codes, words[order]


_TEXT_CATS: list[pd.Index] = []  # the last categories found to be all text


def _factorize_categorical(ids: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """factorize_sorted of a Categorical of text without nulls, from its codes (None for any other)."""
    codes = np.asarray(ids.cat.codes, dtype=np.int64)
    index = ids.cat.categories
    cats = np.asarray(index, dtype=object)
    # (the categories of consecutive chunks are often the one Index object: checked once; an Index is immutable)
    text = (isinstance(index.dtype, pd.StringDtype) or (bool(_TEXT_CATS) and index is _TEXT_CATS[0])
            or all(type(c) is str for c in cats.tolist()))
    if (len(codes) and int(codes.min()) < 0) or not text:
        return None
    _TEXT_CATS[:] = [index]
    used = np.flatnonzero(np.bincount(codes, minlength=len(cats)) > 0)  # only the ids present, as factorize
    words = cats[used]
    order = np.argsort(words, kind="stable")
    rank = np.full(len(cats), -1, dtype=np.int64)
    rank[used[order]] = np.arange(len(order), dtype=np.int64)
    return rank[codes], words[order]


def arrow_strings(values: pd.Series) -> pa.Array | None:
    """The Arrow array behind a pyarrow-backed text column (no copy), or None for any other column."""
    arr = values.array
    if isinstance(arr, pd.arrays.ArrowStringArray) or (
            isinstance(values.dtype, pd.ArrowDtype) and (pa.types.is_string(values.dtype.pyarrow_dtype)
                                                         or pa.types.is_large_string(values.dtype.pyarrow_dtype))):
        out = pa.array(arr)
        return out if isinstance(out, pa.Array) else None
    return None


def _local_codes(raw: pd.Series, loc: pd.Series, t: pd.Series) -> np.ndarray:
    """TIME_OK, or TIME_DST where a readable local time fell in a DST gap or fold, else TIME_BAD."""
    dst = raw.notna().to_numpy() & loc.isna().to_numpy()
    return np.where(t.notna().to_numpy(), TIME_OK, np.where(dst, TIME_DST, TIME_BAD)).astype(np.int8)


def _np_bool(a: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(a, False).to_numpy(zero_copy_only=False), dtype=bool)


def to_float(values: pd.Series) -> pd.Series:
    """Numbers from a column of text or numbers; anything unreadable becomes NaN (caught by validation)."""
    if pd.api.types.is_float_dtype(values.dtype):
        return values.astype("float64")
    if values.dtype == object and len(values):
        # JSON true/false are not coordinates or altitudes (pandas would read them as 1 and 0)
        isbool = values.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(dtype=bool)
        if isbool.any():
            values = values.where(~isbool, None)
    if pd.api.types.is_string_dtype(values.dtype):
        try:  # fast path: every value is a number or empty
            arr = arrow_strings(values)
            if arr is None:
                arr = pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
            arr = pc.if_else(pc.equal(pc.utf8_trim_whitespace(arr), ""), pa.scalar(None, pa.string()), arr)
            x = pc.cast(pc.utf8_trim_whitespace(arr), pa.float64())
            return pd.Series(x.to_numpy(zero_copy_only=False), index=values.index, dtype="float64")
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    return pd.to_numeric(values, errors="coerce").astype("float64")


def find_column(
    columns: Sequence[Any], wanted: str | None, names: Sequence[str], what: str, file: str | Path | None
) -> str | None:
    """Return the column for ``what``: ``wanted`` if given (must exist), else the first of ``names`` present."""
    cols = [str(c) for c in columns]
    if wanted is not None:
        if wanted in cols:
            return wanted
        lower = {c.lower(): c for c in cols}
        if wanted.lower() in lower:
            return lower[wanted.lower()]
        raise InputError(
            f"no {what} column {wanted!r}; the file has columns: {', '.join(cols)}", file=file, field=wanted
        )
    lower = {c.strip().lower(): c for c in cols}
    for name in names:
        if name in lower:
            return lower[name]
    return None


def require_column(
    columns: Sequence[Any], wanted: str | None, names: Sequence[str], what: str, option: str, file: str | Path | None
) -> str:
    """Like :func:`find_column` but a missing column is an InputError that lists the columns present."""
    col = find_column(columns, wanted, names, what, file)
    if col is None:
        cols = ", ".join(str(c) for c in columns)
        raise InputError(
            f"no {what} column found (tried {', '.join(names)}); the file has columns: {cols}; "
            f"name it with --{option.replace('_', '-')} (Python: {option}=)",
            file=file,
            field=what,
        )
    return col


__all__ = [
    "ALT_NAMES",
    "FEET",
    "ID_NAMES",
    "LAT_NAMES",
    "LON_NAMES",
    "TIME_DTYPE",
    "TIME_NAMES",
    "TRACK_COLUMNS",
    "empty_tracks",
    "find_column",
    "make_tracks",
    "parse_times",
    "parse_tz",
    "require_column",
    "sort_tracks",
    "to_float",
]
