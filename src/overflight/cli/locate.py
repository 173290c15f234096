"""`overflight locate POINTS.csv --zones ne-admin0 -o OUT.csv`: the zones containing each point of a CSV."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from overflight.cli._common import IdFieldOpt, OutOpt, ZoneIdsOpt, ZonesOpt, check_output, err_console, esc
from overflight.cli._engine import EngineOpt, SchedulerOpt, WorkersOpt, check_engine
from overflight.errors import InputError
from overflight.index import CoordinateWarning, ZoneIndex
from overflight.tracks.read_csv import _arrow_reason, _check_single_line, read_header


@dataclass
class LocateSummary:
    """What a `locate_csv` run did."""

    rows: int = 0
    located: int = 0
    bad: int = 0


def locate_csv(
    points: Path, output: Path, index: ZoneIndex, *, lon_col: str = "lon", lat_col: str = "lat",
    chunk_rows: int = 1_000_000, strict: bool = False, normalize_lon: bool = False, progress: bool = True,
) -> LocateSummary:
    """Stream `points` in chunks, add a `zones` column (ids joined by '|', '' for none), write `output`.

    Every column is copied through as text.  Rows whose lon/lat is empty, not a number or out of range get
    an empty `zones` and are counted (`strict=True`: InputError naming the file line and field instead).
    """
    header, delim = read_header(points)  # bounded: a file of NUL bytes or a huge first line is refused
    if delim != ",":
        raise InputError("locate reads comma-separated files", file=points, row=1)
    for col in (lon_col, lat_col):
        if col not in header:
            raise InputError(f"no column {col!r} (columns: {', '.join(header)})", file=points, row=1, field=col)
    if "zones" in header:
        raise InputError("the file already has a 'zones' column", file=points, row=1, field="zones")
    size = points.stat().st_size
    first_bytes = min(size, 1 << 16)
    with open(points, "rb") as fh:
        sample = fh.read(first_bytes)
    row_bytes = max(8, len(sample) // max(1, sample.count(b"\n")))
    block = int(min(max(chunk_rows * row_bytes, 1 << 16), 1 << 30))
    read_opts = pacsv.ReadOptions(block_size=block, use_threads=True)
    conv_opts = pacsv.ConvertOptions(column_types={c: pa.string() for c in header}, strings_can_be_null=False)
    summary = LocateSummary()
    schema = pa.schema([*(pa.field(c, pa.string()) for c in header), pa.field("zones", pa.string())])
    with open(points, "rb") as raw, Progress(
        TextColumn("locate"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"), TimeRemainingColumn(),
        console=err_console, disable=not progress, transient=True,
    ) as bar:
        task = bar.add_task("locate", total=size)
        reader = _open(raw, points, read_opts, conv_opts)
        with pacsv.CSVWriter(output, schema, write_options=pacsv.WriteOptions(quoting_style="needed")) as writer:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except pa.ArrowInvalid as exc:
                    raise InputError(f"unreadable CSV ({_arrow_reason(exc, None, points)})", file=points) from None
                # a value holding a line break means a stray quote swallowed the lines after it
                _check_single_line(points, batch, summary.rows, [], 2)
                zones = _locate_batch(batch, index, points, summary, lon_col, lat_col, strict, normalize_lon)
                writer.write_batch(pa.RecordBatch.from_arrays([*batch.columns, zones], schema=schema))
                bar.update(task, completed=_tell(raw))
    return summary


def _open(raw: BinaryIO, points: Path, read_opts: pacsv.ReadOptions,
          conv_opts: pacsv.ConvertOptions) -> pacsv.CSVStreamingReader:
    try:
        return pacsv.open_csv(raw, read_options=read_opts, convert_options=conv_opts)
    except pa.ArrowInvalid as exc:
        raise InputError(f"unreadable CSV ({_arrow_reason(exc, None, points)})", file=points) from None


def _tell(raw: BinaryIO) -> int:
    try:
        return raw.tell()
    except (OSError, ValueError):
        return 0


def _locate_batch(
    batch: pa.RecordBatch, index: ZoneIndex, points: Path, summary: LocateSummary, lon_col: str, lat_col: str,
    strict: bool, normalize_lon: bool,
) -> pa.Array:
    lon_txt = batch.column(lon_col).to_pandas()
    lat_txt = batch.column(lat_col).to_pandas()
    lon = pd.to_numeric(lon_txt.str.strip(), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    lat = pd.to_numeric(lat_txt.str.strip(), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    if strict:
        with np.errstate(invalid="ignore"):
            bad_lat = ~((lat >= -90) & (lat <= 90))
            bad_lon = ~np.isfinite(lon) if normalize_lon else ~((lon >= -180) & (lon <= 180))
        bad = bad_lat | bad_lon
        if bad.any():
            i = int(np.argmax(bad))
            field = lat_col if bad_lat[i] else lon_col
            value = lat_txt.iloc[i] if bad_lat[i] else lon_txt.iloc[i]
            # line number in the file: header is line 1 (assumes no quoted newlines)
            raise InputError(f"invalid coordinate {value!r}", file=points, row=summary.rows + i + 2, field=field)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CoordinateWarning)
        zones = index.zones_of(lon, lat, normalize_lon=normalize_lon)
    with np.errstate(invalid="ignore"):
        ok = (lat >= -90) & (lat <= 90) & (np.isfinite(lon) if normalize_lon else (lon >= -180) & (lon <= 180))
    summary.bad += int((~ok).sum()) if caught else 0
    summary.rows += len(lon)
    summary.located += int((zones != "").sum())
    return pa.array(zones, type=pa.string())


def locate(
    points: Annotated[Path, typer.Argument(help="CSV file with a header and lon/lat columns, or (Geo)Parquet "
                                                "(written out as Parquet); with --engine dask: (Geo)Parquet files, "
                                                "a directory or a quoted glob.")],
    zones: ZonesOpt = "ne-admin0",
    zone: ZoneIdsOpt = None,
    id_field: IdFieldOpt = None,
    output: OutOpt = None,
    lon_col: Annotated[str, typer.Option("--lon-col", help="Longitude column.")] = "lon",
    lat_col: Annotated[str, typer.Option("--lat-col", help="Latitude column.")] = "lat",
    chunk_rows: Annotated[int, typer.Option("--chunk-rows", min=1, help="Rows per chunk (about).")] = 1_000_000,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on the first invalid coordinate.")] = False,
    normalize_lon: Annotated[bool, typer.Option("--normalize-lon", help="Wrap longitudes into [-180, 180].")]
    = False,
    engine: EngineOpt = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Add a `zones` column (ids of every zone containing the point, joined by '|') to a CSV of points."""
    from overflight.zones import load_zones

    if output is None:
        raise InputError("give the output file with -o/--output", field="output")
    on_dask = check_engine(engine, scheduler, workers) == "dask"
    if not on_dask:
        if not points.is_file():
            raise InputError("no such file", file=points)
        check_output(output, "--output")
    zs = load_zones(zones, ids=zone or None, id_field=id_field)
    index = ZoneIndex.cached(zs)
    if on_dask:
        from overflight.distributed import dask_client, locate_dask

        with dask_client(scheduler, workers) as client:
            run = locate_dask(str(points), index, client=client, strict=strict, output=output,
                              lon_col=lon_col, lat_col=lat_col)
        p = run.provenance
        err_console.print(f"{p['rows']:,} rows, {p['located']:,} in a zone of {esc(zs.provenance.name)}, "
                          f"{p['bad']:,} with invalid coordinates, on {p['engine']['workers']} Dask workers -> "
                          f"{esc(output)}/part-*.parquet")
        return
    if _is_parquet(points):
        from overflight.analysis.locate_parquet import locate_parquet

        c = locate_parquet(points, output, index, lon_col=lon_col, lat_col=lat_col, chunk_rows=chunk_rows,
                           strict=strict, normalize_lon=normalize_lon)
        s = LocateSummary(rows=c.rows, located=c.located, bad=c.bad)
    else:
        s = locate_csv(points, output, index, lon_col=lon_col, lat_col=lat_col, chunk_rows=chunk_rows,
                       strict=strict, normalize_lon=normalize_lon)
    msg = (f"{s.rows:,} rows, {s.located:,} in a zone of {esc(zs.provenance.name)} ({esc(zs.provenance.kind)}) -> "
           f"{esc(output)}")
    if s.bad:
        msg += f"; [yellow]{s.bad:,} rows with invalid coordinates got no zone[/]"
    err_console.print(msg)


def _is_parquet(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == b"PAR1"


def register(app: typer.Typer) -> None:
    """Add the `locate` command."""
    app.command("locate")(locate)
