"""The case file: round trips, transactions, locking, crash safety, analysis runs and verify."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overflight.analysis.attribution import run_attribution
from overflight.case import Case, register_analysis
from overflight.case.schema import TABLES
from overflight.errors import InputError, OverflightError
from overflight.evidence.model import Claim, Source
from overflight.zones import load_zones

DATA = Path(__file__).parent / "data" / "case"
FILES = [DATA / "observations.csv", DATA / "ledger.yaml"]


def _tracks(n: int = 50) -> pd.DataFrame:
    t = pd.date_range("2025-06-21T00:00Z", periods=n, freq="1min")
    return pd.DataFrame(
        {
            "track_id": ["t1"] * n,
            "time": t,
            "lon": np.linspace(50, 52, n),
            "lat": np.linspace(50, 51, n),
            "alt_m": np.full(n, 300.0),
            "speed": np.full(n, 51.0),
        }
    )


def build(path: Path | str) -> Case:
    c = Case.create(path, user="tester")
    c.import_files(FILES)
    c.add_zones(load_zones(DATA / "zones.geojson"))
    c.add_tracks(_tracks(), dataset="radar.csv", source_id="radar", illustrative=True)
    run_attribution(
        c,
        target="RANGE",
        region="KAZ-W",
        claim="c-range",
        threshold=0.9,
        cluster_eps_m=20_000,
        references=[{"name": "akh", "lon": 46.18, "lat": 48.28, "min_km": 22, "max_km": 800}],
    )
    return c


def snapshot(c: Case) -> dict[str, list[tuple[object, ...]]]:
    # every row of every table, in a fixed order (repr sorts rows with NULLs too, on either backend)
    return {t: sorted(c.con.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}


def test_build_evaluate_close_reopen_reevaluate_identical(case_at: Callable[[str], Path | str]) -> None:
    p = case_at("case")
    c = build(p)
    first = c.evaluate()
    # Rule 2: one sighting establishes the transit but not the claimed 24–60 (and it is illustrative).
    assert first["c-transit"].verdict == "partly supported" and first["c-transit"].number == 1
    assert first["c-transit"].illustrative and first["c-transit"].rule_version == "2"
    assert first["c-denial"].verdict == "contradicted"
    assert first["c-supply"].verdict == "unverified"
    c.close()
    with Case.open(p) as c2:
        assert c2.verdicts() == first  # stored = derived (verdict, reasoning trail, inputs hash)
        again = c2.evaluate()
        assert again == first
        rep = c2.verify()
        assert rep.ok, rep.lines()
        kinds = {ch.what for ch in rep.checks}
        assert {"stored results", "inputs", "re-run", "verdict", "audit log"} <= kinds


def test_records_round_trip(case_at: Callable[[str], Path | str]) -> None:
    with build(case_at("c")) as c:
        claims = c.claims()
        assert claims["c-denial"].answers == ("c-transit",)
        assert claims["c-transit"].count_min == 24 and claims["c-transit"].where_zones == ("KAZ-W",)
        assert claims["c-supply"].where_geometry is not None and claims["c-supply"].where_geometry.area > 0
        assert str(claims["c-transit"].window_start) == "2025-06-19 00:00:00+00:00"
        assert c.sources()["tg"].reliability == "F"  # missing grade
        obs = {o.id: o for o in c.observations()}
        assert obs["o-2"].precision_m == 500 and obs["o-2"].illustrative
        ev = {e.id: e for e in c.evidence()}
        assert (ev["ev-sight-2"].reliability, ev["ev-sight-2"].credibility) == ("A", 2)  # from source + observation
        zs = c.zones()
        assert zs.ids == ["KAZ-W", "KZ", "RANGE", "RU"]
        assert zs["RU"].geometry.equals(load_zones(DATA / "zones.geojson")["RU"].geometry)
        assert zs.provenance.sha256 == load_zones(DATA / "zones.geojson").provenance.sha256
        tr = c.tracks()
        assert len(tr) == 50 and tr["time"].dt.tz is not None and bool(tr["illustrative"].all())
        assert tr["time"].equals(_tracks()["time"].astype("datetime64[ns, UTC]"))
        assert c.tracks(extras=True)["speed"].tolist() == [51.0] * 50
        run = c.runs()[0]
        assert run.kind == "attribution" and run.zoneset and run.zoneset["name"] == "zones"
        assert run.overflight_version and run.n_rows == 2  # two wreckage points


def test_attribution_evidence_and_run_link(case_at: Callable[[str], Path | str]) -> None:
    with build(case_at("c")) as c:
        run = c.runs()[0]
        res = c.run_results(run.id)
        # both wreckage points lie where the test states KZ and RU overlap
        assert res["zones"].tolist() == ["KAZ-W;KZ;RANGE;RU", "KAZ-W;KZ;RANGE;RU"]
        assert res["disputed"].tolist() == [True, True]
        # 2 of 2 inside: Wilson 95% lower bound 34% < 90% -> inconclusive -> no evidence item
        assert [e for e in c.evidence() if e.kind == "attribution_stat"] == []


def test_verify_catches_tampered_result_changed_input_and_verdict(
        case_at: Callable[[str], Path | str], raw_sql: Callable[[Path | str, list[str]], None]) -> None:
    p = case_at("c")
    c = build(p)
    c.evaluate()
    assert c.verify().ok
    c.close()
    raw_sql(p, ["UPDATE analysis_results SET data = replace(data, 'RANGE', 'ELSEWHERE') WHERE row_no = 1"])
    with Case.open(p) as c:
        rep = c.verify()
        assert not rep.ok
        bad = {(f.what, f.key) for f in rep.failures}
        assert bad == {("stored results", "attribution-1")}
    raw_sql(p, ["UPDATE observations SET lon = 60 WHERE id = 'o-3'",
                "UPDATE verdicts SET verdict = 'supported' WHERE claim_id = 'c-supply'"])
    with Case.open(p) as c:
        rep = c.verify()
        bad = {(f.what, f.key) for f in rep.failures}
        assert ("inputs", "attribution-1") in bad and ("re-run", "attribution-1") in bad
        assert ("verdict", "c-supply") in bad
        rerun = next(f for f in rep.failures if f.what == "re-run")
        assert "row 0 column 'lon'" in rerun.detail


def test_failed_import_leaves_case_unchanged_and_names_the_row(case_at: Callable[[str], Path | str],
                                                               tmp_path: Path) -> None:
    with build(case_at("c")) as c:
        before = snapshot(c)
        with pytest.raises(InputError) as ei:
            c.import_files([DATA / "observations_bad.csv"])
        assert ei.value.row == 4 and ei.value.field == "credibility"
        assert "observations_bad.csv" in str(ei.value)
        # a good file followed by a bad one: nothing of either is stored
        good = tmp_path / "more.yaml"
        good.write_text("sources:\n  - {id: new-src, name: New, reliability: B}\n")
        with pytest.raises(InputError):
            c.import_files([good, DATA / "observations_bad.csv"])
        assert snapshot(c) == before


def test_failing_write_rolls_back(case_at: Callable[[str], Path | str], monkeypatch: pytest.MonkeyPatch) -> None:
    with build(case_at("c")) as c:
        before = snapshot(c)

        def boom(self: Case, entries: object) -> None:
            raise RuntimeError("disk full")

        monkeypatch.setattr(Case, "_audit", boom)
        with pytest.raises(RuntimeError):
            c.add_sources([Source("zz", "Z", reliability="A")])  # rows inserted, then the audit write fails
        with pytest.raises(RuntimeError):
            c.add_tracks(_tracks(10), dataset="radar.csv")  # the delete of the old dataset is undone too
        monkeypatch.undo()
        assert snapshot(c) == before


def test_audit_log_records_who_what_before_after(case_at: Callable[[str], Path | str]) -> None:
    with build(case_at("c")) as c:
        c.add_sources([Source("radar", "Test radar network", kind="sensor", reliability="C")])
        log = c.audit()
        last = log.iloc[-1]
        assert (last["user_name"], last["action"], last["table_name"], last["key"]) == (
            "tester",
            "update",
            "sources",
            "radar",
        )
        assert '"reliability":"A"' in last["before"] and '"reliability":"C"' in last["after"]
        assert log["seq"].tolist() == list(range(1, len(log) + 1))
        assert str(log["at_utc"].dt.tz) == "UTC"
        # re-importing the files puts the file's grade back (one update); a second time changes nothing
        n = len(log)
        counts = c.import_files(FILES)
        assert counts["sources"] == {"inserted": 0, "updated": 1, "unchanged": 4}
        assert len(c.audit()) == n + 1
        c.import_files(FILES)
        assert len(c.audit()) == n + 1


def test_custom_analysis_kind_is_verified_through_the_hook(case_at: Callable[[str], Path | str]) -> None:
    state = {"factor": 1.0}

    def toy(case: Case, params: dict[str, object]) -> pd.DataFrame:
        obs = case.observations_frame(["sighting"])
        return pd.DataFrame({"id": obs["id"], "x": obs["lon"] * state["factor"]})

    register_analysis("toy-test", toy)
    with build(case_at("c")) as c:
        c.record_run("toy-test", {"p": 1}, {}, None, toy(c, {}))
        assert c.verify().ok
        state["factor"] = 2.0  # the analysis now computes something else
        fails = c.verify().failures
        assert [(f.what, f.key) for f in fails] == [("re-run", "toy-test-1")]
        c.record_run("never-registered", {}, {}, None, pd.DataFrame({"a": [1]}))
        assert any("no analysis registered" in f.detail for f in c.verify().failures)


_times = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1),
                      timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=0))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.builds(
    Claim, id=st.text("abcxyz-0123", min_size=1, max_size=8), statement=st.text(min_size=1, max_size=40),
    claimant=st.text(max_size=20), stance=st.sampled_from(["asserts", "denies"]),
    what=st.sampled_from(["transit", "strike", "other"]), where_zones=st.lists(st.sampled_from(["KZ", "RU"]),
                                                                                unique=True).map(tuple),
    where_geometry=st.sampled_from([None, shapely.box(50, 45, 55, 50), shapely.Point(51.5, 51.25)]),
    date_made=st.none() | _times, window_start=st.none() | _times, count_min=st.none() | st.integers(0, 10**6),
    credibility=st.integers(1, 6)), unique_by=lambda c: c.id, max_size=5))
def test_claims_round_trip_through_the_store(tmp_path: Path, claims: list[Claim]) -> None:
    p = tmp_path / f"rt-{len(list(tmp_path.iterdir()))}.duckdb"
    with Case.create(p) as c:
        c.add_claims(claims)
        back = c.claims()
    assert sorted(back) == sorted(x.id for x in claims)
    for x in claims:
        y = back[x.id]
        assert replace(y, where_geometry=None) == replace(x, where_geometry=None)
        assert (y.where_geometry is None) == (x.where_geometry is None)
        if x.where_geometry is not None:
            assert y.where_geometry is not None and y.where_geometry.equals(x.where_geometry)


def test_second_process_gets_a_clear_message(tmp_path: Path) -> None:
    p = tmp_path / "c.duckdb"
    with Case.create(p):
        code = textwrap.dedent(f"""
            from overflight.case import Case
            from overflight.errors import OverflightError
            try:
                Case.open({str(p)!r})
            except OverflightError as exc:
                print(exc)
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert f"case file {p} is open in another process (pid {os.getpid()})" in out.stdout, out.stderr


