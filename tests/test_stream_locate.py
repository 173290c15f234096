"""`overflight locate` on (Geo)Parquet: the zones column equals ZoneIndex.zones_of on the same points."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

from overflight.analysis.locate_parquet import locate_parquet
from overflight.boundaries import load
from overflight.errors import InputError
from overflight.index import ZoneIndex


@pytest.fixture(scope="module")
def index() -> ZoneIndex:
    return ZoneIndex.cached(load("ne-admin0"))


def _points(n: int = 5_000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    return rng.uniform(-10, 60, n), rng.uniform(30, 65, n)


def test_geoparquet_and_lonlat_columns(tmp_path: Path, index: ZoneIndex) -> None:
    lon, lat = _points()
    want = index.zones_of(lon, lat)
    geo = {"version": "1.0.0", "primary_column": "geometry", "columns": {"geometry": {"encoding": "WKB"}}}
    g = pa.table({"name": [f"p{i}" for i in range(len(lon))],
                  "geometry": shapely.to_wkb(shapely.points(lon, lat))}).replace_schema_metadata(
        {"geo": json.dumps(geo)})
    pq.write_table(g, tmp_path / "g.parquet", row_group_size=1_000)
    c = locate_parquet(tmp_path / "g.parquet", tmp_path / "g_out.parquet", index, chunk_rows=700)
    got = pq.read_table(tmp_path / "g_out.parquet")
    assert got.column("zones").to_pylist() == list(want) and c.rows == len(lon) and c.bad == 0
    assert c.located == int((want != "").sum()) > 1000
    assert b"geo" in got.schema.metadata and got.column("name").to_pylist()[:2] == ["p0", "p1"]
    pq.write_table(pa.table({"lon": lon, "lat": lat}), tmp_path / "c.parquet")
    locate_parquet(tmp_path / "c.parquet", tmp_path / "c_out.parquet", index)
    assert pq.read_table(tmp_path / "c_out.parquet").column("zones").to_pylist() == list(want)


def test_invalid_coordinates(tmp_path: Path, index: ZoneIndex) -> None:
    lon, lat = _points(100)
    lat[41] = 91.0
    pq.write_table(pa.table({"lon": lon, "lat": lat}), tmp_path / "p.parquet")
    c = locate_parquet(tmp_path / "p.parquet", tmp_path / "o.parquet", index, chunk_rows=30)
    assert c.bad == 1 and pq.read_table(tmp_path / "o.parquet").column("zones")[41].as_py() == ""
    with pytest.raises(InputError, match=r"row 42.*'lat'"):
        locate_parquet(tmp_path / "p.parquet", tmp_path / "o2.parquet", index, chunk_rows=30, strict=True)
    assert not (tmp_path / "o2.parquet").exists() and not list(tmp_path.glob("*.partial"))


def test_cli_locate_parquet(tmp_path: Path) -> None:
    lon, lat = _points(2_000)
    pq.write_table(pa.table({"lon": lon, "lat": lat}), tmp_path / "p.parquet")
    r = subprocess.run([sys.executable, "-m", "overflight", "locate", str(tmp_path / "p.parquet"), "-o",
                        str(tmp_path / "o.parquet")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert len(pd.read_parquet(tmp_path / "o.parquet")) == 2_000 and "2,000 rows" in r.stderr
