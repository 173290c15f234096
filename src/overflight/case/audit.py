"""The append-only audit log: who changed what in a case, when, with the record before and after.

Entries are written in the same transaction as the change they describe, so a change that is rolled back
leaves no entry. Sequence numbers run 1, 2, 3, … without gaps (`overflight case verify` checks this).
Bulk tables (tracks, analysis results) get one entry per batch, with the row count and content hash.

The log is a hash chain: entry *n* stores ``hash_n = SHA-256(hash_{n-1}, seq, at_utc, user, action, table, key,
before, after)`` (`entry_hash`, with `GENESIS` before the first entry), and the case's meta table keeps the
head (``audit_head`` = ``<seq>:<hash>``), so an edited, inserted, renumbered or deleted entry breaks the chain,
and a truncated log no longer ends at the recorded head. The chain is computed here, in Python, from the rows'
values, so any storage backend yields the same hashes. It has no secret: whoever rewrites the whole file can
recompute it, which is why `overflight case verify` prints the head so it can be kept outside the file.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np


def current_user() -> str:
    """The user recorded in the audit log: ``$OVERFLIGHT_USER``, else the login name, else ``unknown``."""
    env = os.environ.get("OVERFLIGHT_USER")
    if env:
        return env
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in containers without a passwd entry
        return "unknown"


def json_value(v: Any) -> Any:
    """A JSON-ready version of a stored value (times as ISO UTC, bytes as their SHA-256)."""
    if v is None:
        return None
    if isinstance(v, datetime):
        return (v.astimezone(UTC) if v.tzinfo else v).isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, bytes | bytearray | memoryview):
        return {"sha256": hashlib.sha256(bytes(v)).hexdigest(), "bytes": len(bytes(v))}
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and v != v:
        return None
    if isinstance(v, dict):
        return {str(k): json_value(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [json_value(x) for x in v]
    return v


def dumps(record: dict[str, Any] | None) -> str | None:
    """Canonical JSON text of a record (sorted keys) or None."""
    if record is None:
        return None
    return json.dumps(json_value(record), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


#: the hash "before" the first entry of a chain
GENESIS = "0" * 64

#: the columns of an audit entry that its hash covers, in this order
CHAIN_FIELDS = ("seq", "at_utc", "user_name", "action", "table_name", "key", "before", "after")


def entry_hash(prev: str, row: Mapping[str, Any]) -> str:
    """The chain hash of one audit entry (a mapping with the `CHAIN_FIELDS`) after the entry hashed ``prev``."""
    doc = [prev, int(row["seq"])] + [json_value(row[f]) for f in CHAIN_FIELDS[1:]]
    return hashlib.sha256(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def chain(rows: Iterable[Mapping[str, Any]], prev: str = GENESIS) -> list[str]:
    """The chain hashes of audit entries given in sequence order."""
    out = []
    for r in rows:
        prev = entry_hash(prev, r)
        out.append(prev)
    return out


@dataclass(frozen=True)
class AuditEntry:
    """One change: ``action`` (insert, update, delete, import, record_run, evaluate, …) on ``table`` ``key``."""

    action: str
    table: str
    key: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


__all__ = ["CHAIN_FIELDS", "GENESIS", "AuditEntry", "chain", "current_user", "dumps", "entry_hash", "json_value"]
