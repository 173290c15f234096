"""Space-time prisms: where could an object have been between two sightings, and must it have entered a zone?

``ppa`` draws the potential path area (a geodesic ellipse on WGS84); ``verdicts`` tells, for each
consecutive pair of sightings and each zone, whether entering the zone was impossible, possible or
necessary (or the fixes inconsistent), honouring position and time errors (``verdicts_with_paths`` also
returns the avoiding paths found, for maps); ``summarize_prism`` combines the pairs of a track.
"""

from overflight._deprecated import deprecated_names
from overflight.analysis.prism.ellipse import InconsistentFixesWarning, ppa, seconds_between
from overflight.analysis.prism.verdicts import (
    VERDICTS,
    Evaluation,
    PairVerdicts,
    evaluate,
    make_pairs,
    summarize_prism,
    verdicts,
    verdicts_with_paths,
)

__all__ = [
    "VERDICTS",
    "Evaluation",
    "InconsistentFixesWarning",
    "PairVerdicts",
    "evaluate",
    "make_pairs",
    "ppa",
    "seconds_between",
    "summarize_prism",
    "verdicts",
    "verdicts_with_paths",
]

# Renamed so that no two public functions share a name; the old name works, with a warning, for one release.
__getattr__ = deprecated_names(__name__, {"summarize": "summarize_prism"})
