"""Shortest paths that avoid, or enter, a zone between two fixes, measured with true WGS84 geodesics.

Work happens in a gnomonic plane centred between the fixes, where great circles are straight lines: the
shortest path around polygonal obstacles bends only at their convex vertices, so a visibility graph over
those vertices and the two fixes, solved with Dijkstra, gives it. Edge weights are true geodesic lengths
(the plane only decides visibility). Large zones are handled through conservative simplifications in
each direction: an inner one (a subset of the zone) gives a lower bound on the avoiding length, an
outer one (a superset) an upper bound; only when the bounds straddle the budget is the next, finer level
(and finally the zone itself) used. When only the side of a target matters (fast mode), the zone itself,
whose graph keeps only the nodes within the target's ellipse, comes right after the hulls: it always
decides, and the levels are used only when its graph is beyond the memory ceiling.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from overflight._jit import grow, kernel
from overflight.analysis.prism._dijkstra import Graph, lazy_shortest, shortest_0_to_1
from overflight.analysis.prism._geo import R_SPHERE, SPH_HI, SPH_LO, FloatArray, dist, unit
from overflight.analysis.prism._visibility import GridArgs, SegmentIndex
from overflight.analysis.prism.edges import LAM_ABS, LAM_REL, lambert
from overflight.analysis.prism.fast import SPLIT_MAX

ToLonLat = Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]


@dataclass
class AvoidResult:
    """Bounds on the shortest avoiding path and the best path found (lon/lat vertices)."""

    lower: float
    upper: float
    path_lon: FloatArray = field(default_factory=lambda: np.zeros(0))
    path_lat: FloatArray = field(default_factory=lambda: np.zeros(0))


class GraphTooBig(Exception):
    """A visibility graph would exceed its memory ceiling (``GRAPH_MAX_EDGES``)."""


@kernel
def _convex_kernel(xy: FloatArray, cnt: NDArray[np.int64]) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``convex_vertices``' selection over rings of ``cnt[r]`` coordinates each (closed), all in ``xy``."""
    m = 0
    for c in cnt:
        if c - 1 >= 3:
            m += c - 1
    r = np.empty((m, 2))
    prev = np.empty((m, 2))
    nxt = np.empty((m, 2))
    out = 0
    base = 0
    for c in cnt:
        k = c - 1  # distinct vertices of the ring (the closing one is dropped)
        if k >= 3:
            for q in range(k):
                v = base + q
                u = base + (q - 1) % k
                w = base + (q + 1) % k
                a0 = xy[v, 0] - xy[u, 0]
                a1 = xy[v, 1] - xy[u, 1]
                b0 = xy[w, 0] - xy[v, 0]
                b1 = xy[w, 1] - xy[v, 1]
                if a0 * b1 - a1 * b0 > 0:
                    r[out, 0], r[out, 1] = xy[v, 0], xy[v, 1]
                    prev[out, 0], prev[out, 1] = xy[u, 0], xy[u, 1]
                    nxt[out, 0], nxt[out, 1] = xy[w, 0], xy[w, 1]
                    out += 1
        base += c
    return r[:out], prev[:out], nxt[:out]


