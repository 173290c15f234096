"""Transit and locate of a (Geo)Parquet archive on a Dask cluster, with the single-machine kernel.

How the work is cut
-------------------
* **Read and validate**: one task per Parquet *row group* (:func:`archive_pieces`), reading only the canonical
  columns, staged and validated by the same code as one machine (:mod:`overflight.tracks`), in two passes.
  The rules of one row alone (coordinates, altitude, time, zone) run in the read task; the rules that compare
  a fix with the earlier fixes of its track (``duplicate_time``, ``backwards_time``, ``speed``) run after the
  shuffle, when the track is whole, over its fixes in the order one machine meets them: archive order (files
  in name order, rows in file order), or (track, time) with ``sort=True`` (``--sort``). So ``on_invalid``
  (``--drop``), ``sort`` and ``max_speed_mps`` keep exactly the fixes one machine keeps. A bad row fails its
  task with an :class:`~overflight.errors.InputError` naming the file, the row group and the row (row numbers
  count from 1 over the whole file, as :func:`overflight.tracks.read_tracks` counts them).
* **Partition by track**: the fixes are *shuffled by track id* (hash) into partitions, so every fix of a track
  lands in one partition; each partition is sorted by (track, time) and run through the kernel
  (:func:`overflight.analysis.transit_kernel.transit_batch`) as one stream, then closed.
  The alternative, carrying each track's last fix and open visits across *time-ordered* partitions, would
  chain every partition to the one before it: no two could run at once, and one slow or lost partition would
  hold up the rest. The shuffle costs one pass of the fixes over the network (linear in fixes) and leaves
  independent partitions, so the work spreads over every worker and a lost task is simply recomputed.
  A partition's tracks go through the kernel in batches of about ``chunk_rows`` fixes that never cut a
  track (``--chunk-rows``: the kernel's memory grows with the batch), with the bracketing fixes of each
  crossing (``--brackets``) and the per-track summary (``--summary``) taken from the partition's whole
  tracks: the same rows as one machine.
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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from overflight.analysis.crossing_times import bracket_visits
from overflight.analysis.locate_parquet import LocateCounts, zones_for_table
from overflight.analysis.transit import Locator, summarize_transit
from overflight.analysis.transit_kernel import (
    TransitSpec,
    n_fixes,
    n_tracks,
    transit_batch,
    transit_close,
    visits_table,
)
from overflight.errors import InputError, OverflightError
from overflight.tracks._stage import AltUnit, ReadOptions
from overflight.tracks.read_parquet import stage_parquet_row_group, time_column
from overflight.tracks.table import TIME_DTYPE, TIME_OK, TRACK_COLUMNS, factorize_sorted
from overflight.tracks.validate import RULES, Issue, OnInvalid, Staged, ValidationReport, Validator
from overflight.units import SpeedLike, parse_speed
from overflight.zones import ZoneSetLike, as_zoneset

__all__ = ["DaskRun", "Piece", "archive_pieces", "dask_client", "locate_dask", "read_archive", "transit_dask"]

#: Columns of the validated fixes a read task hands on: canonical ones and where each fix came from.
FIX_META = pd.DataFrame({
    "track_id": pd.Series([], dtype="str"), "time": pd.Series([], dtype=TIME_DTYPE),
    "lon": pd.Series([], dtype="float64"), "lat": pd.Series([], dtype="float64"),
    "alt_m": pd.Series([], dtype="float64"), "_file": pd.Series([], dtype="int32"),
    "_row_group": pd.Series([], dtype="int64"), "_row": pd.Series([], dtype="int64"),
})
#: Fixes per partition after the shuffle by track, about, when ``npartitions`` is not given (paths). (20 M
#: fixes: 1 M and 2 M per partition cost the same CPU; 1 M holds less per task, 2.2 GB peak on one worker
#: against 2.5 GB.)
PARTITION_FIXES = 1_000_000
_STR = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' "str": the dtype of FIX_META's ids
_ONE_ID = pd.CategoricalDtype(pd.Index([""], dtype=object))  # the stand-in track of _row_local
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
    #: Transit: what validation found over the archive (rows dropped per rule with ``on_invalid="drop"``).
    report: ValidationReport | None = None
    #: Transit with ``summary_tz``: the per-track summary.
    summary: pd.DataFrame | None = None


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


def _row_local(st: Staged, file: str, on_invalid: OnInvalid) -> tuple[np.ndarray, ValidationReport]:
    """Positions of the rows of ``st`` that pass every rule of one row alone, and the report of those rules.

    The one-machine :class:`~overflight.tracks.validate.Validator` runs on the row group with one constant
    track id and strictly increasing stand-in times, so only the rules of a row alone can fire (coordinates,
    altitude, time, zone: the same masks, messages and counts); the rules comparing a fix with the earlier
    fixes of its track run after the shuffle (:func:`_track_rules`), when the track is whole.
    """
    n = len(st.frame)
    f = st.frame
    stand_in = pd.DataFrame({
        # (one id as a Categorical: the Validator factorizes codes, not a string object per row)
        "track_id": pd.Series(pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), dtype=_ONE_ID), copy=False),
        "time": pd.DatetimeIndex(np.arange(n, dtype=np.int64).view("datetime64[ns]")).tz_localize("UTC"),
        "lon": f["lon"].to_numpy(), "lat": f["lat"].to_numpy(),
        "alt_m": f["alt_m"].to_numpy() if "alt_m" in f.columns else np.nan,
        "_pos": np.arange(n, dtype=np.int64),
    })
    v = Validator(file, on_invalid=on_invalid)
    kept = v.process(Staged(frame=stand_in, rows=st.rows, time_code=st.time_code, time_raw=st.time_raw,
                            malformed=st.malformed, n_malformed=st.n_malformed, notes=st.notes, fields=st.fields,
                            raw=st.raw, row_label=st.row_label))
    return np.sort(kept["_pos"].to_numpy(dtype=np.int64)), v.report


def _read_piece_report(piece: Piece, opts: ReadOptions, between: tuple[pd.Timestamp, pd.Timestamp] | None = None,
                       on_invalid: OnInvalid = "fail") -> tuple[pd.DataFrame, ValidationReport]:
    """The fixes of one row group that pass the rules of one row alone, and the report of those rules.

    ``on_invalid="fail"``: a bad row is an InputError naming the file, the row group and the row.
    """
    st = stage_parquet_row_group(piece.file, piece.row_group, piece.first_row, opts, between)
    keep, report = _row_local(st, piece.file, on_invalid)
    f = st.frame
    every = len(keep) == len(f)  # (nearly every row group: no row dropped, no gather)
    df = pd.DataFrame({
        "track_id": _id_strings(f["track_id"], None if every else keep),
        "time": (f["time"] if every else f["time"].iloc[keep]).reset_index(drop=True).astype("datetime64[ns, UTC]"),
        "lon": f["lon"].to_numpy(dtype="float64")[keep], "lat": f["lat"].to_numpy(dtype="float64")[keep],
        "alt_m": (f["alt_m"].to_numpy(dtype="float64")[keep] if "alt_m" in f.columns
                  else np.full(len(keep), np.nan)),
        "_file": np.full(len(keep), piece.file_id, dtype=np.int32),
        "_row_group": np.full(len(keep), piece.row_group, dtype=np.int64),
        "_row": np.asarray(st.rows, dtype=np.int64)[keep],
    })
    return df, report


def _id_strings(ids: pd.Series, keep: np.ndarray | None) -> pd.Series:
    """The track ids at ``keep`` (None: all) as Arrow-backed text, what the shuffle hashes and carries.

    A Categorical (the row group's dictionary) is decoded by Arrow from its codes: each distinct id made once,
    not a Python string per fix; text of any other kind is taken as it is.
    """
    if isinstance(ids.dtype, pd.CategoricalDtype):
        codes = np.asarray(ids.cat.codes, dtype=np.int32)
        if keep is not None:
            codes = codes[keep]
        words = pa.array(np.asarray(ids.cat.categories, dtype=object), type=pa.string())
        text = pa.DictionaryArray.from_arrays(pa.array(codes), words).cast(pa.string())
        return pd.Series(pd.arrays.ArrowStringArray(text, dtype=_STR), copy=False)  # type: ignore[call-arg]  # (the stubs lack dtype=)
    return (ids if keep is None else ids.iloc[keep]).reset_index(drop=True).astype("str")


def _read_piece(piece: Piece, opts: ReadOptions, between: tuple[pd.Timestamp, pd.Timestamp] | None = None,
                on_invalid: OnInvalid = "fail") -> pd.DataFrame:
    """The fixes of one row group that pass the rules of one row alone."""
    return _read_piece_report(piece, opts, between, on_invalid)[0]


def read_archive(paths: str | Path | Sequence[str | Path], *, lon_col: str | None = None,
                 lat_col: str | None = None, time_col: str | None = None, id_col: str | None = None,
                 alt_col: str | None = None, alt_unit: AltUnit = "m", tz: str | None = None,
                 time_format: str | None = None, between: tuple[Any, Any] | None = None,
                 on_invalid: OnInvalid = "fail") -> Any:
    """A Dask DataFrame of the archive's fixes, one partition per Parquet row group (nothing is read yet).

    Each row is checked by the rules of one row alone (a bad one fails its task, naming file, row group and
    row); the rules comparing a fix with the earlier fixes of its track need whole tracks
    (:func:`transit_dask` applies them after its shuffle). Columns: ``track_id, time, lon, lat, alt_m`` and
    where each fix came from (``_file``: position among the archive's files, ``_row_group``, ``_row``).

    ``between``: (start, end) times; row groups entirely outside ``[start, end)`` are never read (their
    statistics say so) and the rows outside it are dropped before validation. ``on_invalid="drop"``: rows that
    break a rule of one row are dropped instead.
    """
    import dask.dataframe as dd

    if on_invalid not in ("fail", "drop"):
        raise InputError(f"on_invalid must be 'fail' or 'drop', not {on_invalid!r}", field="on_invalid")
    opts = _read_options(lon_col=lon_col, lat_col=lat_col, time_col=time_col, id_col=id_col, alt_col=alt_col,
                         alt_unit=alt_unit, tz=tz, time_format=time_format)
    window = _window(between)
    pieces = archive_pieces(paths, between=window, opts=opts)
    if not pieces:
        raise InputError("no row group of the archive holds a time in the window", file=str(paths), field="between")
    return dd.from_map(_read_piece, pieces, opts=opts, between=window, on_invalid=on_invalid, meta=FIX_META,
                       label="read-validate", enforce_metadata=False)


def _read_options(**kw: Any) -> ReadOptions:
    if kw.get("alt_unit", "m") not in ("m", "ft"):
        raise InputError(f"alt_unit must be 'm' or 'ft', not {kw['alt_unit']!r}", field="alt_unit")
    return ReadOptions(**kw, core_only=True, categorical_ids=True)


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

    The local workers start without the ``MALLOC_TRIM_THRESHOLD_=65536`` that Dask's nanny sets by default:
    fixing the threshold turns off glibc's adaptive one, so every large array is mapped and unmapped afresh,
    and the read, validation and kernel tasks cost about 30 % more CPU (measured in a worker: a partition of
    1 M fixes took 3.4 s of CPU with it, 2.3 s without). The workers of a real cluster get it from their own
    Dask configuration (``distributed.nanny.pre-spawn-environ``).
    """
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise OverflightError("the Dask engine needs dask and distributed: pip install 'overflight[dask]'") from None

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    environ = {k: v for k, v in (dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {}).items()
               if k != "MALLOC_TRIM_THRESHOLD_"}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}), \
            LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
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


