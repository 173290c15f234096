"""Each track reader on a small hand-written fixture with hand-known UTC times and positions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from overflight.errors import InputError
from overflight.tracks import TRACK_COLUMNS, read_tracks

DATA = Path(__file__).parent / "data" / "tracks"


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


def check_canonical(df: pd.DataFrame) -> None:
    assert list(df.columns[:5]) == list(TRACK_COLUMNS)
    assert str(df["time"].dtype) == "datetime64[ns, UTC]"
    assert df["lon"].dtype == np.float64 and df["lat"].dtype == np.float64 and df["alt_m"].dtype == np.float64
    assert list(df.index) == list(range(len(df)))
    key = list(zip(df["track_id"], df["time"], strict=True))
    assert key == sorted(key)


def test_csv_autodetect_offsets_epoch_feet() -> None:
    df, rep = read_tracks(DATA / "basic.csv")
    check_canonical(df)
    assert rep.ok and rep.total_rows == 5 and rep.rows_kept == 5
    assert list(df["track_id"]) == ["AB1", "AB1", "AB1", "CD2", "CD2"]
    # Z, +03:00 and -04:30 offsets all land on 10:00, 10:01, 10:02 UTC
    assert list(df["time"]) == [
        ts("2024-06-21 10:00"),
        ts("2024-06-21 10:01"),
        ts("2024-06-21 10:02"),
        ts("2024-06-21 10:00"),
        ts("2024-06-21 10:01:00.5"),
    ]
    assert df["alt_m"].iloc[0] == pytest.approx(304.8)  # alt_ft column read as feet
    assert np.isnan(df["alt_m"].iloc[3])
    assert df["lon"].iloc[4] == -120.6 and df["lat"].iloc[4] == 35.3
    assert df["squawk"].iloc[0] == "0421"  # codes stay text
    assert df["speed"].iloc[1] == 101.0


def test_csv_naive_times_need_tz() -> None:
    with pytest.raises(InputError) as ei:
        read_tracks(DATA / "naive.csv")
    msg = str(ei.value)
    assert "naive.csv" in msg and "line 2" in msg and "naive_time=2" in msg
    df, _rep = read_tracks(DATA / "naive.csv", tz="Europe/Berlin")  # CEST, +02:00 in June
    assert list(df["time"]) == [ts("2024-06-21 10:00"), ts("2024-06-21 10:01"), ts("2024-06-21 10:02")]
    df, _ = read_tracks(DATA / "naive.csv", tz="+05:00")
    assert df["time"].iloc[0] == ts("2024-06-21 07:00")


def test_csv_column_mapping_and_missing_columns(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_text("who,when_utc,E,N,h\nx,2024-01-01T00:00:00Z,1.5,2.5,100\n")
    df, _ = read_tracks(p, id_col="who", time_col="when_utc", lon_col="E", lat_col="N", alt_col="h", alt_unit="ft")
    assert df["track_id"].iloc[0] == "x" and df["lon"].iloc[0] == 1.5 and df["lat"].iloc[0] == 2.5
    assert df["alt_m"].iloc[0] == pytest.approx(30.48)
    with pytest.raises(InputError) as ei:
        read_tracks(p)
    msg = str(ei.value)
    assert "m.csv" in msg and "longitude" in msg and "who, when_utc, E, N, h" in msg


def test_opensky_csv() -> None:
    df, rep = read_tracks(DATA / "opensky_states.csv")
    check_canonical(df)
    assert rep.ok
    sw = df[df["track_id"] == "4b1805"]
    # second row has no time_position: falls back to last_contact
    assert list(sw["time"]) == [ts("2024-06-21 10:00:00"), ts("2024-06-21 10:00:10")]
    assert sw["alt_m"].iloc[0] == 10972.8  # baro_altitude is metres
    assert df.loc[df["track_id"] == "3c6444", "lon"].iloc[0] == 13.4
    assert df["squawk"].iloc[0] == "2000"


def test_opensky_json() -> None:
    df, rep = read_tracks(DATA / "opensky_states.json")
    assert rep.ok and rep.notes == {"states without position": 1}
    assert list(df["track_id"]) == ["3c6444", "4b1805"]
    assert df["time"].iloc[0] == ts("2024-06-21 10:00:06")  # last_contact fallback
    assert df["time"].iloc[1] == ts("2024-06-21 10:00:00")
    assert df["callsign"].iloc[1] == "SWR5KM"


def test_geojson_points() -> None:
    df, rep = read_tracks(DATA / "points.geojson")
    assert rep.ok
    d1 = df[df["track_id"] == "drone-1"]
    assert list(d1["time"]) == [ts("2024-06-21 00:00"), ts("2024-06-21 00:10")]
    assert d1["alt_m"].iloc[0] == 150.0 and np.isnan(d1["alt_m"].iloc[1])
    assert list(d1["source"]) == ["sighting", "radar"]
    d2 = df[df["track_id"] == "drone-2"]  # id from the feature id, epoch time
    assert d2["time"].iloc[0] == ts("2024-06-21 00:00") and d2["lon"].iloc[0] == 51.37


def test_geojson_lines_and_bad_times_array() -> None:
    with pytest.raises(InputError) as ei:
        read_tracks(DATA / "lines.geojson")
    assert "feature 2" in str(ei.value) and "malformed" in str(ei.value)
    df, rep = read_tracks(DATA / "lines.geojson", on_invalid="drop")
    assert rep.counts["malformed"] == 1 and rep.rows_kept == 2
    assert list(df["lon"]) == [179.5, -179.5] and list(df["alt_m"]) == [1000.0, 1100.0]
    assert list(df["time"]) == [ts("2024-06-21 00:00"), ts("2024-06-21 00:30")]


def test_gpx() -> None:
    df, rep = read_tracks(DATA / "track.gpx")
    check_canonical(df)
    assert rep.ok and rep.total_rows == 4
    f7 = df[df["track_id"] == "Flight 7"]
    assert list(f7["time"]) == [ts("2024-06-21 18:00"), ts("2024-06-21 18:05"), ts("2024-06-21 18:10")]
    assert list(f7["lat"]) == [51.1, 51.2, 51.3] and f7["alt_m"].iloc[0] == 350.5
    assert df[df["track_id"] == "track-2"]["lat"].iloc[0] == -33.9


def test_kml_gx_track_and_points() -> None:
    df, rep = read_tracks(DATA / "track.kml")
    assert rep.ok
    a = df[df["track_id"] == "UAV-A"]
    assert list(a["lon"]) == [46.0, 46.2] and list(a["alt_m"]) == [300.0, 320.0]
    assert list(a["time"]) == [ts("2024-06-21 20:00"), ts("2024-06-21 20:10")]
    b = df[df["track_id"] == "UAV-B"]  # folder name
    assert list(b["time"]) == [ts("2024-06-21 20:00"), ts("2024-06-21 20:30")]
    assert list(b["lon"]) == [44.5, 44.6]


def test_readsb_snapshots_directory_and_list() -> None:
    df, rep = read_tracks(DATA / "readsb")
    assert rep.ok
    assert rep.notes == {"aircraft without position": 1, "unchanged position in a later snapshot": 1}
    r = df[df["track_id"] == "4ca2d6"]
    assert list(r["time"]) == [ts("2024-06-21 09:59:59.5"), ts("2024-06-21 10:00:01")]
    assert r["alt_m"].iloc[0] == pytest.approx(37000 * 0.3048)
    assert r["callsign"].iloc[0] == "RYR4TX"
    g = df[df["track_id"] == "3c6586"]
    assert len(g) == 1 and bool(g["on_ground"].iloc[0]) and np.isnan(g["alt_m"].iloc[0])
    df2, _ = read_tracks(sorted((DATA / "readsb").glob("*.json")))
    pd.testing.assert_frame_equal(df, df2)


def test_sbs_realistic_lines() -> None:
    with pytest.raises(InputError) as ei:
        read_tracks(DATA / "basestation.sbs")
    assert "tz" in str(ei.value)
    with pytest.raises(InputError) as ei:
        read_tracks(DATA / "basestation.sbs", tz="Europe/London")
    assert "line 9" in str(ei.value) and "malformed" in str(ei.value)
    df, rep = read_tracks(DATA / "basestation.sbs", tz="Europe/London", on_invalid="drop")  # BST = UTC+1
    assert rep.counts["malformed"] == 1 and rep.examples[0].row == 9
    assert rep.notes["messages without position"] == 5  # MSG 1, 4, 6, 5 and the AIR record
    a = df[df["track_id"] == "4ca2d6"]
    assert list(a["time"]) == [ts("2024-06-21 12:00:01"), ts("2024-06-21 12:00:11")]
    assert list(a["lon"]) == [-0.1, -0.14] and a["alt_m"].iloc[1] == pytest.approx(37025 * 0.3048)
    assert list(a["callsign"]) == ["RYR4TX", "RYR4TX"]  # carried forward from MSG,1
    assert pd.isna(a["squawk"].iloc[0]) and a["squawk"].iloc[1] == "2341"  # MSG,6 came in between
    s = df[df["track_id"] == "3c6586"]
    assert list(s["time"]) == [ts("2024-06-21 12:00:05.25"), ts("2024-06-21 12:00:20")]
    assert list(s["on_ground"]) == [False, True] and list(s["msg_type"]) == [3, 2]


def test_truncated_json_and_xml(tmp_path: Path) -> None:
    text = (DATA / "points.geojson").read_text()
    p = tmp_path / "cut.geojson"
    p.write_text(text[: len(text) // 2])
    with pytest.raises(InputError) as ei:
        read_tracks(p)
    assert "cut.geojson" in str(ei.value) and "line" in str(ei.value)
    g = (DATA / "track.gpx").read_text()
    q = tmp_path / "cut.gpx"
    q.write_text(g[: len(g) // 2])
    with pytest.raises(InputError) as ei:
        read_tracks(q)
    assert "cut.gpx" in str(ei.value) and "line" in str(ei.value)


def test_xml_entities_refused(tmp_path: Path) -> None:
    p = tmp_path / "bomb.gpx"
    p.write_text('<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY a "aaaa">]><gpx>&a;</gpx>')
    with pytest.raises(InputError, match="DOCTYPE"):
        read_tracks(p)


def test_truncated_csv_line(tmp_path: Path) -> None:
    p = tmp_path / "cut.csv"
    p.write_text("id,time,lon,lat\na,2024-06-21T10:00:00Z,1,2\na,2024-06-21T10:0")
    with pytest.raises(InputError) as ei:
        read_tracks(p)
    assert "cut.csv" in str(ei.value) and "line 3" in str(ei.value)
    df, rep = read_tracks(p, on_invalid="drop")
    assert len(df) == 1 and rep.counts["malformed"] == 1


def test_whole_file_formats_refuse_files_too_large_to_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A sparse 2 GB GeoJSON: refused from its size before any byte is parsed, with the way out named.
    big = tmp_path / "big.geojson"
    with open(big, "wb") as fh:
        fh.truncate(2_000_000_000)
    with pytest.raises(InputError) as ei:
        read_tracks(big)
    msg = str(ei.value)
    assert "big.geojson" in msg and "2,000 MB" in msg and "CSV or Parquet" in msg
    # The limit is an environment setting; under it the file is read as usual.
    gpx = DATA / "track.gpx"
    monkeypatch.setenv("OVERFLIGHT_MAX_WHOLE_FILE_MB", str(gpx.stat().st_size / 2e6))
    with pytest.raises(InputError, match=r"track\.gpx.*OVERFLIGHT_MAX_WHOLE_FILE_MB"):
        read_tracks(gpx)
    monkeypatch.setenv("OVERFLIGHT_MAX_WHOLE_FILE_MB", "1")
    assert len(read_tracks(gpx)[0]) > 0
