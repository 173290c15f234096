"""Writers for track tables and transit results.

Writers for track tables (CSV, GeoJSON points or one LineString per track, KML gx:Track, GeoParquet) and
for transit results (visits and summary CSV).
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import shapely

from overflight.errors import InputError
from overflight.tracks.table import TRACK_COLUMNS, make_tracks

WRITE_FORMATS = ("csv", "geojson", "kml", "parquet")
_EXT = {".csv": "csv", ".geojson": "geojson", ".json": "geojson", ".kml": "kml", ".parquet": "parquet",
        ".geoparquet": "parquet"}


def iso_times(t: pd.Series) -> np.ndarray:
    """ISO 8601 UTC text with ``Z``, at the finest unit the values need (exact to the nanosecond)."""
    ns = t.to_numpy(dtype="datetime64[ns]")
    iv = ns.view(np.int64)
    unit = "s"
    for u, q in (("s", 10**9), ("ms", 10**6), ("us", 10**3), ("ns", 1)):
        if (iv % q == 0).all():
            unit = u
            break
    text: np.ndarray = np.datetime_as_string(ns, unit=unit)  # type: ignore[call-overload]
    return np.char.add(text, "Z")


def _json_value(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, np.generic):
        return _json_value(v.item())
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return v


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    """CSV with ISO 8601 ``Z`` times and full-precision (round-trip) floats."""
    out = df.copy()
    out["time"] = iso_times(df["time"])
    out.to_csv(path, index=False)


def write_geojson(df: pd.DataFrame, path: str | Path, *, mode: Literal["points", "lines"] = "points") -> None:
    """GeoJSON: one Point feature per fix (``time`` property) or one LineString per track (``times`` array).

    Altitude, when known, is the third coordinate (metres). Extras become properties (points mode).
    """
    times = iso_times(df["time"])
    lon, lat, alt = (df[c].to_numpy(dtype="float64") for c in ("lon", "lat", "alt_m"))
    extras = [c for c in df.columns if c not in TRACK_COLUMNS]

    def coord(i: int) -> list[float]:
        return [float(lon[i]), float(lat[i])] + ([] if math.isnan(alt[i]) else [float(alt[i])])

    features: list[dict[str, Any]] = []
    ids = df["track_id"].astype(str).to_numpy()
    if mode == "points":
        ex = {c: df[c].to_numpy(dtype=object) for c in extras}
        for i in range(len(df)):
            props = {"track_id": ids[i], "time": str(times[i])}
            props.update({c: _json_value(ex[c][i]) for c in extras})
            features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": coord(i)},
                             "properties": props})
    elif mode == "lines":
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.zeros(0, dtype=int)
        ends = np.r_[starts[1:], len(ids)] if len(ids) else np.zeros(0, dtype=int)
        for a, b in zip(starts, ends, strict=True):
            coords = [coord(i) for i in range(a, b)]
            geom = {"type": "LineString", "coordinates": coords} if b - a > 1 else {
                "type": "Point", "coordinates": coords[0]}
            lprops: dict[str, Any] = {"track_id": ids[a], "times": [str(x) for x in times[a:b]]}
            if b - a == 1:
                lprops = {"track_id": ids[a], "time": str(times[a])}
            features.append({"type": "Feature", "id": ids[a], "geometry": geom, "properties": lprops})
    else:
        raise InputError(f"GeoJSON mode must be 'points' or 'lines', not {mode!r}")
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"type": "FeatureCollection", "features": features}, fh, allow_nan=False)


def write_kml(df: pd.DataFrame, path: str | Path, *, name: str | None = None) -> None:
    """KML with one Placemark/gx:Track per track (``<when>`` + ``<gx:coord>``), for Google Earth's time slider."""
    times = iso_times(df["time"])
    ids = df["track_id"].astype(str).to_numpy()
    lon, lat, alt = (df[c].to_numpy(dtype="float64") for c in ("lon", "lat", "alt_m"))
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2">\n'
        f"<Document><name>{_xml_text(name or Path(path).stem)}</name>\n"
    ]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.zeros(0, dtype=int)
    ends = np.r_[starts[1:], len(ids)] if len(ids) else np.zeros(0, dtype=int)
    for a, b in zip(starts, ends, strict=True):
        has_alt = not np.isnan(alt[a:b]).any()
        mode = "absolute" if has_alt else "clampToGround"
        parts.append(f"<Placemark><name>{_xml_text(str(ids[a]))}</name><gx:Track>"
                     f"<altitudeMode>{mode}</altitudeMode>\n")
        parts.extend(f"<when>{t}</when>\n" for t in times[a:b])
        if has_alt:
            parts.extend(f"<gx:coord>{x!r} {y!r} {z!r}</gx:coord>\n" for x, y, z in
                         zip(lon[a:b].tolist(), lat[a:b].tolist(), alt[a:b].tolist(), strict=True))
        else:  # unknown altitude stays unknown rather than 0
            parts.extend(f"<gx:coord>{x!r} {y!r}</gx:coord>\n"
                         for x, y in zip(lon[a:b].tolist(), lat[a:b].tolist(), strict=True))
        parts.append("</gx:Track></Placemark>\n")
    parts.append("</Document></kml>\n")
    Path(path).write_text("".join(parts), encoding="utf-8")


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(s: str) -> str:
    """Text for an XML element: escaped, and characters XML 1.0 cannot hold shown as U+FFFD."""
    return escape(_XML_INVALID.sub("\ufffd", s))


