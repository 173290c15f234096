"""Tampering with a case file behind overflight's back: `case verify` catches each, or it is documented.

Each tamper is a direct SQL edit of the DuckDB file (what anyone with the file and the duckdb CLI can do),
tried twice: as is, and followed by a re-run of `case evaluate` (which may refuse to write to a damaged file:
that refusal is a catch too). Every table, every column class (identity = the key, content, hash, order),
insert / update / delete. The one attack out of reach of a self-contained file — rewriting the log and
recomputing every hash — is shown to pass `verify` and to be caught by `verify --expect` with a head kept
outside the file (README, "What `case verify` guarantees").
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from overflight.analysis.attribution import run_attribution
from overflight.case import Case
from overflight.case.audit import chain
from overflight.case.runs import VerifyReport
from overflight.errors import InputError, OverflightError
from test_case_store import build

LEGACY = Path(__file__).parent / "data" / "case" / "legacy_v1"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A verified case: records, zones, tracks, two attribution runs (one produced evidence), verdicts."""
    p = tmp_path_factory.mktemp("tamper") / "base.duckdb"
    c = build(p)
    run_attribution(c, target="RANGE", region="KAZ-W", claim="c-range", threshold=0.3, cluster_eps_m=20_000)
    c.evaluate()
    assert c.verify().ok
    c.close()
    return p


@dataclass(frozen=True)
class Tamper:
    name: str
    table: str
    cls: str  # identity, content, hash, order
    op: str  # insert, update, delete
    sql: tuple[str, ...]
    caught_by: tuple[str, ...]  # verify check names, any of which must fail


