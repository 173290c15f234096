"""The case: sources, claims, observations, tracks, zones, analysis runs, evidence, verdicts and the audit log.

A case is a DuckDB file per investigation (`overflight.case.duckdb_backend`, the default) or a case in a
PostgreSQL/PostGIS database shared by a team (``postgresql://HOST/DB?case=NAME``,
`overflight.case.pg_backend`). `Case` holds the domain logic, audit chaining and hashing once, over the same
SQL on both; the backend supplies connection, transactions, bulk inserts and Arrow reads. Every write method
runs in one transaction together with its audit entries: when it fails, the case is as it was (tables in
`overflight.case.schema`).

Size (~940 lines, over the ~600 of the charter): the module is the one class `Case`, the object users hold per
investigation, with about 70 short methods (the longest about 60 lines), one per operation on a table. What
has already been separated went out: connecting and bulk I/O (the two backends), canonical form and hashes
(`case.canonical`), integrity checks (`case.integrity`), exports, sync and the analysis registry. The rest of
the class cannot be split into mixins without them reaching into each other's private state: every write goes
through the same transaction, audit chaining and decoding helpers.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
import shapely.errors

from overflight._version import __version__
from overflight.case import duckdb_backend, pg_backend
from overflight.case.audit import GENESIS, AuditEntry, chain, current_user, dumps, entry_hash, json_value
from overflight.case.canonical import (
    RunRecord,
    VerifyReport,
    canonical_rows,
    hash_arrow,
    hash_frame,
    hash_json,
    hash_rows,
    utcnow,
)
from overflight.case.schema import HEAD_KEY, KEYS, READABLE_VERSIONS, SCHEMA_VERSION, TABLES
from overflight.errors import InputError, OverflightError
from overflight.evidence.importing import Bundle, check_claim_links, read_files
from overflight.evidence.importing import resolve_bundle as resolve
from overflight.evidence.model import Claim, EvidenceItem, Observation, Source, Verdict

if TYPE_CHECKING:
    from overflight.zones import ZoneSet

_ARROW = {"VARCHAR": pa.string(), "DOUBLE": pa.float64(), "BIGINT": pa.int64(), "INTEGER": pa.int32(),
          "BOOLEAN": pa.bool_(), "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"), "BLOB": pa.binary()}


def _fingerprint(df: pd.DataFrame) -> str:
    # Fast content fingerprint of a bulk table for the audit log (pandas' vectorised row hashes).
    return hashlib.sha256(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes()).hexdigest()


def _reasoning_json(v: Verdict) -> str:
    # Rule 1 stored the trail as a JSON list; later rules store {"trail", "number", "illustrative"}.
    if v.rule_version == "1":
        return json.dumps(list(v.reasoning))
    return json.dumps({"trail": list(v.reasoning), "number": v.number, "illustrative": v.illustrative})


def _verdict_from_row(r: Mapping[str, Any]) -> Verdict:
    doc = json.loads(r["reasoning"])
    rule = str(r.get("rule_version") or "1")
    if isinstance(doc, list):
        return Verdict(r["claim_id"], r["verdict"], tuple(doc), r["inputs_hash"], rule_version=rule)
    return Verdict(r["claim_id"], r["verdict"], tuple(doc.get("trail", [])), r["inputs_hash"], rule_version=rule,
                   number=doc.get("number"), illustrative=bool(doc.get("illustrative", False)))


#: meta key prefix of a verdict's approval for publication (`Case.approve`)
APPROVAL = "approval."

P = ParamSpec("P")
R = TypeVar("R")


def _decoding(table: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A stored value that no longer decodes (JSON, WKB, a grade) is reported as a changed file, not a traceback."""
    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except OverflightError:
                raise
            except (ValueError, TypeError, KeyError, shapely.errors.ShapelyError) as exc:
                path = getattr(args[0], "path", "the case")
                raise OverflightError(f"{path}: a stored {table} row no longer decodes ({type(exc).__name__}: "
                                      f"{exc}): the file was changed outside overflight (run `overflight case "
                                      "verify`)") from None
        return inner
    return wrap


