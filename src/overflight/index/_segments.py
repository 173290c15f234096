"""Segment kernels of the ZoneIndex (numba): where straight pieces of a path cross zone borders.

They use the point kernels' cell lookup and predicates (`overflight.index._kernels`), so a crossing's direction
always agrees with `locate_all` at the piece ends.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from overflight._jit import grow, kernel
from overflight.index._kernels import EPS, Grid, crosses, find_cell, i64, seg_box, zone_inside


class Pieces(NamedTuple):
    """Straight (lon/lat) pieces, in order, each within [-180, 180] (split at the antimeridian).

    A named tuple so that the crossing kernel takes it as one argument; defined here, with the kernel, so that
    the ahead-of-time build (numpy and numba only) can name its type.
    """

    x1: np.ndarray
    y1: np.ndarray
    x2: np.ndarray
    y2: np.ndarray
    seg: np.ndarray
    f0: np.ndarray
    f1: np.ndarray
    first: np.ndarray


@kernel
def members_into(
    x: float, y: float, buf: np.ndarray, g: Grid) -> int:
    """Write the zones containing one (already valid, unnormalised) point into buf; return how many.

    Returns -1 when the point lies in more zones than buf holds (the caller raises: never a silent cut).
    """
    blob = g.blob
    code, rx, ry, _ = find_cell(x, y, g)
    if code >= 0:
        buf[0] = code
        return 1
    if code == -1:
        return 0
    o = -2 - code
    nc = int(blob[o])
    o += 1
    m = 0
    for _ in range(nc):
        z = int(blob[o])
        inside, o = zone_inside(o, rx, ry, x, y, blob)
        if inside:
            if m == buf.size:
                return -1
            buf[m] = z
            m += 1
    return m


#: Most zones one point of a path may be inside at once (overlapping zones) in `segment_crossings`.
MAXZ = 256


@kernel
def _grown(cap: int, n: int, oseg: np.ndarray, ofr: np.ndarray, ox: np.ndarray, oy: np.ndarray, oz: np.ndarray,
           od: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`segment_crossings`' six output columns at capacity ``cap``, their first ``n`` rows kept."""
    return grow(oseg, cap, n), grow(ofr, cap, n), grow(ox, cap, n), grow(oy, cap, n), grow(oz, cap, n), grow(od, cap, n)


