"""The zone data types: `Zone`, `ZoneSet` and `Provenance`, and zone names.

A `Zone` is one area (a state, a test range, a restricted area, a corridor), a `ZoneSet` an ordered
collection of them with the `Provenance` of the data it came from. Reading zones (files, specs, boundary
sets) lives in `overflight.zones`; this module depends on nothing else of the package but the errors, so
both the readers and `overflight.boundaries` can build zone sets without an import circle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from overflight.errors import InputError
from overflight.units import ALT_MAX_M, ALT_MIN_M

__all__ = [
    "GENERIC_WORDS",
    "NAME_PROPERTIES",
    "Provenance",
    "Zone",
    "ZoneSet",
    "file_sha256",
    "fold_name",
    "resolve_zone_ids",
    "zone_limits",
    "zone_names",
]

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
        """The provenance as a plain mapping."""
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

    @property
    def is_timed(self) -> bool:
        """True when the zone has a validity period (either end)."""
        return self.valid_from is not None or self.valid_to is not None

    def active_at(self, times: Any) -> np.ndarray:
        """Whether the zone is in force at each time: ``valid_from <= t < valid_to`` (an open end is unbounded).

        The one validity rule of every analysis (transit, attribution, prism). `times` may be datetimes,
        pandas Timestamps or a Series/Index of them, numpy datetime64 or int64 nanoseconds since the epoch;
        naive times are taken as UTC. A missing time (NaT) excludes nothing: it gives True.
        """
        import pandas as pd

        arr = times.to_numpy() if isinstance(times, pd.Series | pd.Index) else np.atleast_1d(np.asarray(times))
        if arr.dtype.kind in "iu":
            ns = arr.astype(np.int64)
            nat = np.zeros(ns.shape, dtype=bool)
        else:
            t = pd.DatetimeIndex(pd.to_datetime(arr.ravel(), utc=True)).as_unit("ns")
            ns = t.asi8.reshape(arr.shape)
            nat = np.asarray(t.isna()).reshape(arr.shape)
        ok = np.ones(ns.shape, dtype=bool)
        if self.valid_from is not None:
            ok &= ns >= pd.Timestamp(self.valid_from).value
        if self.valid_to is not None:
            ok &= ns < pd.Timestamp(self.valid_to).value
        return ok | nat


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
        """The zone ids, in order."""
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
        from overflight.geodesy import geodesic_area_m2

        out = []
        for a, b in self.overlaps():
            inter = shapely.intersection(self[a].geometry, self[b].geometry)
            area = geodesic_area_m2(inter) / 1e6
            out.append((a, b, area))
        return sorted(out, key=lambda r: -r[2])

    def bounds(self) -> tuple[float, float, float, float]:
        """(min lon, min lat, max lon, max lat) of all zones."""
        b = shapely.bounds(self.geometries())
        return (float(np.nanmin(b[:, 0])), float(np.nanmin(b[:, 1])), float(np.nanmax(b[:, 2])),
                float(np.nanmax(b[:, 3])))

    def concat(self, other: ZoneSet) -> ZoneSet:
        """The set followed by another one (their provenances are joined)."""
        p1, p2 = self.provenance, other.provenance
        prov = Provenance(
            name=f"{p1.name}+{p2.name}", version=f"{p1.version}+{p2.version}", licence=_join(p1.licence, p2.licence),
            source=_join(p1.source, p2.source), sha256=hashlib.sha256((p1.sha256 + p2.sha256).encode()).hexdigest(),
            kind="user", point_of_view=p1.point_of_view or p2.point_of_view, notes=_join(p1.notes, p2.notes),
        )
        return ZoneSet([*self.zones, *other.zones], prov)


def _join(a: str, b: str) -> str:
    return "; ".join(x for x in (a, b) if x)


def file_sha256(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------- limits

def _plain(v: Any) -> Any:
    """A JSON-friendly version of a property value (numpy scalars, NaN as None)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, bytes):
        return None
    return v


def _parse_time(value: Any, file: str | Path | None, row: int | str | None, name: str) -> datetime | None:
    value = _plain(value)
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
    value = _plain(value)  # numpy scalars from GDAL print as numbers, not np.float64(...)
    if value is None or value == "" or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, bool | np.bool_):
        raise InputError(f"altitude {value!r} is not a number of metres", file=file, row=row, field=name)
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"altitude {value!r} is not a number of metres", file=file, row=row, field=name) from None
    if not np.isfinite(v) or not (ALT_MIN_M <= v <= ALT_MAX_M):
        raise InputError(f"altitude {value!r} m is outside [{ALT_MIN_M:g}, {ALT_MAX_M:g}] m", file=file, row=row,
                         field=name)
    return v




