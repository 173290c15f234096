"""The `overflight` command: thin Typer commands over the library.

`main` answers ``--version`` before importing Typer; everything else goes to `overflight.cli.main`.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `overflight` console script."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:
        from overflight import __version__

        print(f"overflight {__version__}")
        return
    import gc

    was_on = gc.isenabled()
    gc.disable()  # while Typer and Rich are imported (see overflight.cli.main.load_command)
    try:
        from overflight.cli.main import main as run
    finally:
        if was_on:
            gc.enable()
    run(argv)


__all__ = ["main"]
