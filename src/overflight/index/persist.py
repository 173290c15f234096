"""Saving and loading built grids (.npz) and the per-boundary-set cache directory."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from overflight.errors import InputError
from overflight.index.grid import FORMAT_VERSION, GridArrays

_ARRAYS = ("ck", "cval", "lsum", "blob")


def cache_dir() -> Path:
    """Where built indexes are cached: $OVERFLIGHT_CACHE or ~/.cache/overflight (sub-directory `index`)."""
    base = os.environ.get("OVERFLIGHT_CACHE")
    root = Path(base).expanduser() if base else Path.home() / ".cache" / "overflight"
    return root / "index"


def save_grid(path: str | Path, grid: GridArrays, meta: dict[str, Any]) -> Path:
    """Write the grid and its metadata to one .npz file (atomically: temp file then rename)."""
    p = Path(path)
    if p.suffix != ".npz":
        p = p.with_name(p.name + ".npz")
    p.parent.mkdir(parents=True, exist_ok=True)
    header = dict(meta, format_version=FORMAT_VERSION, cw=grid.cw, ncx=grid.ncx, ncy=grid.ncy)
    arrays = {name: getattr(grid, name) for name in _ARRAYS}
    fd, tmp = tempfile.mkstemp(dir=p.parent, suffix=".npz.part")
    os.close(fd)
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, meta=np.array(json.dumps(header)), **arrays)
        os.replace(tmp, p)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return p


def load_grid(path: str | Path) -> tuple[GridArrays, dict[str, Any]]:
    """Read a grid written by `save_grid`; InputError for a missing, foreign or outdated file."""
    p = Path(path)
    if not p.exists() and p.with_name(p.name + ".npz").exists():
        p = p.with_name(p.name + ".npz")
    try:
        with np.load(p, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {name: np.ascontiguousarray(data[name]) for name in _ARRAYS}
    except FileNotFoundError:
        raise InputError("no such index file", file=p) from None
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as exc:  # BadZipFile: a damaged member (CRC)
        raise InputError(f"not a ZoneIndex file ({exc})", file=p) from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise InputError(f"index format {meta.get('format_version')} is not {FORMAT_VERSION}; rebuild it",
                         file=p, field="format_version")
    for a in arrays.values():
        a.setflags(write=False)
    grid = GridArrays(cw=float(meta["cw"]), ncx=int(meta["ncx"]), ncy=int(meta["ncy"]), **arrays)
    return grid, meta


__all__ = ["cache_dir", "load_grid", "save_grid"]
