"""ZoneIndex: exact point-in-zone and segment/border classification over a zone set."""

from __future__ import annotations

import math
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import shapely

from overflight._deprecated import deprecated_names
from overflight.errors import CoordinateWarning as CoordinateWarning
from overflight.errors import InputError, OverflightError, OverflightWarning
from overflight.geodesy import densify_segments
from overflight.index._kernels import locate_all, locate_first
from overflight.index._segments import MAXZ, cancel_pairs, segment_crossings
from overflight.index.crossings import Crossings, split_antimeridian
from overflight.index.grid import FORMAT_VERSION, GridArrays, build_grid, geometry_hash
from overflight.index.persist import cache_dir, load_grid, save_grid
from overflight.zones import as_zoneset
from overflight.zoneset import ZoneSet

if TYPE_CHECKING:
    from overflight.zones import ZoneSetLike

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


class ZoneIndex:
    """A two-level grid over the polygonal zones of a zone set, answering point and segment queries exactly.

    Build once per zone set (or load with `ZoneIndex.cached`), then query from any number of threads.

    Semantics
    ---------
    * Geometry is planar lon/lat with polygon edges as given; rings are combined by the even-odd rule, which
      equals the OGC interior for valid polygons (holes and multipolygons included).
    * A point **exactly on a border** is classified as if moved an infinitesimal step north (then an even
      smaller step east): on an east-west edge it belongs to the zone north of it, on a north-south edge to
      the zone east of it.  A point on a border shared by two zones is therefore in exactly one of them.
    * Longitude 180 is the same meridian as -180 and is treated as -180 (so points on 180 fall in the zone just
      east of the antimeridian, e.g. Chukotka's eastern part).  Latitude -90 is inside Antarctica.
    * Only Polygon/MultiPolygon zones (and the polygons of a collection) are indexed; other zones are listed
      in `ignored` and never match.
    * Invalid coordinates (NaN, |lat| > 90, lon outside [-180, 180] unless ``normalize_lon=True``) get -1 and
      a `CoordinateWarning` with their count, or an `InputError` with ``strict=True``.

    Parameters
    ----------
    zoneset : anything `overflight.zones.as_zoneset` takes (`overflight.zones.ZoneSetLike`: a `ZoneSet`, a
        boundary-set name or zone file, a mapping id -> geometry, ...), or a sequence of shapely geometries
        (ids are then their positions as strings).
    cell_deg : coarse cell size in degrees (a power of two dividing 180).
    fine_edges : target number of edges per fine cell; sets the subdivision of each border cell.
    max_fine : largest subdivision k (fine cells of ``cell_deg / k`` degrees).

    The defaults (1 degree, 1 edge, k <= 32: fine cells of 1/32 degree, about 3.5 km) were chosen on
    ne-admin0 against GeoNames places, uniform points and real flights (bench_locate): against the earlier
    4 edges and k <= 128 they leave fewer points in cells with edges (GeoNames places 10.5 -> 8.9 %, uniform
    3.1 -> 1.3 %, flights 4.3 -> 2.6 %) with fewer edges to test per such point (3.6 -> 2.8 on GeoNames),
    in a smaller index (113 -> 87 MB; build peak 444 -> 353 MB, 4.0 -> 3.0 s CPU on a loaded machine).
    """

    def __init__(
        self,
        zoneset: ZoneSetLike,
        *,
        cell_deg: float = 1.0,
        fine_edges: float = 1.0,
        max_fine: int = 32,
        _grid: GridArrays | None = None,
    ) -> None:
        zs, geoms, ids = _geoms_ids(zoneset)
        #: the zones indexed, as a ZoneSet (bare geometries get ids "0", "1", ...)
        self.zoneset: ZoneSet = zs
        self.ids: list[str] = ids
        self.params = {"cell_deg": float(cell_deg), "fine_edges": float(fine_edges), "max_fine": int(max_fine)}
        types = shapely.get_type_id(geoms)
        areal = np.isin(types, (3, 6)) | ((types == 7) & _has_polygon(geoms))
        #: ids of zones that are not polygonal and are never matched (points, lines, empty geometries)
        self.ignored: list[str] = [ids[i] for i in np.flatnonzero(~areal | shapely.is_empty(geoms))]
        self._geoms = geoms
        self._hash: str | None = None
        t0 = time.perf_counter()
        self.grid = _grid if _grid is not None else build_grid(
            geoms, cell_deg=cell_deg, fine_edges=fine_edges, max_fine=max_fine)
        #: seconds spent building (0 when loaded)
        self.build_seconds = 0.0 if _grid is not None else time.perf_counter() - t0
        for f in ("ck", "cval", "lsum", "blob"):
            getattr(self.grid, f).setflags(write=False)
        self._kgrid = self.grid.kernel_grid()

    # ----------------------------------------------------------------------------------- properties
    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        g = self.grid
        return (f"ZoneIndex({len(self)} zones, {g.lsum.size} cells, {g.blob.size:,} record words, "
                f"{g.nbytes / 1e6:.0f} MB)")

    @property
    def nbytes(self) -> int:
        """Memory held by the index arrays."""
        return self.grid.nbytes

    @property
    def geometry_hash(self) -> str:
        """sha256 of the zone ids and geometries the index was built for."""
        if self._hash is None:
            self._hash = geometry_hash(self._geoms, self.ids)
        return self._hash

    # ----------------------------------------------------------------------------------- queries
    def locate(
        self, lon: npt.ArrayLike, lat: npt.ArrayLike, *, normalize_lon: bool = False, strict: bool = False,
        threads: int = 1,
    ) -> I32:
        """Position in the zone set of the first (lowest-index) zone containing each point, -1 for none.

        Parameters
        ----------
        lon, lat : coordinates in degrees (arrays of equal shape, or scalars).
        normalize_lon : wrap longitudes outside [-180, 180] instead of treating them as invalid.
        strict : raise InputError (naming the first bad row) instead of warning about invalid coordinates.
        threads : split the work over this many threads (in parallel on the JIT kernels, which release the GIL;
            the kernels built at install hold it, so their parts run in turn).
        """
        x, y = _xy(lon, lat)
        out = np.empty(x.size, dtype=np.int32)
        bad = np.zeros(x.size, dtype=bool)

        def run(sl: slice) -> int:
            return int(locate_first(x[sl], y[sl], normalize_lon, out[sl], bad[sl], self._kgrid))

        nbad = sum(_chunked(run, x.size, threads))
        self._report_bad(nbad, bad, x, y, strict)
        return out

    def locate_all(
        self, lon: npt.ArrayLike, lat: npt.ArrayLike, *, normalize_lon: bool = False, strict: bool = False,
        threads: int = 1,
    ) -> tuple[I64, I32]:
        """Every membership: arrays (point index, zone index), ordered by point then zone.

        A point inside two overlapping zones (a disputed area) appears twice.  Parameters as `locate`.
        """
        x, y = _xy(lon, lat)
        bad = np.zeros(x.size, dtype=bool)
        bounds = _bounds(x.size, threads)
        parts: list[tuple[I64, I32, int]] = []

        def run(i: int) -> tuple[I64, I32, int]:
            a, b = bounds[i], bounds[i + 1]
            pi, zi, nb = locate_all(x[a:b], y[a:b], normalize_lon, bad[a:b], self._kgrid)
            return pi + a, zi.astype(np.int32), int(nb)

        if len(bounds) <= 2:
            parts = [run(0)]
        else:
            with ThreadPoolExecutor(len(bounds) - 1) as ex:
                parts = list(ex.map(run, range(len(bounds) - 1)))
        nbad = sum(p[2] for p in parts)
        self._report_bad(nbad, bad, x, y, strict)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def zones_of(self, lon: npt.ArrayLike, lat: npt.ArrayLike, *, sep: str = "|", **kw: Any) -> npt.NDArray[
            np.object_]:
        """For each point, the ids of all zones containing it joined by `sep` ('' when none)."""
        x, _ = _xy(lon, lat)
        pi, zi = self.locate_all(lon, lat, **kw)
        out = np.full(x.size, "", dtype=object)
        if pi.size:
            ids = np.asarray(self.ids, dtype=object)
            # memberships are grouped by point: join each run
            starts = np.flatnonzero(np.r_[True, pi[1:] != pi[:-1]])
            ends = np.r_[starts[1:], pi.size]
            names = ids[zi]
            single = ends - starts == 1
            out[pi[starts[single]]] = names[starts[single]]
            for s, e in zip(starts[~single], ends[~single], strict=True):  # only points in overlapping zones
                out[pi[s]] = sep.join(names[s:e])
        return out

    def crossings(
        self, lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike, lat2: npt.ArrayLike, *,
        densify_m: float | None = None, normalize_lon: bool = False, strict: bool = False,
        azimuth: npt.ArrayLike | None = None, length_m: npt.ArrayLike | None = None,
    ) -> Crossings:
        """Where each segment crosses zone borders, in order along it.

        Parameters
        ----------
        lon1, lat1, lon2, lat2 : segment ends in degrees (equal-length arrays).
        densify_m : if given, each segment is the WGS84 geodesic between its ends, cut into equal pieces of at
            most this many metres; otherwise each segment is the straight lon/lat line (a longitude jump of
            more than 180 deg is taken to cross the antimeridian the short way).
        normalize_lon, strict : as for `locate`; segments with an invalid end give no crossings.
        azimuth, length_m : optional forward azimuth (degrees) and geodesic length (metres) of each segment, when
            the caller has computed them already (used with ``densify_m``; saves solving the inverse problem).

        Returns
        -------
        Crossings : segment index, fraction along it, crossing lon/lat (exactly on the border edge), zone
            index and direction (+1 entering, -1 leaving).  Crossings of one zone alternate in direction and
            agree with `locate_all` at the segment ends; touching a border without crossing gives nothing.
        """
        x1, y1 = _xy(lon1, lat1)
        x2, y2 = _xy(lon2, lat2)
        if x1.size != x2.size:
            raise InputError(f"{x1.size} segment starts but {x2.size} ends", field="lon2")
        ok1, x1, y1 = _clean(x1, y1, normalize_lon)
        ok2, x2, y2 = _clean(x2, y2, normalize_lon)
        ok = ok1 & ok2
        if not ok.all():
            bad = ~ok
            self._report_bad(int(bad.sum()), bad, np.where(ok1, x2, x1), np.where(ok1, y2, y1), strict,
                             what="segments")
        seg = np.flatnonzero(ok).astype(np.int64)
        az = np.asarray(azimuth, dtype=np.float64)[ok] if azimuth is not None else None
        dist = np.asarray(length_m, dtype=np.float64)[ok] if length_m is not None else None
        if densify_m is None or seg.size == 0:
            sx, sy, ex, ey, pseg = x1[ok], y1[ok], x2[ok], y2[ok], seg
            f0, f1 = np.zeros(seg.size), np.ones(seg.size)
        else:
            if not (isinstance(densify_m, int | float) and math.isfinite(densify_m) and densify_m > 0):
                raise InputError(f"densify_m must be a positive distance in metres, not {densify_m!r}",
                                 field="densify_m")
            # no cap on the number of pieces here: callers (transit, the monitor) bound their chunks
            sx, sy, ex, ey, owner, f0, f1 = densify_segments(x1[ok], y1[ok], x2[ok], y2[ok], float(densify_m),
                                                             az=az, dist=dist, max_pieces=2**62)
            pseg = seg[owner]
        pc = split_antimeridian(np.asarray(sx, np.float64), np.asarray(sy, np.float64),
                                np.asarray(ex, np.float64), np.asarray(ey, np.float64), pseg,
                                np.asarray(f0, np.float64), np.asarray(f1, np.float64))
        s, fr, cx, cy, cz, cd, over = segment_crossings(pc, self._kgrid)
        if over >= 0:
            raise InputError(f"segment {int(pc.seg[over])} lies in more than {MAXZ} overlapping zones at "
                             "once; split the zone set", row=int(pc.seg[over]))
        keep = cancel_pairs(s, fr, cz, cd)
        return Crossings(segment=s[keep], fraction=fr[keep], lon=cx[keep], lat=cy[keep],
                         zone=cz[keep].astype(np.int32), direction=cd[keep].astype(np.int8))

    def _report_bad(self, nbad: int, bad: npt.NDArray[np.bool_], x: F64, y: F64, strict: bool,
                    what: str = "points") -> None:
        if not nbad:
            return
        if strict:
            row = int(np.argmax(bad))
            field = "lat" if not (-90.0 <= y[row] <= 90.0) else "lon"
            raise InputError(f"invalid coordinate lon={x[row]!r}, lat={y[row]!r} ({nbad} invalid {what} in all)",
                             row=row, field=field)
        warnings.warn(f"{nbad} of {bad.size} {what} have invalid coordinates (NaN, |lat| > 90 or lon outside "
                      "[-180, 180]) and were given no zone", CoordinateWarning, stacklevel=3)

    # ----------------------------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        """Write the index to an .npz file (with the zone-set hash it was built for); returns the path."""
        meta = {"geometry_hash": self.geometry_hash, "ids": self.ids, "params": self.params,
                "ignored": self.ignored}
        return save_grid(path, self.grid, meta)

    @classmethod
    def load(cls, path: str | Path, zoneset: ZoneSetLike) -> ZoneIndex:
        """Load a saved index for `zoneset`; InputError if it was built for other zones or geometry."""
        grid, meta = load_grid(path)
        zs, geoms, ids = _geoms_ids(zoneset)
        digest = geometry_hash(geoms, ids)
        if meta.get("geometry_hash") != digest:
            raise InputError("index was built for a different zone set (geometry hash differs); rebuild it",
                             file=path, field="geometry_hash")
        p = meta.get("params", {})
        # a file without params predates them: it was built with the defaults of then (4 edges, k <= 128)
        idx = cls(zs, cell_deg=p.get("cell_deg", grid.cw), fine_edges=p.get("fine_edges", 4.0),
                  max_fine=p.get("max_fine", 128), _grid=grid)
        idx._hash = digest
        return idx

    @classmethod
    def cached(
        cls, zoneset: ZoneSetLike, *, directory: str | Path | None = None,
        cell_deg: float = 1.0, fine_edges: float = 1.0, max_fine: int = 32,
    ) -> ZoneIndex:
        """The index for this zone set from the cache directory, building and saving it the first time.

        The cache key is the zone-set geometry hash and the build parameters; the directory is
        $OVERFLIGHT_CACHE/index (default ~/.cache/overflight/index) unless given.
        """
        zs, geoms, ids = _geoms_ids(zoneset)  # coerced once: load and the constructor get the ZoneSet
        digest = geometry_hash(geoms, ids)
        d = Path(directory) if directory is not None else cache_dir()
        key = f"zoneindex-v{FORMAT_VERSION}-{digest[:24]}-c{cell_deg:g}-f{fine_edges:g}-k{max_fine}.npz"
        path = d / key
        if path.exists():
            try:
                return cls.load(path, zs)
            except OverflightError:
                pass  # stale or damaged cache entry: rebuild it below
        idx = cls(zs, cell_deg=cell_deg, fine_edges=fine_edges, max_fine=max_fine)
        idx._hash = digest
        try:
            idx.save(path)
        except OSError as exc:
            warnings.warn(f"could not cache the zone index in {d}: {exc}", OverflightWarning, stacklevel=2)
        return idx


