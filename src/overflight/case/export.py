"""Everything spatial in a case as GeoJSON and KML: zones, claims, observations, tracks and analysis layers.

By default an export holds only the zones the claims cite and the analyses used (`export_layers.used_zone_ids`);
``all_zones=True`` adds the rest. GeoJSON follows RFC 7946 (WGS84 lon/lat, exterior rings counter-clockwise,
holes clockwise, altitude as the third coordinate where known); its features carry a ``layer`` property:
``zone``, ``claim``, ``observation``, ``track`` (one line per track), ``fix`` (one point per fix with its ISO
time, what QGIS's temporal controller animates), ``crossing`` (entries and exits of transit runs),
``prism_area`` and ``verdict`` (one point per claim with its derived verdict).
Illustrative data carry ``illustrative: true`` (GeoJSON) and an "[illustrative]" name prefix (KML).
KML has one folder per layer, styles, ``ExtendedData`` with the fields, and ``TimeStamp`` / ``TimeSpan``
(tracks as ``gx:Track``, split at unobserved gaps) so the timeline slider of Google Earth works.

Text is data, never markup: every string goes through `kml_text` (characters XML 1.0 forbids — C0 controls
other than tab, LF and CR, lone surrogates, U+FFFE/U+FFFF — and the C1 controls become U+FFFD, then XML
escaping), and descriptions, which viewers render as HTML, are HTML-escaped first (`kml_description`), so a
statement ``<img src=x onerror=…>`` shows as that text in Google Earth.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape as _xml_escape

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from overflight.case.export_layers import (
    claim_verdicts,
    crossings,
    geojson_geometry,
    max_gap_for,
    oriented,
    prism_areas,
    track_segments,
    used_zone_ids,
)
from overflight.errors import InputError

if TYPE_CHECKING:
    from overflight.case.store import Case


# XML 1.0 Char production, minus the C1 controls (legal but "discouraged", and invisible in viewers)
_NOT_XML = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def kml_text(text: Any) -> str:
    """Text for a KML element: characters XML 1.0 cannot hold replaced by U+FFFD, then XML-escaped."""
    return _xml_escape(_NOT_XML.sub("\ufffd", str(text)))


def kml_description(text: Any) -> str:
    """Text for a KML ``<description>``, which viewers render as HTML.

    HTML-escaped, line breaks as ``<br>``, then XML-escaped like `kml_text`.
    """
    clean = _NOT_XML.sub("\ufffd", str(text))
    lines = html.escape(clean).replace("\r\n", "\n").replace("\r", "\n")
    return _xml_escape(lines.replace("\n", "<br>"))


def kml_attr(text: Any) -> str:
    """Text for a double-quoted XML attribute (as `kml_text`, quotes escaped too)."""
    return _xml_escape(_NOT_XML.sub("\ufffd", str(text)), {'"': "&quot;"})



def iso_second(t: Any) -> str | None:
    """A time as ISO 8601 UTC text to the second (``2025-06-01T10:00:00Z``); None for a missing time.

    Naive times are taken as UTC. Shared by the exports and the web app's layers.
    """
    if t is None or (isinstance(t, float) and np.isnan(t)) or t is pd.NaT:
        return None
    ts = pd.Timestamp(t)
    if pd.isna(ts):
        return None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return str(ts.strftime("%Y-%m-%dT%H:%M:%SZ"))


_iso = iso_second


def _feature(geom: BaseGeometry | None, props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geojson_geometry(geom) if geom is not None else None,
            "properties": props}


def _zone_list(case: Case, all_zones: bool = False) -> list[Any]:
    try:
        zs = case.zones()
    except InputError:
        return []
    if all_zones:
        return list(zs)
    used = used_zone_ids(case)
    return [z for z in zs if z.id in used]


def _line(g: pd.DataFrame) -> BaseGeometry:
    alt = g["alt_m"].to_numpy(dtype=float)
    cols = ["lon", "lat", "alt_m"] if len(alt) and np.isfinite(alt).all() else ["lon", "lat"]
    xy = g[cols].to_numpy(dtype=float)
    return shapely.LineString(xy) if len(xy) > 1 else shapely.Point(xy[0])


def to_geojson(case: Case, *, all_zones: bool = False) -> dict[str, Any]:
    """A FeatureCollection of the case's layers (``layer`` property tells which; see the module doc)."""
    feats: list[dict[str, Any]] = []
    zones = _zone_list(case, all_zones)
    set_of = _zone_sets(case)
    for z in zones:
        feats.append(_feature(z.geometry, {
            "layer": "zone", "id": z.id, "name": z.name, "kind": z.kind, "floor_m": z.floor_m,
            "ceiling_m": z.ceiling_m, "valid_from": _iso(z.valid_from), "valid_to": _iso(z.valid_to),
            "boundary_set": set_of.get(z.id)}))
    for c in case.claims().values():
        if c.where_geometry is not None:
            feats.append(_feature(c.where_geometry, {"layer": "claim", "id": c.id, "statement": c.statement,
                                                     "stance": c.stance, "what": c.what,
                                                     "window_start": _iso(c.window_start),
                                                     "window_end": _iso(c.window_end)}))
    srcs = case.sources()
    for o in case.observations():
        if o.lon is None or o.lat is None:
            continue
        s = srcs.get(o.source_id or "")
        feats.append(_feature(shapely.Point(o.lon, o.lat), {
            "layer": "observation", "id": o.id, "kind": o.kind, "time_start": _iso(o.time_start),
            "time_end": _iso(o.time_end), "precision_m": o.precision_m, "area": o.area,
            "grade": f"{s.reliability if s else 'F'}{o.credibility}", "source": o.source_id,
            "illustrative": o.illustrative, "description": o.description}))
    tr = case.tracks()
    for (ds, tid), g in tr.groupby(["dataset", "track_id"], sort=True):
        feats.append(_feature(_line(g), {"layer": "track", "dataset": ds, "track_id": tid,
                                         "time_start": _iso(g["time"].iloc[0]), "time_end": _iso(g["time"].iloc[-1]),
                                         "times": [_iso(t) for t in g["time"]], "source": g["source_id"].iloc[0],
                                         "illustrative": bool(g["illustrative"].iloc[0])}))
    if len(tr):
        # One point per fix with its time: what QGIS's temporal controller (and kepler.gl) animate.
        times = tr["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy()
        alt = tr["alt_m"].to_numpy(dtype=float)
        for i, (ds, tid, x, y, src, ill) in enumerate(zip(tr["dataset"], tr["track_id"], tr["lon"], tr["lat"],
                                                         tr["source_id"], tr["illustrative"], strict=True)):
            coords = [float(x), float(y)] + ([float(alt[i])] if np.isfinite(alt[i]) else [])
            feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": coords},
                          "properties": {"layer": "fix", "dataset": ds, "track_id": tid, "time": str(times[i]),
                                         "alt_m": float(alt[i]) if np.isfinite(alt[i]) else None, "source": src,
                                         "illustrative": bool(ill)}})
    for cr in crossings(case):
        feats.append(_feature(shapely.Point(cr.get("lon"), cr.get("lat")), {"layer": "crossing", **cr.properties}))
    for pa in prism_areas(case):
        feats.append(_feature(pa.geometry, {"layer": "prism_area", "run": pa.run_id, "track_id": pa.track_id,
                                            "time_start": _iso(pa.start), "time_end": _iso(pa.end),
                                            "vmax_kmh": round(pa.vmax_mps * 3.6, 1), "verdicts": pa.verdicts}))
    for pt, props in claim_verdicts(case, {z.id: z.geometry for z in zones}):
        feats.append(_feature(pt, {"layer": "verdict", **props}))
    return {"type": "FeatureCollection", "name": case.path.stem, "features": feats}


