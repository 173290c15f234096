"""Benchmark: prism verdicts for random sighting pairs over Eurasia against every ne-admin0 zone.

Pairs are 100–800 km apart, at drone speed (185 km/h), with time gaps giving budgets of 1.0–1.6 times
the direct distance. Prints pairs/s, pair-zone verdicts/s and how many (pair, zone) combinations each
stage settled (caps: the cap lower bounds; inside: a fix in the zone; bulk_*: the vectorised
``fast.settle_zone``, with, in --fast mode, two-leg and lattice paths (``lattice``) for "possible" and fences
(perpendicular, then at a slant) and taut paths round the parts' hulls (``hullbound``) for "necessary" when
the direct arc crosses the zone; evaluate: one at a time through the avoiding-path graph).
With ``--short``, pairs are instead 2-15 km apart at 50 m/s among the skerries and islands of Norway,
Sweden, Finland, Croatia and Greece (the regime of issue 20, where precise mode used to exhaust memory).
Also prints the CPU time (``time.process_time``, one thread: on a loaded machine it is steadier than the
wall time) and where it went by stage. The peak resident memory of the process is printed last.
Usage: python benchmarks/bench_prism.py [n_pairs] [--fast] [--no-bulk] [--short] [--save PATH] [--compare-to PATH]
(--fast: verdicts only, without refining detours of settled cases to 0.1 %: its detour_m/margin_m are the bounds
that settled each verdict, which may change with the search order, so compare its tables by their verdicts
and check them against a precise table with benchmarks/check_prism_bounds.py; --no-bulk: the precise path only;
--save: write the full verdict table to PATH (parquet); --compare-to: compare the full verdict table, every
column, with one saved by --save, e.g. by the code of another commit run on the same pairs, and print the
differences: ``PYTHONPATH=<other checkout>/src python benchmarks/bench_prism.py 3000 --fast --save ref.parquet``,
then ``python benchmarks/bench_prism.py 3000 --fast --compare-to ref.parquet``).
"""

from __future__ import annotations

import resource
import sys
import time

import numpy as np
import pandas as pd

from overflight.analysis.prism.verdicts import VERDICTS, Pairs, _zone_items, verdicts_for_pairs, zone_caps
from overflight.boundaries import load
from overflight.geodesy import GEOD

CHUNK = 10_000  # pairs per call (bounds memory: the result has CHUNK x zones rows)


def random_pairs(n: int, seed: int = 1) -> tuple[Pairs, float]:
    rng = np.random.default_rng(seed)
    lon1 = rng.uniform(10.0, 120.0, n)
    lat1 = rng.uniform(35.0, 62.0, n)
    d = rng.uniform(100e3, 800e3, n)
    lon2, lat2, _ = GEOD.fwd(lon1, lat1, rng.uniform(0, 360, n), d)
    vmax = 185 / 3.6
    dt = d * rng.uniform(1.0, 1.6, n) / vmax
    z = np.zeros(n)
    ids = np.arange(n)
    return Pairs(np.array([f"t{i}" for i in ids], dtype=object), ids, ids, lon1, lat1, np.asarray(lon2),
                 np.asarray(lat2), z, z, dt, z), vmax


# Boxes (lon0, lat0, lon1, lat1) among skerries and islands, for --short.
ARCHIPELAGOS = ((13.5, 67.8, 16.0, 68.8), (4.8, 59.0, 5.8, 61.0), (17.8, 59.0, 19.5, 60.0), (19.3, 59.8, 21.5, 60.5),
                (14.3, 43.6, 16.6, 44.9), (23.5, 36.8, 26.5, 38.2))


def short_pairs(n: int, seed: int = 1) -> tuple[Pairs, float]:
    rng = np.random.default_rng(seed)
    b = np.array(ARCHIPELAGOS)[rng.integers(0, len(ARCHIPELAGOS), n)]
    lon1 = rng.uniform(b[:, 0], b[:, 2])
    lat1 = rng.uniform(b[:, 1], b[:, 3])
    d = rng.uniform(2e3, 15e3, n)
    lon2, lat2, _ = GEOD.fwd(lon1, lat1, rng.uniform(0, 360, n), d)
    vmax = 50.0
    dt = d * rng.uniform(1.0, 1.5, n) / vmax
    z = np.zeros(n)
    ids = np.arange(n)
    return Pairs(np.array([f"t{i}" for i in ids], dtype=object), ids, ids, lon1, lat1, np.asarray(lon2),
                 np.asarray(lat2), z, z, dt, z), vmax


