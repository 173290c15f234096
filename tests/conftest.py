"""Shared test fixtures."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from overflight import boundaries

# The full run (scripts/test.sh, hence CI) draws the same hypothesis examples every time, so a red CI always
# means a change broke something; local runs keep exploring new examples.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("OVERFLIGHT_REQUIRE_DATA"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def ne_admin0() -> boundaries.ZoneSet:
    return boundaries.load("ne-admin0")


@pytest.fixture(scope="session")
def osm_maritime() -> boundaries.ZoneSet:
    """The installed OSM maritime set; the full test run (scripts/test.sh) installs it and requires it."""
    if not boundaries.info("osm-maritime").installed:
        if os.environ.get("OVERFLIGHT_REQUIRE_DATA"):
            pytest.fail("osm-maritime is not installed but OVERFLIGHT_REQUIRE_DATA is set")
        pytest.skip("osm-maritime not installed (overflight boundaries install osm-maritime)")
    return boundaries.load("osm-maritime")


@pytest.fixture(scope="session")
def web_demo_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo case, built once per session for the web tests (copy it before writing to it)."""
    from overflight.demo import build_demo

    out = tmp_path_factory.mktemp("web-demo")
    return build_demo(out).files["case.duckdb"]


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A throw-away PostgreSQL 15 + PostGIS cluster for the session (`pg_virtualenv -t`): its PG* settings.

    Skipped, saying why, only when no cluster can be started; the full run (scripts/test.sh, hence CI) sets
    OVERFLIGHT_REQUIRE_DATA and fails instead.
    """
    yield from _pg_cluster(tmp_path_factory.mktemp("pg"))


def _pg_cluster(work: Path) -> Iterator[dict[str, str]]:
    def unavailable(why: str) -> None:
        if os.environ.get("OVERFLIGHT_REQUIRE_DATA"):
            pytest.fail(f"PostgreSQL is required by the full run but {why}")
        pytest.skip(f"no PostgreSQL for the team-case tests: {why}")

    if shutil.which("pg_virtualenv") is None:
        unavailable("pg_virtualenv (postgresql-common) is not installed")
    env_file, stop = work / "env", work / "stop"
    # The cluster lives while the shell waits for the stop file (or for this process to end, if it is killed);
    # pg_virtualenv drops it when the shell ends.
    script = (f"env | grep '^PG' > {env_file}.tmp && mv {env_file}.tmp {env_file}; "
              f"while [ ! -e {stop} ] && kill -0 {os.getpid()} 2>/dev/null; do sleep 0.5; done")
    err = ""
    for _attempt in range(3):
        # A port of our own: pg_virtualenv's choice does not know other throw-away clusters on the machine.
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        proc = subprocess.Popen(["pg_virtualenv", "-t", "-c", f"-p {port}", "sh", "-c", script],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 120
        while not env_file.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if env_file.exists():
            break
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            err = "timed out"
        else:
            err = proc.stderr.read().decode(errors="replace")[-500:].strip() if proc.stderr else ""
    else:
        unavailable(f"pg_virtualenv did not start a cluster ({err})")
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    base = {**os.environ, **env}
    # The roles the case tests name as their user (Case.create(..., user=...) acts as that database role).
    subprocess.run(["psql", "-qAt", "-v", "ON_ERROR_STOP=1", "-c", "CREATE ROLE tester SUPERUSER",
                    "-c", "CREATE ROLE t SUPERUSER", "-c", "CREATE DATABASE overflight_test"],
                   env=base, check=True, capture_output=True, timeout=60)
    try:
        yield env
    finally:
        stop.touch()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def pg_url(env: dict[str, str], case: str, user: str | None = None, password: str | None = None) -> str:
    """The URL of a case in the session's test database (as the superuser unless ``user`` is given)."""
    who = f"{user or env['PGUSER']}:{password if user else env['PGPASSWORD']}"
    return f"postgresql://{who}@{env['PGHOST']}:{env['PGPORT']}/overflight_test?case={case}"


@pytest.fixture(params=["duckdb", "postgresql"])
def case_at(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], Any]:
    """``case_at(name)``: where a test's case called ``name`` lives, on each backend (a file or a URL)."""
    if request.param == "duckdb":
        return lambda name: tmp_path / f"{name}.duckdb"
    env = request.getfixturevalue("postgres")
    tag = uuid.uuid4().hex[:10]
    return lambda name: pg_url(env, f"t{tag}-{name}")


@pytest.fixture
def raw_sql(request: pytest.FixtureRequest) -> Callable[[Any, Sequence[str]], None]:
    """``raw_sql(case location, statements)``: edit a case directly in SQL, bypassing overflight (tampering).

    A DuckDB file through duckdb; a PostgreSQL case as the database superuser, on the case's own views.
    """
    def run(loc: Any, statements: Sequence[str]) -> None:
        from overflight.case import pg_backend

        if pg_backend.is_url(loc):
            import psycopg

            p = pg_backend.parse_location(loc)
            with psycopg.connect(p.conninfo, autocommit=True) as con:
                con.execute(f"SET search_path = {p.schema}, public".encode())
                for stmt in statements:
                    con.execute(stmt.encode())
        else:
            import duckdb

            con = duckdb.connect(str(loc))
            try:
                for stmt in statements:
                    con.execute(stmt)
            finally:
                con.close()

    return run
