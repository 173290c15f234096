"""The registry of analysis kinds: what makes each kind of recorded run re-runnable by `case verify`.

A run recorded in a case names its kind (``transit``, ``prism``, ...). `verify` recomputes the run's result
table from the case alone with the kind's ``rerun(case, params)`` and, when the kind has one, its input
hashes with ``inputs(case, params)``. Every kind is listed here with an explicit import of the functions
that do it, so the analysis modules stay free of the case package (they import nothing from it) and no
kind is found through a table of module names. The imports sit inside small functions: opening a case must
not load numba and scipy for analyses it does not re-run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from overflight.case.runs import AnalysisFn, InputsFn, register_analysis

if TYPE_CHECKING:
    from overflight.case.store import Case

__all__ = ["RECORDED_KINDS", "AnalysisKind", "register_all"]

Params = Mapping[str, Any]


@dataclass(frozen=True)
class AnalysisKind:
    """One kind of recorded analysis run.

    Attributes
    ----------
    kind : str
        The name recorded with the run.
    rerun : callable
        ``rerun(case, params) -> pandas.DataFrame``: the result table recomputed from the case.
    inputs : callable or None
        ``inputs(case, params) -> {name: sha256}``: the input hashes recomputed, so `verify` can tell "the
        inputs changed" from "the analysis changed".
    """

    kind: str
    rerun: AnalysisFn
    inputs: InputsFn | None = None


def _transit(case: Case, params: Params) -> pd.DataFrame:
    from overflight.analysis.case_runs import transit_table

    return transit_table(case, params)


def _transit_inputs(case: Case, params: Params) -> Mapping[str, str]:
    from overflight.analysis.case_runs import transit_inputs

    return transit_inputs(case, params)


def _prism(case: Case, params: Params) -> pd.DataFrame:
    from overflight.analysis.case_runs import prism_table

    return prism_table(case, params)


def _prism_inputs(case: Case, params: Params) -> Mapping[str, str]:
    from overflight.analysis.case_runs import prism_inputs

    return prism_inputs(case, params)


def _attribution(case: Case, params: Params) -> pd.DataFrame:
    from overflight.analysis.attribution import rerun_attribution

    return rerun_attribution(case, params)


def _attribution_inputs(case: Case, params: Params) -> Mapping[str, str]:
    from overflight.analysis.attribution import attribution_inputs

    return attribution_inputs(case, params)


def _observation_match(case: Case, params: Params) -> pd.DataFrame:
    from overflight.evidence.matching import rerun_observation_match

    return rerun_observation_match(case, params)


def _observation_match_inputs(case: Case, params: Params) -> Mapping[str, str]:
    from overflight.evidence.matching import observation_match_inputs

    return observation_match_inputs(case, params)


def _coverage_check(case: Case, params: Params) -> pd.DataFrame:
    from overflight.monitor.coverage import rerun_coverage_check

    return rerun_coverage_check(case, params)


def _monitor_coverage(case: Case, params: Params) -> pd.DataFrame:
    from overflight.monitor.coverage import rerun_monitor_coverage

    return rerun_monitor_coverage(case, params)


#: Every analysis kind a case can hold, by name.
RECORDED_KINDS: dict[str, AnalysisKind] = {
    k.kind: k
    for k in (
        AnalysisKind("transit", _transit, _transit_inputs),
        AnalysisKind("prism", _prism, _prism_inputs),
        AnalysisKind("attribution", _attribution, _attribution_inputs),
        AnalysisKind("observation_match", _observation_match, _observation_match_inputs),
        AnalysisKind("coverage_check", _coverage_check),
        AnalysisKind("monitor_coverage", _monitor_coverage),
    )
}


def register_all() -> None:
    """Register every kind of `RECORDED_KINDS` with `overflight.case.runs` (once, when the case package loads)."""
    for k in RECORDED_KINDS.values():
        register_analysis(k.kind, k.rerun, inputs=k.inputs)


register_all()
