"""Parametric zones from JSON/YAML specs: shapes around a gazetteer place or a coordinate, and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from geographiclib.geodesic import Geodesic

from overflight import gazetteer
from overflight.errors import InputError
from overflight.zones import from_spec, load_zones, read_spec_file

WGS84 = Geodesic.WGS84


def _dist_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    return float(WGS84.Inverse(lat1, lon1, lat2, lon2)["s12"]) / 1000.0


def test_annulus_around_akhtubinsk_matches_the_description() -> None:
    z = from_spec({"id": "glits-ranges", "shape": "annulus", "center": "Akhtubinsk", "inner_km": 22,
                   "outer_km": 800})
    akh = gazetteer.resolve("Akhtubinsk")
    assert z.id == "glits-ranges" and z.geometry.is_valid
    # Points on bearings every 30°, at distances just inside and outside each limit (geographiclib direct).
    for az in range(0, 360, 30):
        for d_km, inside in [(21.0, False), (23.0, True), (400.0, True), (799.0, True), (801.0, False)]:
            p = WGS84.Direct(akh.lat, akh.lon, az, d_km * 1000.0)
            assert z.geometry.contains(shapely.Point(p["lon2"], p["lat2"])) == inside, (az, d_km)
    # Uralsk (Oral), ~500 km away, is inside the ranges; Moscow (~1,100 km) is not.
    oral = gazetteer.resolve("Oral", country="KZ")
    assert 400 < _dist_km(akh.lon, akh.lat, oral.lon, oral.lat) < 600
    assert z.geometry.contains(shapely.Point(oral.lon, oral.lat))
    assert not z.geometry.contains(shapely.Point(37.62, 55.75))


def test_circle_sector_buffer_point() -> None:
    c = from_spec({"id": "c", "shape": "circle", "center": [30.0, 50.0], "radius_km": 100})
    ring = shapely.get_coordinates(c.geometry.exterior)
    d = np.array([_dist_km(30.0, 50.0, x, y) for x, y in ring])
    assert np.abs(d - 100.0).max() < 0.001
    s = from_spec({"id": "s", "shape": "sector", "center": [30.0, 50.0], "radius_km": 100, "from_deg": 350,
                   "to_deg": 80})
    for az, inside in [(0, True), (45, True), (355, True), (90, False), (180, False), (340, False)]:
        p = WGS84.Direct(50.0, 30.0, az, 50_000.0)
        assert s.geometry.contains(shapely.Point(p["lon2"], p["lat2"])) == inside, az
    b = from_spec({"id": "b", "shape": "buffer", "around": [[30.0, 50.0], [32.0, 50.0]], "width_km": 10})
    assert b.geometry.contains(shapely.Point(31.0, 50.05))  # ~5.6 km north of the line
    assert not b.geometry.contains(shapely.Point(31.0, 50.2))  # ~22 km north
    pt = from_spec({"id": "site", "shape": "point", "center": [40.56, 45.44], "kind": "site"})
    assert pt.geometry.equals(shapely.Point(40.56, 45.44)) and pt.kind == "site" and not pt.is_areal


def test_circle_over_the_antimeridian_is_split() -> None:
    z = from_spec({"id": "fiji-ish", "shape": "circle", "center": [179.5, 0.0], "radius_km": 200})
    assert z.geometry.geom_type == "MultiPolygon" and len(z.geometry.geoms) == 2
    minx, _, maxx, _ = z.geometry.bounds
    assert minx >= -180 and maxx <= 180


def test_buffer_around_place_names_and_extra_keys_kept() -> None:
    z = from_spec({"id": "corridor", "shape": "buffer", "around": ["Saratov", "Orenburg"], "width_km": 25,
                   "approximate": True, "floor_m": 0, "ceiling_m": 3000, "valid_from": "2025-06-20T00:00:00Z"})
    sar, ore = gazetteer.resolve("Saratov"), gazetteer.resolve("Orenburg")
    assert z.geometry.contains(shapely.Point(sar.lon, sar.lat)) and z.geometry.contains(shapely.Point(ore.lon, ore.lat))
    assert z.properties["approximate"] is True and z.ceiling_m == 3000.0 and z.valid_from is not None


@pytest.mark.parametrize(("spec", "field", "text"), [
    ({"shape": "circle", "center": [0, 0], "radius_km": 1}, "id", "missing 'id'"),
    ({"id": "x", "shape": "hexagon", "center": [0, 0]}, "shape", "unknown shape"),
    ({"id": "x", "shape": "circle", "center": [0, 0]}, "radius_km", "missing 'radius_km'"),
    ({"id": "x", "shape": "circle", "center": [0, 95], "radius_km": 1}, "center", "outside"),
    ({"id": "x", "shape": "circle", "center": "Nowhereville-Xyz", "radius_km": 1}, "center", "no place named"),
    ({"id": "x", "shape": "annulus", "center": [0, 0], "inner_km": 5, "outer_km": 5}, "inner_km", "below"),
    ({"id": "x", "shape": "circle", "center": [0, 0], "radius_km": "far"}, "radius_km", "number"),
    ({"id": "x", "shape": "sector", "center": [0, 0], "radius_km": 5, "from_deg": 0}, "to_deg", "missing"),
    ({"id": "x", "shape": "buffer", "around": "Saratov", "width_km": 5}, "around", "list"),
])
def test_spec_errors_name_the_field(spec: dict[str, object], field: str, text: str) -> None:
    with pytest.raises(InputError) as e:
        from_spec(spec, file="zones.yaml", row=3)
    assert e.value.field == field and text in str(e.value) and "zones.yaml" in str(e.value)


def test_spec_files_json_and_yaml_and_dispatch(tmp_path: Path) -> None:
    specs = [{"id": "a", "shape": "circle", "center": [10, 10], "radius_km": 50},
             {"id": "b", "shape": "point", "center": [11, 11]}]
    pj = tmp_path / "z.json"
    pj.write_text(json.dumps(specs))
    py = tmp_path / "z.yaml"
    py.write_text("- {id: a, shape: circle, center: [10, 10], radius_km: 50}\n"
                  "- {id: b, shape: point, center: [11, 11]}\n")
    for p in (pj, py):
        zs = read_spec_file(p)
        assert zs.ids == ["a", "b"] and len(zs.provenance.sha256) == 64
        assert load_zones(p, ids=["b"]).ids == ["b"]
    assert read_spec_file(pj).provenance.sha256 == read_spec_file(py).provenance.sha256
    one = tmp_path / "one.json"
    one.write_text(json.dumps(specs[0]))
    assert load_zones(one).ids == ["a"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {id: a, shape: circle, center: [10, 10], radius_km: 50}\n- {id: c, shape: circle}\n")
    with pytest.raises(InputError) as e:
        read_spec_file(bad)
    assert "bad.yaml" in str(e.value) and "row 1" in str(e.value)


def test_boundary_set_plus_spec_file(tmp_path: Path) -> None:
    p = tmp_path / "ranges.yaml"
    p.write_text("- {id: glits-ranges, shape: annulus, center: Akhtubinsk, inner_km: 22, outer_km: 800}\n")
    zs = load_zones(f"ne-admin0+{p}", ids=["KAZ", "glits-ranges"])
    assert zs.ids == ["KAZ", "glits-ranges"]
    assert "ne-admin0" in zs.provenance.name
