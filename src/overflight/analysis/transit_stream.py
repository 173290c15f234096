"""Transit over a stream of track chunks (a big file read piece by piece) in bounded memory.

Each chunk may hold parts of many tracks; a track may continue in later chunks as long as its fixes come in
time order. The engine carries every track's last fix and its open visits across chunk borders, so the
visits are the same as those of :func:`overflight.analysis.transit.transit` on the whole table at once.
Memory is bounded by the chunk size, the number of tracks and the number of visits (not of fixes).
Each chunk goes through the transit kernel (:func:`overflight.analysis.transit_kernel.transit_batch`), the
same function the Dask path runs on its partitions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pandas as pd
import pyarrow as pa

from overflight.analysis.transit import Locator, TransitResult, TransitState, summarize_transit
from overflight.analysis.transit_kernel import TransitSpec, transit_batch, transit_close, visits_table
from overflight.zones import ZoneSetLike, as_zoneset

__all__ = ["transit_chunks"]


def transit_chunks(
    chunks: Iterable[pd.DataFrame],
    zones: ZoneSetLike,
    *,
    max_gap: str | float | int = "10min",
    step_m: float = 5000.0,
    index: Locator | None = None,
    tz: str = "UTC",
    on_chunk: Callable[[int, int], None] | None = None,
    with_summary: bool = True,
    brackets: bool = False,
) -> TransitResult:
    """Transit analysis of track chunks, identical to :func:`~overflight.analysis.transit.transit` on their union.

    Parameters
    ----------
    chunks : iterable of pandas.DataFrame
        Track tables (e.g. :func:`overflight.tracks.iter_tracks`); each track's fixes in time order across
        chunks.
    zones, max_gap, step_m, index, tz
        As for :func:`~overflight.analysis.transit.transit`.
    on_chunk : callable, optional
        Called after each chunk with (rows in the chunk, visits closed so far), e.g. to advance a progress bar.
    with_summary : bool
        False leaves ``summary`` empty (it costs Python work per visit; the CLI skips it without --summary).
    brackets : bool
        True adds to ``visits`` the bracketing fixes and crossing time ranges of
        :func:`~overflight.analysis.crossing_times.bracket_visits`, found in this one pass over the chunks.

    Returns
    -------
    TransitResult
    """
    spec = TransitSpec(as_zoneset(zones), index=index, max_gap=max_gap, step_m=step_m)
    state: TransitState | None = None
    closed: list[pa.Table] = []
    n_closed = 0
    for chunk in chunks:
        rows, state = transit_batch(chunk, state, spec)  # the one kernel (overflight.analysis.transit_kernel)
        if rows.num_rows:
            closed.append(rows)
            n_closed += rows.num_rows
        if on_chunk is not None:
            on_chunk(len(chunk), n_closed)
    state = state if state is not None else TransitState()
    closed.append(transit_close(state, spec))
    visits = visits_table(closed, spec, brackets=brackets)
    summary = summarize_transit(visits if with_summary else visits.iloc[:0], tz=tz)
    return TransitResult(visits=visits, summary=summary, provenance=spec.provenance(state))
