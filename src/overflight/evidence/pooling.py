"""What rules 1 and 2 of the verdict engine share: a claim's pool, item weights, established sides, the inputs hash.

`overflight.evidence.verdicts` (rule 1 and the `evaluate` front door) and `overflight.evidence.rule2` both build
on these; keeping them here is what lets the two rule modules import each other's parts without a circle.
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
from overflight.evidence.model import Claim, EvidenceItem, ItemFacts

__all__ = ["RULES", "RULE_VERSION", "WEAK_QUORUM", "Pooled", "hash_scheme", "inputs_hash", "links", "pool", "side",
           "strength"]

RULE_VERSION = "2"
RULES = ("1", "2")
WEAK_QUORUM = 3


def strength(grade: Grade) -> str:
    """``"strong"``, ``"weak"`` or ``"not counted"`` for an Admiralty grade (rule point 2)."""
    if grade.strong:
        return "strong"
    if grade.reliability in "ABCD" and grade.credibility <= 4:
        return "weak"
    return "not counted"


@dataclass(frozen=True)
class Pooled:
    """An evidence item in a claim's pool, with the direction it has there and whether it is borrowed."""

    item: EvidenceItem
    direction: str  # relative to the claim being judged
    via: str | None  # the linked claim it was borrowed from
    eligible: bool
    note: str


def links(claims: Mapping[str, Claim]) -> dict[str, set[str]]:
    """Claim id -> ids of the claims linked to it by ``answers`` (in either direction)."""
    links: dict[str, set[str]] = {cid: set() for cid in claims}
    for c in claims.values():
        for other in c.answers:
            if other in claims and other != c.id:
                links[c.id].add(other)
                links[other].add(c.id)
    return links


def _flip(direction: str) -> str:
    return "contradicts" if direction == "supports" else "supports"


def pool(claim: Claim, claims: Mapping[str, Claim], by_claim: Mapping[str, list[EvidenceItem]],
          links: Mapping[str, set[str]]) -> list[Pooled]:
    """A claim's pool: its own items and those of linked claims (flipped across polarity), each once."""
    out: list[Pooled] = []
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
            out.append(Pooled(it, direction, via, eligible, note))
    out.sort(key=lambda p: (p.via or "", p.item.id))
    return out


def side(items: Sequence[Pooled]) -> tuple[bool, str]:
    """Whether a side is established (one strong item or the weak quorum), and why."""
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


def inputs_hash(claim: Claim, pooled: Iterable[Pooled], claims: Mapping[str, Claim], *, rule: str = RULE_VERSION,
                facts: Mapping[str, ItemFacts] | None = None) -> str:
    """SHA-256 of everything the verdict depends on and is about.

    Scheme 2 (the default): the whole claim (statement, stance, what, zones, area, window, count, claimant,
    date, links), each linked claim whole, and every pooled item whole (its reasoning, grade, source, the run
    and result row or observation it cites), with its direction and eligibility here. Scheme 1 (verdicts
    stored under rule 1 by overflight <= 0924fd0): polarity, links and the items' ids, directions and grades.
    ``rule`` is the verdict rule the hash is for; under rule 2, scheme 2 also covers each pooled item's facts
    (objects, count, illustrative, why not counted).
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
            "rule": rule,
            "claim": _claim_doc(claim),
            "absence": claim.is_absence,
            "links": [_claim_doc(claims[o]) for o in sorted({p.via for p in pooled if p.via})],
            "items": [[vars(p.item), p.via, p.direction, p.eligible, p.note] for p in pooled],
        }
        if rule != "1":
            f = facts or {}
            doc["facts"] = [f.get(p.item.id, ItemFacts()).as_json() for p in pooled]
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()
