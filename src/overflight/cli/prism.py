"""`overflight prism`: space-time prism verdicts between consecutive sightings."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from shapely.geometry import LineString, mapping

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

BATCH_PAIRS = 2000  # pairs per batch, the progress bar's step
PROGRESS_MIN = 20_000  # (pair, zone) combinations from which a run shows a progress bar


def _geojson(pairs: Any, vmax: float, verdict_df: pd.DataFrame, paths: dict[tuple[int, str], Any], out: Path) -> int:
    """Write the prism ellipses and the avoiding paths as GeoJSON features; returns the feature count."""
    import warnings

    from overflight.analysis.prism import ppa
    from overflight.analysis.prism.ellipse import InconsistentFixesWarning

    t0 = pd.Timestamp("2000-01-01", tz="UTC")
    features = []
    for i in range(len(pairs.lon1)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InconsistentFixesWarning)
            geom = ppa((pairs.lon1[i], pairs.lat1[i]), t0, (pairs.lon2[i], pairs.lat2[i]),
                       t0 + timedelta(seconds=float(pairs.dt[i])), vmax, max_error_m=50.0, max_vertices=2048)
        props = {"kind": "ppa", "track_id": str(pairs.track_id[i]), "from_index": str(pairs.from_index[i]),
                 "to_index": str(pairs.to_index[i]), "budget_m": float(vmax * pairs.dt[i]),
                 "inconsistent": bool(geom.is_empty)}
        features.append({"type": "Feature", "properties": props, "geometry": None if geom.is_empty else mapping(geom)})
    nz = verdict_df["zone_id"].nunique() if len(verdict_df) else 0
    for (i, zid), (lon, lat) in paths.items():
        row = verdict_df[(verdict_df["zone_id"] == zid)].iloc[i] if nz else None
        props = {"kind": "avoiding_path", "track_id": str(pairs.track_id[i]), "from_index": str(pairs.from_index[i]),
                 "to_index": str(pairs.to_index[i]), "zone_id": zid,
                 "verdict": str(row["verdict"]) if row is not None else None,
                 "length_m": float(row["detour_m"]) if row is not None and math.isfinite(row["detour_m"]) else None}
        features.append({"type": "Feature", "properties": props,
                         "geometry": mapping(LineString(list(zip(lon, lat, strict=True))))})
    out.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return len(features)


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
    fast: Annotated[bool, typer.Option("--fast", help="Same verdicts, faster; some margins and detours are then "
                                       "bounds (detour_exact false). Ignored with --geojson.")] = False,
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
    from overflight.analysis.prism import summarize
    from overflight.analysis.prism.verdicts import (
        Pairs,
        _verdicts_for_pairs,
        _zone_items,
        make_pairs,
        zone_caps,
    )
    from overflight.evidence.sightings import label_pairs, observations_frame, read_sightings, sightings_table
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
    table = sightings_table(observations_frame(read_sightings(sightings, credibility=credibility, **read)))
    pairs = make_pairs(table.drop(columns=["observation"]))
    paths: dict[tuple[int, str], Any] = {}
    caps = zone_caps(_zone_items(zs), source=zs)
    precise = not fast or geojson is not None  # the map needs the exact avoiding paths
    n = len(pairs.lon1)
    # Without a map, pairs go in batches (rows are pair-major, so the batches' rows join in the same order).
    step = n if geojson is not None else BATCH_PAIRS
    parts = []
    with _progress(n * len(zs)) as tick:
        for a in range(0, max(n, 1), max(step, 1)):
            batch = Pairs(**{f.name: getattr(pairs, f.name)[a:a + step] for f in fields(Pairs)})
            parts.append(_verdicts_for_pairs(batch, caps, v, precise=precise, keep_impossible=True,
                                             paths=paths if geojson is not None else None))
            tick(len(batch.lon1) * len(zs))
    df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    df = label_pairs(df, table)
    shown = df if impossible else df[df["verdict"] != "impossible"]
    if output is None:
        console.print(shown.to_csv(index=False), end="", highlight=False, soft_wrap=True, markup=False)
    else:
        shown.to_csv(output, index=False)
        console.print(f"{len(shown)} verdict rows at {esc(vmax)} → {esc(str(output))}", highlight=False)
    if summary:
        summ = summarize(df)
        if output is not None:
            spath = output.with_name(output.stem + ".summary.csv")
            summ.to_csv(spath, index=False)
            console.print(f"summary → {esc(str(spath))}", highlight=False)
        interesting = summ[summ["verdict"] != "impossible"] if len(summ) > 50 else summ
        console.print(interesting.to_string(index=False), highlight=False, markup=False)
    if geojson is not None:
        n = _geojson(pairs, v, df, paths, geojson)
        console.print(f"{n} features → {esc(str(geojson))}", highlight=False)


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr for runs over many (pair, zone) combinations; nothing for small runs."""
    if total < PROGRESS_MIN:
        yield lambda _n: None
        return
    with Progress(TextColumn("[bold]prism[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("pair × zone"),
                  TimeElapsedColumn(), console=err_console, transient=not err_console.is_terminal) as bar:
        task = bar.add_task("prism", total=total)
        yield lambda n: bar.update(task, advance=n)


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
