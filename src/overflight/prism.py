"""Space-time prism reasoning (`ppa`, `verdicts`, `summarize`): the short import path for
`overflight.analysis.prism`, where the implementation lives."""

from overflight.analysis.prism import (
    VERDICTS,
    Evaluation,
    InconsistentFixesWarning,
    evaluate,
    make_pairs,
    ppa,
    seconds_between,
    summarize,
    verdicts,
)

__all__ = [
    "VERDICTS",
    "Evaluation",
    "InconsistentFixesWarning",
    "evaluate",
    "make_pairs",
    "ppa",
    "seconds_between",
    "summarize",
    "verdicts",
]
