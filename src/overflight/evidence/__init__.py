"""The evidence ledger: sources and grading, claims, observations, evidence items and verdicts."""

from overflight.evidence.grading import Grade, parse_credibility, parse_grade, parse_reliability
from overflight.evidence.model import Claim, EvidenceItem, Observation, Source, Verdict
from overflight.evidence.verdicts import evaluate

__all__ = ["Claim", "EvidenceItem", "Grade", "Observation", "Source", "Verdict", "evaluate", "parse_credibility",
           "parse_grade", "parse_reliability"]