def _broadcast(client: Any, obj: Any, attempts: int = 3) -> Any:
    """``client.scatter(obj, broadcast=True)``: a copy on every worker, sent once per worker.

    A worker that dies while the copies go out fails the scatter (a closed connection); the nanny starts a
    new worker, so the scatter is tried again rather than failing the run.
    """
    for _ in range(attempts - 1):
        try:
            return client.scatter(obj, broadcast=True, hash=False)
        except OSError:  # distributed's CommClosedError is one
            client.wait_for_workers(1, timeout=60)
    return client.scatter(obj, broadcast=True, hash=False)


def _engine_info(client: Any) -> dict[str, Any]:
    from importlib.metadata import version

    info = client.scheduler_info()
    workers = info.get("workers", {})
    return {"name": "dask", "dask": version("dask"), "distributed": version("distributed"),
            "scheduler": client.scheduler.address, "workers": len(workers),
            "threads": int(sum(w.get("nthreads", 1) for w in workers.values()))}


# ------------------------------------------------------------------------------------------- output

def check_inputs(paths: str | Path | Sequence[str | Path], output: str | Path | None) -> None:
    """Refuse an archive that names no Parquet file, or an output that is a file or a directory not empty.

    The command line calls this before it starts a cluster: a cluster closed again at once, while its
    workers are still starting, logs their broken connections as tracebacks over the one-line error.
    """
    _expand(paths)
    if output is not None:
        _check_output(Path(output))