T = Tamper
TAMPERS: list[Tamper] = [
    # meta
    T("meta-version", "meta", "content", "update",
      ("UPDATE meta SET value = '0.0.1' WHERE key = 'overflight_version'",), ("table meta",)),
    T("meta-schema-1", "meta", "content", "update", ("UPDATE meta SET value = '1' WHERE key = 'schema_version'",),
      ("schema", "table meta")),
    T("meta-schema-99", "meta", "content", "update", ("UPDATE meta SET value = '99' WHERE key = 'schema_version'",),
      ("open",)),
    T("meta-created-by", "meta", "content", "update", ("UPDATE meta SET value = 'someone' WHERE key = 'created_by'",),
      ("table meta",)),
    T("meta-key", "meta", "identity", "update", ("UPDATE meta SET key = 'creator' WHERE key = 'created_by'",),
      ("table meta",)),
    T("meta-insert", "meta", "content", "insert", ("INSERT INTO meta VALUES ('reviewed', 'yes')",), ("table meta",)),
    T("meta-delete", "meta", "content", "delete", ("DELETE FROM meta WHERE key = 'created'",), ("table meta",)),
    T("meta-head-edit", "meta", "hash", "update",
      (f"UPDATE meta SET value = '5:{'ab' * 32}' WHERE key = 'audit_head'",), ("audit head",)),
    T("meta-head-delete", "meta", "hash", "delete", ("DELETE FROM meta WHERE key = 'audit_head'",), ("audit head",)),
    # sources
    T("source-grade", "sources", "content", "update", ("UPDATE sources SET reliability = 'A' WHERE id = 'locals'",),
      ("table sources",)),
    T("source-id", "sources", "identity", "update", ("UPDATE sources SET id = 'neighbours' WHERE id = 'locals'",),
      ("table sources",)),
    T("source-insert", "sources", "content", "insert",
      ("INSERT INTO sources VALUES ('x', 'X', 'own', NULL, 'A', '')",), ("table sources",)),
    T("source-delete", "sources", "content", "delete", ("DELETE FROM sources WHERE id = 'tg'",), ("table sources",)),
    # claims
    T("claim-statement", "claims", "content", "update",
      ("UPDATE claims SET statement = 'Three UAVs crossed.' WHERE id = 'c-transit'",), ("table claims", "verdict")),
    T("claim-zones", "claims", "content", "update",
      ("UPDATE claims SET where_zones = '[\"KZ\"]' WHERE id = 'c-transit'",), ("table claims", "verdict")),
    T("claim-window", "claims", "content", "update",
      ("UPDATE claims SET window_end = window_end + INTERVAL 30 DAY WHERE id = 'c-transit'",),
      ("table claims", "verdict")),
    T("claim-count", "claims", "content", "update", ("UPDATE claims SET count_min = 1 WHERE id = 'c-transit'",),
      ("table claims", "verdict")),
    T("claim-stance", "claims", "content", "update", ("UPDATE claims SET stance = 'asserts' WHERE id = 'c-denial'",),
      ("table claims", "verdict")),
    T("claim-area", "claims", "hash", "update",
      ("UPDATE claims SET where_wkb = (SELECT geometry FROM zones WHERE id = 'RU') WHERE id = 'c-supply'",),
      ("table claims", "verdict")),
    T("claim-id", "claims", "identity", "update", ("UPDATE claims SET id = 'c-supply-2' WHERE id = 'c-supply'",),
      ("table claims", "verdict")),
    T("claim-insert", "claims", "content", "insert",
      ("INSERT INTO claims SELECT 'c-new', statement, claimant, claimant_type, source_id, date_made, stance, what, "
       "where_zones, where_wkb, window_start, window_end, count_min, count_max, '[]', credibility, url, notes "
       "FROM claims WHERE id = 'c-transit'",), ("table claims",)),
    T("claim-delete", "claims", "content", "delete", ("DELETE FROM claims WHERE id = 'c-supply'",),
      ("table claims", "verdict")),
    # observations
    T("obs-position", "observations", "content", "update", ("UPDATE observations SET lon = 60 WHERE id = 'o-3'",),
      ("table observations", "re-run")),
    T("obs-description", "observations", "content", "update",
      ("UPDATE observations SET description = 'seen nothing' WHERE id = 'o-1'",), ("table observations",)),
    T("obs-id", "observations", "identity", "update", ("UPDATE observations SET id = 'o-9' WHERE id = 'o-4'",),
      ("table observations",)),
    T("obs-insert", "observations", "content", "insert",
      ("INSERT INTO observations SELECT 'o-5', kind, source_id, lon + 0.1, lat, time_start, time_end, precision_m, "
       "area, credibility, illustrative, description, count, properties FROM observations WHERE id = 'o-3'",),
      ("table observations",)),
    T("obs-delete", "observations", "content", "delete", ("DELETE FROM observations WHERE id = 'o-3'",),
      ("table observations",)),
    # tracks (bulk: row count and content hash per dataset)
    T("track-position", "tracks", "content", "update",
      ("UPDATE tracks SET lon = lon + 1 WHERE time = TIMESTAMPTZ '2025-06-21 00:10:00+00'",), ("table tracks",)),
    T("track-order", "tracks", "order", "update",
      ("UPDATE tracks SET time = CASE WHEN time = TIMESTAMPTZ '2025-06-21 00:10:00+00' "
       "THEN TIMESTAMPTZ '2025-06-21 00:11:00+00' ELSE TIMESTAMPTZ '2025-06-21 00:10:00+00' END "
       "WHERE time IN (TIMESTAMPTZ '2025-06-21 00:10:00+00', TIMESTAMPTZ '2025-06-21 00:11:00+00')",),
      ("table tracks",)),
    T("track-id", "tracks", "identity", "update",
      ("UPDATE tracks SET track_id = 't2' WHERE time > TIMESTAMPTZ '2025-06-21 00:30:00+00'",), ("table tracks",)),
    T("track-dataset", "tracks", "identity", "update", ("UPDATE tracks SET dataset = 'other.csv'",),
      ("table tracks",)),
    T("track-insert", "tracks", "content", "insert",
      ("INSERT INTO tracks SELECT dataset, track_id, time + INTERVAL 1 HOUR, lon, lat, alt_m, source_id, "
       "illustrative, extras FROM tracks WHERE time = TIMESTAMPTZ '2025-06-21 00:49:00+00'",), ("table tracks",)),
    T("track-delete", "tracks", "content", "delete",
      ("DELETE FROM tracks WHERE time = TIMESTAMPTZ '2025-06-21 00:10:00+00'",), ("table tracks",)),
    T("track-delete-all", "tracks", "content", "delete", ("DELETE FROM tracks",), ("table tracks",)),
    # zones
    T("zone-geometry", "zones", "content", "update",
      ("UPDATE zones SET geometry = (SELECT geometry FROM zones WHERE id = 'KZ') WHERE id = 'RANGE'",),
      ("table zones", "re-run")),
    T("zone-name", "zones", "content", "update", ("UPDATE zones SET name = 'Nowhere' WHERE id = 'RU'",),
      ("table zones",)),
    T("zone-set-hash", "zones", "hash", "update", (f"UPDATE zones SET set_sha256 = '{'0' * 64}'",), ("table zones",)),
    T("zone-id", "zones", "identity", "update", ("UPDATE zones SET id = 'RANGE2' WHERE id = 'RANGE'",),
      ("table zones", "re-run")),
    T("zone-insert", "zones", "content", "insert",
      ("INSERT INTO zones SELECT 'KZ2', name, kind, geometry, floor_m, ceiling_m, valid_from, valid_to, properties, "
       "set_name, set_version, set_licence, set_source, set_sha256, set_kind, set_point_of_view, set_notes "
       "FROM zones WHERE id = 'KZ'",), ("table zones",)),
    T("zone-delete", "zones", "content", "delete", ("DELETE FROM zones WHERE id = 'RU'",), ("table zones", "re-run")),
    # analysis runs
    T("run-params", "analysis_runs", "content", "update",
      ("UPDATE analysis_runs SET parameters = replace(parameters, '0.3', '0.1') WHERE id = 'attribution-2'",),
      ("table analysis_runs",)),
    T("run-result-hash", "analysis_runs", "hash", "update",
      (f"UPDATE analysis_runs SET result_hash = '{'1' * 64}' WHERE id = 'attribution-1'",),
      ("table analysis_runs", "stored results")),
    T("run-n-rows", "analysis_runs", "content", "update", ("UPDATE analysis_runs SET n_rows = 1",),
      ("table analysis_runs",)),
    T("run-id", "analysis_runs", "identity", "update",
      ("UPDATE analysis_runs SET id = 'attribution-7' WHERE id = 'attribution-2'",
       "UPDATE analysis_results SET run_id = 'attribution-7' WHERE run_id = 'attribution-2'",
       "UPDATE evidence SET run_id = 'attribution-7' WHERE run_id = 'attribution-2'"),
      ("table analysis_runs", "table evidence")),
    T("run-delete", "analysis_runs", "content", "delete", ("DELETE FROM analysis_runs WHERE id = 'attribution-2'",),
      ("table analysis_runs", "evidence")),
    T("run-delete-whole", "analysis_runs", "content", "delete",
      ("DELETE FROM analysis_runs WHERE id = 'attribution-2'",
       "DELETE FROM analysis_results WHERE run_id = 'attribution-2'",
       "DELETE FROM evidence WHERE run_id = 'attribution-2'"), ("table analysis_runs", "table evidence")),
    T("run-insert", "analysis_runs", "content", "insert",
      ("INSERT INTO analysis_runs SELECT 'attribution-9', kind, parameters, inputs, zoneset, boundary_set, "
       "boundary_version, overflight_version, started, finished, result_columns, result_hash, n_rows, user_name "
       "FROM analysis_runs WHERE id = 'attribution-1'",
       "INSERT INTO analysis_results SELECT 'attribution-9', row_no, data FROM analysis_results "
       "WHERE run_id = 'attribution-1'"), ("table analysis_runs",)),
    # analysis results
    T("result-data", "analysis_results", "content", "update",
      ("UPDATE analysis_results SET data = replace(data, 'RANGE', 'ELSEWHERE') WHERE row_no = 1",),
      ("stored results",)),
    T("result-data-and-hash", "analysis_results", "hash", "update",
      ("UPDATE analysis_results SET data = replace(data, 'RANGE', 'ELSEWHERE') WHERE run_id = 'attribution-1'",
       "UPDATE analysis_runs SET result_hash = 'RECOMPUTE' WHERE id = 'attribution-1'"),
      ("table analysis_runs", "re-run")),
    T("result-order", "analysis_results", "order", "update",
      ("UPDATE analysis_results SET row_no = 1 - row_no WHERE run_id = 'attribution-1'",), ("stored results",)),
    T("result-run-id", "analysis_results", "identity", "update",
      ("UPDATE analysis_results SET run_id = 'attribution-5' WHERE run_id = 'attribution-1' AND row_no = 1",),
      ("table analysis_results", "stored results")),
    T("result-insert", "analysis_results", "content", "insert",
      ("INSERT INTO analysis_results SELECT run_id, 2, data FROM analysis_results "
       "WHERE run_id = 'attribution-1' AND row_no = 1",), ("table analysis_results", "stored results")),
    T("result-delete", "analysis_results", "content", "delete",
      ("DELETE FROM analysis_results WHERE row_no = 1",), ("table analysis_results", "stored results")),
    # evidence
    T("evidence-flip-run", "evidence", "content", "update",
      ("UPDATE evidence SET direction = 'contradicts' WHERE id = 'attr-c-range-RANGE'",), ("table evidence",)),
    T("evidence-reasoning", "evidence", "content", "update",
      ("UPDATE evidence SET reasoning = 'trust me' WHERE id = 'ev-sight-1'",), ("table evidence", "verdict")),
    T("evidence-grade", "evidence", "content", "update",
      ("UPDATE evidence SET reliability = 'A', credibility = 1 WHERE id = 'attr-c-range-RANGE'",),
      ("table evidence", "verdict")),
    T("evidence-id", "evidence", "identity", "update",
      ("UPDATE evidence SET id = 'ev-x' WHERE id = 'ev-sight-2'",), ("table evidence", "verdict")),
    T("evidence-run-link", "evidence", "hash", "update",
      ("UPDATE evidence SET run_id = 'attribution-1' WHERE id = 'attr-c-range-RANGE'",),
      ("table evidence", "verdict")),
    T("evidence-row-link", "evidence", "hash", "update",
      ("UPDATE evidence SET result_row = 5 WHERE id = 'attr-c-range-RANGE'",), ("table evidence", "evidence")),
    T("evidence-delete-run", "evidence", "content", "delete",
      ("DELETE FROM evidence WHERE id = 'attr-c-range-RANGE'",), ("table evidence", "verdict")),
    T("evidence-ghost-run", "evidence", "content", "insert",
      ("INSERT INTO evidence VALUES ('ev-ghost', 'c-supply', 'transit', 'supports', 'a transit run says so', 'A', 1, "
       "NULL, 'transit-9', 0, NULL)",), ("table evidence", "evidence")),
    # verdicts
    T("verdict-flip", "verdicts", "content", "update",
      ("UPDATE verdicts SET verdict = 'supported' WHERE claim_id = 'c-supply'",), ("table verdicts", "verdict")),
    T("verdict-reasoning", "verdicts", "content", "update",
      ("UPDATE verdicts SET reasoning = '[\"=> supported\"]' WHERE claim_id = 'c-supply'",), ("table verdicts",)),
    T("verdict-rule", "verdicts", "content", "update", ("UPDATE verdicts SET rule_version = '0'",),
      ("table verdicts",)),
    T("verdict-hash", "verdicts", "hash", "update",
      (f"UPDATE verdicts SET inputs_hash = '{'2' * 64}' WHERE claim_id = 'c-transit'",),
      ("table verdicts", "verdict")),
    T("verdict-id", "verdicts", "identity", "update",
      ("UPDATE verdicts SET claim_id = 'c-other' WHERE claim_id = 'c-supply'",), ("table verdicts", "verdict")),
    T("verdict-insert", "verdicts", "content", "insert",
      ("INSERT INTO verdicts SELECT 'c-ghost', 'supported', reasoning, inputs_hash, rule_version, evaluated_at, "
       "overflight_version FROM verdicts WHERE claim_id = 'c-transit'",), ("table verdicts", "verdict")),
    T("verdict-delete", "verdicts", "content", "delete", ("DELETE FROM verdicts WHERE claim_id = 'c-denial'",),
      ("table verdicts",)),
    # audit log
    T("audit-after", "audit_log", "content", "update",
      ("UPDATE audit_log SET after = replace(after, 'Dozens', 'Three') WHERE table_name = 'claims' "
       "AND key = 'c-transit'",), ("audit chain",)),
    T("audit-user", "audit_log", "content", "update", ("UPDATE audit_log SET user_name = 'mallory' WHERE seq = 7",),
      ("audit chain",)),
    T("audit-hash", "audit_log", "hash", "update", (f"UPDATE audit_log SET hash = '{'3' * 64}' WHERE seq = 12",),
      ("audit chain",)),
    T("audit-delete-middle", "audit_log", "content", "delete", ("DELETE FROM audit_log WHERE seq = 12",),
      ("audit log", "audit chain")),
    T("audit-delete-last", "audit_log", "content", "delete",
      ("DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)",), ("audit head",)),
    T("audit-empty", "audit_log", "content", "delete", ("DELETE FROM audit_log",), ("audit head", "table claims")),
    T("audit-renumber", "audit_log", "identity", "update", ("UPDATE audit_log SET seq = seq + 1 WHERE seq >= 10",),
      ("audit log", "audit chain")),
    T("audit-swap", "audit_log", "order", "update",
      ("UPDATE audit_log SET seq = CASE seq WHEN 7 THEN 8 ELSE 7 END WHERE seq IN (7, 8)",), ("audit chain",)),
    T("audit-insert", "audit_log", "content", "insert",
      ("INSERT INTO audit_log SELECT seq + 1000, at_utc, user_name, action, table_name, key, before, after, hash "
       "FROM audit_log WHERE seq = 12",), ("audit log", "audit chain")),
    T("audit-drop-chain", "audit_log", "hash", "update", ("ALTER TABLE audit_log DROP COLUMN hash",), ("schema",)),
    # values that no longer decode
    T("claim-zones-garbage", "claims", "content", "update",
      ("UPDATE claims SET where_zones = '[\"KAZ-W\"' WHERE id = 'c-transit'",), ("table claims",)),
    T("run-params-garbage", "analysis_runs", "content", "update",
      ("UPDATE analysis_runs SET parameters = '{' WHERE id = 'attribution-1'",), ("table analysis_runs",)),
    T("verdict-reasoning-garbage", "verdicts", "content", "update",
      ("UPDATE verdicts SET reasoning = 'x' WHERE claim_id = 'c-transit'",), ("table verdicts",)),
    T("zone-geometry-garbage", "zones", "content", "update",
      ("UPDATE zones SET geometry = '\\x01\\x02'::BLOB WHERE id = 'RU'",), ("table zones",)),
    T("obs-properties-garbage", "observations", "content", "update",
      ("UPDATE observations SET properties = '{{' WHERE id = 'o-1'",), ("table observations",)),
    # the tables themselves
    T("drop-table", "verdicts", "identity", "delete", ("DROP TABLE verdicts",), ("open",)),
    T("drop-column", "claims", "content", "delete", ("ALTER TABLE claims DROP COLUMN count_min",), ("open",)),
    T("add-column", "evidence", "content", "insert", ("ALTER TABLE evidence ADD COLUMN weight DOUBLE DEFAULT 9",),
      ("schema",)),
]


