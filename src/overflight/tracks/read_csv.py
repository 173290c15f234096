"""CSV track files (any column names, OpenSky state vectors), read in bounded-memory chunks with pyarrow."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from overflight.errors import InputError
from overflight.safeio import first_non_utf8
from overflight.tracks._stage import (
    DEFAULT_CHUNK_ROWS,
    ColumnMap,
    ReadOptions,
    alt_factor,
    can_stage_table,
    numeric_extras,
    resolve_columns,
    stage_frame,
    stage_table,
)
from overflight.tracks.validate import Issue, Staged

# Bytes per pyarrow block (also the longest line read); chunks are re-cut to chunk_rows rows. The streaming
# reader reads blocks ahead on its I/O thread and holds dozens of them: 1 MB blocks keep that near 50 MB
# (8 MB blocks held ~300 MB on a 700 MB file) and parse no slower.
_BLOCK = 1 << 20

OPENSKY_COLUMNS = (
    "icao24", "callsign", "origin_country", "time_position", "last_contact", "longitude", "latitude",
    "baro_altitude", "on_ground", "velocity", "true_track", "vertical_rate", "sensors", "geo_altitude",
    "squawk", "spi", "position_source",
)


#: Longest header line read (bytes); a longer first line is not a CSV header (e.g. a file of NUL bytes).
MAX_HEADER_BYTES = 64 << 10


def read_header(path: Path) -> tuple[list[str], str]:
    """Raw column names and delimiter of a CSV file (first line; tab or semicolon when there is no comma)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.readline(MAX_HEADER_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror}", file=path) from None
    if len(raw) > MAX_HEADER_BYTES:
        raise InputError(f"the first line is longer than {MAX_HEADER_BYTES // 1024} KiB: not a CSV header row",
                         file=path, row="line 1")
    if b"\x00" in raw:
        raise InputError("NUL bytes in the header line: not a text CSV file", file=path, row="line 1")
    try:
        first = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text: {exc.reason} at byte {exc.start}", file=path, row="line 1") from None
    if not first.strip():
        raise InputError("empty file or blank first line (a header row is needed)", file=path, row="line 1")
    delim = ","
    if "," not in first:
        if "\t" in first:
            delim = "\t"
        elif ";" in first:
            delim = ";"
    try:
        names = next(csv.reader([first.rstrip("\r\n")], delimiter=delim, strict=True))
    except csv.Error as exc:
        raise InputError(f"cannot read the header row: {exc}", file=path, row="line 1") from None
    return names, delim


def is_opensky_header(names: list[str]) -> bool:
    """True for OpenSky REST state-vector CSVs and Impala state_vectors_data4 dumps."""
    low = {n.lower() for n in names}
    return {"icao24", "time_position", "longitude", "latitude"} <= low or {"icao24", "lastposupdate"} <= low


def opensky_map(names: list[str], file: Path) -> ColumnMap:
    """Column map for OpenSky: id icao24, time = time_position (fallback last_contact), baro altitude in m."""
    low = {n.lower(): n for n in names}
    if "time_position" in low:
        tcols = tuple(low[c] for c in ("time_position", "last_contact") if c in low)
        return ColumnMap(low["longitude"], low["latitude"], tcols, low["icao24"], low.get("baro_altitude"), 1.0,
                         file.stem, time_is_epoch=True)
    tcols = tuple(low[c] for c in ("lastposupdate", "time") if c in low)
    return ColumnMap(low.get("lon", "lon"), low.get("lat", "lat"), tcols, low["icao24"],
                     low.get("baroaltitude"), 1.0, file.stem, time_is_epoch=True)


@dataclass
class _Invalid:
    """Rows pyarrow could not split (wrong field count), with their physical line numbers."""

    lines: list[int] = field(default_factory=list)
    examples: list[Issue] = field(default_factory=list)
    max_examples: int = 5
    reported: int = 0  # how many of ``lines`` were already handed to a chunk
    examples_reported: int = 0
    quote_break: int | None = None  # line where a quoted value ran over the end of its line

    def __call__(self, row: Any) -> str:
        num = int(row.number) if row.number is not None else -1
        if self.quote_break is None and ("\n" in str(row.text) or "\r" in str(row.text)):
            self.quote_break = num
        self.lines.append(num)
        if len(self.examples) < self.max_examples:
            text = str(row.text)
            self.examples.append(
                Issue("malformed", num, "", text[:80],
                      f"expected {row.expected_columns} fields, got {row.actual_columns}")
            )
        return "skip"


def _line_numbers(k: np.ndarray, invalid_lines: list[int], first: int = 2) -> np.ndarray:
    """Physical line of data rows ``k`` (0-based, blank lines included) given the skipped lines.

    ``first`` is the line of data row 0 (2 after a header). Row k sits on the k-th line not skipped.
    """
    bad = np.sort(np.asarray([x for x in invalid_lines if x > 0], dtype=np.int64))
    adjusted = bad - first - np.arange(len(bad))
    return k + first + np.searchsorted(adjusted, k, side="right")


