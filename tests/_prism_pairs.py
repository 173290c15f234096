"""Random sighting pairs around a zone, many of whose direct arcs cross it (shared by the prism tests)."""

from __future__ import annotations

import numpy as np
import shapely

from overflight.geodesy import GEOD


def pairs_near(
    g: shapely.Geometry, n: int, seed: int, *, pad: tuple[float, float] = (2.0, 1.5), max_d: float = 900e3,
    err_share: float = 0.25, max_err: float = 15e3,
) -> tuple[np.ndarray, ...]:
    """(lon1, lat1, lon2, lat2, r1, r2, b_hi, direct): first fixes within the zone's bounds widened by `pad`
    degrees (lon, lat), second fixes 50 km to `max_d` away, position errors up to `max_err` on a share
    `err_share` of the fixes, budgets 1.0 to 1.6 times the direct distance."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = g.bounds
    lon1 = rng.uniform(x0 - pad[0], x1 + pad[0], n)
    lat1 = rng.uniform(y0 - pad[1], y1 + pad[1], n)
    d = rng.uniform(50e3, max_d, n)
    lon2, lat2, _ = GEOD.fwd(lon1, lat1, rng.uniform(0, 360, n), d)
    lon2, lat2 = np.asarray(lon2), np.asarray(lat2)
    direct = np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])
    r1 = np.where(rng.random(n) < err_share, rng.uniform(0, max_err, n), 0.0)
    r2 = np.where(rng.random(n) < err_share, rng.uniform(0, max_err, n), 0.0)
    b_hi = direct * rng.uniform(1.0, 1.6, n)
    return lon1, lat1, lon2, lat2, r1, r2, b_hi, direct
