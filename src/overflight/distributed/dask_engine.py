"""Transit and locate of a (Geo)Parquet archive on a Dask cluster, with the single-machine kernel.

How the work is cut
-------------------
* **Read and validate**: one task per Parquet *row group* (:func:`archive_pieces`), reading only the canonical
  columns, staged and validated by the same code as one machine (:mod:`overflight.tracks`). A bad row fails
  its task with an :class:`~overflight.errors.InputError` naming the file, the row group and the row (row
  numbers count from 1 over the whole file, as :func:`overflight.tracks.read_tracks` counts them).
* **Partition by track**: the fixes are *shuffled by track id* (hash) into partitions, so every fix of a track
  lands in one partition; each partition is sorted by (track, time) and run through the kernel
  (:func:`overflight.analysis.transit_kernel.transit_batch`) as one stream, then closed.
  The alternative, carrying each track's last fix and open visits across *time-ordered* partitions, would
  chain every partition to the one before it: no two could run at once, and one slow or lost partition would
  hold up the rest. The shuffle costs one pass of the fixes over the network (linear in fixes) and leaves
  independent partitions, so the work spreads over every worker and a lost task is simply recomputed.
  Archives are rarely in one global time order across files anyway; after the shuffle a track's fixes are
  sorted by time, as ``--sort`` does on one machine (two fixes of one track at the same time are an error).
* **Index once**: the :class:`~overflight.analysis.transit_kernel.TransitSpec` (zones + ZoneIndex +
  parameters) is built once on the client and sent to every worker once (``client.scatter(...,
  broadcast=True)``); tasks receive that one object, never rebuild it.
* **Output**: one GeoParquet file per partition (geometry: the entry point; exit point and times as
  columns), written into a hidden directory beside the target that is renamed into place only when every
  partition has succeeded, with ``_provenance.json`` (engine, scheduler, workers, partitioning, zones and
  parameters). A failed run leaves no directory that looks complete.

Failures: a worker that dies mid-run loses its tasks; the scheduler runs them again on another worker (their
inputs are files, and a partition's output file is written whole under a fixed name, so a rerun replaces it).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from overflight.analysis.locate_parquet import zones_for_table
from overflight.analysis.transit import Locator
from overflight.analysis.transit_kernel import (
    TransitSpec,
    n_fixes,
    n_tracks,
    transit_batch,
    transit_close,
    visits_table,
)
from overflight.errors import InputError, OverflightError
from overflight.tracks._stage import ReadOptions
from overflight.tracks.read_parquet import stage_parquet_row_group, time_column
from overflight.tracks.table import TIME_DTYPE, sort_tracks
from overflight.tracks.validate import Validator
from overflight.zones import ZoneSetLike, as_zoneset

__all__ = ["DaskRun", "Piece", "archive_pieces", "dask_client", "locate_dask", "read_archive", "transit_dask"]

#: Columns of the validated fixes a read task hands on: canonical ones and where each fix came from.
FIX_META = pd.DataFrame({
    "track_id": pd.Series([], dtype="str"), "time": pd.Series([], dtype=TIME_DTYPE),
    "lon": pd.Series([], dtype="float64"), "lat": pd.Series([], dtype="float64"),
    "alt_m": pd.Series([], dtype="float64"), "_file": pd.Series([], dtype="int32"),
    "_row_group": pd.Series([], dtype="int64"), "_row": pd.Series([], dtype="int64"),
})
_GEO = json.dumps({"version": "1.0.0", "primary_column": "geometry", "columns": {
    "geometry": {"encoding": "WKB", "geometry_types": ["Point"],
                 "crs": {"id": {"authority": "EPSG", "code": 4326}}}}})


@dataclass(frozen=True)
class Piece:
    """One row group of one Parquet file: the unit a read task reads."""

    file: str
    row_group: int
    first_row: int  # rows of the file before this row group
    rows: int
    file_id: int = 0  # position of ``file`` among the archive's files (a small integer travels the shuffle)


@dataclass
class DaskRun:
    """What a Dask run produced: the visits (when not written out), the files written, the provenance."""

    visits: pd.DataFrame | None
    files: list[Path]
    provenance: dict[str, Any]
    stats: list[dict[str, Any]] = field(default_factory=list)


# ------------------------------------------------------------------------------------------- inputs

def _expand(paths: str | Path | Sequence[str | Path]) -> list[str]:
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    files: list[str] = []
    for item in items:
        s = str(item)
        if Path(s).is_dir():
            found = sorted(str(p) for p in Path(s).glob("*.parquet"))
        elif Path(s).exists():  # a file whose name holds glob characters ("[b].parquet") is that file
            found = [s]
        elif any(ch in s for ch in "*?["):
            found = sorted(glob.glob(s))
        else:
            found = []
        if not found:
            raise InputError("no Parquet file matches", file=s)
        files.extend(found)
    return files


def archive_pieces(paths: str | Path | Sequence[str | Path], *,
                   between: tuple[pd.Timestamp, pd.Timestamp] | None = None,
                   opts: ReadOptions | None = None) -> list[Piece]:
    """The row groups of every Parquet file that ``paths`` (files, directories, glob patterns) name.

    ``between`` (start, end): predicate push-down on the time column: row groups whose statistics put every
    time outside ``[start, end)`` are left out without being read.
    """
    out: list[Piece] = []
    for k, f in enumerate(_expand(paths)):
        try:
            md = pq.ParquetFile(f).metadata
        except (OSError, pa.ArrowInvalid) as exc:
            raise InputError(f"not a readable Parquet file: {exc}", file=f) from None
        tcol = -1
        if between is not None:
            name = time_column(f, opts or ReadOptions())
            names = [md.schema.column(j).name for j in range(md.num_columns)]
            tcol = names.index(name) if name in names else -1
        first = 0
        for g in range(md.num_row_groups):
            rg = md.row_group(g)
            n = rg.num_rows
            if not (between is not None and tcol >= 0 and _outside(rg.column(tcol).statistics, between)):
                out.append(Piece(f, g, first, n, k))
            first += n
    return out


def _outside(stats: Any, between: tuple[pd.Timestamp, pd.Timestamp]) -> bool:
    """True when a row group's min/max statistics put all its times outside [start, end)."""
    if stats is None or not stats.has_min_max:
        return False
    try:
        lo, hi = pd.Timestamp(stats.min), pd.Timestamp(stats.max)
    except (TypeError, ValueError):
        return False
    lo = lo.tz_localize("UTC") if lo.tzinfo is None else lo
    hi = hi.tz_localize("UTC") if hi.tzinfo is None else hi
    return bool(hi < between[0] or lo >= between[1])