def _apply(path: Path, sql: tuple[str, ...]) -> None:
    con = duckdb.connect(str(path))
    try:
        for stmt in sql:
            if "'RECOMPUTE'" in stmt:  # recompute the run's hash over the edited rows, as a careful forger would
                from overflight.case.runs import hash_rows

                cols = json.loads(con.execute("SELECT result_columns FROM analysis_runs "
                                              "WHERE id = 'attribution-1'").fetchall()[0][0])
                rows = [json.loads(d) for (d,) in con.execute("SELECT data FROM analysis_results "
                                                              "WHERE run_id = 'attribution-1' ORDER BY row_no")
                        .fetchall()]
                stmt = stmt.replace("RECOMPUTE", hash_rows(cols, rows))
            con.execute(stmt)
    finally:
        con.close()


def _verify(path: Path, *, expect: str | None = None) -> VerifyReport | None:
    """The verify report, or None when the file no longer opens (a clear OverflightError: caught too)."""
    try:
        with Case.open(path, read_only=True) as c:
            return c.verify(expect=expect)
    except OverflightError:
        return None


def _evaluate(path: Path) -> bool:
    """Re-run `case evaluate`; False when the store refuses to write to the damaged file."""
    try:
        with Case.open(path) as c:
            c.evaluate()
        return True
    except OverflightError:
        return False