def zone_limits(props: Mapping[str, Any], file: str | Path | None, row: int | str | None,
            ) -> tuple[float | None, float | None, datetime | None, datetime | None]:
    """A zone's ``floor_m, ceiling_m, valid_from, valid_to`` from its properties, checked for range and order.

    Parameters
    ----------
    props : mapping
        The zone's properties (a feature's, or a spec's).
    file, row : optional
        Where they came from, for the error message.

    Returns
    -------
    tuple
        Floor and ceiling in metres (None when not given), validity start and end as UTC datetimes.

    Raises
    ------
    InputError
        An altitude out of range or not a number, a time without a zone, a floor above the ceiling, a start
        after the end.
    """
    floor = _parse_alt(props.get("floor_m"), file, row, "floor_m")
    ceiling = _parse_alt(props.get("ceiling_m"), file, row, "ceiling_m")
    if floor is not None and ceiling is not None and floor > ceiling:
        raise InputError(f"floor_m ({floor:g}) is above ceiling_m ({ceiling:g})", file=file, row=row, field="floor_m")
    vfrom = _parse_time(props.get("valid_from"), file, row, "valid_from")
    vto = _parse_time(props.get("valid_to"), file, row, "valid_to")
    if vfrom is not None and vto is not None and vfrom > vto:
        raise InputError(f"valid_from ({vfrom.isoformat()}) is after valid_to ({vto.isoformat()})", file=file,
                         row=row, field="valid_from")
    return floor, ceiling, vfrom, vto


# --------------------------------------------------------------------------------------------- names

# Properties that hold other names of a zone (ne-admin1: English, Russian, Natural Earth's own, alternates).
NAME_PROPERTIES = ("name_ru", "ne_name", "name_en", "name_long", "alt_names")
# Words a claim adds to a region's name ("the West Kazakhstan region", "Krasnodar Krai"); tried only when the
# name as given matches nothing.
GENERIC_WORDS = frozenset({
    "the", "of", "region", "oblast", "oblys", "oblysy", "province", "krai", "kray", "territory", "republic",
    "autonomous", "okrug", "state", "city", "federal", "область", "край", "республика", "автономный", "округ",
})


def fold_name(text: str) -> str:
    """A name compared accent- and case-insensitively: NFKD without marks, casefolded, punctuation as spaces."""
    import unicodedata

    t = unicodedata.normalize("NFKD", str(text))
    t = "".join(c if c.isalnum() else " " for c in t if not unicodedata.combining(c) and c not in "'’ʼ`")
    return " ".join(t.casefold().split())


def _strip_generic(folded: str) -> str:
    return " ".join(w for w in folded.split() if w not in GENERIC_WORDS)


def zone_names(zone: Zone) -> list[str]:
    """The zone's name and the other names its properties carry (`NAME_PROPERTIES`)."""
    out = [zone.name]
    for k in NAME_PROPERTIES:
        v = zone.properties.get(k)
        if isinstance(v, str) and v:
            out.extend(x for x in v.split("|") if x) if k == "alt_names" else out.append(v)
    return out


def resolve_zone_ids(zs: ZoneSet, keys: Sequence[str]) -> list[str]:
    """Zone ids for ids or names (``KZ-ZAP``, ``"West Kazakhstan"``, ``"Западно-Казахстанская область"``).

    An exact id wins; then an id in another case; then a name, compared with `fold_name` (accents, case and
    punctuation ignored); then a name without generic words such as "region" or "oblast". A name that fits
    several zones is an InputError listing them; one that fits none lists close names.
    """
    if all(k in zs for k in keys):
        return list(keys)
    by_id = {z.id.casefold(): z.id for z in zs}
    exact: dict[str, set[str]] = {}
    loose: dict[str, set[str]] = {}
    for z in zs:
        for n in zone_names(z):
            f = fold_name(n)
            exact.setdefault(f, set()).add(z.id)
            loose.setdefault(_strip_generic(f), set()).add(z.id)
    return [k if k in zs else _resolve_one(zs, k, by_id, exact, loose) for k in keys]


def _label(z: Zone) -> str:
    country = z.properties.get("country")
    return f"{z.name}, {country}" if country else z.name


def _resolve_one(zs: ZoneSet, key: str, by_id: dict[str, str], exact: dict[str, set[str]],
                 loose: dict[str, set[str]]) -> str:
    if key.casefold() in by_id:
        return by_id[key.casefold()]
    f = fold_name(key)
    for table, k in ((exact, f), (loose, _strip_generic(f))):
        found = table.get(k, set()) if k else set()
        if len(found) == 1:
            return next(iter(found))
        if found:
            ids = sorted(found, key=zs.index_of)
            listed = ", ".join(f"{i} ({_label(zs[i])})" for i in ids)
            raise InputError(f"zone name {key!r} is ambiguous in {zs.provenance.name}: {listed}; give the id",
                             field="zone")
    import difflib

    close = difflib.get_close_matches(f, list(exact), n=5, cutoff=0.75)
    hint = "; close: " + ", ".join(f"{n!r} ({'/'.join(sorted(exact[n]))})" for n in close) if close else ""
    raise InputError(f"no zone {key!r} in {zs.provenance.name} (no id or name matches){hint}", field="zone")