def convex_vertices(geom: BaseGeometry) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Vertices (k, 2) where the obstacle's interior angle is below 180°, with their ring neighbours.

    These are the only places a taut path bends. Returns (vertices, previous, next), each (k, 2).
    """
    geom = shapely.orient_polygons(geom, exterior_cw=False)  # exteriors CCW, holes CW: obstacle on the left
    polys = shapely.get_parts(geom)
    polys = polys[(shapely.get_type_id(polys) == 3) & ~shapely.is_empty(polys)]
    if polys.size == 0:
        z = np.zeros((0, 2))
        return z, z, z
    # Every ring (each polygon's exterior, then its holes), all at once, in one compiled pass (the arithmetic
    # of the array version it replaced: the same vertices): a vertex is convex where (v - prev) x (next - v) > 0.
    rings = shapely.get_rings(polys)
    xy = shapely.get_coordinates(rings)
    cnt = np.asarray(shapely.get_num_coordinates(rings), dtype=np.int64)
    r, prev, nxt = _convex_kernel(np.ascontiguousarray(xy, dtype=np.float64), cnt)
    return np.asarray(r), np.asarray(prev), np.asarray(nxt)


def _tangent(v: FloatArray, a: FloatArray, b: FloatArray, w: FloatArray) -> NDArray[np.bool_]:
    """Whether the line from vertex v towards w leaves both ring neighbours a, b on one side (a tangent).

    A shortest path only bends at a vertex along lines that support the obstacle there.
    """
    d = w - v
    sa = d[:, 0] * (a - v)[:, 1] - d[:, 1] * (a - v)[:, 0]
    sb = d[:, 0] * (b - v)[:, 1] - d[:, 1] * (b - v)[:, 0]
    scale = np.hypot(d[:, 0], d[:, 1]) * 1e-12
    return np.asarray((sa * sb >= -scale * (np.abs(sa) + np.abs(sb))) | (np.abs(sa) <= scale) | (np.abs(sb) <= scale))


# Partners per block of ``_candidate_edges_kernel``'s block test (883 evaluate cases of bench_prism 100000 --fast:
# 1.10 -> 0.81 s; 16 and 64 about the same, testing the partner's end per block of rows too cost more than it saved).
CAND_BLOCK = 32


@kernel
def _surely_not_tangent(
    a0: float, a1: float, b0: float, b1: float, ex0: float, ex1: float, ey0: float, ey1: float, amag: float,
) -> bool:
    """Whether the tangent test (``_tangent``) surely fails for every direction in a box.

    The vertex has ring neighbours a, b (relative to it), the directions (dx, dy) fill [ex0, ex1] x [ey0, ey1],
    and `amag` is |a0| + |a1| + |b0| + |b1|. sa = dx a1 - dy a0 and sb = dx b1 - dy b0 are linear, so their
    extremes over the box are at its corners. Where sa > tau and sb < -tau over the box (or the reverse), tau
    being 8e-12 r (r >= |dx| + |dy| >= the segment's length, and the test's scales are at most 1.01e-12 r) plus
    1e-9 r amag (far above the rounding of these products and of the test's own, a few ulps of r amag), the test
    has |sa|, |sb| > 7 x its scale and sa sb < -scale (|sa| + |sb|): it fails, in its exact form and in the
    first pass's.
    """
    r = max(abs(ex0), abs(ex1)) + max(abs(ey0), abs(ey1))
    tau = 8e-12 * r + 1e-9 * r * amag
    pa0, pa1, qa0, qa1 = ex0 * a1, ex1 * a1, ey0 * a0, ey1 * a0
    pb0, pb1, qb0, qb1 = ex0 * b1, ex1 * b1, ey0 * b0, ey1 * b0
    sa_lo = min(pa0, pa1) - max(qa0, qa1)
    sa_hi = max(pa0, pa1) - min(qa0, qa1)
    sb_lo = min(pb0, pb1) - max(qb0, qb1)
    sb_hi = max(pb0, pb1) - min(qb0, qb1)
    return (sa_lo > tau and sb_hi < -tau) or (sa_hi < -tau and sb_lo > tau)


@kernel
def _candidate_edges_kernel(
    x: FloatArray, y: FloatArray, ax: FloatArray, ay: FloatArray, bx: FloatArray, by: FloatArray,
    dp1: FloatArray, dp2: FloatArray, cut: float, scale_lo: float, max_out: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64], bool]:
    n = x.size
    cap = 1024
    out_i = np.empty(cap, dtype=np.int64)
    out_j = np.empty(cap, dtype=np.int64)
    maybe = np.empty(n, dtype=np.bool_)
    # Nodes come in ring order, so blocks of CAND_BLOCK consecutive nodes have small bounding boxes: the tangent
    # test at a row's node is first made for each block of partners at once (``_surely_not_tangent``), and the
    # blocks that surely fail it are skipped (55 % of the pairs in the 100000-pair benchmark). Only pairs the
    # exact test below drops are dropped, and the others are visited as before (row by row, partners
    # ascending), so the same pairs come out in the same order.
    bs = CAND_BLOCK
    nb = (n + bs - 1) // bs
    bx0 = np.empty(nb)
    bx1 = np.empty(nb)
    by0 = np.empty(nb)
    by1 = np.empty(nb)
    for b in range(nb):
        lo, hi = b * bs, min((b + 1) * bs, n)
        bx0[b], bx1[b], by0[b], by1[b] = x[lo], x[lo], y[lo], y[lo]
        for j in range(lo + 1, hi):
            bx0[b] = min(bx0[b], x[j])
            bx1[b] = max(bx1[b], x[j])
            by0[b] = min(by0[b], y[j])
            by1[b] = max(by1[b], y[j])
    live = np.empty(nb, dtype=np.bool_)
    k = 0
    for i in range(n - 1):
        xi, yi, axi, ayi, bxi, byi = x[i], y[i], ax[i], ay[i], bx[i], by[i]
        at_i = i >= 2
        amag = abs(axi) + abs(ayi) + abs(bxi) + abs(byi)
        b_first = (i + 1) // bs
        for b in range(b_first, nb):
            # The directions j - i of the block's partners lie in its box less node i.
            live[b] = not (at_i and _surely_not_tangent(axi, ayi, bxi, byi, bx0[b] - xi, bx1[b] - xi, by0[b] - yi,
                                                        by1[b] - yi, amag))
            if not live[b]:
                continue
            # Most pairs fail the tangent test (97 % in the 100000-pair benchmark): a first pass without branches
            # or square roots marks the pairs that surely fail it, with a scale above the test's own (plen <=
            # |dx| + |dy|, with room for rounding). It drops only pairs the exact test below drops.
            for j in range(max(b * bs, i + 1), min((b + 1) * bs, n)):
                dx = x[j] - xi
                dy = y[j] - yi
                scale_hi = (abs(dx) + abs(dy)) * 1e-12 * (1.0 + 1e-9)
                sa = dx * ayi - dy * axi
                sb = dx * byi - dy * bxi
                asa, asb = abs(sa), abs(sb)
                rej_i = at_i & (sa * sb < -scale_hi * (asa + asb)) & (asa > scale_hi) & (asb > scale_hi)
                ta = dx * ay[j] - dy * ax[j]
                tb = dx * by[j] - dy * bx[j]
                ata, atb = abs(ta), abs(tb)
                rej_j = (ta * tb < -scale_hi * (ata + atb)) & (ata > scale_hi) & (atb > scale_hi)
                maybe[j] = not (rej_i | rej_j)
        for b in range(b_first, nb):
            if not live[b]:
                continue
            for j in range(max(b * bs, i + 1), min((b + 1) * bs, n)):
                if not maybe[j]:
                    continue
                foci = min(dp1[i] + dp2[j], dp1[j] + dp2[i])
                if not foci <= cut:
                    continue
                dx = x[j] - x[i]
                dy = y[j] - y[i]
                plen = np.sqrt(dx * dx + dy * dy)
                lb = foci + plen * scale_lo
                if not lb <= cut:
                    continue
                scale = plen * 1e-12
                ok = True
                for v in (i, j):
                    if v < 2:
                        continue
                    sa = dx * ay[v] - dy * ax[v]
                    sb = dx * by[v] - dy * bx[v]
                    asa, asb = abs(sa), abs(sb)
                    if not ((sa * sb >= -scale * (asa + asb)) or (asa <= scale) or (asb <= scale)):
                        ok = False
                        break
                if not ok:
                    continue
                if k == max_out:
                    return out_i[:k], out_j[:k], False
                if k == cap:
                    cap *= 2
                    out_i = grow(out_i, cap, k)
                    out_j = grow(out_j, cap, k)
                out_i[k] = i
                out_j[k] = j
                k += 1
    return out_i[:k], out_j[:k], True


def _candidate_edges(
    pts: FloatArray, allp: FloatArray, alln: FloatArray, dp1: FloatArray, dp2: FloatArray, cut: float,
    scale_lo: float, max_out: int = 1 << 62,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Node pairs (i < j, sorted) that may carry a shortest path: within `cut` and bitangent.

    A path through edge (i, j) is at least d(p1, i) + |ij| + d(j, p2) long (either direction); at an
    obstacle vertex (index >= 2) the segment must support the obstacle (``_tangent``, same arithmetic).
    One compiled pass over the pairs, with the arithmetic of the dense array version it replaced (same
    operations in the same order, so the same pairs), without its n x n temporaries. Raises
    ``GraphTooBig`` when more than `max_out` pairs qualify.
    """
    x = np.ascontiguousarray(pts[:, 0], dtype=np.float64)
    y = np.ascontiguousarray(pts[:, 1], dtype=np.float64)
    ax, ay = allp[:, 0] - x, allp[:, 1] - y  # ring neighbours relative to the vertex
    bx, by = alln[:, 0] - x, alln[:, 1] - y
    i, j, complete = _candidate_edges_kernel(x, y, ax, ay, bx, by, np.asarray(dp1, dtype=np.float64),
                                             np.asarray(dp2, dtype=np.float64), float(cut), float(scale_lo),
                                             int(max_out))
    if not complete:
        raise GraphTooBig(f"more than {max_out} candidate edges")
    return np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)


