"""Analysis runs: canonical result hashing, the registry of re-runnable analysis kinds, and `verify`.

Every analysis that puts evidence into a case records a run (`Case.record_run`): its kind, parameters,
input hashes, the boundary set and version, the overflight version and the SHA-256 of its result table.
`verify` re-runs every recorded run through the function registered for its kind and compares hashes,
checks the stored result rows against the recorded hash (tampering), re-derives every verdict, checks that
evidence citing a run cites a row of a run that verifies, and (`overflight.case.integrity`) checks the audit
log's hash chain and every table against the log.

Hook for other analyses
-----------------------
An analysis module registers itself when imported::

    from overflight.case.runs import register_analysis
    register_analysis("transit", rerun_transit, inputs=transit_inputs)

where ``rerun_transit(case, params) -> pandas.DataFrame`` recomputes the result table from the case
alone, and the optional ``transit_inputs(case, params) -> {name: sha256}`` recomputes the input hashes.
`verify` imports the module named in `KNOWN_MODULES` for a kind that is not registered yet, so a kind
whose module is listed there is found without the caller importing it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import import_module
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from overflight.errors import OverflightError

if TYPE_CHECKING:
    from overflight.case.store import Case

AnalysisFn = Callable[["Case", Mapping[str, Any]], pd.DataFrame]
InputsFn = Callable[["Case", Mapping[str, Any]], Mapping[str, str]]

_REGISTRY: dict[str, tuple[AnalysisFn, InputsFn | None]] = {}

#: kind -> module that calls `register_analysis` for it on import
KNOWN_MODULES: dict[str, str] = {
    "attribution": "overflight.analysis.attribution",
    "observation_match": "overflight.evidence.matching",
    "transit": "overflight.analysis.case_runs",
    "prism": "overflight.analysis.case_runs",
    "monitor_coverage": "overflight.monitor.coverage",
    "coverage_check": "overflight.monitor.coverage",
}


def register_analysis(kind: str, fn: AnalysisFn, *, inputs: InputsFn | None = None) -> None:
    """Make an analysis kind re-runnable by `verify`.

    Parameters
    ----------
    kind
        The kind recorded with `Case.record_run`.
    fn
        ``fn(case, params) -> DataFrame``: recomputes the result table from the case and the parameters.
    inputs
        Optional ``inputs(case, params) -> {name: sha256}``: recomputes the input hashes, so `verify` can
        tell "the inputs changed" from "the analysis changed".
    """
    _REGISTRY[kind] = (fn, inputs)


def get_analysis(kind: str) -> tuple[AnalysisFn, InputsFn | None] | None:
    """The registered functions for a kind (importing its known module first), or None."""
    if kind not in _REGISTRY and kind in KNOWN_MODULES:
        try:
            import_module(KNOWN_MODULES[kind])
        except ImportError:
            return None
    return _REGISTRY.get(kind)


# ---------------------------------------------------------------- canonical results and hashes


def _canon(v: Any) -> Any:
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        x = float(v)
        if math.isnan(x):
            return None
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        # 12 significant digits: stable across platforms' last-bit differences, far finer than any input.
        return float(f"{x:.12g}")
    if isinstance(v, pd.Timestamp | datetime):
        ts = pd.Timestamp(v)
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        return str(ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, str):
        return v
    if isinstance(v, bytes | bytearray):
        return bytes(v).hex()
    if isinstance(v, Mapping):
        return {str(k): _canon(x) for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))}
    if isinstance(v, list | tuple | np.ndarray):
        return [_canon(x) for x in v]
    if isinstance(v, np.generic):
        return _canon(v.item())
    return str(v)


def canonical_rows(df: pd.DataFrame) -> tuple[list[str], list[list[Any]]]:
    """Column names and rows as JSON-native values (floats to 12 significant digits, times ISO UTC, NaN → null).

    Stored results are kept in this form, so a result read back hashes like the one computed.
    """
    cols = [str(c) for c in df.columns]
    columns: list[list[Any]] = []
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_float_dtype(s.dtype):
            arr = s.to_numpy(dtype=float, na_value=np.nan)
            txt = np.char.mod("%.12g", arr).tolist()
            columns.append([None if math.isnan(a) else ("inf" if a == math.inf else "-inf" if a == -math.inf
                            else float(t)) for a, t in zip(arr.tolist(), txt, strict=True)])
        else:
            columns.append([_canon(v) for v in s.tolist()])
    rows = [list(r) for r in zip(*columns, strict=True)] if columns else [[] for _ in range(len(df))]
    return cols, rows


def hash_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """SHA-256 of canonical columns and rows."""
    h = hashlib.sha256()
    h.update(json.dumps(list(columns), separators=(",", ":")).encode())
    for r in rows:
        h.update(b"\n")
        h.update(json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode())
    return h.hexdigest()


def hash_frame(df: pd.DataFrame) -> str:
    """SHA-256 of a data frame's canonical content (see `canonical_rows`); the row order matters."""
    cols, rows = canonical_rows(df)
    return hash_rows(cols, rows)


