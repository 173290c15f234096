"""Numba kernels of the ZoneIndex: exact, consistent point-in-zone and segment/border tests.

Robustness model
----------------
Every predicate is a sign of a 2x2 determinant ("orient") on coordinates as given.  Exact ties (a point on an
edge's line, a vertex on the query segment's line) are broken by *simulation of simplicity*: every query and
reference point is taken as moved by the same infinitesimal vector (eps**2, eps) -- a tiny step north, then
an even tinier step east.  Because the same expression with the same inputs is evaluated whenever an edge or a
vertex is shared (edges are stored in a canonical direction, lexicographically smaller end first), the crossing
parity of a path is always that of one consistently perturbed configuration: a point exactly on a shared border
belongs to exactly one of the two zones (the one north of it; the one east of it on a north-south edge).

Cells are dyadic (power-of-two sizes) so that cell centres and mid-points are exact binary numbers: the build
and the queries compute bit-identical reference points.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Degrees: cells are grown by this much when edges are assigned to them, so that a point whose cell index is
# rounded into a neighbour still meets every edge near it.
EPS = 1e-9


# ------------------------------------------------------------------------------------------ predicates
@njit(cache=True, nogil=True, inline="always")
def side_edge(ax: float, ay: float, bx: float, by: float, px: float, py: float) -> bool:
    """True if (perturbed) P is left of the canonical edge A->B."""
    o = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
    if o > 0.0:
        return True
    if o < 0.0:
        return False
    # d/d(eps) of orient under P += (eps^2, eps): (bx-ax)*eps - (by-ay)*eps^2, canonical edge => bx >= ax
    return bx > ax


@njit(cache=True, nogil=True, inline="always")
def side_line(cx: float, cy: float, px: float, py: float, ax: float, ay: float) -> bool:
    """True if vertex A is left of the line through (perturbed) C->P."""
    o = (px - cx) * (ay - cy) - (py - cy) * (ax - cx)
    if o > 0.0:
        return True
    if o < 0.0:
        return False
    # C and P both move by (eps^2, eps): d orient = -(px-cx)*eps + (py-cy)*eps^2
    if px != cx:
        return px < cx
    return py > cy


@njit(cache=True, nogil=True, inline="always")
def crosses(cx: float, cy: float, px: float, py: float, ax: float, ay: float, bx: float, by: float) -> bool:
    """True if segment C->P crosses edge A-B (in the perturbed configuration; C != P)."""
    if side_line(cx, cy, px, py, ax, ay) == side_line(cx, cy, px, py, bx, by):
        return False
    return side_edge(ax, ay, bx, by, cx, cy) != side_edge(ax, ay, bx, by, px, py)


@njit(cache=True, nogil=True, inline="always")
def seg_box(ax: float, ay: float, bx: float, by: float, x0: float, y0: float, x1: float, y1: float) -> bool:
    """Conservative test: does segment A-B meet the box [x0,x1]x[y0,y1] (its bounding box already does)."""
    dx = bx - ax
    dy = by - ay
    s1 = dx * (y0 - ay) - dy * (x0 - ax)
    s2 = dx * (y0 - ay) - dy * (x1 - ax)
    s3 = dx * (y1 - ay) - dy * (x0 - ax)
    s4 = dx * (y1 - ay) - dy * (x1 - ax)
    if s1 > 0.0 and s2 > 0.0 and s3 > 0.0 and s4 > 0.0:
        return False
    return not (s1 < 0.0 and s2 < 0.0 and s3 < 0.0 and s4 < 0.0)


# ------------------------------------------------------------------------------------------ cell lookup
@njit(cache=True, nogil=True, inline="always")
def clean_point(x: float, y: float, normalize: bool) -> tuple[bool, float, float]:
    """Validate a coordinate; lon 180 becomes -180 (same meridian); optionally wrap longitudes."""
    if not (y >= -90.0 and y <= 90.0):
        return False, x, y
    if not (x >= -180.0 and x <= 180.0):
        if normalize and np.isfinite(x):
            x = ((x + 180.0) % 360.0) - 180.0
        else:
            return False, x, y
    if x == 180.0:
        x = -180.0
    return True, x, y


@njit(cache=True, nogil=True, inline="always")
def fine_ref(ix: int, iy: int, fx: int, fy: int, cw: float, k: int) -> tuple[float, float]:
    """Centre of fine cell (fx, fy) of coarse cell (ix, iy): exact in binary (dyadic sizes)."""
    fw = cw / k
    return -180.0 + ix * cw + (fx + 0.5) * fw, -90.0 + iy * cw + (fy + 0.5) * fw


@njit(cache=True, nogil=True, inline="always")
def coarse_cell(x: float, y: float, cw: float, ncx: int, ncy: int) -> tuple[int, int]:
    """Column and row of the coarse cell holding (x, y) (clamped to the grid)."""
    inv = 1.0 / cw  # cw is a power of two: the product is exactly the quotient, and cheaper
    return min(max(int((x + 180.0) * inv), 0), ncx - 1), min(max(int((y + 90.0) * inv), 0), ncy - 1)


@njit(cache=True, nogil=True, inline="always")
def fine_cell(x: float, y: float, ix: int, iy: int, cw: float, k: int) -> tuple[int, int]:
    """Column and row of the fine cell holding (x, y) in coarse cell (ix, iy) split k x k (clamped)."""
    sk = k * (1.0 / cw)
    return (min(max(int((x - (-180.0 + ix * cw)) * sk), 0), k - 1),
            min(max(int((y - (-90.0 + iy * cw)) * sk), 0), k - 1))


@njit(cache=True, nogil=True, inline="always")
def find_cell(
    x: float, y: float, cw: float, ncx: int, ncy: int, ck: np.ndarray, cval: np.ndarray, lsum: np.ndarray
) -> tuple[int, float, float, int]:
    """Code of the leaf cell holding (x, y), its reference point and its coordinates.

    The code is a zone index (>= 0) or -1 for a simple cell (no edges, at most one zone), or -2 - o for
    a complex cell (edges or several zones) whose record starts at blob[o]; the leaf id (for ownership tests)
    is returned too.
    """
    ix, iy = coarse_cell(x, y, cw, ncx, ncy)
    c = iy * ncx + ix
    k = ck[c]
    if k == 0:
        return cval[c], x, y, -1 - c
    fx, fy = fine_cell(x, y, ix, iy, cw, k)
    rx, ry = fine_ref(ix, iy, fx, fy, cw, k)
    leaf = cval[c] + fy * k + fx
    return lsum[leaf], rx, ry, leaf


@njit(cache=True, nogil=True, inline="always")
def zone_inside(o: int, rx: float, ry: float, x: float, y: float, blob: np.ndarray) -> tuple[bool, int]:
    """Membership of (x, y) in the candidate whose record starts at blob[o], and where the next one starts.

    The reference's membership flipped per crossing; edges are tested against the bounding box of the path
    first (edges are canonical, x1 <= x2), which skips most orientation tests.
    """
    inside: bool = blob[o + 1] != 0.0
    ne = int(blob[o + 2])
    o += 3
    lo_x = min(rx, x)
    hi_x = max(rx, x)
    lo_y = min(ry, y)
    hi_y = max(ry, y)
    for _ in range(ne):
        ax = blob[o]
        ay = blob[o + 1]
        bx = blob[o + 2]
        by = blob[o + 3]
        o += 4
        if bx < lo_x or ax > hi_x or max(ay, by) < lo_y or min(ay, by) > hi_y:
            continue
        if crosses(rx, ry, x, y, ax, ay, bx, by):
            inside = not inside
    return inside, o


# ------------------------------------------------------------------------------------------ queries
# The point queries run in two passes.  The first maps each point to its leaf code with nothing but
# arithmetic and two or three loads: a tight loop whose independent loads the CPU overlaps.  The second
# resolves the points in cells with edges (5 % of uniform points, 16 % of GeoNames places), each reading
# one contiguous record.  One fused loop is about half as fast: its branchy edge tests stall the
# memory-level parallelism of the lookups.
@njit(cache=True, nogil=True)
def leaf_codes(
    xs: np.ndarray, ys: np.ndarray, normalize: bool, codes: np.ndarray, bad: np.ndarray,
    cw: float, ncx: int, ncy: int, ck: np.ndarray, cval: np.ndarray, lsum: np.ndarray,
) -> int:
    """codes[i] = leaf code of point i (see `find_cell`), -1 and bad[i] for invalid input. Returns #bad."""
    nbad = 0
    inv = 1.0 / cw
    for i in range(xs.size):
        x = xs[i]
        y = ys[i]
        if not (y >= -90.0 and y <= 90.0 and x >= -180.0 and x < 180.0):
            ok, x, y = clean_point(x, y, normalize)
            if not ok:
                codes[i] = -1
                bad[i] = True
                nbad += 1
                continue
        # valid points need no lower clamp: x + 180 >= 0 and y + 90 >= 0
        ix = min(int((x + 180.0) * inv), ncx - 1)
        iy = min(int((y + 90.0) * inv), ncy - 1)
        c = iy * ncx + ix
        k = ck[c]
        v = cval[c]
        if k != 0:
            fx, fy = fine_cell(x, y, ix, iy, cw, k)
            v = lsum[v + fy * k + fx]
        codes[i] = v
    return nbad


