"""Transit over a stream of track chunks (a big file read piece by piece) in bounded memory.

Each chunk may hold parts of many tracks; a track may continue in later chunks as long as its fixes come in
time order. The engine carries every track's last fix and its open visits across chunk borders, so the
visits are the same as those of :func:`overflight.analysis.transit.transit` on the whole table at once.
Memory is bounded by the chunk size, the number of tracks and the number of visits (not of fixes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pandas as pd

from overflight.analysis.transit import (
    Locator,
    TransitEngine,
    TransitResult,
    _empty_raw,
    parse_max_gap,
    summarize,
)
from overflight.zones import ZoneSet

__all__ = ["transit_chunks"]


def transit_chunks(
    chunks: Iterable[pd.DataFrame],
    zones: ZoneSet,
    *,
    max_gap: str | float | int = "10min",
    step_m: float = 5000.0,
    index: Locator | None = None,
    tz: str = "UTC",
    on_chunk: Callable[[int, int], None] | None = None,
    with_summary: bool = True,
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

    Returns
    -------
    TransitResult
    """
    eng = TransitEngine(zones, max_gap_s=parse_max_gap(max_gap), step_m=step_m, index=index)
    closed: list[pd.DataFrame] = []
    n_closed = 0
    for chunk in chunks:
        raw = eng.feed(chunk)
        if len(raw):
            closed.append(raw)
            n_closed += len(raw)
        if on_chunk is not None:
            on_chunk(len(chunk), n_closed)
    tail = eng.finish()
    if len(tail):
        closed.append(tail)
    raw_all = pd.concat(closed, ignore_index=True) if closed else _empty_raw()
    visits = eng.visits(raw_all)
    summary = summarize(visits if with_summary else visits.iloc[:0], tz=tz)
    return TransitResult(visits=visits, summary=summary, provenance=eng.provenance())