def _arrow_reason(exc: Exception, undecodable: list[BaseException] | None = None, path: Path | None = None) -> str:
    text = str(exc)
    if "straddl" in text:
        return (f"a line is longer than {_BLOCK >> 20} MB (binary data, NUL bytes or no line breaks?): "
                "not a track CSV")
    if undecodable or "UTF8" in text or "UTF-8" in text:
        where = first_non_utf8(path) if path is not None else None
        at = f" (line {where[0]}, byte {where[1]:#04x})" if where else ""
        return f"bytes that are not UTF-8 text{at}: binary data, or another encoding (save the file as UTF-8)"
    if "Expected" in text and "columns" in text and ("\n" in text.split(":", 2)[-1] or "\r" in text):
        return ("a quoted value runs over the end of its line (a stray or unbalanced '\"'?), swallowing the "
                f"lines after it: {_printable(text[:120])}…")
    return _printable(text if len(text) <= 240 else text[:240] + "…")  # pyarrow quotes the raw row


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


@contextmanager
def _catch_undecodable(store: list[BaseException]) -> Iterator[None]:
    """Keep a bad row's decode error for the message, instead of pyarrow's printed traceback.

    Pyarrow decodes a bad row's text before calling the invalid-row handler; when that fails it prints
    "Exception ignored ... Traceback" and raises ArrowInvalid.
    """
    old = sys.unraisablehook

    def hook(u: Any) -> None:
        if isinstance(u.exc_value, UnicodeDecodeError):
            store.append(u.exc_value)
        else:
            old(u)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = old


def _quote_error(path: Path, where: str, column: str | None) -> InputError:
    return InputError(
        "a quoted value that starts here runs over the end of its line (a stray or unbalanced '\"'?); "
        "every later line would be swallowed into it, so the file is refused: fix the quote",
        file=path, row=where, field=column)


def _check_single_line(path: Path, batch: pa.RecordBatch, k_first: int, invalid_lines: list[int], first: int) -> None:
    """A value holding a line break means quoting went wrong: track files have one record per line."""
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        if not _may_hold_line_break(col):
            continue
        hit = pc.or_(pc.match_substring(col, "\n"), pc.match_substring(col, "\r"))
        if pc.any(hit).as_py():
            i = int(np.flatnonzero(hit.fill_null(False).to_numpy(zero_copy_only=False))[0])
            line = int(_line_numbers(np.array([k_first + i]), invalid_lines, first)[0])
            raise _quote_error(path, f"line {line}", name)


def _may_hold_line_break(col: pa.Array) -> bool:
    """False when the column's text buffer holds no CR or LF at all (one memchr each, no per-value test)."""
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return True
    data = col.buffers()[2]
    if data is None:
        return False
    raw = data.to_pybytes()  # may hold bytes outside the slice: a false alarm costs the exact test only
    return bool(raw.find(b"\n") >= 0 or raw.find(b"\r") >= 0)


