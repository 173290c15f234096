r"""Claims and their verdicts as schema.org ClaimReview JSON-LD (the format fact-checkers publish).

Each claim becomes one ``ClaimReview``: ``claimReviewed`` (the statement), ``itemReviewed`` (a ``Claim`` with
its ``author`` — Person or Organization — and ``datePublished``), ``reviewRating`` (a ``Rating`` whose
``alternateName`` is the verdict in words, with a numeric ``ratingValue`` on the declared scale below), the
review's ``name``, ``author`` and ``datePublished``, and the reasoning trail as ``reviewBody``.

The rating scale (``worstRating`` 1, ``bestRating`` 5) says how far the evidence supports the claim *as
stated*: 5 supported; 4 partly supported (the event is established, the claimed number is not); 3 the
evidence does not decide (unverified: none usable either way; disputed: established both ways);
1 contradicted (including a claimed count exceeded). 2 is not used: no verdict leans against a claim
without contradicting it.

A verdict resting on illustrative (invented) data is not a finding: such reviews are left out unless the
caller asks for them (``include_illustrative``), and then ``name``, the rating's ``alternateName`` and
``reviewBody`` say ILLUSTRATIVE.

User text is data, never markup or a script: only absolute ``http``/``https`` URLs become ``url`` values
(`safe_url`; a claim's ``javascript:``, ``data:``, ``file:`` or relative link is left out and the review body
says so), and `jsonld_script` embeds JSON-LD in an HTML page with ``<``, ``>``, ``&``, U+2028 and U+2029 as
``\uXXXX`` escapes, so ``</script>`` or ``<!--`` in a statement cannot end or hide the script element.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from overflight.errors import InputError
from overflight.evidence.model import Claim, EvidenceItem, Source, Verdict

WORST_RATING, BEST_RATING = 1, 5
#: verdict -> (ratingValue on WORST_RATING..BEST_RATING, the text shown as alternateName); every verdict has one
RATINGS: dict[str, tuple[int, str]] = {
    "contradicted": (1, "Contradicted by the evidence"),
    "disputed": (3, "Disputed: evidence both ways"),
    "unverified": (3, "Unverified: no usable evidence either way"),
    "partly supported": (4, "Partly supported: the event is established, the claimed number is not"),
    "supported": (5, "Supported by the evidence"),
}
ILLUSTRATIVE_MARK = "ILLUSTRATIVE (invented demonstration data, not a finding)"


_URL_BAD = re.compile(r"[\x00-\x20\x7f-\x9f\\<>\"'`]")


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL with a host and no spaces, controls or quotes; else None."""
    if not url or _URL_BAD.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def _url_arg(url: str | None, name: str) -> str | None:
    if url is not None and safe_url(url) is None:
        raise InputError(f"{url!r} is not an absolute http(s) URL", field=name)
    return url


_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def jsonld_script(doc: Any) -> str:
    """A ``<script type="application/ld+json">`` element holding ``doc``, safe inside any HTML page."""
    text = json.dumps(doc, ensure_ascii=False, indent=1)
    text = re.sub("[<>&\u2028\u2029]", lambda m: _SCRIPT_ESCAPES[m.group()], text)
    return f'<script type="application/ld+json">\n{text}\n</script>'


def _date(d: datetime | None) -> str | None:
    return d.astimezone(UTC).date().isoformat() if d else None


def review_body(claim: Claim, verdict: Verdict | None, evidence: Sequence[EvidenceItem]) -> str:
    """The review in plain words for readers.

    The review in plain words for readers: the rating, then what each piece of evidence showed (its own
    reasoning, no internal ids), and for a claim of absence what it would take to support it.
    """
    v = verdict.verdict if verdict else "unverified"
    lines = [f"{RATINGS[v][1]}."]
    for direction, word in (("supports", "For the claim"), ("contradicts", "Against the claim")):
        items = [e.reasoning for e in evidence if e.direction == direction]
        if items:
            lines.append(f"{word}: " + "; ".join(items) + ".")
    if not evidence:
        lines.append("No analysis or observation in this case speaks to it either way.")
    if claim.is_absence and v != "supported":
        lines.append("A claim that something did not happen is supported only by a sensor record that covered "
                     "the area and time and saw nothing; silence is not evidence.")
    return " ".join(lines)


