"""`overflight transit TRACKS --zones ne-admin0 -o crossings.csv`: every visit of every track to every zone."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from overflight.analysis.transit import TransitResult
from overflight.analysis.transit_stream import transit_chunks
from overflight.cli._common import IdFieldOpt, ZoneIdsOpt, ZonesOpt, check_output, console, err_console, esc
from overflight.errors import InputError
from overflight.units import parse_distance, parse_speed
from overflight.zones import load_zones

DEFAULT_CHUNK_ROWS = 1_000_000


def _count_lines(path: Path) -> int | None:
    """Data rows of a text file (newlines minus the header), read in 8 MB blocks; None if not a plain file."""
    if not path.is_file():
        return None
    n = 0
    with open(path, "rb") as fh:
        while block := fh.read(8 << 20):
            n += block.count(b"\n")
    return max(n - 1, 0)


def write_visits(visits: pd.DataFrame, path: Path) -> None:
    """Visits as CSV: times ISO 8601 UTC, coordinates to 1e-7 degree."""
    out = visits.copy()
    for c in ("entry_time", "exit_time"):
        out[c] = out[c].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    out.to_csv(path, index=False, float_format="%.7f")


def write_summary(summary: pd.DataFrame, path: Path) -> None:
    """Per-track summary as CSV; the structured legs as a JSON array in column ``legs``."""
    out = summary.copy()
    out["legs"] = [json.dumps(x, ensure_ascii=False) for x in out["legs"]]
    for c in ("first_entry", "last_exit"):
        out[c] = pd.to_datetime(out[c], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    out.to_csv(path, index=False)


def _check_tz(value: str, option: str) -> None:
    from overflight.tracks.table import parse_tz

    try:
        parse_tz(value)
    except InputError as exc:
        raise InputError(exc.reason, field=option) from None


def transit_cmd(
    tracks: Annotated[Path, typer.Argument(help="Track file (CSV, GeoJSON, GPX, KML, Parquet, SBS, ...).")],
    zones: ZonesOpt = "ne-admin0",
    zone: ZoneIdsOpt = None,
    id_field: IdFieldOpt = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Visits CSV (one row per visit).")] = Path(
        "crossings.csv"),
    max_gap: Annotated[str, typer.Option("--max-gap", help="Longest gap between fixes taken as observed path.")] = (
        "10min"),
    step: Annotated[str, typer.Option("--step", help="Geodesic densification step between fixes.")] = "5km",
    summary: Annotated[Path | None, typer.Option("--summary", help="Per-track summary CSV.")] = None,
    summary_tz: Annotated[str, typer.Option("--summary-tz", help="Time zone of the summary's clock times.")] = "UTC",
    fmt: Annotated[str | None, typer.Option("--format", help="Input format (default: from extension/content).")] = None,
    lon_col: Annotated[str | None, typer.Option("--lon-col", help="Longitude column.")] = None,
    lat_col: Annotated[str | None, typer.Option("--lat-col", help="Latitude column.")] = None,
    time_col: Annotated[str | None, typer.Option("--time-col", help="Time column.")] = None,
    id_col: Annotated[str | None, typer.Option("--id-col", help="Track id column.")] = None,
    alt_col: Annotated[str | None, typer.Option("--alt-col", help="Altitude column.")] = None,
    alt_unit: Annotated[str, typer.Option("--alt-unit", help="Altitude unit of --alt-col: m or ft.")] = "m",
    tz: Annotated[str | None, typer.Option("--tz", help="Zone for input times without one (e.g. UTC).")] = None,
    drop: Annotated[bool, typer.Option("--drop", help="Drop invalid rows (counted) instead of failing.")] = False,
    max_speed: Annotated[str | None, typer.Option("--max-speed", help="Flag implied speeds above this.")] = None,
    chunk_rows: Annotated[int, typer.Option("--chunk-rows", help="Fixes per chunk (bounded memory).")] = (
        DEFAULT_CHUNK_ROWS),
) -> None:
    """Every visit of every track to every zone: entry and exit time and place on the border, path length,
    whether the crossing was observed; big files stream in chunks."""
    from overflight.tracks import iter_tracks

    if alt_unit not in ("m", "ft"):
        raise InputError(f"--alt-unit must be m or ft, not {alt_unit!r}", field="alt-unit")
    if chunk_rows < 1:
        raise InputError(f"--chunk-rows must be at least 1, not {chunk_rows}", field="chunk-rows")
    step_m = parse_distance(step)
    check_output(output, "--output")
    check_output(summary, "--summary")
    _check_tz(summary_tz, "--summary-tz")
    if tz is not None:
        _check_tz(tz, "--tz")
    zs = load_zones(zones, ids=zone or None, id_field=id_field)
    p = zs.provenance
    console.print(f"boundary set: [bold]{esc(p.name)}[/] {esc(p.version)} ({esc(p.kind)}), sha256 {p.sha256[:12]}…, "
                  f"{len(zs)} zones", highlight=False)
    if p.kind == "land":
        console.print("  land only: crossings over the territorial sea are not seen", highlight=False)
    opts: dict[str, Any] = dict(
        format=fmt, lon_col=lon_col, lat_col=lat_col, time_col=time_col, id_col=id_col, alt_col=alt_col,
        alt_unit=alt_unit, tz=tz, on_invalid="drop" if drop else "fail",
        max_speed_mps=parse_speed(max_speed, default_unit="mps") if max_speed is not None else None,
        chunk_rows=chunk_rows,
    )
    chunks = iter_tracks(tracks, **opts)
    total = _count_lines(tracks) if tracks.suffix.lower() in (".csv", ".txt", ".tsv", ".sbs") else None
    with Progress(TextColumn("[bold]transit[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("fixes"),
                  TextColumn("{task.fields[visits]} visits"), TimeElapsedColumn(), console=err_console,
                  transient=not err_console.is_terminal) as bar:
        task = bar.add_task("transit", total=total, visits=0)

        def advance(rows: int, visits: int) -> None:
            bar.update(task, advance=rows, visits=visits)

        result: TransitResult = transit_chunks(iter(chunks), zs, max_gap=max_gap, step_m=step_m, tz=summary_tz,
                                               on_chunk=advance)
    report = chunks.report
    if report.invalid_rows:
        console.print(f"invalid rows dropped: {report.invalid_rows} ({esc(report.summary())})", highlight=False)
    write_visits(result.visits, output)
    v = result.visits
    n_unobs = int((~v["observed"]).sum()) if len(v) else 0
    n_disp = int(v["disputed"].sum()) if len(v) else 0
    console.print(f"{len(v)} visits by {v['track_id'].nunique() if len(v) else 0} tracks "
                  f"({n_unobs} not observed, {n_disp} disputed) -> {esc(output)}", highlight=False)
    if summary is not None:
        write_summary(result.summary, summary)
        console.print(f"summary of {len(result.summary)} tracks -> {esc(summary)}", highlight=False)
    prov_path = Path(os.fspath(output) + ".provenance.json")
    prov_path.write_text(json.dumps(result.provenance, indent=2, default=str), encoding="utf-8")


def register(app: typer.Typer) -> None:
    """Add ``overflight transit``."""
    app.command("transit")(transit_cmd)
