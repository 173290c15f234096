"""Parametric zone specs: geodesic shapes around a named place or a coordinate, from YAML/JSON or mappings.

A spec such as ``{"id": "ranges", "shape": "annulus", "center": "Akhtubinsk", "inner_km": 22, "outer_km": 800}``
becomes a `Zone` (shapes: circle, annulus, sector, buffer around a line, point, polygon); a spec file holds
a list of them. `overflight.zones.load_zones` reads spec files through `read_spec_file`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import shapely.affinity
from shapely.geometry.base import BaseGeometry

from overflight.errors import InputError
from overflight.zoneset import (
    Provenance,
    Zone,
    ZoneSet,
    zone_limits,
)

SPEC_SUFFIXES = {".json", ".yaml", ".yml"}
SPEC_SHAPES = ("circle", "annulus", "sector", "buffer", "point", "polygon")


def _center(spec: Mapping[str, Any], file: str | Path | None, row: int | str | None, key: str = "center",
            ) -> tuple[float, float]:
    value = spec.get(key)
    if value is None:
        raise InputError(f"missing {key!r} (a place name or [lon, lat])", file=file, row=row, field=key)
    return _point(value, spec.get("country"), file, row, key)


def _point(value: Any, country: Any, file: str | Path | None, row: int | str | None, key: str) -> tuple[float, float]:
    if country is not None and not isinstance(country, str):
        raise InputError(f"country must be a country code or name, not {country!r}", file=file, row=row,
                         field="country")
    if isinstance(value, str):
        from overflight import gazetteer

        try:
            place = gazetteer.resolve(value, country=country)
        except InputError as exc:
            raise InputError(exc.reason, file=file, row=row, field=key) from None
        return float(place.lon), float(place.lat)
    try:
        if isinstance(value, bool | Mapping) or len(value) != 2 or any(isinstance(v, bool | str) for v in value):
            raise TypeError
        lon, lat = (float(v) for v in value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{value!r} is neither a place name nor [lon, lat]", file=file, row=row, field=key) from None
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise InputError(f"[lon, lat] = {value!r} is outside [-180, 180] x [-90, 90]", file=file, row=row, field=key)
    return lon, lat


def _km(spec: Mapping[str, Any], key: str, file: str | Path | None, row: int | str | None) -> float:
    if key not in spec:
        raise InputError(f"missing {key!r} for shape {spec.get('shape')!r}", file=file, row=row, field=key)
    try:
        if isinstance(spec[key], bool):
            raise TypeError
        v = float(spec[key])
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{key} must be a number, not {spec[key]!r}", file=file, row=row, field=key) from None
    if not np.isfinite(v) or v < 0:
        raise InputError(f"{key} must be a finite number >= 0, not {spec[key]!r}", file=file, row=row, field=key)
    return v


def _deg(spec: Mapping[str, Any], key: str, file: str | Path | None, row: int | str | None) -> float:
    value = spec[key]
    try:
        if isinstance(value, bool):
            raise TypeError
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{key} must be a bearing in degrees, not {value!r}", file=file, row=row, field=key) from None
    if not np.isfinite(v):
        raise InputError(f"{key} must be a finite bearing in degrees, not {value!r}", file=file, row=row, field=key)
    return v


# geodesy names its own parameters; an error about them is about these keys of the spec.
_GEODESY_FIELDS = {"radius_m": "radius_km", "inner_m": "inner_km", "outer_m": "outer_km", "width_m": "width_km"}


def from_spec(spec: Mapping[str, Any], *, file: str | Path | None = None, row: int | str | None = None) -> Zone:
    """Build a zone from a parametric spec (see `_from_spec`); errors name the spec's own keys."""
    try:
        return _from_spec(spec, file=file, row=row)
    except InputError as exc:
        if not isinstance(spec, Mapping) or not (exc.field or "").endswith("_m") or exc.field in spec:
            raise
        key = "width_km" if spec.get("shape") == "buffer" else _GEODESY_FIELDS.get(str(exc.field), exc.field)
        where = row if row is not None else f"spec {spec.get('id')}"
        raise InputError(exc.reason, file=file, row=where, field=key) from None


