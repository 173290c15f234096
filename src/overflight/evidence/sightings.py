"""Sightings as they come: coordinates or a place name, one time or a window, read into `Observation` records.

A sightings file is CSV with one sighting per line (docs/formats.md has an example). Columns, by their usual
names or named with the column options of the command line (``--id-col``, ``--time-col``, ``--lon-col``,
``--lat-col``; ``--tz`` and ``--time-format`` for the times):

- the object seen: ``track_id`` / ``group`` / ``track`` / ``object`` (optional: one object for the file);
- where: ``lon`` and ``lat``, or ``place`` (a gazetteer name, narrowed by an optional ``country`` column);
- when: ``time``, or ``time_from`` and ``time_to`` (a window: "between 01:00 and 01:30");
- optional ``pos_err_m``, ``time_err_s``, ``id``, ``source``, ``credibility``, ``description``.

A place name becomes the place's coordinates with its rough extent (`overflight.gazetteer.Place.extent_m`)
as position error, and the match (name found, GeoNames id, country, extent) is kept in the observation's
properties so a reader sees what "over Uralsk" was taken to mean. A window is kept as the observation's
``time_start`` / ``time_end``; prism reasoning reads it as its midpoint ± half its length
(`sightings_table`). Files that are not CSV are read with `overflight.tracks.read_tracks` (coordinates and
one time per row).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import tzinfo
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from overflight.errors import InputError
from overflight.evidence.grading import parse_credibility
from overflight.evidence.model import Observation
from overflight.tracks.table import LAT_NAMES, LON_NAMES, TIME_BAD, TIME_NAIVE, TIME_NAMES, find_column, parse_times

GROUP_NAMES = ("track_id", "group", "track", "object", "flight")
PLACE_NAMES = ("place", "place_name", "location", "city", "town")
FROM_NAMES = ("time_from", "time_start", "from", "start", "window_start")
TO_NAMES = ("time_to", "time_end", "to", "end", "window_end")
SIGHTING_COLUMNS = ["track_id", "time", "lon", "lat", "pos_err_m", "time_err_s", "observation"]


def _col(cols: list[str], wanted: str | None, names: Sequence[str], what: str, option: str, file: Path) -> str | None:
    try:
        return find_column(cols, wanted, names, what, file)
    except InputError:
        raise InputError(f"no {what} column {wanted!r} (named with {option}); the file has columns: "
                         f"{', '.join(cols)}", file=file, field=option) from None


def _times(df: pd.DataFrame, col: str, file: Path, tz: str | tzinfo | None, time_format: str | None,
           rows: np.ndarray) -> pd.Series:
    raw = df[col]
    present = raw.notna() & (raw.astype(str).str.strip() != "")
    t, codes = parse_times(raw.where(present, None), tz=tz, time_format=time_format)
    bad = present.to_numpy() & (codes != 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        why = ("has no time zone: give one in the value (2025-06-21T01:40+05:00) or with --tz"
               if codes[i] == TIME_NAIVE else
               "cannot be read as a time" + (f" with --time-format {time_format!r}" if time_format else
                                             " (ISO 8601 expected; other layouts with --time-format)"))
        assert codes[i] in (TIME_NAIVE, TIME_BAD)
        raise InputError(f"{raw.iloc[i]!r} {why}", file=file, row=str(rows[i]), field=col)
    return t


def read_sightings(
    path: str | Path,
    *,
    id_col: str | None = None,
    time_col: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    tz: str | tzinfo | None = None,
    time_format: str | None = None,
    source_id: str | None = None,
    credibility: int | str | None = None,
    kind: str = "sighting",
    illustrative: bool = False,
    pos_err_col: str | None = None,
    time_err_col: str | None = None,
) -> list[Observation]:
    """Read a sightings file into observations (see the module docstring for the columns).

    Parameters
    ----------
    path
        CSV (place names and windows allowed) or any track file `overflight.tracks.read_tracks` reads.
    id_col, time_col, lon_col, lat_col, pos_err_col, time_err_col
        Column names when they are not the usual ones (CLI ``--id-col`` ...).
    tz, time_format
        Zone for times without one, strptime layout for non-ISO times (CLI ``--tz``, ``--time-format``).
    source_id, credibility
        Source and Admiralty credibility (1-6) of rows that do not give their own ``source`` / ``credibility``.
    kind
        The observation kind (``sighting``; ``wreckage`` or ``impact`` for attribution points).
    illustrative
        Mark every observation as made-up demonstration data.

    Returns
    -------
    list of Observation
        One per row, ids from an ``id`` column or ``<object>-<n>``; the object is the ``group`` property.

    Raises
    ------
    InputError
        Naming file, line (header = line 1) and column: a place the gazetteer does not know, a time
        without a zone, a window that ends before it starts, neither coordinates nor a place.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("no such file", file=p)
    if p.suffix.lower() not in (".csv", ".tsv", ".txt"):
        return _from_tracks(p, pos_err_col=pos_err_col or "pos_err_m", time_err_col=time_err_col or "time_err_s",
                            id_col=id_col, time_col=time_col, lon_col=lon_col, lat_col=lat_col, tz=tz,
                            time_format=time_format, source_id=source_id, credibility=credibility, kind=kind,
                            illustrative=illustrative)
    from overflight.safeio import read_text_csv

    df = read_text_csv(p, sep=None, na_values=[""])
    df.columns = [str(c).strip() for c in df.columns]
    cols = list(df.columns)
    rows = np.array([f"line {i + 2}" for i in range(len(df))], dtype=object)  # header = line 1
    gcol = _col(cols, id_col, GROUP_NAMES, "object (track id)", "--id-col", p)
    lon_c = _col(cols, lon_col, LON_NAMES, "longitude", "--lon-col", p)
    lat_c = _col(cols, lat_col, LAT_NAMES, "latitude", "--lat-col", p)
    place_c = _col(cols, None, PLACE_NAMES, "place", "", p)
    tcol = _col(cols, time_col, TIME_NAMES, "time", "--time-col", p)
    from_c = _col(cols, None, FROM_NAMES, "window start", "", p)
    to_c = _col(cols, None, TO_NAMES, "window end", "", p)
    if (lon_c is None or lat_c is None) and place_c is None:
        raise InputError("sightings need lon and lat columns (--lon-col, --lat-col) or a place column; the file "
                         f"has columns: {', '.join(cols)}", file=p, field="lon")
    if tcol is None and (from_c is None or to_c is None):
        raise InputError("sightings need a time column (--time-col) or time_from and time_to; the file has "
                         f"columns: {', '.join(cols)}", file=p, field="time")
    nat = pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns, UTC]")
    t_one = _times(df, tcol, p, tz, time_format, rows) if tcol else nat
    t_from = _times(df, from_c, p, tz, time_format, rows) if from_c else nat
    t_to = _times(df, to_c, p, tz, time_format, rows) if to_c else nat
    start = t_from.where(t_from.notna(), t_one)
    end = t_to.where(t_to.notna(), t_one)

    def num(c: str | None, i: int, name: str) -> float | None:
        if c is None or pd.isna(df[c].iloc[i]):
            return None
        try:
            return float(str(df[c].iloc[i]).strip())
        except ValueError:
            raise InputError(f"{df[c].iloc[i]!r} is not a number", file=p, row=str(rows[i]), field=c) from None

    out: list[Observation] = []
    counter: dict[str, int] = {}
    src_c = _col(cols, None, ("source", "source_id"), "source", "", p)
    cred_c = _col(cols, None, ("credibility",), "credibility", "", p)
    desc_c = _col(cols, None, ("description", "notes"), "description", "", p)
    oid_c = _col(cols, None, ("id",), "id", "", p) if gcol != "id" else None
    country_c = _col(cols, None, ("country", "cc"), "country", "", p)
    perr_c = _col(cols, pos_err_col, ("pos_err_m", "precision_m"), "position error", "--pos-err-col", p)
    terr_c = _col(cols, time_err_col, ("time_err_s",), "time error", "--time-err-col", p)
    from overflight import gazetteer

    for i in range(len(df)):
        line = str(rows[i])
        a, b = start.iloc[i], end.iloc[i]
        if pd.isna(a) or pd.isna(b):
            which = tcol or (from_c if pd.isna(a) else to_c)
            raise InputError("no time: give time, or time_from and time_to", file=p, row=line, field=str(which))
        if b < a:
            raise InputError(f"window ends ({b:%Y-%m-%d %H:%M:%S}) before it starts ({a:%Y-%m-%d %H:%M:%S})",
                             file=p, row=line, field=str(to_c))
        group = str(df[gcol].iloc[i]).strip() if gcol and not pd.isna(df[gcol].iloc[i]) else p.stem
        lon, lat = num(lon_c, i, "lon"), num(lat_c, i, "lat")
        perr = num(perr_c, i, "pos_err_m")
        props: dict[str, Any] = {"group": group}
        area = None
        if lon is None or lat is None:
            name = str(df[place_c].iloc[i]).strip() if place_c and not pd.isna(df[place_c].iloc[i]) else ""
            if not name:
                raise InputError("neither lon/lat nor a place name", file=p, row=line, field=place_c or "lon")
            country = (str(df[country_c].iloc[i]).strip() or None) if country_c and not pd.isna(
                df[country_c].iloc[i]) else None
            try:
                place = gazetteer.resolve(name, country=country)
            except InputError as exc:
                raise InputError(exc.reason, file=p, row=line, field=place_c) from None
            lon, lat, area = float(place.lon), float(place.lat), name
            perr = max(perr or 0.0, place.extent_m)
            props.update({"place": name, "place_match": place.name, "geonameid": int(place.geonameid),
                          "place_cc": place.cc, "place_extent_m": round(place.extent_m, 1),
                          "place_population": int(place.population)})
        elif not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise InputError(f"({lon}, {lat}) is not a lon/lat in degrees", file=p, row=line, field=lon_c)
        terr = num(terr_c, i, "time_err_s")
        if terr is not None:
            props["time_err_s"] = terr
        counter[group] = counter.get(group, 0) + 1
        oid = (str(df[oid_c].iloc[i]).strip() if oid_c and not pd.isna(df[oid_c].iloc[i]) else
               f"{group}-{counter[group]}")
        cred_raw = df[cred_c].iloc[i] if cred_c and not pd.isna(df[cred_c].iloc[i]) else credibility
        src = str(df[src_c].iloc[i]).strip() if src_c and not pd.isna(df[src_c].iloc[i]) else source_id
        desc = str(df[desc_c].iloc[i]) if desc_c and not pd.isna(df[desc_c].iloc[i]) else (
            f"{kind} {('over ' + area) if area else ''}".strip())
        out.append(Observation(
            id=oid, kind=kind, source_id=src, lon=lon, lat=lat, time_start=a.to_pydatetime(),
            time_end=b.to_pydatetime(), precision_m=perr, area=area,
            credibility=parse_credibility(cred_raw, file=p, row=line),
            illustrative=illustrative, description=desc, properties=json.loads(json.dumps(props))))
    _unique_ids(out, p)
    return out


