"""Reading zones: zone files, parametric zone specs, boundary-set names, and `as_zoneset` for any of them.

The data types (`Zone`, `ZoneSet`, `Provenance`) live in `overflight.zoneset`, the parametric specs in
`overflight.zonespecs`; both are re-exported here, so ``overflight.zones`` is the one module to import.
Zones come from a boundary set
(`overflight.boundaries`), a zone file (GeoJSON, KML, GeoPackage, Shapefile, GeoParquet) or a parametric
spec such as ``{"id": "ranges", "shape": "annulus", "center": "Akhtubinsk", "inner_km": 22, "outer_km": 800}``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import shapely
import shapely.affinity
from shapely.geometry.base import BaseGeometry

from overflight.errors import InputError
from overflight.safeio import (
    check_xml,
    max_uncompressed_bytes,
    offline_gdal,
    open_zip,
    read_zip_member,
    refuse_virtual_path,
    zip_members,
)
from overflight.zoneset import (
    GENERIC_WORDS,
    NAME_PROPERTIES,
    Provenance,
    Zone,
    ZoneSet,
    _plain,
    file_sha256,
    fold_name,
    resolve_zone_ids,
    zone_limits,
    zone_names,
)
from overflight.zonespecs import SPEC_SHAPES, SPEC_SUFFIXES, from_spec, from_specs, is_spec_file, read_spec_file

__all__ = [
    "GENERIC_WORDS",
    "NAME_PROPERTIES",
    "SPEC_SHAPES",
    "SPEC_SUFFIXES",
    "ZONE_FILE_SUFFIXES",
    "ZONE_FORMATS",
    "Provenance",
    "Zone",
    "ZoneSet",
    "ZoneSetLike",
    "as_zoneset",
    "file_sha256",
    "fold_name",
    "from_spec",
    "from_specs",
    "load_zones",
    "read_spec_file",
    "read_zone_file",
    "resolve_zone_ids",
    "sniff_zone_file",
    "zone_names",
]

#: Anything that names or holds zones: a :class:`ZoneSet`; a boundary-set name, zone file or spec file path
#: (``+``-joined names allowed, as :func:`load_zones`); an iterable of :class:`Zone`; one zone spec mapping
#: or a sequence of them (as :func:`from_specs`); a mapping ``id -> shapely geometry``; a GeoDataFrame
#: (ids from its index); an iterable of bare shapely geometries (ids ``"0"``, ``"1"``, ...). Every function
#: with a ``zones`` argument takes this, through :func:`as_zoneset` (also `overflight.index.ZoneIndex`).
ZoneSetLike: TypeAlias = (
    ZoneSet | str | os.PathLike[str] | Iterable[Zone] | Mapping[str, Any] | Sequence[Mapping[str, Any]]
    | Iterable[BaseGeometry]
)

ZONE_FILE_SUFFIXES = {".geojson", ".json", ".kml", ".kmz", ".gpkg", ".shp", ".zip", ".parquet", ".geoparquet"}


# --------------------------------------------------------------------------------------------- reading

def _lonlat_checked(geom: BaseGeometry, file: str | Path, feature: str) -> BaseGeometry:
    """Refuse coordinates outside WGS84 degrees; split rings that cross the antimeridian the short way."""
    coords = shapely.get_coordinates(geom)
    if len(coords) == 0:
        return geom
    if not np.isfinite(coords).all():
        raise InputError("geometry has a coordinate that is not a finite number", file=file, row=feature,
                         field="geometry")
    lon, lat = coords[:, 0], coords[:, 1]
    if (np.abs(lat) > 90).any() or (np.abs(lon) > 180).any():
        i = int(np.flatnonzero((np.abs(lat) > 90) | (np.abs(lon) > 180))[0])
        raise InputError(f"coordinate ({lon[i]:g}, {lat[i]:g}) is outside lon [-180, 180], lat [-90, 90]: "
                         "give WGS84 degrees (lon, lat)", file=file, row=feature, field="geometry")
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        return geom
    parts = list(shapely.get_parts(geom))
    if not any(_crosses_antimeridian(np.asarray(part.exterior.coords)) for part in parts):
        return geom
    out: list[BaseGeometry] = []
    for part in parts:
        rings = [_unwrap(np.asarray(part.exterior.coords))] + [_unwrap(np.asarray(h.coords)) for h in part.interiors]
        shape = shapely.Polygon(rings[0], rings[1:])
        # Edges stay straight in lon/lat, as given; cut at the seams and shift each piece back.
        for k in range(-1, 2):
            box = shapely.box(-180 + 360 * k, -90, 180 + 360 * k, 90)
            piece = shapely.intersection(shape, box)
            if not piece.is_empty:
                out.append(shapely.affinity.translate(piece, xoff=-360 * k))
    pieces = [g for g in out if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.MultiPolygon([p for g in pieces for p in shapely.get_parts(g)])


def _unwrap(ring: np.ndarray) -> np.ndarray:
    """Longitudes made continuous (no step over 180°), so a ring over the antimeridian is one shape."""
    lon = np.degrees(np.unwrap(np.radians(ring[:, 0])))
    return np.column_stack([lon, ring[:, 1]])


def _crosses_antimeridian(ring: np.ndarray) -> bool:
    """An edge jumps more than 180° of longitude and neither end lies on the ±180° seam or at a pole."""
    lon, lat = ring[:, 0], ring[:, 1]
    jump = np.abs(np.diff(lon)) > 180
    on_seam = (np.abs(lon) == 180) | (np.abs(lat) == 90)
    return bool((jump & ~on_seam[:-1] & ~on_seam[1:]).any())


def _check_geometry(geom: BaseGeometry | None, repair: bool, file: str | Path, feature: str) -> BaseGeometry:
    if geom is None or geom.is_empty:
        raise InputError("feature has no geometry", file=file, row=feature, field="geometry")
    geom = _lonlat_checked(geom, file, feature)
    if shapely.is_valid(geom):
        return geom
    if not repair:
        raise InputError(
            f"invalid geometry ({shapely.is_valid_reason(geom)}); "
            "fix the file (e.g. `ogr2ogr -makevalid`), or in Python pass repair=True to load_zones/read_zone_file "
            "to fix it with make_valid",
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
    floor, ceiling, vfrom, vto = zone_limits(props, file, where)
    return Zone(
        id=zid, name=str(name), kind=str(props.get("kind") or "user"), geometry=geometry,
        floor_m=floor, ceiling_m=ceiling, valid_from=vfrom, valid_to=vto, properties=extra,
    )


def read_zone_file(
    path: str | Path, *, id_field: str | None = None, repair: bool = False, name: str | None = None,
    licence: str = "unknown (user file)",
) -> ZoneSet:
    """Read zones from a GeoJSON, KML/KMZ, GeoPackage, Shapefile (or zipped shapefile) or GeoParquet file.

    The format is checked by the file's content, not its name, and only those formats are opened: GDAL
    virtual paths (``/vsicurl/``, ``/vsizip/``), VRT files and other formats GDAL knows are refused, and GDAL
    has no network access (:func:`overflight.safeio.offline_gdal`).
    Ids come from the property ``id`` (or `id_field`), else the feature id, else the row number.
    An invalid geometry is an error naming the feature, unless ``repair=True`` (then `make_valid`).
    Coordinates must be WGS84 degrees within [-180, 180] x [-90, 90]; a ring with an edge that jumps more
    than 180° of longitude (e.g. from 179 to -179) crosses the antimeridian the short way and is split there.
    """
    refuse_virtual_path(str(path), what="zone file")
    p = Path(path)
    if not p.exists():
        raise InputError("no such file", file=p)
    if p.is_dir():
        raise InputError("is a directory, not a zone file", file=p)
    kind = sniff_zone_file(p)
    records = _read_geoparquet(p) if kind == "geoparquet" else _read_ogr(p, kind)
    zones = [
        _zone_from_record(props, geom, row=i, fid=fid, file=p, id_field=id_field, repair=repair)
        for i, (props, geom, fid) in enumerate(records)
    ]
    if not zones:
        raise InputError("no features in the file", file=p)
    prov = Provenance(name=name or p.stem, version=datetime.fromtimestamp(p.stat().st_mtime, UTC).date().isoformat(),
                      licence=licence, source=str(p.resolve()), sha256=file_sha256(p), kind="user")
    return ZoneSet(zones, prov)


ZONE_FORMATS = ("GeoJSON, KML/KMZ, GeoPackage, Shapefile (or zipped), GeoParquet")
# GDAL drivers allowed to read each sniffed kind: anything else GDAL might pick is refused.
_DRIVERS = {"geojson": {"GeoJSON"}, "kml": {"KML", "LIBKML"}, "kmz": {"KML", "LIBKML"}, "gpkg": {"GPKG"},
            "shp": {"ESRI Shapefile"}, "shp-zip": {"ESRI Shapefile"}}
# Files a zipped shapefile may hold next to the .shp (sidecars and documentation).
_SHP_SIDECARS = {".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".fbn", ".fbx", ".ain", ".aih",
                 ".atx", ".ixs", ".mxs", ".xml", ".qmd", ".txt", ".pdf", ".htm", ".html", ".md", ""}
_KMZ_EXTRAS = {".kml", ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".svg", ".txt", ".htm", ".html", ".dae", ".css", ""}


def sniff_zone_file(p: Path) -> str:
    """The zone format of a file by its first bytes: geojson, kml, kmz, gpkg, shp, shp-zip or geoparquet."""
    try:
        with open(p, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror}", file=p) from None
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"PAR1"):
        return "geoparquet"
    if head.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    if head[:4] == b"\x00\x00\x27\x0a":
        return "shp"
    if head.startswith(b"PK"):
        with open_zip(p) as z:
            names = [i.filename for i in zip_members(p, z) if not i.is_dir()]
        exts = {Path(n).suffix.lower() for n in names}
        if ".kml" in exts:
            bad = sorted(exts - _KMZ_EXTRAS)
            if bad:
                raise InputError(f"KMZ holds files of other kinds ({', '.join(bad)}); refused", file=p)
            return "kmz"
        if ".shp" in exts:
            bad = sorted(exts - _SHP_SIDECARS)
            if bad:
                raise InputError(f"zipped shapefile holds files of other kinds ({', '.join(bad)}); refused", file=p)
            return "shp-zip"
        raise InputError(f"ZIP archive holds neither a .kml (KMZ) nor a .shp (zipped shapefile); zone files are "
                         f"{ZONE_FORMATS}", file=p)
    if text.startswith(b"{"):
        return "geojson"
    if text.startswith(b"<"):
        low = head.lower()
        if b"<kml" in low:
            return "kml"
        raise InputError(f"XML that is not KML (VRT and other GDAL formats are refused); zone files are "
                         f"{ZONE_FORMATS}", file=p)
    raise InputError(f"not a zone file by its content; zone files are {ZONE_FORMATS}", file=p)


def _ogr_source(p: Path, kind: str, tmp: Path) -> str | io.BytesIO:
    """What pyogrio opens: the file itself, or the checked bytes of a KMZ's KML, or an extracted shapefile."""
    if kind == "kml":
        _check_whole_size(p)
        check_xml(p.read_bytes(), file=p)
        return str(p)
    if kind == "kmz":
        with open_zip(p) as z:
            names = [i.filename for i in zip_members(p, z) if i.filename.lower().endswith(".kml")]
            main = next((n for n in names if n.lower() == "doc.kml"), names[0])
            data = read_zip_member(p, z, main)
        check_xml(data, file=f"{p} ({main})")
        return io.BytesIO(data)
    if kind == "shp-zip":
        with open_zip(p) as z:
            infos = [i for i in zip_members(p, z) if not i.is_dir()]
            shp = [i.filename for i in infos if i.filename.lower().endswith(".shp")]
            total = 0
            for info in infos:
                rel = Path(info.filename)
                if rel.is_absolute() or ".." in rel.parts:
                    raise InputError(f"unsafe member path {info.filename!r} in the ZIP archive", file=p)
                data = read_zip_member(p, z, info.filename)
                total += len(data)
                if total > max_uncompressed_bytes():
                    raise InputError("zipped shapefile expands beyond OVERFLIGHT_MAX_UNCOMPRESSED_MB", file=p)
                dest = tmp / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
        with open(tmp / shp[0], "rb") as fh:
            if fh.read(4) != b"\x00\x00\x27\x0a":
                raise InputError(f"{shp[0]} in the archive is not a shapefile", file=p)
        return str(tmp / shp[0])
    if kind == "geojson":
        _check_whole_size(p)
    return str(p)


