"""Uploaded files into a case, all-or-nothing, with the validation report as a table of rules and examples.

Tracks go through the track readers' validation (every rule counted, examples kept); when any rule is broken
nothing is imported and the table says which rows. Claims, sources and observations go through the evidence
importer, zones through the zone readers: their first error (file, row, field) becomes the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from overflight.errors import InputError, OverflightError

if TYPE_CHECKING:
    from overflight.case.store import Case

KINDS = ("tracks", "observations", "claims", "zones")


@dataclass
class UploadResult:
    """What an upload did: ``ok`` and the counts imported, or the validation table and nothing imported."""

    ok: bool
    kind: str
    file: str
    imported: dict[str, Any] = field(default_factory=dict)
    rules: list[dict[str, Any]] = field(default_factory=list)  # rule, rows
    examples: list[dict[str, Any]] = field(default_factory=list)  # rule, row, field, value, message
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "kind": self.kind, "file": self.file, "imported": self.imported,
                "rules": self.rules, "examples": self.examples, "message": self.message}


def _error(kind: str, name: str, exc: OverflightError) -> UploadResult:
    row = getattr(exc, "row", None)
    fld = getattr(exc, "field", None)
    reason = getattr(exc, "reason", str(exc))
    return UploadResult(False, kind, name, rules=[{"rule": "error", "rows": 1}],
                        examples=[{"rule": "error", "row": row, "field": fld, "value": "", "message": reason}],
                        message=f"{name}: nothing imported: {exc}")


def import_upload(case: Case, kind: str, path: Path, name: str, *, dataset: str | None = None,
                  source_id: str | None = None, tz: str | None = None) -> UploadResult:
    """Validate the file at `path` (uploaded as `name`) and, when clean, store it in the case."""
    if kind not in KINDS:
        raise InputError(f"unknown upload kind {kind!r}: one of {', '.join(KINDS)}", field="kind")
    try:
        if kind == "tracks":
            from overflight.tracks import read_tracks

            tracks, report = read_tracks(path, tz=tz, on_invalid="drop")
            rules = [{"rule": r, "rows": int(n)} for r, n in report.counts.items()]
            if not report.ok or len(tracks) == 0:
                ex = [{"rule": e.rule, "row": e.row, "field": e.field, "value": e.value, "message": e.message}
                      for e in report.examples]
                msg = (f"{name}: {report.total_rows} rows read, {report.invalid_rows} invalid: nothing imported"
                       if not report.ok else f"{name}: no fixes in the file: nothing imported")
                return UploadResult(False, kind, name, rules=rules, examples=ex, message=msg)
            ds = dataset or Path(name).stem
            n = case.add_tracks(tracks, dataset=ds, source_id=source_id or None)
            return UploadResult(True, kind, name, imported={"dataset": ds, "fixes": n,
                                                            "tracks": int(tracks["track_id"].nunique())},
                                rules=rules, message=f"{name}: {n} fixes imported as dataset {ds!r}")
        if kind == "zones":
            from overflight.zones import load_zones

            zs = load_zones(path)
            return UploadResult(True, kind, name, imported=case.add_zones(zs),
                                message=f"{name}: {len(zs)} zones stored")
        return UploadResult(True, kind, name, imported=case.import_files([path]), message=f"{name}: imported")
    except OverflightError as exc:
        return _error(kind, name, exc)


__all__ = ["KINDS", "UploadResult", "import_upload"]