def _arg(name: str) -> str | None:
    if name not in sys.argv:
        return None
    k = sys.argv.index(name)
    if k + 1 >= len(sys.argv):
        raise SystemExit(f"{name} needs a path")
    return sys.argv[k + 1]


def compare(table: pd.DataFrame, path: str) -> int:
    """Print how the verdict table differs from the one saved at `path`, column by column; the differing rows."""
    ref = pd.read_parquet(path)
    if len(ref) != len(table):
        print(f"compare: {len(table)} rows here, {len(ref)} in {path}")
        return max(len(ref), len(table))
    bad = np.zeros(len(table), dtype=bool)
    report = []
    for col in ref.columns:
        a, b = table[col].to_numpy(), ref[col].to_numpy()
        if a.dtype.kind == "f" or b.dtype.kind == "f":
            a, b = a.astype(float), b.astype(float)
            diff = ~((a == b) | (np.isnan(a) & np.isnan(b)))
            if diff.any():
                fin = diff & np.isfinite(a) & np.isfinite(b)
                rel = np.abs(a[fin] - b[fin]) / np.maximum(np.abs(b[fin]), 1e-300)
                big = rel.max() if rel.size else 0.0
                report.append(f"{col}: {int(diff.sum())} rows differ (largest relative {big:.3g})")
        else:
            diff = np.asarray(a.astype(str) != b.astype(str))
            if diff.any():
                report.append(f"{col}: {int(diff.sum())} rows differ")
        bad |= diff
    vd = int((table["verdict"].astype(str).to_numpy() != ref["verdict"].astype(str).to_numpy()).sum())
    print(f"compare with {path}: {vd} verdict differences, {int(bad.sum())} rows differ in any column"
          + ("; " + "; ".join(report) if report else ""))
    if bad.any():
        print(table[bad].head(10).to_string())
        print(ref[bad].head(10).to_string())
    return int(bad.sum())


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 100_000
    precise = "--fast" not in sys.argv
    bulk = "--no-bulk" not in sys.argv
    stats: dict[str, int] = {}
    timings: dict[str, float] = {}
    zs = load("ne-admin0")
    t0 = time.perf_counter()
    caps = zone_caps(_zone_items(zs), source=zs)  # the membership index then comes from the cache, as in the CLI
    t_caps = time.perf_counter() - t0
    pairs, vmax = short_pairs(n) if "--short" in sys.argv else random_pairs(n)
    save, compare_to = _arg("--save"), _arg("--compare-to")
    tables: list[pd.DataFrame] = []
    counts: pd.Series = pd.Series(dtype=int)
    t1, c1 = time.perf_counter(), time.process_time()
    step = CHUNK
    for s in range(0, n, step):
        sl = slice(s, min(n, s + step))
        sub = Pairs(*(None if getattr(pairs, f) is None else getattr(pairs, f)[sl] for f in pairs.__dataclass_fields__))
        out = verdicts_for_pairs(sub, caps, vmax, precise=precise, keep_impossible=True, bulk=bulk, chunk=CHUNK,
                                 stats=stats, timings=timings).table
        # Counted on the categorical's int8 codes, one category at a time: value_counts widens them to a
        # (rows)-long intp array first, which on a fresh page costs more than the counting.
        v = out["verdict"]
        codes = v.cat.codes.to_numpy()
        counts = counts.add(pd.Series([np.count_nonzero(codes == k) for k in range(len(v.cat.categories))],
                                      index=v.cat.categories), fill_value=0)
        if save or compare_to:
            tables.append(out)
    el, cpu = time.perf_counter() - t1, time.process_time() - c1
    print(f"zones: {len(zs)} (caps built in {t_caps:.1f} s); pairs: {n}; precise={precise}; bulk={bulk}")
    print("settled by stage: " + ", ".join(f"{k}={v}" for k, v in stats.items()))
    counts = counts.reindex([c for c in VERDICTS if c in counts.index])  # (the categories' order, as before)
    print(f"verdict rows: {int(counts.sum())}  " + ", ".join(f"{k}={int(v)}" for k, v in counts.items()))
    print(f"time: {el:.1f} s  ->  {n / el:,.0f} pairs/s ({n * len(zs) / el:,.0f} pair-zone verdicts/s)")
    print(f"cpu time: {cpu:.1f} s  ->  {n / cpu:,.0f} pairs/s; by stage: "
          + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
    if save or compare_to:
        table = pd.concat(tables, ignore_index=True)
        table["zone_id"] = table["zone_id"].astype(str)
        table["verdict"] = table["verdict"].astype(str)
        if save:
            table.to_parquet(save)
        if compare_to and compare(table, compare_to):
            raise SystemExit(1)


if __name__ == "__main__":
    main()
