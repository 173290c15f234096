"""The evidence ledger: sources and grading, claims, observations, evidence items and verdicts."""

from overflight._deprecated import deprecated_names
from overflight.evidence.grading import Grade, parse_credibility, parse_grade, parse_reliability
from overflight.evidence.model import Claim, EvidenceItem, Observation, Source, Verdict
from overflight.evidence.verdicts import evaluate_claims

__all__ = ["Claim", "EvidenceItem", "Grade", "Observation", "Source", "Verdict", "evaluate_claims", "parse_credibility",
           "parse_grade", "parse_reliability"]

__getattr__ = deprecated_names(__name__, {"evaluate": "evaluate_claims"})