def _check_whole_size(p: Path) -> None:
    from overflight.safeio import check_whole_file_size

    check_whole_file_size(p, "zone")


def _read_ogr(p: Path, kind: str) -> list[tuple[dict[str, Any], BaseGeometry | None, Any]]:
    import tempfile

    offline_gdal()
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError, FieldError, GeometryError

    with tempfile.TemporaryDirectory(prefix="overflight-zones-") as tmpdir:
        src = _ogr_source(p, kind, Path(tmpdir))
        try:
            layers = pyogrio.list_layers(src)
            if isinstance(src, io.BytesIO):
                src.seek(0)
            driver = pyogrio.read_info(src, layer=0)["driver"] if len(layers) else None
        except (DataSourceError, DataLayerError, OSError) as exc:
            raise InputError(f"not a readable zone file ({ZONE_FORMATS}): {exc}", file=p) from None
        if driver is not None and driver not in _DRIVERS[kind]:
            raise InputError(f"GDAL reads this file as {driver!r}, not as {kind}; refused", file=p)
        out: list[tuple[dict[str, Any], BaseGeometry | None, Any]] = []
        for li, (layer_name, geom_type) in enumerate(layers):
            if geom_type is None:
                continue  # an attribute-only table (e.g. in a GeoPackage) holds no zones
            if isinstance(src, io.BytesIO):
                src.seek(0)
            try:
                # by position: an in-memory source gets a new layer name at each open
                meta, fids, geoms, field_data = pyogrio.raw.read(src, layer=li, return_fids=True)
            except (DataSourceError, DataLayerError, FieldError, GeometryError, OSError) as exc:
                raise InputError(f"cannot read layer {layer_name!r}: {exc}", file=p) from None
            names = list(meta["fields"])
            shapes = shapely.from_wkb(geoms, on_invalid="ignore") if geoms is not None else [None] * len(fids)
            if geoms is not None:
                _raise_undecoded(geoms, shapes, p, first_row=len(out))
            for j in range(len(fids)):
                props = {n: field_data[k][j] for k, n in enumerate(names)}
                out.append((props, shapes[j], int(fids[j]) if fids is not None else None))
    if not layers.size or not out:
        raise InputError(f"no geometry found: not a zone file ({ZONE_FORMATS})", file=p)
    return out


