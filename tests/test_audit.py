"""`overflight audit`: a small event file with known bad rows; distances against an independent computation.

The independent distance is a brute-force minimum of GeographicLib geodesic distances (the `geographiclib`
package, not pyproj) from the point to the zone's boundary sampled every 0.002° (about 200 m); sampling can
only overestimate, by well under a metre at these distances.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from geographiclib.geodesic import Geodesic
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from overflight import boundaries
from overflight.analysis.audit import audit, distance_to_boundary, read_events
from overflight.cli.main import app
from overflight.errors import InputError
from overflight.zones import Provenance, Zone, ZoneSet

WGS = Geodesic.WGS84

# Coordinates from Wikipedia (town centres), each with what the row states.
EVENTS = """event_id,latitude,longitude,country,admin1
1,51.23,51.37,Kazakhstan,West Kazakhstan
2,50.45,30.52,Russia,
3,47.12,51.88,KZ,West Kazakhstan
4,,,Russia,
5,42.00,50.00,RUS,
6,45.03,38.97,Atlantis,
7,44.95,34.10,ukraine,Crimea
8,45.03,38.97,ru,Nowhere
9,45.43,40.57,rus,Krasnodar region
10,95.0,40.0,Russia,
11,55.15,61.40,,
12,48.28,46.17,Russian Federation,Astrakhan
"""


def brute_distance(lon: float, lat: float, geom: shapely.Geometry, box_deg: float = 6.0) -> float:
    """Minimum geodesic distance (GeographicLib) from the point to the boundary sampled every 0.002°."""
    near = shapely.clip_by_rect(shapely.boundary(geom), lon - box_deg, lat - box_deg, lon + box_deg, lat + box_deg)
    xy = shapely.get_coordinates(shapely.segmentize(near, 0.002))
    return min(WGS.Inverse(lat, lon, float(y), float(x))["s12"] for x, y in xy)


@pytest.fixture(scope="module")
def ne_admin1() -> ZoneSet:
    if not boundaries.info("ne-admin1").installed:
        if os.environ.get("OVERFLIGHT_REQUIRE_DATA"):
            pytest.fail("ne-admin1 is not installed but OVERFLIGHT_REQUIRE_DATA is set")
        pytest.skip("ne-admin1 not installed (overflight boundaries install ne-admin1)")
    return boundaries.load("ne-admin1")


@pytest.fixture(scope="module")
def audited(ne_admin1: ZoneSet, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    p = tmp_path_factory.mktemp("audit") / "events.csv"
    p.write_text(EVENTS)
    res = audit(read_events(str(p)), country_col="country", countries=boundaries.load("ne-admin0"),
                region_col="admin1", regions=ne_admin1, lon_col="longitude", lat_col="latitude")
    assert res.counts == {"rows": 12, "ok": 3, "outside_country": 2, "outside_region": 1, "unchecked": 6}
    assert sum(res.counts[s] for s in ("ok", "outside_country", "outside_region", "unchecked")) == 12
    assert res.unchecked == {
        "no coordinates": [4], "country 'Atlantis' matches no zone": [6], "region 'Nowhere' matches no zone": [8],
        "coordinates out of range": [10], "no stated country": [11],
        "country 'Russian Federation' matches no zone": [12],  # names are matched as given, never guessed
    }
    return res.rows.set_index("event_id")


def test_rows_inside_their_stated_place(audited: pd.DataFrame) -> None:
    ok = audited[audited["audit"] == "ok"]
    assert ok.index.tolist() == ["1", "7", "9"]
    assert ok.loc["1", "stated_region_zone"] == "KZ-ZAP"
    assert ok.loc["7", "stated_region_zone"] == "UA-43"  # "Crimea" within Ukraine: not Russia's claim RU-CR
    assert set(ok.loc["7", "lies_in_region"].split("|")) == {"UA-43", "RU-CR"}
    assert ok.loc["9", "stated_region_zone"] == "RU-KDA"
    assert ok["country_distance_km"].isna().all()


def test_outside_the_stated_country(audited: pd.DataFrame) -> None:
    kyiv = audited.loc["2"]
    assert kyiv["audit"] == "outside_country" and kyiv["lies_in_country"] == "UKR"
    assert kyiv["stated_country_zone"] == "RUS"
    rus = boundaries.load("ne-admin0")["RUS"].geometry
    assert float(kyiv["country_distance_km"]) * 1000 == pytest.approx(brute_distance(30.52, 50.45, rus), abs=5.0)
    # the nearest point is on Russia's boundary, at that distance
    q = (float(kyiv["nearest_lon"]), float(kyiv["nearest_lat"]))
    assert shapely.distance(shapely.Point(q), shapely.boundary(rus)) < 1e-6
    assert WGS.Inverse(50.45, 30.52, q[1], q[0])["s12"] / 1000 == pytest.approx(float(kyiv["country_distance_km"]),
                                                                               abs=0.002)
    caspian = audited.loc["5"]  # at sea: in no country (land-only boundaries)
    assert caspian["audit"] == "outside_country" and caspian["lies_in_country"] == ""
    assert float(caspian["country_distance_km"]) * 1000 == pytest.approx(brute_distance(50.0, 42.0, rus), abs=5.0)


def test_outside_the_stated_region(audited: pd.DataFrame, ne_admin1: ZoneSet) -> None:
    atyrau = audited.loc["3"]
    assert atyrau["audit"] == "outside_region"
    assert atyrau["stated_region_zone"] == "KZ-ZAP" and atyrau["lies_in_region"] == "KZ-ATY"
    assert atyrau["lies_in_country"] == "KAZ"
    expected = brute_distance(51.88, 47.12, ne_admin1["KZ-ZAP"].geometry)
    assert float(atyrau["region_distance_km"]) * 1000 == pytest.approx(expected, abs=5.0)


def test_distance_on_the_equator_is_exact() -> None:
    # From (2, 0) to the box lon 0..1, lat -1..1: the nearest point is (1, 0); along the equator the geodesic
    # is the equator, so the distance is a * 1° in radians.
    d, qlon, qlat = distance_to_boundary(2.0, 0.0, shapely.box(0.0, -1.0, 1.0, 1.0))
    assert d == pytest.approx(6378137.0 * math.radians(1.0), abs=0.01)
    assert (qlon, qlat) == pytest.approx((1.0, 0.0), abs=1e-5)


@pytest.mark.parametrize(("lon", "lat"), [(30.0, 60.5), (-70.0, -30.0), (10.0, 75.0), (170.0, 62.0)])
def test_distance_matches_brute_force_at_any_latitude(lon: float, lat: float) -> None:
    # A lon/lat box: the lon/lat-nearest point is not the geodesic-nearest one at high latitude.
    geom = shapely.box(lon + 0.5, lat - 1.0, lon + 3.0, lat + 2.0)
    d, _, _ = distance_to_boundary(lon, lat, geom)
    assert d == pytest.approx(brute_distance(lon, lat, geom), abs=1.0)
    assert d <= brute_distance(lon, lat, geom) + 0.01


def _tiny_countries() -> ZoneSet:
    prov = Provenance("tiny", "1", "test", "synthetic", "0" * 64)
    return ZoneSet([
        Zone("AAA", "Aland", "state", shapely.box(0, 0, 1, 1), properties={"iso_a2": "AA"}),
        Zone("BBB", "Bland", "state", shapely.box(1, 0, 2, 1), properties={"iso_a2": "BB"}),
    ], prov)


def test_codes_and_names_match_case_insensitively_and_nothing_is_dropped() -> None:
    ev = pd.DataFrame({"lon": ["0.5", "0.5", "0.5", "1.5", "x", "0.5"],
                       "lat": ["0.5", "0.5", "0.5", "0.5", "0.5", "0.5"],
                       "cty": ["aa", "AAA", "ÅLAND", "aland", "aland", "bb"]})
    res = audit(ev, country_col="cty", countries=_tiny_countries())
    assert res.rows["audit"].tolist() == ["ok", "ok", "ok", "outside_country", "unchecked", "outside_country"]
    assert res.rows["lies_in_country"].tolist() == ["AAA", "AAA", "AAA", "BBB", "", "AAA"]
    assert res.rows["row"].tolist() == [1, 2, 3, 4, 5, 6]
    assert len(res.rows) == len(ev)
    # (1.5, 0.5) to Aland's boundary lon=1: along the parallel-ish geodesic, close to 0.5° of longitude
    d = float(res.rows.loc[3, "country_distance_km"]) * 1000
    assert d == pytest.approx(WGS.Inverse(0.5, 1.5, 0.5, 1.0)["s12"], abs=1.0)
    with pytest.raises(InputError, match="no column 'region'"):
        audit(ev, country_col="cty", countries=_tiny_countries(), region_col="region", regions=_tiny_countries())


def test_cli_writes_the_flagged_rows_and_a_summary(ne_admin1: ZoneSet, tmp_path: Path) -> None:
    p = tmp_path / "events.csv"
    p.write_text(EVENTS)
    out = tmp_path / "flagged.csv"
    r = CliRunner().invoke(app, ["audit", str(p), "--country-col", "country", "--region-col", "admin1",
                                 "-o", str(out)])
    assert r.exit_code == 0, r.output
    flagged = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert flagged["event_id"].tolist() == ["2", "3", "4", "5", "6", "8", "10", "11", "12"]
    assert "12 rows read: 3 inside their stated place, 2 outside the stated country" in " ".join(r.output.split())
    assert "not checked, no coordinates: 1 (rows 4)" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    r = CliRunner().invoke(app, ["audit", str(bad), "--country-col", "country"])
    assert r.exit_code != 0 and "no column" in str(r.exception)


def test_csv_numbers_match_the_library(audited: pd.DataFrame) -> None:
    assert np.isfinite(audited.loc[["2", "5"], "country_distance_km"].astype(float)).all()


@settings(max_examples=12, deadline=None)
@given(lon=st.floats(-170.0, 165.0), lat=st.floats(-80.0, 78.0), dx=st.floats(0.2, 3.0), dy=st.floats(0.2, 3.0),
       gap=st.floats(0.05, 2.0))
def test_distance_is_the_geodesic_minimum_for_random_boxes(lon: float, lat: float, dx: float, dy: float,
                                                           gap: float) -> None:
    geom = shapely.box(lon + gap, lat - dy / 2, lon + gap + dx, lat + dy / 2)
    d, qlon, qlat = distance_to_boundary(np.float64(lon), np.float64(lat), geom)
    brute = brute_distance(lon, lat, geom)
    assert d == pytest.approx(brute, abs=1.0)
    assert WGS.Inverse(lat, lon, qlat, qlon)["s12"] == pytest.approx(d, abs=0.5)
