"""`overflight prism`: space-time prism verdicts between consecutive sightings."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from shapely.geometry import LineString, mapping

from overflight.cli._common import IdFieldOpt, OutOpt, ZoneIdsOpt, ZonesOpt, check_output, console, esc
from overflight.errors import InputError


def _geojson(pairs: Any, vmax: float, verdict_df: pd.DataFrame, paths: dict[tuple[int, str], Any], out: Path) -> int:
    """Write the prism ellipses and the avoiding paths as GeoJSON features; returns the feature count."""
    import warnings

    from overflight.analysis.prism import ppa
    from overflight.analysis.prism.ellipse import InconsistentFixesWarning

    t0 = pd.Timestamp("2000-01-01", tz="UTC")
    features = []
    for i in range(len(pairs.lon1)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InconsistentFixesWarning)
            geom = ppa((pairs.lon1[i], pairs.lat1[i]), t0, (pairs.lon2[i], pairs.lat2[i]),
                       t0 + timedelta(seconds=float(pairs.dt[i])), vmax, max_error_m=50.0, max_vertices=2048)
        props = {"kind": "ppa", "track_id": str(pairs.track_id[i]), "from_index": str(pairs.from_index[i]),
                 "to_index": str(pairs.to_index[i]), "budget_m": float(vmax * pairs.dt[i]),
                 "inconsistent": bool(geom.is_empty)}
        features.append({"type": "Feature", "properties": props, "geometry": None if geom.is_empty else mapping(geom)})
    nz = verdict_df["zone_id"].nunique() if len(verdict_df) else 0
    for (i, zid), (lon, lat) in paths.items():
        row = verdict_df[(verdict_df["zone_id"] == zid)].iloc[i] if nz else None
        props = {"kind": "avoiding_path", "track_id": str(pairs.track_id[i]), "from_index": str(pairs.from_index[i]),
                 "to_index": str(pairs.to_index[i]), "zone_id": zid,
                 "verdict": str(row["verdict"]) if row is not None else None,
                 "length_m": float(row["detour_m"]) if row is not None and math.isfinite(row["detour_m"]) else None}
        features.append({"type": "Feature", "properties": props,
                         "geometry": mapping(LineString(list(zip(lon, lat, strict=True))))})
    out.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return len(features)


def prism(
    sightings: Annotated[Path, typer.Argument(help="Sightings: a track file (CSV, GeoJSON, ...) with track_id, time, "
                                              "lon, lat and optional pos_err_m, time_err_s.")],
    vmax: Annotated[str, typer.Option("--vmax", help="Top speed with a unit: 185kmh, 100kt, 50mps.")],
    zones: ZonesOpt = "ne-admin0",
    zone: ZoneIdsOpt = None,
    id_field: IdFieldOpt = None,
    output: OutOpt = None,
    geojson: Annotated[Path | None, typer.Option("--geojson", help="Write ellipses and avoiding paths here.")] = None,
    summary: Annotated[bool, typer.Option("--summary", help="Also give the per-track summary.")] = False,
    impossible: Annotated[bool, typer.Option("--impossible/--no-impossible",
                                             help="Keep rows whose verdict is impossible.")] = True,
    pos_err_col: Annotated[str, typer.Option("--pos-err-col", help="Position error column (m).")] = "pos_err_m",
    time_err_col: Annotated[str, typer.Option("--time-err-col", help="Time error column (± s).")] = "time_err_s",
    fast: Annotated[bool, typer.Option("--fast", help="Same verdicts, faster; some margins and detours are then "
                                       "bounds (detour_exact false). Ignored with --geojson.")] = False,
) -> None:
    """Was entering each zone impossible, possible or necessary between consecutive sightings?"""
    from overflight.analysis.prism import summarize
    from overflight.analysis.prism.verdicts import (
        _verdicts_for_pairs,
        _zone_items,
        make_pairs,
        zone_caps,
    )
    from overflight.units import parse_speed
    from overflight.zones import load_zones

    v = parse_speed(vmax)
    if not v > 0:
        raise InputError(f"--vmax must be a speed above zero, not {vmax!r}", field="--vmax")
    check_output(output, "--output")
    check_output(geojson, "--geojson")
    if not sightings.exists():
        raise InputError("no such file", file=sightings)
    zs = load_zones(zones, ids=zone, id_field=id_field)
    pairs = make_pairs(sightings, pos_err_col=pos_err_col, time_err_col=time_err_col)
    paths: dict[tuple[int, str], Any] = {}
    caps = zone_caps(_zone_items(zs), source=zs)
    precise = not fast or geojson is not None  # the map needs the exact avoiding paths
    df = _verdicts_for_pairs(pairs, caps, v, precise=precise, keep_impossible=True,
                             paths=paths if geojson is not None else None)
    shown = df if impossible else df[df["verdict"] != "impossible"]
    if output is None:
        console.print(shown.to_csv(index=False), end="", highlight=False, soft_wrap=True, markup=False)
    else:
        shown.to_csv(output, index=False)
        console.print(f"{len(shown)} verdict rows → {esc(output)}", highlight=False)
    if summary:
        summ = summarize(df)
        if output is not None:
            spath = output.with_name(output.stem + ".summary.csv")
            summ.to_csv(spath, index=False)
            console.print(f"summary → {esc(spath)}", highlight=False)
        interesting = summ[summ["verdict"] != "impossible"] if len(summ) > 50 else summ
        console.print(interesting.to_string(index=False), highlight=False, markup=False)
    if geojson is not None:
        n = _geojson(pairs, v, df, paths, geojson)
        console.print(f"{n} features → {esc(geojson)}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the `prism` command."""
    app.command("prism")(prism)
