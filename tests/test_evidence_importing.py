"""Importing sources, claims, observations and evidence from YAML, JSON and CSV."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from overflight.errors import InputError
from overflight.evidence.importing import read_files
from overflight.evidence.importing import resolve_bundle as resolve

DATA = Path(__file__).parent / "data" / "case"


def test_yaml_and_csv_read_together() -> None:
    b = read_files([DATA / "ledger.yaml", DATA / "observations.csv"])
    assert [s.id for s in b.sources] == ["mfa-ru", "mfa-kz", "tg", "radar", "locals"]
    assert len(b.claims) == 4 and len(b.observations) == 4 and len(b.evidence) == 2
    c = {c.id: c for c in b.claims}
    assert c["c-denial"].stance == "denies" and c["c-denial"].is_absence
    assert c["c-transit"].claimant_type == "Person" and c["c-transit"].count_max == 60
    assert c["c-supply"].where_geometry is not None and c["c-supply"].what == "supply_route"
    resolve(b)
    ev = {e.id: e for e in b.evidence}
    assert (ev["ev-sight-1"].reliability, ev["ev-sight-1"].credibility) == ("D", 2)


def test_json_list_with_types(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text(
        json.dumps(
            [
                {"type": "source", "id": "s", "name": "S", "reliability": "b"},
                {
                    "type": "claim",
                    "id": "c",
                    "statement": "none crossed",
                    "stance": "denied",
                    "count": 0,
                    "when": {"start": "2025-06-21", "end": "2025-06-22T06:00+03:00"},
                },
                {
                    "type": "evidence",
                    "claim": "c",
                    "kind": "coverage",
                    "direction": "supports",
                    "grade": "A2",
                    "reasoning": "radar covered the zone all night",
                },
            ]
        )
    )
    b = resolve(read_files([p]))
    cl = b.claims[0]
    assert cl.stance == "denies" and cl.count_max == 0
    assert cl.window_end is not None and cl.window_end.isoformat() == "2025-06-22T03:00:00+00:00"
    assert b.evidence[0].id.startswith("ev-") and str(b.evidence[0].grade) == "A2"


@pytest.mark.parametrize(
    ("text", "row", "field"),
    [
        ("claims:\n  - {id: a, statement: x}\n  - {id: b, statement: y, stance: maybe}\n", "claims[1]", "stance"),
        ("claims:\n  - {id: a, statement: x, what: teleport}\n", "claims[0]", "what"),
        ("claims:\n  - {id: a, statement: x, when: {start: 2025-06-22, end: 2025-06-21}}\n", "claims[0]", "when"),
        ("claims:\n  - {id: a, statement: x, where: 'POLYGON((0 0, 1 1))'}\n", "claims[0]", "where"),
        ("claims:\n  - {id: a, statement: x, count: {min: 5, max: 2}}\n", "claims[0]", "count"),
        ("claims:\n  - {id: a}\n", "claims[0]", "statement"),
        ("observations:\n  - {id: o, kind: sighting, lon: 200, lat: 1}\n", "observations[0]", "lon"),
        ("observations:\n  - {id: o, kind: sighting, lon: 20}\n", "observations[0]", "lat"),
        ("observations:\n  - {id: o, kind: sighting, time: yesterday-ish}\n", "observations[0]", "time"),
        ("sources:\n  - {id: s, reliability: Z}\n", "sources[0]", "reliability"),
        ("sources:\n  - {id: s}\n  - {id: s}\n", "sources[1]", "id"),
        ("evidence:\n  - {claim: c, kind: observation, direction: maybe, reasoning: r}\n", "evidence[0]", "direction"),
        ("nonsense: []\n", None, "nonsense"),
    ],
)
def test_bad_values_name_file_row_field(tmp_path: Path, text: str, row: str | None, field: str) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(InputError) as ei:
        read_files([p])
    assert (ei.value.file, ei.value.row, ei.value.field) == (str(p), row, field)


def test_csv_rows_are_line_numbers_and_references_are_checked(tmp_path: Path) -> None:
    with pytest.raises(InputError) as ei:
        read_files([DATA / "observations_bad.csv"])
    assert (ei.value.row, ei.value.field) == (4, "credibility")
    p = tmp_path / "claims.csv"
    p.write_text("id,statement,source,answers\nc1,x,,\nc2,y,nobody,c1\n")
    b = read_files([p])
    assert b.claims[1].answers == ("c1",)
    with pytest.raises(InputError) as ei:
        resolve(b)
    assert (ei.value.row, ei.value.field) == (3, "source")
    q = tmp_path / "mixed.csv"
    q.write_text("type,id,name\nsource,s1,A\nbanana,s2,B\n")
    with pytest.raises(InputError) as ei:
        read_files([q])
    assert (ei.value.row, ei.value.field) == (3, "type")
    r = tmp_path / "stuff.csv"
    r.write_text("id,name\ns1,A\n")
    with pytest.raises(InputError, match="'type' column"):
        read_files([r])
