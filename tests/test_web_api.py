"""The web app's API (FastAPI TestClient) over the demo case: every route, its checks and its 4xx answers."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod
from scipy.spatial import cKDTree

warnings.filterwarnings("ignore", message=".*httpx.*")  # starlette's testclient notes a future httpx2
from fastapi.testclient import TestClient  # noqa: E402

from overflight.case import Case  # noqa: E402
from overflight.web import views  # noqa: E402
from overflight.web.app import create_app, open_state  # noqa: E402

DATA = Path(__file__).parent / "data" / "web"
W = {"X-Overflight-Request": "1"}
HOST = "testserver"


def _copy(case: Path, tmp: Path) -> Path:
    dst = tmp / "case.duckdb"
    shutil.copy2(case, dst)
    return dst


@pytest.fixture(scope="module")
def ro_case(web_demo_case: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _copy(web_demo_case, tmp_path_factory.mktemp("webapi"))


@pytest.fixture(scope="module")
def client(ro_case: Path) -> Iterator[TestClient]:
    app = create_app(ro_case, host=HOST)
    with TestClient(app) as c:
        yield c
    app.state.workspace.close()


@pytest.fixture
def wclient(web_demo_case: Path, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(_copy(web_demo_case, tmp_path), host=HOST, max_upload_mb=0.05)
    with TestClient(app) as c:
        yield c
    app.state.workspace.close()


def _reference(client: TestClient) -> Case:
    c: Case = client.app.state.workspace.current().reader()  # type: ignore[attr-defined]
    return c


# ------------------------------------------------------------------------------------------ reads

def test_summary_counts_match_the_case(client: TestClient) -> None:
    r = client.get("/api/case")
    assert r.status_code == 200
    body = r.json()
    ref = _reference(client)
    assert body["counts"] == ref.counts()
    t = ref.tracks()
    assert body["illustrative"] is True and body["read_only"] is False
    w, s, e, n = body["extent"]["bbox"]
    assert w <= t["lon"].min() and e >= t["lon"].max() and s <= t["lat"].min() and n >= t["lat"].max()
    assert r.headers["content-security-policy"].startswith("default-src 'self'")


def test_claims_board_has_verdicts_reasoning_and_framed_evidence(client: TestClient) -> None:
    body = client.get("/api/claims").json()
    ref = _reference(client)
    verdicts = {k: v.verdict for k, v in ref.verdicts().items()}
    board = {c["id"]: c for c in body["claims"]}
    assert {k: c["verdict"] for k, c in board.items()} == verdicts
    z = board["zakharova-transit"]
    assert z["grade"] == "D4" and z["reasoning"][-1].startswith("=> partly supported")
    assert len(z["evidence"]) == len(ref.evidence("zakharova-transit")) >= 1
    # The denial's pool holds the assertion's items (via the answers link).
    d = board["kz-mfa-denial"]
    assert {e["id"] for e in d["evidence"]} == {e["id"] for e in z["evidence"]}
    assert all(e["via"] == "zakharova-transit" for e in d["evidence"])
    # A prism item is framed on its two sightings: bbox and window contain them, and it names its ellipse.
    prism_ev = next(e for e in z["evidence"] if e["run"] == "prism-2")
    f = prism_ev["focus"]
    sight = ref.observations_frame(["sighting"]).set_index("id").loc[["ILL-S1-1", "ILL-S1-2"]]
    assert f["bbox"][0] == pytest.approx(sight["lon"].min()) and f["bbox"][2] == pytest.approx(sight["lon"].max())
    assert pd.Timestamp(f["start"]) == pd.Timestamp(sight["time_start"].min()).tz_convert("UTC").floor("s")
    assert "ILL-S1-1" in f["features"] and "KAZ" in f["features"]
    prism_ids = {p["properties"]["id"] for p in client.get("/api/prisms").json()["features"]}
    assert any(x in prism_ids for x in f["features"])


def test_claims_for_a_feature(client: TestClient) -> None:
    body = client.get("/api/claims", params={"feature": "KAZ"}).json()
    ref = _reference(client)
    named = {c.id for c in ref.claims().values() if "KAZ" in c.where_zones}
    assert set(body["for_feature"]) >= named
    body = client.get("/api/claims", params={"feature": "ILL-S1-1"}).json()
    assert "zakharova-transit" in body["for_feature"] and "cpc-kropotkinskaya-strike" not in body["for_feature"]


def test_zones_simplified_per_zoom_within_a_pixel(client: TestClient) -> None:
    ref = _reference(client)
    zs = {z.id: z.geometry for z in ref.zones()}
    counts = {}
    for zoom in (2, 8):
        body = client.get("/api/zones", params={"zoom": zoom}).json()
        feats = {f["properties"]["id"]: f for f in body["features"] if f["properties"]["layer"] == "zone"}
        assert set(feats) == set(zs)
        g = shapely.from_geojson(json.dumps(feats["RUS"]["geometry"]))
        # Every original vertex lies within two pixels of the simplified outline (the tolerance is one pixel;
        # GEOS's topology-preserving simplifier may exceed it slightly where it keeps rings apart).
        pts = shapely.points(shapely.get_coordinates(zs["RUS"]))
        d = shapely.distance(pts, g.boundary)
        assert d.max() <= 2 * views.pixel_deg(zoom) and np.quantile(d, 0.99) <= views.pixel_deg(zoom)
        counts[zoom] = shapely.get_num_coordinates(g)
    assert counts[2] < counts[8] < shapely.get_num_coordinates(zs["RUS"])


def test_disputed_areas_are_overlaps_of_same_kind_zones(tmp_path: Path) -> None:
    from overflight.zones import Provenance, Zone, ZoneSet

    a = Zone(id="A", name="A", kind="state", geometry=shapely.box(0, 0, 2, 2))
    b = Zone(id="B", name="B", kind="state", geometry=shapely.box(1, 1, 3, 3))
    c = Zone(id="R", name="R", kind="range", geometry=shapely.box(0, 0, 3, 3))  # another kind: not a dispute
    with Case.create(tmp_path / "z.duckdb") as case:
        case.add_zones(ZoneSet([a, b, c], Provenance(name="x", version="1", licence="CC0", source="test",
                                                     sha256="0")))
        layer = views.ZoneLayer.from_case(case)
    fc = layer.geojson(5)
    disputed = [f for f in fc["features"] if f["properties"]["layer"] == "disputed"]
    assert [f["properties"]["zones"] for f in disputed] == [["A", "B"]]
    assert shapely.from_geojson(json.dumps(disputed[0]["geometry"])).equals(shapely.box(1, 1, 2, 2))
    flags = {f["properties"]["id"]: f["properties"]["disputed"] for f in fc["features"] if
             f["properties"]["layer"] == "zone"}
    assert flags == {"A": True, "B": True, "R": False}


def test_tracks_in_a_window(client: TestClient) -> None:
    case = _reference(client)
    ref = case.tracks()
    visits = case.run_results("transit-1")
    entries = pd.to_datetime(visits["entry_time"][visits["entry_kind"] == "crossing"], utc=True).sort_values()
    t0, t1 = entries.iloc[0] - pd.Timedelta("30min"), entries.iloc[0] + pd.Timedelta("30min")
    start, end = t0.isoformat(), t1.isoformat()
    body = client.get("/api/tracks", params={"start": start, "end": end, "zoom": 14}).json()
    inside = ref[(ref["time"] >= t0) & (ref["time"] <= t1)]
    assert body["fixes_in_window"] == len(inside)
    lines = [f for f in body["features"] if f["properties"]["layer"] == "track"]
    assert {f["properties"]["id"] for f in lines} == set(inside["track_id"])
    for f in lines:
        assert t0 <= pd.Timestamp(f["properties"]["start"]) <= pd.Timestamp(f["properties"]["end"]) <= t1
    crossings = [f for f in body["features"] if f["properties"]["layer"] == "crossing"]
    want = {(str(v["zone_id"]), side) for v in visits.to_dict("records") for side in ("entry", "exit")
            if v[f"{side}_kind"] == "crossing" and t0 <= pd.Timestamp(v[f"{side}_time"]) <= t1}
    assert {(f["properties"]["zone"], f["properties"]["side"]) for f in crossings} == want and want
    # The gap of ILL-T2 (longer than 10 min) is an unobserved stretch, as transit marked it.
    whole = client.get("/api/tracks", params={"zoom": 5}).json()
    gaps = [f for f in whole["features"] if f["properties"]["layer"] == "gap"]
    tr = ref[ref["track_id"] == "ILL-T2"].sort_values("time")
    dt = tr["time"].diff().dt.total_seconds()
    assert len(gaps) == int((dt > 600).sum()) >= 1
    assert pd.Timestamp(gaps[0]["properties"]["start"]) == tr["time"].iloc[int(np.argmax(dt.to_numpy() > 600)) - 1]
    # Nothing in a window without fixes.
    empty = client.get("/api/tracks", params={"start": "2020-01-01T00:00Z", "end": "2020-01-02T00:00Z"}).json()
    assert empty["features"] == [] and empty["fixes_in_window"] == 0


def test_track_decimation_keeps_every_fix_within_two_pixels() -> None:
    rng = np.random.default_rng(7)
    n, k = 300_000, 30
    code = np.repeat(np.arange(k, dtype=np.int32), n // k)
    steps = rng.normal(0, 0.002, (n, 2))
    xy = np.cumsum(steps, axis=0) + np.array([50.0, 50.0])
    t = (np.tile(np.arange(n // k), k) * 10 * 1_000_000_000).astype(np.int64)  # 10 s per fix
    layer = views.TrackLayer(np.array([f"T{i}" for i in range(k)]), code, t, xy[:, 0].copy(), xy[:, 1].copy(),
                             np.zeros(k, dtype=bool), 600.0)
    zoom = 6.0
    fc = layer.window(None, None, zoom)
    assert fc["fixes_in_window"] == n and fc["fixes_sent"] < n / 3
    kept = np.array([c for f in fc["features"] if f["properties"]["layer"] == "track"
                     for c in f["geometry"]["coordinates"]])
    d, _ = cKDTree(kept).query(xy)
    px = views.pixel_deg(zoom)
    assert d.max() <= 2 * px * np.sqrt(2) + 1e-5
    # A narrow window and a view box cut the work.
    w = layer.window(pd.Timestamp(0, tz="UTC"), pd.Timestamp(3600 * 10**9, tz="UTC"), zoom)
    assert w["fixes_in_window"] == k * 361


def test_observations_meet_the_window_as_intervals(client: TestClient) -> None:
    ref = _reference(client).observations_frame()
    start, end = pd.Timestamp("2025-05-20T00:00Z"), pd.Timestamp("2025-06-01T00:00Z")
    body = client.get("/api/observations", params={"start": start.isoformat(), "end": end.isoformat()}).json()
    got = sorted(f["properties"]["id"] for f in body["features"] if f["properties"]["layer"] == "observation")
    t0 = pd.to_datetime(ref["time_start"], utc=True)
    t1 = pd.to_datetime(ref["time_end"], utc=True).fillna(t0)
    want = sorted(ref["id"][(t1 >= start) & (t0 <= end)])
    assert got == want and 0 < len(got) < len(ref)
    # Position-error discs are geodesic circles of the stated radius (area within 1%).
    geod = Geod(ellps="WGS84")
    discs = [f for f in body["features"] if f["properties"]["layer"] == "disc"]
    assert discs
    for f in discs[:5]:
        area = abs(geod.geometry_area_perimeter(shapely.from_geojson(json.dumps(f["geometry"])))[0])
        r = f["properties"]["precision_m"]
        assert area == pytest.approx(np.pi * r * r, rel=0.01)


def test_prisms_timeline_runs(client: TestClient) -> None:
    ref = _reference(client)
    prisms = client.get("/api/prisms").json()["features"]
    assert {p["properties"]["run"] for p in prisms} == {r.id for r in ref.runs() if r.kind == "prism"}
    items = client.get("/api/timeline").json()["items"]
    assert {i["id"] for i in items if i["lane"] == "tracks"} == set(ref.tracks()["track_id"])
    runs = client.get("/api/runs").json()["runs"]
    assert [r["id"] for r in runs] == [r.id for r in ref.runs()]
    rows = client.get("/api/runs/transit-1", params={"limit": 3}).json()
    assert rows["total"] == ref.run(run_id="transit-1").n_rows and len(rows["rows"]) == 3
    assert client.get("/api/runs/no-such-run").status_code == 422
    assert client.get("/api/runs/transit-1", params={"limit": 0}).status_code == 422


@pytest.mark.parametrize("fmt", ["geojson", "kml", "claimreview", "report"])
def test_exports_download(client: TestClient, fmt: str) -> None:
    r = client.get(f"/api/export/{fmt}")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    if fmt == "geojson":
        assert r.json()["type"] == "FeatureCollection"
    elif fmt == "claimreview":
        assert any(x.get("@type") == "ClaimReview" for x in r.json())
    elif fmt == "kml":
        assert b"<kml" in r.content
    else:
        assert b"ILLUSTRATIVE" in r.content.upper()


@pytest.mark.parametrize(("url", "field"), [
    ("/api/zones?zoom=99", "zoom"), ("/api/tracks?start=yesterday", "start"),
    ("/api/tracks?start=2025-06-21T00:00Z&end=2025-06-20T00:00Z", "end"), ("/api/tracks?bbox=1,2,3", "bbox"),
    ("/api/tracks?bbox=0,80,10,95", "bbox"), ("/api/observations?end=nope", "end"), ("/api/export/pdf", "format"),
])
def test_bad_query_parameters_are_422_naming_the_field(client: TestClient, url: str, field: str) -> None:
    r = client.get(url)
    assert r.status_code == 422 and r.json()["field"] == field


# ------------------------------------------------------------------------------------------ writes

def test_bad_track_upload_shows_the_rules_and_imports_nothing(wclient: TestClient) -> None:
    before = wclient.get("/api/case").json()["counts"]
    r = wclient.post("/api/upload/tracks", headers=W, files={"file": ("bad_tracks.csv",
                                                                     (DATA / "bad_tracks.csv").read_bytes())})
    assert r.status_code == 422
    body = r.json()
    rules = {x["rule"]: x["rows"] for x in body["rules"]}
    assert rules["bad_coordinate"] == 2 and rules["bad_time"] == 1 and sum(rules.values()) == 3
    assert {e["rule"] for e in body["examples"]} == {"bad_coordinate", "bad_time"}
    assert "nothing imported" in body["message"]
    assert wclient.get("/api/case").json()["counts"] == before


def test_good_track_upload_is_imported(wclient: TestClient) -> None:
    r = wclient.post("/api/upload/tracks", headers=W, data={"dataset": "mine"},
                     files={"file": ("good.csv", (DATA / "good_tracks.csv").read_bytes())})
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == {"dataset": "mine", "fixes": 3, "tracks": 1}
    summary = wclient.get("/api/case").json()
    assert {"dataset": "mine", "tracks": 1, "fixes": 3, "illustrative": False} in summary["datasets"]
    assert "X1" in {f["properties"]["id"] for f in wclient.get("/api/tracks").json()["features"]}


def test_claim_uploads(wclient: TestClient) -> None:
    bad = wclient.post("/api/upload/claims", headers=W,
                       files={"file": ("bad_claims.yaml", (DATA / "bad_claims.yaml").read_bytes())})
    assert bad.status_code == 422 and "no-such-source" in json.dumps(bad.json())
    n = len(wclient.get("/api/claims").json()["claims"])
    ok = wclient.post("/api/upload/claims", headers=W,
                      files={"file": ("xss.yaml", (DATA / "xss_claims.yaml").read_bytes())})
    assert ok.status_code == 200, ok.text
    claims = {c["id"]: c for c in wclient.get("/api/claims").json()["claims"]}
    assert len(claims) == n + 1
    assert claims["xss-claim"]["claimant"] == "<script>window.__pwned=1</script>"  # stored as given, text


def test_upload_checks(wclient: TestClient) -> None:
    f = {"file": ("good.csv", (DATA / "good_tracks.csv").read_bytes())}
    assert wclient.post("/api/upload/tracks", files=f).status_code == 403  # no write header
    r = wclient.post("/api/upload/tracks", files=f, headers={**W, "Origin": "http://evil.example"})
    assert r.status_code == 403 and "cross-site" in r.json()["detail"]
    assert wclient.post("/api/upload/tracks", files=f, headers={**W, "Origin": f"http://{HOST}"}).status_code == 200
    assert wclient.post("/api/upload/pictures", files=f, headers=W).status_code == 422
    big = {"file": ("big.csv", b"track_id,time,lon,lat\n" + b"X,2025-01-01T00:00:00Z,1,1\n" * 4000)}
    r = wclient.post("/api/upload/tracks", files=big, headers=W)
    assert r.status_code == 413 and "limit is 0.05 MB" in r.json()["detail"]
    assert wclient.get("/api/case", headers={"Host": "evil.example"}).status_code == 421


def test_prism_job_runs_in_the_background_and_adds_evidence(wclient: TestClient) -> None:
    before = {e["id"] for c in wclient.get("/api/claims").json()["claims"] for e in c["evidence"]}
    r = wclient.post("/api/jobs", headers=W, json={"kind": "prism", "params": {"vmax": "119kmh", "zones": "KAZ"}})
    assert r.status_code == 202
    job = r.json()
    for _ in range(600):
        job = wclient.get(f"/api/jobs/{job['id']}").json()
        if job["state"] in ("done", "failed"):
            break
        assert wclient.get("/api/case").status_code == 200  # the server answers while the job runs
        time.sleep(0.2)
    assert job["state"] == "done", job
    after = {e["id"] for c in wclient.get("/api/claims").json()["claims"] for e in c["evidence"]}
    assert set(job["new_evidence"]) == after - before and job["new_evidence"]
    assert job["run"] in {r["id"] for r in wclient.get("/api/runs").json()["runs"]}


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "prism", "params": {}}, "vmax"), ({"kind": "prism", "params": {"vmax": "fast"}}, None),
    ({"kind": "dance", "params": {}}, "kind"), ({"kind": "prism", "params": [1]}, "body"),
    ({"kind": "attribution", "params": {"threshold": "2"}}, "threshold"),
])
def test_bad_job_parameters_are_422(wclient: TestClient, body: dict[str, Any], field: str | None) -> None:
    r = wclient.post("/api/jobs", headers=W, json=body)
    assert r.status_code == 422
    if field:
        assert r.json()["field"] == field
    assert wclient.get("/api/jobs/nope").status_code == 404


def test_token_required_off_loopback(ro_case: Path, tmp_path: Path) -> None:
    app = create_app(_copy(ro_case, tmp_path), host="0.0.0.0", token="s3cret")
    with TestClient(app) as c:
        assert c.get("/api/case").status_code == 401
        assert c.get("/api/case", headers={"X-Overflight-Token": "wrong"}).status_code == 401
        r = c.get("/", params={"token": "s3cret"})
        assert r.status_code == 200 and "overflight_token" in r.headers.get("set-cookie", "")
        assert c.get("/api/case").json()["token_required"] is True  # the cookie now carries it
    app.state.workspace.close()


def _hold(path: str, ready: Any, stop: Any) -> None:
    case = Case.open(path)
    ready.set()
    stop.wait(60)
    case.close()


def test_case_held_elsewhere_opens_read_only(ro_case: Path, tmp_path: Path) -> None:
    path = _copy(ro_case, tmp_path)
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold, args=(str(path), ready, stop))
    proc.start()
    try:
        assert ready.wait(60)
        state = open_state(path)
        assert state.read_only_reason and "another process" in state.read_only_reason
        state.case.close()
        app = create_app(path, host=HOST)
        with TestClient(app) as c:
            s = c.get("/api/case").json()
            assert s["read_only"] is True and str(proc.pid) in s["read_only_reason"]
            assert len(c.get("/api/claims").json()["claims"]) == 6
            r = c.post("/api/upload/tracks", headers=W, files={"file": ("g.csv", b"x")})
            assert r.status_code == 409 and "read-only" in r.json()["detail"]
        app.state.workspace.close()
    finally:
        stop.set()
        proc.join(30)


def test_attribution_bands_and_clusters(client: TestClient) -> None:
    ref = _reference(client)
    table = ref.run_results("attribution-1")
    feats = client.get("/api/attribution").json()["features"]
    clusters = {f["properties"]["id"]: f for f in feats if f["properties"]["layer"] == "cluster"}
    want = {f"attribution-1:cluster:{k}": sorted(g["id"]) for k, g in table[table["cluster"] >= 0].groupby("cluster")}
    assert {k: sorted(f["properties"]["members"]) for k, f in clusters.items()} == want
    for f in clusters.values():  # every member inside (or on) its hull
        hull = shapely.from_geojson(json.dumps(f["geometry"]))
        pts = table.set_index("id").loc[f["properties"]["members"]]
        assert shapely.covers(hull.buffer(1e-9), shapely.points(pts["lon"], pts["lat"])).all()
    band = next(shapely.from_geojson(json.dumps(f["geometry"])) for f in feats if f["properties"]["layer"] == "band")
    inside = shapely.contains_xy(band, table["lon"], table["lat"])
    assert (inside == table["in_band:Akhtubinsk"].astype(bool)).all()
    # Clusters follow the time window (their finds' dates); the bands have no time and stay.
    later = client.get("/api/attribution", params={"start": "2025-07-01T00:00Z", "end": "2025-07-02T00:00Z"}).json()
    assert [f["properties"]["layer"] for f in later["features"]] == ["band"]
