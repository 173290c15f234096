"""Observation evidence: kinds, windows, areas, location precision, absence, verify."""

from __future__ import annotations

from pathlib import Path

import pytest

from overflight.case import Case
from overflight.evidence.importing import read_files
from overflight.evidence.matching import match_observations
from overflight.zones import load_zones

DATA = Path(__file__).parent / "data" / "case"


@pytest.fixture
def case(tmp_path: Path) -> Case:
    c = Case.create(tmp_path / "c.duckdb", user="t")
    c.import_files([DATA / "observations.csv", DATA / "ledger.yaml"])
    c.add_zones(load_zones(DATA / "zones.geojson"))
    return c


def test_observations_become_evidence_with_their_grades(case: Case) -> None:
    res = match_observations(case)
    pairs = {(r.claim_id, r.observation_id): r.outcome for r in res.table.itertuples()}
    # sightings o-1, o-2 fall in the window and KAZ-W; wreckage o-3/o-4 are two weeks early
    assert pairs == {
        ("c-transit", "o-1"): "supports",
        ("c-transit", "o-2"): "supports",
        ("c-denial", "o-1"): "contradicts",
        ("c-denial", "o-2"): "contradicts",
    }
    ev = {e.id: e for e in case.evidence()}
    assert str(ev["obs-c-transit-o-2"].grade) == "A2" and ev["obs-c-transit-o-2"].run_id == res.run_id
    assert "[illustrative]" in ev["obs-c-transit-o-1"].reasoning
    v = case.evaluate()
    # Two sightings, two objects (no object id given), but o-1 alone is one weak item (D2): it does not establish
    # its object. One object (o-2, A2) of the claimed 24–60: the transit is partly supported.
    assert (v["c-transit"].verdict, v["c-denial"].verdict) == ("partly supported", "contradicted")
    assert v["c-transit"].number == 1 and v["c-transit"].illustrative
    # o-1 and o-2 reach c-transit three ways each (ledger item, own match, c-denial's match): counted once each
    assert v["c-transit"].reasoning[0].startswith("claim (asserts transit, claimed count 24–60); 2 evidence item(s)")
    assert v["c-denial"].reasoning[0].startswith("claim of absence (denies transit); 2 evidence item(s)")
    assert case.verify().ok


def test_location_precision_makes_a_point_near_the_border_ambiguous(case: Case, tmp_path: Path) -> None:
    p = tmp_path / "more.yaml"
    # 0.05° inside the western edge of KAZ-W (~3.5 km) but only known to within 20 km
    p.write_text(
        "observations:\n  - {id: o-edge, kind: sighting, source: radar, lon: 46.05, lat: 50,"
        " time: 2025-06-21T03:00Z, precision_m: 20000, credibility: 1}\n"
    )
    case.import_bundle(read_files([p]))
    res = match_observations(case, claims=["c-transit"])
    row = res.table.set_index("observation_id").loc["o-edge"]
    assert row["outcome"] == "ambiguous location" and 3000 < row["border_m"] < 4000
    assert not any(e.observation_id == "o-edge" for e in res.evidence)
