"""Short-segment geodesic lengths of the transit kernel against GeographicLib (pyproj), and their use in transit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyproj import Geod

import overflight.analysis.transit as transit_mod
from overflight.analysis.transit import transit
from overflight.analysis.transit_geodesy import SHORT_M, _lengths, short_lengths
from overflight.zones import Provenance, Zone, ZoneSet

GEOD = Geod(ellps="WGS84")
# GeographicLib's own error on a short line is up to ~2e-9 m (its sin/cos of each latitude are rounded on
# their own, before their difference is formed); the chord-and-curvature length is exact to a few ulps.
TOL_M = 1e-8


def _pairs(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray, limit: float) -> np.ndarray:
    n = len(lon1)
    lon = np.empty(2 * n)
    lat = np.empty(2 * n)
    lon[0::2], lon[1::2], lat[0::2], lat[1::2] = lon1, lon2, lat1, lat2
    out = np.empty(n)
    _lengths(lon, lat, np.arange(0, 2 * n, 2), np.arange(1, 2 * n, 2), limit, out)
    return out


@pytest.mark.parametrize(("lat_lo", "lat_hi", "sd"), [(-70, 70, 0.02), (-80, 80, 1e-6), (80, 89.99, 0.02),
                                                      (-0.05, 0.05, 0.03), (-60, 60, 0.1), (-89.9, -80, 0.05)])
def test_lengths_match_geographiclib(lat_lo: float, lat_hi: float, sd: float) -> None:
    rng = np.random.default_rng(int(abs(lat_lo * 100 + sd * 1e6)))
    n = 20_000
    lon1 = rng.uniform(-179, 179, n)
    lat1 = rng.uniform(lat_lo, lat_hi, n)
    lon2 = lon1 + rng.normal(0, sd, n)
    lat2 = np.clip(lat1 + rng.normal(0, sd, n), -90, 90)
    # 30 km chords here (more than the kernel takes): the curvature term is then ~3 cm, so a wrong
    # curvature shows far above the tolerance.
    s = _pairs(lon1, lat1, lon2, lat2, 30_000.0)
    _, _, d = GEOD.inv(lon1, lat1, lon2, lat2)
    ok = ~np.isnan(s)
    assert ok.mean() > 0.9
    assert np.abs(s[ok] - d[ok]).max() < TOL_M
    # the curvature matters at these lengths (the chord alone is too short by up to cm)
    assert (d[ok] - s[ok]).min() > -TOL_M


def test_chord_alone_would_fail() -> None:
    """The test above can tell: dropping the curvature term leaves errors of 1e-5 m at 3 km."""
    lon1, lat1, lon2, lat2 = np.array([10.0]), np.array([50.0]), np.array([10.03]), np.array([50.02])
    s = _pairs(lon1, lat1, lon2, lat2, 30_000.0)
    _, _, d = GEOD.inv(lon1, lat1, lon2, lat2)
    assert abs(s[0] - d[0]) < TOL_M
    a = 6378137.0
    p1, p2 = np.radians(lat1[0]), np.radians(lat2[0])
    e2 = 1 / 298.257223563 * (2 - 1 / 298.257223563)

    def ecef(lon: float, phi: float) -> np.ndarray:
        n = a / np.sqrt(1 - e2 * np.sin(phi) ** 2)
        return np.array([n * np.cos(phi) * np.cos(np.radians(lon)), n * np.cos(phi) * np.sin(np.radians(lon)),
                         n * (1 - e2) * np.sin(phi)])

    chord = float(np.linalg.norm(ecef(lon2[0], p2) - ecef(lon1[0], p1)))
    assert d[0] - chord > 1e-5  # the curvature term is far above TOL_M


def test_not_taken_go_to_pyproj() -> None:
    """Across ±180°, more than 2° of longitude, longer than the limit, invalid: NaN (solved by pyproj)."""
    lon = np.array([179.99, -179.99, 10.0, 12.5, 10.0, 10.5, 10.0, 10.0, 5.0, 5.0])
    lat = np.array([50.0, 50.0, 89.99, 89.99, 0.0, 0.0, 45.0, 45.0, 95.0, 95.0])
    a = np.array([0, 2, 4, 6, 8])
    out = short_lengths(lon, lat, a, a + 1, limit_m=5000.0)
    assert np.isnan(out[0]) and np.isnan(out[1])  # wraps at the antimeridian; 2.5 degrees of longitude
    assert np.isnan(out[2])  # 55 km > limit
    assert out[3] == 0.0  # the same point twice
    assert np.isnan(out[4])  # latitude out of range: pyproj raises the error
    # the limit is capped at SHORT_M: a 55 km segment goes to pyproj whatever the step
    assert np.isnan(short_lengths(lon, lat, a, a + 1, limit_m=1e9)[2])
    assert SHORT_M <= 10_000.0


def test_consecutive_segments_reuse_their_shared_fix() -> None:
    """A track's segments share fixes (the kernel reuses the end's values): same as each segment alone."""
    rng = np.random.default_rng(3)
    lon = 20 + np.cumsum(rng.normal(0, 0.01, 5000))
    lat = 40 + np.cumsum(rng.normal(0, 0.01, 5000))
    a = np.arange(4999)
    chained = short_lengths(lon, lat, a, a + 1)
    alone = np.array([short_lengths(lon[i:i + 2], lat[i:i + 2], np.array([0]), np.array([1]))[0] for i in a[:200]])
    assert np.array_equal(chained[:200], alone)
    _, _, d = GEOD.inv(lon[:-1], lat[:-1], lon[1:], lat[1:])
    assert np.abs(chained - d).max() < TOL_M


def _square_zones() -> ZoneSet:
    import shapely

    prov = Provenance("test-zones", "1", "test", "synthetic", "0" * 64, kind="land")
    return ZoneSet([Zone("A", "a", "state", shapely.box(9.0, 44.0, 11.0, 46.0)),
                    Zone("B", "b", "state", shapely.box(11.0, 44.0, 13.0, 46.0))], prov)


def test_transit_same_visits_as_with_pyproj_lengths(monkeypatch: pytest.MonkeyPatch) -> None:
    """Visits with the compiled lengths equal those with pyproj's for every segment (distances to 1e-6 m)."""
    rng = np.random.default_rng(7)
    rows = []
    for k in range(20):
        n = 2000
        t = pd.Timestamp("2024-05-01T00:00:00Z") + pd.to_timedelta(np.arange(n) * 5 + k, unit="s")
        lon = 8.5 + k * 0.01 + np.cumsum(np.abs(rng.normal(0.0022, 0.0005, n)))
        lat = 45.0 + 0.4 * np.sin(np.arange(n) / 300.0 + k)
        if k == 3:
            t = t.where(np.arange(n) % 400 != 0)  # drop some fixes: longer (pyproj) segments in the track
            keep = ~t.isna()
            t, lon, lat = t[keep], lon[keep], lat[keep]
        rows.append(pd.DataFrame({"track_id": f"T{k}", "time": t, "lon": lon, "lat": lat}))
    tracks = pd.concat(rows, ignore_index=True)
    tracks["time"] = pd.to_datetime(tracks["time"], utc=True).dt.as_unit("ns")
    tracks["alt_m"] = np.nan
    zones = _square_zones()
    # step 300 m: the ~170 m segments are taken here, those over a dropped fix (~340 m) go to pyproj and are cut
    fast = transit(tracks, zones, step_m=300.0).visits
    assert len(fast) > 20
    monkeypatch.setattr(transit_mod, "short_lengths", lambda lon, lat, a, b, limit_m: np.full(len(a), np.nan))
    slow = transit(tracks, zones, step_m=300.0).visits
    pd.testing.assert_frame_equal(fast.drop(columns="distance_m"), slow.drop(columns="distance_m"))
    assert np.abs(fast["distance_m"].to_numpy() - slow["distance_m"].to_numpy()).max() < 1e-6


def test_group_cumsum_is_pandas_bit_for_bit() -> None:
    """Cumulative path lengths as pandas' compensated groupby cumsum gives them (a plain cumsum would not)."""
    from overflight.analysis.transit_geodesy import group_cumsum

    rng = np.random.default_rng(9)
    n = 50_000
    codes = np.sort(rng.integers(0, 800, n))
    first = np.r_[True, codes[1:] != codes[:-1]]
    v = np.where(rng.random(n) < 0.01, rng.uniform(1e6, 1e7, n), rng.uniform(0, 1e-3, n))
    v = np.where(first, rng.uniform(1e5, 1e7, n), v)
    want = pd.Series(v).groupby(codes).cumsum().to_numpy()
    assert np.array_equal(group_cumsum(v, first), want)
    starts = np.flatnonzero(first)
    naive = np.concatenate([np.cumsum(v[a:b]) for a, b in zip(starts, [*starts[1:], n], strict=True)])
    assert not np.array_equal(naive, want)  # the data tells the two apart