def _zone_sets(case: Case) -> dict[str, str]:
    rows = case.con.execute("SELECT id, set_name FROM zones").fetchall()
    return {str(a): str(b) for a, b in rows}


_STYLES = {
    "zone-state": ("7f00ff00", "ff00aa00"), "zone": ("4d0000ff", "ff0000ff"), "claim": ("3300ffff", "ff00ffff"),
    "sighting": ("ff00a5ff", ""), "wreckage": ("ff0000ff", ""), "impact": ("ff000080", ""),
    "statement": ("ffaaaaaa", ""), "track": ("ffff0000", ""), "crossing": ("ff00ffff", ""),
    "prism": ("3300a5ff", "ff00a5ff"), "verdict": ("ffffffff", ""),
}


def _coords(xy: Iterable[Any]) -> str:
    return " ".join(f"{x:.6f},{y:.6f}" for x, y, *_ in xy)


def _kml_geom(g: BaseGeometry) -> str:
    t = g.geom_type
    if t == "Point":
        return f"<Point><coordinates>{g.x:.6f},{g.y:.6f}</coordinates></Point>"
    if t == "LineString":
        return f"<LineString><tessellate>1</tessellate><coordinates>{_coords(g.coords)}</coordinates></LineString>"
    if t == "Polygon":
        inner = "".join(f"<innerBoundaryIs><LinearRing><coordinates>{_coords(r.coords)}</coordinates>"
                        "</LinearRing></innerBoundaryIs>" for r in g.interiors)
        return (f"<Polygon><tessellate>1</tessellate><outerBoundaryIs><LinearRing><coordinates>"
                f"{_coords(g.exterior.coords)}</coordinates></LinearRing></outerBoundaryIs>{inner}</Polygon>")
    return "<MultiGeometry>" + "".join(_kml_geom(p) for p in shapely.get_parts(g)) + "</MultiGeometry>"