# --------------------------------------------------------------------------------------------- helpers
def _geoms_ids(zoneset: ZoneSetLike) -> tuple[ZoneSet, npt.NDArray[np.object_], list[str]]:
    """The zone set (the one coercion, `as_zoneset`), its geometries and ids."""
    zs = as_zoneset(zoneset)
    return zs, zs.geometries(), zs.ids


def _has_polygon(geoms: npt.NDArray[np.object_]) -> npt.NDArray[np.bool_]:
    out = np.zeros(len(geoms), dtype=bool)
    for i in np.flatnonzero(shapely.get_type_id(geoms) == 7):
        out[i] = bool(np.isin(shapely.get_type_id(shapely.get_parts(geoms[i])), (3, 6)).any())
    return out


def _xy(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[F64, F64]:
    for name, v in (("lon", lon), ("lat", lat)):
        # numpy would drop the imaginary part with only a warning: a complex coordinate is a caller's bug.
        if np.iscomplexobj(v):
            raise InputError("coordinates must be real numbers, not complex", field=name)
    try:
        x = np.ascontiguousarray(np.asarray(lon, dtype=np.float64).ravel())
        y = np.ascontiguousarray(np.asarray(lat, dtype=np.float64).ravel())
    except (TypeError, ValueError) as exc:
        raise InputError(f"coordinates must be numbers ({exc})", field="lon") from None
    if x.size != y.size:
        raise InputError(f"{x.size} longitudes but {y.size} latitudes", field="lat")
    return x, y


def _clean(x: F64, y: F64, normalize: bool) -> tuple[npt.NDArray[np.bool_], F64, F64]:
    with np.errstate(invalid="ignore"):
        oky = (y >= -90.0) & (y <= 90.0)
        okx = (x >= -180.0) & (x <= 180.0)
        if normalize:
            fin = np.isfinite(x)
            x = np.where(okx | ~fin, x, np.mod(x + 180.0, 360.0) - 180.0)
            okx = fin
    ok: npt.NDArray[np.bool_] = oky & okx
    return ok, x, y


def _bounds(n: int, threads: int) -> list[int]:
    t = max(1, min(int(threads), max(1, n // 100_000)))
    return [round(i * n / t) for i in range(t + 1)]


def _chunked(run: Any, n: int, threads: int) -> list[int]:
    b = _bounds(n, threads)
    if len(b) <= 2:
        return [run(slice(0, n))]
    with ThreadPoolExecutor(len(b) - 1) as ex:
        return list(ex.map(run, [slice(b[i], b[i + 1]) for i in range(len(b) - 1)]))


__all__ = ["F64", "I32", "I64", "ZoneIndex"]

# ZoneSetLike here was a protocol (``ids`` and ``geometries()``); the index now takes what every zones argument
# takes, `overflight.zones.ZoneSetLike`, so the one name means one thing.
__getattr__ = deprecated_names(__name__, {"ZoneSetLike": "overflight.zones:ZoneSetLike"})
