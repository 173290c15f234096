"""Transit analysis against hand-computed answers (geographiclib bisection, equator arithmetic)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import shapely
from geographiclib.geodesic import Geodesic

from _reference_crossings import ShapelyLocator
from overflight.analysis.transit import TransitEngine, TransitResult, transit
from overflight.analysis.transit import summarize_transit as summarize
from overflight.errors import InputError
from overflight.zones import Provenance, Zone, ZoneSet

WGS = Geodesic.WGS84
A = 6378137.0  # along the equator the geodesic is the equator: distance = A * radians(dlon)
T0 = pd.Timestamp("2024-06-21T00:00:00Z")
PROV = Provenance("test-zones", "1", "test", "synthetic", "0" * 64, kind="land")


def zoneset(*zones: Zone) -> ZoneSet:
    return ZoneSet(list(zones), PROV)


def tracks(rows: list[tuple[str, float, float, float] | tuple[str, float, float, float, float]]) -> pd.DataFrame:
    """rows: (track_id, seconds after T0, lon, lat[, alt_m])."""
    return pd.DataFrame(
        {
            "track_id": [r[0] for r in rows],
            "time": [T0 + pd.Timedelta(seconds=r[1]) for r in rows],
            "lon": [float(r[2]) for r in rows],
            "lat": [float(r[3]) for r in rows],
            "alt_m": [float(r[4]) if len(r) > 4 else np.nan for r in rows],  # type: ignore[misc]
        }
    )


def run(tr: pd.DataFrame, zs: ZoneSet, **kw: object) -> TransitResult:
    """Run with the shared ZoneIndex (default) and with the shapely reference (tests/_reference_crossings.py);
    both must agree."""
    a = transit(tr, zs, **kw)  # type: ignore[arg-type]
    b = transit(tr, zs, index=ShapelyLocator(zs), **kw)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(a.visits, b.visits, check_exact=False, rtol=1e-12, atol=1e-6)
    return a


def at(seconds: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(seconds=seconds)


def close_time(t: pd.Timestamp, seconds: float, tol_s: float = 1e-3) -> bool:
    return abs((t - at(seconds)).total_seconds()) <= tol_s


# --------------------------------------------------------------------------------------------- geodesic


def _bisect(f: object, lo: float, hi: float) -> float:
    fl = f(lo)  # type: ignore[operator]
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        fm = f(mid)  # type: ignore[operator]
        if (fm > 0) == (fl > 0):
            lo, fl = mid, fm
        else:
            hi = mid
    return 0.5 * (lo + hi)


@pytest.mark.parametrize("step_m", [5000.0, 500.0])
def test_geodesic_crosses_border_the_straight_line_misses(step_m: float) -> None:
    # Two fixes ~557 km apart on the 60th parallel: the geodesic bulges north to ~60.095 N; the box's
    # southern edge at 60.07 N is crossed by it and missed by the straight lon/lat line (lat 60 throughout).
    lon1, lat1, lon2, lat2 = 0.0, 60.0, 10.0, 60.0
    box = shapely.box(1.0, 60.07, 9.0, 60.5)
    assert not shapely.intersects(shapely.LineString([(lon1, lat1), (lon2, lat2)]), box)
    line = WGS.InverseLine(lat1, lon1, lat2, lon2)
    L = line.s13
    assert 550e3 < L < 600e3

    def lat_minus(s: float) -> float:
        return float(line.Position(s)["lat2"]) - 60.07

    s_in = _bisect(lat_minus, 0.0, L / 2)
    s_out = _bisect(lat_minus, L / 2, L)
    p_in, p_out = line.Position(s_in), line.Position(s_out)
    dt = 3600.0
    res = run(
        tracks([("f", 0, lon1, lat1), ("f", dt, lon2, lat2)]),
        zoneset(Zone("BOX", "box", "state", box)),
        step_m=step_m,
        max_gap="2h",
    )
    v = res.visits
    assert len(v) == 1
    r = v.iloc[0]
    tol_m = 50.0 if step_m == 5000.0 else 1.0
    assert WGS.Inverse(r.entry_lat, r.entry_lon, p_in["lat2"], p_in["lon2"])["s12"] < tol_m
    assert WGS.Inverse(r.exit_lat, r.exit_lon, p_out["lat2"], p_out["lon2"])["s12"] < tol_m
    # The crossing point lies on the border (the box's southern edge).
    assert r.entry_lat == pytest.approx(60.07, abs=1e-9) and r.exit_lat == pytest.approx(60.07, abs=1e-9)
    # Times: constant speed along the geodesic.
    speed = L / dt
    assert close_time(r.entry_time, s_in / L * dt, tol_m / speed + 1e-3)
    assert close_time(r.exit_time, s_out / L * dt, tol_m / speed + 1e-3)
    assert r.distance_m == pytest.approx(s_out - s_in, abs=2 * tol_m)
    assert r.entry_kind == "crossing" and r.exit_kind == "crossing" and bool(r.observed)


def test_antimeridian_zone_in_two_parts_is_one_visit() -> None:
    # A zone split at 180 deg (like Fiji): 178E..180 and -180..-178; fixes every 0.5 deg of longitude.
    zone = shapely.MultiPolygon([shapely.box(178.0, -18.0, 180.0, -16.0), shapely.box(-180.0, -18.0, -178.0, -16.0)])
    lons = [177.0, 177.5, 178.5, 179.5, -179.5, -178.5, -177.5, -177.0]
    rows = [("nz", 600.0 * i, lo, -17.0) for i, lo in enumerate(lons)]
    res = run(tracks(rows), zoneset(Zone("FJI", "Fiji-like", "state", zone)), step_m=2000.0)
    v = res.visits
    assert len(v) == 1, v
    r = v.iloc[0]
    assert r.entry_lon == pytest.approx(178.0, abs=1e-9) and r.exit_lon == pytest.approx(-178.0, abs=1e-9)
    # Reference: where the geodesic of the segment crosses the meridians 178E and 178W (bisection).
    for lon_a, lon_b, t_a, meridian, got_t, got_lat in (
        (177.5, 178.5, 600.0, 178.0, r.entry_time, r.entry_lat),
        (-178.5, -177.5, 3000.0, -178.0, r.exit_time, r.exit_lat),
    ):
        line = WGS.InverseLine(-17.0, lon_a, -17.0, lon_b)
        s = _bisect(lambda s, ln=line, m=meridian: ((ln.Position(s)["lon2"] - m + 180) % 360) - 180, 0, line.s13)
        pos = line.Position(s)
        assert got_lat == pytest.approx(pos["lat2"], abs=1e-5)
        assert close_time(got_t, t_a + 600.0 * s / line.s13, 0.05)
    # The path length inside: five whole segments' worth of geodesic between the crossings, never 356 deg.
    assert 4.0 * 106e3 < r.distance_m < 4.0 * 107e3


def test_reentry_gives_two_rows_with_interpolated_times() -> None:
    # Along the equator from lon 0 (t=0) to lon 1 (t=1000 s): time = 1000 * lon.
    zone = shapely.MultiPolygon([shapely.box(0.2, -1, 0.4, 1), shapely.box(0.6, -1, 0.8, 1)])
    res = run(
        tracks([("e", 0, 0.0, 0.0), ("e", 1000, 1.0, 0.0)]), zoneset(Zone("Z", "z", "state", zone)), step_m=1000.0
    )
    v = res.visits
    assert list(v.zone_id) == ["Z", "Z"]
    for (_, r), (a, b) in zip(v.iterrows(), ((0.2, 0.4), (0.6, 0.8)), strict=True):
        assert close_time(r.entry_time, 1000 * a) and close_time(r.exit_time, 1000 * b)
        assert r.entry_lon == pytest.approx(a, abs=1e-12) and r.exit_lon == pytest.approx(b, abs=1e-12)
        assert r.distance_m == pytest.approx(A * math.radians(b - a), rel=1e-9)
        assert r.duration_s == pytest.approx(1000 * (b - a), abs=1e-3)


def test_reentry_of_a_single_polygon_by_a_winding_track() -> None:
    # Out, in, out and back in again through the same (single) polygon edge at lon 0.5.
    zone = shapely.box(0.5, -1, 2, 1)
    rows = [("w", 0, 0.0, 0.0), ("w", 100, 1.0, 0.0), ("w", 200, 0.0, 0.0), ("w", 300, 1.0, 0.0)]
    res = run(tracks(rows), zoneset(Zone("Z", "z", "state", zone)), step_m=1000.0)
    v = res.visits
    assert len(v) == 2
    assert close_time(v.entry_time.iloc[0], 50) and close_time(v.exit_time.iloc[0], 150)
    assert close_time(v.entry_time.iloc[1], 250)
    assert v.exit_kind.iloc[1] == "track_end" and close_time(v.exit_time.iloc[1], 300)
    assert v.exit_lon.iloc[1] == 1.0


def test_gap_longer_than_max_gap_is_not_observed() -> None:
    rows = [("g", 0, 0.0, 0.0), ("g", 100, 0.1, 0.0), ("g", 3700, 1.0, 0.0), ("g", 3800, 1.1, 0.0)]
    zs = zoneset(
        Zone("GAP", "in the gap", "state", shapely.box(0.5, -1, 0.7, 1)),
        Zone("SEEN", "seen", "state", shapely.box(1.05, -1, 1.5, 1)),
    )
    v = run(tracks(rows), zs, max_gap="10min").visits.set_index("zone_id")
    assert not v.loc["GAP", "observed"]
    assert v.loc["SEEN", "observed"]
    # Hand-computed: lon 0.1 -> 1.0 over 3600 s, entry at lon 0.5, exit at 0.7.
    assert close_time(v.loc["GAP", "entry_time"], 100 + 3600 * 0.4 / 0.9)
    assert close_time(v.loc["GAP", "exit_time"], 100 + 3600 * 0.6 / 0.9)
    assert close_time(v.loc["SEEN", "entry_time"], 3700 + 100 * 0.5)
    assert v.loc["SEEN", "exit_kind"] == "track_end"
    # A gap limit above the gap makes it observed.
    v2 = transit(tracks(rows), zs, max_gap=4000).visits.set_index("zone_id")
    assert v2.loc["GAP", "observed"]


def test_track_starting_and_ending_inside() -> None:
    zs = zoneset(
        Zone("IN", "in", "state", shapely.box(-1, -1, 0.3, 1)), Zone("END", "end", "state", shapely.box(0.8, -1, 2, 1))
    )
    v = run(tracks([("s", 0, 0.0, 0.0), ("s", 1000, 1.0, 0.0)]), zs).visits.set_index("zone_id")
    assert v.loc["IN", "entry_kind"] == "track_start" and close_time(v.loc["IN", "entry_time"], 0)
    assert v.loc["IN", "exit_kind"] == "crossing" and close_time(v.loc["IN", "exit_time"], 300)
    assert v.loc["END", "entry_kind"] == "crossing" and close_time(v.loc["END", "entry_time"], 800)
    assert v.loc["END", "exit_kind"] == "track_end" and close_time(v.loc["END", "exit_time"], 1000)
    # A track that never leaves: one visit from start to end.
    w = transit(tracks([("x", 0, -0.5, 0.0), ("x", 60, -0.4, 0.0)]), zs).visits
    assert list(zip(w.zone_id, w.entry_kind, w.exit_kind, strict=True)) == [("IN", "track_start", "track_end")]


def test_altitude_floor_and_ceiling() -> None:
    # Box from lon 0.2 to 0.8, floor 1000 m, ceiling 3000 m. Climb 0 -> 4000 m from lon 0 to 1 (alt = 4000*lon).
    zone = Zone("R", "restricted", "test-range", shapely.box(0.2, -1, 0.8, 1), floor_m=1000.0, ceiling_m=3000.0)
    zs = zoneset(zone)
    v = run(tracks([("c", 0, 0.0, 0.0, 0.0), ("c", 1000, 1.0, 0.0, 4000.0)]), zs, step_m=1000.0).visits
    assert len(v) == 1
    r = v.iloc[0]
    # Enters through the floor at lon 0.25 (alt 1000), leaves through the ceiling at lon 0.75 (alt 3000).
    assert close_time(r.entry_time, 250) and close_time(r.exit_time, 750)
    assert r.entry_lon == pytest.approx(0.25, abs=1e-9) and r.exit_lon == pytest.approx(0.75, abs=1e-9)
    assert r.distance_m == pytest.approx(A * math.radians(0.5), rel=1e-9)
    # Flat below the floor: horizontally through, never inside.
    assert len(transit(tracks([("lo", 0, 0.0, 0.0, 500.0), ("lo", 1000, 1.0, 0.0, 500.0)]), zs).visits) == 0
    # Inside the altitude band: the horizontal border decides (0.2 .. 0.8).
    m = transit(tracks([("mid", 0, 0.0, 0.0, 2000.0), ("mid", 1000, 1.0, 0.0, 2000.0)]), zs).visits.iloc[0]
    assert close_time(m.entry_time, 200) and close_time(m.exit_time, 800)
    # Descending from 4000 m: enters through the ceiling at lon 0.25, leaves horizontally at 0.8... then the
    # floor is crossed at lon 0.75, before the border: exit at 0.75.
    d = transit(tracks([("d", 0, 0.0, 0.0, 4000.0), ("d", 1000, 1.0, 0.0, 0.0)]), zs).visits.iloc[0]
    assert close_time(d.entry_time, 250) and close_time(d.exit_time, 750)
    # Start inside the area below the floor, climb in: entry through the floor, not track_start.
    s = transit(tracks([("u", 0, 0.5, 0.0, 0.0), ("u", 100, 0.5, 0.1, 2000.0)]), zs).visits.iloc[0]
    assert s.entry_kind == "crossing" and close_time(s.entry_time, 50) and s.exit_kind == "track_end"


def test_validity_period() -> None:
    # Along the equator from lon 0 to 4 in 4000 s: lon = t / 1000 (the geodesic is the equator, constant speed).
    tr = tracks([("e", t, t / 1000, 0.0) for t in (0, 700, 1400, 2100, 2800, 3500, 4000)])

    def zone(vf: float | None, vt: float | None, **kw: float) -> ZoneSet:
        return zoneset(Zone("TR", "temporary", "restricted", shapely.box(1, -1, 3, 1),
                            valid_from=None if vf is None else at(vf).to_pydatetime(),
                            valid_to=None if vt is None else at(vt).to_pydatetime(), **kw))

    def rows(zs: ZoneSet, t: pd.DataFrame = tr) -> list[tuple[str, float, float, str, float, float]]:
        v = run(t, zs).visits
        return [(r.entry_kind, (r.entry_time - T0).total_seconds(), r.entry_lon, r.exit_kind,
                 (r.exit_time - T0).total_seconds(), r.exit_lon) for r in v.itertuples()]

    def same(got: list[tuple[str, float, float, str, float, float]],
             want: list[tuple[str, float, float, str, float, float]]) -> bool:
        return len(got) == len(want) and all(
            g[0] == w[0] and g[3] == w[3] and abs(g[1] - w[1]) < 1e-3 and abs(g[4] - w[4]) < 1e-3
            and abs(g[2] - w[2]) < 1e-9 and abs(g[5] - w[5]) < 1e-9 for g, w in zip(got, want, strict=True))

    # Inside from t 1000 to 3000; the period cuts the visit at both ends, at the interpolated positions.
    assert same(rows(zone(1500, 2500)), [("valid_from", 1500, 1.5, "valid_to", 2500, 2.5)])
    assert same(rows(zone(None, 2000)), [("crossing", 1000, 1.0, "valid_to", 2000, 2.0)])
    assert same(rows(zone(2000, None)), [("valid_from", 2000, 2.0, "crossing", 3000, 3.0)])
    assert same(rows(zone(0, 10_000)), [("crossing", 1000, 1.0, "crossing", 3000, 3.0)])
    assert rows(zone(3500, None)) == [] and rows(zone(None, 900)) == []
    # A track that starts inside before the period: it enters when the period starts.
    late = tracks([("s", 0, 2.0, 0.0), ("s", 2000, 4.0, 0.0)])
    assert same(rows(zone(500, None), late), [("valid_from", 500, 2.5, "crossing", 1000, 3.0)])
    # ... and a track that starts inside during the period keeps its track_start.
    assert same(rows(zone(None, 800), late), [("track_start", 0, 2.0, "valid_to", 800, 2.8)])
    # Below the zone's floor when the period starts: no entry.
    low = tracks([("l", 0, 0.0, 0.0, 500.0), ("l", 4000, 4.0, 0.0, 500.0)])
    assert rows(zone(1500, 2500, floor_m=1000.0), low) == []
    # Fed in chunks split inside the period: the same visit.
    zs = zone(1500, 2500)
    eng = TransitEngine(zs)
    raw = [eng.feed(tr.iloc[:3]), eng.feed(tr.iloc[3:]), eng.finish()]
    chunked = eng.visits(pd.concat([r for r in raw if len(r)], ignore_index=True))
    pd.testing.assert_frame_equal(chunked, run(tr, zs).visits)


def test_overlapping_claims_are_both_reported_and_disputed() -> None:
    zs = zoneset(
        Zone("AAA", "a", "state", shapely.box(0.2, -1, 0.6, 1)),
        Zone("BBB", "b", "state", shapely.box(0.4, -1, 0.8, 1)),
        Zone("CCC", "c", "state", shapely.box(0.85, -1, 0.9, 1)),
        Zone("RNG", "range", "test-range", shapely.box(0.86, -1, 0.87, 1)),
    )
    v = run(tracks([("d", 0, 0.0, 0.0), ("d", 1000, 1.0, 0.0)]), zs, step_m=1000.0).visits.set_index("zone_id")
    assert close_time(v.loc["AAA", "entry_time"], 200) and close_time(v.loc["AAA", "exit_time"], 600)
    assert close_time(v.loc["BBB", "entry_time"], 400) and close_time(v.loc["BBB", "exit_time"], 800)
    assert v.loc["AAA", "disputed"] and v.loc["BBB", "disputed"]
    # A test range inside a state is not a dispute; neither is a state zone visited alone.
    assert not v.loc["CCC", "disputed"] and not v.loc["RNG", "disputed"]


def test_shared_border_is_not_a_dispute() -> None:
    zs = zoneset(
        Zone("W", "w", "state", shapely.box(0.0, -1, 0.5, 1)), Zone("E", "e", "state", shapely.box(0.5, -1, 1.0, 1))
    )
    v = run(tracks([("b", 0, 0.1, 0.0), ("b", 800, 0.9, 0.0)]), zs).visits
    assert list(v.zone_id) == ["W", "E"] and not v.disputed.any()
    assert v.exit_time.iloc[0] == v.entry_time.iloc[1]
    assert close_time(v.exit_time.iloc[0], 400)


def test_summary_and_provenance() -> None:
    zs = zoneset(
        Zone("W", "w", "state", shapely.box(0.0, -1, 0.5, 1)), Zone("E", "e", "state", shapely.box(0.5, -1, 1.0, 1))
    )
    rows = [("b", 0, 0.1, 0.0), ("b", 3600, 0.9, 0.0), ("a", 0, 5.0, 5.0), ("a", 60, 5.1, 5.0)]
    res = transit(tracks(rows), zs, max_gap="2h")
    s = res.summary
    assert list(s.track_id) == ["b"]  # track a touches no zone
    assert s.sequence.iloc[0] == "W 00:00–00:30 → E 00:30–01:00"
    assert s.zones.iloc[0] == "W → E"
    assert [leg["zone_id"] for leg in s.legs.iloc[0]] == ["W", "E"]
    p = res.provenance
    assert p["name"] == "test-zones" and p["kind"] == "land" and p["sha256"] == "0" * 64
    assert p["parameters"]["max_gap_s"] == 7200.0 and p["parameters"]["step_m"] == 5000.0
    # The summary in another zone shows local clock times.
    loc = summarize(res.visits, tz="Asia/Almaty")
    assert loc.sequence.iloc[0].startswith("W 05:00–05:30")


def test_rows_in_any_order_and_many_tracks() -> None:
    zs = zoneset(Zone("Z", "z", "state", shapely.box(0.25, -1, 0.75, 1)))
    rows = [(f"t{k}", 10.0 * i, 0.1 * i, 0.0) for k in range(5) for i in range(11)]
    tr = tracks(rows).sample(frac=1.0, random_state=1)
    v = transit(tr, zs).visits
    assert list(v.track_id) == [f"t{k}" for k in range(5)]
    assert all(close_time(t, 25.0) for t in v.entry_time)


def test_bad_input_is_an_input_error() -> None:
    zs = zoneset(Zone("Z", "z", "state", shapely.box(0, 0, 1, 1)))
    tr = tracks([("a", 0, 0.0, 0.0), ("a", 10, 1.0, 1.0)])
    with pytest.raises(InputError, match="lat"):
        transit(tr.drop(columns=["lat"]), zs)
    naive = tr.assign(time=tr["time"].dt.tz_localize(None))
    with pytest.raises(InputError, match="time"):
        transit(naive, zs)
    with pytest.raises(InputError, match=r"max_gap|duration"):
        transit(tr, zs, max_gap="soon")
    with pytest.raises(InputError, match="step"):
        transit(tr, zs, step_m=0)
    with pytest.raises(InputError, match="coordinate"):
        transit(tr.assign(lat=[0.0, 95.0]), zs)
    assert len(transit(tr.iloc[:0], zs).visits) == 0


# --------------------------------------------------------------------------------------------- property

from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _index(zs: ZoneSet) -> object:
    from overflight.index import ZoneIndex

    return ZoneIndex(zs)


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(st.floats(0.01, 0.5), min_size=1, max_size=8),
    dts=st.lists(st.floats(1.0, 500.0), min_size=8, max_size=8),
    a=st.floats(0.05, 2.0), w=st.floats(0.01, 1.0),
)
def test_equator_crossing_times_match_piecewise_interpolation(steps: list[float], dts: list[float], a: float,
                                                              w: float) -> None:
    # Eastward along the equator the geodesic is the equator and distance is proportional to longitude, so
    # the entry/exit times are the piecewise-linear interpolation of time over longitude at the box edges.
    lons = np.concatenate([[0.0], np.cumsum(steps)])
    times = np.concatenate([[0.0], np.cumsum(dts[: len(steps)])])
    b = a + w
    assume(np.min(np.abs(np.subtract.outer(lons, [a, b]))) > 1e-6)  # no fix exactly on the border
    zs = zoneset(Zone("Z", "z", "state", shapely.box(a, -1, b, 1)))
    v = transit(tracks([("p", t, lo, 0.0) for t, lo in zip(times, lons, strict=True)]), zs, max_gap=1e6,
                index=_index(zs)).visits
    if lons[-1] < a:
        assert len(v) == 0
        return
    # One visit, even when the box is narrower than the densification step (found on the piece, not at
    # its ends).
    assert len(v) == 1
    r = v.iloc[0]
    assert close_time(r.entry_time, float(np.interp(a, lons, times)), 2e-3)
    if lons[-1] > b:
        assert r.exit_kind == "crossing"
        assert close_time(r.exit_time, float(np.interp(b, lons, times)), 2e-3)
        assert r.distance_m == pytest.approx(A * math.radians(w), rel=1e-9, abs=1e-3)
    else:
        assert r.exit_kind == "track_end" and close_time(r.exit_time, float(times[-1]))
