"""The verdict engine: grading weights, quorum of weak items, absence, linked denials, determinism."""

from __future__ import annotations

from itertools import count

from hypothesis import given, settings
from hypothesis import strategies as st

from overflight.evidence.grading import Grade
from overflight.evidence.model import Claim, EvidenceItem
from overflight.evidence.verdicts import evaluate_claims as evaluate
from overflight.evidence.verdicts import strength

_ids = count()


def item(
    claim: str,
    direction: str,
    grade: str = "B2",
    kind: str = "observation",
    source: str | None = None,
) -> EvidenceItem:
    i = next(_ids)
    return EvidenceItem(
        f"e{i}", claim, kind, direction, f"item {i}", grade[0], int(grade[1]), source_id=source or f"s{i}"
    )


A = Claim("a", "dozens crossed", stance="asserts", what="transit")
D = Claim("d", "none crossed", stance="denies", what="transit", answers=("a",))


def verdicts(items: list[EvidenceItem], claims: tuple[Claim, ...] = (A, D)) -> dict[str, str]:
    return {k: v.verdict for k, v in evaluate(list(claims), items).items()}


def test_strength_rule() -> None:
    assert strength(Grade("C", 3)) == "strong"
    assert strength(Grade("D", 2)) == "weak" and strength(Grade("B", 4)) == "weak"
    assert strength(Grade("E", 1)) == "not counted" and strength(Grade("F", 1)) == "not counted"
    assert strength(Grade("A", 5)) == "not counted" and strength(Grade("A", 6)) == "not counted"


def test_no_evidence_is_unverified() -> None:
    assert verdicts([]) == {"a": "unverified", "d": "unverified"}


def test_one_strong_item_supports_and_contradicts_the_denial() -> None:
    assert verdicts([item("a", "supports", "B2")]) == {"a": "supported", "d": "contradicted"}


def test_weak_items_need_a_quorum_of_independent_sources() -> None:
    two = [item("a", "supports", "D2"), item("a", "supports", "D3")]
    assert verdicts(two)["a"] == "unverified"
    same_source = [item("a", "supports", "D2", source="x") for _ in range(4)]
    assert verdicts(same_source)["a"] == "unverified"
    three = [item("a", "supports", "D2"), item("a", "supports", "B4"), item("a", "supports", "C4")]
    assert verdicts(three) == {"a": "supported", "d": "contradicted"}


def test_unjudgeable_and_unreliable_items_do_not_count() -> None:
    junk = [item("a", "supports", g) for g in ("F6", "E1", "A5", "F1", "A6")]
    assert verdicts(junk)["a"] == "unverified"


def test_both_sides_established_is_disputed() -> None:
    v = verdicts([item("a", "supports", "B2"), item("d", "supports", "A2", kind="coverage")])
    assert v == {"a": "disputed", "d": "disputed"}


def test_absence_is_never_supported_by_silence() -> None:
    # A statement supporting the denial is not coverage: it does not count, here nor against the assertion.
    v = evaluate([A, D], [item("d", "supports", "A1", kind="observation")])
    assert v["d"].verdict == "unverified" and v["a"].verdict == "unverified"
    assert any("never supported by silence" in line for line in v["d"].reasoning)
    # Positive coverage does support it, and contradicts the assertion it answers.
    assert verdicts([item("d", "supports", "A2", kind="coverage")]) == {"a": "contradicted", "d": "supported"}


def test_count_zero_assertion_is_a_claim_of_absence() -> None:
    none = Claim("z", "no drones crossed", stance="asserts", what="transit", count_min=0, count_max=0)
    assert none.is_absence
    assert verdicts([item("z", "supports", "A1")], (none,))["z"] == "unverified"
    assert verdicts([item("z", "contradicts", "C3", kind="transit_row")], (none,))["z"] == "contradicted"


def test_assertion_refuted_by_non_coverage_leaves_the_denial_unverified() -> None:
    v = verdicts([item("a", "contradicts", "A1", kind="prism_verdict")])
    assert v == {"a": "contradicted", "d": "unverified"}


def test_verdicts_are_deterministic_and_hash_their_inputs() -> None:
    items = [item("a", "supports", "B2"), item("a", "contradicts", "D4")]
    v1, v2 = evaluate([A, D], items), evaluate([D, A], list(reversed(items)))
    assert v1["a"] == v2["a"] and v1["d"] == v2["d"]
    v3 = evaluate([A, D], [*items, item("a", "supports", "F6")])
    assert v3["a"].verdict == v1["a"].verdict and v3["a"].inputs_hash != v1["a"].inputs_hash


GRADES = st.sampled_from(["A1", "B2", "C3", "D2", "B4", "E1", "F6", "A5"])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "d"]), st.sampled_from(["supports", "contradicts"]), GRADES, st.integers(0, 3)),
        max_size=8,
    )
)
def test_assertion_and_denial_are_mirrored(spec: list[tuple[str, str, str, int]]) -> None:
    # Items that speak for absence are coverage (the case in which the rule promises an exact mirror).
    items = []
    for claim, direction, grade, src in spec:
        absence_side = (claim == "d") == (direction == "supports")
        items.append(
            item(claim, direction, grade, kind="coverage" if absence_side else "transit_row", source=f"src{src}")
        )
    v = verdicts(items)
    mirror = {
        "supported": "contradicted",
        "contradicted": "supported",
        "disputed": "disputed",
        "unverified": "unverified",
    }
    assert v["d"] == mirror[v["a"]]