def _uniform_objects(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns holding several Python types (readsb squawk "7000" and 1200) become text for Arrow."""
    out = df
    for c in df.columns:
        col = df[c]
        if col.dtype != object:
            continue
        kinds = {type(v) for v in col.dropna()}
        if len(kinds) > 1:
            if out is df:
                out = df.copy()
            out[c] = col.map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    return out


def write_geoparquet(df: pd.DataFrame, path: str | Path) -> None:
    """GeoParquet 1.0: WKB point ``geometry`` (lon, lat; CRS OGC:CRS84) plus the other columns."""
    lon, lat = df["lon"].to_numpy(dtype="float64"), df["lat"].to_numpy(dtype="float64")
    geom = shapely.to_wkb(shapely.points(lon, lat))
    rest = _uniform_objects(df.drop(columns=["lon", "lat"]))
    table = pa.Table.from_pandas(rest, preserve_index=False)
    table = table.append_column("geometry", pa.array(geom, type=pa.binary()))
    bbox = [float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())] if len(df) else []
    geo = {
        "version": "1.0.0",
        "primary_column": "geometry",
        "columns": {"geometry": {"encoding": "WKB", "geometry_types": ["Point"],
                                 **({"bbox": bbox} if bbox else {})}},
    }
    meta = dict(table.schema.metadata or {})
    meta[b"geo"] = json.dumps(geo).encode()
    pq.write_table(table.replace_schema_metadata(meta), path)


def write_tracks(
    df: pd.DataFrame,
    path: str | Path,
    *,
    format: str | None = None,
    geojson_mode: Literal["points", "lines"] = "points",
) -> None:
    """Write a track table; the format comes from ``format`` or the extension (csv, geojson/json, kml, parquet).

    Raises
    ------
    InputError
        For an unknown format or a table that is not a valid track table.
    """
    fmt = format or _EXT.get(Path(path).suffix.lower())
    if fmt not in WRITE_FORMATS:
        raise InputError(f"cannot tell the output format of {str(path)!r}; use one of "
                         f"{', '.join(sorted(_EXT))} or format=", file=path)
    table = make_tracks(df)
    if fmt == "csv":
        write_csv(table, path)
    elif fmt == "geojson":
        write_geojson(table, path, mode=geojson_mode)
    elif fmt == "kml":
        write_kml(table, path)
    else:
        write_geoparquet(table, path)


# ------------------------------------------------------------------------------------ transit results

def write_visits(visits: pd.DataFrame, path: str | Path) -> None:
    """Write transit visits as CSV.

    Write transit visits as CSV: times ISO 8601 UTC to the second (interpolated border times carry no more),
    coordinates to 1e-7 degree.
    """
    cols = [_visit_text(visits[c]) for c in visits.columns]
    if any(c is None for c in cols):  # a column of another type: pandas' writer, the same text rules
        out = visits.copy()
        for c in out.columns:
            if isinstance(out[c].dtype, pd.DatetimeTZDtype):
                out[c] = out[c].dt.round("s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        out.to_csv(path, index=False, float_format="%.7f")
        return
    # The text pandas' to_csv(float_format="%.7f") writes, made per column and joined into lines by Arrow: pandas
    # formats every cell through Python callbacks (about 1 s per 20,000 visits with the bracket columns).
    names = [str(c) for c in visits.columns]
    arrays = [c if isinstance(c, pa.Array) else pa.array(c, type=pa.string()) for c in cols]
    quote = any(_needs_quotes(a) for a in arrays) or any(
        re.search('[,"\r\n]', n) for n in names)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        if quote or not len(visits):  # values that need quotes: the csv module quotes them as pandas does
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(names)
            w.writerows(zip(*(c.to_pylist() if isinstance(c, pa.Array) else c for c in cols), strict=True))
            return
        fh.write(",".join(names) + "\n")
        lines = pc.binary_join_element_wise(*arrays, ",") if len(arrays) > 1 else arrays[0]
        # Each line with its newline, back to back in one Arrow buffer: written as it is (no Python string per line).
        text = pc.binary_join_element_wise(lines, pa.scalar("\n"), "").combine_chunks() if isinstance(
            lines, pa.ChunkedArray) else pc.binary_join_element_wise(lines, pa.scalar("\n"), "")
        off_t = np.int64 if pa.types.is_large_string(text.type) else np.int32
        off = np.frombuffer(text.buffers()[1], dtype=off_t)[text.offset:text.offset + len(text) + 1]
        fh.flush()
        fh.buffer.write(text.buffers()[2].to_pybytes()[int(off[0]):int(off[-1])])


_E7 = 10_000_000
_DAY_MIN = int(np.datetime64("0000-01-01", "D").astype(np.int64))  # days since 1970 of the first and last
_DAY_MAX = int(np.datetime64("9999-12-31", "D").astype(np.int64))  # day _iso_seconds writes itself


def _iso_seconds(secs: np.ndarray, nat: np.ndarray) -> pa.StringArray | None:
    """``YYYY-MM-DDTHH:MM:SSZ`` of datetime64[s] values ("" for NaT) as numpy's datetime_as_string spells them.

    Made from the integer seconds (the civil date by Hinnant's days-to-date algorithm) into one byte buffer;
    None when a year is outside 0..9999 (numpy's own text then). The date arithmetic is in 32 bits once the
    day numbers are known to be in that range (a division costs several times less), and the text is written
    a character position at a time into a buffer of positions by values (contiguous rows), turned once.
    """
    v = secs.view(np.int64)[~nat]
    days = v // 86400
    if len(days) and (int(days.min()) < _DAY_MIN or int(days.max()) > _DAY_MAX):
        return None  # a year outside 0..9999
    sod = (v - days * 86400).astype(np.int32)
    z = days.astype(np.int32) + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    mon = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (mon <= 2)
    # (remainders as v - d (v // d): numpy's % and divmod of integers cost several times a division)
    hh = sod // 3600
    rem = sod - hh * 3600
    mm = rem // 60
    ss = rem - mm * 60
    cent = year // 100
    yy = year - cent * 100
    cm = np.empty((20, len(v)), dtype=np.uint8)
    for row, val in ((0, cent), (2, yy), (5, mon), (8, day), (11, hh), (14, mm), (17, ss)):
        tens = val // 10
        cm[row] = tens + 48
        cm[row + 1] = val - tens * 10 + 48
    cm[4] = cm[7] = 45  # "-"
    cm[10] = 84  # "T"
    cm[13] = cm[16] = 58  # ":"
    cm[19] = 90  # "Z"
    buf = np.ascontiguousarray(cm.T)
    lens = np.where(nat, 0, 20).astype(np.int32)
    offsets = np.zeros(len(nat) + 1, dtype=np.int32)
    np.cumsum(lens, out=offsets[1:])
    out: pa.StringArray = pa.Array.from_buffers(pa.string(), len(nat), [None, pa.py_buffer(offsets),
                                                                      pa.py_buffer(buf)])
    return out


def _needs_quotes(a: pa.Array) -> bool:
    """Whether any value holds a comma, a quote or a line break (memchr over the buffer, then RE2 if so)."""
    data = a.buffers()[2] if pa.types.is_string(a.type) else None
    if data is not None:
        raw = data.to_pybytes()
        if not any(ch in raw for ch in (b",", b'"', b"\r", b"\n")):
            return False
    return bool(pc.any(pc.match_substring_regex(a, '[,"\r\n]')).as_py())


def fixed7(x: np.ndarray) -> pa.StringArray:
    """``"%.7f" % v`` of every value (``""`` for NaN), the same text byte for byte, made by column operations.

    ``|v| * 1e7`` is rounded to an integer and split at the decimal point; a value whose product lies within a
    few units in the last place of a half (where that rounding and printf's exact one could part) or that is
    too large for the integer path is formatted by Python itself.
    """
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):  # huge values overflow to inf and take Python's path
        p = np.abs(x) * 1e7
        fast = np.isfinite(p) & (p < 4e15)  # below 2**52: the fraction of p is exact
        fp = np.where(fast, p, 0.0)
        frac = fp - np.floor(fp)
        fast &= np.abs(frac - 0.5) > 4 * np.spacing(fp)
    r = np.rint(fp).astype(np.int64)
    text = _fixed7_text(r, np.signbit(x))
    slow = np.flatnonzero(~fast)
    if not len(slow):
        return text
    out = text.to_pylist()
    for i in slow.tolist():
        v = float(x[i])
        out[i] = "" if v != v else "%.7f" % v  # noqa: UP031
    return pa.array(out, pa.string())


def _fixed7_text(r: np.ndarray, neg: np.ndarray) -> pa.StringArray:
    """``[-]W.FFFFFFF`` of ``r / 1e7`` for integers ``0 <= r < 2**52`` (``-`` where ``neg``), as one byte buffer.

    The digits in 32 bits (the whole part is below 10**9), written a position at a time into a buffer of
    positions by values, right-aligned (sign, 9 whole digits, point, 7 decimals); each value's text is the
    tail of its row, taken by one mask (Arrow's casts, padding and joins cost about three times more).
    """
    n = len(r)
    whole = (r // _E7).astype(np.int32)
    part = (r - whole.astype(np.int64) * _E7).astype(np.int32)
    nd = np.ones(n, dtype=np.int32)  # digits of the whole part
    for k in range(1, 9):
        nd += whole >= 10 ** k
    cm = np.empty((18, n), dtype=np.uint8)
    # (a digit as v - 10 (v // 10): numpy's % of integers, with its sign rules, costs eight times a division)
    for k in range(7):
        q = part // 10
        cm[17 - k] = part - q * 10 + 48
        part = q
    cm[10] = 46  # "."
    for k in range(9):
        q = whole // 10
        cm[9 - k] = whole - q * 10 + 48
        whole = q
    cm[0] = 32  # (a 9-digit value's sign position when it has none: never taken)
    at = np.flatnonzero(neg)
    cm[9 - nd[at], at] = 45  # "-" just before the first digit
    lens = 8 + nd + neg.astype(np.int32)
    rows = np.ascontiguousarray(cm.T)
    data = rows[np.arange(18, dtype=np.int32)[None, :] >= (18 - lens)[:, None]]
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lens, out=offsets[1:])
    out: pa.StringArray = pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    return out


def _visit_text(col: pd.Series) -> list[str] | np.ndarray | pa.Array | None:
    """One visit column as CSV text as write_visits spells it, or None for a type it leaves to pandas."""
    dt = col.dtype
    if isinstance(dt, pd.DatetimeTZDtype):
        r = col.dt.round("s")
        nat = r.isna().to_numpy()
        secs = r.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[s]")
        fast = _iso_seconds(secs, nat)
        if fast is not None:
            return fast
        txt = np.char.add(np.datetime_as_string(secs, unit="s"), "Z")
        return np.where(nat, "", txt)
    if pd.api.types.is_float_dtype(dt):
        # "%.7f" % x is what pandas' float_format="%.7f" applies to each value: the same text, byte for byte
        return fixed7(col.to_numpy(dtype=np.float64))
    if pd.api.types.is_bool_dtype(dt) and not col.isna().any():
        return np.where(col.to_numpy(dtype=bool), "True", "False")
    # every value text or missing (tested in C, not per value in Python): Arrow text, "" where missing
    if pd.api.types.is_string_dtype(dt) and (
            len(col) == 0 or pd.api.types.infer_dtype(col, skipna=True) in ("string", "empty")):
        vals = col.astype(object).where(col.notna(), None).to_numpy(dtype=object)
        return pc.fill_null(pa.array(vals, type=pa.string()), "")
    return None


def write_summary(summary: pd.DataFrame, path: str | Path) -> None:
    """Write a per-track transit summary as CSV; the structured legs as a JSON array in column ``legs``."""
    out = summary.copy()
    out["legs"] = [json.dumps(x, ensure_ascii=False) for x in out["legs"]]
    for c in ("first_entry", "last_exit"):
        out[c] = pd.to_datetime(out[c], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    out.to_csv(path, index=False)


__all__ = [
    "WRITE_FORMATS",
    "iso_times",
    "write_csv",
    "write_geojson",
    "write_geoparquet",
    "write_kml",
    "write_summary",
    "write_tracks",
    "write_visits",
]
