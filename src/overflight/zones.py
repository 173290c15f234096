"""Zones and zone sets: what an analysis tests tracks and points against, with the provenance of the data.

A `Zone` is one area (a state, a test range, a restricted area, a corridor), a `ZoneSet` an ordered
collection of them with the `Provenance` of the data it came from. Zones come from a boundary set
(`overflight.boundaries`), a zone file (GeoJSON, KML, GeoPackage, Shapefile, GeoParquet) or a parametric
spec such as ``{"id": "ranges", "shape": "annulus", "center": "Akhtubinsk", "inner_km": 22, "outer_km": 800}``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from overflight.errors import InputError

ZONE_FILE_SUFFIXES = {".geojson", ".json", ".kml", ".kmz", ".gpkg", ".shp", ".zip", ".parquet", ".geoparquet", ".fgb"}
SPEC_SUFFIXES = {".json", ".yaml", ".yml"}
SPEC_SHAPES = ("circle", "annulus", "sector", "buffer", "point", "polygon")


@dataclass(frozen=True)
class Provenance:
    """Where a zone set's data came from, so every answer can say which boundaries produced it."""

    name: str
    version: str
    licence: str
    source: str
    sha256: str
    kind: str = "user"  # "land" | "land+territorial-sea" | "user"
    point_of_view: str | None = None
    notes: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "licence": self.licence,
            "source": self.source,
            "sha256": self.sha256,
            "kind": self.kind,
            "point_of_view": self.point_of_view,
            "notes": self.notes,
        }


@dataclass(frozen=True)
class Zone:
    """One zone: an id, a name, a kind and a geometry in WGS84 lon/lat, optionally with altitude and time limits."""

    id: str
    name: str
    kind: str
    geometry: BaseGeometry
    floor_m: float | None = None
    ceiling_m: float | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_areal(self) -> bool:
        """True for polygons (the zones a point can be inside)."""
        return self.geometry.geom_type in ("Polygon", "MultiPolygon")


class ZoneSet:
    """An ordered collection of zones with the provenance of their data."""

    def __init__(self, zones: Iterable[Zone], provenance: Provenance) -> None:
        self.zones: list[Zone] = list(zones)
        self.provenance = provenance
        self._pos: dict[str, int] = {}
        for i, z in enumerate(self.zones):
            if z.id in self._pos:
                raise InputError(f"zone id {z.id!r} appears twice (positions {self._pos[z.id]} and {i})",
                                 file=provenance.source, field="id")
            self._pos[z.id] = i

    def __len__(self) -> int:
        return len(self.zones)

    def __iter__(self) -> Iterator[Zone]:
        return iter(self.zones)

    def __getitem__(self, key: int | str) -> Zone:
        if isinstance(key, str):
            return self.zones[self.index_of(key)]
        return self.zones[key]

    def __contains__(self, zone_id: object) -> bool:
        return zone_id in self._pos

    def __repr__(self) -> str:
        return f"ZoneSet({self.provenance.name!r}, {len(self)} zones)"

    @property
    def ids(self) -> list[str]:
        return [z.id for z in self.zones]

    def index_of(self, zone_id: str) -> int:
        """Position of a zone id in the set; InputError listing close ids when absent."""
        try:
            return self._pos[zone_id]
        except KeyError:
            close = [i for i in self._pos if i.lower().startswith(zone_id[:1].lower())][:8]
            hint = f"; ids starting alike: {', '.join(close)}" if close else ""
            raise InputError(f"no zone {zone_id!r} in {self.provenance.name}{hint}", field="zone") from None

    def select(self, ids: Sequence[str] | None) -> ZoneSet:
        """The zones with these ids, in the order given (all zones when ids is None or empty)."""
        if not ids:
            return self
        zones = [self[i] for i in ids]
        notes = _join(self.provenance.notes, f"selected: {','.join(ids)}")
        return ZoneSet(zones, replace(self.provenance, notes=notes))

    def geometries(self) -> np.ndarray:
        """The zones' shapely geometries as a numpy object array (the input of shapely's vectorised functions)."""
        return np.array([z.geometry for z in self.zones], dtype=object)

    def overlaps(self) -> list[tuple[str, str]]:
        """Pairs of zones whose interiors overlap (a disputed area such as Crimea in an OSM-derived set).

        Overlapping zones are kept as they are: a point inside both is inside both.
        """
        geoms = self.geometries()
        areal = shapely.get_type_id(geoms) >= 3  # polygons and multipolygons (and collections)
        tree = shapely.STRtree(np.where(areal, geoms, np.array(None, dtype=object)))
        left, right = tree.query(geoms, predicate="intersects")
        keep = (left < right) & areal[left] & areal[right]
        left, right = left[keep], right[keep]
        if len(left) == 0:
            return []
        # Interiors meet: DE-9IM interior/interior cell is 2 (an area), not a shared border line or point.
        inter = shapely.relate_pattern(geoms[left], geoms[right], "2********")
        return [(self.zones[a].id, self.zones[b].id) for a, b in zip(left[inter], right[inter], strict=True)]

    def overlap_areas(self) -> list[tuple[str, str, float]]:
        """Overlapping pairs with the geodesic area of their overlap in km², largest first."""
        from pyproj import Geod

        geod = Geod(ellps="WGS84")
        out = []
        for a, b in self.overlaps():
            inter = shapely.intersection(self[a].geometry, self[b].geometry)
            area = abs(geod.geometry_area_perimeter(inter)[0]) / 1e6
            out.append((a, b, area))
        return sorted(out, key=lambda r: -r[2])

    def bounds(self) -> tuple[float, float, float, float]:
        b = shapely.bounds(self.geometries())
        return (float(np.nanmin(b[:, 0])), float(np.nanmin(b[:, 1])), float(np.nanmax(b[:, 2])),
                float(np.nanmax(b[:, 3])))

    def concat(self, other: ZoneSet) -> ZoneSet:
        """This set followed by another one (their provenances are joined)."""
        p1, p2 = self.provenance, other.provenance
        prov = Provenance(
            name=f"{p1.name}+{p2.name}", version=f"{p1.version}+{p2.version}", licence=_join(p1.licence, p2.licence),
            source=_join(p1.source, p2.source), sha256=hashlib.sha256((p1.sha256 + p2.sha256).encode()).hexdigest(),
            kind="user", point_of_view=p1.point_of_view or p2.point_of_view, notes=_join(p1.notes, p2.notes),
        )
        return ZoneSet([*self.zones, *other.zones], prov)


