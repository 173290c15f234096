"""XML track formats: GPX (trk/trkseg/trkpt) and KML/KMZ (gx:Track, Placemark Point + TimeStamp).

Parsing goes through defusedxml with DTDs forbidden: documents with a DOCTYPE (the vehicle of entity-expansion
and external-entity attacks) are refused wherever it sits, and nothing external is ever fetched.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import tzinfo
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree as ET

import defusedxml
import defusedxml.ElementTree as DET
import numpy as np
import pandas as pd

from overflight.errors import InputError
from overflight.safeio import max_uncompressed_bytes, open_zip, read_zip_member, whole_file_limit_bytes, zip_members
from overflight.tracks.table import parse_times, to_float
from overflight.tracks.validate import Staged


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _open_xml(path: Path) -> IO[bytes]:
    """The XML bytes: the file itself, or a KMZ's main KML decompressed within the whole-file limit."""
    if path.suffix.lower() == ".kmz" or zipfile.is_zipfile(path):
        with open_zip(path) as z:
            names = [i.filename for i in zip_members(path, z) if i.filename.lower().endswith(".kml")]
            if not names:
                raise InputError("KMZ archive holds no .kml file", file=path)
            main = "doc.kml" if "doc.kml" in names else names[0]
            # the limit is on the uncompressed KML: a small KMZ can hold gigabytes of XML
            return io.BytesIO(read_zip_member(path, z, main, limit=_whole_file_limit()))
    try:
        return open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror}", file=path) from None


def _whole_file_limit() -> int:
    return min(whole_file_limit_bytes(), max_uncompressed_bytes())


def _events(path: Path, fh: IO[bytes]) -> Iterator[tuple[str, ET.Element]]:
    """Parse with defusedxml: a DTD (entity bombs, external entities) anywhere in the document is refused."""
    try:
        yield from DET.iterparse(fh, events=("start", "end"), forbid_dtd=True)
    except defusedxml.DefusedXmlException as exc:
        raise InputError(f"XML with a DOCTYPE/DTD or entity declaration is refused ({type(exc).__name__})",
                         file=path) from None
    except ET.ParseError as exc:
        line, col = exc.position
        raise InputError(f"not well-formed XML at line {line}, column {col} (cut short?): {exc.msg}",
                         file=path, row=f"line {line}") from None
    except LookupError as exc:  # an encoding="..." that Python does not know
        raise InputError(f"XML declares an unknown encoding ({exc})", file=path, row="line 1") from None


def _text(el: ET.Element | None) -> str | None:
    if el is None or el.text is None:
        return None
    return el.text.strip()


def stage_gpx(path: Path, *, tz: str | tzinfo | None = None) -> Staged:
    """Stage a GPX file: one fix per trkpt; track_id = trk name, else ``<file>`` (one trk) or ``<file>-<k>``.

    Times are ``<time>`` (GPX says UTC; naive values still need ``tz``), altitude ``<ele>`` metres.
    """
    lon: list[str | None] = []
    lat: list[str | None] = []
    ele: list[str | None] = []
    tim: list[str | None] = []
    trk: list[int] = []
    names: dict[int, str] = {}
    k = 0
    stack: list[str] = []
    with _open_xml(path) as fh:
        for ev, el in _events(path, fh):
            tag = _local(el.tag)
            if ev == "start":
                stack.append(tag)
                if tag == "trk":
                    k += 1
                continue
            stack.pop()
            if tag == "trkpt":
                lon.append(el.get("lon"))
                lat.append(el.get("lat"))
                e = t = None
                for child in el:
                    ct = _local(child.tag)
                    if ct == "ele":
                        e = _text(child)
                    elif ct == "time":
                        t = _text(child)
                ele.append(e)
                tim.append(t)
                trk.append(k)
                el.clear()
            elif tag == "name" and stack and stack[-1] == "trk":
                names[k] = _text(el) or ""
    ntrk = max(trk) if trk else 0
    ids = [names.get(i) or (path.stem if ntrk <= 1 else f"{path.stem}-{i}") for i in range(ntrk + 1)]
    traw = pd.Series(tim, dtype=object)
    times, codes = parse_times(traw, tz=tz)
    frame = pd.DataFrame(
        {
            "track_id": pd.Series([ids[i] for i in trk], dtype=str),
            "time": times,
            "lon": to_float(pd.Series(lon, dtype=object)),
            "lat": to_float(pd.Series(lat, dtype=object)),
            "alt_m": to_float(pd.Series(ele, dtype=object)),
        }
    )
    return Staged(frame=frame, rows=np.arange(1, len(frame) + 1), time_code=codes, time_raw=traw,
                  fields={"lon": "trkpt@lon", "lat": "trkpt@lat", "time": "time"})


