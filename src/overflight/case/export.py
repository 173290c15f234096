"""Everything spatial in a case as GeoJSON and KML: zones, observations, tracks and claim areas.

Illustrative data carry ``illustrative: true`` (GeoJSON) and an "[illustrative]" name prefix (KML).
KML has one folder per layer, styles, and ``TimeStamp`` / ``TimeSpan`` (tracks as ``gx:Track``) so the
timeline slider of Google Earth works.

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

from overflight.errors import InputError

if TYPE_CHECKING:
    from overflight.case.store import Case


# XML 1.0 Char production, minus the C1 controls (legal but "discouraged", and invisible in viewers)
_NOT_XML = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def kml_text(text: Any) -> str:
    """Text for a KML element: characters XML 1.0 cannot hold replaced by U+FFFD, then XML-escaped."""
    return _xml_escape(_NOT_XML.sub("\ufffd", str(text)))


def kml_description(text: Any) -> str:
    """Text for a KML ``<description>`` (rendered as HTML by viewers): HTML-escaped, line breaks as ``<br>``,
    then XML-escaped like `kml_text`."""
    clean = _NOT_XML.sub("\ufffd", str(text))
    lines = html.escape(clean).replace("\r\n", "\n").replace("\r", "\n")
    return _xml_escape(lines.replace("\n", "<br>"))



def _iso(t: Any) -> str | None:
    if t is None or (isinstance(t, float) and np.isnan(t)) or t is pd.NaT:
        return None
    ts = pd.Timestamp(t)
    if pd.isna(ts):
        return None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return str(ts.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _feature(geom: BaseGeometry, props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": json.loads(shapely.to_geojson(geom)), "properties": props}


def _zone_list(case: Case) -> list[Any]:
    try:
        return list(case.zones())
    except InputError:
        return []


def to_geojson(case: Case) -> dict[str, Any]:
    """A FeatureCollection of zones, claim areas, observations and tracks (``layer`` property tells which)."""
    feats: list[dict[str, Any]] = []
    zs = None
    try:
        zs = case.zones()
    except InputError:
        zs = None
    for z in zs or []:
        feats.append(_feature(z.geometry, {
            "layer": "zone", "id": z.id, "name": z.name, "kind": z.kind, "floor_m": z.floor_m,
            "ceiling_m": z.ceiling_m, "valid_from": _iso(z.valid_from), "valid_to": _iso(z.valid_to),
            "boundary_set": zs.provenance.name if zs is not None else None}))
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
        xy = g[["lon", "lat"]].to_numpy()
        geom = shapely.LineString(xy) if len(xy) > 1 else shapely.Point(xy[0])
        feats.append(_feature(geom, {"layer": "track", "dataset": ds, "track_id": tid,
                                     "time_start": _iso(g["time"].iloc[0]), "time_end": _iso(g["time"].iloc[-1]),
                                     "times": [_iso(t) for t in g["time"]], "source": g["source_id"].iloc[0],
                                     "illustrative": bool(g["illustrative"].iloc[0])}))
    return {"type": "FeatureCollection", "name": case.path.stem, "features": feats}


_STYLES = {
    "zone-state": ("7f00ff00", "ff00aa00"), "zone": ("4d0000ff", "ff0000ff"), "claim": ("3300ffff", "ff00ffff"),
    "sighting": ("ff00a5ff", ""), "wreckage": ("ff0000ff", ""), "impact": ("ff000080", ""),
    "statement": ("ffaaaaaa", ""), "track": ("ffff0000", ""),
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


def to_kml(case: Case) -> str:
    """A KML document: folders Zones, Claims, Observations, Tracks, with styles and time elements."""
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
    for z in _zone_list(case):
        style = "zone-state" if z.kind == "state" else "zone"
        desc = kml_description(f"{z.id} ({z.kind})")
        out.append(f"<Placemark><name>{kml_text(z.name)}</name><description>{desc}</description>"
                   f"<styleUrl>#{style}</styleUrl>{_time(z.valid_from, z.valid_to)}"
                   f"{_kml_geom(z.geometry)}</Placemark>")
    out.append("</Folder><Folder><name>Claims</name>")
    for c in case.claims().values():
        if c.where_geometry is not None:
            out.append(f"<Placemark><name>{kml_text(c.id)}</name>"
                       f"<description>{kml_description(c.statement)}</description>"
                       f"<styleUrl>#claim</styleUrl>{_time(c.window_start, c.window_end)}"
                       f"{_kml_geom(c.where_geometry)}</Placemark>")
    out.append("</Folder><Folder><name>Observations</name>")
    for o in case.observations():
        if o.lon is None or o.lat is None:
            continue
        name = ("[illustrative] " if o.illustrative else "") + f"{o.kind} {o.id}"
        out.append(f"<Placemark><name>{kml_text(name)}</name>"
                   f"<description>{kml_description(o.description)}</description>"
                   f"<styleUrl>#{kml_text(o.kind)}</styleUrl>{_time(o.time_start, o.time_end)}"
                   f"{_kml_geom(shapely.Point(o.lon, o.lat))}</Placemark>")
    out.append("</Folder><Folder><name>Tracks</name>")
    tr = case.tracks()
    for (ds, tid), g in tr.groupby(["dataset", "track_id"], sort=True):
        name = ("[illustrative] " if bool(g["illustrative"].iloc[0]) else "") + f"{tid} ({ds})"
        whens = "".join(f"<when>{_iso(t)}</when>" for t in g["time"])
        alt = g["alt_m"].fillna(0).to_numpy()
        coords = "".join(f"<gx:coord>{x:.6f} {y:.6f} {a:.0f}</gx:coord>"
                         for x, y, a in zip(g["lon"], g["lat"], alt, strict=True))
        out.append(f"<Placemark><name>{kml_text(name)}</name><styleUrl>#track</styleUrl>"
                   f"<gx:Track><altitudeMode>clampToGround</altitudeMode>{whens}{coords}</gx:Track></Placemark>")
    out.append("</Folder></Document></kml>")
    return "\n".join(out)


def export(case: Case, fmt: str, out: str | Path, *, reviewer: str = "overflight",
           include_illustrative: bool = False) -> Path:
    """Write ``claimreview`` (JSON-LD), ``geojson`` or ``kml`` to a file; returns its path.

    ClaimReview leaves out reviews whose verdict rests on illustrative data unless ``include_illustrative``
    (then they are marked in ``name``, the rating and ``reviewBody``).
    """
    p = Path(out)
    if fmt == "claimreview":
        from overflight.evidence.claimreview import claim_reviews

        doc: Any = claim_reviews(case.claims(), case.verdicts(), sources=case.sources(), reviewer=reviewer,
                                 date_published=datetime.now(UTC), include_illustrative=include_illustrative)
        p.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    elif fmt == "geojson":
        p.write_text(json.dumps(to_geojson(case), ensure_ascii=False), encoding="utf-8")
    elif fmt == "kml":
        p.write_text(to_kml(case), encoding="utf-8")
    else:
        raise InputError(f"unknown export format {fmt!r}: claimreview, geojson or kml", field="format")
    return p
