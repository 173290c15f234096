"""Every option of `overflight transit` / `locate` on `--engine dask` gives the one-machine rows, or is refused.

The archive here is dirty on purpose (a bad coordinate, fixes written twice across a file border, a fix going
back in time across row groups, a jump no aircraft flies, times without a zone, altitude in feet, source
columns under other names). The reference is the one-machine path on the same rows as one file: the
streaming reader and validator (`iter_tracks`), `transit_chunks` and `bracket_visits`, as `overflight
transit` runs them. On a real LocalCluster of 2 worker processes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

from overflight.analysis.crossing_times import bracket_visits
from overflight.analysis.locate_parquet import locate_parquet
from overflight.analysis.transit_stream import transit_chunks
from overflight.errors import InputError
from overflight.index import ZoneIndex
from overflight.tracks import iter_tracks
from overflight.tracks.writers import write_visits
from overflight.zones import Provenance, Zone, ZoneSet

distributed = pytest.importorskip("distributed")
from overflight.distributed import locate_dask, transit_dask  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _synth_tracks import synth_tracks  # noqa: E402

FT = 0.3048
ROW_GROUP = 2_000
SPEED = 400.0  # m/s: the synthetic aircraft fly 220 m/s; the planted jump is ~5 degrees in 10 s
READ = dict(lon_col="x_lon", lat_col="y_lat", time_col="seen", id_col="icao", alt_col="alt_ft", alt_unit="ft",
            tz="UTC")


def _zones() -> ZoneSet:
    zs = [Zone(f"S{i}{j}", f"state {i},{j}", "state", shapely.box(-10 + 10 * i, 35 + 5 * j, 0 + 10 * i, 40 + 5 * j))
          for i in range(7) for j in range(5)]
    zs.append(Zone("CLAIM", "overlapping claim", "state", shapely.box(14.0, 44.0, 22.0, 52.0)))
    return ZoneSet(zs, Provenance("test-grid", "1", "test", "synthetic", "0" * 64, kind="user"))


def _dirty() -> tuple[pd.DataFrame, int, dict[str, int]]:
    """Fixes in archive order (time order, tracks interleaved) with planted faults, and what each rule must drop."""
    df = synth_tracks(16_000, 24, seed=5)
    df["time"] = df["time"].dt.as_unit("ns")
    df = df.sort_values("time", kind="stable").reset_index(drop=True)
    n = len(df)
    half = n // 2
    df.loc[1_234, "lat"] = 95.0  # bad_coordinate
    # A jump no aircraft flies: one fix of track 3 moved 5 degrees (the step into it is > SPEED).
    j = int(np.flatnonzero((df["track_id"] == df["track_id"].iat[5_000]).to_numpy())[60])
    df.loc[j, "lon"] = df.loc[j, "lon"] + 5.0
    # Across the file border: the last fix of a track in the first file written again at the head of the second
    # (duplicate_time across files), and a fix dated before its track's earlier fixes in a later row group
    # (backwards_time across row groups).
    first = df.iloc[:half]
    k = int(first.index[first["track_id"] == first["track_id"].iat[-1]][-1])
    dup = df.loc[[k]].copy()
    # The fix dated back takes the time of an earlier fix of its track (sorted, it becomes a duplicate).
    back = df.loc[[half + 3_000]].copy()
    same = df.index[(df["track_id"] == back["track_id"].iat[0]).to_numpy() & (df.index < half)]
    back["time"] = df.loc[same[-10], "time"]
    back["lon"] = df.loc[same[-10], "lon"]
    back["lat"] = df.loc[same[-10], "lat"]
    out = pd.concat([df.iloc[:half], dup, df.iloc[half:half + 3_500], back, df.iloc[half + 3_500:]],
                    ignore_index=True)
    return out, half, {"bad_coordinate": 1, "duplicate_time": 1, "backwards_time": 1, "speed": 1}


def _write(df: pd.DataFrame, path: Path) -> None:
    """Plain Parquet under other column names: naive times (UTC by --tz), altitude in feet."""
    tbl = pa.table({"icao": pa.array(df["track_id"].astype(str).to_numpy(dtype=object), pa.string()),
                    "seen": pa.array(df["time"].dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")),
                    "x_lon": df["lon"].to_numpy(float), "y_lat": df["lat"].to_numpy(float),
                    "alt_ft": df["alt_m"].to_numpy(float) / FT, "squawk": np.full(len(df), "7000")})
    pq.write_table(tbl, path, row_group_size=ROW_GROUP)


@pytest.fixture(scope="module")
def zones() -> ZoneSet:
    return _zones()


@pytest.fixture(scope="module")
def index(zones: ZoneSet) -> ZoneIndex:
    return ZoneIndex(zones)


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, int]]:
    """(archive directory of two files cut in time, the same rows as one file, faults planted per rule)."""
    df, cut, planted = _dirty()
    d = tmp_path_factory.mktemp("dirty")
    arch = d / "archive"
    arch.mkdir()
    _write(df.iloc[:cut], arch / "a.parquet")  # the fix written twice opens the second file
    _write(df.iloc[cut:], arch / "b.parquet")
    _write(df, d / "all.parquet")
    return arch, d / "all.parquet", planted


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        yield c


def _one_machine(path: Path, zones: ZoneSet, index: ZoneIndex, *, sort: bool, max_speed: float | None,
                 drop: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, Any]:
    """What `overflight transit PATH --drop [--sort] [--max-speed] ...` computes: (bracketed visits, summary,
    validation report)."""
    opts: dict[str, Any] = dict(READ, on_invalid="drop" if drop else "fail", max_speed_mps=max_speed,
                                core_only=True, sort=sort)
    chunks = iter_tracks(path, **opts)
    res = transit_chunks(iter(chunks), zones, index=index, with_summary=True)
    visits = bracket_visits(res.visits, iter_tracks(path, **opts), 600.0)
    return visits, res.summary, chunks.report


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_exact=True)


@pytest.mark.parametrize(("sort", "speed"), [(False, SPEED), (True, SPEED), (False, None)],
                         ids=["archive-order", "sort", "no-speed-rule"])
def test_drop_speed_columns_and_brackets_match_one_machine(client: Any, dirty: tuple[Path, Path, dict[str, int]],
                                                           zones: ZoneSet, index: ZoneIndex, sort: bool,
                                                           speed: float | None) -> None:
    arch, whole, planted = dirty
    ref, ref_summary, ref_report = _one_machine(whole, zones, index, sort=sort, max_speed=speed)
    run = transit_dask(str(arch / "*.parquet"), zones, index=index, client=client, npartitions=4, sort=sort,
                       on_invalid="drop", max_speed_mps=speed, brackets=True, summary_tz="UTC",
                       chunk_rows=997, **READ)  # type: ignore[arg-type]
    assert run.visits is not None and run.report is not None and run.summary is not None
    _same(ref, run.visits)
    _same(ref_summary, run.summary)
    assert {"entry_before_time", "exit_time_max"} <= set(run.visits.columns) and len(ref) > 50
    # The rows dropped, rule by rule, are the ones planted (hand count) and the ones one machine drops.
    got = {k: v for k, v in run.report.counts.items() if v}
    assert got == {k: v for k, v in ref_report.counts.items() if v}
    want = dict(planted)
    if speed is None:
        want.pop("speed")
    if sort:  # sorted first, the fix dated back sits beside the fix whose time it took: a duplicate
        want["duplicate_time"] += want.pop("backwards_time")
    assert got == want
    assert run.report.total_rows == ref_report.total_rows and run.report.rows_kept == ref_report.rows_kept
    assert run.provenance["parameters"]["invalid_rows"] == got
    # The archive's report: each example names its file, row group and row.
    rows = {e.rule: str(e.row) for e in run.report.examples}
    assert re.fullmatch(r"1235 \(row group 0\) in a\.parquet", rows["bad_coordinate"]), rows
    assert re.fullmatch(r"\d+ \(row group \d+\) in [ab]\.parquet", rows["duplicate_time"]), rows


def test_fail_mode_names_the_file_row_group_and_row_across_files(client: Any, dirty: tuple[Path, Path,
                                                                                         dict[str, int]],
                                                                 zones: ZoneSet, index: ZoneIndex,
                                                                 tmp_path: Path) -> None:
    arch = dirty[0]
    df = pq.read_table(arch / "b.parquet").to_pandas()
    clean = tmp_path / "clean"
    clean.mkdir()
    # Only the fix written twice is left: the first bad row is in b.parquet, row 1 (row group 0); b alone is
    # fine (checked first), the duplicate spans the files.
    a = pq.read_table(arch / "a.parquet").to_pandas()
    pq.write_table(pa.Table.from_pandas(a[a["y_lat"] <= 90], preserve_index=False), clean / "a.parquet",
                   row_group_size=ROW_GROUP)
    pq.write_table(pa.Table.from_pandas(df.iloc[:1], preserve_index=False), clean / "b.parquet")
    assert len(next(iter(iter_tracks(clean / "b.parquet", **READ)))) == 1  # type: ignore[arg-type]
    out = tmp_path / "out"
    with pytest.raises(InputError) as ei:
        transit_dask(str(clean / "*.parquet"), zones, index=index, client=client, output=out,
                     **READ)  # type: ignore[arg-type]
    msg = str(ei.value)
    assert "b.parquet" in msg and "row 1 (row group 0)" in msg and "duplicate_time" in msg, msg
    assert ei.value.field == "time"
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_read_options_are_used_not_ignored(client: Any, dirty: tuple[Path, Path, dict[str, int]],
                                           zones: ZoneSet, index: ZoneIndex) -> None:
    """Without --tz the naive times are refused (naive_time), as on one machine; --alt-unit ft turns the
    feet into metres on the workers as one machine does."""
    from overflight.distributed import read_archive

    arch, whole, _ = dirty
    no_tz = {k: v for k, v in READ.items() if k != "tz"}
    with pytest.raises(InputError, match="naive_time") as ei:
        transit_dask(str(arch), zones, index=index, client=client, **no_tz)  # type: ignore[arg-type]
    # Every row group fails; whichever task fails first names its file, row group and first row.
    assert re.search(r"[ab]\.parquet, row \d+ \(row group \d+\), field 'seen'", str(ei.value)), str(ei.value)
    with pytest.raises(InputError, match="naive_time"):
        list(iter_tracks(whole, **no_tz))  # type: ignore[arg-type]
    got = read_archive(str(arch), on_invalid="drop", **READ).compute()  # type: ignore[arg-type]
    ref = pd.concat(list(iter_tracks(whole, on_invalid="drop", **READ)), ignore_index=True)  # type: ignore[arg-type]
    raw = pq.read_table(whole).to_pandas()
    assert len(got) == len(raw) - 1  # all but the bad coordinate (the others break rules of the track)
    key = ["track_id", "time"]
    m = got.drop_duplicates(key).merge(ref, on=key, suffixes=("", "_one"))
    assert len(m) == len(ref)
    np.testing.assert_array_equal(m["alt_m"].to_numpy(), m["alt_m_one"].to_numpy())
    np.testing.assert_allclose(got["alt_m"].to_numpy(), raw["alt_ft"].to_numpy()[got["_row"].to_numpy()
                               + np.where(got["_file"].to_numpy() == 1, _rows(arch / "a.parquet"), 0) - 1] * FT,
                               rtol=1e-15)


def _rows(path: Path) -> int:
    return int(pq.ParquetFile(path).metadata.num_rows)


def test_time_format_on_text_times(client: Any, zones: ZoneSet, index: ZoneIndex, tmp_path: Path) -> None:
    df = synth_tracks(6_000, 10, seed=2).sort_values("time", kind="stable")
    tbl = pa.table({"track_id": df["track_id"].astype(str).to_numpy(dtype=object),
                    "when": df["time"].dt.strftime("%d.%m.%Y %H:%M:%S").to_numpy(dtype=object),
                    "lon": df["lon"].to_numpy(float), "lat": df["lat"].to_numpy(float)})
    pq.write_table(tbl, tmp_path / "t.parquet", row_group_size=1_000)
    opts: dict[str, Any] = dict(time_col="when", time_format="%d.%m.%Y %H:%M:%S", tz="UTC")
    ref = transit_chunks(iter(iter_tracks(tmp_path / "t.parquet", core_only=True, **opts)), zones, index=index,
                         with_summary=False).visits
    run = transit_dask(str(tmp_path / "t.parquet"), zones, index=index, client=client, **opts)
    assert run.visits is not None and len(ref) > 10
    _same(ref, run.visits)


def _cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "overflight", *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"}, timeout=timeout)


def test_cli_dask_options_give_the_one_machine_files(dirty: tuple[Path, Path, dict[str, int]],
                                                     tmp_path: Path) -> None:
    """`overflight transit` with --drop --max-speed --summary and the column options: the visits CSV and the
    summary CSV that one machine writes, byte for byte, from the Dask run's GeoParquet parts."""
    arch, whole, _ = dirty
    cols = ["--lon-col", "x_lon", "--lat-col", "y_lat", "--time-col", "seen", "--id-col", "icao", "--alt-col",
            "alt_ft", "--alt-unit", "ft", "--tz", "UTC", "--drop", "--max-speed", f"{SPEED:g}", "--max-gap", "9min",
            "--step", "4km", "--zones", "ne-admin0", "--summary-tz", "Europe/Kyiv"]
    local_csv, local_sum = tmp_path / "local.csv", tmp_path / "local-summary.csv"
    r = _cli("transit", str(whole), *cols, "-o", str(local_csv), "--summary", str(local_sum))
    assert r.returncode == 0, r.stderr[-3000:]
    out, dask_sum = tmp_path / "dask", tmp_path / "dask-summary.csv"
    r2 = _cli("transit", str(arch / "*.parquet"), *cols, "--chunk-rows", "1500", "--engine", "dask",
              "--workers", "2", "-o", str(out), "--summary", str(dask_sum))
    assert r2.returncode == 0, r2.stderr[-3000:]
    assert "invalid rows dropped: 4" in r.stdout and "invalid rows dropped: 4" in r2.stdout
    parts = pd.concat([pd.read_parquet(p) for p in sorted(out.glob("part-*.parquet"))], ignore_index=True)
    parts = parts.drop(columns="geometry").sort_values("track_id", kind="stable")
    write_visits(parts, tmp_path / "dask.csv")
    assert (tmp_path / "dask.csv").read_text() == local_csv.read_text()
    assert len(local_csv.read_text().splitlines()) > 20
    assert dask_sum.read_text() == local_sum.read_text()


