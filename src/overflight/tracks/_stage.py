"""Turn a frame of source columns into a :class:`Staged` chunk: column mapping, units, time parsing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from overflight.errors import InputError
from overflight.tracks.table import (
    ALT_NAMES,
    FEET,
    ID_NAMES,
    LAT_NAMES,
    LON_NAMES,
    TIME_NAMES,
    find_column,
    parse_times,
    require_column,
    to_float,
)
from overflight.tracks.validate import Staged

AltUnit = Literal["m", "ft"]
#: Rows per chunk of the streaming readers (CSV, Parquet, SBS) when ``chunk_rows`` is not given.
DEFAULT_CHUNK_ROWS = 1_000_000


@dataclass(frozen=True)
class ReadOptions:
    """How to read a track file: source column names, altitude unit, time parsing and chunking.

    The meaning of each field is documented on :func:`overflight.tracks.read_tracks`.
    """

    lon_col: str | None = None
    lat_col: str | None = None
    time_col: str | None = None
    id_col: str | None = None
    alt_col: str | None = None
    alt_unit: AltUnit = "m"
    tz: str | tzinfo | None = None
    time_format: str | None = None
    chunk_rows: int | None = None
    #: Read only the columns the canonical table is made of (lon, lat, time, id, altitude): the extras are
    #: never parsed (what transit and locate need; a converted file keeps them).
    core_only: bool = False
    #: With ``core_only``: track ids as a pandas Categorical (of a (Geo)Parquet file: read from the file's
    #: dictionary), not a string per fix (for a consumer that factorizes them, as transit does).
    categorical_ids: bool = False

    @property
    def mapped(self) -> bool:
        """Whether the caller named any source column."""
        return any(c is not None for c in (self.lon_col, self.lat_col, self.time_col, self.id_col, self.alt_col))


@dataclass(frozen=True)
class ColumnMap:
    """Which source columns feed the canonical ones."""

    lon: str
    lat: str
    time: tuple[str, ...]  # first non-empty wins (OpenSky: time_position, then last_contact)
    id: str | None  # None: every row gets ``default_id``
    alt: str | None
    alt_factor: float
    default_id: str
    time_is_epoch: bool = False

    def used(self) -> set[str]:
        """Source columns consumed by the mapping (not kept as extras)."""
        return {c for c in (self.lon, self.lat, self.id, self.alt, *self.time) if c is not None}


def alt_factor(unit: str) -> float:
    """Metres per unit of altitude."""
    if unit == "m":
        return 1.0
    if unit == "ft":
        return FEET
    raise InputError(f"alt_unit must be 'm' or 'ft', not {unit!r}")


def resolve_columns(columns: list[str], *, file: str | Path, opts: ReadOptions) -> ColumnMap:
    """Find the lon, lat, time, id and altitude columns (given names or the usual ones)."""
    lon = require_column(columns, opts.lon_col, LON_NAMES, "longitude", "lon_col", file)
    lat = require_column(columns, opts.lat_col, LAT_NAMES, "latitude", "lat_col", file)
    tcol = require_column(columns, opts.time_col, TIME_NAMES, "time", "time_col", file)
    idc = find_column(columns, opts.id_col, ID_NAMES, "track id", file)
    alt = find_column(columns, opts.alt_col, ALT_NAMES, "altitude", file)
    factor = alt_factor(opts.alt_unit)
    if alt is not None and opts.alt_col is None and alt.lower().endswith("_ft"):
        factor = FEET  # the column name says feet
    return ColumnMap(lon, lat, (tcol,), idc, alt, factor, Path(str(file)).stem)


def stage_frame(
    df: pd.DataFrame,
    cmap: ColumnMap,
    rows: np.ndarray,
    *,
    tz: str | tzinfo | None,
    time_format: str | None = None,
    notes: dict[str, int] | None = None,
    categorical_ids: bool = False,
    ids: tuple[pd.Series, int] | None = None,
) -> Staged:
    """Build the canonical columns from ``df`` (source columns) and keep the unused ones as extras.

    ``categorical_ids``: a Categorical id column of text stays a Categorical (of the trimmed ids).
    ``ids``: the track ids made already, with the count of missing ones (:func:`categorical_ids_arrow`); the
    id column may then be left out of ``df``.
    """
    df = df.reset_index(drop=True)
    traw = df[cmap.time[0]]
    for extra in cmap.time[1:]:
        traw = traw.where(traw.notna() & (traw.astype("str").str.strip() != ""), df[extra])
    if cmap.time_is_epoch:
        traw = to_float(traw)
    times, codes = parse_times(traw, tz=tz, time_format=time_format)
    notes = dict(notes or {})
    if ids is not None:
        tid = ids[0].set_axis(df.index)
        if ids[1]:
            notes["missing track id (file name used)"] = ids[1]
    elif cmap.id is None:
        tid = pd.Series(cmap.default_id, index=df.index, dtype=str)
    elif categorical_ids and isinstance(df[cmap.id].dtype, pd.CategoricalDtype) and _text_categories(df[cmap.id]):
        tid, missing_n = _categorical_ids(df[cmap.id], cmap.default_id)
        if missing_n:
            notes["missing track id (file name used)"] = missing_n
    else:
        tid = df[cmap.id].astype("str")
        arr = pa.array(tid.array) if isinstance(tid.array, pd.arrays.ArrowStringArray) else None
        if not (isinstance(arr, pa.Array) and _unpadded(arr)):  # no value to trim: str.strip would copy them all
            tid = tid.str.strip()
        missing = df[cmap.id].isna().to_numpy() | (tid == "").to_numpy()
        if missing.any():
            tid = tid.where(~missing, cmap.default_id)
            notes["missing track id (file name used)"] = int(missing.sum())
    frame = pd.DataFrame(
        {
            "track_id": tid if isinstance(tid.dtype, pd.CategoricalDtype) else tid.astype(str),
            "time": times,
            "lon": to_float(df[cmap.lon]),
            "lat": to_float(df[cmap.lat]),
            "alt_m": to_float(df[cmap.alt]) * cmap.alt_factor if cmap.alt is not None else np.nan,
        },
        copy=False,  # (copy on write: the source columns are never changed through it; no copy of every column)
    )
    used = cmap.used()
    for c in df.columns:
        if c not in used and c not in frame.columns:
            frame[c] = df[c].to_numpy()
    return Staged(
        frame=frame,
        rows=np.asarray(rows, dtype=np.int64),
        time_code=codes,
        time_raw=traw,
        notes=notes,
        fields=_fields(cmap, tz),
        raw={"lon": df[cmap.lon], "lat": df[cmap.lat], **({"alt": df[cmap.alt]} if cmap.alt is not None else {})},
    )


def _text_categories(ids: pd.Series) -> bool:
    """Whether a Categorical's categories are all text (a dictionary-encoded string column)."""
    cats = ids.cat.categories
    if isinstance(cats.dtype, pd.StringDtype):  # text by its type (categories hold no nulls)
        return True
    return all(type(c) is str for c in cats.tolist())


