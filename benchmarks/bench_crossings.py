"""Benchmark ZoneIndex.crossings (segments against borders) on real ADS-B tracks against shapely.

    pip download --no-deps traffic==2.13 -d /tmp/traffic-wheel      # the real tracks (see _points.py)
    python benchmarks/bench_crossings.py --traffic-wheel /tmp/traffic-wheel/traffic-2.13-py3-none-any.whl

Segments join consecutive fixes of one flight (quickstart and switzerland collections, 238 + ~1,400 flights),
zones are Natural Earth admin-0.  Straight lon/lat segments on both sides, so the answers are comparable:

* shapely: an STRtree over every border edge, ``query(lines, predicate="intersects")``, then
  ``intersection`` for the crossing points (the reference implementation transit used to carry);
* ZoneIndex.crossings: segment, fraction, crossing point, zone and direction for every crossing.

Also timed: ZoneIndex.crossings along the WGS84 geodesic in 5 km pieces (what transit does).
Printed: segments/s and the speed-up (wall and CPU time), and the agreement of the (segment, zone) pairs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import _points


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--traffic-wheel", required=True, help="path of the traffic 2.13 wheel")
    a = ap.parse_args()
    import shapely

    from overflight.boundaries import load
    from overflight.index import ZoneIndex

    fl = _points.flights(a.traffic_wheel)
    assert fl is not None
    same = fl["flight"].to_numpy()[1:] == fl["flight"].to_numpy()[:-1]
    lon, lat = fl["lon"].to_numpy(), fl["lat"].to_numpy()
    x1, y1, x2, y2 = lon[:-1][same], lat[:-1][same], lon[1:][same], lat[1:][same]
    moved = (x1 != x2) | (y1 != y2)
    x1, y1, x2, y2 = x1[moved], y1[moved], x2[moved], y2[moved]
    n = x1.size
    zs = load("ne-admin0")
    idx = ZoneIndex.cached(zs)
    idx.crossings(x1[:10], y1[:10], x2[:10], y2[:10])
    idx.crossings(x1[:10], y1[:10], x2[:10], y2[:10], densify_m=5000.0)

    def best(fn, repeat):  # type: ignore[no-untyped-def]
        w = c = float("inf")
        out = None
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            out = fn()
            w, c = min(w, time.perf_counter() - t0), min(c, time.process_time() - c0)
        return w, c, out

    ours_w, ours_c, ours = best(lambda: idx.crossings(x1, y1, x2, y2), 5)
    geo_w, geo_c, geo = best(lambda: idx.crossings(x1, y1, x2, y2, densify_m=5000.0), 3)

    def peer():  # type: ignore[no-untyped-def]
        # every border edge as its own line in one STRtree (whole boundaries as tree items are far slower:
        # each candidate pair then scans a country's full boundary)
        rings, rz = shapely.get_rings(shapely.get_parts(zs.geometries(), return_index=True)[0], return_index=True)
        part_zone = shapely.get_parts(zs.geometries(), return_index=True)[1]
        coords, ci = shapely.get_coordinates(rings, return_index=True)
        keep = ci[1:] == ci[:-1]
        edges = shapely.linestrings(np.stack([coords[:-1][keep], coords[1:][keep]], axis=1))
        edge_zone = part_zone[rz[ci[:-1][keep]]]
        tree = shapely.STRtree(edges)
        lines = shapely.linestrings(np.stack([np.column_stack([x1, y1]), np.column_stack([x2, y2])], axis=1))
        qi, ei = tree.query(lines, predicate="intersects")
        pts = shapely.intersection(lines[qi], edges[ei])
        return qi, edge_zone[ei], np.ones(qi.size, dtype=np.int64) * (~shapely.is_empty(pts))

    sh_w, sh_c, (qi, zi, npts) = best(peer, 1)
    ours_pairs = set(zip(ours.segment.tolist(), ours.zone.tolist(), strict=True))
    peer_pairs = set(zip(qi.tolist(), zi.tolist(), strict=True))
    print(f"{n:,} segments of {fl['flight'].nunique():,} real flights against ne-admin0 ({len(zs)} zones)")
    print(f"crossings: ZoneIndex {len(ours.segment):,}, shapely {int(npts.sum()):,} intersection points; "
          f"(segment, zone) pairs: ZoneIndex {len(ours_pairs):,}, shapely {len(peer_pairs):,}, "
          f"in both {len(ours_pairs & peer_pairs):,}")
    print(f"{'method':52s} {'wall s':>8s} {'seg/s':>12s} {'CPU s':>8s} {'seg/s':>12s} {'x wall':>7s} {'x CPU':>7s}")
    for label, w, c in [("ZoneIndex.crossings (straight lon/lat)", ours_w, ours_c),
                        ("ZoneIndex.crossings (geodesic, 5 km pieces)", geo_w, geo_c),
                        ("shapely STRtree of edges: intersects + intersection", sh_w, sh_c)]:
        print(f"{label:52s} {w:8.3f} {n / w:12,.0f} {c:8.3f} {n / c:12,.0f} {w / ours_w:7.1f} {c / ours_c:7.1f}")
    _ = geo


if __name__ == "__main__":
    main()
