"""Exports against the formats' own rules: RFC 7946 GeoJSON, KML 2.2 (+ gx), ClaimReview for fact-check readers.

The case holds what makes the rules bite: states with islands (MultiPolygons), an annulus (a hole), a polygon
zone given clockwise, tracks with altitudes and an unobserved gap, transit and prism runs, a state whose name is
not ASCII (Côte d'Ivoire, once exported as "CÃ´te d'Ivoire").
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely

from overflight import boundaries
from overflight.analysis.case_runs import run_prism, run_transit
from overflight.case import Case
from overflight.case.export import export, to_geojson
from overflight.evidence.claimreview import missing_fields
from overflight.evidence.model import Claim, Observation, Source
from overflight.zones import from_specs

KML = "{http://www.opengis.net/kml/2.2}"
GX = "{http://www.google.com/kml/ext/2.2}"


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Case]:
    c = Case.create(tmp_path_factory.mktemp("conf") / "conf.duckdb", user="t")
    c.add_sources([Source("radar", "Radar", kind="sensor", reliability="B")])
    t0 = pd.Timestamp("2025-06-21T00:00Z")
    c.add_claims([Claim("c1", "Drones crossed into Kazakhstan.", claimant="Ministry", what="transit",
                        where_zones=("KAZ",), window_start=t0.to_pydatetime(),
                        window_end=(t0 + pd.Timedelta(hours=12)).to_pydatetime(),
                        date_made=t0.to_pydatetime()),
                  Claim("c2", "Nothing crossed the ring.", claimant="Blogger", claimant_type="Person",
                        stance="denies", what="transit", where_zones=("ring",), answers=())])
    ne = boundaries.load("ne-admin0")
    c.add_zones(ne.select(["KAZ", "RUS", "CIV"]))
    c.add_zones(from_specs([
        {"id": "ring", "shape": "annulus", "center": [46.2, 48.3], "inner_km": 50, "outer_km": 300},
        # clockwise on purpose: the export must turn it
        {"id": "box", "shape": "polygon", "coordinates": [[60, 45], [60, 46], [61, 46], [61, 45], [60, 45]]},
    ]))
    n = 30
    times = [t0 + pd.Timedelta(minutes=5 * k) for k in range(n)]
    times[20:] = [t + pd.Timedelta(minutes=60) for t in times[20:]]  # an unobserved gap after fix 20
    c.add_tracks(pd.DataFrame({"track_id": "A", "time": times, "lon": np.linspace(46.0, 53.0, n),
                               "lat": np.full(n, 51.2), "alt_m": np.linspace(500, 800, n)}),
                 dataset="radar", source_id="radar")
    c.add_observations([Observation(f"s{i}", "sighting", source_id="radar", lon=lon, lat=lat,
                                    time_start=(t0 + pd.Timedelta(hours=h)).to_pydatetime(),
                                    time_end=(t0 + pd.Timedelta(hours=h)).to_pydatetime(), credibility=2,
                                    properties={"group": "g"})
                        for i, (lon, lat, h) in enumerate([(47.0, 51.0, 0), (55.0, 51.2, 3)])])
    run_transit(c, dataset="radar", zones=["KAZ", "RUS", "ring"], max_gap_s=600.0)
    run_prism(c, vmax_mps=190 / 3.6, zones=["KAZ"], keep_impossible=True)
    c.evaluate()
    c.set_config("publisher.name", "Example Desk")
    c.set_config("publisher.url", "https://desk.example")
    c.set_config("review.url", "https://desk.example/reviews/kaz")
    yield c
    c.close()


def _rings(geom: dict[str, Any]) -> Iterator[tuple[bool, list[list[float]]]]:
    """(is_exterior, ring) for every ring of a GeoJSON Polygon / MultiPolygon."""
    polys = [geom["coordinates"]] if geom["type"] == "Polygon" else \
        geom["coordinates"] if geom["type"] == "MultiPolygon" else []
    for poly in polys:
        for k, ring in enumerate(poly):
            yield k == 0, ring


def _signed_area(ring: list[list[float]]) -> float:
    """Shoelace area in lon/lat: positive for a counter-clockwise ring (computed here, not by the exporter)."""
    xy = np.asarray(ring, dtype=float)[:, :2]
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))


def test_geojson_rings_follow_rfc7946(case: Case) -> None:
    fc = to_geojson(case, all_zones=True)
    n_ext = n_holes = 0
    for f in fc["features"]:
        if f["geometry"] is None:
            continue
        for exterior, ring in _rings(f["geometry"]):
            assert ring[0] == ring[-1] and len(ring) >= 4
            area = _signed_area(ring)
            if exterior:
                n_ext += 1
                assert area > 0, (f["properties"].get("id"), "exterior ring not counter-clockwise")
            else:
                n_holes += 1
                assert area < 0, (f["properties"].get("id"), "hole not clockwise")
    assert n_ext > 20 and n_holes >= 1  # islands of RUS, the ring's hole, prism areas


def test_geojson_layers_altitude_and_fixes(case: Case) -> None:
    fc = to_geojson(case)
    by_layer: dict[str, list[dict[str, Any]]] = {}
    for f in fc["features"]:
        by_layer.setdefault(f["properties"]["layer"], []).append(f)
    assert {f["properties"]["id"] for f in by_layer["zone"]} == {"KAZ", "RUS", "ring"}  # used ones only
    track = by_layer["track"][0]
    assert len(track["geometry"]["coordinates"][0]) == 3 and track["geometry"]["coordinates"][0][2] == 500.0
    fixes = by_layer["fix"]
    assert len(fixes) == 30
    assert all(len(f["geometry"]["coordinates"]) == 3 for f in fixes)
    assert fixes[0]["properties"]["time"] == "2025-06-21T00:00:00Z"
    pd.to_datetime([f["properties"]["time"] for f in fixes], format="ISO8601", utc=True)  # all ISO 8601
    crossing = next(f for f in by_layer["crossing"] if f["properties"]["zone_id"] == "KAZ"
                and f["properties"]["event"] == "entry")["properties"]
    assert pd.Timestamp(crossing["before_time"]) <= pd.Timestamp(crossing["time"]) <= pd.Timestamp(
        crossing["after_time"])
    assert {f["properties"]["claim"] for f in by_layer["verdict"]} == {"c1", "c2"}
    assert by_layer["verdict"][0]["properties"]["verdict"] in ("supported", "contradicted", "unverified", "disputed")
    assert by_layer["prism_area"][0]["properties"]["verdicts"] == {"KAZ": "necessary"}
    # the verdict point lies inside the claim's zone
    kaz = shapely.geometry.shape(next(f for f in by_layer["zone"] if f["properties"]["id"] == "KAZ")["geometry"])
    pt = shapely.geometry.shape(next(f for f in by_layer["verdict"] if f["properties"]["claim"] == "c1")["geometry"])
    assert kaz.contains(pt)


def test_only_used_zones_unless_all(case: Case, tmp_path: Path) -> None:
    small = export(case, "geojson", tmp_path / "a.geojson")
    full = export(case, "geojson", tmp_path / "b.geojson", all_zones=True)
    ids = {f["properties"]["id"] for f in json.loads(full.read_text(encoding="utf-8"))["features"]
           if f["properties"]["layer"] == "zone"}
    assert ids == {"KAZ", "RUS", "CIV", "ring", "box"}
    assert small.stat().st_size < full.stat().st_size


def test_kml_parses_with_tracks_times_and_utf8_names(case: Case, tmp_path: Path) -> None:
    p = export(case, "kml", tmp_path / "c.kml", all_zones=True)
    raw = p.read_bytes()
    raw.decode("utf-8")  # strict
    root = ET.fromstring(raw)
    names = [pm.findtext(f"{KML}name") for pm in root.iter(f"{KML}Placemark")]
    assert "Côte d'Ivoire" in names and not any("Ã" in (n or "") for n in names)
    folders = [f.findtext(f"{KML}name") for f in root.iter(f"{KML}Folder")]
    assert folders == ["Zones", "Claims", "Observations", "Tracks", "Crossings", "Prism areas", "Verdicts"]
    # the track is cut at its 65-minute gap: two gx:Track in a gx:MultiTrack, whens matching coords
    multi = list(root.iter(f"{GX}MultiTrack"))
    assert len(multi) == 1
    tracks = list(multi[0].iter(f"{GX}Track"))
    assert [len(t.findall(f"{KML}when")) for t in tracks] == [20, 10]
    assert all(len(t.findall(f"{KML}when")) == len(t.findall(f"{GX}coord")) for t in tracks)
    assert tracks[0].findtext(f"{KML}altitudeMode") == "absolute"
    assert list(root.iter(f"{KML}TimeSpan")), "prism areas and windows carry TimeSpan"
    data = {d.get("name") for d in root.iter(f"{KML}Data")}
    assert {"track_id", "zone_id", "event", "vmax_kmh", "verdict"} <= data
    # KML outer rings counter-clockwise too (the KML 2.2 rule for outerBoundaryIs)
    for ob in root.iter(f"{KML}outerBoundaryIs"):
        text = ob.findtext(f".//{KML}coordinates") or ""
        ring = [[float(v) for v in c.split(",")[:2]] for c in text.split()]
        assert _signed_area(ring) > 0


# What Google's ClaimReview structured data requires or recommends for fact-check results
# (developers.google.com/search/docs/appearance/structured-data/factcheck): required claimReviewed,
# reviewRating (with alternateName), url; recommended author (an Organization with name), datePublished,
# itemReviewed (a Claim with author and datePublished). Google's Fact Check Tools markup adds that a review's url
# may only be the page's URL plus an optional anchor ("page jump"): one page, one anchor per claim.
GOOGLE_FIELDS = ("claimReviewed", "reviewRating.alternateName", "url", "author.name", "datePublished",
                 "itemReviewed.author.name", "itemReviewed.datePublished")


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def test_claimreview_has_what_fact_check_readers_need(case: Case, tmp_path: Path) -> None:
    reviews = json.loads(export(case, "claimreview", tmp_path / "c.json").read_text(encoding="utf-8"))
    assert len(reviews) == 2
    for r in reviews:
        assert r["@context"] == "https://schema.org" and r["@type"] == "ClaimReview"
        for path in GOOGLE_FIELDS:
            if path == "itemReviewed.datePublished" and r["identifier"] == "c2":
                continue  # c2 has no date: left out rather than invented
            assert _get(r, path) not in (None, ""), path
        assert r["itemReviewed"]["@type"] == "Claim" and r["reviewRating"]["@type"] == "Rating"
        assert r["author"] == {"@type": "Organization", "name": "Example Desk", "url": "https://desk.example"}
        page, _, anchor = r["url"].partition("#")
        assert page == "https://desk.example/reviews/kaz" and anchor == r["identifier"]
        assert r["author"]["name"] != "overflight"  # the publisher, never the tool
        assert pd.Timestamp(r["datePublished"]).year >= 2025
        assert 1 <= r["reviewRating"]["ratingValue"] <= 5
    c1 = next(r for r in reviews if r["identifier"] == "c1")
    assert missing_fields(c1) == []
    # reviewBody in plain words: the rating and what the evidence showed, no item ids or trail notation
    ids = [e.id for e in case.evidence()]
    assert ids and not any(i in r["reviewBody"] for r in reviews for i in ids)
    assert not any("=>" in r["reviewBody"] for r in reviews)
    assert c1["reviewBody"].startswith(c1["reviewRating"]["alternateName"])
    assert "For the claim:" in c1["reviewBody"] and "track A was in KAZ from 2025-06-21" in c1["reviewBody"]
    assert len({r["url"] for r in reviews}) == 2  # one address per review
