"""The verdict engine: from evidence items to one verdict per claim, with the reasoning trail.

The rule (also in ``docs/verdicts.md``; `RULE_VERSION` changes whenever it does)
--------------------------------------------------------------------------------
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

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import shapely

from overflight.evidence.grading import Grade
from overflight.evidence.model import Claim, EvidenceItem, Verdict

RULE_VERSION = "1"
WEAK_QUORUM = 3


def strength(grade: Grade) -> str:
    """``"strong"``, ``"weak"`` or ``"not counted"`` for an Admiralty grade (rule point 2)."""
    if grade.strong:
        return "strong"
    if grade.reliability in "ABCD" and grade.credibility <= 4:
        return "weak"
    return "not counted"


@dataclass(frozen=True)
class _Pooled:
    item: EvidenceItem
    direction: str  # relative to the claim being judged
    via: str | None  # the linked claim it was borrowed from
    eligible: bool
    note: str


def _links(claims: Mapping[str, Claim]) -> dict[str, set[str]]:
    links: dict[str, set[str]] = {cid: set() for cid in claims}
    for c in claims.values():
        for other in c.answers:
            if other in claims and other != c.id:
                links[c.id].add(other)
                links[other].add(c.id)
    return links


def _flip(direction: str) -> str:
    return "contradicts" if direction == "supports" else "supports"


def _pool(claim: Claim, claims: Mapping[str, Claim], by_claim: Mapping[str, list[EvidenceItem]],
          links: Mapping[str, set[str]]) -> list[_Pooled]:
    out: list[_Pooled] = []
    seen: set[tuple[str, str]] = set()
    sources = [(claim.id, None)] + [(o, o) for o in sorted(links.get(claim.id, ()))]
    for owner_id, via in sources:
        owner = claims[owner_id]
        flip = owner.is_absence != claim.is_absence
        for it in sorted(by_claim.get(owner_id, []), key=lambda e: e.id):
            direction = _flip(it.direction) if flip else it.direction
            # One observation linked to both an assertion and its denial is one piece of evidence, not two.
            if it.observation_id is not None:
                if (it.observation_id, direction) in seen:
                    continue
                seen.add((it.observation_id, direction))
            st = strength(it.grade)
            eligible, note = st != "not counted", st
            # Rule 3, in the item's own orientation and in the judged claim's orientation.
            own_absence_support = owner.is_absence and it.direction == "supports"
            here_absence_support = claim.is_absence and direction == "supports"
            if (own_absence_support or here_absence_support) and it.kind != "coverage":
                eligible, note = False, "not counted: supports absence but is not coverage evidence"
            out.append(_Pooled(it, direction, via, eligible, note))
    out.sort(key=lambda p: (p.via or "", p.item.id))
    return out


def _side(items: Sequence[_Pooled]) -> tuple[bool, str]:
    strong = [p for p in items if p.eligible and p.note == "strong"]
    weak = [p for p in items if p.eligible and p.note == "weak"]
    indep = {p.item.independence_key for p in weak}
    if strong:
        return True, f"{len(strong)} strong item(s)"
    if len(weak) >= WEAK_QUORUM and len(indep) >= WEAK_QUORUM:
        return True, f"{len(weak)} weak items from {len(indep)} independent sources"
    return False, f"not established ({len(weak)} weak item(s) from {len(indep)} source(s), no strong item)"


#: which inputs-hash scheme `inputs_hash` computes (1: the pool only, as overflight <= 0924fd0 stored it under
#: rule 1; 2: everything the verdict is about). `overflight case verify` sets 1 to check verdicts stored then.
_HASH_SCHEME: ContextVar[int] = ContextVar("overflight_hash_scheme", default=2)


@contextmanager
def hash_scheme(scheme: int) -> Iterator[None]:
    """Compute `inputs_hash` with another scheme inside the block (1 re-derives hashes stored under rule 1)."""
    token = _HASH_SCHEME.set(scheme)
    try:
        yield
    finally:
        _HASH_SCHEME.reset(token)


def _claim_doc(c: Claim) -> dict[str, Any]:
    # Every field of a claim as JSON: what it says, its scope (zones, area, window, count), who made it.
    doc: dict[str, Any] = {}
    for k, v in vars(c).items():
        if k == "where_geometry":
            v = hashlib.sha256(shapely.to_wkb(v)).hexdigest() if v is not None else None
        elif isinstance(v, datetime):
            v = (v.astimezone(UTC) if v.tzinfo else v).isoformat()
        elif isinstance(v, tuple):
            v = list(v)
        doc[k] = v
    return doc


def inputs_hash(claim: Claim, pooled: Iterable[_Pooled], claims: Mapping[str, Claim]) -> str:
    """SHA-256 of everything the verdict depends on and is about.

    Scheme 2 (the default): the whole claim (statement, stance, what, zones, area, window, count, claimant,
    date, links), each linked claim whole, and every pooled item whole (its reasoning, grade, source, the run
    and result row or observation it cites), with its direction and eligibility here. Scheme 1 (verdicts
    stored under rule 1 by overflight <= 0924fd0): polarity, links and the items' ids, directions and grades.
    """
    pooled = list(pooled)
    if _HASH_SCHEME.get() == 1:
        doc: dict[str, Any] = {
            "rule": "1",
            "claim": claim.id,
            "absence": claim.is_absence,
            "links": sorted((o, claims[o].is_absence) for o in {p.via for p in pooled if p.via}),
            "items": [
                [p.item.id, p.via, p.item.kind, p.direction, p.item.reliability, p.item.credibility,
                 p.item.independence_key, p.eligible]
                for p in pooled
            ],
        }
    else:
        doc = {
            "scheme": 2,
            "rule": RULE_VERSION,
            "claim": _claim_doc(claim),
            "absence": claim.is_absence,
            "links": [_claim_doc(claims[o]) for o in sorted({p.via for p in pooled if p.via})],
            "items": [[vars(p.item), p.via, p.direction, p.eligible, p.note] for p in pooled],
        }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def evaluate_claim(claim: Claim, claims: Mapping[str, Claim], evidence: Iterable[EvidenceItem]) -> Verdict:
    """The verdict on one claim (see the module docstring for the rule)."""
    return evaluate(claims, evidence)[claim.id]


def evaluate(claims: Mapping[str, Claim] | Iterable[Claim], evidence: Iterable[EvidenceItem]) -> dict[str, Verdict]:
    """Derive a verdict for every claim from the evidence items.

    Parameters
    ----------
    claims
        The claims, as a mapping id → Claim or an iterable of claims.
    evidence
        Every evidence item; items for unknown claims are ignored.

    Returns
    -------
    dict
        claim id → `Verdict` with its reasoning trail and inputs hash, in the claims' order.
    """
    cmap: dict[str, Claim] = dict(claims) if isinstance(claims, Mapping) else {c.id: c for c in claims}
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
        out[cid] = Verdict(cid, verdict, tuple(trail), inputs_hash(claim, pooled, cmap))
    return out