@kernel
def segment_crossings(
    pc: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    g: Grid,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Border crossings of consecutive pieces (one segment = one or more pieces, in order).

    For each piece the crossings with cell edges are found in every cell the piece meets; a crossing found in
    several cells is kept only in the cell that owns its intersection point (same lookup as `find_cell`), so
    each is reported once.  Directions follow from the membership of the piece start, toggled per crossing in
    order.  Where one piece's end state differs from the next piece's start state (the antimeridian seam),
    the difference is reported at the seam; leave+enter pairs at the same place cancel later.

    The last value is the index of a piece whose path lies in more than MAXZ zones at once (-1 if none); the
    results are then incomplete and the caller raises.  ``pc`` is ``overflight.index.crossings.Pieces`` (x1, y1,
    x2, y2, seg, f0, f1, first); zones and directions come back as int64 (the caller narrows them).
    """
    px1, py1, px2, py2, pseg, pf0, pf1, pfirst = pc
    cw, ncx, ncy, ck, cval, lsum, blob, _top = g
    cap = 1024
    oseg = np.empty(cap, np.int64)
    ofr = np.empty(cap, np.float64)
    ox = np.empty(cap, np.float64)
    oy = np.empty(cap, np.float64)
    oz = np.empty(cap, np.int64)
    od = np.empty(cap, np.int64)
    n = 0
    cur = np.empty(MAXZ, np.int32)  # zones the path is inside (end state of previous piece)
    ncur = 0
    start = np.empty(MAXZ, np.int32)
    lcap = 64
    lt = np.empty(lcap, np.float64)
    lx = np.empty(lcap, np.float64)
    ly = np.empty(lcap, np.float64)
    lz = np.empty(lcap, np.int64)
    inv = 1.0 / cw
    for p in range(px1.size):
        x1 = px1[p]
        y1 = py1[p]
        x2 = px2[p]
        y2 = py2[p]
        if p > 0 and x1 == px2[p - 1] and y1 == py2[p - 1]:
            # this piece starts where the last one ended (consecutive fixes of a track): its start state is
            # that end state, the previous start state toggled per crossing -- the same parity the point
            # lookup computes, so it need not be located again (one point location per piece saved).  Sorted
            # as `members_into` lists zones, so that later output orders are unchanged.
            for a in range(1, ncur):
                z = cur[a]
                b = a - 1
                while b >= 0 and cur[b] > z:
                    cur[b + 1] = cur[b]
                    b -= 1
                cur[b + 1] = z
            if x1 == x2 and y1 == y2:
                continue
        else:
            nst = members_into(x1, y1, start, g)
            if nst < 0:
                return oseg[:n].copy(), ofr[:n].copy(), ox[:n].copy(), oy[:n].copy(), oz[:n].copy(), od[:n].copy(), p
            if pfirst[p]:
                for a in range(nst):
                    cur[a] = start[a]
                ncur = nst
            else:
                # seam: report differences between previous end state and this start state
                for a in range(ncur + nst):
                    if a < ncur:
                        z = cur[a]
                        d = -1
                        found = False
                        for b in range(nst):
                            if start[b] == z:
                                found = True
                        if found:
                            continue
                    else:
                        z = start[a - ncur]
                        d = 1
                        found = False
                        for b in range(ncur):
                            if cur[b] == z:
                                found = True
                        if found:
                            continue
                    if n == cap:
                        cap *= 2
                        oseg, ofr, ox, oy, oz, od = _grown(cap, n, oseg, ofr, ox, oy, oz, od)
                    oseg[n] = pseg[p]
                    ofr[n] = pf0[p]
                    ox[n] = x1
                    oy[n] = y1
                    oz[n] = z
                    od[n] = d
                    n += 1
                for a in range(nst):
                    cur[a] = start[a]
                ncur = nst
            if x1 == x2 and y1 == y2:
                continue
        # crossings inside this piece
        m = 0
        xmin = min(x1, x2) - EPS
        xmax = max(x1, x2) + EPS
        ymin = min(y1, y2) - EPS
        ymax = max(y1, y2) + EPS
        ix0 = min(max(int((xmin + 180.0) * inv), 0), ncx - 1)
        ix1 = min(max(int((xmax + 180.0) * inv), 0), ncx - 1)
        iy0 = min(max(int((ymin + 90.0) * inv), 0), ncy - 1)
        iy1 = min(max(int((ymax + 90.0) * inv), 0), ncy - 1)
        for iy in range(iy0, iy1 + 1):
            for ix in range(ix0, ix1 + 1):
                c = iy * ncx + ix
                k = i64(ck[c])
                if k == 0:
                    continue
                bx0 = -180.0 + ix * cw
                by0 = -90.0 + iy * cw
                if not seg_box(x1, y1, x2, y2, bx0 - EPS, by0 - EPS, bx0 + cw + EPS, by0 + cw + EPS):
                    continue
                sk = k * inv
                fw = cw / k
                fx0 = min(max(int((xmin - bx0) * sk), 0), k - 1)
                fx1 = min(max(int((xmax - bx0) * sk), 0), k - 1)
                fy0 = min(max(int((ymin - by0) * sk), 0), k - 1)
                fy1 = min(max(int((ymax - by0) * sk), 0), k - 1)
                for fy in range(fy0, fy1 + 1):
                    for fx in range(fx0, fx1 + 1):
                        qx0 = bx0 + fx * fw
                        qy0 = by0 + fy * fw
                        if not seg_box(x1, y1, x2, y2, qx0 - EPS, qy0 - EPS, qx0 + fw + EPS, qy0 + fw + EPS):
                            continue
                        leaf = cval[c] + fy * k + fx
                        code = lsum[leaf]
                        if code >= -1:
                            continue
                        o = -2 - code
                        nc = int(blob[o])
                        o += 1
                        for _ in range(nc):
                            zj = int(blob[o])
                            ne = int(blob[o + 2])
                            o += 3
                            for _e in range(ne):
                                ax = blob[o]
                                ay = blob[o + 1]
                                bx = blob[o + 2]
                                by = blob[o + 3]
                                o += 4
                                if bx < xmin or ax > xmax or max(ay, by) < ymin or min(ay, by) > ymax:
                                    continue
                                if not crosses(x1, y1, x2, y2, ax, ay, bx, by):
                                    continue
                                o1 = (bx - ax) * (y1 - ay) - (by - ay) * (x1 - ax)
                                o2 = (bx - ax) * (y2 - ay) - (by - ay) * (x2 - ax)
                                t = o1 / (o1 - o2) if o1 != o2 else 0.0
                                t = min(max(t, 0.0), 1.0)
                                xi = x1 + t * (x2 - x1)
                                yi = y1 + t * (y2 - y1)
                                _, _, _, own = find_cell(xi, yi, g)
                                if own != leaf:
                                    continue
                                if m == lcap:
                                    lcap *= 2
                                    lt = grow(lt, lcap, m)
                                    lx = grow(lx, lcap, m)
                                    ly = grow(ly, lcap, m)
                                    lz = grow(lz, lcap, m)
                                lt[m] = t
                                lx[m] = xi
                                ly[m] = yi
                                lz[m] = zj
                                m += 1
        # order along the piece (insertion sort: a piece meets few borders)
        for a in range(1, m):
            tt = lt[a]
            xx = lx[a]
            yy = ly[a]
            zz = lz[a]
            b = a - 1
            while b >= 0 and (lt[b] > tt or (lt[b] == tt and lz[b] > zz)):
                lt[b + 1] = lt[b]
                lx[b + 1] = lx[b]
                ly[b + 1] = ly[b]
                lz[b + 1] = lz[b]
                b -= 1
            lt[b + 1] = tt
            lx[b + 1] = xx
            ly[b + 1] = yy
            lz[b + 1] = zz
        f0 = pf0[p]
        df = pf1[p] - f0
        for a in range(m):
            z = lz[a]
            pos = -1
            for b in range(ncur):
                if cur[b] == z:
                    pos = b
            if pos >= 0:
                d = -1
                cur[pos] = cur[ncur - 1]
                ncur -= 1
            else:
                d = 1
                if ncur == MAXZ:
                    return (oseg[:n].copy(), ofr[:n].copy(), ox[:n].copy(), oy[:n].copy(), oz[:n].copy(),
                            od[:n].copy(), p)
                cur[ncur] = z
                ncur += 1
            if n == cap:
                cap *= 2
                oseg, ofr, ox, oy, oz, od = _grown(cap, n, oseg, ofr, ox, oy, oz, od)
            oseg[n] = pseg[p]
            ofr[n] = f0 + lt[a] * df
            ox[n] = lx[a]
            oy[n] = ly[a]
            oz[n] = z
            od[n] = d
            n += 1
    return oseg[:n].copy(), ofr[:n].copy(), ox[:n].copy(), oy[:n].copy(), oz[:n].copy(), od[:n].copy(), -1


@kernel
def cancel_pairs(seg: np.ndarray, fr: np.ndarray, zone: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Mask dropping leave/enter pairs of one zone at the same place (within 1e-9 of the segment) of one segment.

    They arise where a path only touches a border at a vertex, and at the antimeridian seam of a zone split
    at 180 deg (leaving the western part and entering the eastern part at the same point).
    """
    n = seg.size
    keep = np.ones(n, np.bool_)
    for i in range(n):
        if not keep[i]:
            continue
        j = i + 1
        while j < n and seg[j] == seg[i] and fr[j] - fr[i] <= 1e-9:
            if keep[j] and zone[j] == zone[i]:
                if d[j] == -d[i]:
                    keep[i] = False
                    keep[j] = False
                break
            j += 1
    return keep


__all__ = ["MAXZ", "cancel_pairs", "members_into", "segment_crossings"]
