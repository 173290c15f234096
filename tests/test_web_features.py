"""API tests (TestClient) of the case picker, zones' validity periods in the window, and prism avoiding paths."""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

warnings.filterwarnings("ignore", message=".*httpx.*")
from fastapi.testclient import TestClient  # noqa: E402

from overflight.case import Case  # noqa: E402
from overflight.zones import Provenance, Zone, ZoneSet  # noqa: E402

W = {"X-Overflight-Request": "1"}
HOST = "testserver"
PROV = Provenance(name="test", version="1", licence="CC0", source="test", sha256="0")


def _app(*args: object, **kw: object) -> TestClient:
    from overflight.web.app import create_app

    return TestClient(create_app(*args, host=HOST, **kw))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ zone periods

T = pd.Timestamp


@pytest.fixture(scope="module")
def timed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path = tmp_path_factory.mktemp("timed") / "z.duckdb"
    zones = [
        Zone(id="ALWAYS", name="always", kind="range", geometry=shapely.box(0, 0, 2, 2)),
        Zone(id="NOTAM", name="closure", kind="range", geometry=shapely.box(1, 1, 3, 3),
             valid_from=T("2025-06-20T06:00Z").to_pydatetime(), valid_to=T("2025-06-20T18:00Z").to_pydatetime()),
        Zone(id="LATER", name="from July", kind="range", geometry=shapely.box(5, 5, 6, 6),
             valid_from=T("2025-07-01T00:00Z").to_pydatetime()),
        Zone(id="UNTIL", name="until June", kind="range", geometry=shapely.box(1.5, 1.5, 2.5, 2.5),
             valid_to=T("2025-06-01T00:00Z").to_pydatetime()),
    ]
    with Case.create(path) as case:
        case.add_zones(ZoneSet(zones, PROV))
    with _app(path) as c:
        c.zones_ref = {z.id: z for z in zones}  # type: ignore[attr-defined]
        yield c
        c.app.state.workspace.close()  # type: ignore[attr-defined]


def _shown(c: TestClient, start: str | None, end: str | None) -> tuple[set[str], set[str]]:
    params = {"zoom": 5, **({"start": start} if start else {}), **({"end": end} if end else {})}
    feats = c.get("/api/zones", params=params).json()["features"]
    return ({f["properties"]["id"] for f in feats if f["properties"]["layer"] == "zone"},
            {f["properties"]["id"] for f in feats if f["properties"]["layer"] == "disputed"})


@pytest.mark.parametrize(("start", "end"), [
    ("2025-06-19T00:00Z", "2025-06-20T05:00Z"),  # before the closure
    ("2025-06-19T00:00Z", "2025-06-20T06:00Z"),  # ends at its first instant: in force then
    ("2025-06-20T10:00Z", "2025-06-20T11:00Z"),  # inside
    ("2025-06-20T18:00Z", "2025-06-21T00:00Z"),  # starts at valid_to: no longer in force (half-open)
    ("2025-06-20T17:00Z", "2025-06-21T00:00Z"),  # overlaps its end
    ("2025-05-01T00:00Z", "2025-05-02T00:00Z"),  # UNTIL in force, NOTAM not
    ("2025-05-31T00:00Z", "2025-07-02T00:00Z"),  # everything meets this window
    ("2025-08-01T00:00Z", "2025-08-02T00:00Z"),  # only the open-ended ones
])
def test_zones_appear_only_while_in_force(timed: TestClient, start: str, end: str) -> None:
    zones, disputed = _shown(timed, start, end)
    # Reference: Zone.active_at (the analyses' rule) sampled every minute across the closed window.
    grid = pd.date_range(start, end, freq="1min")
    want = {zid for zid, z in timed.zones_ref.items() if z.active_at(grid).any()}  # type: ignore[attr-defined]
    assert zones == want
    # An overlap is shown only while both its zones are.
    assert disputed == {d for d in ("ALWAYS|NOTAM", "ALWAYS|UNTIL", "NOTAM|UNTIL")
                        if set(d.split("|")) <= want}


def test_zones_without_a_window_are_all_shown(timed: TestClient) -> None:
    zones, _ = _shown(timed, None, None)
    assert zones == {"ALWAYS", "NOTAM", "LATER", "UNTIL"}
    feats = {f["properties"]["id"]: f["properties"] for f in timed.get("/api/zones").json()["features"]}
    assert feats["NOTAM"]["valid_from"] == "2025-06-20T06:00:00Z" and feats["NOTAM"]["valid_to"] == (
        "2025-06-20T18:00:00Z")
    assert feats["ALWAYS"]["valid_from"] is None


