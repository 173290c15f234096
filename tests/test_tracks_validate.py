"""Validation rules: exact counts per rule, drop vs fail, speed against geographiclib, time-zone handling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from geographiclib.geodesic import Geodesic

from overflight.errors import InputError
from overflight.tracks import ValidationReport, make_tracks, read_tracks, validate_tracks

DATA = Path(__file__).parent / "data" / "tracks"


def test_each_rule_exact_count_drop() -> None:
    df, rep = read_tracks(DATA / "invalid.csv", on_invalid="drop", max_speed_mps=300)
    assert rep.counts == {
        "malformed": 0,
        "bad_coordinate": 3,
        "bad_altitude": 0,
        "bad_time": 2,
        "naive_time": 1,
        "duplicate_time": 1,
        "backwards_time": 1,
        "speed": 1,
    }
    assert rep.total_rows == 14 and rep.rows_kept == 5 and rep.invalid_rows == 9
    assert not rep.ok
    # which lines were flagged (header is line 1)
    rows = {e.rule: [] for e in rep.examples}
    for e in rep.examples:
        rows[e.rule].append(e.row)
    assert rows == {
        "bad_coordinate": [4, 5, 6],
        "bad_time": [7, 8],
        "naive_time": [9],
        "duplicate_time": [11],
        "backwards_time": [12],
        "speed": [13],
    }
    assert list(df.loc[df["track_id"] == "t1", "lon"]) == [10.0, 10.01, 10.04, 10.05]
    frame = rep.to_dataframe()
    assert list(frame.columns) == ["rule", "row", "field", "value", "message"] and len(frame) == 9
    assert "speed: 1" in rep.summary()


def test_fail_names_file_first_row_field_and_counts() -> None:
    with pytest.raises(InputError) as ei:
        read_tracks(DATA / "invalid.csv", max_speed_mps=300)
    e = ei.value
    assert e.file is not None and e.file.endswith("invalid.csv")
    assert e.row == "line 4" and e.field == "lon"
    assert "bad_coordinate=3" in str(e) and "speed=1" in str(e)


def test_speed_rule_without_limit_is_off() -> None:
    _, rep = read_tracks(DATA / "invalid.csv", on_invalid="drop")
    assert rep.counts["speed"] == 0 and rep.rows_kept == 6


def test_normalize_lon_repairs_instead_of_rejecting() -> None:
    df, rep = read_tracks(DATA / "invalid.csv", on_invalid="drop", normalize_lon=True)
    assert rep.counts["bad_coordinate"] == 2  # 190 wraps to -170; NaN and lat 95 still bad
    assert -170.0 in set(df["lon"])


def frame(rows: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["track_id", "time", "lon", "lat"])


def test_speed_threshold_matches_geographiclib() -> None:
    d = Geodesic.WGS84.Inverse(45.0, 10.0, 45.0, 10.1)["s12"]  # lat, lon order
    v = d / 60.0
    f = frame([("a", "2024-01-01T00:00:00Z", 10.0, 45.0), ("a", "2024-01-01T00:01:00Z", 10.1, 45.0)])
    _, rep = validate_tracks(f, max_speed_mps=v * 1.0001, on_invalid="drop")
    assert rep.counts["speed"] == 0
    _, rep = validate_tracks(f, max_speed_mps=v * 0.9999, on_invalid="drop")
    assert rep.counts["speed"] == 1 and rep.examples[0].row == 2


def test_speed_spike_and_bad_first_fix() -> None:
    # B is a spike between two consistent fixes: only B goes
    f = frame(
        [
            ("a", "2024-01-01T00:00:00Z", 10.0, 45.0),
            ("a", "2024-01-01T00:01:00Z", 20.0, 45.0),
            ("a", "2024-01-01T00:02:00Z", 10.02, 45.0),
            ("a", "2024-01-01T00:03:00Z", 10.03, 45.0),
        ]
    )
    out, rep = validate_tracks(f, max_speed_mps=100, on_invalid="drop")
    assert rep.counts["speed"] == 1 and list(out["lon"]) == [10.0, 10.02, 10.03]
    # the first fix is off on its own: it goes, not everything after it
    g = frame(
        [
            ("a", "2024-01-01T00:00:00Z", 20.0, 45.0),
            ("a", "2024-01-01T00:01:00Z", 10.0, 45.0),
            ("a", "2024-01-01T00:02:00Z", 10.01, 45.0),
            ("a", "2024-01-01T00:03:00Z", 10.02, 45.0),
        ]
    )
    out, rep = validate_tracks(g, max_speed_mps=100, on_invalid="drop")
    assert rep.counts["speed"] == 1 and list(out["lon"]) == [10.0, 10.01, 10.02]


def test_duplicates_and_backwards_are_per_track_in_file_order() -> None:
    f = frame(
        [
            ("a", "2024-01-01T00:00:00Z", 1, 1),
            ("b", "2024-01-01T00:00:00Z", 1, 1),  # other track: fine
            ("a", "2024-01-01T00:00:00Z", 1, 1),  # duplicate
            ("a", "2024-01-01T00:02:00Z", 1, 1),
            ("a", "2024-01-01T00:01:00Z", 1, 1),  # backwards
            ("a", "2024-01-01T00:02:00Z", 1, 1),
        ]
    )  # same as latest: duplicate
    out, rep = validate_tracks(f, on_invalid="drop")
    assert rep.counts["duplicate_time"] == 2 and rep.counts["backwards_time"] == 1
    assert len(out) == 3


def test_mixed_offsets_in_one_column_are_fine() -> None:
    f = frame(
        [
            ("a", "2024-06-21T10:00:00+02:00", 1, 1),
            ("a", "2024-06-21T09:00:00.25Z", 1, 1),
            ("a", "2024-06-21 05:30:00-05:00", 1, 1),
            ("a", "2024-06-21T10:31:00 UTC", 1, 1),
        ]
    )
    out, rep = validate_tracks(f)
    assert rep.ok
    assert list(out["time"]) == [
        pd.Timestamp(x, tz="UTC")
        for x in ("2024-06-21 08:00", "2024-06-21 09:00:00.25", "2024-06-21 10:30", "2024-06-21 10:31")
    ]


def test_epoch_milliseconds_are_not_guessed() -> None:
    f = frame([("a", "1718964000000", 1, 1)])
    _, rep = validate_tracks(f, on_invalid="drop")
    assert rep.counts["bad_time"] == 1


def test_dst_gap_time_is_bad_time() -> None:
    f = frame([("a", "2024-03-31 02:30:00", 1, 1)])  # does not exist in Berlin
    _, rep = validate_tracks(f, tz="Europe/Berlin", on_invalid="drop")
    assert rep.counts["bad_time"] == 1


def test_unknown_tz_is_input_error() -> None:
    with pytest.raises(InputError, match="time zone"):
        validate_tracks(frame([("a", "2024-01-01 00:00", 1, 1)]), tz="Mars/Olympus")


def test_make_tracks_coerces_and_checks() -> None:
    raw = pd.DataFrame(
        {
            "track_id": [2, 1],
            "time": ["2024-01-01T00:01:00+01:00", "2024-01-01T00:00:00Z"],
            "lon": ["1.5", 2],
            "lat": [3, 4],
            "x": ["p", "q"],
        }
    )
    t = make_tracks(raw)
    assert list(t.columns) == ["track_id", "time", "lon", "lat", "alt_m", "x"]
    assert list(t["track_id"]) == ["1", "2"] and t["time"].iloc[1] == pd.Timestamp("2023-12-31 23:01", tz="UTC")
    with pytest.raises(InputError) as ei:
        make_tracks(raw.assign(lat=[3, 91]))
    assert ei.value.row == 2
    with pytest.raises(InputError, match="lon"):
        make_tracks(raw.drop(columns=["lon"]))


def test_report_is_a_dataclass_with_zero_counts_when_clean() -> None:
    _, rep = read_tracks(DATA / "basic.csv")
    assert isinstance(rep, ValidationReport) and rep.ok and set(rep.counts.values()) == {0}
    assert rep.to_dataframe().empty


@pytest.mark.parametrize("seed", range(4))
def test_prev_max_pass_is_the_row_by_row_rule(seed: int) -> None:
    from overflight.tracks.validate import _NAT, _prev_max

    rng = np.random.default_rng(seed)
    n, k = 500, 20
    codes = rng.integers(0, k, n)
    t = rng.integers(0, 50, n).astype(np.int64) * 10**9
    uniq = np.array([f"T{i}" for i in range(k)], dtype=object)
    carried = {f"T{i}": int(rng.integers(0, 50)) * 10**9 for i in range(0, k, 3)}
    prev, run = _prev_max(codes, t, uniq, carried)
    # Row by row in file order: every row meets the latest earlier time of its track, the carried time from
    # earlier chunks included (a track's first row of the chunk meets the carried time alone).
    want_prev, want_run = [], {}
    for c, tv in zip(codes.tolist(), t.tolist(), strict=True):
        have = carried.get(f"T{c}", _NAT)
        want_prev.append(have if c not in want_run else max(have, want_run[c]))
        want_run[c] = max(want_run.get(c, tv), tv)
    assert prev.tolist() == want_prev
    assert run.tolist() == [want_run.get(c, _NAT) for c in range(k)]
