"""JSON track formats: GeoJSON, OpenSky REST state vectors, readsb/dump1090 ``aircraft.json`` snapshots."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from overflight.errors import InputError
from overflight.tracks._stage import AltUnit, ColumnMap, ReadOptions, alt_factor, stage_frame
from overflight.tracks.read_csv import OPENSKY_COLUMNS, opensky_map
from overflight.tracks.table import FEET, ID_NAMES, TIME_NAMES, parse_times, to_float
from overflight.tracks.validate import Issue, Staged

_LINE_TIME_NAMES = ("times", "coordTimes", "coordinateTimes", "timestamps", "time", "when")


def load_json(path: Path) -> Any:
    """Parse a JSON file; a cut or invalid file is an InputError naming the line and column."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror}", file=path) from None
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"invalid JSON ({exc.msg}) at line {exc.lineno} column {exc.colno}"
            + (" - the file looks cut short" if exc.pos >= len(data.rstrip()) - 1 else ""),
            file=path,
            row=f"line {exc.lineno}",
        ) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text at byte {exc.start}", file=path) from None
    except RecursionError:
        raise InputError("JSON nested too deeply to be a track file", file=path) from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise InputError(f"invalid JSON: {exc}", file=path) from None


def json_kind(obj: Any) -> str:
    """``geojson``, ``opensky``, ``readsb`` or ``unknown`` for a parsed JSON document."""
    if isinstance(obj, dict):
        if obj.get("type") in ("FeatureCollection", "Feature"):
            return "geojson"
        if "states" in obj:
            return "opensky"
        if "aircraft" in obj and "now" in obj:
            return "readsb"
    if isinstance(obj, list) and obj and isinstance(obj[0], dict):
        return json_kind(obj[0])
    return "unknown"


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, str | int | float | bool)


def _pick(props: dict[str, Any], wanted: str | None, names: Sequence[str]) -> str | None:
    if wanted is not None:
        return wanted if wanted in props else None
    low = {k.lower(): k for k in props}
    for n in names:
        if n.lower() in low:
            return low[n.lower()]
    return None


