"""`overflight prism --fast` gives the same verdicts as the default precise mode."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from overflight.cli.main import app
from overflight.demo import demo_file


def test_fast_and_precise_verdicts_agree(tmp_path: Path) -> None:
    runner = CliRunner()
    out = {}
    for mode in ("precise", "fast"):
        path = tmp_path / f"{mode}.csv"
        args = ["prism", str(demo_file("sightings.csv")), "--vmax", "120kmh", "--zones", "ne-admin0", "-o", str(path)]
        r = runner.invoke(app, [*args, "--fast"] if mode == "fast" else args)
        assert r.exit_code == 0, r.output
        out[mode] = pd.read_csv(path)
    cols = ["track_id", "zone_id", "verdict"]
    pd.testing.assert_frame_equal(out["precise"][cols], out["fast"][cols])
    kaz = out["fast"][(out["fast"]["zone_id"] == "KAZ")].set_index("track_id")["verdict"].to_dict()
    assert kaz == {"ILL-S1": "necessary", "ILL-S2": "inconsistent"}
