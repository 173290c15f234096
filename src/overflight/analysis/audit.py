"""Audit an event table: do the coordinates of each row lie in the country (and region) the row states.

Event sets from the field (ACLED-style CSVs, incident spreadsheets) carry coordinates and a stated place.
:func:`audit` locates every row with the one membership rule (`ZoneIndex`), matches the stated country to a
country zone (ISO 3166-1 alpha-2 or alpha-3 code, or name; case- and accent-insensitive) and the stated
region to a region zone of that country (ISO 3166-2 code or name, as ``--zone`` does, see
`overflight.zones.resolve_zone_ids`), and reports each row whose point lies outside the stated zone with the
geodesic distance to that zone's boundary and the zones the point does lie in.

A row that cannot be checked (no or impossible coordinates, no stated country, a name that matches no zone
or several) is kept, counted and named with its reason: rows read = rows checked + rows not checked.

:func:`geonames_agreement` audits the shipped gazetteer the same way: how often a place's GeoNames admin1 code
agrees with the ne-admin1 region its coordinates lie in.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from overflight.errors import InputError
from overflight.geodesy import GEOD as _GEOD
from overflight.geodesy import aeqd_transformer
from overflight.index import ZoneIndex
from overflight.zones import ZoneSet, fold_name, resolve_zone_ids

STATUSES = ("ok", "outside_country", "outside_region", "unchecked")
OUT_COLUMNS = ("row", "audit", "reason", "stated_country_zone", "lies_in_country", "country_distance_km",
               "stated_region_zone", "lies_in_region", "region_distance_km", "nearest_lon", "nearest_lat")


@dataclass
class AuditResult:
    """The audited rows (`rows`: the input columns plus `OUT_COLUMNS`) and the counts."""

    rows: pd.DataFrame
    counts: dict[str, int]
    unchecked: dict[str, list[int]] = field(default_factory=dict)  # reason -> row numbers
    zones: dict[str, str] = field(default_factory=dict)  # "country"/"region" -> boundary set name

    def flagged(self) -> pd.DataFrame:
        """The rows outside their stated place, and those that could not be checked."""
        return self.rows[self.rows["audit"] != "ok"]

    def summary_lines(self, max_rows: int = 20) -> list[str]:
        """The audit in plain lines: counts by status, then at most ``max_rows`` rows that fail."""
        c = self.counts
        out = [f"{c['rows']} rows read: {c['ok']} inside their stated place, {c['outside_country']} outside the "
               f"stated country, {c['outside_region']} inside it but outside the stated region, "
               f"{c['unchecked']} not checked",
               "zones: " + ", ".join(f"{k} {v}" for k, v in self.zones.items())]
        for reason, rows in sorted(self.unchecked.items(), key=lambda kv: -len(kv[1])):
            shown = ", ".join(str(r) for r in rows[:max_rows]) + (", ..." if len(rows) > max_rows else "")
            out.append(f"  not checked, {reason}: {len(rows)} (rows {shown})")
        return out


# --------------------------------------------------------------------------------------------- distance

@lru_cache(maxsize=1)
def _country_table() -> dict[str, tuple[str, str]]:
    """ISO alpha-2 -> (alpha-3, name), from the shipped GeoNames table's country list."""
    import pyarrow.parquet as pq

    from overflight import gazetteer

    meta = pq.read_schema(gazetteer.data_path()).metadata or {}
    return {k: (v[0], v[1]) for k, v in json.loads(meta.get(b"overflight:countries", b"{}")).items()}


