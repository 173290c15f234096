"""The case: one DuckDB file per investigation, or a team case on PostgreSQL/PostGIS; provenance, audit, verify."""

from overflight.case import kinds as kinds
from overflight.case.runs import VerifyReport, hash_frame, register_analysis
from overflight.case.store import Case, open_case

__all__ = ["Case", "VerifyReport", "hash_frame", "open_case", "register_analysis"]
