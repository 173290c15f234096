"""Validating in chunks keeps exactly the rows that validating the whole file keeps.

Reference: the whole file validated at once (one chunk), and the rule read by hand: a fix earlier than the
latest earlier fix of its track (in file order) is ``backwards_time``, wherever the chunk borders fall.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from overflight.tracks import iter_tracks, read_tracks

CSV = """track_id,time,lon,lat
a,2025-06-01T10:00:00Z,10.0,50.0
a,2025-06-01T10:05:00Z,10.1,50.0
a,2025-06-01T09:00:00Z,10.2,50.0
a,2025-06-01T09:30:00Z,10.3,50.0
a,2025-06-01T10:10:00Z,10.4,50.0
"""


def _chunked(path: Path, rows: int) -> tuple[pd.DataFrame, dict[str, int]]:
    chunks = iter_tracks(path, on_invalid="drop", chunk_rows=rows)
    frames = list(chunks)
    kept = pd.concat(frames, ignore_index=True).sort_values("time", kind="stable").reset_index(drop=True)
    return kept, dict(chunks.report.counts)


@pytest.mark.parametrize("rows", [1, 2, 3, 5])
def test_a_row_behind_an_earlier_chunks_time_is_backwards_in_every_chunking(tmp_path: Path, rows: int) -> None:
    path = tmp_path / "t.csv"
    path.write_text(CSV)
    kept, counts = _chunked(path, rows)
    # by hand: 09:00 and 09:30 are both earlier than 10:05, the latest earlier fix of track a
    assert kept["time"].dt.strftime("%H:%M").tolist() == ["10:00", "10:05", "10:10"]
    assert counts["backwards_time"] == 2


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ab"), st.integers(0, 40)), min_size=1, max_size=25),
       st.integers(1, 7))
def test_chunked_equals_whole_file(tmp_path_factory: pytest.TempPathFactory, rows_in: list[tuple[str, int]],
                                   chunk: int) -> None:
    path = tmp_path_factory.mktemp("v") / "t.csv"
    lines = ["track_id,time,lon,lat"] + [f"{tid},2025-06-01T10:{m:02d}:00Z,{10 + i / 100:.2f},50.0"
                                         for i, (tid, m) in enumerate(rows_in)]
    path.write_text("\n".join(lines) + "\n")
    whole, whole_rep = read_tracks(path, on_invalid="drop")
    kept, counts = _chunked(path, chunk)
    key = ["track_id", "time", "lon"]
    assert (kept.sort_values(key).reset_index(drop=True)[key]
            .equals(whole.sort_values(key).reset_index(drop=True)[key]))
    assert counts == dict(whole_rep.counts)
    chunked, rep = read_tracks(path, on_invalid="drop", chunk_rows=chunk)
    pd.testing.assert_frame_equal(chunked.reset_index(drop=True), whole.reset_index(drop=True))
    assert dict(rep.counts) == dict(whole_rep.counts)
