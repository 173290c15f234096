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
- ``PARTIAL``: ``impossible`` when the zone misses the reachable set above. ``necessary`` when a fix lies
  in the zone at a moment the zone is certainly in force, or when at some instant of the window every
  position the object can have then lies in the zone (``lens_inside``). Cutting the ellipse is no longer
  enough: a path may wait outside until the period ends, or enter only after it. The rule is sound and
  conservative (it may say ``possible`` where a finer analysis would prove ``necessary``); ``possible``
  otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

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
    window: tuple[int, int] = (0, 0)  # [a, b] in ns: the moments of the gap (errors included) in force


def classify(t1_ns: int, t2_ns: int, e_s: float, r: float, vmax: float, zone: Any) -> Window:
    """The window of one gap (t1, t2) with time error ±`e_s` and position error `r` against a zone's period.

    In force is `Zone.active_at` (``valid_from <= t < valid_to``); an interval of time is in force
    throughout when both its ends are (the period is an interval).
    """
    vf, vt = period_ns(zone) or (_LO, _HI)
    e = math.ceil(e_s * 1e9)
    lo, hi = t1_ns - e, t2_ns + e  # every moment the gap may cover
    on = zone.active_at(np.array([lo, t1_ns + e, t2_ns - e, hi], dtype=np.int64))
    f1, f2 = bool(on[0] and on[1]), bool(on[2] and on[3])
    if on[0] and on[3]:
        return Window(WHOLE, f1, f2, math.inf, math.inf)
    a, b = max(vf, lo), min(vt, hi)
    # The first moment of the gap that may be in force is a (the later of the gap's and the period's starts).
    if a > b or not zone.active_at(np.array([a], dtype=np.int64))[0]:
        return Window(NEVER, False, False, 0.0, 0.0)
    reach1 = vmax * ((b - t1_ns) / 1e9 + e_s) + r
    reach2 = vmax * ((t2_ns - a) / 1e9 + e_s) + r
    return Window(PARTIAL, f1, f2, max(reach1, 0.0), max(reach2, 0.0), (a, b))


LENS_INSTANTS = 5  # instants of the window tried by ``lens_inside`` (its ends, and between)


def lens_inside(
    fixes: tuple[float, float, float, float], zone: BaseGeometry, t1_ns: int, t2_ns: int, e_s: float, r: float,
    vmax: float, w: Window,
) -> bool:
    """Whether at some instant t of the window every position the object can have lies in the zone.

    At t the object is in the lens ``disc(p1, v (t - t1 + e) + r) ∩ disc(p2, v (t2 - t + e) + r)``; if
    polygons covering both discs (1 m wider) meet only inside the zone, every path is in the zone at t, and
    just before t too (the lens moves at speed v), so the window's end ``valid_to`` itself can be tried.
    Instants: the window's ends and evenly between (the lens is smallest near the middle of the gap).
    """
    from overflight.analysis.prism._geo import disc_cover

    lo, hi = t1_ns - math.ceil(e_s * 1e9), t2_ns + math.ceil(e_s * 1e9)
    a = max(w.window[0], lo)
    b = min(w.window[1], hi)
    lon1, lat1, lon2, lat2 = fixes
    for t in np.unique(np.linspace(a, b, LENS_INSTANTS).round().astype(np.int64)):
        rho1 = vmax * ((int(t) - t1_ns) / 1e9 + e_s) + r
        rho2 = vmax * ((t2_ns - int(t)) / 1e9 + e_s) + r
        lens = shapely.intersection(disc_cover(lon1, lat1, max(rho1, 0.0) + 1.0),
                                    disc_cover(lon2, lat2, max(rho2, 0.0) + 1.0))
        if not lens.is_empty and bool(shapely.covers(zone, lens)):
            return True
    return False


__all__ = ["LENS_INSTANTS", "NEVER", "PARTIAL", "WHOLE", "Window", "classify", "lens_inside", "period_ns"]
