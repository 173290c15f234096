"""The case picker's data: case files in the picker's directories, the recently opened ones, new case names.

A case file is a ``*.duckdb`` file in a listed directory or one level below it (``overflight demo`` writes
``overflight-demo/case.duckdb``). The recent list is a small JSON file of absolute paths, newest first.
Only files the picker lists (or the recent list holds) can be opened from the page, so a request cannot make
the server open an arbitrary path.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from overflight.errors import InputError

RECENT_MAX = 20
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


def default_recent_file() -> Path:
    """``$XDG_STATE_HOME/overflight/recent-cases.json`` (``~/.local/state`` when unset)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "overflight" / "recent-cases.json"


def recent(recent_file: Path | None) -> list[Path]:
    """The recently opened cases that still exist, newest first (an unreadable list counts as empty)."""
    if recent_file is None or not recent_file.exists():
        return []
    try:
        items = json.loads(recent_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    out = [Path(x) for x in items if isinstance(x, str)] if isinstance(items, list) else []
    return [p for p in out if p.is_file()]


def remember(recent_file: Path | None, path: Path) -> None:
    """Put `path` first in the recent list (best effort: a read-only home does not stop the server)."""
    if recent_file is None:
        return
    p = path.resolve()
    items = [str(p)] + [str(x) for x in recent(recent_file) if x.resolve() != p]
    try:
        recent_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = recent_file.with_name(recent_file.name + ".tmp")
        tmp.write_text(json.dumps(items[:RECENT_MAX], indent=1), encoding="utf-8")
        os.replace(tmp, recent_file)
    except OSError:
        pass


def _in_dir(d: Path) -> list[Path]:
    if not d.is_dir():
        return []
    return sorted({*d.glob("*.duckdb"), *d.glob("*/*.duckdb")})


def _entry(p: Path, where: str, open_path: Path | None) -> dict[str, Any]:
    st = p.stat()
    return {"path": str(p.resolve()), "name": p.name, "folder": str(p.resolve().parent), "where": where,
            "size_mb": round(st.st_size / 1e6, 2),
            "modified": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st.st_mtime)),
            "open": open_path is not None and p.resolve() == open_path.resolve()}


def listing(dirs: Sequence[Path], recent_file: Path | None, open_path: Path | None) -> dict[str, Any]:
    """Every case the picker offers: the directories' files, then the recent ones not among them."""
    seen: set[Path] = set()
    cases = []
    for d in dirs:
        for p in _in_dir(d):
            if p.resolve() not in seen:
                seen.add(p.resolve())
                cases.append(_entry(p, "folder", open_path))
    rec = []
    for p in recent(recent_file):
        rec.append(str(p.resolve()))
        if p.resolve() not in seen:
            seen.add(p.resolve())
            cases.append(_entry(p, "recent", open_path))
    return {"dirs": [str(d.resolve()) for d in dirs], "new_in": str(dirs[0].resolve()) if dirs else None,
            "cases": cases, "recent": rec, "open": str(open_path.resolve()) if open_path else None}


def pick(path: str, dirs: Sequence[Path], recent_file: Path | None) -> Path:
    """The listed case file `path` names; InputError when the picker does not offer it."""
    if not isinstance(path, str) or not path:
        raise InputError("name the case file to open", field="path")
    offered = {Path(c["path"]) for c in listing(dirs, recent_file, None)["cases"]}
    p = Path(path).resolve() if Path(path).is_absolute() else (dirs[0] / path).resolve() if dirs else Path(path)
    if p not in offered:
        raise InputError(f"{path!r} is not a case file the picker lists (its folders and recent cases)",
                         field="path")
    return p


def new_case_path(name: str, dirs: Sequence[Path]) -> Path:
    """Where a new case called `name` goes: ``NAME.duckdb`` in the first directory; InputError if taken."""
    if not dirs:
        raise InputError("no folder to create cases in (overflight serve --cases-dir)", field="name")
    stem = name.removesuffix(".duckdb") if isinstance(name, str) else ""
    if not NAME_RE.match(stem):
        raise InputError("a case name is 1-80 letters, digits, '.', '-' or '_' (starting with a letter or digit)",
                         field="name")
    p = dirs[0] / f"{stem}.duckdb"
    if p.exists():
        raise InputError(f"{p.name} already exists in {dirs[0]}: open it instead", field="name")
    return p


__all__ = [
    "NAME_RE",
    "RECENT_MAX",
    "default_recent_file",
    "listing",
    "new_case_path",
    "pick",
    "recent",
    "remember",
]
