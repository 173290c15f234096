"""Verdict rule 2 (counts, objects, item facts), rule versioning, and the semantic checks on import."""

from __future__ import annotations

import gzip
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from overflight.analysis.case_runs import TIMES_WINDOW, run_prism, sightings_frame
from overflight.case import Case
from overflight.cli.main import app
from overflight.errors import InputError
from overflight.evidence.facts import item_facts, parse_kmh_range
from overflight.evidence.model import Claim, EvidenceItem, ItemFacts, Observation, Source
from overflight.evidence.verdicts import RULE_VERSION
from overflight.evidence.verdicts import evaluate_claims as evaluate
from overflight.zones import Provenance, Zone, ZoneSet

RULE1_CASE = Path(__file__).parent / "data" / "rule1" / "demo-0924fd0.duckdb.gz"
T0 = datetime(2025, 6, 21, 0, 0, tzinfo=UTC)


def strong(claim: str, obj: str, i: int, direction: str = "supports", grade: str = "B2") -> EvidenceItem:
    return EvidenceItem(f"e-{claim}-{obj}-{i}", claim, "observation", direction, f"sighting of {obj}", grade[0],
                        int(grade[1]), source_id=f"s{i}", observation_id=f"o-{obj}-{i}")


def facts_for(items: list[EvidenceItem], obj_of: dict[str, str]) -> dict[str, ItemFacts]:
    return {e.id: ItemFacts(objects=(f"object:{obj_of[e.id]}",)) for e in items}


def claims_with_count(lo: int | None, hi: int | None) -> tuple[Claim, Claim]:
    a = Claim("a", "drones crossed", stance="asserts", what="overflight", count_min=lo, count_max=hi)
    d = Claim("d", "no drone crossed", stance="denies", what="overflight", answers=("a",))
    return a, d


# ----------------------------------------------------------------------------- the count rule table

COUNT_TABLE = [
    # (count_min, count_max, established objects, assertion, denial of the event)
    (24, 99, 0, "unverified", "unverified"),
    (24, 99, 1, "partly supported", "contradicted"),
    (24, 99, 2, "partly supported", "contradicted"),
    (24, 99, 24, "supported", "contradicted"),
    (24, 99, 99, "supported", "contradicted"),
    (24, 99, 100, "contradicted", "contradicted"),
    (None, None, 0, "unverified", "unverified"),
    (None, None, 1, "supported", "contradicted"),
    (None, None, 30, "supported", "contradicted"),
    (1, 1, 1, "supported", "contradicted"),
    (1, 1, 2, "contradicted", "contradicted"),
    (5, None, 4, "partly supported", "contradicted"),
    (5, None, 5, "supported", "contradicted"),
    (None, 3, 3, "supported", "contradicted"),
    (None, 3, 4, "contradicted", "contradicted"),
]


@pytest.mark.parametrize(("lo", "hi", "n", "assertion", "denial"), COUNT_TABLE)
def test_count_rule_table(lo: int | None, hi: int | None, n: int, assertion: str, denial: str) -> None:
    a, d = claims_with_count(lo, hi)
    items = [strong("a", f"obj{k}", k) for k in range(n)]
    v = evaluate([a, d], items, facts=facts_for(items, {e.id: e.id.split("-")[2] for e in items}))
    assert (v["a"].verdict, v["d"].verdict) == (assertion, denial)
    assert v["a"].number == n and v["a"].rule_version == "2"
    if assertion == "partly supported":
        assert v["a"].reasoning[-1].endswith(f"{n} of the claimed {lo}–{hi} {'is' if n == 1 else 'are'}"
                                             if hi is not None else f"{n} of the claimed at least {lo} "
                                             f"{'is' if n == 1 else 'are'}")
        assert v["a"].reasoning[-1].startswith("=> partly supported: an overflight is established")


