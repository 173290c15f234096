"""Writers (round trips), streaming in chunks, property tests on the parsers, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from overflight.cli import tracks as cli_tracks
from overflight.errors import InputError
from overflight.tracks import iter_csv_chunks, make_tracks, read_tracks, write_tracks

DATA = Path(__file__).parent / "data" / "tracks"


def sample() -> pd.DataFrame:
    return make_tracks(
        pd.DataFrame(
            {
                "track_id": ["a", "a", "a", "b"],
                "time": pd.to_datetime(
                    [
                        "2024-06-21T10:00:00Z",
                        "2024-06-21T10:00:01.123456789Z",
                        "2024-06-21T10:05:00Z",
                        "2024-06-21T11:00:00Z",
                    ],
                    utc=True,
                    format="ISO8601",
                ),
                "lon": [179.9, -179.95, -179.5, 0.123456789012],
                "lat": [10.0, 10.1, 10.2, -45.987654321098],
                "alt_m": [1000.5, 1001.0, 1002.0, np.nan],
            }
        )
    )


@pytest.mark.parametrize("suffix", [".csv", ".geojson", ".kml", ".parquet"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    df = sample()
    p = tmp_path / f"out{suffix}"
    write_tracks(df, p)
    back, rep = read_tracks(p)
    assert rep.ok
    pd.testing.assert_frame_equal(back[["track_id", "time", "lon", "lat", "alt_m"]], df)


def test_geojson_lines_round_trip(tmp_path: Path) -> None:
    df = sample()
    p = tmp_path / "lines.geojson"
    write_tracks(df, p, geojson_mode="lines")
    doc = json.loads(p.read_text())
    kinds = [f["geometry"]["type"] for f in doc["features"]]
    assert kinds == ["LineString", "Point"]
    assert doc["features"][0]["properties"]["times"][1] == "2024-06-21T10:00:01.123456789Z"
    back, _ = read_tracks(p)
    pd.testing.assert_frame_equal(back[["track_id", "time", "lon", "lat", "alt_m"]], df)


def test_kml_is_gx_track_with_when(tmp_path: Path) -> None:
    p = tmp_path / "t.kml"
    write_tracks(sample(), p)
    root = ET.parse(p).getroot()
    gx = "{http://www.google.com/kml/ext/2.2}"
    tracks = root.findall(f".//{gx}Track")
    assert len(tracks) == 2
    whens = [w.text for w in tracks[0].findall("{http://www.opengis.net/kml/2.2}when")]
    assert whens[0] == "2024-06-21T10:00:00.000000000Z"
    assert tracks[0].find(f"{gx}coord").text == "179.9 10.0 1000.5"  # type: ignore[union-attr]


def test_geoparquet_metadata(tmp_path: Path) -> None:
    p = tmp_path / "t.parquet"
    write_tracks(sample(), p)
    meta = json.loads(pq.read_schema(p).metadata[b"geo"])
    assert meta["primary_column"] == "geometry" and meta["columns"]["geometry"]["encoding"] == "WKB"
    gpd = pytest.importorskip("geopandas")
    g = gpd.read_parquet(p)
    assert g.geometry.x.iloc[3] == 0.123456789012


def test_plain_parquet_with_lon_lat(tmp_path: Path) -> None:
    p = tmp_path / "plain.parquet"
    pd.DataFrame(
        {
            "icao24": ["x"],
            "timestamp": pd.to_datetime(["2024-01-01 05:00"]).tz_localize("Asia/Tashkent"),
            "lng": [70.0],
            "latitude": [45.0],
        }
    ).to_parquet(p)
    df, _ = read_tracks(p)
    assert df["time"].iloc[0] == pd.Timestamp("2024-01-01 00:00", tz="UTC")
    assert df["track_id"].iloc[0] == "x" and df["lon"].iloc[0] == 70.0


def test_streaming_200k_rows_in_50k_chunks(tmp_path: Path) -> None:
    n = 200_000
    rng = np.random.default_rng(7)
    ids = rng.integers(0, 300, n)
    t0 = np.datetime64("2024-06-21T00:00:00", "s")
    t = t0 + np.arange(n).astype("timedelta64[s]")
    p = tmp_path / "big.csv"
    pd.DataFrame(
        {
            "track_id": [f"T{i}" for i in ids],
            "time": np.char.add(t.astype(str), "Z"),
            "lon": rng.uniform(-180, 180, n).round(6),
            "lat": rng.uniform(-90, 90, n).round(6),
            "speed": rng.uniform(0, 300, n).round(2),
        }
    ).to_csv(p, index=False)
    whole, rep_whole = read_tracks(p)
    chunks = iter_csv_chunks(p, chunk_rows=50_000)
    parts = list(chunks)
    assert [len(x) for x in parts] == [50_000] * 4
    streamed = make_tracks(pd.concat(parts, ignore_index=True))
    pd.testing.assert_frame_equal(streamed, whole)
    assert chunks.report.total_rows == rep_whole.total_rows == n
    chunked, _ = read_tracks(p, chunk_rows=50_000)
    pd.testing.assert_frame_equal(chunked, whole)


def test_streaming_carries_track_state_across_chunks(tmp_path: Path) -> None:
    p = tmp_path / "s.csv"
    p.write_text(
        "id,time,lon,lat\na,2024-01-01T00:00:10Z,1,1\na,2024-01-01T00:00:05Z,1,1\n"
        "a,2024-01-01T00:00:10Z,1,1\na,2024-01-01T00:00:20Z,1,1\n"
    )
    chunks = iter_csv_chunks(p, chunk_rows=1, on_invalid="drop")
    out = pd.concat(list(chunks))
    assert chunks.report.counts["backwards_time"] == 1 and chunks.report.counts["duplicate_time"] == 1
    assert len(out) == 2


# --- property tests -------------------------------------------------------------------------------------

finite_lon = st.floats(-180, 180, allow_nan=False)
finite_lat = st.floats(-90, 90, allow_nan=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c d", "x,y"]),
            st.integers(0, 4_000_000_000_000_000_000),
            finite_lon,
            finite_lat,
            st.one_of(st.none(), st.floats(-500, 20000, allow_nan=False)),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_csv_round_trip_random(tmp_path: Path, rows: list[tuple[str, int, float, float, float | None]]) -> None:
    df = pd.DataFrame(rows, columns=["track_id", "time", "lon", "lat", "alt_m"])
    df["time"] = pd.to_datetime(df["time"], unit="ns", utc=True)
    df["alt_m"] = df["alt_m"].astype("float64")
    df = df.drop_duplicates(["track_id", "time"])
    table = make_tracks(df)
    p = tmp_path / "rt.csv"
    write_tracks(table, p)
    back, rep = read_tracks(p)
    assert rep.ok
    assert list(back["track_id"]) == list(table["track_id"])
    assert (back["time"].to_numpy() == table["time"].to_numpy()).all()  # exact to the nanosecond
    assert np.allclose(back["lon"], table["lon"], atol=1e-9, rtol=0)
    assert np.allclose(back["lat"], table["lat"], atol=1e-9, rtol=0)
    assert np.allclose(back["alt_m"], table["alt_m"], equal_nan=True)


garbage_line = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\n\r\x00"), max_size=80),
    st.lists(
        st.sampled_from(
            ["MSG", "3", "1", "ABC123", "2024/06/21", "13:00:00.000", "", "-1", "51.5", "x", "999", '"', "nan", "-0.1"]
        ),
        min_size=1,
        max_size=25,
    ).map(",".join),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(garbage_line, min_size=1, max_size=12), st.booleans())
def test_garbage_to_sbs_and_csv_only_input_error(tmp_path: Path, lines: list[str], drop: bool) -> None:
    body = "\n".join(lines) + "\n"
    sbs = tmp_path / "g.sbs"
    sbs.write_text((DATA / "basestation.sbs").read_text() + body, encoding="utf-8")
    csvp = tmp_path / "g.csv"
    csvp.write_text("id,time,lon,lat\n" + body, encoding="utf-8")
    for p, kw in ((sbs, {"tz": "UTC"}), (csvp, {})):
        try:
            df, rep = read_tracks(p, on_invalid="drop" if drop else "fail", max_speed_mps=400, **kw)
        except InputError:
            continue
        assert rep.rows_kept == len(df) and rep.rows_kept + rep.invalid_rows == rep.total_rows


# --- CLI ------------------------------------------------------------------------------------------------


def cli_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """root"""

    cli_tracks.register(app)
    return app


def test_cli_validate_and_convert(tmp_path: Path) -> None:
    runner = CliRunner()
    app = cli_app()
    r = runner.invoke(app, ["tracks", "validate", str(DATA / "invalid.csv"), "--max-speed", "300mps"])
    assert r.exit_code == 1
    assert "bad_coordinate" in r.output and "backwards_time" in r.output
    r = runner.invoke(app, ["tracks", "validate", str(DATA / "basic.csv")])
    assert r.exit_code == 0, r.output
    out = tmp_path / "o.kml"
    r = runner.invoke(
        app, ["tracks", "convert", str(DATA / "basestation.sbs"), "-o", str(out), "--tz", "UTC", "--drop"]
    )
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())  # rich wraps long lines
    assert "4 fixes of 2 tracks" in text and "1 invalid rows dropped" in text
    back, _ = read_tracks(out)
    assert len(back) == 4
    r = runner.invoke(app, ["tracks", "convert", str(DATA / "invalid.csv"), "-o", str(tmp_path / "x.csv")])
    assert isinstance(r.exception, InputError) and "line 4" in str(r.exception)


@pytest.mark.parametrize("odd", [False, True])
def test_write_visits_writes_what_pandas_writes(tmp_path: Path, odd: bool) -> None:
    from overflight.tracks.writers import write_visits

    t = pd.to_datetime(["2024-06-21T00:00:00.5Z", "2024-06-21T00:00:01.5Z", "2024-06-21T23:59:59.7Z", None],
                       utc=True).as_unit("ns")
    v = pd.DataFrame({"track_id": pd.Series(["a", "b", "c", "d"], dtype="str"),
                      "zone_id": pd.Series(["RUS", None, "KAZ", "UKR"], dtype="str"),
                      "entry_time": t, "entry_lon": [0.1, -0.0, np.nan, 1e-9],
                      "exit_lat": [np.inf, 1.23456785, -2.5, 3.0],
                      "observed": [True, False, True, False]})
    if odd:  # values that need quotes, and a column type of its own
        v.loc[1, "track_id"] = 'x,"y"'
        v["n"] = [1, 2, 3, 4]
    write_visits(v, tmp_path / "fast.csv")
    ref = v.copy()  # the reference: pandas' own writer with the documented rules
    ref["entry_time"] = ref["entry_time"].dt.round("s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    ref.to_csv(tmp_path / "ref.csv", index=False, float_format="%.7f")
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "ref.csv").read_bytes()
