"""Validity periods in prism reasoning: when, within a gap between two sightings, a zone can be entered.

A zone is in force during ``[valid_from, valid_to)`` (`Zone.active_at`). Between fixes (p1, t1) and
(p2, t2) at top speed v, the object can be at x at time t iff ``d(p1, x) <= v (t - t1)`` and
``d(x, p2) <= v (t2 - t)``. So the places it can reach while the zone is in force, during the window
[a, b] of the gap, are exactly

    ellipse  ∩  disc(p1, v (b - t1))  ∩  disc(p2, v (t2 - a))

(x qualifies iff the interval [t1 + d(p1, x)/v, t2 - d(x, p2)/v] meets [a, b]). With time errors ±e and
position errors r (``e``, ``r``: the pair's totals) the window grows to [t1 - e, t2 + e] and the radii by
``v e + r``: conservative, as for the budget.

Verdicts under a period (`classify` gives the case):

- ``WHOLE``: in force during the whole gap (errors included): the ordinary verdicts;
- ``NEVER``: not in force at any moment of the gap: ``impossible``;
- ``PARTIAL``: ``impossible`` when the zone misses the reachable set above; ``necessary`` only when a fix
  lies in the zone at a moment the zone is certainly in force (a path can wait outside until the period
  ends, or enter only after it, so cutting the ellipse is no longer enough: a sound, conservative rule);
  ``possible`` otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

WHOLE, NEVER, PARTIAL = 0, 1, 2
_LO, _HI = -(2**63), 2**63 - 1


def period_ns(zone: Any) -> tuple[int, int] | None:
    """(valid_from, valid_to) in ns since the epoch, open ends as the int64 extremes; None when untimed."""
    vf, vt = getattr(zone, "valid_from", None), getattr(zone, "valid_to", None)
    if vf is None and vt is None:
        return None
    return (_LO if vf is None else int(pd.Timestamp(vf).value), _HI if vt is None else int(pd.Timestamp(vt).value))


@dataclass(frozen=True)
class Window:
    """How a zone's period meets one gap."""

    case: int  # WHOLE, NEVER or PARTIAL
    fix1_in_force: bool  # in force throughout fix 1's time error
    fix2_in_force: bool
    reach1: float  # metres from fix 1 the object can be while the zone is in force (inf: no limit)
    reach2: float


def classify(t1_ns: int, t2_ns: int, e_s: float, r: float, vmax: float, period: tuple[int, int]) -> Window:
    """The window of one gap (t1, t2) with time error ±`e_s` and position error `r` against a period."""
    vf, vt = period
    e = math.ceil(e_s * 1e9)
    lo, hi = t1_ns - e, t2_ns + e  # every moment the gap may cover
    f1 = vf <= lo and t1_ns + e < vt
    f2 = vf <= t2_ns - e and hi < vt
    if vf <= lo and hi < vt:
        return Window(WHOLE, f1, f2, math.inf, math.inf)
    a, b = max(vf, lo), min(vt, hi)
    # In force at some moment t with a <= t <= b, t < vt (b == vt is the first moment out of force).
    if a > b or (a == b and b == vt):
        return Window(NEVER, False, False, 0.0, 0.0)
    reach1 = vmax * ((b - t1_ns) / 1e9 + e_s) + r
    reach2 = vmax * ((t2_ns - a) / 1e9 + e_s) + r
    return Window(PARTIAL, f1, f2, max(reach1, 0.0), max(reach2, 0.0))


__all__ = ["NEVER", "PARTIAL", "WHOLE", "Window", "classify", "period_ns"]