def _is_bytes(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t))


def hash_arrow(tbl: pa.Table) -> str:
    """SHA-256 of an Arrow table's content, whatever the order its rows come in (they are sorted first).

    Column by column (vectorised, no per-row Python): the name, the validity bitmap, then the values as fixed
    little-endian bytes (times as int64 microseconds), strings as their byte lengths and bytes.
    """
    h = hashlib.sha256()
    if tbl.num_rows:
        # Any fixed total order will do: fixed-width columns first sort fastest (times are nearly unique).
        fixed = [c for c in tbl.column_names if not _is_bytes(tbl.schema.field(c).type)]
        rest = [c for c in tbl.column_names if c not in fixed]
        tbl = tbl.sort_by([(c, "ascending") for c in fixed + rest])
    for name in tbl.column_names:
        arr = tbl.column(name).combine_chunks()
        h.update(b"\x00" + name.encode() + b"\x00")
        h.update(np.packbits(np.asarray(arr.is_valid(), dtype=bool)).tobytes())
        t = arr.type
        if _is_bytes(t):
            big = pc.cast(pc.fill_null(arr, b"" if pa.types.is_binary(t) else ""), pa.large_binary())
            offsets = np.frombuffer(big.buffers()[1], dtype="<i8")[big.offset:big.offset + len(big) + 1]
            data = big.buffers()[2]
            h.update(np.diff(offsets).astype("<i8").tobytes())
            if data is not None:
                h.update(memoryview(data)[int(offsets[0]):int(offsets[-1])])
        else:
            if pa.types.is_timestamp(t):
                arr = pc.cast(arr, pa.timestamp("us", tz="UTC")).cast(pa.int64())
            filled = pc.fill_null(arr, False if pa.types.is_boolean(t) else 0)
            vals = np.asarray(filled.to_numpy(zero_copy_only=False))
            h.update(vals.astype(vals.dtype.newbyteorder("<")).tobytes())
    return h.hexdigest()


