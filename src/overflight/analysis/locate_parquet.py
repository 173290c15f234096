"""`locate` for (Geo)Parquet points: a ``zones`` column added batch by batch, in bounded memory.

The points are lon/lat columns or a GeoParquet WKB point geometry. One machine streams the file
(:func:`locate_parquet`); the Dask path (:mod:`overflight.distributed`) calls :func:`zones_for_table` on each
row group, so both decide every point by the same call to the same ZoneIndex.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from overflight.errors import InputError

__all__ = ["LocateCounts", "locate_parquet", "zones_for_table"]


@dataclass
class LocateCounts:
    """Rows seen, rows in at least one zone, rows with an invalid coordinate (no zone)."""

    rows: int = 0
    located: int = 0
    bad: int = 0


def _lonlat(tbl: pa.Table, geo_meta: bytes | None, lon_col: str, lat_col: str,
            file: str | Path) -> tuple[np.ndarray, np.ndarray]:
    names = tbl.column_names
    if lon_col in names and lat_col in names:
        lon = pa.compute.cast(tbl.column(lon_col), pa.float64(), safe=False)
        lat = pa.compute.cast(tbl.column(lat_col), pa.float64(), safe=False)
        return (np.asarray(lon.to_numpy(zero_copy_only=False), dtype=float),
                np.asarray(lat.to_numpy(zero_copy_only=False), dtype=float))
    if geo_meta is not None:
        from overflight.tracks.read_parquet import wkb_points

        x, y, _ = wkb_points(tbl.column(json.loads(geo_meta)["primary_column"]))  # from the WKB buffer
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    raise InputError(f"no {lon_col!r}/{lat_col!r} columns and no GeoParquet geometry", file=file,
                     field=lon_col)


def zones_for_table(tbl: pa.Table, index: Any, *, geo_meta: bytes | None, file: str | Path, first_row: int = 0,
                    row_group: int | None = None, lon_col: str = "lon", lat_col: str = "lat",
                    strict: bool = False, normalize_lon: bool = False) -> tuple[pa.Array, LocateCounts]:
    """The ``zones`` column of a table of points (ids joined by '|'; '' for none or an invalid coordinate).

    ``strict``: an invalid coordinate is an InputError naming file, row (counted from 1 over the file, after
    ``first_row`` rows) and, when given, the row group.
    """
    lon, lat = _lonlat(tbl, geo_meta, lon_col, lat_col, file)
    if normalize_lon:
        lon = np.where(np.isfinite(lon), (lon + 180.0) % 360.0 - 180.0, lon)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    if strict and not ok.all():
        j = int(np.flatnonzero(~ok)[0])
        where = f"row {first_row + j + 1}" + (f" (row group {row_group})" if row_group is not None else "")
        raise InputError(f"invalid coordinate lon={lon[j]!r} lat={lat[j]!r}", file=file, row=where,
                         field=lat_col if not (np.isfinite(lat[j]) and abs(lat[j]) <= 90) else lon_col)
    from overflight.analysis.locate import zones_column

    # index.zones_of as Arrow text (no Python string per point); invalid points get ''
    col, located = zones_column(index, lon[ok], lat[ok])
    if not ok.all():
        at = np.full(len(lon), -1, dtype=np.int64)
        at[ok] = np.arange(int(ok.sum()))
        col = pc.fill_null(pc.take(col, pa.array(at, mask=at < 0)), "")
    counts = LocateCounts(rows=len(lon), located=located, bad=int((~ok).sum()))
    return col, counts


def locate_parquet(points: Path, output: Path, index: Any, *, lon_col: str = "lon", lat_col: str = "lat",
                   chunk_rows: int = 1_000_000, strict: bool = False, normalize_lon: bool = False) -> LocateCounts:
    """Stream ``points`` (Parquet) in batches, add a ``zones`` column and write ``output`` as Parquet.

    GeoParquet metadata is kept; the file is written under a temporary name and renamed when complete.
    """
    try:
        pf = pq.ParquetFile(points, pre_buffer=False)  # pre-buffered chunks would stay held to the end
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"not a readable Parquet file: {exc}", file=points) from None
    meta = pf.schema_arrow.metadata or {}
    if "zones" in pf.schema_arrow.names:
        raise InputError("the file already has a 'zones' column", file=points, field="zones")
    schema = pf.schema_arrow.append(pa.field("zones", pa.string()))
    total = LocateCounts()
    part = output.with_name(output.name + ".partial")
    try:
        with pq.ParquetWriter(part, schema) as writer:
            for batch in pf.iter_batches(batch_size=chunk_rows, use_threads=False):  # one core (no decode threads)
                tbl = pa.Table.from_batches([batch])
                zones, c = zones_for_table(tbl, index, geo_meta=meta.get(b"geo"), file=points, first_row=total.rows,
                                           lon_col=lon_col, lat_col=lat_col, strict=strict,
                                           normalize_lon=normalize_lon)
                writer.write_table(tbl.append_column("zones", zones).cast(schema))
                total.rows += c.rows
                total.located += c.located
                total.bad += c.bad
        os.replace(part, output)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"cannot read Parquet after row {total.rows}: {exc}", file=points) from None
    finally:
        if part.exists():
            part.unlink()
    return total