def iter_csv_tables(
    path: Path,
    names: list[str],
    delim: str,
    chunk_rows: int,
    invalid: _Invalid,
    *,
    header: bool = True,
    quoting: bool = True,
    include: list[str] | None = None,
    as_arrow: bool = False,
) -> Iterator[tuple[Any, np.ndarray, int]]:
    """Yield (text frame, line numbers, blank lines) chunks of ``chunk_rows`` rows (the last may be short).

    ``include``: the (raw) column names handed on; the others stay Arrow text, looked at only for blank lines
    and for quotes that swallow line breaks (a stray quote in any column shifts every later row).
    ``as_arrow``: yield the text as an Arrow table (column names stripped) instead of a pandas frame.
    """
    types = dict.fromkeys(names, pa.string())
    first = 2 if header else 1
    undecodable: list[BaseException] = []
    try:
        with _catch_undecodable(undecodable):
            reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(
                block_size=_BLOCK, use_threads=False, column_names=None if header else names
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delim, invalid_row_handler=invalid, ignore_empty_lines=False,
                quote_char='"' if quoting else False,
            ),
            # Only an empty cell is null: 'NaN', 'NA', 'null' stay text, so messages keep the raw value.
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True,
                                                 quoted_strings_can_be_null=True, null_values=[""]),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read CSV: {_arrow_reason(exc, undecodable, path)}", file=path) from None
    k0 = 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0

    def flush(batches: list[pa.RecordBatch]) -> tuple[Any, np.ndarray, int]:
        nonlocal k0
        tbl = pa.Table.from_batches(batches)
        n = tbl.num_rows
        k = np.arange(k0, k0 + n, dtype=np.int64)
        k0 += n
        lines = _line_numbers(k, invalid.lines, first)
        # A blank line: every cell null (tested on the Arrow columns, before any pandas conversion).
        nulls = [pc.is_null(c) for c in tbl.columns]
        blank = (np.asarray(pc.and_(*nulls[:2]) if len(nulls) > 1 else nulls[0], dtype=bool) if nulls
                 else np.zeros(n, dtype=bool))
        for extra in nulls[2:]:
            blank &= np.asarray(extra, dtype=bool)
        if include is not None:
            tbl = tbl.select(include)
        if as_arrow:
            tbl = tbl.rename_columns([str(c).strip() for c in tbl.column_names])
            if blank.any():
                tbl = tbl.filter(pa.array(~blank))
                lines = lines[~blank]
            return tbl, lines, int(blank.sum())
        df = tbl.to_pandas()
        df.columns = [str(c).strip() for c in df.columns]
        if blank.any():
            df = df.loc[~blank]
            lines = lines[~blank]
        return df, lines, int(blank.sum())

    # The streaming reader reads ahead on a thread of its own: close it on every way out (an error, or the
    # consumer stopping early), or the process can abort at exit with that thread still running.
    try:
        while True:
            try:
                with _catch_undecodable(undecodable):
                    batch = reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                line = int(_line_numbers(np.array([k0 + pending_rows]), invalid.lines, first)[0])
                raise InputError(f"cannot read CSV from about line {line} on: {_arrow_reason(exc, undecodable, path)}",
                                 file=path) from None
            if invalid.quote_break is not None:
                raise _quote_error(path, f"line {invalid.quote_break}", None)
            if quoting:
                _check_single_line(path, batch, k0 + pending_rows, invalid.lines, first)
            pending.append(batch)
            pending_rows += batch.num_rows
            while pending_rows >= chunk_rows:
                tbl = pa.Table.from_batches(pending)
                head, tail = tbl.slice(0, chunk_rows), tbl.slice(chunk_rows)
                yield flush(head.to_batches())
                pending = tail.to_batches()
                pending_rows = tail.num_rows
        if invalid.quote_break is not None:
            raise _quote_error(path, f"line {invalid.quote_break}", None)
        if pending_rows or k0 == 0:
            if not pending:
                pending = [pa.RecordBatch.from_pylist([], schema=pa.schema([(n, pa.string()) for n in names]))]
            yield flush(pending)
    finally:
        reader.close()


def iter_csv_staged(
    path: str | Path, opts: ReadOptions, *, opensky: bool | None = None, max_examples: int = 5
) -> Iterator[Staged]:
    """Stage a CSV file chunk by chunk (see :func:`overflight.tracks.read_tracks` for the options)."""
    p = Path(path)
    raw_names, delim = read_header(p)
    names = [n.strip() for n in raw_names]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"duplicate column name(s) {', '.join(dup)}", file=p, row="line 1")
    if opensky or (opensky is None and not opts.mapped and is_opensky_header(names)):
        cmap = opensky_map(names, p)
        if opts.alt_unit != "m":
            cmap = ColumnMap(cmap.lon, cmap.lat, cmap.time, cmap.id, cmap.alt, alt_factor(opts.alt_unit),
                             cmap.default_id, cmap.time_is_epoch)
    else:
        cmap = resolve_columns(names, file=p, opts=opts)
    invalid = _Invalid(max_examples=max_examples)
    keep = cmap.used()
    include = [r for r, n in zip(raw_names, names, strict=True) if n in keep] if opts.core_only else None
    # Only the canonical columns, one text time column: staged by Arrow column operations (stage_table).
    arrow = include is not None and can_stage_table(cmap)
    for df, lines, blank in iter_csv_tables(p, raw_names, delim, opts.chunk_rows or DEFAULT_CHUNK_ROWS, invalid,
                                            include=include, as_arrow=arrow):
        if arrow:
            st = stage_table(df, cmap, lines, tz=opts.tz, time_format=opts.time_format,
                             notes={"blank lines": blank} if blank else None,
                             categorical_ids=opts.core_only and opts.categorical_ids)
        else:
            df = numeric_extras(df, keep)
            st = stage_frame(df, cmap, lines, tz=opts.tz, time_format=opts.time_format,
                             notes={"blank lines": blank} if blank else None)
        new = len(invalid.lines) - invalid.reported
        st.n_malformed = new
        st.malformed = invalid.examples[invalid.examples_reported:]
        invalid.examples_reported = len(invalid.examples)
        invalid.reported = len(invalid.lines)
        yield st


__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "MAX_HEADER_BYTES",
    "OPENSKY_COLUMNS",
    "is_opensky_header",
    "iter_csv_staged",
    "iter_csv_tables",
    "opensky_map",
    "read_header",
]
