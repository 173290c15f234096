"""Parquet tracks: GeoParquet (WKB points + a time column) and plain Parquet with lon/lat columns."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from overflight.errors import InputError
from overflight.tracks._stage import (
    DEFAULT_CHUNK_ROWS,
    ColumnMap,
    ReadOptions,
    categorical_ids_arrow,
    resolve_columns,
    stage_frame,
)
from overflight.tracks.validate import Staged


def _geo_column(pf: pq.ParquetFile) -> tuple[str | None, str]:
    meta = pf.schema_arrow.metadata or {}
    raw = meta.get(b"geo")
    if raw is None:
        return None, ""
    try:
        geo = json.loads(raw)
        col = geo["primary_column"]
        enc = str(geo["columns"][col].get("encoding", "WKB")).upper()
    except (ValueError, KeyError, TypeError):
        return None, ""
    return str(col), enc


def time_column(path: str | Path, opts: ReadOptions) -> str:
    """The source column the times come from (as :func:`iter_parquet_staged` resolves it)."""
    pf = pq.ParquetFile(path)
    return _plan(pf, Path(path), opts)[0].time[0]


def stage_parquet_row_group(path: str | Path, row_group: int, first_row: int, opts: ReadOptions,
                            between: tuple[pd.Timestamp, pd.Timestamp] | None = None) -> Staged:
    """Stage one row group of a (Geo)Parquet file.

    Its rows are numbered from ``first_row + 1`` as in the whole file and labelled with the row group, so a message
    names file, row group and row (what a distributed read of an archive, one task per row group, needs).

    ``between``: keep only rows whose (timestamp) time lies in ``[start, end)``, filtered in Arrow before any
    staging (the rows kept keep their file row numbers).
    """
    p = Path(path)
    try:
        pf = pq.ParquetFile(p)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"not a readable Parquet file: {exc}", file=p) from None
    plan = _plan(pf, p, opts)
    idc = plan[0].id
    if opts.core_only and opts.categorical_ids and idc is not None and idc in pf.schema_arrow.names and (
            pa.types.is_string(pf.schema_arrow.field(idc).type)
            or pa.types.is_large_string(pf.schema_arrow.field(idc).type)):
        # The ids as the row group's dictionary (as iter_parquet_staged reads them): a code per fix, each
        # distinct id staged once, never a string per fix.
        try:
            pf = pq.ParquetFile(p, read_dictionary=[idc])
        except (OSError, pa.ArrowInvalid) as exc:
            raise InputError(f"not a readable Parquet file: {exc}", file=p) from None
    try:
        tbl = pf.read_row_group(row_group, columns=plan[3], use_threads=False)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"cannot read Parquet row group {row_group}: {exc}", file=p) from None
    rows = np.arange(first_row + 1, first_row + tbl.num_rows + 1)
    if between is not None:
        t = tbl.column(plan[0].time[0])
        if not pa.types.is_timestamp(t.type):
            raise InputError("a time window needs a timestamp time column", file=p, field=plan[0].time[0])
        lo = pa.scalar(between[0].to_pydatetime(), t.type)
        hi = pa.scalar(between[1].to_pydatetime(), t.type)
        keep = pc.fill_null(pc.and_(pc.greater_equal(t, lo), pc.less(t, hi)), False)
        rows = rows[np.asarray(keep.to_numpy(zero_copy_only=False), dtype=bool)]
        tbl = tbl.filter(keep)
    st = _stage_df(tbl, rows, plan, opts)
    st.row_label = _RowGroupLabel(row_group)
    return st


class _RowGroupLabel:
    """Row labels of one row group: ``"12 (row group 3)"``."""

    def __init__(self, row_group: int) -> None:
        self.row_group = row_group

    def __call__(self, row: int) -> str:
        return f"{row} (row group {self.row_group})"


def _plan(pf: pq.ParquetFile, p: Path, opts: ReadOptions) -> tuple[ColumnMap, str | None, bool, list[str] | None]:
    """(column map, geometry column, whether lon/lat come from it, projected columns or None for all)."""
    geom, enc = _geo_column(pf)
    names = [str(n) for n in pf.schema_arrow.names]
    use_geom = geom is not None and opts.lon_col is None and enc == "WKB"
    cols = [n for n in names if n != geom] + (["lon", "lat"] if use_geom else [])
    if use_geom and ("lon" in names or "lat" in names):
        cols = [n for n in names if n != geom]
        use_geom = False  # explicit lon/lat columns win over the geometry
    cmap = resolve_columns(cols, file=p, opts=opts)
    project: list[str] | None = None
    if opts.core_only:  # column projection: the extras are never read from disk
        want = cmap.used() | ({geom} if use_geom and geom is not None else set())
        project = [n for n in names if n in want]
    return cmap, geom, use_geom, project


def wkb_points(col: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """lon, lat (and Z or None) of a WKB point column; NaN where a value is null or not a point.

    Little-endian 2D/3D points (21/29 bytes: what GeoParquet writers produce) are read straight from the Arrow
    buffer; any other column goes through shapely (a geometry object per value, many times slower).
    """
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_large_binary(arr.type):
        off_t: type[np.integer] = np.int64
    elif pa.types.is_binary(arr.type):
        off_t = np.int32
    else:
        arr = None  # type: ignore[assignment]
    if arr is not None and len(arr) and arr.null_count == 0:
        offsets = np.frombuffer(arr.buffers()[1], dtype=off_t)[arr.offset:arr.offset + len(arr) + 1]
        data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
        size = np.diff(offsets)
        for n, types, has_z in ((21, (1,), False), (29, (1001, 0x80000001), True)):
            if (size == n).all():  # equal sizes: the values lie back to back, one row of n bytes each
                start = int(offsets[0])
                block = data[start:start + n * len(arr)].reshape(len(arr), n)

                def field(dtype: str, at: int, base: int = start, width: int = n) -> np.ndarray:
                    # one value per row, read with a stride (a copy of the bytes first is several times slower)
                    return np.ndarray((len(arr),), dtype=dtype, buffer=data, offset=base + at,
                                      strides=(width,))

                gtype = field("<u4", 1)  # (compared in place: no copy)
                one = gtype == types[0]
                if len(types) > 1:
                    one |= gtype == types[1]
                if (block[:, 0] == 1).all() and one.all():
                    xyz = [field("<f8", 5 + 8 * k).copy() for k in range(3 if has_z else 2)]
                    return xyz[0], xyz[1], xyz[2] if has_z else None
    import shapely

    g = shapely.from_wkb(col.to_numpy(zero_copy_only=False), on_invalid="ignore")
    z = shapely.get_z(g) if shapely.has_z(g).any() else None
    return shapely.get_x(g), shapely.get_y(g), z


def _stage_df(tbl: pa.Table, rows: np.ndarray, plan: tuple[ColumnMap, str | None, bool, list[str] | None],
              opts: ReadOptions) -> Staged:
    cmap, geom, use_geom, _ = plan
    xyz: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None
    if geom is not None and geom in tbl.column_names:
        if use_geom:  # decoded from the Arrow buffer: never a Python object per point
            xyz = wkb_points(tbl.column(geom))
        tbl = tbl.drop_columns([geom])
    ids: tuple[pd.Series, int] | None = None
    if opts.core_only and opts.categorical_ids and cmap.id is not None and cmap.id in tbl.column_names:
        # the ids from the dictionary's indices (no pandas Categorical of the dictionary made per chunk first)
        ids = categorical_ids_arrow(tbl.column(cmap.id), cmap.default_id)
        if ids is not None:
            tbl = tbl.drop_columns([cmap.id])
    # One block per column: the staged frame is built column by column next, so the consolidated blocks that
    # to_pandas makes by default (a copy of every column: 3 of the 4 ms per 250k-row chunk) would be thrown away.
    df = tbl.to_pandas(split_blocks=True)
    if xyz is not None:
        # (as Series: a bare array would be copied into the frame, one more pass over both columns)
        df["lon"], df["lat"] = pd.Series(xyz[0], index=df.index, copy=False), pd.Series(xyz[1], index=df.index,
                                                                                          copy=False)
        if cmap.alt is None and xyz[2] is not None:
            df["alt_m"] = xyz[2]
    cm = cmap
    if use_geom and cmap.alt is None and "alt_m" in df.columns:
        cm = replace(cmap, alt="alt_m", alt_factor=1.0)
    return stage_frame(pd.DataFrame(df), cm, rows, tz=opts.tz, time_format=opts.time_format,
                       categorical_ids=opts.core_only and opts.categorical_ids, ids=ids)


def iter_parquet_staged(path: str | Path, opts: ReadOptions) -> Iterator[Staged]:
    """Stage a (Geo)Parquet file batch by batch; rows are numbered from 1 in file order.

    With GeoParquet metadata and WKB encoding, lon/lat (and a Z value as altitude when there is no
    altitude column) come from the point geometry.
    """
    p = Path(path)
    try:
        # pre_buffer=False: pre-buffered column chunks stay held until the file is closed (the whole file's
        # data by the end of a stream: +330 MB RSS over 10 M fixes), and reading is no faster with them.
        # buffer_size: the pages are read through one small buffer instead of each column chunk (up to tens
        # of MB) into memory of its own: 0.1-0.15 s less CPU and ~70 MB less peak RSS over 10 M fixes.
        pf = pq.ParquetFile(p, pre_buffer=False, buffer_size=_READ_BUFFER)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"not a readable Parquet file: {exc}", file=p) from None
    plan = _plan(pf, p, opts)
    idc = plan[0].id
    if opts.core_only and opts.categorical_ids and idc is not None and idc in pf.schema_arrow.names and (
            pa.types.is_string(pf.schema_arrow.field(idc).type)
            or pa.types.is_large_string(pf.schema_arrow.field(idc).type)):
        # The ids as Arrow's dictionary (Parquet stores them so): a code per fix and each distinct id once,
        # staged as a pandas Categorical, never a string per fix (what transit and locate read).
        try:
            pf = pq.ParquetFile(p, pre_buffer=False, buffer_size=_READ_BUFFER, read_dictionary=[idc])
        except (OSError, pa.ArrowInvalid) as exc:
            raise InputError(f"not a readable Parquet file: {exc}", file=p) from None
    k0 = 0
    try:
        # One core: pyarrow would otherwise decode the columns of a batch on threads of its own pool (no less
        # CPU in all, and a stream is bounded by the kernel after it, not by decoding).
        for tbl in _chunks(pf, opts.chunk_rows or DEFAULT_CHUNK_ROWS, plan[3]):
            rows = np.arange(k0 + 1, k0 + tbl.num_rows + 1)
            k0 += tbl.num_rows
            yield _stage_df(tbl, rows, plan, opts)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"cannot read Parquet after row {k0}: {exc}", file=p) from None


_READ_BUFFER = 1 << 20  # bytes of the buffered stream the column chunks are read through


def _chunks(pf: pq.ParquetFile, n: int, columns: list[str] | None) -> Iterator[pa.Table]:
    """Tables of ``n`` rows (the last may be shorter), across row groups, as ``iter_batches(batch_size=n)`` cuts them.

    Read with dictionaries, pyarrow ends a batch at every row group; the rows are gathered again so that the
    chunks (and what a chunk-bounded rule such as the speed check sees) do not depend on how the ids are read.
    """
    pending: list[pa.RecordBatch] = []
    have = 0
    for batch in pf.iter_batches(batch_size=n, columns=columns, use_threads=False):
        if not pending and batch.num_rows == n:
            yield pa.Table.from_batches([batch])
            continue
        pending.append(batch)
        have += batch.num_rows
        while have >= n:
            tbl = pa.Table.from_batches(pending)
            head, tail = tbl.slice(0, n), tbl.slice(n)
            yield head
            pending, have = tail.to_batches(), tail.num_rows
    if have or pending:
        yield pa.Table.from_batches(pending)


__all__ = ["iter_parquet_staged"]