def distance_to_boundary(lon: float, lat: float, geom: BaseGeometry, *, boundary: BaseGeometry | None = None,
                         ) -> tuple[float, float, float]:
    """Geodesic distance in metres from a point to the nearest point of a zone's boundary, and that point.

    The boundary's edges are taken as given in lon/lat (split into steps of at most 0.01°). Near the point
    they are mapped to an azimuthal equidistant projection centred on it, in which the distance from the
    centre is the WGS84 geodesic distance, and the nearest point is found there. Only the part of the
    boundary that can be nearer than the lon/lat-nearest vertex's geodesic distance is mapped. Pass the
    zone's `boundary` when calling this for many points of one zone.
    """
    if boundary is None:
        boundary = shapely.boundary(geom)
    p = shapely.Point(lon, lat)
    q0 = shapely.shortest_line(p, boundary).coords[1]
    d0 = float(_GEOD.inv(lon, lat, q0[0], q0[1])[2])
    dlat = d0 / 110_000.0 + 0.01
    top = min(89.9, abs(lat) + dlat)
    dlon = d0 / (111_000.0 * np.cos(np.radians(top))) + 0.01
    local = boundary
    if abs(lat) + dlat < 89.0 and lon - dlon > -180.0 and lon + dlon < 180.0:
        local = shapely.clip_by_rect(boundary, lon - dlon, lat - dlat, lon + dlon, lat + dlat)
    if local.is_empty:
        return d0, q0[0], q0[1]
    local = shapely.segmentize(local, 0.01)
    aeqd = aeqd_transformer(lon, lat)
    projected = shapely.transform(local, lambda xy: np.column_stack(aeqd.transform(xy[:, 0], xy[:, 1])))
    line = shapely.shortest_line(shapely.Point(0.0, 0.0), projected)
    qx, qy = line.coords[1]
    d = float(np.hypot(qx, qy))
    if d >= d0:
        return d0, q0[0], q0[1]
    qlon, qlat = aeqd.transform(qx, qy, direction="INVERSE")
    return d, float(qlon), float(qlat)


# --------------------------------------------------------------------------------------------- matching

def _country_matcher(countries: ZoneSet) -> dict[str, set[str]]:
    """Folded code or name -> country zone ids."""
    table: dict[str, set[str]] = {}

    def add(key: Any, zid: str) -> None:
        if isinstance(key, str) and key and key != "-99":
            table.setdefault(fold_name(key), set()).add(zid)

    for z in countries:
        for key in (z.id, z.name, z.properties.get("name_long"), z.properties.get("iso_a2"),
                    z.properties.get("adm0_a3"), z.properties.get("a3")):
            add(key, z.id)
    for iso2, (iso3, name) in _country_table().items():
        if iso3 in countries:
            add(iso2, iso3)
            add(name, iso3)
    if "KOS" in countries:  # Natural Earth's code for Kosovo; ISO's user-assigned codes are XK / XKX
        add("XK", "KOS")
        add("XKX", "KOS")
    return table


def _alpha2(countries: ZoneSet, zid: str) -> str | None:
    a2 = countries[zid].properties.get("iso_a2")
    if isinstance(a2, str) and a2 and a2 != "-99":
        return a2
    return next((k for k, (a3, _) in _country_table().items() if a3 == zid), None)


# --------------------------------------------------------------------------------------------- audit

def _coords(values: pd.Series) -> np.ndarray:
    text = values.astype(str).str.strip()
    return np.asarray(pd.to_numeric(text.where(text != ""), errors="coerce"), dtype=float)