def _raise_undecoded(geoms: Any, shapes: Any, p: Path, first_row: int) -> None:
    """GDAL hands on what GEOS refuses to build (e.g. a ring whose ends differ): an error naming the feature."""
    bad = [j for j in np.flatnonzero(shapes == None) if geoms[j] is not None]  # noqa: E711 (elementwise)
    if not bad:
        return
    j = int(bad[0])
    try:
        shapely.from_wkb(geoms[j])
        reason = "malformed geometry"
    except shapely.errors.GEOSException as exc:
        reason = str(exc)
    raise InputError(f"cannot build the geometry ({reason}); {len(bad)} feature(s) of the file are affected",
                     file=p, row=f"feature {first_row + j}", field="geometry")


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


def load_zones(
    source: str | Path, *, ids: Sequence[str] | None = None, id_field: str | None = None, repair: bool = False,
) -> ZoneSet:
    """Zones from a boundary-set name (``ne-admin0``), a zone file or a zone spec file; `ids` narrows them.

    Several sources may be joined with ``+`` (``ne-admin0+ranges.yaml``).

    Parameters
    ----------
    source : str or path
        A boundary-set name (`overflight.boundaries.names`), a zone file (GeoJSON, KML/KMZ, GeoPackage,
        Shapefile, GeoParquet) or a zone spec file (YAML/JSON), or several joined with ``+``.
    ids : sequence of str, optional
        Keep these zones, in this order: ids or names (`resolve_zone_ids`: accents and case ignored).
    id_field : str, optional
        The property of a zone file that holds the zone ids.
    repair : bool
        Repair invalid polygons (``make_valid``) instead of refusing them.

    Returns
    -------
    ZoneSet
        The zones, with the provenance of the data (boundary set, version, licence, SHA-256).

    Raises
    ------
    InputError
        Neither a boundary set nor an existing file, an unreadable file, an id or name not there.

    Examples
    --------
    >>> from overflight.zones import load_zones
    >>> zs = load_zones("ne-admin0", ids=["KAZ", "Russia"])
    >>> zs.ids, zs.provenance.kind
    (['KAZ', 'RUS'], 'land')
    """
    from overflight import boundaries

    text = str(source)
    refuse_virtual_path(text, what="zone file or boundary-set name")
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
        zs = read_spec_file(p) if is_spec_file(p) else read_zone_file(p, id_field=id_field, repair=repair)
    return zs.select(resolve_zone_ids(zs, ids) if ids else ids)


