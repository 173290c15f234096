"""``read_tracks``: one entry point for every track format, with validation; streaming for large files."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import tzinfo
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from overflight.errors import InputError
from overflight.safeio import OVERFLIGHT_MAX_WHOLE_FILE_MB as OVERFLIGHT_MAX_WHOLE_FILE_MB
from overflight.safeio import check_whole_file_size as _check_whole_file_size
from overflight.safeio import whole_file_limit_bytes as whole_file_limit_bytes
from overflight.tracks._stage import AltUnit, ReadOptions
from overflight.tracks.validate import OnInvalid, Staged, ValidationReport, Validator, finish
from overflight.units import SpeedLike

FORMATS: tuple[str, ...] = (
    "csv", "opensky-csv", "geojson", "opensky-json", "readsb", "gpx", "kml", "parquet", "sbs",
)
_EXT = {
    ".csv": "csv", ".tsv": "csv", ".geojson": "geojson", ".gpx": "gpx", ".kml": "kml", ".kmz": "kml",
    ".parquet": "parquet", ".geoparquet": "parquet", ".pq": "parquet", ".sbs": "sbs", ".basestation": "sbs",
}
_ROW_KIND = {
    "csv": "line", "opensky-csv": "line", "sbs": "line", "geojson": "feature", "opensky-json": "state",
    "readsb": "", "gpx": "trkpt", "kml": "", "parquet": "row",
}
PathLike = str | Path
#: Formats parsed whole (a document tree in memory, ~10x the file size), not streamed in chunks.
WHOLE_FILE_FORMATS = ("json", "geojson", "opensky-json", "gpx", "kml")


def detect_format(path: PathLike | Sequence[PathLike]) -> str:
    """Guess the format from the extension, then from the first bytes (never from the data values)."""
    if not isinstance(path, str | Path):
        return "readsb"
    p = Path(path)
    if p.is_dir():
        return "readsb"
    if not p.exists():
        raise InputError("no such file", file=p)
    ext = p.suffix.lower()
    try:
        with open(p, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror}", file=p) from None
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"PAR1"):
        return "parquet"
    if stripped.startswith(b"MSG,") or stripped.startswith((b"SEL,", b"AIR,", b"ID,", b"STA,", b"CLK,")):
        return "sbs"
    if ext in (".json", ".geojson") or stripped.startswith((b"{", b"[")):
        return "json"
    if ext in _EXT:
        fmt = _EXT[ext]
        if fmt == "csv":
            from overflight.tracks.read_csv import is_opensky_header, read_header

            names, _ = read_header(p)
            if is_opensky_header([n.strip() for n in names]):
                return "opensky-csv"
        return fmt
    if stripped.startswith(b"<"):
        return "kml" if b"<kml" in head else "gpx"
    if head.startswith(b"PK"):
        return "kml"
    return "csv"


def _snapshot_paths(path: PathLike | Sequence[PathLike]) -> list[Path]:
    if isinstance(path, str | Path):
        p = Path(path)
        if p.is_dir():
            files = sorted(p.glob("*.json"))
            if not files:
                raise InputError("directory holds no .json snapshots", file=p)
            return files
        return [p]
    return [Path(x) for x in path]


def iter_staged(
    path: PathLike | Sequence[PathLike], format: str | None, opts: ReadOptions
) -> tuple[str, Iterator[Staged]]:
    """Resolve the format and return (format, iterator of staged chunks).

    Each format's reader module is imported when a file of that format is read (a command on a Parquet
    file never loads the CSV, JSON, XML and SBS readers).
    """
    fmt = format or detect_format(path)
    if fmt not in (*FORMATS, "json", "opensky"):
        raise InputError(f"unknown track format {fmt!r}; known: {', '.join(FORMATS)}", file=str(path))
    if fmt == "readsb":
        from overflight.tracks.read_json import stage_readsb

        return fmt, iter([stage_readsb(_snapshot_paths(path))])
    if not isinstance(path, str | Path):
        raise InputError("a list of files is read only as readsb aircraft.json snapshots (format='readsb')")
    p = Path(path)
    if fmt == "opensky":
        fmt = "opensky-json" if detect_format(p) == "json" else "opensky-csv"
    if fmt in WHOLE_FILE_FORMATS:
        _check_whole_file_size(p, fmt)
    if fmt in ("csv", "opensky-csv"):
        from overflight.tracks.read_csv import iter_csv_staged

        return fmt, iter_csv_staged(p, opts, opensky=True if fmt == "opensky-csv" else None)
    if fmt == "parquet":
        from overflight.tracks.read_parquet import iter_parquet_staged

        return fmt, iter_parquet_staged(p, opts)
    if fmt == "sbs":
        from overflight.tracks.read_sbs import iter_sbs_staged

        return fmt, iter_sbs_staged(p, tz=opts.tz, chunk_rows=opts.chunk_rows)
    if fmt in ("gpx", "kml"):
        from overflight.tracks.read_xml import stage_gpx, stage_kml

        if fmt == "gpx":
            return fmt, iter([stage_gpx(p, tz=opts.tz)])
        return fmt, iter([stage_kml(p, tz=opts.tz, id_col=opts.id_col)])
    from overflight.tracks.read_json import json_kind, load_json, stage_geojson, stage_opensky_json, stage_readsb

    obj = load_json(p)
    kind = json_kind(obj) if fmt == "json" else {"geojson": "geojson", "opensky-json": "opensky"}.get(fmt, fmt)
    if kind == "geojson":
        return "geojson", iter([stage_geojson(p, obj, opts)])
    if kind == "opensky":
        return "opensky-json", iter([stage_opensky_json(p, obj, alt_unit=opts.alt_unit)])
    if kind == "readsb":
        return "readsb", iter([stage_readsb([p], load=lambda _p: obj)])
    raise InputError("JSON is neither GeoJSON, OpenSky states nor readsb aircraft.json", file=p)


class TrackChunks:
    """Validated track tables, chunk by chunk, in bounded memory; :attr:`report` grows as they are read.

    Iterate once. Each chunk is a canonical table (sorted by track_id, time within the chunk); a track may
    continue in the next chunk. Duplicate/backwards/speed checks carry per-track state across chunks.
    """

    def __init__(self, fmt: str, staged: Iterator[Staged], validator: Validator) -> None:
        self.format = fmt
        self._staged = staged
        self._validator = validator

    @property
    def report(self) -> ValidationReport:
        """The report so far (complete once iteration ends)."""
        return self._validator.report

    def __iter__(self) -> Iterator[pd.DataFrame]:
        for st in self._staged:
            yield self._validator.process(st)


def iter_tracks(
    path: PathLike | Sequence[PathLike],
    *,
    format: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    time_col: str | None = None,
    id_col: str | None = None,
    alt_col: str | None = None,
    alt_unit: AltUnit = "m",
    tz: str | tzinfo | None = None,
    time_format: str | None = None,
    on_invalid: OnInvalid = "fail",
    max_speed_mps: SpeedLike | None = None,
    normalize_lon: bool = False,
    chunk_rows: int | None = None,
    max_examples: int = 5,
    sort: bool = False,
    core_only: bool = False,
    sort_chunks: bool = True,
    categorical_ids: bool = False,
) -> TrackChunks:
    """Stream validated chunks of any track file (CSV, SBS and Parquet in ``chunk_rows`` rows; others whole).

    Parameters are those of :func:`read_tracks`; ``core_only=True`` reads only the canonical columns (CSV and
    Parquet skip the others: what transit and locate need); ``sort_chunks=False`` hands each chunk on grouped by
    track as validation left it (file order within a track) instead of as a sorted canonical table (for a
    consumer that orders fixes itself, as transit, which then needs no sort);
    ``categorical_ids=True`` (with ``core_only``) gives the track ids of a (Geo)Parquet file as a pandas
    Categorical of the same text, decoded from the file's dictionary (no string per fix), and those of a CSV
    as a Categorical made by one dictionary encoding per chunk.
    """
    opts = ReadOptions(lon_col=lon_col, lat_col=lat_col, time_col=time_col, id_col=id_col, alt_col=alt_col,
                       alt_unit=alt_unit, tz=tz, time_format=time_format, chunk_rows=chunk_rows,
                       core_only=core_only, categorical_ids=categorical_ids)
    fmt, staged = iter_staged(path, format, opts)
    if sort:
        staged = iter([sort_staged(list(staged))])
    v = Validator(str(path), on_invalid=on_invalid, max_speed_mps=max_speed_mps, normalize_lon=normalize_lon,
                  max_examples=max_examples, row_kind=_ROW_KIND.get(fmt, "row"), sort_rows=sort_chunks)
    return TrackChunks(fmt, staged, v)


def sort_staged(parts: list[Staged]) -> Staged:
    """One staged chunk holding ``parts`` sorted by track and time (stable: equal times keep file order).

    For files written in another order (all fixes at one time, then the next): validated sorted, they no
    longer break ``backwards_time`` row by row; rows keep their line numbers for messages.
    """
    if len(parts) == 1 and len(parts[0].frame) == 0:
        return parts[0]
    frame = pd.concat([p.frame for p in parts], ignore_index=True)
    rows = np.concatenate([np.asarray(p.rows) for p in parts]) if parts else np.zeros(0, np.int64)
    codes = np.concatenate([np.asarray(p.time_code) for p in parts]) if parts else np.zeros(0, np.int8)
    raw = (pd.concat([p.time_raw if p.time_raw is not None else p.frame["time"] for p in parts], ignore_index=True)
           if parts else None)
    order = np.lexsort((frame["time"].to_numpy(dtype="datetime64[ns]", na_value=np.datetime64("NaT")).view(np.int64),
                        frame["track_id"].astype(str).to_numpy(dtype=object).astype(str)))
    notes: dict[str, int] = {}
    for p in parts:
        for k, v in p.notes.items():
            notes[k] = notes.get(k, 0) + v
    first = parts[0]
    keys = set.intersection(*(set(p.raw) for p in parts)) if parts else set()
    raws = {k: pd.concat([p.raw[k] for p in parts], ignore_index=True).iloc[order].reset_index(drop=True)
            for k in keys}
    return Staged(frame=frame.iloc[order].reset_index(drop=True), rows=rows[order], time_code=codes[order],
                  time_raw=raw.iloc[order].reset_index(drop=True) if raw is not None else None,
                  malformed=[m for p in parts for m in p.malformed], n_malformed=sum(p.n_malformed for p in parts),
                  notes=notes, fields=first.fields, raw=raws, row_label=first.row_label)


def iter_csv_chunks(path: PathLike, *, chunk_rows: int = 1_000_000, **options: Any) -> TrackChunks:
    """Stream a CSV (or OpenSky CSV) track file in validated chunks of ``chunk_rows`` rows.

    ``options`` are those of :func:`read_tracks`. Memory stays bounded by the chunk size plus per-track state.
    """
    fmt = options.pop("format", None) or "csv"
    if fmt not in ("csv", "opensky-csv"):
        raise InputError(f"iter_csv_chunks reads CSV, not {fmt!r}", file=path)
    return iter_tracks(path, format=fmt, chunk_rows=chunk_rows, **options)


def read_tracks(
    path: PathLike | Sequence[PathLike],
    *,
    format: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    time_col: str | None = None,
    id_col: str | None = None,
    alt_col: str | None = None,
    alt_unit: Literal["m", "ft"] = "m",
    tz: str | tzinfo | None = None,
    time_format: str | None = None,
    on_invalid: OnInvalid = "fail",
    max_speed_mps: SpeedLike | None = None,
    normalize_lon: bool = False,
    chunk_rows: int | None = None,
    max_examples: int = 5,
    sort: bool = False,
) -> tuple[pd.DataFrame, ValidationReport]:
    """Read a track file into a canonical, validated track table.

    Parameters
    ----------
    path
        A file; for readsb/dump1090 snapshots also a directory of ``*.json`` or a list of files.
    format
        One of ``csv, opensky-csv, geojson, opensky-json, readsb, gpx, kml, parquet, sbs`` (also ``opensky``);
        default: from the extension, then the first bytes.
    lon_col, lat_col, time_col, id_col, alt_col
        Source column (or property) names; default: the usual names (lon/lng/longitude/x, lat/latitude/y,
        time/timestamp/datetime, track_id/id/icao24/flight, alt_m/alt/altitude/ele). Without an id column
        the whole file is one track named after the file.
    alt_unit
        Unit of ``alt_col`` (``m`` or ``ft``); a column named ``*_ft`` is read as feet.
    tz
        Zone for times that carry none (IANA name or ``+03:00``). Without it such times are ``naive_time``
        issues; SBS-1 logs need it. Values with their own offset keep it.
    time_format
        strptime format for non-ISO time text.
    on_invalid
        ``fail`` (default): raise :class:`~overflight.errors.InputError` naming the first bad row, field and
        the counts. ``drop``: drop invalid rows; the report counts them per rule.
    max_speed_mps
        Enables the ``speed`` rule (geodesic speed between consecutive fixes): a number of metres per second or
        text with a unit (``"900kmh"``, ``"500kt"``).
    normalize_lon
        Wrap longitudes beyond ±180 instead of rejecting them.
    chunk_rows
        Rows per parsing chunk for CSV/SBS/Parquet (bounds parsing memory; the result is the same).
    max_examples
        Examples kept per rule in the report.
    sort
        Sort the fixes by track and time before validation (the whole file is then held in memory), so a
        file written in another order is read rather than flagged ``backwards_time`` row by row.

    Returns
    -------
    (table, report)
        The canonical track table (see :mod:`overflight.tracks.table`) and its :class:`ValidationReport`.
    """
    chunks = iter_tracks(path, format=format, lon_col=lon_col, lat_col=lat_col, time_col=time_col,
                         id_col=id_col, alt_col=alt_col, alt_unit=alt_unit, tz=tz, time_format=time_format,
                         on_invalid=on_invalid, max_speed_mps=max_speed_mps, normalize_lon=normalize_lon,
                         chunk_rows=chunk_rows, max_examples=max_examples, sort=sort)
    frames = list(chunks)
    return finish(frames), chunks.report


__all__ = [
    "FORMATS",
    "WHOLE_FILE_FORMATS",
    "PathLike",
    "TrackChunks",
    "detect_format",
    "iter_csv_chunks",
    "iter_staged",
    "iter_tracks",
    "read_tracks",
    "sort_staged",
]
