"""Pieces every CLI module shares: the consoles and the option types that recur."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)

ZonesOpt = Annotated[
    str,
    typer.Option(
        "--zones",
        help="Boundary-set name (ne-admin0, osm-maritime, ne-admin1), zone file (GeoJSON, KML, GPKG, SHP, GeoParquet) "
        "or zone spec file (JSON/YAML).",
    ),
]
ZoneIdsOpt = Annotated[
    list[str] | None,
    typer.Option("--zone", help="Keep only this zone: an id or a name, e.g. \"West Kazakhstan\" (repeatable)."),
]
IdFieldOpt = Annotated[
    str | None, typer.Option("--id-field", help="Property holding the zone id in a zone file (default: id).")
]
OutOpt = Annotated[Path | None, typer.Option("-o", "--output", help="Output file.")]
