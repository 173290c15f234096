"""Benchmark `overflight.analysis.audit` against the usual geopandas route, on the shipped GeoNames places.

    python benchmarks/bench_audit.py              # all 170,391 places, stated country = GeoNames' country code
    python benchmarks/bench_audit.py --n 50000    # a seeded sample

The peer: geopandas `sjoin(predicate="within")` against ne-admin0 to find the rows outside their stated country,
then, for those, the distance in metres after `to_crs("EPSG:3857")` (what a quick analysis does), and the
geodesic distance to the lon/lat-nearest boundary point (shapely `shortest_line` + pyproj `Geod.inv`).
Printed: both times and their ratio, how many rows each flags, and how far the peers' distances are from
overflight's geodesic distance to the boundary. Read the ratios: the machine is shared.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=0, help="sample size (0: every place)")
    args = ap.parse_args()

    import geopandas as gpd
    import pyarrow.parquet as pq
    import shapely
    from pyproj import Geod

    from overflight import boundaries, gazetteer
    from overflight.analysis.audit import _country_table, audit
    from overflight.index import ZoneIndex

    t = pq.read_table(gazetteer.data_path(), columns=["lon", "lat", "cc"]).to_pandas()
    if args.n:
        t = t.sample(args.n, random_state=1).reset_index(drop=True)
    ev = pd.DataFrame({"lon": t["lon"].astype(str), "lat": t["lat"].astype(str), "country": t["cc"]})
    countries = boundaries.load("ne-admin0")
    ZoneIndex.cached(countries)  # build (or load) the index outside the timing, as a second run would

    t0 = time.perf_counter()
    res = audit(ev, country_col="country", countries=countries)
    t_ours = time.perf_counter() - t0
    ours = res.rows[res.rows["audit"] == "outside_country"]

    # peer: geopandas, with the country codes matched the same way (alpha-2 -> the zone id)
    a3 = {k: v[0] for k, v in _country_table().items()}
    a3.update({z.properties["iso_a2"]: z.id for z in countries if z.properties.get("iso_a2") not in (None, "-99")})
    t0 = time.perf_counter()
    world = gpd.GeoDataFrame({"zid": countries.ids}, geometry=list(countries.geometries()), crs="EPSG:4326")
    pts = gpd.GeoDataFrame({"stated": t["cc"].map(a3)}, geometry=gpd.points_from_xy(t["lon"], t["lat"]),
                           crs="EPSG:4326")
    pts = pts[pts["stated"].isin(set(countries.ids))]
    joined = gpd.sjoin(pts, world, predicate="within", how="left")
    inside = joined.index[joined["zid"] == joined["stated"]].unique()
    outside = pts.drop(index=inside)
    world_m = world.set_index("zid").to_crs("EPSG:3857")
    d_merc = np.array([g.distance(world_m.geometry[s].boundary) for g, s in
                       zip(outside.to_crs("EPSG:3857").geometry, outside["stated"], strict=True)])
    t_peer = time.perf_counter() - t0
    geod = Geod(ellps="WGS84")
    bnd = {z: shapely.boundary(countries[z].geometry) for z in set(outside["stated"])}
    d_near = np.array([geod.inv(p.x, p.y, *shapely.shortest_line(p, bnd[s]).coords[1])[2] for p, s in
                       zip(outside.geometry, outside["stated"], strict=True)])

    ours_d = res.rows.loc[outside.index.intersection(ours.index), "country_distance_km"].astype(float) * 1000
    common = outside.index.intersection(ours.index)
    pos = outside.index.get_indexer(common)
    print(f"{len(ev):,} rows; overflight audit {t_ours:.2f} s, flags {len(ours):,} outside their country "
          f"({res.counts['unchecked']:,} not checked); geopandas sjoin + Mercator distance {t_peer:.2f} s, flags "
          f"{len(outside):,}; ratio {t_peer / t_ours:.1f}x")
    far = ours_d.to_numpy() > 1000
    rel_merc = d_merc[pos][far] / ours_d.to_numpy()[far] - 1
    diff_near = d_near[pos] - ours_d.to_numpy()
    print(f"Mercator distance vs geodesic, rows > 1 km away: median {np.median(rel_merc):+.1%}, "
          f"max {np.max(rel_merc):+.1%}")
    print(f"lon/lat-nearest point's geodesic distance minus overflight's: median {np.median(diff_near):.1f} m, "
          f"max {np.max(diff_near):.1f} m, min {np.min(diff_near):.2f} m (negative would mean ours is not the minimum)")


if __name__ == "__main__":
    main()
