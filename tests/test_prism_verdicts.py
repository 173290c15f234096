"""Prism verdicts against analytic answers, real geography and the uncertainty rules."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import shapely
from geographiclib.geodesic import Geodesic
from shapely.geometry import Point

from overflight.analysis.prism import evaluate, verdicts
from overflight.analysis.prism import summarize_prism as summarize
from overflight.errors import InputError
from overflight.geodesy import circle

G = Geodesic.WGS84
R = 6371008.8
P1 = (0.0, 0.0)
_line = G.Direct(0.0, 0.0, 90.0, 400e3)
P2 = (_line["lon2"], _line["lat2"])
_mid = G.Direct(0.0, 0.0, 90.0, 200e3)
MID = (_mid["lon2"], _mid["lat2"])
ZONE = circle(MID[0], MID[1], 100e3)


def _sphere_detour(half_m: float, radius_m: float) -> float:
    """Shortest path around a spherical cap of radius r centred midway between two points 2h apart.

    Right spherical triangle centre–focus–tangent point: cos(h) = cos(r) cos(t) gives the tangent length t;
    the angle at the centre between the focus and the tangent point has cos(phi) = tan(r) / tan(h); the path
    follows the small circle (radius sin r) over the remaining angle pi - 2 phi.
    """
    h, r = half_m / R, radius_m / R
    t = math.acos(math.cos(h) / math.cos(r))
    phi = math.acos(math.tan(r) / math.tan(h))
    return R * (2 * t + (math.pi - 2 * phi) * math.sin(r))


REF = _sphere_detour(200e3, 100e3)


def test_reference_is_about_451_km():
    assert pytest.approx(451.1e3, abs=200) == REF


@pytest.mark.parametrize(
    ("budget", "expected"),
    [(395e3, "inconsistent"), (401e3, "necessary"), (445e3, "necessary"), (458e3, "possible"), (700e3, "possible")],
)
def test_circle_midway_between_fixes(budget, expected):
    ev = evaluate(*P1, *P2, ZONE, budget_hi=budget)
    assert ev.verdict == expected
    if expected in ("necessary", "possible"):
        assert ev.detour == pytest.approx(REF, rel=5e-3)
        assert ev.exact


def test_circle_detour_flips_at_the_detour_length():
    ev = evaluate(*P1, *P2, ZONE, budget_hi=440e3)
    detour = ev.detour
    # Just below the detour: necessary; just above: possible (within the 0.1 % precision).
    assert evaluate(*P1, *P2, ZONE, budget_hi=detour * 0.998).verdict == "necessary"
    assert evaluate(*P1, *P2, ZONE, budget_hi=detour * 1.002).verdict == "possible"
    assert ev.margin == pytest.approx(detour - 440e3, rel=1e-2)


def test_avoiding_path_avoids_the_zone_and_has_the_detour_length():
    ev = evaluate(*P1, *P2, ZONE, budget_hi=440e3)
    assert ev.path_lon is not None and ev.path_lat is not None and len(ev.path_lon) >= 3
    length = sum(
        G.Inverse(a, b, c, d)["s12"]
        for a, b, c, d in zip(ev.path_lat[:-1], ev.path_lon[:-1], ev.path_lat[1:], ev.path_lon[1:], strict=True)
    )
    assert length == pytest.approx(ev.detour, rel=1e-9)
    # Densified along geodesics, the path stays out of the zone (touching allowed: 50 m tolerance).
    pts = []
    for a, b, c, d in zip(ev.path_lat[:-1], ev.path_lon[:-1], ev.path_lat[1:], ev.path_lon[1:], strict=True):
        line = G.InverseLine(a, b, c, d)
        pts += [(line.Position(s)["lon2"], line.Position(s)["lat2"]) for s in np.linspace(0, line.s13, 200)]
    inner = circle(MID[0], MID[1], 100e3 - 50.0)
    assert not any(inner.contains(Point(p)) for p in pts)


def test_zone_500_km_to_the_side_is_impossible():
    side = G.Direct(MID[1], MID[0], 0.0, 500e3)
    far = circle(side["lon2"], side["lat2"], 100e3)
    ev = evaluate(*P1, *P2, far, budget_hi=450e3)
    assert ev.verdict == "impossible"
    # Entering needs at least 2 * sqrt(200^2 + 400^2) km on a plane, minus nothing: clearly above the budget.
    assert ev.detour > 450e3


def test_entering_length_is_exact_when_close():
    side = G.Direct(MID[1], MID[0], 0.0, 200e3)
    z = circle(side["lon2"], side["lat2"], 100e3)
    # Nearest zone point: 100 km north of the midpoint; focal sum there about 2*sqrt(200^2+100^2) km.
    ev = evaluate(*P1, *P2, z, budget_hi=420e3)
    assert ev.verdict == "impossible"
    top = G.Direct(MID[1], MID[0], 0.0, 100e3)
    ref = G.Inverse(0, 0, top["lat2"], top["lon2"])["s12"] + G.Inverse(top["lat2"], top["lon2"], P2[1], P2[0])["s12"]
    assert ev.exact and ev.detour == pytest.approx(ref, rel=1e-3)
    assert evaluate(*P1, *P2, z, budget_hi=ref * 1.01).verdict == "possible"


def test_fix_inside_zone_is_necessary():
    z = circle(P1[0], P1[1], 50e3)
    ev = evaluate(*P1, *P2, z, budget_hi=450e3)
    assert ev.verdict == "necessary" and math.isinf(ev.detour)


def test_position_error_turns_necessary_into_possible():
    assert evaluate(*P1, *P2, ZONE, budget_hi=440e3, r1=1000, r2=1000).verdict == "necessary"
    # With 120 km error discs both fixes may lie 120 km north: the straight path then passes the zone.
    assert evaluate(*P1, *P2, ZONE, budget_hi=440e3, r1=120e3, r2=120e3).verdict == "possible"
    shifted1 = G.Direct(0, 0, 0.0, 120e3)
    shifted2 = G.Direct(P2[1], P2[0], 0.0, 120e3)
    moved = evaluate(shifted1["lon2"], shifted1["lat2"], shifted2["lon2"], shifted2["lat2"], ZONE, budget_hi=440e3)
    assert moved.verdict == "possible"  # the configuration that defeats "necessary" really exists


def test_time_error_widens_the_budget():
    # 440 km nominal is necessary; a time error worth 15 km of flight makes the gap possibly long enough.
    assert evaluate(*P1, *P2, ZONE, budget_hi=440e3 + 15e3).verdict == "possible"
    df = pd.DataFrame(
        {
            "track_id": ["a", "a", "b", "b"],
            "time": pd.to_datetime(["2024-06-21T00:00Z", "2024-06-21T02:00Z"] * 2),
            "lon": [P1[0], P2[0]] * 2,
            "lat": [P1[1], P2[1]] * 2,
            "time_err_s": [0.0, 0.0, 150.0, 150.0],
        }
    )
    out = verdicts(df, {"Z": ZONE}, 440e3 / 7200)
    assert list(out["verdict"].astype(str)) == ["necessary", "possible"]
    assert out["budget_m"].tolist() == pytest.approx([440e3, 440e3])


def test_multipolygon_far_island_does_not_matter_and_gaps_are_used():
    island = circle(MID[0], MID[1] + 20.0, 50e3)
    both = shapely.union_all([ZONE, island])
    a = evaluate(*P1, *P2, both, budget_hi=445e3)
    b = evaluate(*P1, *P2, ZONE, budget_hi=445e3)
    assert a.verdict == b.verdict == "necessary" and a.detour == pytest.approx(b.detour, rel=1e-6)
    north = G.Direct(MID[1], MID[0], 0.0, 150e3)
    south = G.Direct(MID[1], MID[0], 180.0, 150e3)
    gap = shapely.union_all([circle(north["lon2"], north["lat2"], 100e3), circle(south["lon2"], south["lat2"], 100e3)])
    # Entering either disc needs about 2 * sqrt(200^2 + 50^2) = 412 km: impossible at 401 km, possible at 450.
    assert evaluate(*P1, *P2, gap, budget_hi=401e3).verdict == "impossible"
    ev = evaluate(*P1, *P2, gap, budget_hi=450e3)
    assert ev.verdict == "possible" and ev.detour == pytest.approx(400e3, rel=1e-6)
    # Close the gap with a bridge: now the pair must cross.
    bridge = shapely.box(MID[0] - 0.05, -1.0, MID[0] + 0.05, 1.0)
    ev2 = evaluate(*P1, *P2, shapely.union_all([gap, bridge]), budget_hi=450e3)
    assert ev2.verdict == "necessary"


def test_kazakhstan_bulge_between_saratov_and_orenburg_regions(ne_admin0):
    kaz, rus = ne_admin0["KAZ"].geometry, ne_admin0["RUS"].geometry
    west, east = (47.0, 51.0), (55.0, 51.2)  # Saratov oblast (SE of Saratov) and Orenburg oblast (S of Orenburg)
    for p in (west, east):
        assert rus.contains(Point(p)) and not kaz.contains(Point(p))
    direct = G.Inverse(west[1], west[0], east[1], east[0])["s12"]
    nec = evaluate(*west, *east, kaz, budget_hi=570e3)
    assert nec.verdict == "necessary"
    assert direct < 570e3 < nec.detour
    # The avoiding path goes north of the bulge, stays in the clear and is a real geodesic polyline.
    assert nec.path_lat is not None and max(nec.path_lat) > 51.7
    line = shapely.LineString(list(zip(nec.path_lon, nec.path_lat, strict=True)))
    assert shapely.intersection(line, kaz.buffer(-0.01)).length < 1e-6
    pos = evaluate(*west, *east, kaz, budget_hi=600e3)
    assert pos.verdict == "possible"
    assert pos.detour == pytest.approx(nec.detour, rel=1e-3)
    df = pd.DataFrame(
        {
            "track_id": ["d", "d"],
            "time": pd.to_datetime(["2024-06-21T01:00Z", "2024-06-21T04:00Z"]),
            "lon": [west[0], east[0]],
            "lat": [west[1], east[1]],
        }
    )
    out = verdicts(df, ne_admin0.select(["KAZ", "RUS", "UKR"]), 570e3 / (3 * 3600))
    got = dict(zip(out["zone_id"].astype(str), out["verdict"].astype(str), strict=True))
    assert got == {"KAZ": "necessary", "RUS": "necessary", "UKR": "impossible"}


def test_summary_rules():
    df = pd.DataFrame(
        {
            "track_id": ["a", "a", "b", "b", "c", "c", "d"],
            "zone_id": ["Z"] * 7,
            "verdict": ["possible", "necessary", "impossible", "impossible", "possible", "impossible", "inconsistent"],
            "margin_m": [5.0, 3.0, 10.0, 2.0, 1.0, 4.0, 7.0],
        }
    )
    s = summarize(df).set_index("track_id")
    assert s.loc["a", "verdict"] == "necessary" and s.loc["a", "margin_m"] == 3.0
    assert s.loc["b", "verdict"] == "impossible" and s.loc["b", "margin_m"] == 2.0
    assert s.loc["c", "verdict"] == "possible"
    assert s.loc["d", "verdict"] == "inconsistent"
    assert s.loc["a", "n_pairs"] == 2


def test_bad_sightings_name_row_and_field():
    df = pd.DataFrame(
        {"track_id": ["a", "a"], "time": ["2024-06-21T01:00", "2024-06-21T02:00"], "lon": [0.0, 1.0], "lat": [0.0, 0.0]}
    )
    with pytest.raises(InputError, match="timezone"):
        verdicts(df, {"Z": ZONE}, 50.0)
    df2 = pd.DataFrame(
        {
            "track_id": ["a", "a"],
            "time": pd.to_datetime(["2024-06-21T01:00Z", "2024-06-21T02:00Z"]),
            "lon": [0.0, 1.0],
            "lat": [0.0, 95.0],
        }
    )
    with pytest.raises(InputError) as exc:
        verdicts(df2, {"Z": ZONE}, 50.0)
    assert exc.value.row == 1 and exc.value.field == "lat"
    with pytest.raises(InputError, match="vmax"):
        verdicts(df2, {"Z": ZONE}, 0.0)
