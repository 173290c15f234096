"""Benchmark ZoneIndex.locate against geopandas sjoin and shapely contains_xy on Natural Earth admin-0.

    python benchmarks/bench_locate.py                 # 2,000,000 random points, all three in one process
    python benchmarks/bench_locate.py --n 500000      # smaller run
    python benchmarks/bench_locate.py --memory        # 50,000,000 points located in chunks: peak RSS
    python benchmarks/bench_locate.py --exact 1000000 # exactness vs shapely on 1 M points over Eurasia

Points are uniform over the whole globe (seeded).  Figures are noisy on a shared machine: read the ratios.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc

import numpy as np


def rss_mb() -> float:
    """Current resident set size in MB (Linux /proc)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def build(zs):  # type: ignore[no-untyped-def]
    from overflight.index import ZoneIndex

    ZoneIndex([zs.geometries()[0]])  # compile / load the numba kernels outside the timing
    r0 = rss_mb()
    tracemalloc.start()
    t = time.perf_counter()
    idx = ZoneIndex(zs)
    dt = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"build: {dt:.2f} s, peak traced memory {peak / 1e6:.0f} MB, RSS +{rss_mb() - r0:.0f} MB, "
          f"index arrays {idx.nbytes / 1e6:.0f} MB ({idx})")
    return idx


def bench(n: int, seed: int, skip_sjoin: bool) -> None:
    import geopandas as gpd
    import shapely

    from overflight.boundaries import load

    zs = load("ne-admin0")
    idx = build(zs)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-180, 180, n)
    y = rng.uniform(-90, 90, n)
    idx.locate(x[:10], y[:10])
    times = {}
    t = time.perf_counter()
    ours = idx.locate(x, y)
    times["ZoneIndex.locate"] = time.perf_counter() - t
    t = time.perf_counter()
    idx.locate(x, y, threads=2)
    times["ZoneIndex.locate (2 threads)"] = time.perf_counter() - t

    geoms = zs.geometries()
    t = time.perf_counter()
    ref = np.full(n, -1, dtype=np.int32)
    b = shapely.bounds(geoms)
    for z in range(len(geoms) - 1, -1, -1):  # reversed: the lowest index wins, like locate
        g = geoms[z]
        shapely.prepare(g)
        m = (x >= b[z, 0]) & (x <= b[z, 2]) & (y >= b[z, 1]) & (y <= b[z, 3])
        inside = shapely.contains_xy(g, x[m], y[m])
        ref[np.flatnonzero(m)[inside]] = z
    times["shapely contains_xy per zone (prepared, bbox-filtered)"] = time.perf_counter() - t
    agree = float((ref == ours).mean())

    if not skip_sjoin:
        zdf = gpd.GeoDataFrame({"zone": np.arange(len(geoms))}, geometry=geoms, crs="EPSG:4326")
        t = time.perf_counter()
        pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs="EPSG:4326")
        j = gpd.sjoin(pts, zdf, predicate="within", how="left")
        times['geopandas sjoin(predicate="within")'] = time.perf_counter() - t
        del j, pts

    base = times["ZoneIndex.locate"]
    print(f"\n{n:,} random points over the globe, ne-admin0 ({len(zs)} zones); agreement with shapely: {agree:.6f}")
    print(f"{'method':58s} {'seconds':>9s} {'M points/s':>11s} {'ZoneIndex speed-up':>19s}")
    for name, dt in times.items():
        print(f"{name:58s} {dt:9.3f} {n / dt / 1e6:11.2f} {dt / base:18.1f}x")


def memory(total: int, chunk: int, seed: int) -> None:
    from overflight.boundaries import load

    zs = load("ne-admin0")
    idx = build(zs)
    rng = np.random.default_rng(seed)
    counts = np.zeros(len(zs) + 1, dtype=np.int64)
    t = time.perf_counter()
    done = 0
    while done < total:
        m = min(chunk, total - done)
        out = idx.locate(rng.uniform(-180, 180, m), rng.uniform(-90, 90, m))
        counts += np.bincount(out + 1, minlength=len(zs) + 1)
        done += m
    dt = time.perf_counter() - t
    print(f"{total:,} points in chunks of {chunk:,}: {dt:.1f} s ({total / dt / 1e6:.1f} M points/s incl. "
          f"generation), {counts[1:].sum():,} in a zone; peak RSS {peak_rss_mb():.0f} MB")


def exact(n: int, seed: int) -> None:
    import shapely

    from overflight.boundaries import load

    zs = load("ne-admin0")
    idx = build(zs)
    rng = np.random.default_rng(seed)
    x = rng.uniform(20, 180, n)
    y = rng.uniform(0, 80, n)
    pi, zi = idx.locate_all(x, y)
    geoms = zs.geometries()
    tree = shapely.STRtree(geoms)
    qp, qz = tree.query(shapely.points(x, y))
    ref = set()
    for z in np.unique(qz):
        cand = qp[qz == z]
        shapely.prepare(geoms[z])
        ref.update((int(p), int(z)) for p in cand[shapely.contains_xy(geoms[z], x[cand], y[cand])])
    ours = set(zip(pi.tolist(), zi.tolist(), strict=True))
    diff = ours ^ ref
    far = [(p, z) for p, z in diff if shapely.distance(shapely.boundary(geoms[z]), shapely.Point(x[p], y[p])) >= 1e-9]
    print(f"exactness on {n:,} points over Eurasia: {len(ref):,} memberships by shapely, {len(ours):,} by "
          f"ZoneIndex, {len(diff)} differ ({len(far)} of them farther than 1e-9 deg from a border)")
    if far:
        sys.exit(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2_000_000)
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--no-sjoin", action="store_true", help="skip geopandas (slowest)")
    ap.add_argument("--memory", action="store_true", help="locate 50 M points in chunks and report peak RSS")
    ap.add_argument("--total", type=int, default=50_000_000)
    ap.add_argument("--chunk", type=int, default=2_000_000)
    ap.add_argument("--exact", type=int, metavar="N", help="check exactness on N random points over Eurasia")
    a = ap.parse_args()
    if a.memory:
        memory(a.total, a.chunk, a.seed)
    elif a.exact:
        exact(a.exact, a.seed)
    else:
        bench(a.n, a.seed, a.no_sjoin)


if __name__ == "__main__":
    main()