# The last categories _categorical_ids worked on and what it made of them: the chunks of one Parquet row group
# share its dictionary, so the trimming and sorting of the distinct ids is done once per row group.
_CAT_PLAN: list[tuple[np.ndarray, str, np.ndarray, np.ndarray, pd.CategoricalDtype]] = []


def _category_plan(cats: np.ndarray, default_id: str) -> tuple[np.ndarray, np.ndarray, pd.CategoricalDtype]:
    """(blank words, code of each word and of the default id last, dtype of the final categories) for ``cats``.

    (the dtype once per plan: pandas checks the categories, hashing every one, each time a dtype is made of them)
    """
    plan = _CAT_PLAN[0] if _CAT_PLAN else None
    if plan is not None and plan[1] == default_id and len(plan[0]) == len(cats) and bool((plan[0] == cats).all()):
        return plan[2], plan[3], plan[4]
    # the same trimming as the text path's (pandas' str.strip)
    words = np.array([*pd.Series(cats, dtype="str").str.strip().tolist(), default_id], dtype=object)
    blank = words == ""
    uniq, inverse = np.unique(words, return_inverse=True)  # trimmed ids may coincide
    out = (blank, np.asarray(inverse, dtype=np.int64), pd.CategoricalDtype(pd.Index(uniq, dtype=object)))
    _CAT_PLAN[:] = [(cats, default_id, *out)]
    return out


