"""Transit and locate on a real dask.distributed LocalCluster (2 worker processes, 1 thread each) give the same
rows as the single-machine path; a killed worker is recovered; a bad row names file, row group and row."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

from overflight.analysis.transit import transit
from overflight.errors import InputError
from overflight.index import ZoneIndex
from overflight.zones import Provenance, Zone, ZoneSet

distributed = pytest.importorskip("distributed")
from overflight.distributed import locate_dask, transit_dask  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _synth_tracks import synth_tracks  # noqa: E402

T0 = pd.Timestamp("2024-06-21T00:00:00Z")
GEO = json.dumps({"version": "1.0.0", "primary_column": "geometry",
                  "columns": {"geometry": {"encoding": "WKB", "geometry_types": ["Point"]}}})


def _zones() -> ZoneSet:
    """A grid of 'states' of 10 x 5 degrees over the synthetic tracks' area, one overlapping claim (disputed
    visits) and a Fiji-like zone in two parts at the antimeridian."""
    zs = [Zone(f"S{i}{j}", f"state {i},{j}", "state", shapely.box(-10 + 10 * i, 35 + 5 * j, 0 + 10 * i, 40 + 5 * j))
          for i in range(7) for j in range(5)]
    zs.append(Zone("CLAIM", "overlapping claim", "state", shapely.box(14.0, 44.0, 22.0, 52.0)))
    zs.append(Zone("FJI", "Fiji-like", "state", shapely.MultiPolygon(
        [shapely.box(178.0, -18.0, 180.0, -16.0), shapely.box(-180.0, -18.0, -178.0, -16.0)])))
    return ZoneSet(zs, Provenance("test-grid", "1", "test", "synthetic", "0" * 64, kind="user"))


def _fixes() -> pd.DataFrame:
    df = synth_tracks(40_000, 40, seed=11)  # rows in time order: every track spans many row groups and files
    # Across the antimeridian (Fiji-like zone in two parts), a fix every 10 minutes.
    lons = np.array([176.0, 176.8, 177.6, 178.4, 179.2, -180.0, -179.2, -178.4, -177.6, -176.8])
    am = pd.DataFrame({"track_id": "AM", "time": T0 + pd.to_timedelta(600 * np.arange(len(lons)), unit="s"),
                       "lon": lons, "lat": -17.0, "alt_m": 9000.0})
    # An unobserved gap: 40 minutes between two fixes either side of a border (S00|S10 at lon 0).
    gap = pd.DataFrame({"track_id": "GAP", "time": T0 + pd.to_timedelta([0, 60, 120, 2520, 2580], unit="s"),
                        "lon": [-3.0, -2.5, -2.0, 2.0, 2.5], "lat": 37.0, "alt_m": np.nan})
    out = pd.concat([df, am, gap], ignore_index=True)
    out["time"] = out["time"].dt.as_unit("ns")
    return out.sort_values("time", kind="stable").reset_index(drop=True)


def _write_geoparquet(df: pd.DataFrame, path: Path, row_group: int) -> None:
    tbl = pa.table({"track_id": pa.array(df["track_id"].astype(str).to_numpy(dtype=object), pa.string()),
                    "time": pa.array(df["time"]), "alt_m": df["alt_m"].to_numpy(float),
                    "geometry": shapely.to_wkb(shapely.points(df["lon"].to_numpy(), df["lat"].to_numpy()))})
    pq.write_table(tbl.replace_schema_metadata({"geo": GEO}), path, row_group_size=row_group)


@pytest.fixture(scope="module")
def zones() -> ZoneSet:
    return _zones()


@pytest.fixture(scope="module")
def index(zones: ZoneSet) -> ZoneIndex:
    return ZoneIndex(zones)


@pytest.fixture(scope="module")
def fixes() -> pd.DataFrame:
    return _fixes()


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, fixes: pd.DataFrame) -> Path:
    d = tmp_path_factory.mktemp("archive")
    half = len(fixes) // 2  # two files, cut in time: each track goes on in the second file
    _write_geoparquet(fixes.iloc[:half], d / "a.parquet", 3_000)
    _write_geoparquet(fixes.iloc[half:], d / "b.parquet", 3_000)
    return d


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        yield c


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_exact=True)


def test_dask_rows_equal_single_machine(client: Any, archive: Path, fixes: pd.DataFrame, zones: ZoneSet,
                                        index: ZoneIndex) -> None:
    whole = transit(fixes, zones, index=index).visits
    run = transit_dask(str(archive / "*.parquet"), zones, index=index, client=client, npartitions=5)
    assert run.visits is not None
    _same(whole, run.visits)
    v = whole
    # The comparison covers what it must: many visits, tracks over several input row groups and both files,
    # the antimeridian track as one visit, an unobserved crossing, disputed visits.
    assert len(v) > 100 and v["track_id"].nunique() > 30
    am = v[v["track_id"] == "AM"]
    assert list(am["zone_id"]) == ["FJI"] and am["entry_lon"].iat[0] == pytest.approx(178.0, abs=1e-6)
    assert am["exit_lon"].iat[0] == pytest.approx(-178.0, abs=1e-6)
    assert not v.loc[v["track_id"] == "GAP", "observed"].all()
    assert v["disputed"].any()
    prov = run.provenance
    assert prov["engine"]["name"] == "dask" and prov["engine"]["workers"] == 2
    assert prov["partitioning"]["method"] == "shuffle by track id" and prov["partitioning"]["partitions"] == 5
    assert prov["partitioning"]["input_partitions"] == 14  # 40,015 fixes: two files of 7 row groups of <= 3,000
    assert prov["parameters"]["n_fixes"] == len(fixes)


def test_time_window_is_pushed_down(client: Any, archive: Path, fixes: pd.DataFrame, zones: ZoneSet,
                                    index: ZoneIndex) -> None:
    lo, hi = T0 + pd.Timedelta("40min"), T0 + pd.Timedelta("90min")
    inside = fixes[(fixes["time"] >= lo) & (fixes["time"] < hi)]
    whole = transit(inside, zones, index=index).visits
    run = transit_dask(str(archive / "*.parquet"), zones, index=index, client=client, between=(lo, hi),
                       npartitions=4)
    assert run.visits is not None and len(whole) > 20
    _same(whole, run.visits)
    # Row groups whose statistics lie outside the window were never read.
    assert 1 <= run.provenance["partitioning"]["input_partitions"] < 14
    assert run.provenance["parameters"]["n_fixes"] == len(inside)


def test_dask_writes_partitioned_geoparquet(client: Any, archive: Path, fixes: pd.DataFrame, zones: ZoneSet,
                                            index: ZoneIndex, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = transit_dask([archive / "a.parquet", archive / "b.parquet"], zones, index=index, client=client,
                       npartitions=3, output=out)
    assert [p.name for p in run.files] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    got = pd.concat([pd.read_parquet(p) for p in run.files], ignore_index=True)
    assert json.loads(pq.read_schema(run.files[0]).metadata[b"geo"])["primary_column"] == "geometry"
    g = shapely.from_wkb(got["geometry"].to_numpy())
    np.testing.assert_array_equal(shapely.get_x(g), got["entry_lon"].to_numpy())
    whole = transit(fixes, zones, index=index).visits
    got = got.drop(columns="geometry").sort_values("track_id", kind="stable")
    _same(whole, got)
    prov = json.loads((out / "_provenance.json").read_text())
    assert prov["engine"]["name"] == "dask" and prov["partitioning"]["key"] == "track_id"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial directory left


def test_bad_row_names_file_row_group_and_row(client: Any, fixes: pd.DataFrame, zones: ZoneSet,
                                               index: ZoneIndex, tmp_path: Path) -> None:
    bad = fixes.iloc[:10_000].copy()
    bad.loc[7_123, "lat"] = 95.0  # row 7,124 of the file, in row group 2 (rows 6,001-9,000)
    d = tmp_path / "arch"
    d.mkdir()
    _write_geoparquet(fixes.iloc[10_000:20_000], d / "good.parquet", 3_000)
    _write_geoparquet(bad, d / "bad.parquet", 3_000)
    out = tmp_path / "out"
    with pytest.raises(InputError) as ei:
        transit_dask(str(d / "*.parquet"), zones, index=index, client=client, output=out)
    msg = str(ei.value)
    assert "bad.parquet" in msg and "row 7124 (row group 2)" in msg and "lat" in msg, msg
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_killed_worker_is_retried_and_result_identical(client: Any, archive: Path, fixes: pd.DataFrame,
                                                       zones: ZoneSet, index: ZoneIndex) -> None:
    whole = transit(fixes, zones, index=index).visits
    pids = client.run(os.getpid)  # worker address -> pid
    killed: list[tuple[str, float]] = []
    done = threading.Event()

    def killer() -> None:
        # Kill a worker while it is running a task of this computation (the nanny starts a new one).
        deadline = time.monotonic() + 60
        while not done.is_set() and time.monotonic() < deadline:
            # only this run's partition tasks: a task left running by an earlier test must not trigger it
            busy = {w: ts for w, ts in client.processing().items()
                    if any("_transit_partition" in str(k) for k in ts)}
            if busy:
                w = sorted(busy)[0]
                os.kill(pids[w], signal.SIGKILL)
                killed.append((w, time.monotonic()))
                return
            time.sleep(0.02)

    th = threading.Thread(target=killer, daemon=True)
    th.start()
    try:
        run = transit_dask(str(archive / "*.parquet"), zones, index=index, client=client, npartitions=6,
                           step_m=1000.0)
    finally:
        done.set()
        th.join(10)
    assert killed, "no worker was killed while the run was going on"
    assert run.visits is not None
    ref = transit(fixes, zones, index=index, step_m=1000.0).visits
    _same(ref, run.visits)
    assert len(ref) >= len(whole) - 5  # a finer step finds the same visits (sanity of the reference)
    client.wait_for_workers(2, timeout=60)  # the nanny brought the killed worker back


def test_locate_dask_matches_zoneindex(client: Any, archive: Path, fixes: pd.DataFrame, index: ZoneIndex,
                                       tmp_path: Path) -> None:
    out = tmp_path / "located"
    run = locate_dask(str(archive / "*.parquet"), index, client=client, output=out)
    got = pd.concat([pd.read_parquet(p) for p in run.files], ignore_index=True)
    g = shapely.from_wkb(got["geometry"].to_numpy())
    want = index.zones_of(shapely.get_x(g), shapely.get_y(g))
    assert list(got["zones"]) == list(want)
    assert len(got) == len(fixes) and run.provenance["rows"] == len(fixes) and (got["zones"] != "").sum() > 1000
    assert run.provenance["engine"]["name"] == "dask"


def test_cli_engine_dask(archive: Path, fixes: pd.DataFrame, tmp_path: Path) -> None:
    """`overflight transit/locate ARCHIVE --engine dask --workers 2 -o DIR` end to end (its own LocalCluster)."""
    env = {**os.environ, "COLUMNS": "200"}
    out = tmp_path / "visits"
    cmd = [sys.executable, "-m", "overflight", "transit", str(archive / "*.parquet"), "--zones", "ne-admin0",
           "--engine", "dask", "--workers", "2", "-o", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    prov = json.loads((out / "_provenance.json").read_text())
    assert prov["engine"]["workers"] == 2 and prov["parameters"]["n_fixes"] == len(fixes)
    got = pd.concat([pd.read_parquet(p) for p in sorted(out.glob("part-*.parquet"))], ignore_index=True)
    assert len(got) == prov["n_visits"] > 0 and f"{prov['n_visits']} visits" in r.stdout
    # A second run into the same (now full) directory is refused before any work: no cluster is started
    # (one closed as it starts logs its workers' broken connections), so the error is all that is printed.
    r2 = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r2.returncode == 2 and "not empty" in r2.stderr and "Traceback" not in r2.stderr
    assert r2.stderr.strip().startswith("error:") and "distributed" not in r2.stderr
    r4 = subprocess.run([*cmd[:4], str(tmp_path / "none-*.parquet"), *cmd[5:-1], str(tmp_path / "v2")],
                        capture_output=True, text=True, env=env, timeout=300)
    assert r4.returncode == 2 and "no Parquet file matches" in r4.stderr and "distributed" not in r4.stderr
    loc = tmp_path / "located"
    r3 = subprocess.run([sys.executable, "-m", "overflight", "locate", str(archive), "--zones", "ne-admin0",
                         "--engine", "dask", "--workers", "2", "-o", str(loc)], capture_output=True, text=True,
                        env=env, timeout=300)
    assert r3.returncode == 0, r3.stderr[-3000:]
    assert sum(len(pd.read_parquet(p)) for p in loc.glob("part-*.parquet")) == len(fixes)


def test_archive_paths_with_glob_characters_in_a_file_name(tmp_path: Path) -> None:
    from overflight.distributed.dask_engine import _expand

    literal = tmp_path / "[b]x<script>.parquet"
    literal.write_bytes(b"PAR1")
    other = tmp_path / "b.parquet"
    other.write_bytes(b"PAR1")
    assert _expand(str(literal)) == [str(literal)]  # the file itself, not the class [b]
    assert _expand(str(tmp_path / "*.parquet")) == sorted([str(literal), str(other)])
    with pytest.raises(InputError, match="no Parquet file matches"):
        _expand(str(tmp_path / "none*.parquet"))
