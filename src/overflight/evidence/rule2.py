"""Verdict rule 2: rule 1's pool, weights and sides, plus claimed counts and what the case says about items.

Rule 2 adds three things to rule 1 (``docs/verdicts.md`` has the full text):

- **Numbers.** The side that says the event happened (an assertion's supporting side, a claim of absence's
  contradicting side) establishes a *number*: how many distinct objects it shows. Items are grouped by the
  objects they show (`ItemFacts.objects`: a track id for a transit row, the sighting group's object for a
  prism verdict, the observation's ``object`` property or the observation itself for an observation item);
  an object is established when its items alone would establish a side (one strong item, or the weak
  quorum). An item about several unnamed objects (an observation with ``count`` n) shows at least n;
  counts of different items are not added, since they may show the same objects. When the side is
  established but no single object is, the number is 1 (the event happened at least once).
- **Counts.** An assertion with a count range is ``supported`` only when the number reaches ``count_min``;
  established but short of it, ``partly supported``; above ``count_max``, ``contradicted``. A claim of
  absence is contradicted when the number reaches the count it denies (1 when it names none, so a denial
  of the event is contradicted whatever the count); short of that, it stays ``unverified``.
- **Facts.** An item the case says does not count (`ItemFacts.excluded`: a disputed visit, a prism run
  below the object's highest plausible speed or contradicted by an inconsistent pair) enters the trail
  marked and is not counted. A verdict resting on an illustrative item is marked illustrative.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from overflight.evidence.model import Claim, EvidenceItem, ItemFacts, Verdict
from overflight.evidence.pooling import Pooled as _Pooled
from overflight.evidence.pooling import inputs_hash
from overflight.evidence.pooling import links as _links
from overflight.evidence.pooling import pool as _pool
from overflight.evidence.pooling import side as _side

RULE = "2"
_NOUN = {"transit": "a transit", "overflight": "an overflight", "launch": "a launch", "strike": "a strike",
         "wreckage": "a wreckage find", "supply_route": "a supply route"}
_NO_FACTS = ItemFacts()


def count_text(lo: int | None, hi: int | None) -> str:
    """A claimed count range in words: ``24–99``, ``at least 24``, ``at most 10``, ``3``."""
    if lo is not None and hi is not None:
        return str(lo) if lo == hi else f"{lo}–{hi}"
    if lo is not None:
        return f"at least {lo}"
    if hi is not None:
        return f"at most {hi}"
    return "any number"


def number_text(verdict: Verdict | None, claim: Claim) -> str:
    """The established number as a reader sees it: ``1 of 24–99``, ``3``, or ``-`` (rule 1, no verdict)."""
    if verdict is None or verdict.number is None:
        return "-"
    if claim.count_min is None and claim.count_max is None:
        return str(verdict.number)
    return f"{verdict.number} of {count_text(claim.count_min, claim.count_max)}"


def object_keys(item: EvidenceItem, facts: Mapping[str, ItemFacts]) -> tuple[str, ...]:
    """The objects an item shows: its facts' keys, else its observation, else the item itself."""
    f = facts.get(item.id)
    if f is not None and f.objects:
        return f.objects
    return (f"observation:{item.observation_id}",) if item.observation_id else (f"item:{item.id}",)


def established_number(items: Sequence[_Pooled], facts: Mapping[str, ItemFacts], side_ok: bool
                       ) -> tuple[int, list[str]]:
    """(number of distinct objects the items establish, the established object keys); see the module doc."""
    by_key: dict[str, list[_Pooled]] = {}
    weight: dict[str, int] = {}
    for p in items:
        if not p.eligible:
            continue
        keys = object_keys(p.item, facts)
        n = facts.get(p.item.id, _NO_FACTS).count
        for k in keys:
            by_key.setdefault(k, []).append(p)
            if len(keys) == 1 and n > 1:
                weight[k] = max(weight.get(k, 1), n)
    keys_ok = sorted(k for k, ps in by_key.items() if _side(ps)[0])
    number = max(len(keys_ok), max((weight.get(k, 1) for k in keys_ok), default=0))
    if side_ok and number == 0:
        number = 1
    return number, keys_ok