def _join(a: str, b: str) -> str:
    return "; ".join(x for x in (a, b) if x)


# --------------------------------------------------------------------------------------------- reading

def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _parse_time(value: Any, file: str | Path | None, row: int | str | None, name: str) -> datetime | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return None
    try:
        t = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"cannot read time {value!r} (ISO 8601 expected)", file=file, row=row, field=name) from None
    if t.tzinfo is None:
        raise InputError(f"time {value!r} has no time zone (add Z or +hh:mm)", file=file, row=row, field=name)
    return t.astimezone(UTC)


def _parse_alt(value: Any, file: str | Path | None, row: int | str | None, name: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"altitude {value!r} is not a number of metres", file=file, row=row, field=name) from None
    return None if np.isnan(v) else v


def _check_geometry(geom: BaseGeometry | None, repair: bool, file: str | Path, feature: str) -> BaseGeometry:
    if geom is None or geom.is_empty:
        raise InputError("feature has no geometry", file=file, row=feature, field="geometry")
    if shapely.is_valid(geom):
        return geom
    if not repair:
        raise InputError(
            f"invalid geometry ({shapely.is_valid_reason(geom)}); "
            "pass repair=True (--repair) to fix it with make_valid",
            file=file, row=feature, field="geometry",
        )
    fixed = shapely.make_valid(geom, method="structure")
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        # make_valid may return a collection with stray lines; a polygon zone keeps only its areas.
        parts = [p for p in shapely.get_parts(fixed) if p.geom_type in ("Polygon", "MultiPolygon")]
        fixed = shapely.union_all(parts) if parts else fixed
    return fixed


def _zone_from_record(
    props: Mapping[str, Any], geom: BaseGeometry | None, *, row: int, fid: Any, file: Path,
    id_field: str | None, repair: bool,
) -> Zone:
    key = id_field or "id"
    if id_field and id_field not in props:
        raise InputError(f"no property {id_field!r}; properties are {sorted(props)}", file=file, row=f"feature {row}",
                         field=id_field)
    raw_id = props.get(key)
    if raw_id is None or raw_id == "" or (isinstance(raw_id, float) and np.isnan(raw_id)):
        raw_id = fid if fid is not None and fid != "" else row
    zid = str(raw_id)
    where = f"feature {row} (id {zid})"
    geometry = _check_geometry(geom, repair, file, where)
    name = props.get("name") or props.get("Name") or props.get("NAME") or zid
    reserved = {key, "name", "kind", "floor_m", "ceiling_m", "valid_from", "valid_to"}
    extra = {k: _plain(v) for k, v in props.items() if k not in reserved and _plain(v) is not None}
    return Zone(
        id=zid, name=str(name), kind=str(props.get("kind") or "user"), geometry=geometry,
        floor_m=_parse_alt(props.get("floor_m"), file, where, "floor_m"),
        ceiling_m=_parse_alt(props.get("ceiling_m"), file, where, "ceiling_m"),
        valid_from=_parse_time(props.get("valid_from"), file, where, "valid_from"),
        valid_to=_parse_time(props.get("valid_to"), file, where, "valid_to"),
        properties=extra,
    )


