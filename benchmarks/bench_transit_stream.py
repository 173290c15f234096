"""Stream 10 M fixes through `overflight transit` in chunks and report time and peak resident memory.

    /work/venv/bin/python benchmarks/bench_transit_stream.py [--fixes 10000000] [--chunk-rows 1000000]

Writes a synthetic CSV (aircraft-like tracks over Europe/Asia, rows in time order so every chunk holds pieces
of thousands of tracks), then runs the CLI command in a child process against ne-admin0 and reads the
child's peak RSS (ru_maxrss). The CSV is kept in --workdir for re-runs.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixes", type=int, default=10_000_000)
    ap.add_argument("--tracks", type=int, default=5_000)
    ap.add_argument("--chunk-rows", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/overflight-bench"))
    ap.add_argument("--no-brackets", action="store_true", help="skip the bracketing fixes (the second read)")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    src = args.workdir / f"tracks_{args.fixes}.csv"
    if not src.exists():
        from _synth_tracks import synth_tracks

        t0 = time.perf_counter()
        part = 2_000_000
        # Written in parts (one set of tracks per part) so the generator itself stays small in memory.
        per_part_tracks = max(1, args.tracks * part // args.fixes)
        first = True
        with open(src, "w") as fh:
            for k, start in enumerate(range(0, args.fixes, part)):
                n = min(part, args.fixes - start)
                df = synth_tracks(n, per_part_tracks, seed=k)
                df["track_id"] = f"P{k}-" + df["track_id"].astype(str)
                df["time"] = df["time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                df.to_csv(fh, index=False, header=first, float_format="%.6f")
                first = False
        print(f"wrote {src} ({src.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f} s")
    out = args.workdir / "visits.csv"
    cmd = [sys.executable, "-m", "overflight", "transit", str(src), "--zones", "ne-admin0", "-o", str(out),
           "--summary", str(args.workdir / "summary.csv"), "--chunk-rows", str(args.chunk_rows),
           *(["--no-brackets"] if args.no_brackets else [])]
    script = ("import sys\nfrom overflight.cli.main import app, main\nfrom overflight.cli.transit import register\n"
              "if 'transit' not in [c.name for c in app.registered_commands]:\n    register(app)\n"
              "main(sys.argv[1:])\n")
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", script, *cmd[3:]], capture_output=True, text=True)
    dt = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(r.stdout.strip())
    if r.returncode:
        print(r.stderr[-2000:])
        raise SystemExit(r.returncode)
    print(f"{args.fixes:,} fixes, chunks of {args.chunk_rows:,}: {dt:.1f} s "
          f"({args.fixes / dt / 1e6:.2f} M fixes/s), peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
