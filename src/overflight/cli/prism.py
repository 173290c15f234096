"""`overflight prism`: space-time prism verdicts between consecutive sightings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from overflight.cli._common import (
    CaseOpt,
    IdFieldOpt,
    IdOpt,
    LatOpt,
    LonOpt,
    OutOpt,
    SourceOpt,
    TimeFmtOpt,
    TimeOpt,
    TzOpt,
    ZoneIdsOpt,
    ZonesOpt,
    check_output,
    console,
    err_console,
    esc,
    read_options,
)
from overflight.errors import InputError

PROGRESS_MIN = 20_000  # (pair, zone) combinations from which a run shows a progress bar


def prism(
    sightings: Annotated[Path | None, typer.Argument(
        help="Sightings CSV: track_id, time (or time_from, time_to), lon, lat (or place), optional pos_err_m, "
             "time_err_s; or any track file. With --case it may be left out to use the case's sightings.")] = None,
    vmax: Annotated[str, typer.Option("--vmax", metavar="SPEED", help="Top speed with a unit: 185kmh, 100kt, "
                                      "50mps.")] = "",
    zones: ZonesOpt = "ne-admin0",
    zone: ZoneIdsOpt = None,
    id_field: IdFieldOpt = None,
    output: OutOpt = None,
    geojson: Annotated[Path | None, typer.Option("--geojson", metavar="FILE",
                                                 help="Write ellipses and avoiding paths here.")] = None,
    summary: Annotated[bool, typer.Option("--summary", help="Also give the per-track summary.")] = False,
    impossible: Annotated[bool, typer.Option("--impossible/--no-impossible",
                                             help="Keep rows whose verdict is impossible.")] = True,
    pos_err_col: Annotated[str | None, typer.Option("--pos-err-col", metavar="COLUMN",
                                                    help="Position error column (m).")] = None,
    time_err_col: Annotated[str | None, typer.Option("--time-err-col", metavar="COLUMN",
                                                     help="Time error column (± s).")] = None,
    fast: Annotated[bool, typer.Option("--fast", help="Same verdicts, faster; where detour_exact is false, margins "
                                       "and detours are certified bounds, not values (most impossible rows: "
                                       "lower bounds). Ignored with --geojson.")] = False,
    id_col: IdOpt = None,
    time_col: TimeOpt = None,
    lon_col: LonOpt = None,
    lat_col: LatOpt = None,
    tz: TzOpt = None,
    time_format: TimeFmtOpt = None,
    case: CaseOpt = None,
    source: SourceOpt = None,
    credibility: Annotated[str | None, typer.Option("--credibility", metavar="1-6",
                                                    help="Admiralty credibility of the sightings (default: the "
                                                    "file's column, else 6 'cannot be judged').")] = None,
) -> None:
    """Was entering each zone impossible, possible or necessary between consecutive sightings?

    Sightings may name a place instead of coordinates (its extent becomes the position error) and give a time window.
    With --case the sightings and zones are stored in the case, the run is recorded, and necessary verdicts
    become evidence for the claims whose zones and window they match."""
    from overflight.analysis.prism_run import prism_verdicts
    from overflight.units import parse_speed
    from overflight.zones import load_zones

    if not vmax:
        raise InputError("give the top speed with --vmax, e.g. --vmax 185kmh", field="--vmax")
    v = parse_speed(vmax)
    if not v > 0:
        raise InputError(f"--vmax must be a speed above zero, not {vmax!r}", field="--vmax")
    check_output(output, "--output")
    check_output(geojson, "--geojson")
    if sightings is not None and not sightings.exists():
        raise InputError("no such file", file=sightings)
    read = read_options(id_col=id_col, time_col=time_col, lon_col=lon_col, lat_col=lat_col, tz=tz,
                        time_format=time_format, pos_err_col=pos_err_col, time_err_col=time_err_col)
    if case is not None:
        _into_case(case, sightings, v, vmax, zones, zone, id_field, impossible, source, credibility, read, output)
        return
    if sightings is None:
        raise InputError("give a sightings file (or --case CASE to use the case's sightings)", field="SIGHTINGS")
    zs = load_zones(zones, ids=zone, id_field=id_field)
    with _progress() as tick:
        res = prism_verdicts(sightings, zs, v, fast=fast, with_paths=geojson is not None, credibility=credibility,
                             progress=tick, **read)
    df = res.verdicts
    shown = df if impossible else df[df["verdict"] != "impossible"]
    if output is None:
        console.print(shown.to_csv(index=False), end="", highlight=False, soft_wrap=True, markup=False)
    else:
        shown.to_csv(output, index=False)
        console.print(f"{len(shown)} verdict rows at {esc(vmax)} → {esc(str(output))}", highlight=False)
    if summary:
        summ = res.summary
        if output is not None:
            spath = output.with_name(output.stem + ".summary.csv")
            summ.to_csv(spath, index=False)
            console.print(f"summary → {esc(str(spath))}", highlight=False)
        interesting = summ[summ["verdict"] != "impossible"] if len(summ) > 50 else summ
        console.print(interesting.to_string(index=False), highlight=False, markup=False)
    if geojson is not None:
        n = res.write_geojson(geojson)
        console.print(f"{n} features → {esc(str(geojson))}", highlight=False)


@contextmanager
def _progress() -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr for runs over many (pair, zone) combinations; nothing for small runs."""
    bars: list[tuple[Progress, Any]] = []

    def tick(done: int, total: int) -> None:
        if total < PROGRESS_MIN:
            return
        if not bars:
            bar = Progress(TextColumn("[bold]prism[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("pair × zone"),
                           TimeElapsedColumn(), console=err_console, transient=not err_console.is_terminal)
            bar.start()
            bars.append((bar, bar.add_task("prism", total=total)))
        bars[0][0].update(bars[0][1], completed=done)

    try:
        yield tick
    finally:
        for bar, _ in bars:
            bar.stop()


def _into_case(case: Path, sightings: Path | None, v: float, vmax: str, zones: str, zone: list[str] | None,
               id_field: str | None, impossible: bool, source: str | None, credibility: str | None,
               read: dict[str, Any], output: Path | None) -> None:
    from overflight.case import Case
    from overflight.cli.transit import print_case_run
    from overflight.workflow import prism_into_case

    with Case.open(case) as c:
        res = prism_into_case(c, sightings, vmax_mps=v, zones=zones, zone_ids=zone, id_field=id_field,
                              keep_impossible=impossible, source_id=source, credibility=credibility, **read)
    res.sentence = f"at {vmax}: {res.sentence}"
    print_case_run(res, case)
    if output is not None:
        res.table.to_csv(output, index=False)
        console.print(f"verdict rows → {esc(str(output))}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the `prism` command."""
    app.command("prism")(prism)


__all__ = ["PROGRESS_MIN", "prism", "register"]
