"""Geodesic lengths of a track's short segments, compiled: what the transit kernel sums into path lengths.

Most segments of a track are short (fixes seconds apart, a few km at most). Their geodesic length is found
here without solving the inverse problem, from two exact relations:

* the chord: the straight-line distance between the two points in Earth-centred coordinates, written with
  the reduced latitudes ``beta`` (``tan beta = (1 - f) tan phi``) and half the longitude difference ``h`` so
  that no difference of large numbers is formed::

      dX = -a (sin b1 + sin b2) tan d cos h     (in the meridian plane halfway between the points)
      dY =  a (cos b1 + cos b2) sin h
      dZ =  b (cos b1 + cos b2) tan d           with d = (b2 - b1) / 2, found from sin(phi2 - phi1)

  (each term to a few units in the last place, relative);
* the arc over its chord: a curve of curvature ``k`` at its midpoint is ``s = (2 / k) asin(k c / 2)`` long
  over a chord ``c``, up to terms in the change of curvature along it. A geodesic's curvature is the normal
  curvature of the ellipsoid in its direction (Euler: ``cos² az / M + sin² az / N``, at the midpoint, the
  azimuth taken from the chord). ``s - c`` is about 27 µm for a 3 km segment, so the curvature is needed only
  to a part in 10^8, and the neglected terms (in ``k k''`` and ``k'^2``, of order ``e^2 k^4 s^5``, and the
  torsion of the geodesic, of order ``e^4 k^4 s^7``) stay below 1e-13 m for every segment taken here.

Taken here: segments whose chord is at most :data:`SHORT_M` (and shorter than the densification step, so that
they are one straight piece and their azimuth is never used) and whose longitudes differ by at most 2 degrees
(no wrap across ±180°, no pass near a pole). The others get NaN, and the caller solves them with pyproj.

Against GeographicLib (pyproj) the lengths agree to 1e-15 relative (a few units in the last place; see
tests/test_transit_geodesy.py), far below GeographicLib's own 15 nm accuracy.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from overflight._jit import kernel
from overflight.geodesy import WGS84_A, WGS84_F

__all__ = ["SHORT_M", "short_lengths"]

#: Longest chord (m) whose geodesic length is found here (longer segments go to pyproj).
SHORT_M = 10_000.0

_A = WGS84_A
_F = WGS84_F
_B = WGS84_A * (1.0 - WGS84_F)
_D2R = math.pi / 180.0
_MAX_DLON = 2.0  # degrees of longitude (and of latitude) between the ends


@kernel
def _sin_small(x: float) -> float:
    """The sine of x for |x| <= 0.04 (Taylor to x^11: the next term is below 1e-19 of the value)."""
    x2 = x * x
    return x * (1.0 - x2 / 6.0 * (1.0 - x2 / 20.0 * (1.0 - x2 / 42.0 * (1.0 - x2 / 72.0 * (1.0 - x2 / 110.0)))))


@kernel
def _cos_small(x: float) -> float:
    """The cosine of x for |x| <= 0.04 (Taylor to x^10)."""
    x2 = x * x
    return 1.0 - x2 / 2.0 * (1.0 - x2 / 12.0 * (1.0 - x2 / 30.0 * (1.0 - x2 / 56.0 * (1.0 - x2 / 90.0))))


@kernel
def _lengths(lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64], a_idx: npt.NDArray[np.int64],
             b_idx: npt.NDArray[np.int64], limit: float, out: npt.NDArray[np.float64]) -> int:
    """Lengths of segments a_idx[k] -> b_idx[k] into out (NaN where not taken); returns how many were taken."""
    a, b, f1 = _A, _B, 1.0 - _F
    a2, b2 = _A * _A, _B * _B
    taken = 0
    prev_j = -1
    sb2 = cb2 = 0.0
    r2 = 1.0
    for k in range(a_idx.shape[0]):
        i = a_idx[k]
        j = b_idx[k]
        dlon = lon[j] - lon[i]  # exact (Sterbenz) for nearby longitudes of one sign
        dlat = lat[j] - lat[i]
        if not (abs(dlon) <= _MAX_DLON and abs(dlat) <= _MAX_DLON and abs(lat[i]) <= 90.0
                and abs(lat[j]) <= 90.0):
            out[k] = np.nan
            prev_j = -1
            continue
        # Reduced latitude of each end: (cos b, sin b) along (cos phi, (1 - f) sin phi).
        if i == prev_j:  # the previous segment's end (consecutive fixes of a track)
            sb1, cb1, r1 = sb2, cb2, r2
        else:
            p1 = lat[i] * _D2R
            s1, c1 = math.sin(p1), math.cos(p1)
            r1 = math.sqrt(c1 * c1 + f1 * f1 * s1 * s1)
            sb1, cb1 = f1 * s1 / r1, c1 / r1
        p2 = lat[j] * _D2R
        s2, c2 = math.sin(p2), math.cos(p2)
        r2 = math.sqrt(c2 * c2 + f1 * f1 * s2 * s2)
        sb2, cb2 = f1 * s2 / r2, c2 / r2
        prev_j = j
        # tan((b2 - b1) / 2) from sin(b2 - b1) = (1 - f) sin(phi2 - phi1) / (r1 r2): no cancellation.
        sdb = f1 * _sin_small(dlat * _D2R) / (r1 * r2)
        cdb = cb1 * cb2 + sb1 * sb2
        t = sdb / (1.0 + cdb)
        h = 0.5 * dlon * _D2R
        sh, ch = _sin_small(h), _cos_small(h)
        cs = cb1 + cb2
        ss = sb1 + sb2
        dx = -a * ss * t * ch
        dy = a * cs * sh
        dz = b * cs * t
        c = math.sqrt(dx * dx + dy * dy + dz * dz)
        if not c <= limit:
            out[k] = np.nan
            continue
        # Normal curvature at the midpoint in the chord's direction (Euler's formula).
        qa, qb = a2 * ss * ss, b2 * cs * cs
        sq = math.sqrt(qa + qb)
        north = t * (qa * ch + qb) / sq
        e2 = dy * dy
        n2 = north * north
        w = sq / math.sqrt(2.0 * (1.0 + cdb))  # W at the midpoint: sqrt(q) / (2 cos d)
        cos2 = n2 / (n2 + e2) if n2 + e2 > 0.0 else 0.0
        kappa = (b / (a * w)) * ((a2 / (w * w)) * cos2 + (1.0 - cos2))
        u2 = 0.25 * (c * kappa) ** 2
        # (2 / k) asin(k c / 2) = c (1 + u²/6 + 3u⁴/40 + 5u⁶/112 + ...), u = k c / 2 < 1e-3
        out[k] = c * (1.0 + u2 * (1.0 / 6.0 + u2 * (3.0 / 40.0 + u2 * (5.0 / 112.0))))
        taken += 1
    return taken


def short_lengths(lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64], a_idx: npt.NDArray[np.int64],
                  b_idx: npt.NDArray[np.int64], limit_m: float = SHORT_M) -> npt.NDArray[np.float64]:
    """Geodesic length (m) of each segment ``a_idx[k] -> b_idx[k]`` of the fixes, NaN where pyproj is needed.

    A segment is taken when its chord is at most ``min(limit_m, SHORT_M)`` and its longitudes differ by at
    most 2 degrees (see the module docstring for the method and its error).
    """
    out = np.empty(len(a_idx), dtype=np.float64)
    if len(a_idx):
        _lengths(np.ascontiguousarray(lon, dtype=np.float64), np.ascontiguousarray(lat, dtype=np.float64),
                 np.ascontiguousarray(a_idx, dtype=np.int64), np.ascontiguousarray(b_idx, dtype=np.int64),
                 float(min(limit_m, SHORT_M)), out)
    return out


@kernel
def _group_cumsum(v: npt.NDArray[np.float64], first: npt.NDArray[np.bool_], out: npt.NDArray[np.float64]) -> None:
    # pandas' groupby cumsum, operation for operation: compensated (Kahan) sums, restarted at each group's first row
    acc = 0.0
    comp = 0.0
    for i in range(v.shape[0]):
        if first[i]:
            acc = 0.0
            comp = 0.0
        y = v[i] - comp
        t = acc + y
        comp = (t - acc) - y
        acc = t
        out[i] = t


def group_cumsum(v: npt.NDArray[np.float64], first: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """``pd.Series(v).groupby(group).cumsum()`` for rows already grouped (a group starts where ``first``), bit for bit.

    pandas sums each group with Kahan's compensation; this does the same operations in the same order, compiled
    (the pandas call factorizes the group labels again first). ``v`` must hold no NaN.
    """
    out = np.empty(len(v), dtype=np.float64)
    if len(v):
        _group_cumsum(np.ascontiguousarray(v, dtype=np.float64), np.ascontiguousarray(first, dtype=np.bool_), out)
    return out
