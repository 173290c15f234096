"""The monitor survives: a feed killed and restarted, garbage, SIGHUP with a changed zone file, kill -9 + restart."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np

from _monitor_support import (
    Dump1090,
    LineServer,
    flight_frames,
    monitor_process,
    read_jsonl,
    sbs_line,
    send_beast,
    wait_until,
)
from overflight.case import Case
from overflight.monitor.runner import Monitor, MonitorConfig

Z1 = [(3.88, 52.262), (3.93, 52.2585), (3.925, 52.283), (3.885, 52.279), (3.88, 52.262)]
Z3 = [(5.0, 52.0), (5.2, 52.0), (5.2, 52.2), (5.0, 52.2), (5.0, 52.0)]


def zones_file(path: Path, rings: dict[str, list[tuple[float, float]]]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": k}, "geometry": {"type": "Polygon", "coordinates": [r]}}
        for k, r in rings.items()]}))
    return path


def test_feed_killed_and_restarted(tmp_path: Path) -> None:
    zones = zones_file(tmp_path / "z.geojson", {"Z1": Z1})
    lat = 52.250 + 0.0015 * np.arange(30)
    frames = flight_frames(0x4840D6, [(float(y), 3.90, 38000.0) for y in lat])
    d = Dump1090().start()
    cfg = MonitorConfig(zones=str(zones), feeds=[f"sbs://127.0.0.1:{d.ports['sbs']}"], jsonl=str(tmp_path / "a.jsonl"),
                        status=tmp_path / "st.json", hysteresis_s=0.3, max_speed_mps=1e5, stale_s=60.0, gap_s=0.5,
                        backoff=(0.1, 0.4), case=tmp_path / "case.duckdb", coverage_every_s=0.5)
    mon = Monitor(cfg)
    th = threading.Thread(target=mon.run, kwargs={"install_signals": False}, daemon=True)
    th.start()
    try:
        wait_until(lambda: mon.live[0].connected)
        send_beast(d.ports["bi"], [[f] for f in frames[:14]], 0.08)  # into the zone
        wait_until(lambda: any(e["event"] == "enter" for e in read_jsonl(tmp_path / "a.jsonl")))
        d.kill()  # the receiver dies mid-flight
        wait_until(lambda: not mon.live[0].connected)
        time.sleep(1.5)
        d.start()  # same ports
        wait_until(lambda: mon.live[0].connected and mon.live[0].connects >= 2, timeout=15)
        send_beast(d.ports["bi"], [[f] for f in frames[12:]], 0.08)  # and on out of it
        wait_until(lambda: any(e["event"] == "exit" for e in read_jsonl(tmp_path / "a.jsonl")))
    finally:
        mon.stop()
        th.join(20)
        d.stop()
    events = read_jsonl(tmp_path / "a.jsonl")
    assert [(e["event"], e["zone_id"]) for e in events] == [("enter", "Z1"), ("exit", "Z1")]  # no duplicate
    st = json.loads((tmp_path / "st.json").read_text())
    f = st["feeds"][0]
    assert f["connects"] >= 2
    gaps = [g for g in f["gaps"] if g["why"] == "disconnected"]
    assert gaps and max(g["end"] - g["start"] for g in gaps) >= 1.5
    with Case.open(tmp_path / "case.duckdb", read_only=True) as c:
        runs = [r for r in c.runs() if r.kind == "monitor_coverage"]
        rows = c.run_results(runs[-1].id)
        assert set(rows["record"]) >= {"listening", "gap"}
        assert (rows["record"] == "listening").sum() >= 2  # before and after the outage
        obs = c.observations()
        assert sorted(o.properties["monitor_event"] for o in obs) == ["enter", "exit"]
        assert c.verify().ok


def test_garbage_is_counted_never_a_crash(tmp_path: Path) -> None:
    zones = zones_file(tmp_path / "z.geojson", {"Z3": Z3})
    srv = LineServer()
    cfg = MonitorConfig(zones=str(zones), feeds=[f"sbs://127.0.0.1:{srv.port}"], jsonl=str(tmp_path / "a.jsonl"),
                        status=tmp_path / "st.json", hysteresis_s=0.0)
    mon = Monitor(cfg)
    th = threading.Thread(target=mon.run, kwargs={"install_signals": False}, daemon=True)
    th.start()
    rng = np.random.default_rng(5)
    try:
        wait_until(lambda: srv.clients)
        t = time.time()
        sent = 0
        good = [sbs_line("a1b2c3", t + i, 52.1, 4.99 + 0.004 * i) for i in range(10)]  # 270 m/s, into Z3
        junk = [rng.bytes(int(n)).replace(b"\n", b"") + b"\n" for n in rng.integers(0, 400, 40)]
        junk += [b"MSG,3,1,1,ZZZZZZ,1,x,y,,,,,,,,,,,,,,\n", b"MSG,3" + b",9" * 40 + b"\n", b"\xff" * 5000 + b"\n",
                 b"MSG,3,1,1,A1B2C3,1,2026/13/45,99:99:99.000,,,,,,,,,,,,,,\n"]
        for i, g in enumerate(good):
            chunk = g + b"".join(junk[i * 4:(i + 1) * 4])
            srv.send(chunk)
            sent += chunk.count(b"\n")
            time.sleep(0.02)
        wait_until(lambda: mon.counts["lines_in"] >= sent)
        wait_until(lambda: read_jsonl(tmp_path / "a.jsonl"))
    finally:
        mon.stop()
        th.join(20)
        srv.close()
    c = mon.counts
    assert c["lines_in"] == sent
    parsed = c["position"] + c["message"] + c["heartbeat"] + c["other"]
    assert c["lines_in"] == parsed + c["garbage"] and c["position"] == 10 and c["garbage"] >= 30
    assert [e["event"] for e in read_jsonl(tmp_path / "a.jsonl")] == ["enter"]
    assert mon.geofence.stats.rejected == 0


def test_sighup_reloads_a_changed_zone_file_keeping_state(tmp_path: Path) -> None:
    zones = zones_file(tmp_path / "z.geojson", {"Z1": Z1})
    srv = LineServer()
    out, st = tmp_path / "a.jsonl", tmp_path / "st.json"
    args = ["--zones", str(zones), "--feed", f"sbs://127.0.0.1:{srv.port}", "--jsonl", str(out), "--status", str(st),
            "--hysteresis", "0s", "--stale", "120s", "--max-speed", "100000mps"]
    try:
        with monitor_process(args, tmp_path / "log.txt") as p:
            wait_until(lambda: srv.clients, timeout=30)
            t = time.time()
            # one aircraft inside Z1 (enters), one inside the future Z3
            srv.send(sbs_line("111111", t, 52.255, 3.90) + sbs_line("111111", t + 1, 52.265, 3.90)
                     + sbs_line("333333", t, 52.1, 5.1) + sbs_line("333333", t + 1, 52.101, 5.1))
            wait_until(lambda: len(read_jsonl(out)) == 1, timeout=20)
            zones_file(zones, {"Z1": Z1, "Z3": Z3})
            p.send_signal(signal.SIGHUP)
            wait_until(lambda: len(read_jsonl(out)) == 2, timeout=20)
            srv.send(sbs_line("111111", t + 2, 52.266, 3.90) + sbs_line("333333", t + 2, 52.3, 5.1))
            wait_until(lambda: len(read_jsonl(out)) == 3, timeout=20)
            p.send_signal(signal.SIGTERM)
            assert p.wait(20) == 0
    finally:
        srv.close()
    ev = [(e["aircraft"], e["event"], e["zone_id"], e["kind"]) for e in read_jsonl(out)]
    assert ev == [("111111", "enter", "Z1", "crossing"), ("333333", "enter", "Z3", "zone_reload"),
                  ("333333", "exit", "Z3", "crossing")]
    status = json.loads(st.read_text())
    assert status["reloads"] == 1 and status["n_zones"] == 2 and status["running"] is False


def test_kill9_and_restart_resumes_from_the_case(tmp_path: Path) -> None:
    zones = zones_file(tmp_path / "z.geojson", {"Z1": Z1})
    srv = LineServer()
    case = tmp_path / "case.duckdb"
    t = time.time()

    def args(n: int) -> list[str]:
        return ["--zones", str(zones), "--feed", f"sbs://127.0.0.1:{srv.port}?name=rx1&grade=B2", "--case",
                str(case), "--jsonl", str(tmp_path / f"a{n}.jsonl"), "--status", str(tmp_path / f"st{n}.json"),
                "--hysteresis", "0s", "--max-speed", "100000mps"]

    try:
        with monitor_process(args(1), tmp_path / "log1.txt") as p1:
            wait_until(lambda: len(srv.clients) == 1, timeout=30)
            srv.send(sbs_line("4840d6", t, 52.255, 3.90) + sbs_line("4840d6", t + 1, 52.265, 3.90))
            wait_until(lambda: read_jsonl(tmp_path / "a1.jsonl"), timeout=20)

            def written() -> bool:
                if not (tmp_path / "st1.json").exists():
                    return False
                s = json.loads((tmp_path / "st1.json").read_text())["sinks"]["case"]
                return bool(s["written_events"] >= 1 and s["pending"] == 0)

            wait_until(written, timeout=20)
            os.kill(p1.pid, signal.SIGKILL)
            p1.wait(10)
        srv.clients.clear()
        with monitor_process(args(2), tmp_path / "log2.txt") as p2:
            wait_until(lambda: srv.clients, timeout=30)
            # the aircraft is still inside, then leaves
            srv.send(sbs_line("4840d6", t + 2, 52.270, 3.90) + sbs_line("4840d6", t + 3, 52.275, 3.90))
            time.sleep(1.0)
            srv.send(sbs_line("4840d6", t + 4, 52.290, 3.90))
            wait_until(lambda: read_jsonl(tmp_path / "a2.jsonl"), timeout=20)
            p2.send_signal(signal.SIGTERM)
            assert p2.wait(20) == 0
    finally:
        srv.close()
    assert [e["event"] for e in read_jsonl(tmp_path / "a1.jsonl")] == ["enter"]
    assert [(e["event"], e["kind"]) for e in read_jsonl(tmp_path / "a2.jsonl")] == [("exit", "crossing")]
    with Case.open(case, read_only=True) as c:
        obs = [o for o in c.observations() if o.properties.get("aircraft") == "4840d6"]
        assert sorted(o.properties["monitor_event"] for o in obs) == ["enter", "exit"]
        assert {o.source_id for o in obs} == {"monitor-rx1"} and c.sources()["monitor-rx1"].kind == "sensor"
        assert {o.credibility for o in obs} == {2}