@pytest.mark.parametrize(("params", "field"), [({"start": "soon"}, "start"),
                                               ({"start": "2025-06-02T00:00Z", "end": "2025-06-01T00:00Z"}, "end")])
def test_zone_window_errors(timed: TestClient, params: dict[str, str], field: str) -> None:
    r = timed.get("/api/zones", params=params)
    assert r.status_code == 422 and r.json()["field"] == field


# ------------------------------------------------------------------------------------------ avoiding paths

@pytest.fixture(scope="module")
def demo(web_demo_case: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path = tmp_path_factory.mktemp("paths") / "case.duckdb"
    shutil.copy2(web_demo_case, path)
    with _app(path) as c:
        yield c
        c.app.state.workspace.close()  # type: ignore[attr-defined]


def test_avoiding_path_of_a_necessary_pair(demo: TestClient) -> None:
    ref: Case = demo.app.state.workspace.current().reader()  # type: ignore[attr-defined]
    table = ref.run_results("prism-2")
    row = table[table["verdict"] == "necessary"].iloc[0]
    pair = f"{int(row['from_index'])}-{int(row['to_index'])}"
    prism_ids = {f["properties"]["id"]: f["properties"] for f in demo.get("/api/prisms").json()["features"]}
    assert any(p["run"] == "prism-2" and p["pair"] == pair for p in prism_ids.values())
    body = demo.get("/api/prisms/prism-2/paths", params={"pair": pair}).json()
    (f,) = body["features"]
    p = f["properties"]
    assert p["zone"] == row["zone_id"] and p["verdict"] == "necessary" and p["kind"] == "avoiding"
    # Its length is the run's detour (the same evaluation), longer than the budget: it leaves the ellipse.
    assert p["length_m"] == pytest.approx(float(row["detour_m"]), rel=1e-9)
    assert p["length_m"] > float(row["budget_m"])
    line = shapely.from_geojson(json.dumps(f["geometry"]))
    geod = Geod(ellps="WGS84")
    # Measured independently along the drawn polyline (geodesic legs densified), the length agrees.
    assert geod.geometry_length(line) == pytest.approx(p["length_m"], rel=2e-3)
    # It runs from the one sighting to the other and stays out of the zone (up to the drawing's sag).
    s = ref.observations_frame(["sighting"]).set_index("id")
    coords = np.array(f["geometry"]["coordinates"])
    ends = {tuple(np.round(coords[0], 4)), tuple(np.round(coords[-1], 4))}
    obs = {tuple(np.round([s.loc[i, "lon"], s.loc[i, "lat"]], 4)) for i in ("ILL-S1-1", "ILL-S1-2")}
    assert ends == obs
    kaz = next(z.geometry for z in ref.zones([str(row["zone_id"])]))
    inside = shapely.intersection(line, kaz)
    assert inside.length <= 0.01 * line.length
    # The direct geodesic crosses the zone (that is why the path bends).
    assert shapely.intersects(shapely.LineString(coords[[0, -1]]), kaz)


def test_avoiding_paths_of_an_impossible_pair_are_empty(demo: TestClient) -> None:
    table = demo.app.state.workspace.current().reader().run_results("prism-1")  # type: ignore[attr-defined]
    row = table[table["verdict"] == "impossible"].iloc[0]
    body = demo.get("/api/prisms/prism-1/paths",
                    params={"pair": f"{int(row['from_index'])}-{int(row['to_index'])}"}).json()
    assert body["features"] == []


@pytest.mark.parametrize(("url", "field"), [
    ("/api/prisms/prism-2/paths?pair=x", "pair"), ("/api/prisms/prism-2/paths?pair=7-9", "pair"),
    ("/api/prisms/transit-1/paths?pair=0-1", "run"), ("/api/prisms/prism-99/paths?pair=0-1", "run"),
])
def test_avoiding_path_errors(demo: TestClient, url: str, field: str) -> None:
    r = demo.get(url)
    assert r.status_code == 422 and r.json()["field"] == field
    assert demo.get("/api/prisms/prism-2/paths").status_code == 422  # pair missing


# ------------------------------------------------------------------------------------------ case picker

@pytest.fixture
def picker(web_demo_case: Path, tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    home = tmp_path / "cases"
    (home / "demo").mkdir(parents=True)
    shutil.copy2(web_demo_case, home / "demo" / "case.duckdb")
    shutil.copy2(web_demo_case, home / "other.duckdb")
    (home / "notes.txt").write_text("not a case")
    with _app(None, cases_dirs=[home], recent_file=tmp_path / "recent.json") as c:
        yield c, home
        c.app.state.workspace.close()  # type: ignore[attr-defined]


def test_no_case_opens_the_picker(picker: tuple[TestClient, Path]) -> None:
    c, home = picker
    r = c.get("/api/case")
    assert r.status_code == 409 and r.json()["no_case"] is True
    assert c.get("/api/claims").status_code == 409 and c.get("/api/jobs").status_code == 409
    assert c.get("/").status_code == 200
    body = c.get("/api/cases").json()
    assert {x["path"] for x in body["cases"]} == {str((home / "demo" / "case.duckdb").resolve()),
                                                  str((home / "other.duckdb").resolve())}
    assert body["open"] is None and body["new_in"] == str(home.resolve())


def test_open_and_switch_cases_without_restarting(picker: tuple[TestClient, Path], tmp_path: Path) -> None:
    c, home = picker
    a, b = (home / "demo" / "case.duckdb").resolve(), (home / "other.duckdb").resolve()
    r = c.post("/api/cases/open", headers=W, json={"path": str(a)})
    assert r.status_code == 200, r.text
    s = c.get("/api/case").json()
    assert s["path"] == str(a) and len(c.get("/api/claims").json()["claims"]) == 6
    # Write to the first case, then switch: the second does not have the upload, the first kept it.
    up = c.post("/api/upload/tracks", headers=W, data={"dataset": "mine"},
                files={"file": ("g.csv", b"track_id,time,lon,lat\nX1,2025-01-01T00:00:00Z,1,1\n"
                                         b"X1,2025-01-01T00:01:00Z,1.01,1\n")})
    assert up.status_code == 200, up.text
    assert c.post("/api/cases/open", headers=W, json={"path": str(b)}).status_code == 200
    s2 = c.get("/api/case").json()
    assert s2["path"] == str(b) and "mine" not in {d["dataset"] for d in s2["datasets"]}
    listing = c.get("/api/cases").json()
    assert listing["open"] == str(b) and [x["open"] for x in listing["cases"] if x["path"] == str(b)] == [True]
    assert listing["recent"][:2] == [str(b), str(a)]  # newest first
    assert json.loads((tmp_path / "recent.json").read_text())[:2] == [str(b), str(a)]
    assert c.post("/api/cases/open", headers=W, json={"path": str(a)}).status_code == 200
    assert "mine" in {d["dataset"] for d in c.get("/api/case").json()["datasets"]}
    # Opening the open case again keeps it as it is (writable, not a snapshot of itself).
    again = c.post("/api/cases/open", headers=W, json={"path": str(a)})
    assert again.status_code == 200 and again.json()["read_only"] is False


def test_create_a_new_case(picker: tuple[TestClient, Path]) -> None:
    c, home = picker
    r = c.post("/api/cases/new", headers=W, json={"name": "fresh-1"})
    assert r.status_code == 200, r.text
    assert (home / "fresh-1.duckdb").exists() and r.json()["path"].endswith("fresh-1.duckdb")
    s = c.get("/api/case").json()
    assert s["counts"]["tracks"] == 0 and s["counts"]["claims"] == 0 and s["read_only"] is False
    again = c.post("/api/cases/new", headers=W, json={"name": "fresh-1"})
    assert again.status_code == 422 and "already exists" in again.json()["detail"]


@pytest.mark.parametrize(("route", "body", "field"), [
    ("open", {"path": "/etc/passwd"}, "path"), ("open", {"path": "../outside.duckdb"}, "path"),
    ("open", {}, "path"), ("open", {"path": 5}, "path"), ("new", {"name": "../up"}, "name"),
    ("new", {"name": ""}, "name"), ("new", {"name": "a/b"}, "name"), ("new", {"name": "<script>"}, "name"),
])
def test_picker_bad_input_is_422(picker: tuple[TestClient, Path], route: str, body: dict[str, object],
                                 field: str) -> None:
    c, home = picker
    (home.parent / "outside.duckdb").write_bytes(b"")
    r = c.post(f"/api/cases/{route}", headers=W, json=body)
    assert r.status_code == 422 and r.json()["field"] == field
    assert c.get("/api/case").status_code == 409  # nothing was opened
    assert not list(home.glob("*up*")) and not (home.parent / "up.duckdb").exists()


def test_picker_writes_are_guarded(picker: tuple[TestClient, Path]) -> None:
    c, home = picker
    path = str((home / "other.duckdb").resolve())
    assert c.post("/api/cases/open", json={"path": path}).status_code == 403  # no write header
    r = c.post("/api/cases/open", headers={**W, "Origin": "http://evil.example"}, json={"path": path})
    assert r.status_code == 403
    assert c.post("/api/cases/open", headers=W, content=b"not json").status_code == 422
    assert c.post("/api/cases/open", headers=W, json=[path]).status_code == 422
    assert c.get("/api/case").status_code == 409


def test_a_case_held_elsewhere_opens_read_only_from_the_picker(picker: tuple[TestClient, Path]) -> None:
    import multiprocessing

    from test_web_api import _hold

    c, home = picker
    path = (home / "other.duckdb").resolve()
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold, args=(str(path), ready, stop))
    proc.start()
    try:
        assert ready.wait(60)
        r = c.post("/api/cases/open", headers=W, json={"path": str(path)})
        assert r.status_code == 200 and r.json()["read_only"] is True
        s = c.get("/api/case").json()
        assert s["read_only"] and "another process" in s["read_only_reason"]
    finally:
        stop.set()
        proc.join(30)


# ------------------------------------------------------------------------------------------ all or nothing

MIXED = b"""sources:
  - {id: ok-src, name: fine source, kind: media, reliability: B}
claims:
  - id: ok-claim
    statement: a valid claim
    source: ok-src
    stance: asserts
    what: transit
  - id: bad-claim
    statement: its source is missing
    source: no-such-source
    stance: asserts
    what: transit
"""


@pytest.mark.parametrize(("kind", "name", "data"), [
    ("claims", "mixed.yaml", MIXED),
    ("zones", "z.geojson", b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"id": "A"},'
                           b' "geometry": {"type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1],[0,0]]]}}, '
                           b'{"type": "Feature", "properties": {"id": "B", "valid_from": "not a time"}, '
                           b'"geometry": {"type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1],[0,0]]]}}]}'),
    ("observations", "obs.csv", b"id,kind,time_start,lon,lat,source_id\nO1,sighting,2025-06-20T00:00Z,50,50,ok\n"
                                b"O2,sighting,yesterday,50,50,ok\n"),
])
def test_a_bad_row_anywhere_imports_nothing(web_demo_case: Path, tmp_path: Path, kind: str, name: str,
                                            data: bytes) -> None:
    path = tmp_path / "case.duckdb"
    shutil.copy2(web_demo_case, path)
    with _app(path) as c:
        before = c.get("/api/case").json()["counts"]
        zones_before = len(c.get("/api/zones").json()["features"])
        r = c.post(f"/api/upload/{kind}", headers=W, files={"file": (name, data)})
        assert r.status_code == 422, r.text
        body = r.json()
        assert "nothing imported" in body["message"] and body["examples"]
        assert c.get("/api/case").json()["counts"] == before
        assert len(c.get("/api/zones").json()["features"]) == zones_before
        c.app.state.workspace.close()  # type: ignore[attr-defined]


