"""Track ids read from a Parquet dictionary (``categorical_ids``): the same ids, rows, counts and visits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from overflight.analysis.transit_stream import transit_chunks
from overflight.errors import InputError
from overflight.tracks import iter_tracks
from overflight.tracks.table import factorize_sorted


def _file(tmp: Path, ids: list[str | None], lon: list[float] | None = None) -> Path:
    n = len(ids)
    t = pd.Timestamp("2024-06-21T00:00:00Z") + pd.to_timedelta(np.arange(n) * 30, unit="s")
    tbl = pa.table({"track_id": pa.array(ids, pa.string()), "time": pa.array(t),
                    "lon": lon if lon is not None else list(np.linspace(20.0, 26.0, n)),
                    "lat": list(np.linspace(51.0, 53.0, n)), "alt_m": [1000.0] * n})
    p = tmp / "t.parquet"
    pq.write_table(tbl, p, row_group_size=3)
    return p


IDS = ["b", " a", "a ", "", None, "é", "b", "c\t", "a", "b", "\u00a0d", "d", "c"]


def test_same_ids_rows_and_notes(tmp_path: Path) -> None:
    p = _file(tmp_path, IDS)
    plain = iter_tracks(p, core_only=True, chunk_rows=4, sort_chunks=False)
    cat = iter_tracks(p, core_only=True, chunk_rows=4, sort_chunks=False, categorical_ids=True)
    a, b = list(plain), list(cat)
    for x, y in zip(a, b, strict=True):
        assert isinstance(y["track_id"].dtype, pd.CategoricalDtype)
        assert x["track_id"].astype(str).tolist() == y["track_id"].astype(str).tolist()
        cx, ux = factorize_sorted(x["track_id"])
        cy, uy = factorize_sorted(y["track_id"])
        assert cx.tolist() == cy.tolist() and ux.tolist() == uy.tolist()
        pd.testing.assert_frame_equal(x.drop(columns="track_id"), y.drop(columns="track_id"))
    assert plain.report.notes == cat.report.notes and plain.report.counts == cat.report.counts
    assert cat.report.total_rows == cat.report.rows_kept == len(IDS)


def test_same_errors(tmp_path: Path) -> None:
    p = _file(tmp_path, ["a"] * 6, lon=[20.0, 20.1, 20.2, 500.0, 20.4, 20.5])
    with pytest.raises(InputError) as e1:
        list(iter_tracks(p, core_only=True, chunk_rows=4))
    with pytest.raises(InputError) as e2:
        list(iter_tracks(p, core_only=True, chunk_rows=4, categorical_ids=True))
    assert str(e1.value) == str(e2.value) and "row 4" in str(e2.value)


def test_same_visits(tmp_path: Path, ne_admin0: object) -> None:
    # tracks across the Poland/Belarus border, interleaved, ids with and without padding
    ids = [["p", "q ", " r"][k % 3] for k in range(60)]
    p = _file(tmp_path, ids)
    one = transit_chunks(iter_tracks(p, core_only=True, chunk_rows=7, sort_chunks=False), ne_admin0)
    two = transit_chunks(iter_tracks(p, core_only=True, chunk_rows=7, sort_chunks=False, categorical_ids=True),
                         ne_admin0)
    assert len(one.visits) > 0
    pd.testing.assert_frame_equal(one.visits, two.visits)
