"""The committed web bundle is what frontend/ builds: rebuilt with npm (when present) and compared byte for byte."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "src" / "overflight" / "web" / "static"
BUILT = ("app.js", "maplibre-gl-worker.mjs", "maplibre-gl.css")


def test_static_files_are_in_the_package() -> None:
    for name in (*BUILT, "index.html", "style.css", "favicon.svg"):
        assert (STATIC / name).stat().st_size > 0, name
    html = (STATIC / "index.html").read_text()
    # Nothing the page loads comes from another host.
    assert "http://" not in html and "https://" not in html


@pytest.mark.skipif(shutil.which("npm") is None or shutil.which("node") is None, reason="npm/node not installed")
def test_bundle_rebuilds_identically(tmp_path: Path) -> None:
    src = ROOT / "frontend"
    work = tmp_path / "frontend"
    work.mkdir()
    for name in ("package.json", "package-lock.json", "build.mjs"):
        shutil.copy2(src / name, work / name)
    shutil.copytree(src / "src", work / "src")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=work, check=True,
                   timeout=600)
    out = tmp_path / "out"
    subprocess.run(["node", "build.mjs"], cwd=work, check=True, timeout=300,
                   env={"PATH": "/usr/bin:/bin:/usr/local/bin", "OVERFLIGHT_WEB_OUT": str(out)})
    for name in BUILT:
        assert (out / name).read_bytes() == (STATIC / name).read_bytes(), (
            f"{name} differs from a fresh build: run scripts/build_web.sh and commit the result")
