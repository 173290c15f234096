"""Canonical result tables and their hashes, and the records of analysis runs and verify checks.

What a case stores of an analysis is its result in canonical form (`canonical_rows`) and that form's SHA-256;
the same bytes on every platform and storage backend. Nothing here knows the case store, so the store, the
analyses and `overflight.case.runs.verify` all import it without a circle.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


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


# ---------------------------------------------------------------- records


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
        """Whether every check passed."""
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        """The checks that failed."""
        return [c for c in self.checks if not c.ok]

    def lines(self) -> list[str]:
        """One line per check, failures first."""
        return [f"{'ok  ' if c.ok else 'FAIL'} {c.what}{' ' + c.key if c.key else ''}: {c.detail}"
                for c in sorted(self.checks, key=lambda c: c.ok)]


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


def guarded(rep: VerifyReport, what: str, fn: Callable[[], Any]) -> Any:
    """Run one group of verify checks; a stored value that no longer decodes is a failed check, not a crash."""
    try:
        return fn()
    except Exception as exc:  # whatever the decoder raised, the report names it
        rep.checks.append(Check(what, "", False, f"cannot read the case's records ({type(exc).__name__}: {exc}); "
                                "a stored value was changed outside overflight"))
        return None


__all__ = ["Check", "RunRecord", "VerifyReport", "canonical_rows", "guarded", "hash_arrow", "hash_frame", "hash_json",
           "hash_rows", "utcnow"]
