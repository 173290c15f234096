"""The verdict engine: from evidence items to one verdict per claim, with the reasoning trail.

`evaluate_claims` derives verdicts under a rule version (`RULES`; `RULE_VERSION` is the latest). Rule 2
(`overflight.evidence.rule2`, the default) is rule 1 below plus claimed counts weighed by the number of
distinct objects established, and item facts (`overflight.evidence.facts`); ``docs/verdicts.md`` has both.
Rule 1 is kept unchanged here, so verdicts stored under it still re-derive with the same hash.

Rule 1
------
1. **Pool.** A claim's pool holds its own evidence items and those of every claim it is linked to by
   ``answers`` (in either direction). An item borrowed from a linked claim of the opposite polarity (one is a
   claim of absence, the other is not) has its direction flipped: a transit that supports "drones crossed"
   contradicts "no drones crossed". The same observation pointing the same way enters a pool once.
2. **Weight.** Each item carries an Admiralty grade: the reliability of its source (A–F) and the
   credibility of the information (1–6).

   - *strong*: reliability A–C **and** credibility 1–3;
   - *weak*: reliability A–D and credibility 1–4, but not strong;
   - *not counted*: anything graded E or F, or 5 or 6 (unreliable, improbable, or cannot be judged).
3. **Absence.** A claim of absence (stance ``denies``, or a count of at most 0) is supported only by
   evidence of kind ``coverage`` (a sensor record that covered the zone and window and saw nothing).
   Any other item supporting absence is not counted, wherever it sits: silence is never evidence.
   One strong contradicting item (a reliably observed transit) is enough to contradict it.
4. **Established side.** The supporting (or contradicting) side is established by one strong item, or by
   `WEAK_QUORUM` (3) weak items from at least 3 independent sources. Items are independent when their
   sources differ (without a source: their analysis runs differ).
5. **Verdict.** Both sides established → ``disputed``; only the supporting side → ``supported``; only the
   contradicting side → ``contradicted``; neither → ``unverified`` (no usable evidence either way).

An assertion and the denial that answers it share one pool, so they come out mirrored (supported ↔
contradicted, disputed ↔ disputed, unverified ↔ unverified). The one asymmetry is deliberate: an assertion
contradicted by evidence that is not coverage (e.g. a prism verdict that rules out one route) leaves the
denial unverified, because refuting one piece of an assertion does not show that nothing happened.

Each verdict stores the hash of its inputs (the whole claim — statement, scope, window, count — its links,
and every pooled item whole, reasoning and run link included; see `inputs_hash`), so `overflight case verify`
can re-derive it and show it is the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from overflight._deprecated import deprecated_names
from overflight.errors import InputError
from overflight.evidence.model import Claim, EvidenceItem, ItemFacts, Verdict
from overflight.evidence.pooling import (
    RULE_VERSION,
    RULES,
    WEAK_QUORUM,
    hash_scheme,
    inputs_hash,
    strength,
)
from overflight.evidence.pooling import links as _links
from overflight.evidence.pooling import pool as _pool
from overflight.evidence.pooling import side as _side
from overflight.evidence.rule2 import evaluate_v2

__all__ = ["RULES", "RULE_VERSION", "WEAK_QUORUM", "evaluate_claim", "evaluate_claims", "hash_scheme", "inputs_hash",
           "strength"]

__getattr__ = deprecated_names(__name__, {"evaluate": "evaluate_claims"})

def evaluate_claim(claim: Claim, claims: Mapping[str, Claim], evidence: Iterable[EvidenceItem]) -> Verdict:
    """The verdict on one claim (see the module docstring for the rule)."""
    return evaluate_claims(claims, evidence)[claim.id]


def evaluate_claims(claims: Mapping[str, Claim] | Iterable[Claim], evidence: Iterable[EvidenceItem], *,
             facts: Mapping[str, ItemFacts] | None = None, rule: str = RULE_VERSION) -> dict[str, Verdict]:
    """Derive a verdict for every claim from the evidence items.

    Parameters
    ----------
    claims
        The claims, as a mapping id → Claim or an iterable of claims.
    evidence
        Every evidence item; items for unknown claims are ignored.
    facts
        What the case says about each item (item id → `ItemFacts`: the objects it shows, whether it rests
        on illustrative data, why it does not count). Rule 2 uses them; rule 1 ignores them. Without
        facts an item shows one object: its observation, or itself.
    rule
        The rule version, ``"1"`` or ``"2"`` (`RULES`); ``"latest"`` means `RULE_VERSION`.

    Returns
    -------
    dict
        claim id → `Verdict` with its reasoning trail and inputs hash, in the claims' order.
    """
    rule = RULE_VERSION if rule == "latest" else str(rule)
    if rule not in RULES:
        raise InputError(f"unknown verdict rule {rule!r}: known rules are {', '.join(RULES)} (or latest)",
                         field="rule")
    cmap: dict[str, Claim] = dict(claims) if isinstance(claims, Mapping) else {c.id: c for c in claims}
    if rule == "1":
        return _evaluate_v1(cmap, evidence)
    return evaluate_v2(cmap, evidence, facts or {})


def _evaluate_v1(cmap: Mapping[str, Claim], evidence: Iterable[EvidenceItem]) -> dict[str, Verdict]:
    """Rule 1 (kept unchanged so that verdicts stored under it still re-derive)."""
    by_claim: dict[str, list[EvidenceItem]] = {}
    for it in evidence:
        by_claim.setdefault(it.claim_id, []).append(it)
    links = _links(cmap)
    out: dict[str, Verdict] = {}
    for cid, claim in cmap.items():
        pooled = _pool(claim, cmap, by_claim, links)
        sup = [p for p in pooled if p.direction == "supports"]
        con = [p for p in pooled if p.direction == "contradicts"]
        sup_ok, sup_why = _side(sup)
        con_ok, con_why = _side(con)
        if sup_ok and con_ok:
            verdict = "disputed"
        elif sup_ok:
            verdict = "supported"
        elif con_ok:
            verdict = "contradicted"
        else:
            verdict = "unverified"
        kind = "claim of absence" if claim.is_absence else "claim"
        trail = [f"{kind} ({claim.stance} {claim.what}); {len(pooled)} evidence item(s)"
                 + (f", incl. from linked claim(s) {', '.join(sorted(links[cid]))}" if links[cid] else "")]
        for p in pooled:
            sign = "+" if p.direction == "supports" else "-"
            via = f" (from {p.via}{', flipped' if cmap[p.via].is_absence != claim.is_absence else ''})" if p.via else ""
            trail.append(f"{sign} {p.item.id} [{p.item.grade} {p.note}] {p.item.kind}{via}: {p.item.reasoning}")
        trail.append(f"supporting side: {sup_why if sup else 'no items'}")
        trail.append(f"contradicting side: {con_why if con else 'no items'}")
        if claim.is_absence and not any(p.eligible for p in sup):
            trail.append("no positive coverage evidence: absence is never supported by silence")
        trail.append(f"=> {verdict}")
        out[cid] = Verdict(cid, verdict, tuple(trail), inputs_hash(claim, pooled, cmap, rule="1"), rule_version="1")
    return out
