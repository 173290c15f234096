"""Read sources, claims, observations and evidence items from YAML, JSON or CSV files.

One YAML/JSON file may hold several sections::

    sources:      [{id: s1, name: TASS, kind: media, reliability: C}]
    claims:       [{id: c1, claimant: ..., source: s1, date: 2025-06-21, statement: ..., stance: asserts,
                    what: transit, where: {zones: [KAZ]}, when: {start: ..., end: ...}, count: {min: 12, max: 50},
                    answers: [], credibility: 3}]
    observations: [{id: o1, kind: sighting, source: s1, lon: 51.4, lat: 51.2, time: ..., precision_m: 5000}]
    evidence:     [{claim: c1, kind: observation, direction: supports, reasoning: ..., observation: o1}]

or a list of records each with a ``type`` (source, claim, observation, evidence). A CSV file holds one record
per line: either a ``type`` column or a file name starting with the section name (``claims.csv``). List
fields in CSV cells are separated by ``;``. Times without a zone are taken as UTC.

Every record is validated before anything is stored: the first bad value raises an `InputError` naming
the file, the row (CSV: line number, header = line 1; YAML/JSON: ``section[i]``) and the field.

Size (~615 lines): one parser per record kind (source, claim, observation, evidence item) over the shared
field readers (times, grades, geometry, counts) and the one error style; the readers are what make the four
kinds' errors alike, so they stay with them.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import shapely
import yaml
from shapely.geometry.base import BaseGeometry

from overflight._deprecated import deprecated_names
from overflight.errors import InputError, OverflightError
from overflight.evidence.grading import parse_credibility, parse_grade, parse_reliability
from overflight.evidence.model import (
    CLAIM_WHAT,
    DIRECTIONS,
    EVIDENCE_KINDS,
    OBSERVATION_KINDS,
    SOURCE_KINDS,
    STANCES,
    Claim,
    EvidenceItem,
    Observation,
    Source,
)
from overflight.safeio import iter_text_lines, read_text
from overflight.units import parse_distance

Row = int | str | None
SECTIONS = {"source": "sources", "claim": "claims", "observation": "observations", "evidence": "evidence"}
_STANCE_ALIASES = {"assert": "asserts", "asserted": "asserts", "asserts": "asserts", "claims": "asserts",
                   "deny": "denies", "denied": "denies", "denies": "denies"}


@dataclass
class Bundle:
    """Records read from one or more files, not yet stored."""

    sources: list[Source] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    evidence: list[EvidenceItem] = field(default_factory=list)
    # (kind, id) -> (file, row) so later checks (references, duplicates) can name where a record came from
    origin: dict[tuple[str, str], tuple[str, Row]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sources) + len(self.claims) + len(self.observations) + len(self.evidence)


# ---------------------------------------------------------------- value parsers


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v) or (isinstance(v, str) and v.strip() == "")


def _str(rec: Mapping[str, Any], *keys: str, default: str = "") -> str:
    for k in keys:
        if k in rec and not _blank(rec[k]):
            return str(rec[k]).strip()
    return default


def _opt_str(rec: Mapping[str, Any], *keys: str) -> str | None:
    s = _str(rec, *keys)
    return s or None


_ISO_RE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)?)?",
                     re.IGNORECASE)


def parse_time(value: Any, *, file: str | Path | None = None, row: Row = None, field: str = "time") -> datetime | None:
    """A timezone-aware UTC datetime from ISO 8601 text, a date or a datetime; naive times are UTC; blank → None.

    Numbers (``20250621``, epoch seconds ``1750455000``), words (``now``, ``today``) and years outside
    1900-2200 are refused: each would become a wrong date without a word.
    """
    if _blank(value):
        return None
    if isinstance(value, bool | int | float):
        raise InputError(f"time {value!r} is a number, not a date: write ISO 8601 text, e.g. 2025-06-21 or "
                         "2025-06-21T18:00Z", file=file, row=row, field=field)
    if isinstance(value, str) and not _ISO_RE.fullmatch(value.strip()):
        raise InputError(f"cannot read time {value!r} (use ISO 8601, e.g. 2025-06-21 or 2025-06-21T18:00Z)",
                         file=file, row=row, field=field)
    try:
        if isinstance(value, date) and not isinstance(value, datetime):
            ts = pd.Timestamp(value.isoformat())
        elif isinstance(value, str | datetime):
            ts = pd.Timestamp(value)
        else:
            raise TypeError(type(value).__name__)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InputError(f"cannot read time {value!r} (use ISO 8601, e.g. 2025-06-21T18:00Z)", file=file, row=row,
                         field=field) from exc
    if pd.isna(ts):
        raise InputError(f"cannot read time {value!r}", file=file, row=row, field=field)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if not 1900 <= ts.year < 2200:
        raise InputError(f"time {value!r} is outside the years 1900-2199", file=file, row=row, field=field)
    out: datetime = ts.to_pydatetime()
    return out


def _float(value: Any, file: str | Path | None, row: Row, name: str, lo: float | None = None,
           hi: float | None = None) -> float | None:
    if _blank(value):
        return None
    try:
        if isinstance(value, bool):
            raise TypeError("a boolean")
        x = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{value!r} is not a number", file=file, row=row, field=name) from None
    if x != x or x in (float("inf"), float("-inf")):
        raise InputError(f"{value!r} is not a finite number", file=file, row=row, field=name)
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        raise InputError(f"{value!r} is outside [{lo}, {hi}]", file=file, row=row, field=name)
    return x


def _int(value: Any, file: str | Path | None, row: Row, name: str) -> int | None:
    x = _float(value, file, row, name, lo=0)
    if x is None:
        return None
    if not float(x).is_integer():
        raise InputError(f"{value!r} is not a whole number", file=file, row=row, field=name)
    return int(x)


def _bool(value: Any, file: str | Path | None, row: Row, name: str) -> bool:
    if _blank(value):
        return False
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    if s in ("true", "yes", "1", "y", "t"):
        return True
    if s in ("false", "no", "0", "n", "f"):
        return False
    raise InputError(f"{value!r} is not true/false", file=file, row=row, field=name)


def _list(value: Any) -> tuple[str, ...]:
    if _blank(value):
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(v).strip() for v in value if not _blank(v))
    return tuple(s.strip() for s in str(value).replace(",", ";").split(";") if s.strip())


def _choice(value: str, allowed: Sequence[str], file: str | Path | None, row: Row, name: str) -> str:
    v = value.strip().lower().replace(" ", "_").replace("-", "_")
    if v not in allowed:
        raise InputError(f"{value!r} is not one of {', '.join(allowed)}", file=file, row=row, field=name)
    return v


def parse_geometry(value: Any, *, file: str | Path | None = None, row: Row = None,
                   field: str = "geometry") -> BaseGeometry | None:
    """A shapely geometry from WKT text, GeoJSON text or a GeoJSON mapping (lon/lat); blank → None."""
    if _blank(value):
        return None
    try:
        if isinstance(value, Mapping):
            geom = shapely.from_geojson(json.dumps(value))
        else:
            s = str(value).strip()
            geom = shapely.from_geojson(s) if s.startswith("{") else shapely.from_wkt(s)
    except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
        raise InputError(f"cannot read geometry ({exc}); give WKT or GeoJSON", file=file, row=row,
                         field=field) from None
    if geom is None or geom.is_empty:
        raise InputError("empty geometry", file=file, row=row, field=field)
    if not geom.is_valid:
        raise InputError(f"invalid geometry: {shapely.is_valid_reason(geom)}", file=file, row=row, field=field)
    b = geom.bounds
    if b[0] < -180 or b[2] > 180 or b[1] < -90 or b[3] > 90:
        raise InputError("geometry is not in lon/lat degrees (WGS84)", file=file, row=row, field=field)
    out: BaseGeometry = geom
    return out


def _window(rec: Mapping[str, Any], file: str | Path | None, row: Row, single: str | None
            ) -> tuple[datetime | None, datetime | None]:
    when = rec.get("when")
    if isinstance(when, Mapping):
        start = parse_time(when.get("start"), file=file, row=row, field="when.start")
        end = parse_time(when.get("end"), file=file, row=row, field="when.end")
    else:
        t = parse_time(when if single is None else rec.get(single, when), file=file, row=row,
                       field=single or "when") if (when is not None or (single and single in rec)) else None
        start = parse_time(rec.get("window_start", rec.get("time_start")), file=file, row=row,
                           field="window_start" if "window_start" in rec else "time_start") or t
        end = parse_time(rec.get("window_end", rec.get("time_end")), file=file, row=row,
                         field="window_end" if "window_end" in rec else "time_end") or t
    if start is not None and end is not None and end < start:
        raise InputError(f"window ends ({end:%Y-%m-%d %H:%M}) before it starts ({start:%Y-%m-%d %H:%M})",
                         file=file, row=row, field="when")
    return start, end


def _count(rec: Mapping[str, Any], file: str | Path | None, row: Row) -> tuple[int | None, int | None]:
    c = rec.get("count")
    if isinstance(c, Mapping):
        lo, hi = _int(c.get("min"), file, row, "count.min"), _int(c.get("max"), file, row, "count.max")
    elif isinstance(c, str) and "-" in c.strip()[1:]:
        a, b = c.split("-", 1)
        lo, hi = _int(a, file, row, "count"), _int(b, file, row, "count")
    elif not _blank(c):
        lo = hi = _int(c, file, row, "count")
    else:
        lo, hi = _int(rec.get("count_min"), file, row, "count_min"), _int(rec.get("count_max"), file, row, "count_max")
    if lo is not None and hi is not None and hi < lo:
        raise InputError(f"count max {hi} is below min {lo}", file=file, row=row, field="count")
    return lo, hi


def _need_id(rec: Mapping[str, Any], file: str | Path | None, row: Row) -> str:
    s = _str(rec, "id")
    if not s:
        raise InputError("missing 'id'", file=file, row=row, field="id")
    return s


# ---------------------------------------------------------------- record parsers


def source_from_record(rec: Mapping[str, Any], *, file: str | Path | None = None, row: Row = None) -> Source:
    """A `Source` from a mapping (keys: id, name, kind, link/url, reliability or grade, notes)."""
    sid = _need_id(rec, file, row)
    rel_key = "reliability" if "reliability" in rec else "grade"
    return Source(
        id=sid, name=_str(rec, "name", default=sid),
        kind=_choice(_str(rec, "kind", default="other"), SOURCE_KINDS, file, row, "kind"),
        link=_opt_str(rec, "link", "url"),
        reliability=parse_reliability(rec.get(rel_key), file=file, row=row, field=rel_key),
        notes=_str(rec, "notes"),
    )


def claim_from_record(rec: Mapping[str, Any], *, file: str | Path | None = None, row: Row = None) -> Claim:
    """A `Claim` from a mapping (see the module docstring for the keys)."""
    cid = _need_id(rec, file, row)
    statement = _str(rec, "statement", "text")
    if not statement:
        raise InputError("missing 'statement'", file=file, row=row, field="statement")
    stance_raw = _str(rec, "stance", default="asserts").lower()
    if stance_raw not in _STANCE_ALIASES:
        raise InputError(f"stance {stance_raw!r} is not one of {', '.join(STANCES)}", file=file, row=row,
                         field="stance")
    where = rec.get("where")
    zones: tuple[str, ...] = ()
    geom: BaseGeometry | None = None
    if isinstance(where, Mapping):
        zones = _list(where.get("zones"))
        geom = parse_geometry(where.get("geometry"), file=file, row=row, field="where.geometry")
    elif isinstance(where, list):
        zones = _list(where)
    elif not _blank(where):
        s = str(where).strip()
        if s[:1] == "{" or s.split("(")[0].strip().upper() in ("POINT", "POLYGON", "MULTIPOLYGON", "LINESTRING"):
            geom = parse_geometry(s, file=file, row=row, field="where")
        else:
            zones = _list(s)
    zones = zones or _list(rec.get("zones"))
    geom = geom or parse_geometry(rec.get("geometry"), file=file, row=row, field="geometry")
    start, end = _window(rec, file, row, None)
    lo, hi = _count(rec, file, row)
    ctype = _str(rec, "claimant_type", default="Organization").capitalize()
    if ctype not in ("Person", "Organization"):
        raise InputError(f"claimant_type {ctype!r} is not Person or Organization", file=file, row=row,
                         field="claimant_type")
    return Claim(
        id=cid, statement=statement, claimant=_str(rec, "claimant"), claimant_type=ctype,
        source_id=_opt_str(rec, "source", "source_id"),
        date_made=parse_time(rec.get("date", rec.get("date_made")), file=file, row=row,
                             field="date" if "date" in rec else "date_made"),
        stance=_STANCE_ALIASES[stance_raw],
        what=_choice(_str(rec, "what", default="other"), CLAIM_WHAT, file, row, "what"),
        where_zones=zones, where_geometry=geom, window_start=start, window_end=end, count_min=lo, count_max=hi,
        answers=_list(rec.get("answers")),
        credibility=parse_credibility(rec.get("credibility"), file=file, row=row),
        url=_opt_str(rec, "url", "link"), notes=_str(rec, "notes"),
    )


def observation_from_record(rec: Mapping[str, Any], *, file: str | Path | None = None,
                            row: Row = None) -> Observation:
    """An `Observation` from a mapping.

    An `Observation` from a mapping (keys: id, kind, source, lon, lat, time or when, precision_m or
    precision ("5km"), area, credibility, illustrative, description, count; others go to properties).
    """
    oid = _need_id(rec, file, row)
    lon = _float(rec.get("lon"), file, row, "lon", -180, 180)
    lat = _float(rec.get("lat"), file, row, "lat", -90, 90)
    if (lon is None) != (lat is None):
        raise InputError("give both lon and lat, or neither", file=file, row=row, field="lon" if lon is None else "lat")
    start, end = _window(rec, file, row, "time")
    prec = _float(rec.get("precision_m"), file, row, "precision_m", 0)
    if prec is None and not _blank(rec.get("precision")):
        try:
            prec = parse_distance(rec["precision"])
        except InputError as exc:
            raise InputError(exc.reason, file=file, row=row, field="precision") from None
    known = {"id", "kind", "type", "source", "source_id", "lon", "lat", "time", "when", "time_start", "time_end",
             "window_start", "window_end", "precision_m", "precision", "area", "credibility", "illustrative",
             "description", "count"}
    props = {str(k): v for k, v in rec.items() if k not in known and not _blank(v)}
    return Observation(
        id=oid, kind=_choice(_str(rec, "kind"), OBSERVATION_KINDS, file, row, "kind"),
        source_id=_opt_str(rec, "source", "source_id"), lon=lon, lat=lat, time_start=start, time_end=end,
        precision_m=prec, area=_opt_str(rec, "area"),
        credibility=parse_credibility(rec.get("credibility"), file=file, row=row),
        illustrative=_bool(rec.get("illustrative"), file, row, "illustrative"),
        description=_str(rec, "description"), count=_int(rec.get("count"), file, row, "count"),
        properties=json.loads(json.dumps(props, default=str)),
    )


def evidence_from_record(rec: Mapping[str, Any], *, file: str | Path | None = None, row: Row = None
                         ) -> EvidenceItem:
    """An `EvidenceItem` from a mapping.

    An `EvidenceItem` from a mapping (keys: id (optional), claim, kind, direction, reasoning, grade or
    reliability/credibility, source, observation, run, result_row).

    Grades not given are filled from the source and the observation when the bundle is resolved.
    """
    claim = _str(rec, "claim", "claim_id")
    if not claim:
        raise InputError("missing 'claim'", file=file, row=row, field="claim")
    direction = _str(rec, "direction").lower()
    if direction not in DIRECTIONS:
        raise InputError(f"direction {direction!r} is not supports or contradicts", file=file, row=row,
                         field="direction")
    kind = _choice(_str(rec, "kind", default="other"), EVIDENCE_KINDS, file, row, "kind")
    reasoning = _str(rec, "reasoning")
    if not reasoning:
        raise InputError("missing 'reasoning' (one line saying why)", file=file, row=row, field="reasoning")
    if not _blank(rec.get("grade")):
        g = parse_grade(rec.get("grade"), file=file, row=row)
        rel, cred = g.reliability, g.credibility
    else:
        rel = parse_reliability(rec.get("reliability"), file=file, row=row) if not _blank(rec.get("reliability")) \
            else ""
        cred = parse_credibility(rec.get("credibility"), file=file, row=row) \
            if not _blank(rec.get("credibility")) else 0
    eid = _str(rec, "id") or "ev-" + hashlib.sha256(
        json.dumps([claim, kind, direction, reasoning, _str(rec, "observation", "observation_id")]).encode()
    ).hexdigest()[:10]
    rr = _int(rec.get("result_row"), file, row, "result_row")
    # rel "" / cred 0 mean "not given": `resolve_bundle` fills them from the source / observation, or F / 6.
    return EvidenceItem(id=eid, claim_id=claim, kind=kind, direction=direction, reasoning=reasoning,
                        reliability=rel, credibility=cred, source_id=_opt_str(rec, "source", "source_id"),
                        run_id=_opt_str(rec, "run", "run_id"), result_row=rr,
                        observation_id=_opt_str(rec, "observation", "observation_id"))


_PARSERS = {"sources": source_from_record, "claims": claim_from_record, "observations": observation_from_record,
            "evidence": evidence_from_record}


# ---------------------------------------------------------------- files


def _records_structured(path: Path) -> list[tuple[str, Row, Mapping[str, Any]]]:
    text = read_text(path)
    try:
        doc = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"not valid {path.suffix.lstrip('.').upper()}: {exc}", file=path) from None
    out: list[tuple[str, Row, Mapping[str, Any]]] = []
    if isinstance(doc, Mapping):
        unknown = [k for k in doc if k not in _PARSERS and k != "case"]
        if unknown:
            raise InputError(f"unknown section(s) {', '.join(map(str, unknown))}; sections are "
                             f"{', '.join(_PARSERS)}", file=path, field=str(unknown[0]))
        for sec in _PARSERS:
            items = doc.get(sec) or []
            if not isinstance(items, list):
                raise InputError(f"section {sec!r} must be a list of records", file=path, field=sec)
            for i, rec in enumerate(items):
                out.append((sec, f"{sec}[{i}]", rec))
    elif isinstance(doc, list):
        for i, rec in enumerate(doc):
            t = str(rec.get("type", "")).strip().lower() if isinstance(rec, Mapping) else ""
            if t not in SECTIONS:
                raise InputError(f"record needs a 'type' of {', '.join(SECTIONS)}", file=path, row=f"[{i}]",
                                 field="type")
            out.append((SECTIONS[t], f"[{i}]", rec))
    elif doc is not None:
        raise InputError("expected a mapping of sections or a list of records", file=path)
    for _sec, row, rec in out:
        if not isinstance(rec, Mapping):
            raise InputError("a record must be a mapping", file=path, row=row)
    return out


def _records_csv(path: Path) -> list[tuple[str, Row, Mapping[str, Any]]]:
    """One record per physical line; every line after the header is a record, a blank line or an error.

    A value may not hold a line break: a stray ``"`` would otherwise swallow the lines after it into one
    value (write multi-line text in YAML). Rows are the 1-based physical line numbers (header = line 1).
    """
    stem = path.stem.lower()
    default = next((sec for sec in _PARSERS if stem.startswith(sec) or stem.startswith(sec.rstrip("s"))), None)
    out: list[tuple[str, Row, Mapping[str, Any]]] = []
    lines = iter_text_lines(path)
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise InputError(f"cannot read the header row: {exc}", file=path, row=1) from None
    if header is None:
        return out
    if reader.line_num != 1:
        raise _quote_break(path, 1)
    names = [h.strip() for h in header]
    if "type" not in names and default is None:
        raise InputError("a CSV file needs a 'type' column or a name starting with sources/claims/"
                         "observations/evidence", file=path, field="type")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"duplicate column name(s) {', '.join(dup)}", file=path, row=1, field=dup[0])
    last = 1
    while True:
        start = last + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if "unexpected end of data" in str(exc) or reader.line_num > start:
                raise _quote_break(path, start) from None
            raise InputError(f"cannot read the line: {exc}", file=path, row=start) from None
        last = reader.line_num
        if last != start:
            raise _quote_break(path, start)
        if not cells or all(not c.strip() for c in cells):
            continue  # a blank line: no record
        if len(cells) != len(names):
            raise InputError(f"{len(cells)} cells, the header has {len(names)}", file=path, row=start)
        rec = dict(zip(names, cells, strict=True))
        t = (rec.get("type") or "").strip().lower()
        sec = SECTIONS.get(t) if t else default
        if sec is None:
            raise InputError(f"type {t!r} is not one of {', '.join(SECTIONS)}", file=path, row=start, field="type")
        out.append((sec, start, {k: v for k, v in rec.items() if k != "type"}))
    return out


def _quote_break(path: Path, line: int) -> InputError:
    return InputError("a quoted value that starts on this line runs over the end of the line (a stray or "
                      "unbalanced '\"'?); it would swallow the lines after it, so the file is refused. Fix the "
                      "quote; write multi-line text in YAML", file=path, row=line)


def read_file(path: str | Path) -> Bundle:
    """Read one YAML, JSON or CSV file into a `Bundle` (validated, references not yet checked)."""
    return read_files([path])


def read_files(paths: Iterable[str | Path]) -> Bundle:
    """Read several files into one `Bundle`; ids must be unique across them.

    Raises
    ------
    InputError
        At the first bad value, naming file, row and field; nothing is returned.
    """
    b = Bundle()
    for p in map(Path, paths):
        if not p.exists():
            raise InputError("no such file", file=p)
        suffix = p.suffix.lower()
        if suffix in (".yaml", ".yml", ".json"):
            records = _records_structured(p)
        elif suffix == ".csv":
            records = _records_csv(p)
        else:
            raise InputError(f"cannot import {suffix or 'a file without suffix'}: use YAML, JSON or CSV", file=p)
        for sec, row, rec in records:
            obj: Any = _PARSERS[sec](rec, file=p, row=row)
            key = (sec, obj.id)
            if key in b.origin:
                f0, r0 = b.origin[key]
                raise InputError(f"duplicate {sec[:-1] if sec != 'evidence' else 'evidence'} id {obj.id!r} "
                                 f"(first at {f0}, {r0})", file=p, row=row, field="id")
            b.origin[key] = (str(p), row)
            getattr(b, sec).append(obj)
    return b


#: evidence kinds that are analysis results: imported only with the run that produced them
ANALYSIS_KINDS = ("transit_row", "prism_verdict", "attribution_stat")


def check_claim_zones(b: Bundle, zones: Mapping[str, str]) -> None:
    """Check that every zone a claim is scoped to is in the case.

    Every zone a claim is scoped to must be in the case (``zones``: id → name); else an `InputError`
    naming the file, row and field, with the closest zone ids (by id or by name).
    """
    import difflib

    by_text = {**{str(n).lower(): i for i, n in zones.items() if n}, **{i.lower(): i for i in zones}}
    for c in b.claims:
        for z in c.where_zones:
            if z in zones:
                continue
            f, r = b.origin.get(("claims", c.id), ("", None))
            near = difflib.get_close_matches(z.lower(), list(by_text), n=5, cutoff=0.5)
            ids = list(dict.fromkeys(by_text[m] for m in near))
            shown = [f"{i} ({zones[i]})" if zones[i] and zones[i] != i else i for i in ids]
            hint = f"; close matches: {', '.join(shown)}" if ids else "; no zone id or name is close"
            raise InputError(f"claim {c.id!r} is scoped to zone {z!r}, which the case does not hold{hint}",
                             file=f or None, row=r, field="where.zones")


def resolve_bundle(b: Bundle, *, sources: Mapping[str, Source] | None = None,
            observations: Mapping[str, Observation] | None = None, claims: Iterable[str] = (),
            runs: Iterable[str] | None = None, zones: Mapping[str, str] | None = None) -> Bundle:
    """Check references and fill evidence grades, against the bundle plus what a case already holds.

    Evidence items without a reliability take their source's (or their observation's source's); without a
    credibility, their observation's; otherwise F / 6. Evidence of an analysis kind (`ANALYSIS_KINDS`) is
    refused without a run, and, when ``runs`` is given, unless its run is one of them: an analysis result is
    made by the analysis (`run_transit`, `run_prism`, `overflight case attribute`), not typed in — type it in as kind
    ``other`` with the grade it deserves. When ``zones`` (id → name) is given, claims must be scoped to
    zones among them (`check_claim_zones`).
    """
    run_ids = set(runs) if runs is not None else None
    if zones is not None:
        check_claim_zones(b, zones)
    src = {**(sources or {}), **{s.id: s for s in b.sources}}
    obs = {**(observations or {}), **{o.id: o for o in b.observations}}
    claim_ids = set(claims) | {c.id for c in b.claims}

    def where(sec: str, oid: str) -> tuple[str | None, Row]:
        f, r = b.origin.get((sec, oid), ("", None))
        return f or None, r

    for c in b.claims:
        f, r = where("claims", c.id)
        if c.source_id and c.source_id not in src:
            raise InputError(f"unknown source {c.source_id!r}", file=f, row=r, field="source")
    for o in b.observations:
        f, r = where("observations", o.id)
        if o.source_id and o.source_id not in src:
            raise InputError(f"unknown source {o.source_id!r}", file=f, row=r, field="source")
    items = []
    for e in b.evidence:
        f, r = where("evidence", e.id)
        if e.claim_id not in claim_ids:
            raise InputError(f"unknown claim {e.claim_id!r}", file=f, row=r, field="claim")
        if e.source_id and e.source_id not in src:
            raise InputError(f"unknown source {e.source_id!r}", file=f, row=r, field="source")
        ob: Observation | None = obs.get(e.observation_id) if e.observation_id else None
        if e.observation_id and ob is None:
            raise InputError(f"unknown observation {e.observation_id!r}", file=f, row=r, field="observation")
        if e.kind in ANALYSIS_KINDS and (e.run_id is None or (run_ids is not None and e.run_id not in run_ids)):
            why = "without a run behind it" if e.run_id is None else f"naming run {e.run_id!r}, which the case lacks"
            raise InputError(f"evidence of kind {e.kind} {why}: analysis results are recorded by the analysis "
                             "itself; import a hand-made item as kind 'other' with its grade",
                             file=f, row=r, field="kind" if e.run_id is None else "run")
        sid = e.source_id or (ob.source_id if ob else None)
        rel = e.reliability or (src[sid].reliability if sid and sid in src else "F")
        cred = e.credibility or (ob.credibility if ob else 6)
        items.append(replace(e, reliability=rel, credibility=cred, source_id=sid))
    b.evidence = items
    return b


def check_claim_links(claims: Mapping[str, Claim], origin: Mapping[tuple[str, str], tuple[str, Row]]) -> None:
    """Every id in a claim's ``answers`` must be a known claim."""
    for c in claims.values():
        for a in c.answers:
            if a not in claims:
                f, r = origin.get(("claims", c.id), (None, None))
                raise InputError(f"answers unknown claim {a!r}", file=f, row=r, field="answers")


__all__ = ["ANALYSIS_KINDS", "Bundle", "OverflightError", "check_claim_links", "check_claim_zones",
           "claim_from_record", "evidence_from_record", "observation_from_record", "parse_geometry", "parse_time",
           "read_file", "read_files", "resolve_bundle", "source_from_record"]

__getattr__ = deprecated_names(__name__, {"resolve": "resolve_bundle"})
