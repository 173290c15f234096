"""The case file on DuckDB (the default, one analyst): what `overflight.case.store.Case` does differently there.

One DuckDB database per investigation. DuckDB's write-ahead log makes a process killed mid-write leave the last
committed state; only one process may have a file open (a second gets an `OverflightError` naming the holder).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from overflight.case.schema import create_statements
from overflight.errors import OverflightError


def _lock_message(path: Path, exc: Exception) -> str:
    m = re.search(r"PID (\d+)", str(exc))
    pid = m.group(1) if m else "unknown"
    return f"case file {path} is open in another process (pid {pid}); close it there first"


def connect_file(path: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Open the file (an `OverflightError` naming the process that holds it, when another one does)."""
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise OverflightError(_lock_message(path, exc)) from None
        raise OverflightError(f"cannot open case file {path}: {exc}") from None
    except duckdb.Error as exc:
        raise OverflightError(f"{path} is not a case file: {exc}") from None
    con.execute("SET TimeZone='UTC'").fetchall()
    return con


class DuckDBBackend:
    """Transactions, bulk inserts and Arrow reads on a DuckDB connection.

    Every method takes the connection the case uses now (``case.con``: the web app gives each thread a cursor).
    """

    name = "duckdb"
    errors: tuple[type[Exception], ...] = (duckdb.Error,)
    hidden_columns: frozenset[str] = frozenset()

    def __init__(self, path: Path) -> None:
        self.path = path

    def create_tables(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create the case tables (idempotent)."""
        for stmt in create_statements():
            con.execute(stmt).fetchall()

    @contextmanager
    def transaction(self, con: duckdb.DuckDBPyConnection) -> Iterator[None]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        con.execute("BEGIN TRANSACTION").fetchall()
        try:
            yield
        except BaseException:
            con.execute("ROLLBACK").fetchall()
            raise
        con.execute("COMMIT").fetchall()

    def insert_arrow(self, con: duckdb.DuckDBPyConnection, table: str, cols: Sequence[str], data: pa.Table) -> None:
        """Insert an Arrow table's rows (these columns) in one statement."""
        names = ", ".join(cols)
        con.register("_ovf_batch", data)
        try:
            con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _ovf_batch").fetchall()
        finally:
            con.unregister("_ovf_batch")

    def select_arrow(self, con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any], schema: pa.Schema
                     ) -> pa.Table:
        """A query's rows as Arrow with this schema."""
        return con.sql(sql, params=list(params) or None).to_arrow_table().cast(schema)

    def df(self, con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None) -> pd.DataFrame:
        """A query's rows as a data frame."""
        df: pd.DataFrame = (con.execute(sql, params) if params is not None else con.execute(sql)).df()
        return df

    def now(self, con: duckdb.DuckDBPyConnection) -> datetime:
        """The time the audit log records: this machine's clock, UTC."""
        return datetime.now(UTC)

    def size_bytes(self, con: duckdb.DuckDBPyConnection) -> int:
        """Bytes of the case file (after a checkpoint, so the write-ahead log is in it)."""
        con.execute("CHECKPOINT").fetchall()
        return self.path.stat().st_size


__all__ = ["DuckDBBackend", "connect_file"]
