"""Shortest path from node 0 to node 1 of a small undirected graph given as edge lists (compiled).

Replaces ``scipy.sparse.csgraph.dijkstra`` for the visibility graphs of ``avoid``: they are small (tens to
thousands of nodes) and built once per search, so scipy's sparse-matrix set-up cost more than the search.
"""

from __future__ import annotations

import heapq
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from overflight._jit import kernel
from overflight.analysis.prism._geo import FloatArray

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


__all__ = ["Graph", "shortest_0_to_1"]