@pytest.mark.parametrize(("extra", "option"), [
    (["--case", "c.duckdb"], "--case"), (["--source", "S1"], "--source"), (["--dataset", "d"], "--dataset"),
    (["--format", "csv"], "--format"),
])
def test_cli_dask_refuses_what_it_cannot_do(extra: list[str], option: str, tmp_path: Path,
                                           dirty: tuple[Path, Path, dict[str, int]]) -> None:
    r = _cli("transit", str(dirty[0]), "--engine", "dask", "--workers", "1", "-o", str(tmp_path / "o"), *extra)
    assert r.returncode == 2 and option in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "o").exists()


def test_locate_dask_normalize_lon_and_chunk_rows(client: Any, index: ZoneIndex, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 5_000
    lon = rng.uniform(-15, 65, n)
    lon[::7] += 360.0  # written as 0..360 degrees: a zone only with --normalize-lon
    lat = rng.uniform(33, 62, n)
    lat[17] = np.nan
    src = tmp_path / "p.parquet"
    pq.write_table(pa.table({"lon": lon, "lat": lat, "k": np.arange(n)}), src, row_group_size=1_200)
    ref = tmp_path / "ref.parquet"
    c = locate_parquet(src, ref, index, chunk_rows=333, normalize_lon=True)
    run = locate_dask(str(src), index, client=client, normalize_lon=True, chunk_rows=333)
    assert run.visits is not None
    want = pq.read_table(ref).to_pandas()
    assert list(run.visits["zones"]) == list(want["zones"]) and list(run.visits["k"]) == list(range(n))
    wrapped = np.where(lon > 180, lon - 360.0, lon)
    hand = index.zones_of(np.nan_to_num(wrapped), np.nan_to_num(lat))
    hand[17] = ""
    assert list(run.visits["zones"]) == list(hand) and (run.visits["zones"].to_numpy()[::7] != "").sum() > 300
    assert run.provenance["rows"] == c.rows == n and run.provenance["bad"] == c.bad == 1
    plain = locate_dask(str(src), index, client=client)
    assert plain.visits is not None and (plain.visits["zones"].to_numpy()[::7] == "").all()
    assert plain.provenance["bad"] == len(lon[::7]) + 1  # lon > 180 is an invalid coordinate without the option


def test_locate_dask_refuses_a_second_zones_column(client: Any, index: ZoneIndex, tmp_path: Path) -> None:
    src = tmp_path / "z.parquet"
    pq.write_table(pa.table({"lon": [10.0], "lat": [50.0], "zones": ["X"]}), src)
    with pytest.raises(InputError, match="already has a 'zones' column"):
        locate_dask(str(src), index, client=client)


def test_a_given_dask_dataframe_without_altitude(client: Any, zones: ZoneSet, index: ZoneIndex) -> None:
    """A caller's Dask DataFrame (no file order: validated per track in time order), altitude left out."""
    import dask.dataframe as dd

    from overflight.analysis.transit import transit

    df = synth_tracks(8_000, 12, seed=9).drop(columns="alt_m")
    df["time"] = df["time"].dt.as_unit("ns")
    run = transit_dask(dd.from_pandas(df, npartitions=3), zones, index=index, client=client, chunk_rows=500)
    assert run.visits is not None and len(run.visits) > 10
    _same(transit(df, zones, index=index).visits, run.visits)
    with pytest.raises(InputError, match="goes with paths"):
        transit_dask(dd.from_pandas(df, npartitions=2), zones, index=index, client=client, on_invalid="drop")
