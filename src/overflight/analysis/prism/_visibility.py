"""Compiled segment-against-polygon test for the visibility graph of the avoiding path (planar).

``SegmentIndex(polygon)`` bins the polygon's ring edges into a uniform grid; ``hits(ax, ay, bx, by)`` says
for each segment whether it meets any edge (touching counts, as in GEOS ``intersects`` of a segment and a
polygon's boundary). The avoiding-path code uses it on the obstacle shrunk by a hair, whose boundary a
segment must cross to enter it: both ends of every tested segment lie outside the obstacle (they are the
fixes or obstacle vertices), so meeting the shrunk boundary is the same as meeting the shrunk polygon.
It replaces building one shapely LineString per candidate segment and a prepared-geometry query.
"""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from overflight._jit import kernel
from overflight.index.grid import polygon_edges

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
# ``_hit_one``'s arguments after the segment: the edges (x1, y1, x2, y2) cell by cell, x0, y0, cell, nx, ny, the
# cells' starts, the item list, each column's first and last non-empty row (``SegmentIndex.grid``).
GridArgs = tuple[FloatArray, FloatArray, FloatArray, FloatArray, float, float, float, int, int, IntArray, IntArray,
                 IntArray, IntArray]


@kernel
def _orient(ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> int:
    v = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
    return 1 if v > 0.0 else (-1 if v < 0.0 else 0)


@kernel
def _on_segment(ax: float, ay: float, bx: float, by: float, cx: float, cy: float) -> bool:
    """c, collinear with a-b, lies within a-b's bounding box."""
    return min(ax, bx) <= cx <= max(ax, bx) and min(ay, by) <= cy <= max(ay, by)


@kernel
def _meet(ax: float, ay: float, bx: float, by: float, cx: float, cy: float, dx: float, dy: float) -> bool:
    """Closed segments a-b and c-d share a point."""
    o1 = _orient(ax, ay, bx, by, cx, cy)
    o2 = _orient(ax, ay, bx, by, dx, dy)
    if o1 * o2 > 0:
        # c and d strictly on one side of a-b (most edges near a segment): no proper crossing and neither on
        # a-b, so only the last two cases below remain, each tried box first (the same answer, fewer products).
        return ((_on_segment(cx, cy, dx, dy, ax, ay) and _orient(cx, cy, dx, dy, ax, ay) == 0)
                or (_on_segment(cx, cy, dx, dy, bx, by) and _orient(cx, cy, dx, dy, bx, by) == 0))
    o3 = _orient(cx, cy, dx, dy, ax, ay)
    o4 = _orient(cx, cy, dx, dy, bx, by)
    if o1 * o2 < 0 and o3 * o4 < 0:  # a proper crossing
        return True
    # Otherwise they meet only where an end of one lies on the other (CLRS, SEGMENTS-INTERSECT).
    if o1 == 0 and _on_segment(ax, ay, bx, by, cx, cy):
        return True
    if o2 == 0 and _on_segment(ax, ay, bx, by, dx, dy):
        return True
    if o3 == 0 and _on_segment(cx, cy, dx, dy, ax, ay):
        return True
    return o4 == 0 and _on_segment(cx, cy, dx, dy, bx, by)


@kernel
def _bin_edges(
    x1: FloatArray, y1: FloatArray, x2: FloatArray, y2: FloatArray, x0: float, y0: float, cell: float, nx: int,
    ny: int,
) -> tuple[IntArray, IntArray]:
    """CSR lists of the edges whose bounding box (padded) overlaps each grid cell."""
    ne = x1.size
    pad = cell * 1e-9
    i0 = np.empty(ne, np.int64)
    i1 = np.empty(ne, np.int64)
    j0 = np.empty(ne, np.int64)
    j1 = np.empty(ne, np.int64)
    counts = np.zeros(nx * ny + 1, np.int64)
    for e in range(ne):
        i0[e] = min(max(int((min(x1[e], x2[e]) - pad - x0) / cell), 0), nx - 1)
        i1[e] = min(max(int((max(x1[e], x2[e]) + pad - x0) / cell), 0), nx - 1)
        j0[e] = min(max(int((min(y1[e], y2[e]) - pad - y0) / cell), 0), ny - 1)
        j1[e] = min(max(int((max(y1[e], y2[e]) + pad - y0) / cell), 0), ny - 1)
        for j in range(j0[e], j1[e] + 1):
            for i in range(i0[e], i1[e] + 1):
                counts[j * nx + i + 1] += 1
    for c in range(nx * ny):
        counts[c + 1] += counts[c]
    fill = counts[:-1].copy()
    items = np.empty(counts[-1], np.int64)
    for e in range(ne):
        for j in range(j0[e], j1[e] + 1):
            for i in range(i0[e], i1[e] + 1):
                c = j * nx + i
                items[fill[c]] = e
                fill[c] += 1
    return counts, items


@kernel
def _column_rows(start: IntArray, nx: int, ny: int) -> tuple[IntArray, IntArray]:
    """Each grid column's first and last non-empty row (ny and -1 for an empty column)."""
    lo_row = np.full(nx, ny, np.int64)
    hi_row = np.full(nx, -1, np.int64)
    for j in range(ny):
        for i in range(nx):
            if start[j * nx + i + 1] > start[j * nx + i]:
                lo_row[i] = min(lo_row[i], j)
                hi_row[i] = max(hi_row[i], j)
    return lo_row, hi_row


@kernel
def _hit_one(
    sx: float, sy: float, ex: float, ey: float, x1: FloatArray, y1: FloatArray, x2: FloatArray, y2: FloatArray,
    x0: float, y0: float, cell: float, nx: int, ny: int, start: IntArray, items: IntArray, lo_row: IntArray,
    hi_row: IntArray,
) -> bool:
    """Whether segment (sx, sy)-(ex, ey) meets an edge, walking the grid cells it crosses (``_hits``' test)."""
    pad = cell * 1e-9
    if sx > ex:  # walk the columns left to right
        sx, sy, ex, ey = ex, ey, sx, sy
    i0 = min(max(int((sx - pad - x0) / cell), 0), nx - 1)
    i1 = min(max(int((ex + pad - x0) / cell), 0), nx - 1)
    dx = ex - sx
    for i in range(i0, i1 + 1):
        # The segment's y-range within this column (the whole segment when it is vertical).
        if dx > 0.0:
            xa = max(sx, x0 + i * cell)
            xb = min(ex, x0 + (i + 1) * cell)
            ya = sy + (ey - sy) * ((xa - sx) / dx)
            yb = sy + (ey - sy) * ((xb - sx) / dx)
        else:
            ya, yb = sy, ey
        lo = min(ya, yb) - pad
        hi = max(ya, yb) + pad
        j0 = max(min(max(int((lo - y0) / cell), 0), ny - 1), lo_row[i])
        j1 = min(min(max(int((hi - y0) / cell), 0), ny - 1), hi_row[i])
        for j in range(j0, j1 + 1):
            c = j * nx + i
            for k in range(start[c], start[c + 1]):
                e = items[k]
                if _meet(sx, sy, ex, ey, x1[e], y1[e], x2[e], y2[e]):
                    return True
    return False


@kernel
def _hits(
    ax: FloatArray, ay: FloatArray, bx: FloatArray, by: FloatArray,
    x1: FloatArray, y1: FloatArray, x2: FloatArray, y2: FloatArray,
    x0: float, y0: float, cell: float, nx: int, ny: int, start: IntArray, items: IntArray,
) -> NDArray[np.bool_]:
    n = ax.size
    out = np.zeros(n, np.bool_)
    # Each column's first and last non-empty row: the walk skips the empty cells above and below (open sea
    # between islands), which hold no edge to meet.
    lo_row, hi_row = _column_rows(start, nx, ny)
    for s in range(n):
        out[s] = _hit_one(ax[s], ay[s], bx[s], by[s], x1, y1, x2, y2, x0, y0, cell, nx, ny, start, items, lo_row,
                          hi_row)
    return out


@kernel
def _ring_edges(xy: FloatArray, ring: IntArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``index.grid.polygon_edges`` from the ring coordinates of (multi)polygons (``shapely.get_coordinates`` of
    their rings with ``return_index``): consecutive vertices of one ring, zero-length and non-finite edges
    dropped, each edge starting at its smaller (x, y); the same edges in the same order, one pass."""
    m = max(ring.size - 1, 0)
    x1 = np.empty(m)
    y1 = np.empty(m)
    x2 = np.empty(m)
    y2 = np.empty(m)
    k = 0
    for c in range(m):
        if ring[c + 1] != ring[c]:
            continue
        ax, ay, bx, by = xy[c, 0], xy[c, 1], xy[c + 1, 0], xy[c + 1, 1]
        if not ((ax != bx) or (ay != by)):
            continue
        if not (np.isfinite(ax) and np.isfinite(ay) and np.isfinite(bx) and np.isfinite(by)):
            continue
        if (bx < ax) or ((bx == ax) and (by < ay)):
            ax, ay, bx, by = bx, by, ax, ay
        x1[k] = ax
        y1[k] = ay
        x2[k] = bx
        y2[k] = by
        k += 1
    return x1[:k], y1[:k], x2[:k], y2[:k]


@kernel
def _inside(
    px: FloatArray, py: FloatArray, x1: FloatArray, y1: FloatArray, x2: FloatArray, y2: FloatArray,
    x0: float, y0: float, cell: float, nx: int, ny: int, start: IntArray, items: IntArray,
) -> NDArray[np.bool_]:
    """Whether each point lies inside the rings (even-odd crossings of the ray towards +x, through the grid).

    An edge is counted in the one cell of its row where the ray crosses it (its bins cover that cell), so
    once. Points on or within rounding of an edge may go either way: callers ask only about points well off
    the boundary.
    """
    n = px.size
    out = np.zeros(n, np.bool_)
    for s in range(n):
        x, y = px[s], py[s]
        i_p = min(max(int((x - x0) / cell), 0), nx - 1)
        j = min(max(int((y - y0) / cell), 0), ny - 1)
        odd = False
        # The ray goes to the nearer side of the grid (fewer cells; either side gives the same parity off the
        # boundary, the rings crossing the whole line an even number of times).
        right = i_p > nx // 2
        for i in range(i_p, nx) if right else range(0, i_p + 1):
            c = j * nx + i
            for k in range(start[c], start[c + 1]):
                e = items[k]
                ya, yb = y1[e], y2[e]
                if (ya > y) == (yb > y):
                    continue
                xi = x1[e] + (y - ya) * (x2[e] - x1[e]) / (yb - ya)
                if ((xi > x) if right else (xi < x)) and min(max(int((xi - x0) / cell), 0), nx - 1) == i:
                    odd = not odd
        out[s] = odd
    return out


@kernel
def _grid_size(x1: FloatArray, y1: FloatArray, x2: FloatArray, y2: FloatArray) -> tuple[float, float, float, int]:
    """(x0, y0, cell, k) of the k x k grid over canonical edges (x1 <= x2): 2 sqrt(E) cells a side, at most 512.

    2 sqrt(E): fewer edges to test per cell crossed (a segment meets the same edges whatever the grid; the
    visibility tests of the 100000-pair benchmark ran 9 % faster than with sqrt(E), slower again with 3 sqrt(E)).
    """
    ne = x1.size
    if ne == 0:
        return 0.0, 0.0, 1.0, 1
    xmin, ymin = x1.min(), min(y1.min(), y2.min())
    w = max(x2.max() - xmin, max(y1.max(), y2.max()) - ymin, 1e-300)
    k = max(1, min(512, int(2.0 * np.sqrt(ne))))
    return xmin, ymin, w / k * (1 + 1e-12), k


class SegmentIndex:
    """The ring edges of a (multi)polygon in a uniform grid, for many segment queries."""

    def __init__(self, polygon: BaseGeometry) -> None:
        if polygon.geom_type in ("Polygon", "MultiPolygon"):
            xy, ring = shapely.get_coordinates(shapely.get_rings(shapely.get_parts(polygon)), return_index=True)
            self.x1, self.y1, self.x2, self.y2 = _ring_edges(xy, np.asarray(ring, dtype=np.int64))
        else:
            self.x1, self.y1, self.x2, self.y2, _ = polygon_edges(np.array([polygon], dtype=object))
        self.x0, self.y0, self.cell, k = _grid_size(self.x1, self.y1, self.x2, self.y2)
        self.nx = self.ny = k
        self.start, self.items = _bin_edges(self.x1, self.y1, self.x2, self.y2, self.x0, self.y0, self.cell,
                                            self.nx, self.ny)
        # The queries read the edges cell by cell: copies in that order (each edge once per cell it is binned
        # in) make the reads sequential; the kernels then go through them by an identity item list.
        self._cells = (self.x1[self.items], self.y1[self.items], self.x2[self.items], self.y2[self.items])
        self._order = np.arange(self.items.size, dtype=np.int64)

    def grid(self) -> GridArgs:
        """The arguments of ``_hit_one`` after the segment: the edges cell by cell and the grid (for other kernels)."""
        lo_row, hi_row = _column_rows(self.start, self.nx, self.ny)
        return (*self._cells, float(self.x0), float(self.y0), float(self.cell), int(self.nx), int(self.ny),
                self.start, self._order, lo_row, hi_row)

    def hits(self, ax: FloatArray, ay: FloatArray, bx: FloatArray, by: FloatArray) -> NDArray[np.bool_]:
        """For each segment (ax, ay)-(bx, by): does it meet an edge (touching counts)?"""
        if self.x1.size == 0:
            return np.zeros(len(ax), dtype=bool)
        f = np.ascontiguousarray
        return np.asarray(_hits(f(ax, dtype=np.float64), f(ay, dtype=np.float64), f(bx, dtype=np.float64),
                                f(by, dtype=np.float64), *self._cells, self.x0, self.y0, self.cell, self.nx, self.ny,
                                self.start, self._order), dtype=bool)

    def inside(self, px: FloatArray, py: FloatArray) -> NDArray[np.bool_]:
        """For each point: inside the rings? (Points well off the boundary only: on it, either answer.)"""
        if self.x1.size == 0:
            return np.zeros(len(px), dtype=bool)
        f = np.ascontiguousarray
        return np.asarray(_inside(f(px, dtype=np.float64), f(py, dtype=np.float64), *self._cells, self.x0, self.y0,
                                  self.cell, self.nx, self.ny, self.start, self._order), dtype=bool)


__all__ = ["FloatArray", "GridArgs", "IntArray", "SegmentIndex"]
