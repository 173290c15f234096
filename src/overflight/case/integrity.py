"""What `verify` checks of the case file itself: the audit log's hash chain, and every table against the log.

The state check replays the audit log: the last record the log holds of each row (an ``insert``/``update``/
``delete``/``record_run``/``baseline`` entry's ``after``) must be the row as stored, byte for byte in canonical
JSON; a row the log never recorded, or one it recorded and the table lacks, is a change made around the case
API. Track datasets are checked by row count and content hash (`overflight.case.runs.hash_arrow`), result rows
by their run's recorded hash (in `overflight.case.runs.verify`) and here by their numbering. Everything is
computed in Python from rows, so another storage backend gets the same checks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from overflight.case.audit import chain, dumps
from overflight.case.canonical import Check, VerifyReport, guarded
from overflight.case.schema import HEAD_KEY, KEYS, TABLES

if TYPE_CHECKING:
    from overflight.case.store import Case

#: audit actions whose ``after`` is the full record of a keyed row (None: the row was deleted)
ROW_ACTIONS = frozenset({"insert", "update", "delete", "record_run", "baseline"})

#: tables checked other than by replaying keyed rows
_OTHER = {"tracks", "analysis_results", "audit_log"}

_HEAD = re.compile(r"^(?:(\d+):)?([0-9a-f]{64})$")


def verify_audit(case: Case, audit: Sequence[Mapping[str, Any]], rep: VerifyReport, *,
                 expect: str | None = None) -> str | None:
    """Check sequence numbers, the hash chain and the recorded head; returns the recomputed head."""
    seqs = [int(r["seq"]) for r in audit]
    gapless = seqs == list(range(1, len(seqs) + 1))
    rep.checks.append(Check("audit log", "", gapless, f"{len(seqs)} entries, numbered 1-{len(seqs)} without gaps"
                            if gapless else "sequence has gaps or repeats (entries were removed or edited)"))
    hashes = chain(audit)
    head = f"{seqs[-1]}:{hashes[-1]}" if audit else None
    for problem in case.structure_problems:
        rep.checks.append(Check("schema", "", False, problem))
    if case.meta_version != case.schema_version:
        rep.checks.append(Check("schema", "", False, f"meta says version {case.meta_version}, the tables are version "
                                f"{case.schema_version} (the meta table or the audit log's columns were edited)"))
    if case.schema_version == "1":
        rep.checks.append(Check("audit chain", "", True,
                                "not stored: a schema-1 case (written by overflight <= 0924fd0); the head below is "
                                "computed from the log as it is now. Opening the case for writing (any `case "
                                "import` or `case evaluate`) upgrades it and stores the chain from then on"))
    else:
        bad = next((i for i, (r, h) in enumerate(zip(audit, hashes, strict=True)) if r.get("hash") != h), None)
        if bad is None:
            upgrades = [r for r in audit if r["action"] == "upgrade"]
            note = ""
            if upgrades:
                u = upgrades[0]
                note = (f"; entries 1-{int(u['seq']) - 1} were written before the chain existed and hashed at the "
                        f"upgrade at seq {u['seq']} ({_when(u['at_utc'])}): the chain proves them unchanged "
                        "since then, not before")
            rep.checks.append(Check("audit chain", "", True, f"{len(audit)} entries link up{note}"))
        else:
            rep.checks.append(Check("audit chain", "", False,
                                    f"breaks at seq {audit[bad]['seq']}: its stored hash does not match its content "
                                    "and the entries before it (that entry, or one before it, was edited, inserted, "
                                    "renumbered or removed)"))
        recorded = case.audit_head()
        if recorded != head:
            rep.checks.append(Check("audit head", "", False,
                                    f"the log ends at {head.split(':')[0] if head else 'no entry'} but meta records "
                                    f"the head {recorded or '(none)'}: entries were removed from the end or the "
                                    "head was edited"))
        else:
            rep.checks.append(Check("audit head", "", True, "meta records the log's last entry"))
    if expect is not None:
        rep.checks.append(_expect_check(expect.strip().lower(), seqs, hashes))
    return head


def _expect_check(expect: str, seqs: list[int], hashes: list[str]) -> Check:
    m = _HEAD.match(expect)
    if not m:
        return Check("anchored head", "", False, f"{expect!r} is not a head hash (<sha256> or <seq>:<sha256>)")
    seq, h = (int(m.group(1)) if m.group(1) else None), m.group(2)
    if h in hashes:
        i = hashes.index(h)
        if seq is None or seq == seqs[i]:
            since = len(hashes) - 1 - i
            return Check("anchored head", "", True, f"the chain passes through the anchored head at seq {seqs[i]}"
                         + (f"; {since} entr{'y' if since == 1 else 'ies'} written since" if since else
                            " (its last entry)"))
    return Check("anchored head", "", False, "the recomputed chain does not pass through the anchored head "
                 f"{expect}: the log up to that point was changed (or the anchor belongs to another case)")


def _when(t: Any) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC") if isinstance(t, datetime) else str(t)


def _expected_rows(audit: Sequence[Mapping[str, Any]], rep: VerifyReport
                   ) -> dict[str, dict[str, tuple[int, str | None]]]:
    """Table -> key -> (seq, canonical JSON of the row as last recorded, or None when deleted).

    Each entry's ``before`` must also be the row as the log last recorded it: a write through overflight
    after a change made around it (a repair by `case evaluate`, say) shows the change that way.
    """
    out: dict[str, dict[str, tuple[int, str | None]]] = {t: {} for t in KEYS}
    for r in audit:
        t = r["table_name"]
        if t == "meta" and r["action"] == "config":
            r = _config_as_row(r)
        if t not in KEYS or r["action"] not in ROW_ACTIONS:
            continue
        k = str(r["key"])
        if r["action"] != "baseline" and (t != "meta" or k != "schema_version"):
            seq, last = out[t].get(k, (None, None))
            if r["before"] != last:
                was = "did not exist" if last is None else f"as recorded at seq {seq}"
                rep.checks.append(Check(f"table {t}", k, False,
                                        f"the write at seq {r['seq']} found the row other than the log left it "
                                        f"({was}): it was changed outside overflight before that write"))
        out[t][k] = (int(r["seq"]), r["after"])
    return out


def _config_as_row(r: Mapping[str, Any]) -> dict[str, Any]:
    # A case setting (`overflight case config set KEY VALUE`) is audited as {"value": …} under KEY and stored
    # as the meta row ``config.KEY``: the same change, written as a row entry.
    key = f"config.{r['key']}"

    def row(doc: str | None) -> str | None:
        return dumps({"key": key, "value": json.loads(doc)["value"]}) if doc else None

    return {**r, "action": "update", "key": key, "before": row(r["before"]), "after": row(r["after"])}


def _legacy_meta(audit: Sequence[Mapping[str, Any]], expected: dict[str, tuple[int, str | None]]) -> None:
    # Schema-1 cases recorded their meta values only in the "create" entry (schema and overflight version,
    # and the entry's own user and time): expect those where no row entry records the key.
    create = next((r for r in audit if r["action"] == "create" and r["table_name"] == "meta"), None)
    if create is None:
        return
    after = json.loads(create["after"] or "{}")
    values = {k: after.get(k) for k in ("schema_version", "overflight_version")} | {"created_by": create["user_name"]}
    for k, v in values.items():
        if k not in expected and v is not None:
            expected[k] = (int(create["seq"]), dumps({"key": k, "value": str(v)}))


def _diff_fields(stored: Mapping[str, Any], recorded: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in set(stored) | set(recorded) if stored.get(k) != recorded.get(k))


def _check_keyed(case: Case, table: str, expected: Mapping[str, tuple[int, str | None]], rep: VerifyReport,
                 audit: Sequence[Mapping[str, Any]]) -> None:
    key = KEYS[table]
    actual: dict[str, list[dict[str, Any]]] = {}
    for row in case.records(table):
        actual.setdefault(str(row[key]), []).append(row)
    if table == "meta":
        actual.pop(HEAD_KEY, None)
        create = next((r for r in audit if r["action"] == "create" and r["table_name"] == "meta"), None)
        if "created" not in expected and create is not None and "created" in actual:
            # schema 1 wrote ``created`` a moment before its create entry: the two must agree to the minute.
            try:
                t = datetime.fromisoformat(str(actual["created"][0]["value"]))
                near = abs(t - create["at_utc"]) < timedelta(minutes=1)
            except (TypeError, ValueError):
                near = False
            if not near:
                rep.checks.append(Check("table meta", "created", False, "differs from the time of the create entry"))
            actual.pop("created")
    bad = 0
    for k in sorted(set(actual) | {k for k, (_, a) in expected.items() if a is not None}):
        rows = actual.get(k, [])
        seq, rec = expected.get(k, (None, None))
        if len(rows) > 1:
            msg = f"{len(rows)} rows share the key (rows were inserted outside overflight)"
        elif rows and rec is None:
            msg = ("is not in the audit log (inserted outside overflight)" if seq is None else
                   f"the audit log records its deletion (seq {seq}) but the row is there")
        elif not rows:
            msg = f"is missing: deleted outside overflight (the audit log's last record of it is seq {seq})"
        elif dumps(rows[0]) != rec:
            fields = _diff_fields(json.loads(dumps(rows[0]) or "{}"), json.loads(rec or "{}"))
            msg = f"differs from the audit log's record of it (seq {seq}) in {', '.join(fields)}"
        else:
            continue
        bad += 1
        rep.checks.append(Check(f"table {table}", k, False, msg))
    if not bad:
        n = sum(len(v) for v in actual.values())
        rep.checks.append(Check(f"table {table}", "", True, f"{n} row(s) as the audit log records them"))


def _check_tracks(case: Case, audit: Sequence[Mapping[str, Any]], rep: VerifyReport) -> None:
    expected: dict[str, tuple[int, dict[str, Any]]] = {}
    for r in audit:
        if r["table_name"] == "tracks" and r["action"] in ("import", "baseline"):
            after = json.loads(r["after"] or "{}")
            last = expected.get(str(r["key"]), (None, {}))[1].get("total_rows")
            found = json.loads(r["before"] or "{}").get("rows") if r["action"] == "import" else None
            if last is not None and found is not None and found != last:
                rep.checks.append(Check("table tracks", str(r["key"]), False,
                                        f"the import at seq {r['seq']} found {found} fixes where the log left "
                                        f"{last}: fixes were changed outside overflight before it"))
            if "total_rows" not in after:  # schema-1 entry: row count only (replaced, or appended to `before`)
                before = json.loads(r["before"] or "{}")
                after = {"rows_any_of": [after.get("rows"), int(before.get("rows") or 0) + int(after.get("rows") or 0)]}
            expected[str(r["key"])] = (int(r["seq"]), after)
    states = case.dataset_states()
    bad = 0
    for ds in sorted(set(states) | set(expected)):
        st = states.get(ds)
        seq, rec = expected.get(ds, (None, {}))
        if st is None:
            msg = f"is missing: deleted outside overflight (imported at seq {seq})"
        elif seq is None:
            msg = "is not in the audit log (inserted outside overflight)"
        elif "rows_any_of" in rec:
            if st["total_rows"] in rec["rows_any_of"]:
                rep.checks.append(Check("table tracks", ds, True, f"{st['total_rows']} fixes; imported before the "
                                        "chain existed: only the row count is recorded, not the content"))
                continue
            msg = f"{st['total_rows']} fixes stored, the audit log (seq {seq}) records {rec['rows_any_of'][0]}"
        elif st["total_rows"] != rec.get("total_rows"):
            msg = f"{st['total_rows']} fixes stored, the audit log (seq {seq}) records {rec.get('total_rows')}"
        elif st["content_sha256"] != rec.get("content_sha256"):
            msg = f"content differs from the hash the audit log records (seq {seq}): fixes were edited"
        else:
            continue
        bad += 1
        rep.checks.append(Check("table tracks", ds, False, msg))
    if not bad:
        rep.checks.append(Check("table tracks", "", True, f"{len(states)} dataset(s) as the audit log records them"))


def _check_results(case: Case, rep: VerifyReport) -> None:
    runs = {str(r["id"]): int(r["n_rows"] or 0) for r in case.records("analysis_runs")}
    got: dict[str, list[int]] = {}
    for run_id, row_no in case.result_numbering():
        got.setdefault(run_id, []).append(row_no)
    bad = 0
    for rid in sorted(set(got) - set(runs)):
        bad += 1
        rep.checks.append(Check("table analysis_results", rid, False,
                                f"{len(got[rid])} result row(s) of a run that is not recorded"))
    for rid, n in runs.items():
        if sorted(got.get(rid, [])) != list(range(n)):
            bad += 1
            rep.checks.append(Check("table analysis_results", rid, False,
                                    f"rows are not numbered 0-{n - 1} once each "
                                    "(rows inserted, removed or renumbered)"))
    if not bad:
        rep.checks.append(Check("table analysis_results", "", True,
                                f"{sum(map(len, got.values()))} row(s), each run's numbered 0..n-1"))


def verify_state(case: Case, audit: Sequence[Mapping[str, Any]], rep: VerifyReport) -> None:
    """Check every table against the audit log (module docstring)."""
    expected = _expected_rows(audit, rep)
    _legacy_meta(audit, expected["meta"])
    for table in KEYS:
        guarded(rep, f"table {table}", partial(_check_keyed, case, table, expected[table], rep, audit))
    guarded(rep, "table tracks", lambda: _check_tracks(case, audit, rep))
    guarded(rep, "table analysis_results", lambda: _check_results(case, rep))
    for table in TABLES:
        if table not in KEYS and table not in _OTHER:
            rep.checks.append(Check(f"table {table}", "", True, "not covered by verify (no audit record per row)"))


__all__ = ["ROW_ACTIONS", "verify_audit", "verify_state"]