def claim_review(claim: Claim, verdict: Verdict | None, *, sources: Mapping[str, Source] | None = None,
                 reviewer: str = "overflight", reviewer_url: str | None = None, url: str | None = None,
                 date_published: datetime | None = None,
                 evidence: Sequence[EvidenceItem] | None = None) -> dict[str, Any]:
    """One ClaimReview object (with its own ``@context``) for a claim and its verdict.

    ``reviewer_url`` and ``url`` must be absolute http(s) URLs (InputError otherwise).
    """
    _url_arg(reviewer_url, "reviewer_url")
    _url_arg(url, "url")
    v = verdict.verdict if verdict else "unverified"
    value, text = RATINGS[v]
    illus = bool(verdict and verdict.illustrative)
    if illus:
        text = f"{ILLUSTRATIVE_MARK}: {text}"
    item: dict[str, Any] = {
        "@type": "Claim",
        "author": {"@type": claim.claimant_type if claim.claimant_type in ("Person", "Organization")
                   else "Organization", "name": claim.claimant or "unknown"},
        "datePublished": _date(claim.date_made),
    }
    src = (sources or {}).get(claim.source_id or "")
    appearance = claim.url or (src.link if src else None)
    notes: list[str] = []
    if appearance and safe_url(appearance):
        item["appearance"] = {"@type": "CreativeWork", "url": appearance}
    elif appearance:
        notes.append("(the claim's link is left out: not an absolute http(s) URL)")
    if item["datePublished"] is None:
        del item["datePublished"]
    author: dict[str, Any] = {"@type": "Organization", "name": reviewer}
    if reviewer_url:
        author["url"] = reviewer_url
    trail = (list(verdict.reasoning) if verdict else ["not evaluated"]) + notes
    if illus:
        trail = [f"{ILLUSTRATIVE_MARK}: this verdict rests on invented data and shows how the method works; "
                 "it is not a rating of the claim.", *trail]
    name = f"Review of the claim by {claim.claimant or 'unknown'}: {RATINGS[v][1].split(':')[0].lower()}"
    if illus:
        name = f"{ILLUSTRATIVE_MARK}: {name}"
    out: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "identifier": claim.id,
        "claimReviewed": claim.statement,
        "itemReviewed": item,
        "name": name,
        "reviewRating": {"@type": "Rating", "ratingValue": value, "bestRating": BEST_RATING,
                         "worstRating": WORST_RATING, "alternateName": text},
        "author": author,
        "datePublished": (date_published or datetime.now(UTC)).astimezone(UTC).date().isoformat(),
        "reviewBody": (" ".join([*trail[:1 if illus else 0], review_body(claim, verdict, evidence), *notes])
                       if evidence is not None else "\n".join(trail)),
    }
    if url:
        out["url"] = f"{url}#{claim.id}"
    return out


def claim_reviews(claims: Mapping[str, Claim], verdicts: Mapping[str, Verdict], *,
                  sources: Mapping[str, Source] | None = None, reviewer: str = "overflight",
                  reviewer_url: str | None = None, url: str | None = None,
                  date_published: datetime | None = None,
                  evidence: Sequence[EvidenceItem] | None = None, include_illustrative: bool = False
                  ) -> list[dict[str, Any]]:
    """A JSON-LD list of ClaimReview objects, one per claim, in the claims' order.

    With ``evidence`` (the case's items) each ``reviewBody`` is written in plain words from the items of the
    claim and of the claims linked to it by ``answers`` (`review_body`); without, it is the verdict's trail.
    Claims whose verdict rests on illustrative data are left out unless ``include_illustrative``.
    """
    def pool(c: Claim) -> list[EvidenceItem] | None:
        if evidence is None:
            return None
        linked = {c.id, *c.answers} | {o.id for o in claims.values() if c.id in o.answers}
        out = []
        for e in evidence:
            if e.claim_id in linked:
                flip = e.claim_id != c.id and claims[e.claim_id].is_absence != c.is_absence
                out.append(replace(e, direction=("contradicts" if e.direction == "supports" else "supports"))
                           if flip else e)
        return out

    return [claim_review(c, verdicts.get(cid), sources=sources, reviewer=reviewer, reviewer_url=reviewer_url,
                         url=url, date_published=date_published, evidence=pool(c)) for cid, c in claims.items()
            if include_illustrative or not (verdicts.get(cid) and verdicts[cid].illustrative)]


REQUIRED = ("claimReviewed", "reviewRating.alternateName", "itemReviewed.author.name", "itemReviewed.datePublished",
            "author.name", "datePublished", "url")  # Google's fact-check markup requires url (the review's page)


def missing_fields(review: Mapping[str, Any]) -> list[str]:
    """The required ClaimReview fields (dotted paths in `REQUIRED`) a review object lacks."""
    out = []
    for path in REQUIRED:
        cur: Any = review
        for part in path.split("."):
            cur = cur.get(part) if isinstance(cur, Mapping) else None
        if cur in (None, ""):
            out.append(path)
    return out


__all__ = [
    "ILLUSTRATIVE_MARK",
    "RATINGS",
    "REQUIRED",
    "claim_review",
    "claim_reviews",
    "jsonld_script",
    "missing_fields",
    "review_body",
    "safe_url",
]