def stage_geojson(
    path: Path,
    obj: Any,
    opts: ReadOptions,
    *,
    max_examples: int = 5,
) -> Staged:
    """Stage GeoJSON: Point features with a time property, LineStrings (or MultiLineStrings) with a times array.

    Track id: property ``id_col`` (default track_id/id/icao24/...), else the feature ``id``, else the file name
    (points) or ``<file>-<feature number>`` (lines). Altitude: the third coordinate (metres) or ``alt_col``.
    """
    feats = obj.get("features", [obj]) if isinstance(obj, dict) else obj
    if not isinstance(feats, list):
        raise InputError("'features' is not a list", file=path, field="features")
    cols: dict[str, list[Any]] = {"track_id": [], "time": [], "lon": [], "lat": [], "alt": []}
    extra: dict[str, list[Any]] = {}
    feat_no: list[int] = []
    vert_no: list[int] = []
    malformed: list[Issue] = []
    n_malformed = 0
    stem = path.stem
    time_col, id_col, alt_col = opts.time_col, opts.id_col, opts.alt_col
    afac = alt_factor(opts.alt_unit)

    def bad(i: int, fld: str, value: Any, msg: str, count: int = 1) -> None:
        nonlocal n_malformed
        n_malformed += count
        if len(malformed) < max_examples:
            malformed.append(Issue("malformed", i, fld, str(value)[:80], msg))

    for i, f in enumerate(feats, start=1):
        if not isinstance(f, dict) or not isinstance(f.get("geometry"), dict):
            bad(i, "geometry", "" if not isinstance(f, dict) else f.get("geometry"), "feature without geometry")
            continue
        g = f["geometry"]
        props = f.get("properties") or {}
        if not isinstance(props, dict):
            props = {}
        gtype = g.get("type")
        coords = g.get("coordinates")
        idk = _pick(props, id_col, ID_NAMES)
        fid = props[idk] if idk is not None else f.get("id")
        scalars = {k: v for k, v in props.items() if _scalar(v)}
        if gtype == "Point":
            tk = _pick(props, time_col, TIME_NAMES)
            if not isinstance(coords, list) or len(coords) < 2:
                bad(i, "coordinates", coords, "Point without two coordinates")
                continue
            seq: list[tuple[Any, Any]] = [(coords, props.get(tk) if tk else None)]
            tid = str(fid) if fid is not None else stem
            used = {tk, idk, alt_col}
        elif gtype in ("LineString", "MultiLineString"):
            tk = _pick(props, time_col, _LINE_TIME_NAMES)
            times = props.get(tk) if tk else None
            parts = [coords] if gtype == "LineString" else coords
            tparts = [times] if gtype == "LineString" else times
            if (
                not isinstance(parts, list)
                or not isinstance(tparts, list)
                or len(parts) != len(tparts)
                or any(not isinstance(a, list) or not isinstance(b, list) or len(a) != len(b)
                       for a, b in zip(parts, tparts, strict=True))
            ):
                n = sum(len(p) if isinstance(p, list) else 1 for p in parts) \
                    if isinstance(parts, list) and gtype == "MultiLineString" else (
                        len(parts) if isinstance(parts, list) else 1)
                bad(i, tk or "times", "" if times is None else f"{len(times) if isinstance(times, list) else times}",
                    f"{gtype} needs a times array with one time per vertex", count=max(int(n), 1))
                continue
            seq = [(c, t) for a, b in zip(parts, tparts, strict=True) for c, t in zip(a, b, strict=True)]
            tid = str(fid) if fid is not None else f"{stem}-{i}"
            used = {tk, idk, alt_col}
        else:
            bad(i, "geometry", gtype, "only Point, LineString and MultiLineString features are tracks")
            continue
        line_extras = {k: v for k, v in scalars.items() if k not in used}
        for j, (c, t) in enumerate(seq, start=1):
            ok = isinstance(c, list) and len(c) >= 2
            cols["track_id"].append(tid)
            cols["time"].append(t)
            cols["lon"].append(c[0] if ok else None)
            cols["lat"].append(c[1] if ok else None)
            alt = props.get(alt_col) if alt_col else (c[2] if ok and len(c) > 2 else None)
            cols["alt"].append(alt)
            feat_no.append(i)
            vert_no.append(j if gtype != "Point" else 0)
            for k, v in line_extras.items():
                extra.setdefault(k, [None] * (len(cols["lon"]) - 1)).append(v)
            for lst in extra.values():
                if len(lst) < len(cols["lon"]):
                    lst.append(None)
    n = len(cols["lon"])
    traw = pd.Series(cols["time"], dtype=object)
    times, codes = parse_times(traw, tz=opts.tz, time_format=opts.time_format)
    frame = pd.DataFrame(
        {
            "track_id": pd.Series(cols["track_id"], dtype=str),
            "time": times,
            "lon": to_float(pd.Series(cols["lon"], dtype=object)),
            "lat": to_float(pd.Series(cols["lat"], dtype=object)),
            "alt_m": to_float(pd.Series(cols["alt"], dtype=object)) * afac,
        }
    )
    for k, lst in extra.items():
        if k not in frame.columns:
            frame[k] = pd.Series(lst, dtype=object)
    fa, va = np.asarray(feat_no), np.asarray(vert_no)

    def label(row: int) -> int | str:
        f, v = int(fa[row - 1]), int(va[row - 1])
        return f if v == 0 else f"{f} vertex {v}"

    return Staged(
        frame=frame, rows=np.arange(1, n + 1), time_code=codes, time_raw=traw, malformed=malformed,
        n_malformed=n_malformed, fields={"time": time_col or "time", "alt": alt_col or "coordinates[2]"},
        row_label=label, raw={"lon": pd.Series(cols["lon"], dtype=object), "lat": pd.Series(cols["lat"], dtype=object),
                              "alt": pd.Series(cols["alt"], dtype=object)},
    )


