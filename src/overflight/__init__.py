"""overflight: what flew through whose airspace, when, and how sure we are.

The top-level names are imported lazily so that `import overflight` stays fast for the command line.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from overflight._version import __version__

_LAZY = {
    "ZoneIndex": "overflight.index",
    "Zone": "overflight.zones",
    "ZoneSet": "overflight.zones",
    "load_zones": "overflight.zones",
    "transit": "overflight.analysis.transit",
}

__all__ = ["Zone", "ZoneIndex", "ZoneSet", "__version__", "load_zones", "transit"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'overflight' has no attribute {name!r}")
