"""Attribution: membership, border distance, distance bands, Wilson interval, share claims, DBSCAN."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import shapely
from geographiclib.geodesic import Geodesic
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from overflight.analysis import attribution as A
from overflight.errors import InputError
from overflight.zones import Provenance, Zone, ZoneSet

G = Geodesic.WGS84
GEOD = Geod(ellps="WGS84")


def _zs() -> ZoneSet:
    box = shapely.box
    return ZoneSet(
        [
            Zone("KZ", "K", "state", box(46, 40, 88, 55)),
            Zone("RU", "R", "state", box(30, 49, 50, 70)),
            Zone("RANGE", "range", "test-range", box(45, 48, 48.5, 50.5)),
            Zone("SITE", "site", "site", shapely.Point(40, 45)),
        ],
        Provenance("test", "1", "none", "test", "0" * 64),
    )


def test_membership_lists_every_zone_and_flags_disputed() -> None:
    pts = pd.DataFrame({"id": ["a", "b", "c", "d"], "lon": [47.0, 60.0, 35.0, 10.0], "lat": [50.0, 45.0, 60.0, 10.0]})
    t = A.attribute_points(pts, _zs()).table
    assert t["zones"].tolist() == ["KZ;RU;RANGE", "KZ", "RU", ""]
    assert t["states"].tolist() == ["KZ;RU", "KZ", "RU", ""]
    assert t["disputed"].tolist() == [True, False, False, False]


def test_membership_honours_zone_validity() -> None:
    z = Zone(
        "T",
        "temp",
        "user",
        shapely.box(0, 0, 1, 1),
        valid_from=pd.Timestamp("2025-06-01", tz="UTC"),
        valid_to=pd.Timestamp("2025-06-30", tz="UTC"),
    )
    m = A.zone_membership(
        [0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [z], pd.to_datetime(["2025-06-15", "2025-07-15", None], utc=True)
    )
    assert m[:, 0].tolist() == [True, False, True]


def test_border_distance_matches_geographiclib_on_a_box() -> None:
    sq = shapely.box(50, 50, 52, 52)
    d = A.border_distance([51.0, 50.5], [51.5, 50.0001], sq)
    # Directly below the top edge (a parallel): the meridian distance to lat 52.
    assert d[0] == pytest.approx(G.Inverse(51.5, 51, 52, 51)["s12"], abs=0.5)
    assert d[1] == pytest.approx(G.Inverse(50.0001, 50.5, 50, 50.5)["s12"], abs=0.5)


def _brute(lon: float, lat: float, geom: shapely.Polygon, step_deg: float = 0.0001) -> float:
    # Independent algorithm: sample every edge (straight in lon/lat) every ~10 m, exact geodesic to each.
    best = math.inf
    c = np.asarray(geom.exterior.coords)
    for (x0, y0), (x1, y1) in itertools.pairwise(c):
        t = np.linspace(0, 1, int(max(abs(x1 - x0), abs(y1 - y0)) / step_deg) + 2)
        d = GEOD.inv(np.full(t.size, lon), np.full(t.size, lat), x0 + t * (x1 - x0), y0 + t * (y1 - y0))[2]
        best = min(best, float(np.min(d)))
    return best


@settings(max_examples=25, deadline=None)
@given(st.floats(49.0, 53.0), st.floats(49.0, 53.0))
def test_border_distance_matches_brute_force_on_a_skewed_polygon(lon: float, lat: float) -> None:
    poly = shapely.Polygon([(50, 50), (52.3, 50.4), (51.7, 52.1), (50.2, 51.6)])
    d = A.border_distance([lon], [lat], poly)[0]
    ref = _brute(lon, lat, poly)
    # The brute-force samples are ≤ ~12 m apart: the reference is at most ~6 m above the truth.
    assert ref - 7 <= d <= ref + 0.5


def test_border_distance_skips_antimeridian_cut_edges() -> None:
    east = shapely.box(170, 60, 180, 70)
    d = A.border_distance([179.9], [65.0], east)[0]
    # The cut at 180° is not a border: the nearest real border is the parallel 70°N or 60°N (~556 km), or 170°E.
    assert d > 400_000


def test_distance_bands_match_geographiclib() -> None:
    akh = A.Reference("akhtubinsk", 46.18, 48.28, 22, 800)
    t = A.distance_bands([46.18, 47.0, 60.0], [48.38, 48.3, 50.0], [akh])
    for i, (lon, lat) in enumerate([(46.18, 48.38), (47.0, 48.3), (60.0, 50.0)]):
        assert t["dist_km:akhtubinsk"][i] == pytest.approx(G.Inverse(48.28, 46.18, lat, lon)["s12"] / 1000, abs=1e-6)
    # 11 km (inside the 22 km hole), ~60 km (in the band), ~1,000 km (beyond 800 km)
    assert t["in_band:akhtubinsk"].tolist() == [False, True, False]


def test_wilson_matches_statsmodels_on_a_grid() -> None:
    sm = pytest.importorskip("statsmodels.stats.proportion")
    for n in (1, 2, 5, 10, 29, 100, 1000):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            for conf in (0.90, 0.95, 0.99):
                lo, hi = A.wilson_interval(k, n, conf)
                rlo, rhi = sm.proportion_confint(k, n, alpha=1 - conf, method="wilson")
                assert float(lo) == pytest.approx(rlo, abs=1e-12)
                assert float(hi) == pytest.approx(rhi, abs=1e-12)


def test_share_claim_outcomes() -> None:
    assert A.assess_share_claim(98, 100, 0.9).outcome == "supported"  # interval ≈ 93–99%
    assert A.assess_share_claim(27, 30, 0.9).outcome == "inconclusive"  # 90%, interval 74–97%
    assert A.assess_share_claim(50, 100, 0.9).outcome == "contradicted"
    assert A.assess_share_claim(0, 0, 0.9).outcome == "inconclusive"
    assert A.assess_share_claim(1, 100, 0.1, direction="less").outcome == "supported"
    assert A.assess_share_claim(60, 100, 0.1, direction="less").outcome == "contradicted"
    with pytest.raises(InputError):
        A.assess_share_claim(1, 2, direction="sideways")


def test_dbscan_finds_the_hand_made_clusters() -> None:
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(1)
    centres = [(47.0, 49.0), (52.0, 51.0), (179.95, 65.0)]  # the third straddles the antimeridian
    lon, lat, truth = [], [], []
    for c, (x, y) in enumerate(centres):
        # within ~3 km of the centre: every neighbour within eps = 10 km
        dx = rng.uniform(-0.02, 0.02, 6)
        lon += list(((x + dx + 180) % 360) - 180)
        lat += list(y + rng.uniform(-0.02, 0.02, 6))
        truth += [c] * 6
    lon += [60.0, 30.0]  # two isolated points: noise
    lat += [40.0, 60.0]
    labels = A.cluster_points(lon, lat, eps_m=10_000, min_samples=3)
    assert (labels[-2:] == -1).all()
    got = labels[:-2]
    # Same partition as the truth (labels may be numbered differently).
    assert len(set(got)) == 3
    for c in range(3):
        assert len(set(got[np.array(truth) == c])) == 1


def test_attribute_points_columns_and_share() -> None:
    pts = pd.DataFrame(
        {"id": list("abcdef"), "lon": [47, 47.5, 48, 46.5, 49, 52.0], "lat": [49, 49.5, 49.2, 48.5, 49.5, 51.0]}
    )
    ref = A.Reference("akh", 46.18, 48.28, 22, 800)
    t = A.attribute_points(pts, _zs(), border_zones=["RANGE"], references=[ref]).table
    assert {"inside:RANGE", "border_m:RANGE", "dist_km:akh", "in_band:akh"} <= set(t.columns)
    assert t["inside:RANGE"].tolist() == [True, True, True, True, False, False]
    k, n = A.share_inside(t, "RANGE", region="KZ")
    assert (k, n) == (4, 6)
