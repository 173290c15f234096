r"""overflight: what flew through whose airspace, when, and how sure we are.

The main verbs sit here, one flat namespace over the modules that implement them. The names are imported
lazily (module ``__getattr__``), so ``import overflight`` stays fast for the command line: a verb's module,
and what it needs (numba, pandas, DuckDB), loads when the verb is first used.

Examples
--------
Zones from anything that names or holds them (a boundary-set name, a zone file, specs, geometries):

>>> import pathlib, tempfile
>>> import shapely
>>> import overflight
>>> zones = overflight.as_zoneset({"A": shapely.box(0, 0, 2, 2), "B": shapely.box(2, 0, 4, 2)})
>>> overflight.load_zones("ne-admin0", ids=["Kazakhstan"]).ids
['KAZ']

Tracks from a file, with a validation report that accounts for every row:

>>> work = pathlib.Path(tempfile.mkdtemp())
>>> _ = (work / "t.csv").write_text("track_id,time,lon,lat\n"
...                                 "t1,2025-06-21T01:00Z,1,1\nt1,2025-06-21T01:30Z,3,1\nt1,2025-06-21T02:00Z,5,1\n")
>>> tracks, report = overflight.read_tracks(work / "t.csv")
>>> report.total_rows, report.rows_kept
(3, 3)

Every visit to every zone, with entry and exit on the zone borders:

>>> res = overflight.transit(tracks, zones, max_gap="1h")
>>> res.visits[["zone_id", "entry_kind", "exit_kind"]].values.tolist()
[['A', 'track_start', 'crossing'], ['B', 'crossing', 'crossing']]
>>> res.visits["entry_time"].dt.strftime("%H:%M").tolist()
['01:00', '01:15']

Which zones contain each point, and where points fall:

>>> overflight.locate([1.0, 3.0, 9.0], [1.0, 1.0, 1.0], zones).zones.tolist()
['A', 'B', '']

Points against zones, with the share inside one of them:

>>> import pandas as pd
>>> pts = pd.DataFrame({"id": ["w1", "w2", "w3"], "lon": [1.0, 1.5, 3.0], "lat": [1.0, 1.0, 1.0]})
>>> att = overflight.attribute(pts, zones)
>>> att.table["zones"].tolist(), att.share_inside("A")
(['A', 'A', 'B'], (2, 3))

A case file holds the zones, tracks, claims and every recorded run:

>>> with overflight.open_case(work / "case.duckdb", create=True) as case:
...     case.add_zones(zones)["inserted"]
2
>>> import shutil; shutil.rmtree(work)
"""

from __future__ import annotations

import warnings
from importlib import import_module
from typing import TYPE_CHECKING, Any

from overflight._version import __version__

if TYPE_CHECKING:
    from overflight.analysis.attribution import AttributionResult
    from overflight.analysis.attribution import attribute_points as attribute
    from overflight.analysis.audit import AuditResult, audit
    from overflight.analysis.locate import LocateResult, LocateSummary, locate, locate_csv
    from overflight.analysis.prism import ppa, summarize_prism
    from overflight.analysis.prism_run import PrismVerdicts, prism_verdicts
    from overflight.analysis.transit import TransitResult, summarize_transit, transit
    from overflight.case import Case, open_case
    from overflight.errors import (
        CoordinateWarning,
        InconsistentFixesWarning,
        InputError,
        NotInstalledError,
        OverflightDeprecationWarning,
        OverflightError,
        OverflightWarning,
    )
    from overflight.evidence.verdicts import evaluate_claims
    from overflight.index import ZoneIndex
    from overflight.tracks import read_tracks, validate_tracks, write_tracks
    from overflight.units import parse_distance, parse_duration, parse_speed
    from overflight.zones import Provenance, Zone, ZoneSet, ZoneSetLike, as_zoneset, load_zones

