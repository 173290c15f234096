"""Fences across the budget's ellipse that show, in bulk, that every avoiding path is longer than a target.

Moved out of ``fast`` (which re-exports every name): ``fence_bound`` (fences perpendicular to the direct arc,
with ``half_chord`` in closed form) and ``turned_fence_bound`` (fences at a slant or bent at their foot,
compiled). ``fast.settle_zone`` calls both.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from overflight._jit import kernel
from overflight.analysis.prism._geo import R_SPHERE, SPH_LO, FloatArray, unit
from overflight.analysis.prism.edges import EdgeTree, ZoneEdges, _arc_clear, _arc_clear_one

FENCES = (0.5, 0.35, 0.65, 0.2, 0.8, 0.1, 0.9, 0.05, 0.95)  # where along the direct arc fences are tried
# Then (for the pairs none of those perpendicular fences served) fences whose halves are turned from the
# perpendicular (0 too) by these angles (degrees), each its own, at these fractions of the direct arc (the last
# ones near the fixes, for a fix next to the zone): a coast or a strait that crosses the ellipse at a slant, or
# along a bend.
TURNS = (0.0, *(float(s * a) for a in range(10, 90, 10) for s in (1, -1)))  # 0, 10, -10, 20, ... 80, -80
FENCE_HALVINGS = 20  # bisection steps for a turned fence's ends (each kept where the focal sum is >= the target)
TURN_FENCES_FIRST = (0.5, *(round(0.5 + s * k * 0.05, 2) for k in range(1, 10) for s in (1, -1)), 0.02, 0.98)
TURN_FENCES_MORE = (*(round(0.5 + s * (0.5 - k * 0.002), 3) for k in (1, 2, 3, 5, 7) for s in (1, -1)),
                    *(round(0.5 + s * k * 0.05 / 2, 3) for k in range(1, 20, 2) for s in (1, -1)))
# (``fast.settle_zone`` tries the first ones before its lattice paths, the others last: a fence found by either
# call is one of these, so the pairs settled are the same as in one call with all of them.)
TURN_FENCES = TURN_FENCES_FIRST + TURN_FENCES_MORE


@kernel
def _focal_at(h: FloatArray, d: FloatArray, sg: float, s: float, u1: FloatArray, u2: FloatArray,
              x: FloatArray) -> float:
    """Spherical focal sum at x = h cos s + sg d sin s (written to `x`)."""
    for c in range(3):
        x[c] = h[c] * math.cos(s) + sg * d[c] * math.sin(s)
    return (math.acos(min(max(x[0] * u1[0] + x[1] * u1[1] + x[2] * u1[2], -1.0), 1.0))
            + math.acos(min(max(x[0] * u2[0] + x[1] * u2[1] + x[2] * u2[2], -1.0), 1.0)))


@kernel
def _focal_reaches(h: FloatArray, d: FloatArray, sg: float, s: float, u1: FloatArray, u2: FloatArray, x: FloatArray,
                   tt: float, ctt: float) -> bool:
    """``_focal_at(h, d, sg, s, u1, u2, x) >= tt``: the same answer, mostly without arccos (`ctt` is cos(tt)).

    For tt in (0, 0.9 pi) (as ``_fence_frame`` keeps it), with c1, c2 the cosines of the angles A, B to the fixes:
    A + B > pi (beyond tt) when c1 + c2 < 0; else A + B <= pi + 1e-9, where cos(A + B) = c1 c2 - sin A sin B
    decreases, and it decides when it is more than 1e-9 from cos(tt) (angles differ by at least as much as their
    cosines; the rounding of either side is below 1e-10 while sin A, sin B exceed 1e-5). Otherwise the sum of
    the arccosines, as ``_focal_at`` computes it. `x` gets the point, as there.
    """
    for c in range(3):
        x[c] = h[c] * math.cos(s) + sg * d[c] * math.sin(s)
    d1 = min(max(x[0] * u1[0] + x[1] * u1[1] + x[2] * u1[2], -1.0), 1.0)
    d2 = min(max(x[0] * u2[0] + x[1] * u2[1] + x[2] * u2[2], -1.0), 1.0)
    if 0.0 < tt < 0.9 * math.pi:
        if d1 + d2 < -1e-9:
            return True
        q1, q2 = 1.0 - d1 * d1, 1.0 - d2 * d2
        if q1 > 1e-10 and q2 > 1e-10:
            cs = d1 * d2 - math.sqrt(q1) * math.sqrt(q2)
            if cs < ctt - 1e-9:
                return True
            if cs > ctt + 1e-9:
                return False
    return math.acos(d1) + math.acos(d2) >= tt


@kernel
def _turned_fences_kernel(
    u1: FloatArray, u2: FloatArray, npl: FloatArray, tsph: FloatArray, clear1: FloatArray, clear2: FloatArray,
    hs: FloatArray, h_in: NDArray[np.bool_], turns: FloatArray, t: EdgeTree,
) -> NDArray[np.bool_]:
    """Whether a turned (possibly bent) fence serves each row (``turned_fence_bound``).

    `hs` (fractions, rows, 3) are the fences' feet, `h_in` whether each lies in the zone, `turns` the
    angles (radians). Each half of the fence leaves the foot h on its own side of the direct arc's great
    circle, along x(s) = h cos s + sg d sin s (d turned from the arc's normal by a turn angle, sg = +1 for
    one half, -1 for the other), each half with the first turn angle that serves it. Along such a great
    circle the focal sum is least at s = 0 (h lies on the direct arc) and, the spherical ellipse of focal sum
    tsph < pi being convex, below tsph on one arc around h only: the half's end is found by bisection
    (``FENCE_HALVINGS`` halvings, the end kept on the outer side), within a quarter circle.
    """
    k = u1.shape[0]
    ok = np.zeros(k, dtype=np.bool_)
    d = np.empty(3)
    nf = np.empty(3)
    along = np.empty(3)
    x = np.empty(3)
    lim = math.pi / 2 - 1e-6
    for i in range(k):
        tt = tsph[i]
        ctt = math.cos(tt)
        for f in range(hs.shape[0]):
            if ok[i]:
                break
            if not h_in[f, i]:
                continue
            h = hs[f, i]
            n = npl[i]
            along[0] = n[1] * h[2] - n[2] * h[1]
            along[1] = n[2] * h[0] - n[0] * h[2]
            along[2] = n[0] * h[1] - n[1] * h[0]
            both = True
            for side in range(2):
                sg = 1.0 if side == 0 else -1.0
                served = False
                for m in range(turns.size):
                    c, s_ = math.cos(turns[m]), math.sin(turns[m])
                    for q in range(3):
                        d[q] = n[q] * c + along[q] * s_
                    # The half's great circle keeps clear of both fixes' error discs (the distance to the
                    # great circle bounds the distance to the half from below).
                    nf[0] = h[1] * d[2] - h[2] * d[1]
                    nf[1] = h[2] * d[0] - h[0] * d[2]
                    nf[2] = h[0] * d[1] - h[1] * d[0]
                    s1 = nf[0] * u1[i, 0] + nf[1] * u1[i, 1] + nf[2] * u1[i, 2]
                    s2 = nf[0] * u2[i, 0] + nf[1] * u2[i, 1] + nf[2] * u2[i, 2]
                    if not (math.asin(min(abs(s1), 1.0)) * R_SPHERE * SPH_LO > clear1[i] + 1.0
                            and math.asin(min(abs(s2), 1.0)) * R_SPHERE * SPH_LO > clear2[i] + 1.0):
                        continue
                    if not _focal_reaches(h, d, sg, lim, u1[i], u2[i], x, tt, ctt):
                        continue
                    lo, hi = 0.0, lim
                    for _ in range(FENCE_HALVINGS):
                        mid = 0.5 * (lo + hi)
                        if _focal_reaches(h, d, sg, mid, u1[i], u2[i], x, tt, ctt):
                            hi = mid
                        else:
                            lo = mid
                    _focal_at(h, d, sg, hi, u1[i], u2[i], x)
                    if _arc_clear_one(x[0], x[1], x[2], h[0], h[1], h[2], t):
                        served = True
                        break
                if not served:
                    both = False
                    break
            if both:
                ok[i] = True
    return ok


def half_chord(c1: FloatArray, c2: FloatArray, tt: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Half-chord s of a fence where the spherical focal sum reaches `tt` (all angles in radians).

    With ``c1 = cos a1``, ``c2 = cos a2`` (a1, a2: distances from the fence's foot to the fixes), the focal
    sum at distance s along the fence is ``arccos(c1 cos s) + arccos(c2 cos s)``, increasing in s. Taking
    the cosine of the sum gives ``cos^2 s = sin^2 tt / (c1^2 + c2^2 - 2 c1 c2 cos tt)`` in closed form;
    the root is nudged outwards (any s whose focal sum is >= tt will do for a fence). Returns (s, focal
    sum at s), s capped at pi/2; callers check ``focal sum >= tt``.
    """

    def focal_at(s: FloatArray, k1: FloatArray, k2: FloatArray) -> FloatArray:
        return np.asarray(np.arccos(np.clip(k1 * np.cos(s), -1, 1)) + np.arccos(np.clip(k2 * np.cos(s), -1, 1)))

    with np.errstate(divide="ignore", invalid="ignore"):
        cc = np.sin(tt) ** 2 / (c1 * c1 + c2 * c2 - 2 * c1 * c2 * np.cos(tt))
    s0 = np.arccos(np.sqrt(np.clip(np.nan_to_num(cc, nan=0.0), 0.0, 1.0)))
    s = np.minimum(s0 * (1 + 1e-9) + 1e-12, math.pi / 2)
    f = focal_at(s, c1, c2)
    short = f < tt  # rounding near s = 0: nudge further out
    if short.any():
        s[short] = np.minimum(s0[short] * (1 + 1e-6) + 1e-9, math.pi / 2)
        f[short] = focal_at(s[short], c1[short], c2[short])
    return np.asarray(s, dtype=np.float64), f


