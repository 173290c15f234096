"""analysis.index_cache.cached_index: the cached ZoneIndex mapped from its file, same answers; damaged files rebuilt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely

from overflight.analysis.index_cache import _mapped, cached_index
from overflight.index import ZoneIndex
from overflight.zones import as_zoneset


def _zones() -> object:
    return as_zoneset({"A": shapely.box(0.0, 0.0, 2.0, 2.0), "B": shapely.box(1.0, 1.0, 3.5, 3.0),
                       "T": shapely.Polygon([(10, 10), (14, 10.5), (11, 13)])})


def test_same_index_as_cached(tmp_path: Path) -> None:
    zs = _zones()
    built = ZoneIndex.cached(zs, directory=tmp_path)  # writes the cache file
    (npz,) = tmp_path.glob("*.npz")
    assert _mapped(npz) is not None
    got = cached_index(zs, directory=tmp_path)  # type: ignore[arg-type]
    for f in ("ck", "cval", "lsum", "blob"):
        a = getattr(got.grid, f)
        assert np.array_equal(a, getattr(built.grid, f)) and a.flags.aligned and not a.flags.writeable
    assert got.build_seconds == 0.0 and got.geometry_hash == built.geometry_hash
    rng = np.random.default_rng(2)
    x, y = rng.uniform(-1, 15, 20_000), rng.uniform(-1, 14, 20_000)
    for a, b in zip(built.locate_all(x, y), got.locate_all(x, y), strict=True):
        assert np.array_equal(a, b)


def test_damaged_or_missing_file_is_rebuilt(tmp_path: Path) -> None:
    zs = _zones()
    fresh = cached_index(zs, directory=tmp_path)  # type: ignore[arg-type]
    (npz,) = tmp_path.glob("*.npz")
    raw = bytearray(npz.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # a flipped byte inside an array: the CRC no longer matches
    npz.write_bytes(bytes(raw))
    assert _mapped(npz) is None
    again = cached_index(zs, directory=tmp_path)  # type: ignore[arg-type]
    assert np.array_equal(again.grid.blob, fresh.grid.blob) and np.array_equal(again.grid.lsum, fresh.grid.lsum)