# The last Arrow dictionary categorical_ids_arrow worked on and its plan (compared in Arrow, not word by word).
_ARROW_PLAN: list[tuple[pa.Array, str, tuple[np.ndarray, np.ndarray, pd.CategoricalDtype]]] = []


def categorical_ids_arrow(col: pa.ChunkedArray | pa.Array, default_id: str) -> tuple[pd.Series, int] | None:
    """:func:`_categorical_ids` of a dictionary-encoded Arrow column of text (Parquet's ids), without pandas first.

    The same ids and count as ``_categorical_ids(col.to_pandas(), default_id)``, from the dictionary's indices;
    the plan of a dictionary seen last (the chunks of one row group share it) is found by Arrow's comparison.
    None for a column of another kind (several chunks, not text): the caller then takes the pandas path.
    """
    if isinstance(col, pa.ChunkedArray):
        if col.num_chunks != 1:
            return None
        col = col.chunk(0)
    if not (pa.types.is_dictionary(col.type) and (pa.types.is_string(col.type.value_type)
                                                  or pa.types.is_large_string(col.type.value_type))):
        return None
    words = col.dictionary
    held = _ARROW_PLAN[0] if _ARROW_PLAN else None
    if held is not None and held[1] == default_id and held[0].equals(words):
        blank, inverse, dtype = held[2]
    else:
        cats = np.asarray(words.to_numpy(zero_copy_only=False), dtype=object)
        if words.null_count:  # (no category is null in pandas' Categorical)
            return None
        blank, inverse, dtype = _category_plan(cats, default_id)
        _ARROW_PLAN[:] = [(words, default_id, (blank, inverse, dtype))]
    nd = len(words)
    idx = col.indices
    codes = np.asarray((pc.fill_null(idx, -1) if idx.null_count else idx).to_numpy(zero_copy_only=False))
    fixed = codes
    if len(codes) and (col.null_count or int(codes.min()) < 0):  # null ids take the default id (the last word)
        fixed = np.where(codes < 0, nd, codes)
    if blank.any():
        fixed = np.where(blank[fixed], nd, fixed)
    missing = int((fixed == nd).sum()) if fixed is not codes or blank.any() else 0
    # (valid codes by construction: an index into the final categories)
    cat = pd.Categorical.from_codes(inverse[fixed], dtype=dtype, validate=False)
    return pd.Series(cat), missing


def _categorical_ids(ids: pd.Series, default_id: str) -> tuple[pd.Series, int]:
    """Track ids of a Categorical of text, as the text path makes them (trimmed; missing or blank: ``default_id``).

    The work is on the categories (each distinct id once), not on a string per fix; the result is a Categorical
    whose categories are the distinct final ids (what :func:`overflight.tracks.table.factorize_sorted` reads).
    """
    cats = np.asarray(ids.cat.categories, dtype=object)
    blank, inverse, final = _category_plan(cats, default_id)
    codes = np.asarray(ids.cat.codes, dtype=np.int64)
    nd = len(cats)
    # null (-1) and blank ids take the default id (the last word)
    fixed = np.where(codes < 0, nd, codes)
    if blank.any():
        fixed = np.where(blank[fixed], nd, fixed)
    missing = int((fixed == nd).sum())
    # (valid codes by construction: an index into the final categories)
    cat = pd.Categorical.from_codes(inverse[fixed], dtype=final, validate=False)
    return pd.Series(cat, index=ids.index), missing


