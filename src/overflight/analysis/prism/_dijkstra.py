"""Shortest path from node 0 to node 1 of a small undirected graph given as edge lists (compiled).

Replaces ``scipy.sparse.csgraph.dijkstra`` for the visibility graphs of ``avoid``: they are small (tens to
thousands of nodes) and built once per search, so scipy's sparse-matrix set-up cost more than the search.
"""

from __future__ import annotations

import heapq
import math
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from overflight._jit import grow, kernel
from overflight.analysis.prism._geo import FloatArray, dist
from overflight.analysis.prism._visibility import GridArgs, _hit_one
from overflight.analysis.prism.edges import LAM_ABS, LAM_REL, _lam_reduced, _reduced_kernel

IntArray = NDArray[np.int64]


class Graph(NamedTuple):
    """An undirected graph on nodes 0..n-1: edge k joins i[k] and j[k] with weight w[k] (> 0)."""

    n: int
    i: IntArray
    j: IntArray
    w: FloatArray


@kernel
def _kernel(g: Graph) -> tuple[float, IntArray]:
    n = g.n
    deg = np.zeros(n + 1, dtype=np.int64)
    for k in range(g.i.size):
        deg[g.i[k] + 1] += 1
        deg[g.j[k] + 1] += 1
    start = np.cumsum(deg)
    fill = start[:-1].copy()
    nb = np.empty(2 * g.i.size, dtype=np.int64)
    wt = np.empty(2 * g.i.size)
    for k in range(g.i.size):
        a, b = g.i[k], g.j[k]
        nb[fill[a]] = b
        wt[fill[a]] = g.w[k]
        fill[a] += 1
        nb[fill[b]] = a
        wt[fill[b]] = g.w[k]
        fill[b] += 1
    dist = np.full(n, np.inf)
    pred = np.full(n, -1, dtype=np.int64)
    done = np.zeros(n, dtype=np.bool_)
    dist[0] = 0.0
    heap = [(0.0, np.int64(0))]
    while heap:
        d, u = heapq.heappop(heap)
        if done[u]:
            continue
        done[u] = True
        if u == 1:
            break
        for e in range(start[u], start[u + 1]):
            v = nb[e]
            nd = d + wt[e]
            if nd < dist[v]:
                dist[v] = nd
                pred[v] = u
                heapq.heappush(heap, (nd, v))
    if not np.isfinite(dist[1]):
        return np.inf, np.zeros(0, dtype=np.int64)
    path = [np.int64(1)]
    while path[-1] != 0:
        path.append(pred[path[-1]])
    out = np.empty(len(path), dtype=np.int64)
    for k in range(len(path)):
        out[k] = path[len(path) - 1 - k]
    return dist[1], out


def shortest_0_to_1(g: Graph) -> tuple[float, IntArray]:
    """(length, node path 0 → 1) of the shortest path, or (inf, empty) when node 1 is out of reach."""
    d, path = _kernel(Graph(int(g.n), np.ascontiguousarray(g.i, dtype=np.int64),
                            np.ascontiguousarray(g.j, dtype=np.int64), np.ascontiguousarray(g.w, dtype=np.float64)))
    return float(d), np.asarray(path, dtype=np.int64)


