"""ZoneIndex.cached: a damaged cache file (a flipped byte, a truncated file) is rebuilt, never a traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from overflight.index import ZoneIndex
from overflight.zones import as_zoneset


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_cache_file_is_rebuilt(tmp_path: Path, damage: str) -> None:
    zs = as_zoneset({"A": shapely.box(0.0, 0.0, 2.0, 2.0), "B": shapely.box(1.0, 1.0, 3.5, 3.0),
                     "T": shapely.Polygon([(10, 10), (14, 10.5), (11, 13)])})
    fresh = ZoneIndex.cached(zs, directory=tmp_path)
    (npz,) = tmp_path.glob("*.npz")
    raw = bytearray(npz.read_bytes())
    if damage == "flip":
        raw[len(raw) // 2] ^= 0xFF  # inside an array: the member's CRC no longer matches (zipfile.BadZipFile)
    else:
        del raw[len(raw) // 2:]
    npz.write_bytes(bytes(raw))
    again = ZoneIndex.cached(zs, directory=tmp_path)
    assert np.array_equal(again.grid.blob, fresh.grid.blob) and np.array_equal(again.grid.ck, fresh.grid.ck)
    x, y = np.array([0.5, 1.5, 3.0, 12.0, 20.0]), np.array([0.5, 1.5, 2.0, 11.0, 0.0])
    assert again.locate(x, y).tolist() == [0, 0, 1, 2, -1]  # by hand: A, A and B (first is A), B, T, none
    assert ZoneIndex.cached(zs, directory=tmp_path).locate(x, y).tolist() == [0, 0, 1, 2, -1]  # rewritten