def test_two_items_about_one_object_count_once() -> None:
    a, d = claims_with_count(2, 10)
    items = [strong("a", "T1", 1), strong("a", "T1", 2), strong("a", "T2", 3)]
    same = evaluate([a, d], items, facts=facts_for(items, {items[0].id: "T1", items[1].id: "T1",
                                                           items[2].id: "T1"}))
    assert same["a"].verdict == "partly supported" and same["a"].number == 1
    two = evaluate([a, d], items, facts=facts_for(items, {items[0].id: "T1", items[1].id: "T1",
                                                          items[2].id: "T2"}))
    assert two["a"].verdict == "supported" and two["a"].number == 2
    assert "objects established: 2 (object:T1, object:T2)" in two["a"].reasoning


def test_weak_items_establish_an_object_only_with_the_quorum() -> None:
    a, d = claims_with_count(2, None)
    # Three weak items from three sources about three different objects: the event is established (the weak
    # quorum), no object is on its own, so the number is 1.
    items = [strong("a", f"X{k}", k, grade="D2") for k in range(3)]
    v = evaluate([a, d], items, facts=facts_for(items, {e.id: e.id.split("-")[2] for e in items}))
    assert v["a"].verdict == "partly supported" and v["a"].number == 1
    assert "objects established: 1 (the event, no single object on its own)" in v["a"].reasoning
    # The same three about one object establish it.
    v = evaluate([a, d], items, facts=facts_for(items, {e.id: "X" for e in items}))
    assert v["a"].number == 1 and "objects established: 1 (object:X)" in v["a"].reasoning


def test_an_observation_of_many_unnamed_objects_shows_at_least_its_count() -> None:
    a, d = claims_with_count(24, 99)
    items = [strong("a", "swarm", 1), strong("a", "other", 2)]
    facts = {items[0].id: ItemFacts(objects=("observation:swarm",), count=30),
             items[1].id: ItemFacts(objects=("observation:other",), count=20)}
    v = evaluate([a, d], items, facts=facts)
    # 30 at least; the 20 may be among the 30: counts of different items are not added.
    assert v["a"].verdict == "supported" and v["a"].number == 30


def test_denial_with_a_count_is_contradicted_only_when_the_number_reaches_it() -> None:
    a = Claim("a", "dozens crossed", what="transit", count_min=24, count_max=99)
    d = Claim("d", "not dozens", stance="denies", what="transit", count_min=24, answers=("a",))
    items = [strong("a", "T1", 1)]
    v = evaluate([a, d], items)
    assert (v["a"].verdict, v["d"].verdict) == ("partly supported", "unverified")
    assert "fewer than the 24 the denial is about" in v["d"].reasoning[-1]
    items = [strong("a", f"T{k}", k) for k in range(24)]
    assert evaluate([a, d], items)["d"].verdict == "contradicted"


def test_rule_1_ignores_the_count_and_keeps_its_hash() -> None:
    a, d = claims_with_count(24, 99)
    items = [strong("a", "T1", 1)]
    v1 = evaluate([a, d], items, rule="1")
    v2 = evaluate([a, d], items, rule="latest")
    assert (v1["a"].verdict, v1["a"].rule_version, v1["a"].number) == ("supported", "1", None)
    assert (v2["a"].verdict, v2["a"].rule_version) == ("partly supported", RULE_VERSION)
    assert v1["a"].inputs_hash != v2["a"].inputs_hash
    with pytest.raises(InputError, match="unknown verdict rule"):
        evaluate([a, d], items, rule="7")


def test_excluded_items_enter_the_trail_and_do_not_count() -> None:
    a, d = claims_with_count(None, None)
    items = [strong("a", "T1", 1)]
    facts = {items[0].id: ItemFacts(objects=("object:T1",), excluded="disputed visit: also inside another claim",
                                    illustrative=True)}
    v = evaluate([a, d], items, facts=facts)
    assert v["a"].verdict == "unverified" and not v["a"].illustrative
    assert any("not counted: disputed visit" in line for line in v["a"].reasoning)
    # The facts are part of the inputs: the same items without them hash differently.
    assert evaluate([a, d], items)["a"].inputs_hash != v["a"].inputs_hash


