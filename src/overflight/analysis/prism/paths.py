"""Avoiding paths for maps: for a pair of sightings and a zone, the shortest path found that stays out of it.

A prism verdict rests on two lengths (see ``verdicts``): the budget ``vmax * (dt + e1 + e2)`` and ``A``, the
shortest path from fix 1 to fix 2 that avoids the zone. ``avoiding_paths`` draws ``A`` for each consecutive
pair and each zone, from the same per-pair evaluation the verdicts use (``evaluate``):

- ``avoiding``: the path around the zone (great-circle legs between its vertices), whose length is the
  pair's ``detour_m``; for ``necessary`` it is longer than the budget, so it leaves the ellipse;
- ``direct``: the direct geodesic already misses the zone, so it is the avoiding path;
- ``none``: nothing to draw, with the reason (a fix lies in the zone, the fixes are inconsistent, the
  zone is in force for part of the gap only, or the search stopped at its memory ceiling).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from overflight.analysis.prism import evaluate, make_pairs
from overflight.errors import InputError
from overflight.geodesy import densify_path
from overflight.units import DistanceLike, SpeedLike, parse_distance, parse_speed
from overflight.zones import Zone

DRAW_STEP_M = 10_000.0  # legs are geodesics: densified for a flat map (straight lon/lat segments)


@dataclass
class AvoidingPath:
    """One (pair, zone): the evaluation's verdict and the path drawn (lon/lat vertices, empty for ``none``)."""

    track_id: str
    from_index: Any
    to_index: Any
    zone_id: str
    verdict: str
    kind: str  # avoiding, direct, none
    length_m: float | None
    budget_m: float  # vmax * dt, as in the verdict table
    budget_hi_m: float  # vmax * (dt + e1 + e2): the widest budget the verdict is judged against
    lon: list[float]
    lat: list[float]
    note: str


def avoiding_paths(sightings: Any, zones: Iterable[Zone], vmax: SpeedLike, *, pos_err_col: str = "pos_err_m",
                   time_err_col: str = "time_err_s", step_m: DistanceLike = DRAW_STEP_M) -> list[AvoidingPath]:
    """The avoiding path of every consecutive pair of `sightings` (as for ``verdicts``) and every zone.

    Parameters
    ----------
    sightings : DataFrame or path
        As ``verdicts`` takes them (``track_id``, ``time``, ``lon``, ``lat``, optional errors).
    zones : iterable of Zone
        Areal zones; a zone with a validity period gets ``kind="none"`` (its reachable set depends on time).
    vmax : str or float
        Top speed: text with a unit (``"185kmh"``) or a number of metres per second.
    step_m : str or float
        Densification step of the drawn legs: text with a unit (``"5km"``) or a number of metres.
    """
    vmax = parse_speed(vmax, default_unit="mps", field="vmax")
    step_m = parse_distance(step_m, field="step_m")
    if not step_m > 0:
        raise InputError(f"step must be a positive distance, not {step_m!r}", field="step_m")
    pairs = make_pairs(sightings, pos_err_col=pos_err_col, time_err_col=time_err_col)
    zs = list(zones)
    out: list[AvoidingPath] = []
    for i in range(len(pairs.lon1)):
        ends = (float(pairs.lon1[i]), float(pairs.lat1[i]), float(pairs.lon2[i]), float(pairs.lat2[i]))
        budget = float(vmax * (pairs.dt[i] + pairs.e[i]))
        head = (str(pairs.track_id[i]), pairs.from_index[i], pairs.to_index[i])
        for z in zs:
            verdict, kind, length, lon, lat, note = _one(ends, z, budget, float(pairs.r1[i]), float(pairs.r2[i]))
            if kind != "none":
                lon, lat, _, _ = densify_path(lon, lat, step_m)
            out.append(AvoidingPath(*head, z.id, verdict, kind, length, float(vmax * pairs.dt[i]), budget,
                                    np.round(lon, 6).tolist(), np.round(lat, 6).tolist(), note))
    return out


def _one(ends: tuple[float, float, float, float], z: Zone, budget: float, r1: float, r2: float
         ) -> tuple[str, str, float | None, Any, Any, str]:
    """(verdict, kind, length, lon, lat, note) of one pair and one zone."""
    if z.is_timed:
        return "", "none", None, [], [], "in force for part of the time only: no single avoiding path"
    ev = evaluate(*ends, z.geometry, budget_hi=budget, r1=r1, r2=r2, precise=True)
    length = float(ev.detour) if math.isfinite(ev.detour) else None
    if ev.verdict == "inconsistent":
        return ev.verdict, "none", None, [], [], "the fixes are inconsistent at this speed"
    if ev.path_lon is not None and len(ev.path_lon) >= 2:
        note = (f"shortest path found around {z.id}: {length / 1000:.0f} km; widest budget {budget / 1000:.0f} km"
                if length is not None else f"path around {z.id}")
        return ev.verdict, "avoiding", length, ev.path_lon, ev.path_lat, note
    if math.isinf(ev.detour):
        return ev.verdict, "none", None, [], [], f"a fix lies in {z.id}: no path avoids it"
    if ev.verdict in ("possible", "impossible") and ev.path_lon is None:
        return (ev.verdict, "direct", length if ev.verdict == "possible" else None, [ends[0], ends[2]],
                [ends[1], ends[3]], f"the direct geodesic misses {z.id}")
    return ev.verdict, "none", length, [], [], "no avoiding path found within the search's limits"


__all__ = ["AvoidingPath", "avoiding_paths"]
