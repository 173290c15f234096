"""The one membership rule of every analysis: which zones contain a point, and which are in force at a time.

A point is inside a zone by the `ZoneIndex` rule: edges as given (straight in lon/lat), a point exactly on a
border belongs to the zone north of an east-west edge or east of a north-south edge, longitude 180 is -180.
A zone is in force during ``[valid_from, valid_to)`` (`Zone.active_at`). Locate, transit, attribution and
prism all ask through this module (or the `ZoneIndex` itself), so two analyses of one case never disagree
about one point.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from overflight.index import ZoneIndex
from overflight.zones import ZoneSetLike, as_zoneset

_ONE: OrderedDict[int, tuple[BaseGeometry, ZoneIndex]] = OrderedDict()  # geometry id -> (geometry, index)
_ONE_MAX = 256


def zone_index(zones: ZoneSetLike) -> ZoneIndex:
    """The ZoneIndex for a zone set: from the on-disk cache for a shipped boundary set, else built.

    `zones` is anything `overflight.zones.as_zoneset` takes (a ZoneSet, a sequence of Zone or of shapely
    geometries in zone order, ...).
    """
    from overflight import boundaries

    zs = as_zoneset(zones)
    if zs.provenance.name in boundaries.names():
        return ZoneIndex.cached(zs)
    return ZoneIndex(zs)  # the ZoneSet itself: the index coerces nothing again


def members(
    lon: npt.ArrayLike, lat: npt.ArrayLike, zones: ZoneSetLike, times: Any = None, *,
    index: ZoneIndex | None = None,
) -> npt.NDArray[np.bool_]:
    """A boolean matrix (points x zones): the zone contains the point (and, with `times`, is in force then).

    Parameters
    ----------
    lon, lat : coordinates in degrees.
    zones : ZoneSet or sequence of Zone (validity periods are read from the Zone objects) or geometries.
    times : optional times of the points (see `Zone.active_at`; a missing time excludes nothing).
    index : a ZoneIndex already built for `zones` (else `zone_index(zones)`).
    """
    x = np.asarray(lon, dtype=np.float64).ravel()
    y = np.asarray(lat, dtype=np.float64).ravel()
    zs = as_zoneset(zones)
    zl = list(zs)
    out = np.zeros((x.size, len(zl)), dtype=bool)
    if x.size == 0 or not zl:
        return out
    idx = index if index is not None else zone_index(zs)
    p, z = idx.locate_all(x, y)
    out[np.asarray(p, dtype=np.int64), np.asarray(z, dtype=np.int64)] = True
    if times is not None:
        for j, zone in enumerate(zl):
            if getattr(zone, "is_timed", False):
                out[:, j] &= zone.active_at(times)
    return out


def point_in(geometry: BaseGeometry, lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Which points lie in one zone geometry, by the ZoneIndex rule (border points included or not by it).

    Points off the border are decided by shapely (exact predicates; the same answer); only points on the
    border go to a ZoneIndex of the geometry, built once and kept for the last few hundred geometries.
    """
    x = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    y = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    if geometry.geom_type not in ("Polygon", "MultiPolygon", "GeometryCollection") or x.size == 0:
        return np.zeros(x.shape, dtype=bool)
    x = np.where(x == 180.0, -180.0, x)  # the ZoneIndex rule: longitude 180 is -180
    inside = np.asarray(shapely.contains_xy(geometry, x, y), dtype=bool)
    edge = ~inside & np.asarray(shapely.intersects_xy(geometry, x, y), dtype=bool)
    if edge.any():
        key = id(geometry)
        hit = _ONE.get(key)
        if hit is None or hit[0] is not geometry:
            hit = (geometry, ZoneIndex(np.array([geometry], dtype=object)))
            _ONE[key] = hit
            while len(_ONE) > _ONE_MAX:
                _ONE.popitem(last=False)
        _ONE.move_to_end(key)
        inside[edge] = hit[1].locate(x[edge], y[edge]) == 0
    return inside


__all__ = ["members", "point_in", "zone_index"]