def test_illustrative_marking() -> None:
    a, d = claims_with_count(None, None)
    items = [strong("a", "T1", 1)]
    v = evaluate([a, d], items, facts={items[0].id: ItemFacts(objects=("object:T1",), illustrative=True)})
    assert v["a"].illustrative and v["d"].illustrative
    assert v["a"].label == "supported (illustrative)" and v["d"].label == "contradicted (illustrative)"
    assert any(line.startswith("rests on illustrative item(s)") for line in v["a"].reasoning)


def test_parse_kmh_range() -> None:
    assert parse_kmh_range("150-185") == (150.0, 185.0) and parse_kmh_range(185) == (185.0, 185.0)
    assert parse_kmh_range([200, 150]) == (150.0, 200.0) and parse_kmh_range("") is None


# ----------------------------------------------------------------------------- a small case with prism runs

def _case(tmp_path: Path, sightings: list[Observation]) -> Case:
    c = Case.create(tmp_path / "c.duckdb", user="t")
    c.add_zones(ZoneSet([Zone("Z", "test zone", "state", shapely.box(10.0, 0.0, 11.0, 1.0))],
                        Provenance("test", "1", "CC0", "hand-drawn", "-")))
    c.add_sources([Source("radar", "radar", kind="sensor", reliability="B")])
    c.add_claims([Claim("a", "drones crossed Z", what="transit", where_zones=("Z",), count_min=2, count_max=10),
                  Claim("d", "nothing crossed Z", stance="denies", what="transit", where_zones=("Z",),
                        answers=("a",))])
    c.add_observations(sightings)
    return c


def _sighting(oid: str, group: str, lon: float, minutes: float, **props: object) -> Observation:
    t = T0 + timedelta(minutes=minutes)
    return Observation(oid, "sighting", "radar", lon=lon, lat=0.5, time_start=t, time_end=t, credibility=2,
                       properties={"group": group, **props})


def test_prism_run_contradicted_by_an_inconsistent_pair_of_the_same_object_does_not_count(tmp_path: Path) -> None:
    # G: a fix inside Z (necessary), then ~890 km in 10 minutes (inconsistent at 200 km/h).
    obs = [_sighting("g1", "G", 10.5, 0), _sighting("g2", "G", 12.0, 60), _sighting("g3", "G", 20.0, 70)]
    with _case(tmp_path, obs) as c:
        _, table = run_prism(c, vmax_mps=200 / 3.6, zones=["Z"], keep_impossible=True)
        assert sorted(table["verdict"]) == ["inconsistent", "necessary"]
        v = c.evaluate()
        facts = item_facts(c)
    (f,) = facts.values()
    assert f.objects == ("object:G",) and f.excluded and "inconsistent" in f.excluded
    assert v["a"].verdict == "unverified" and v["d"].verdict == "unverified"
    assert any("flew faster than that" in line for line in v["a"].reasoning)


def test_prism_counts_only_at_the_highest_plausible_speed(tmp_path: Path) -> None:
    # Z is 1° wide (10–11°E) and spans 0–1°N. H flies from 9°E to 12°E along 0.5°N in 2 h 54 min: direct
    # 334 km, the shortest path around Z 360 km. At 120 km/h (budget 348 km) Z is necessary, at 185 km/h
    # (537 km) only possible; H is recorded as flying up to 185 km/h, so the 120 km/h result does not count.
    # K has a fix inside Z and flies 167 km in 1 h: inconsistent at 120, necessary at 185 (that one counts).
    obs = [_sighting("h1", "H", 9.0, 0, vmax_kmh="150-185"), _sighting("h2", "H", 12.0, 174),
           _sighting("k1", "K", 10.5, 0), _sighting("k2", "K", 12.0, 60)]
    with _case(tmp_path, obs) as c:
        _, slow = run_prism(c, vmax_mps=120 / 3.6, zones=["Z"])
        assert dict(zip(slow["track_id"], slow["verdict"], strict=True)) == {"H": "necessary", "K": "inconsistent"}
        only_slow = c.evaluate()
        _, fast = run_prism(c, vmax_mps=185 / 3.6, zones=["Z"])
        assert dict(zip(fast["track_id"], fast["verdict"], strict=True)) == {"H": "possible", "K": "necessary"}
        v = c.evaluate()
        facts = item_facts(c)
        items = {e.id: e for e in c.evidence()}
    assert only_slow["a"].verdict == "unverified"
    (h,) = [f for i, f in facts.items() if ":H:" in i]
    assert h.excluded and "185 km/h" in h.excluded and "vmax_kmh 150-185 of observation h1" in h.excluded
    (k,) = [f for i, f in facts.items() if ":K:" in i]
    assert k.excluded is None and k.objects == ("object:K",)
    assert len(items) == 2
    assert v["a"].verdict == "partly supported" and v["a"].number == 1
    assert "objects established: 1 (object:K)" in v["a"].reasoning
    assert v["d"].verdict == "contradicted"


