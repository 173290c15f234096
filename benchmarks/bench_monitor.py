"""Load test of the live monitor on loopback: SBS-1 lines at a fixed rate, for a bounded time, then it stops.

    .venv/bin/python benchmarks/bench_monitor.py                 # 60 s at 120,000 msg/s (the full run)
    .venv/bin/python benchmarks/bench_monitor.py --seconds 10    # shorter
    .venv/bin/python benchmarks/bench_monitor.py --rate 0        # as fast as the generator can send

A generator process (pinned to its own CPU) plays an aggregator: ``--aircraft`` aircraft flying straight over
Europe at 200-260 m/s, each message one of MSG,3 (position, ~40 %), MSG,4 (velocity), MSG,5 (altitude),
MSG,1 (callsign), plus ``--garbage`` malformed lines, written by a compiled formatter and sent over TCP at
``--rate`` lines/s. The monitor (this process, pinned to one other CPU) reads it as ``sbs://`` and
geofences every position against Natural Earth admin-0 (250 countries, 547k vertices) through `ZoneIndex`,
writing alerts as JSON lines.

Printed: messages/s processed (wall) and CPU time per message (the machine is shared, so capacity on one
free core = 1 / CPU time per message), lost (asserted 0: lines sent = lines in = parsed + rejected),
p50/p99 latency from receipt of the line to the alert, RSS at start and end, and the headroom over a busy
receiver (1,500-4,500 msg/s) and a large aggregator (45-50k msg/s).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import numba as nb
import numpy as np

DATE = b"2026/06/21"


@nb.njit(cache=True)
def _put_int(buf: np.ndarray, p: int, v: int, width: int) -> int:
    for k in range(width - 1, -1, -1):
        buf[p + k] = 48 + v % 10
        v //= 10
    return p + width


@nb.njit(cache=True)
def _put_num(buf: np.ndarray, p: int, v: int) -> int:
    if v < 0:
        buf[p] = 45
        p += 1
        v = -v
    n = 1
    t = v
    while t >= 10:
        t //= 10
        n += 1
    return _put_int(buf, p, v, n)


@nb.njit(cache=True)
def _put_fixed(buf: np.ndarray, p: int, v: float, dec: int) -> int:
    s = 10 ** dec
    iv = int(abs(v) * s + 0.5)
    if v < 0:
        buf[p] = 45
        p += 1
    p = _put_num(buf, p, iv // s)
    buf[p] = 46
    return _put_int(buf, p + 1, iv % s, dec)


@nb.njit(cache=True)
def _put(buf: np.ndarray, p: int, s: np.ndarray) -> int:
    for k in range(s.size):
        buf[p + k] = s[k]
    return p + s.size


@nb.njit(cache=True)
def format_lines(buf: np.ndarray, kind: np.ndarray, icao: np.ndarray, t_ms: np.ndarray, lat: np.ndarray,
                 lon: np.ndarray, alt: np.ndarray, gs: np.ndarray, trk: np.ndarray, date: np.ndarray,
                 hexd: np.ndarray, garbage: np.ndarray) -> int:  # pragma: no cover - compiled
    p = 0
    for i in range(kind.size):
        if kind[i] == 0:
            p = _put(buf, p, garbage)
            continue
        p = _put(buf, p, np.frombuffer(b"MSG,", np.uint8))
        buf[p] = 48 + kind[i]
        p = _put(buf, p + 1, np.frombuffer(b",1,1,", np.uint8))
        for k in range(6):
            buf[p + k] = hexd[(icao[i] >> (20 - 4 * k)) & 15]
        p = _put(buf, p + 6, np.frombuffer(b",1,", np.uint8))
        ms = t_ms[i] % 86_400_000
        for _rep in range(2):
            p = _put(buf, p, date)
            buf[p] = 44
            p = _put_int(buf, p + 1, ms // 3_600_000, 2)
            buf[p] = 58
            p = _put_int(buf, p + 1, (ms // 60_000) % 60, 2)
            buf[p] = 58
            p = _put_int(buf, p + 1, (ms // 1000) % 60, 2)
            buf[p] = 46
            p = _put_int(buf, p + 1, ms % 1000, 3)
            buf[p] = 44
            p += 1
        if kind[i] == 1:
            p = _put(buf, p, np.frombuffer(b"OVF", np.uint8))
            p = _put_int(buf, p, icao[i] % 10000, 4)
        buf[p] = 44
        p += 1
        if kind[i] == 3 or kind[i] == 5:
            p = _put_num(buf, p, int(alt[i]))
        buf[p] = 44
        p += 1
        if kind[i] == 4:
            p = _put_num(buf, p, int(gs[i]))
        buf[p] = 44
        p += 1
        if kind[i] == 4:
            p = _put_num(buf, p, int(trk[i]))
        buf[p] = 44
        p += 1
        if kind[i] == 3:
            p = _put_fixed(buf, p, lat[i], 5)
        buf[p] = 44
        p += 1
        if kind[i] == 3:
            p = _put_fixed(buf, p, lon[i], 5)
        p = _put(buf, p, np.frombuffer(b",,,0,0,0,0\r\n", np.uint8))
    return p


class Traffic:
    """Aircraft flying straight at constant speed; messages drawn at random among them, in time order."""

    def __init__(self, n: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.rng = rng
        self.icao = rng.choice(np.arange(0x100000, 0xEFFFFF), size=n, replace=False).astype(np.int64)
        self.lon0 = rng.uniform(-10, 30, n)
        self.lat0 = rng.uniform(36, 60, n)
        speed = rng.uniform(200, 260, n)
        self.hdg = rng.uniform(0, 360, n)
        h = np.radians(self.hdg)
        self.vy = speed * np.cos(h) / 111_195.0
        self.vx = speed * np.sin(h) / (111_195.0 * np.cos(np.radians(self.lat0)))
        self.alt = rng.choice([25000, 31000, 35000, 39000], n)
        self.gs = speed / 0.514444
        self.t0_ms = int(np.datetime64("2026-06-21T12:00:00", "ms").astype(np.int64))

    def block(self, t0: float, dt: float, m: int, garbage: float) -> tuple[np.ndarray, ...]:
        rng = self.rng
        t = np.sort(t0 + rng.uniform(0, dt, m))
        a = rng.integers(0, self.icao.size, m)
        kind = rng.choice(np.array([3, 4, 5, 1], np.int64), size=m, p=[0.4, 0.3, 0.25, 0.05])
        kind[rng.uniform(0, 1, m) < garbage] = 0
        return (kind, self.icao[a], self.t0_ms + (t * 1000).astype(np.int64), self.lat0[a] + self.vy[a] * t,
                self.lon0[a] + self.vx[a] * t, self.alt[a].astype(float), self.gs[a], self.hdg[a])


def generator(port: int, rate: float, seconds: float, n_aircraft: int, garbage: float, cpu: int | None,
              result: mp.Queue) -> None:  # type: ignore[type-arg]
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    tr = Traffic(n_aircraft)
    date = np.frombuffer(DATE, np.uint8)
    hexd = np.frombuffer(b"0123456789ABCDEF", np.uint8)
    junk = np.frombuffer(b"MSG,3,1,1,XYZ,this is not a line\r\n", np.uint8)
    buf = np.empty(1 << 24, np.uint8)
    format_lines(buf, *Traffic(10).block(0.0, 1.0, 100, garbage), date, hexd, junk)  # compile before timing
    srv = socket.create_server(("127.0.0.1", port))
    result.put("listening")
    conn, _ = srv.accept()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
    sent = 0
    tick = 0.02
    start = time.perf_counter()
    sim_t = 0.0
    while True:
        now = time.perf_counter() - start
        if now >= seconds:
            break
        if rate > 0:
            due = int(rate * min(now + tick, seconds)) - sent
            if due <= 0:
                time.sleep(tick / 4)
                continue
        else:
            due = 20_000
        m = min(due, 100_000)
        dt = m / rate if rate > 0 else m / 200_000.0
        blk = tr.block(sim_t, dt, m, garbage)
        sim_t += dt
        n = format_lines(buf, *blk, date, hexd, junk)
        conn.sendall(buf[:n].tobytes())
        sent += m
    elapsed = time.perf_counter() - start
    conn.close()
    srv.close()
    result.put({"sent": sent, "seconds": elapsed})


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="How long the generator sends (default 60).")
    ap.add_argument("--rate", type=float, default=120_000.0, help="Lines per second (0: as fast as possible).")
    ap.add_argument("--aircraft", type=int, default=20_000)
    ap.add_argument("--garbage", type=float, default=0.001, help="Fraction of malformed lines.")
    ap.add_argument("--zones", default="ne-admin0")
    args = ap.parse_args()

    from overflight.monitor.runner import Monitor, MonitorConfig

    cpus = sorted(os.sched_getaffinity(0))
    mon_cpu, gen_cpu = cpus[0], (cpus[1] if len(cpus) > 1 else None)
    os.sched_setaffinity(0, {mon_cpu})  # the monitor: one core
    port = _free_port()
    q: mp.Queue = mp.get_context("spawn").Queue()  # type: ignore[type-arg]
    gen = mp.get_context("spawn").Process(target=generator, args=(port, args.rate, args.seconds, args.aircraft,
                                                                   args.garbage, gen_cpu, q), daemon=True)
    # warm the compiled kernels and the index cache before timing
    Traffic(10)
    tmp = Path(tempfile.mkdtemp(prefix="bench-monitor-"))
    cfg = MonitorConfig(zones=args.zones, feeds=[f"sbs://127.0.0.1:{port}"], jsonl=str(tmp / "alerts.jsonl"),
                        hysteresis_s=0.0, status=tmp / "status.json", gap_s=5.0, backoff=(0.05, 0.2))
    mon = Monitor(cfg)
    mon.geofence.index.crossings([0.0], [0.0], [0.1], [0.1])
    gen.start()
    assert q.get(timeout=120) == "listening"
    rss0 = rss_mb()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    t_start_wall = time.time()
    th = threading.Thread(target=mon.run, kwargs={"install_signals": False}, daemon=True)
    th.start()
    rss_t: list[tuple[float, float]] = []
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(1.0):
            rss_t.append((time.perf_counter() - t0, rss_mb()))

    threading.Thread(target=sample, daemon=True).start()
    res = q.get(timeout=args.seconds + 300)
    # the generator has sent everything: wait until the monitor has read and processed it
    deadline = time.time() + 120
    while mon.counts["lines_in"] < res["sent"] and time.time() < deadline:
        time.sleep(0.01)
    while not mon.queue.empty() and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    rss1 = rss_mb()
    sampling.set()
    mon.stop()
    th.join(30)
    gen.join(10)
    c = mon.counts
    parsed = c["position"] + c["message"] + c["heartbeat"] + c["other"]
    lost = res["sent"] - c["lines_in"]
    alerts = [json.loads(x) for x in (tmp / "alerts.jsonl").read_text().splitlines()]
    lat = np.array([a["emitted"] - a["received"] for a in alerts]) * 1e3
    g = mon.geofence.stats
    print(f"generator: {res['sent']:,} lines in {res['seconds']:.1f} s ({res['sent'] / res['seconds']:,.0f}/s), "
          f"{args.aircraft:,} aircraft, zones {args.zones} ({len(mon.zones)})")
    print(f"monitor:   lines in {c['lines_in']:,} = parsed {parsed:,} + rejected {c['garbage']:,}; "
          f"positions {c['position']:,} (accepted {g.accepted:,}, rejected {g.rejected:,})")
    assert lost == 0, f"lost {lost} lines"
    assert c["lines_in"] == parsed + c["garbage"], "count in != parsed + rejected"
    print(f"lost:      {lost} (asserted)")
    rate = c["lines_in"] / wall
    per_msg = cpu / max(c["lines_in"], 1)
    print(f"processed: {rate:,.0f} msg/s over {wall:.1f} s wall (kept up with the generator: "
          f"{'yes' if wall < res['seconds'] + 1.0 else 'no'})")
    print(f"CPU:       {cpu:.1f} s for {c['lines_in']:,} lines = {per_msg * 1e6:.2f} us/msg "
          f"-> capacity of one free core ~{1 / per_msg:,.0f} msg/s")
    kinds = np.array([a["kind"] for a in alerts])
    recv = np.array([a["received"] for a in alerts])
    # the first seconds are a start-up storm: every aircraft first heard inside a country is a track_start
    # alert (20k of them); the steady state is what a running monitor shows
    steady = recv > t_start_wall + 5.0 if alerts else np.zeros(0, bool)
    for name, sel in (("all alerts", np.ones(lat.size, bool)), ("steady state (after 5 s)", steady),
                      ("  border crossings", steady & (kinds == "crossing"))):
        if sel.any():
            x = lat[sel]
            print(f"latency:   {name}: {x.size}, receipt -> alert p50 {np.percentile(x, 50):.1f} ms, "
                  f"p99 {np.percentile(x, 99):.1f} ms, max {x.max():.1f} ms")
    b = np.array(mon.batch_s) * 1e3
    bc = np.array(mon.batch_cpu_s) * 1e3
    print(f"engine:    {b.size} batches, wall per batch p50 {np.percentile(b, 50):.1f} / p99 "
          f"{np.percentile(b, 99):.1f} ms, CPU per batch p50 {np.percentile(bc, 50):.1f} / p99 "
          f"{np.percentile(bc, 99):.1f} ms (wall > CPU: the core was shared)")
    print(f"machine:   load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs during the run")
    after5 = [r for t, r in rss_t if t >= 5.0]
    print(f"RSS:       {rss0:.0f} MB at start, {after5[0] if after5 else rss1:.0f} MB after 5 s (all aircraft "
          f"known), {max(r for _, r in rss_t) if rss_t else rss1:.0f} MB max, {rss1:.0f} MB at end")
    cap = 1 / per_msg
    print(f"headroom:  x{cap / 4500:,.0f}-x{cap / 1500:,.0f} over a busy receiver (1,500-4,500 msg/s), "
          f"x{cap / 50000:.1f}-x{cap / 45000:.1f} over a large aggregator (45-50k msg/s)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    main()
