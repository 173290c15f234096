"""Pieces every CLI module shares: the consoles and the option types that recur."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from overflight.errors import InputError

console = Console()
err_console = Console(stderr=True)


def check_output(path: Path | None, option: str) -> None:
    """Refuse an output path that cannot be written (missing directory, a directory), before any work."""
    if path is None:
        return
    if path.is_dir():
        raise InputError(f"{path} is a directory: give a file name", file=path, field=option)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"the directory {parent} does not exist", file=path, field=option)


def esc(value: object) -> str:
    """User-supplied text made safe for Rich: ``[red]``, ``[/b]`` or ``[link=...]`` print as they are.

    Every value that comes from a file, an option or the case (names, statements, paths, error messages) goes
    through this before it is put into a string that Rich parses as markup (console.print, Table cells and
    titles, status lines).
    """
    return escape(str(value))

ZonesOpt = Annotated[
    str,
    typer.Option(
        "--zones",
        help="Boundary-set name (ne-admin0, osm-maritime), zone file (GeoJSON, KML, GPKG, SHP, GeoParquet) "
        "or zone spec file (JSON/YAML).",
    ),
]
ZoneIdsOpt = Annotated[
    list[str] | None,
    typer.Option("--zone", help="Keep only this zone id (repeatable)."),
]
IdFieldOpt = Annotated[
    str | None, typer.Option("--id-field", help="Property holding the zone id in a zone file (default: id).")
]
OutOpt = Annotated[Path | None, typer.Option("-o", "--output", help="Output file.")]