def _from_spec(spec: Mapping[str, Any], *, file: str | Path | None = None, row: int | str | None = None) -> Zone:
    """Build a zone from a parametric spec.

    Shapes and their keys (distances in km along the WGS84 geodesic, bearings clockwise from north):
    ``circle`` (``radius_km``), ``annulus`` (``inner_km``, ``outer_km``), ``sector`` (``radius_km``,
    ``from_deg``, ``to_deg``), ``buffer`` (``around``: a list of [lon, lat] or place names, ``width_km``: the
    distance on each side of the line), ``point`` (a point zone, e.g. a facility), ``polygon``
    (``coordinates``: a ring of [lon, lat], or a list of rings, the first the outline and the others holes; or
    ``wkt``; or ``geometry``: a GeoJSON geometry; its edges are straight in lon/lat, like boundary sets').
    ``center`` is a gazetteer place name (``country`` narrows it) or ``[lon, lat]``. Optional: ``name``,
    ``kind``, ``floor_m``, ``ceiling_m``, ``valid_from``, ``valid_to``; any other key is kept in the zone's
    properties.
    """
    from overflight import geodesy

    if not isinstance(spec, Mapping):
        raise InputError(f"a zone spec must be a mapping, not {type(spec).__name__}", file=file, row=row)
    if "id" not in spec or spec["id"] in (None, ""):
        raise InputError("missing 'id'", file=file, row=row, field="id")
    zid = str(spec["id"])
    row = row if row is not None else f"spec {zid}"
    shape = spec.get("shape")
    if shape not in SPEC_SHAPES:
        raise InputError(f"unknown shape {shape!r}; shapes are {', '.join(SPEC_SHAPES)}", file=file, row=row,
                         field="shape")
    geom: BaseGeometry
    if shape == "polygon":
        geom = _spec_polygon(spec, file, row)
    elif shape == "buffer":
        around = spec.get("around")
        if not isinstance(around, list) or len(around) < 1:
            raise InputError("'around' must be a list of [lon, lat] or place names", file=file, row=row, field="around")
        pts = np.array([_point(v, spec.get("country"), file, row, "around") for v in around], dtype=float)
        width = _km(spec, "width_km", file, row) * 1000.0
        geom = geodesy.circle(pts[0, 0], pts[0, 1], width) if len(pts) == 1 else \
            geodesy.buffer_line(pts[:, 0], pts[:, 1], width)
    else:
        lon, lat = _center(spec, file, row)
        if shape == "point":
            geom = shapely.Point(lon, lat)
        elif shape == "circle":
            geom = geodesy.circle(lon, lat, _km(spec, "radius_km", file, row) * 1000.0)
        elif shape == "annulus":
            inner, outer = _km(spec, "inner_km", file, row), _km(spec, "outer_km", file, row)
            if inner >= outer:
                raise InputError(f"inner_km ({inner}) must be below outer_km ({outer})", file=file, row=row,
                                 field="inner_km")
            geom = geodesy.annulus(lon, lat, inner * 1000.0, outer * 1000.0)
        else:
            for k in ("from_deg", "to_deg"):
                if k not in spec:
                    raise InputError(f"missing {k!r} for a sector", file=file, row=row, field=k)
            geom = geodesy.sector(lon, lat, _km(spec, "radius_km", file, row) * 1000.0,
                                  _deg(spec, "from_deg", file, row), _deg(spec, "to_deg", file, row))
    known = {"id", "name", "kind", "floor_m", "ceiling_m", "valid_from", "valid_to"}
    props = {k: v for k, v in spec.items() if k not in known}
    floor, ceiling, vfrom, vto = zone_limits(spec, file, row)
    return Zone(
        id=zid, name=str(spec.get("name") or zid), kind=str(spec.get("kind") or "user"), geometry=geom,
        floor_m=floor, ceiling_m=ceiling, valid_from=vfrom, valid_to=vto, properties=props,
    )


