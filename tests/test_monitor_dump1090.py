"""The monitor against a real dump1090-mutability on loopback: Beast frames in, SBS / Beast / aircraft.json out.

The reference is a batch `transit` over the positions dump1090 actually wrote (read back from a second SBS
connection by the project's file reader): the monitor's enter/exit events must be the same crossings, at the
same points and times.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _monitor_support import Dump1090, SbsCapture, flight_frames, read_jsonl, send_beast, wait_until
from overflight.analysis.transit import transit
from overflight.monitor.runner import Monitor, MonitorConfig
from overflight.tracks import read_tracks
from overflight.zones import load_zones

Z1 = [(3.880, 52.262), (3.930, 52.2585), (3.925, 52.2830), (3.885, 52.2790), (3.880, 52.262)]
Z2 = [(4.05, 52.26), (4.25, 52.26), (4.25, 52.28), (4.05, 52.28), (4.05, 52.26)]


def write_zones(path: Path, z2_floor: float | None = 5000.0, extra: list[tuple[str, list[tuple[float, float]]]] |
                None = None) -> Path:
    feats = [{"type": "Feature", "properties": {"id": "Z1", "name": "range one"},
              "geometry": {"type": "Polygon", "coordinates": [Z1]}},
             {"type": "Feature", "properties": {"id": "Z2", "name": "high box", "floor_m": z2_floor},
              "geometry": {"type": "Polygon", "coordinates": [Z2]}}]
    for zid, ring in extra or []:
        feats.append({"type": "Feature", "properties": {"id": zid}, "geometry": {"type": "Polygon",
                                                                                 "coordinates": [ring]}})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def three_flights(n: int = 30) -> tuple[list[list[str]], dict[str, str]]:
    """A crosses Z1 (north along 3.90 E), B crosses Z2 high (38000 ft), C crosses Z2 below its floor."""
    lat = 52.250 + 0.0015 * np.arange(n)
    paths = {
        0x4840D6: [(float(y), 3.90, 38000.0) for y in lat],
        0x3C6444: [(float(y), 4.10, 38000.0) for y in lat],
        0x3C6445: [(float(y), 4.20, 3000.0) for y in lat],
    }
    frames = {k: flight_frames(k, p) for k, p in paths.items()}
    steps = [[frames[k][i] for k in paths] for i in range(n)]
    return steps, {f"{k:06x}": "" for k in paths}


def _positions(sbs: bytes) -> int:
    return sum(1 for x in sbs.split(b"\n") if x.startswith(b"MSG,3") and x.split(b",")[14])


def _run(mon: Monitor) -> threading.Thread:
    th = threading.Thread(target=mon.run, kwargs={"install_signals": False}, daemon=True)
    th.start()
    return th


def _cfg(tmp_path: Path, zones: Path, feed: str, **kw: object) -> MonitorConfig:
    base: dict[str, object] = dict(zones=str(zones), feeds=[feed], jsonl=str(tmp_path / "alerts.jsonl"),
                                   status=tmp_path / "status.json", hysteresis_s=0.3, max_speed_mps=1e5,
                                   stale_s=30.0)
    base.update(kw)
    return MonitorConfig(**base)  # type: ignore[arg-type]


def _compare_with_transit(events: list[dict[str, object]], sbs_path: Path, zones: Path) -> pd.DataFrame:
    # dump1090 stamps two frames read together with one time: the later fix is dropped by both (kept first)
    tracks, _ = read_tracks(sbs_path, format="sbs", tz="UTC", on_invalid="drop")
    visits = transit(tracks, load_zones(zones), step_m=5000.0).visits
    crossings = []
    for v in visits.to_dict("records"):
        if v["entry_kind"] == "crossing":
            crossings.append(("enter", v["track_id"], v["zone_id"], v["entry_time"], v["entry_lon"], v["entry_lat"]))
        if v["exit_kind"] == "crossing":
            crossings.append(("exit", v["track_id"], v["zone_id"], v["exit_time"], v["exit_lon"], v["exit_lat"]))
    got = sorted((e["event"], e["aircraft"], e["zone_id"], int(e["time_ns"]), e["lon"], e["lat"])  # type: ignore
                 for e in events if e["kind"] == "crossing")
    want = sorted((k, a, z, pd.Timestamp(t).value, x, y) for k, a, z, t, x, y in crossings)
    assert [g[:4] for g in got] == [w[:4] for w in want]
    for g, w in zip(got, want, strict=True):
        assert g[4] == pytest.approx(w[4], abs=1e-7) and g[5] == pytest.approx(w[5], abs=1e-7)
    return visits


def test_sbs_from_dump1090_gives_transits_crossings(tmp_path: Path) -> None:
    zones = write_zones(tmp_path / "zones.geojson")
    steps, _ = three_flights()
    with Dump1090() as d:
        cap = SbsCapture(d.ports["sbs"])
        cap.start()
        mon = Monitor(_cfg(tmp_path, zones, f"sbs://127.0.0.1:{d.ports['sbs']}"))
        th = _run(mon)
        wait_until(lambda: mon.live[0].connected)
        send_beast(d.ports["bi"], steps, 0.08)
        time.sleep(0.5)
        # both connections have read every position dump1090 wrote
        wait_until(lambda: mon.counts["position"] == _positions(bytes(cap.data)))
        mon.stop()
        th.join(20)
        raw = cap.stop()
    (tmp_path / "seen.sbs").write_bytes(raw)
    events = read_jsonl(tmp_path / "alerts.jsonl")
    visits = _compare_with_transit(events, tmp_path / "seen.sbs", zones)
    # A entered and left Z1; B entered and left Z2 (above the floor, baro altitude); C (below the floor) nothing.
    kinds = sorted((e["aircraft"], e["zone_id"], e["event"]) for e in events)
    assert kinds == [("3c6444", "Z2", "enter"), ("3c6444", "Z2", "exit"), ("4840d6", "Z1", "enter"),
                     ("4840d6", "Z1", "exit")]
    assert all(e["altitude_ref"] == "baro" and e["source"] == "adsb" for e in events)
    assert set(visits["track_id"]) == {"4840d6", "3c6444"}
    st = json.loads((tmp_path / "status.json").read_text())
    ln = st["lines"]
    assert ln["lines_in"] == ln["parsed"] + ln["rejected"] and ln["rejected"] == 0
    assert ln["position"] == _positions(raw) > 60


def test_beast_output_of_dump1090_decoded_with_pymodes(tmp_path: Path) -> None:
    pytest.importorskip("pyModeS")
    zones = write_zones(tmp_path / "zones.geojson")
    steps, _ = three_flights(40)
    with Dump1090() as d:
        mon = Monitor(_cfg(tmp_path, zones, f"beast://127.0.0.1:{d.ports['bo']}?name=beast"))
        th = _run(mon)
        wait_until(lambda: mon.live[0].connected)
        send_beast(d.ports["bi"], steps, 0.08)
        wait_until(lambda: len(read_jsonl(tmp_path / "alerts.jsonl")) >= 4)
        mon.stop()
        th.join(20)
    events = read_jsonl(tmp_path / "alerts.jsonl")
    kinds = sorted((e["aircraft"], e["zone_id"], e["event"]) for e in events)
    assert kinds == [("3c6444", "Z2", "enter"), ("3c6444", "Z2", "exit"), ("4840d6", "Z1", "enter"),
                     ("4840d6", "Z1", "exit")]
    # Beast positions carry the wall-clock receipt time, not the 12 MHz counter (which started at 0 here).
    for e in events:
        assert abs(int(e["time_ns"]) / 1e9 - float(e["received"])) < 5.0
        assert e["feed_name"] == "beast"
    enter = next(e for e in events if e["event"] == "enter" and e["zone_id"] == "Z1")
    assert enter["lat"] == pytest.approx(52.262 + (3.90 - 3.88) / 0.05 * (52.2585 - 52.262), abs=1e-6)


def test_aircraft_json_written_by_dump1090(tmp_path: Path) -> None:
    zones = write_zones(tmp_path / "zones.geojson")
    steps, _ = three_flights(30)
    with Dump1090(json_dir=tmp_path / "json") as d:
        wait_until(lambda: (tmp_path / "json" / "aircraft.json").exists())
        mon = Monitor(_cfg(tmp_path, zones, f"aircraft-json:{tmp_path / 'json' / 'aircraft.json'}?interval=0.3"))
        th = _run(mon)
        send_beast(d.ports["bi"], steps, 0.25)  # slower than the 1 s json refresh would need to see each fix
        wait_until(lambda: any(e["zone_id"] == "Z1" for e in read_jsonl(tmp_path / "alerts.jsonl")), timeout=15)
        mon.stop()
        th.join(20)
    events = read_jsonl(tmp_path / "alerts.jsonl")
    z1 = [e for e in events if e["zone_id"] == "Z1"]
    assert z1[0]["event"] == "enter" and z1[0]["aircraft"] == "4840d6"
    # back-dated by seen_pos: the position's time is before the poll that delivered it
    assert all(int(e["time_ns"]) / 1e9 <= float(e["received"]) + 1e-3 for e in events)
    assert not any(e["zone_id"] == "Z2" and e["aircraft"] == "3c6445" for e in events)
