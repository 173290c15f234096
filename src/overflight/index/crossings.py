"""Segment/border crossings: geodesic densification, antimeridian split, and the result table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from overflight.errors import InputError
from overflight.geodesy import direct, inverse

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Crossings:
    """Border crossings of segments, ordered by segment then fraction along it.

    Attributes
    ----------
    segment : index of the input segment.
    fraction : position along the segment in [0, 1] (along the geodesic when densified: piece index plus the
        planar fraction within the densified piece, over the number of pieces).
    lon, lat : the crossing point: the exact intersection of the (densified) piece with the border edge.
    zone : position of the zone in the zone set.
    direction : +1 entering the zone, -1 leaving it.
    """

    segment: I64
    fraction: F64
    lon: F64
    lat: F64
    zone: npt.NDArray[np.int32]
    direction: npt.NDArray[np.int8]

    def __len__(self) -> int:
        return int(self.segment.size)

    def to_frame(self, ids: list[str] | None = None) -> pd.DataFrame:
        """The crossings as a DataFrame; with `ids`, a `zone_id` column too."""
        df = pd.DataFrame({"segment": self.segment, "fraction": self.fraction, "lon": self.lon, "lat": self.lat,
                           "zone": self.zone, "direction": self.direction})
        if ids is not None:
            df["zone_id"] = np.asarray(ids, dtype=object)[self.zone] if len(self) else np.array([], dtype=object)
        return df


class Pieces(NamedTuple):
    """Straight (lon/lat) pieces, in order, each within [-180, 180] (split at the antimeridian).

    A named tuple so that the crossing kernel takes it as one argument.
    """

    x1: F64
    y1: F64
    x2: F64
    y2: F64
    seg: I64
    f0: F64
    f1: F64
    first: npt.NDArray[np.bool_]


def densify(
    lon1: F64, lat1: F64, lon2: F64, lat2: F64, seg: I64, densify_m: float | None,
    az: F64 | None = None, dist: F64 | None = None,
) -> tuple[F64, F64, F64, F64, I64, F64, F64]:
    """Pieces of each segment: itself, or its geodesic cut into equal pieces no longer than densify_m.

    ``az``/``dist`` (forward azimuth and length of each geodesic) may be passed when the caller has them
    already, to save the inverse problem.
    """
    n = lon1.size
    if densify_m is None or n == 0:
        return lon1, lat1, lon2, lat2, seg, np.zeros(n), np.ones(n)
    if not densify_m > 0:
        raise InputError(f"densify_m must be a positive distance in metres, not {densify_m!r}", field="densify_m")
    if az is None or dist is None:
        az, _, dist = inverse(lon1, lat1, lon2, lat2)
    az = np.asarray(az, dtype=np.float64)
    dist = np.asarray(dist, dtype=np.float64)
    npieces = np.maximum(np.ceil(dist / densify_m), 1).astype(np.int64)
    total = int(npieces.sum())
    owner = np.repeat(np.arange(n), npieces)
    first_of = np.cumsum(npieces) - npieces
    j = np.arange(total) - first_of[owner]
    nn = npieces[owner].astype(np.float64)
    # start of piece j and end of piece j (end of the last piece is the exact segment end)
    sx, sy, _ = direct(lon1[owner], lat1[owner], az[owner], dist[owner] * (j / nn))
    start_is_first = j == 0
    sx[start_is_first] = lon1[owner][start_is_first]
    sy[start_is_first] = lat1[owner][start_is_first]
    ex = np.empty(total)
    ey = np.empty(total)
    ex[:-1] = sx[1:]
    ey[:-1] = sy[1:]
    last = j == npieces[owner] - 1
    ex[last] = lon2[owner][last]
    ey[last] = lat2[owner][last]
    return sx, sy, ex, ey, seg[owner], j / nn, (j + 1) / nn


def split_antimeridian(
    x1: F64, y1: F64, x2: F64, y2: F64, seg: I64, f0: F64, f1: F64
) -> Pieces:
    """Split pieces whose longitude jump exceeds 180 deg (they cross the antimeridian the short way)."""
    x1 = np.where(x1 == 180.0, -180.0, x1)
    x2 = np.where(x2 == 180.0, -180.0, x2)
    n = x1.size
    first = np.ones(n, dtype=bool)
    first[1:] = seg[1:] != seg[:-1]
    jump = np.abs(x2 - x1) > 180.0
    if not jump.any():
        return Pieces(x1, y1, x2, y2, seg, f0, f1, first)
    east = x2 < x1  # going east over +180 (e.g. 179 -> -179)
    x2u = np.where(east, x2 + 360.0, x2 - 360.0)
    edge = np.where(east, 180.0, -180.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ts = np.clip((edge - x1) / (x2u - x1), 0.0, 1.0)
    ym = y1 + ts * (y2 - y1)
    fm = f0 + ts * (f1 - f0)
    # each piece becomes 1 or 2 pieces; build the interleaved output
    reps = np.where(jump, 2, 1)
    idx = np.repeat(np.arange(n), reps)
    second = np.zeros(idx.size, dtype=bool)
    pos = np.cumsum(reps) - 1
    second[pos[jump]] = True
    firsthalf = jump[idx] & ~second
    ox1 = np.where(second, -edge[idx], x1[idx])
    oy1 = np.where(second, ym[idx], y1[idx])
    ox2 = np.where(firsthalf, edge[idx], x2[idx])
    oy2 = np.where(firsthalf, ym[idx], y2[idx])
    of0 = np.where(second, fm[idx], f0[idx])
    of1 = np.where(firsthalf, fm[idx], f1[idx])
    ofirst = first[idx] & ~second
    return Pieces(ox1, oy1, ox2, oy2, seg[idx], of0, of1, ofirst)


__all__ = ["F64", "I64", "Crossings", "Pieces", "densify", "split_antimeridian"]
