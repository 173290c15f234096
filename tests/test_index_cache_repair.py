"""ZoneIndex.cached: a damaged cache file (a flipped byte, a truncated file) is rebuilt, never a traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from overflight.index import ZoneIndex
from overflight.zones import as_zoneset


@pytest.mark.parametrize("damage", ["flip", "truncate", "header", "last", "empty", "foreign"])
def test_a_damaged_cache_file_is_rebuilt(tmp_path: Path, damage: str) -> None:
    zs = as_zoneset({"A": shapely.box(0.0, 0.0, 2.0, 2.0), "B": shapely.box(1.0, 1.0, 3.5, 3.0),
                     "T": shapely.Polygon([(10, 10), (14, 10.5), (11, 13)])})
    (tmp_path / "old.npz").write_bytes(b"an unrelated file")
    fresh = ZoneIndex.cached(zs, directory=tmp_path)
    (npz,) = tmp_path.glob("*.ofc")
    older = npz.with_suffix(".npz")  # the same entry as older versions wrote it: removed on the next rebuild
    older.write_bytes(b"older format")  # the cache's checked container (index.persist)
    raw = bytearray(npz.read_bytes())
    if damage == "flip":
        raw[len(raw) // 2] ^= 0xFF  # inside an array: its CRC-32 no longer matches
    elif damage == "header":
        raw[40] ^= 0x01  # inside the JSON header: the header's CRC-32 no longer matches
    elif damage == "last":
        raw[-1] ^= 0x01  # the last byte of the last array
    elif damage == "truncate":
        del raw[len(raw) // 2:]
    elif damage == "empty":
        del raw[:]
    else:
        raw = bytearray(b"PK\3\4" + bytes(200))  # not a container at all
    npz.write_bytes(bytes(raw))
    again = ZoneIndex.cached(zs, directory=tmp_path)
    assert np.array_equal(again.grid.blob, fresh.grid.blob) and np.array_equal(again.grid.ck, fresh.grid.ck)
    x, y = np.array([0.5, 1.5, 3.0, 12.0, 20.0]), np.array([0.5, 1.5, 2.0, 11.0, 0.0])
    assert again.locate(x, y).tolist() == [0, 0, 1, 2, -1]  # by hand: A, A and B (first is A), B, T, none
    assert ZoneIndex.cached(zs, directory=tmp_path).locate(x, y).tolist() == [0, 0, 1, 2, -1]  # rewritten
    assert npz.read_bytes() != bytes(raw)  # the damaged entry was replaced
    assert not older.exists() and (tmp_path / "old.npz").exists()


def test_a_cache_entry_for_other_geometry_is_not_trusted(tmp_path: Path) -> None:
    """An entry whose stored geometry hash differs (a file copied over another's name) is rebuilt."""
    a = as_zoneset({"A": shapely.box(0.0, 0.0, 2.0, 2.0)})
    b = as_zoneset({"A": shapely.box(5.0, 5.0, 7.0, 7.0)})
    ZoneIndex.cached(a, directory=tmp_path / "a")
    ZoneIndex.cached(b, directory=tmp_path / "b")
    (fa,) = (tmp_path / "a").glob("*.ofc")
    (fb,) = (tmp_path / "b").glob("*.ofc")
    fb.write_bytes(fa.read_bytes())  # b's name, a's grid
    assert ZoneIndex.cached(b, directory=tmp_path / "b").locate([6.0, 1.0], [6.0, 1.0]).tolist() == [0, -1]


def test_container_round_trip_and_checks(tmp_path: Path) -> None:
    from overflight.errors import InputError
    from overflight.index.persist import read_container, write_container

    arrays = {"a": np.arange(7, dtype=np.int32), "b": np.linspace(0, 1, 12).reshape(3, 4), "e": np.zeros(0)}
    p = write_container(tmp_path / "x.ofc", {"k": [1, "two"]}, arrays)
    head, got = read_container(p)
    assert head == {"k": [1, "two"]}
    for k, v in arrays.items():
        assert got[k].dtype == v.dtype and np.array_equal(got[k], v) and not got[k].flags.writeable
        assert got[k].ctypes.data % 8 == 0
    raw = bytearray(p.read_bytes())
    for at in range(0, len(raw), 7):  # every 7th byte flipped in turn: each is caught (header, padding aside)
        bad = bytearray(raw)
        bad[at] ^= 0x10
        p.write_bytes(bytes(bad))
        try:
            h2, g2 = read_container(p)
        except InputError:
            continue
        # only padding bytes may change without notice, and then the content is still exactly right
        assert h2 == head and all(np.array_equal(g2[k], arrays[k]) for k in arrays)
    with pytest.raises(InputError):
        read_container(tmp_path / "missing.ofc")