@pytest.mark.parametrize("evaluate", [False, True], ids=["as-is", "then-evaluate"])
@pytest.mark.parametrize("tamper", TAMPERS, ids=[t.name for t in TAMPERS])
def test_verify_catches_tampering(base: Path, tmp_path: Path, tamper: Tamper, evaluate: bool) -> None:
    p = tmp_path / "case.duckdb"
    shutil.copy(base, p)
    _apply(p, tamper.sql)
    if evaluate:
        _evaluate(p)
    rep = _verify(p)
    if rep is None:
        assert "open" in tamper.caught_by or evaluate
        return
    assert not rep.ok, f"{tamper.name}: verify passed\n" + "\n".join(rep.lines())
    failed = {f.what for f in rep.failures}
    assert failed & set(tamper.caught_by), (tamper.name, failed)


def test_table_and_class_coverage() -> None:
    from overflight.case.schema import TABLES

    assert {t.table for t in TAMPERS} == set(TABLES)
    for table in TABLES:
        ops = {t.op for t in TAMPERS if t.table == table}
        assert ops == {"insert", "update", "delete"}, table
    assert {t.cls for t in TAMPERS} == {"identity", "content", "hash", "order"}


def test_untouched_copy_verifies_and_physical_row_order_is_not_a_change(base: Path, tmp_path: Path) -> None:
    p = tmp_path / "case.duckdb"
    shutil.copy(base, p)
    # Rewriting keyed tables in another physical order changes nothing a reader sees: no alarm.
    _apply(p, ("CREATE TABLE _c AS SELECT * FROM claims ORDER BY id DESC", "DELETE FROM claims",
               "INSERT INTO claims SELECT * FROM _c", "DROP TABLE _c",
               "CREATE TABLE _t AS SELECT * FROM tracks ORDER BY time DESC", "DELETE FROM tracks",
               "INSERT INTO tracks SELECT * FROM _t", "DROP TABLE _t"))
    rep = _verify(p)
    assert rep is not None and rep.ok, rep.lines() if rep else None


