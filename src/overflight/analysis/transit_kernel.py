"""The transit kernel: ``(Arrow record batch of fixes, state, spec) -> (visit rows, state)``.

This is the one boundary every engine calls — the single-machine stream (:func:`transit_chunks`), the Dask
path (:mod:`overflight.distributed`) and, later, Ray ``map_batches`` or Spark ``mapInArrow``:

``spec`` (:class:`TransitSpec`)
    what every call shares and never changes: the zones, their :class:`~overflight.index.ZoneIndex` and the
    parameters (``max_gap_s``, ``step_m``). Build it once and ship it once (Dask: ``client.scatter(spec,
    broadcast=True)``; Ray: ``ray.put``; Spark: a broadcast variable). It pickles.
``batch``
    fixes as an Arrow ``RecordBatch``/``Table`` (or a pandas frame) with ``track_id`` (string), ``time``
    (timestamp, UTC), ``lon``, ``lat`` (float64) and optional ``alt_m``, *validated* (see
    :mod:`overflight.tracks.validate`). Rows in any order, but each track's fixes must reach the kernel in time
    order across calls: a later batch may not hold a fix earlier than the track's carried last fix.
``state`` (:class:`~overflight.analysis.transit.TransitState`, or None to start)
    each track's last fix and its open visits. It is updated and returned (it may be the same object); hand
    it to the next call of the same stream. It pickles, so a stream can move between processes.
visit rows
    an Arrow table (:data:`VISIT_ROW_SCHEMA`): the visits this batch *closed*, in raw form (zone as an index
    into ``spec.zones``, times in ns, with the fixes that bracket the entry and the exit).
    :func:`transit_close` closes what is still open at the end of the tracks, and :func:`visits_table` turns
    the rows of whole tracks into the public visit table (dispute flags compare visits of one track, so it
    needs all of a track's rows together).

A calling engine must therefore either keep a track's batches in one stream (Dask here: shuffle by track id,
each partition one stream) or carry ``state`` from one time-ordered batch to the next (the streaming path).
For Spark, after ``repartition("track_id").sortWithinPartitions("track_id", "time")`` every partition is such a
stream, and ``mapInArrow`` can run it (``spec`` from a broadcast variable)::

    def visits_of_partition(batches):
        state, rows = None, []
        for batch in batches:
            closed, state = transit_batch(batch, state, spec)
            rows.append(closed)
        if state is not None:
            rows.append(transit_close(state, spec))
        yield from pa.Table.from_pandas(visits_table(rows, spec)).to_batches()
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from overflight.analysis.transit import (
    _BRACKET_SUFFIXES,
    Locator,
    TransitEngine,
    TransitState,
    _default_locator,
    _empty_raw,
    parse_max_gap,
)
from overflight.zones import ZoneSet

__all__ = ["VISIT_ROW_SCHEMA", "TransitSpec", "transit_batch", "transit_close", "visits_table"]

#: Raw visit rows as the kernel hands them out (see the module docstring).
VISIT_ROW_SCHEMA = pa.schema([
    ("track_id", pa.string()), ("zone", pa.int64()),
    ("entry_ns", pa.int64()), ("entry_lon", pa.float64()), ("entry_lat", pa.float64()),
    ("entry_cum", pa.float64()), ("entry_kind", pa.string()), ("entry_obs", pa.bool_()),
    *((f"entry_{c}", pa.int64() if c.endswith("_ns") else pa.float64()) for c in _BRACKET_SUFFIXES),
    ("exit_ns", pa.int64()), ("exit_lon", pa.float64()), ("exit_lat", pa.float64()),
    ("exit_cum", pa.float64()), ("exit_kind", pa.string()), ("exit_obs", pa.bool_()),
    *((f"exit_{c}", pa.int64() if c.endswith("_ns") else pa.float64()) for c in _BRACKET_SUFFIXES),
])

# One engine per spec and thread: its lazily built zone edges are reused by every call (a worker runs many
# partitions with the one scattered spec), and two threads of one worker never share an engine's state.
_LOCAL = threading.local()


@dataclass(eq=False)
class TransitSpec:
    """Zones, their index and the transit parameters: built once, shared by every kernel call.

    Parameters
    ----------
    zones : ZoneSet
    index : Locator, optional
        The :class:`~overflight.index.ZoneIndex` of ``zones`` (built, or loaded from the cache, when omitted).
    max_gap : str or float
        As for :func:`~overflight.analysis.transit.transit` (``"10min"`` or seconds).
    step_m : float
        Geodesic densification step.
    """

    zones: ZoneSet
    index: Locator | None = None
    max_gap: str | float | int = "10min"
    step_m: float = 5000.0
    max_gap_s: float = field(init=False)

    def __post_init__(self) -> None:
        self.max_gap_s = parse_max_gap(self.max_gap)
        if self.index is None:
            self.index = _default_locator(self.zones)

    def engine(self, state: TransitState | None = None) -> TransitEngine:
        """Return this thread's engine for the spec, holding ``state`` (a fresh one when None)."""
        held: tuple[TransitSpec, TransitEngine] | None = getattr(_LOCAL, "engine", None)
        if held is not None and held[0] is self:
            eng = held[1]
        else:  # one spec per thread at a time: engines (and their edges) do not pile up
            eng = TransitEngine(self.zones, max_gap_s=self.max_gap_s, step_m=self.step_m, index=self.index)
            _LOCAL.engine = (self, eng)
        eng.state = state if state is not None else TransitState()
        return eng

    def provenance(self, state: TransitState | None = None) -> dict[str, Any]:
        """The zone set's provenance and the run's parameters (fixes and tracks of ``state``)."""
        return self.engine(state).provenance()


