"""`overflight gazetteer lookup|nearest`: place names to coordinates and back (GeoNames cities >= 1000)."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated

import typer
from rich.table import Table

from overflight import gazetteer
from overflight.cli._common import console, esc
from overflight.errors import InputError

sub = typer.Typer(
    help="Place names to coordinates and back (GeoNames populated places >= 1000 people, CC BY 4.0).",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _print(found: list[gazetteer.Place], as_json: bool, title: str) -> None:
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(p) for p in found], ensure_ascii=False, indent=2))
        return
    with_distance = any(p.distance_m is not None for p in found)
    t = Table(title=esc(title), title_justify="left")
    t.add_column("name", no_wrap=True)
    for col in ("country", "admin1"):
        t.add_column(col)
    for col in ("lon", "lat", "population"):
        t.add_column(col, justify="right", no_wrap=True)
    if with_distance:
        t.add_column("km", justify="right", no_wrap=True)
    for p in found:
        row = [esc(p.name), esc(p.cc), esc(p.admin1), f"{p.lon:.5f}", f"{p.lat:.5f}", f"{p.population:,}"]
        if with_distance:
            row.append(f"{(p.distance_m or 0.0) / 1000:.2f}")
        t.add_row(*row)
    console.print(t)


@sub.command("lookup")
def lookup(
    name: Annotated[str, typer.Argument(help="Place name, any case, accents optional, any script.")],
    country: Annotated[
        str | None,
        typer.Option("--country", "-c", help="Only this country (ISO alpha-2 or alpha-3, or name)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Maximum number of places.")] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Find places by name, largest population first."""
    found = gazetteer.lookup(name, country=country, limit=limit)
    if not found:
        # resolve() raises the InputError with suggestions; the fallback keeps the contract explicit.
        gazetteer.resolve(name, country=country)
        raise InputError(f"no place named {name!r}", field="name")
    _print(found, as_json, f"{len(found)} place(s) matching {name!r}")


# ignore_unknown_options lets a negative longitude ("-74.0") pass as an argument instead of an option.
@sub.command("nearest", context_settings={"ignore_unknown_options": True})
def nearest(
    lon: Annotated[float, typer.Argument(help="Longitude, WGS84 degrees.")],
    lat: Annotated[float, typer.Argument(help="Latitude, WGS84 degrees.")],
    k: Annotated[int, typer.Option("-k", min=1, help="Number of places.")] = 5,
    max_km: Annotated[
        float | None, typer.Option("--max-km", min=0.0, help="Leave out places farther than this (km).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The places nearest to a point, by geodesic distance."""
    found = gazetteer.nearest(lon, lat, k=k, max_distance_m=None if max_km is None else max_km * 1000.0)
    _print(found, as_json, f"nearest places to ({lon}, {lat})")


def register(app: typer.Typer) -> None:
    """Add the ``gazetteer`` sub-command group to the ``overflight`` app."""
    app.add_typer(sub, name="gazetteer")


__all__ = ["JsonOpt", "lookup", "nearest", "register", "sub"]