def stage_opensky_json(path: Path, obj: Any, *, alt_unit: AltUnit = "m") -> Staged:
    """Stage OpenSky REST ``/states/all`` responses (one object or a list of them); one row per state."""
    docs = obj if isinstance(obj, list) else [obj]
    rows: list[list[Any]] = []
    for d in docs:
        states = d.get("states") if isinstance(d, dict) else None
        if states is None:
            continue
        if not isinstance(states, list):
            raise InputError("'states' is not a list", file=path, field="states")
        rows.extend(s if isinstance(s, list) else [] for s in states)
    width = len(OPENSKY_COLUMNS)
    malformed = [i for i, r in enumerate(rows, start=1) if len(r) < width]
    good = [r[:width] for r in rows if len(r) >= width]
    numbers = np.array([i for i, r in enumerate(rows, start=1) if len(r) >= width], dtype=np.int64)
    df = pd.DataFrame(good, columns=list(OPENSKY_COLUMNS), dtype=object)
    nopos = (df["longitude"].isna() & df["latitude"].isna()).to_numpy() if len(df) else np.zeros(0, bool)
    df, numbers = df.loc[~nopos], numbers[~nopos]
    cmap = opensky_map(list(OPENSKY_COLUMNS), path)
    if alt_unit != "m":
        cmap = ColumnMap(cmap.lon, cmap.lat, cmap.time, cmap.id, cmap.alt, alt_factor(alt_unit), cmap.default_id,
                         True)
    df = df.drop(columns=["sensors"])
    st = stage_frame(df, cmap, numbers, tz=None, notes={"states without position": int(nopos.sum())})
    st.n_malformed = len(malformed)
    st.malformed = [Issue("malformed", i, "states", "", f"state vector with fewer than {width} fields")
                    for i in malformed[:5]]
    st.frame["track_id"] = st.frame["track_id"].str.lower()
    if "callsign" in st.frame.columns:
        st.frame["callsign"] = st.frame["callsign"].astype("str").str.strip().where(st.frame["callsign"].notna())
    return st