def test_writes_refuse_a_truncated_log(base: Path, tmp_path: Path) -> None:
    p = tmp_path / "case.duckdb"
    shutil.copy(base, p)
    _apply(p, ("DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)",))
    with Case.open(p) as c, pytest.raises(OverflightError, match="does not end at the head"):
        c.add_sources([c.sources()["tg"].__class__(id="new", name="New", kind="own")])
    rep = _verify(p)
    assert rep is not None and any(f.what == "audit head" for f in rep.failures)


def _rewrite_history(path: Path) -> None:
    """The attack out of reach: edit a claim, its audit record, then recompute every hash and the head."""
    con = duckdb.connect(str(path))
    try:
        con.execute("UPDATE claims SET statement = replace(statement, 'Dozens of UAVs', 'Three UAVs') "
                    "WHERE id = 'c-transit'")
        con.execute("UPDATE audit_log SET after = replace(after, 'Dozens of UAVs', 'Three UAVs') "
                    "WHERE table_name = 'claims' AND key = 'c-transit'")
        cols = [d[0] for d in con.execute("SELECT * FROM audit_log LIMIT 0").description]
        rows = [dict(zip(cols, r, strict=True)) for r in con.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()]
        for r, h in zip(rows, chain(rows), strict=True):
            con.execute("UPDATE audit_log SET hash = ? WHERE seq = ?", [h, r["seq"]])
        con.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'", [f"{rows[-1]['seq']}:{chain(rows)[-1]}"])
    finally:
        con.close()


