"""Team cases on PostgreSQL/PostGIS: a case is ``postgresql://HOST/DB?case=NAME``.

Every case of a database shares the tables of schema ``overflight`` (a ``case_id`` column on each), created by
the numbered migrations in ``pg_migrations/`` (applied on open, each version recorded in
``overflight.schema_migrations``). A case is reached through the views of its own schema ``case_<name>``
(``security_invoker``: the caller's rights and row-level security apply), so `overflight.case.store.Case` runs
the same SQL as on a DuckDB file. Access is enforced by the database: the roles ``ovf_<name>_reader`` (read),
``_analyst`` (also write) and ``_reviewer`` (also approve verdicts), GRANTs on the tables and row-level
security keyed by ``case_id``; grant one of them to a login role to let someone in.

Writes serialise per case on an advisory lock taken at the start of each transaction, so two analysts
importing at once both succeed, one after the other; one that waits longer than ``lock_timeout`` gets a
message to retry. The audit log records the database role (``current_user``) as the user.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from overflight.case.schema import TABLES
from overflight.errors import InputError, OverflightError

#: how long a write waits for another session's write to the same case before asking to retry
LOCK_TIMEOUT = "60s"

_URL = re.compile(r"^postgres(?:ql)?:/", re.IGNORECASE)
_PG_TYPES = {25: pa.string(), 1043: pa.string(), 19: pa.string(), 701: pa.float64(), 700: pa.float64(),
             20: pa.int64(), 23: pa.int32(), 21: pa.int32(), 16: pa.bool_(), 1184: pa.timestamp("us", tz="UTC"),
             17: pa.binary()}


def is_url(location: object) -> bool:
    """Whether a case location names a PostgreSQL case (also after `pathlib.Path` folded its ``//``)."""
    return bool(_URL.match(str(location)))


@dataclass(frozen=True)
class PgLocation:
    """A parsed ``postgresql://…?case=NAME`` location."""

    conninfo: str
    case: str
    display: str

    @property
    def schema(self) -> str:
        """The case's schema of views (``case_<slug>``)."""
        return "case_" + case_slug(self.case)


def case_slug(case: str) -> str:
    """The identifier part of a case name (lower case, runs of other characters as ``_``)."""
    return re.sub(r"[^a-z0-9]+", "_", case.lower()).strip("_")


def parse_location(location: str | Path) -> PgLocation:
    """Split a case URL into libpq connection info and the case name (InputError when it names none)."""
    text = str(location)
    m = re.match(r"^(postgres(?:ql)?):/(?!/)(.*)$", text, re.IGNORECASE)
    if m:  # pathlib.Path("postgresql://h/db") is "postgresql:/h/db"; "postgresql:///db" became "postgresql:/db"
        rest = m.group(2)
        text = f"{m.group(1)}://{rest}" if "/" in rest.split("?")[0] else f"{m.group(1)}:///{rest}"
    parts = urlsplit(text)
    query = parse_qsl(parts.query, keep_blank_values=True)
    case = next((v for k, v in query if k == "case"), "")
    if not case or not case_slug(case):
        raise InputError("a PostgreSQL case location needs ?case=NAME (e.g. postgresql://host/db?case=kaz-2025)",
                         file=_redact(text), field="case")
    if len(case_slug(case)) > 40:
        raise InputError("case name too long (at most 40 letters and digits)", file=_redact(text), field="case")
    rest = urlencode([(k, v) for k, v in query if k != "case"])
    conninfo = f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{rest}" if rest else "")
    return PgLocation(conninfo, case, _redact(text))


def _redact(url: str) -> str:
    return re.sub(r"(//[^:/@]*):[^@]*@", r"\1:***@", url)


def _qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# ---------------------------------------------------------------- a DuckDB-shaped connection


class PgResult:
    """The result of `PgConnection.execute`: the part of DuckDB's result API the case code uses."""

    def __init__(self, rows: list[tuple[Any, ...]], description: Sequence[Any] | None) -> None:
        self._rows = rows
        self.description = [(d.name, d.type_code) for d in description] if description else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        """Every row."""
        return self._rows

    def fetchone(self) -> tuple[Any, ...] | None:
        """The first row, or None."""
        return self._rows[0] if self._rows else None

    def arrow(self) -> pa.Table:
        """The rows as Arrow (column types from the result's PostgreSQL types)."""
        assert self.description is not None
        cols = list(zip(*self._rows, strict=True)) if self._rows else [() for _ in self.description]
        return pa.table({name: pa.array(list(col), type=_PG_TYPES.get(oid))
                         for (name, oid), col in zip(self.description, cols, strict=True)})

    def df(self) -> pd.DataFrame:
        """The rows as DuckDB's ``.df()`` gives them (see `arrow_df`)."""
        return arrow_df(self.arrow())


def arrow_df(tbl: pa.Table) -> pd.DataFrame:
    """Rows as DuckDB's ``.df()`` gives them, so a table hashes alike on both backends (`Case.table_hash`).

    Integers with NULLs are nullable, times µs UTC, bytes bytearray and NULL bytes pd.NA.
    """
    cols: dict[str, Any] = {}
    for name, col in zip(tbl.column_names, tbl.columns, strict=True):
        if pa.types.is_binary(col.type):  # DuckDB: bytearray values, pd.NA for NULL (hashed as such)
            cols[name] = pd.Series([pd.NA if b is None else bytearray(b) for b in col.to_pylist()], dtype=object)
        elif pa.types.is_integer(col.type) and col.null_count:
            cols[name] = col.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype(),
                                                     pa.int32(): pd.Int32Dtype()}.get)
        else:
            cols[name] = col.to_pandas()
    return pd.DataFrame(cols, columns=tbl.column_names)