def _read_piece(piece: Piece, opts: ReadOptions,
                between: tuple[pd.Timestamp, pd.Timestamp] | None = None) -> pd.DataFrame:
    """Validated fixes of one row group (on_invalid='fail': a bad row is an InputError naming it)."""
    st = stage_parquet_row_group(piece.file, piece.row_group, piece.first_row, opts, between)
    st.frame["_row_group"] = np.int64(piece.row_group)
    st.frame["_row"] = np.asarray(st.rows, dtype=np.int64)
    df = Validator(piece.file, on_invalid="fail").process(st)
    df["_file"] = np.int32(piece.file_id)
    return df[list(FIX_META.columns)]


def read_archive(paths: str | Path | Sequence[str | Path], *, lon_col: str | None = None,
                 lat_col: str | None = None, time_col: str | None = None, id_col: str | None = None,
                 alt_col: str | None = None, tz: str | None = None,
                 between: tuple[Any, Any] | None = None) -> Any:
    """A Dask DataFrame of validated fixes, one partition per Parquet row group (nothing is read yet).

    ``between``: (start, end) times; row groups entirely outside ``[start, end)`` are never read (their
    statistics say so) and the rows outside it are dropped before validation.
    """
    import dask.dataframe as dd

    opts = ReadOptions(lon_col=lon_col, lat_col=lat_col, time_col=time_col, id_col=id_col, alt_col=alt_col,
                       tz=tz, core_only=True)
    window = _window(between)
    pieces = archive_pieces(paths, between=window, opts=opts)
    if not pieces:
        raise InputError("no row group of the archive holds a time in the window", file=str(paths), field="between")
    return dd.from_map(_read_piece, pieces, opts=opts, between=window, meta=FIX_META, label="read-validate",
                       enforce_metadata=False)