#: public name -> (module, attribute in it)
_LAZY: dict[str, tuple[str, str]] = {
    # zones
    "Provenance": ("overflight.zones", "Provenance"),
    "Zone": ("overflight.zones", "Zone"),
    "ZoneSet": ("overflight.zones", "ZoneSet"),
    "ZoneSetLike": ("overflight.zones", "ZoneSetLike"),
    "as_zoneset": ("overflight.zones", "as_zoneset"),
    "load_zones": ("overflight.zones", "load_zones"),
    "ZoneIndex": ("overflight.index", "ZoneIndex"),
    # tracks
    "read_tracks": ("overflight.tracks", "read_tracks"),
    "validate_tracks": ("overflight.tracks", "validate_tracks"),
    "write_tracks": ("overflight.tracks", "write_tracks"),
    # analyses
    "transit": ("overflight.analysis.transit", "transit"),
    "TransitResult": ("overflight.analysis.transit", "TransitResult"),
    "summarize_transit": ("overflight.analysis.transit", "summarize_transit"),
    "prism_verdicts": ("overflight.analysis.prism_run", "prism_verdicts"),
    "PrismVerdicts": ("overflight.analysis.prism_run", "PrismVerdicts"),
    "ppa": ("overflight.analysis.prism", "ppa"),
    "summarize_prism": ("overflight.analysis.prism", "summarize_prism"),
    "attribute": ("overflight.analysis.attribution", "attribute_points"),
    "AttributionResult": ("overflight.analysis.attribution", "AttributionResult"),
    "locate": ("overflight.analysis.locate", "locate"),
    "LocateResult": ("overflight.analysis.locate", "LocateResult"),
    "locate_csv": ("overflight.analysis.locate", "locate_csv"),
    "LocateSummary": ("overflight.analysis.locate", "LocateSummary"),
    "audit": ("overflight.analysis.audit", "audit"),
    "AuditResult": ("overflight.analysis.audit", "AuditResult"),
    # evidence and cases
    "evaluate_claims": ("overflight.evidence.verdicts", "evaluate_claims"),
    "Case": ("overflight.case", "Case"),
    "open_case": ("overflight.case", "open_case"),
    # units
    "parse_distance": ("overflight.units", "parse_distance"),
    "parse_duration": ("overflight.units", "parse_duration"),
    "parse_speed": ("overflight.units", "parse_speed"),
    # errors and warnings
    "CoordinateWarning": ("overflight.errors", "CoordinateWarning"),
    "InconsistentFixesWarning": ("overflight.errors", "InconsistentFixesWarning"),
    "InputError": ("overflight.errors", "InputError"),
    "NotInstalledError": ("overflight.errors", "NotInstalledError"),
    "OverflightDeprecationWarning": ("overflight.errors", "OverflightDeprecationWarning"),
    "OverflightError": ("overflight.errors", "OverflightError"),
    "OverflightWarning": ("overflight.errors", "OverflightWarning"),
}

#: old public names kept for one release -> the module that replaces them
_DEPRECATED_MODULES = {"prism": "overflight.analysis.prism"}

__all__ = [
    "AttributionResult",
    "AuditResult",
    "Case",
    "CoordinateWarning",
    "InconsistentFixesWarning",
    "InputError",
    "LocateResult",
    "LocateSummary",
    "NotInstalledError",
    "OverflightDeprecationWarning",
    "OverflightError",
    "OverflightWarning",
    "PrismVerdicts",
    "Provenance",
    "TransitResult",
    "Zone",
    "ZoneIndex",
    "ZoneSet",
    "ZoneSetLike",
    "__version__",
    "as_zoneset",
    "attribute",
    "audit",
    "evaluate_claims",
    "load_zones",
    "locate",
    "locate_csv",
    "open_case",
    "parse_distance",
    "parse_duration",
    "parse_speed",
    "ppa",
    "prism_verdicts",
    "read_tracks",
    "summarize_prism",
    "summarize_transit",
    "transit",
    "validate_tracks",
    "write_tracks",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(import_module(module), attr)
        globals()[name] = value  # later look-ups skip this function
        return value
    if name in _DEPRECATED_MODULES:
        from overflight.errors import OverflightDeprecationWarning

        warnings.warn(f"overflight.{name} is deprecated and will be removed in the next release; use "
                      f"{_DEPRECATED_MODULES[name]}", OverflightDeprecationWarning, stacklevel=2)
        return import_module(_DEPRECATED_MODULES[name])
    raise AttributeError(f"module 'overflight' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
