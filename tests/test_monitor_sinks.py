"""Alert sinks: a webhook receiver on 127.0.0.1 (retries; a dead or slow one never blocks intake), feed URLs,
the status command."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from _monitor_support import LineServer, Webhook, free_port, read_jsonl, sbs_line, wait_until
from overflight.cli.main import app
from overflight.errors import InputError
from overflight.monitor.feeds import parse_feed
from overflight.monitor.runner import Monitor, MonitorConfig
from overflight.monitor.sinks import WebhookSink

ZONE = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"id": "Z"}, "geometry": {
    "type": "Polygon", "coordinates": [[[5.0, 52.0], [5.2, 52.0], [5.2, 52.2], [5.0, 52.2], [5.0, 52.0]]]}}]}


def test_webhook_receives_each_alert_as_json(tmp_path: Path) -> None:
    (tmp_path / "z.geojson").write_text(json.dumps(ZONE))
    hook = Webhook()
    srv = LineServer()
    mon = Monitor(MonitorConfig(zones=str(tmp_path / "z.geojson"), feeds=[f"sbs://127.0.0.1:{srv.port}"],
                                webhook=hook.url, jsonl=str(tmp_path / "a.jsonl"), hysteresis_s=0.0))
    th = threading.Thread(target=mon.run, kwargs={"install_signals": False}, daemon=True)
    th.start()
    try:
        wait_until(lambda: srv.clients)
        t = time.time()
        srv.send(b"".join(sbs_line("abcdef", t + 5 * i, 52.1, 4.99 + 0.004 * i) for i in range(60)))
        wait_until(lambda: len(hook.bodies) >= 2)
    finally:
        mon.stop()
        th.join(20)
        srv.close()
        hook.close()
    lines = read_jsonl(tmp_path / "a.jsonl")
    assert [b["event"] for b in hook.bodies] == ["enter", "exit"]
    assert [b["id"] for b in hook.bodies] == [x["id"] for x in lines]
    assert mon.webhook is not None and mon.webhook.stats()["dropped"] == 0


def test_dead_webhook_is_retried_then_counted() -> None:
    sink = WebhookSink(f"http://127.0.0.1:{free_port()}/nobody", retries=3, backoff=0.01, timeout=0.5)
    sink.write([{"id": "e1", "event": "enter"}])
    wait_until(lambda: sink.failed == 1)
    assert sink.attempts == 3 and sink.sent == 0 and "Error" in str(sink.last_error)
    sink.close(timeout=1.0)


def test_slow_webhook_fills_its_queue_and_drops_without_blocking() -> None:
    hook = Webhook(delay=0.3)
    sink = WebhookSink(hook.url, queue_size=3, retries=1)
    sink.write([{"id": f"e{i}", "event": "enter"} for i in range(40)])
    dropped_at_once = sink.dropped  # write() never waits: what does not fit is dropped there and then
    wait_until(lambda: sink.sent + sink.failed + sink.q.qsize() + sink.dropped == 40 and sink.q.empty(), timeout=10)
    sink.close()
    hook.close()
    assert dropped_at_once >= 30 and sink.dropped == dropped_at_once
    assert sink.sent + sink.dropped + sink.failed == 40


def test_feed_urls() -> None:
    s = parse_feed("sbs://127.0.0.1:30003?tz=Europe/Berlin&name=roof&grade=C3")
    assert (s.kind, s.host_port, s.tz, s.name, str(s.grade)) == ("sbs", ("127.0.0.1", 30003), "Europe/Berlin",
                                                                 "roof", "C3")
    assert parse_feed("beast://localhost:30005").tz == "UTC"
    a = parse_feed("aircraft-json:http://127.0.0.1:8080/data/aircraft.json?x=1&interval=0.5")
    assert a.target == "http://127.0.0.1:8080/data/aircraft.json?x=1" and a.interval == 0.5
    assert parse_feed("jsonl:-").target == "-"
    for bad in ("tcp://x:1", "sbs://nohost", "sbs://h:1?tz=Mars/Olympus", "sbs://h:1?grade=Z9", "sbs://h:1?foo=1"):
        with pytest.raises(InputError):
            parse_feed(bad)


def test_status_command_reads_the_status_file(tmp_path: Path) -> None:
    (tmp_path / "z.geojson").write_text(json.dumps(ZONE))
    feed = tmp_path / "in.jsonl"
    feed.write_text("".join(json.dumps({"hex": "abcdef", "time": 1.8e9 + i, "lon": 4.999 + 0.001 * i,
                                        "lat": 52.1}) + "\n" for i in range(5)) + "not json\n")
    r = CliRunner().invoke(app, ["monitor", "--zones", str(tmp_path / "z.geojson"), "--feed", f"jsonl:{feed}",
                                 "--status", str(tmp_path / "st.json"), "--jsonl", str(tmp_path / "a.jsonl")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["monitor", "status", str(tmp_path / "st.json")])
    assert r.exit_code == 0
    assert "stopped" in r.output and "alerts 1" in r.output and "records 6 (1 rejected)" in r.output
    r = CliRunner().invoke(app, ["monitor", "status", str(tmp_path / "none.json")])
    assert r.exit_code != 0 and "no monitor status" in str(r.exception)