def _time(start: Any, end: Any) -> str:
    a, b = _iso(start), _iso(end)
    if a and b and a == b:
        return f"<TimeStamp><when>{a}</when></TimeStamp>"
    if a or b:
        return "<TimeSpan>" + (f"<begin>{a}</begin>" if a else "") + (f"<end>{b}</end>" if b else "") + "</TimeSpan>"
    return ""


def _data(fields: dict[str, Any]) -> str:
    """KML ExtendedData: every field as a named Data value (text escaped; None left out)."""
    items = "".join(f'<Data name="{kml_attr(k)}"><value>{kml_text(_text(v))}</value></Data>'
                    for k, v in fields.items() if v is not None)
    return f"<ExtendedData>{items}</ExtendedData>" if items else ""


def _text(v: Any) -> str:
    if isinstance(v, float) and np.isfinite(v):
        return f"{v:.7g}"
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def to_kml(case: Case, *, all_zones: bool = False) -> str:
    """A KML document of the case.

    Folders Zones, Claims, Observations, Tracks, Crossings, Prism areas, Verdicts, with styles, ExtendedData and
    time elements (see the module doc).
    """
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2">',
           f"<Document><name>{kml_text(case.path.stem)}</name>"]
    for sid, (fill, line) in _STYLES.items():
        if line:
            out.append(f'<Style id="{sid}"><LineStyle><color>{line}</color><width>2</width></LineStyle>'
                       f"<PolyStyle><color>{fill}</color></PolyStyle></Style>")
        else:
            out.append(f'<Style id="{sid}"><IconStyle><color>{fill}</color></IconStyle>'
                       f"<LineStyle><color>{fill}</color><width>3</width></LineStyle></Style>")
    out.append("<Folder><name>Zones</name>")
    zones = _zone_list(case, all_zones)
    set_of = _zone_sets(case)
    for z in zones:
        style = "zone-state" if z.kind == "state" else "zone"
        desc = kml_description(f"{z.id} ({z.kind})")
        out.append(f"<Placemark><name>{kml_text(z.name)}</name><description>{desc}</description>"
                   f"<styleUrl>#{style}</styleUrl>{_time(z.valid_from, z.valid_to)}"
                   + _data({"id": z.id, "kind": z.kind, "boundary_set": set_of.get(z.id), "floor_m": z.floor_m,
                            "ceiling_m": z.ceiling_m})
                   + f"{_kml_geom(oriented(z.geometry))}</Placemark>")
    out.append("</Folder><Folder><name>Claims</name>")
    for c in case.claims().values():
        if c.where_geometry is not None:
            out.append(f"<Placemark><name>{kml_text(c.id)}</name>"
                       f"<description>{kml_description(c.statement)}</description>"
                       f"<styleUrl>#claim</styleUrl>{_time(c.window_start, c.window_end)}"
                       + _data({"stance": c.stance, "what": c.what, "claimant": c.claimant})
                       + f"{_kml_geom(oriented(c.where_geometry))}</Placemark>")
    out.append("</Folder><Folder><name>Observations</name>")
    srcs = case.sources()
    for o in case.observations():
        if o.lon is None or o.lat is None:
            continue
        s = srcs.get(o.source_id or "")
        name = ("[illustrative] " if o.illustrative else "") + f"{o.kind} {o.id}"
        out.append(f"<Placemark><name>{kml_text(name)}</name>"
                   f"<description>{kml_description(o.description)}</description>"
                   f"<styleUrl>#{kml_text(o.kind)}</styleUrl>{_time(o.time_start, o.time_end)}"
                   + _data({"id": o.id, "kind": o.kind, "source": o.source_id,
                            "grade": f"{s.reliability if s else 'F'}{o.credibility}", "precision_m": o.precision_m,
                            "area": o.area, "illustrative": o.illustrative})
                   + f"{_kml_geom(shapely.Point(o.lon, o.lat))}</Placemark>")
    out.append("</Folder><Folder><name>Tracks</name>")
    tr = case.tracks()
    for (ds, tid), g in tr.groupby(["dataset", "track_id"], sort=True):
        name = ("[illustrative] " if bool(g["illustrative"].iloc[0]) else "") + f"{tid} ({ds})"
        pieces = []
        # Cut at unobserved gaps (longer than the transit run's max_gap): not drawn as a flown line.
        for seg in track_segments(g["time"], max_gap_for(case, str(ds))):
            sg = g.iloc[seg]
            whens = "".join(f"<when>{_iso(t)}</when>" for t in sg["time"])
            alt = sg["alt_m"].to_numpy(dtype=float)
            mode = "absolute" if np.isfinite(alt).all() else "clampToGround"
            coords = "".join(f"<gx:coord>{x:.6f} {y:.6f} {a:.0f}</gx:coord>"
                             for x, y, a in zip(sg["lon"], sg["lat"], np.nan_to_num(alt), strict=True))
            pieces.append(f"<gx:Track><altitudeMode>{mode}</altitudeMode>{whens}{coords}</gx:Track>")
        geom = (pieces[0] if len(pieces) == 1 else
                "<gx:MultiTrack><gx:interpolate>0</gx:interpolate>" + "".join(pieces) + "</gx:MultiTrack>")
        out.append(f"<Placemark><name>{kml_text(name)}</name><styleUrl>#track</styleUrl>"
                   + _data({"dataset": ds, "track_id": tid, "source": g["source_id"].iloc[0], "fixes": len(g),
                            "observed_pieces": len(pieces), "illustrative": bool(g["illustrative"].iloc[0])})
                   + f"{geom}</Placemark>")
    out.append("</Folder><Folder><name>Crossings</name>")
    for cr in crossings(case):
        p = cr.properties
        name = f"{p['track_id']} {'enters' if cr.event == 'entry' else 'leaves'} {p['zone_id']}"
        span = (_time(p.get("time_min"), p.get("time_max")) if p.get("time_min") != p.get("time_max")
                else _time(p["time"], p["time"]))
        out.append(f"<Placemark><name>{kml_text(name)}</name><styleUrl>#crossing</styleUrl>{span}" + _data(p)
                   + f"{_kml_geom(shapely.Point(cr.get('lon'), cr.get('lat')))}</Placemark>")
    out.append("</Folder><Folder><name>Prism areas</name>")
    for pa in prism_areas(case):
        if pa.geometry is None:
            continue
        name = f"{pa.track_id} {pa.start:%H:%M}–{pa.end:%H:%M} at {pa.vmax_mps * 3.6:.0f} km/h"
        out.append(f"<Placemark><name>{kml_text(name)}</name><styleUrl>#prism</styleUrl>{_time(pa.start, pa.end)}"
                   + _data({"run": pa.run_id, "track_id": pa.track_id, "vmax_kmh": round(pa.vmax_mps * 3.6, 1),
                            **{f"verdict {z}": v for z, v in pa.verdicts.items()}})
                   + f"{_kml_geom(pa.geometry)}</Placemark>")
    out.append("</Folder><Folder><name>Verdicts</name>")
    for pt, props in claim_verdicts(case, {z.id: z.geometry for z in zones}):
        if pt is None:
            continue
        out.append(f"<Placemark><name>{kml_text(props['claim'])}: {kml_text(props['verdict'])}</name>"
                   f"<description>{kml_description(props['statement'])}</description><styleUrl>#verdict</styleUrl>"
                   + _data(props) + f"{_kml_geom(pt)}</Placemark>")
    out.append("</Folder></Document></kml>")
    return "\n".join(out)