@njit(cache=True, nogil=True, inline="always")
def complex_point(
    xs: np.ndarray, ys: np.ndarray, i: int, normalize: bool, cw: float, ncx: int, ncy: int, ck: np.ndarray,
) -> tuple[float, float, float, float]:
    """Point i (cleaned as in `leaf_codes`) and the reference point of its fine cell."""
    _, x, y = clean_point(xs[i], ys[i], normalize)
    ix, iy = coarse_cell(x, y, cw, ncx, ncy)
    k = ck[iy * ncx + ix]
    if k == 0:  # an edge-free coarse cell in several zones: no edges to cross, any reference will do
        return x, y, x, y
    fx, fy = fine_cell(x, y, ix, iy, cw, k)
    rx, ry = fine_ref(ix, iy, fx, fy, cw, k)
    return x, y, rx, ry


#: Points resolved per block in the second pass: their records are touched first in a tight loop (independent
#: loads the CPU overlaps, like the first pass), then read from cache by the branchy edge tests.
BLOCK = 2048


@njit(cache=True, nogil=True, inline="always")
def touch_records(codes: np.ndarray, i0: int, i1: int, blob: np.ndarray) -> float:
    """Load the first word of the record of every complex point in codes[i0:i1] (a software prefetch)."""
    acc = 0.0
    for i in range(i0, i1):
        code = codes[i]
        if code < -1:
            acc += blob[-2 - code]
    return acc