def _fields(cmap: ColumnMap, tz: str | tzinfo | None) -> dict[str, str]:
    return {"lon": cmap.lon, "lat": cmap.lat, "time": cmap.time[0], **({"alt": cmap.alt} if cmap.alt else {}),
            # what `tracks validate` shows the user: the columns taken and what was assumed
            "track_id": cmap.id or f"(none: one track named {cmap.default_id!r})",
            "alt unit": ("feet" if cmap.alt_factor != 1.0 else "metres") if cmap.alt else "(no altitude column)",
            "time zone": "(each value's own offset" + (f"; {tz} for values without one)" if tz else
                                                        "; values without one are rejected)")}


def can_stage_table(cmap: ColumnMap) -> bool:
    """Whether :func:`stage_table` takes this mapping (one time column of text; the rest go to stage_frame)."""
    return len(cmap.time) == 1 and not cmap.time_is_epoch


def _text(arr: pa.Array, name: str | None = None) -> pd.Series:
    return pd.Series(arr.to_pandas() if len(arr) else [], dtype="str", name=name)


def _floats(arr: pa.Array) -> tuple[np.ndarray, bool]:
    """float64 of a text column and whether Arrow's cast read it whole (else the general to_float path).

    The cast reads the same numbers to_float does (the same parser, on untrimmed text); it refuses padded or
    unreadable values, which then take to_float's trimming and per-value fallback, exactly as before.
    """
    try:
        x = pc.cast(arr, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return to_float(_text(arr)).to_numpy(dtype=np.float64, na_value=np.nan), False
    return np.asarray(x.to_numpy(zero_copy_only=False), dtype=np.float64), True


def _unpadded(arr: pa.Array) -> bool:
    """True when no value starts or ends with a space, a control character or a non-ASCII byte.

    Such values are unchanged by str.strip, so the ids need no trimming (read from the offsets and the data
    buffer: a first and a last byte per value, no string objects).
    """
    if arr.null_count == len(arr) or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return bool(arr.null_count == len(arr))
    off_t = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    off = np.frombuffer(arr.buffers()[1], dtype=off_t)[arr.offset:arr.offset + len(arr) + 1].astype(np.int64)
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if arr.buffers()[2] is not None else np.zeros(0, np.uint8)
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool) & (off[1:] > off[:-1])
    if not valid.any():
        return True
    first, last = data[off[:-1][valid]], data[off[1:][valid] - 1]
    return bool(((first > 0x20) & (first < 0x7F) & (last > 0x20) & (last < 0x7F)).all())


