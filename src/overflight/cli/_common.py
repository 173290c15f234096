"""Pieces every CLI module shares: the consoles and the option types that recur."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from overflight.errors import InputError

console = Console(emoji=False)  # ":name:" in user text stays text
err_console = Console(stderr=True, emoji=False)


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
    return _BRACKET.sub(_escape_bracket, str(value))


_BRACKET = re.compile(r"(\\*)\[")
_TAG_START = re.compile(r"\[[a-z#/@][^[]*?]")


def _escape_bracket(m: re.Match[str]) -> str:
    # Rich reads a tag-like "[...]" after an odd number of backslashes as literal and drops one backslash
    # before any other "["; rich.markup.escape only covers the first case.
    k = len(m.group(1))
    tag = _TAG_START.match(m.string, m.end() - 1) is not None
    return "\\" * (2 * k + 1) + "[" if tag else ("\\" * (k + 1) + "[" if k else "[")

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
