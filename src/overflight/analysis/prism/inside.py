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
from overflight.analysis.prism._captree import least_focal_lb
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


__all__ = ["Inside", "fixes_inside", "write_far"]