def test_zone_periods_on_the_timeline(timed: TestClient) -> None:
    items = {i["id"]: i for i in timed.get("/api/timeline").json()["items"] if i["lane"] == "zones"}
    assert set(items) == {"NOTAM", "LATER", "UNTIL"}  # ALWAYS has no period
    assert (items["NOTAM"]["start"], items["NOTAM"]["end"]) == ("2025-06-20T06:00:00Z", "2025-06-20T18:00:00Z")
    assert items["LATER"]["open_end"] and items["LATER"]["end"] is None and not items["LATER"]["open_start"]
    assert items["UNTIL"]["open_start"] and items["UNTIL"]["start"] is None


def test_basemap_is_the_embedded_states_simplified_per_zoom(timed: TestClient) -> None:
    from overflight import boundaries
    from overflight.web.views import pixel_deg

    ne = boundaries.load("ne-admin0")
    ref = {z.id: z.geometry for z in ne}
    counts = []
    for zoom in (2, 6):
        feats = timed.get("/api/basemap", params={"zoom": zoom}).json()["features"]
        assert {f["properties"]["id"] for f in feats} == set(ref)
        g = {f["properties"]["id"]: shapely.from_geojson(json.dumps(f["geometry"])) for f in feats}
        # Each outline stays within two pixels of the original (Hausdorff distance, degrees).
        assert shapely.hausdorff_distance(g["KAZ"], ref["KAZ"]) <= 2 * pixel_deg(zoom)
        counts.append(sum(shapely.get_num_coordinates(x) for x in g.values()))
    assert counts[0] < counts[1] < sum(shapely.get_num_coordinates(x) for x in ref.values())
    assert timed.get("/api/basemap", params={"zoom": 30}).status_code == 422
