"""Synthetic aircraft-like tracks for the transit benchmarks and tests (deterministic for a seed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pyproj import Geod


def synth_tracks(n_fixes: int, n_tracks: int, *, seed: int = 0, bbox: tuple[float, float, float, float] = (
        -10.0, 35.0, 60.0, 60.0), dt_s: float = 10.0, speed_mps: float = 220.0, interleave: bool = True,
                 ) -> pd.DataFrame:
    """Tracks flying great-circle-ish legs with gentle turns over ``bbox``; rows sorted by time (tracks
    interleaved, like a live feed) when ``interleave``, else by (track, time)."""
    rng = np.random.default_rng(seed)
    geod = Geod(ellps="WGS84")
    per = np.full(n_tracks, n_fixes // n_tracks)
    per[: n_fixes - per.sum()] += 1
    tid = np.repeat(np.arange(n_tracks), per)
    k = np.arange(n_fixes) - np.repeat(np.cumsum(per) - per, per)
    lon0 = rng.uniform(bbox[0], bbox[2], n_tracks)
    lat0 = rng.uniform(bbox[1], bbox[3], n_tracks)
    hdg0 = rng.uniform(0, 360, n_tracks)
    turn = rng.normal(0, 0.02, n_fixes)  # degrees per step, random walk of heading
    turn[k == 0] = 0.0
    hdg = hdg0[tid] + pd.Series(turn).groupby(tid).cumsum().to_numpy()
    lon = np.empty(n_fixes)
    lat = np.empty(n_fixes)
    first = k == 0
    lon[first], lat[first] = lon0, lat0
    # Advance all tracks one step at a time (vectorised over tracks).
    step = speed_mps * dt_s
    cur_lon, cur_lat = lon0.copy(), lat0.copy()
    starts = np.cumsum(per) - per
    for j in range(1, int(per.max())):
        alive = per > j
        idx = starts[alive] + j
        x, y, _ = geod.fwd(cur_lon[alive], cur_lat[alive], hdg[idx - 1], np.full(alive.sum(), step))
        cur_lon[alive], cur_lat[alive] = x, y
        lon[idx], lat[idx] = x, y
    t0 = pd.Timestamp("2024-06-21T00:00:00Z").value
    t_start = rng.uniform(0, 3600, n_tracks)
    t = t0 + ((t_start[tid] + k * dt_s) * 1e9).astype(np.int64)
    alt = 10000.0 + rng.normal(0, 50, n_fixes)
    df = pd.DataFrame({"track_id": np.char.add("T", tid.astype(str)).astype(object),
                       "time": pd.to_datetime(t, utc=True).as_unit("ns"), "lon": lon, "lat": lat, "alt_m": alt})
    if interleave:
        df = df.sort_values("time", kind="stable").reset_index(drop=True)
    return df
