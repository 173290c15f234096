"""``overflight tracks validate`` and ``overflight tracks convert``: thin over :mod:`overflight.tracks`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from overflight.cli._common import (
    AltOpt,
    AltUnitOpt,
    FormatOpt,
    IdOpt,
    LatOpt,
    LonOpt,
    SortOpt,
    TimeFmtOpt,
    TimeOpt,
    TzOpt,
    check_output,
    console,
    esc,
)
from overflight.errors import InputError
from overflight.tracks import RULES, ValidationReport, read_tracks, write_tracks
from overflight.tracks.table import parse_tz
from overflight.units import parse_speed

tracks_app = typer.Typer(help="Read, check and convert track files.", no_args_is_help=True)

DropOpt = Annotated[bool, typer.Option("--drop", help="Drop invalid rows (counted in the report) instead of failing.")]
SpeedOpt = Annotated[str | None, typer.Option("--max-speed", metavar="SPEED",
                                              help="Flag implied speeds above this, e.g. 300kt.")]
WrapOpt = Annotated[bool, typer.Option("--normalize-lon", help="Wrap longitudes beyond ±180 instead of rejecting.")]
ChunkOpt = Annotated[int | None, typer.Option("--chunk-rows", metavar="N",
                                              help="Rows per parsing chunk (CSV, SBS, Parquet).")]


def _options(**kw: Any) -> dict[str, Any]:
    speed = kw.pop("max_speed")
    unit = kw.pop("alt_unit")
    if unit not in ("m", "ft"):
        raise InputError(f"--alt-unit must be m or ft, not {unit!r}", field="--alt-unit")
    if kw.get("tz") is not None:
        parse_tz(kw["tz"])  # a bad --tz fails before anything is read
    if kw.get("chunk_rows") is not None and kw["chunk_rows"] < 1:
        raise InputError(f"--chunk-rows must be at least 1, not {kw['chunk_rows']}", field="--chunk-rows")
    kw["alt_unit"] = unit
    kw["max_speed_mps"] = parse_speed(speed, default_unit="mps") if speed is not None else None
    kw["on_invalid"] = "drop" if kw.pop("drop") else "fail"
    return kw


def report_table(report: ValidationReport) -> Table:
    """A rich table of the counts per rule, then the examples."""
    t = Table(title=f"{esc(report.file)}: {report.total_rows} rows, {report.rows_kept} kept")
    t.add_column("rule")
    t.add_column("rows", justify="right")
    t.add_column("first examples")
    for rule in RULES:
        ex = [e for e in report.examples if e.rule == rule]
        text = "; ".join(f"{report.row_kind} {e.row}".strip() + f" {e.field}={e.value!r}" for e in ex[:3])
        t.add_row(rule, str(report.counts.get(rule, 0)), esc(text))
    for name, n in report.notes.items():
        t.add_row(f"(note) {esc(name)}", str(n), "")
    return t


@tracks_app.command("validate")
def validate_cmd(
    file: Annotated[Path, typer.Argument(help="Track file (or directory of aircraft.json snapshots).")],
    format: FormatOpt = None,
    lon_col: LonOpt = None,
    lat_col: LatOpt = None,
    time_col: TimeOpt = None,
    id_col: IdOpt = None,
    alt_col: AltOpt = None,
    alt_unit: AltUnitOpt = "m",
    tz: TzOpt = None,
    time_format: TimeFmtOpt = None,
    max_speed: SpeedOpt = None,
    normalize_lon: WrapOpt = False,
    chunk_rows: ChunkOpt = None,
    examples: Annotated[int, typer.Option("--examples", metavar="N", help="Examples kept per rule.")] = 5,
    sort: SortOpt = False,
) -> None:
    """Check a track file: the column taken for each role, then the counts per rule; exit 1 on invalid rows."""
    opts = _options(format=format, lon_col=lon_col, lat_col=lat_col, time_col=time_col, id_col=id_col,
                    alt_col=alt_col, alt_unit=alt_unit, tz=tz, time_format=time_format, max_speed=max_speed,
                    normalize_lon=normalize_lon, chunk_rows=chunk_rows, drop=True)
    _, report = read_tracks(file, max_examples=examples, sort=sort, **opts)
    for role, col in report.columns.items():
        console.print(f"{role:>9} ← {col}", highlight=False, markup=False)
    if sort:
        console.print("   sorted by track and time before validation", highlight=False)
    console.print(report_table(report))
    if not report.ok:
        raise typer.Exit(1)


@tracks_app.command("convert")
def convert_cmd(
    file: Annotated[Path, typer.Argument(help="Track file (or directory of aircraft.json snapshots).")],
    output: Annotated[Path, typer.Option("-o", "--output", metavar="FILE",
                                         help="Output: .csv, .geojson, .kml or .parquet.")],
    format: FormatOpt = None,
    lon_col: LonOpt = None,
    lat_col: LatOpt = None,
    time_col: TimeOpt = None,
    id_col: IdOpt = None,
    alt_col: AltOpt = None,
    alt_unit: AltUnitOpt = "m",
    tz: TzOpt = None,
    time_format: TimeFmtOpt = None,
    drop: DropOpt = False,
    max_speed: SpeedOpt = None,
    normalize_lon: WrapOpt = False,
    chunk_rows: ChunkOpt = None,
    lines: Annotated[bool, typer.Option("--lines", help="GeoJSON: one LineString per track.")] = False,
    sort: SortOpt = False,
) -> None:
    """Convert a track file to CSV, GeoJSON, KML (gx:Track) or GeoParquet, by the output extension."""
    check_output(output, "--output")
    opts = _options(format=format, lon_col=lon_col, lat_col=lat_col, time_col=time_col, id_col=id_col,
                    alt_col=alt_col, alt_unit=alt_unit, tz=tz, time_format=time_format, max_speed=max_speed,
                    normalize_lon=normalize_lon, chunk_rows=chunk_rows, drop=drop)
    table, report = read_tracks(file, sort=sort, **opts)
    write_tracks(table, output, geojson_mode="lines" if lines else "points")
    dropped = report.invalid_rows
    console.print(f"wrote {len(table)} fixes of {table['track_id'].nunique()} tracks to {esc(output)}"
                  + (f" ({dropped} invalid rows dropped: see `overflight tracks validate`)" if dropped else ""),
                  highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``tracks`` sub-command group to the main app."""
    app.add_typer(tracks_app, name="tracks")


__all__ = [
    "ChunkOpt",
    "DropOpt",
    "SpeedOpt",
    "WrapOpt",
    "convert_cmd",
    "register",
    "report_table",
    "tracks_app",
    "validate_cmd",
]