@njit(cache=True, nogil=True)
def locate_first(
    xs: np.ndarray, ys: np.ndarray, normalize: bool, out: np.ndarray, bad: np.ndarray,
    cw: float, ncx: int, ncy: int, ck: np.ndarray, cval: np.ndarray, lsum: np.ndarray, blob: np.ndarray,
) -> int:
    """out[i] = smallest zone index containing point i (-1 none); bad[i] for invalid input. Returns #bad."""
    nbad = leaf_codes(xs, ys, normalize, out, bad, cw, ncx, ncy, ck, cval, lsum)
    guard = 0.0
    for b0 in range(0, xs.size, BLOCK):
        b1 = min(b0 + BLOCK, xs.size)
        guard += touch_records(out, b0, b1, blob)
        for i in range(b0, b1):
            code = out[i]
            if code >= -1:
                continue
            x, y, rx, ry = complex_point(xs, ys, i, normalize, cw, ncx, ncy, ck)
            o = -2 - code
            nc = int(blob[o])
            o += 1
            res = -1
            for _ in range(nc):  # candidates are in zone order: the first one containing the point wins
                z = int(blob[o])
                inside, o = zone_inside(o, rx, ry, x, y, blob)
                if inside:
                    res = z
                    break
            out[i] = res
    if guard == -1.0:  # never true (record heads are counts >= 1): keeps the prefetch loads from being elided
        nbad += 1
    return nbad