def test_observation_windows_are_time_error_and_place_names_use_the_gazetteer(tmp_path: Path) -> None:
    w = Observation("w1", "sighting", "radar", lon=10.2, lat=0.5, time_start=T0, time_end=T0 + timedelta(minutes=10),
                    credibility=2, properties={"group": "W", "time_err_s": 30.0})
    p = Observation("p1", "sighting", "radar", area="Uralsk", time_start=T0 + timedelta(hours=2),
                    time_end=T0 + timedelta(hours=2), precision_m=100.0, credibility=2, properties={"group": "W"})
    with _case(tmp_path, [w, p]) as c:
        new = sightings_frame(c, {"source": "observations", "times": TIMES_WINDOW}).set_index("observation")
        old = sightings_frame(c, {"source": "observations"}).set_index("observation")
    assert new.loc["w1", "time"] == pd.Timestamp(T0 + timedelta(minutes=5))
    assert new.loc["w1", "time_err_s"] == pytest.approx(300.0 + 30.0)
    # Runs recorded before windows were honoured (no "times" parameter) re-run as they were made.
    assert old.loc["w1", "time"] == pd.Timestamp(T0) and old.loc["w1", "time_err_s"] == pytest.approx(30.0)
    from overflight import gazetteer

    ural = gazetteer.resolve("Uralsk")
    assert (new.loc["p1", "lon"], new.loc["p1", "lat"]) == (pytest.approx(ural.lon), pytest.approx(ural.lat))
    assert new.loc["p1", "pos_err_m"] == pytest.approx(max(100.0, ural.extent_m)) and ural.extent_m > 1000


# ----------------------------------------------------------------------------- import checks

def test_analysis_kinds_without_a_run_are_refused_on_import(tmp_path: Path) -> None:
    f = tmp_path / "ev.yaml"
    f.write_text("claims:\n  - {id: a, statement: x, what: transit}\n"
                 "evidence:\n  - {claim: a, kind: prism_verdict, direction: supports, reasoning: trust me,"
                 " grade: A1}\n")
    with Case.create(tmp_path / "c.duckdb") as c:
        with pytest.raises(InputError, match="without a run behind it") as exc:
            c.import_files([f])
        assert exc.value.field == "kind" and "evidence[0]" in str(exc.value)
        f.write_text(f.read_text().replace("grade: A1}", "grade: A1, run: transit-9}"))
        with pytest.raises(InputError, match="transit-9") as exc:
            c.import_files([f])
        assert exc.value.field == "run"
        # The same finding typed in as kind "other" (no run cited) is taken, with the grade the user gives.
        f.write_text(f.read_text().replace("prism_verdict", "other").replace(", run: transit-9", ""))
        assert c.import_files([f])["evidence"]["inserted"] == 1
        assert str(c.evidence()[0].grade) == "A1"


def test_claim_scoped_to_an_unknown_zone_is_an_import_error_with_close_matches(tmp_path: Path) -> None:
    f = tmp_path / "claims.yaml"
    f.write_text("claims:\n  - {id: ok, statement: x, what: transit, where: {zones: [Z]}}\n"
                 "  - {id: bad, statement: y, what: transit, where: {zones: [test zon]}}\n")
    with _case(tmp_path, []) as c:
        with pytest.raises(InputError) as exc:
            c.import_files([f])
        assert exc.value.field == "where.zones" and "claims[1]" in str(exc.value) and str(f) in str(exc.value)
        assert "'test zon'" in str(exc.value) and "close matches: Z (test zone)" in str(exc.value)
        assert set(c.claims()) == {"a", "d"}  # nothing of the file was stored


