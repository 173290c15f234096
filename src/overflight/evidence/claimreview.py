"""Claims and their verdicts as schema.org ClaimReview JSON-LD (the format fact-checkers publish).

Each claim becomes one ``ClaimReview``: ``claimReviewed`` (the statement), ``itemReviewed`` (a ``Claim`` with
its ``author`` — Person or Organization — and ``datePublished``), ``reviewRating`` (a ``Rating`` whose
``alternateName`` is the verdict, with ``ratingValue`` on a 1–5 scale), the review's ``author`` and
``datePublished``. Claims of absence say so in ``reviewBody``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from overflight.evidence.model import Claim, Source, Verdict

#: verdict -> (ratingValue on 1..5, the text shown as alternateName)
RATINGS: dict[str, tuple[int, str]] = {
    "contradicted": (1, "Contradicted by the evidence"),
    "disputed": (3, "Disputed: evidence both ways"),
    "unverified": (3, "Unverified: no usable evidence either way"),
    "supported": (5, "Supported by the evidence"),
}


def _date(d: datetime | None) -> str | None:
    return d.astimezone(UTC).date().isoformat() if d else None


def claim_review(claim: Claim, verdict: Verdict | None, *, sources: Mapping[str, Source] | None = None,
                 reviewer: str = "overflight", reviewer_url: str | None = None, url: str | None = None,
                 date_published: datetime | None = None) -> dict[str, Any]:
    """One ClaimReview object (with its own ``@context``) for a claim and its verdict."""
    v = verdict.verdict if verdict else "unverified"
    value, text = RATINGS[v]
    item: dict[str, Any] = {
        "@type": "Claim",
        "author": {"@type": claim.claimant_type if claim.claimant_type in ("Person", "Organization")
                   else "Organization", "name": claim.claimant or "unknown"},
        "datePublished": _date(claim.date_made),
    }
    src = (sources or {}).get(claim.source_id or "")
    appearance = claim.url or (src.link if src else None)
    if appearance:
        item["appearance"] = {"@type": "CreativeWork", "url": appearance}
    if item["datePublished"] is None:
        del item["datePublished"]
    author: dict[str, Any] = {"@type": "Organization", "name": reviewer}
    if reviewer_url:
        author["url"] = reviewer_url
    trail = list(verdict.reasoning) if verdict else ["not evaluated"]
    out: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "identifier": claim.id,
        "claimReviewed": claim.statement,
        "itemReviewed": item,
        "reviewRating": {"@type": "Rating", "ratingValue": value, "bestRating": 5, "worstRating": 1,
                         "alternateName": text},
        "author": author,
        "datePublished": (date_published or datetime.now(UTC)).astimezone(UTC).date().isoformat(),
        "reviewBody": "\n".join(trail),
    }
    if url:
        out["url"] = f"{url}#{claim.id}"
    return out


def claim_reviews(claims: Mapping[str, Claim], verdicts: Mapping[str, Verdict], *,
                  sources: Mapping[str, Source] | None = None, reviewer: str = "overflight",
                  reviewer_url: str | None = None, url: str | None = None,
                  date_published: datetime | None = None) -> list[dict[str, Any]]:
    """A JSON-LD list of ClaimReview objects, one per claim, in the claims' order."""
    return [claim_review(c, verdicts.get(cid), sources=sources, reviewer=reviewer, reviewer_url=reviewer_url,
                         url=url, date_published=date_published) for cid, c in claims.items()]


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