def test_opening_missing_or_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        Case.open(tmp_path / "nope.duckdb")
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    with pytest.raises(OverflightError, match="not an overflight case"):
        Case.open(other)


def test_killed_process_during_write_leaves_a_case_that_opens_and_verifies(tmp_path: Path) -> None:
    p = tmp_path / "c.duckdb"
    build(p).close()
    batch = 200_000
    code = textwrap.dedent(f"""
        import sys
        import numpy as np, pandas as pd
        from overflight.case import Case
        n = {batch}
        df = pd.DataFrame({{"track_id": np.repeat(np.arange(n // 1000).astype(str), 1000),
                           "time": pd.date_range("2025-06-21", periods=n, freq="s", tz="UTC"),
                           "lon": np.random.default_rng(0).uniform(40, 60, n),
                           "lat": np.random.default_rng(1).uniform(40, 55, n), "alt_m": 100.0}})
        c = Case.open({str(p)!r})
        print("ready", flush=True)
        i = 0
        while True:
            c.add_tracks(df, dataset=f"big-{{i}}")
            print("committed", i, flush=True)
            i += 1
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    assert proc.stdout.readline().startswith("committed")  # one batch in, the next one is being written
    time.sleep(0.3)
    assert proc.poll() is None  # still writing when killed
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    with Case.open(p) as c:
        per_ds = c.con.execute(
            "SELECT dataset, count(*) FROM tracks WHERE dataset LIKE 'big-%' GROUP BY ALL"
        ).fetchall()
        assert per_ds and all(n == batch for _, n in per_ds)  # whole batches or nothing
        imports = c.con.execute("SELECT count(*) FROM audit_log WHERE key LIKE 'big-%'").fetchall()[0][0]
        assert imports == len(per_ds)  # each committed batch has its audit entry, no more
        rep = c.verify()
        assert rep.ok, rep.lines()
