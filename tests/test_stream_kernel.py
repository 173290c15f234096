"""The transit kernel on Arrow record batches, with its state carried (and pickled) between calls, gives the
rows of the whole-table transit; a batch that goes back in time is refused."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from overflight.analysis.transit import transit
from overflight.analysis.transit_kernel import VISIT_ROW_SCHEMA, TransitSpec, transit_batch, transit_close, visits_table
from overflight.boundaries import load
from overflight.errors import InputError
from overflight.index import ZoneIndex

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _synth_tracks import synth_tracks


@pytest.fixture(scope="module")
def spec() -> TransitSpec:
    zones = load("ne-admin0")
    return TransitSpec(zones, index=ZoneIndex.cached(zones), max_gap="5min")


def test_batches_with_carried_state_equal_whole(spec: TransitSpec) -> None:
    fixes = synth_tracks(60_000, 80, seed=3)  # time order: every batch holds pieces of many tracks
    whole = transit(fixes, spec.zones, index=spec.index, max_gap="5min").visits
    table = pa.Table.from_pandas(fixes, preserve_index=False)
    state = None
    rows = []
    for batch in table.to_batches(max_chunksize=7_000):
        closed, state = transit_batch(batch, state, spec)
        assert closed.schema == VISIT_ROW_SCHEMA
        rows.append(closed)
        state = pickle.loads(pickle.dumps(state))  # a stream may move to another process between batches
    assert state is not None
    rows.append(transit_close(state, spec))
    got = visits_table(rows, spec)
    assert len(whole) > 300 and sum(r.num_rows for r in rows[:-1]) > 0  # visits close inside the stream too
    cols = [c for c in whole.columns if c != "distance_m"]  # a running sum: rounding differs in the last digits
    pd.testing.assert_frame_equal(whole[cols], got[cols], check_exact=True)
    np.testing.assert_allclose(whole["distance_m"], got["distance_m"], rtol=0, atol=1e-6)
    assert pickle.loads(pickle.dumps(spec)).max_gap_s == 300.0


def test_batch_back_in_time_is_refused(spec: TransitSpec) -> None:
    fixes = synth_tracks(2_000, 2, seed=4)
    t = pa.Table.from_pandas(fixes, preserve_index=False)
    _, state = transit_batch(t.slice(1_000), None, spec)
    with pytest.raises(InputError, match="back in time"):
        transit_batch(t.slice(0, 1_000), state, spec)