def _within_focal(
    nodes: FloatArray, nlon: FloatArray, nlat: FloatArray, prev: FloatArray, nxt: FloatArray,
    ll1: tuple[float, float], ll2: tuple[float, float], limit: float,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Drop nodes whose focal sum certainly exceeds `limit` (spherical lower bound), before true geodesics.

    True WGS84 lengths are at least SPH_LO x the great-circle ones (1 m more covers arccos rounding), so
    every node dropped here would fail ``_graph_path``'s true-length test as well: the same nodes remain.
    """
    u = unit(nlon, nlat)
    a = np.arccos(np.clip(u @ unit(*ll1), -1.0, 1.0)) + np.arccos(np.clip(u @ unit(*ll2), -1.0, 1.0))
    maybe = SPH_LO * R_SPHERE * a * (1 - 1e-9) - 1.0 <= limit * (1 + 1e-9) + 1e-6
    if maybe.all():
        return nodes, nlon, nlat, prev, nxt
    return nodes[maybe], nlon[maybe], nlat[maybe], prev[maybe], nxt[maybe]


def _graph_path(
    p1: FloatArray, p2: FloatArray, ll1: tuple[float, float], ll2: tuple[float, float], obstacle: BaseGeometry,
    to_lonlat: ToLonLat, limit: float, scale_lo: float, direct: float | None = None, lazy: bool = False,
) -> tuple[float, FloatArray]:
    """Shortest path p1→p2 avoiding the obstacle's interior over nodes whose focal sum is <= `limit`.

    Returns (true length, (k, 2) planar path) or (inf, empty) when no path within `limit` exists, or
    (nan, empty) when the graph would exceed ``GRAPH_MAX_EDGES`` candidate edges (the memory ceiling: the
    caller then has no bound from this obstacle). `scale_lo` bounds (true metres) / (planar metres) from
    below, to drop hopeless edges before testing. `direct` is ``dist(ll1, ll2)`` when the caller has it (the same
    geodesic, hence the same value). `lazy` (fast mode): test and measure edges only as the search reaches them
    (``lazy_shortest``: the same path when one is within `limit`, else (inf, empty) where this would give the
    length of a longer one: the caller needs none beyond `limit`).
    """
    nodes, prev, nxt = convex_vertices(obstacle)
    if len(nodes):
        nlon, nlat = to_lonlat(nodes[:, 0], nodes[:, 1])
        nodes, nlon, nlat, prev, nxt = _within_focal(nodes, nlon, nlat, prev, nxt, ll1, ll2, limit)
        # Both focal distances in one call (element-wise, so the same values as two calls).
        k = nlon.size
        ends = (np.concatenate([np.full(k, ll1[0]), nlon]), np.concatenate([np.full(k, ll1[1]), nlat]),
                np.concatenate([nlon, np.full(k, ll2[0])]), np.concatenate([nlat, np.full(k, ll2[1])]))
        # Lazy: lower bounds (Andoyer-Lambert less its allowance) instead of true geodesics. They keep a superset
        # of the nodes and candidate edges, whose extra ones lie only on paths longer than `limit` (the same
        # shortest path within it); lazy_shortest measures the edges from fix 1 as it needs them.
        d12 = np.maximum(lambert(*ends) * (1 - LAM_REL) - LAM_ABS, 0.0) if lazy else dist(*ends)
        d1, d2 = d12[:k], d12[k:]
        keep = d1 + d2 <= limit * (1 + 1e-9) + 1e-6
        nodes, nlon, nlat, d1, d2 = nodes[keep], nlon[keep], nlat[keep], d1[keep], d2[keep]
        prev, nxt = prev[keep], nxt[keep]
    else:
        nlon = nlat = d1 = d2 = np.zeros(0)
    pts = np.vstack([p1[None, :], p2[None, :], nodes])
    lon = np.concatenate([[ll1[0], ll2[0]], nlon])
    lat = np.concatenate([[ll1[1], ll2[1]], nlat])
    dp1 = np.concatenate([[0.0, np.inf], d1])
    dp2 = np.concatenate([[np.inf, 0.0], d2])
    dp1[1] = dp2[0] = float(dist(ll1[0], ll1[1], ll2[0], ll2[1])) if direct is None else direct
    n = len(pts)
    allp = np.vstack([pts[:2], prev]) if len(nodes) else pts[:2]
    alln = np.vstack([pts[:2], nxt]) if len(nodes) else pts[:2]
    try:
        i, j = _candidate_edges(pts, allp, alln, dp1, dp2, limit * (1 + 1e-9) + 1e-6, scale_lo, GRAPH_MAX_EDGES)
    except GraphTooBig:
        return math.nan, np.zeros((0, 2))
    if i.size == 0:
        return math.inf, np.zeros((0, 2))
    if lazy:
        grid, inside = _shrunk_grid(obstacle, pts, max(float(np.abs(pts).max()), 1.0))
        length, path = lazy_shortest(n, i, j, pts, dp2, lon, lat, limit * (1 + 1e-9) + 1e-6, grid, inside)
        return length, (pts[path] if math.isfinite(length) else np.zeros((0, 2)))
    # Touching the boundary is allowed, entering the interior is not.
    vis = ~_enters(obstacle, pts, i, j, max(float(np.abs(pts).max()), 1.0))
    i, j = i[vis], j[vis]
    if i.size == 0:
        return math.inf, np.zeros((0, 2))
    # Edges from fix 1 have their lengths already (dp1: the same geodesic problems, hence the same values).
    w = np.empty(i.size)
    from1 = i == 0
    w[from1] = dp1[j[from1]]
    rest = ~from1
    w[rest] = dist(lon[i[rest]], lat[i[rest]], lon[j[rest]], lat[j[rest]])
    w = np.maximum(w, 1e-9)  # csgraph treats explicit zeros as missing edges
    length, path = shortest_0_to_1(Graph(n, i, j, w))
    if not math.isfinite(length):
        return math.inf, np.zeros((0, 2))
    return length, pts[path]


def _shrunk_grid(obstacle: BaseGeometry, pts: FloatArray, span: float) -> tuple[GridArgs, NDArray[np.bool_]]:
    """``_enters``' shrunk obstacle as a grid for the lazy search (``SegmentIndex.grid``), and which `pts` lie in it."""
    shrunk = obstacle.buffer(-1e-7 * span, quad_segs=1)
    if shrunk.is_empty:
        z, zi = np.zeros(0), np.zeros(0, dtype=np.int64)
        return ((z, z, z, z, 0.0, 0.0, 1.0, 1, 1, np.zeros(2, dtype=np.int64), zi, np.ones(1, dtype=np.int64),
                 np.full(1, -1, dtype=np.int64)), np.zeros(len(pts), dtype=bool))
    index = SegmentIndex(shrunk)
    return index.grid(), index.inside(pts[:, 0], pts[:, 1])


def _enters(
    obstacle: BaseGeometry, pts: FloatArray, i: NDArray[np.int64], j: NDArray[np.int64], span: float
) -> NDArray[np.bool_]:
    """Which segments pts[i]-pts[j] pass through the obstacle's interior (touching its boundary does not count)."""
    if i.size * 40 < shapely.get_num_coordinates(obstacle):
        # Few segments against a big obstacle: the interior/interior relate is cheaper than a buffer.
        segs = shapely.linestrings(np.stack([pts[i], pts[j]], axis=1))
        return np.asarray(shapely.relate_pattern(segs, obstacle, "T********"), dtype=bool)
    # Entering the interior = meeting the obstacle shrunk by a hair. A segment meets that polygon where it
    # meets its boundary, or where an end lies inside it (never, for the nodes of the graph; kept exact).
    shrunk = obstacle.buffer(-1e-7 * span, quad_segs=1)
    if shrunk.is_empty:
        return np.zeros(i.size, dtype=bool)
    index = SegmentIndex(shrunk)
    hit = index.hits(pts[i, 0], pts[i, 1], pts[j, 0], pts[j, 1])
    # The nodes and fixes lie outside the obstacle, so at least a hair (0.7e-7 span) off the shrunk boundary:
    # the grid's crossing count answers as contains_xy would.
    inside = index.inside(pts[:, 0], pts[:, 1])
    if inside.any():
        hit |= inside[i] | inside[j]
    return hit


def _remove_endpoint_discs(obst: BaseGeometry, pts: list[FloatArray], clear: list[float]) -> BaseGeometry:
    """Cut from a superset obstacle a disc around each fix, smaller than the fix's distance to the zone."""
    for p, c in zip(pts, clear, strict=True):
        pt = Point(p)
        if obst.intersects(pt):
            if c <= 0:
                return shapely.Polygon()  # the fix is on the zone boundary: no useful superset
            obst = obst.difference(pt.buffer(0.99 * c, quad_segs=4))
    return obst


def _touching_pairs(hulls: NDArray[np.object_]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Index pairs (a, b) of hulls whose closures meet (every ordered pair, a == b included), as STRtree gives."""
    a, b = shapely.STRtree(hulls).query(hulls, predicate="intersects")
    return np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)


@kernel
def _disjoint_kernel(n: int, a: NDArray[np.int64], b: NDArray[np.int64], order: NDArray[np.int64]) -> NDArray[np.int64]:
    deg = np.zeros(n + 1, dtype=np.int64)
    for k in range(a.size):
        deg[a[k] + 1] += 1
    start = np.cumsum(deg)
    fill = start[:-1].copy()
    nb = np.empty(a.size, dtype=np.int64)
    for k in range(a.size):
        nb[fill[a[k]]] = b[k]
        fill[a[k]] += 1
    blocked = np.zeros(n, dtype=np.bool_)
    chosen = np.empty(order.size, dtype=np.int64)
    m = 0
    for k in order:
        if blocked[k]:
            continue
        chosen[m] = k
        m += 1
        for e in range(start[k], start[k + 1]):
            if nb[e] != k:
                blocked[nb[e]] = True
    return chosen[:m]


def _disjoint_hulls(hulls: NDArray[np.object_], order: NDArray[np.int64],
                    hits: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None) -> list[int]:
    """Greedily pick hulls (in `order`) whose closures are pairwise disjoint (`hits`: ``_touching_pairs``).

    A hull is taken unless one taken before touches it; then every hull it touches is blocked (compiled).
    """
    hit_a, hit_b = _touching_pairs(hulls) if hits is None else hits
    return [int(k) for k in _disjoint_kernel(len(hulls), np.ascontiguousarray(hit_a, dtype=np.int64),
                                             np.ascontiguousarray(hit_b, dtype=np.int64),
                                             np.ascontiguousarray(order, dtype=np.int64))]


@kernel
def _components_kernel(n: int, a: NDArray[np.int64], b: NDArray[np.int64]) -> NDArray[np.int64]:
    parent = np.arange(n)
    for k in range(a.size):
        x, y = a[k], b[k]
        while parent[x] != x:
            x = parent[x]
        while parent[y] != y:
            y = parent[y]
        if x != y:
            parent[max(x, y)] = min(x, y)  # the root stays the least node of its component
    lab = np.empty(n, dtype=np.int64)
    nxt = 0
    for v in range(n):  # roots are least nodes, so each is met before the rest of its component
        if parent[v] == v:
            lab[v] = nxt
            nxt += 1
        else:
            lab[v] = lab[parent[v]]  # parent[v] < v: labelled already
    return lab


def _components(n: int, a: NDArray[np.int64], b: NDArray[np.int64]) -> NDArray[np.int64]:
    """Connected components of the graph on 0..n-1 with edges (a, b), labelled as scipy's ``connected_components``.

    scipy numbers the components in the order of their least node (it starts a search at each node not yet
    labelled, in order): union-find whose roots are the least nodes, then labels in node order, gives the same.
    """
    return np.asarray(_components_kernel(int(n), np.ascontiguousarray(a, dtype=np.int64),
                                         np.ascontiguousarray(b, dtype=np.int64)), dtype=np.int64)


def _merged_hulls(hulls: NDArray[np.object_],
                  hits: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None) -> NDArray[np.object_]:
    """Convex hulls of clusters of intersecting hulls, merged until the cluster hulls are disjoint.

    `hits` is ``_touching_pairs(hulls)`` when already known.
    """
    cur = hulls
    while True:
        a, b = _touching_pairs(cur) if hits is None else hits
        hits = None
        m = a != b
        if not m.any():
            return cur
        lab = _components(len(cur), a[m], b[m])
        # The hull of a cluster is the hull of all its members' vertices: no union needed (one call for all).
        srt = np.argsort(lab, kind="stable")
        cur = np.asarray(shapely.convex_hull(shapely.geometrycollections(cur[srt], indices=lab[srt])), dtype=object)


def hull_bounds(
    p1: FloatArray, p2: FloatArray, ll1: tuple[float, float], ll2: tuple[float, float], obstacle: BaseGeometry,
    to_lonlat: ToLonLat, *, limit: float, scale_lo: float, direct: float | None = None, lazy: bool = False,
) -> tuple[float, float, FloatArray]:
    """Bounds (lower, upper, path of the upper) on the avoiding length from convex hulls of the obstacle's parts.

    In the gnomonic plane hulls are spherical-convex hulls. For a connected part P with both fixes outside
    hull(P), a path entering one of P's pockets (hull(P) minus P) must leave it across the same lid, and
    the lid's segment is shorter: the shortest path avoiding P equals the one avoiding hull(P), over only
    the hull's vertices. Hence, for parts S whose hulls are pairwise disjoint and exclude both fixes,
    the path around their hulls has exactly the length of the path around S: a lower bound for the whole
    obstacle (avoiding a subset is easier), exact when every other part lies within one of those hulls
    (its pocket). Otherwise hulls of the clusters of overlapping hulls form a superset obstacle: if the
    fixes are outside them, the path around them is an upper bound. Returns (0, inf, empty) when no
    hull applies. `direct`, `lazy`: as in ``_graph_path``.
    """
    parts = shapely.get_parts(obstacle)
    # The non-empty polygons, in order (vectorised: an archipelago's obstacle has hundreds of parts).
    parts = parts[(shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)]
    lower, upper, best = 0.0, math.inf, np.zeros((0, 2))
    if parts.size == 0:
        return lower, upper, best
    hulls = shapely.convex_hull(parts)
    f1, f2 = Point(p1), Point(p2)
    eligible = ~(shapely.intersects(hulls, f1) | shapely.intersects(hulls, f2))
    eligible &= shapely.get_type_id(hulls) == 3  # degenerate hulls (lines) are of no use
    hits = _touching_pairs(hulls)  # shared by the disjoint choice and the merging
    if eligible.any():
        idx = np.flatnonzero(eligible)
        order = idx[np.argsort(-shapely.area(hulls[idx]), kind="stable")]
        chosen = _disjoint_hulls(hulls, order, hits)
        cover = shapely.multipolygons(hulls[chosen])
        val, path = _graph_path(p1, p2, ll1, ll2, cover, to_lonlat, limit, scale_lo, direct, lazy)
        if math.isnan(val):
            return lower, upper, best  # too big a graph: no bound from the hulls
        lower = min(val, limit)
        if math.isinf(val):
            # No path within `limit` avoids this subset of the obstacle, so none avoids the merged hulls
            # (a superset) either: that search, and the exactness check, could only return (limit, inf).
            return lower, math.inf, best
        if bool(shapely.covered_by(parts, cover).all()):
            # Every part is one of the chosen ones or lies in a pocket of one: the value is exact.
            return lower, val, path
    merged = _merged_hulls(hulls, hits)
    if not (shapely.intersects(merged, f1).any() or shapely.intersects(merged, f2).any()):
        u, path = _graph_path(p1, p2, ll1, ll2, shapely.multipolygons(merged), to_lonlat, limit, scale_lo,
                              direct, lazy)
        if not math.isnan(u):
            upper, best = u, path
    return lower, upper, best


# Simplification levels, tolerance plen / k (then the zone itself). Each level's bounds are certified, so the
# schedule changes only the speed (and, in --fast mode, which valid bound is reported): two levels 10x apart
# settle most pairs with fewer graph searches than three 8x apart (10k-pair benchmark: same verdicts).
LEVELS = (150.0, 1500.0)
# Memory ceiling of one visibility graph: beyond this many candidate edges (about 200 bytes each through the
# visibility test, the geodesic weights and the sparse graph) the search gives no bound.
GRAPH_MAX_EDGES = 2_000_000
GRADED_RADIUS = 5.0  # graded superset: discs of radius plen / GRADED_RADIUS around the fixes ...
GRADED_FINE = 25.0  # ... simplified GRADED_FINE times more finely than the level's tolerance


def graded_outer(
    obstacle: BaseGeometry, outer: BaseGeometry, pts: list[FloatArray], clear: list[float], radius: float,
    tau_fine: float,
) -> BaseGeometry:
    """A superset of `obstacle` that is `outer` (a superset) away from the fixes, finer within `radius` of them.

    With D the discs around the fixes and F a superset of ``obstacle`` within D (simplified by `tau_fine`
    and grown by 1.5 `tau_fine`, as in ``shortest_avoiding``, with the discs of ``_remove_endpoint_discs``
    cut out), ``obstacle = (obstacle - D) | (obstacle & D)`` lies in ``(outer - D) | (F & D')``, with D' the
    discs grown by `tau_fine` (still inside the box F is made in): the two pieces overlap. Cut along the same
    D, they would only meet along its edges, and rounding may leave a hairline slit there that the
    visibility graph walks through (a path across the zone, an upper bound below the avoiding length).
    """
    disc = shapely.union_all([Point(p).buffer(radius, quad_segs=8) for p in pts])
    grown = shapely.union_all([Point(p).buffer(radius + tau_fine, quad_segs=8) for p in pts])
    x0, y0, x1, y1 = disc.bounds
    pad = 3.0 * tau_fine + 1e-6 * radius
    near = shapely.clip_by_rect(obstacle, x0 - pad, y0 - pad, x1 + pad, y1 + pad)
    if near.is_empty:
        return shapely.difference(outer, disc)
    fine = shapely.simplify(near, tau_fine).buffer(1.5 * tau_fine, quad_segs=2)
    fine = _remove_endpoint_discs(fine, pts, clear)
    if fine.is_empty and any(c <= 0 for c in clear):
        return outer  # a fix on the boundary: nothing to gain
    return shapely.union(shapely.difference(outer, disc), shapely.intersection(fine, grown))


def shortest_avoiding(
    p1: FloatArray, p2: FloatArray, ll1: tuple[float, float], ll2: tuple[float, float], obstacle: BaseGeometry,
    to_lonlat: ToLonLat, *, limit: float, target: float | None, precise: bool, scale_lo: float,
    rel_tol: float = 1e-3, hulls: bool = True, graded: bool = True, crosses: bool = False,
) -> AvoidResult:
    """Bounds on the length of the shortest path from p1 to p2 (planar, outside `obstacle`).

    Parameters
    ----------
    limit : float
        Paths longer than this need not be found: the bounds are then ``(limit, inf)`` at worst.
    target : float or None
        The length the caller compares against (the budget); refinement stops once the bounds are on one
        side of it, unless `precise` asks for bounds within `rel_tol` of each other. Without `precise`, the
        zone itself is searched right after the hulls (the levels only if its graph is too big), so the
        bounds returned are whichever settled the side first.
    hulls : bool
        Try the convex hulls of the obstacle's parts first (``hull_bounds``; often exact with a few vertices).
        Not in fast mode, whose lazy search of the zone itself costs less than the hulls' overlays and graphs
        (883 evaluate cases of bench_prism 100000 --fast: 6.7 -> 6.0 s, the same verdicts).
    graded : bool
        When a level's bounds do not settle, also try a superset keeping finer detail near the fixes
        (``graded_outer``): a fix in a narrow channel then finds its way out without the full zone.
    crosses : bool
        The caller has found the segment p1-p2 entering the obstacle's interior (``evaluate``'s fast path,
        whose obstacle is the zone cut to an ellipse holding the segment): the same test is not made again.
    """
    direct = float(dist(ll1[0], ll1[1], ll2[0], ll2[1]))
    if not crosses and (obstacle.is_empty or not shapely.relate_pattern(LineString([p1, p2]), obstacle,
                                                                        "T********")):
        lon, lat = np.array([ll1[0], ll2[0]]), np.array([ll1[1], ll2[1]])
        return AvoidResult(direct, direct, lon, lat)
    if not precise and target is not None:
        # Only the side of the target matters: paths longer than it need not be found (bounds stay certified).
        limit = min(limit, target * (1 + 1e-6) + 1.0)
    # Fast mode: edges tested and measured as the searches reach them (``_graph_path``); paths beyond `limit`
    # are not searched.
    lazy = not precise and target is not None
    plen = float(np.hypot(*(p2 - p1)))
    clear: list[float] = []  # each fix's distance to the obstacle, measured when a level first needs it
    lower, upper, best = direct, math.inf, np.zeros((0, 2))

    def settled() -> bool:
        if lower >= limit:
            return True
        # Bounds on both sides of the target leave the verdict open, however close they are (the last
        # level, the zone itself, gives lower == upper and always decides).
        side = target is None or lower > target or upper <= target
        if precise or target is None:
            return side and upper <= lower * (1 + rel_tol)
        return side

    if hulls and not lazy:
        h_lo, h_up, h_path = hull_bounds(p1, p2, ll1, ll2, obstacle, to_lonlat, limit=limit, scale_lo=scale_lo,
                                         direct=direct, lazy=lazy)
        lower = max(lower, h_lo)
        if h_up < upper:
            upper, best = h_up, h_path
        lower = min(lower, upper)
    taus = [plen / k for k in LEVELS] + [0.0]
    if not precise and target is not None:
        # Only the side of the target matters (--fast): the zone itself first, which always decides (its graph
        # keeps only nodes within the target's ellipse, so it is mostly smaller than the two levels' four
        # simplified obstacles and overlays together: 883 evaluate cases of bench_prism 100000 --fast,
        # 9.4 -> 6.7 s); the levels only when its graph is too big (GRAPH_MAX_EDGES).
        taus = [0.0, *taus[:-1]]
    for tau in taus:
        if settled():
            break
        if tau > 0:
            # Douglas-Peucker keeps the simplified boundary within tau of the original (both ways), so
            # growing it by 1.5 tau (chord-sagged arcs still reach 1.38 tau) covers the zone, and
            # shrinking it by as much stays inside the zone.
            simp = shapely.simplify(obstacle, tau)
            if not clear:
                clear = [float(obstacle.distance(Point(p))) for p in (p1, p2)]
            outer = _remove_endpoint_discs(simp.buffer(1.5 * tau, quad_segs=2), [p1, p2], clear)
        else:
            outer = obstacle
        u = math.inf
        if not outer.is_empty:
            u, path = _graph_path(p1, p2, ll1, ll2, outer, to_lonlat, min(limit, upper), scale_lo, direct, lazy)
            if u < upper:
                upper, best = u, path
            lower = min(lower, upper)
            if not precise and settled():
                break  # a path within the target: the inner bound cannot change the answer
        if tau > 0:
            # The inner (subset) obstacle only now: a level that settles on its outer bound never needs it.
            inner_o = simp.buffer(-1.5 * tau, quad_segs=2)
            lo, _ = _graph_path(p1, p2, ll1, ll2, inner_o, to_lonlat, min(limit, upper), scale_lo, direct, lazy)
        else:
            lo = math.nan if math.isnan(u) else upper  # the zone itself: exact, unless its graph was too big
        if not math.isnan(lo):  # nan: too big a graph, no lower bound from this level
            lower = max(lower, min(lo, limit, upper))
        if settled():
            break
        if tau > 0 and graded and not outer.is_empty and min(clear) < 1.5 * tau:
            # A fix close to the zone (in a narrow channel, say): the coarse superset may close the way out.
            # Keep finer detail near the fixes (still a superset of the zone) and look for a path again.
            g_outer = graded_outer(obstacle, outer, [p1, p2], clear, plen / GRADED_RADIUS, tau / GRADED_FINE)
            u, path = _graph_path(p1, p2, ll1, ll2, g_outer, to_lonlat, min(limit, upper), scale_lo, direct, lazy)
            if u < upper:
                upper, best = u, path
            lower = min(lower, upper)
            if settled():
                break
    if len(best):
        lon, lat = to_lonlat(best[:, 0], best[:, 1])
    else:
        lon = lat = np.zeros(0)
    return AvoidResult(lower, upper, np.asarray(lon), np.asarray(lat))


def entering_bounds(
    zone_ll: BaseGeometry, ll1: tuple[float, float], ll2: tuple[float, float], rel_tol: float = 2e-4,
    target: float | None = None,
) -> tuple[float, float]:
    """Bounds (lower, upper) on min over the zone's boundary of d(p1, x) + d(x, p2), true geodesics.

    Edges are the lon/lat straight edges of `zone_ll`. The focal sum is 2-Lipschitz, so on an edge of
    geodesic length l it is at least min(end values) - l; edges whose bound is below the best value are
    split in 8 and re-evaluated until the bounds agree to `rel_tol` and, with `target`, until they are on
    one side of it (at most 8 rounds: bounds within a hair of the target may still straddle it).
    """
    polys = shapely.get_parts(zone_ll)
    polys = polys[(shapely.get_type_id(polys) == 3) & ~shapely.is_empty(polys)]
    if polys.size == 0:
        return math.inf, math.inf
    # Every ring's edges (each polygon's exterior, then its holes), all rings at once.
    xy, ring = shapely.get_coordinates(shapely.get_rings(polys), return_index=True)
    same = ring[1:] == ring[:-1]
    a, b = xy[:-1][same], xy[1:][same]
    # Spherical focal sums first (cheap): true geodesics only for edges that can hold the minimum.
    u1, u2 = unit(*ll1), unit(*ll2)
    ua, ub = unit(a[:, 0], a[:, 1]), unit(b[:, 0], b[:, 1])
    fsa = R_SPHERE * (np.arccos(np.clip(ua @ u1, -1, 1)) + np.arccos(np.clip(ua @ u2, -1, 1)))
    fsb = R_SPHERE * (np.arccos(np.clip(ub @ u1, -1, 1)) + np.arccos(np.clip(ub @ u2, -1, 1)))
    lsph = R_SPHERE * np.arccos(np.clip(np.sum(ua * ub, axis=1), -1, 1))
    lb_sph = SPH_LO * np.minimum(fsa, fsb) - SPH_HI * lsph
    sel = lb_sph <= SPH_HI * float(fsa.min())
    floor = float(lb_sph[~sel].min()) if (~sel).any() else math.inf
    a, b = a[sel], b[sel]
    fa = dist(ll1[0], ll1[1], a[:, 0], a[:, 1]) + dist(a[:, 0], a[:, 1], ll2[0], ll2[1])
    fb = dist(ll1[0], ll1[1], b[:, 0], b[:, 1]) + dist(b[:, 0], b[:, 1], ll2[0], ll2[1])
    length = dist(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    upper = float(min(fa.min(), fb.min()))
    lb = np.minimum(fa, fb) - length
    for _ in range(8):
        sel = lb < upper * (1 - rel_tol)
        if target is not None and upper > target:
            sel |= lb <= target  # these edges may still hold a point within the target
        if int(np.count_nonzero(sel)) > SPLIT_MAX:
            # A ceiling on the work of one round (memory grows 9-fold with the edges split): split the edges
            # with the lowest bounds; the others' bounds stay in the floor (certified, only less tight).
            cand = np.flatnonzero(sel)
            rest = cand[np.argpartition(lb[cand], SPLIT_MAX)[SPLIT_MAX:]]
            floor = min(floor, float(lb[rest].min()))
            sel[rest] = False
        if not sel.any():
            break
        a, b, length = a[sel], b[sel], length[sel]
        t = np.linspace(0.0, 1.0, 9)
        pts = a[:, None, :] + (b - a)[:, None, :] * t[None, :, None]  # (k, 9, 2) along the lon/lat edge
        f = (dist(ll1[0], ll1[1], pts[..., 0], pts[..., 1]) + dist(pts[..., 0], pts[..., 1], ll2[0], ll2[1]))
        upper = min(upper, float(f.min()))
        a = pts[:, :-1].reshape(-1, 2)
        b = pts[:, 1:].reshape(-1, 2)
        length = dist(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
        lb = np.minimum(f[:, :-1], f[:, 1:]).ravel() - length
    lower = min(float(lb.min()) if lb.size else upper, floor)
    return max(min(lower, upper), 0.0), upper


__all__ = ["SPH_LO", "AvoidResult", "convex_vertices", "entering_bounds", "shortest_avoiding"]
