"""Crossing times with their uncertainty: the fixes that bracket each entry and exit of a transit visit.

Transit puts an entry or exit on the border by interpolating along the geodesic between two fixes. How far
that time can be trusted depends on those two fixes: `bracket_visits` adds, for the entry and the exit of
every visit, the last fix at or before it and the first fix at or after it (time and position), and the
range the crossing time can take:

- ``entry_time_min`` / ``entry_time_max`` (and ``exit_…``): the bracketing fixes' times when the crossing lies
  in a gap longer than ``max_gap`` (the visit is then not observed: the object crossed some time in
  between); the interpolated time itself otherwise (the path between close fixes is taken as known), and
  for a visit that starts or ends with the track or a validity period.

Tracks read in chunks (a big file streamed) are bracketed with `Brackets`, fed the same chunks again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import pandas as pd

from overflight.units import DurationLike, parse_duration

SIDES = ("entry", "exit")
BRACKET_COLUMNS = [f"{side}_{which}_{c}" for side in SIDES for which in ("before", "after")
                   for c in ("time", "lon", "lat")] + [f"{side}_time_{m}" for side in SIDES for m in ("min", "max")]
_FAR = np.iinfo(np.int64).max


def _naive_utc(t: pd.Series) -> np.ndarray:
    return pd.to_datetime(t, utc=True).dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")


class Brackets:
    """Running bracketing fixes of a visit table's entry and exit times over track chunks.

    Feed every chunk of the tracks the visits came from (any order, any chunking), then call `apply`.
    """

    def __init__(self, visits: pd.DataFrame) -> None:
        self.visits = visits
        ev = []
        for side in SIDES:
            t = _naive_utc(visits[f"{side}_time"])
            ev.append(pd.DataFrame({"k": np.arange(len(visits)), "side": side,
                                    "track_id": visits["track_id"].astype(str).to_numpy(), "t": t}))
        self._ev = pd.concat(ev, ignore_index=True).sort_values("t", kind="stable").reset_index(drop=True)
        n = len(self._ev)
        self.before_t = np.full(n, np.iinfo(np.int64).min)
        self.after_t = np.full(n, _FAR)
        self.before_xy = np.full((n, 2), np.nan)
        self.after_xy = np.full((n, 2), np.nan)

    def feed(self, tracks: pd.DataFrame) -> None:
        """Update the brackets with one chunk of fixes (``track_id, time, lon, lat``)."""
        if len(tracks) == 0 or len(self._ev) == 0:
            return
        fx = pd.DataFrame({"track_id": tracks["track_id"].astype(str).to_numpy(),
                           "t": _naive_utc(tracks["time"]),
                           "lon": tracks["lon"].to_numpy(float), "lat": tracks["lat"].to_numpy(float)})
        fx = fx.sort_values("t", kind="stable").reset_index(drop=True)
        fx["ft"] = fx["t"].to_numpy().view(np.int64)
        ev = self._ev[["track_id", "t"]]
        steps: tuple[tuple[Literal["backward", "forward"], np.ndarray, np.ndarray, Any], ...] = (
                ("backward", self.before_t, self.before_xy, np.greater),
                ("forward", self.after_t, self.after_xy, np.less))
        for direction, best_t, best_xy, better in steps:
            m = pd.merge_asof(ev, fx, on="t", by="track_id", direction=direction, allow_exact_matches=True)
            have = m["ft"].notna().to_numpy()
            cand = m["ft"].fillna(0).to_numpy(dtype=np.int64)  # int64 exactly (floats would round ns)
            upd = have & better(cand, best_t)
            best_t[upd] = cand[upd]
            best_xy[upd, 0] = m["lon"].to_numpy(float)[upd]
            best_xy[upd, 1] = m["lat"].to_numpy(float)[upd]

    def apply(self, max_gap_s: DurationLike) -> pd.DataFrame:
        """The visits with the bracket columns (`BRACKET_COLUMNS`) added after the visit columns.

        ``max_gap_s``: seconds, or text with a unit (``"10min"``), as transit's ``max_gap``.
        """
        max_gap_s = parse_duration(max_gap_s, field="max_gap")
        nv = len(self.visits)
        order = np.argsort((self._ev["side"] == "exit").to_numpy() * nv + self._ev["k"].to_numpy(), kind="stable")
        found: dict[str, tuple[np.ndarray, ...]] = {}
        for j, side in enumerate(SIDES):
            sel = order[j * nv:(j + 1) * nv]
            found[side] = (self.before_t[sel], self.before_xy[sel, 0], self.before_xy[sel, 1],
                           self.after_t[sel], self.after_xy[sel, 0], self.after_xy[sel, 1])
        return with_brackets(self.visits, found, max_gap_s)


def with_brackets(visits: pd.DataFrame, found: dict[str, tuple[np.ndarray, ...]], max_gap_s: float) -> pd.DataFrame:
    """The visits with `BRACKET_COLUMNS` added, from the bracketing fixes of each side.

    ``found[side]`` holds, per visit, (before time ns, before lon, before lat, after time ns, after lon, after
    lat); a time of the int64 extremes means no such fix. The one place the columns and their time range rule
    are made, for the second pass (`Brackets`) and for the brackets the transit kernel finds in its one pass.
    """
    out = visits.copy()

    def times(ns: np.ndarray) -> pd.Series:
        ok = (ns != _FAR) & (ns != np.iinfo(np.int64).min)
        # (int64 ns viewed as datetime64[ns], NaT at the int64 minimum: pandas reads bare int64 value by value)
        t = pd.Series(pd.to_datetime(np.where(ok, ns, np.iinfo(np.int64).min).astype(np.int64, copy=False)
                                     .view("M8[ns]"), utc=True), index=out.index,
                      dtype="datetime64[ns, UTC]")
        return t.where(ok)

    for side in SIDES:
        bt, bx, by, at, ax, ay = found[side]
        out[f"{side}_before_time"] = times(bt)
        out[f"{side}_before_lon"] = bx
        out[f"{side}_before_lat"] = by
        out[f"{side}_after_time"] = times(at)
        out[f"{side}_after_lon"] = ax
        out[f"{side}_after_lat"] = ay
    for side in SIDES:
        t = pd.to_datetime(out[f"{side}_time"], utc=True)
        b, a = out[f"{side}_before_time"], out[f"{side}_after_time"]
        gap = (a - b).dt.total_seconds()
        in_gap = (out[f"{side}_kind"] == "crossing") & (gap > float(max_gap_s))
        out[f"{side}_time_min"] = b.where(in_gap, t)
        out[f"{side}_time_max"] = a.where(in_gap, t)
    return out


def bracket_visits(visits: pd.DataFrame, tracks: pd.DataFrame | Iterable[pd.DataFrame],
                   max_gap_s: DurationLike) -> pd.DataFrame:
    """Visits with their bracketing fixes and crossing-time ranges.

    Visits (from `overflight.analysis.transit.transit`) with their bracketing fixes and crossing-time
    ranges (module docstring); ``tracks``: the track table the visits came from, or its chunks;
    ``max_gap_s``: seconds or text with a unit (``"10min"``), as transit's ``max_gap``.
    """
    br = Brackets(visits)
    for chunk in ([tracks] if isinstance(tracks, pd.DataFrame) else tracks):
        br.feed(chunk)
    return br.apply(max_gap_s)


__all__ = ["BRACKET_COLUMNS", "Brackets", "bracket_visits", "with_brackets"]