def _jl(v: Any) -> str:
    return json.dumps(json_value(v), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Case:
    """An open case. Use `Case.create` / `Case.open` (or `open_case`) and close it, or use ``with``.

    Parameters
    ----------
    path
        The ``.duckdb`` file, or ``postgresql://HOST/DB?case=NAME`` (see `overflight.case.pg_backend`).
    user
        Who the audit log records (default: ``$OVERFLIGHT_USER`` or the login name). On PostgreSQL the
        database role: ``user`` switches to that role (``SET ROLE``), by default the login role is recorded.
    read_only
        Open without writing (a DuckDB file stays exclusive against writers in other processes).
    """

    backend: duckdb_backend.DuckDBBackend | pg_backend.PgBackend

    def __init__(self, path: str | Path, *, user: str | None = None, read_only: bool = False,
                 _create: bool = False, _empty: bool = False) -> None:
        self.read_only = read_only
        self.schema_version = SCHEMA_VERSION
        self.meta_version = SCHEMA_VERSION
        self.structure_problems: list[str] = []
        self.url: str | None = None
        if pg_backend.is_url(path):
            con = pg_backend.connect_case(path, user=user, read_only=read_only, create=_create)
            self.con: Any = con
            self.url = con.loc.display
            self.path = Path(con.loc.case)
            self.user = con.role()  # the database role: what the database enforces is what the log records
            self.backend = pg_backend.PgBackend(con)
        else:
            self.path = Path(path)
            self.user = user or current_user()
            if not _create and not self.path.exists():
                raise InputError("no such case file (create it with `overflight case init`)", file=self.path)
            self.con = duckdb_backend.connect_file(self.path, read_only=read_only)
            self.backend = duckdb_backend.DuckDBBackend(self.path)
        if _create:
            if not _empty:  # _empty: no tables yet, `overflight.case.sync` makes them with the copy
                try:
                    self._init_schema()
                except BaseException:
                    self.close()
                    raise
        else:
            self._check_schema()

    # ------------------------------------------------------------ lifecycle

    @classmethod
    def create(cls, path: str | Path, *, user: str | None = None, exist_ok: bool = False) -> Case:
        """Create a new, empty case (InputError if it exists, unless ``exist_ok``)."""
        if pg_backend.is_url(path):
            try:
                return cls(path, user=user, _create=True)
            except InputError:
                if not exist_ok:
                    raise
                return cls(path, user=user)
        p = Path(path)
        if p.exists():
            if not exist_ok:
                raise InputError("case file already exists", file=p)
            return cls(p, user=user)
        p.parent.mkdir(parents=True, exist_ok=True)
        return cls(p, user=user, _create=True)

    @classmethod
    def open(cls, path: str | Path, *, user: str | None = None, read_only: bool = False) -> Case:
        """Open an existing case."""
        return cls(path, user=user, read_only=read_only)

    @classmethod
    def exists(cls, path: str | Path) -> bool:
        """Whether a case is at this location (a file, or a case in the database)."""
        if pg_backend.is_url(path):
            try:
                cls(path, read_only=True).close()
            except InputError:
                return False
            return True
        return Path(path).exists()

    def close(self) -> None:
        """Close the case (releases the file's lock, or the database connection)."""
        if getattr(self, "con", None) is not None:
            self.con.close()
            self.con = None  # type: ignore[assignment]

    def __enter__(self) -> Case:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Case({self.url or str(self.path)!r})"

    @property
    def location(self) -> str:
        """Where the case is: the file's path, or its URL (without the password)."""
        return self.url or str(self.path)

    def _init_schema(self) -> None:
        with self.transaction():
            self.backend.create_tables(self.con)
            self.schema_version = SCHEMA_VERSION
            self._audit([AuditEntry("create", "meta", str(self.path.name), None,
                                    {"schema_version": SCHEMA_VERSION, "overflight_version": __version__})])
            now = utcnow().isoformat()
            self._upsert("meta", [{"key": k, "value": v} for k, v in (
                ("schema_version", SCHEMA_VERSION), ("created", now), ("created_by", self.user),
                ("overflight_version", __version__))])

    def _check_schema(self) -> None:
        try:
            row = self._one("SELECT value FROM meta WHERE key = 'schema_version'")
        except self.backend.errors:
            self.close()
            raise OverflightError(f"{self.location} is a DuckDB file but not an overflight case" if self.url is None
                                  else f"{self.location}: the case's tables are missing or unreadable") from None
        if row is None or row[0] not in READABLE_VERSIONS:
            self.close()
            raise OverflightError(f"{self.path}: case schema version {row[0] if row else '?'} is not supported "
                                  f"(this overflight reads versions {', '.join(READABLE_VERSIONS)})")
        # The tables say which version the file is; meta must agree (`verify` reports a disagreement).
        present: dict[str, set[str]] = {}
        for t in TABLES:
            try:
                present[t] = {d[0] for d in self.con.execute(f"SELECT * FROM {t} LIMIT 0").description or []
                              } - self.backend.hidden_columns
            except self.backend.errors:
                continue
        self.schema_version = SCHEMA_VERSION if "hash" in present.get("audit_log", {"hash"}) else "1"
        self.meta_version = str(row[0])
        missing: list[str] = []
        for t in TABLES:
            if t not in present:
                missing.append(t)
            else:
                missing += [f"{t}.{c}" for c, _ in self._columns(t) if c not in present[t]]
        if missing:
            self.close()
            raise OverflightError(f"{self.path}: the case lacks {', '.join(missing)}: the file was changed outside "
                                  "overflight")
        self.structure_problems = [f"table {t} has column(s) overflight does not write: {', '.join(sorted(extra))}"
                                   for t in TABLES if (extra := present[t] - {c for c, _ in self._columns(t)})]
        if self.read_only:
            return
        problems = self.structure_problems + ([f"meta says schema version {row[0]} but the tables are version "
                                               f"{self.schema_version}"] if self.meta_version != self.schema_version
                                              else [])
        if problems:
            self.close()
            raise OverflightError(f"{self.path}: {'; '.join(problems)}: the file was changed outside overflight "
                                  "(run `overflight case verify`); it is not written to")
        if self.schema_version != SCHEMA_VERSION:
            try:
                self._upgrade()
            except BaseException:
                self.close()  # rolled back: the file is still schema 1
                raise

    def _upgrade(self) -> None:
        """Upgrade a schema-1 case (no audit chain) in place, in one transaction, with audit entries.

        The existing entries are hashed into the chain as they are; the state that schema 1 did not audit
        (the content of each track dataset, the ``created``/``created_by`` meta values) is recorded by
        ``baseline`` entries, so later changes to it are caught. What happened before the upgrade can be
        checked only as far as the old log recorded it (`overflight.case.runs.verify` says so).
        """
        with self.transaction():
            self._x("ALTER TABLE audit_log ADD COLUMN hash VARCHAR")
            rows = self.audit_rows()
            hashes = chain(rows)
            if rows:
                self.con.register("_ovf_chain", pa.table({
                    "seq": pa.array([int(r["seq"]) for r in rows], type=pa.int64()),
                    "hash": pa.array(hashes, type=pa.string())}))
                try:
                    self._x("UPDATE audit_log SET hash = _ovf_chain.hash FROM _ovf_chain "
                            "WHERE audit_log.seq = _ovf_chain.seq")
                finally:
                    self.con.unregister("_ovf_chain")
            old_head = f"{rows[-1]['seq']}:{hashes[-1]}" if rows else None
            self.schema_version = SCHEMA_VERSION
            meta = {r["key"]: r for r in self._rows("meta")}
            entries = [AuditEntry("upgrade", "meta", "schema_version", {"schema_version": "1", "audit_head": old_head},
                                  {"schema_version": SCHEMA_VERSION, "overflight_version": __version__})]
            entries += [AuditEntry("baseline", "meta", k, None, meta[k]) for k in ("created", "created_by")
                        if k in meta]
            for ds in [r[0] for r in self.con.execute("SELECT DISTINCT dataset FROM tracks ORDER BY dataset")
                       .fetchall()]:
                entries.append(AuditEntry("baseline", "tracks", ds, None, self._dataset_state(ds)))
            self._audit(entries, check_head=False)
            self._upsert("meta", [{"key": "schema_version", "value": SCHEMA_VERSION}])
            self.meta_version = SCHEMA_VERSION

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic write: commit when the block ends, roll back (and re-raise) when it raises."""
        if self.read_only:
            raise OverflightError(f"case {self.location} is open read-only")
        with self.backend.transaction(self.con):
            yield

    # ------------------------------------------------------------ low-level writes

    def _one(self, sql: str, params: Sequence[Any] | None = None) -> tuple[Any, ...] | None:
        # First row of a query, consuming the whole result.
        rows = self.con.execute(sql, params).fetchall() if params is not None else self.con.execute(sql).fetchall()
        return rows[0] if rows else None

    def _df(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        # A query's rows as a data frame (both backends give DuckDB's column types).
        return self.backend.df(self.con, sql, params)

    def _x(self, sql: str, params: Sequence[Any] | None = None) -> None:
        # Run a statement and consume its result (DuckDB refuses new work while a result is pending).
        self.con.execute(sql, params).fetchall() if params is not None else self.con.execute(sql).fetchall()

    def _audit(self, entries: Sequence[AuditEntry], *, check_head: bool = True) -> None:
        # Append entries to the hash chain and move the head recorded in meta (same transaction as the change).
        if not entries:
            return
        last2 = self._rows("audit_log", "WHERE seq >= (SELECT max(seq) - 1 FROM audit_log)", order="seq")
        last = last2[-1] if last2 else None
        if check_head:
            self._check_head(last2)
        start = int(last["seq"]) + 1 if last else 1
        prev = str(last["hash"]) if last and last.get("hash") else GENESIS
        now = self.backend.now(self.con)  # on PostgreSQL the server's clock, not the client's
        rows: list[dict[str, Any]] = []
        for i, e in enumerate(entries):
            r: dict[str, Any] = {"seq": start + i, "at_utc": now, "user_name": self.user, "action": e.action,
                                 "table_name": e.table, "key": e.key, "before": dumps(e.before),
                                 "after": dumps(e.after)}
            r["hash"] = prev = entry_hash(prev, r)
            rows.append(r)
        self._insert("audit_log", rows)
        self._x("DELETE FROM meta WHERE key = ?", [HEAD_KEY])
        self._x("INSERT INTO meta VALUES (?, ?)", [HEAD_KEY, f"{rows[-1]['seq']}:{prev}"])

    def _check_head(self, last2: Sequence[Mapping[str, Any]]) -> None:
        # Refuse to extend a chain whose end was cut or edited: a new entry would hide the damage.
        last = last2[-1] if last2 else None
        prev = str(last2[0]["hash"]) if len(last2) == 2 else GENESIS
        ok = self.audit_head() == (f"{last['seq']}:{last['hash']}" if last else None)
        if ok and last is not None:
            ok = entry_hash(prev, last) == last["hash"]
        if not ok:
            raise OverflightError(f"{self.path}: the audit log does not end at the head meta records: the file was "
                                  "changed outside overflight (run `overflight case verify`); nothing was written")

    def _columns(self, table: str) -> list[tuple[str, str]]:
        # The columns of a table in this file (a schema-1 audit log has no hash column).
        cols = TABLES[table]
        if table == "audit_log" and self.schema_version == "1":
            return [c for c in cols if c[0] != "hash"]
        return cols

    def _arrow(self, table: str, records: Sequence[Mapping[str, Any]]) -> pa.Table:
        cols = self._columns(table)
        return pa.table({c: pa.array([r.get(c) for r in records], type=_ARROW[t]) for c, t in cols})

    def _insert(self, table: str, records: Sequence[Mapping[str, Any]] | pa.Table) -> None:
        data = records if isinstance(records, pa.Table) else self._arrow(table, records)
        if data.num_rows == 0:
            return
        self.backend.insert_arrow(self.con, table, [c for c, _ in self._columns(table)], data)

    def _rows(self, table: str, where: str = "", params: Sequence[Any] = (), order: str | None = None
              ) -> list[dict[str, Any]]:
        cols = [c for c, _ in self._columns(table)]
        key = order or KEYS.get(table, cols[0])
        cur = self.con.execute(f"SELECT {', '.join(cols)} FROM {table} {where} ORDER BY {key}", list(params))
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

    def _upsert(self, table: str, records: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        """Insert or replace keyed records, auditing each insert/update (unchanged records are skipped)."""
        key = KEYS[table]
        ids = [str(r[key]) for r in records]
        existing = {str(r[key]): r for r in self._rows(table, f"WHERE {key} IN (SELECT unnest(?))", [ids])} \
            if ids else {}
        entries: list[AuditEntry] = []
        changed: list[Mapping[str, Any]] = []
        for r in records:
            before = existing.get(str(r[key]))
            after = {c: r.get(c) for c, _ in TABLES[table]}
            if before is not None and dumps(before) == dumps(after):
                continue
            entries.append(AuditEntry("update" if before else "insert", table, str(r[key]), before, after))
            changed.append(after)
        replaced = [str(r[key]) for r in changed if str(r[key]) in existing]
        if replaced:
            self._x(f"DELETE FROM {table} WHERE {key} IN (SELECT unnest(?))", [replaced])
        self._insert(table, changed)
        self._audit(entries)
        return {"inserted": len(changed) - len(replaced), "updated": len(replaced),
                "unchanged": len(records) - len(changed)}

    # ------------------------------------------------------------ records <-> rows

    @staticmethod
    def _source_row(s: Source) -> dict[str, Any]:
        return {"id": s.id, "name": s.name, "kind": s.kind, "link": s.link, "reliability": s.reliability,
                "notes": s.notes}

    @staticmethod
    def _claim_row(c: Claim) -> dict[str, Any]:
        return {"id": c.id, "statement": c.statement, "claimant": c.claimant, "claimant_type": c.claimant_type,
                "source_id": c.source_id, "date_made": c.date_made, "stance": c.stance, "what": c.what,
                "where_zones": _jl(list(c.where_zones)),
                "where_wkb": shapely.to_wkb(c.where_geometry) if c.where_geometry is not None else None,
                "window_start": c.window_start, "window_end": c.window_end, "count_min": c.count_min,
                "count_max": c.count_max, "answers": _jl(list(c.answers)), "credibility": c.credibility,
                "url": c.url, "notes": c.notes}

    @staticmethod
    def _observation_row(o: Observation) -> dict[str, Any]:
        return {"id": o.id, "kind": o.kind, "source_id": o.source_id, "lon": o.lon, "lat": o.lat,
                "time_start": o.time_start, "time_end": o.time_end, "precision_m": o.precision_m, "area": o.area,
                "credibility": o.credibility, "illustrative": o.illustrative, "description": o.description,
                "count": o.count, "properties": _jl(o.properties)}

    @staticmethod
    def _evidence_row(e: EvidenceItem) -> dict[str, Any]:
        return {"id": e.id, "claim_id": e.claim_id, "kind": e.kind, "direction": e.direction,
                "reasoning": e.reasoning, "reliability": e.reliability, "credibility": e.credibility,
                "source_id": e.source_id, "run_id": e.run_id, "result_row": e.result_row,
                "observation_id": e.observation_id}

    # ------------------------------------------------------------ writes

    def import_bundle(self, bundle: Bundle) -> dict[str, dict[str, int]]:
        """Store every record of a bundle in one transaction (references checked against the case first).

        Returns
        -------
        dict
            table → {"inserted", "updated", "unchanged"} counts.
        """
        zone_rows = self.con.execute("SELECT id, name FROM zones").fetchall()
        resolve(bundle, sources=self.sources(), observations={o.id: o for o in self.observations()},
                claims=self.claims().keys(), runs=[r.id for r in self.runs()],
                zones={str(i): str(n or "") for i, n in zone_rows} if zone_rows else None)
        all_claims = {**self.claims(), **{c.id: c for c in bundle.claims}}
        check_claim_links(all_claims, bundle.origin)
        self._check_run_links(bundle.evidence, bundle.origin)
        out: dict[str, dict[str, int]] = {}
        with self.transaction():
            out["sources"] = self._upsert("sources", [self._source_row(s) for s in bundle.sources])
            out["claims"] = self._upsert("claims", [self._claim_row(c) for c in bundle.claims])
            out["observations"] = self._upsert("observations", [self._observation_row(o)
                                                                for o in bundle.observations])
            out["evidence"] = self._upsert("evidence", [self._evidence_row(e) for e in bundle.evidence])
        return out

    def _check_run_links(self, items: Sequence[EvidenceItem],
                         origin: Mapping[tuple[str, str], tuple[str, Any]] | None = None,
                         extra: Mapping[str, int] | None = None) -> None:
        """Evidence that cites an analysis run must name a recorded run and, if a row, a row of its result."""
        cited = [e for e in items if e.run_id is not None or e.result_row is not None]
        if not cited:
            return
        n_rows = {r.id: r.n_rows for r in self.runs()} | dict(extra or {})
        for e in cited:
            f, row = (origin or {}).get(("evidence", e.id), (None, None))
            if e.run_id is None:
                raise InputError(f"evidence {e.id!r} names result row {e.result_row} but no run", file=f, row=row,
                                 field="run")
            if e.run_id not in n_rows:
                raise InputError(f"evidence {e.id!r} cites analysis run {e.run_id!r}, which is not in the case "
                                 f"(runs: {', '.join(sorted(n_rows)) or 'none'})", file=f, row=row, field="run")
            if e.result_row is not None and not 0 <= e.result_row < n_rows[e.run_id]:
                raise InputError(f"evidence {e.id!r} cites row {e.result_row} of run {e.run_id!r}, which has "
                                 f"{n_rows[e.run_id]} result row(s) (rows count from 0)", file=f, row=row,
                                 field="result_row")

    def import_files(self, paths: Iterable[str | Path]) -> dict[str, dict[str, int]]:
        """Read YAML/JSON/CSV files (see `overflight.evidence.importing`) and store them all-or-nothing."""
        return self.import_bundle(read_files(paths))

    def add_sources(self, sources: Iterable[Source]) -> dict[str, int]:
        """Insert or update sources."""
        with self.transaction():
            return self._upsert("sources", [self._source_row(s) for s in sources])

    def add_claims(self, claims: Iterable[Claim]) -> dict[str, int]:
        """Insert or update claims (their sources and answered claims must exist)."""
        return self.import_bundle(Bundle(claims=list(claims)))["claims"]

    def add_observations(self, observations: Iterable[Observation]) -> dict[str, int]:
        """Insert or update observations (their sources must exist)."""
        return self.import_bundle(Bundle(observations=list(observations)))["observations"]

    def add_evidence(self, items: Iterable[EvidenceItem]) -> dict[str, int]:
        """Insert or update evidence items (grades given as ""/0 are filled from source/observation)."""
        return self.import_bundle(Bundle(evidence=list(items)))["evidence"]

    def add_tracks(self, tracks: pd.DataFrame, *, dataset: str, source_id: str | None = None,
                   illustrative: bool = False, replace_dataset: bool = True) -> int:
        """Store a canonical track table (track_id, time, lon, lat, alt_m, extras) as one dataset.

        Extra columns are kept as JSON per row. With ``replace_dataset`` an existing dataset of that name
        is replaced. Returns the number of rows stored.
        """
        need = ["track_id", "time", "lon", "lat"]
        missing = [c for c in need if c not in tracks.columns]
        if missing:
            raise InputError(f"track table lacks column(s) {', '.join(missing)}", file=dataset, field=missing[0])
        if source_id is not None and source_id not in self.sources():
            raise InputError(f"unknown source {source_id!r}", file=dataset, field="source_id")
        n = len(tracks)
        extra_cols = [c for c in tracks.columns if c not in ("track_id", "time", "lon", "lat", "alt_m")]
        if extra_cols:
            extras = tracks[extra_cols].to_json(orient="records", lines=True, date_format="iso")
            extras_list: list[str | None] = list(extras.strip().split("\n")) if n else []
        else:
            extras_list = [None] * n
        times = pd.to_datetime(tracks["time"], utc=True)
        table = pa.table({
            "dataset": pa.array(np.full(n, dataset, dtype=object), type=pa.string()),
            "track_id": pa.array(tracks["track_id"].astype(str).to_numpy(dtype=object), type=pa.string()),
            "time": pa.array(times.to_numpy(dtype="datetime64[us]"), type=pa.timestamp("us", tz="UTC")),
            "lon": pa.array(tracks["lon"].to_numpy(dtype=float), type=pa.float64()),
            "lat": pa.array(tracks["lat"].to_numpy(dtype=float), type=pa.float64()),
            "alt_m": pa.array(tracks["alt_m"].to_numpy(dtype=float) if "alt_m" in tracks else np.full(n, np.nan),
                              type=pa.float64(), from_pandas=True),
            "source_id": pa.array([source_id] * n, type=pa.string()),
            "illustrative": pa.array(np.full(n, illustrative), type=pa.bool_()),
            "extras": pa.array(extras_list, type=pa.string()),
        })
        with self.transaction():
            before = self._one("SELECT count(*) FROM tracks WHERE dataset = ?", [dataset])
            if replace_dataset:
                self._x("DELETE FROM tracks WHERE dataset = ?", [dataset])
            self._insert("tracks", table)
            # total_rows and content_sha256 describe the stored dataset as `verify` reads it back.
            self._audit([AuditEntry("import", "tracks", dataset, {"rows": int(before[0]) if before else 0},
                                    {"rows": n, "tracks": int(tracks["track_id"].nunique()),
                                     "sha256": _fingerprint(tracks),
                                     "source_id": source_id, "illustrative": illustrative,
                                     **self._dataset_state(dataset)})])
        return n

    def add_zones(self, zoneset: ZoneSet) -> dict[str, int]:
        """Store the zones of a `overflight.zones.ZoneSet` with its provenance (same id → replaced)."""
        p = zoneset.provenance
        rows = [{"id": z.id, "name": z.name, "kind": z.kind, "geometry": shapely.to_wkb(z.geometry),
                 "floor_m": z.floor_m, "ceiling_m": z.ceiling_m, "valid_from": z.valid_from, "valid_to": z.valid_to,
                 "properties": _jl(dict(z.properties)), "set_name": p.name, "set_version": p.version,
                 "set_licence": p.licence, "set_source": p.source, "set_sha256": p.sha256, "set_kind": p.kind,
                 "set_point_of_view": p.point_of_view, "set_notes": p.notes} for z in zoneset]
        with self.transaction():
            return self._upsert("zones", rows)

    def record_run(self, kind: str, params: Mapping[str, Any], inputs: Mapping[str, str],
                   zoneset_provenance: Any, results_df: pd.DataFrame,
                   evidence: Iterable[EvidenceItem] = (), *, started: datetime | None = None) -> str:
        """Record an analysis run, its result table and the evidence it produced, in one transaction.

        Parameters
        ----------
        kind
            The analysis kind (``attribution``, ``transit``, ``prism``, …); `verify` re-runs it through
            the function registered with `overflight.case.runs.register_analysis`.
        params
            JSON-able parameters, enough for the registered function to recompute the results.
        inputs
            name → SHA-256 of each input (see `Case.table_hash`).
        zoneset_provenance
            The boundary set's `Provenance` (or a mapping, or None).
        results_df
            The result table; stored in canonical form and hashed.
        evidence
            Evidence items; their ``run_id`` is set to the new run id.

        Returns
        -------
        str
            The run id (``<kind>-<n>``).
        """
        prov = zoneset_provenance.as_dict() if hasattr(zoneset_provenance, "as_dict") else \
            (dict(zoneset_provenance) if zoneset_provenance is not None else None)
        cols, rows = canonical_rows(results_df)
        result_hash = hash_rows(cols, rows)
        params_json = json.dumps(json_value(dict(params)), sort_keys=True)
        with self.transaction():
            n_row = self._one("SELECT count(*) FROM analysis_runs WHERE kind = ?", [kind])
            n = int(n_row[0]) + 1 if n_row else 1
            run_id = f"{kind}-{n}"
            while self._one("SELECT 1 FROM analysis_runs WHERE id = ?", [run_id]):
                n += 1
                run_id = f"{kind}-{n}"
            rec = {"id": run_id, "kind": kind, "parameters": params_json,
                   "inputs": json.dumps(dict(inputs), sort_keys=True), "zoneset": _jl(prov) if prov else None,
                   "boundary_set": prov.get("name") if prov else None,
                   "boundary_version": prov.get("version") if prov else None,
                   "overflight_version": __version__, "started": started or utcnow(), "finished": utcnow(),
                   "result_columns": json.dumps(cols), "result_hash": result_hash, "n_rows": len(rows),
                   "user_name": self.user}
            self._insert("analysis_runs", [rec])
            self._insert("analysis_results", pa.table({
                "run_id": pa.array([run_id] * len(rows), type=pa.string()),
                "row_no": pa.array(np.arange(len(rows)), type=pa.int64()),
                "data": pa.array([json.dumps(r, separators=(",", ":"), ensure_ascii=False) for r in rows],
                                 type=pa.string())}))
            self._audit([AuditEntry("record_run", "analysis_runs", run_id, None, rec)])
            items = [replace(e, run_id=run_id) for e in evidence]
            self._check_run_links(items, extra={run_id: len(rows)})
            if items:
                claims = self.claims()
                for e in items:
                    if e.claim_id not in claims:
                        raise InputError(f"evidence {e.id!r} names unknown claim {e.claim_id!r}", file=kind,
                                         field="claim_id")
                self._upsert("evidence", [self._evidence_row(e) for e in items])
        return run_id

    def approve(self, claim_id: str) -> dict[str, Any]:
        """Approve a claim's stored verdict for publication, recording who (`user`) and when; audited.

        On PostgreSQL only a reviewer may (row-level security); the approval names the verdict and its inputs
        hash, so `verify` reports an approval whose verdict has changed since.
        """
        v = self.verdicts().get(claim_id)
        if v is None:
            raise InputError(f"claim {claim_id!r} has no stored verdict to approve (run `overflight case evaluate`)",
                             field="claim")
        doc = {"claim_id": claim_id, "verdict": v.verdict, "inputs_hash": v.inputs_hash,
               "rule_version": v.rule_version, "approved_by": self.user, "approved_at": utcnow().isoformat()}
        with self.transaction():
            self._upsert("meta", [{"key": f"{APPROVAL}{claim_id}", "value": json.dumps(doc, sort_keys=True)}])
        return doc

    def approvals(self) -> dict[str, dict[str, Any]]:
        """Claim id → its approval for publication (verdict, inputs hash, approved_by, approved_at)."""
        return {k.removeprefix(APPROVAL): json.loads(v) for k, v in self.meta().items() if k.startswith(APPROVAL)}

    def size_bytes(self) -> int:
        """Storage the case takes (the file; on PostgreSQL the shared tables of every case in the database)."""
        return self.backend.size_bytes(self.con)

    def verdict_rule(self) -> str:
        """The verdict rule this case's stored verdicts were derived under (the latest for a case without any)."""
        from overflight.evidence.verdicts import RULE_VERSION

        rules = sorted({str(r[0]) for r in self.con.execute("SELECT DISTINCT rule_version FROM verdicts "
                                                          "WHERE rule_version IS NOT NULL").fetchall()})
        return rules[-1] if rules else RULE_VERSION

    def evaluate(self, rule: str | None = None) -> dict[str, Verdict]:
        """Derive every claim's verdict from the evidence (see `overflight.evidence.verdicts`) and store them.

        ``rule`` is the verdict rule version (``"1"``, ``"2"`` or ``"latest"``); by default the rule the
        case's verdicts were stored under, and the latest rule for a case without verdicts. A change of
        rule is recorded in the audit log.
        """
        from overflight.evidence.facts import item_facts
        from overflight.evidence.verdicts import RULE_VERSION
        from overflight.evidence.verdicts import evaluate_claims as evaluate

        before = self.verdict_rule() if self._one("SELECT 1 FROM verdicts LIMIT 1") else None
        use = (before or RULE_VERSION) if rule is None else (RULE_VERSION if rule == "latest" else str(rule))
        evidence = self.evidence()
        verdicts = evaluate(self.claims(), evidence, facts=item_facts(self, evidence), rule=use)
        now = utcnow()
        rows = [{"claim_id": v.claim_id, "verdict": v.verdict, "reasoning": _reasoning_json(v),
                 "inputs_hash": v.inputs_hash, "rule_version": v.rule_version, "evaluated_at": now,
                 "overflight_version": __version__} for v in verdicts.values()]
        with self.transaction():
            old = {r["claim_id"]: r for r in self._rows("verdicts")}
            stale = sorted(set(old) - set(verdicts))
            if stale:
                self._x("DELETE FROM verdicts WHERE claim_id IN (SELECT unnest(?))", [stale])
            keep = ("verdict", "inputs_hash", "reasoning", "rule_version")
            changed = [r for r in rows if r["claim_id"] not in old
                       or any(old[r["claim_id"]][k] != r[k] for k in keep)]
            if before is not None and before != use:
                self._audit([AuditEntry("evaluate", "verdicts", f"rule {use}", {"rule_version": before},
                                        {"rule_version": use, "verdicts_changed": sorted(
                                            r["claim_id"] for r in changed if r["claim_id"] in old
                                            and old[r["claim_id"]]["verdict"] != r["verdict"])})])
            if changed:
                self._upsert("verdicts", changed)
            self._audit([AuditEntry("delete", "verdicts", c, old[c], None) for c in stale])
        return verdicts

    # ------------------------------------------------------------ reads

    @_decoding("sources")
    def sources(self) -> dict[str, Source]:
        """Id → Source."""
        return {r["id"]: Source(**r) for r in self._rows("sources")}

    @_decoding("claims")
    def claims(self) -> dict[str, Claim]:
        """Id → Claim, ordered by id."""
        out: dict[str, Claim] = {}
        for r in self._rows("claims"):
            wkb = r.pop("where_wkb")
            r["where_geometry"] = shapely.from_wkb(wkb) if wkb is not None else None
            r["where_zones"] = tuple(json.loads(r["where_zones"] or "[]"))
            r["answers"] = tuple(json.loads(r["answers"] or "[]"))
            r["notes"] = r["notes"] or ""
            out[r["id"]] = Claim(**r)
        return out

    @_decoding("observations")
    def observations(self, kinds: Sequence[str] | None = None) -> list[Observation]:
        """Observations (optionally of some kinds), ordered by id."""
        where, params = ("WHERE kind IN (SELECT unnest(?))", [list(kinds)]) if kinds else ("", [])
        out = []
        for r in self._rows("observations", where, params):
            r["properties"] = json.loads(r["properties"] or "{}")
            r["description"] = r["description"] or ""
            out.append(Observation(**r))
        return out

    def observations_frame(self, kinds: Sequence[str] | None = None) -> pd.DataFrame:
        """Observations as a DataFrame (lon, lat, time_start, … one row per observation, ordered by id)."""
        cols = ", ".join(c for c, _ in TABLES["observations"])
        where, params = ("WHERE kind IN (SELECT unnest(?))", [list(kinds)]) if kinds else ("", [])
        return self._df(f"SELECT {cols} FROM observations {where} ORDER BY id", params)

    @_decoding("evidence")
    def evidence(self, claim_id: str | None = None) -> list[EvidenceItem]:
        """Evidence items (optionally for one claim), ordered by id."""
        where, params = ("WHERE claim_id = ?", [claim_id]) if claim_id else ("", [])
        out = []
        for r in self._rows("evidence", where, params):
            r["result_row"] = int(r["result_row"]) if r["result_row"] is not None else None
            out.append(EvidenceItem(**r))
        return out

    @_decoding("verdicts")
    def verdicts(self) -> dict[str, Verdict]:
        """The stored verdicts (claim id → Verdict)."""
        return {r["claim_id"]: _verdict_from_row(r) for r in self._rows("verdicts")}

    def rule_versions(self) -> dict[str, str]:
        """Claim id → the version of the verdict rule its stored verdict was derived under."""
        return {str(r[0]): str(r[1]) for r in self.con.execute("SELECT claim_id, rule_version FROM verdicts")
                .fetchall()}

    def tracks(self, dataset: str | None = None, *, extras: bool = False) -> pd.DataFrame:
        """Stored tracks as a canonical track table (plus dataset, source_id, illustrative columns).

        With ``extras`` the extra columns stored with the tracks come back as columns too.
        """
        where, params = ("WHERE dataset = ?", [dataset]) if dataset else ("", [])
        df = self._df("SELECT track_id, time, lon, lat, alt_m, dataset, source_id, illustrative, extras FROM tracks "
                      f"{where} ORDER BY dataset, track_id, time", params)
        df["time"] = pd.to_datetime(df["time"], utc=True).astype("datetime64[ns, UTC]")
        raw = df.pop("extras")
        if extras and raw.notna().any():
            ext = pd.json_normalize([json.loads(x) if isinstance(x, str) else {} for x in raw])
            df = pd.concat([df, ext.set_index(df.index)], axis=1)
        return df

    @_decoding("zones")
    def zones(self, ids: Sequence[str] | None = None) -> ZoneSet:
        """The stored zones as an `overflight.zones.ZoneSet` (all, or these ids in this order).

        Zones from several boundary sets come back as one set whose provenance joins theirs.
        """
        from overflight.zones import Provenance, Zone, ZoneSet

        rows = self._rows("zones", order="set_name, id")
        if not rows:
            raise InputError("the case holds no zones (import some with `overflight case import --zones`)",
                             file=self.path, field="zones")
        groups: dict[tuple[Any, ...], list[Zone]] = {}
        for r in rows:
            key = (r["set_name"], r["set_version"], r["set_licence"], r["set_source"], r["set_sha256"],
                   r["set_kind"], r["set_point_of_view"], r["set_notes"])
            groups.setdefault(key, []).append(Zone(
                id=r["id"], name=r["name"], kind=r["kind"], geometry=shapely.from_wkb(r["geometry"]),
                floor_m=r["floor_m"], ceiling_m=r["ceiling_m"], valid_from=r["valid_from"], valid_to=r["valid_to"],
                properties=json.loads(r["properties"] or "{}")))
        zs: ZoneSet | None = None
        for key, zones in groups.items():
            part = ZoneSet(zones, Provenance(name=key[0], version=key[1], licence=key[2], source=key[3],
                                             sha256=key[4], kind=key[5] or "user", point_of_view=key[6],
                                             notes=key[7] or ""))
            zs = part if zs is None else zs.concat(part)
        assert zs is not None
        return zs.select(list(ids)) if ids else zs

    @_decoding("analysis_runs")
    def runs(self) -> list[RunRecord]:
        """Every recorded analysis run, in the order they were recorded."""
        out = []
        for r in self._rows("analysis_runs", order="started, id"):
            out.append(RunRecord(
                id=r["id"], kind=r["kind"], parameters=json.loads(r["parameters"]), inputs=json.loads(r["inputs"]),
                zoneset=json.loads(r["zoneset"]) if r["zoneset"] else None,
                overflight_version=r["overflight_version"], started=r["started"], finished=r["finished"],
                result_columns=json.loads(r["result_columns"]), result_hash=r["result_hash"],
                n_rows=int(r["n_rows"]), user=r["user_name"]))
        return out

    def run(self, run_id: str) -> RunRecord:
        """One run by id (InputError when unknown)."""
        for r in self.runs():
            if r.id == run_id:
                return r
        raise InputError(f"no analysis run {run_id!r} in the case", file=self.path, field="run")

    @_decoding("analysis_results")
    def run_rows(self, run_id: str) -> tuple[list[str], list[list[Any]]]:
        """The stored result of a run in canonical form: (columns, rows)."""
        cols = self.run(run_id).result_columns
        data = self.con.execute("SELECT data FROM analysis_results WHERE run_id = ? ORDER BY row_no",
                                [run_id]).fetchall()
        return cols, [json.loads(d[0]) for d in data]

    def run_results(self, run_id: str) -> pd.DataFrame:
        """The stored result table of a run (values in canonical form: times as ISO text)."""
        cols, rows = self.run_rows(run_id)
        return pd.DataFrame(rows, columns=cols)

    def audit(self) -> pd.DataFrame:
        """The audit log, oldest first."""
        cols = ", ".join(c for c, _ in self._columns("audit_log"))
        return self._df(f"SELECT {cols} FROM audit_log ORDER BY seq")

    def audit_rows(self) -> list[dict[str, Any]]:
        """The audit log as records (every column; ``hash`` is None in a schema-1 file), oldest first."""
        rows = self._rows("audit_log", order="seq")
        for r in rows:
            r.setdefault("hash", None)
        return rows

    def records(self, table: str) -> list[dict[str, Any]]:
        """Every row of a table as a record (column → value), ordered by its key."""
        if table not in TABLES:
            raise InputError(f"no table {table!r} in a case", field="table")
        return self._rows(table)

    def result_numbering(self) -> list[tuple[str, int]]:
        """(run id, row number) of every stored result row."""
        return [(str(a), int(b)) for a, b in
                self.con.execute("SELECT run_id, row_no FROM analysis_results").fetchall()]

    def audit_head(self) -> str | None:
        """The head of the audit chain as recorded in meta (``<seq>:<hash>``), or None (schema 1)."""
        row = self._one("SELECT value FROM meta WHERE key = ?", [HEAD_KEY])
        return str(row[0]) if row else None

    def table_arrow(self, table: str, where: str = "", params: Sequence[Any] = ()) -> pa.Table:
        """A table's rows as Arrow, with the column types of `overflight.case.schema` (unordered)."""
        cols = self._columns(table)
        return self.backend.select_arrow(self.con, f"SELECT {', '.join(c for c, _ in cols)} FROM {table} {where}",
                                         params, pa.schema([(c, _ARROW[t]) for c, t in cols]))

    def _dataset_state(self, dataset: str) -> dict[str, Any]:
        # What the audit log records of a stored track dataset: its row count and content hash.
        tbl = self.table_arrow("tracks", "WHERE dataset = ?", [dataset])
        return {"total_rows": tbl.num_rows, "content_sha256": hash_arrow(tbl)}

    def dataset_states(self) -> dict[str, dict[str, Any]]:
        """Dataset → its row count and content hash, for every stored track dataset."""
        names = [r[0] for r in self.con.execute("SELECT DISTINCT dataset FROM tracks ORDER BY dataset").fetchall()]
        return {str(d): self._dataset_state(d) for d in names}

    def audit_seqs(self) -> list[int]:
        """The audit log's sequence numbers, in order."""
        return [int(r[0]) for r in self.con.execute("SELECT seq FROM audit_log ORDER BY seq").fetchall()]

    def counts(self) -> dict[str, int]:
        """Row count of every table."""
        out = {}
        for t in TABLES:
            row = self._one(f"SELECT count(*) FROM {t}")
            out[t] = int(row[0]) if row else 0
        return out

    def table_hash(self, table: str, where: str = "", params: Sequence[Any] = ()) -> str:
        """SHA-256 of a table's content (ordered by its key), an input hash for `record_run`."""
        if table not in TABLES:
            raise InputError(f"no table {table!r} in a case", field="table")
        cols = [c for c, _ in TABLES[table]]
        order = KEYS.get(table) or ", ".join(cols[:3])
        df = self._df(f"SELECT {', '.join(cols)} FROM {table} {where} ORDER BY {order}", list(params))
        return hash_frame(df)

    def meta(self) -> dict[str, str]:
        """The case's metadata (schema version, creation time and user, overflight version)."""
        return {r[0]: r[1] for r in self.con.execute("SELECT key, value FROM meta ORDER BY key").fetchall()}

    #: settings a case keeps for its exports (``overflight case config set KEY VALUE``)
    CONFIG_KEYS = ("publisher.name", "publisher.url", "review.url")

    def config(self) -> dict[str, str]:
        """The case's settings (publisher.name, publisher.url, review.url: what ClaimReview exports name)."""
        return {k.removeprefix("config."): v for k, v in self.meta().items() if k.startswith("config.")}

    def set_config(self, key: str, value: str | None) -> None:
        """Set (or, with None, remove) one setting of `CONFIG_KEYS`; audited like every write."""
        if key not in self.CONFIG_KEYS:
            raise InputError(f"unknown setting {key!r}; settings: {', '.join(self.CONFIG_KEYS)}", field="key")
        old = self.config().get(key)
        with self.transaction():
            self._x("DELETE FROM meta WHERE key = ?", [f"config.{key}"])
            if value is not None:
                self._x("INSERT INTO meta VALUES (?, ?)", [f"config.{key}", value])
            self._audit([AuditEntry("config", "meta", key, {"value": old} if old is not None else None,
                                    {"value": value} if value is not None else None)])

    def verify(self, *, expect: str | None = None) -> VerifyReport:
        """Check the case (see `overflight.case.runs.verify`); ``expect``: a head hash anchored elsewhere."""
        from overflight.case.runs import verify

        return verify(self, expect=expect)

    def evidence_hash(self) -> str:
        """SHA-256 of the claims and evidence (what verdicts are derived from)."""
        return hash_json([self.table_hash("claims"), self.table_hash("evidence")])


def open_case(path: str | Path, *, user: str | None = None, create: bool = False, read_only: bool = False) -> Case:
    """Open a case: a ``.duckdb`` file or ``postgresql://HOST/DB?case=NAME`` (creating it when ``create``)."""
    if create and not Case.exists(path):
        return Case.create(path, user=user)
    return Case.open(path, user=user, read_only=read_only)


__all__ = ["Case", "open_case"]
