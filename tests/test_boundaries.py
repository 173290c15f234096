"""Boundary sets: contents, provenance, disputed areas, the CLI listing."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import shapely

from overflight import boundaries
from overflight.zones import ZoneSet


def test_ne_admin0_has_250_valid_zones_with_provenance(ne_admin0: ZoneSet) -> None:
    assert len(ne_admin0) == 250
    assert all(shapely.is_valid(ne_admin0.geometries()))
    assert len(set(ne_admin0.ids)) == 250
    prov = ne_admin0.provenance
    path = boundaries.info("ne-admin0").path
    assert path is not None
    assert prov.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert prov.kind == "land" and prov.point_of_view and "German" in prov.point_of_view
    assert "EGY" in prov.notes  # the one invalid source polygon is repaired and the repair is on record


def test_ne_admin0_ids_are_iso_with_adm0_fallback(ne_admin0: ZoneSet) -> None:
    for zid in ("RUS", "KAZ", "UKR", "FRA", "NOR"):
        assert zid in ne_admin0
    # Kosovo has no ISO code in Natural Earth: ADM0_A3 is used.
    assert "KOS" in ne_admin0
    assert ne_admin0["KAZ"].name == "Kazakhstan"


def test_ne_admin0_known_places(ne_admin0: ZoneSet) -> None:
    # Akhtubinsk (Russia), Uralsk/Oral (Kazakhstan), Kyiv (Ukraine): shapely on the same zones.
    for lon, lat, zid in [(46.165, 48.283, "RUS"), (51.37, 51.23, "KAZ"), (30.52, 50.45, "UKR")]:
        assert ne_admin0[zid].geometry.contains(shapely.Point(lon, lat))
    # The Egypt repair kept the country's area (method="structure" keeps every shell).
    egypt = ne_admin0["EGY"].geometry
    assert egypt.contains(shapely.Point(31.24, 30.04))  # Cairo


def test_zone_selection_and_lookup(ne_admin0: ZoneSet) -> None:
    sel = ne_admin0.select(["KAZ", "RUS"])
    assert sel.ids == ["KAZ", "RUS"]
    assert sel.index_of("RUS") == 1
    assert "selected" in sel.provenance.notes


def test_ne_admin0_has_no_disputed_overlaps(ne_admin0: ZoneSet) -> None:
    assert ne_admin0.overlaps() == []


def test_osm_maritime_keeps_crimea_in_both(osm_maritime: ZoneSet) -> None:
    simferopol = shapely.Point(34.10, 44.95)
    holders = [z.id for z in osm_maritime if z.geometry.contains(simferopol)]
    assert sorted(holders) == ["RUS", "UKR"]
    assert ("RUS", "UKR") in osm_maritime.overlaps() or ("UKR", "RUS") in osm_maritime.overlaps()
    big = {(a, b) for a, b, km2 in osm_maritime.overlap_areas() if km2 > 10_000}
    assert ("RUS", "UKR") in big or ("UKR", "RUS") in big
    assert osm_maritime.provenance.kind == "land+territorial-sea"


def test_osm_maritime_covers_territorial_sea(osm_maritime: ZoneSet, ne_admin0: ZoneSet) -> None:
    # A point 5 nautical miles off the Crimean/Black Sea coast near Sevastopol is sea: in the maritime
    # set, not in the land-only one.
    sea = shapely.Point(33.35, 44.62)
    assert not any(z.geometry.contains(sea) for z in ne_admin0)
    assert any(z.geometry.contains(sea) for z in osm_maritime)
    assert all(np.asarray(shapely.is_valid(osm_maritime.geometries())))


def test_boundaries_list_names_both_sets() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "overflight", "boundaries", "list"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert "ne-admin0" in r.stdout and "osm-maritime" in r.stdout
    assert "public domain" in r.stdout and "ODbL" in r.stdout


def test_missing_set_is_a_clear_message(tmp_path: object, monkeypatch: object) -> None:
    import os

    env = dict(os.environ, OVERFLIGHT_DATA=str(tmp_path))
    r = subprocess.run(
        [sys.executable, "-m", "overflight", "boundaries", "show", "osm-maritime"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert r.returncode == 2
    assert "not installed" in r.stderr and "overflight boundaries install osm-maritime" in r.stderr
    assert "Traceback" not in r.stderr


def test_install_refuses_a_tampered_tarball(tmp_path: object) -> None:
    import pathlib

    import pytest

    from overflight.errors import OverflightError

    bad = pathlib.Path(str(tmp_path)) / "bad.tgz"
    bad.write_bytes(b"not the package")
    with pytest.raises(OverflightError, match="integrity"):
        boundaries.install("osm-maritime", tarball=bad)


def test_download_reports_progress_up_to_the_length() -> None:
    """`boundaries install` shows the download: `download` reports bytes read against Content-Length
    (a real HTTP server on loopback, 300 kB in 64 kB blocks)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from overflight.boundaries import download

    body = bytes(range(256)) * 1200

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        seen: list[tuple[str, int, int | None]] = []
        got = download(f"http://127.0.0.1:{srv.server_address[1]}/x.tgz", lambda s, d, t: seen.append((s, d, t)))
    finally:
        srv.shutdown()
        srv.server_close()
    assert got == body
    assert seen[0] == ("download", 0, len(body)) and seen[-1] == ("download", len(body), len(body))
    done = [d for _, d, _ in seen]
    assert done == sorted(done) and len(seen) >= 1 + len(body) // (1 << 16)
