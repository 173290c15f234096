"""Stage 3 of the prism verdicts, *bulk*: settle the remaining (pair, zone) candidates zone by zone, vectorised.

``fast.settle_zone`` does the work (entering lengths on the boundary edges, the direct arc's clearance,
two-leg paths and fences, perpendicular and, in fast mode, at a slant); what it cannot settle is left
to ``evaluate``. Zones with a validity period and pairs whose reach leaves the gnomonic hemisphere are
left to ``evaluate`` as well.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from overflight.analysis.prism._geo import FloatArray
from overflight.analysis.prism.caps import ZoneCaps
from overflight.analysis.prism.evaluation import EXACT_FACTOR, MAX_REACH_M
from overflight.analysis.prism.fast import SETTLE_IMPOSSIBLE, SETTLE_NECESSARY, SETTLE_POSSIBLE, settle_zone
from overflight.analysis.prism.pairs import Pairs

IntArray = NDArray[np.int64]


@dataclass
class Settled:
    """The (pair, zone) combinations settled in bulk: pair (global row), zone, status and values."""

    row: IntArray
    zone: IntArray
    status: NDArray[np.int8]  # fast.SETTLE_IMPOSSIBLE / SETTLE_POSSIBLE / SETTLE_NECESSARY
    detour: FloatArray
    margin: FloatArray
    exact: NDArray[np.bool_]

    def count(self, status: int) -> int:
        """How many (pair, zone) combinations have this status."""
        return int((self.status == status).sum())


def settle(pairs: Pairs, start: int, cand: NDArray[np.bool_], caps: ZoneCaps, b_hi: FloatArray, direct: FloatArray,
           r: FloatArray, need: FloatArray, *, precise: bool, two_leg: bool) -> Settled:
    """Settle what ``fast.settle_zone`` can among the candidates `cand` (rows from `start`, zones).

    `b_hi`, `direct`, `r` are per pair (global rows), `need` per row of the chunk.
    """
    lim_all = np.maximum(EXACT_FACTOR * need, need + 1000.0)
    out: list[tuple[IntArray, IntArray, NDArray[np.int8], FloatArray, FloatArray, NDArray[np.bool_]]] = []
    for z in np.flatnonzero(cand.any(axis=0)):
        ze = caps.zone_edges(int(z))
        if ze is None or caps.period(int(z)) is not None:
            continue
        rows = np.flatnonzero(cand[:, z])
        gi = start + rows
        lim = lim_all[rows]
        go = (lim + direct[gi]) / 2.0 + r[gi] <= MAX_REACH_M
        gi, lim = gi[go], lim[go]
        status, det, mar, ex = settle_zone(
            pairs.lon1[gi], pairs.lat1[gi], pairs.lon2[gi], pairs.lat2[gi], pairs.r1[gi], pairs.r2[gi],
            b_hi[gi], direct[gi], lim, caps.geoms[z], ze, precise=precise, two_leg=two_leg)
        done = status != 0
        out.append((gi[done], np.full(int(done.sum()), z, dtype=np.int64), status[done], det[done], mar[done],
                    ex[done]))
    if not out:
        e = np.zeros(0, dtype=np.int64)
        return Settled(e, e, np.zeros(0, dtype=np.int8), np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool))
    cols = list(zip(*out, strict=True))
    return Settled(*(np.concatenate(c) for c in cols))  # type: ignore[arg-type]


__all__ = ["SETTLE_IMPOSSIBLE", "SETTLE_NECESSARY", "SETTLE_POSSIBLE", "Settled", "settle"]