def _plain(v: Any) -> Any:
    """A JSON-friendly version of a property value (numpy scalars, NaN as None)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, bytes):
        return None
    return v


def read_zone_file(
    path: str | Path, *, id_field: str | None = None, repair: bool = False, name: str | None = None,
    licence: str = "unknown (user file)",
) -> ZoneSet:
    """Read zones from a GeoJSON, KML, GeoPackage, Shapefile (or zipped shapefile), FlatGeobuf or GeoParquet file.

    Ids come from the property ``id`` (or `id_field`), else the feature id, else the row number.
    An invalid geometry is an error naming the feature, unless ``repair=True`` (then `make_valid`).
    """
    p = Path(path)
    if not p.exists():
        raise InputError("no such file", file=p)
    if p.is_dir():
        raise InputError("is a directory, not a zone file", file=p)
    suffix = p.suffix.lower()
    records = _read_geoparquet(p) if suffix in (".parquet", ".geoparquet") else _read_ogr(p)
    zones = [
        _zone_from_record(props, geom, row=i, fid=fid, file=p, id_field=id_field, repair=repair)
        for i, (props, geom, fid) in enumerate(records)
    ]
    if not zones:
        raise InputError("no features in the file", file=p)
    prov = Provenance(name=name or p.stem, version=datetime.fromtimestamp(p.stat().st_mtime, UTC).date().isoformat(),
                      licence=licence, source=str(p.resolve()), sha256=file_sha256(p), kind="user")
    return ZoneSet(zones, prov)


def _read_ogr(p: Path) -> list[tuple[dict[str, Any], BaseGeometry | None, Any]]:
    import pyogrio
    from pyogrio.errors import DataSourceError, FieldError, GeometryError

    try:
        layers = pyogrio.list_layers(p)
    except (DataSourceError, OSError) as exc:
        raise InputError(f"not a readable zone file (GeoJSON, KML, GeoPackage, Shapefile, GeoParquet): {exc}",
                         file=p) from None
    out: list[tuple[dict[str, Any], BaseGeometry | None, Any]] = []
    for layer_name, geom_type in layers:
        if geom_type is None:
            continue  # an attribute-only table (e.g. in a GeoPackage) holds no zones
        try:
            meta, fids, geoms, field_data = pyogrio.raw.read(p, layer=layer_name, return_fids=True)
        except (DataSourceError, FieldError, GeometryError, OSError) as exc:
            raise InputError(f"cannot read layer {layer_name!r}: {exc}", file=p) from None
        names = list(meta["fields"])
        shapes = shapely.from_wkb(geoms) if geoms is not None else [None] * len(fids)
        for j in range(len(fids)):
            props = {n: field_data[k][j] for k, n in enumerate(names)}
            out.append((props, shapes[j], int(fids[j]) if fids is not None else None))
    if not layers.size or not out:
        raise InputError("no geometry found: not a zone file (GeoJSON, KML, GeoPackage, Shapefile, GeoParquet)",
                         file=p)
    return out


def _read_geoparquet(p: Path) -> list[tuple[dict[str, Any], BaseGeometry | None, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(p)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not a readable Parquet file: {exc}", file=p) from None
    meta = json.loads((table.schema.metadata or {}).get(b"geo", b"{}") or b"{}")
    col = meta.get("primary_column") or ("geometry" if "geometry" in table.column_names else None)
    if col is None or col not in table.column_names:
        raise InputError(f"no geometry column (GeoParquet 'geo' metadata or a 'geometry' column); "
                         f"columns are {table.column_names}", file=p)
    encoding = (meta.get("columns", {}).get(col, {}) or {}).get("encoding", "WKB")
    if str(encoding).upper() != "WKB":
        raise InputError(f"geometry encoding {encoding!r} is not supported (WKB only)", file=p, field=col)
    try:
        geoms = shapely.from_wkb(np.asarray(table.column(col).to_pylist(), dtype=object))
    except shapely.errors.GEOSException as exc:
        raise InputError(f"cannot decode geometry: {exc}", file=p, field=col) from None
    rest = table.drop([col]).to_pylist()
    return [(props, g, None) for props, g in zip(rest, geoms, strict=True)]


# --------------------------------------------------------------------------------------------- specs

def _center(spec: Mapping[str, Any], file: str | Path | None, row: int | str | None, key: str = "center",
            ) -> tuple[float, float]:
    value = spec.get(key)
    if value is None:
        raise InputError(f"missing {key!r} (a place name or [lon, lat])", file=file, row=row, field=key)
    return _point(value, spec.get("country"), file, row, key)


def _point(value: Any, country: Any, file: str | Path | None, row: int | str | None, key: str) -> tuple[float, float]:
    if isinstance(value, str):
        from overflight import gazetteer

        try:
            place = gazetteer.resolve(value, country=country)
        except InputError as exc:
            raise InputError(exc.reason, file=file, row=row, field=key) from None
        return float(place.lon), float(place.lat)
    try:
        lon, lat = (float(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"{value!r} is neither a place name nor [lon, lat]", file=file, row=row, field=key) from None
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise InputError(f"[lon, lat] = {value!r} is outside [-180, 180] x [-90, 90]", file=file, row=row, field=key)
    return lon, lat


def _km(spec: Mapping[str, Any], key: str, file: str | Path | None, row: int | str | None) -> float:
    if key not in spec:
        raise InputError(f"missing {key!r} for shape {spec.get('shape')!r}", file=file, row=row, field=key)
    try:
        v = float(spec[key])
    except (TypeError, ValueError):
        raise InputError(f"{key} must be a number, not {spec[key]!r}", file=file, row=row, field=key) from None
    if not np.isfinite(v) or v < 0:
        raise InputError(f"{key} must be a finite number >= 0, not {spec[key]!r}", file=file, row=row, field=key)
    return v


def from_spec(spec: Mapping[str, Any], *, file: str | Path | None = None, row: int | str | None = None) -> Zone:
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
            geom = geodesy.sector(lon, lat, _km(spec, "radius_km", file, row) * 1000.0, float(spec["from_deg"]),
                                  float(spec["to_deg"]))
    known = {"id", "name", "kind", "floor_m", "ceiling_m", "valid_from", "valid_to"}
    props = {k: v for k, v in spec.items() if k not in known}
    return Zone(
        id=zid, name=str(spec.get("name") or zid), kind=str(spec.get("kind") or "user"), geometry=geom,
        floor_m=_parse_alt(spec.get("floor_m"), file, row, "floor_m"),
        ceiling_m=_parse_alt(spec.get("ceiling_m"), file, row, "ceiling_m"),
        valid_from=_parse_time(spec.get("valid_from"), file, row, "valid_from"),
        valid_to=_parse_time(spec.get("valid_to"), file, row, "valid_to"),
        properties=props,
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
    text = p.read_text(encoding="utf-8", errors="replace")
    try:
        if p.suffix.lower() == ".json":
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", file=p, row=f"line {exc.lineno}") from None
    except Exception as exc:  # yaml's errors carry their own position text
        raise InputError(f"invalid YAML: {exc}", file=p) from None


def _is_spec_file(p: Path) -> bool:
    if p.suffix.lower() in (".yaml", ".yml"):
        return True
    if p.suffix.lower() != ".json":
        return False
    try:
        head = json.loads(p.read_text(encoding="utf-8", errors="replace"))
    except json.JSONDecodeError:
        return False
    if isinstance(head, Mapping):
        return "shape" in head or ("zones" in head and head.get("type") != "FeatureCollection")
    return isinstance(head, list) and bool(head) and isinstance(head[0], Mapping) and "shape" in head[0]


def load_zones(
    source: str | Path, *, ids: Sequence[str] | None = None, id_field: str | None = None, repair: bool = False,
) -> ZoneSet:
    """Zones from a boundary-set name (``ne-admin0``), a zone file or a zone spec file; `ids` narrows them.

    Several sources may be joined with ``+`` (``ne-admin0+ranges.yaml``).
    """
    from overflight import boundaries

    text = str(source)
    if "+" in text and not Path(text).exists():
        parts = [load_zones(s, id_field=id_field, repair=repair) for s in text.split("+")]
        zs = parts[0]
        for other in parts[1:]:
            zs = zs.concat(other)
        return zs.select(ids)
    if text in boundaries.names():
        zs = boundaries.load(text)
    else:
        p = Path(text)
        if not p.exists():
            raise InputError(f"not a boundary set ({', '.join(boundaries.names())}) nor an existing file", file=p)
        zs = read_spec_file(p) if _is_spec_file(p) else read_zone_file(p, id_field=id_field, repair=repair)
    return zs.select(ids)
