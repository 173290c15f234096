"""Chunked transit gives the same visits as a whole-table run; the CLI streams a CSV and writes its outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from overflight.analysis.transit import transit
from overflight.analysis.transit_stream import transit_chunks
from overflight.boundaries import load

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _synth_tracks import synth_tracks


@pytest.fixture(scope="module")
def fixes() -> pd.DataFrame:
    # 300k fixes of 300 tracks over Europe, Africa and Asia, rows in time order (tracks interleaved as in a
    # live feed) so every chunk holds pieces of many tracks and visits stay open across chunk borders.
    return synth_tracks(300_000, 300, seed=7)


@pytest.fixture(scope="module")
def zones():  # type: ignore[no-untyped-def]
    return load("ne-admin0")


def test_chunked_equals_whole(fixes: pd.DataFrame, zones) -> None:  # type: ignore[no-untyped-def]
    whole = transit(fixes, zones)
    seen: list[int] = []
    chunked = transit_chunks((fixes.iloc[i:i + 50_000] for i in range(0, len(fixes), 50_000)), zones,
                             on_chunk=lambda rows, visits: seen.append(rows))
    assert seen == [50_000] * 6
    assert len(whole.visits) > 1000  # the comparison is not vacuous
    # Visits open across chunk borders exist: some visit spans a chunk border in time.
    borders = fixes["time"].iloc[np.arange(50_000, 300_000, 50_000)].to_numpy()
    v = whole.visits
    spans = ((v["entry_time"].to_numpy()[:, None] < borders) & (v["exit_time"].to_numpy()[:, None] > borders)).any()
    assert spans
    # Everything is bit-identical except the path length, a running sum whose rounding (pandas' compensated
    # cumulative sum) may differ in the last digits: compare it to 1e-6 m.
    cols = [c for c in whole.visits.columns if c != "distance_m"]
    pd.testing.assert_frame_equal(whole.visits[cols], chunked.visits[cols], check_exact=True)
    np.testing.assert_allclose(whole.visits["distance_m"], chunked.visits["distance_m"], rtol=0, atol=1e-6)
    pd.testing.assert_frame_equal(whole.summary, chunked.summary)
    assert chunked.provenance["parameters"]["n_fixes"] == 300_000


def test_out_of_order_chunks_are_an_input_error(fixes: pd.DataFrame, zones) -> None:  # type: ignore[no-untyped-def]
    from overflight.errors import InputError

    late, early = fixes.iloc[100:200], fixes.iloc[:100]
    with pytest.raises(InputError, match="back in time"):
        transit_chunks([late, early], zones)


def test_cli_streams_csv(tmp_path: Path, fixes: pd.DataFrame, zones) -> None:  # type: ignore[no-untyped-def]
    from overflight.cli.transit import register

    small = fixes[fixes["track_id"].isin([f"T{i}" for i in range(40)])].copy()
    src = tmp_path / "tracks.csv"
    out = small.assign(time=small["time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    out.to_csv(src, index=False)
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command keeps `transit` a subcommand
    res = CliRunner().invoke(app, ["transit", str(src), "--zones", "ne-admin0", "-o", str(tmp_path / "v.csv"),
                                   "--summary", str(tmp_path / "s.csv"), "--chunk-rows", "7000", "--max-gap", "5min"])
    assert res.exit_code == 0, res.output
    assert "ne-admin0" in res.output and "land" in res.output
    got = pd.read_csv(tmp_path / "v.csv")
    from overflight.analysis.crossing_times import bracket_visits

    ref = bracket_visits(transit(small, zones, max_gap="5min").visits, small, 300.0)
    assert list(got.columns) == list(ref.columns)
    assert len(got) == len(ref) > 0
    assert (got["zone_id"].to_numpy() == ref["zone_id"].to_numpy()).all()
    t = pd.to_datetime(got["entry_time"], utc=True)
    assert (abs(t - ref["entry_time"]) <= pd.Timedelta(milliseconds=500)).all()  # written to the second
    # The bracketing fixes found over 7000-row chunks are those of the whole table (fix times are whole seconds).
    for c in ("entry_before_time", "entry_after_time", "exit_before_time", "exit_after_time"):
        assert (pd.to_datetime(got[c], utc=True) == ref[c].dt.round("s")).all(), c
    assert np.allclose(got["entry_before_lon"], ref["entry_before_lon"], atol=1e-7)
    s = pd.read_csv(tmp_path / "s.csv")
    assert set(s["track_id"]) == set(ref["track_id"])
    assert json.loads(s["legs"].iloc[0])[0]["zone_id"] == s["zones"].iloc[0].split(" → ")[0]
    prov = json.loads((tmp_path / "v.csv.provenance.json").read_text())
    assert prov["name"] == "ne-admin0" and prov["parameters"]["max_gap_s"] == 300.0


def test_cli_bad_input_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("track_id,time,lon,lat\na,2024-01-01T00:00:00Z,10,95\n")
    script = ("import sys, typer\nfrom overflight.cli.main import app, main\nfrom overflight.cli.transit import "
              "register\nif 'transit' not in [c.name for c in app.registered_commands]:\n    register(app)\n"
              "main(sys.argv[1:])\n")
    r = subprocess.run([sys.executable, "-c", script, "transit", str(bad), "--zones", "ne-admin0", "-o",
                        str(tmp_path / "o.csv")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "bad.csv" in r.stderr


def _bracketed_reference(tracks: pd.DataFrame, zones, gap_s: float) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    from overflight.analysis.crossing_times import bracket_visits

    # The independent reference: every fix of the track searched again (merge_asof), as the second read did.
    return bracket_visits(transit(tracks, zones, max_gap=gap_s).visits, tracks, gap_s)


def test_one_pass_brackets_equal_the_second_pass(fixes: pd.DataFrame, zones) -> None:  # type: ignore[no-untyped-def]
    # Holes in the tracks (every fix whose time falls in some 7-minute windows is gone) put crossings in gaps
    # longer than max_gap, where the crossing time ranges span the bracketing fixes.
    t = (fixes["time"] - fixes["time"].min()).dt.total_seconds().to_numpy()
    holey = fixes[(t % 1800) < 1380].reset_index(drop=True)
    ref = _bracketed_reference(holey, zones, 300.0)
    assert (~ref["observed"]).sum() > 10 and len(ref) > 1000
    got = transit_chunks((holey.iloc[i:i + 40_000] for i in range(0, len(holey), 40_000)), zones, max_gap=300.0,
                         brackets=True).visits
    assert list(got.columns) == list(ref.columns)
    cols = [c for c in ref.columns if c != "distance_m"]  # a running sum: see test_chunked_equals_whole
    pd.testing.assert_frame_equal(got[cols], ref[cols], check_exact=True)
    np.testing.assert_allclose(got["distance_m"], ref["distance_m"], rtol=0, atol=1e-6)


def test_one_pass_brackets_at_fixes_and_period_bounds() -> None:
    import shapely

    from overflight.zones import Provenance, Zone, ZoneSet

    t0 = pd.Timestamp("2024-06-21T00:00:00Z")
    # Along the equator, lon = t / 1000: fixes exactly on the borders at lon 1 and 3 (the crossing is at a fix,
    # which brackets it on both sides), a track starting inside, a validity period starting mid-segment.
    secs = [0, 700, 1000, 1400, 2100, 3000, 3500, 4000]
    rows = [("e", t0 + pd.Timedelta(seconds=s), s / 1000, 0.0) for s in secs]
    rows += [("s", t0 + pd.Timedelta(seconds=s), 2.0 + s / 1000, 0.0) for s in (0, 300, 1500)]
    tr = pd.DataFrame(rows, columns=["track_id", "time", "lon", "lat"]).assign(alt_m=np.nan)
    tr["time"] = tr["time"].dt.as_unit("ns")
    prov = Provenance("test-zones", "1", "test", "synthetic", "0" * 64, kind="land")
    for vf in (None, t0 + pd.Timedelta(seconds=1200)):
        zs = ZoneSet([Zone("B", "box", "state", shapely.box(1, -1, 3, 1),
                           valid_from=None if vf is None else vf.to_pydatetime())], prov)
        ref = _bracketed_reference(tr, zs, 600.0)
        assert len(ref) == (2 if vf is None else 1)  # track s leaves before the period starts
        for chunk in (2, 3, len(tr)):
            order = tr.sort_values("time", kind="stable").reset_index(drop=True)  # tracks interleaved in time
            got = transit_chunks((order.iloc[i:i + chunk] for i in range(0, len(order), chunk)), zs,
                                 max_gap=600.0, brackets=True).visits
            pd.testing.assert_frame_equal(got, ref, check_exact=True)


@pytest.mark.parametrize("seed", range(6))
def test_track_time_order_is_the_full_sort(seed: int) -> None:
    from overflight.analysis.transit import _track_time_order

    rng = np.random.default_rng(seed)
    n, k = 2000, [3, 50, 40_000][seed % 3]  # 40,000 tracks: codes beyond 16 bits
    codes = rng.integers(0, k, n).astype(np.int64)
    t = rng.integers(0, 10**6, n).astype(np.int64)
    if seed % 2:  # validated-like: each track's times increase in row order (carried fix first), ties nowhere
        t = np.sort(t) * 7 + np.arange(n) % 7
    carry = np.zeros(n, dtype=bool)
    carry[:5] = True
    if seed == 5:
        t[10] = t[9]  # equal times of one track: the carried-first tie-break decides
        codes[10] = codes[9]
    np.testing.assert_array_equal(_track_time_order(codes, t, carry), np.lexsort((~carry, t, codes)))


@pytest.mark.parametrize("seed", range(8))
def test_merge_grouped_is_the_sort_or_declines(seed: int) -> None:
    """Rows grouped by track (as the validator hands them): carried fixes merged in front, as the sort puts them."""
    from overflight.analysis.transit import _merge_grouped, _track_time_order

    rng = np.random.default_rng(seed)
    n, k = 3000, [4, 60, 40_000][seed % 3]
    codes = np.sort(rng.integers(0, k, n)).astype(np.int64)
    t = np.cumsum(rng.integers(1, 50, n)).astype(np.int64)  # increasing within every track
    carry_codes = np.unique(rng.choice(codes, 20))
    carry_t = np.zeros(len(carry_codes), dtype=np.int64)  # before every fix of its track
    if seed == 5:
        carry_t[3] = 10**9  # later than its track's fixes: back in time across a border
    if seed == 6:
        codes = codes[::-1].copy()  # not grouped in increasing order
    if seed == 7:
        t[1] = t[0]  # a tie (not validated)
        codes[1] = codes[0]
    got = _merge_grouped(codes, t, carry_codes, carry_t)
    all_c = np.concatenate([carry_codes, codes])
    all_t = np.concatenate([carry_t, t])
    is_carry = np.r_[np.ones(len(carry_codes), bool), np.zeros(n, bool)]
    order = np.lexsort((~is_carry, all_t, all_c))
    if seed in (5, 6, 7):
        assert got is None
        return
    assert got is not None
    c, tt, keep = got
    np.testing.assert_array_equal(c, all_c[order])
    np.testing.assert_array_equal(tt, all_t[order])
    np.testing.assert_array_equal(~keep, is_carry[order])
    np.testing.assert_array_equal(_track_time_order(all_c, all_t, is_carry), order)
