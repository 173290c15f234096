"""Reference implementation of transit's border crossings on shapely alone (moved out of the library).

Until issue 13 the transit module carried this path as a fallback for a ZoneIndex that could not be imported;
it now lives here as an independent reference that tests compare the ZoneIndex against.  It differs from the
index in every step that matters: membership is shapely's prepared ``contains_xy`` (per polygon part, points
in its bounding box), each densified step whose two ends change zone is intersected with the zone's edges
through an ``STRtree`` query, and a change with no hit found is put at the nearer end by a distance test.

``ShapelyLocator`` has the two methods transit needs of an index (``locate_all`` and ``crossings``), so
``transit(tracks, zones, index=ShapelyLocator(zones))`` runs the whole analysis on the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

from overflight.geodesy import direct, wrap_lon
from overflight.zones import ZoneSet

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class RefCrossings:
    """Crossings in the shape of ``overflight.index.Crossings`` (segment, fraction, lon, lat, zone, direction)."""

    segment: IntArray
    fraction: FloatArray
    lon: FloatArray
    lat: FloatArray
    zone: IntArray
    direction: IntArray

    def __len__(self) -> int:
        return int(self.segment.size)


def _none() -> RefCrossings:
    return RefCrossings(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, np.int64),
                        np.zeros(0, np.int64))


class _Edges:
    """Border edges of each zone (straight lon/lat segments, as the boundary data gives them), built lazily."""

    def __init__(self, geoms: npt.NDArray[np.object_]) -> None:
        self.geoms = geoms
        self._cache: dict[int, tuple[FloatArray, shapely.STRtree]] = {}

    def get(self, z: int) -> tuple[FloatArray, shapely.STRtree]:
        hit = self._cache.get(z)
        if hit is None:
            rings = shapely.get_rings(shapely.get_parts(self.geoms[z]))
            coords, ring = shapely.get_coordinates(rings, return_index=True)
            same = ring[1:] == ring[:-1]
            e = np.column_stack([coords[:-1][same], coords[1:][same]])  # x0 y0 x1 y1
            tree = shapely.STRtree(shapely.linestrings(e.reshape(-1, 2, 2)))
            hit = (e, tree)
            self._cache[z] = hit
        return hit


def _segment_hits(
    edges: _Edges, zone: IntArray, x0: FloatArray, y0: FloatArray, x1: FloatArray, y1: FloatArray
) -> tuple[IntArray, FloatArray]:
    """Intersections of straight steps (x0,y0)-(x1,y1) (x1 unwrapped next to x0) with their zone's border.

    Returns (step index, parameter s along the step in [0, 1]) for every hit.
    """
    out_i: list[IntArray] = []
    out_s: list[FloatArray] = []
    for z in np.unique(zone):  # one query per zone crossed, not per step
        sel = np.flatnonzero(zone == z)
        e, tree = edges.get(int(z))
        ax, ay, bx, by = x0[sel], y0[sel], x1[sel], y1[sel]
        for shift in (0.0, -360.0, 360.0):
            if shift == 0.0:
                use = np.ones(len(sel), dtype=bool)
            elif shift < 0:
                use = np.maximum(ax, bx) > 180.0
            else:
                use = np.minimum(ax, bx) < -180.0
            if not use.any():
                continue
            k = np.flatnonzero(use)
            lines = shapely.linestrings(
                np.stack([np.column_stack([ax[k] + shift, ay[k]]), np.column_stack([bx[k] + shift, by[k]])], axis=1)
            )
            qi, ei = tree.query(lines, predicate="intersects")
            if len(qi) == 0:
                continue
            j = k[qi]
            px, py = ax[j] + shift, ay[j]
            rx, ry = bx[j] - ax[j], by[j] - ay[j]
            qx, qy = e[ei, 0], e[ei, 1]
            sx, sy = e[ei, 2] - qx, e[ei, 3] - qy
            den = rx * sy - ry * sx
            with np.errstate(divide="ignore", invalid="ignore"):
                s = ((qx - px) * sy - (qy - py) * sx) / den
            # Collinear overlap (den == 0): the step runs along the border; take the nearer edge end.
            par = ~np.isfinite(s)
            if par.any():
                rr = rx[par] ** 2 + ry[par] ** 2
                s0 = ((qx[par] - px[par]) * rx[par] + (qy[par] - py[par]) * ry[par]) / np.where(rr > 0, rr, 1.0)
                s1 = ((qx[par] + sx[par] - px[par]) * rx[par] + (qy[par] + sy[par] - py[par]) * ry[par]) / \
                    np.where(rr > 0, rr, 1.0)
                s[par] = np.clip(np.minimum(s0, s1), 0.0, 1.0)
            s = np.clip(s, 0.0, 1.0)
            out_i.append(sel[j])
            out_s.append(s)
    if not out_i:
        return np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(out_i), np.concatenate(out_s)


class ShapelyLocator:
    """An exact point-in-zone locator and border-crossing finder on shapely's prepared polygons.

    Each polygon part is tested only against the points in its bounding box (points sorted by longitude,
    so the candidates of a part are one ``searchsorted`` away).
    """

    def __init__(self, zones: ZoneSet) -> None:
        self.geoms = zones.geometries()
        self.nz = len(zones)
        parts, owner = shapely.get_parts(self.geoms, return_index=True)
        areal = shapely.get_type_id(parts) == 3
        self.parts = parts[areal]
        self.owner = owner[areal].astype(np.int64)
        shapely.prepare(self.parts)
        self.bounds = shapely.bounds(self.parts)
        self.edges = _Edges(self.geoms)

    def locate_all(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[IntArray, IntArray]:
        """Every (point, zone) membership, ordered by point then zone."""
        x = np.asarray(lon, dtype=np.float64)
        y = np.asarray(lat, dtype=np.float64)
        order = np.argsort(x, kind="stable")
        xs = x[order]
        lo = np.searchsorted(xs, self.bounds[:, 0], side="left")
        hi = np.searchsorted(xs, self.bounds[:, 2], side="right")
        pts: list[IntArray] = []
        zs: list[IntArray] = []
        for k in np.flatnonzero(hi > lo):  # one step per polygon part, never per point
            cand = order[lo[k]:hi[k]]
            cy = y[cand]
            cand = cand[(cy >= self.bounds[k, 1]) & (cy <= self.bounds[k, 3])]
            if len(cand) == 0:
                continue
            inside = shapely.contains_xy(self.parts[k], x[cand], y[cand])
            hit = cand[inside]
            if len(hit):
                pts.append(hit.astype(np.int64))
                zs.append(np.full(len(hit), self.owner[k], dtype=np.int64))
        if not pts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        p, z = np.concatenate(pts), np.concatenate(zs)
        o = np.lexsort((z, p))
        return p[o], z[o]

    def _contains(self, lon: FloatArray, lat: FloatArray) -> tuple[IntArray, IntArray]:
        if len(lon) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return self.locate_all(wrap_lon(lon), lat)

    def crossings(
        self, lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike, lat2: npt.ArrayLike, *,
        densify_m: float, azimuth: npt.ArrayLike, length_m: npt.ArrayLike,
    ) -> RefCrossings:
        """Border crossings along the geodesic of every segment, densified to ``densify_m``.

        ``fraction`` is the position along the segment's geodesic length (0 at its start, 1 at its end).
        """
        lon_a, lat_a = np.asarray(lon1, np.float64), np.asarray(lat1, np.float64)
        lon_b, lat_b = np.asarray(lon2, np.float64), np.asarray(lat2, np.float64)
        az = np.asarray(azimuth, np.float64)
        seg_len = np.asarray(length_m, np.float64)
        if len(lon_a) == 0:
            return _none()
        nsub = np.maximum(1, np.ceil(seg_len / densify_m)).astype(np.int64)
        # Dense vertices per segment: its start fix, then nsub - 1 interior points; the end fix closes it.
        nv = nsub.copy()
        seg_of = np.repeat(np.arange(len(lon_a)), nv)
        pos = np.arange(len(seg_of)) - np.repeat(np.cumsum(nv) - nv, nv)  # 0..nsub-1 within its segment
        dist = seg_len[seg_of] * pos / nsub[seg_of]
        vlon = lon_a[seg_of].copy()
        vlat = lat_a[seg_of].copy()
        mid = pos > 0
        if mid.any():
            x, y, _ = direct(vlon[mid], vlat[mid], az[seg_of[mid]], dist[mid])
            vlon[mid], vlat[mid] = x, y
        # Step ends: the next dense vertex, or the segment's end fix.
        end_is_fix = pos == nsub[seg_of] - 1
        elon = np.empty_like(vlon)
        elat = np.empty_like(vlat)
        elon[:-1], elat[:-1] = vlon[1:], vlat[1:]
        elon[end_is_fix] = lon_b[seg_of[end_is_fix]]
        elat[end_is_fix] = lat_b[seg_of[end_is_fix]]
        edist = np.where(end_is_fix, seg_len[seg_of], seg_len[seg_of] * (pos + 1) / nsub[seg_of])
        # Memberships of all step starts and ends in one call (segment end fixes are no step's start).
        m = len(vlon)
        p, z = self._contains(np.concatenate([vlon, elon[end_is_fix]]), np.concatenate([vlat, elat[end_is_fix]]))
        end_slot = np.full(m, -1, dtype=np.int64)
        end_slot[end_is_fix] = m + np.arange(int(end_is_fix.sum()))
        nz = self.nz
        start_keys = np.unique(p[p < m] * nz + z[p < m])
        all_keys = np.unique(p * nz + z)
        end_pt = np.where(end_is_fix, end_slot, np.arange(m) + 1)
        # Leaves: (start i, z) present and (end i, z) absent; entries: the reverse.
        sp, sz = start_keys // nz, start_keys % nz
        leave = ~np.isin(end_pt[sp] * nz + sz, all_keys)
        step_of_end = np.full(m + int(end_is_fix.sum()), -1, dtype=np.int64)
        step_of_end[m:] = np.flatnonzero(end_is_fix)
        inner = np.flatnonzero(pos > 0)
        step_of_end[inner] = inner - 1
        st_e = step_of_end[p]
        ok = st_e >= 0
        st_e, ez = st_e[ok], z[ok]
        enter = ~np.isin(st_e * nz + ez, start_keys)
        step = np.concatenate([sp[leave], st_e[enter]])
        zone = np.concatenate([sz[leave], ez[enter]])
        dirn = np.concatenate([-np.ones(int(leave.sum()), np.int64), np.ones(int(enter.sum()), np.int64)])
        if len(step) == 0:
            return _none()
        x0, y0 = vlon[step], vlat[step]
        x1 = x0 + wrap_lon(elon[step] - x0)
        y1 = elat[step]
        hi, hs = _segment_hits(self.edges, zone, x0, y0, x1, y1)
        # Per (step, zone) change: sort its hits along the step, drop repeats (a vertex hit twice), and keep
        # an odd number so the change of membership is kept; directions alternate from the known one.
        o = np.lexsort((hs, hi))
        hi, hs = hi[o], hs[o]
        dup = np.zeros(len(hi), dtype=bool)
        dup[1:] = (hi[1:] == hi[:-1]) & (np.abs(hs[1:] - hs[:-1]) < 1e-12)
        hi, hs = hi[~dup], hs[~dup]
        cnt = np.bincount(hi, minlength=len(step))
        startpos = np.cumsum(cnt) - cnt
        rank = np.arange(len(hi)) - startpos[hi]
        keep_n = np.where(cnt % 2 == 1, cnt, np.maximum(cnt - 1, 0))
        keep = rank < keep_n[hi]
        hi, hs, rank = hi[keep], hs[keep], rank[keep]
        # A change with no hit found: an end lies on the border within rounding; put it at the nearer end.
        miss = np.flatnonzero(keep_n == 0)
        ms = np.zeros(len(miss))
        for zz in np.unique(zone[miss]):  # rare: one call per zone concerned
            w = np.flatnonzero(zone[miss] == zz)
            bnd = shapely.boundary(self.geoms[zz])
            d0 = shapely.distance(bnd, shapely.points(wrap_lon(x0[miss[w]]), y0[miss[w]]))
            d1 = shapely.distance(bnd, shapely.points(wrap_lon(x1[miss[w]]), y1[miss[w]]))
            ms[w] = np.where(d1 < d0, 1.0, 0.0)
        hi = np.concatenate([hi, miss])
        hs = np.concatenate([hs, ms])
        rank = np.concatenate([rank, np.zeros(len(miss), np.int64)])
        d = dirn[hi] * np.where(rank % 2 == 0, 1, -1)
        st_i = step[hi]
        seg = seg_of[st_i]
        dd = dist[st_i] + hs * (edist[st_i] - dist[st_i])
        L = seg_len[seg]
        frac = np.where(L > 0, dd / np.where(L > 0, L, 1.0), 0.0)
        ex = wrap_lon(x0[hi] + hs * (x1[hi] - x0[hi]))
        ey = y0[hi] + hs * (y1[hi] - y0[hi])
        o = np.lexsort((frac, seg))
        return RefCrossings(seg[o], frac[o], ex[o], ey[o], zone[hi][o], d[o])
