"""Stage 2 of the prism verdicts, *inside*: which fixes lie in which zone, and the zones' boundary pieces.

A fix without position error inside a zone (by the one membership rule, ``analysis.membership``) makes
entering it ``necessary`` at once (for a zone with a validity period only while in force, which
``evaluate`` decides). For pairs with neither fix inside, the caps of the zone's boundary pieces tighten
the caps stage's bound: an ellipse far from every piece misses the zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from overflight._jit import kernel
from overflight.analysis.prism._captree import CapTree, _least_one, least_focal_lb
from overflight.analysis.prism._geo import FloatArray

if TYPE_CHECKING:  # (the kernel build imports this module with numpy and numba only: no pandas, no ZoneIndex)
    from overflight.analysis.prism.caps import ZoneCaps
    from overflight.analysis.prism.pairs import Pairs

BoolArray = NDArray[np.bool_]


@dataclass
class Inside:
    """Fix memberships and tightened bounds for the rows of one chunk of pairs."""

    m1: BoolArray  # (rows, zones): fix 1 lies in the zone
    m2: BoolArray
    inside: BoolArray  # (rows, zones): a fix without position error lies in the zone (no validity period)
    lb: FloatArray  # (rows, zones): the reach bounds, tightened by the boundary pieces


def fixes_inside(pairs: Pairs, sl: slice, u1: FloatArray, u2: FloatArray, need: FloatArray, lb: FloatArray,
                 cand: BoolArray, caps: ZoneCaps) -> Inside:
    """Memberships of the fixes of ``pairs[sl]`` (unit vectors `u1`, `u2`) and bounds for the candidates `cand`.

    `lb` is tightened in place (and returned as ``Inside.lb``): it is the chunk's (rows x zones) array, which
    its caller replaces by the result.
    """
    from overflight.analysis import membership

    # (the zones coerced once per ZoneCaps, not per chunk: no times are given, so only their number matters here)
    m1 = membership.members(pairs.lon1[sl], pairs.lat1[sl], caps.zones(), index=caps.index())
    m2 = membership.members(pairs.lon2[sl], pairs.lat2[sl], caps.zones(), index=caps.index())
    inside = np.zeros_like(cand)
    s = sl.start or 0
    for z in np.flatnonzero(cand.any(axis=0)):
        rows = np.flatnonzero(cand[:, z])
        g = caps.geoms[z]
        if g.geom_type not in ("Polygon", "MultiPolygon"):
            continue
        gi = s + rows
        ins = (m1[rows, z] & (pairs.r1[gi] == 0)) | (m2[rows, z] & (pairs.r2[gi] == 0))
        if caps.period(int(z)) is None:
            inside[rows[ins], z] = True
        # The ellipse far from every boundary piece and no fix inside: the zone is out of reach (a fix
        # inside with a position error keeps the pair: its whole ellipse may lie in the zone).
        rest = rows[~(m1[rows, z] | m2[rows, z])]
        if rest.size:
            blb = least_focal_lb(u1[rest], u2[rest], caps.tree("piece", int(z)))
            lb[rest, z] = np.maximum(lb[rest, z], blb)
    del need  # (the caller compares the bounds with it)
    return Inside(m1, m2, inside, lb)


@kernel
def _far_kernel(far: BoolArray, lb: FloatArray, need: FloatArray, flip: FloatArray, verdict: NDArray[np.int8],
                detour: FloatArray, margin: FloatArray) -> None:
    for i in range(far.shape[0]):
        for z in range(far.shape[1]):
            if far[i, z]:
                v = lb[i, z]
                verdict[i, z] = 0
                detour[i, z] = v if (v > 0.0 or v != v) else 0.0  # (NaN propagates, as in np.maximum)
                m = v - need[i]
                margin[i, z] = m if (m < flip[i] or m != m) else flip[i]


def write_far(far: BoolArray, lb: FloatArray, need: FloatArray, flip: FloatArray, verdict: NDArray[np.int8],
              detour: FloatArray, margin: FloatArray) -> None:
    """Where `far` (rows x zones): verdict 0 ("impossible"), detour ``max(lb, 0)``, margin ``min(lb - need, flip)``.

    `need`, `flip` are per row; `verdict`, `detour`, `margin` are written in place (rows of the full arrays: C
    order, so a chunk's slice is contiguous). One compiled pass instead of three masked copies, each with its
    (rows x zones) temporary.
    """
    f = np.ascontiguousarray
    _far_kernel(f(far), f(lb, dtype=np.float64), f(need, dtype=np.float64).reshape(-1),
                f(flip, dtype=np.float64).reshape(-1), verdict, detour, margin)


NECESSARY = 2  # verdicts.VERDICTS.index("necessary") (this module is built without verdicts)


@kernel
def _inside_kernel(u1: FloatArray, u2: FloatArray, need: FloatArray, flip: FloatArray, incons: NDArray[np.bool_],
                   m1: BoolArray, m2: BoolArray, sure1: BoolArray, sure2: BoolArray, poly: BoolArray,
                   untimed: BoolArray, pieces: CapTree, cand: BoolArray, verdict: NDArray[np.int8],
                   detour: FloatArray, margin: FloatArray, exact: BoolArray, exact_lb: bool) -> NDArray[np.int64]:
    n, nz = cand.shape
    mg = 1
    for z in range(nz):
        mg = max(mg, pieces.zone_g[z + 1] - pieces.zone_g[z])
    glb, gsum = np.empty(mg), np.empty(mg)
    counts = np.zeros(2, dtype=np.int64)  # settled here: far (consistent rows), necessary
    for k in range(n):
        nd, fl, bad = need[k], flip[k], incons[k]
        for z in range(nz):
            if not cand[k, z]:
                continue
            v = detour[k, z]  # the caps stage's bound
            ins = False
            if poly[z]:
                ins = untimed[z] and ((m1[k, z] and sure1[k]) or (m2[k, z] and sure2[k]))
                if not (m1[k, z] or m2[k, z]):
                    p = _least_one(u1[k, 0], u1[k, 1], u1[k, 2], u2[k, 0], u2[k, 1], u2[k, 2], pieces, z, glb, gsum,
                                   exact_lb)
                    if p > v or p != p:  # np.maximum (NaN propagates)
                        v = p
            if ins:
                cand[k, z] = False
                detour[k, z] = np.nan  # (an inconsistent row's values are all written later)
                if not bad:
                    verdict[k, z] = NECESSARY
                    detour[k, z] = np.inf
                    margin[k, z] = fl
                    exact[k, z] = True
                    counts[1] += 1
            elif not v <= nd:
                cand[k, z] = False
                verdict[k, z] = 0
                detour[k, z] = v if (v > 0.0 or v != v) else 0.0
                m = v - nd
                margin[k, z] = m if (m < fl or m != m) else fl
                if not bad:
                    counts[0] += 1
            else:
                detour[k, z] = np.nan  # (bulk or evaluate writes it)
                if bad:
                    cand[k, z] = False
    return counts


def inside_far(u1: FloatArray, u2: FloatArray, need: FloatArray, flip: FloatArray, incons: BoolArray,
               m1: BoolArray, m2: BoolArray, sure1: BoolArray, sure2: BoolArray, poly: BoolArray,
               untimed: BoolArray, pieces: CapTree, cand: BoolArray, verdict: NDArray[np.int8],
               detour: FloatArray, margin: FloatArray, exact: BoolArray, *, exact_lb: bool = True) -> tuple[int, int]:
    """The inside stage in one compiled pass over the candidates `cand` left by ``_captree.reach_far``.

    For each candidate (pair, zone): a fix without position error (`sure1`, `sure2` per row) in a polygon
    zone (`poly`) without validity period (`untimed`) makes it ``necessary`` (detour inf, margin `flip`,
    exact); else, with neither fix in it (`m1`, `m2`), the least bound over its boundary pieces (`pieces`)
    tightens the bound (in `detour`), and beyond `need` it is settled as by ``write_far``. What is left stays
    in `cand` (its detour NaN again), inconsistent rows (`incons`) excepted. Returns how many were settled
    far and necessary, inconsistent rows left out. All (rows x zones) arrays are written in place.
    Without `exact_lb` the pieces' bounds are the chords' (as ``_captree.reach_far`` without `exact`).
    """
    f = np.ascontiguousarray
    c = _inside_kernel(f(u1, dtype=np.float64), f(u2, dtype=np.float64), f(need, dtype=np.float64).reshape(-1),
                       f(flip, dtype=np.float64).reshape(-1), f(incons, dtype=np.bool_), f(m1), f(m2),
                       f(sure1, dtype=np.bool_), f(sure2, dtype=np.bool_), f(poly, dtype=np.bool_),
                       f(untimed, dtype=np.bool_), pieces, cand, verdict, detour, margin, exact,
                       exact_lb)
    return int(c[0]), int(c[1])


__all__ = ["Inside", "fixes_inside", "inside_far", "write_far"]
