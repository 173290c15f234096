"""The potential path area (PPA) of a space-time prism: a geodesic ellipse on the WGS84 ellipsoid."""

from __future__ import annotations

import warnings
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from overflight.analysis.prism._geo import FloatArray
from overflight.errors import InconsistentFixesWarning as InconsistentFixesWarning
from overflight.errors import InputError
from overflight.geodesy import GEOD, ring_to_geometry
from overflight.units import SpeedLike, parse_speed

# Beyond this semi-major axis geodesics from a focus pass their conjugate points and the azimuth
# parametrisation of the boundary breaks down; no drone gap is that long.
MAX_SEMI_MAJOR_M = 19_000_000.0


def seconds_between(t1: Any, t2: Any, *, field1: str = "t1", field2: str = "t2") -> float:
    """Seconds from `t1` to `t2` (tz-aware datetimes or pandas Timestamps), raising InputError otherwise."""
    ts = []
    for t, name in ((t1, field1), (t2, field2)):
        try:
            x = pd.Timestamp(t)
        except (TypeError, ValueError) as exc:
            raise InputError(f"cannot read time {t!r}: {exc}", field=name) from None
        if pd.isna(x) or x.tzinfo is None:
            raise InputError(f"time {t!r} must be timezone-aware (e.g. ...Z or +00:00)", field=name)
        ts.append(x)
    return float((ts[1] - ts[0]).total_seconds())