def _params_sql(sql: str) -> str:
    # DuckDB's "?" placeholders as psycopg's "%s" (a literal "%" doubled); the case SQL has no "?" in literals.
    # Lists are only ever lists of keys (text) in ``unnest(?)``.
    return sql.replace("%", "%%").replace("unnest(?)", "unnest(?::text[])").replace("?", "%s")


class PgConnection:
    """A psycopg connection behind the small DuckDB-style API of `overflight.case.store.Case` (``execute``)."""

    def __init__(self, raw: Any, loc: PgLocation, how: tuple[str | Path, str | None, bool] | None = None) -> None:
        self.raw = raw
        self.loc = loc
        self._how = how  # how it was opened (location, user, read_only): `cursor` opens another like it

    @contextmanager
    def _errors(self) -> Iterator[None]:
        # What the database refuses, said in the case's words (never a driver traceback).
        import psycopg

        try:
            yield
        except psycopg.errors.InsufficientPrivilege as exc:
            raise OverflightError(f"{self.loc.display}: the database refused: {_first_line(exc)} (role "
                                  f"{self.role()} lacks the right; ask the case's owner for the analyst or "
                                  "reviewer role)") from None
        except psycopg.errors.LockNotAvailable:
            raise OverflightError(f"{self.loc.display}: another session is writing to case {self.loc.case} "
                                  f"(waited {LOCK_TIMEOUT}); nothing was written: retry") from None
        except psycopg.errors.ReadOnlySqlTransaction:
            raise OverflightError(f"case {self.loc.display} is open read-only") from None
        except psycopg.errors.DataError as exc:
            raise _refused_value(self.loc, exc) from None

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> PgResult:
        """Run one statement (``?`` placeholders) and fetch its rows; refusals become `OverflightError`."""
        with self._errors(), self.raw.cursor() as cur:
            if params is None:
                cur.execute(sql.encode())
            else:
                cur.execute(_params_sql(sql).encode(), [list(p) if isinstance(p, tuple) else p for p in params])
            rows = cur.fetchall() if cur.description is not None else []
            return PgResult(rows, cur.description)

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """A query's rows as Arrow, in bulk: ``COPY (query) TO STDOUT`` as CSV parsed by pyarrow.

        No Python per row; times travel as integer microseconds; a result with bytea columns takes the row path.
        """
        with self._errors():
            return self._arrow(sql, params)

    def _arrow(self, sql: str, params: Sequence[Any] | None) -> pa.Table:
        import psycopg

        with self.raw.cursor() as cur:
            desc = cur.execute(f"SELECT * FROM ({_params_sql(sql)}) q LIMIT 0".encode(), list(params or [])
                               ).description or []
        oids = [(d.name, d.type_code) for d in desc]
        if any(oid not in _PG_TYPES or oid == 17 for _, oid in oids):
            return self.execute(sql, params).arrow()
        cols = [f"(extract(epoch FROM q.{_qi(n)}) * 1000000)::int8" if oid == 1184 else f"q.{_qi(n)}"
                for n, oid in oids]
        inner = psycopg.ClientCursor(self.raw).mogrify(_params_sql(sql), list(params or [])) if params else sql
        buf = io.BytesIO()
        with self.raw.cursor() as cur, cur.copy(f"COPY (SELECT {', '.join(cols)} FROM ({inner}) q) TO STDOUT "
                                                "(FORMAT csv)".encode()) as cp:
            for chunk in cp:
                buf.write(chunk)
        names = [f"c{i}" for i in range(len(oids))]
        types = {f"c{i}": (pa.int64() if oid == 1184 else _PG_TYPES[oid]) for i, (_, oid) in enumerate(oids)}
        if not buf.getbuffer().nbytes:
            return pa.table({n: pa.array([], type=_PG_TYPES[oid]) for n, oid in oids})
        tbl = pacsv.read_csv(io.BytesIO(buf.getvalue()), read_options=pacsv.ReadOptions(column_names=names),
                             convert_options=pacsv.ConvertOptions(
                                 column_types=types, null_values=[""], true_values=["t"], false_values=["f"],
                                 strings_can_be_null=True, quoted_strings_can_be_null=False))
        out = [tbl.column(i).cast(pa.timestamp("us", tz="UTC")) if oid == 1184 else tbl.column(i)
               for i, (_, oid) in enumerate(oids)]
        return pa.table(out, names=[n for n, _ in oids])

    def df(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """A query's rows as DuckDB's ``.df()`` gives them, in bulk (see `arrow`)."""
        return arrow_df(self.arrow(sql, params))

    def role(self) -> str:
        """The database role this connection acts as (read once: also usable inside a failed transaction)."""
        if not hasattr(self, "_role"):
            with self.raw.cursor() as cur:
                row = cur.execute("SELECT current_user").fetchone()
            self._role = str(row[0]) if row else "?"
        return self._role

    def cursor(self) -> PgConnection:
        """Another connection to the same case as the same role (DuckDB's cursor: one per thread)."""
        if self._how is None:
            raise OverflightError(f"{self.loc.display}: this connection cannot be duplicated")
        location, user, read_only = self._how
        return connect_case(location, user=user or self.role(), read_only=read_only, create=False)

    def close(self) -> None:
        """Close the connection."""
        self.raw.close()


def _refused_value(loc: PgLocation, exc: Exception) -> OverflightError:
    if "0x00" in str(exc) or "\\u0000" in str(exc):
        return OverflightError(f"{loc.display}: PostgreSQL text cannot hold NUL characters (U+0000); remove them "
                               "from the input; nothing was written")
    return OverflightError(f"{loc.display}: the database refused a value ({_first_line(exc)}); nothing was written")


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# ---------------------------------------------------------------- migrations and cases


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, SQL) of every shipped migration, in order."""
    out = []
    for f in sorted(resources.files("overflight.case").joinpath("pg_migrations").iterdir(), key=lambda f: f.name):
        m = re.match(r"^(\d{3})_(.+)\.sql$", f.name)
        if m:
            out.append((int(m.group(1)), m.group(2), f.read_text(encoding="utf-8")))
    return out


def migrate(raw: Any, display: str) -> int:
    """Apply the migrations this database lacks, in one transaction; returns the schema version."""
    with raw.cursor() as cur:
        have = cur.execute("SELECT to_regclass('overflight.schema_migrations') IS NOT NULL").fetchone()
        done: set[int] = set()
        if have and have[0]:
            done = {int(r[0]) for r in cur.execute("SELECT version FROM overflight.schema_migrations").fetchall()}
        todo = [m for m in migrations() if m[0] not in done]
        if not todo:
            return max(done) if done else 0
    import psycopg

    try:
        with raw.transaction(), raw.cursor() as cur:
            # One migrator at a time; a second one waits, then finds the work done.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('overflight.migrations'))")
            cur.execute("CREATE SCHEMA IF NOT EXISTS overflight")
            cur.execute("CREATE TABLE IF NOT EXISTS overflight.schema_migrations (version integer PRIMARY KEY, "
                        "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), "
                        "applied_by text NOT NULL DEFAULT current_user)")
            done = {int(r[0]) for r in cur.execute("SELECT version FROM overflight.schema_migrations").fetchall()}
            for version, name, sql in migrations():
                if version in done:
                    continue
                cur.execute(sql.encode())
                cur.execute("INSERT INTO overflight.schema_migrations (version, name) VALUES (%s, %s)",
                            [version, name])
                done.add(version)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise OverflightError(f"{display}: the database lacks overflight's schema version {todo[-1][0]} and this "
                              f"role may not create it ({_first_line(exc)}); let an administrator open the case "
                              "once") from None
    return max(done)


def _case_ddl(loc: PgLocation) -> list[str]:
    # The case's schema of views, its three roles and their rights (run once, when the case is created).
    s, sl = _qi(loc.schema), case_slug(loc.case)
    reader, analyst, reviewer = (f"ovf_{sl}_{x}" for x in ("reader", "analyst", "reviewer"))
    lit = "'" + loc.case.replace("'", "''") + "'"
    out = [f"INSERT INTO overflight.cases (case_id, schema_name) VALUES ({lit}, '{loc.schema}')",
           f"CREATE SCHEMA {s}"]
    for t, cols in TABLES.items():
        names = ", ".join(c for c, _ in cols)
        # case_id last, defaulting to this case: an INSERT through the view (psql too) lands in this case only
        out.append(f"CREATE VIEW {s}.{t} WITH (security_invoker = true) AS SELECT {names}, case_id FROM "
                   f"overflight.{t} WHERE case_id = {lit} WITH CASCADED CHECK OPTION")
        out.append(f"ALTER VIEW {s}.{t} ALTER COLUMN case_id SET DEFAULT {lit}")
    for role, parent in ((reader, None), (analyst, reader), (reviewer, analyst)):
        out.append(f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN "
                   f"CREATE ROLE {role} NOLOGIN; END IF; END $$")
        if parent:
            out.append(f"GRANT {parent} TO {role}")
    base = ", ".join(f"overflight.{t}" for t in TABLES)
    views = ", ".join(f"{s}.{t}" for t in TABLES)
    writable = [t for t in TABLES if t != "audit_log"]
    out += [f"GRANT USAGE ON SCHEMA overflight, {s} TO {reader}",
            f"GRANT SELECT ON {base}, {views} TO {reader}",
            f"GRANT SELECT ON overflight.schema_migrations TO {reader}",
            f"GRANT INSERT, DELETE ON {', '.join(f'overflight.{t}' for t in writable)}, "
            f"{', '.join(f'{s}.{t}' for t in writable)} TO {analyst}",
            # the audit log is append-only for everyone but the tables' owner
            f"GRANT INSERT ON overflight.audit_log, {s}.audit_log TO {analyst}",
            f"GRANT EXECUTE ON FUNCTION overflight.cases_of(text, text) TO {reader}",
            f"GRANT {reviewer} TO current_user"]
    return out


def case_exists(raw: Any, loc: PgLocation) -> bool:
    """Whether the case's schema exists in the database (whoever may read it)."""
    with raw.cursor() as cur:
        row = cur.execute("SELECT to_regnamespace(%s) IS NOT NULL", [loc.schema]).fetchone()
    return bool(row and row[0])


