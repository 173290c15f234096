"""Build kernels of the ZoneIndex (numba): edges -> coarse cells -> adaptive fine cells with memberships.

The predicates are those of the queries (`overflight.index._kernels`): the build and the queries evaluate the
same expressions on the same exact (dyadic) reference points, so memberships found here are the ones the
queries reproduce.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from overflight._jit import grow, kernel
from overflight.index._kernels import EPS, crosses, fine_ref, i64, seg_box


class Edges(NamedTuple):
    """All polygon edges of a zone set, canonical (smaller end first), and the zone of each."""

    x1: np.ndarray
    y1: np.ndarray
    x2: np.ndarray
    y2: np.ndarray
    zone: np.ndarray


@kernel
def raster_edges(
    ex1: np.ndarray, ey1: np.ndarray, ex2: np.ndarray, ey2: np.ndarray,
    gx0: float, gy0: float, w: float, nx: int, ny: int,
) -> tuple[np.ndarray, np.ndarray]:
    """CSR (start[nx*ny+1], edge ids) of the edges meeting each grid cell grown by EPS; ids ascending per cell."""
    ncell = nx * ny
    count = np.zeros(ncell + 1, np.int64)
    dummy = np.empty(0, np.int64)
    # the flags are computed, not literal: numba compiles a function once per literal argument value
    _raster_pass(ex1, ey1, ex2, ey2, gx0, gy0, w, nx, ny, count, dummy, dummy, ncell < 0)
    for c in range(ncell):
        count[c + 1] += count[c]
    pos = count[:-1].copy()
    ids = np.empty(count[ncell], np.int64)
    _raster_pass(ex1, ey1, ex2, ey2, gx0, gy0, w, nx, ny, count, pos, ids, ncell >= 0)
    return count, ids


@kernel
def _raster_pass(
    ex1: np.ndarray, ey1: np.ndarray, ex2: np.ndarray, ey2: np.ndarray,
    gx0: float, gy0: float, w: float, nx: int, ny: int,
    count: np.ndarray, pos: np.ndarray, ids: np.ndarray, fill: bool,
) -> None:
    inv = 1.0 / w
    for e in range(ex1.size):
        ax = ex1[e]
        ay = ey1[e]
        bx = ex2[e]
        by = ey2[e]
        i0 = min(max(int((min(ax, bx) - EPS - gx0) * inv), 0), nx - 1)
        i1 = min(max(int((max(ax, bx) + EPS - gx0) * inv), 0), nx - 1)
        j0 = min(max(int((min(ay, by) - EPS - gy0) * inv), 0), ny - 1)
        j1 = min(max(int((max(ay, by) + EPS - gy0) * inv), 0), ny - 1)
        single = i0 == i1 or j0 == j1
        for j in range(j0, j1 + 1):
            for i in range(i0, i1 + 1):
                if not single:
                    qx = gx0 + i * w
                    qy = gy0 + j * w
                    if not seg_box(ax, ay, bx, by, qx - EPS, qy - EPS, qx + w + EPS, qy + w + EPS):
                        continue
                c = j * nx + i
                if fill:
                    ids[pos[c]] = e
                    pos[c] += 1
                else:
                    count[c + 1] += 1


@kernel
def coarse_membership(
    cw: float, ncx: int, ncy: int, ed: Edges, estart: np.ndarray, eids: np.ndarray, start_cell: int,
    start_bits: np.ndarray,
) -> np.ndarray:
    """Zone-membership bitsets of every coarse cell centre, propagated from one known cell.

    From the start cell along its row, then up and down each column; each step goes centre -> shared side
    mid-point -> next centre and flips the zone of every edge crossed (each half within one cell).
    """
    bits = np.zeros((ncx * ncy, start_bits.size), np.uint64)
    sx = start_cell % ncx
    sy = start_cell // ncx
    for w in range(start_bits.size):  # element loops, not 2-D slice assignment: far cheaper to compile
        bits[start_cell, w] = start_bits[w]
    for step in range(2):
        dirn = 1 if step == 0 else -1
        i = sx
        while 0 <= i + dirn < ncx:
            _step(i, sy, i + dirn, sy, cw, ncx, estart, eids, ed, bits)
            i += dirn
    for i in range(ncx):
        for step in range(2):
            dirn = 1 if step == 0 else -1
            j = sy
            while 0 <= j + dirn < ncy:
                _step(i, j, i, j + dirn, cw, ncx, estart, eids, ed, bits)
                j += dirn
    return bits


@kernel
def _step(
    i: int, j: int, i2: int, j2: int, cw: float, ncx: int, estart: np.ndarray, eids: np.ndarray, ed: Edges,
    bits: np.ndarray,
) -> None:
    ex1, ey1, ex2, ey2, ezone = ed
    a = j * ncx + i
    b = j2 * ncx + i2
    ax = -180.0 + (i + 0.5) * cw
    ay = -90.0 + (j + 0.5) * cw
    bx = -180.0 + (i2 + 0.5) * cw
    by = -90.0 + (j2 + 0.5) * cw
    mx = 0.5 * (ax + bx)
    my = 0.5 * (ay + by)
    for w in range(bits.shape[1]):
        bits[b, w] = bits[a, w]
    for q in range(estart[a], estart[a + 1]):
        e = eids[q]
        if crosses(ax, ay, mx, my, ex1[e], ey1[e], ex2[e], ey2[e]):
            z = ezone[e]
            bits[b, z >> 6] ^= np.uint64(1) << np.uint64(z & 63)
    for q in range(estart[b], estart[b + 1]):
        e = eids[q]
        if crosses(mx, my, bx, by, ex1[e], ey1[e], ex2[e], ey2[e]):
            z = ezone[e]
            bits[b, z >> 6] ^= np.uint64(1) << np.uint64(z & 63)


@kernel
def build_cells(
    cw: float, ncx: int, ncy: int, ed: Edges, estart: np.ndarray, eids: np.ndarray, bits: np.ndarray,
    ck: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
           np.ndarray, np.ndarray]:
    """Leaf cells: every edge-free coarse cell, and k x k fine cells in each coarse cell with edges.

    Returns cptr, cstart, czone, cin, cest, and the per-entry edge coordinates ex1, ey1, ex2, ey2.
    """
    ex1, ey1, ex2, ey2, ezone = ed
    ncoarse = ncx * ncy
    nwords = bits.shape[1]
    cptr = np.empty(ncoarse, np.int64)
    nleaf = 0
    for c in range(ncoarse):
        cptr[c] = nleaf
        nleaf += 1 if ck[c] == 0 else ck[c] * ck[c]
    cstart = np.zeros(nleaf + 1, np.int64)
    ccap = nleaf + 1024
    czone = np.empty(ccap, np.int32)
    cin = np.empty(ccap, np.uint8)
    cest = np.zeros(ccap + 1, np.int64)
    ecap = eids.size + eids.size // 2 + 1024  # an edge meets a few fine cells; grown when needed
    o1 = np.empty(ecap, np.float64)
    o2 = np.empty(ecap, np.float64)
    o3 = np.empty(ecap, np.float64)
    o4 = np.empty(ecap, np.float64)
    nc = 0
    ne = 0
    zbuf = np.empty(64 * nwords, np.int32)
    # local position of each zone in the current cell (-1: not a candidate); a dense map instead of
    # np.unique + searchsorted, whose sort machinery cost more to compile than the rest of the build
    lmap = np.full(64 * nwords, -1, np.int64)
    loc = np.empty(64 * nwords, np.int32)
    for c in range(ncoarse):
        k = i64(ck[c])
        ix = c % ncx
        iy = c // ncx
        # zones whose centre membership is set
        nz = 0
        for w in range(nwords):
            word = bits[c, w]
            if word == 0:
                continue
            for bt in range(64):
                if (word >> np.uint64(bt)) & np.uint64(1):
                    zbuf[nz] = w * 64 + bt
                    nz += 1
        if k == 0:
            cell = cptr[c]
            if nc + nz > ccap:
                ccap = 2 * ccap + nz
                czone = grow(czone, ccap, nc)
                cin = grow(cin, ccap, nc)
                cest = grow(cest, ccap + 1, nc + 1)
            for a in range(nz):
                czone[nc] = zbuf[a]
                cin[nc] = 1
                cest[nc + 1] = ne
                nc += 1
            cstart[cell + 1] = nc
            continue
        # local zones: centre members and zones with edges here, ascending
        e0 = estart[c]
        e1 = estart[c + 1]
        nloc = 0
        for a in range(nz):
            loc[nloc] = zbuf[a]
            lmap[zbuf[a]] = 0
            nloc += 1
        for q in range(e0, e1):
            z = ezone[eids[q]]
            if lmap[z] < 0:
                lmap[z] = 0
                loc[nloc] = z
                nloc += 1
        for a in range(1, nloc):  # ascending zone order (few zones per cell: insertion sort)
            z = loc[a]
            b = a - 1
            while b >= 0 and loc[b] > z:
                loc[b + 1] = loc[b]
                b -= 1
            loc[b + 1] = z
        for a in range(nloc):
            lmap[loc[a]] = a
        # local zone index of each coarse edge entry
        lze = np.empty(e1 - e0, np.int64)
        for q in range(e0, e1):
            lze[q - e0] = lmap[ezone[eids[q]]]
        for a in range(nloc):
            lmap[loc[a]] = -1
        # rasterise this cell's edges into k x k fine cells (local CSR of positions q-e0)
        bx0 = -180.0 + ix * cw
        by0 = -90.0 + iy * cw
        fw = cw / k
        fs, fids = raster_edges(
            ex1[eids[e0:e1]], ey1[eids[e0:e1]], ex2[eids[e0:e1]], ey2[eids[e0:e1]], bx0, by0, fw, k, k
        )
        # membership of fine centres
        mem = np.zeros((k * k, nloc), np.uint8)
        ccx = -180.0 + (ix + 0.5) * cw
        ccy = -90.0 + (iy + 0.5) * cw
        for a in range(nloc):
            z = loc[a]
            mem[0, a] = (bits[c, z >> 6] >> np.uint64(z & 63)) & np.uint64(1)
        # centre of fine cell (0, 0): fine_ref's expression with fx = fy = 0 (no call with literal arguments,
        # which numba would compile as one more specialisation)
        r0x = -180.0 + ix * cw + 0.5 * (cw / k)
        r0y = -90.0 + iy * cw + 0.5 * (cw / k)
        if r0x != ccx or r0y != ccy:
            for q in range(e0, e1):
                e = eids[q]
                if crosses(ccx, ccy, r0x, r0y, ex1[e], ey1[e], ex2[e], ey2[e]):
                    mem[0, lze[q - e0]] ^= 1
        for fy in range(k):
            for fx in range(k):  # up the first column, then along each row
                if fx > 0:
                    _fine_step(ix, iy, fx - 1, fy, fx, fy, cw, k, fs, fids, eids, e0, lze, ed, mem)
                elif fy > 0:
                    _fine_step(ix, iy, fx, fy - 1, fx, fy, cw, k, fs, fids, eids, e0, lze, ed, mem)
        # emit candidates
        for f in range(k * k):
            cell = cptr[c] + f
            need_c = nc + nloc
            if need_c > ccap:
                ccap = 2 * ccap + nloc
                czone = grow(czone, ccap, nc)
                cin = grow(cin, ccap, nc)
                cest = grow(cest, ccap + 1, nc + 1)
            need_e = ne + (fs[f + 1] - fs[f])
            if need_e > ecap:
                ecap = 2 * ecap + (fs[f + 1] - fs[f])
                o1 = grow(o1, ecap, ne)
                o2 = grow(o2, ecap, ne)
                o3 = grow(o3, ecap, ne)
                o4 = grow(o4, ecap, ne)
            qq = fs[f]
            for a in range(nloc):
                start_e = ne
                while qq < fs[f + 1] and lze[fids[qq]] == a:
                    e = eids[e0 + fids[qq]]
                    o1[ne] = ex1[e]
                    o2[ne] = ey1[e]
                    o3[ne] = ex2[e]
                    o4[ne] = ey2[e]
                    ne += 1
                    qq += 1
                if ne > start_e or mem[f, a]:
                    czone[nc] = loc[a]
                    cin[nc] = mem[f, a]
                    cest[nc + 1] = ne
                    nc += 1
            cstart[cell + 1] = nc
    cest[0] = 0
    # views, not copies: a copy of every array at once was the peak of the whole build
    return cptr, cstart, czone[:nc], cin[:nc], cest[: nc + 1], o1[:ne], o2[:ne], o3[:ne], o4[:ne]


@kernel
def _fine_step(
    ix: int, iy: int, fxa: int, fya: int, fxb: int, fyb: int, cw: float, k: int,
    fs: np.ndarray, fids: np.ndarray, eids: np.ndarray, e0: int, lze: np.ndarray, ed: Edges, mem: np.ndarray,
) -> None:
    ex1, ey1, ex2, ey2, _ = ed
    a = fya * k + fxa
    b = fyb * k + fxb
    ax, ay = fine_ref(ix, iy, fxa, fya, cw, k)
    bx, by = fine_ref(ix, iy, fxb, fyb, cw, k)
    mx = 0.5 * (ax + bx)
    my = 0.5 * (ay + by)
    for w in range(mem.shape[1]):
        mem[b, w] = mem[a, w]
    for q in range(fs[a], fs[a + 1]):
        e = eids[e0 + fids[q]]
        if crosses(ax, ay, mx, my, ex1[e], ey1[e], ex2[e], ey2[e]):
            mem[b, lze[fids[q]]] ^= 1
    for q in range(fs[b], fs[b + 1]):
        e = eids[e0 + fids[q]]
        if crosses(mx, my, bx, by, ex1[e], ey1[e], ex2[e], ey2[e]):
            mem[b, lze[fids[q]]] ^= 1


__all__ = ["Edges", "build_cells", "coarse_membership", "crosses", "fine_ref", "raster_edges", "seg_box"]
