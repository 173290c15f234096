"""The records of the evidence ledger: sources, claims, observations, evidence items and verdicts.

All times are timezone-aware UTC `datetime`; geometries are shapely geometries in WGS84 lon/lat.
Records are plain frozen dataclasses: parsing and validation live in `overflight.evidence.importing`,
storage in `overflight.case`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shapely.geometry.base import BaseGeometry

from overflight._deprecated import deprecated_names
from overflight.evidence.grading import MISSING_CREDIBILITY, MISSING_RELIABILITY, Grade

SOURCE_KINDS = ("official", "media", "social", "sensor", "own", "other")
STANCES = ("asserts", "denies")
CLAIM_WHAT = ("transit", "overflight", "launch", "strike", "wreckage", "supply_route", "other")
OBSERVATION_KINDS = ("sighting", "wreckage", "impact", "statement")
EVIDENCE_KINDS = ("transit_row", "prism_verdict", "attribution_stat", "observation", "coverage", "other")
DIRECTIONS = ("supports", "contradicts")
#: The verdicts a claim can get (prism's per-pair verdicts are `overflight.analysis.prism.VERDICTS`).
CLAIM_VERDICTS = ("supported", "partly supported", "contradicted", "unverified", "disputed")

__all__ = ["CLAIM_VERDICTS", "CLAIM_WHAT", "DIRECTIONS", "EVIDENCE_KINDS", "OBSERVATION_KINDS", "SOURCE_KINDS",
           "STANCES", "Claim", "EvidenceItem", "ItemFacts", "Observation", "Source", "Verdict"]

__getattr__ = deprecated_names(__name__, {"VERDICTS": "CLAIM_VERDICTS"})


@dataclass(frozen=True)
class Source:
    """Who or what information comes from, with its Admiralty reliability (A–F)."""

    id: str
    name: str
    kind: str = "other"
    link: str | None = None
    reliability: str = MISSING_RELIABILITY
    notes: str = ""


@dataclass(frozen=True)
class Claim:
    """A statement someone made, with its structured scope.

    ``stance`` is ``asserts`` or ``denies``; ``answers`` lists the ids of the claims this one answers (a denial
    points at the claim it denies). ``where_zones`` and ``where_geometry`` give the place, ``window_start`` /
    ``window_end`` the time window, ``count_min`` / ``count_max`` how many.
    """

    id: str
    statement: str
    claimant: str = ""
    claimant_type: str = "Organization"  # schema.org author type: Person | Organization
    source_id: str | None = None
    date_made: datetime | None = None
    stance: str = "asserts"
    what: str = "other"
    where_zones: tuple[str, ...] = ()
    where_geometry: BaseGeometry | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    count_min: int | None = None
    count_max: int | None = None
    answers: tuple[str, ...] = ()
    credibility: int = MISSING_CREDIBILITY
    url: str | None = None
    notes: str = ""

    @property
    def is_absence(self) -> bool:
        """A claim that something did *not* happen: a denial, or an assertion that the count is zero."""
        return self.stance == "denies" or (self.count_max is not None and self.count_max == 0)


@dataclass(frozen=True)
class Observation:
    """A sighting, wreckage find, impact or statement, located (lon/lat) and dated (a window).

    ``precision_m`` is the radius of the location's uncertainty; ``area`` names the area a vague location
    stands for ("Uralsk"). ``illustrative`` marks made-up data used for demonstration only.
    """

    id: str
    kind: str
    source_id: str | None = None
    lon: float | None = None
    lat: float | None = None
    time_start: datetime | None = None
    time_end: datetime | None = None
    precision_m: float | None = None
    area: str | None = None
    credibility: int = MISSING_CREDIBILITY
    illustrative: bool = False
    description: str = ""
    count: int | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EvidenceItem:
    """One piece of evidence for or against one claim, with one line of reasoning and the grades it carries.

    ``run_id`` / ``result_row`` link it to the analysis run (and the row of its results) that produced it;
    ``observation_id`` to an observation. ``source_id`` decides independence: items from the same source
    (or, without a source, the same run) count as one line of evidence.
    """

    id: str
    claim_id: str
    kind: str
    direction: str
    reasoning: str
    reliability: str = MISSING_RELIABILITY
    credibility: int = MISSING_CREDIBILITY
    source_id: str | None = None
    run_id: str | None = None
    result_row: int | None = None
    observation_id: str | None = None

    @property
    def grade(self) -> Grade:
        """The item's Admiralty grade (reliability and credibility)."""
        return Grade(self.reliability, self.credibility)

    @property
    def independence_key(self) -> str:
        """Items sharing this key are not independent of each other."""
        if self.source_id:
            return f"source:{self.source_id}"
        if self.run_id:
            return f"run:{self.run_id}"
        return f"item:{self.id}"


@dataclass(frozen=True)
class ItemFacts:
    """What a case says about one evidence item beyond the item itself (verdict rule 2 reads these).

    ``objects`` are the keys of the distinct objects the item shows (``track:ILL-T2``, ``object:S1``,
    ``observation:W07``; see ``docs/verdicts.md``); ``count`` is how many objects it shows at least when it
    names none one by one (an observation of "30 drones"); ``illustrative`` marks an item resting on
    invented data; ``excluded`` says why the item does not count although its grade would (a disputed
    visit, a prism run below the object's highest plausible speed); ``note`` is added to its trail line.
    """

    objects: tuple[str, ...] = ()
    count: int = 1
    illustrative: bool = False
    excluded: str | None = None
    note: str = ""

    def as_json(self) -> list[object]:
        """The facts as a JSON-ready list (what the inputs hash reads)."""
        return [list(self.objects), self.count, self.illustrative, self.excluded, self.note]


@dataclass(frozen=True)
class Verdict:
    """The derived verdict on one claim, the reasoning trail that led to it and the hash of its inputs.

    ``rule_version`` is the verdict rule that derived it; ``number`` the number of distinct objects the
    evidence establishes (rule 2; None under rule 1); ``illustrative`` is True when the verdict rests on
    any illustrative item (a demonstration of the method, not a finding).
    """

    claim_id: str
    verdict: str
    reasoning: tuple[str, ...]
    inputs_hash: str
    rule_version: str = "1"
    number: int | None = None
    illustrative: bool = False

    @property
    def label(self) -> str:
        """The verdict as shown to readers, e.g. ``partly supported (illustrative)``."""
        return f"{self.verdict} (illustrative)" if self.illustrative else self.verdict
