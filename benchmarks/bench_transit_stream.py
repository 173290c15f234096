"""Stream fixes through transit and locate from CSV and GeoParquet: fixes/s, time per stage, peak RSS.

    python benchmarks/bench_transit_stream.py [--fixes 10000000] [--chunk-rows 250000] [--no-cli]
        [--formats parquet] [--no-brackets-runs] [--no-stages] [--no-locate]

Writes synthetic aircraft-like tracks (Europe/Asia, rows in time order so every chunk holds pieces of
thousands of tracks) as CSV and as GeoParquet into --workdir (a temporary directory by default, never the
repository), then, each in a fresh child process so its peak RSS (ru_maxrss) is its own:

* ``stages``: the library pipeline of `overflight transit` with each stage timed: read (parse + stage),
  validate, locate and crossings (time inside the ZoneIndex calls), geodesy (the kernel's segment lengths:
  compiled for short segments, pyproj's inverse for the others), the rest of the kernel (ordering, pairing,
  the crossings' bracketing fixes), visits (closing,
  dispute flags, bracket columns) and write;
* ``cli``: `overflight transit FILE --zones ne-admin0 -o visits.csv` end to end (what a user waits for);
* ``locate``: `overflight locate` end to end from CSV and from Parquet, next to ``ZoneIndex.zones_of`` on the
  same points already in memory.
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


def _clock() -> float:
    """Stages are timed in CPU seconds of the process (the machine is shared; wall time is printed too)."""
    return time.process_time()


def make_data(workdir: Path, fixes: int, tracks: int) -> tuple[Path, Path]:
    """CSV and GeoParquet of the same fixes (written in parts so the generator stays small)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import shapely

    csv = workdir / f"tracks_{fixes}.csv"
    pqf = workdir / f"tracks_{fixes}.parquet"
    if csv.exists() and pqf.exists():
        return csv, pqf
    from _synth_tracks import synth_tracks

    t0 = _clock()
    part = 2_000_000
    per_part_tracks = max(1, tracks * part // fixes)
    writer: pq.ParquetWriter | None = None
    geo = json.dumps({"version": "1.0.0", "primary_column": "geometry", "columns": {
        "geometry": {"encoding": "WKB", "geometry_types": ["Point"], "crs": None}}})
    with open(csv, "w") as fh:
        for k, start in enumerate(range(0, fixes, part)):
            n = min(part, fixes - start)
            df = synth_tracks(n, per_part_tracks, seed=k)
            df["track_id"] = f"P{k}-" + df["track_id"].astype(str)
            tbl = pa.table({"track_id": pa.array(df["track_id"].to_numpy(dtype=object), pa.string()),
                            "time": pa.array(df["time"]), "alt_m": df["alt_m"].to_numpy(),
                            "geometry": shapely.to_wkb(shapely.points(df["lon"].to_numpy(), df["lat"].to_numpy()))})
            if writer is None:
                writer = pq.ParquetWriter(pqf, tbl.schema.with_metadata({"geo": geo}))
            writer.write_table(tbl, row_group_size=1_000_000)
            df["time"] = df["time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            df.to_csv(fh, index=False, header=k == 0, float_format="%.6f")
    if writer is not None:
        writer.close()
    print(f"wrote {csv.name} ({csv.stat().st_size / 1e6:.0f} MB) and {pqf.name} "
          f"({pqf.stat().st_size / 1e6:.0f} MB) in {_clock() - t0:.0f} s")
    return csv, pqf


# ------------------------------------------------------------------------------------------- child: stages

class _Timed:
    """A ZoneIndex proxy that adds the time spent in locate_all / crossings to a dict."""

    def __init__(self, index: Any, acc: dict[str, float]) -> None:
        self._index, self._acc = index, acc

    def __getattr__(self, name: str) -> Any:  # anything else (the grid transit reads) from the index itself
        return getattr(self._index, name)

    def locate_all(self, lon: Any, lat: Any) -> Any:
        t0 = _clock()
        try:
            return self._index.locate_all(lon, lat)
        finally:
            self._acc["locate"] += _clock() - t0

    def crossings(self, *a: Any, **kw: Any) -> Any:
        t0 = _clock()
        try:
            return self._index.crossings(*a, **kw)
        finally:
            self._acc["crossings"] += _clock() - t0


def child_stages(path: Path, chunk_rows: int, out: Path) -> dict[str, Any]:
    import pandas as pd

    import overflight.analysis.transit as transit_mod
    from overflight.analysis.transit import TransitEngine, _empty_raw
    from overflight.cli.transit import write_visits
    from overflight.index import ZoneIndex
    from overflight.tracks._stage import ReadOptions
    from overflight.tracks.reader import _ROW_KIND, iter_staged
    from overflight.tracks.validate import Validator
    from overflight.zones import load_zones

    acc = dict.fromkeys(("setup", "read", "validate", "locate", "crossings", "geodesy", "kernel", "visits", "write"),
                        0.0)
    def timed(fn: Any) -> Any:
        def run(*a: Any, **kw: Any) -> Any:
            t = _clock()
            try:
                return fn(*a, **kw)
            finally:
                acc["geodesy"] += _clock() - t
        return run

    # The kernel's segment lengths: compiled for short segments, pyproj (inverse) for the others.
    transit_mod.inverse = timed(transit_mod.inverse)  # type: ignore[assignment]
    if hasattr(transit_mod, "short_lengths"):  # (older versions solved every segment with pyproj)
        transit_mod.short_lengths = timed(transit_mod.short_lengths)
    t0 = _clock()
    zs = load_zones("ne-admin0")
    index = ZoneIndex.cached(zs)
    # Load the compiled kernels now (a one-off of ~0.3 s per process, not a cost per fix of any stage).
    index.locate_all([0.0], [0.0])
    index.crossings([0.0], [0.0], [0.1], [0.1], densify_m=5000.0)
    eng = TransitEngine(zs, max_gap_s=600.0, step_m=5000.0, index=_Timed(index, acc))  # type: ignore[arg-type]
    acc["setup"] = _clock() - t0

    def chunks(staged_opts: dict[str, Any]) -> Any:
        opts = ReadOptions(chunk_rows=chunk_rows, **staged_opts)
        fmt, staged = iter_staged(path, None, opts)
        # As `overflight transit`: chunks in file order (the kernel orders them itself).
        v = Validator(str(path), row_kind=_ROW_KIND.get(fmt, "row"), sort_rows=False)
        it = iter(staged)
        while True:
            t = _clock()
            try:
                st = next(it)
            except StopIteration:
                return
            acc["read"] += _clock() - t
            t = _clock()
            df = v.process(st)
            acc["validate"] += _clock() - t
            yield df

    closed = []
    n = 0
    # as `overflight transit` (older versions had no categorical_ids: the bench also measures main)
    staged = {"core_only": True, **({"categorical_ids": True} if hasattr(ReadOptions, "categorical_ids") else {})}
    for df in chunks(staged):
        n += len(df)
        t = _clock()
        before = acc["locate"] + acc["crossings"] + acc["geodesy"]
        raw = eng.feed(df)
        acc["kernel"] += _clock() - t - (acc["locate"] + acc["crossings"] + acc["geodesy"] - before)
        if len(raw):
            closed.append(raw)
    t = _clock()
    tail = eng.finish()
    # The visits with their bracketing fixes, which the kernel found in its one pass (as `overflight transit`).
    visits = eng.visits(pd.concat([*closed, tail], ignore_index=True) if closed or len(tail) else _empty_raw(),
                        brackets=True)
    acc["visits"] = _clock() - t
    t = _clock()
    write_visits(visits, out)
    acc["write"] = _clock() - t
    return {"fixes": n, "visits": len(visits), "stages": acc}


def run_child(args: list[str]) -> tuple[dict[str, Any], float, float]:
    """Run this script as a child; returns (its JSON answer, wall seconds, its peak RSS in MB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode:
        print(r.stdout[-2000:], r.stderr[-3000:])
        raise SystemExit(r.returncode)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest of any child so far: run the small ones first (see main).
    rss = max(peak, before) / 1024
    last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else "{}"
    try:
        return json.loads(last), dt, rss
    except ValueError:
        return {"stdout": r.stdout[-500:]}, dt, rss


def child_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_cli(argv: list[str]) -> dict[str, Any]:
    from overflight.cli.main import main as cli_main

    t0 = _clock()
    try:
        cli_main(argv)
    except SystemExit as exc:
        if exc.code:
            raise
    return {"seconds": _clock() - t0}


def child_locate_memory(path: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq
    import shapely

    from overflight.index import ZoneIndex
    from overflight.zones import load_zones

    index = ZoneIndex.cached(load_zones("ne-admin0"))
    g = shapely.from_wkb(pq.read_table(path, columns=["geometry"]).column("geometry").to_numpy())
    lon, lat = shapely.get_x(g), shapely.get_y(g)
    index.zones_of(lon[:1000], lat[:1000])  # compile / warm
    t0 = _clock()
    z = index.zones_of(lon, lat)
    return {"seconds": _clock() - t0, "points": len(z)}


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":  # a measured child process (see run_child)
        kind, *rest = sys.argv[2:]
        if kind == "stages":
            res = child_stages(Path(rest[0]), int(rest[1]), Path(rest[2]))
        elif kind == "cli":
            res = child_cli(rest)
        else:
            res = child_locate_memory(Path(rest[0]))
        res["peak_rss_mb"] = child_rss_mb()
        print(json.dumps(res))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixes", type=int, default=10_000_000)
    ap.add_argument("--tracks", type=int, default=5_000)
    ap.add_argument("--chunk-rows", type=int, default=250_000)
    ap.add_argument("--workdir", type=Path, default=None, help="keep the data here for re-runs (default: a "
                    "temporary directory, removed at the end)")
    ap.add_argument("--no-stages", action="store_true", help="skip the per-stage runs")
    ap.add_argument("--no-cli", action="store_true", help="skip the end-to-end CLI runs")
    ap.add_argument("--no-locate", action="store_true", help="skip the locate runs")
    ap.add_argument("--formats", default="csv,parquet", help="inputs to run, comma-separated: csv, parquet "
                    "(default both)")
    ap.add_argument("--no-brackets-runs", action="store_true", help="skip the CLI runs with --no-brackets")
    args = ap.parse_args()
    tmp = None
    if args.workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="overflight-bench-")
        args.workdir = Path(tmp.name)
    args.workdir.mkdir(parents=True, exist_ok=True)
    try:
        _run(args)
    finally:
        if tmp is not None:
            tmp.cleanup()


def _run(args: argparse.Namespace) -> None:
    csv, pqf = make_data(args.workdir, args.fixes, args.tracks)
    out = args.workdir / "visits.csv"
    rows = []
    wanted = {f.strip().lower() for f in args.formats.split(",")}
    inputs = [(label, src) for label, src, key in (("CSV", csv, "csv"), ("GeoParquet", pqf, "parquet"))
              if key in wanted]
    for label, src in () if args.no_stages else inputs:
        res, dt, _ = run_child(["--child", "stages", str(src), str(args.chunk_rows), str(out)])
        st = res["stages"]
        core = sum(v for k, v in st.items() if k != "setup")
        print(f"\ntransit stages, {label}: {res['fixes']:,} fixes -> {res['visits']:,} visits; "
              f"peak RSS {res['peak_rss_mb']:.0f} MB; child wall {dt:.1f} s")
        for k, v in st.items():
            print(f"  {k:10s} {v:7.2f} s")
        print(f"  = {core:.2f} s CPU without setup: {res['fixes'] / core / 1e6:.2f} M fixes/s "
              f"(brackets found in the one pass)")
        rows.append((label, res, dt))
    if not args.no_cli:
        print()
        for label, src in inputs:
            for extra in ([], *([] if args.no_brackets_runs else [["--no-brackets"]])):
                res, dt, _ = run_child(["--child", "cli", "transit", str(src), "--zones", "ne-admin0", "-o",
                                        str(out), "--chunk-rows", str(args.chunk_rows), *extra])
                cpu = res["seconds"]
                print(f"overflight transit {label:10s} {' '.join(extra):14s}: {dt:6.1f} s wall end to end, "
                      f"{cpu:6.1f} s CPU ({args.fixes / cpu / 1e6:.2f} M fixes/s CPU), "
                      f"peak RSS {res['peak_rss_mb']:.0f} MB")
    if not args.no_locate:
        print()
        res, dt, _ = run_child(["--child", "memory", str(pqf)])
        print(f"ZoneIndex.zones_of in memory      : {res['points'] / res['seconds'] / 1e6:6.2f} M points/s "
              f"({res['seconds']:.2f} s CPU)")
        lout = args.workdir / "located.csv"
        for label, src in inputs:
            res, dt, _ = run_child(["--child", "cli", "locate", str(src), "--zones", "ne-admin0", "-o", str(lout)])
            cpu = res["seconds"]
            print(f"overflight locate {label:10s}     : {args.fixes / cpu / 1e6:6.2f} M points/s end to end "
                  f"({cpu:.1f} s CPU, {dt:.1f} s wall), peak RSS {res['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