def hash_json(obj: Any) -> str:
    """SHA-256 of the canonical JSON of any JSON-able value."""
    return hashlib.sha256(json.dumps(_canon(obj), sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# ---------------------------------------------------------------- records and verify


@dataclass(frozen=True)
class RunRecord:
    """One recorded analysis run (a row of ``analysis_runs``)."""

    id: str
    kind: str
    parameters: dict[str, Any]
    inputs: dict[str, str]
    zoneset: dict[str, Any] | None
    overflight_version: str
    started: datetime
    finished: datetime
    result_columns: list[str]
    result_hash: str
    n_rows: int
    user: str


@dataclass(frozen=True)
class Check:
    """One verify check: what was checked, whether it passed, and why not."""

    what: str
    key: str
    ok: bool
    detail: str


@dataclass
class VerifyReport:
    """Everything `verify` checked; ``ok`` is False when any check failed."""

    checks: list[Check] = field(default_factory=list)
    #: the head of the audit chain recomputed from the log (``<seq>:<sha256>``), to be kept outside the file
    head: str | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def lines(self) -> list[str]:
        """One line per check, failures first."""
        return [f"{'ok  ' if c.ok else 'FAIL'} {c.what}{' ' + c.key if c.key else ''}: {c.detail}"
                for c in sorted(self.checks, key=lambda c: c.ok)]


def _diff(cols_a: list[str], rows_a: list[list[Any]], cols_b: list[str], rows_b: list[list[Any]]) -> str:
    if cols_a != cols_b:
        return f"columns differ: recorded {cols_a} vs now {cols_b}"
    if len(rows_a) != len(rows_b):
        return f"{len(rows_a)} rows recorded, {len(rows_b)} now"
    bad = [i for i, (a, b) in enumerate(zip(rows_a, rows_b, strict=True)) if a != b]
    if not bad:
        return "same values, different hash"
    i = bad[0]
    col = next(c for c, x, y in zip(cols_a, rows_a[i], rows_b[i], strict=True) if x != y)
    j = cols_a.index(col)
    return (f"{len(bad)} row(s) differ; first: row {i} column {col!r}: recorded {rows_a[i][j]!r}, "
            f"now {rows_b[i][j]!r}")


def rederive_verdicts(case: Case, stored: Mapping[str, Any]) -> dict[str, Any]:
    """Every claim's verdict re-derived under the rule its stored verdict was derived with.

    Claims without a stored verdict are derived under the case's rule (`Case.verdict_rule`).
    """
    from overflight.evidence.facts import item_facts
    from overflight.evidence.verdicts import evaluate_claims as evaluate

    claims, evidence = case.claims(), case.evidence()
    facts = item_facts(case, evidence)
    rules = {str(getattr(v, "rule_version", "1")) for v in stored.values()} or {case.verdict_rule()}
    by_rule = {rule: evaluate(claims, evidence, facts=facts, rule=rule) for rule in sorted(rules)}
    default = case.verdict_rule()
    out = {}
    for cid in claims:
        s = stored.get(cid)
        rule = str(s.rule_version) if s is not None else default
        out[cid] = (by_rule.get(rule) or evaluate(claims, evidence, facts=facts, rule=rule))[cid]
    return out


def _verify_runs(case: Case, rep: VerifyReport) -> dict[str, bool]:
    # Stored results against the recorded hash, inputs and a re-run; run id -> whether every check passed.
    ok: dict[str, bool] = {}
    for run in case.runs():
        first = len(rep.checks)
        stored_cols, stored_rows = case.run_rows(run.id)
        stored_hash = hash_rows(stored_cols, stored_rows)
        rep.checks.append(Check("stored results", run.id, stored_hash == run.result_hash,
                                "match the recorded hash" if stored_hash == run.result_hash else
                                "stored result rows do not match the recorded hash (changed after the run)"))
        entry = get_analysis(run.kind)
        if entry is None:
            rep.checks.append(Check("re-run", run.id, False,
                                    f"no analysis registered for kind {run.kind!r}: cannot re-derive"))
        else:
            fn, inputs_fn = entry
            if inputs_fn is not None:
                try:
                    now_inputs = dict(inputs_fn(case, run.parameters))
                except OverflightError as exc:
                    now_inputs = {"error": str(exc)}
                changed = sorted(k for k in set(now_inputs) | set(run.inputs)
                                 if now_inputs.get(k) != run.inputs.get(k))
                rep.checks.append(Check("inputs", run.id, not changed, "unchanged" if not changed
                                        else f"changed since the run: {', '.join(changed)}"))
            try:
                df = fn(case, run.parameters)
            except OverflightError as exc:
                rep.checks.append(Check("re-run", run.id, False, f"failed: {exc}"))
            else:
                cols, rows = canonical_rows(df)
                same = hash_rows(cols, rows) == run.result_hash
                rep.checks.append(Check("re-run", run.id, same, f"{run.kind}: same result ({run.n_rows} rows)"
                                        if same else f"{run.kind}: " + _diff(stored_cols, stored_rows, cols, rows)))
        ok[run.id] = all(c.ok for c in rep.checks[first:])
    return ok


def _verify_verdicts(case: Case, rep: VerifyReport) -> None:
    # Re-derive every verdict from the stored claims and evidence and compare with the stored one. A verdict
    # stored under rule 1 by overflight <= 0924fd0 carries the older inputs hash (scheme 1): it is checked
    # against that scheme and reported as such.
    from overflight.evidence.verdicts import evaluate_claims as evaluate
    from overflight.evidence.verdicts import hash_scheme

    stored = case.verdicts()
    derived = rederive_verdicts(case, stored)
    rules = {cid: s.rule_version for cid, s in stored.items()}
    legacy: dict[str, Any] | None = None
    for cid, v in derived.items():
        s = stored.get(cid)
        if s is None:
            rep.checks.append(Check("verdict", cid, True, f"not evaluated yet (would be {v.verdict})"))
            continue
        if s.verdict == v.verdict and s.inputs_hash != v.inputs_hash and rules.get(cid) == "1":
            if legacy is None:
                with hash_scheme(1):
                    legacy = evaluate(case.claims(), case.evidence(), rule="1")
            if s.inputs_hash == legacy[cid].inputs_hash:
                rep.checks.append(Check("verdict", cid, True, f"{v.verdict} (re-derived; stored with the rule-1 "
                                        "inputs hash, which covers the evidence pool but not the claim's text, "
                                        "scope or the items' reasoning: `case evaluate` re-hashes it)"))
                continue
        if (s.verdict, s.inputs_hash) != (v.verdict, v.inputs_hash):
            why = (f"stored {s.verdict}, re-derived {v.verdict}" if s.verdict != v.verdict
                   else "same verdict, but its inputs changed since it was evaluated")
            rep.checks.append(Check("verdict", cid, False, why))
        else:
            rep.checks.append(Check("verdict", cid, True, f"{v.verdict} (re-derived under rule {v.rule_version}, "
                                                          "same inputs)"))
    for cid in sorted(set(stored) - set(derived)):
        rep.checks.append(Check("verdict", cid, False, "stored verdict for a claim that is not in the case"))


def _verify_evidence_links(case: Case, rep: VerifyReport, run_ok: Mapping[str, bool]) -> None:
    # Evidence that cites a run must cite a recorded run that verifies, and a row its result has.
    runs = {r.id: r for r in case.runs()}
    for it in case.evidence():
        if it.run_id is None:
            if it.result_row is not None:
                rep.checks.append(Check("evidence", it.id, False, f"cites result row {it.result_row} but no run"))
            continue
        r = runs.get(it.run_id)
        if r is None:
            rep.checks.append(Check("evidence", it.id, False, f"cites unknown run {it.run_id!r}"))
        elif it.result_row is not None and not 0 <= it.result_row < r.n_rows:
            rep.checks.append(Check("evidence", it.id, False,
                                    f"cites row {it.result_row} of run {r.id}, which has {r.n_rows} row(s)"))
        elif not run_ok.get(r.id, False):
            rep.checks.append(Check("evidence", it.id, False, f"rests on run {r.id}, which does not verify"))
        else:
            at = f"row {it.result_row} of " if it.result_row is not None else ""
            rep.checks.append(Check("evidence", it.id, True, f"cites {at}run {r.id}, which verifies"))


def verify(case: Case, *, expect: str | None = None) -> VerifyReport:
    """Check everything a case file can show about itself (see module doc and README "What verify guarantees").

    Parameters
    ----------
    case
        The open case.
    expect
        A head hash kept outside the file (``<hash>`` or ``<seq>:<hash>``, as `verify` printed it): the check
        fails unless the recomputed chain still passes through it.
    """
    from overflight.case.integrity import verify_audit, verify_state

    rep = VerifyReport()
    # The file's own checks first: they read raw rows, so they work even when a stored value no longer decodes.
    audit = case.audit_rows()
    rep.head = verify_audit(case, audit, rep, expect=expect)
    verify_state(case, audit, rep)
    run_ok = guarded(rep, "re-run", lambda: _verify_runs(case, rep)) or {}
    guarded(rep, "verdict", lambda: _verify_verdicts(case, rep))
    guarded(rep, "evidence", lambda: _verify_evidence_links(case, rep, run_ok))
    return rep


def guarded(rep: VerifyReport, what: str, fn: Callable[[], Any]) -> Any:
    """Run one group of verify checks; a stored value that no longer decodes is a failed check, not a crash."""
    try:
        return fn()
    except Exception as exc:  # whatever the decoder raised, the report names it
        rep.checks.append(Check(what, "", False, f"cannot read the case's records ({type(exc).__name__}: {exc}); "
                                "a stored value was changed outside overflight"))
        return None


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


__all__ = [
    "KNOWN_MODULES",
    "AnalysisFn",
    "Check",
    "InputsFn",
    "RunRecord",
    "VerifyReport",
    "canonical_rows",
    "get_analysis",
    "guarded",
    "hash_arrow",
    "hash_frame",
    "hash_json",
    "hash_rows",
    "rederive_verdicts",
    "register_analysis",
    "utcnow",
    "verify",
]
