"""The cached ZoneIndex of a zone set, loaded by mapping its file instead of reading it (transit, locate).

:meth:`ZoneIndex.cached` reads the cache file's arrays (87 MB for ne-admin0) through ``zipfile`` into fresh
memory and hashes the zone geometries twice (once for the file name, once to check the file). Here the
arrays are views of the file mapped read-only (a stored, uncompressed ``.npz`` member is the ``.npy`` bytes
as they lie in the file), each member's CRC is checked as ``zipfile`` would, and the geometries are hashed
once. Whatever does not look exactly like such a file (a compressed member, a damaged or outdated one, a
platform without ``mmap``) goes to :meth:`ZoneIndex.cached`, which rebuilds it when needed.
"""

from __future__ import annotations

import contextlib
import io
import json
import mmap
import struct
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from overflight.index import ZoneIndex
    from overflight.zones import ZoneSet

__all__ = ["cached_index"]

_ARRAYS = ("ck", "cval", "lsum", "blob")


def cached_index(zones: ZoneSet, *, directory: str | Path | None = None) -> ZoneIndex:
    """``ZoneIndex.cached(zones)`` (default build parameters), its arrays mapped from the cache file."""
    from overflight.index import ZoneIndex
    from overflight.index.grid import FORMAT_VERSION, GridArrays, geometry_hash
    from overflight.index.persist import cache_dir

    digest = geometry_hash(zones.geometries(), zones.ids)
    d = Path(directory) if directory is not None else cache_dir()
    # the file name ZoneIndex.cached gives it (cell 1 degree, 1 edge per fine cell, k <= 32)
    path = d / f"zoneindex-v{FORMAT_VERSION}-{digest[:24]}-c1-f1-k32.npz"
    arrays = _mapped(path) if path.exists() else None
    if arrays is not None:
        try:
            meta: dict[str, Any] = json.loads(str(arrays.pop("meta")[()]))
        except (KeyError, ValueError):
            meta = {}
        if (meta.get("format_version") == FORMAT_VERSION and meta.get("geometry_hash") == digest
                and all(k in arrays for k in _ARRAYS)):
            grid = GridArrays(cw=float(meta["cw"]), ncx=int(meta["ncx"]), ncy=int(meta["ncy"]),
                              **{k: arrays[k] for k in _ARRAYS})
            p = meta.get("params", {})
            idx = ZoneIndex(zones, cell_deg=p.get("cell_deg", grid.cw), fine_edges=p.get("fine_edges", 4.0),
                            max_fine=p.get("max_fine", 128), _grid=grid)
            idx._hash = digest
            return idx
    try:
        return ZoneIndex.cached(zones, directory=directory)
    except zipfile.BadZipFile:  # a damaged member that ZoneIndex.load does not catch: rebuild and rewrite it
        idx = ZoneIndex(zones, cell_deg=1.0, fine_edges=1.0, max_fine=32)
        idx._hash = digest
        with contextlib.suppress(OSError):  # as ZoneIndex.cached: an unwritable cache only costs the next run
            idx.save(path)
        return idx


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _mapped(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays of an uncompressed .npz as read-only views of the mapped file; None if it is not one."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
        with open(path, "rb") as fh:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        out: dict[str, np.ndarray] = {}
        view = memoryview(mm)
        for info in infos:
            if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy"):
                return None
            h = info.header_offset
            if mm[h:h + 4] != b"PK\x03\x04":
                return None
            name_len, extra_len = struct.unpack("<HH", mm[h + 26:h + 30])
            start = h + 30 + name_len + extra_len
            if start + info.file_size > len(mm) or zlib.crc32(view[start:start + info.file_size]) != info.CRC:
                return None
            head = io.BytesIO(mm[start:start + min(info.file_size, 1 << 16)])
            version = np.lib.format.read_magic(head)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(head)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(head)
            else:
                return None
            if fortran or dtype.hasobject:
                return None
            count = int(np.prod(shape)) if shape else 1
            if head.tell() + count * dtype.itemsize != info.file_size:
                return None
            arr = np.frombuffer(mm, dtype=dtype, count=count, offset=start + head.tell()).reshape(shape)
            # the kernels take aligned arrays: a member whose data the zip layout left unaligned is copied
            out[info.filename[:-4]] = arr if arr.flags.aligned else _readonly(arr.copy())
        view.release()
        return out
    except (OSError, ValueError, zipfile.BadZipFile, struct.error):
        return None