def test_full_rewrite_passes_verify_but_not_an_anchored_head(base: Path, tmp_path: Path) -> None:
    p = tmp_path / "case.duckdb"
    shutil.copy(base, p)
    rep0 = _verify(p)
    assert rep0 is not None and rep0.head
    anchor = rep0.head
    _rewrite_history(p)
    assert _evaluate(p)  # the forger re-derives the verdicts through overflight: a clean, chained write
    rep = _verify(p)
    assert rep is not None and rep.ok, rep.lines()  # documented: out of reach of the file alone
    anchored = _verify(p, expect=anchor)
    assert anchored is not None and not anchored.ok
    assert [f.what for f in anchored.failures] == ["anchored head"]
    # the bare hash works as well as <seq>:<hash>
    assert not (_verify(p, expect=anchor.split(":")[1]) or VerifyReport()).ok


def test_anchor_survives_later_legitimate_writes(base: Path, tmp_path: Path) -> None:
    p = tmp_path / "case.duckdb"
    shutil.copy(base, p)
    rep0 = _verify(p)
    assert rep0 is not None and rep0.head
    with Case.open(p) as c:
        src = c.sources()["tg"]
        c.add_sources([src.__class__(id="wire", name="Wire service", kind="media", reliability="B")])
    rep = _verify(p, expect=rep0.head)
    assert rep is not None and rep.ok, rep.lines()
    assert rep.head != rep0.head
    anchored = next(ch for ch in rep.checks if ch.what == "anchored head")
    assert "1 entry written since" in anchored.detail  # the source's insert
    bogus = _verify(p, expect="1:" + rep0.head.split(":")[1])  # right hash, wrong position
    assert bogus is not None and not bogus.ok


