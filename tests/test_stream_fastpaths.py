"""Fast paths of the streaming readers and the densification give what the general paths give."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import overflight.tracks.table as table
from overflight.geodesy import GEOD, densify_segments
from overflight.tracks.table import _ISO_AWARE, _zulu_iso, parse_times

GOOD = ["2024-05-01T12:00:00Z", "2024-05-01 23:59:59Z", "1999-12-31T00:00:00.5Z", "2024-02-29T12:34:56.123456789Z",
        "2024-10-31T09:08:07.123Z"]


def _mutations(s: str) -> list[str]:
    out = []
    for i in range(len(s)):
        for ch in "0159:-.TZz +\u00e9a\x00":
            out.append(s[:i] + ch + s[i + 1:])
    out += [s + " ", " " + s, s[:-1], s + "Z", s.replace("Z", "+00:00")]
    return out


@pytest.mark.parametrize("good", GOOD)
def test_zulu_check_is_the_regex(good: str) -> None:
    """Whatever one value looks like, the byte test says True only where the regex matches (and for all good)."""
    rx = re.compile(_ISO_AWARE)
    assert _zulu_iso(pa.array([good]))
    for s in _mutations(good):
        if _zulu_iso(pa.array([s])):
            assert rx.match(s), s
    # months, days, hours, minutes and seconds at and beyond their ranges
    for pos, vals in ((5, ("00", "01", "12", "13", "19")), (8, ("00", "01", "31", "32", "39")),
                      (11, ("00", "23", "24", "29")), (14, ("59", "60", "99")), (17, ("59", "60", "99"))):
        for v in vals:
            s = good[:pos] + v + good[pos + 2:]
            assert _zulu_iso(pa.array([s])) == bool(rx.match(s)), s


def test_zulu_check_whole_columns() -> None:
    col = pa.array(["2024-05-01T12:00:00.25Z", None, "2024-05-01T12:00:01.50Z"])
    assert _zulu_iso(col)  # nulls are missing, not a mismatch
    assert _zulu_iso(col.slice(1))
    assert not _zulu_iso(pa.array(["2024-05-01T12:00:00.25Z", "2024-05-01T12:00:01.5Z"]))  # two widths: regex
    assert not _zulu_iso(pa.array(["2024-05-01T12:00:00.25Z", "2024-05-01T12:00:01.5+"]))
    assert not _zulu_iso(pa.array([None, None], pa.string()))
    assert not _zulu_iso(pa.array(["2024-05-01T12:00:00Z", ""]))


def test_parse_times_same_with_and_without_the_byte_test(monkeypatch: pytest.MonkeyPatch) -> None:
    vals = ["2024-05-01T12:00:00.250000Z", None, "2024-02-30T12:00:01.000000Z", "1850-01-01T00:00:00.000000Z",
            "2024-05-01T12:00:01.500000Z"]
    s = pd.Series(pa.array(vals).to_pandas(), dtype="str")
    assert _zulu_iso(pa.array(vals))
    fast_t, fast_c = parse_times(s)
    monkeypatch.setattr(table, "_zulu_iso", lambda arr: False)
    slow_t, slow_c = parse_times(s)
    pd.testing.assert_series_equal(fast_t, slow_t)
    assert np.array_equal(fast_c, slow_c)
    assert fast_c.tolist() == [0, 1, 1, 1, 0]  # Feb 30 and 1850 are bad times either way


def test_densify_one_piece_segments_as_before() -> None:
    """All segments shorter than the step: the segments themselves, as the general path gives them."""
    rng = np.random.default_rng(1)
    x1 = rng.uniform(-10, 10, 1000)
    y1 = rng.uniform(40, 50, 1000)
    x2, y2 = x1 + 0.01, y1 - 0.01
    short = densify_segments(x1, y1, x2, y2, 5000.0)
    x2b = x2.copy()
    x2b[0] = x1[0] + 1.0  # one long segment: the general path
    mixed = densify_segments(x1, y1, x2b, y2, 5000.0)
    keep = mixed[4] != 0
    for a, b in zip(short, mixed, strict=True):
        assert a.dtype == b.dtype
    for k in range(4):
        assert np.array_equal(short[k][1:], mixed[k][keep])
    assert np.array_equal(short[4][1:], mixed[4][keep])
    assert np.array_equal(short[5][1:], mixed[5][keep]) and np.array_equal(short[6][1:], mixed[6][keep])
    assert short[4].tolist() == list(range(1000))
    _, _, d = GEOD.inv(x1, y1, x2, y2)
    again = densify_segments(x1, y1, x2, y2, 5000.0, az=np.full(1000, np.nan), dist=d)
    for a, b in zip(short, again, strict=True):
        assert np.array_equal(a, b)


def test_fixed7_is_printf() -> None:
    """The column-wise "%.7f" is Python's "%.7f", byte for byte, also next to halves and at the edges."""
    from overflight.tracks.writers import fixed7

    rng = np.random.default_rng(4)
    vals = np.concatenate([
        rng.uniform(-180, 180, 50_000), rng.uniform(0, 1e7, 20_000), rng.normal(0, 1e-7, 5_000),
        np.round(rng.uniform(-100, 100, 5_000), 7) + 5e-8,  # next to a half in the 8th decimal
        np.arange(-20, 20) * 0.5e-7,
        [0.0, -0.0, np.nan, np.inf, -np.inf, 4e8, -4e8 - 0.123, 1e300, -1e-320, 123.45678905, 2.0 ** 52],
    ])
    got = fixed7(vals).to_pylist()
    want = ["" if v != v else "%.7f" % v for v in vals.tolist()]  # noqa: UP031
    assert got == want


