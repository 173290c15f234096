"""Zone files cannot reach the network or other local files through GDAL; coordinates and limits are checked."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
import shapely

from overflight.errors import InputError
from overflight.zones import load_zones, read_zone_file

SQUARE = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"id": "sq"}, "geometry": {
    "type": "Polygon", "coordinates": [[[50, 50], [52, 50], [52, 52], [50, 52], [50, 50]]]}}]}


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body = json.dumps(SQUARE).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []
    handler = type("H", (_Recorder,), {"hits": hits})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", hits
    finally:
        srv.shutdown()
        srv.server_close()


def _vrt(src: str, layer: str = "zones", sql: str | None = None) -> str:
    inner = f"<SrcSQL>{sql}</SrcSQL>" if sql else f"<SrcLayer>{layer}</SrcLayer>"
    return (f'<OGRVRTDataSource><OGRVRTLayer name="zones"><SrcDataSource>{src}</SrcDataSource>{inner}'
            "</OGRVRTLayer></OGRVRTDataSource>")


def _tracks(tmp: Path) -> Path:
    p = tmp / "t.csv"
    p.write_text("track_id,time,lon,lat\na,2025-06-20T00:00:00Z,49,51\na,2025-06-20T01:00:00Z,53,51\n")
    return p


def test_transit_with_vrt_and_vsicurl_zones_reaches_nothing(tmp_path: Path, server: tuple[str, list[str]]) -> None:
    """Offline proof: the CLI, in its own process, against a loopback server that records every request."""
    url, hits = server
    tracks = _tracks(tmp_path)
    candidates = {
        "vrt": tmp_path / "zones.vrt",
        "vrt-named-geojson": tmp_path / "zones.geojson",
        "vrt-csv-passwd": tmp_path / "passwd.vrt",
        "kml-networklink": tmp_path / "link.kml",
    }
    candidates["vrt"].write_text(_vrt(f"/vsicurl/{url}/zones.geojson"))
    candidates["vrt-named-geojson"].write_text(_vrt(f"/vsicurl/{url}/z.geojson"))
    candidates["vrt-csv-passwd"].write_text(_vrt("CSV:/etc/passwd", sql="SELECT * FROM passwd"))
    candidates["kml-networklink"].write_text(
        '<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document><NetworkLink><Link>'
        f"<href>{url}/net.kml</href></Link></NetworkLink></Document></kml>")
    zip_vrt = tmp_path / "zones.zip"
    with zipfile.ZipFile(zip_vrt, "w") as z:
        z.writestr("a.vrt", _vrt(f"/vsicurl/{url}/zip.geojson"))
    paths = [*map(str, candidates.values()), str(zip_vrt), f"/vsicurl/{url}/direct.geojson",
             f"/vsicurl?url={url}/q.geojson", f"ne-admin0+/vsicurl/{url}/joined.geojson", f"{url}/plain.geojson"]
    env = {**os.environ, "COLUMNS": "200"}
    for zones in paths:
        r = subprocess.run([sys.executable, "-m", "overflight", "transit", str(tracks), "--zones", zones,
                            "-o", str(tmp_path / "out.csv")], capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == 2, (zones, r.stdout, r.stderr)
        assert "error:" in r.stderr and "Traceback" not in r.stderr, (zones, r.stderr)
        assert not (tmp_path / "out.csv").exists()
    assert hits == []


def test_library_refuses_virtual_paths_and_formats(tmp_path: Path, server: tuple[str, list[str]]) -> None:
    url, hits = server
    vrt = tmp_path / "x.vrt"
    vrt.write_text(_vrt(f"/vsicurl/{url}/zones.geojson"))
    for src in (vrt, f"/vsicurl/{url}/a.geojson", "/vsizip//tmp/x.zip/a.shp", "CSV:/etc/passwd",
                f"/vsicurl_streaming/{url}/b.geojson"):
        with pytest.raises(InputError):
            load_zones(src)
        with pytest.raises(InputError):
            read_zone_file(src)
    # GDAL itself, opened directly after overflight set its options, reaches nothing either.
    import pyogrio

    from overflight.safeio import offline_gdal

    offline_gdal()
    with pytest.raises(Exception):  # noqa: B017 - whatever GDAL raises, the point is the empty log below
        pyogrio.read_info(f"/vsicurl/{url}/zones.geojson")
    assert hits == []


def test_csv_and_other_gdal_formats_are_refused_by_content(tmp_path: Path) -> None:
    csv = tmp_path / "z.csv"
    csv.write_text("id,WKT\na,\"POLYGON((0 0,1 0,1 1,0 0))\"\n")
    gml = tmp_path / "z.geojson"
    gml.write_text('<?xml version="1.0"?><gml:FeatureCollection xmlns:gml="http://www.opengis.net/gml"/>')
    for p in (csv, gml):
        with pytest.raises(InputError, match="zone file"):
            read_zone_file(p)


def test_allowed_formats_still_read(tmp_path: Path) -> None:
    gj = tmp_path / "z.geojson"
    gj.write_text(json.dumps(SQUARE))
    assert read_zone_file(gj).ids == ["sq"]
    kml = tmp_path / "z.kml"
    kml.write_text('<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark>'
                   "<name>sq</name><Polygon><outerBoundaryIs><LinearRing><coordinates>50,50 52,50 52,52 50,52 50,50"
                   "</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark></Document></kml>")
    assert len(read_zone_file(kml)) == 1
    kmz = tmp_path / "z.kmz"
    with zipfile.ZipFile(kmz, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(kml, "doc.kml")
    assert len(read_zone_file(kmz)) == 1
    import geopandas as gpd

    gdf = gpd.read_file(gj)
    gdf.to_file(tmp_path / "z.gpkg", driver="GPKG")
    assert read_zone_file(tmp_path / "z.gpkg").ids == ["sq"]
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    gdf.to_file(shp_dir / "z.shp")
    assert read_zone_file(shp_dir / "z.shp").ids == ["sq"]
    zshp = tmp_path / "z.zip"
    with zipfile.ZipFile(zshp, "w") as z:
        for f in shp_dir.iterdir():
            z.write(f, f.name)
    assert read_zone_file(zshp).ids == ["sq"]
    gdf.to_parquet(tmp_path / "z.parquet")
    assert read_zone_file(tmp_path / "z.parquet").ids == ["sq"]


def test_xml_entities_in_kml_zones_are_refused(tmp_path: Path) -> None:
    bomb = ('<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
            '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>&b;</name></Document></kml>')
    long_comment = "<!--" + "x" * 100_000 + "-->"
    for i, text in enumerate((bomb, f'<?xml version="1.0"?>{long_comment}{bomb[21:]}')):
        p = tmp_path / f"b{i}.kml"
        p.write_text(text)
        with pytest.raises(InputError, match=r"DTD|entity|not KML"):
            read_zone_file(p)


def test_kmz_bomb_is_refused_by_uncompressed_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVERFLIGHT_MAX_UNCOMPRESSED_MB", "5")
    kmz = tmp_path / "bomb.kmz"
    with zipfile.ZipFile(kmz, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("doc.kml", '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><!--' + " " * 20_000_000
                   + "--></Document></kml>")
    assert kmz.stat().st_size < 100_000
    with pytest.raises(InputError, match="limit"):
        read_zone_file(kmz)


def _poly(coords: list[list[float]], **props: object) -> dict[str, object]:
    return {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"id": "z", **props},
                                                       "geometry": {"type": "Polygon", "coordinates": [coords]}}]}


@pytest.mark.parametrize("coords", [
    [[50, 50], [52, 50], [52, 95], [50, 50]],
    [[179, 0], [181, 0], [181, 1], [179, 0]],
    [[-181, 0], [-179, 0], [-179, 1], [-181, 0]],
    [[0, -90.5], [1, 0], [2, 0], [0, -90.5]],
])
def test_zone_file_coordinates_out_of_range_are_refused(tmp_path: Path, coords: list[list[float]]) -> None:
    p = tmp_path / "z.geojson"
    p.write_text(json.dumps(_poly(coords)))
    with pytest.raises(InputError, match="outside lon"):
        read_zone_file(p)


def test_polygon_over_the_antimeridian_is_split_not_wrapped(tmp_path: Path) -> None:
    p = tmp_path / "z.geojson"
    p.write_text(json.dumps(_poly([[179, 10], [-179, 10], [-179, 12], [179, 12], [179, 10]])))
    z = read_zone_file(p)[0]
    minx, _, maxx, _ = z.geometry.bounds
    parts = list(shapely.get_parts(z.geometry))
    # two 1°-wide pieces meeting at ±180, not one 358°-wide band
    assert len(parts) == 2 and minx == -180 and maxx == 180
    assert sum(part.area for part in parts) == pytest.approx(4.0, rel=1e-9)
    assert z.geometry.contains(shapely.Point(179.5, 11)) and z.geometry.contains(shapely.Point(-179.5, 11))
    assert not z.geometry.contains(shapely.Point(0, 11))


def test_polygon_split_at_the_seam_stays_as_given(tmp_path: Path) -> None:
    # Natural Earth style: a ring running along ±180 is not an antimeridian crossing.
    p = tmp_path / "z.geojson"
    ring = [[170, -90], [180, -90], [180, -80], [170, -80], [170, -90]]
    p.write_text(json.dumps(_poly(ring)))
    assert read_zone_file(p)[0].geometry.area == pytest.approx(100.0)


@pytest.mark.parametrize(("props", "field"), [
    ({"floor_m": 5000, "ceiling_m": 1000}, "floor_m"),
    ({"valid_from": "2025-06-22T00:00Z", "valid_to": "2025-06-21T00:00Z"}, "valid_from"),
    ({"floor_m": "abc"}, "floor_m"),
    ({"ceiling_m": "1e400"}, "ceiling_m"),
    ({"floor_m": -99_999_999}, "floor_m"),
    ({"ceiling_m": True}, "ceiling_m"),
])
def test_zone_limits_are_checked(tmp_path: Path, props: dict[str, object], field: str) -> None:
    p = tmp_path / "z.geojson"
    p.write_text(json.dumps(_poly([[50, 50], [52, 50], [52, 52], [50, 50]], **props)))
    with pytest.raises(InputError) as ei:
        read_zone_file(p)
    assert ei.value.field == field