def test_cli_prints_the_head_and_checks_expect(base: Path, tmp_path: Path) -> None:
    from overflight.cli.main import app

    p = tmp_path / "case.duckdb"
    shutil.copy(base, p)
    r = CliRunner()
    res = r.invoke(app, ["case", "verify", str(p)])
    assert res.exit_code == 0, res.output
    head = next(line.split()[-1] for line in res.output.splitlines() if line.startswith("audit head"))
    assert len(head.split(":")[1]) == 64
    assert r.invoke(app, ["case", "verify", str(p), "--expect", head]).exit_code == 0
    _rewrite_history(p)
    _evaluate(p)
    res = r.invoke(app, ["case", "verify", str(p), "--expect", head])
    assert res.exit_code == 1 and "FAIL anchored head" in res.output
    assert isinstance(app, typer.Typer)


# ---------------------------------------------------------------- evidence citing runs that do not exist


def test_import_refuses_evidence_citing_a_missing_run_or_row(base: Path, tmp_path: Path) -> None:
    p = tmp_path / "case.duckdb"
    shutil.copy(base, p)
    ghost = tmp_path / "ghost.yaml"
    ghost.write_text("evidence:\n  - {id: ev-ghost, claim: c-supply, kind: transit_row, direction: supports,\n"
                     "     run: transit-9, reliability: A, credibility: 1, reasoning: a transit run says so}\n")
    with Case.open(p) as c:
        before = c.counts()
        with pytest.raises(InputError) as exc:
            c.import_files([ghost])
        assert exc.value.field == "run" and exc.value.file == str(ghost) and "transit-9" in str(exc.value)
        bad_row = tmp_path / "row.yaml"
        bad_row.write_text("evidence:\n  - {id: ev-row, claim: c-range, kind: attribution_stat, direction: supports,\n"
                           "     run: attribution-1, result_row: 7, reasoning: row 7}\n")
        with pytest.raises(InputError) as exc:
            c.import_files([bad_row])
        assert exc.value.field == "result_row" and "2 result row(s)" in str(exc.value)
        assert c.counts() == before
        assert c.verdicts()["c-supply"].verdict == "unverified"
        ok = tmp_path / "ok.yaml"
        ok.write_text("evidence:\n  - {id: ev-row, claim: c-range, kind: attribution_stat, direction: supports,\n"
                      "     run: attribution-1, result_row: 1, reasoning: row 1}\n")
        assert c.import_files([ok])["evidence"]["inserted"] == 1
        c.evaluate()
        assert c.verify().ok


# ---------------------------------------------------------------- schema-1 cases (overflight <= 0924fd0)