def test_iso_seconds_is_numpy() -> None:
    from overflight.tracks.writers import _iso_seconds

    rng = np.random.default_rng(5)
    ns = rng.integers(pd.Timestamp("1900-01-01").value, pd.Timestamp("2199-12-31").value, 20_000)
    secs = (ns // 10**9).astype("datetime64[s]")
    secs[:3] = np.array(["2000-02-29T23:59:59", "1900-03-01T00:00:00", "2024-12-31T23:59:59"], dtype="datetime64[s]")
    nat = np.zeros(len(secs), dtype=bool)
    nat[5] = True
    secs[5] = np.datetime64("NaT")
    got = _iso_seconds(secs, nat)
    assert got is not None
    want = np.where(nat, "", np.char.add(np.datetime_as_string(secs, unit="s"), "Z")).tolist()
    assert got.to_pylist() == want
    assert _iso_seconds(np.array(["12000-01-01T00:00:00"], dtype="datetime64[s]"), np.zeros(1, bool)) is None


def test_write_visits_as_pandas(tmp_path: object) -> None:
    """The column-wise visit writer gives the text of pandas' to_csv(float_format="%.7f") (times to the second)."""
    from pathlib import Path

    from overflight.tracks.writers import write_visits

    rng = np.random.default_rng(6)
    n = 500
    t = pd.Series(pd.to_datetime(rng.integers(1.7e18, 1.8e18, n), utc=True))
    v = pd.DataFrame({"track_id": [f"T{i % 7}" for i in range(n)], "entry_time": t,
                      "entry_lon": rng.uniform(-180, 180, n),
                      "distance_m": rng.uniform(0, 1e6, n), "observed": rng.random(n) > 0.5})
    v.loc[3, "entry_lon"] = np.nan
    v.loc[4, "entry_time"] = pd.NaT
    out = Path(str(tmp_path)) / "v.csv"
    write_visits(v, out)
    ref = v.copy()
    ref["entry_time"] = ref["entry_time"].dt.round("s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    ref_path = Path(str(tmp_path)) / "ref.csv"
    ref.to_csv(ref_path, index=False, float_format="%.7f")
    assert out.read_bytes() == ref_path.read_bytes()


def test_group_cummax_as_pandas() -> None:
    from overflight.tracks.validate import _group_cummax

    rng = np.random.default_rng(8)
    g = np.sort(rng.integers(0, 300, 20_000))
    first = np.r_[True, g[1:] != g[:-1]]
    for v in (rng.integers(1.7e18, 1.71e18, len(g)), rng.integers(-2**62, 2**62, len(g))):  # lifted; pandas
        want = pd.Series(v).groupby(g, sort=False).cummax().to_numpy()
        assert np.array_equal(_group_cummax(v, first), want)
    assert len(_group_cummax(np.zeros(0, np.int64), np.zeros(0, bool))) == 0


def test_categorical_ids_arrow_as_pandas_path() -> None:
    """Ids from a Parquet dictionary column: as the pandas Categorical path makes them (trim, blank, null)."""
    import pyarrow as pa

    from overflight.tracks._stage import _categorical_ids, categorical_ids_arrow

    cases: list[list[str | None]] = [["a", "b", " a", "", None, "c ", "b"], ["x", "y", "x"], [None, None], [],
                                     ["  ", "z"]]
    for vals in cases:
        arr = pa.array(vals, pa.string()).dictionary_encode()
        for _ in range(2):  # the second time from the plan held for the dictionary
            got = categorical_ids_arrow(pa.chunked_array([arr], type=arr.type), "FILE")
            want = _categorical_ids(pd.Series(arr.to_pandas()), "FILE")
            assert got is not None
            assert got[1] == want[1]
            assert got[0].astype(object).tolist() == want[0].astype(object).tolist()
            assert list(got[0].cat.categories) == list(want[0].cat.categories)
    assert categorical_ids_arrow(pa.chunked_array([pa.array(["a"])]), "FILE") is None  # not dictionary-encoded


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=50))
def test_fixed7_is_printf_for_any_floats(vals: list[float]) -> None:
    """Any floats (hypothesis reaches subnormals, huge values and exact halves): the same text as "%.7f"."""
    from overflight.tracks.writers import fixed7

    got = fixed7(np.array(vals, dtype=np.float64)).to_pylist()
    assert got == ["" if v != v else "%.7f" % v for v in vals]  # noqa: UP031