def _check_output(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError("output directory exists and is not empty (choose a new one)", file=target)


class _Output:
    """A directory filled under a hidden name and renamed into place only when the run succeeded."""

    def __init__(self, target: Path) -> None:
        _check_output(target)
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

@dataclass(frozen=True)
class _Plan:
    """What every partition task does besides the kernel (one small object in the task graph)."""

    on_invalid: OnInvalid = "fail"
    max_speed_mps: float | None = None
    sort: bool = False
    chunk_rows: int = 250_000
    brackets: bool = False
    summary_tz: str | None = None  # None: no per-track summary


def _track_rules(df: pd.DataFrame, plan: _Plan, files: list[str]) -> tuple[pd.DataFrame, ValidationReport]:
    """The rules that compare a fix with the earlier fixes of its track, on whole tracks (one partition).

    The fixes are put in the order one machine validates them — archive order (file, row), or with ``sort``
    (track, time) stable in archive order, as ``--sort`` sorts a file — and run through the one-machine
    :class:`~overflight.tracks.validate.Validator` as one stream: ``duplicate_time``, ``backwards_time`` and
    ``speed`` flag the same fixes. (The rules of one row alone already ran in the read tasks; the rows they
    dropped take no part in these on one machine either.) Returns the kept fixes sorted by (track, time) and
    the report; ``fail``: an InputError naming the file.
    """
    n = len(df)
    if "alt_m" not in df.columns:  # optional in a Dask DataFrame given by the caller
        df = df.assign(alt_m=np.nan)
    have_src = "_file" in df.columns
    cols = [c for c in TRACK_COLUMNS if c in df.columns]
    if plan.max_speed_mps is None and n:
        fast = _clean_tracks(df, have_src)
        if fast is not None:
            report = ValidationReport(file=files[0] if len(files) == 1 else "archive", total_rows=n, rows_kept=n)
            return fast, report
    if plan.max_speed_mps is None and n and plan.sort:
        # The clean case, decided on arrays: when every track's times rise strictly in the order of validation,
        # no fix is a duplicate or goes back, and the Validator would keep every row and flag none.
        codes, _ = pd.factorize(df["track_id"], sort=True)
        t = df["time"].to_numpy(dtype="datetime64[ns]").view(np.int64)
        src = [df["_row"].to_numpy(), df["_file"].to_numpy()] if have_src else [np.arange(n)]
        o = np.lexsort((*src, t, codes))  # (track, time), ties in archive order: sort_tracks' order
        same = codes[o][1:] == codes[o][:-1]
        rising = t[o][1:] > t[o][:-1]
        if have_src and not plan.sort:  # archive order must be time order within each track
            f, r = df["_file"].to_numpy()[o], df["_row"].to_numpy()[o]
            rising &= (f[1:] > f[:-1]) | ((f[1:] == f[:-1]) & (r[1:] > r[:-1]))
        if not (same & ~rising).any():
            report = ValidationReport(file=files[0] if len(files) == 1 else "archive", total_rows=n, rows_kept=n)
            return df[cols].iloc[o].reset_index(drop=True), report
    if have_src and not plan.sort:
        order = np.lexsort((df["_row"].to_numpy(), df["_file"].to_numpy()))
    else:
        keys: list[np.ndarray] = [df["_row"].to_numpy(), df["_file"].to_numpy()] if have_src else [np.arange(n)]
        codes, _ = pd.factorize(df["track_id"], sort=True)
        t = df["time"].to_numpy(dtype="datetime64[ns]").view(np.int64)
        order = np.lexsort((*keys, t, codes))
    d = df.iloc[order].reset_index(drop=True)
    names: dict[str, int] = {}  # row label -> position, for the few rows named in examples

    def label(pos: int) -> str:
        text = (f"{d['_row'].iat[pos]} (row group {d['_row_group'].iat[pos]})" if have_src else f"{pos + 1}")
        names[text] = pos
        return text

    st = Staged(frame=d[cols], rows=np.arange(n, dtype=np.int64),
                time_code=np.full(n, TIME_OK, dtype=np.int8), row_label=label)
    v = Validator(files[0] if len(files) == 1 else "archive", on_invalid=plan.on_invalid,
                  max_speed_mps=plan.max_speed_mps)
    try:
        kept = v.process(st)
    except InputError as exc:
        row = str(exc.row or "").removeprefix("row ")
        pos = names.get(row)
        file = files[int(d["_file"].to_numpy()[pos])] if pos is not None and have_src and files else exc.file
        raise InputError(exc.reason, file=file, row=exc.row, field=exc.field) from None
    if len(files) > 1 and have_src:  # the report is the archive's: each example names its file
        fid = d["_file"].to_numpy()
        v.report.examples = [replace(e, row=f"{e.row} in {Path(files[int(fid[names[str(e.row)]])]).name}")
                             if str(e.row) in names else e for e in v.report.examples]
    return kept, v.report


def _clean_tracks(df: pd.DataFrame, have_src: bool) -> pd.DataFrame | None:
    """The fixes sorted by (track, time) when every track's times rise strictly in archive order, else None.

    Then no rule comparing a fix with the earlier ones of its track can fire, in archive order or with
    ``sort`` (the (track, time) order is then the (track, archive) order): the Validator would keep every row.
    Decided with stable sorts of integer keys (one radix pass each), not a lexsort of four keys; the ids go on
    as a Categorical of the partition's ids (codes taken, never a string per fix).
    """
    codes, uniq = factorize_sorted(df["track_id"])
    t = df["time"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    a: np.ndarray | None = None  # archive order (None: the rows are in it already, as the shuffle keeps them)
    if have_src:
        src = (df["_file"].to_numpy().astype(np.int64) << 40) | df["_row"].to_numpy().astype(np.int64)
        if not bool((src[1:] > src[:-1]).all()):
            a = np.argsort(src, kind="stable")
    ca = codes if a is None else codes[a]
    # (numpy's stable sort is a radix sort for keys of 16 bits or less: a partition seldom holds 65,536 tracks)
    o = np.argsort(ca.astype(np.uint16) if len(uniq) <= 1 << 16 else ca, kind="stable")
    if a is not None:
        o = a[o]
    co, to = codes[o], t[o]
    if ((co[1:] == co[:-1]) & (to[1:] <= to[:-1])).any():
        return None
    ids = pd.Categorical.from_codes(co, categories=pd.Index(uniq, dtype=df["track_id"].dtype
                                                            if pd.api.types.is_string_dtype(df["track_id"].dtype)
                                                            else object), validate=False)
    out = {"track_id": pd.Series(ids, copy=False),
           "time": pd.Series(to.view("datetime64[ns]"), copy=False).dt.tz_localize("UTC")}
    for c in ("lon", "lat", "alt_m"):
        out[c] = pd.Series(df[c].to_numpy(dtype=np.float64)[o], copy=False)
    return pd.DataFrame(out, copy=False)


def _transit_partition(df: pd.DataFrame, spec: TransitSpec, out_dir: str | None, i: int, files: list[str],
                       plan: _Plan) -> tuple[dict[str, Any], pd.DataFrame | None, pd.DataFrame | None,
                                              ValidationReport]:
    """One partition (whole tracks): the track rules, then the kernel as one stream in slices, closed at its end.

    Returns (stats, visits or None when written to ``out_dir``, per-track summary or None, validation report).
    """
    fixes, report = _track_rules(df, plan, files)
    state = None
    rows = []
    for a, b in _track_batches(fixes["track_id"], plan.chunk_rows):
        closed, state = transit_batch(fixes.iloc[a:b], state, spec)
        rows.append(closed)
    if state is None:
        _, state = transit_batch(fixes, None, spec)
    visits = visits_table([*rows, transit_close(state, spec)], spec)
    summary = summarize_transit(visits, tz=plan.summary_tz) if plan.summary_tz is not None else None
    if plan.brackets:
        visits = bracket_visits(visits, fixes, spec.max_gap_s)
    stats: dict[str, Any] = {"partition": i, "fixes": n_fixes(state), "tracks": n_tracks(state),
                             "visits": len(visits)}
    if out_dir is None:
        return stats, visits, summary, report
    name = f"part-{i:05d}.parquet"
    _write_geoparquet(visits, Path(out_dir) / name, "entry_lon", "entry_lat")
    stats["file"] = name
    return stats, None, summary, report


def _track_batches(track_id: pd.Series, chunk_rows: int) -> list[tuple[int, int]]:
    """Cut fixes sorted by track into batches of about ``chunk_rows`` fixes that never split a track.

    Whole tracks in one kernel call give exactly the rows of :func:`~overflight.analysis.transit.transit` on
    the whole table: a track's running path length summed in one piece, not carried across a cut (a cut
    track is only equal to about 1e-6 m). A track longer than ``chunk_rows`` is one batch of its own.
    """
    n = len(track_id)
    if n == 0:
        return []
    codes = pd.factorize(track_id)[0]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    out: list[tuple[int, int]] = []
    a = 0
    step = max(int(chunk_rows), 1)
    while a < n:  # one turn per batch, not per fix
        k = int(np.searchsorted(starts, a + step))
        b = int(starts[k]) if k < len(starts) else n
        out.append((a, b))
        a = b
    return out


def _merge_reports(file: str, reports: Sequence[ValidationReport], max_examples: int = 5) -> ValidationReport:
    """One report for the archive: counts summed, the first examples of each rule kept."""
    out = ValidationReport(file=file)
    for r in reports:
        if r.file not in (file, "archive"):  # a read task's report: its examples name the file in the archive's
            r.examples = [replace(e, row=f"{e.row} in {Path(r.file).name}") for e in r.examples]
        for k in RULES:
            out.counts[k] += r.counts.get(k, 0)
        for k, n in r.notes.items():
            out.notes[k] = out.notes.get(k, 0) + n
        if not out.columns and r.columns:
            out.columns = dict(r.columns)
    for rule in RULES:
        ex: list[Issue] = [e for r in reports for e in r.examples if e.rule == rule]
        out.examples.extend(ex[:max_examples])
    return out


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
    lon_col: str | None = None,
    lat_col: str | None = None,
    time_col: str | None = None,
    id_col: str | None = None,
    alt_col: str | None = None,
    alt_unit: AltUnit = "m",
    tz: str | None = None,
    time_format: str | None = None,
    on_invalid: OnInvalid = "fail",
    max_speed_mps: SpeedLike | None = None,
    sort: bool = False,
    chunk_rows: int = 250_000,
    brackets: bool = False,
    summary_tz: str | None = None,
) -> DaskRun:
    """Every visit of every track to every zone, computed on a Dask cluster.

    The visit rows are those of :func:`overflight.analysis.transit.transit` on the fixes one machine keeps
    (``overflight transit`` on the files one after the other, with the same options).

    Parameters
    ----------
    fixes
        Paths, a directory or a glob of (Geo)Parquet track files (files in name order make the archive's
        order), or a Dask DataFrame of validated fixes (``track_id``, ``time`` UTC, ``lon``, ``lat``, optional
        ``alt_m``; taken as sorted by (track, time): it has no file order).
    zones, max_gap, step_m, index
        As for :func:`~overflight.analysis.transit.transit`; the index is built once here and sent to every
        worker once.
    client
        A ``distributed.Client`` (default: the current one).
    npartitions
        Partitions after the shuffle by track (default: paths, about one per :data:`PARTITION_FIXES` fixes; a
        Dask DataFrame, its own count; at least twice the workers).
    output
        A directory for the partitioned GeoParquet result (must be new or empty); None gathers the visits
        into ``DaskRun.visits`` instead.
    shuffle_method
        Dask's shuffle: ``"tasks"`` (default; lost workers are recovered by recomputing tasks) or ``"p2p"``.
    between
        (start, end): only fixes with times in ``[start, end)``; with paths, row groups outside the window are
        never read (Parquet statistics: predicate push-down).
    lon_col, lat_col, time_col, id_col, alt_col, alt_unit, tz, time_format, on_invalid, max_speed_mps, sort
        As for :func:`overflight.tracks.read_tracks` (paths only): source columns, units, time parsing;
        ``on_invalid="drop"`` drops invalid rows (counted in ``DaskRun.report``); ``sort`` validates each track
        in time order rather than in archive order.
    chunk_rows
        Fixes per kernel call within a partition, about (the kernel's memory grows with it); a call holds whole
        tracks, so the rows do not change.
    brackets
        Add the bracketing fixes and time range of every crossing
        (:func:`overflight.analysis.crossing_times.bracket_visits`).
    summary_tz
        Also compute the per-track summary (:func:`~overflight.analysis.transit.summarize_transit`) with clock
        times in this zone, into ``DaskRun.summary``.
    """
    import operator

    import dask.dataframe as dd
    from dask.delayed import delayed

    client = _get_client(client)
    given = hasattr(fixes, "npartitions")
    if given:
        named = {"between": between is not None, "on_invalid": on_invalid != "fail",
                 "max_speed_mps": max_speed_mps is not None,
                 **{k: v is not None for k, v in (("lon_col", lon_col), ("lat_col", lat_col), ("time_col", time_col),
                                                  ("id_col", id_col), ("alt_col", alt_col), ("tz", tz),
                                                  ("time_format", time_format))}, "alt_unit": alt_unit != "m"}
        for name, on in named.items():
            if on:
                raise InputError(f"{name}= goes with paths (a Dask DataFrame given is read and validated by its "
                                 "maker)", field=name)
    if chunk_rows < 1:
        raise InputError(f"chunk_rows must be at least 1, not {chunk_rows}", field="chunk_rows")
    if max_speed_mps is not None:  # m/s, or text with a unit ("900kmh"), as read_tracks takes it
        max_speed_mps = parse_speed(max_speed_mps, default_unit="mps", field="max_speed_mps")
    if on_invalid not in ("fail", "drop"):
        raise InputError(f"on_invalid must be 'fail' or 'drop', not {on_invalid!r}", field="on_invalid")
    plan = _Plan(on_invalid=on_invalid, max_speed_mps=max_speed_mps, sort=sort or given, chunk_rows=chunk_rows,
                 brackets=brackets, summary_tz=summary_tz)
    spec = TransitSpec(as_zoneset(zones), index=index, max_gap=max_gap, step_m=step_m)
    if given:
        ddf, read_reports, files = fixes, [], []
    else:
        opts = _read_options(lon_col=lon_col, lat_col=lat_col, time_col=time_col, id_col=id_col,
                             alt_col=alt_col, alt_unit=alt_unit, tz=tz, time_format=time_format)
        window = _window(between)
        pieces = archive_pieces(fixes, between=window, opts=opts)
        if not pieces:
            raise InputError("no row group of the archive holds a time in the window", file=str(fixes),
                             field="between")
        files = _expand(fixes)
        # One task per row group gives its fixes and its report; both are taken from the same task.
        read = [delayed(_read_piece_report, pure=False)(p, opts, window, on_invalid) for p in pieces]
        ddf = dd.from_delayed([delayed(operator.getitem)(r, 0) for r in read], meta=FIX_META,
                              verify_meta=False)
        read_reports = [delayed(operator.getitem)(r, 1) for r in read]
    spec_f = _broadcast(client, spec)  # the index crosses the network once per worker
    info = _engine_info(client)
    n_in = int(ddf.npartitions)
    # Paths: about one partition per PARTITION_FIXES fixes (the row groups' counts), at least two per worker.
    # Not one per row group: a partition's fixed costs (its tasks, the shuffle's pieces of it, its visit table
    # and file) then outweigh its fixes (2 M fixes in 80 row groups: 11 s of worker CPU in 80 partitions,
    # 5 s in 8). A given Dask DataFrame keeps its own partition count.
    n_default = (max(n_in, 2 * max(info["workers"], 1)) if given else
                 max(-(-sum(p.rows for p in pieces) // PARTITION_FIXES), 2 * max(info["workers"], 1)))
    n_out = npartitions or n_default
    shuffled = ddf.shuffle("track_id", npartitions=n_out, shuffle_method=shuffle_method)
    out = _Output(Path(output)) if output is not None else None
    try:
        tasks = [delayed(_transit_partition, pure=False)(part, spec_f, str(out.tmp) if out else None, i, files,
                                                         plan)
                 for i, part in enumerate(shuffled.to_delayed())]
        computed = client.gather(client.compute([*tasks, *read_reports]))
    except BaseException:
        if out is not None:
            out.abort()
        raise
    results, first_reports = computed[:len(tasks)], computed[len(tasks):]
    stats = [r[0] for r in results]
    report = _merge_reports(files[0] if len(files) == 1 else "archive", [*first_reports, *(r[3] for r in results)])
    report.total_rows = sum(r.total_rows for r in first_reports) if first_reports else sum(s["fixes"] for s in stats)
    report.rows_kept = sum(s["fixes"] for s in stats)
    prov = spec.provenance()
    prov["parameters"].update(n_fixes=sum(s["fixes"] for s in stats), n_tracks=sum(s["tracks"] for s in stats),
                              on_invalid=on_invalid, sort=sort, max_speed_mps=max_speed_mps, brackets=brackets,
                              chunk_rows=chunk_rows)
    if report.invalid_rows:
        prov["parameters"]["invalid_rows"] = {k: v for k, v in report.counts.items() if v}
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
    summaries = [r[2] for r in results if r[2] is not None and len(r[2])]
    summary = None
    if summary_tz is not None:
        # A track's summary row comes from its one partition: sorted by track id, the one-machine table.
        summary = (pd.concat(summaries, ignore_index=True).sort_values("track_id", kind="stable")
                   .reset_index(drop=True) if summaries else summarize_transit(visits_table([], spec), tz=summary_tz))
    if out is not None:
        return DaskRun(visits=None, files=out.commit(prov), provenance=prov, stats=stats, report=report,
                       summary=summary)
    frames = [r[1] for r in results if r[1] is not None and len(r[1])]
    visits = visits_table([], spec) if not frames else pd.concat(frames, ignore_index=True)
    if brackets and not frames:
        visits = bracket_visits(visits, FIX_META, spec.max_gap_s)  # no visit: the columns only
    # A track's visits all come from one partition, already in order: a stable sort by track id alone gives
    # the single-machine order.
    visits = visits.sort_values("track_id", kind="stable")
    return DaskRun(visits=visits.reset_index(drop=True), files=[], provenance=prov, stats=stats, report=report,
                   summary=summary)


# ------------------------------------------------------------------------------------------- locate

def _locate_piece(piece: Piece, index: Any, lon_col: str | None, lat_col: str | None, strict: bool,
                  out_dir: str | None, i: int, normalize_lon: bool = False,
                  chunk_rows: int | None = None) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """One row group with a ``zones`` column, by the single-machine call (:func:`zones_for_table`).

    ``chunk_rows``: the row group is located in slices of that many rows (bounded memory; the same rows).
    """
    pf = pq.ParquetFile(piece.file)
    tbl = pf.read_row_group(piece.row_group)
    meta = pf.schema_arrow.metadata or {}
    step = max(int(chunk_rows or tbl.num_rows or 1), 1)
    parts: list[pa.Array] = []
    c = LocateCounts()
    for a in range(0, max(tbl.num_rows, 1), step):
        zones, ci = zones_for_table(tbl.slice(a, step), index, geo_meta=meta.get(b"geo"), file=piece.file,
                                    first_row=piece.first_row + a, row_group=piece.row_group,
                                    lon_col=lon_col or "lon", lat_col=lat_col or "lat", strict=strict,
                                    normalize_lon=normalize_lon)
        parts.append(zones)
        c.rows, c.located, c.bad = c.rows + ci.rows, c.located + ci.located, c.bad + ci.bad
    tbl = tbl.append_column("zones", pa.chunked_array(parts, type=pa.string()))
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
                output: str | Path | None = None, normalize_lon: bool = False,
                chunk_rows: int | None = None) -> DaskRun:
    """Add the zones of every point of a (Geo)Parquet archive on Dask.

    A ``zones`` column is added to each row group (one task each; the :class:`~overflight.index.ZoneIndex`
    is sent to each worker once).

    ``output``: a new directory for one Parquet file per row group (renamed into place when all succeeded);
    None gathers the rows into ``DaskRun.visits``. Invalid coordinates get no zone and are counted
    (``strict=True``: an InputError naming file, row group and row). ``normalize_lon`` wraps longitudes into
    [-180, 180] first; ``chunk_rows`` locates each row group in slices of that many rows (the same rows), as
    :func:`~overflight.analysis.locate_parquet.locate_parquet` does on one machine.
    """
    from dask.delayed import delayed

    client = _get_client(client)
    if chunk_rows is not None and chunk_rows < 1:
        raise InputError(f"chunk_rows must be at least 1, not {chunk_rows}", field="chunk_rows")
    pieces = archive_pieces(paths)
    for f in dict.fromkeys(p.file for p in pieces):  # as one machine: a zones column is never written twice
        if "zones" in pq.read_schema(f).names:
            raise InputError("the file already has a 'zones' column", file=f, field="zones")
    index_f = _broadcast(client, index)
    out = _Output(Path(output)) if output is not None else None
    try:
        tasks = [delayed(_locate_piece, pure=False)(p, index_f, lon_col, lat_col, strict,
                                                         str(out.tmp) if out else None, i, normalize_lon,
                                                         chunk_rows)
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
