"""Generate the ILLUSTRATIVE observations and tracks of the demo case (seeded, reproducible).

No public coordinates exist for the drones, sightings and wreckage argued about in June 2025, so the demo
uses invented ones. Every row this script writes carries ``illustrative = true``; the report, the map legend
and every table say so. Run it from the repository root:

    python scripts/make_demo_data.py

It writes into ``src/overflight/data/demo/``: ``tracks.csv`` (drone-like tracks at a realistic speed and
sampling, one with a long gap), ``sightings.csv`` (pairs of sightings for prism reasoning), ``wreckage.csv``
(wreckage finds in and around West Kazakhstan) and ``west-kazakhstan-approx.geojson`` (a rough, hand-drawn
outline of the West Kazakhstan region clipped to Natural Earth's Kazakhstan: no openly licensed region
polygons exist in the registries).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from pyproj import Geod

from overflight import boundaries

OUT = Path(__file__).resolve().parents[1] / "src" / "overflight" / "data" / "demo"
SEED = 20250621
GEOD = Geod(ellps="WGS84")
T0 = pd.Timestamp("2025-06-20T21:30:00Z")

# A rough outline of the West Kazakhstan region (lon, lat), drawn by hand from public maps: approximate.
WKO_OUTLINE = [(46.5, 49.0), (47.3, 48.45), (50.0, 48.5), (52.5, 48.6), (54.9, 49.4), (54.9, 50.8),
               (53.5, 51.5), (51.5, 51.8), (50.0, 51.45), (48.6, 50.7), (46.5, 49.0)]


def _route(waypoints: list[tuple[float, float]], speed_mps: float, step_s: float, start: pd.Timestamp,
           rng: np.random.Generator, noise_m: float) -> pd.DataFrame:
    """Fixes every `step_s` seconds along geodesic legs through the waypoints at a jittered constant speed."""
    lons, lats = [waypoints[0][0]], [waypoints[0][1]]
    for (lo1, la1), (lo2, la2) in zip(waypoints[:-1], waypoints[1:], strict=True):
        dist = GEOD.inv(lo1, la1, lo2, la2)[2]
        n = max(int(dist // 500.0), 1)
        pts = GEOD.npts(lo1, la1, lo2, la2, n)
        lons += [p[0] for p in pts] + [lo2]
        lats += [p[1] for p in pts] + [la2]
    lon, lat = np.array(lons), np.array(lats)
    seg = GEOD.inv(lon[:-1], lat[:-1], lon[1:], lat[1:])[2]
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    speed = speed_mps * (1.0 + 0.04 * rng.standard_normal())
    t_end = cum[-1] / speed
    ts = np.arange(0.0, t_end, step_s) + rng.uniform(-2, 2, size=int(np.ceil(t_end / step_s)))
    ts = np.clip(np.sort(ts), 0, t_end)
    s = ts * speed
    out_lon, out_lat = np.interp(s, cum, lon), np.interp(s, cum, lat)
    az = rng.uniform(0, 360, len(s))
    d = np.abs(rng.normal(0, noise_m, len(s)))
    out_lon, out_lat, _ = GEOD.fwd(out_lon, out_lat, az, d)
    return pd.DataFrame({
        "time": start + pd.to_timedelta(ts, unit="s"), "lon": np.round(out_lon, 6), "lat": np.round(out_lat, 6),
        "alt_m": np.round(rng.uniform(120, 450, len(s)), 0),
    })


def tracks(rng: np.random.Generator) -> pd.DataFrame:
    # T1: from north-eastern Ukraine to Engels, crossing only UKR -> RUS.
    t1 = _route([(34.9, 50.9), (40.5, 51.3), (46.12, 51.48)], 170 / 3.6, 60.0, T0, rng, 40.0)
    t1.insert(0, "track_id", "ILL-T1")
    # T2: south of Volgograd, across western Kazakhstan, to Orenburg; the receiver loses it for ~50 minutes
    # around the crossing into Kazakhstan, so that crossing is not observed.
    t2 = _route([(43.6, 48.3), (47.6, 48.9), (50.5, 49.9), (53.5, 51.0), (55.1, 51.77)], 160 / 3.6, 45.0,
                T0 + pd.Timedelta("25min"), rng, 40.0)
    t2.insert(0, "track_id", "ILL-T2")
    start_gap = t2["time"].iloc[0] + pd.Timedelta("55min")
    gap = (t2["time"] > start_gap) & (t2["time"] < start_gap + pd.Timedelta("50min"))
    t2 = t2[~gap]
    out = pd.concat([t1, t2], ignore_index=True)
    out["time"] = out["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    out["illustrative"] = True
    return out


def sightings() -> pd.DataFrame:
    # Pairs of sightings for prism reasoning. Times are chosen so the two speeds of the demo (185 and 120 km/h)
    # give different verdicts: S1 either side of the northern bulge of West Kazakhstan (necessary at 120 km/h,
    # merely possible at 185), S2 far from Kazakhstan (impossible at 185 km/h; at 120 km/h the two sightings
    # cannot both be right). Position error 2 km, time error 1 minute.
    rows = [
        ("ILL-S1", "2025-06-21T00:40:00Z", 47.00, 51.00, "near Krasnyy Kut"),
        ("ILL-S1", "2025-06-21T05:25:00Z", 55.00, 51.20, "near Sol-Iletsk"),
        ("ILL-S2", "2025-06-21T01:10:00Z", 39.20, 51.67, "over Voronezh"),
        ("ILL-S2", "2025-06-21T02:40:00Z", 41.45, 52.72, "over Tambov"),
    ]
    df = pd.DataFrame(rows, columns=["track_id", "time", "lon", "lat", "place"])
    df["pos_err_m"] = 2000.0
    df["time_err_s"] = 60.0
    df["illustrative"] = True
    return df


def wreckage(rng: np.random.Generator, region: shapely.Geometry) -> pd.DataFrame:
    # 34 finds inside the (approximate) West Kazakhstan region, 4 further east in Aktobe region.
    minx, miny, maxx, maxy = region.bounds
    pts: list[tuple[float, float]] = []
    while len(pts) < 34:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if region.contains(shapely.Point(x, y)):
            pts.append((round(x, 5), round(y, 5)))
    for _ in range(4):
        pts.append((round(rng.uniform(58.2, 59.5), 5), round(rng.uniform(49.6, 50.6), 5)))
    days = rng.integers(0, 30, len(pts))
    times = [(pd.Timestamp("2025-05-05T06:00:00Z") + pd.Timedelta(days=int(d))).strftime("%Y-%m-%dT%H:%M:%SZ")
             for d in days]
    return pd.DataFrame({"id": [f"ILL-W{i + 1:02d}" for i in range(len(pts))], "kind": "wreckage",
                         "lon": [p[0] for p in pts], "lat": [p[1] for p in pts], "time": times,
                         "precision_m": 1000.0, "illustrative": True})


def main() -> None:
    rng = np.random.default_rng(SEED)
    OUT.mkdir(parents=True, exist_ok=True)
    kaz = boundaries.load("ne-admin0")["KAZ"].geometry
    region = shapely.intersection(shapely.Polygon(WKO_OUTLINE), kaz)
    region = max(shapely.get_parts(region), key=lambda g: g.area)  # the main body, no slivers
    tracks(rng).to_csv(OUT / "tracks.csv", index=False)
    sightings().to_csv(OUT / "sightings.csv", index=False)
    wreckage(rng, region).to_csv(OUT / "wreckage.csv", index=False)
    feature = {"type": "Feature", "properties": {
        "id": "west-kazakhstan-approx", "name": "West Kazakhstan region (approximate outline)", "kind": "region",
        "approximate": True, "illustrative": True,
        "note": "hand-drawn from public maps and clipped to Natural Earth's Kazakhstan; not an official boundary"},
        "geometry": shapely.geometry.mapping(shapely.set_precision(region, 1e-5))}
    (OUT / "west-kazakhstan-approx.geojson").write_text(json.dumps(
        {"type": "FeatureCollection", "features": [feature]}))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