def _fence_frame(lon1: FloatArray, lat1: FloatArray, lon2: FloatArray, lat2: FloatArray, target: FloatArray,
                 ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, np.ndarray]:
    """What both fence searches start from (unit vectors, arc angle, plane normal, target angle, pairs to try)."""
    u1, u2 = unit(lon1, lat1), unit(lon2, lat2)
    full = np.arccos(np.clip(np.sum(u1 * u2, axis=1), -1, 1))
    npl = np.cross(u1, u2)
    npl /= np.maximum(np.linalg.norm(npl, axis=1, keepdims=True), 1e-300)
    tsph = target / (SPH_LO * R_SPHERE) * (1 + 1e-9) + 1e-9
    return u1, u2, full, npl, tsph, np.flatnonzero((full > 0) & (tsph < 0.9 * math.pi))


def fence_bound(
    lon1: FloatArray, lat1: FloatArray, lon2: FloatArray, lat2: FloatArray, target: FloatArray,
    clear1: FloatArray, clear2: FloatArray, zone: BaseGeometry, ze: ZoneEdges,
) -> NDArray[np.bool_]:
    """Whether every path from p1 to p2 that avoids the zone is certainly longer than `target` (a sufficient test).

    A great circle L crossing the direct arc at right angles at h separates the fixes, so every path
    from p1 to p2 (the avoiding path's chain of great-circle legs included) passes through a point x of
    L, and is at least SPH_LO · R · (σ(p1, x) + σ(x, p2)) long (σ: angles; true lengths are >= SPH_LO
    times great-circle lengths). Along L that spherical focal sum grows away from h, so if the chord of L
    where it is <= target / SPH_LO lies inside the zone (no boundary edge within its tolerance of the
    chord, and h inside), every avoiding path is longer than `target`. The chord must also keep `clear1`,
    `clear2` (metres) from the fixes, so that discs cut from the zone around them do not open it.
    Fences are tried at the fractions ``FENCES`` of the direct arc (``turned_fence_bound``: fences at a slant).
    """
    ok = np.zeros(len(lon1), dtype=bool)
    if len(lon1) == 0:
        return ok
    u1, u2, full, npl, tsph, todo = _fence_frame(lon1, lat1, lon2, lat2, target)
    if todo.size == 0:
        return ok
    # Every fence at once (fractions x rows), element for element the arithmetic of one fraction at a time; then
    # the clearance tests fraction by fraction, for the rows no earlier fence served.
    fu = full[todo][None, :]
    a1 = fu * np.asarray(FENCES, dtype=np.float64)[:, None]
    a2 = fu - a1
    # Fence foot h on the arc, and the fence's direction there (the arc's normal).
    w = u1[todo][None, :, :] * np.sin(fu - a1)[:, :, None] + u2[todo][None, :, :] * np.sin(a1)[:, :, None]
    h = w / np.linalg.norm(w, axis=2, keepdims=True)
    d = npl[todo][None, :, :]
    near = ((a1 * R_SPHERE * SPH_LO <= clear1[todo][None, :] + 1.0)
            | (a2 * R_SPHERE * SPH_LO <= clear2[todo][None, :] + 1.0))
    tt = np.broadcast_to(tsph[todo][None, :], a1.shape)
    s_, fmax = half_chord(np.cos(a1), np.cos(a2), tt)
    valid = (fmax >= tt) & ~near & (s_ < math.pi / 2 - 1e-6)
    ea = h * np.cos(s_)[:, :, None] + d * np.sin(s_)[:, :, None]
    eb = h * np.cos(s_)[:, :, None] - d * np.sin(s_)[:, :, None]
    hlon = np.degrees(np.arctan2(h[:, :, 1], h[:, :, 0]))
    hlat = np.degrees(np.arcsin(np.clip(h[:, :, 2], -1, 1)))
    valid &= shapely.contains_xy(zone, hlon, hlat)
    served = np.zeros(todo.size, dtype=bool)
    # A row is served when both halves of the chord of some fence (each shorter than 90 degrees) are clear of
    # every edge: which fence does not matter. The first fence (it serves most rows) alone, then every other one
    # at once for the rows it did not serve (two compiled calls per round instead of two per fence).
    for fs in (slice(0, 1), slice(1, len(FENCES))):
        f, g = np.nonzero(valid[fs] & ~served[None, :])
        f = f + fs.start
        cl = _arc_clear(ea[f, g], h[f, g], ze)
        f, g = f[cl], g[cl]
        cl = _arc_clear(h[f, g], eb[f, g], ze)
        served[g[cl]] = True
    ok[todo[served]] = True
    return ok