def _solve_boundary(
    lon1: float, lat1: float, lon2: float, lat2: float, budget: float, direct: float, az: FloatArray,
    tol_m: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """For each azimuth from focus 1, the distance s with s + d(x(s), p2) = budget, and the point x(s).

    g(s) = s + d(x(s), p2) - budget is non-decreasing (its derivative 1 - cos(angle) >= 0) and changes sign
    on [(budget - direct)/2, (budget + direct)/2] by the triangle inequality: a bracketed Newton iteration,
    vectorised over all azimuths, falls back to bisection where a Newton step leaves the bracket.
    """
    n = az.size
    lo = np.full(n, (budget - direct) / 2.0)
    hi = np.full(n, (budget + direct) / 2.0)
    s = (lo + hi) / 2.0
    p2lon, p2lat = np.full(n, lon2), np.full(n, lat2)
    x_lon = np.empty(n)
    x_lat = np.empty(n)
    active = np.arange(n)
    for _ in range(100):
        if active.size == 0:
            break
        sa = s[active]
        xl, yl, back = GEOD.fwd(np.full(active.size, lon1), np.full(active.size, lat1), az[active], sa)
        xl, yl, back = np.asarray(xl), np.asarray(yl), np.asarray(back)
        az_x2, _, d2 = GEOD.inv(xl, yl, p2lon[active], p2lat[active])
        g = sa + np.asarray(d2) - budget
        x_lon[active], x_lat[active] = xl, yl
        done = (np.abs(g) <= tol_m) | (hi[active] - lo[active] <= tol_m * 1e-3)
        neg = g < 0
        lo[active] = np.where(neg, sa, lo[active])
        hi[active] = np.where(neg, hi[active], sa)
        # d/ds of the distance to p2 is -cos(angle between the geodesic's heading and the bearing to p2).
        heading = back + 180.0
        deriv = 1.0 - np.cos(np.radians(heading - np.asarray(az_x2)))
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = sa - g / deriv
        la, ha = lo[active], hi[active]
        ok = np.isfinite(newton) & (newton > la) & (newton < ha)
        s[active] = np.where(ok, newton, (la + ha) / 2.0)
        active = active[~done]
    return s, x_lon, x_lat


def ppa(
    p1: tuple[float, float], t1: datetime | pd.Timestamp, p2: tuple[float, float], t2: datetime | pd.Timestamp,
    vmax: SpeedLike, *, max_error_m: float = 1.0, max_vertices: int = 8192,
) -> BaseGeometry:
    """The potential path area between two fixes: ``{x : d(p1, x) + d(x, p2) <= vmax * (t2 - t1)}``.

    A geodesic ellipse with foci `p1`, `p2` on the WGS84 ellipsoid. Each boundary vertex lies on the
    geodesic from `p1` at some azimuth, at the distance where the true geodesic distance sum equals the
    budget to within `max_error_m` (GeographicLib through pyproj). Vertices are added (up to
    `max_vertices`) until a straight lon/lat edge strays less than `max_error_m` from the boundary at its
    middle azimuth.

    Parameters
    ----------
    p1, p2 : (lon, lat)
        The two fixes in degrees.
    t1, t2 : datetime or pandas.Timestamp
        Their times, timezone-aware; ``t2 >= t1``.
    vmax : str or float
        Top speed: text with a unit (``"185kmh"``) or a number of metres per second.
    max_error_m : float
        Tolerance of the boundary in metres.
    max_vertices : int
        Cap on the number of boundary vertices.

    Returns
    -------
    shapely geometry
        A Polygon, or a MultiPolygon when the ellipse crosses ±180° (split there by
        ``overflight.geodesy.ring_to_geometry``, closed through a pole it contains). When the fixes are
        inconsistent (``d(p1, p2) > budget``) an empty Polygon, with an `InconsistentFixesWarning`.
        A zero budget with coincident fixes gives the Point.

    Raises
    ------
    InputError
        Naive or reversed times, a non-positive speed, bad coordinates, or an ellipse too large to trace
        (semi-major axis over 19,000 km).
    """
    dt = seconds_between(t1, t2)
    if dt < 0:
        raise InputError(f"t2 is {-dt:g} s before t1", field="t2")
    vmax = parse_speed(vmax, default_unit="mps", field="vmax")
    if max_error_m <= 0:
        raise InputError("max_error_m must be positive", field="max_error_m")
    (lon1, lat1), (lon2, lat2) = (float(p1[0]), float(p1[1])), (float(p2[0]), float(p2[1]))
    for v, name in ((lat1, "p1"), (lat2, "p2")):
        if not np.isfinite(v) or abs(v) > 90:
            raise InputError(f"latitude {v!r} outside [-90, 90]", field=name)
    for v, name in ((lon1, "p1"), (lon2, "p2")):
        if not np.isfinite(v):
            raise InputError(f"longitude {v!r} is not finite", field=name)
    budget = vmax * dt
    direct = float(GEOD.inv(lon1, lat1, lon2, lat2)[2])
    if direct > budget:
        warnings.warn(
            f"inconsistent fixes: {direct:.0f} m apart but only {budget:.0f} m reachable at vmax",
            InconsistentFixesWarning, stacklevel=2,
        )
        return Polygon()
    if (budget + direct) / 2.0 > MAX_SEMI_MAJOR_M:
        raise InputError(f"budget {budget / 1000:.0f} km is too large to trace an ellipse", field="vmax")
    if budget <= max_error_m:
        return Point(lon1, lat1)
    tol = max_error_m / 4.0
    az = np.linspace(0.0, 360.0, 361)[:-1]
    s, xl, yl = _solve_boundary(lon1, lat1, lon2, lat2, budget, direct, az, tol)
    while az.size < max_vertices:
        # Middle azimuth of each interval: how far is the true boundary from the straight lon/lat edge?
        az_next = np.append(az[1:], 360.0)
        mid_az = (az + az_next) / 2.0
        _, mx, my = _solve_boundary(lon1, lat1, lon2, lat2, budget, direct, mid_az, tol)
        xn, yn = np.roll(xl, -1), np.roll(yl, -1)
        dx = (xn - xl + 180.0) % 360.0 - 180.0  # unwrap across ±180
        chord_x, chord_y = xl + dx / 2.0, (yl + yn) / 2.0
        dev = np.asarray(GEOD.inv(mx, my, chord_x, np.clip(chord_y, -90, 90))[2])
        bad = dev > max_error_m
        if not bad.any():
            break
        room = max_vertices - az.size
        idx = np.flatnonzero(bad)
        if idx.size > room:
            idx = idx[np.argsort(-dev[idx])[:room]]
        order = np.argsort(np.concatenate([az, mid_az[idx]]), kind="stable")
        az = np.concatenate([az, mid_az[idx]])[order]
        xl = np.concatenate([xl, mx[idx]])[order]
        yl = np.concatenate([yl, my[idx]])[order]
        s = np.concatenate([s, np.zeros(idx.size)])[order]
    geom = ring_to_geometry(xl, yl, interior="right")
    return shapely.make_valid(geom) if not shapely.is_valid(geom) else geom


def ppa_ring(
    lon1: float, lat1: float, lon2: float, lat2: float, budget: float, *, n: int = 720, max_error_m: float = 1.0,
) -> tuple[FloatArray, FloatArray]:
    """`n` boundary vertices of the geodesic ellipse with the given budget (metres), clockwise from north."""
    direct = float(GEOD.inv(lon1, lat1, lon2, lat2)[2])
    az = np.linspace(0.0, 360.0, n + 1)[:-1]
    _, xl, yl = _solve_boundary(lon1, lat1, lon2, lat2, budget, direct, az, max_error_m / 4.0)
    return xl, yl


__all__ = ["MAX_SEMI_MAJOR_M", "ppa", "ppa_ring", "seconds_between"]
