"""`overflight locate` on a small CSV: zones column, chunking, bad rows, --strict, --zone."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from overflight.cli.locate import locate_csv, register
from overflight.errors import InputError
from overflight.index import ZoneIndex
from overflight.zones import ZoneSet

ROWS = "name,x,y\nberlin,13.4,52.5\nsea,0,0\nbad,abc,1\nkyiv,30.5,50.45\nempty,,\nfar,13.4,95\ncrimea,34.1,45.0\n"


@pytest.fixture()
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("OVERFLIGHT_CACHE", str(tmp_path / "cache"))
    a = typer.Typer()
    register(a)

    @a.command("noop")
    def _noop() -> None:  # a second command keeps `locate` a sub-command as in the real app
        pass

    return a


def test_locate_command(app: typer.Typer, tmp_path: Path) -> None:
    src = tmp_path / "p.csv"
    src.write_text(ROWS)
    out = tmp_path / "o.csv"
    r = CliRunner().invoke(app, ["locate", str(src), "--zones", "ne-admin0", "-o", str(out), "--lon-col", "x",
                                 "--lat-col", "y", "--chunk-rows", "2"])
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out, keep_default_na=False, dtype=str)
    assert df["zones"].tolist() == ["DEU", "", "", "UKR", "", "", "UKR"]
    assert df["name"].tolist() == ["berlin", "sea", "bad", "kyiv", "empty", "far", "crimea"]
    assert "3 rows with invalid" in " ".join(r.output.split())
    r = CliRunner().invoke(app, ["locate", str(src), "-o", str(out), "--lon-col", "x", "--lat-col", "y",
                                 "--zone", "UKR"])
    assert pd.read_csv(out, keep_default_na=False, dtype=str)["zones"].tolist() == ["", "", "", "UKR", "", "",
                                                                                   "UKR"]


def test_locate_csv_strict_and_errors(tmp_path: Path, ne_admin0: ZoneSet) -> None:
    idx = ZoneIndex.cached(ne_admin0, directory=tmp_path)
    src = tmp_path / "p.csv"
    src.write_text(ROWS)
    with pytest.raises(InputError) as err:
        locate_csv(src, tmp_path / "o.csv", idx, lon_col="x", lat_col="y", strict=True, progress=False)
    assert err.value.row == 4 and err.value.field == "x"  # line 4 of the file: 'bad,abc,1'
    with pytest.raises(InputError, match="no column 'lon'"):
        locate_csv(src, tmp_path / "o.csv", idx, progress=False)
    s = locate_csv(src, tmp_path / "o.csv", idx, lon_col="x", lat_col="y", chunk_rows=1, progress=False)
    assert (s.rows, s.located, s.bad) == (7, 3, 3)