def connect_case(location: str | Path, *, user: str | None, read_only: bool, create: bool) -> PgConnection:
    """Connect, migrate, and set the session up for one case (created first when ``create``).

    ``user`` switches to that database role (``SET ROLE``; the login role must be a member of it).
    """
    import psycopg

    loc = parse_location(location)
    try:
        raw = psycopg.connect(loc.conninfo, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise OverflightError(f"cannot connect to {loc.display}: {_first_line(exc)}") from None
    try:
        with raw.cursor() as cur:
            cur.execute("SET TimeZone = 'UTC'")
            if user:
                me = cur.execute("SELECT current_user").fetchone()
                if me and me[0] != user:
                    try:
                        cur.execute(f"SET ROLE {_qi(user)}")
                    except psycopg.Error as exc:
                        raise OverflightError(f"{loc.display}: cannot act as database role {user!r} "
                                              f"({_first_line(exc)})") from None
        version = migrate(raw, loc.display)
        exists = case_exists(raw, loc)
        if create and exists:
            raise InputError(f"case {loc.case!r} already exists", file=loc.display, field="case")
        if not create and not exists:
            raise InputError(f"no case {loc.case!r} in the database (create it with `overflight case init`)",
                             file=loc.display, field="case")
        with raw.cursor() as cur:
            if not create:
                ok = cur.execute("SELECT has_schema_privilege(%s, 'USAGE')", [loc.schema]).fetchone()
                if not (ok and ok[0]):
                    me = cur.execute("SELECT current_user").fetchone()
                    raise OverflightError(f"{loc.display}: role {me[0] if me else '?'} has no access to case "
                                          f"{loc.case!r} (its roles are ovf_{case_slug(loc.case)}_reader, _analyst and "
                                          "_reviewer)")
            cur.execute("SELECT set_config('overflight.case', %s, false)", [loc.case])
            # the case's views first; overflight's functions (002) after them; PostGIS in public
            cur.execute(f"SET search_path = {_qi(loc.schema)}, overflight, public")
            cur.execute("SELECT set_config('overflight.schema_version', %s, false)", [str(version)])
            if read_only:
                cur.execute("SET default_transaction_read_only = on")
    except BaseException:
        raw.close()
        raise
    con = PgConnection(raw, loc, (location, user, read_only))
    con.role()
    return con


# ---------------------------------------------------------------- the backend the store calls


class PgBackend:
    """What `overflight.case.store.Case` does differently on PostgreSQL."""

    name = "postgresql"
    #: columns of the case's views that are the database's, not the case's
    hidden_columns = frozenset({"case_id"})

    def __init__(self, con: PgConnection) -> None:
        self.con = con  # the case's connection; the methods take the one the case uses now (``case.con``)

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        """The driver's error classes (a case that does not read as one)."""
        import psycopg

        return (psycopg.Error,)

    def create_tables(self, con: PgConnection) -> None:
        """Create the case: its registry row, schema of views, roles and GRANTs."""
        for stmt in _case_ddl(con.loc):
            con.execute(stmt)

    @contextmanager
    def transaction(self, con: PgConnection) -> Iterator[None]:
        """One transaction holding the case's write lock (waits at most `LOCK_TIMEOUT`)."""
        import psycopg

        raw = con.raw
        try:
            with raw.transaction():
                with raw.cursor() as cur:
                    cur.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                    cur.execute("SELECT pg_advisory_xact_lock(hashtext('overflight.case:' || %s))",
                                [con.loc.case])
                yield
        except psycopg.errors.LockNotAvailable:
            raise OverflightError(f"{con.loc.display}: another session is writing to case "
                                  f"{con.loc.case} (waited {LOCK_TIMEOUT}); nothing was written: retry") from None
        except psycopg.errors.ReadOnlySqlTransaction:
            raise OverflightError(f"case {con.loc.display} is open read-only") from None

    def insert_arrow(self, con: PgConnection, table: str, cols: Sequence[str], data: pa.Table) -> None:
        """Bulk insert: COPY into a temporary table (COPY does not take row-level security), then one INSERT."""
        data = data.select(list(cols))
        arrays = []
        for name in cols:
            col = data.column(name)
            if pa.types.is_binary(col.type):  # bytea in COPY's text form
                col = pa.array([None if b is None else "\\x" + b.hex() for b in col.to_pylist()], type=pa.string())
            arrays.append(col)
        buf = io.BytesIO()
        pacsv.write_csv(pa.table(arrays, names=list(cols)), buf,
                        pacsv.WriteOptions(include_header=False, quoting_style="all_valid"))
        names = ", ".join(cols)
        raw = con.raw
        import psycopg

        try:
            self._copy_in(raw, table, names, buf)
        except psycopg.errors.DataError as exc:
            raise _refused_value(con.loc, exc) from None
        con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _ovf_{table}")
        con.execute(f"TRUNCATE _ovf_{table}")

    @staticmethod
    def _copy_in(raw: Any, table: str, names: str, buf: io.BytesIO) -> None:
        with raw.cursor() as cur:
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS _ovf_{table} AS SELECT {names} FROM {table} WITH NO DATA")
            cur.execute(f"TRUNCATE _ovf_{table}")
            with cur.copy(f"COPY _ovf_{table} ({names}) FROM STDIN (FORMAT csv)".encode()) as cp:
                view = buf.getbuffer()
                for i in range(0, len(view), 1 << 22):
                    cp.write(view[i:i + (1 << 22)])

    def select_arrow(self, con: PgConnection, sql: str, params: Sequence[Any], schema: pa.Schema) -> pa.Table:
        """A query's rows as Arrow with this schema, in bulk."""
        return con.arrow(sql, list(params)).cast(schema)

    def df(self, con: PgConnection, sql: str, params: Sequence[Any] | None) -> pd.DataFrame:
        """A query's rows as a data frame, in bulk."""
        return con.df(sql, params)

    def now(self, con: PgConnection) -> datetime:
        """The time the audit log records: the database server's clock (one for every analyst's client)."""
        row = con.execute("SELECT clock_timestamp()").fetchone()
        assert row is not None
        return row[0].astimezone(UTC)  # type: ignore[no-any-return]

    def size_bytes(self, con: PgConnection) -> int:
        """Bytes the case's rows take in the database (tables and their indexes, shared by every case)."""
        row = con.execute("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
                               "ON n.oid = c.relnamespace WHERE n.nspname = 'overflight' AND c.relkind = 'r'"
                               ).fetchone()
        return int(row[0] or 0) if row else 0


__all__ = ["LOCK_TIMEOUT", "PgBackend", "PgConnection", "PgLocation", "PgResult", "arrow_df", "case_exists",
           "case_slug", "connect_case", "is_url", "migrate", "migrations", "parse_location"]
