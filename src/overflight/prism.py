"""Space-time prism reasoning (`ppa`, `verdicts`, `summarize`, ...): the short import path for
`overflight.analysis.prism`, where the implementation lives."""

from overflight.analysis import prism as _impl
from overflight.analysis.prism import *  # noqa: F403  (re-export: this module is only an alias)

__all__ = list(_impl.__all__)
