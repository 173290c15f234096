"""Query kernels of the ZoneIndex (numba): exact, consistent point-in-zone and segment/border tests.

Robustness model
----------------
Every predicate is the exact sign of a 2x2 determinant ("orient") on coordinates as given: evaluated in
floating point and trusted when it is larger than Shewchuk's error bound for that expression, else computed
exactly (`orient_exact`, expansion arithmetic; rare: a point within rounding of an edge's line, such as a
vertex that `make_valid` rounded onto an intersection).  Exact ties (a point on an
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

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from overflight._jit import grow, kernel

# Degrees: cells are grown by this much when edges are assigned to them, so that a point whose cell index is
# rounded into a neighbour still meets every edge near it.
EPS = 1e-9

#: np.int64 as the kernels use it: cell subdivisions are widened from the stored int32 so that every helper
#: is compiled for one integer type (typed here as returning int for the type checker).
i64: Callable[[Any], int] = np.int64  # type: ignore[assignment]


class Grid(NamedTuple):
    """The grid as the kernels take it: one argument (see `overflight.index.grid.GridArrays` for the layout)."""

    cw: float
    ncx: int
    ncy: int
    ck: np.ndarray
    cval: np.ndarray
    lsum: np.ndarray
    blob: np.ndarray
    #: ck and cval of each coarse cell in one int64 word, ``cval << 32 | ck``: the point pass reads one
    #: word per point, one cache line instead of two (see `overflight.index.grid.top_words`)
    top: np.ndarray


# ------------------------------------------------------------------------------------------ predicates
#: Shewchuk's bound on the error of (a - b) * (c - d) - (e - f) * (g - h) in double precision, relative to the
#: sum of the two products' magnitudes ("Adaptive Precision Floating-Point Arithmetic and Fast Robust
#: Geometric Predicates", 1997, ccwerrboundA): a float result larger than this has the exact result's sign.
ERRBOUND = (3.0 + 16.0 * 2.0**-53) * 2.0**-53
_SPLITTER = 134217729.0  # 2**27 + 1: Dekker's split of a double into two 26-bit halves


@kernel
def _two_sum(a: float, b: float) -> tuple[float, float]:
    """a + b as x + y exactly, x the rounded sum (Knuth)."""
    x = a + b
    bv = x - a
    av = x - bv
    return x, (a - av) + (b - bv)


@kernel
def _two_prod(a: float, b: float) -> tuple[float, float]:
    """a * b as x + y exactly, x the rounded product (Dekker; no overflow for coordinates in degrees)."""
    x = a * b
    c = _SPLITTER * a
    ah = c - (c - a)
    al = a - ah
    c = _SPLITTER * b
    bh = c - (c - b)
    bl = b - bh
    return x, al * bl - (((x - ah * bh) - al * bh) - ah * bl)


@kernel
def orient_exact(ax: float, ay: float, bx: float, by: float, px: float, py: float) -> int:
    """Exact sign (-1, 0, 1) of (bx - ax) * (py - ay) - (by - ay) * (px - ax).

    Each difference is split into its rounded value and exact error, the eight partial products into
    exact pairs, and the sixteen terms summed into a non-overlapping expansion (Shewchuk's grow-expansion
    with zero elimination), whose largest component has the sign of the exact sum.  Exact while no product
    underflows (differences above ~1e-150 degrees, or zero).  Called only when the floating-point value is
    within its error bound, so its cost does not matter.
    """
    d1, e1 = _two_sum(bx, -ax)
    d2, e2 = _two_sum(py, -ay)
    d3, e3 = _two_sum(by, -ay)
    d4, e4 = _two_sum(px, -ax)
    fa = (d1, d1, e1, e1, d3, d3, e3, e3)
    fb = (d2, e2, d2, e2, d4, e4, d4, e4)
    terms = np.empty(16)
    for k in range(8):
        x, y = _two_prod(fa[k], fb[k])
        sg = 1.0 if k < 4 else -1.0
        terms[2 * k] = sg * x
        terms[2 * k + 1] = sg * y
    expn = np.empty(17)
    m = 0
    for kk in range(16):
        q: float = terms[kk]
        j = 0
        for i in range(m):
            q, h = _two_sum(q, expn[i])
            if h != 0.0:
                expn[j] = h
                j += 1
        if q != 0.0:
            expn[j] = q
            j += 1
        m = j
    if m == 0:
        return 0
    return 1 if expn[m - 1] > 0.0 else -1


@kernel
def orient_sign(ax: float, ay: float, bx: float, by: float, px: float, py: float) -> int:
    """Exact sign of orient(A, B, P) = (bx - ax) * (py - ay) - (by - ay) * (px - ax).

    The float value where it is outside its error bound (nearly always), else `orient_exact`.
    """
    left = (bx - ax) * (py - ay)
    right = (by - ay) * (px - ax)
    o = left - right
    bound = ERRBOUND * (abs(left) + abs(right))
    if o > bound:
        return 1
    if o < -bound:
        return -1
    return orient_exact(ax, ay, bx, by, px, py)


@kernel
def side_edge(ax: float, ay: float, bx: float, by: float, px: float, py: float) -> bool:
    """True if (perturbed) P is left of the canonical edge A->B."""
    o = orient_sign(ax, ay, bx, by, px, py)
    if o > 0:
        return True
    if o < 0:
        return False
    # d/d(eps) of orient under P += (eps^2, eps): (bx-ax)*eps - (by-ay)*eps^2, canonical edge => bx >= ax
    return bx > ax


@kernel
def side_line(cx: float, cy: float, px: float, py: float, ax: float, ay: float) -> bool:
    """True if vertex A is left of the line through (perturbed) C->P."""
    o = orient_sign(cx, cy, px, py, ax, ay)
    if o > 0:
        return True
    if o < 0:
        return False
    # C and P both move by (eps^2, eps): d orient = -(px-cx)*eps + (py-cy)*eps^2
    if px != cx:
        return px < cx
    return py > cy


@kernel
def crosses(cx: float, cy: float, px: float, py: float, ax: float, ay: float, bx: float, by: float) -> bool:
    """True if segment C->P crosses edge A-B (in the perturbed configuration; C != P)."""
    if side_line(cx, cy, px, py, ax, ay) == side_line(cx, cy, px, py, bx, by):
        return False
    return side_edge(ax, ay, bx, by, cx, cy) != side_edge(ax, ay, bx, by, px, py)


@kernel
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
@kernel
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


@kernel
def fine_ref(ix: int, iy: int, fx: int, fy: int, cw: float, k: int) -> tuple[float, float]:
    """Centre of fine cell (fx, fy) of coarse cell (ix, iy): exact in binary (dyadic sizes)."""
    fw = cw / k
    return -180.0 + ix * cw + (fx + 0.5) * fw, -90.0 + iy * cw + (fy + 0.5) * fw


@kernel
def coarse_cell(x: float, y: float, cw: float, ncx: int, ncy: int) -> tuple[int, int]:
    """Column and row of the coarse cell holding (x, y) (clamped to the grid)."""
    inv = 1.0 / cw  # cw is a power of two: the product is exactly the quotient, and cheaper
    return min(max(int((x + 180.0) * inv), 0), ncx - 1), min(max(int((y + 90.0) * inv), 0), ncy - 1)


@kernel
def fine_cell(x: float, y: float, ix: int, iy: int, cw: float, k: int) -> tuple[int, int]:
    """Column and row of the fine cell holding (x, y) in coarse cell (ix, iy) split k x k (clamped)."""
    sk = k * (1.0 / cw)
    return (min(max(int((x - (-180.0 + ix * cw)) * sk), 0), k - 1),
            min(max(int((y - (-90.0 + iy * cw)) * sk), 0), k - 1))


@kernel
def find_cell(x: float, y: float, g: Grid) -> tuple[int, float, float, int]:
    """Code of the leaf cell holding (x, y), its reference point and its coordinates.

    The code is a zone index (>= 0) or -1 for a simple cell (no edges, at most one zone), or -2 - o for
    a complex cell (edges or several zones) whose record starts at blob[o]; the leaf id (for ownership tests)
    is returned too.
    """
    ix, iy = coarse_cell(x, y, g.cw, g.ncx, g.ncy)
    c = iy * g.ncx + ix
    k = i64(g.ck[c])
    if k == 0:
        return g.cval[c], x, y, -1 - c
    fx, fy = fine_cell(x, y, ix, iy, g.cw, k)
    rx, ry = fine_ref(ix, iy, fx, fy, g.cw, k)
    leaf = g.cval[c] + fy * k + fx
    return g.lsum[leaf], rx, ry, leaf


@kernel
def zone_inside(o: int, rx: float, ry: float, x: float, y: float, blob: np.ndarray) -> tuple[bool, int]:
    """Membership of (x, y) in the candidate whose record starts at blob[o], and where the next one starts.

    The reference's membership flipped per crossing.  Whether the path from the reference crosses an edge
    is random from one edge to the next, so it is computed without branches: the bounding-box overlap and
    the four orientation signs of `crosses` (the same expressions, so the same signs where they are certain)
    combined as bits.  Only when one of the orientations is within its rounding error bound (a vertex on or
    next to the path's line, the point on or next to the edge's line) is `crosses` itself asked: exact
    arithmetic there, then its tie-breaking rule.
    """
    flips = 0
    ne = int(blob[o + 2])
    inside0 = blob[o + 1] != 0.0
    o += 3
    lo_x = min(rx, x)
    hi_x = max(rx, x)
    lo_y = min(ry, y)
    hi_y = max(ry, y)
    dx = x - rx
    dy = y - ry
    for _ in range(ne):
        ax = blob[o]
        ay = blob[o + 1]
        bx = blob[o + 2]
        by = blob[o + 3]
        o += 4
        near = (bx >= lo_x) & (ax <= hi_x) & (max(ay, by) >= lo_y) & (min(ay, by) <= hi_y)
        la1 = dx * (ay - ry)
        la2 = dy * (ax - rx)
        la = la1 - la2  # side_line(r, p, a)
        lb1 = dx * (by - ry)
        lb2 = dy * (bx - rx)
        lb = lb1 - lb2  # side_line(r, p, b)
        ex = bx - ax
        ey = by - ay
        er1 = ex * (ry - ay)
        er2 = ey * (rx - ax)
        er = er1 - er2  # side_edge(a, b, r)
        ep1 = ex * (y - ay)
        ep2 = ey * (x - ax)
        ep = ep1 - ep2  # side_edge(a, b, p)
        # the four error bounds in one test: uncertain if some |o| <= ERRBOUND * (|o1| + |o2|)
        unsure = min(min(abs(la) - ERRBOUND * (abs(la1) + abs(la2)), abs(lb) - ERRBOUND * (abs(lb1) + abs(lb2))),
                     min(abs(er) - ERRBOUND * (abs(er1) + abs(er2)), abs(ep) - ERRBOUND * (abs(ep1) + abs(ep2))))
        if near and unsure <= 0.0:
            flips += crosses(rx, ry, x, y, ax, ay, bx, by)
        else:
            flips += near & ((la > 0.0) != (lb > 0.0)) & ((er > 0.0) != (ep > 0.0))
    return inside0 != ((flips & 1) == 1), o


# ------------------------------------------------------------------------------------------ queries
# The point queries run in two passes.  The first maps each point to its leaf code with nothing but
# arithmetic and two loads; the second resolves the points in cells with edges (1.3 % of uniform points,
# 9 % of GeoNames places with the default grid), each reading one contiguous record.  Both work in blocks of
# BLOCK points and gather first what misses the cache (fine-cell codes, records), then load it in a tight loop
# of independent loads that the CPU overlaps: a load behind a mispredicted branch (is this cell subdivided?
# does this point need its record?) is otherwise waited for alone, and that wait was most of the time per point.
# The lists of such points are made branch-free (every point written, the count advancing only for the listed
# ones), as the answer changes at random from one point to the next.

#: Points per block of both passes (the gather buffers are this long).
BLOCK = 2048


@kernel
def leaf_block(
    xs: np.ndarray, ys: np.ndarray, b0: int, b1: int, normalize: bool, codes: np.ndarray, off: int,
    bad: np.ndarray, g: Grid, pt: np.ndarray, leaf: np.ndarray,
) -> tuple[int, int]:
    """codes[i - off] = leaf code of point i in [b0, b1) (see `find_cell`), -1 and bad[i] for invalid input.

    Returns the number of invalid points and m, the number of complex points (code < -1), whose indices are
    left in ``leaf[:m]`` in ascending order.  ``pt`` and ``leaf`` (BLOCK long) are scratch space.

    Four loops: every point's coarse word (its code if the cell is not subdivided), listing the points of
    subdivided cells; their fine cells; their fine codes; the complex ones among them.  The lists are made
    branch-free: whether a point's cell is subdivided is true for 14 % of uniform points at random and changes
    between consecutive GeoNames places 30 % of the time, so a branch on it (as before) was often mispredicted;
    without it uniform points took 11.0 -> 9.8 ns and GeoNames places 22.4 -> 19.9 ns (best CPU of 40, three
    interleaved runs each, load 1.2), but real flights, whose consecutive fixes share cells, 6.7 -> 8.0 ns
    (the second loop's extra work).  Complex points are looked for among the listed ones only (edge-free
    coarse cells in several zones, which only overlapping zones make, are listed with them), not in a pass
    over the whole block.
    """
    cw, ncx, ncy, top, lsum = g.cw, g.ncx, g.ncy, g.top, g.lsum
    nbad = 0
    inv = 1.0 / cw
    m = 0
    for i in range(b0, b1):
        x = xs[i]
        y = ys[i]
        if not (y >= -90.0 and y <= 90.0 and x >= -180.0 and x < 180.0):
            ok, x, y = clean_point(x, y, normalize)
            if not ok:
                codes[i - off] = -1
                bad[i] = True
                nbad += 1
                continue
        # valid points need no lower clamp: x + 180 >= 0 and y + 90 >= 0
        ix = min(int((x + 180.0) * inv), ncx - 1)
        iy = min(int((y + 90.0) * inv), ncy - 1)
        c = iy * ncx + ix
        t = top[c]
        v = t >> 32
        codes[i - off] = v
        pt[m] = i  # listed branch-free: kept only if the cell is subdivided (or complex)
        leaf[m] = c
        m += ((t & 0xFFFFFFFF) != 0) | (v < -1)
    for j in range(m):  # their fine cells (the coarse words are cached now)
        i = pt[j]
        t = top[leaf[j]]
        k = t & 0xFFFFFFFF
        if k == 0:  # a complex edge-free coarse cell: its code is final (rare, so a branch)
            leaf[j] = -1
            continue
        _, x, y = clean_point(xs[i], ys[i], normalize)
        ix = min(int((x + 180.0) * inv), ncx - 1)
        iy = min(int((y + 90.0) * inv), ncy - 1)
        fx, fy = fine_cell(x, y, ix, iy, cw, k)
        leaf[j] = (t >> 32) + fy * k + fx
    for j in range(m):  # their codes, in a tight loop of independent loads
        lf = leaf[j]
        if lf >= 0:
            codes[pt[j] - off] = lsum[lf]
    n = 0
    for j in range(m):
        i = pt[j]
        leaf[n] = i
        n += codes[i - off] < -1
    return nbad, n


@kernel
def complex_point(
    xs: np.ndarray, ys: np.ndarray, i: int, normalize: bool, g: Grid,
) -> tuple[float, float, float, float]:
    """Point i (cleaned as in `leaf_block`) and the reference point of its fine cell."""
    cw, ncx, ncy, top = g.cw, g.ncx, g.ncy, g.top
    _, x, y = clean_point(xs[i], ys[i], normalize)
    ix, iy = coarse_cell(x, y, cw, ncx, ncy)
    k = top[iy * ncx + ix] & 0xFFFFFFFF  # the word leaf_block read (cached), not ck (another cache line)
    if k == 0:  # an edge-free coarse cell in several zones: no edges to cross, any reference will do
        return x, y, x, y
    fx, fy = fine_cell(x, y, ix, iy, cw, k)
    rx, ry = fine_ref(ix, iy, fx, fy, cw, k)
    return x, y, rx, ry


@kernel
def touch_records(idx: np.ndarray, m: int, codes: np.ndarray, off: int, blob: np.ndarray) -> float:
    """A sum over the first words of the records of the complex points idx[:m]: a software prefetch.

    The loads are what matters (see `locate_first`): they run in a loop over the complex points alone, whose
    independent loads the CPU overlaps many at a time (touched while scanning every point, only the two or
    three complex points within the CPU's reorder window were fetched at once).  With `Grid.top` this took
    GeoNames places from 57-60 to 47-53 ns per point.  A record's first three cache lines (records average
    13-16 words with the default grid; a line holds 8 and records start anywhere in one): 3-8 % less time
    than two lines on GeoNames places.
    """
    acc = 0.0
    last = blob.size - 1
    for j in range(m):
        o = -2 - codes[idx[j] - off]
        acc += blob[o] + blob[min(o + 8, last)] + blob[min(o + 16, last)]
    return acc


@kernel
def locate_first(
    xs: np.ndarray, ys: np.ndarray, normalize: bool, out: np.ndarray, bad: np.ndarray, g: Grid,
) -> int:
    """out[i] = smallest zone index containing point i (-1 none); bad[i] for invalid input. Returns #bad."""
    blob = g.blob
    nbad = 0
    guard = 0.0
    pt = np.empty(BLOCK, np.int64)
    idx = np.empty(BLOCK, np.int64)
    for b0 in range(0, xs.size, BLOCK):
        b1 = min(b0 + BLOCK, xs.size)
        nb, m = leaf_block(xs, ys, b0, b1, normalize, out, b0 - b0, bad, g, pt, idx)  # offset 0, not literal
        nbad += nb
        guard += touch_records(idx, m, out, b0 - b0, blob)
        for j in range(m):
            i = idx[j]
            x, y, rx, ry = complex_point(xs, ys, i, normalize, g)
            o = -2 - out[i]
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


