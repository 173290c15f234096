"""Which of a chunk's segments can meet a zone border: the others need not go to ``ZoneIndex.crossings``.

Nearly every segment of a track (fixes seconds apart) lies inside one grid cell of the zone index that no
border passes through: such a cell (a leaf whose code is a zone, or -1 for none; see
:class:`overflight.index.grid.GridArrays`) lies wholly inside one zone or outside all, so a straight piece
within cells of that kind crosses no border edge. :func:`may_cross` marks the segments that must still be
asked; the crossings of the others are none, so sending only the marked ones gives the same crossings.

A segment is left out only when all of this holds, else it is sent:

* it is one straight piece in the crossings' densification (geodesic length at most the step: ``ceil(length /
  step)`` pieces, at least one) with its own ends, and it does not cross the antimeridian (longitude jump of
  at most 180 degrees, no end at +180, which the index maps to -180);
* every leaf cell that its bounding box, grown by :data:`MARGIN`, meets is simple. That box holds the one the
  crossing kernel scans (grown by its ``EPS``, 1e-9 degrees; :data:`MARGIN` is 100 times that), so the
  cells looked at here include every cell the kernel looks at; a coarse cell that is not subdivided counts
  by its own code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from overflight._jit import kernel

if TYPE_CHECKING:  # the index package is imported only where an index is built or loaded
    from overflight.index.grid import GridArrays

__all__ = ["MARGIN", "may_cross", "may_cross_rows"]

#: Degrees by which a segment's bounding box is grown before its cells are looked up (see the module docstring).
MARGIN = 1e-7


@kernel
def _may_cross_rows(lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64], rows: npt.NDArray[np.int64],
                    length: npt.NDArray[np.float64], step: float, margin: float, cw: float, ncx: int, ncy: int,
                    ck: npt.NDArray[np.int32], cval: npt.NDArray[np.int32], lsum: npt.NDArray[np.int32],
                    out: npt.NDArray[np.bool_]) -> int:
    """out[k]: whether the segment from fix rows[k] to fix rows[k] + 1 may cross a border; returns how many may.

    See the module docstring; the ends are read in place, not gathered.
    """
    inv = 1.0 / cw
    hits = 0
    for s in range(rows.shape[0]):
        i = rows[s]
        a = lon[i]
        b = lon[i + 1]
        c = lat[i]
        d = lat[i + 1]
        ln = length[s]
        send = not (ln <= step and abs(b - a) <= 180.0 and a < 180.0 and b < 180.0 and a >= -180.0
                    and b >= -180.0 and abs(c) <= 90.0 and abs(d) <= 90.0)
        if not send:
            xmin = min(a, b) - margin
            xmax = max(a, b) + margin
            ymin = min(c, d) - margin
            ymax = max(c, d) + margin
            ix0 = min(max(int((xmin + 180.0) * inv), 0), ncx - 1)
            ix1 = min(max(int((xmax + 180.0) * inv), 0), ncx - 1)
            iy0 = min(max(int((ymin + 90.0) * inv), 0), ncy - 1)
            iy1 = min(max(int((ymax + 90.0) * inv), 0), ncy - 1)
            for iy in range(iy0, iy1 + 1):
                for ix in range(ix0, ix1 + 1):
                    cell = iy * ncx + ix
                    k = int(ck[cell])
                    if k == 0:
                        if cval[cell] < -1:
                            send = True
                        continue
                    bx0 = -180.0 + ix * cw
                    by0 = -90.0 + iy * cw
                    sk = k * inv
                    fx0 = min(max(int((xmin - bx0) * sk), 0), k - 1)
                    fx1 = min(max(int((xmax - bx0) * sk), 0), k - 1)
                    fy0 = min(max(int((ymin - by0) * sk), 0), k - 1)
                    fy1 = min(max(int((ymax - by0) * sk), 0), k - 1)
                    base = int(cval[cell])
                    for fy in range(fy0, fy1 + 1):
                        for fx in range(fx0, fx1 + 1):
                            if lsum[base + fy * k + fx] < -1:
                                send = True
                    if send:
                        break
                if send:
                    break
        out[s] = send
        if send:
            hits += 1
    return hits


def may_cross(grid: GridArrays, x1: npt.NDArray[np.float64], y1: npt.NDArray[np.float64], x2: npt.NDArray[np.float64],
              y2: npt.NDArray[np.float64], length_m: npt.NDArray[np.float64], step_m: float) -> npt.NDArray[np.bool_]:
    """Mask of the segments that may cross a zone border of ``grid`` (an index's ``GridArrays``).

    ``x1, y1, x2, y2`` are the ends as the crossings get them (longitudes in [-180, 180)), ``length_m`` the
    geodesic lengths handed to them and ``step_m`` their densification step. False only where the segment is
    sure to cross no border (see the module docstring); NaN lengths and odd coordinates are always True.
    """
    # The ends interleaved, so that segment k runs from fix 2k to fix 2k + 1: one kernel serves both forms.
    n = len(x1)
    lon = np.empty(2 * n)
    lat = np.empty(2 * n)
    lon[0::2], lon[1::2], lat[0::2], lat[1::2] = x1, x2, y1, y2
    return may_cross_rows(grid, lon, lat, np.arange(0, 2 * n, 2, dtype=np.int64), length_m, step_m)


def may_cross_rows(grid: GridArrays, lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64],
                   rows: npt.NDArray[np.int64], length_m: npt.NDArray[np.float64], step_m: float
                   ) -> npt.NDArray[np.bool_]:
    """:func:`may_cross` of the segments from fix ``rows[k]`` to fix ``rows[k] + 1`` of ``lon``, ``lat``.

    The same mask as ``may_cross(grid, lon[rows], lat[rows], lon[rows + 1], lat[rows + 1], ...)`` without
    gathering the four arrays of ends first (longitudes as the crossings get them, in [-180, 180)).
    """
    n = len(rows)
    out = np.ones(n, dtype=np.bool_)
    if n == 0:
        return out
    f = np.float64
    _may_cross_rows(np.ascontiguousarray(lon, f), np.ascontiguousarray(lat, f), np.ascontiguousarray(rows, np.int64),
                    np.ascontiguousarray(length_m, f), float(step_m), MARGIN, float(grid.cw), int(grid.ncx),
                    int(grid.ncy), np.ascontiguousarray(grid.ck, np.int32), np.ascontiguousarray(grid.cval, np.int32),
                    np.ascontiguousarray(grid.lsum, np.int32), out)
    return out
