"""The live layer's API: alerts of a monitor run inside the server on a real dump1090 feed (loopback), and of
a monitor's JSON-lines file followed as it grows; both as JSON and as server-sent events."""

from __future__ import annotations

import json
import shutil
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

warnings.filterwarnings("ignore", message=".*httpx.*")
from fastapi.testclient import TestClient  # noqa: E402

from _monitor_support import Dump1090, read_jsonl, send_beast, wait_until  # noqa: E402
from overflight.web import app as web_app  # noqa: E402
from overflight.web.app import create_app  # noqa: E402
from overflight.web.live import JsonlLive, MonitorLive  # noqa: E402
from test_monitor_dump1090 import three_flights, write_zones  # noqa: E402

HOST = "testserver"


def _events(text: str) -> list[dict[str, Any]]:
    """Parse a server-sent-events body into [{event, id, data}] (comments and retry lines skipped)."""
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        ev: dict[str, Any] = {}
        for line in block.split("\n"):
            key, _, val = line.partition(": ")
            if key in ("event", "id", "data"):
                ev[key] = val
        if "event" in ev:
            ev["data"] = json.loads(ev["data"])
            out.append(ev)
    return out


def _alert(i: int, event: str = "enter") -> dict[str, Any]:
    return {"id": f"a{i}", "event": event, "kind": "crossing", "aircraft": "4840d6", "callsign": None,
            "zone_id": "Z1", "time": f"2026-12-01T00:00:0{i}Z", "lon": 3.9, "lat": 52.26 + i / 1000, "alt_m": 11582.4}


@pytest.fixture
def case(web_demo_case: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "case.duckdb"
    shutil.copy2(web_demo_case, dst)
    return dst


@pytest.fixture
def jsonl_client(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Path]]:
    monkeypatch.setattr(web_app, "LIVE_STREAM_S", 1.5)
    alerts = tmp_path / "alerts.jsonl"
    feed = JsonlLive(alerts, poll_s=0.05)
    app = create_app(case, host=HOST, live=feed)
    with TestClient(app) as c:
        yield c, alerts
    app.state.workspace.close()


def test_followed_jsonl_alerts_as_json_and_events(jsonl_client: tuple[TestClient, Path]) -> None:
    c, alerts = jsonl_client
    assert c.get("/api/case").json()["live"].startswith("alerts file")
    assert c.get("/api/live").json()["features"] == []  # the monitor has not written yet
    with alerts.open("a") as fh:
        fh.write(json.dumps(_alert(1)) + "\n" + "not json\n" + json.dumps({"no": "event"}) + "\n")
        fh.write(json.dumps(_alert(2, "exit"))[:20])  # a line still being written
    body = wait_until(lambda: (b := c.get("/api/live").json())["features"] and b)
    assert [f["properties"]["id"] for f in body["features"]] == ["a1"]
    assert body["status"]["rejected_lines"] == 2 and body["status"]["lines"] == 3
    with alerts.open("a") as fh:
        fh.write(json.dumps(_alert(2, "exit"))[20:] + "\n")
    body = wait_until(lambda: len((b := c.get("/api/live").json())["features"]) == 2 and b)
    f2 = body["features"][1]
    assert (f2["properties"]["event"], f2["properties"]["zone"], f2["properties"]["seq"]) == ("exit", "Z1", 2)
    assert f2["geometry"]["coordinates"] == [3.9, 52.262]
    assert [f["properties"]["id"] for f in c.get("/api/live", params={"since": 1}).json()["features"]] == ["a2"]
    # The stream replays from `since`, numbers the alerts, and reports status.
    with c.stream("GET", "/api/live/stream", params={"since": 0}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        evs = _events(r.read().decode())
    got = [(e["id"], e["data"]["properties"]["id"]) for e in evs if e["event"] == "alert"]
    assert got == [("1", "a1"), ("2", "a2")]
    assert any(e["event"] == "status" and e["data"]["alerts"] == 2 for e in evs)
    # A reconnecting EventSource sends Last-Event-ID: only what came after; new lines arrive while open.
    with alerts.open("a") as fh:
        fh.write(json.dumps(_alert(3)) + "\n")
    with c.stream("GET", "/api/live/stream", params={"since": 0}, headers={"Last-Event-ID": "2"}) as r:
        evs = _events(r.read().decode())
    assert [e["data"]["properties"]["id"] for e in evs if e["event"] == "alert"] == ["a3"]


@pytest.mark.parametrize(("url", "headers", "field"), [
    ("/api/live?since=-1", {}, "since"), ("/api/live/stream?since=-2", {}, "since"),
    ("/api/live/stream", {"Last-Event-ID": "abc"}, "Last-Event-ID"),
])
def test_live_bad_input(jsonl_client: tuple[TestClient, Path], url: str, headers: dict[str, str],
                        field: str) -> None:
    c, _ = jsonl_client
    r = c.get(url, headers=headers)
    assert r.status_code == 422 and r.json()["field"] == field
    assert c.get("/api/live?since=x").status_code == 422


def test_no_live_layer_is_404(case: Path) -> None:
    app = create_app(case, host=HOST)
    with TestClient(app) as c:
        assert c.get("/api/case").json()["live"] is None
        for url in ("/api/live", "/api/live/stream"):
            r = c.get(url)
            assert r.status_code == 404 and "--monitor-feed" in r.json()["detail"]
    app.state.workspace.close()


def test_monitor_in_the_server_on_a_real_dump1090_feed(case: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_app, "LIVE_STREAM_S", 1.5)
    zones = write_zones(tmp_path / "zones.geojson")
    steps, _ = three_flights()
    with Dump1090() as d:
        # The same monitor, also writing its own JSON lines: the reference for what the server shows.
        feed = MonitorLive([f"sbs://127.0.0.1:{d.ports['sbs']}"], str(zones), hysteresis_s=0.3,
                           max_speed_mps=1e5, stale_s=30.0, jsonl=str(tmp_path / "ref.jsonl"))
        app = create_app(case, host=HOST, live=feed)
        with TestClient(app) as c:
            wait_until(lambda: c.get("/api/live").json()["status"].get("feeds", [{}])[0].get("connected"),
                       timeout=30)
            send_beast(d.ports["bi"], steps, 0.05)
            body = wait_until(lambda: len((b := c.get("/api/live").json())["features"]) >= 4 and b, timeout=30)
            time.sleep(0.5)
            body = c.get("/api/live").json()
            with c.stream("GET", "/api/live/stream", params={"since": 0}) as r:
                evs = _events(r.read().decode())
        app.state.workspace.close()
    got = sorted((f["properties"]["aircraft"], f["properties"]["zone"], f["properties"]["event"])
                 for f in body["features"])
    # A (4840d6) crossed Z1, B (3c6444) crossed Z2 high; C flew below Z2's floor: no alert.
    assert got == [("3c6444", "Z2", "enter"), ("3c6444", "Z2", "exit"), ("4840d6", "Z1", "enter"),
                   ("4840d6", "Z1", "exit")]
    ref = read_jsonl(tmp_path / "ref.jsonl")
    assert [(f["properties"]["id"], f["geometry"]["coordinates"]) for f in body["features"]] == [
        (e["id"], [e["lon"], e["lat"]]) for e in ref]
    assert [e["data"]["properties"]["id"] for e in evs if e["event"] == "alert"] == [e["id"] for e in ref]
    st = body["status"]
    assert st["running"] is True and st["zones"] == 2 and st["alerts"] == 4
