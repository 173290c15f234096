"""Entry point of the `overflight` command: builds the Typer app from the command modules."""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any

import typer
from typer.core import TyperOption

from overflight._version import __version__
from overflight.cli._common import err_console, esc
from overflight.errors import OverflightError


def _flag_type(self: TyperOption, ctx: Any) -> str | None:
    # Typer 0.2x prints "<bool>" in the type column of every on/off flag; a flag takes no value: show none.
    return None if self.is_flag else _TYPE_RICH(self, ctx)


_TYPE_RICH = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]

app = typer.Typer(
    name="overflight",
    help="What flew through whose airspace, when, and how sure we are.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Each module holds one area's commands and exposes register(app); the list keeps the help order.
_COMMAND_MODULES = ["demo", "boundaries", "gazetteer", "locate", "tracks", "case", "transit", "prism", "attribution",
                    "audit", "serve", "monitor"]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"overflight {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """What flew through whose airspace, when, and how sure we are."""


for _name in _COMMAND_MODULES:
    import_module(f"overflight.cli.{_name}").register(app)


def main(argv: list[str] | None = None) -> None:
    """Run the command line; OverflightError becomes a one-line message and exit code 2, never a traceback."""
    try:
        app(args=argv)
    except OverflightError as exc:
        err_console.print(f"[bold red]error:[/] {esc(exc)}", highlight=False, soft_wrap=True)
        sys.exit(2)
