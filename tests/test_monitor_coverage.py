"""Coverage: a claim of absence is supported where and when the monitor listened and saw nothing, stays
unverified over a gap, and is contradicted by an alert."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely

from _monitor_support import LineServer, sbs_line, wait_until
from overflight.case import Case
from overflight.evidence.model import Claim
from overflight.monitor.coverage import CellCoverage, CoverageRecorder, FeedLiveness, _union_covers, check_coverage
from overflight.monitor.runner import Monitor, MonitorConfig
from overflight.zones import Provenance, Zone, ZoneSet

ZONE = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"id": "Z"}, "geometry": {
    "type": "Polygon", "coordinates": [[[5.0, 52.0], [5.2, 52.0], [5.2, 52.2], [5.0, 52.2], [5.0, 52.0]]]}}]}


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


@pytest.mark.parametrize("stall_s", [0.0, 6.0])
def test_absence_claims_against_the_monitors_record(tmp_path: Path, stall_s: float) -> None:
    """``stall_s``: the engine's first batch takes that long (as a kernel compiling on a first run did, which
    once left the first buckets empty): the record must not depend on it."""
    (tmp_path / "z.geojson").write_text(json.dumps(ZONE))
    case = tmp_path / "case.duckdb"
    srv = LineServer()
    mon = Monitor(MonitorConfig(zones=str(tmp_path / "z.geojson"), feeds=[f"sbs://127.0.0.1:{srv.port}?name=rx"],
                                case=case, hysteresis_s=0.0, gap_s=1.5, bucket_s=0.5, coverage_every_s=0.5,
                                recent_s=3.0, cell_deg=0.25))
    if stall_s:
        handle = mon._handle
        stalled: list[bool] = []

        def slow_first(items: list[Any]) -> None:
            if not stalled:
                stalled.append(True)
                time.sleep(stall_s)
            handle(items)

        mon._handle = slow_first  # type: ignore[method-assign]
    th = threading.Thread(target=mon.run, kwargs={"install_signals": False}, daemon=True)
    th.start()

    def fly(seconds: float, hexid: str, lat: float, lon0: float, dlon: float) -> tuple[float, float]:
        t_start = time.time()
        i = 0
        while time.time() - t_start < seconds:
            t = time.time()
            srv.send(sbs_line(hexid, t, lat, lon0 + dlon * i))
            i += 1
            time.sleep(0.1)
        return t_start, time.time()

    try:
        wait_until(lambda: srv.clients)
        # near the zone (same 0.25 deg cell row, 2 km north of it), never inside
        a0, a1 = fly(4.0, "aaaaaa", 52.22, 5.05, 0.0002)
        time.sleep(4.0)  # the feed stays connected but delivers nothing: a gap
        b0, _b1 = fly(3.0, "aaaaaa", 52.22, 5.09, 0.0002)
        _c0, c1 = fly(1.5, "bbbbbb", 52.19, 5.10, 0.0)  # inside the zone: an alert (track start)
        wait_until(lambda: mon.alerts >= 1)
        time.sleep(0.6)
    finally:
        mon.stop()
        th.join(20)
        srv.close()
    claims = [
        Claim("quiet", "no aircraft entered Z", stance="denies", what="transit", where_zones=("Z",),
              window_start=_dt(a0 + 1.0), window_end=_dt(a1 - 0.3)),
        Claim("over-gap", "no aircraft entered Z", stance="denies", what="transit", where_zones=("Z",),
              window_start=_dt(a1 - 1.0), window_end=_dt(b0 + 1.0)),
        Claim("busy", "nothing flew into Z", stance="asserts", count_max=0, what="transit", where_zones=("Z",),
              window_start=_dt(b0 + 0.5), window_end=_dt(c1)),
    ]
    with Case.open(case) as c:
        c.add_claims(claims)
        run_id, rows = check_coverage(c)
        verdicts = c.evaluate()
        assert {k: v.verdict for k, v in verdicts.items()} == {"quiet": "supported", "over-gap": "unverified",
                                                                "busy": "contradicted"}
        st = dict(zip(rows["claim_id"], rows["status"], strict=True))
        assert st == {"quiet": "covered", "over-gap": "gap", "busy": "alert"}
        gap = rows.set_index("claim_id").loc["over-gap"]
        assert 1.5 <= gap["unlistened_s"] <= 4.5
        ev = {e.id: e for e in c.evidence()}
        assert ev["coverage-quiet"].kind == "coverage" and ev["coverage-quiet"].direction == "supports"
        assert ev["coverage-quiet"].source_id == "monitor-rx" and str(ev["coverage-quiet"].grade) == "B2"
        assert not any(e.claim_id == "over-gap" for e in ev.values())
        assert c.verify().ok, c.verify().lines()
        assert "coverage" in " ".join(verdicts["quiet"].reasoning)
        # the claim's window is widened over the gap: the earlier coverage item stops counting
        c.add_claims([Claim("quiet", "no aircraft entered Z", stance="denies", what="transit", where_zones=("Z",),
                            window_start=_dt(a0 + 1.0), window_end=_dt(b0 + 1.0))])
        check_coverage(c)
        assert c.evaluate()["quiet"].verdict == "unverified"
        # verify says the first check was made on a claim that has changed since; nothing else differs
        assert {(f.what, f.key) for f in c.verify().failures} == {("re-run", run_id)}


def test_union_cover_and_cells() -> None:
    ts = pd.Timestamp
    iv = [(ts("2026-01-01T00:00:00Z"), ts("2026-01-01T00:10:00Z")),
          (ts("2026-01-01T00:09:00Z"), ts("2026-01-01T00:20:00Z")),
          (ts("2026-01-01T00:25:00Z"), ts("2026-01-01T00:30:00Z"))]
    assert _union_covers(iv, ts("2026-01-01T00:01:00Z"), ts("2026-01-01T00:19:00Z")) == (True, 0.0)
    ok, hole = _union_covers(iv, ts("2026-01-01T00:15:00Z"), ts("2026-01-01T00:28:00Z"))
    assert not ok and hole == 300.0
    zs = ZoneSet([Zone("Z", "Z", "user", shapely.box(5.0, 52.0, 5.2, 52.2))], Provenance("t", "1", "", "", ""))
    cells = CellCoverage(zs, cell_deg=0.25, recent_s=10.0)
    assert cells.seen(0.0) == [(0, 1)]  # one cell: [5, 5.25) x [52, 52.25)
    cells.update(np.array([5.1, 4.9]), np.array([52.22, 52.1]), np.array([100.0, 100.0]))  # in it, and west of it
    assert cells.seen(105.0) == [(1, 1)] and cells.seen(111.0) == [(0, 1)]
    big = CellCoverage(ZoneSet([Zone("R", "R", "user", shapely.Point(10, 50).buffer(1.0))],
                               Provenance("t", "1", "", "", "")), cell_deg=0.25)
    # cells of a disc of radius 1 deg: between the inscribed and the circumscribed count
    assert np.pi * 4 ** 2 < big.zone_cells[0].size < (2 * 4 + 2) ** 2


def test_feed_liveness_gaps() -> None:
    f = FeedLiveness("x", gap_s=2.0)
    f.connect(0.0)
    for t in (0.0, 1.0, 2.5, 3.0):
        f.note(t, 1)
    f.note(10.0, 1)  # 7 s of silence: a gap
    f.disconnect(11.0)
    f.connect(15.0)
    f.note(15.0, 1)
    iv, gaps = f.snapshot(15.5)
    assert iv == [(0.0, 3.0), (10.0, 10.0), (15.0, 15.0)]  # never beyond the last delivery
    assert gaps == [(3.0, 10.0, "silent"), (10.0, 15.0, "disconnected")]


def _buckets(rec: CoverageRecorder) -> list[tuple[float, float, int]]:
    rows = rec.take(rec._bucket_start or 0.0)
    z = rows[rows["record"] == "zone"]
    return [(s.timestamp(), e.timestamp(), int(n)) for s, e, n in zip(z["start"], z["end"], z["cells_seen"],
                                                                      strict=True)]


def test_buckets_are_judged_by_receipt_time_not_by_when_the_engine_gets_to_them() -> None:
    zs = ZoneSet([Zone("Z", "Z", "user", shapely.box(5.0, 52.0, 5.5, 52.2))], Provenance("t", "1", "", "", ""))
    # positions in two cells of Z, received at t = 100.2 (cell A) and 101.7 (cell B); buckets of 1 s from 100;
    # recent_s = 1: a bucket counts the cells seen in the second before its end
    lon, lat, recv = np.array([5.1, 5.3]), np.array([52.1, 52.1]), np.array([100.2, 101.7])
    prompt = CoverageRecorder([], CellCoverage(zs, cell_deg=0.25, recent_s=1.0), bucket_s=1.0)
    prompt.tick(100.0)
    for i in range(2):  # an engine keeping up: each position handled as it comes, ticks in between
        prompt.observe(lon[i:i + 1], lat[i:i + 1], recv[i:i + 1])
        prompt.tick(recv[i] + 0.05)
    prompt.tick(103.0)
    late = CoverageRecorder([], CellCoverage(zs, cell_deg=0.25, recent_s=1.0), bucket_s=1.0)
    late.tick(100.0)
    late.observe(lon, lat, recv)  # both handled together, after a stall
    late.tick(103.0)
    # by hand: [100, 101) saw A; [101, 102) saw B only (A is more than 1 s before 102); [102, 103) neither
    expected = [(100.0, 101.0, 1), (101.0, 102.0, 1), (102.0, 103.0, 0)]
    assert _buckets(prompt) == expected
    assert _buckets(late) == expected
