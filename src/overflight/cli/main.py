"""Entry point of the `overflight` command: the command modules are imported only when their command runs.

`overflight --help` and `--version` import no command module (so neither numba, pandas nor DuckDB): the
help lines of the top-level commands are kept in `COMMANDS`, and `tests/test_cli_startup.py` checks them
against what each module registers.
"""

from __future__ import annotations

import gc
import sys
from importlib import import_module
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from overflight import __version__
from overflight.cli._common import err_console, esc
from overflight.errors import OverflightError


def _flag_type(self: TyperOption, ctx: Any) -> str | None:
    # Typer 0.2x prints "<bool>" in the type column of every on/off flag; a flag takes no value: show none.
    return None if self.is_flag else _TYPE_RICH(self, ctx)


_TYPE_RICH = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]

#: top-level command -> (module in overflight.cli that registers it, its one-line help); the order is the help's
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", 'Build the demo case "Drones over western Kazakhstan? June 2025" and write its report and '
                     "exports."),
    "report": ("demo", "Write a case's investigation report: one self-contained HTML file (no network, prints "
                       "well)."),
    "locate": ("locate", "Add a `zones` column (ids of every zone containing the point, joined by '|') to a CSV of "
                         "points."),
    "prism": ("prism", "Was entering each zone impossible, possible or necessary between consecutive sightings?"),
    "transit": ("transit", "Every visit of every track to every zone: entry and exit on the border, with the "
                           "bracketing fixes."),
    "attribution": ("attribution", "Attribute wreckage/impact points to zones (membership, border distance, distance "
                                   "bands, clusters) and test a claimed share (\"more than 90% inside Z\") with a "
                                   "Wilson interval; recorded in the case."),
    "audit": ("audit", "Check each row's coordinates against its stated country (and region); write the flagged "
                       "rows as CSV."),
    "serve": ("serve", "Serve a case as a web app: map, timeline, claims board, uploads and analyses, all offline."),
    "boundaries": ("boundaries", "Boundary sets: list, install, show."),
    "gazetteer": ("gazetteer", "Place names to coordinates and back (GeoNames populated places >= 1000 people, CC "
                               "BY 4.0)."),
    "tracks": ("tracks", "Read, check and convert track files."),
    "case": ("case", "Case files: sources, claims, evidence, analyses, verdicts."),
    "monitor": ("monitor", "Live monitor: geofence alerts on ADS-B feeds, with a record of when it was listening."),
}


def load_command(name: str) -> Any:
    """The click command that module COMMANDS[name] registers under `name` (imports that module).

    The cyclic garbage collector is off while the module (pandas, pyarrow, ... for most commands) is imported:
    an import makes hundreds of thousands of objects that live as long as the process, and the collections
    they set off found nothing to free but cost 35-40 ms of `overflight transit`'s start.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        module = import_module(f"overflight.cli.{COMMANDS[name][0]}")
    finally:
        if was_on:
            gc.enable()
    holder = typer.Typer(add_completion=False)
    holder.callback()(_noop)  # a callback makes get_group return a group even for a one-command module
    module.register(holder)
    return typer.main.get_group(holder).commands[name]


def _noop() -> None:
    """(placeholder group callback)"""


class _LazyGroup(TyperGroup):
    """The top-level group: lists COMMANDS, imports a command's module only to run (or show help for) it."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS) + [n for n in self.commands if n not in COMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands:  # registered on `app` directly (tests, plug-ins)
            return self.commands[cmd_name]
        if cmd_name not in COMMANDS:
            return None
        if self._listing:  # the top-level help needs names and help lines only
            return TyperCommand(name=cmd_name, help=COMMANDS[cmd_name][1], callback=None)
        return load_command(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="overflight",
    cls=_LazyGroup,
    help="What flew through whose airspace, when, and how sure we are.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"overflight {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """What flew through whose airspace, when, and how sure we are."""


def main(argv: list[str] | None = None) -> None:
    """Run the command line; OverflightError becomes a one-line message and exit code 2, never a traceback."""
    try:
        app(args=argv)
    except OverflightError as exc:
        err_console.print(f"[bold red]error:[/] {esc(exc)}", highlight=False, soft_wrap=True)
        sys.exit(2)


__all__ = ["COMMANDS", "app", "load_command", "main"]
