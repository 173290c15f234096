"""Moving a case between a laptop's DuckDB file and a team's PostgreSQL database: `push` and `pull`.

No sync state is kept: the audit log is an append-only hash chain on both sides, so comparing the two chains
tells what happened since they last agreed. When the target's chain is a prefix of the source's, the target
is brought to the source's state (every table replaced, the missing audit entries appended) in one
transaction; when the two chains are equal there is nothing to do; when the target has entries the source
lacks, or the chains fork (both sides changed since the last sync), nothing is written and `SyncConflict`
says so. Afterwards both sides hold the same rows and the same chain, so `verify` gives the same verdicts,
hashes and head on each.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from overflight.case.schema import TABLES
from overflight.case.store import Case
from overflight.errors import OverflightError


class SyncConflict(OverflightError):
    """The target changed since the two sides last agreed: nothing was written."""


@dataclass(frozen=True)
class SyncReport:
    """What a push or pull did: ``status`` is ``"copied"`` or ``"up to date"``."""

    status: str
    source: str
    target: str
    entries_copied: int
    head: str | None

    def message(self) -> str:
        """One line saying what happened."""
        if self.status == "up to date":
            return f"{self.target} is up to date with {self.source} (audit head {self.head})"
        return (f"{self.target} now holds {self.source}: {self.entries_copied} new audit entr"
                f"{'y' if self.entries_copied == 1 else 'ies'}, audit head {self.head}")


def _chain(case: Case) -> list[tuple[int, str]]:
    return [(int(r["seq"]), str(r["hash"])) for r in case.audit_rows()]


def _compare(src: list[tuple[int, str]], dst: list[tuple[int, str]], source: str, target: str) -> None:
    common = 0
    while common < min(len(src), len(dst)) and src[common] == dst[common]:
        common += 1
    if common == len(dst):
        return
    since = f"seq {dst[common - 1][0]}" if common else "the start"
    if common == len(src):
        raise SyncConflict(f"{target} has {len(dst) - common} audit entr{'y' if len(dst) - common == 1 else 'ies'} "
                           f"that {source} lacks (after {since}): nothing was written; bring them over the other "
                           "way first")
    raise SyncConflict(f"conflict: {source} and {target} both changed since they last agreed (at {since}): "
                       f"{len(src) - common} entr{'y' if len(src) - common == 1 else 'ies'} only in {source}, "
                       f"{len(dst) - common} only in {target}; nothing was written (the audit logs show who "
                       "changed what on each side)")


def _transfer(src: Case, dst: Case, *, fresh: bool) -> SyncReport:
    if src.schema_version != "2":
        raise OverflightError(f"{src.location} is a schema-{src.schema_version} case: open it for writing once "
                              "(any `overflight case import` or `case evaluate`) to upgrade it, then sync")
    src_chain = _chain(src)
    head = f"{src_chain[-1][0]}:{src_chain[-1][1]}" if src_chain else None
    with dst.transaction():
        if fresh:
            dst.backend.create_tables(dst.con)
            dst_chain: list[tuple[int, str]] = []
        else:
            dst_chain = _chain(dst)  # read under the write lock: nobody appends while we compare and copy
        _compare(src_chain, dst_chain, src.location, dst.location)
        if len(dst_chain) == len(src_chain):
            return SyncReport("up to date", src.location, dst.location, 0, head)
        for t in TABLES:
            if t == "audit_log":  # append-only: only the entries the target lacks
                dst._insert(t, src.table_arrow(t, "WHERE seq > ?", [len(dst_chain)]))
            else:
                dst._x(f"DELETE FROM {t}")
                dst._insert(t, src.table_arrow(t))
    return SyncReport("copied", src.location, dst.location, len(src_chain) - len(dst_chain), head)


def _open_target(location: str | Path, user: str | None) -> tuple[Case, bool]:
    if Case.exists(location):
        return Case.open(location, user=user), False
    return Case(location, user=user, _create=True, _empty=True), True


def copy_case(source: str | Path, target: str | Path, *, user: str | None = None) -> SyncReport:
    """Bring ``target`` (a file or a URL, created when missing) to the state of ``source`` (see module doc)."""
    src = Case.open(source, user=user, read_only=True)
    try:
        dst, fresh = _open_target(target, user)
        try:
            return _transfer(src, dst, fresh=fresh)
        except BaseException:
            dst.close()
            if fresh and not dst.url:
                Path(target).unlink(missing_ok=True)  # a new file that got no case stays no file
            raise
        finally:
            dst.close()
    finally:
        src.close()


def push(local: str | Path, url: str, *, user: str | None = None) -> SyncReport:
    """Copy a local case file to the server (``postgresql://HOST/DB?case=NAME``)."""
    return copy_case(local, url, user=user)


def pull(url: str, local: str | Path, *, user: str | None = None) -> SyncReport:
    """Copy a server case into a local case file (created when missing)."""
    return copy_case(url, local, user=user)


__all__ = ["SyncConflict", "SyncReport", "copy_case", "pull", "push"]
