"""`overflight locate POINTS.csv --zones ne-admin0 -o OUT.csv`: the zones containing each point of a CSV.

The work is `overflight.analysis.locate.locate_csv`; this module adds the options and the progress bar.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from overflight.analysis.locate import LocateSummary, locate_csv
from overflight.cli._common import IdFieldOpt, OutOpt, ZoneIdsOpt, ZonesOpt, check_output, err_console, esc
from overflight.cli._engine import EngineOpt, SchedulerOpt, WorkersOpt, check_engine
from overflight.errors import InputError
from overflight.index import ZoneIndex


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
    else:
        from overflight.distributed import check_inputs

        check_inputs(str(points), output)
    zs = load_zones(zones, ids=zone or None, id_field=id_field)
    index = ZoneIndex.cached(zs)
    if on_dask:
        from overflight.distributed import dask_client, locate_dask

        with dask_client(scheduler, workers) as client:
            run = locate_dask(str(points), index, client=client, strict=strict, output=output,
                              lon_col=lon_col, lat_col=lat_col, normalize_lon=normalize_lon, chunk_rows=chunk_rows)
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
        with Progress(TextColumn("locate"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                      TimeRemainingColumn(), console=err_console, transient=True) as bar:
            task = bar.add_task("locate", total=points.stat().st_size)
            s = locate_csv(points, output, index, lon_col=lon_col, lat_col=lat_col, chunk_rows=chunk_rows,
                           strict=strict, normalize_lon=normalize_lon,
                           progress=lambda done, total: bar.update(task, completed=done, total=total))
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


__all__ = ["locate", "register"]