def decide(claim: Claim, sup_ok: bool, con_ok: bool, number: int) -> tuple[str, str]:
    """(verdict, why) under rule 2 from the two sides and the established number."""
    lo, hi = claim.count_min, claim.count_max
    if sup_ok and con_ok:
        return "disputed", "evidence both ways"
    if not claim.is_absence:
        if sup_ok:
            event = _NOUN.get(claim.what, "the event")
            if hi is not None and number > hi:
                return "contradicted", (f"{event} is established, but {number} objects are, more than the "
                                        f"claimed {count_text(lo, hi)}")
            if lo is not None and number < lo:
                return "partly supported", (f"{event} is established; {number} of the claimed "
                                            f"{count_text(lo, hi)} {'is' if number == 1 else 'are'}")
            return "supported", (f"{number} object(s) established, within the claimed {count_text(lo, hi)}"
                                 if lo is not None or hi is not None else "")
        if con_ok:
            return "contradicted", ""
        return "unverified", ""
    if sup_ok:
        return "supported", ""
    if con_ok:
        need = max(1, claim.count_min or 1) if claim.stance == "denies" else 1
        if number >= need:
            return "contradicted", (f"{number} object(s) established" + (f", at least the {need} denied"
                                                                          if need > 1 else ""))
        return "unverified", (f"{number} object(s) established, fewer than the {need} the denial is about: "
                              "the denial is neither supported nor contradicted")
    return "unverified", ""


def _apply(p: _Pooled, facts: Mapping[str, ItemFacts]) -> _Pooled:
    f = facts.get(p.item.id)
    if f is not None and f.excluded and p.eligible:
        return replace(p, eligible=False, note=f"not counted: {f.excluded}")
    return p


def evaluate_v2(cmap: Mapping[str, Claim], evidence: Iterable[EvidenceItem], facts: Mapping[str, ItemFacts]
                ) -> dict[str, Verdict]:
    """Rule 2 verdicts for every claim (see the module docstring)."""
    by_claim: dict[str, list[EvidenceItem]] = {}
    for it in evidence:
        by_claim.setdefault(it.claim_id, []).append(it)
    links = _links(cmap)
    out: dict[str, Verdict] = {}
    for cid, claim in cmap.items():
        pooled = [_apply(p, facts) for p in _pool(claim, cmap, by_claim, links)]
        sup = [p for p in pooled if p.direction == "supports"]
        con = [p for p in pooled if p.direction == "contradicts"]
        sup_ok, sup_why = _side(sup)
        con_ok, con_why = _side(con)
        positive, pos_ok = (con, con_ok) if claim.is_absence else (sup, sup_ok)
        number, keys_ok = established_number(positive, facts, pos_ok)
        verdict, why = decide(claim, sup_ok, con_ok, number)
        relied = [p for p in pooled if p.eligible and ((p.direction == "supports" and sup_ok)
                                                       or (p.direction == "contradicts" and con_ok))]
        illus = sorted({p.item.id for p in relied if facts.get(p.item.id, _NO_FACTS).illustrative})

        kind = "claim of absence" if claim.is_absence else "claim"
        counted = "" if claim.count_min is None and claim.count_max is None else \
            f", claimed count {count_text(claim.count_min, claim.count_max)}"
        trail = [f"{kind} ({claim.stance} {claim.what}{counted}); {len(pooled)} evidence item(s)"
                 + (f", incl. from linked claim(s) {', '.join(sorted(links[cid]))}" if links[cid] else "")]
        for p in pooled:
            f = facts.get(p.item.id, _NO_FACTS)
            sign = "+" if p.direction == "supports" else "-"
            via = f" (from {p.via}{', flipped' if cmap[p.via].is_absence != claim.is_absence else ''})" if p.via else ""
            tag = " [illustrative]" if f.illustrative else ""
            note = f" ({f.note})" if f.note else ""
            trail.append(f"{sign} {p.item.id} [{p.item.grade} {p.note}]{tag} {p.item.kind}{via}: "
                         f"{p.item.reasoning}{note}")
        trail.append(f"supporting side: {sup_why if sup else 'no items'}")
        trail.append(f"contradicting side: {con_why if con else 'no items'}")
        if pos_ok:
            shown = ", ".join(k for k in keys_ok[:12]) + (" …" if len(keys_ok) > 12 else "")
            trail.append(f"objects established: {number}" + (f" ({shown})" if shown else
                                                              " (the event, no single object on its own)"))
        if claim.is_absence and not any(p.eligible for p in sup):
            trail.append("no positive coverage evidence: absence is never supported by silence")
        if illus:
            trail.append(f"rests on illustrative item(s) {', '.join(illus)}: invented data, a demonstration of "
                         "the method, not a finding")
        trail.append(f"=> {verdict}" + (f": {why}" if why else ""))
        h = inputs_hash(claim, pooled, cmap, rule=RULE, facts=facts)
        out[cid] = Verdict(cid, verdict, tuple(trail), h, rule_version=RULE,
                           number=number if pos_ok else 0, illustrative=bool(illus))
    return out


__all__ = ["RULE", "count_text", "decide", "established_number", "evaluate_v2", "number_text", "object_keys"]