def export(case: Case, fmt: str, out: str | Path, *, reviewer: str | None = None, url: str | None = None,
           reviewer_url: str | None = None, all_zones: bool = False, include_illustrative: bool = False) -> Path:
    """Write ``claimreview`` (JSON-LD), ``geojson`` or ``kml`` to a file; returns its path.

    ClaimReview needs the publishing organisation (``reviewer``, else the case's ``publisher.name``) and the
    address the reviews are published at (``url``, else ``review.url``); each review's ``url`` is that
    address with ``#<claim id>``. It leaves out reviews whose verdict rests on illustrative data unless
    ``include_illustrative`` (then they are marked in ``name``, the rating and ``reviewBody``). GeoJSON and KML
    hold the zones used unless ``all_zones``.
    """
    p = Path(out)
    if fmt == "claimreview":
        from overflight.evidence.claimreview import claim_reviews

        cfg = case.config()
        reviewer = reviewer or cfg.get("publisher.name")
        url = url or cfg.get("review.url")
        reviewer_url = reviewer_url or cfg.get("publisher.url")
        if not reviewer or not url:
            missing = " and ".join(x for x, v in (("the publisher (--publisher or `overflight case config set "
                                                   "publisher.name NAME`)", reviewer),
                                                  ("the review address (--url or `overflight case config set "
                                                   "review.url URL`)", url)) if not v)
            raise InputError(f"ClaimReview names who publishes it and where: give {missing}", file=case.path,
                             field="publisher" if not reviewer else "url")
        doc: Any = claim_reviews(case.claims(), case.verdicts(), sources=case.sources(), reviewer=reviewer,
                                 reviewer_url=reviewer_url, url=url, date_published=datetime.now(UTC),
                                 evidence=case.evidence(), include_illustrative=include_illustrative)
        p.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    elif fmt == "geojson":
        p.write_text(json.dumps(to_geojson(case, all_zones=all_zones), ensure_ascii=False), encoding="utf-8")
    elif fmt == "kml":
        p.write_text(to_kml(case, all_zones=all_zones), encoding="utf-8")
    else:
        raise InputError(f"unknown export format {fmt!r}: claimreview, geojson or kml", field="format")
    return p


__all__ = ["export", "iso_second", "kml_attr", "kml_description", "kml_text", "to_geojson", "to_kml"]
