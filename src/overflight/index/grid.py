"""Building the ZoneIndex grid: polygon edges -> coarse cells -> adaptive fine cells (numba kernels)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from overflight.errors import InputError
from overflight.index._build import Edges, build_cells, coarse_membership, raster_edges
from overflight.index._kernels import Grid

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: Bumped whenever the layout or the meaning of the arrays changes (saved indexes of another version are rebuilt).
FORMAT_VERSION = 2


@dataclass(frozen=True)
class GridArrays:
    """The immutable arrays of a built index (all numpy; shared read-only between threads).

    Coarse cell ``c = iy * ncx + ix`` covers ``[-180 + ix*cw, +cw) x [-90 + iy*cw, +cw)``; ``ck[c]`` is 0 for a
    cell without polygon edges (its code is ``cval[c]``) or k, the power-of-two subdivision, with fine cell codes
    ``lsum[cval[c] + fy*k + fx]``.  A code >= 0 is the one zone wholly containing the cell, -1 none, and
    -2 - o refers to a complex cell (with edges, or in several zones) whose record starts at ``blob[o]``.

    A record is contiguous, so that a point in a complex cell costs one cache miss, not one per array:
    ``ncand``, then per candidate zone ``zone, inside, nedges`` (``inside``: membership of the fine cell's
    centre) followed by ``nedges`` edges of that zone meeting the cell as ``x1, y1, x2, y2`` (canonical
    direction: smaller end first).  Integers are stored exactly as float64.
    """

    cw: float
    ncx: int
    ncy: int
    ck: npt.NDArray[np.int32]
    cval: npt.NDArray[np.int32]
    lsum: npt.NDArray[np.int32]
    blob: F64

    def kernel_grid(self) -> Grid:
        """The grid as the one argument every query kernel takes."""
        return Grid(self.cw, self.ncx, self.ncy, self.ck, self.cval, self.lsum, self.blob,
                    top_words(self.ck, self.cval))

    @property
    def nbytes(self) -> int:
        """Bytes held by the grid's arrays."""
        return sum(int(getattr(self, f.name).nbytes) for f in fields(self) if isinstance(getattr(self, f.name),
                                                                                     np.ndarray))

    def as_dict(self) -> dict[str, Any]:
        """Field name -> array or value (what persist writes)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def top_words(ck: npt.NDArray[np.int32], cval: npt.NDArray[np.int32]) -> I64:
    """``cval << 32 | ck`` per coarse cell (`Grid.top`): k is the low word (k >= 0), cval the signed high word."""
    top = (cval.astype(np.int64) << 32) | ck.astype(np.int64)
    top.setflags(write=False)
    return top


def polygon_edges(geoms: npt.NDArray[np.object_]) -> tuple[F64, F64, F64, F64, npt.NDArray[np.int32]]:
    """All ring edges of the polygonal parts of each geometry, zone-ordered, canonical (smaller end first).

    Non-polygonal parts (points, lines) are skipped; zero-length edges are dropped.
    """
    parts, pidx = shapely.get_parts(geoms, return_index=True)
    # geometry collections may hold multipolygons: explode until only simple parts remain
    while True:
        multi = shapely.get_type_id(parts) >= 4
        if not multi.any():
            break
        sub, sidx = shapely.get_parts(parts, return_index=True)
        pidx = pidx[sidx]
        parts = sub
    poly = shapely.get_type_id(parts) == 3
    parts, pidx = parts[poly], pidx[poly]
    rings, ridx = shapely.get_rings(parts, return_index=True)
    ring_zone = pidx[ridx]
    coords, cidx = shapely.get_coordinates(rings, return_index=True)
    same = cidx[1:] == cidx[:-1]
    x1, y1 = coords[:-1, 0][same], coords[:-1, 1][same]
    x2, y2 = coords[1:, 0][same], coords[1:, 1][same]
    zone = ring_zone[cidx[:-1][same]].astype(np.int32)
    keep = ((x1 != x2) | (y1 != y2)) & np.isfinite(x1) & np.isfinite(y1) & np.isfinite(x2) & np.isfinite(y2)
    x1, y1, x2, y2, zone = x1[keep], y1[keep], x2[keep], y2[keep], zone[keep]
    swap = (x2 < x1) | ((x2 == x1) & (y2 < y1))
    ax = np.where(swap, x2, x1)
    ay = np.where(swap, y2, y1)
    bx = np.where(swap, x1, x2)
    by = np.where(swap, y1, y2)
    return (np.ascontiguousarray(ax), np.ascontiguousarray(ay), np.ascontiguousarray(bx),
            np.ascontiguousarray(by), zone)


def geometry_hash(geoms: npt.NDArray[np.object_], ids: list[str]) -> str:
    """sha256 over the zone ids and WKB geometries, in order: identifies the zone set an index was built for."""
    h = hashlib.sha256()
    for zid in ids:
        h.update(zid.encode())
        h.update(b"\0")
    for wkb in shapely.to_wkb(geoms, hex=False, output_dimension=2, byte_order=1):
        h.update(b"\1" if wkb is None else wkb)
    return h.hexdigest()


def _next_pow2(v: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    return np.asarray(2 ** np.ceil(np.log2(np.maximum(v, 1.0))), dtype=np.int64)


#: Leaf cells per slice in the compression step of `build_grid` (bounds its temporaries to a few MB).
_SLICE = 1 << 20


def build_grid(
    geoms: npt.NDArray[np.object_], *, cell_deg: float = 1.0, fine_edges: float = 1.0, max_fine: int = 32
) -> GridArrays:
    """Build the grid arrays for these geometries (positions in `geoms` are the zone indices).

    Parameters
    ----------
    cell_deg : coarse cell size in degrees, a power of two (1.0, 0.5, 2.0...), dividing 180.
    fine_edges : a coarse cell with E edges is split into k x k fine cells, k = next power of two of E/fine_edges.
    max_fine : upper bound of k (a power of two).
    """
    if not (isinstance(cell_deg, int | float) and math.isfinite(cell_deg) and 0 < cell_deg <= 180):
        raise InputError(f"cell_deg must be a power of two dividing 180, not {cell_deg!r}", field="cell_deg")
    exp = math.log2(cell_deg)
    if exp != round(exp) or (180.0 / cell_deg) != round(180.0 / cell_deg):
        raise InputError(f"cell_deg must be a power of two dividing 180, not {cell_deg!r}", field="cell_deg")
    if not (isinstance(max_fine, int) and max_fine >= 1 and not (max_fine & (max_fine - 1))):
        raise InputError(f"max_fine must be a power of two, not {max_fine!r}", field="max_fine")
    if not (isinstance(fine_edges, int | float) and math.isfinite(fine_edges) and fine_edges > 0):
        raise InputError(f"fine_edges must be a positive number, not {fine_edges!r}", field="fine_edges")
    ncx, ncy = round(360.0 / cell_deg), round(180.0 / cell_deg)
    ex1, ey1, ex2, ey2, ezone = polygon_edges(geoms)
    ed = Edges(ex1, ey1, ex2, ey2, ezone)
    estart, eids = raster_edges(ex1, ey1, ex2, ey2, -180.0, -90.0, float(cell_deg), ncx, ncy)
    counts = np.diff(estart)
    nzones = len(geoms)
    nwords = max(1, (nzones + 63) // 64)
    start_cell, start_bits = _start_cell(geoms, counts, cell_deg, ncx, nwords)
    bits = coarse_membership(float(cell_deg), ncx, ncy, ed, estart, eids, start_cell, start_bits)
    ck = np.where(counts > 0, np.minimum(_next_pow2(counts / fine_edges), max_fine), 0).astype(np.int32)
    cptr, cstart, czone, cin, cest, o1, o2, o3, o4 = build_cells(float(cell_deg), ncx, ncy, ed, estart, eids, bits, ck)
    del estart, eids, bits
    # compress: cells without edges and with at most one zone get their answer inline (one lookup per point).
    # Over the ~10 M leaf cells this works in slices of _SLICE cells: int64 temporaries of the whole length
    # (np.diff, gathers, np.repeat's repeat counts) were the build's memory peak.
    nleaf = cstart.size - 1
    ncand = np.empty(nleaf, dtype=np.int32)
    np.subtract(cstart[1:], cstart[:-1], out=ncand, casting="unsafe")
    simple = np.empty(nleaf, dtype=bool)
    lsum = np.full(nleaf, -1, dtype=np.int32)
    cand_complex = np.empty(int(cstart[-1]), dtype=bool)  # per candidate: is its cell complex?
    for a in range(0, nleaf, _SLICE):
        b = min(a + _SLICE, nleaf)
        # a cell's candidates are contiguous, so its edge count is a difference of the cumulative edge counts
        ce = cest[cstart[a:b + 1]]
        sl = simple[a:b]
        np.equal(ce[1:], ce[:-1], out=sl)
        sl &= ncand[a:b] <= 1
        one = sl & (ncand[a:b] == 1)
        lsum[a:b][one] = czone[cstart[a:b][one]]
        cand_complex[cstart[a]:cstart[b]] = np.repeat(~sl, ncand[a:b])
    del ce, sl, one
    complex_ = np.flatnonzero(~simple)
    if nleaf >= 2**31 - 2 or complex_.size >= 2**31 - 2:
        raise InputError("too many cells for the index: use a coarser max_fine or a larger fine_edges",
                         field="max_fine")
    lsum[complex_] = -2 - np.arange(complex_.size, dtype=np.int32)
    kept = np.flatnonzero(cand_complex)
    del simple, cand_complex
    new_cstart = np.zeros(complex_.size + 1, dtype=np.int64)
    np.cumsum(ncand[complex_], out=new_cstart[1:])
    del ncand, complex_, cstart
    new_cest = np.empty(kept.size + 1, dtype=np.int64)
    new_cest[:-1] = cest[kept]
    new_cest[-1] = cest[-1]
    cval = np.where(ck == 0, lsum[cptr], cptr).astype(np.int64)
    blob, cell_off = pack_cells(new_cstart, czone[kept], cin[kept], new_cest, o1, o2, o3, o4)
    del new_cstart, new_cest, kept, czone, cin, cest, o1, o2, o3, o4
    # codes of complex cells point at their records: -2 - i -> -2 - offset
    cx = lsum < -1
    lsum[cx] = -2 - cell_off[-2 - lsum[cx]]
    flat = (ck == 0) & (cval < -1)
    cval[flat] = -2 - cell_off[-2 - cval[flat]]
    return GridArrays(cw=float(cell_deg), ncx=ncx, ncy=ncy, ck=ck, cval=cval.astype(np.int32), lsum=lsum, blob=blob)


def pack_cells(
    cstart: I64, czone: npt.NDArray[np.int32], cin: npt.NDArray[np.uint8], cest: I64, ex1: F64, ey1: F64, ex2: F64,
    ey2: F64,
) -> tuple[F64, I64]:
    """One contiguous float64 record per complex cell (layout in `GridArrays`) and the offset of each record.

    Cell i has candidates ``cstart[i]:cstart[i+1]``; candidate j is zone ``czone[j]`` with centre membership
    ``cin[j]`` and edges ``cest[j]:cest[j+1]``.
    """
    ncell = cstart.size - 1
    ncand = np.diff(cstart)
    nedge = np.diff(cest)
    rec = 3 + 4 * nedge  # words per candidate
    cand_cell = np.repeat(np.arange(ncell, dtype=np.int32), ncand)
    cell_len = 1 + np.bincount(cand_cell, weights=rec, minlength=ncell).astype(np.int64)
    cell_off = np.zeros(ncell, dtype=np.int64)
    np.cumsum(cell_len[:-1], out=cell_off[1:])
    total = int(cell_len.sum())
    if total >= 2**31 - 2:
        raise InputError(f"the zone set needs {total:,} index words, more than 2**31: use a larger fine_edges",
                         field="fine_edges")
    before = np.cumsum(rec) - rec  # words of earlier candidates, over all cells
    first = np.repeat(before[cstart[:-1][ncand > 0]], ncand[ncand > 0])
    cand_off = cell_off[cand_cell] + 1 + (before - first)
    blob = np.empty(total, dtype=np.float64)
    blob[cell_off] = ncand
    blob[cand_off] = czone
    blob[cand_off + 1] = cin
    blob[cand_off + 2] = nedge
    e0, e1 = int(cest[0]), int(cest[-1])
    ecand = np.repeat(np.arange(ncand.sum()), nedge)
    pos = cand_off[ecand] + 3 + 4 * (np.arange(e0, e1) - cest[ecand])
    blob[pos] = ex1[e0:e1]
    blob[pos + 1] = ey1[e0:e1]
    blob[pos + 2] = ex2[e0:e1]
    blob[pos + 3] = ey2[e0:e1]
    return blob, cell_off


def _start_cell(
    geoms: npt.NDArray[np.object_], counts: I64, cw: float, ncx: int, nwords: int
) -> tuple[int, npt.NDArray[np.uint64]]:
    """A coarse cell free of edges (prefer the north-west corner) and its zone membership from shapely."""
    empty = np.flatnonzero(counts == 0)
    # the last row is the northernmost; any edge-free cell works, its centre is >= cw/2 from every edge
    cell = int(empty[np.argmax(empty // ncx)]) if empty.size else int(np.argmin(counts))
    x = -180.0 + (cell % ncx + 0.5) * cw
    y = -90.0 + (cell // ncx + 0.5) * cw
    areal = shapely.get_type_id(geoms) >= 3
    inside = np.zeros(len(geoms), dtype=bool)
    if areal.any():
        inside[areal] = shapely.contains_xy(geoms[areal], x, y)
    bits = np.zeros(nwords, dtype=np.uint64)
    for z in np.flatnonzero(inside):
        bits[z >> 6] |= np.uint64(1) << np.uint64(z & 63)
    return cell, bits


__all__ = ["F64", "FORMAT_VERSION", "I64", "GridArrays", "build_grid", "geometry_hash", "pack_cells", "polygon_edges",
           "top_words"]