def fixes_frame(batch: pa.RecordBatch | pa.Table | pd.DataFrame) -> pd.DataFrame:
    """The pandas frame the engine reads, from an Arrow batch of fixes (a pandas frame passes through)."""
    if isinstance(batch, pd.DataFrame):
        return batch
    tbl = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    cols = [c for c in ("track_id", "time", "lon", "lat", "alt_m") if c in tbl.column_names]
    df: pd.DataFrame = tbl.select(cols).to_pandas()
    t = df["time"]
    if isinstance(t.dtype, pd.DatetimeTZDtype):
        df["time"] = t.dt.tz_convert("UTC").dt.as_unit("ns")
    elif pd.api.types.is_datetime64_dtype(t.dtype):
        # Arrow timestamps without a zone: the batch contract is UTC (validated fixes carry it explicitly).
        df["time"] = t.dt.tz_localize("UTC").dt.as_unit("ns")
    return df


def rows_to_arrow(raw: pd.DataFrame | dict[str, np.ndarray]) -> pa.Table:
    """Raw visit rows (the engine's frame, or its columns) as an Arrow table of :data:`VISIT_ROW_SCHEMA`."""
    if len(raw["track_id"]) == 0:
        return VISIT_ROW_SCHEMA.empty_table()
    if isinstance(raw, dict):  # the engine's columns (ids are text already)
        cols = {f.name: raw[f.name] for f in VISIT_ROW_SCHEMA}
    else:
        cols = {f.name: raw[f.name].to_numpy() for f in VISIT_ROW_SCHEMA}
        cols["track_id"] = raw["track_id"].astype(str).to_numpy(dtype=object)
    return pa.table({f.name: pa.array(cols[f.name], type=f.type) for f in VISIT_ROW_SCHEMA},
                    schema=VISIT_ROW_SCHEMA)


def rows_to_frame(rows: pa.Table | pd.DataFrame) -> pd.DataFrame:
    """Arrow visit rows back to the engine's raw frame."""
    if isinstance(rows, pd.DataFrame):
        return rows
    if rows.num_rows == 0:
        return _empty_raw()
    df: pd.DataFrame = rows.to_pandas()
    for c in ("track_id", "entry_kind", "exit_kind"):
        df[c] = df[c].astype(object)
    return df


def transit_batch(batch: pa.RecordBatch | pa.Table | pd.DataFrame, state: TransitState | None,
                  spec: TransitSpec) -> tuple[pa.Table, TransitState]:
    """One kernel step: the visits ``batch`` closes, and the state to hand to the next batch of the stream."""
    eng = spec.engine(state)
    raw = eng.feed_columns(fixes_frame(batch))
    return rows_to_arrow(raw), eng.state


def transit_close(state: TransitState, spec: TransitSpec) -> pa.Table:
    """The visits still open at the end of the stream, closed at each track's last fix (``track_end``)."""
    eng = spec.engine(state)
    return rows_to_arrow(eng.finish_columns())


def visits_table(rows: list[pa.Table] | pa.Table, spec: TransitSpec, *, brackets: bool = False) -> pd.DataFrame:
    """Build the public visit table (:data:`~overflight.analysis.transit.VISIT_COLUMNS`) from raw rows.

    The rows must hold whole tracks; the table is sorted, with durations, path lengths and dispute flags.
    ``brackets`` adds the bracketing fixes of every entry and exit and the crossing time ranges
    (:data:`~overflight.analysis.crossing_times.BRACKET_COLUMNS`), which the kernel found on its way (the same
    as :func:`~overflight.analysis.crossing_times.bracket_visits` over the fixes again).
    """
    tables = rows if isinstance(rows, list) else [rows]
    tables = [t for t in tables if t.num_rows]
    raw = rows_to_frame(pa.concat_tables(tables)) if tables else _empty_raw()
    eng = spec.engine(None)
    out: pd.DataFrame = eng.visits(raw, brackets=brackets)
    return out


def n_tracks(state: TransitState) -> int:
    """Tracks seen by a stream so far."""
    return len(state.last)


def n_fixes(state: TransitState) -> int:
    """Fixes fed to a stream so far."""
    return int(state.n_fixes)

