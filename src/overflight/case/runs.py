"""Analysis runs: the registry of re-runnable analysis kinds, and `verify`.

The canonical form of results and their hashes are in `overflight.case.canonical` (re-exported here).
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
Every kind overflight records is registered by `overflight.case.kinds`, which the case package loads; a
kind of a plug-in registers itself the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

# Re-exported: the canonical form, hashes and records lived here before overflight.case.canonical.
from overflight.case.canonical import (
    Check,
    RunRecord,
    VerifyReport,
    canonical_rows,
    guarded,
    hash_arrow,
    hash_frame,
    hash_json,
    hash_rows,
    utcnow,
)
from overflight.errors import OverflightError

if TYPE_CHECKING:
    from overflight.case.store import Case

AnalysisFn = Callable[["Case", Mapping[str, Any]], pd.DataFrame]
InputsFn = Callable[["Case", Mapping[str, Any]], Mapping[str, str]]

_REGISTRY: dict[str, tuple[AnalysisFn, InputsFn | None]] = {}

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
    """The registered functions for a kind, or None."""
    return _REGISTRY.get(kind)


# ---------------------------------------------------------------- verify


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


def _verify_approvals(case: Case, rep: VerifyReport) -> None:
    # An approval for publication names the verdict and inputs hash it approved: it holds while they are stored.
    stored = case.verdicts()
    for cid, a in sorted(case.approvals().items()):
        v = stored.get(cid)
        who = f"approved {a.get('verdict')} by {a.get('approved_by')} at {a.get('approved_at')}"
        if v is not None and (v.verdict, v.inputs_hash) == (a.get("verdict"), a.get("inputs_hash")):
            rep.checks.append(Check("approval", cid, True, who))
        else:
            now = f"now {v.verdict}" if v is not None else "no stored verdict now"
            rep.checks.append(Check("approval", cid, False, f"{who}; {now}: the verdict or its inputs changed since "
                                    "(approve it again)"))


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
    guarded(rep, "approval", lambda: _verify_approvals(case, rep))
    return rep


__all__ = [
    "Check",
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
