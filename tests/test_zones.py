"""Zone files in every format, their errors, and zone sets."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from overflight.errors import InputError
from overflight.zones import load_zones, read_zone_file

SQUARE = shapely.box(10, 10, 11, 11)
TRIANGLE = shapely.Polygon([(20, 0), (22, 0), (21, 2)])
HOLED = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (1, 3), (3, 3), (3, 1)]])


def _frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["sq", "tri", "holed"],
            "name": ["Square", "Triangle", "Holed"],
            "kind": ["range", "site", "user"],
            "floor_m": [0.0, 100.0, None],
            "ceiling_m": [5000.0, None, None],
        },
        geometry=[SQUARE, TRIANGLE, HOLED],
        crs="EPSG:4326",
    )


@pytest.mark.parametrize(
    ("suffix", "driver"),
    [
        (".geojson", "GeoJSON"),
        (".gpkg", "GPKG"),
        (".shp", "ESRI Shapefile"),
        (".kml", "KML"),
        (".parquet", None),
    ],
)
def test_every_format_reads_the_same_zones(tmp_path: Path, suffix: str, driver: str | None) -> None:
    path = tmp_path / f"zones{suffix}"
    frame = _frame()
    if driver is None:
        frame.to_parquet(path)
    elif driver == "KML":
        frame[["name", "geometry"]].to_file(path, driver=driver)
    else:
        frame.to_file(path, driver=driver)
    zs = read_zone_file(path)
    assert len(zs) == 3
    assert [z.name for z in zs] == ["Square", "Triangle", "Holed"]
    if driver != "KML":  # KML has no free attributes: ids fall back to the row number
        assert zs.ids == ["sq", "tri", "holed"]
        assert zs["sq"].floor_m == 0.0 and zs["sq"].ceiling_m == 5000.0 and zs["sq"].kind == "range"
    for z, ref in zip(zs, [SQUARE, TRIANGLE, HOLED], strict=True):
        assert z.geometry.normalize().equals_exact(ref.normalize(), 1e-9) or z.geometry.equals(ref)
    assert zs.provenance.sha256 and len(zs.provenance.sha256) == 64


def test_ids_from_id_field_feature_id_or_row(tmp_path: Path) -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": 7, "properties": {"code": "A"}, "geometry": shapely.geometry.mapping(SQUARE)},
            {"type": "Feature", "properties": {"code": "B"}, "geometry": shapely.geometry.mapping(TRIANGLE)},
        ],
    }
    p = tmp_path / "z.geojson"
    p.write_text(json.dumps(fc))
    assert read_zone_file(p, id_field="code").ids == ["A", "B"]
    ids = read_zone_file(p).ids
    assert ids[0] == "7"
    with pytest.raises(InputError, match="code2"):
        read_zone_file(p, id_field="code2")


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as e:
        read_zone_file(tmp_path / "nope.geojson")
    assert "nope.geojson" in str(e.value) and "no such file" in str(e.value)


@pytest.mark.parametrize("content", [b"lon,lat\n1,2\n", b"\x00\x01garbage\xff" * 10, b'{"hello": 1}'])
def test_non_geometry_file_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "notzones.geojson"
    p.write_bytes(content)
    with pytest.raises(InputError) as e:
        read_zone_file(p)
    assert "notzones.geojson" in str(e.value)


def test_invalid_polygon_names_file_and_feature_and_repairs_on_request(tmp_path: Path) -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"id": "ok"}, "geometry": shapely.geometry.mapping(SQUARE)},
            {"type": "Feature", "properties": {"id": "bowtie"}, "geometry": bowtie},
        ],
    }
    p = tmp_path / "bad.geojson"
    p.write_text(json.dumps(fc))
    with pytest.raises(InputError) as e:
        read_zone_file(p)
    msg = str(e.value)
    assert "bad.geojson" in msg and "feature 1" in msg and "bowtie" in msg and "Self-intersection" in msg
    zs = read_zone_file(p, repair=True)
    fixed = zs["bowtie"].geometry
    assert fixed.is_valid
    # Both lobes of the bow tie survive the repair: area 2 (two triangles of area 1).
    assert fixed.area == pytest.approx(2.0)


def test_unclosed_ring_is_an_error_naming_the_feature(tmp_path: Path) -> None:
    # GDAL accepts a ring whose first and last points differ (with a warning); GEOS refuses to build it. Found by
    # the zone-file fuzz test: it was a GEOSException traceback, not an InputError.
    open_ring = {"type": "Polygon", "coordinates": [[[6, 46], [56, 46], [56, 52], [46, 52], [46, 46]]]}
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"id": "ok"}, "geometry": shapely.geometry.mapping(SQUARE)},
            {"type": "Feature", "properties": {"id": "open"}, "geometry": open_ring},
        ],
    }
    p = tmp_path / "open.geojson"
    p.write_text(json.dumps(fc))
    with pytest.warns(RuntimeWarning), pytest.raises(InputError) as e:
        read_zone_file(p)
    msg = str(e.value)
    assert "open.geojson" in msg and "feature 1" in msg and "closed" in msg and e.value.field == "geometry"


def test_duplicate_ids_are_an_error(tmp_path: Path) -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"id": "x"}, "geometry": shapely.geometry.mapping(SQUARE)},
            {"type": "Feature", "properties": {"id": "x"}, "geometry": shapely.geometry.mapping(TRIANGLE)},
        ],
    }
    p = tmp_path / "dup.geojson"
    p.write_text(json.dumps(fc))
    with pytest.raises(InputError, match="appears twice"):
        read_zone_file(p)


def test_bad_validity_time_names_field(tmp_path: Path) -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"id": "x", "valid_from": "2025-06-21T00:00"},
                "geometry": shapely.geometry.mapping(SQUARE),
            }
        ],
    }
    p = tmp_path / "t.geojson"
    p.write_text(json.dumps(fc))
    with pytest.raises(InputError) as e:
        read_zone_file(p)
    assert "valid_from" in str(e.value) and "time zone" in str(e.value)


def test_load_zones_dispatch(tmp_path: Path, ne_admin0: object) -> None:
    zs = load_zones("ne-admin0", ids=["KAZ"])
    assert zs.ids == ["KAZ"]
    with pytest.raises(InputError, match="not a boundary set"):
        load_zones(tmp_path / "missing.geojson")
    with pytest.raises(InputError, match="no zone 'XXX'"):
        load_zones("ne-admin0", ids=["XXX"])
