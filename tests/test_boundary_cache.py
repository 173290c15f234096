"""The cached ne-admin0 zone set: the same zones as the shapefile, and a damaged entry is read again."""

from __future__ import annotations

from pathlib import Path

import pytest
import shapely

from overflight import boundaries
from overflight.zoneset import ZoneSet


def _fresh(monkeypatch: pytest.MonkeyPatch, cache: Path) -> ZoneSet:
    monkeypatch.setenv("OVERFLIGHT_CACHE", str(cache))
    boundaries._load_ne.cache_clear()
    try:
        return boundaries._load_ne()
    finally:
        boundaries._load_ne.cache_clear()


def _same(a: ZoneSet, b: ZoneSet) -> None:
    assert a.provenance == b.provenance
    for x, y in zip(a, b, strict=True):
        assert (x.id, x.name, x.kind, dict(x.properties)) == (y.id, y.name, y.kind, dict(y.properties))
        assert shapely.to_wkb(x.geometry) == shapely.to_wkb(y.geometry)


@pytest.mark.parametrize("damage", ["flip", "truncate", "foreign"])
def test_cached_ne_admin0_equals_the_shapefile_and_damage_is_rebuilt(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    first = _fresh(monkeypatch, tmp_path)  # from the shapefile; writes the entry
    (entry,) = (tmp_path / "index").glob("ne-admin0-*.ofc")
    again = _fresh(monkeypatch, tmp_path)  # from the entry
    _same(first, again)
    raw = bytearray(entry.read_bytes())
    if damage == "flip":
        raw[len(raw) // 2] ^= 0x01  # inside the WKB: its CRC-32 no longer matches
    elif damage == "truncate":
        del raw[len(raw) // 3:]
    else:
        raw = bytearray(b"not a cache entry")
    entry.write_bytes(bytes(raw))
    _same(first, _fresh(monkeypatch, tmp_path))  # from the shapefile again
    assert entry.read_bytes() != bytes(raw)  # and the entry rewritten
    _same(first, _fresh(monkeypatch, tmp_path))
