"""Exports: ClaimReview JSON-LD, GeoJSON, KML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from overflight.case import Case
from overflight.case.export import export, to_geojson, to_kml
from overflight.errors import InputError
from overflight.evidence.claimreview import BEST_RATING, RATINGS, WORST_RATING, claim_reviews, missing_fields
from overflight.evidence.model import CLAIM_VERDICTS as VERDICTS
from overflight.zones import load_zones

DATA = Path(__file__).parent / "data" / "case"
KML = "{http://www.opengis.net/kml/2.2}"


@pytest.fixture
def case(case_at: Callable[[str], Path]) -> Case:
    c = Case.create(case_at("c"), user="t")  # a .duckdb file, then a postgresql:// URL (user t: see conftest)
    c.import_files([DATA / "observations.csv", DATA / "ledger.yaml"])
    c.add_zones(load_zones(DATA / "zones.geojson"))
    n = 5
    c.add_tracks(
        pd.DataFrame(
            {
                "track_id": ["t1"] * n,
                "time": pd.date_range("2025-06-21T00:00Z", periods=n, freq="10min"),
                "lon": np.linspace(50, 51, n),
                "lat": np.linspace(50, 51, n),
            }
        ),
        dataset="trk",
        illustrative=True,
    )
    c.evaluate()
    return c


def test_claimreview_has_the_required_fields(case: Case) -> None:
    # The transit claim and its denial rest on illustrative sightings: left out unless asked for.
    plain = claim_reviews(case.claims(), case.verdicts(), sources=case.sources(), reviewer="Desk",
                          url="https://desk.example/review")
    assert {r["identifier"] for r in plain} == {"c-supply", "c-range"}
    assert not any("ILLUSTRATIVE" in json.dumps(r) for r in plain)
    reviews = claim_reviews(case.claims(), case.verdicts(), sources=case.sources(), reviewer="Desk",
                            url="https://desk.example/review", include_illustrative=True)
    assert len(reviews) == 4
    by_id = {r["identifier"]: r for r in reviews}
    for r in reviews:
        assert r["@type"] == "ClaimReview" and r["@context"] == "https://schema.org"
        assert missing_fields(r) == []
        assert r["itemReviewed"]["@type"] == "Claim"
        rating = r["reviewRating"]
        assert (rating["worstRating"], rating["bestRating"]) == (WORST_RATING, BEST_RATING) == (1, 5)
        assert rating["ratingValue"] == RATINGS[case.verdicts()[r["identifier"]].verdict][0]
    t = by_id["c-transit"]
    assert t["itemReviewed"]["author"] == {"@type": "Person", "name": "Maria Zakharova"}
    assert t["itemReviewed"]["datePublished"] == "2025-06-21"
    # One strong sighting establishes 1 object of the claimed 24–60: partly supported, rating 4, marked illustrative.
    assert t["reviewRating"]["ratingValue"] == 4
    for text in (t["name"], t["reviewRating"]["alternateName"], t["reviewBody"]):
        assert text.startswith("ILLUSTRATIVE")
    assert "Partly supported" in t["reviewRating"]["alternateName"] and "1 of the claimed 24–60" in t["reviewBody"]
    d = by_id["c-denial"]
    assert "Contradicted" in d["reviewRating"]["alternateName"] and d["reviewRating"]["ratingValue"] == 1
    assert d["itemReviewed"]["author"]["@type"] == "Organization"
    assert missing_fields({"claimReviewed": "x"})  # the checker itself notices gaps


def test_every_verdict_has_a_rating_on_the_declared_scale() -> None:
    assert set(RATINGS) == set(VERDICTS)
    values = {v: RATINGS[v][0] for v in VERDICTS}
    assert all(WORST_RATING <= x <= BEST_RATING for x in values.values())
    assert values["contradicted"] < values["unverified"] == values["disputed"] < values["partly supported"] \
        < values["supported"]


def test_geojson_layers_and_illustrative_flag(case: Case) -> None:
    fc = to_geojson(case, all_zones=True)
    layers = [f["properties"]["layer"] for f in fc["features"]]
    assert layers.count("zone") == 4 and layers.count("observation") == 4 and layers.count("track") == 1
    assert layers.count("claim") == 1  # c-supply has a geometry
    obs = [f for f in fc["features"] if f["properties"]["layer"] == "observation"]
    assert all(f["properties"]["illustrative"] for f in obs)
    o2 = next(f for f in obs if f["properties"]["id"] == "o-2")
    assert o2["geometry"] == {"type": "Point", "coordinates": [51.9, 50.8]} and o2["properties"]["grade"] == "A2"
    track = next(f for f in fc["features"] if f["properties"]["layer"] == "track")
    assert track["geometry"]["type"] == "LineString" and len(track["properties"]["times"]) == 5


def test_kml_parses_with_times_and_folders(case: Case, tmp_path: Path) -> None:
    root = ET.fromstring(to_kml(case).encode())
    folders = [f.find(f"{KML}name").text for f in root.iter(f"{KML}Folder")]  # type: ignore[union-attr]
    assert folders == ["Zones", "Claims", "Observations", "Tracks", "Crossings", "Prism areas", "Verdicts"]
    spans = list(root.iter(f"{KML}TimeSpan"))
    assert len(spans) >= 4  # observations have windows
    names = [p.find(f"{KML}name").text for p in root.iter(f"{KML}Placemark")]  # type: ignore[union-attr]
    assert "[illustrative] sighting o-1" in names
    whens = list(root.iter("{http://www.google.com/kml/ext/2.2}Track"))
    assert len(whens) == 1
    out = export(case, "kml", tmp_path / "x.kml")
    assert out.read_text().startswith("<?xml")
    with pytest.raises(InputError):
        export(case, "shp", tmp_path / "x.shp")
    with pytest.raises(InputError, match="publisher"):
        export(case, "claimreview", tmp_path / "c.json")
    case.set_config("publisher.name", "Desk")
    case.set_config("review.url", "https://desk.example/review")
    reviews = json.loads(export(case, "claimreview", tmp_path / "c.json").read_text())
    assert all(r["author"]["name"] == "Desk" and r["url"].startswith("https://desk.example/review#") for r in reviews)