def audit(
    events: pd.DataFrame, *, country_col: str, countries: ZoneSet, region_col: str | None = None,
    regions: ZoneSet | None = None, lon_col: str = "lon", lat_col: str = "lat", first_row: int = 1,
) -> AuditResult:
    """Check each row's coordinates against its stated country (and region).

    Parameters
    ----------
    events
        The table, every column as text; row numbers count from `first_row` (1: the first data row).
    country_col, region_col
        The columns stating the country (ISO alpha-2 / alpha-3 or name) and the region (ISO 3166-2 or name).
    countries, regions
        The zones to check against (e.g. ``ne-admin0`` and ``ne-admin1``); `regions` is needed with `region_col`.
    """
    for col in (lon_col, lat_col, country_col, *([region_col] if region_col else [])):
        if col not in events.columns:
            raise InputError(f"no column {col!r} (columns: {', '.join(map(str, events.columns))})", field=col)
    if region_col and regions is None:
        raise InputError("a region column needs region zones", field="region_col")
    n = len(events)
    lon, lat = _coords(events[lon_col]), _coords(events[lat_col])
    reason = np.full(n, "", dtype=object)
    reason[np.isnan(lon) | np.isnan(lat)] = "no coordinates"
    bad = ~np.isnan(lon) & ~np.isnan(lat) & ((np.abs(lon) > 180.0) | (np.abs(lat) > 90.0))
    reason[bad] = "coordinates out of range"
    ok_xy = reason == ""

    # Where each point lies: every zone containing it (a point in two claims is in both), as (row, zone id) pairs.
    def members(zs: ZoneSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows = np.flatnonzero(ok_xy)
        pi, zi = ZoneIndex.cached(zs).locate_all(lon[rows], lat[rows])
        point, zone = rows[pi], np.asarray(zs.ids, dtype=object)[zi]
        lies_in = np.full(n, "", dtype=object)
        if len(point):  # pairs come ordered by point: the first zone of each point, then the few second ones
            first = np.r_[True, point[1:] != point[:-1]]
            lies_in[point[first]] = zone[first]
            for k in np.flatnonzero(~first):  # points inside two claims (disputed areas): rare
                lies_in[point[k]] = f"{lies_in[point[k]]}|{zone[k]}"
        return point, zone, lies_in

    def inside(point: np.ndarray, zone: np.ndarray, stated: np.ndarray) -> np.ndarray:
        mask = np.zeros(n, dtype=bool)
        mask[point[zone == stated[point]]] = True
        return mask

    c_point, c_zone, in_country = members(countries)
    if region_col and regions is not None:
        r_point, r_zone, in_region = members(regions)
    else:
        r_point, r_zone, in_region = np.zeros(0, int), np.zeros(0, object), np.full(n, "", dtype=object)

    cmatch = _country_matcher(countries)
    stated_c = events[country_col].astype(str).str.strip().to_numpy(dtype=object)
    country_zone = np.full(n, "", dtype=object)
    for value in set(stated_c):  # one lookup per distinct stated name, not per row
        rows = stated_c == value
        found = cmatch.get(fold_name(value), set()) if value else set()
        if len(found) == 1:
            country_zone[rows] = next(iter(found))
        else:
            why = ("no stated country" if not value else f"country {value!r} matches no zone" if not found
                   else f"country {value!r} matches several zones ({', '.join(sorted(found))})")
            reason[rows & (reason == "")] = why

    region_zone = np.full(n, "", dtype=object)
    r_reason = np.full(n, "", dtype=object)  # a region that cannot be matched leaves the country check standing
    stated_r = (events[region_col].astype(str).str.strip().to_numpy(dtype=object) if region_col
                else np.full(n, "", dtype=object))
    if region_col and regions is not None:
        pools: dict[str, ZoneSet | None] = {"": regions}  # the regions of each stated country, built once

        def pool_of(cz: str) -> ZoneSet | None:
            if cz not in pools:
                a2 = _alpha2(countries, cz)
                keep = [z.id for z in regions if z.properties.get("adm0_a3") == cz or
                        (a2 is not None and z.properties.get("country") == a2)]
                pools[cz] = regions.select(keep) if keep else None
            return pools[cz]

        for (cz, value) in set(zip(country_zone, stated_r, strict=True)):  # once per distinct pair, not per row
            if not value:
                continue
            rows = (country_zone == cz) & (stated_r == value)
            pool = pool_of(cz)
            try:
                if pool is None:
                    raise InputError(f"no region zones for country {cz}")
                region_zone[rows] = resolve_zone_ids(pool, [value])[0]
            except InputError as exc:
                what = "is ambiguous" if "ambiguous" in exc.reason else "matches no zone"
                why = f"region {value!r} {what}"
                r_reason[rows] = why

    status = np.full(n, "ok", dtype=object)
    checked = reason == ""
    out_c = checked & ~inside(c_point, c_zone, country_zone)
    out_r = checked & ~out_c & (region_zone != "") & ~inside(r_point, r_zone, region_zone)
    status[~checked | (~out_c & (r_reason != ""))] = "unchecked"
    status[out_r] = "outside_region"
    status[out_c] = "outside_country"
    reason = np.where((reason == "") & (status == "unchecked"), r_reason, reason)
    c_dist = np.full(n, np.nan)
    r_dist = np.full(n, np.nan)
    near_lon = np.full(n, np.nan)
    near_lat = np.full(n, np.nan)
    # Distances only for the rows outside their stated place (the few an audit is about).
    borders: dict[tuple[str, str], BaseGeometry] = {}

    def border(which: str, zs: ZoneSet, zid: str) -> BaseGeometry:
        if (which, zid) not in borders:
            borders[which, zid] = shapely.boundary(zs[zid].geometry)
        return borders[which, zid]

    for i in np.flatnonzero(out_c):
        cz = country_zone[i]
        c_dist[i], near_lon[i], near_lat[i] = distance_to_boundary(
            lon[i], lat[i], countries[cz].geometry, boundary=border("country", countries, cz))
    for i in np.flatnonzero(out_r):
        assert regions is not None
        rz = region_zone[i]
        r_dist[i], qlon, qlat = distance_to_boundary(lon[i], lat[i], regions[rz].geometry,
                                                     boundary=border("region", regions, rz))
        if np.isnan(near_lon[i]):
            near_lon[i], near_lat[i] = qlon, qlat

    out = events.copy()
    added = {
        "row": np.arange(first_row, first_row + n), "audit": status, "reason": reason,
        "stated_country_zone": country_zone, "lies_in_country": in_country,
        "country_distance_km": np.round(c_dist / 1000.0, 3),
        "stated_region_zone": region_zone, "lies_in_region": in_region,
        "region_distance_km": np.round(r_dist / 1000.0, 3),
        "nearest_lon": np.round(near_lon, 6), "nearest_lat": np.round(near_lat, 6),
    }
    clash = [c for c in added if c in out.columns]
    if clash:
        raise InputError(f"the table already has columns {', '.join(clash)}", field=clash[0])
    for k, v in added.items():
        out[k] = v
    counts = Counter(status.tolist())
    unchecked: dict[str, list[int]] = {}
    for r, why in zip(added["row"], reason, strict=True):
        if why:
            unchecked.setdefault(str(why), []).append(int(r))
    result_counts = {"rows": n, **{s: int(counts.get(s, 0)) for s in STATUSES}}
    zones = {"country": countries.provenance.name}
    if regions is not None and region_col:
        zones["region"] = regions.provenance.name
    return AuditResult(out, result_counts, unchecked, zones)


def read_events(path: str, *, columns: Sequence[str] = ()) -> pd.DataFrame:
    """An event CSV with every column as text (nothing converted, nothing dropped); InputError on bad lines."""
    from pathlib import Path

    p = Path(path)
    if not p.exists():
        raise InputError("no such file", file=p)
    from overflight.safeio import read_text_csv

    df = read_text_csv(p)
    for c in columns:
        if c not in df.columns:
            raise InputError(f"no column {c!r} (columns: {', '.join(map(str, df.columns))})", file=p, row=1,
                             field=c)
    return df



def geonames_agreement(zs: ZoneSet, countries: list[str] | None = None) -> Any:
    """How often a GeoNames place's ``admin1`` agrees with the ne-admin1 region its coordinates lie in.

    GeoNames codes a place's first-level division as country code + admin1 code (``KZ.07``); Natural Earth
    carries the same code for each region (``gn_a1_code``), so the match is exact, with no name matching. Each
    place of the shipped gazetteer falls in one class: ``agree`` (the region holding it has the place's code),
    ``disagree``, ``outside`` (in no region: on the coast or an island that the land-only polygons miss) or
    ``no_code`` (GeoNames gives no admin1, ``00``, or the region has no GeoNames code). A place in two disputed
    regions agrees when either carries its code. Returns a DataFrame, one row per country plus ``ALL``.
    """
    import pyarrow.parquet as pq

    from overflight import gazetteer

    t = pq.read_table(gazetteer.data_path(), columns=["lon", "lat", "cc", "admin1"]).to_pandas()
    if countries:
        t = t[t["cc"].isin(countries)].reset_index(drop=True)
    code = (t["cc"].astype(str) + "." + t["admin1"].fillna("").astype(str)).to_numpy(dtype=object)
    no_gn = t["admin1"].fillna("").isin(["", "00"]).to_numpy()
    index = ZoneIndex.cached(zs)
    pi, zi = index.locate_all(t["lon"].to_numpy(float), t["lat"].to_numpy(float))
    zcode = np.array([str(z.properties.get("gn_a1_code") or "") for z in zs], dtype=object)
    hit = zcode[zi] == code[pi]
    agree = np.zeros(len(t), dtype=bool)
    agree[pi[hit]] = True
    located = np.zeros(len(t), dtype=bool)
    located[pi] = True
    coded = np.zeros(len(t), dtype=bool)
    coded[pi[zcode[zi] != ""]] = True
    cls = np.where(~located, "outside", np.where(no_gn | ~coded, "no_code", np.where(agree, "agree", "disagree")))
    df = pd.DataFrame({"cc": t["cc"].to_numpy(), "cls": cls})
    table = pd.crosstab(df["cc"], df["cls"])
    table.loc["ALL"] = table.sum()
    for c in ("agree", "disagree", "outside", "no_code"):
        if c not in table:
            table[c] = 0
    table = table[["agree", "disagree", "outside", "no_code"]]
    table["places"] = table.sum(axis=1)
    checked = table["agree"] + table["disagree"]
    table["agreement"] = (table["agree"] / checked.where(checked > 0)).round(4)
    return table


__all__ = [
    "OUT_COLUMNS",
    "STATUSES",
    "AuditResult",
    "audit",
    "distance_to_boundary",
    "geonames_agreement",
    "read_events",
]