def stage_table(
    tbl: pa.Table,
    cmap: ColumnMap,
    rows: np.ndarray,
    *,
    tz: str | tzinfo | None,
    time_format: str | None = None,
    notes: dict[str, int] | None = None,
    categorical_ids: bool = False,
) -> Staged:
    """:func:`stage_frame` for an Arrow table of text columns (a CSV read with ``core_only``), the same Staged.

    Numbers and ids are made by Arrow column operations, not pandas string methods (what a streamed CSV
    spends most of its reading time on otherwise); padded or unreadable values take stage_frame's own path.
    ``categorical_ids``: ids without padding as a pandas Categorical of the same text (one hashing of the ids
    here instead of one in each consumer that factorizes them: the validator and the transit kernel).
    """
    notes = dict(notes or {})
    tcol = tbl.column(cmap.time[0]).combine_chunks()
    traw = _text(tcol, cmap.time[0])
    times, codes = parse_times(traw, tz=tz, time_format=time_format)
    lon_a, lat_a = tbl.column(cmap.lon).combine_chunks(), tbl.column(cmap.lat).combine_chunks()
    lon, _ = _floats(lon_a)
    lat, _ = _floats(lat_a)
    alt_given: np.ndarray | None = None
    if cmap.alt is not None:
        alt_a = tbl.column(cmap.alt).combine_chunks()
        alt, whole = _floats(alt_a)
        alt = alt * cmap.alt_factor
        if whole:  # every non-null text is a number: blank means null (the validator need not look at text)
            alt_given = ~np.isnan(alt) | np.asarray(alt_a.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    else:
        alt = np.full(tbl.num_rows, np.nan)
    if cmap.id is None:
        tid = pd.Series(cmap.default_id, index=traw.index, dtype=str)
    else:
        ida = tbl.column(cmap.id).combine_chunks()
        if _unpadded(ida):
            missing = np.asarray(pc.or_(pc.is_null(ida), pc.equal(pc.utf8_length(ida), 0)).fill_null(True)
                                 .to_numpy(zero_copy_only=False), dtype=bool)
            if missing.any():
                ida = pc.if_else(pa.array(missing), pa.scalar(cmap.default_id), ida)
                notes["missing track id (file name used)"] = int(missing.sum())
            if categorical_ids and len(ida):  # no nulls left (missing ids took the default one)
                enc = pc.dictionary_encode(ida)
                cats = pd.Index(np.asarray(enc.dictionary.to_numpy(zero_copy_only=False), dtype=object), dtype=object)
                tid = pd.Series(pd.Categorical.from_codes(np.asarray(enc.indices.to_numpy(zero_copy_only=False)),
                                                          categories=cats))
            else:
                tid = _text(ida)
        else:  # padded ids: str.strip's own rules
            raw_id = _text(ida, cmap.id)
            tid = raw_id.astype("str").str.strip()
            missing = raw_id.isna().to_numpy() | (tid == "").to_numpy()
            if missing.any():
                tid = tid.where(~missing, cmap.default_id)
                notes["missing track id (file name used)"] = int(missing.sum())
    frame = pd.DataFrame({"track_id": tid if isinstance(tid.dtype, pd.CategoricalDtype) else tid.astype(str),
                          "time": times, "lon": lon, "lat": lat, "alt_m": alt})
    return Staged(
        frame=frame,
        rows=np.asarray(rows, dtype=np.int64),
        time_code=codes,
        time_raw=traw,
        notes=notes,
        fields=_fields(cmap, tz),
        raw={"lon": _text(lon_a, cmap.lon), "lat": _text(lat_a, cmap.lat),
             **({"alt": _text(tbl.column(cmap.alt).combine_chunks(), cmap.alt)} if cmap.alt is not None else {})},
        alt_given=alt_given,
    )


# Identifiers that look numeric but are codes: keep them as text.
_CODE_NAMES = {"squawk", "icao24", "hex", "callsign", "flight", "registration", "category", "id", "serial"}


def numeric_extras(df: pd.DataFrame, keep: set[str]) -> pd.DataFrame:
    """Turn text columns that are all numbers into float64, except code-like ones (squawk, leading zeros)."""
    for c in df.columns:
        if c in keep or str(c).strip().lower() in _CODE_NAMES:
            continue
        col = df[c]
        if not (pd.api.types.is_string_dtype(col.dtype) or col.dtype == object):
            continue
        s = col.astype("str").str.strip()
        nonempty = col.notna() & (s != "")
        if not nonempty.any():
            continue
        if s[nonempty].str.match(r"^[+-]?0\d").any():
            continue
        x = pd.to_numeric(s.where(nonempty), errors="coerce")
        # 'nan'/'inf' text stays text: as numbers they would look like empty cells or pass as values
        if np.isfinite(x[nonempty].to_numpy(dtype="float64")).all():
            df[c] = x.astype("float64")
    return df


__all__ = ["AltUnit", "ColumnMap", "ReadOptions", "alt_factor", "can_stage_table", "numeric_extras", "resolve_columns",
           "stage_frame", "stage_table"]