def _spec_polygon(spec: Mapping[str, Any], file: str | Path | None, row: int | str | None) -> BaseGeometry:
    from overflight.evidence.importing import parse_geometry

    given = [k for k in ("coordinates", "wkt", "geometry") if spec.get(k) not in (None, "")]
    if len(given) != 1:
        raise InputError("a polygon needs exactly one of 'coordinates', 'wkt' or 'geometry'", file=file, row=row,
                         field="coordinates")
    key = given[0]
    value = spec[key]
    if key == "coordinates":
        rings = value if value and isinstance(value[0], list) and value[0] and isinstance(value[0][0], list) \
            else [value]
        value = {"type": "Polygon", "coordinates": rings}
    try:
        geom = parse_geometry(value, file=file, row=row, field=key)
    except InputError:
        raise
    except (TypeError, ValueError, IndexError) as exc:
        raise InputError(f"not a polygon: {exc}", file=file, row=row, field=key) from None
    if geom is None or geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
        kind = geom.geom_type if geom is not None else "nothing"
        raise InputError(f"a polygon zone needs a Polygon or MultiPolygon, not {kind}", file=file, row=row, field=key)
    if not geom.is_valid:
        raise InputError(f"invalid polygon: {shapely.is_valid_reason(geom)}", file=file, row=row, field=key)
    return geom


def from_specs(specs: Sequence[Mapping[str, Any]], *, name: str = "zone-specs", file: str | Path | None = None,
               ) -> ZoneSet:
    """A zone set from a list of specs (see `from_spec`); provenance hashes the canonical JSON of the specs."""
    zones = [from_spec(s, file=file, row=i) for i, s in enumerate(specs)]
    digest = hashlib.sha256(json.dumps(list(specs), sort_keys=True, default=str).encode()).hexdigest()
    prov = Provenance(name=name, version="spec", licence="user-defined", source=str(file) if file else "inline spec",
                      sha256=digest, kind="user",
                      notes="parametric zones built from a textual description: geodesic shapes on WGS84")
    return ZoneSet(zones, prov)


def read_spec_file(path: str | Path) -> ZoneSet:
    """Zones from a JSON or YAML file holding one spec or a list of specs."""
    p = Path(path)
    data = _load_structured(p)
    if isinstance(data, Mapping) and "zones" in data and isinstance(data["zones"], list):
        data = data["zones"]
    specs = [data] if isinstance(data, Mapping) else data
    if not isinstance(specs, list) or not specs:
        raise InputError("expected a zone spec or a list of zone specs", file=p)
    return from_specs(specs, name=p.stem, file=p)


def _load_structured(p: Path) -> Any:
    if not p.exists():
        raise InputError("no such file", file=p)
    from overflight.safeio import read_text

    text = read_text(p)  # bytes that are not UTF-8 are an error naming the line, never replaced
    kind = "JSON" if p.suffix.lower() == ".json" else "YAML"
    try:
        if kind == "JSON":
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", file=p, row=f"line {exc.lineno}") from None
    except RecursionError:
        raise InputError(f"{kind} nested too deeply to be a zone spec", file=p) from None
    except Exception as exc:  # yaml's errors carry their own position text
        raise InputError(f"invalid {kind}: {exc}", file=p) from None


def is_spec_file(p: Path) -> bool:
    """Whether a file holds zone specs (YAML, or JSON whose top level is a spec, a list of specs or ``zones``)."""
    if p.suffix.lower() in (".yaml", ".yml"):
        return True
    if p.suffix.lower() != ".json":
        return False
    try:
        head = json.loads(p.read_text(encoding="utf-8", errors="replace"))
    except (ValueError, RecursionError):  # not JSON (or not sane JSON): the zone-file reader says why
        return False
    if isinstance(head, Mapping):
        return "shape" in head or ("zones" in head and head.get("type") != "FeatureCollection")
    return isinstance(head, list) and bool(head) and isinstance(head[0], Mapping) and "shape" in head[0]


__all__ = ["SPEC_SHAPES", "SPEC_SUFFIXES", "from_spec", "from_specs", "is_spec_file", "read_spec_file"]
