"""`overflight serve` on the command line: loopback without a token, another address with the printed token."""

from __future__ import annotations

import json
import os
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
                             str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "XDG_STATE_HOME": str(tmp_path)})
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


def test_serve_without_a_case_opens_the_picker(web_demo_case: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "overflight-demo").mkdir(parents=True)
    shutil.copy2(web_demo_case, work / "overflight-demo" / "case.duckdb")
    port = _port()
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    proc = subprocess.Popen([sys.executable, "-m", "overflight", "serve", "--port", str(port)], cwd=work, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        assert "case picker" in proc.stdout.readline()
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                code = _get(f"{base}/api/case")
                break
            except OSError:
                time.sleep(0.2)
        assert code == 409  # no case open: the page shows the picker
        body = json.loads(urllib.request.urlopen(f"{base}/api/cases", timeout=10).read())
        assert [c["path"] for c in body["cases"]] == [str((work / "overflight-demo" / "case.duckdb").resolve())]
        req = urllib.request.Request(f"{base}/api/cases/open", data=json.dumps({"path": body["cases"][0]["path"]})
                                     .encode(), headers={"X-Overflight-Request": "1",
                                                         "Content-Type": "application/json"})
        assert urllib.request.urlopen(req, timeout=60).status == 200
        assert _get(f"{base}/api/case") == 200
        # The recent list went to XDG_STATE_HOME, not the user's home.
        recent = json.loads((tmp_path / "state" / "overflight" / "recent-cases.json").read_text())
        assert recent == [body["cases"][0]["path"]]
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.mark.parametrize(("args", "message"), [
    (["--monitor-feed", "sbs://127.0.0.1:1"], "--monitor-zones"),
    (["--monitor-feed", "ftp://x", "--monitor-zones", "z.geojson"], "must start with one of"),
    (["--monitor-feed", "sbs://127.0.0.1:1", "--monitor-jsonl", "a.jsonl"], "not both"),
])
def test_serve_live_options_errors(tmp_path: Path, args: list[str], message: str) -> None:
    r = subprocess.run([sys.executable, "-m", "overflight", "serve", *args], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120, env={**os.environ, "XDG_STATE_HOME": str(tmp_path)})
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("arg", ["--help"])
def test_serve_help(arg: str) -> None:
    r = subprocess.run([sys.executable, "-m", "overflight", "serve", arg], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "--max-upload-mb" in r.stdout and "--host" in r.stdout


def test_serve_refuses_a_cases_dir_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "[/b]<script>"
    r = subprocess.run([sys.executable, "-m", "overflight", "serve", "--cases-dir", str(missing), "--port", "1"],
                       capture_output=True, text=True, timeout=60)
    out = (r.stdout + r.stderr).replace("\n", "")
    assert r.returncode != 0
    assert "no such folder" in out and "--cases-dir" in out and "[/b]" in out and "Traceback" not in out
