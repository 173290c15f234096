"""Prism inputs: consecutive sighting pairs flattened to arrays, and the zones as (id, geometry) items."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry

from overflight.analysis.prism._geo import FloatArray
from overflight.errors import InputError
from overflight.zones import as_zoneset


@dataclass
class Pairs:
    """Consecutive sighting pairs, flattened to arrays."""

    track_id: np.ndarray
    from_index: np.ndarray
    to_index: np.ndarray
    lon1: FloatArray
    lat1: FloatArray
    lon2: FloatArray
    lat2: FloatArray
    r1: FloatArray
    r2: FloatArray
    dt: FloatArray
    e: FloatArray  # e1 + e2
    t1_ns: np.ndarray | None = None  # int64 ns since the epoch of each fix (needed for validity periods)
    t2_ns: np.ndarray | None = None



def _zone_items(zones: Any) -> list[tuple[str, BaseGeometry]]:
    """(id, geometry) of each zone, after the one coercion of every ``zones`` argument (``zones.as_zoneset``).

    Prism needs areas or points: any other geometry is an InputError naming the zone.
    """
    out = []
    for z in as_zoneset(zones):
        zid, g = str(z.id), z.geometry
        if not isinstance(g, BaseGeometry) or g.is_empty:
            raise InputError("zone has no geometry", row=zid, field="geometry")
        if g.geom_type not in ("Polygon", "MultiPolygon", "Point", "MultiPoint", "GeometryCollection"):
            raise InputError(f"zone geometry must be an area or a point, not {g.geom_type}", row=zid, field="geometry")
        out.append((zid, g))
    return out


def _sightings_frame(sightings: Any) -> tuple[pd.DataFrame, str | None]:
    if isinstance(sightings, str | Path):
        from overflight.tracks import read_tracks

        df, _ = read_tracks(sightings)
        return df, str(sightings)
    if not isinstance(sightings, pd.DataFrame):
        raise InputError("sightings must be a track table (DataFrame) or a file path", field="sightings")
    return sightings, None


def _resolve_places(df: pd.DataFrame, pos_err_col: str, file: str | None) -> pd.DataFrame:
    """Fill lon/lat of rows that only name a place, with the place's extent as position error."""
    if "place" not in df.columns:
        return df
    need = df["place"].notna() & (df["lon"].isna() | df["lat"].isna())
    if not need.any():
        return df
    from overflight import gazetteer

    df = df.copy()
    for idx in np.flatnonzero(need.to_numpy()):
        label = df.index[int(idx)]
        name = str(df["place"].iloc[idx])
        try:
            place = gazetteer.resolve(name)
        except Exception as exc:  # the gazetteer raises its own errors: name the row here
            raise InputError(f"cannot resolve place {name!r}: {exc}", file=file, row=int(idx), field="place") from None
        df.loc[label, "lon"], df.loc[label, "lat"] = float(place.lon), float(place.lat)
        extent = float(getattr(place, "extent_m", 0.0) or getattr(place, "radius_m", 0.0) or 0.0)
        cur = df[pos_err_col].iloc[idx] if pos_err_col in df.columns else np.nan
        if not np.isfinite(cur) if isinstance(cur, float) else pd.isna(cur):
            df.loc[label, pos_err_col] = extent
    return df


def make_pairs(
    sightings: Any, *, pos_err_col: str = "pos_err_m", time_err_col: str = "time_err_s",
) -> Pairs:
    """Consecutive pairs (by time) within each ``track_id`` of a sightings table or file."""
    df, file = _sightings_frame(sightings)
    for col in ("time", "lon", "lat"):
        if col not in df.columns:
            raise InputError(f"sightings need a {col!r} column", file=file, field=col)
    if "track_id" not in df.columns:
        df = df.assign(track_id="track")
    df = _resolve_places(df, pos_err_col, file)
    t = df["time"]
    if not isinstance(t.dtype, pd.DatetimeTZDtype):
        try:
            t = pd.to_datetime(t, utc=False)
        except (TypeError, ValueError) as exc:
            raise InputError(f"cannot read times: {exc}", file=file, field="time") from None
        if not isinstance(t.dtype, pd.DatetimeTZDtype):
            raise InputError("times must be timezone-aware (e.g. 2024-06-21T01:40Z)", file=file, field="time")
    t = t.dt.tz_convert("UTC")
    lon = pd.to_numeric(df["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(df["lat"], errors="coerce").to_numpy(dtype=float)
    for name, arr, lim in (("lon", lon, 540.0), ("lat", lat, 90.0)):
        bad = ~np.isfinite(arr) | (np.abs(arr) > lim)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"bad coordinate {df[name].iloc[i]!r}", file=file, row=i, field=name)
    if t.isna().any():
        i = int(np.flatnonzero(t.isna().to_numpy())[0])
        raise InputError("missing time", file=file, row=i, field="time")

    def err(col: str) -> FloatArray:
        if col not in df.columns:
            return np.zeros(len(df))
        raw = df[col]
        # An empty cell means "no error given" (0); text that is not a finite number ('abc', 'nan') is an error.
        blank = raw.isna().to_numpy() | (raw.astype("str").str.strip() == "").to_numpy()
        v = pd.to_numeric(raw.where(~blank), errors="coerce").to_numpy(dtype=float)
        v = np.where(blank, 0.0, v)
        if (v < 0).any() or not np.isfinite(v).all():
            i = int(np.flatnonzero((v < 0) | ~np.isfinite(v))[0])
            raise InputError(f"error must be a non-negative number, got {df[col].iloc[i]!r}", file=file, row=i,
                             field=col)
        return v

    r, e = err(pos_err_col), err(time_err_col)
    tid = df["track_id"].astype(str).to_numpy()
    ns = t.dt.as_unit("ns").astype("int64").to_numpy() if hasattr(t.dt, "as_unit") else t.astype("int64").to_numpy()
    order = np.lexsort((ns, tid))
    tid_s, ns_s = tid[order], ns[order]
    same = tid_s[1:] == tid_s[:-1]
    a, b = order[:-1][same], order[1:][same]
    labels = df.index.to_numpy()
    return Pairs(
        track_id=tid[a], from_index=labels[a], to_index=labels[b],
        lon1=lon[a], lat1=lat[a], lon2=lon[b], lat2=lat[b], r1=r[a], r2=r[b],
        dt=(ns_s[1:][same] - ns_s[:-1][same]) / 1e9, e=e[a] + e[b], t1_ns=ns[a], t2_ns=ns[b],
    )


__all__ = ["Pairs", "make_pairs"]