def _legacy(path: Path) -> Path:
    con = duckdb.connect(str(path))
    try:
        for stmt in (LEGACY / "schema.sql").read_text().split(";"):
            if stmt.strip():
                con.execute(stmt)
        for f in sorted(LEGACY.glob("*.parquet")):
            con.register("_t", pq.read_table(f))
            con.execute(f"INSERT INTO {f.stem} SELECT * FROM _t")
            con.unregister("_t")
    finally:
        con.close()
    return path


def test_legacy_case_verifies_read_only_and_upgrades_on_write(tmp_path: Path) -> None:
    p = _legacy(tmp_path / "old.duckdb")
    with Case.open(p, read_only=True) as c:
        assert c.schema_version == "1"
        rep = c.verify()
        assert rep.ok, rep.lines()
        chain_check = next(ch for ch in rep.checks if ch.what == "audit chain")
        assert "schema-1" in chain_check.detail
        assert all("rule-1 inputs hash" in ch.detail for ch in rep.checks if ch.what == "verdict")
        old_head = rep.head
    assert old_head is not None
    with Case.open(p) as c:  # opening for writing upgrades, with audit entries
        assert c.schema_version == "2" and c.meta()["schema_version"] == "2"
        actions = [r["action"] for r in c.audit_rows()]
        assert "upgrade" in actions and actions.count("baseline") >= 2
        rep = c.verify(expect=old_head)
        assert rep.ok, rep.lines()
        assert "hashed at the upgrade" in next(ch for ch in rep.checks if ch.what == "audit chain").detail
        c.evaluate()  # re-hashes the rule-1 verdicts with the full inputs
        rep = c.verify(expect=old_head)
        assert rep.ok and all("same inputs" in ch.detail for ch in rep.checks if ch.what == "verdict")
    # after the upgrade, what schema 1 did not record is caught too: track content, claim text
    _apply(p, ("UPDATE tracks SET lat = lat + 0.5 WHERE lat < 50.1",))
    rep2 = _verify(p)
    assert rep2 is not None and {f.what for f in rep2.failures} == {"table tracks"}


def test_legacy_case_tampered_before_upgrade_is_still_caught_where_the_old_log_recorded_it(tmp_path: Path) -> None:
    p = _legacy(tmp_path / "old.duckdb")
    _apply(p, ("UPDATE claims SET statement = 'nothing happened' WHERE id = 'c-transit'",
               "UPDATE verdicts SET verdict = 'supported' WHERE claim_id = 'c-supply'"))
    rep = _verify(p)
    assert rep is not None
    assert {(f.what, f.key) for f in rep.failures} >= {("table claims", "c-transit"), ("table verdicts", "c-supply"),
                                                       ("verdict", "c-supply")}




def test_case_settings_written_as_case_config_writes_them_verify(base: Path, tmp_path: Path) -> None:
    from overflight.case.audit import AuditEntry

    p = tmp_path / "case.duckdb"
    shutil.copy(base, p)
    with Case.open(p) as c:  # what `overflight case config set review.url URL` writes: a meta row, a config entry
        with c.transaction():
            c._x("INSERT INTO meta VALUES ('config.review.url', 'https://desk.example/r')")
            c._audit([AuditEntry("config", "meta", "review.url", None, {"value": "https://desk.example/r"})])
        assert c.verify().ok
    _apply(p, ("UPDATE meta SET value = 'https://evil.example/' WHERE key = 'config.review.url'",))
    rep = _verify(p)
    assert rep is not None and {(f.what, f.key) for f in rep.failures} == {("table meta", "config.review.url")}


def test_failed_upgrade_leaves_a_schema_1_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = _legacy(tmp_path / "old.duckdb")
    with Case.open(p, read_only=True) as c:
        head = c.verify().head

    def boom(self: Case, dataset: str) -> dict[str, object]:
        raise OverflightError("disk full")

    monkeypatch.setattr(Case, "_dataset_state", boom)
    with pytest.raises(OverflightError, match="disk full"):
        Case.open(p)
    monkeypatch.undo()
    with Case.open(p, read_only=True) as c:
        assert c.schema_version == "1" and c.meta()["schema_version"] == "1"
        rep = c.verify()
        assert rep.ok and rep.head == head