def _unique_ids(obs: list[Observation], p: Path) -> None:
    seen: set[str] = set()
    for o in obs:
        if o.id in seen:
            raise InputError(f"duplicate observation id {o.id!r}", file=p, field="id")
        seen.add(o.id)


def _from_tracks(p: Path, *, source_id: str | None, credibility: int | str | None, kind: str, illustrative: bool,
                 pos_err_col: str, time_err_col: str, **opts: Any) -> list[Observation]:
    from overflight.tracks import read_tracks

    df, _ = read_tracks(p, **opts)
    cred = parse_credibility(credibility, file=p)
    out = []
    counter: dict[str, int] = {}
    for r in df.to_dict("records"):
        g = str(r["track_id"])
        counter[g] = counter.get(g, 0) + 1
        t = pd.Timestamp(r["time"]).to_pydatetime()
        props: dict[str, Any] = {"group": g}
        te = r.get(time_err_col)
        if te is not None and not (isinstance(te, float) and math.isnan(te)):
            props["time_err_s"] = float(te)
        pe = r.get(pos_err_col)
        out.append(Observation(id=f"{g}-{counter[g]}", kind=kind, source_id=source_id, lon=float(r["lon"]),
                               lat=float(r["lat"]), time_start=t, time_end=t,
                               precision_m=float(pe) if pe is not None and not pd.isna(pe) else None,
                               credibility=cred, illustrative=illustrative, description=kind, properties=props))
    return out


