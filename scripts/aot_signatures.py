"""Rewrite src/overflight/_aot_signatures.json: the kernel signatures the build compiles ahead of time.

Runs, in this process with every kernel recording the argument types of its calls from Python, what users run
first: the demo, `locate` and `crossings` on points and segments, `transit` from a CSV file, and prism
verdicts in both modes; then lists every signature numba compiled. Run it after changing a kernel's
arguments (a signature missing from the list is compiled on first use, as before, never wrong):

    OVERFLIGHT_AOT_HARVEST=1 python scripts/aot_signatures.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

if not os.environ.get("OVERFLIGHT_AOT_HARVEST"):
    sys.exit("run with OVERFLIGHT_AOT_HARVEST=1 (kernels then record the types of every call)")

from overflight import _aot_build
from overflight.cli.main import app


def _cli(*args: str) -> None:
    try:
        app(list(args), standalone_mode=False)
    except SystemExit as e:
        if e.code:
            raise


def _monitor(work: Path) -> None:
    """The live monitor's engine on SBS lines of a flight across a border (what `overflight monitor` runs)."""
    import time

    from overflight.monitor.feeds import Item
    from overflight.monitor.runner import Monitor, MonitorConfig

    mon = Monitor(MonitorConfig(zones="ne-admin0", feeds=["sbs://127.0.0.1:9?name=harvest"], hysteresis_s=0.0,
                                case=work / "monitor.duckdb"))
    t0 = time.time()
    for k in range(40):  # Germany into Poland, one fix a second; a callsign line and a heartbeat in between
        t = t0 + k
        st = time.gmtime(t)
        d, tm = time.strftime("%Y/%m/%d", st), time.strftime("%H:%M:%S", st) + ".000"
        pos = ["MSG", "3", "1", "1", "4CA1B2", "1", d, tm, d, tm, "", "35000", "", "", "52.40000",
               f"{14.0 + 0.05 * k:.5f}", "", "", "0", "0", "0", "0"]
        ident = ["MSG", "1", "1", "1", "4CA1B2", "1", d, tm, d, tm, "RYR12AB", "", "", "", "", "", "", "", "", "",
                 "", ""]
        data = (",".join(pos) + "\r\n" + ",".join(ident) + "\r\n\r\n").encode()
        mon._handle([Item(0, t, data=data, lines=3)])
    mon._emit(mon.geofence.expire(t0 + 400.0))
    mon._shutdown()


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="of-aot-"))
    _cli("demo", "--out", str(work / "demo"))
    rng = np.random.default_rng(1)
    n = 2000
    pts = work / "points.csv"
    lon, lat = rng.uniform(-180, 180, n), rng.uniform(-80, 80, n)
    rows = "".join(f"p{i},{x:.6f},{y:.6f}\n" for i, (x, y) in enumerate(zip(lon, lat, strict=True)))
    pts.write_text("id,lon,lat\n" + rows)
    _cli("locate", str(pts), "--zones", "ne-admin0", "-o", str(work / "located.csv"))
    tr = work / "tracks.csv"
    rows = ["track_id,time,lon,lat,alt_m"]
    for t in range(20):
        x0, y0 = rng.uniform(0, 60), rng.uniform(30, 60)
        for k in range(60):
            rows.append(f"t{t},2025-06-21T{k // 60:02d}:{k % 60:02d}:00Z,{x0 + 0.05 * k:.5f},{y0 + 0.02 * k:.5f},9000")
    tr.write_text("\n".join(rows) + "\n")
    _cli("transit", str(tr), "--zones", "ne-admin0", "-o", str(work / "visits.csv"))
    _cli("transit", str(tr), "--zones", "ne-admin0", "--brackets", "-o", str(work / "visits_b.csv"))
    # The library's verbs on their own (the first-zone and all-zones lookups, densified crossings, prism in
    # fast and precise mode, a GeoParquet track file).
    import pandas as pd

    import overflight
    from overflight.index import ZoneIndex

    ix = ZoneIndex(overflight.load_zones("ne-admin0"))
    ix.locate(lon, lat)
    ix.locate_all(lon, lat)
    ix.zones_of(lon, lat)
    ix.crossings(lon[:-1], lat[:-1], lon[1:], lat[1:], densify_m=50_000.0)
    # read-only inputs too: pandas' copy-on-write hands out DataFrame columns as read-only arrays
    ro_lon, ro_lat = lon.copy(), lat.copy()
    ro_lon.setflags(write=False)
    ro_lat.setflags(write=False)
    ix.locate(ro_lon, ro_lat)
    ix.locate_all(ro_lon, ro_lat)
    ix.zones_of(ro_lon, ro_lat)
    ix.crossings(ro_lon[:-1], ro_lat[:-1], ro_lon[1:], ro_lat[1:], densify_m=50_000.0)
    tracks = pd.read_csv(tr)
    tracks.to_parquet(work / "tracks.parquet")
    _cli("transit", str(work / "tracks.parquet"), "--zones", "ne-admin0", "-o", str(work / "visits.parquet"))
    pairs = pd.DataFrame({"track_id": ["a"] * 3 + ["b"] * 3,
                          "time": pd.to_datetime(["2025-06-21T00:00Z", "2025-06-21T03:00Z", "2025-06-21T07:00Z"] * 2),
                          "lon": [46.0, 49.0, 52.0, 20.0, 23.5, 27.0], "lat": [48.0, 50.0, 51.0, 54.0, 55.0, 54.5]})
    for fast in (False, True):
        overflight.prism_verdicts(pairs, "ne-admin0", "185kmh", fast=fast)
    # Pairs 100-800 km apart over Eurasia at 1.0-1.6 times the direct time (as bench_prism.py): the fast
    # mode's bulk stage then reaches its lattice paths and hull bounds.
    from overflight.geodesy import GEOD

    m = 3000
    lon1, lat1 = rng.uniform(10.0, 120.0, m), rng.uniform(35.0, 62.0, m)
    d = rng.uniform(100e3, 800e3, m)
    lon2, lat2, _ = GEOD.fwd(lon1, lat1, rng.uniform(0, 360, m), d)
    t0 = pd.Timestamp("2025-06-21T00:00Z")
    dt = pd.to_timedelta(d * rng.uniform(1.0, 1.6, m) / (185 / 3.6), unit="s")
    many = pd.DataFrame({"track_id": np.repeat([f"p{i}" for i in range(m)], 2),
                         "time": np.ravel(np.column_stack([np.full(m, t0), t0 + dt])),
                         "lon": np.ravel(np.column_stack([lon1, lon2])), "lat": np.ravel(np.column_stack([lat1, lat2]))})
    many["time"] = pd.to_datetime(many["time"], utc=True)
    overflight.prism_verdicts(many, "ne-admin0", "185kmh", fast=True)
    _monitor(work)
    from overflight import _aot

    spec = _aot_build.harvest(_aot.SEEN, _aot_build.SPEC.parent)
    kernels = [f" {json.dumps(k)}: [\n" + ",\n".join(f"  {json.dumps(sig)}" for sig in sigs) + "\n ]"
               for k, sigs in spec["kernels"].items()]  # one signature per line: reviewable diffs
    _aot_build.SPEC.write_text('{"kernel_modules": ' + json.dumps(spec["kernel_modules"]) + ',\n"modules": '
                               + json.dumps(spec["modules"]) + ',\n"kernels": {\n'
                               + ",\n".join(kernels) + "\n}}\n")
    n_sig = sum(len(v) for v in spec["kernels"].values())
    print(f"wrote {_aot_build.SPEC}: {len(spec['kernels'])} kernels, {n_sig} signatures")


if __name__ == "__main__":
    main()
