"""`overflight audit EVENTS.csv --country-col country [--region-col admin1]`: rows whose coordinates lie outside
the place they state, with the distance to it and the zone they do lie in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from overflight.analysis.audit import audit, read_events
from overflight.cli._common import OutOpt, err_console
from overflight.zones import load_zones


def audit_cmd(
    events: Annotated[Path, typer.Argument(help="Event CSV (e.g. ACLED-style) with coordinates and a stated place.")],
    country_col: Annotated[str, typer.Option("--country-col", help="Column stating the country (ISO code or name).")],
    region_col: Annotated[str | None, typer.Option("--region-col", help="Column stating the region (ISO 3166-2 "
                                                   "code or name).")] = None,
    zones: Annotated[str, typer.Option("--zones", help="Country zones (boundary set or zone file).")] = "ne-admin0",
    region_zones: Annotated[str, typer.Option("--region-zones", help="Region zones.")] = "ne-admin1",
    lon_col: Annotated[str, typer.Option("--lon-col")] = "longitude",
    lat_col: Annotated[str, typer.Option("--lat-col")] = "latitude",
    all_rows: Annotated[bool, typer.Option("--all", help="Write every row, not only the flagged ones.")] = False,
    output: OutOpt = None,
) -> None:
    """Check each row's coordinates against its stated country (and region); write the flagged rows as CSV.

    Flagged: rows outside the stated country or region (with the geodesic distance to it, in km, and the zones
    the point lies in) and rows that could not be checked (with the reason). `row` numbers the data rows from 1
    (file line = row + 1). A summary goes to stderr.
    """
    cols = [c for c in (lon_col, lat_col, country_col, region_col) if c]
    table = read_events(str(events), columns=cols)
    result = audit(table, country_col=country_col, countries=load_zones(zones), region_col=region_col,
                   regions=load_zones(region_zones) if region_col else None, lon_col=lon_col, lat_col=lat_col)
    rows = result.rows if all_rows else result.flagged()
    if output is None:
        typer.echo(rows.to_csv(index=False), nl=False)
    else:
        rows.to_csv(output, index=False)
    for line in result.summary_lines():
        err_console.print(line, markup=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit_cmd)


__all__ = ["audit_cmd", "register"]
