"""Transit of a GeoParquet archive: one machine (streamed) vs Dask with 1 and 2 workers, same fixes, same run.

    nice -n 10 python benchmarks/bench_dask.py                    # 1 M fixes (a default run stays < 3 min)
    nice -n 10 python benchmarks/bench_dask.py --fixes 20000000   # the issue's 20 M fixes (several minutes)

The archive (aircraft-like tracks over Europe/Asia, time-ordered, cut in time into --files files of row groups
of --row-group rows, so every track runs through several files) is generated into a temporary directory,
never the repository. Each configuration runs in a fresh child process against ne-admin0:

* ``single``: ``transit_chunks`` over the files' validated row groups in order (the `overflight transit`
  path, one process, one core);
* ``dask-N``: ``transit_dask`` on the LocalCluster of ``--engine dask --workers N`` (``dask_client``: N worker
  processes, one thread each).

Printed: wall time, fixes/s, CPU time (one machine: the process; Dask: each worker's CPU during the run plus
the client and scheduler process), visits (they must agree), peak RSS of the process and, for Dask, of each
worker (VmHWM read on the worker at the end), and the ratios single/Dask of wall and CPU time.
``--brackets`` adds the crossings' bracketing fixes on both sides (the CLI's default). This machine has 2
cores shared with other jobs: 2 workers can at best halve the kernel time, and the client, the scheduler and
the shuffle compete for the same cores; compare the CPU figures, and give ``uptime`` with the wall figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def make_archive(d: Path, fixes: int, tracks: int, files: int, row_group: int) -> list[Path]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    import shapely

    from _synth_tracks import synth_tracks

    geo = json.dumps({"version": "1.0.0", "primary_column": "geometry", "columns": {
        "geometry": {"encoding": "WKB", "geometry_types": ["Point"]}}})
    part = 2_000_000
    per_part_tracks = max(1, tracks * part // fixes)
    per_file = -(-fixes // files)
    writers: dict[int, Any] = {}
    written = 0
    for k, start in enumerate(range(0, fixes, part)):
        n = min(part, fixes - start)
        df = synth_tracks(n, per_part_tracks, seed=k)  # time-ordered within the part
        df["track_id"] = f"P{k}-" + df["track_id"].astype(str)
        # Cut by position into files: the parts' rows are in time order, so a file is a time slice of them.
        pos = written + np.arange(n)
        fidx = pos // per_file
        for f in sorted(set(fidx.tolist())):
            sel = df[fidx == f]
            tbl = pa.table({"track_id": pa.array(sel["track_id"].to_numpy(dtype=object), pa.string()),
                            "time": pa.array(sel["time"]), "alt_m": sel["alt_m"].to_numpy(),
                            "geometry": shapely.to_wkb(shapely.points(sel["lon"].to_numpy(), sel["lat"].to_numpy()))})
            if f not in writers:
                writers[f] = pq.ParquetWriter(d / f"part-{f:03d}.parquet", tbl.schema.with_metadata({"geo": geo}))
            writers[f].write_table(tbl, row_group_size=row_group)
        written += n
    for w in writers.values():
        w.close()
    return sorted(d.glob("part-*.parquet"))


def child_single(files: list[str], brackets: bool) -> dict[str, Any]:
    from itertools import chain

    from overflight.analysis.crossing_times import bracket_visits
    from overflight.analysis.transit_stream import transit_chunks
    from overflight.index import ZoneIndex
    from overflight.tracks import iter_tracks
    from overflight.zones import load_zones

    zs = load_zones("ne-admin0")
    index = ZoneIndex.cached(zs)

    def chunks() -> Any:
        # `overflight transit FILE` on each file in turn (its reader, validator and 250k-fix chunks): the files
        # are time slices, so every track's fixes come in time order across them.
        return chain.from_iterable(iter_tracks(f, core_only=True, chunk_rows=250_000) for f in files)

    t0 = time.perf_counter()
    c0 = time.process_time()
    res = transit_chunks(chunks(), zs, index=index, with_summary=False)
    visits = bracket_visits(res.visits, chunks(), 600.0) if brackets else res.visits
    return {"seconds": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "visits": len(visits),
            "fixes": res.provenance["parameters"]["n_fixes"]}


def peak_rss_mb() -> float:
    """Peak RSS of this process in MB: VmHWM of its own address space.

    Not ``ru_maxrss``: Linux carries that across exec, so a child started by a big parent (the archive
    generator) would report the parent's RSS at the fork.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker_usage() -> tuple[float, float]:
    """(CPU seconds so far, peak RSS in MB) of the worker process this runs in."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, peak_rss_mb()


def child_dask(files: list[str], workers: int, out: str, brackets: bool) -> dict[str, Any]:
    from overflight.distributed import dask_client, transit_dask
    from overflight.index import ZoneIndex
    from overflight.zones import load_zones

    zs = load_zones("ne-admin0")
    index = ZoneIndex.cached(zs)
    with dask_client(workers=workers) as client:  # the local cluster of `--engine dask --workers N`
        before = client.run(_worker_usage)
        t0 = time.perf_counter()
        c0 = time.process_time()  # this process: the client and the scheduler
        run = transit_dask(files, zs, index=index, client=client, output=out, brackets=brackets)
        dt = time.perf_counter() - t0
        client_cpu = time.process_time() - c0
        after = client.run(_worker_usage)
    cpu = sorted(after[w][0] - before[w][0] for w in after)
    return {"seconds": dt, "visits": run.provenance["n_visits"], "fixes": run.provenance["parameters"]["n_fixes"],
            "worker_cpu_s": cpu, "client_cpu_s": client_cpu, "cpu_s": client_cpu + sum(cpu),
            "partitions": run.provenance["partitioning"]["partitions"],
            "input_partitions": run.provenance["partitioning"]["input_partitions"],
            "worker_peak_rss_mb": sorted(v[1] for v in after.values())}


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        kind, files_json, brackets, *rest = sys.argv[2:]
        files = json.loads(files_json)
        res = (child_single(files, brackets == "1") if kind == "single"
               else child_dask(files, int(rest[0]), rest[1], brackets == "1"))
        res["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(res))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixes", type=int, default=1_000_000)
    ap.add_argument("--tracks", type=int, default=5_000)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--row-group", type=int, default=250_000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--brackets", action="store_true", help="also the crossings' bracketing fixes (the CLI's "
                    "default: a second read on one machine, per partition on Dask)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="overflight-bench-dask-") as tmp:
        d = Path(tmp)
        t0 = time.perf_counter()
        files = make_archive(d, args.fixes, args.tracks, args.files, args.row_group)
        size = sum(f.stat().st_size for f in files) / 1e6
        print(f"archive: {args.fixes:,} fixes in {len(files)} GeoParquet files ({size:.0f} MB, row groups of "
              f"{args.row_group:,}) in {time.perf_counter() - t0:.0f} s")
        fj = json.dumps([str(f) for f in files])
        rows = []
        for label, extra in [("single", []), *[(f"dask-{w}", [str(w), str(d / f"out-{w}")]) for w in args.workers]]:
            kind = "single" if label == "single" else "dask"
            t1 = time.perf_counter()
            r = subprocess.run([sys.executable, __file__, "--child", kind, fj, "1" if args.brackets else "0", *extra],
                               capture_output=True, text=True)
            if r.returncode:
                print(r.stderr[-3000:])
                raise SystemExit(r.returncode)
            res = json.loads(r.stdout.strip().splitlines()[-1])
            res["wall_with_startup"] = time.perf_counter() - t1
            rows.append((label, res))
            line = (f"{label:8s}: wall {res['seconds']:6.1f} s ({res['fixes'] / res['seconds'] / 1e6:.2f} M fixes/s; "
                    f"{res['wall_with_startup']:.1f} s with start-up), CPU {res['cpu_s']:.1f} s")
            if "worker_cpu_s" in res:
                line += (" (workers " + " + ".join(f"{c:.1f}" for c in res["worker_cpu_s"])
                         + f", client+scheduler {res['client_cpu_s']:.1f})")
            line += f", {res['visits']:,} visits; peak RSS: process {res['peak_rss_mb']:.0f} MB"
            if "worker_peak_rss_mb" in res:
                line += ", per worker " + " / ".join(f"{m:.0f}" for m in res["worker_peak_rss_mb"]) + " MB"
                line += f"; {res['input_partitions']} row groups -> {res['partitions']} partitions"
            print(line, flush=True)
        base = rows[0][1]
        print("ratios single/dask (above 1: Dask faster or cheaper): " + "; ".join(
            f"{lb} wall {base['seconds'] / r['seconds']:.2f}x, CPU {base['cpu_s'] / r['cpu_s']:.2f}x"
            for lb, r in rows[1:]))
        if len({r["visits"] for _, r in rows}) != 1:
            raise SystemExit("the runs disagree on the number of visits")


if __name__ == "__main__":
    main()
