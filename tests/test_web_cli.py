"""`overflight serve` on the command line: loopback without a token, another address with the printed token."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        return int(urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10).status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_serve_off_loopback_prints_and_requires_its_token(web_demo_case: Path, tmp_path: Path) -> None:
    case = tmp_path / "case.duckdb"
    shutil.copy2(web_demo_case, case)
    port, host = _port(), "127.0.0.2"  # still this machine, but not the loopback default: the token applies
    proc = subprocess.Popen([sys.executable, "-m", "overflight", "serve", str(case), "--host", host, "--port",
                             str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = ""
        deadline = time.time() + 120
        while "token=" not in line and time.time() < deadline:
            line = proc.stdout.readline()
        m = re.search(r"token=(\S+)", line)
        assert m, line
        base = f"http://{host}:{port}"
        code = 0
        for _ in range(100):
            try:
                code = _get(f"{base}/api/case")
                break
            except OSError:
                time.sleep(0.2)
        assert code == 401
        assert _get(f"{base}/api/case", {"X-Overflight-Token": m.group(1)}) == 200
        assert _get(f"{base}/?token={m.group(1)}") == 200
    finally:
        proc.terminate()
        proc.wait(20)


def test_serve_without_a_case_names_what_to_do(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "overflight", "serve"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "overflight demo" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("arg", ["--help"])
def test_serve_help(arg: str) -> None:
    r = subprocess.run([sys.executable, "-m", "overflight", "serve", arg], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "--max-upload-mb" in r.stdout and "--host" in r.stdout
