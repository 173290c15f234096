"""Parquet tracks: GeoParquet (WKB points + a time column) and plain Parquet with lon/lat columns."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

from overflight.errors import InputError
from overflight.tracks._stage import ColumnMap, ReadOptions, resolve_columns, stage_frame
from overflight.tracks.read_csv import DEFAULT_CHUNK_ROWS
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


def stage_parquet_row_group(path: str | Path, row_group: int, first_row: int, opts: ReadOptions) -> Staged:
    """Stage one row group of a (Geo)Parquet file, its rows numbered from ``first_row + 1`` as in the whole file
    and labelled with the row group, so a message names file, row group and row (what a distributed read of
    an archive, one task per row group, needs).
    """
    p = Path(path)
    try:
        pf = pq.ParquetFile(p)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"not a readable Parquet file: {exc}", file=p) from None
    plan = _plan(pf, p, opts)
    try:
        tbl = pf.read_row_group(row_group, columns=plan[3])
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"cannot read Parquet row group {row_group}: {exc}", file=p) from None
    rows = np.arange(first_row + 1, first_row + tbl.num_rows + 1)
    st = _stage_df(tbl.to_pandas(), rows, plan, opts)
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


def _stage_df(df: pd.DataFrame, rows: np.ndarray, plan: tuple[ColumnMap, str | None, bool, list[str] | None],
              opts: ReadOptions) -> Staged:
    cmap, geom, use_geom, _ = plan
    if use_geom and geom is not None:
        g = shapely.from_wkb(df.pop(geom).to_numpy(), on_invalid="ignore")
        df["lon"] = shapely.get_x(g)
        df["lat"] = shapely.get_y(g)
        if cmap.alt is None and shapely.has_z(g).any():
            df["alt_m"] = shapely.get_z(g)
    elif geom is not None and geom in df.columns:
        df = df.drop(columns=[geom])
    cm = cmap
    if use_geom and cmap.alt is None and "alt_m" in df.columns:
        cm = replace(cmap, alt="alt_m", alt_factor=1.0)
    return stage_frame(pd.DataFrame(df), cm, rows, tz=opts.tz, time_format=opts.time_format)


def iter_parquet_staged(path: str | Path, opts: ReadOptions) -> Iterator[Staged]:
    """Stage a (Geo)Parquet file batch by batch; rows are numbered from 1 in file order.

    With GeoParquet metadata and WKB encoding, lon/lat (and a Z value as altitude when there is no
    altitude column) come from the point geometry.
    """
    p = Path(path)
    try:
        pf = pq.ParquetFile(p)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"not a readable Parquet file: {exc}", file=p) from None
    plan = _plan(pf, p, opts)
    k0 = 0
    try:
        for batch in pf.iter_batches(batch_size=opts.chunk_rows or DEFAULT_CHUNK_ROWS, columns=plan[3]):
            df = batch.to_pandas()
            rows = np.arange(k0 + 1, k0 + len(df) + 1)
            k0 += len(df)
            yield _stage_df(df, rows, plan, opts)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"cannot read Parquet after row {k0}: {exc}", file=p) from None


__all__ = ["iter_parquet_staged"]