def _coord_parts(text: str | None, sep: str | None) -> tuple[str | None, str | None, str | None]:
    if not text:
        return None, None, None
    parts = text.replace(",", " ").split() if sep is None else text.split(sep)
    parts = [p.strip() for p in parts]
    return (parts[0] if parts else None, parts[1] if len(parts) > 1 else None,
            parts[2] if len(parts) > 2 else None)


def stage_kml(path: Path, *, tz: str | tzinfo | None = None, id_col: str | None = None) -> Staged:
    """Stage KML/KMZ: every gx:Track (``<when>`` + ``<gx:coord>`` pairs) and Placemarks with Point + TimeStamp.

    Track id: the Placemark ``<name>`` for gx:Track (else ``<file>-<k>``); for point Placemarks the
    ExtendedData value ``id_col`` (default ``track_id``), else the enclosing Folder name, else the file name.
    """
    rec: dict[str, list[Any]] = {k: [] for k in ("id", "t", "lon", "lat", "alt", "row")}
    key = id_col or "track_id"
    tracks = 0
    with _open_xml(path) as fh:
        folder: list[str | None] = []
        stack: list[str] = []
        for ev, el in _events(path, fh):
            tag = _local(el.tag)
            if ev == "start":
                stack.append(tag)
                if tag == "Folder":
                    folder.append(None)
                continue
            stack.pop()
            if tag == "name" and folder and stack and stack[-1] == "Folder":
                folder[-1] = _text(el)
            if tag == "Folder":
                folder.pop()
                continue
            if tag != "Placemark":
                continue
            pm_name = next((_text(c) for c in el if _local(c.tag) == "name"), None)
            data = {d.get("name"): _text(next((v for v in d if _local(v.tag) == "value"), None))
                    for d in el.iter() if _local(d.tag) == "Data"}
            found = False
            for trkel in el.iter():
                if _local(trkel.tag) != "Track":
                    continue
                found = True
                tracks += 1
                tid = pm_name or f"{path.stem}-{tracks}"
                whens = [_text(c) for c in trkel if _local(c.tag) == "when"]
                coords = [_text(c) for c in trkel if _local(c.tag) == "coord"]
                n = max(len(whens), len(coords))
                for j in range(n):
                    x, y, z = _coord_parts(coords[j] if j < len(coords) else None, " ")
                    rec["id"].append(tid)
                    rec["t"].append(whens[j] if j < len(whens) else None)
                    rec["lon"].append(x)
                    rec["lat"].append(y)
                    rec["alt"].append(z)
                    rec["row"].append(f"{tid} when {j + 1}")
            if not found:
                pt = next((c for c in el.iter() if _local(c.tag) == "Point"), None)
                if pt is not None:
                    ctext = next((_text(c) for c in pt.iter() if _local(c.tag) == "coordinates"), None)
                    x, y, z = _coord_parts(ctext, ",")
                    when = next((_text(c) for c in el.iter() if _local(c.tag) == "when"), None)
                    tid = data.get(key) or (folder[-1] if folder and folder[-1] else None) or path.stem
                    rec["id"].append(tid)
                    rec["t"].append(when)
                    rec["lon"].append(x)
                    rec["lat"].append(y)
                    rec["alt"].append(z)
                    rec["row"].append(f"Placemark {pm_name or len(rec['row']) + 1}")
            el.clear()
    traw = pd.Series(rec["t"], dtype=object)
    times, codes = parse_times(traw, tz=tz)
    frame = pd.DataFrame(
        {
            "track_id": pd.Series(rec["id"], dtype=str),
            "time": times,
            "lon": to_float(pd.Series(rec["lon"], dtype=object)),
            "lat": to_float(pd.Series(rec["lat"], dtype=object)),
            "alt_m": to_float(pd.Series(rec["alt"], dtype=object)),
        }
    )
    labels = rec["row"]

    def label(row: int) -> str:
        return str(labels[row - 1])

    return Staged(frame=frame, rows=np.arange(1, len(frame) + 1), time_code=codes, time_raw=traw,
                  fields={"lon": "coord", "lat": "coord", "time": "when"}, row_label=label)


__all__ = ["stage_gpx", "stage_kml"]
