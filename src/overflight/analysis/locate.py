"""The zones containing each point: of arrays (`locate`, a `LocateResult`) or of a CSV in chunks (`locate_csv`)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from overflight._deprecated import LegacyAccess
from overflight.errors import CoordinateWarning, InputError
from overflight.tracks.read_csv import _arrow_reason, _check_single_line, read_header
from overflight.zoneset import ZoneSet

if TYPE_CHECKING:
    from overflight.index import ZoneIndex
    from overflight.zones import ZoneSetLike

__all__ = ["LocateResult", "LocateSummary", "ProgressFn", "locate", "locate_csv"]

#: Largest CSV block read at a time (bytes); see locate_csv.
_MAX_BLOCK = 1 << 20

#: ``progress(done, total)``: called with bytes read so far and the file's size.
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True, eq=False, repr=False)
class LocateResult(LegacyAccess):
    """The zones containing each point, from :func:`locate`.

    Attributes
    ----------
    lon, lat : numpy.ndarray of float
        The points, as given (one entry per point).
    zones : numpy.ndarray of str
        The ids of every zone containing each point, joined by ``sep`` (``''`` for none): a point in a
        disputed area is in both claims.
    sep : str
        The separator used in ``zones``.
    provenance : dict
        The zone set's provenance (boundary set name, version, sha256, kind) and the parameters of the call
        (``normalize_lon``, ``sep``).

    Notes
    -----
    Until the next release the result still answers as the array `locate` used to return (``.tolist()``,
    indexing, ``== ''``), with an :class:`~overflight.errors.OverflightDeprecationWarning`: use ``.zones``.
    """

    _legacy_field: ClassVar[str] = "zones"
    _legacy_was: ClassVar[str] = "locate() returned an array of zone ids"

    lon: npt.NDArray[np.float64]
    lat: npt.NDArray[np.float64]
    zones: npt.NDArray[np.object_]
    sep: str = "|"
    provenance: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.zones.size)

    def __repr__(self) -> str:
        return (f"LocateResult({len(self):,} points, {int(self.located.sum()):,} in a zone, "
                f"{int(self.multiple.sum()):,} in more than one; zone set {self.provenance.get('name', '?')!r})")

    @property
    def located(self) -> npt.NDArray[np.bool_]:
        """True where the point lies in at least one zone."""
        out: npt.NDArray[np.bool_] = self.zones != ""
        return out

    @property
    def multiple(self) -> npt.NDArray[np.bool_]:
        """True where the point lies in more than one zone (overlapping zones, a disputed area)."""
        if len(self) == 0:
            return np.zeros(0, dtype=bool)
        out: npt.NDArray[np.bool_] = pd.Series(self.zones, dtype=object).str.contains(
            self.sep, regex=False).to_numpy(dtype=bool)
        return out

    def to_frame(self) -> pd.DataFrame:
        """The result as a table: ``lon``, ``lat``, ``zones``, one row per point."""
        return pd.DataFrame({"lon": self.lon, "lat": self.lat, "zones": self.zones})

    def to_arrow(self) -> pa.Table:
        """The result as an Arrow table (``lon``, ``lat`` float64, ``zones`` string), provenance in its metadata."""
        table = pa.table({"lon": pa.array(self.lon, pa.float64()), "lat": pa.array(self.lat, pa.float64()),
                          "zones": pa.array(self.zones, pa.string())})
        return table.replace_schema_metadata({"overflight": json.dumps(self.provenance, default=str)})


def locate(
    lon: npt.ArrayLike, lat: npt.ArrayLike, zones: ZoneSetLike | ZoneIndex = "ne-admin0", *,
    normalize_lon: bool = False, sep: str = "|",
) -> LocateResult:
    """The ids of every zone containing each point.

    Parameters
    ----------
    lon, lat : array_like
        Points in degrees (equal length).
    zones : ZoneSetLike or ZoneIndex
        The zones (anything :func:`overflight.zones.as_zoneset` takes) or an index already built on them.
    normalize_lon : bool
        Wrap longitudes into [-180, 180] instead of treating them as invalid.
    sep : str
        Joins the ids of overlapping zones (a point in a disputed area is in both claims).

    Returns
    -------
    LocateResult
        ``zones`` (one entry per point, ids joined by ``sep``, ``''`` for none), the points, the provenance;
        ``to_frame()`` and ``to_arrow()`` give it as a table.

    Examples
    --------
    >>> import shapely
    >>> from overflight import locate
    >>> zones = {"west": shapely.box(0, 0, 2, 2), "east": shapely.box(1, 0, 3, 2)}
    >>> res = locate([0.5, 1.5, 5.0], [1.0, 1.0, 1.0], zones)
    >>> res.zones.tolist()
    ['west', 'west|east', '']
    >>> res
    LocateResult(3 points, 2 in a zone, 1 in more than one; zone set 'zones')
    >>> res.to_frame().values.tolist()
    [[0.5, 1.0, 'west'], [1.5, 1.0, 'west|east'], [5.0, 1.0, '']]
    """
    from overflight.index import ZoneIndex
    from overflight.zones import as_zoneset

    index = zones if isinstance(zones, ZoneIndex) else ZoneIndex.cached(as_zoneset(zones))
    found = index.zones_of(lon, lat, sep=sep, normalize_lon=normalize_lon)
    # the points as the index read them (one flat float64 array each, no copy when they already are)
    x = np.asarray(lon, dtype=np.float64).ravel()
    y = np.asarray(lat, dtype=np.float64).ravel()
    prov = index.zoneset.provenance.as_dict() if isinstance(index.zoneset, ZoneSet) else {}
    return LocateResult(x, y, found, sep, {**prov, "normalize_lon": normalize_lon, "sep": sep})


@dataclass
class LocateSummary:
    """What a `locate_csv` run did."""

    rows: int = 0
    located: int = 0
    bad: int = 0


def locate_csv(
    points: Path, output: Path, index: ZoneIndex, *, lon_col: str = "lon", lat_col: str = "lat",
    chunk_rows: int = 1_000_000, strict: bool = False, normalize_lon: bool = False,
    progress: ProgressFn | bool | None = None,
) -> LocateSummary:
    """Stream a CSV of points in chunks, add a ``zones`` column, and write it out.

    Every column is copied through as text. Rows whose lon/lat is empty, not a number or out of range get
    an empty ``zones`` and are counted (``strict=True``: an InputError naming the file line and field instead).

    Parameters
    ----------
    points : pathlib.Path
        Comma-separated file with a header holding ``lon_col`` and ``lat_col``.
    output : pathlib.Path
        The CSV written: the input's columns, then ``zones`` (ids joined by ``|``, ``''`` for none).
    index : ZoneIndex
        The zone index to locate with (:meth:`ZoneIndex.cached` of a zone set).
    lon_col, lat_col : str
        The coordinate columns.
    chunk_rows : int
        About this many rows are read and located at a time.
    strict : bool
        Fail on the first invalid coordinate instead of counting it.
    normalize_lon : bool
        Wrap longitudes into [-180, 180] instead of treating them as invalid.
    progress : callable, optional
        ``progress(bytes_read, bytes_total)`` after every chunk (a command line draws its bar with it).

    Returns
    -------
    LocateSummary
        Rows read, rows in at least one zone, rows with invalid coordinates.

    Raises
    ------
    InputError
        Not comma-separated, a coordinate column missing, a ``zones`` column already there, an unreadable
        CSV, a stray quote, or (``strict``) an invalid coordinate.
    """
    header, delim = read_header(points)  # bounded: a file of NUL bytes or a huge first line is refused
    if delim != ",":
        raise InputError("locate reads comma-separated files", file=points, row=1)
    for col in (lon_col, lat_col):
        if col not in header:
            raise InputError(f"no column {col!r} (columns: {', '.join(header)})", file=points, row=1, field=col)
    if "zones" in header:
        raise InputError("the file already has a 'zones' column", file=points, row=1, field="zones")
    size = points.stat().st_size
    first_bytes = min(size, 1 << 16)
    with open(points, "rb") as fh:
        sample = fh.read(first_bytes)
    row_bytes = max(8, len(sample) // max(1, sample.count(b"\n")))
    # Blocks of 1 MB, gathered into chunks of about chunk_rows rows: the streaming reader reads blocks ahead on a
    # thread of its own and holds dozens of them (blocks of chunk_rows rows, up to 1 GB, held 1.5 GB at 10 M rows).
    block = int(min(max(chunk_rows * row_bytes, 1 << 16), _MAX_BLOCK))
    read_opts = pacsv.ReadOptions(block_size=block, use_threads=False)
    conv_opts = pacsv.ConvertOptions(column_types={c: pa.string() for c in header}, strings_can_be_null=False)
    summary = LocateSummary()
    schema = pa.schema([*(pa.field(c, pa.string()) for c in header), pa.field("zones", pa.string())])
    report = progress if callable(progress) else None
    with open(points, "rb") as raw:
        reader = _open(raw, points, read_opts, conv_opts)
        try:
            with pacsv.CSVWriter(output, schema, write_options=pacsv.WriteOptions(quoting_style="needed")) as writer:
                pending: list[pa.RecordBatch] = []
                pending_rows = 0
                while True:
                    try:
                        batch: pa.RecordBatch | None = reader.read_next_batch()
                    except StopIteration:
                        batch = None
                    except pa.ArrowInvalid as exc:
                        raise InputError(f"unreadable CSV ({_arrow_reason(exc, None, points)})", file=points) from None
                    if batch is not None:
                        # a value holding a line break means a stray quote swallowed the lines after it
                        _check_single_line(points, batch, summary.rows + pending_rows, [], 2)
                        pending.append(batch)
                        pending_rows += batch.num_rows
                    if pending and (batch is None or pending_rows >= chunk_rows):
                        tbl = pa.Table.from_batches(pending)
                        pending, pending_rows = [], 0
                        zones = _locate_batch(tbl, index, points, summary, lon_col, lat_col, strict, normalize_lon)
                        writer.write_table(pa.Table.from_arrays([*tbl.columns, zones], schema=schema))
                        if report is not None:
                            report(_tell(raw), size)
                    if batch is None:
                        break
        finally:
            reader.close()  # its read-ahead thread must not outlive the file (an abort at exit)
    return summary


def _open(raw: BinaryIO, points: Path, read_opts: pacsv.ReadOptions,
          conv_opts: pacsv.ConvertOptions) -> pacsv.CSVStreamingReader:
    try:
        return pacsv.open_csv(raw, read_options=read_opts, convert_options=conv_opts)
    except pa.ArrowInvalid as exc:
        raise InputError(f"unreadable CSV ({_arrow_reason(exc, None, points)})", file=points) from None


def _tell(raw: BinaryIO) -> int:
    try:
        return raw.tell()
    except (OSError, ValueError):
        return 0


def _locate_batch(
    batch: pa.Table, index: ZoneIndex, points: Path, summary: LocateSummary, lon_col: str, lat_col: str,
    strict: bool, normalize_lon: bool,
) -> pa.Array:
    lon = _coords(batch.column(lon_col))
    lat = _coords(batch.column(lat_col))
    if strict:
        with np.errstate(invalid="ignore"):
            bad_lat = ~((lat >= -90) & (lat <= 90))
            bad_lon = ~np.isfinite(lon) if normalize_lon else ~((lon >= -180) & (lon <= 180))
        bad = bad_lat | bad_lon
        if bad.any():
            i = int(np.argmax(bad))
            field = lat_col if bad_lat[i] else lon_col
            value = batch.column(lat_col if bad_lat[i] else lon_col)[i].as_py()
            # line number in the file: header is line 1 (assumes no quoted newlines)
            raise InputError(f"invalid coordinate {value!r}", file=points, row=summary.rows + i + 2, field=field)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CoordinateWarning)
        zones, located = zones_column(index, lon, lat, normalize_lon=normalize_lon)
    with np.errstate(invalid="ignore"):
        ok = (lat >= -90) & (lat <= 90) & (np.isfinite(lon) if normalize_lon else (lon >= -180) & (lon <= 180))
    summary.bad += int((~ok).sum()) if caught else 0
    summary.rows += len(lon)
    summary.located += located
    return zones


def _coords(txt: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.float64]:
    """float64 of a text column as ``pd.to_numeric(text.str.strip(), errors="coerce")`` reads it.

    Arrow's cast of the trimmed text when it takes every value (the same numbers: see
    ``overflight.tracks.table.to_float``), else pandas' per-value reading.
    """
    try:
        x = pc.cast(pc.utf8_trim_whitespace(txt), pa.float64())
        return np.asarray(x.to_numpy(zero_copy_only=False), dtype=np.float64)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        s = txt.to_pandas()
        return np.asarray(pd.to_numeric(s.str.strip(), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan),
                          dtype=np.float64)


def zones_column(index: ZoneIndex, lon: npt.ArrayLike, lat: npt.ArrayLike, *, sep: str = "|",
                 normalize_lon: bool = False) -> tuple[pa.Array, int]:
    """``ZoneIndex.zones_of`` as an Arrow string array, and how many points are in a zone.

    The same text per point (ids of every zone holding it joined by ``sep``, '' for none), made by one Arrow
    ``take`` from the zone ids rather than a Python string object per point.
    """
    x = np.asarray(lon, dtype=np.float64)
    pi, zi = index.locate_all(x, np.asarray(lat, dtype=np.float64), normalize_lon=normalize_lon)
    ids = np.asarray(index.ids, dtype=object)
    words: list[str] = [*ids.tolist(), ""]
    take = np.full(x.size, len(ids), dtype=np.int64)  # '' unless in a zone
    pi = np.asarray(pi, dtype=np.int64)
    zi = np.asarray(zi, dtype=np.int64)
    if pi.size == 0:
        return pc.take(pa.array(words, pa.string()), pa.array(take)), 0
    # memberships are grouped by point: a run of one is that zone's id, longer runs are joined (overlaps only)
    starts = np.flatnonzero(np.r_[True, pi[1:] != pi[:-1]])
    ends = np.r_[starts[1:], pi.size]
    single = ends - starts == 1
    take[pi[starts[single]]] = zi[starts[single]]
    multi_s, multi_e = starts[~single], ends[~single]
    if len(multi_s):
        joined: dict[str, int] = {}
        pos = np.empty(len(multi_s), dtype=np.int64)
        for k, (s, e) in enumerate(zip(multi_s.tolist(), multi_e.tolist(), strict=True)):
            w = sep.join(ids[zi[s:e]])
            pos[k] = joined.setdefault(w, len(words) + len(joined))
        words.extend(joined)
        take[pi[multi_s]] = pos
    return pc.take(pa.array(words, pa.string()), pa.array(take)), int(starts.size)