# ----------------------------------------------------------------------------- rule versions in a case file

@pytest.fixture
def rule1_case(tmp_path: Path) -> Path:
    p = tmp_path / "case.duckdb"
    with gzip.open(RULE1_CASE, "rb") as src, p.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return p


def test_a_case_built_by_the_previous_release_verifies_under_rule_1(rule1_case: Path) -> None:
    with Case.open(rule1_case, read_only=True) as c:
        rep = c.verify()
        stored = c.verdicts()
        assert c.verdict_rule() == "1"
    assert rep.ok, "\n".join(rep.lines())
    assert {v.rule_version for v in stored.values()} == {"1"}
    assert stored["zakharova-transit"].verdict == "supported" and stored["zakharova-transit"].number is None
    assert sum(ch.what == "verdict" and ch.ok for ch in rep.checks) == 6


def test_evaluate_rule_latest_re_derives_under_rule_2_and_audits_it(rule1_case: Path) -> None:
    r = CliRunner()
    res = r.invoke(app, ["case", "evaluate", str(rule1_case), "--no-trail"])  # keeps the case's rule
    assert res.exit_code == 0, res.output
    assert "verdicts (rule 1)" in res.output
    res = r.invoke(app, ["case", "evaluate", str(rule1_case), "--rule", "latest"])
    assert res.exit_code == 0, res.output
    assert "verdicts (rule 2)" in res.output and "1 of the claimed 24–99 is" in res.output
    with Case.open(rule1_case, read_only=True) as c:
        stored = c.verdicts()
        audit = c.audit()
        rep = c.verify()
    assert rep.ok, "\n".join(rep.lines())
    assert {v.rule_version for v in stored.values()} == {"2"}
    assert stored["zakharova-transit"].verdict == "partly supported" and stored["zakharova-transit"].illustrative
    assert stored["kz-mfa-denial"].verdict == "contradicted"
    ev = audit[audit["action"] == "evaluate"]
    assert len(ev) == 1 and ev["key"].iloc[0] == "rule 2"
    assert '"verdicts_changed":["zakharova-transit"]' in ev["after"].iloc[0].replace(" ", "")


def test_observation_match_places_place_named_observations_by_the_gazetteer(tmp_path: Path) -> None:
    from overflight import gazetteer
    from overflight.evidence.matching import match_observations
    from overflight.zones import load_zones

    data = Path(__file__).parent / "data" / "case"
    with Case.create(tmp_path / "c.duckdb") as c:
        c.add_zones(load_zones(data / "zones.geojson"))
        c.import_files([data / "ledger.yaml", data / "observations.csv"])
        c.add_observations([Observation("p-1", "sighting", "locals", area="Uralsk", credibility=2,
                                        time_start=datetime(2025, 6, 21, 1, tzinfo=UTC),
                                        time_end=datetime(2025, 6, 21, 2, tzinfo=UTC))])
        res = match_observations(c)
    ural = gazetteer.resolve("Uralsk")
    row = res.table[(res.table["observation_id"] == "p-1") & (res.table["claim_id"] == "c-transit")].iloc[0]
    assert (row["lon"], row["lat"]) == (pytest.approx(ural.lon), pytest.approx(ural.lat))
    assert row["precision_m"] == pytest.approx(ural.extent_m) and row["outcome"] == "supports"
    (item,) = [e for e in res.evidence if e.observation_id == "p-1" and e.claim_id == "c-transit"]
    assert "Uralsk" in item.reasoning


