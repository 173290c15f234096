"""Segment/border crossings: the antimeridian split of straight pieces, and the result table.

Geodesic segments are cut into pieces by `overflight.geodesy.densify_segments` (the one densification routine).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from overflight.index._segments import Pieces

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


__all__ = ["F64", "I64", "Crossings", "Pieces", "split_antimeridian"]