def stage_readsb(paths: Sequence[Path], *, load: Callable[[Path], Any] = load_json) -> Staged:
    """Stage readsb/dump1090 ``aircraft.json`` snapshots (in the given order).

    time = ``now - seen_pos``; altitude from ``alt_baro`` in feet (``"ground"``: NaN and on_ground True);
    track_id = hex (lower case); callsign from ``flight``. Aircraft without a position are not fixes, and a
    position repeated unchanged in later snapshots is the same fix: both are counted in the notes.
    """
    recs: dict[str, list[Any]] = {k: [] for k in ("hex", "t", "lon", "lat", "alt", "ground", "callsign",
                                                   "squawk", "gs", "track", "alt_geom", "file", "k")}
    nopos = 0
    bad_hex: list[tuple[str, str]] = []
    for p in paths:
        obj = load(p)
        if not isinstance(obj, dict) or not isinstance(obj.get("aircraft"), list) or "now" not in obj:
            raise InputError("not a readsb/dump1090 aircraft.json (needs 'now' and 'aircraft')", file=p)
        now = obj["now"]
        if isinstance(now, bool) or not isinstance(now, int | float):
            raise InputError(f"'now' must be epoch seconds, not {now!r}", file=p, field="now")
        for k, a in enumerate(obj["aircraft"], start=1):
            if not isinstance(a, dict) or "lat" not in a or "lon" not in a:
                nopos += 1
                continue
            hx = a.get("hex")
            if not isinstance(hx, str) or not _HEX_RE.fullmatch(hx.strip().lower()):
                bad_hex.append((f"{p.name} aircraft {k}", str(hx)[:80]))
                continue
            seen = a.get("seen_pos", a.get("seen", 0))
            t = _seen_time(now, seen)
            ab = a.get("alt_baro", a.get("altitude"))
            recs["hex"].append(str(a.get("hex", "")).strip().lower())
            recs["t"].append(t)
            recs["lon"].append(a.get("lon"))
            recs["lat"].append(a.get("lat"))
            recs["alt"].append(None if ab == "ground" else ab)
            recs["ground"].append(ab == "ground")
            fl = a.get("flight")
            recs["callsign"].append(fl.strip() if isinstance(fl, str) else None)
            recs["squawk"].append(a.get("squawk"))
            recs["gs"].append(a.get("gs"))
            recs["track"].append(a.get("track"))
            recs["alt_geom"].append(a.get("alt_geom"))
            recs["file"].append(p.name)
            recs["k"].append(k)
    df = pd.DataFrame(recs)
    tnum = to_float(df["t"])
    lon, lat = to_float(df["lon"]), to_float(df["lat"])
    # A position not refreshed between snapshots shows up again with the same time: one fix, not two.
    key = pd.DataFrame({"h": df["hex"], "t": np.round(tnum.to_numpy(), 1), "x": lon, "y": lat})
    rep = key.duplicated(keep="first").to_numpy() & np.isfinite(tnum.to_numpy())
    df, tnum, lon, lat = df.loc[~rep], tnum[~rep], lon[~rep], lat[~rep]
    times, codes = parse_times(tnum.reset_index(drop=True))
    frame = pd.DataFrame(
        {
            "track_id": df["hex"].astype(str).reset_index(drop=True),
            "time": times,
            "lon": lon.reset_index(drop=True),
            "lat": lat.reset_index(drop=True),
            "alt_m": (to_float(df["alt"]) * FEET).reset_index(drop=True),
            "callsign": df["callsign"].reset_index(drop=True),
            "squawk": df["squawk"].reset_index(drop=True),
            "on_ground": df["ground"].astype(bool).reset_index(drop=True),
            "gs_kt": to_float(df["gs"]).reset_index(drop=True),
            "track_deg": to_float(df["track"]).reset_index(drop=True),
            "alt_geom_m": (to_float(df["alt_geom"]) * FEET).reset_index(drop=True),
        }
    )
    files = df["file"].to_numpy()
    ks = df["k"].to_numpy()

    def label(row: int) -> str:
        return f"{files[row - 1]} aircraft {ks[row - 1]}"

    notes = {"aircraft without position": nopos, "unchanged position in a later snapshot": int(rep.sum())}
    return Staged(frame=frame, rows=np.arange(1, len(frame) + 1), time_code=codes, time_raw=tnum,
                  notes={k: v for k, v in notes.items() if v}, fields={"time": "now - seen_pos"},
                  row_label=label, n_malformed=len(bad_hex),
                  malformed=[Issue("malformed", where, "hex", v, "hex must be a 24-bit ICAO address: 6 hex digits "
                                   "(readsb marks non-ICAO ones with ~)") for where, v in bad_hex[:5]],
                  raw={"lon": df["lon"].reset_index(drop=True), "lat": df["lat"].reset_index(drop=True)})


#: A 24-bit ICAO address as readsb/dump1090 and SBS-1 write it (readsb prefixes non-ICAO addresses with ~).
_HEX_RE = re.compile(r"~?[0-9a-f]{6}")
#: readsb forgets an aircraft a few minutes after its last message; a position older than this is garbage.
MAX_SEEN_POS_S = 3600.0


def _seen_time(now: float, seen: Any) -> float:
    """``now - seen_pos``, or NaN (a bad_time) when seen_pos is not a number in [0, MAX_SEEN_POS_S]."""
    if seen is None:
        seen = 0
    if isinstance(seen, bool) or not isinstance(seen, int | float):
        return float("nan")
    s = float(seen)
    if not (0.0 <= s <= MAX_SEEN_POS_S):
        return float("nan")
    return float(now) - s


__all__ = ["MAX_SEEN_POS_S", "json_kind", "load_json", "stage_geojson", "stage_opensky_json", "stage_readsb"]
