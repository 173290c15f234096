"""Pieces every CLI module shares: the consoles and the option types that recur."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

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
        metavar="ZONES",
        help="Boundary-set name (ne-admin0, osm-maritime, ne-admin1), zone file (GeoJSON, KML, GPKG, SHP, GeoParquet) "
        "or zone spec file (JSON/YAML).",
    ),
]
ZoneIdsOpt = Annotated[
    list[str] | None,
    typer.Option("--zone", metavar="ZONE_ID",
                 help="Keep only this zone: an id or a name, e.g. \"West Kazakhstan\" (repeatable)."),
]
IdFieldOpt = Annotated[
    str | None, typer.Option("--id-field", metavar="PROPERTY",
                             help="Property holding the zone id in a zone file (default: id).")
]
OutOpt = Annotated[Path | None, typer.Option("-o", "--output", metavar="FILE", help="Output file.")]

# Reading tracks and observations: the same options on every command that reads them.
FormatOpt = Annotated[str | None, typer.Option("--format", metavar="FORMAT",
                                               help="Input format (default: from extension/content).")]
LonOpt = Annotated[str | None, typer.Option("--lon-col", metavar="COLUMN", help="Longitude column.")]
LatOpt = Annotated[str | None, typer.Option("--lat-col", metavar="COLUMN", help="Latitude column.")]
TimeOpt = Annotated[str | None, typer.Option("--time-col", metavar="COLUMN", help="Time column.")]
IdOpt = Annotated[str | None, typer.Option("--id-col", metavar="COLUMN", help="Track (object) id column.")]
AltOpt = Annotated[str | None, typer.Option("--alt-col", metavar="COLUMN", help="Altitude column.")]
AltUnitOpt = Annotated[str, typer.Option("--alt-unit", metavar="m|ft", help="Altitude unit of --alt-col.")]
TzOpt = Annotated[str | None, typer.Option("--tz", metavar="ZONE",
                                           help="Zone for times without one (e.g. UTC, Europe/Kyiv, +03:00).")]
TimeFmtOpt = Annotated[str | None, typer.Option("--time-format", metavar="STRPTIME",
                                                help="strptime layout for non-ISO times, e.g. '%d.%m.%Y %H:%M'.")]
SortOpt = Annotated[bool, typer.Option("--sort", help="Sort the fixes by track and time before validating "
                                       "(reads the whole file into memory).")]

# Recording an analysis into a case.
CaseOpt = Annotated[Path | None, typer.Option("--case", metavar="CASE",
                                              help="Record the run, its inputs and its evidence in this case (a "
                                              ".duckdb file or postgresql://HOST/DB?case=NAME).")]
SourceOpt = Annotated[str | None, typer.Option("--source", metavar="SOURCE_ID",
                                               help="Source (in the case) of the data read; its grade weighs the "
                                               "evidence.")]


def read_options(**kw: Any) -> dict[str, Any]:
    """Keyword arguments for `overflight.tracks.read_tracks` from the shared options (None ones dropped)."""
    unit = kw.get("alt_unit")
    if unit is not None and unit not in ("m", "ft"):
        raise InputError(f"--alt-unit must be m or ft, not {unit!r}", field="--alt-unit")
    return {k: v for k, v in kw.items() if v is not None}


__all__ = [
    "AltOpt",
    "AltUnitOpt",
    "CaseOpt",
    "FormatOpt",
    "IdFieldOpt",
    "IdOpt",
    "LatOpt",
    "LonOpt",
    "OutOpt",
    "SortOpt",
    "SourceOpt",
    "TimeFmtOpt",
    "TimeOpt",
    "TzOpt",
    "ZoneIdsOpt",
    "ZonesOpt",
    "check_output",
    "console",
    "err_console",
    "esc",
    "read_options",
]