def _window(between: tuple[Any, Any] | None) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    if between is None:
        return None
    try:
        lo, hi = (pd.Timestamp(x) for x in between)
    except (TypeError, ValueError) as exc:
        raise InputError(f"not a time window: {exc}", field="between") from None
    lo = lo.tz_localize("UTC") if lo.tzinfo is None else lo.tz_convert("UTC")
    hi = hi.tz_localize("UTC") if hi.tzinfo is None else hi.tz_convert("UTC")
    if not lo < hi:
        raise InputError(f"the window's start {lo} is not before its end {hi}", field="between")
    return lo, hi


# ------------------------------------------------------------------------------------------- client

@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """Yield a ``distributed.Client`` to a running scheduler or to a LocalCluster made here.

    ``scheduler``: its address (``tcp://HOST:8786``); otherwise a LocalCluster of ``workers`` processes (one
    thread each, loopback only, no dashboard), closed afterwards.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise OverflightError("the Dask engine needs dask and distributed: pip install 'overflight[dask]'") from None

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def _get_client(client: Any) -> Any:
    if client is not None:
        return client
    from distributed import get_client

    try:
        return get_client()
    except ValueError:
        raise InputError("no Dask client: pass client= or start one (overflight.distributed.dask_client())",
                         field="client") from None


def _engine_info(client: Any) -> dict[str, Any]:
    from importlib.metadata import version

    info = client.scheduler_info()
    workers = info.get("workers", {})
    return {"name": "dask", "dask": version("dask"), "distributed": version("distributed"),
            "scheduler": client.scheduler.address, "workers": len(workers),
            "threads": int(sum(w.get("nthreads", 1) for w in workers.values()))}


# ------------------------------------------------------------------------------------------- output

class _Output:
    """A directory filled under a hidden name and renamed into place only when the run succeeded."""

    def __init__(self, target: Path) -> None:
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise InputError("output directory exists and is not empty (choose a new one)", file=target)
        self.target = target
        self.tmp = target.parent / f".{target.name}.partial-{uuid.uuid4().hex[:8]}"
        self.tmp.mkdir(parents=True)

    def commit(self, provenance: dict[str, Any]) -> list[Path]:
        (self.tmp / "_provenance.json").write_text(json.dumps(provenance, indent=2, default=str), encoding="utf-8")
        if self.target.exists():
            self.target.rmdir()  # empty (checked at the start)
        os.replace(self.tmp, self.target)
        return sorted(self.target.glob("part-*.parquet"))

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _write_geoparquet(df: pd.DataFrame, path: Path, lon_col: str, lat_col: str) -> None:
    """``df`` as GeoParquet with a WKB point geometry from ``lon_col``/``lat_col`` (written whole, then renamed)."""
    import shapely

    tbl = pa.Table.from_pandas(df, preserve_index=False)
    geom = shapely.to_wkb(shapely.points(df[lon_col].to_numpy(float), df[lat_col].to_numpy(float)))
    tbl = tbl.append_column("geometry", pa.array(geom, type=pa.binary()))
    tbl = tbl.replace_schema_metadata({**(tbl.schema.metadata or {}), b"geo": _GEO.encode()})
    part = path.with_name(path.name + ".tmp")
    pq.write_table(tbl, part)
    os.replace(part, path)


# ------------------------------------------------------------------------------------------- transit

def _check_duplicates(df: pd.DataFrame, files: list[str]) -> None:
    """Two fixes of one track at the same time (after sorting): an InputError naming the second one."""
    if len(df) < 2:
        return
    tid = df["track_id"].to_numpy(dtype=object)
    t = df["time"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    dup = (tid[1:] == tid[:-1]) & (t[1:] == t[:-1])
    if dup.any():
        j = int(np.flatnonzero(dup)[0]) + 1
        where = (f"row {df['_row'].to_numpy()[j]} (row group {df['_row_group'].to_numpy()[j]})" if "_row" in df
                 else None)
        raise InputError(f"duplicate_time: track {tid[j]!r} has two fixes at {df['time'].iat[j]}",
                         file=files[int(df["_file"].to_numpy()[j])] if "_file" in df and files else None, row=where,
                         field="time")


def _transit_partition(df: pd.DataFrame, spec: TransitSpec, out_dir: str | None, i: int,
                       files: list[str]) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """One partition (whole tracks) through the kernel: one stream, closed at its end."""
    df = sort_tracks(df) if len(df) else df
    _check_duplicates(df, files)
    rows, state = transit_batch(df, None, spec)
    visits = visits_table([rows, transit_close(state, spec)], spec)
    stats: dict[str, Any] = {"partition": i, "fixes": n_fixes(state), "tracks": n_tracks(state),
                             "visits": len(visits)}
    if out_dir is None:
        return stats, visits
    name = f"part-{i:05d}.parquet"
    _write_geoparquet(visits, Path(out_dir) / name, "entry_lon", "entry_lat")
    stats["file"] = name
    return stats, None


def transit_dask(
    fixes: Any,
    zones: ZoneSetLike,
    *,
    max_gap: str | float | int = "10min",
    step_m: float = 5000.0,
    index: Locator | None = None,
    client: Any = None,
    npartitions: int | None = None,
    output: str | Path | None = None,
    shuffle_method: str = "tasks",
    between: tuple[Any, Any] | None = None,
) -> DaskRun:
    """Every visit of every track to every zone, computed on a Dask cluster.

    The visit rows are those of :func:`overflight.analysis.transit.transit` on the same fixes.

    Parameters
    ----------
    fixes
        Paths, a directory or a glob of (Geo)Parquet track files (read with :func:`read_archive`), or a Dask
        DataFrame of validated fixes (``track_id``, ``time`` UTC, ``lon``, ``lat``, optional ``alt_m``).
    zones, max_gap, step_m, index
        As for :func:`~overflight.analysis.transit.transit`; the index is built once here and sent to every
        worker once.
    client
        A ``distributed.Client`` (default: the current one).
    npartitions
        Partitions after the shuffle by track (default: the input's, at least twice the workers).
    output
        A directory for the partitioned GeoParquet result (must be new or empty); None gathers the visits
        into ``DaskRun.visits`` instead.
    shuffle_method
        Dask's shuffle: ``"tasks"`` (default; lost workers are recovered by recomputing tasks) or ``"p2p"``.
    between
        (start, end): only fixes with times in ``[start, end)``; with paths, row groups outside the window are
        never read (Parquet statistics: predicate push-down).
    """
    from dask.delayed import delayed

    client = _get_client(client)
    given = hasattr(fixes, "npartitions")
    if given and between is not None:
        raise InputError("between= goes with paths (a Dask DataFrame given is filtered by its maker)",
                         field="between")
    ddf = fixes if given else read_archive(fixes, between=between)
    files = [] if given else _expand(fixes)
    spec = TransitSpec(as_zoneset(zones), index=index, max_gap=max_gap, step_m=step_m)
    spec_f = client.scatter(spec, broadcast=True, hash=False)  # the index crosses the network once per worker
    info = _engine_info(client)
    n_in = int(ddf.npartitions)
    n_out = npartitions or max(n_in, 2 * max(info["workers"], 1))
    shuffled = ddf.shuffle("track_id", npartitions=n_out, shuffle_method=shuffle_method)
    out = _Output(Path(output)) if output is not None else None
    try:
        tasks = [delayed(_transit_partition, pure=False)(part, spec_f, str(out.tmp) if out else None, i, files)
                 for i, part in enumerate(shuffled.to_delayed())]
        results = client.gather(client.compute(tasks))
    except BaseException:
        if out is not None:
            out.abort()
        raise
    stats = [r[0] for r in results]
    prov = spec.provenance()
    prov["parameters"].update(n_fixes=sum(s["fixes"] for s in stats), n_tracks=sum(s["tracks"] for s in stats))
    prov["engine"] = info
    prov["partitioning"] = {
        "method": "shuffle by track id", "key": "track_id", "shuffle_method": shuffle_method,
        "input_partitions": n_in, "input_unit": "given" if given else "Parquet row group",
        "partitions": n_out, "per_partition": "whole tracks, sorted by (track, time), one kernel stream",
    }
    prov["n_visits"] = sum(s["visits"] for s in stats)
    if not given:
        prov["inputs"] = files
    if between is not None:
        prov["parameters"]["between"] = [str(t) for t in _window(between) or ()]
    if out is not None:
        return DaskRun(visits=None, files=out.commit(prov), provenance=prov, stats=stats)
    frames = [r[1] for r in results if r[1] is not None and len(r[1])]
    visits = visits_table([], spec) if not frames else pd.concat(frames, ignore_index=True)
    # A track's visits all come from one partition, already in order: a stable sort by track id alone gives
    # the single-machine order.
    visits = visits.sort_values("track_id", kind="stable")
    return DaskRun(visits=visits.reset_index(drop=True), files=[], provenance=prov, stats=stats)


# ------------------------------------------------------------------------------------------- locate

def _locate_piece(piece: Piece, index: Any, lon_col: str | None, lat_col: str | None, strict: bool,
                  out_dir: str | None, i: int) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """One row group with a ``zones`` column, by the single-machine call (:func:`zones_for_table`)."""
    pf = pq.ParquetFile(piece.file)
    tbl = pf.read_row_group(piece.row_group)
    meta = pf.schema_arrow.metadata or {}
    zones, c = zones_for_table(tbl, index, geo_meta=meta.get(b"geo"), file=piece.file, first_row=piece.first_row,
                               row_group=piece.row_group, lon_col=lon_col or "lon", lat_col=lat_col or "lat",
                               strict=strict)
    tbl = tbl.append_column("zones", zones)
    stats: dict[str, Any] = {"piece": i, "rows": c.rows, "located": c.located, "bad": c.bad}
    if out_dir is None:
        return stats, tbl.to_pandas()
    name = f"part-{i:05d}.parquet"
    part = Path(out_dir) / (name + ".tmp")
    pq.write_table(tbl, part)
    os.replace(part, Path(out_dir) / name)
    stats["file"] = name
    return stats, None


def locate_dask(paths: str | Path | Sequence[str | Path], index: Any, *, client: Any = None,
                lon_col: str | None = None, lat_col: str | None = None, strict: bool = False,
                output: str | Path | None = None) -> DaskRun:
    """Add the zones of every point of a (Geo)Parquet archive on Dask.

    A ``zones`` column is added to each row group (one task each; the :class:`~overflight.index.ZoneIndex`
    is sent to each worker once).

    ``output``: a new directory for one Parquet file per row group (renamed into place when all succeeded);
    None gathers the rows into ``DaskRun.visits``. Invalid coordinates get no zone and are counted
    (``strict=True``: an InputError naming file, row group and row).
    """
    from dask.delayed import delayed

    client = _get_client(client)
    pieces = archive_pieces(paths)
    index_f = client.scatter(index, broadcast=True, hash=False)
    out = _Output(Path(output)) if output is not None else None
    try:
        tasks = [delayed(_locate_piece, pure=False)(p, index_f, lon_col, lat_col, strict,
                                                         str(out.tmp) if out else None, i)
                 for i, p in enumerate(pieces)]
        results = client.gather(client.compute(tasks))
    except BaseException:
        if out is not None:
            out.abort()
        raise
    stats = [r[0] for r in results]
    prov: dict[str, Any] = {"engine": _engine_info(client), "partitioning": {
        "method": "one task per Parquet row group", "input_partitions": len(pieces)},
        "rows": sum(s["rows"] for s in stats), "located": sum(s["located"] for s in stats),
        "bad": sum(s["bad"] for s in stats), "inputs": _expand(paths)}
    if out is not None:
        return DaskRun(visits=None, files=out.commit(prov), provenance=prov, stats=stats)
    frames = [r[1] for r in results if r[1] is not None]
    return DaskRun(visits=pd.concat(frames, ignore_index=True) if frames else None, files=[], provenance=prov,
                   stats=stats)