def sightings_table(obs: pd.DataFrame) -> pd.DataFrame:
    """The table prism reasoning reads from observation rows (`overflight.case.Case.observations_frame`).

    One row per observation: ``track_id`` (the ``group`` property, else the observation id), ``time`` (the
    midpoint of the window ``time_start``..``time_end``), ``lon``, ``lat``, ``pos_err_m`` (``precision_m``,
    0 when unknown), ``time_err_s`` (half the window plus any ``time_err_s`` property) and ``observation``;
    sorted by track and time.
    """
    if obs.empty:
        return pd.DataFrame(columns=SIGHTING_COLUMNS)
    props = [json.loads(x) if isinstance(x, str) and x else (x if isinstance(x, dict) else {})
             for x in obs["properties"]]
    group = pd.Series([str(pr.get("group", i)) for pr, i in zip(props, obs["id"], strict=True)], index=obs.index)
    extra = pd.Series([float(pr.get("time_err_s", 0.0)) for pr in props], index=obs.index)
    a = pd.to_datetime(obs["time_start"], utc=True)
    b = pd.to_datetime(obs["time_end"], utc=True)
    b = b.where(b.notna(), a)
    half = (b - a).dt.total_seconds() / 2.0
    out = pd.DataFrame({
        "track_id": group.astype(str), "time": (a + (b - a) / 2).astype("datetime64[ns, UTC]"),
        "lon": obs["lon"].astype(float), "lat": obs["lat"].astype(float),
        "pos_err_m": obs["precision_m"].astype(float).fillna(0.0), "time_err_s": half + extra,
        "observation": obs["id"],
    })
    return out.sort_values(["track_id", "time"]).reset_index(drop=True)


