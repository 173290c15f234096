"""ZoneIndex: the exact, fast point and segment classifier every analysis and the monitor call.

>>> from overflight.boundaries import load
>>> idx = ZoneIndex.cached(load("ne-admin0"))     # built once per boundary set, then loaded from the cache
>>> idx.locate([13.4], [52.5])                    # -> array([position of DEU])
"""

from __future__ import annotations

from overflight._deprecated import deprecated_names
from overflight.index.core import CoordinateWarning, ZoneIndex
from overflight.index.crossings import Crossings
from overflight.index.persist import cache_dir

__all__ = ["CoordinateWarning", "Crossings", "ZoneIndex", "cache_dir"]

# the index takes any `overflight.zones.ZoneSetLike`; its own protocol of that name is gone
__getattr__ = deprecated_names(__name__, {"ZoneSetLike": "overflight.zones:ZoneSetLike"})