@kernel
def _lazy_kernel(
    n: int, ci: IntArray, cj: IntArray, x: FloatArray, y: FloatArray, dp2: FloatArray, lon: FloatArray,
    rb: FloatArray, crb: FloatArray, inside: NDArray[np.bool_], cut: float, gx1: FloatArray, gy1: FloatArray,
    gx2: FloatArray, gy2: FloatArray, gx0: float, gy0: float, gcell: float, gnx: int, gny: int, gstart: IntArray,
    gitems: IntArray, glo: IntArray, ghi: IntArray, state: NDArray[np.int8], ew: FloatArray, elb: FloatArray,
) -> tuple[int, float, IntArray, IntArray]:
    m = ci.size
    deg = np.zeros(n + 1, dtype=np.int64)
    for k in range(m):
        deg[ci[k] + 1] += 1
        deg[cj[k] + 1] += 1
    start = np.cumsum(deg)
    fill = start[:-1].copy()
    nb = np.empty(2 * m, dtype=np.int64)
    ek = np.empty(2 * m, dtype=np.int64)
    for k in range(m):
        a, b = ci[k], cj[k]
        nb[fill[a]] = b
        ek[fill[a]] = k
        fill[a] += 1
        nb[fill[b]] = a
        ek[fill[b]] = k
        fill[b] += 1
    # Admissible heuristic (the geodesic to fix 2, less a margin far above its rounding): the search may reopen
    # a node, so consistency is not needed for the shortest path to come out exact.
    h = np.empty(n)
    for c in range(n):
        h[c] = max(dp2[c] * (1.0 - 1e-9) - 1e-3, 0.0)
    h[1] = 0.0
    g = np.full(n, np.inf)
    pred = np.full(n, -1, dtype=np.int64)
    pedge = np.full(n, -1, dtype=np.int64)
    g[0] = 0.0
    req = np.empty(64, dtype=np.int64)
    nreq = 0
    heap = [(h[0], 0.0, 0.0, np.int64(-1), np.int64(0), np.int64(-1))]
    found = False
    while heap:
        f, gu, lbw, u, v, ke = heapq.heappop(heap)
        if not f <= cut:
            break  # every path left is longer than cut
        if u < 0:  # node v reached with length gu
            if gu > g[v]:
                continue  # stale: a shorter way was found since
            if v == 1:
                found = True
                break
            for e in range(start[v], start[v + 1]):
                w = nb[e]
                q = ek[e]
                if w == 0 or state[q] < 0:
                    continue
                lw = ew[q]
                known = not np.isnan(lw)
                if not known:
                    lw = elb[q]
                    if np.isnan(lw):
                        # A lower bound on the true length: Andoyer-Lambert less its allowance (``edges``).
                        i, j = ci[q], cj[q]
                        lw = max(_lam_reduced(lon[i], rb[i], crb[i], lon[j], rb[j], crb[j]) * (1 - LAM_REL) - LAM_ABS,
                                 0.0)
                        elb[q] = lw
                if gu + lw >= g[w] or not gu + lw + h[w] <= cut:
                    continue  # no shorter way to w, or none within cut
                if known and state[q] > 0:
                    ng = gu + lw
                    g[w] = ng
                    pred[w] = v
                    pedge[w] = q
                    heapq.heappush(heap, (ng + h[w], ng, 0.0, np.int64(-1), np.int64(w), np.int64(-1)))
                else:
                    heapq.heappush(heap, (gu + lw + h[w], gu, lw, np.int64(v), np.int64(w), np.int64(q)))
        else:  # edge u -> v, not tested or without its true length yet, reached from u at gu
            if gu > g[u] or gu + lbw >= g[v]:
                continue
            if state[ke] == 0:
                i, j = ci[ke], cj[ke]
                hit = inside[i] or inside[j] or _hit_one(x[i], y[i], x[j], y[j], gx1, gy1, gx2, gy2, gx0, gy0,
                                                         gcell, gnx, gny, gstart, gitems, glo, ghi)
                state[ke] = -1 if hit else 1
            if state[ke] < 0:
                continue
            lw = ew[ke]
            if np.isnan(lw):
                # Its true length is asked for; meanwhile the lower bound stands in (the path found is then
                # only as short as a lower bound, and the caller searches again with the lengths).
                if nreq == req.size:
                    req = grow(req, 2 * nreq, nreq)
                req[nreq] = ke
                nreq += 1
                lw = lbw
            ng = gu + lw
            if ng < g[v]:
                g[v] = ng
                pred[v] = u
                pedge[v] = ke
                heapq.heappush(heap, (ng + h[v], ng, 0.0, np.int64(-1), np.int64(v), np.int64(-1)))
    if not found:
        return 2, np.inf, np.zeros(0, dtype=np.int64), req[:nreq]
    path = [np.int64(1)]
    exact = True
    while path[-1] != 0:
        a = path[-1]
        if np.isnan(ew[pedge[a]]):
            exact = False
        path.append(pred[a])
    out = np.empty(len(path), dtype=np.int64)
    for k in range(len(path)):
        out[k] = path[len(path) - 1 - k]
    return (0 if exact else 1), g[1], out, req[:nreq]


def lazy_shortest(
    n: int, i: IntArray, j: IntArray, pts: FloatArray, dp2: FloatArray, lon: FloatArray, lat: FloatArray, cut: float,
    grid: GridArgs, inside: NDArray[np.bool_],
) -> tuple[float, IntArray]:
    """(length, node path 0 → 1) of the shortest visible path over the candidate edges (`i` < `j`), or
    (inf, empty) if none is at most `cut` long; edges tested and measured only as the search reaches them.

    The graph is ``avoid._graph_path``'s: nodes `pts` (fix 1, fix 2, obstacle vertices), its candidate edges,
    visible where the segment misses the shrunk obstacle (`grid`: ``SegmentIndex.grid``; `inside`: nodes inside
    it) and weighted by true geodesics. A* towards fix 2 (heuristic `dp2`, a lower bound on each node's
    distance to fix 2) tests an edge's
    visibility only when popped, at a lower bound of its length (Andoyer-Lambert less its allowance, ``edges``),
    and lets that bound stand in for its true length until measured: the lengths asked for are measured together
    with pyproj and the search runs again, until the shortest path's edges all have their true lengths (it is then the
    shortest path of the full graph, with the same length: the others' lengths only grow). Nothing beyond
    `cut` is searched (fast mode's limit: the caller needs no longer path).
    """
    f = np.ascontiguousarray
    i, j = f(i, dtype=np.int64), f(j, dtype=np.int64)
    ew = np.full(i.size, np.nan)
    state = np.zeros(i.size, dtype=np.int8)
    x = f(pts[:, 0], dtype=np.float64)
    y = f(pts[:, 1], dtype=np.float64)
    elb = np.full(i.size, np.nan)
    lo = f(lon, dtype=np.float64)
    rb, crb = _reduced_kernel(f(lat, dtype=np.float64))
    d2, ins = f(dp2, dtype=np.float64), f(inside, dtype=np.bool_)
    gx1, gy1, gx2, gy2, gx0, gy0, gcell, gnx, gny, gstart, gitems, glo, ghi = grid
    while True:
        status, length, path, req = _lazy_kernel(int(n), i, j, x, y, d2, lo, rb, crb, ins, float(cut), gx1, gy1, gx2,
                                                 gy2, gx0, gy0, gcell, gnx, gny, gstart, gitems, glo, ghi, state, ew,
                                                 elb)
        if status != 1:
            break
        req = np.unique(req)
        req = req[np.isnan(ew[req])]
        a, b = i[req], j[req]
        # The same geodesic problems as _graph_path's weights (so the same values), clipped as there.
        ew[req] = np.maximum(dist(lon[a], lat[a], lon[b], lat[b]), 1e-9)
    if status == 2:
        return math.inf, np.zeros(0, dtype=np.int64)
    return float(length), np.asarray(path, dtype=np.int64)


__all__ = ["Graph", "lazy_shortest", "shortest_0_to_1"]
