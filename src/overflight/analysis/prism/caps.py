"""Stage 1 of the prism verdicts, *caps*: spherical caps bounding each zone, its parts and its boundary pieces.

A cap (centre, radius in true metres) gives a lower bound on the least focal sum ``d(p1, x) + d(x, p2)``
over everything it covers (``focal_lb``): pairs whose bound exceeds the widest budget cannot reach the
zone and are settled ``impossible`` (with that bound as their detour) without geometry work.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from overflight.analysis import membership
from overflight.analysis.prism._captree import CapTree, cap_forest, cap_tree, focal_lb_all, least_focal_lb
from overflight.analysis.prism._geo import R_SPHERE, SPH_HI, SPH_LO, FloatArray, unit
from overflight.analysis.prism.fast import ZoneEdges, zone_edges
from overflight.analysis.prism.period import period_ns
from overflight.index import ZoneIndex
from overflight.zones import as_zoneset


@dataclass
class ZoneCaps:
    """Bounding caps of each zone and each of its polygon parts (true geodesic radii, padded)."""

    ids: list[str]
    geoms: list[BaseGeometry]
    zone_u: FloatArray  # (nz, 3)
    zone_r: FloatArray  # (nz,)
    part_u: list[FloatArray]
    part_r: list[FloatArray]
    piece_u: list[FloatArray]  # caps of boundary pieces (<= PIECE vertices each)
    piece_r: list[FloatArray]
    edges: dict[int, ZoneEdges | None] = field(default_factory=dict)  # built on first use, for bulk settling
    timed: list[Any] = field(default_factory=list)  # per zone: the Zone when it has a validity period, else None
    source: Any = None  # the zones given (a ZoneSet lets the membership index come from the cache)
    _index: ZoneIndex | None = None
    _zones: Any = None
    _trees: dict[tuple[str, int], CapTree] = field(default_factory=dict)
    _forests: dict[str, CapTree] = field(default_factory=dict)

    def forest(self, kind: str) -> CapTree:
        """The grouped caps of every zone's parts ("part") or boundary pieces ("piece") in one tree.

        Zone z's groups are ``zone_g[z]:zone_g[z + 1]`` (near caps grouped together); built on first use.
        """
        if kind not in self._forests:
            u, r = (self.part_u, self.part_r) if kind == "part" else (self.piece_u, self.piece_r)
            self._forests[kind] = cap_forest(list(zip(u, r, strict=True)), spatial=True)
        return self._forests[kind]

    def tree(self, kind: str, z: int) -> CapTree:
        """The grouped caps (``_captree``) of one zone's parts or boundary pieces, or of all zones.

        `kind` is "part", "piece" or "zone"; `z` the zone's number.
        """
        key = (kind, z)
        if key not in self._trees:
            if kind == "zone":  # the zones' own caps (z ignored)
                u, r = self.zone_u, self.zone_r
            else:
                u, r = (self.part_u[z], self.part_r[z]) if kind == "part" else (self.piece_u[z], self.piece_r[z])
            self._trees[key] = cap_tree(u, r, spatial=kind != "zone")  # (the zones' columns in order)
        return self._trees[key]

    def zone_edges(self, z: int) -> ZoneEdges | None:
        """The boundary edges of zone `z`, built on first use."""
        if z not in self.edges:
            self.edges[z] = zone_edges(self.geoms[z])
        return self.edges[z]

    def period(self, z: int) -> Any:
        """The Zone object of a zone with a validity period (its ``active_at`` decides), else None."""
        return self.timed[z] if self.timed else None

    def index(self) -> ZoneIndex:
        """The ZoneIndex deciding which fixes lie in which zone (the one membership rule)."""
        if self._index is None:
            self._index = membership.zone_index(self.zones())
        return self._index

    def zones(self) -> Any:
        """The zones as one ZoneSet (`source` when it is one with these ids, else built from `geoms`), made once.

        Coercing the bare geometries hashes every one of them: the membership queries of every chunk share this.
        """
        if self._zones is None:
            src = self.source
            ok = src is not None and hasattr(src, "provenance") and list(getattr(src, "ids", [])) == self.ids
            self._zones = as_zoneset(src if ok else self.geoms)
        return self._zones


def _cap_of(coords: FloatArray) -> tuple[FloatArray, float]:
    u = unit(coords[:, 0], coords[:, 1])
    c = u.sum(axis=0)
    norm = float(np.linalg.norm(c))
    if norm < 1e-9:
        return np.array([0.0, 0.0, 1.0]), math.pi * R_SPHERE  # covers the globe
    c = c / norm
    clon = math.degrees(math.atan2(c[1], c[0]))
    clat = math.degrees(math.asin(max(-1.0, min(1.0, c[2]))))
    # Great-circle angles scaled by SPH_HI bound the true distances from above (a cap must cover, not fit):
    # one dot product per vertex instead of a geodesic inverse problem.
    cu = unit(clon, clat)
    rad = float(np.arccos(np.clip(u @ cu, -1, 1)).max())
    # Points on an edge are within half the edge's length of one of its ends.
    seg = float(np.arccos(np.clip(np.sum(u[:-1] * u[1:], axis=1), -1, 1)).max()) if len(coords) > 1 else 0.0
    return cu, (rad + seg / 2.0) * R_SPHERE * SPH_HI + 100.0


PIECE = 48


def _piece_caps(g: BaseGeometry) -> tuple[FloatArray, FloatArray]:
    """Caps covering every boundary ring of `g` in runs of PIECE edges (vectorised over all pieces)."""
    rings = shapely.get_rings(shapely.get_parts(g))
    starts, ends, coords_all = [], [], []
    off = 0
    for ring in rings:
        c = shapely.get_coordinates(ring)
        k = len(c)
        b = np.arange(0, max(k - 1, 1), PIECE)
        starts.append(off + b)
        ends.append(off + np.minimum(b + PIECE, k - 1) + 1)
        coords_all.append(c)
        off += k
    xy = np.vstack(coords_all)
    st, en = np.concatenate(starts), np.concatenate(ends)
    u = unit(xy[:, 0], xy[:, 1])
    # Centre: normalised sum of each run's unit vectors (cumulative sums give every run at once).
    cs = np.vstack([np.zeros((1, 3)), np.cumsum(u, axis=0)])
    c = cs[en] - cs[st]
    c = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-15)
    owner = np.repeat(np.arange(len(st)), en - st)
    idx = np.concatenate([np.arange(a, b) for a, b in zip(st, en, strict=True)])
    ang = np.arccos(np.clip(np.sum(u[idx] * c[owner], axis=1), -1, 1))
    rad = np.zeros(len(st))
    np.maximum.at(rad, owner, ang)
    # Great-circle radius to true metres (upper bound), plus margin for straight lon/lat edges between vertices.
    seg = np.arccos(np.clip(np.sum(u[:-1] * u[1:], axis=1), -1, 1))
    seg = np.append(seg, 0.0)
    segmax = np.zeros(len(st))
    np.maximum.at(segmax, owner, seg[idx])
    return c, (rad + segmax / 2) * R_SPHERE * SPH_HI * 1.001 + 200.0


def zone_caps(items: list[tuple[str, BaseGeometry]], source: Any = None) -> ZoneCaps:
    """Bounding caps for a list of (id, geometry).

    `source` is the zones they came from: Zone objects carry the validity periods, and a ZoneSet lets the
    membership index come from the cache.
    """
    zu, zr, pu, pr, qu, qr = [], [], [], [], [], []
    for _, g in items:
        if g.geom_type in ("Polygon", "MultiPolygon"):
            cu_, cr_ = _piece_caps(g)
        else:
            pts = shapely.get_coordinates(g)
            cu_, cr_ = unit(pts[:, 0], pts[:, 1]), np.full(len(pts), 1.0)
        qu.append(cu_)
        qr.append(cr_)
        parts = [p for p in shapely.get_parts(g) if not p.is_empty]
        us, rs = [], []
        for p in parts:
            coords = shapely.get_coordinates(p.exterior if p.geom_type == "Polygon" else p)
            cu, cr = _cap_of(coords)
            us.append(cu)
            rs.append(cr)
        cu, cr = _cap_of(shapely.get_coordinates(g))
        zu.append(cu)
        zr.append(max(cr, max(rs)))
        pu.append(np.array(us))
        pr.append(np.array(rs))
    caps = ZoneCaps([i for i, _ in items], [g for _, g in items], np.array(zu), np.array(zr), pu, pr, qu, qr)
    if source is not None and not isinstance(source, Mapping | pd.DataFrame) and isinstance(source, Iterable):
        zl = list(source)
        if [str(getattr(z, "id", None)) for z in zl] == caps.ids:
            caps.timed = [z if period_ns(z) is not None else None for z in zl]
            caps.source = source
    return caps


def _focal_lb(u1: FloatArray, u2: FloatArray, cu: FloatArray, cr: FloatArray) -> FloatArray:
    """Lower bound on min over a cap of d(p1, x) + d(x, p2): true distance >= SPH_LO x great-circle distance."""
    # In place (same arithmetic, same order as SPH_LO * R * (a1 + a2) * (1 - 1e-9) - 2 cr): this runs over
    # every pair x cap, and temporaries dominate its cost.
    a1 = np.asarray(u1 @ cu.T, dtype=np.float64)
    np.arccos(np.clip(a1, -1.0, 1.0, out=a1), out=a1)
    a2 = np.asarray(u2 @ cu.T, dtype=np.float64)
    np.arccos(np.clip(a2, -1.0, 1.0, out=a2), out=a2)
    a1 += a2
    a1 *= SPH_LO * R_SPHERE
    a1 *= 1 - 1e-9
    a1 -= 2.0 * cr[None, :]
    return a1


_ZoneCaps = ZoneCaps  # the former name


def reach_bounds(u1: FloatArray, u2: FloatArray, need: FloatArray, caps: ZoneCaps) -> FloatArray:
    """Lower bounds (rows, zones) on the least focal sum of each pair (unit vectors `u1`, `u2`) over each zone.

    The zone's cap first, then, where that is within `need` (rows, 1), the caps of its polygon parts.
    """
    lb = focal_lb_all(u1, u2, caps.tree("zone", 0))  # _focal_lb's values, in one compiled pass
    cand = lb <= need
    for z in np.flatnonzero(cand.any(axis=0)):
        rows = np.flatnonzero(cand[:, z])
        plb = least_focal_lb(u1[rows], u2[rows], caps.tree("part", int(z)))
        lb[rows, z] = np.maximum(lb[rows, z], plb)
    return lb


__all__ = ["PIECE", "ZoneCaps", "_ZoneCaps", "_focal_lb", "reach_bounds", "zone_caps"]