@kernel
def locate_all(
    xs: np.ndarray, ys: np.ndarray, normalize: bool, bad: np.ndarray, g: Grid,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Every (point, zone) membership, ordered by point then zone; also the count of invalid points.

    Zones come back as int64 (the caller narrows them): one `grow` specialisation fewer to compile.
    """
    blob = g.blob
    codes = np.empty(BLOCK, np.int32)  # leaf codes of the current block (indexed from its start)
    pt = np.empty(BLOCK, np.int64)
    leaf = np.empty(BLOCK, np.int64)
    nbad = 0
    cap = xs.size + 16
    pi = np.empty(cap, np.int64)
    zi = np.empty(cap, np.int64)
    n = 0
    for b0 in range(0, xs.size, BLOCK):
        b1 = min(b0 + BLOCK, xs.size)
        nbad += leaf_block(xs, ys, b0, b1, normalize, codes, b0, bad, g, pt, leaf)[0]
        for j in range(b1 - b0):
            code = codes[j]
            if code == -1:
                continue
            if code >= 0:
                if n == cap:
                    cap *= 2
                    pi = grow(pi, cap, n)
                    zi = grow(zi, cap, n)
                pi[n] = b0 + j
                zi[n] = code
                n += 1
                continue
            x, y, rx, ry = complex_point(xs, ys, b0 + j, normalize, g)
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
                    pi[n] = b0 + j
                    zi[n] = z
                    n += 1
    return pi[:n].copy(), zi[:n].copy(), nbad


__all__ = [
    "BLOCK", "EPS", "ERRBOUND", "Grid", "clean_point", "coarse_cell", "complex_point", "crosses", "find_cell",
    "fine_cell", "fine_ref", "i64", "leaf_block", "locate_all", "locate_first", "orient_exact",
    "orient_sign", "seg_box", "side_edge", "side_line", "touch_records", "zone_inside"
]