def observations_frame(obs: Sequence[Observation]) -> pd.DataFrame:
    """Observation records as the frame `sightings_table` reads (the columns of the case's table)."""
    return pd.DataFrame({
        "id": [o.id for o in obs], "lon": [o.lon for o in obs], "lat": [o.lat for o in obs],
        "time_start": pd.to_datetime(pd.Series([o.time_start for o in obs], dtype=object), utc=True),
        "time_end": pd.to_datetime(pd.Series([o.time_end for o in obs], dtype=object), utc=True),
        "precision_m": pd.array([o.precision_m for o in obs], dtype="Float64").astype(float),
        "properties": [json.dumps(o.properties) for o in obs],
    })


def label_pairs(verdicts: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Prism verdict rows labelled with their sightings' observation ids and times.

    Prism verdict rows with the observation ids and times of each pair's two sightings (``from_…``,
    ``to_…``), read from the `sightings_table` the pairs came from (its row labels are the indexes).
    """
    out = verdicts.copy()
    for side in ("from", "to"):
        idx = out[f"{side}_index"].to_numpy()
        out[f"{side}_observation"] = table["observation"].to_numpy()[idx] if len(out) else []
        out[f"{side}_time"] = (table["time"].dt.round("s").dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy()[idx]
                               if len(out) else [])
    return out


__all__ = [
    "FROM_NAMES",
    "GROUP_NAMES",
    "PLACE_NAMES",
    "SIGHTING_COLUMNS",
    "TO_NAMES",
    "label_pairs",
    "observations_frame",
    "read_sightings",
    "sightings_table",
]
