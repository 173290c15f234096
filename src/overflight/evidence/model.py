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

from overflight.evidence.grading import MISSING_CREDIBILITY, MISSING_RELIABILITY, Grade

SOURCE_KINDS = ("official", "media", "social", "sensor", "own", "other")
STANCES = ("asserts", "denies")
CLAIM_WHAT = ("transit", "overflight", "launch", "strike", "wreckage", "supply_route", "other")
OBSERVATION_KINDS = ("sighting", "wreckage", "impact", "statement")
EVIDENCE_KINDS = ("transit_row", "prism_verdict", "attribution_stat", "observation", "coverage", "other")
DIRECTIONS = ("supports", "contradicts")
VERDICTS = ("supported", "contradicted", "unverified", "disputed")


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
class Verdict:
    """The derived verdict on one claim, the reasoning trail that led to it and the hash of its inputs."""

    claim_id: str
    verdict: str
    reasoning: tuple[str, ...]
    inputs_hash: str
