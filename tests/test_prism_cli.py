"""`overflight prism` through Typer: CSV rows, summary and GeoJSON."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer
from typer.testing import CliRunner

from overflight.cli import prism as prism_cli

DATA = Path(__file__).parent / "data" / "prism" / "kaz_bulge.csv"


def _app() -> typer.Typer:
    app = typer.Typer()
    prism_cli.register(app)

    @app.callback()
    def _root() -> None:
        """Test root."""

    return app


def test_prism_command_writes_verdicts_summary_and_geojson(tmp_path):
    out, gj = tmp_path / "v.csv", tmp_path / "v.geojson"
    # 190 km/h for 3 h = 570 km: KAZ necessary for exact fixes; 150 km errors let a path pass north.
    res = CliRunner().invoke(_app(), ["prism", str(DATA), "--vmax", "190kmh", "--zones", "ne-admin0", "--zone", "KAZ",
                                      "-o", str(out), "--summary", "--geojson", str(gj)])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out)
    assert list(df.columns[:9]) == ["track_id", "from_index", "to_index", "zone_id", "verdict", "budget_m",
                                    "direct_m", "detour_m", "margin_m"]
    got = dict(zip(df["track_id"], df["verdict"], strict=True))
    assert got == {"nec": "necessary", "err": "possible"}
    assert df["budget_m"].iloc[0] == 570000.0
    summ = pd.read_csv(tmp_path / "v.summary.csv")
    assert set(summ["verdict"]) == {"necessary", "possible"}
    fc = json.loads(gj.read_text())
    kinds = [f["properties"]["kind"] for f in fc["features"]]
    assert kinds.count("ppa") == 2 and kinds.count("avoiding_path") >= 1


def test_prism_command_rejects_bad_speed(tmp_path):
    res = CliRunner().invoke(_app(), ["prism", str(DATA), "--vmax", "fast", "--zone", "KAZ"])
    assert res.exit_code != 0
    assert "speed" in str(res.exception)


def test_zones_with_a_validity_period_are_entered_only_while_in_force(tmp_path):
    """One circle of 100 km on the track's way (lat 51, 47E -> 55E in 3 h at 190 km/h), five periods."""
    spec = tmp_path / "z.yaml"
    circle = "shape: circle, center: [50.0, 51.0], radius_km: 100"
    periods = {"always": "", "later": "2025-06-01T00:00:00Z/2025-06-02T00:00:00Z",
               "whole": "2024-06-21T00:00:00Z/2024-06-21T05:00:00Z",
               "early": "2024-06-21T01:00:00Z/2024-06-21T01:20:00Z",  # 63 km from the first fix: short of it
               # At 02:00 the object is within 190 km of the first fix and 380 km of the second (560 km
               # apart): a lens 180-190 km along the way, +-43 km across, inside the circle (110-310 km).
               "part": "2024-06-21T01:00:00Z/2024-06-21T02:00:00Z",
               # Until 01:36: 114 km reach, the circle begins at 110.6 km; but the object may still be 104.5 km
               # along, west of it.
               "until_0136": "2024-06-21T01:00:00Z/2024-06-21T01:36:00Z"}
    lines = []
    for zid, per in periods.items():
        extra = ""
        if per:
            vf, vt = per.split("/")
            extra = f", valid_from: '{vf}', valid_to: '{vt}'"
        lines.append(f"- {{id: {zid}, {circle}{extra}}}")
    spec.write_text("\n".join(lines) + "\n")
    out = tmp_path / "v.csv"
    res = CliRunner().invoke(_app(), ["prism", str(DATA), "--vmax", "190kmh", "--zones", str(spec), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "not applied" not in res.output
    df = pd.read_csv(out)
    got = dict(zip(df[df["track_id"] == "nec"]["zone_id"], df[df["track_id"] == "nec"]["verdict"], strict=True))
    assert got == {"always": "necessary", "later": "impossible", "whole": "necessary", "early": "impossible",
                   "part": "necessary", "until_0136": "possible"}