@njit(cache=True, nogil=True)
def locate_all(
    xs: np.ndarray, ys: np.ndarray, normalize: bool, bad: np.ndarray,
    cw: float, ncx: int, ncy: int, ck: np.ndarray, cval: np.ndarray, lsum: np.ndarray, blob: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Every (point, zone) membership, ordered by point then zone; also the count of invalid points."""
    codes = np.empty(xs.size, np.int32)
    nbad = leaf_codes(xs, ys, normalize, codes, bad, cw, ncx, ncy, ck, cval, lsum)
    cap = xs.size + 16
    pi = np.empty(cap, np.int64)
    zi = np.empty(cap, np.int32)
    n = 0
    for i in range(xs.size):
        code = codes[i]
        if code == -1:
            continue
        if code >= 0:
            if n == cap:
                cap *= 2
                pi = grow(pi, cap, n)
                zi = grow(zi, cap, n)
            pi[n] = i
            zi[n] = code
            n += 1
            continue
        x, y, rx, ry = complex_point(xs, ys, i, normalize, cw, ncx, ncy, ck)
        o = -2 - code
        nc = int(blob[o])
        o += 1
        for _ in range(nc):
            z = int(blob[o])
            inside, o = zone_inside(o, rx, ry, x, y, blob)
            if inside:
                if n == cap:
                    cap *= 2
                    pi = grow(pi, cap, n)
                    zi = grow(zi, cap, n)
                pi[n] = i
                zi[n] = z
                n += 1
    return pi[:n].copy(), zi[:n].copy(), nbad


@njit(cache=True, nogil=True, inline="always")
def members_into(
    x: float, y: float, buf: np.ndarray,
    cw: float, ncx: int, ncy: int, ck: np.ndarray, cval: np.ndarray, lsum: np.ndarray, blob: np.ndarray,
) -> int:
    """Write the zones containing one (already valid, unnormalised) point into buf; return how many.

    Returns -1 when the point lies in more zones than buf holds (the caller raises: never a silent cut).
    """
    code, rx, ry, _ = find_cell(x, y, cw, ncx, ncy, ck, cval, lsum)
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


@njit(cache=True, nogil=True)
def segment_crossings(
    px1: np.ndarray, py1: np.ndarray, px2: np.ndarray, py2: np.ndarray, pseg: np.ndarray,
    pf0: np.ndarray, pf1: np.ndarray, pfirst: np.ndarray,
    cw: float, ncx: int, ncy: int, ck: np.ndarray, cval: np.ndarray, lsum: np.ndarray, blob: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Border crossings of consecutive pieces (one segment = one or more pieces, in order).

    For each piece the crossings with cell edges are found in every cell the piece meets; a crossing found in
    several cells is kept only in the cell that owns its intersection point (same lookup as `find_cell`), so
    each is reported once.  Directions follow from the membership of the piece start, toggled per crossing in
    order.  Where one piece's end state differs from the next piece's start state (the antimeridian seam),
    the difference is reported at the seam; leave+enter pairs at the same place cancel later.

    The last value is the index of a piece whose path lies in more than MAXZ zones at once (-1 if none); the
    results are then incomplete and the caller raises.
    """
    cap = 1024
    oseg = np.empty(cap, np.int64)
    ofr = np.empty(cap, np.float64)
    ox = np.empty(cap, np.float64)
    oy = np.empty(cap, np.float64)
    oz = np.empty(cap, np.int32)
    od = np.empty(cap, np.int8)
    n = 0
    cur = np.empty(MAXZ, np.int32)  # zones the path is inside (end state of previous piece)
    ncur = 0
    start = np.empty(MAXZ, np.int32)
    lcap = 64
    lt = np.empty(lcap, np.float64)
    lx = np.empty(lcap, np.float64)
    ly = np.empty(lcap, np.float64)
    lz = np.empty(lcap, np.int32)
    inv = 1.0 / cw
    for p in range(px1.size):
        x1 = px1[p]
        y1 = py1[p]
        x2 = px2[p]
        y2 = py2[p]
        nst = members_into(x1, y1, start, cw, ncx, ncy, ck, cval, lsum, blob)
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
                    oseg = grow(oseg, cap, n)
                    ofr = grow(ofr, cap, n)
                    ox = grow(ox, cap, n)
                    oy = grow(oy, cap, n)
                    oz = grow(oz, cap, n)
                    od = grow(od, cap, n)
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
                k = ck[c]
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
                                _, _, _, own = find_cell(xi, yi, cw, ncx, ncy, ck, cval, lsum)
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
                oseg = grow(oseg, cap, n)
                ofr = grow(ofr, cap, n)
                ox = grow(ox, cap, n)
                oy = grow(oy, cap, n)
                oz = grow(oz, cap, n)
                od = grow(od, cap, n)
            oseg[n] = pseg[p]
            ofr[n] = f0 + lt[a] * df
            ox[n] = lx[a]
            oy[n] = ly[a]
            oz[n] = z
            od[n] = d
            n += 1
    return oseg[:n].copy(), ofr[:n].copy(), ox[:n].copy(), oy[:n].copy(), oz[:n].copy(), od[:n].copy(), -1


@njit(cache=True, nogil=True)
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


# ------------------------------------------------------------------------------------------ helpers
@njit(cache=True, nogil=True)
def grow(a: np.ndarray, cap: int, n: int) -> np.ndarray:
    """A copy of a's first n items in a new array of capacity cap (numba specialises it per dtype)."""
    b = np.empty(cap, a.dtype)
    b[:n] = a[:n]
    return b


# ------------------------------------------------------------------------------------------ build
@njit(cache=True, nogil=True)
def raster_edges(
    ex1: np.ndarray, ey1: np.ndarray, ex2: np.ndarray, ey2: np.ndarray,
    gx0: float, gy0: float, w: float, nx: int, ny: int,
) -> tuple[np.ndarray, np.ndarray]:
    """CSR (start[nx*ny+1], edge ids) of the edges meeting each grid cell grown by EPS; ids ascending per cell."""
    ncell = nx * ny
    count = np.zeros(ncell + 1, np.int64)
    dummy = np.empty(0, np.int64)
    _raster_pass(ex1, ey1, ex2, ey2, gx0, gy0, w, nx, ny, count, dummy, dummy, False)
    for c in range(ncell):
        count[c + 1] += count[c]
    pos = count[:-1].copy()
    ids = np.empty(count[ncell], np.int64)
    _raster_pass(ex1, ey1, ex2, ey2, gx0, gy0, w, nx, ny, count, pos, ids, True)
    return count, ids


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
def coarse_membership(
    cw: float, ncx: int, ncy: int, estart: np.ndarray, eids: np.ndarray,
    ex1: np.ndarray, ey1: np.ndarray, ex2: np.ndarray, ey2: np.ndarray, ezone: np.ndarray,
    nwords: int, start_cell: int, start_bits: np.ndarray,
) -> np.ndarray:
    """Zone-membership bitsets of every coarse cell centre, propagated from one known cell.

    From the start cell along its row, then up and down each column; each step goes centre -> shared side
    mid-point -> next centre and flips the zone of every edge crossed (each half within one cell).
    """
    bits = np.zeros((ncx * ncy, nwords), np.uint64)
    sx = start_cell % ncx
    sy = start_cell // ncx
    bits[start_cell, :] = start_bits
    for step in range(2):
        dirn = 1 if step == 0 else -1
        i = sx
        while 0 <= i + dirn < ncx:
            _step(i, sy, i + dirn, sy, cw, ncx, estart, eids, ex1, ey1, ex2, ey2, ezone, bits)
            i += dirn
    for i in range(ncx):
        for step in range(2):
            dirn = 1 if step == 0 else -1
            j = sy
            while 0 <= j + dirn < ncy:
                _step(i, j, i, j + dirn, cw, ncx, estart, eids, ex1, ey1, ex2, ey2, ezone, bits)
                j += dirn
    return bits


@njit(cache=True, nogil=True)
def _step(
    i: int, j: int, i2: int, j2: int, cw: float, ncx: int, estart: np.ndarray, eids: np.ndarray,
    ex1: np.ndarray, ey1: np.ndarray, ex2: np.ndarray, ey2: np.ndarray, ezone: np.ndarray, bits: np.ndarray,
) -> None:
    a = j * ncx + i
    b = j2 * ncx + i2
    ax = -180.0 + (i + 0.5) * cw
    ay = -90.0 + (j + 0.5) * cw
    bx = -180.0 + (i2 + 0.5) * cw
    by = -90.0 + (j2 + 0.5) * cw
    mx = 0.5 * (ax + bx)
    my = 0.5 * (ay + by)
    bits[b, :] = bits[a, :]
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


@njit(cache=True, nogil=True)
def build_cells(
    cw: float, ncx: int, ncy: int, estart: np.ndarray, eids: np.ndarray,
    ex1: np.ndarray, ey1: np.ndarray, ex2: np.ndarray, ey2: np.ndarray, ezone: np.ndarray,
    bits: np.ndarray, ck: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
           np.ndarray, np.ndarray]:
    """Leaf cells: every edge-free coarse cell, and k x k fine cells in each coarse cell with edges.

    Returns cptr, cstart, czone, cin, cest, and the per-entry edge coordinates ex1, ey1, ex2, ey2.
    """
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
    for c in range(ncoarse):
        k = ck[c]
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
        ncand = nz + (e1 - e0)
        loc = np.empty(ncand, np.int32)
        for a in range(nz):
            loc[a] = zbuf[a]
        m = nz
        for q in range(e0, e1):
            loc[m] = ezone[eids[q]]
            m += 1
        loc = np.unique(loc)
        nloc = loc.size
        # local zone index of each coarse edge entry
        lze = np.empty(e1 - e0, np.int64)
        for q in range(e0, e1):
            lze[q - e0] = np.searchsorted(loc, ezone[eids[q]])
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
        r0x, r0y = fine_ref(ix, iy, 0, 0, cw, k)
        if r0x != ccx or r0y != ccy:
            for q in range(e0, e1):
                e = eids[q]
                if crosses(ccx, ccy, r0x, r0y, ex1[e], ey1[e], ex2[e], ey2[e]):
                    mem[0, lze[q - e0]] ^= 1
        for fy in range(k):
            if fy > 0:
                _fine_step(ix, iy, 0, fy - 1, 0, fy, cw, k, fs, fids, eids, e0, lze, ex1, ey1, ex2, ey2, mem)
            for fx in range(1, k):
                _fine_step(ix, iy, fx - 1, fy, fx, fy, cw, k, fs, fids, eids, e0, lze, ex1, ey1, ex2, ey2, mem)
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


@njit(cache=True, nogil=True)
def _fine_step(
    ix: int, iy: int, fxa: int, fya: int, fxb: int, fyb: int, cw: float, k: int,
    fs: np.ndarray, fids: np.ndarray, eids: np.ndarray, e0: int, lze: np.ndarray,
    ex1: np.ndarray, ey1: np.ndarray, ex2: np.ndarray, ey2: np.ndarray, mem: np.ndarray,
) -> None:
    a = fya * k + fxa
    b = fyb * k + fxb
    ax, ay = fine_ref(ix, iy, fxa, fya, cw, k)
    bx, by = fine_ref(ix, iy, fxb, fyb, cw, k)
    mx = 0.5 * (ax + bx)
    my = 0.5 * (ay + by)
    mem[b, :] = mem[a, :]
    for q in range(fs[a], fs[a + 1]):
        e = eids[e0 + fids[q]]
        if crosses(ax, ay, mx, my, ex1[e], ey1[e], ex2[e], ey2[e]):
            mem[b, lze[fids[q]]] ^= 1
    for q in range(fs[b], fs[b + 1]):
        e = eids[e0 + fids[q]]
        if crosses(mx, my, bx, by, ex1[e], ey1[e], ex2[e], ey2[e]):
            mem[b, lze[fids[q]]] ^= 1


__all__ = [
    "BLOCK",
    "EPS",
    "MAXZ",
    "build_cells",
    "cancel_pairs",
    "clean_point",
    "coarse_cell",
    "coarse_membership",
    "complex_point",
    "crosses",
    "find_cell",
    "fine_cell",
    "fine_ref",
    "grow",
    "leaf_codes",
    "locate_all",
    "locate_first",
    "members_into",
    "raster_edges",
    "seg_box",
    "segment_crossings",
    "side_edge",
    "side_line",
    "touch_records",
    "zone_inside",
]
