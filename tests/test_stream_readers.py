"""The fast column paths of the readers give what the general paths give (times, WKB points, sorting,
column projection), so the streaming speed-ups change no answer and no accounting."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from overflight.errors import InputError
from overflight.tracks import read_tracks
from overflight.tracks.read_parquet import wkb_points
from overflight.tracks.table import parse_times, sort_tracks

ISO = st.builds(
    lambda y, mo, d, h, mi, s, frac, off: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{frac}{off}",
    st.integers(1890, 2210), st.integers(1, 12), st.integers(1, 31), st.integers(0, 23), st.integers(0, 59),
    st.integers(0, 59), st.sampled_from(["", ".5", ".123456", ".123456789"]),
    st.sampled_from(["Z", "+00:00", "+03:00", "-05:30", "+14:00"]))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.one_of(ISO, st.just("")), min_size=1, max_size=30))
def test_zoned_iso_cast_equals_general_parser(values: list[str]) -> None:
    s = pd.Series(values, dtype="str")
    fast_t, fast_c = parse_times(s)
    slow_t, slow_c = parse_times(s, time_format="ISO8601")  # a format given: the general path, value by value
    np.testing.assert_array_equal(fast_c, slow_c)
    pd.testing.assert_series_equal(fast_t, slow_t)


def test_cast_refusals_fall_back() -> None:
    s = pd.Series(["2024-02-30T00:00:00Z", "2024-06-21T00:00:00Z", "2024-06-21 00:00:00", "x"], dtype="str")
    t, c = parse_times(s)
    assert list(c) == [1, 0, 2, 1]  # bad, ok, naive (never guessed), bad
    assert t.iloc[1] == pd.Timestamp("2024-06-21T00:00:00Z")


def test_wkb_points_match_shapely() -> None:
    rng = np.random.default_rng(1)
    x, y, z = rng.uniform(-180, 180, 500), rng.uniform(-90, 90, 500), rng.uniform(0, 1e4, 500)
    for g in (shapely.points(x, y), shapely.points(x, y, z)):
        for typ in (pa.binary(), pa.large_binary()):
            for order in (1, 0):  # little-endian: straight from the buffer; big-endian: through shapely
                arr = pa.array(shapely.to_wkb(g, byte_order=order), typ).slice(3)
                lx, ly, lz = wkb_points(arr)
                np.testing.assert_array_equal(lx, shapely.get_x(g)[3:])
                np.testing.assert_array_equal(ly, shapely.get_y(g)[3:])
                if shapely.has_z(g).any():
                    np.testing.assert_array_equal(lz, shapely.get_z(g)[3:])
                else:
                    assert lz is None
    mixed = pa.array([*shapely.to_wkb(shapely.points(x[:3], y[:3])), None,
                      shapely.to_wkb(shapely.linestrings([[0, 0], [1, 1]]))], pa.binary())
    lx, _, _ = wkb_points(mixed)
    assert np.array_equal(lx[:3], x[:3]) and np.isnan(lx[3]) and np.isnan(lx[4])


def test_sort_tracks_equals_stable_sort_values() -> None:
    rng = np.random.default_rng(2)
    n = 2_000
    t = pd.Series(pd.to_datetime(rng.integers(0, 50, n) * 10**9, utc=True))
    t[rng.random(n) < 0.05] = pd.NaT
    df = pd.DataFrame({"track_id": rng.choice(["b", "a", "ä", "A", "10", "9", "z"], n), "time": t,
                       "lon": rng.random(n), "lat": rng.random(n), "alt_m": np.arange(n, dtype=float)})
    want = df.sort_values(["track_id", "time"], kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(sort_tracks(df), want)


def _tracks_files(tmp: Path) -> tuple[Path, Path]:
    df = pd.DataFrame({"track_id": ["a", "a", "b", "a", "b"], "time": pd.to_datetime(
        ["2024-06-21T00:00:00Z", "2024-06-21T00:01:00Z", "2024-06-21T00:00:00Z", "2024-06-21T00:02:00Z",
         "2024-06-21T00:01:00Z"], utc=True), "lon": [1.0, 1.1, 2.0, 95.0 * 2, 2.1], "lat": [50.0, 50.1, 51, 50.2, 51],
        "alt_m": [100.0, 110, 120, 130, 140], "speed": [1.0, 2, 3, 4, 5]})
    csv = tmp / "t.csv"
    df.assign(time=df["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(csv, index=False)
    geo = {"version": "1.0.0", "primary_column": "geometry", "columns": {"geometry": {"encoding": "WKB"}}}
    tbl = pa.table({"track_id": df["track_id"], "time": pa.array(df["time"]), "alt_m": df["alt_m"],
                    "speed": df["speed"], "geometry": shapely.to_wkb(shapely.points(df["lon"], df["lat"]))})
    gp = tmp / "t.parquet"
    pq.write_table(tbl.replace_schema_metadata({"geo": json.dumps(geo)}), gp)
    return csv, gp


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_core_only_reads_the_same_rows_and_counts(tmp_path: Path, kind: str) -> None:
    from overflight.tracks import iter_tracks

    csv, gp = _tracks_files(tmp_path)
    path = csv if kind == "csv" else gp
    full, rep = read_tracks(path, on_invalid="drop")
    chunks = iter_tracks(path, on_invalid="drop", core_only=True, chunk_rows=2)
    core = pd.concat(list(chunks), ignore_index=True)
    core = sort_tracks(core)
    assert "speed" in full.columns and "speed" not in core.columns
    pd.testing.assert_frame_equal(full[list(core.columns)], core, check_dtype=False)
    r2 = chunks.report
    assert (r2.total_rows, r2.rows_kept, r2.counts) == (rep.total_rows, rep.rows_kept, rep.counts) == (
        5, 4, {**dict.fromkeys(rep.counts, 0), "bad_coordinate": 1})
    with pytest.raises(InputError, match="line 5, field 'lon'" if kind == "csv" else "row 4, field 'lon'"):
        list(iter_tracks(path, core_only=True))


# Cells that take every branch of the Arrow staging of a core-only CSV read (padded, blank, unreadable,
# non-ASCII, out of range, naive or impossible times), mixed row by row.
_CELLS = {
    "track_id": ["A", " A ", "", "B", "é", "C\t", "D"],
    "time": ["2024-06-21T00:00:00Z", "2024-06-21T00:00:10.5+02:00", "2024-06-21 00:00:30", "garbage", "",
             "2024-02-30T00:00:00Z", "2024-06-21T00:00:20.123456789Z"],
    "lon": ["10.5", " 10.6", "abc", "", "200", "nan", "1e400", "+1", ".5"],
    "lat": ["50.1", "50.2 ", "95", "", "-0", "inf"],
    "alt_m": ["1000", "", "  ", "12 ", "nan", "1e400", "-5000", "x"],
}


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(st.tuples(*(st.sampled_from(v) for v in _CELLS.values())), min_size=1, max_size=30),
       st.booleans(), st.integers(1, 7))
def test_arrow_staging_equals_pandas_staging(rows: list[tuple[str, ...]], clean: bool, chunk: int) -> None:
    import tempfile

    import overflight.tracks.read_csv as rc
    from overflight.tracks._stage import ReadOptions
    from overflight.tracks.validate import Validator

    if clean:  # a clean file takes the whole-column casts (the fast path itself), not only the fallbacks
        rows = [(f"T{i % 3}", f"2024-06-21T00:{i // 60:02d}:{i % 60:02d}Z", "10.5", "50", "" if i % 2 else "3")
                for i in range(len(rows))]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "t.csv"
        path.write_text("track_id,time,lon,lat,alt_m\n" + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")

        def staged(arrow: bool) -> list:  # type: ignore[type-arg]
            orig = rc.can_stage_table
            rc.can_stage_table = orig if arrow else (lambda cmap: False)  # type: ignore[assignment]
            try:
                return list(rc.iter_csv_staged(path, ReadOptions(core_only=True, chunk_rows=chunk)))
            finally:
                rc.can_stage_table = orig  # type: ignore[assignment]

        fast, ref = staged(True), staged(False)
    assert len(fast) == len(ref)
    for a, b in zip(fast, ref, strict=True):
        pd.testing.assert_frame_equal(a.frame, b.frame, check_exact=True)
        assert (a.rows == b.rows).all() and (a.time_code == b.time_code).all() and a.notes == b.notes
        pd.testing.assert_series_equal(a.time_raw, b.time_raw)
        for k in b.raw:
            pd.testing.assert_series_equal(a.raw[k], b.raw[k])
    va, vb = Validator("t.csv", on_invalid="drop"), Validator("t.csv", on_invalid="drop")
    for a, b in zip(fast, ref, strict=True):
        pd.testing.assert_frame_equal(va.process(a), vb.process(b), check_exact=True)
    assert va.report.summary() == vb.report.summary()
