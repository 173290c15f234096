"""The web app with 1,000,000 track fixes in Chromium: time to first render, to pan, and the longest frame.

    python benchmarks/bench_web.py [--fixes 1000000] [--tracks 200] [--pans 6]

Builds a case with synthetic tracks (benchmarks/_synth_tracks.py) and the ne-admin0 states of the region,
starts `overflight serve` on loopback and drives Debian's Chromium (Playwright, /usr/bin/chromium):

- ours: open the page; first render = until the map has drawn the tracks (server-side window and per-pixel
  decimation); then pan by 300 px several times, each until the re-fetched tracks are drawn; and one animated
  1-second pan, measuring the longest frame interval (a stall shows as a long frame).
- peer, same page, same run: every fix sent as one GeoJSON FeatureCollection (what a page without
  server-side decimation does: folium, a plain MapLibre GeoJSON source), fetched, parsed and drawn; then the
  same pans and animated pan over it.

Printed: seconds for each step and the ratios. Noisy shared machine: compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).parent))
from _synth_tracks import synth_tracks

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
REGION = (20.0, 35.0, 75.0, 65.0)

WAIT_DRAWN = """(n) => { const s = window.__ovf;
  return !!(s && s.mapReady && s.tracksLoaded >= n && s.map.isSourceLoaded('tracks') && s.map.loaded()
    && !s.map.isMoving()); }"""

ANIMATED_PAN = """() => new Promise((resolve) => {
  const m = window.__ovf.map; let last = performance.now(), worst = 0, frames = 0, run = true;
  const tick = () => { const now = performance.now(); worst = Math.max(worst, now - last); last = now; frames++;
    if (run) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  m.panBy([400, 120], {duration: 1000});
  m.once('moveend', () => { run = false; resolve({worst_ms: worst, frames}); });
})"""


def say(text: str) -> None:
    print(text, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_case(path: Path, n_fixes: int, n_tracks: int) -> None:
    from overflight import boundaries
    from overflight.case import Case

    tracks = synth_tracks(n_fixes, n_tracks, seed=3, bbox=(40.0, 42.0, 60.0, 55.0), dt_s=5.0, speed_mps=60.0,
                          interleave=False)
    ne = boundaries.load("ne-admin0")
    near = shapely.intersects(ne.geometries(), shapely.box(*REGION))
    with Case.create(path, user="bench") as case:
        case.add_zones(ne.select([z.id for z, keep in zip(ne, near, strict=True) if keep]))
        case.add_tracks(tracks, dataset="synthetic", illustrative=True)


def all_fixes_geojson(path: Path) -> bytes:
    from overflight.case import Case

    with Case.open(path, read_only=True) as case:
        t = case.tracks()
    feats = []
    for tid, g in t.groupby("track_id", sort=True):
        feats.append({"type": "Feature", "properties": {"layer": "track", "id": tid, "colour": "#7a2e8e"},
                      "geometry": {"type": "LineString",
                                   "coordinates": np.c_[g["lon"], g["lat"]].round(5).tolist()}})
    return json.dumps({"type": "FeatureCollection", "features": feats}).encode()


def wait_drawn(page: Any, n: float) -> None:
    page.wait_for_function(WAIT_DRAWN, arg=n, timeout=180_000, polling="raf")


LAST_TRACKS_FETCH = """() => { const e = performance.getEntriesByType('resource')
  .filter((x) => x.name.includes('/api/tracks')).pop();
  return e ? {server_ms: e.responseStart - e.requestStart, fetch_ms: e.responseEnd - e.startTime} : null; }"""


def pans(page: Any, n: int, refetch: bool, fetches: list[dict[str, float]] | None = None) -> list[float]:
    """Pan by 300 px n times, each until drawn; `fetches` gets each re-fetch's server and transfer time."""
    out = []
    for i in range(n):
        k, f0 = page.evaluate("() => [window.__ovf.tracksLoaded, window.__ovf.tracksFetched]")
        t = time.perf_counter()
        page.evaluate("(dx) => window.__ovf.map.panBy([dx, 0], {duration: 0})", 300 if i % 2 == 0 else -300)
        wait_drawn(page, k + 1 if refetch else -1e9)
        out.append(time.perf_counter() - t)
        if fetches is not None and page.evaluate("() => window.__ovf.tracksFetched") != f0:
            fetches.append(page.evaluate(LAST_TRACKS_FETCH))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixes", type=int, default=1_000_000)
    ap.add_argument("--tracks", type=int, default=200)
    ap.add_argument("--pans", type=int, default=6)
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench-web-"))
    case = tmp / "case.duckdb"
    t = time.perf_counter()
    build_case(case, a.fixes, a.tracks)
    say(f"case with {a.fixes:,} fixes in {a.tracks} tracks built in {time.perf_counter() - t:.1f}s")
    blob = all_fixes_geojson(case)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    srv = subprocess.Popen([sys.executable, "-m", "overflight", "serve", str(case), "--port", str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/api/case", timeout=1).read()
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = b.new_page(viewport={"width": 1400, "height": 850})
            page.route(f"{url}/bench/all.geojson", lambda r: r.fulfill(body=blob, content_type="application/json"))
            # Cold: the server has not read the tracks yet (it loads every fix into memory on the first view).
            t = time.perf_counter()
            page.goto(f"{url}/#map=5.00/48.5/50.0")
            wait_drawn(page, 1)
            cold_first = time.perf_counter() - t
            say(f"ours: first render, cold server {cold_first:.2f}s")
            t = time.perf_counter()
            page.reload()
            wait_drawn(page, 1)
            ours_first = time.perf_counter() - t
            say(f"ours: first render (page reopened) {ours_first:.2f}s")
            t = time.perf_counter()
            again = urllib.request.urlopen(f"{url}/api/tracks?zoom=5", timeout=120).read()
            say(f"server: /api/tracks whole case at zoom 5 {time.perf_counter() - t:.3f}s, "
                f"{len(again) / 1e6:.1f} MB")
            first_fetch = page.evaluate(LAST_TRACKS_FETCH)
            fetches: list[dict[str, float]] = []
            ours_pans = pans(page, a.pans, refetch=True, fetches=fetches)
            say(f"ours: pans {[round(x, 2) for x in ours_pans]}")
            # Where a pan's time goes: the server's answer (request sent -> first byte), the whole fetch, and
            # the rest (the page parsing and MapLibre's worker tiling and drawing the new data).
            say(f"ours: first view's /api/tracks: server {first_fetch['server_ms']:.0f} ms, fetch "
                f"{first_fetch['fetch_ms']:.0f} ms; {len(fetches)} of {a.pans} pans re-fetched"
                + (f" (median server {np.median([f['server_ms'] for f in fetches]):.0f} ms, fetch "
                   f"{np.median([f['fetch_ms'] for f in fetches]):.0f} ms)" if fetches else ""))
            ours_anim = page.evaluate(ANIMATED_PAN)
            sent = page.evaluate("() => window.__ovf.trackStats")
            fetched = page.evaluate("() => window.__ovf.tracksFetched")
            say(f"ours: animated pan longest frame {ours_anim['worst_ms']:.0f} ms over {ours_anim['frames']} frames")
            # Peer: all fixes as one GeoJSON source, on the same page (the decimating refetch switched off).
            t = time.perf_counter()
            page.evaluate("""async () => { const s = window.__ovf; s.freezeTracks = true; s.tracksLoaded = -1e9;
                const d = await (await fetch('/bench/all.geojson')).json();
                s.map.getSource('tracks').setData(d); }""")
            wait_drawn(page, -1e9)
            peer_first = time.perf_counter() - t
            say(f"peer: load+draw {peer_first:.2f}s")
            peer_pans = pans(page, a.pans, refetch=False)
            peer_anim = page.evaluate(ANIMATED_PAN)
            b.close()
    finally:
        srv.terminate()
        srv.wait(30)
    say(f"ours: first render {ours_first:.2f}s (cold server {cold_first:.2f}s; {sent['sent']:,} of "
        f"{sent['total']:,} fixes drawn; {fetched} track answers for the {a.pans} pans and the first view: a pan "
        "inside the last answer's padded box needs none); "
          f"pan+refetch median {np.median(ours_pans):.3f}s, max {max(ours_pans):.3f}s; "
          f"animated pan longest frame {ours_anim['worst_ms']:.0f} ms over {ours_anim['frames']} frames")
    say(f"peer (all {a.fixes:,} fixes as GeoJSON, {len(blob) / 1e6:.0f} MB): load+draw {peer_first:.2f}s "
          f"(after the page was up); pan median {np.median(peer_pans):.3f}s, max {max(peer_pans):.3f}s; "
          f"animated pan longest frame {peer_anim['worst_ms']:.0f} ms over {peer_anim['frames']} frames")
    say(f"ratios peer/ours: first render {peer_first / ours_first:.1f}x, "
          f"pan {np.median(peer_pans) / np.median(ours_pans):.1f}x, "
          f"longest frame {peer_anim['worst_ms'] / max(ours_anim['worst_ms'], 1):.1f}x")


if __name__ == "__main__":
    main()
