"""`overflight attribution [POINTS] --case CASE`: wreckage or impact points against zones, recorded in the case."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from overflight.cli._common import (
    IdFieldOpt,
    IdOpt,
    LatOpt,
    LonOpt,
    SourceOpt,
    TimeFmtOpt,
    TimeOpt,
    TzOpt,
    ZoneIdsOpt,
    console,
    esc,
    read_options,
)
from overflight.errors import InputError


def attribution_cmd(
    points: Annotated[Path | None, typer.Argument(help="Points CSV (id, time or time_from/time_to, lon, lat or "
                                                  "place): imported as observations of --kind first. Leave out "
                                                  "to use the case's points.")] = None,
    case: Annotated[Path | None, typer.Option("--case", metavar="CASE.duckdb",
                                              help="The case file the run and its evidence go into (required).")
                    ] = None,
    zones: Annotated[str | None, typer.Option("--zones", metavar="ZONES", help="Boundary set, zone file or spec "
                                              "file to store in the case first (default: the case's zones).")
                     ] = None,
    zone: ZoneIdsOpt = None,
    id_field: IdFieldOpt = None,
    kind: Annotated[str, typer.Option("--kind", metavar="KIND", help="Observation kind: wreckage or impact.")] = (
        "wreckage"),
    target: Annotated[str | None, typer.Option("--target", metavar="ZONE_ID", help="Zone whose share is tested.")
                      ] = None,
    region: Annotated[str | None, typer.Option("--region", metavar="ZONE_ID",
                                               help="Only points inside this zone count.")] = None,
    ref: Annotated[list[str] | None, typer.Option("--ref", metavar="NAME:LON,LAT:MIN-MAXkm",
                                                  help="Distance band from a reference point (repeatable).")
                   ] = None,
    claim: Annotated[str | None, typer.Option("--claim", metavar="CLAIM_ID",
                                              help="Claim the share test is evidence for.")] = None,
    threshold: Annotated[float, typer.Option("--threshold", metavar="SHARE", help="Claimed share (0-1).")] = 0.9,
    direction: Annotated[str, typer.Option("--direction", metavar="more|less",
                                           help="Claimed share is more or less than the threshold.")] = "more",
    eps_km: Annotated[float | None, typer.Option("--eps-km", metavar="KM", help="DBSCAN radius for clusters.")
                      ] = None,
    source: SourceOpt = None,
    credibility: Annotated[str | None, typer.Option("--credibility", metavar="1-6",
                                                    help="Admiralty credibility of the points read.")] = None,
    id_col: IdOpt = None,
    time_col: TimeOpt = None,
    lon_col: LonOpt = None,
    lat_col: LatOpt = None,
    tz: TzOpt = None,
    time_format: TimeFmtOpt = None,
) -> None:
    """Attribute wreckage/impact points to zones (membership, border distance, distance bands, clusters) and
    test a claimed share ("more than 90% inside Z") with a Wilson interval; recorded in the case."""
    from overflight.case import Case
    from overflight.cli.case import _reference
    from overflight.cli.transit import print_case_run
    from overflight.workflow import attribution_into_case

    if case is None:
        raise InputError("attribution is recorded in a case: give --case CASE.duckdb", field="--case")
    read = read_options(id_col=id_col, time_col=time_col, lon_col=lon_col, lat_col=lat_col, tz=tz,
                        time_format=time_format)
    with Case.open(case) as c:
        res = attribution_into_case(c, points, zones=zones, zone_ids=zone, id_field=id_field, kind=kind,
                                    source_id=source, credibility=credibility, target=target, region=region,
                                    references=[_reference(r) for r in ref or []], claim=claim,
                                    threshold=threshold, direction=direction,
                                    cluster_eps_m=eps_km * 1000 if eps_km else None, **read)
    print_case_run(res, case)
    console.print(f"{len(res.table)} points", highlight=False)
    if res.sentence:
        console.print(esc(res.sentence), highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``overflight attribution``."""
    app.command("attribution")(attribution_cmd)


__all__ = ["attribution_cmd", "register"]