def turned_fence_bound(
    lon1: FloatArray, lat1: FloatArray, lon2: FloatArray, lat2: FloatArray, target: FloatArray,
    clear1: FloatArray, clear2: FloatArray, zone: BaseGeometry, ze: ZoneEdges,
    fractions: tuple[float, ...] = TURN_FENCES,
) -> NDArray[np.bool_]:
    """``fence_bound`` with fences at a slant, bent at their foot (each half turned by its own angle of ``TURNS``).

    The feet are at the `fractions` of the direct arc (by default ``TURN_FENCES``).
    A fence C is two arcs from a point h of the direct arc, one on each side of the arc's great circle (each
    along a great circle through h other than the arc's own, so it meets that great circle at h and -h only:
    C meets the direct arc once, at h, crossing it), each ending where the spherical focal sum reaches the
    target (along a great circle through h the focal sum is least at h and below the target on one arc only,
    the spherical ellipse of a focal sum below pi being convex: the end is found by bisection, kept on the
    outer side; ``_turned_fences_kernel``). Why every avoiding path is then longer than `target` when C lies
    inside the zone (and its arcs keep their `clear` distance from the fixes): a path no longer than it stays
    inside the ellipse (every point of it has a focal sum at most its length); close C by an arc outside the
    ellipse into a simple closed curve J (the outside is connected). The direct arc meets J once, crossing
    it, so J separates the fixes (Jordan), and the path, which cannot meet the closing arc, meets C, inside
    the zone. Both halves turned alike make the straight fence at a slant (a coast or a strait that crosses the
    ellipse at a slant); bent, a zone that the ellipse crosses along a bend.
    """
    ok = np.zeros(len(lon1), dtype=bool)
    if len(lon1) == 0:
        return ok
    u1, u2, full, npl, tsph, todo = _fence_frame(lon1, lat1, lon2, lat2, target)
    if todo.size:
        # Every foot at once (fractions x rows), element for element the arithmetic of one fraction at a time.
        a1 = full[todo][None, :] * np.asarray(fractions, dtype=np.float64)[:, None]
        w = (u1[todo][None, :, :] * np.sin(full[todo][None, :] - a1)[:, :, None]
             + u2[todo][None, :, :] * np.sin(a1)[:, :, None])
        hs = np.ascontiguousarray(w / np.linalg.norm(w, axis=2, keepdims=True))
        hlon = np.degrees(np.arctan2(hs[:, :, 1], hs[:, :, 0]))
        hlat = np.degrees(np.arcsin(np.clip(hs[:, :, 2], -1, 1)))
        h_in = shapely.contains_xy(zone, hlon, hlat) & (full[todo] < tsph[todo])[None, :]
        c = np.ascontiguousarray
        got = _turned_fences_kernel(c(u1[todo]), c(u2[todo]), c(npl[todo]), c(tsph[todo], dtype=np.float64),
                                    c(clear1[todo], dtype=np.float64), c(clear2[todo], dtype=np.float64), hs, h_in,
                                    np.radians(np.array(TURNS)), ze.tree())
        ok[todo[got]] = True
    return ok


__all__ = ["FENCES", "FENCE_HALVINGS", "TURNS", "TURN_FENCES", "TURN_FENCES_FIRST", "TURN_FENCES_MORE", "fence_bound",
           "half_chord", "turned_fence_bound"]