def _user_provenance(name: str, items: Sequence[tuple[str, BaseGeometry]]) -> Provenance:
    h = hashlib.sha256()
    for zid, g in items:
        h.update(zid.encode())
        h.update(shapely.to_wkb(g, hex=False))
    return Provenance(name=name, version="", licence="", source="in memory", sha256=h.hexdigest(), kind="user")


def _from_geometries(items: Sequence[tuple[str, Any]], name: str) -> ZoneSet:
    out = []
    for zid, g in items:
        if not isinstance(g, BaseGeometry) or g.is_empty:
            raise InputError("zone has no geometry", row=zid, field="geometry")
        out.append((zid, g))
    zones = [Zone(id=zid, name=zid, kind="user", geometry=g) for zid, g in out]
    return ZoneSet(zones, _user_provenance(name, out))


def as_zoneset(zones: ZoneSetLike, *, ids: Sequence[str] | None = None) -> ZoneSet:
    """Coerce anything that names or holds zones (a :data:`ZoneSetLike`) to a :class:`ZoneSet`.

    The one coercion behind every ``zones`` argument of the library, so ``transit(tracks, "ne-admin0")``,
    ``transit(tracks, zoneset)`` and ``transit(tracks, {"box": polygon})`` all work alike.

    Parameters
    ----------
    zones : ZoneSetLike
        A ZoneSet (returned as is); a boundary-set name or a path (read with :func:`load_zones`); one zone spec
        mapping (it has a ``shape`` key) or a sequence of them (:func:`from_specs`); a mapping ``id -> shapely
        geometry``; a GeoDataFrame (ids from its index); an iterable of :class:`Zone`, or of bare geometries
        (ids ``"0"``, ``"1"``, ...).
    ids : sequence of str, optional
        Keep only these zones (ids or names, as :func:`resolve_zone_ids`), in this order.

    Returns
    -------
    ZoneSet
        The zones; built sets carry a ``user`` provenance with the SHA-256 of their ids and geometries.

    Raises
    ------
    InputError
        Not a kind of zones, a zone without geometry, an unknown name or file, an id that is not there.

    Examples
    --------
    >>> import shapely
    >>> from overflight.zones import as_zoneset
    >>> zs = as_zoneset({"box": shapely.box(0, 0, 1, 1)})
    >>> zs.ids, zs.provenance.kind
    (['box'], 'user')
    >>> as_zoneset({"id": "ring", "shape": "circle", "center": [37.6, 55.75], "radius_km": 50}).ids
    ['ring']
    """
    if isinstance(zones, ZoneSet):
        zs = zones
    elif isinstance(zones, str | os.PathLike):
        zs = load_zones(os.fspath(zones))
    elif isinstance(zones, Mapping):
        if "shape" in zones:
            zs = from_specs([zones])
        else:
            zs = _from_geometries([(str(k), v) for k, v in zones.items()], "zones")
    elif hasattr(zones, "geometry") and hasattr(zones, "index") and hasattr(zones, "columns"):  # a GeoDataFrame
        frame: Any = zones
        zs = _from_geometries([(str(i), g) for i, g in zip(frame.index, frame.geometry, strict=True)], "zones")
    elif isinstance(zones, Iterable):
        items: list[Any] = list(zones)
        if all(isinstance(z, Zone) for z in items):
            zs = ZoneSet(items, _user_provenance("zones", [(z.id, z.geometry) for z in items]))
        elif all(isinstance(z, Mapping) for z in items):
            zs = from_specs(items)
        elif all(isinstance(z, BaseGeometry) for z in items):
            zs = _from_geometries([(str(i), g) for i, g in enumerate(items)], "zones")
        else:
            raise InputError("zones must all be Zones, zone specs or geometries", field="zones")
    else:
        raise InputError(f"zones must be a ZoneSet, a boundary-set name or zone file, zone specs or a mapping "
                         f"id -> geometry, not {type(zones).__name__}", field="zones")
    return zs.select(resolve_zone_ids(zs, ids)) if ids else zs
