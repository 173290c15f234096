"""Team cases on a real PostgreSQL 15 + PostGIS cluster: roles in the database, tampering, concurrency, crashes, sync.

The cluster is the session's throw-away `pg_virtualenv` (tests/conftest.py). Role tests go through psql as each
role, the way someone who bypasses overflight would; nothing here is a mock.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from conftest import pg_url
from overflight.analysis.attribution import run_attribution
from overflight.case import Case
from overflight.case.canonical import hash_rows
from overflight.case.pg_backend import case_slug, migrations, parse_location
from overflight.case.schema import TABLES
from overflight.case.sync import SyncConflict, copy_case, pull, push
from overflight.errors import OverflightError
from test_case_store import FILES, build
from test_case_tamper import TAMPERS, Tamper

ROOT = Path(__file__).resolve().parents[1]


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def psql(env: dict[str, str], sql: str, *, user: str | None = None, password: str = "pw"
         ) -> subprocess.CompletedProcess[str]:
    """Run SQL through psql as a role (the superuser by default); the result, whatever it is."""
    e = {**os.environ, **env, "PGDATABASE": "overflight_test"}
    if user:
        e |= {"PGUSER": user, "PGPASSWORD": password}
    return subprocess.run(["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql], env=e, capture_output=True,
                          text=True, timeout=60)


def login(env: dict[str, str], user: str, case: str, level: str) -> None:
    """A login role holding one level of access to a case."""
    r = psql(env, f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{user}') THEN "
                  f"CREATE ROLE {user} LOGIN PASSWORD 'pw'; END IF; END $$; "
                  f"GRANT ovf_{case_slug(case)}_{level} TO {user}")
    assert r.returncode == 0, r.stderr


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from overflight.cli import main; sys.argv[0] = 'overflight'; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, env={**os.environ, "COLUMNS": "200"})


@pytest.fixture
def team(postgres: dict[str, str]) -> tuple[str, str]:
    """A built and evaluated team case: (case name, superuser URL)."""
    name = _name("team")
    url = pg_url(postgres, name)
    with build(url) as c:
        c.evaluate()
    return name, url


def test_migrations_are_recorded_and_geometries_are_postgis_with_spatial_indexes(
        postgres: dict[str, str], team: tuple[str, str]) -> None:
    r = psql(postgres, "SELECT string_agg(version::text || ':' || name, ',' ORDER BY version) "
                       "FROM overflight.schema_migrations")
    assert r.stdout.strip() == ",".join(f"{v}:{n}" for v, n, _ in migrations())
    name, _ = team
    # zones are PostGIS geometries (derived from the stored WKB), indexed with GiST; a bbox prefilter finds them
    r = psql(postgres, f"SELECT id, GeometryType(geom), ST_SRID(geom) FROM overflight.zones WHERE case_id = '{name}'"
                       " AND geom && ST_MakeEnvelope(46, 48, 47, 49, 4326) ORDER BY id")
    assert r.returncode == 0, r.stderr
    assert [ln.split("|")[0] for ln in r.stdout.split()] and all(ln.endswith("|4326") for ln in r.stdout.split())
    r = psql(postgres, "SELECT indexname FROM pg_indexes WHERE schemaname = 'overflight' AND indexdef LIKE '%gist%' "
                       "ORDER BY 1")
    assert r.stdout.split() == ["claims_where_geom", "observations_geom", "zones_geom"]


def test_roles_are_enforced_by_the_database(postgres: dict[str, str], team: tuple[str, str]) -> None:
    name, _ = team
    other = _name("other")
    with Case.create(pg_url(postgres, other)) as c:
        c.import_files(FILES)
    login(postgres, "rdr", name, "reader")
    login(postgres, "ana", name, "analyst")
    login(postgres, "rev", name, "reviewer")
    schema = parse_location(pg_url(postgres, name)).schema
    ins = f"INSERT INTO {schema}.sources (id, name, reliability) VALUES ('x', 'X', 'A')"
    # a reader reads, and cannot write, not even straight into the shared table
    assert psql(postgres, f"SELECT count(*) FROM {schema}.claims", user="rdr").stdout.strip() == "4"
    r = psql(postgres, ins, user="rdr")
    assert r.returncode != 0 and "permission denied" in r.stderr
    r = psql(postgres, f"INSERT INTO overflight.sources (case_id, id) VALUES ('{name}', 'x')", user="rdr")
    assert r.returncode != 0 and "permission denied" in r.stderr
    # the case's roles see nothing of the other case: not its schema, not its rows in the shared tables
    assert psql(postgres, f"SELECT count(*) FROM overflight.claims WHERE case_id = '{other}'",
                user="rdr").stdout.strip() == "0"
    assert psql(postgres, "SELECT count(DISTINCT case_id) FROM overflight.audit_log", user="ana").stdout.strip() == "1"
    r = psql(postgres, f"SELECT count(*) FROM {parse_location(pg_url(postgres, other)).schema}.claims", user="ana")
    assert r.returncode != 0 and "permission denied" in r.stderr
    r = psql(postgres, f"INSERT INTO overflight.sources (case_id, id) VALUES ('{other}', 'x')", user="ana")
    assert r.returncode != 0 and "row-level security" in r.stderr
    # an analyst writes; the audit log is append-only even for them
    assert psql(postgres, ins, user="ana").returncode == 0
    r = psql(postgres, f"DELETE FROM {schema}.audit_log", user="ana")
    assert r.returncode != 0 and "permission denied" in r.stderr
    r = psql(postgres, f"UPDATE {schema}.verdicts SET verdict = 'supported'", user="ana")
    assert r.returncode != 0 and "permission denied" in r.stderr
    # an analyst cannot approve a verdict, neither through overflight nor in SQL; a reviewer can, as themself
    doc = json.dumps({"approved_by": "ana"})
    r = psql(postgres, f"INSERT INTO {schema}.meta VALUES ('approval.c-denial', '{doc}')", user="ana")
    assert r.returncode != 0 and "row-level security" in r.stderr
    ana = pg_url(postgres, name, user="ana", password="pw")
    rev = pg_url(postgres, name, user="rev", password="pw")
    with Case.open(ana) as c, pytest.raises(OverflightError, match="row-level security"):
        c.approve("c-denial")
    forged = json.dumps({"approved_by": "someone-else"})
    r = psql(postgres, f"INSERT INTO {schema}.meta VALUES ('approval.c-denial', '{forged}')", user="rev")
    assert r.returncode != 0 and "row-level security" in r.stderr
    with Case.open(rev) as c:
        doc2 = c.approve("c-denial")
    assert doc2["approved_by"] == "rev" and doc2["verdict"] == "contradicted"
    with Case.open(pg_url(postgres, name, user="rdr", password="pw"), read_only=True) as c:
        assert c.approvals()["c-denial"]["approved_by"] == "rev"
        log = c.audit()
        # the audit log names the database role of each write, and the chain still verifies
        assert log["user_name"].iloc[-1] == "rev" and "ana" not in set(log["user_name"])
        rep = c.verify()
        assert ("table sources", "x") in {(f.what, f.key) for f in rep.failures}  # ana's psql insert bypassed it
    # a reader connecting through overflight cannot write either
    with Case.open(pg_url(postgres, name, user="rdr", password="pw")) as c, \
            pytest.raises(OverflightError, match="refused"):
        c.set_config("publisher.name", "R")


def test_direct_sql_update_is_caught_by_case_verify(postgres: dict[str, str], team: tuple[str, str]) -> None:
    _, url = team
    ok = cli("case", "verify", url)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    with Case.open(url, read_only=True) as c:
        head = c.verify().head
    assert head and head in ok.stdout.replace("\n", "")
    schema = parse_location(url).schema
    r = psql(postgres, f"UPDATE {schema}.claims SET statement = 'Three UAVs' WHERE id = 'c-transit'")
    assert r.returncode == 0, r.stderr
    bad = cli("case", "verify", url)
    assert bad.returncode == 1
    assert "FAIL table claims c-transit: differs from the audit log's record of it" in bad.stdout
    # rewriting the log to match is caught by the chain; re-hashing the whole chain by an anchored head
    r = psql(postgres, f"UPDATE {schema}.audit_log SET after = replace(after, 'Dozens of UAVs', 'Three UAVs')")
    assert r.returncode == 0, r.stderr
    bad = cli("case", "verify", url, "--expect", str(head))
    assert bad.returncode == 1 and "FAIL audit chain: breaks at seq" in bad.stdout


_IMPORTER = textwrap.dedent("""
    import sys
    import numpy as np, pandas as pd
    from overflight.case import Case
    url, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = np.random.default_rng(abs(hash(tag)) % 2**32)
    with Case.open(url) as c:
        for i in range(3):
            df = pd.DataFrame({"track_id": np.repeat(np.arange(n // 100).astype(str), 100),
                               "time": pd.date_range("2025-06-21", periods=n, freq="s", tz="UTC"),
                               "lon": rng.uniform(40, 60, n), "lat": rng.uniform(40, 55, n), "alt_m": 100.0})
            c.add_tracks(df, dataset=f"{tag}-{i}")
            c.import_files(sys.argv[4:])  # the same records from both: stored once, never twice
            print("committed", i, flush=True)
""")


def test_two_processes_importing_at_once_both_succeed_nothing_lost_or_duplicated(
        postgres: dict[str, str], team: tuple[str, str]) -> None:
    _, url = team
    procs = [subprocess.Popen([sys.executable, "-c", _IMPORTER, url, tag, "20000", *map(str, FILES)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for tag in ("a", "b")]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert out.split("\n")[:3] == ["committed 0", "committed 1", "committed 2"]
    with Case.open(url) as c:
        per_ds = dict(c.con.execute("SELECT dataset, count(*) FROM tracks GROUP BY dataset").fetchall())
        assert per_ds == {"radar.csv": 50} | {f"{t}-{i}": 20000 for t in "ab" for i in range(3)}
        assert c.counts()["sources"] == 5 and c.counts()["claims"] == 4
        seqs = c.audit_seqs()
        assert seqs == list(range(1, len(seqs) + 1))
        rep = c.verify()
        assert rep.ok, rep.lines()


def test_kill_9_during_a_large_import_leaves_the_case_consistent(
        postgres: dict[str, str], team: tuple[str, str]) -> None:
    _, url = team
    batch = 200_000
    code = textwrap.dedent(f"""
        import numpy as np, pandas as pd
        from overflight.case import Case
        n = {batch}
        df = pd.DataFrame({{"track_id": np.repeat(np.arange(n // 1000).astype(str), 1000),
                           "time": pd.date_range("2025-06-21", periods=n, freq="s", tz="UTC"),
                           "lon": np.random.default_rng(0).uniform(40, 60, n),
                           "lat": np.random.default_rng(1).uniform(40, 55, n), "alt_m": 100.0}})
        c = Case.open({url!r})
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
    time.sleep(0.5)
    assert proc.poll() is None  # still writing when killed
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    with Case.open(url) as c:
        per_ds = c.con.execute("SELECT dataset, count(*) FROM tracks WHERE dataset LIKE 'big-%' GROUP BY dataset"
                               ).fetchall()
        assert per_ds and all(n == batch for _, n in per_ds)  # whole batches or nothing
        imports = c.con.execute("SELECT count(*) FROM audit_log WHERE key LIKE 'big-%'").fetchall()[0][0]
        assert imports == len(per_ds)
        rep = c.verify()
        assert rep.ok, rep.lines()


def _state(c: Case) -> dict[str, object]:
    return {"tables": {t: c.table_hash(t) for t in TABLES}, "head": c.audit_head(),
            "verdicts": {k: (v.verdict, v.inputs_hash) for k, v in c.verdicts().items()}}


def test_push_pull_round_trip_verifies_with_identical_verdicts_and_hashes(
        postgres: dict[str, str], tmp_path: Path) -> None:
    local = tmp_path / "laptop.duckdb"
    with build(local) as c:
        c.evaluate()
        before = _state(c)
        rep0 = c.verify()
    url = pg_url(postgres, _name("sync"))
    out = cli("case", "push", str(local), url)
    assert out.returncode == 0, out.stderr
    assert "new audit entries" in out.stdout
    back = tmp_path / "back.duckdb"
    assert pull(url, back).status == "copied"
    for where in (url, back):
        with Case.open(where) as c:
            assert _state(c) == before
            rep = c.verify()
            assert rep.ok, rep.lines()
            assert rep.head == rep0.head
    assert push(local, url).status == "up to date"
    # a change on one side goes across; changes on both sides are a conflict, and nothing is overwritten
    with Case.open(local) as c:
        c.set_config("publisher.name", "Desk A")
    assert push(local, url).status == "copied"
    with Case.open(url) as c:
        assert c.config()["publisher.name"] == "Desk A"
        c.set_config("publisher.url", "https://desk.example")
    with Case.open(local) as c:
        c.set_config("review.url", "https://review.example")
        local_state = _state(c)
    with Case.open(url) as c:
        remote_state = _state(c)
    for fn, a, b in ((push, local, url), (pull, url, local)):
        with pytest.raises(SyncConflict, match="both changed since they last agreed"):
            fn(a, b)  # type: ignore[operator]
    with Case.open(local) as c:
        assert _state(c) == local_state
    with Case.open(url) as c:
        assert _state(c) == remote_state
    # pulling into a copy that is behind brings it up; pushing a copy that is behind is refused
    out = cli("case", "push", str(back), url)
    assert out.returncode == 2 and "lacks" in out.stderr + out.stdout
    assert pull(url, back).status == "copied"
    with Case.open(back) as c:
        assert _state(c) == remote_state and c.verify().ok


def test_cli_takes_a_url_wherever_it_takes_a_case(postgres: dict[str, str], tmp_path: Path) -> None:
    url = pg_url(postgres, _name("cli"))
    assert cli("case", "init", url).returncode == 0
    r = cli("case", "init", url)
    assert r.returncode != 0 and "already exists" in r.stdout + r.stderr
    r = cli("case", "import", url, *map(str, FILES), "--zones", str(FILES[0].parent / "zones.geojson"))
    assert r.returncode == 0, r.stderr
    r = cli("attribution", "--case", url, "--target", "RANGE", "--region", "KAZ-W", "--claim", "c-range",
            "--eps-km", "20")
    assert r.returncode == 0 and "recorded run attribution-1" in r.stdout, r.stdout + r.stderr
    assert cli("case", "evaluate", url).returncode == 0
    show = cli("case", "show", url)
    assert show.returncode == 0 and "c-transit" in show.stdout
    r = cli("case", "export", url, "--format", "geojson", "-o", str(tmp_path / "v.geojson"))
    assert r.returncode == 0, r.stderr
    layers = {f["properties"]["layer"] for f in json.loads((tmp_path / "v.geojson").read_text())["features"]}
    assert "verdict" in layers
    r = cli("case", "approve", url, "c-denial")
    assert r.returncode == 0 and "approved c-denial" in r.stdout
    v = cli("case", "verify", url)
    assert v.returncode == 0, v.stdout
    r = cli("case", "show", pg_url(postgres, "no-such-case"))
    assert r.returncode != 0 and "no case 'no-such-case'" in r.stdout + r.stderr


# ---------------------------------------------------------------- the tamper matrix of test_case_tamper.py

_DUCKDB_ONLY = ("::BLOB", "INTERVAL ", "DROP ", "ALTER ", "CREATE ")
PG_TAMPERS = [t for t in TAMPERS if not any(k in s for s in t.sql for k in _DUCKDB_ONLY)]


@pytest.fixture(scope="module")
def pg_base(postgres: dict[str, str]) -> str:
    """The tamper suite's base case (records, zones, tracks, two attribution runs, verdicts) on PostgreSQL."""
    url = pg_url(postgres, _name("tbase"))
    with build(url) as c:
        run_attribution(c, target="RANGE", region="KAZ-W", claim="c-range", threshold=0.3, cluster_eps_m=20_000)
        c.evaluate()
        assert c.verify().ok
    return url


def _apply_sql(url: str, sql: tuple[str, ...]) -> None:
    # As the superuser, straight on the case's views: what someone who bypasses overflight can do.
    import psycopg

    p = parse_location(url)
    with psycopg.connect(p.conninfo, autocommit=True) as con:
        con.execute(f"SET search_path = {p.schema}, public".encode())
        for stmt in sql:
            if "'RECOMPUTE'" in stmt:  # recompute the run's hash over the edited rows, as a careful forger would
                cols = json.loads(con.execute("SELECT result_columns FROM analysis_runs WHERE id = 'attribution-1'"
                                              ).fetchall()[0][0])
                rows = [json.loads(d) for (d,) in con.execute("SELECT data FROM analysis_results WHERE run_id = "
                                                              "'attribution-1' ORDER BY row_no").fetchall()]
                stmt = stmt.replace("RECOMPUTE", hash_rows(cols, rows))
            con.execute(stmt.encode())


def test_the_tamper_matrix_applies_on_postgresql() -> None:
    # every table and every kind of change is still covered by the statements PostgreSQL takes as written
    assert {t.table for t in PG_TAMPERS} == set(TABLES)
    assert {t.cls for t in PG_TAMPERS} == {"identity", "content", "hash", "order"}
    assert len(PG_TAMPERS) >= len(TAMPERS) - 8


@pytest.mark.parametrize("tamper", PG_TAMPERS, ids=[t.name for t in PG_TAMPERS])
def test_verify_catches_direct_sql_tampering(postgres: dict[str, str], pg_base: str, tamper: Tamper) -> None:
    import psycopg

    url = pg_url(postgres, _name("tamper"))
    assert copy_case(pg_base, url).status == "copied"
    try:
        _apply_sql(url, tamper.sql)
    except psycopg.errors.UniqueViolation:
        # the audit sequence is a primary key per case: renumbering entries onto each other is refused outright
        assert tamper.table == "audit_log"
        return
    try:
        with Case.open(url, read_only=True) as c:
            rep = c.verify()
    except OverflightError:
        assert "open" in tamper.caught_by
        return
    assert not rep.ok, f"{tamper.name}: verify passed\n" + "\n".join(rep.lines())
    failed = {f.what for f in rep.failures}
    assert failed & set(tamper.caught_by), (tamper.name, failed)


def test_a_writer_that_waits_too_long_is_told_to_retry_and_writes_nothing(
        postgres: dict[str, str], team: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    from overflight.case import pg_backend
    from overflight.evidence.model import Source

    name, url = team
    monkeypatch.setattr(pg_backend, "LOCK_TIMEOUT", "1s")
    with Case.open(url) as c:
        before = c.counts()
        # another session in the middle of a write to the case holds its lock
        with psycopg.connect(parse_location(url).conninfo, autocommit=True) as other:
            other.execute("SELECT pg_advisory_lock(hashtext('overflight.case:' || %s))", [name])
            with pytest.raises(OverflightError, match=r"another session is writing to case .*: retry"):
                c.add_sources([Source("late", "Late", reliability="B")])
        assert c.counts() == before
        c.add_sources([Source("late", "Late", reliability="B")])  # the lock is free again: the retry succeeds
        assert c.counts()["sources"] == before["sources"] + 1


def test_the_web_app_serves_a_team_case_as_it_serves_the_file(
        postgres: dict[str, str], web_demo_case: Path, tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    import shutil

    from fastapi.testclient import TestClient

    from overflight.web.app import create_app

    local = tmp_path / "case.duckdb"
    shutil.copy2(web_demo_case, local)
    url = pg_url(postgres, _name("web"))
    push(local, url)
    answers = []
    for where in (local, url):
        app = create_app(where, host="testserver")
        with TestClient(app) as client:
            got = {}
            for route in ("/api/case", "/api/claims", "/api/zones?zoom=4", "/api/tracks", "/api/observations",
                          "/api/timeline", "/api/runs", "/api/prisms", "/api/attribution"):
                r = client.get(route)
                assert r.status_code == 200, (where, route, r.text)
                got[route] = r.json()
        app.state.workspace.close()
        answers.append(got)
    duck, pg = answers
    # the file's path; the team case's URL, without its password
    assert (duck["/api/case"].pop("path"), pg["/api/case"].pop("path")) == (str(local), parse_location(url).display)
    assert postgres["PGPASSWORD"] not in parse_location(url).display
    for got in (duck, pg):  # items at the same time come in no particular order (the query orders by time)
        got["/api/timeline"]["items"].sort(key=lambda x: json.dumps(x, sort_keys=True))
    for route in duck:
        if pg[route] != duck[route]:
            a, b = json.dumps(duck[route], sort_keys=True), json.dumps(pg[route], sort_keys=True)
            i = next(i for i in range(min(len(a), len(b))) if a[i] != b[i])
            raise AssertionError(f"{route}: duckdb …{a[max(0, i - 300):i + 200]}… "
                                 f"postgresql …{b[max(0, i - 300):i + 200]}…")
    assert duck["/api/tracks"] and duck["/api/claims"]


def test_text_postgresql_cannot_hold_is_refused_with_a_message_and_nothing_written(
        postgres: dict[str, str], tmp_path: Path) -> None:
    import pandas as pd

    from overflight.evidence.model import Source

    with Case.create(pg_url(postgres, _name("nul"))) as c:
        for write in (lambda: c.add_sources([Source("a\x00b", "X", reliability="A")]),
                      lambda: c.add_tracks(pd.DataFrame({"track_id": ["t\x00"], "time": [pd.Timestamp("2025-06-21",
                                                         tz="UTC")], "lon": [50.0], "lat": [50.0]}), dataset="d")):
            with pytest.raises(OverflightError, match=r"cannot hold NUL characters .*nothing was written"):
                write()
        assert c.counts()["sources"] == 0 and c.counts()["tracks"] == 0
        assert c.verify().ok
