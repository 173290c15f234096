"""Case store on DuckDB vs PostgreSQL/PostGIS: import 1 M observations, 1 M track fixes and a transit run's results.

    python benchmarks/bench_case_backends.py [--observations 1000000] [--fixes 1000000] [--url postgresql://HOST/DB]

Without ``--url`` (and without PGHOST set) the script re-runs itself inside a throw-away cluster
(``pg_virtualenv -t``, postgresql-common), so nothing but PostgreSQL 15 + PostGIS needs to be installed.

For each backend, in the same run on the same data: ``Case.add_observations`` of N synthetic sightings
(located, dated, graded, one source; one transaction with its audit entry) and ``Case.observations_frame``
reading them back, ``Case.add_tracks`` of N synthetic aircraft fixes (one
transaction, with the audit entry and the dataset's content hash), ``run_transit`` on a 100 k-fix dataset
against ~40 European states (compute, read-back, input hashes and record; the compute is the same on both),
``record_run`` of that result table alone (the store's share), ``Case.tracks()`` reading the N fixes back,
and the storage the case takes (the DuckDB file after a checkpoint; PostgreSQL: the shared tables and their
indexes, in a fresh database). Printed: seconds and bytes per backend and the PostgreSQL/DuckDB ratios.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fixes", type=int, default=1_000_000)
    ap.add_argument("--observations", type=int, default=1_000_000)
    ap.add_argument("--tracks", type=int, default=500)
    ap.add_argument("--transit-fixes", type=int, default=100_000,
                    help="fixes of the dataset transit runs on (its cost is mostly the analysis, alike on both)")
    ap.add_argument("--url", help="postgresql://HOST/DB to use (default: a throw-away cluster)")
    args = ap.parse_args()
    if args.url is None and "PGHOST" not in os.environ:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        sys.exit(subprocess.call(["pg_virtualenv", "-t", "-c", f"-p {port}", sys.executable, *sys.argv]))
    url = args.url or "postgresql:///postgres"
    run(args.fixes, args.tracks, args.transit_fixes, url, args.observations)


def run(n: int, n_tracks: int, n_transit: int, url: str, n_obs: int) -> None:
    from _synth_tracks import synth_tracks
    from overflight import boundaries
    from overflight.analysis.case_runs import run_transit
    from overflight.case import Case
    from overflight.evidence.model import Source

    t0 = time.perf_counter()
    tracks = synth_tracks(n, n_tracks, seed=0)
    print(f"{len(tracks):,} fixes in {n_tracks} tracks (synthetic, over Europe), made in "
          f"{time.perf_counter() - t0:.1f} s")
    states = boundaries.load("ne-admin0")
    eu = [z.id for z in states if z.geometry.bounds[0] > -10 and z.geometry.bounds[2] < 40
          and z.geometry.bounds[1] > 35 and z.geometry.bounds[3] < 62][:40]
    zones = states.select(eu)
    observations = synth_observations(n_obs)
    print(f"{len(observations):,} observations (synthetic sightings)")
    print(f"{len(zones)} zones (Natural Earth admin-0, Europe)")
    from overflight.analysis.transit import transit

    transit(tracks.head(2000)[["track_id", "time", "lon", "lat", "alt_m"]], zones)  # compile the kernels first
    sep = "&" if "?" in url else "?"
    tmp = Path(tempfile.mkdtemp(prefix="bench-case-"))
    results: dict[str, dict[str, Any]] = {}
    for name, loc in (("duckdb", str(tmp / "bench.duckdb")),
                      ("postgresql", f"{url}{sep}case=bench-{uuid.uuid4().hex[:6]}")):
        r: dict[str, Any] = {}
        with Case.create(loc, user=None) as c:
            c.add_zones(zones)
            c.add_sources([Source(id="S1", name="bench", reliability="C")])
            t = time.perf_counter()
            c.add_observations(observations)
            r["add_observations"] = time.perf_counter() - t
            t = time.perf_counter()
            assert len(c.observations_frame()) == n_obs
            r["read_observations"] = time.perf_counter() - t
            t = time.perf_counter()
            c.add_tracks(tracks, dataset="fixes")
            r["add_tracks"] = time.perf_counter() - t
            sample = tracks[tracks["track_id"].isin(tracks["track_id"].unique()[:max(1, n_tracks * n_transit // n)])]
            c.add_tracks(sample, dataset="sample")
            t = time.perf_counter()
            run_id, visits = run_transit(c, dataset="sample", zones=eu)
            r["run_transit"] = time.perf_counter() - t
            t = time.perf_counter()
            c.record_run("transit-copy", {"of": run_id}, {}, zones.provenance, visits)
            r["record_run"] = time.perf_counter() - t
            r["result_rows"] = len(visits)
            t = time.perf_counter()
            back = c.tracks("fixes")
            r["read_tracks"] = time.perf_counter() - t
            assert len(back) == n
            r["bytes"] = c.size_bytes()
        results[name] = r
        print(f"{name:>10}: add_observations {r['add_observations']:6.1f} s  read {r['read_observations']:5.1f} s  "
              f"add_tracks {r['add_tracks']:6.1f} s  run_transit {r['run_transit']:6.1f} s  "
              f"record_run ({r['result_rows']:,} rows) {r['record_run']:5.2f} s  read {r['read_tracks']:5.1f} s  "
              f"size {r['bytes'] / 1e6:7.1f} MB", flush=True)
    d, p = results["duckdb"], results["postgresql"]
    keys = ("add_observations", "read_observations", "add_tracks", "run_transit", "record_run", "read_tracks", "bytes")
    print("PostgreSQL / DuckDB: " + ", ".join(f"{k} x{p[k] / d[k]:.1f}" for k in keys))


def synth_observations(n: int) -> list[Any]:
    """N sightings over Europe, each with a 30-minute window, a position error and a credibility grade."""
    import numpy as np
    import pandas as pd

    from overflight.evidence.model import Observation

    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(-10, 40, n), rng.uniform(35, 62, n)
    start = pd.Timestamp("2025-06-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 30 * 86400, n), unit="s")
    end = start + pd.Timedelta(minutes=30)
    prec = rng.uniform(50, 5000, n)
    cred = rng.integers(1, 6, n)
    return [Observation(id=f"O{i}", kind="sighting", source_id="S1", lon=float(lon[i]), lat=float(lat[i]),
                        time_start=start[i].to_pydatetime(), time_end=end[i].to_pydatetime(),
                        precision_m=float(prec[i]), credibility=int(cred[i]))
            for i in range(n)]


if __name__ == "__main__":
    main()