def test_disputed_visits_enter_the_trail_and_do_not_establish_presence(tmp_path: Path) -> None:
    import numpy as np

    from overflight.analysis.case_runs import run_transit
    from overflight.zones import load_zones

    data = Path(__file__).parent / "data" / "case"
    n = 20
    times = pd.date_range("2025-06-21T00:00Z", periods=n, freq="2min")
    # D flies inside the area both KZ and RU claim (46–50°E, 49–55°N); U flies in KZ alone.
    tracks = pd.concat([
        pd.DataFrame({"track_id": "D", "time": times, "lon": np.linspace(47, 49, n), "lat": np.linspace(50, 53, n)}),
        pd.DataFrame({"track_id": "U", "time": times, "lon": np.linspace(60, 70, n), "lat": np.full(n, 45.0)}),
    ], ignore_index=True).assign(alt_m=300.0)
    with Case.create(tmp_path / "c.duckdb") as c:
        c.add_zones(load_zones(data / "zones.geojson"))
        c.add_sources([Source("radar", "radar", kind="sensor", reliability="A")])
        c.add_claims([Claim("k", "drones crossed K", what="transit", where_zones=("KZ",), count_min=2, count_max=5,
                            window_start=T0, window_end=T0 + timedelta(days=1))])
        c.add_tracks(tracks, dataset="t", source_id="radar")
        _, visits = run_transit(c, dataset="t", zones=["KZ", "RU"])
        v = c.evaluate()["k"]
    kz = visits[visits["zone_id"] == "KZ"].set_index("track_id")
    assert bool(kz.loc["D", "disputed"]) and not bool(kz.loc["U", "disputed"])
    d_line = next(line for line in v.reasoning if "track D was in KZ" in line)
    assert "not counted: disputed visit" in d_line and "DISPUTED" in d_line
    assert v.verdict == "partly supported" and v.number == 1 and "objects established: 1 (object:U)" in v.reasoning


_GRADES = ["A1", "B2", "C3", "D2", "B4", "E1", "F6", "A5"]


def _random_items(spec: list[tuple[str, str, str, int, int]]) -> list[EvidenceItem]:
    kinds = ["observation", "coverage", "transit_row", "other"]
    return [EvidenceItem(f"r{i}", claim, kinds[k % 4], direction, "x", g[0], int(g[1]), source_id=f"s{src}",
                         observation_id=f"o{i % 3}" if k % 2 else None)
            for i, (claim, direction, g, src, k) in enumerate(spec)]


_SPEC = st.lists(st.tuples(st.sampled_from(["a", "d"]), st.sampled_from(["supports", "contradicts"]),
                           st.sampled_from(_GRADES), st.integers(0, 3), st.integers(0, 7)), max_size=10)


@settings(max_examples=300, deadline=None)
@given(_SPEC)
def test_claims_without_a_count_come_out_as_under_rule_1(spec: list[tuple[str, str, str, int, int]]) -> None:
    a, d = claims_with_count(None, None)
    items = _random_items(spec)
    v1, v2 = evaluate([a, d], items, rule="1"), evaluate([a, d], items, rule="2")
    assert {k: v.verdict for k, v in v1.items()} == {k: v.verdict for k, v in v2.items()}


@settings(max_examples=300, deadline=None)
@given(_SPEC, st.integers(0, 6), st.integers(0, 6))
def test_a_count_only_refines_supported(spec: list[tuple[str, str, str, int, int]], lo: int, width: int) -> None:
    # With a count, rule 2 turns rule 1's "supported" into supported / partly supported / contradicted by the
    # number, and leaves every other verdict as it was; the number never exceeds the objects shown.
    items = _random_items(spec)
    plain = evaluate(list(claims_with_count(None, None)), items)
    a, d = claims_with_count(lo or None, (lo + width) if lo else None)
    counted = evaluate([a, d], items)
    objects = {e.observation_id or e.id for e in items}
    for cid in ("a", "d"):
        p, c = plain[cid], counted[cid]
        assert c.number is not None and c.number <= max(len(objects), 1)
        if cid == "a" and p.verdict == "supported":
            assert c.verdict in ("supported", "partly supported", "contradicted")
            if a.count_min is not None and c.number < a.count_min:
                assert c.verdict == "partly supported"
        else:
            assert c.verdict == p.verdict
