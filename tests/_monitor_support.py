"""Shared pieces of the monitor tests: free ports, a real dump1090 on loopback, flights as Beast frames,
small TCP/HTTP servers, and a monitor run in a thread or a subprocess."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from overflight.monitor import modes

DUMP1090 = shutil.which("dump1090-mutability") or "/usr/bin/dump1090-mutability"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(pred: Callable[[], Any], timeout: float = 10.0, every: float = 0.05) -> Any:
    """Poll ``pred`` until it returns something truthy (returned) or fail after ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")


def _connectable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Dump1090:
    """Debian's dump1090-mutability, network only, on free loopback ports, TZ=UTC."""

    def __init__(self, json_dir: Path | None = None, ports: dict[str, int] | None = None) -> None:
        if not os.path.exists(DUMP1090):
            if os.environ.get("OVERFLIGHT_REQUIRE_DATA"):
                pytest.fail("dump1090-mutability is not installed (scripts/test.sh installs it)")
            pytest.skip("dump1090-mutability not installed")
        self.ports = ports or {k: free_port() for k in ("bi", "sbs", "ri", "ro", "bo")}
        self.json_dir = json_dir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Dump1090:
        args = [DUMP1090, "--net-only", "--net-bind-address", "127.0.0.1", "--quiet",
                "--net-heartbeat", "1"]
        for k in ("bi", "sbs", "ri", "ro", "bo"):
            args += [f"--net-{k}-port", str(self.ports[k])]
        if self.json_dir is not None:
            self.json_dir.mkdir(parents=True, exist_ok=True)
            args += ["--write-json", str(self.json_dir), "--write-json-every", "1"]
        self.proc = subprocess.Popen(args, env={**os.environ, "TZ": "UTC"}, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_until(lambda: _connectable(self.ports["bi"]) and _connectable(self.ports["sbs"]))
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
            self.proc = None

    def __enter__(self) -> Dump1090:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def flight_frames(icao: int, path: list[tuple[float, float, float]]) -> list[str]:
    """DF17 airborne-position frames along ``path`` [(lat, lon, alt_ft)], alternating even and odd CPR."""
    return [modes.airborne_position(icao, lat, lon, alt, odd=(i % 2 == 1)) for i, (lat, lon, alt) in
            enumerate(path)]


def send_beast(port: int, frames_by_step: list[list[str]], interval: float, *,
               sock: socket.socket | None = None) -> None:
    """Send one list of frames per step (several aircraft interleaved), ``interval`` seconds apart."""
    own = sock is None
    s = sock or socket.create_connection(("127.0.0.1", port))
    try:
        for k, frames in enumerate(frames_by_step):
            s.sendall(b"".join(modes.beast_frame(f, counter=k * 12_000_000 + j) for j, f in enumerate(frames)))
            time.sleep(interval)
    finally:
        if own:
            s.close()


class SbsCapture(threading.Thread):
    """Reads a dump1090 SBS port into a buffer (the reference copy of what the monitor saw)."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        self.data = bytearray()
        self.stop_flag = threading.Event()

    def run(self) -> None:
        while not self.stop_flag.is_set():
            try:
                d = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not d:
                return
            self.data.extend(d)

    def stop(self) -> bytes:
        self.stop_flag.set()
        self.join(2)
        self.sock.close()
        return bytes(self.data)


class LineServer:
    """A TCP server on loopback that sends whatever is queued to every client (a fake SBS feed)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.srv = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self.srv.settimeout(0.2)
        self.clients: list[socket.socket] = []
        self.stop_flag = threading.Event()
        self.accepts = 0
        self.t = threading.Thread(target=self._accept, daemon=True)
        self.t.start()

    def _accept(self) -> None:
        while not self.stop_flag.is_set():
            try:
                c, _ = self.srv.accept()
            except (TimeoutError, OSError):
                continue
            self.accepts += 1
            self.clients.append(c)

    def send(self, data: bytes) -> None:
        for c in list(self.clients):
            try:
                c.sendall(data)
            except OSError:
                self.clients.remove(c)

    def close(self) -> None:
        self.stop_flag.set()
        self.t.join(2)
        for c in self.clients:
            with contextlib.suppress(OSError):
                c.close()
        self.srv.close()


class Webhook:
    """An HTTP receiver on 127.0.0.1 recording every POSTed JSON body; ``status`` sets the reply code."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = status
        self.delay = delay
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(n)
                time.sleep(outer.delay)
                if outer.status == 200:
                    outer.bodies.append(json.loads(body))
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.t = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.t.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def sbs_line(hexid: str, t: float, lat: float | None, lon: float | None, alt_ft: float | None = 30000,
             mtype: int = 3) -> bytes:
    """An SBS-1 MSG line with UTC date/time fields (readsb style)."""
    st = time.gmtime(t)
    ms = round((t - int(t)) * 1000)
    if ms == 1000:
        st, ms = time.gmtime(int(t) + 1), 0
    d = time.strftime("%Y/%m/%d", st)
    tm = time.strftime("%H:%M:%S", st) + f".{ms:03d}"
    f = ["MSG", str(mtype), "1", "1", hexid.upper(), "1", d, tm, d, tm, "",
         "" if alt_ft is None else f"{alt_ft:.0f}", "", "", "" if lat is None else f"{lat:.5f}",
         "" if lon is None else f"{lon:.5f}", "", "", "0", "0", "0", "0"]
    return (",".join(f) + "\r\n").encode()


@contextlib.contextmanager
def monitor_process(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`overflight monitor ARGS` as a child process (for signals); terminated at the end."""
    fh = open(log, "wb")  # noqa: SIM115
    p = subprocess.Popen([sys.executable, "-c", "from overflight.cli.main import main; main()", "monitor", *args],
                         stdout=fh, stderr=subprocess.STDOUT)
    try:
        yield p
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        fh.close()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
