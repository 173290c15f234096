"""Transit analysis: for every track and every zone it passes through, when and where it entered and left.

Definitions (issue 4):

* Between two fixes a track follows the WGS84 geodesic at constant speed: positions are found along the
  geodesic (densified to ``step_m``) and times are interpolated linearly in distance along it.
* A crossing point lies on the zone border: each densified step whose two ends are in different zones is
  intersected exactly with the border edges of the zones concerned.
* A visit starts with a border crossing (``entry_kind="crossing"``) or with the first fix of a track that lies
  inside the zone (``"track_start"``), and ends with a crossing or with the last fix (``"track_end"``).
* ``observed`` is False when the entry or exit crossing falls between two fixes further apart in time than
  ``max_gap``: the path there is not known, so the visit is for prism reasoning, not a statement of fact.
* Zones with a floor and/or ceiling are inside only when the (linearly interpolated) altitude is within
  them; climbing or descending through a floor or ceiling inside the zone's area is an entry or an exit.
  A fix without altitude (NaN) is not tested against floors and ceilings (its horizontal position decides).
* Zones with a validity period (``valid_from``, ``valid_to``: a temporary restriction, a declared exercise
  area) are inside only during ``[valid_from, valid_to)``. A track already inside when the period starts
  enters then (``entry_kind="valid_from"``, at its interpolated position), and one still inside when it ends
  leaves then (``exit_kind="valid_to"``); crossings and track starts outside the period do not count.
* ``disputed`` is True when, during the visit, the track is inside another zone of kind ``state`` at the
  same time (an overlap of claims such as Crimea in an OSM-derived set): both visits carry the flag. Regions
  (kind ``admin1``, as in ``ne-admin1``) are compared with regions the same way.

The work is columnar: one inverse geodesic call for all segments, one point-in-zone call for the track
starts, one :meth:`ZoneIndex.crossings` call (geodesic densification and the exact border test, compiled)
for all segments, and numpy/pandas grouping of the events into visits. :class:`TransitState` carries each
track's last fix and open visits from one chunk to the next, so that a file streamed in chunks gives the
same rows as the whole file at once.

Size: about 720 lines, over the ~600 of the charter, because the engine's event stages (crossings, floors and
ceilings, validity periods, pairing into visits) share one chunk's arrays and the streaming state; splitting
them waits until the streaming work built on this module (transit_stream) has settled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from overflight._deprecated import deprecated_names
from overflight.analysis.crossing_times import with_brackets
from overflight.analysis.transit_cells import may_cross_rows
from overflight.analysis.transit_geodesy import group_cumsum, short_lengths
from overflight.errors import InputError
from overflight.geodesy import direct, inverse
from overflight.tracks.table import factorize_sorted
from overflight.units import DistanceLike, DurationLike, parse_distance, parse_duration
from overflight.zones import ZoneSet, ZoneSetLike, as_zoneset

__all__ = ["VISIT_COLUMNS", "TransitResult", "TransitState", "parse_max_gap", "summarize_transit", "transit"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

VISIT_COLUMNS: tuple[str, ...] = (
    "track_id", "zone_id", "entry_time", "entry_lon", "entry_lat", "exit_time", "exit_lon", "exit_lat",
    "duration_s", "distance_m", "entry_kind", "exit_kind", "observed", "disputed",
)

_NS = 1_000_000_000
_KEY_EPS = 1e-9  # events closer than this (in segment units) are the same place: a seam, a vertex hit


class Locator(Protocol):
    """What transit needs from a zone index.

    Every (point, zone) membership and the border crossings of geodesic segments
    (:class:`overflight.index.ZoneIndex` is the one implementation; the tests hold a shapely reference with the same
    two methods). ``crossings`` gets each segment's geodesic ``length_m``; its ``azimuth`` is NaN for segments
    shorter than ``densify_m`` (one piece, never cut: the azimuth is not computed for them).
    """

    def locate_all(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Any, Any]: ...

    def crossings(self, lon1: npt.ArrayLike, lat1: npt.ArrayLike, lon2: npt.ArrayLike, lat2: npt.ArrayLike, *,
                  densify_m: float, azimuth: npt.ArrayLike, length_m: npt.ArrayLike) -> Any: ...


def _default_locator(zones: ZoneSet) -> Locator:
    from overflight import boundaries
    from overflight.index import ZoneIndex

    # A shipped boundary set is indexed once and loaded from the on-disk cache afterwards.
    named = zones.provenance.name in boundaries.names()
    idx: Locator = ZoneIndex.cached(zones) if named else ZoneIndex(zones)
    return idx


def _wrap(lon: FloatArray) -> FloatArray:
    # Longitudes already in [-180, 180) stay bit-identical: (x + 180) % 360 - 180 rounds, and a point on a
    # border moved by one ulp can change zone (the membership rule decides the given coordinates).
    lon = np.asarray(lon, dtype=np.float64)
    inside = (lon >= -180.0) & (lon < 180.0)
    if inside.all():
        return lon
    out: FloatArray = np.where(inside, lon, (lon + 180.0) % 360.0 - 180.0)
    return out


# --------------------------------------------------------------------------------------------- state

class LastFixes:
    """Each track's last fix (time_ns, lon, lat, alt_m, cum_m): a slot per track id, columns as numpy arrays.

    Looked up and updated once per chunk for the few thousand tracks it holds (a pandas frame indexed by id
    cost more in fixed overhead per chunk than the lookups themselves).
    """

    def __init__(self) -> None:
        self.slot: dict[str, int] = {}
        self.time_ns = np.zeros(0, np.int64)
        self.lon = np.zeros(0)
        self.lat = np.zeros(0)
        self.alt_m = np.zeros(0)
        self.cum_m = np.zeros(0)

    def __len__(self) -> int:
        return len(self.slot)

    def find(self, ids: npt.NDArray[np.object_]) -> IntArray:
        """The slot of each id, -1 for a track not seen before."""
        get = self.slot.get
        return np.fromiter((get(k, -1) for k in ids.tolist()), dtype=np.int64, count=len(ids))

    def put(self, ids: npt.NDArray[np.object_], time_ns: IntArray, lon: FloatArray, lat: FloatArray,
            alt_m: FloatArray, cum_m: FloatArray) -> None:
        """Set the last fix of tracks ``ids`` (distinct), adding slots for new ones."""
        pos = self.find(ids)
        new = np.flatnonzero(pos < 0)
        if len(new):
            n0 = len(self.slot)
            pos[new] = np.arange(n0, n0 + len(new))
            self.slot.update(zip(ids[new].tolist(), range(n0, n0 + len(new)), strict=True))
            if n0 + len(new) > len(self.time_ns):  # grow by doubling: a copy per doubling, not per chunk
                cap = max(2 * len(self.time_ns), n0 + len(new), 1024)
                for name in ("time_ns", "lon", "lat", "alt_m", "cum_m"):
                    old = getattr(self, name)
                    grown = np.zeros(cap, dtype=old.dtype)
                    grown[:len(old)] = old
                    setattr(self, name, grown)
        self.time_ns[pos] = time_ns
        self.lon[pos] = lon
        self.lat[pos] = lat
        self.alt_m[pos] = alt_m
        self.cum_m[pos] = cum_m


@dataclass
class TransitState:
    """What one chunk hands to the next: each track's last fix and its open visits.

    ``last`` holds each track's last fix (:class:`LastFixes`); ``open`` the visits not yet closed, one per
    (track, zone), as columns (numpy arrays: track_id, zone, and the entry fields of the raw visit rows).
    """

    last: LastFixes = field(default_factory=LastFixes)
    open: dict[str, np.ndarray] = field(default_factory=lambda: _empty_open_cols())
    n_fixes: int = 0


_OPEN_COLS = ("track_id", "zone", "entry_ns", "entry_lon", "entry_lat", "entry_cum", "entry_kind", "entry_obs")
# The fixes that bracket an entry or exit (the last fix at or before it, the first at or after it): each event
# lies on one segment of its track (or at a fix), so its brackets are that segment's ends, found while the
# chunk's fixes are at hand (no second read of the file; see overflight.analysis.crossing_times).
_BRACKET_SUFFIXES = ("before_ns", "before_lon", "before_lat", "after_ns", "after_lon", "after_lat")
_ENTRY_BRACKETS = tuple(f"entry_{c}" for c in _BRACKET_SUFFIXES)
_EXIT_BRACKETS = tuple(f"exit_{c}" for c in _BRACKET_SUFFIXES)


def _empty_open() -> pd.DataFrame:
    return pd.DataFrame({
        "track_id": pd.Series([], dtype=object), "zone": pd.Series([], dtype=np.int64),
        "entry_ns": pd.Series([], dtype=np.int64), "entry_lon": pd.Series([], dtype=float),
        "entry_lat": pd.Series([], dtype=float), "entry_cum": pd.Series([], dtype=float),
        "entry_kind": pd.Series([], dtype=object), "entry_obs": pd.Series([], dtype=bool),
        **_empty_brackets("entry"),
    })


def _empty_open_cols() -> dict[str, np.ndarray]:
    return {c: np.zeros(0, dtype=_RAW_DTYPES[c]) for c in _OPEN_ALL}


def _take(cols: dict[str, np.ndarray], i: IntArray | npt.NDArray[np.bool_]) -> dict[str, np.ndarray]:
    return {k: v[i] for k, v in cols.items()}


def _concat_cols(parts: list[dict[str, np.ndarray]], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    return {c: np.concatenate([p[c] for p in parts]) if len(parts) > 1 else parts[0][c] for c in names}


def _n_rows(cols: dict[str, np.ndarray]) -> int:
    return len(cols["track_id"])


def raw_frame(cols: dict[str, np.ndarray]) -> pd.DataFrame:
    """Raw visit rows as columns -> the engine's raw frame (the columns of :func:`_empty_raw`)."""
    if _n_rows(cols) == 0:
        return _empty_raw()
    return pd.DataFrame({c: cols[c] for c in _RAW_COLS})


def _empty_brackets(side: str) -> dict[str, pd.Series]:
    return {f"{side}_{c}": pd.Series([], dtype=np.int64 if c.endswith("_ns") else float) for c in _BRACKET_SUFFIXES}


# --------------------------------------------------------------------------------------------- engine

class TransitEngine:
    """Turns chunks of fixes into closed visits, carrying state between chunks (see :func:`transit`)."""

    def __init__(
        self, zones: ZoneSet, *, max_gap_s: DurationLike = 600.0, step_m: DistanceLike = 5000.0,
        index: Locator | None = None
    ) -> None:
        # seconds and metres, or text with a unit ("10min", "5km"), as everywhere in the library
        max_gap_s = parse_max_gap(max_gap_s)
        step_m = parse_distance(step_m, field="step_m")
        if not step_m > 0:
            raise InputError(f"step must be a positive distance, not {step_m!r}", field="step_m")
        self.zones = zones
        self.max_gap_ns = max_gap_s * _NS
        self.max_gap_s = max_gap_s
        self.step_m = float(step_m)
        self.index: Locator = index if index is not None else _default_locator(zones)
        self.ids = np.array(zones.ids, dtype=object)
        self.kinds = np.array([z.kind for z in zones], dtype=object)
        floor = np.array([np.nan if z.floor_m is None else z.floor_m for z in zones], dtype=float)
        ceil = np.array([np.nan if z.ceiling_m is None else z.ceiling_m for z in zones], dtype=float)
        self.floor = np.where(np.isnan(floor), -np.inf, floor)
        self.ceiling = np.where(np.isnan(ceil), np.inf, ceil)
        self.limited = np.flatnonzero(np.isfinite(self.floor) | np.isfinite(self.ceiling))
        # Validity periods in ns since the epoch (open ends as the int64 extremes).
        lo, hi = np.iinfo(np.int64).min, np.iinfo(np.int64).max
        self.valid_from = np.array([lo if z.valid_from is None else pd.Timestamp(z.valid_from).value for z in zones],
                                   dtype=np.int64)
        self.valid_to = np.array([hi if z.valid_to is None else pd.Timestamp(z.valid_to).value for z in zones],
                                 dtype=np.int64)
        self.timed = np.flatnonzero((self.valid_from != lo) | (self.valid_to != hi))
        self.state = TransitState()

    # -- helpers -------------------------------------------------------------------------------------
    def _alt_ok(self, alt: FloatArray, zone: IntArray) -> npt.NDArray[np.bool_]:
        """Altitude within the zone's floor/ceiling (NaN altitude: not tested)."""
        ok: npt.NDArray[np.bool_] = np.isnan(alt) | ((alt >= self.floor[zone]) & (alt <= self.ceiling[zone]))
        return ok

    def _contains(self, lon: FloatArray, lat: FloatArray) -> tuple[IntArray, IntArray]:
        if len(lon) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        p, z = self.index.locate_all(_wrap(np.asarray(lon, dtype=float)), np.asarray(lat, dtype=float))
        return np.asarray(p, dtype=np.int64), np.asarray(z, dtype=np.int64)

    def _segments(self, lon: FloatArray, lat: FloatArray, a: IntArray, b: IntArray) -> tuple[FloatArray, FloatArray]:
        """Azimuth and geodesic length of the segments ``a[k] -> b[k]``.

        Segments shorter than 0.9 of the densification step (nearly all: fixes seconds apart) are one piece in
        the crossings' densification, so their azimuth is never used (NaN here); their length comes from
        :func:`~overflight.analysis.transit_geodesy.short_lengths` (the chord and the curvature, within a few
        units in the last place of the exact geodesic). The others are solved by pyproj (GeographicLib).
        """
        seg_len = short_lengths(lon, lat, a, b, limit_m=0.9 * self.step_m)
        az = np.full(len(a), np.nan)
        need = np.flatnonzero(np.isnan(seg_len))
        if len(need):
            az_n, _, len_n = inverse(lon[a[need]], lat[a[need]], lon[b[need]], lat[b[need]])
            az[need] = az_n
            seg_len[need] = len_n
        return az, seg_len

    def _exact(self, lon: FloatArray, lat: FloatArray, s: IntArray) -> tuple[FloatArray, FloatArray]:
        """Azimuth and length by pyproj of the segments starting at fixes ``s`` (for positions along them)."""
        az, _, ln = inverse(lon[s], lat[s], lon[s + 1], lat[s + 1])
        return np.asarray(az, np.float64), np.asarray(ln, np.float64)

    # -- one chunk -----------------------------------------------------------------------------------
    def feed(self, tracks: pd.DataFrame) -> pd.DataFrame:
        """Process the next chunk of fixes (any order of tracks; each track's fixes in time order across chunks).

        Returns the visits closed by this chunk (raw form; see :meth:`finish` for the rest).
        """
        return raw_frame(self.feed_columns(tracks))

    def feed_columns(self, tracks: pd.DataFrame) -> dict[str, np.ndarray]:
        """:meth:`feed`, the visits as columns (numpy arrays by raw column name: no frame per chunk)."""
        if len(tracks) == 0:
            return {c: np.zeros(0, dtype=_RAW_DTYPES[c]) for c in _RAW_COLS}
        _check_tracks(tracks)
        st = self.state
        st.n_fixes += len(tracks)
        ids = tracks["track_id"]
        if not isinstance(ids.dtype, pd.CategoricalDtype) and (
                ids.dtype == object or not pd.api.types.is_string_dtype(ids.dtype)):
            ids = ids.astype(str)
        # Integer codes of the chunk's ids in sorted order: Arrow's dictionary encoding for Arrow-backed text,
        # never a Python string per fix.
        c_codes, uniq_ids = factorize_sorted(ids)
        t_ns = _time_ns(tracks["time"])
        lon = tracks["lon"].to_numpy(dtype=np.float64)
        lat = tracks["lat"].to_numpy(dtype=np.float64)
        alt = (tracks["alt_m"].to_numpy(dtype=np.float64) if "alt_m" in tracks.columns
               else np.full(len(tracks), np.nan))
        # Prepend the carried last fix of every track of this chunk seen before, so segments span chunk borders.
        pos = st.last.find(uniq_ids) if len(st.last) else np.full(len(uniq_ids), -1, dtype=np.int64)
        carry_codes = np.flatnonzero(pos >= 0)
        cp = pos[carry_codes]
        n_c = len(cp)
        c_codes = np.asarray(c_codes, dtype=np.int64)
        merged = _merge_grouped(c_codes, t_ns, carry_codes, st.last.time_ns[cp])
        if merged is not None:
            # Rows grouped by track already (the validator hands them so, each track in time order): the
            # carried fixes go in front of their tracks' rows, the order a sort would give, with no sort.
            codes, t_ns, keep = merged
            lon, lat, alt = (_put_carried(v, c, keep) for v, c in
                             ((lon, st.last.lon[cp]), (lat, st.last.lat[cp]), (alt, st.last.alt_m[cp])))
            is_carry = ~keep
        else:
            codes = np.concatenate([carry_codes, c_codes])
            t_ns = np.concatenate([st.last.time_ns[cp], t_ns])
            lon = np.concatenate([st.last.lon[cp], lon])
            lat = np.concatenate([st.last.lat[cp], lat])
            alt = np.concatenate([st.last.alt_m[cp], alt])
            is_carry = np.zeros(len(codes), dtype=bool)
            is_carry[:n_c] = True
            order, sorted_ct = _track_time_order(codes, t_ns, is_carry, sorted_out=True)
            codes, t_ns = sorted_ct if sorted_ct is not None else (codes[order], t_ns[order])
            lon, lat, alt, is_carry = lon[order], lat[order], alt[order], is_carry[order]
        n = len(codes)
        first = np.ones(n, dtype=bool)
        first[1:] = codes[1:] != codes[:-1]
        last = np.ones(n, dtype=bool)
        last[:-1] = first[1:]
        if n_c:
            bad = is_carry & ~first
            if bad.any():  # a fix earlier than the carried one: the stream is not in time order
                i = int(np.flatnonzero(bad)[0])
                raise InputError(f"track {uniq_ids[codes[i]]!r} goes back in time across a chunk border",
                                 field="time")
        has_seg = ~last
        s_idx = np.flatnonzero(has_seg)  # segment k runs from fix s_idx[k] to s_idx[k] + 1
        a, b = s_idx, s_idx + 1
        az, seg_len = self._segments(lon, lat, a, b)
        full_len = np.zeros(n)
        full_len[a] = seg_len
        # Cumulative path length per track, starting from the carried value (same order of sums as a whole run).
        # each row adds the previous row's segment; a track's first row starts from 0, or from the carried value
        # (carried fixes are first rows: checked above)
        incr = np.empty(n)
        incr[1:] = full_len[:-1]
        incr[first] = 0.0
        if n_c:
            incr[is_carry] = st.last.cum_m[pos[codes[is_carry]]]
        cum = group_cumsum(incr, first)  # pandas' groupby cumsum bit for bit (rows are grouped by track)
        gap = np.zeros(n, dtype=bool)
        gap[:-1] = (t_ns[1:] - t_ns[:-1]) > self.max_gap_ns  # segment a -> a + 1 (b = a + 1): no gathers
        gap &= has_seg

        ev: list[dict[str, np.ndarray]] = []
        # Track starts: a new track's first fix inside a zone.
        new_first = np.flatnonzero(first & ~is_carry)
        if len(new_first):
            p, z = self._contains(lon[new_first], lat[new_first])
            r = new_first[p]
            ok = self._alt_ok(alt[r], z)
            r, z = r[ok], z[ok]
            ev.append(dict(row=r, frac=np.zeros(len(r)) - 0.5, zone=z, dir=np.ones(len(r), np.int64),
                           lon=lon[r], lat=lat[r], start=np.ones(len(r), bool)))
        if len(s_idx):
            ev.append(self._horizontal(s_idx, lon, lat, az, seg_len, alt))
            if len(self.limited):
                ev.append(self._vertical(s_idx, lon, lat, az, seg_len, alt))
        if len(self.timed):
            ev = [self._in_period(_concat_events(ev), t_ns)]
            if len(s_idx):
                ev.append(self._period_bounds(s_idx, t_ns, lon, lat, az, seg_len, alt))
        events = _concat_events(ev)
        closed = self._pair(events, codes, uniq_ids, t_ns, lon, lat, alt, np.asarray(cum, dtype=np.float64), gap,
                            full_len, first, is_carry)
        # Carry the last fix of each track.
        li = np.flatnonzero(last)
        st.last.put(uniq_ids[codes[li]], t_ns[li], lon[li], lat[li], alt[li], cum[li])
        return closed

    def _horizontal(self, s_idx: IntArray, lon: FloatArray, lat: FloatArray, az: FloatArray,
                          seg_len: FloatArray, alt: FloatArray) -> dict[str, np.ndarray]:
        """Border crossings from the zone index's own segment classifier (geodesic pieces of ``step_m``)."""
        grid = getattr(self.index, "grid", None)
        sent: IntArray | None = None
        if grid is not None and hasattr(grid, "lsum"):
            # Only segments whose cells a border passes through can cross one (exact: see transit_cells); their
            # ends are read in place from the (wrapped: as the crossings get them) fixes, and only the few
            # segments sent are gathered.
            lon_w = _wrap(lon)
            sent = np.flatnonzero(may_cross_rows(grid, lon_w, lat, s_idx, seg_len, self.step_m))
            a, b = s_idx[sent], s_idx[sent] + 1
            x1, y1, x2, y2, az, seg_len = lon_w[a], lat[a], lon_w[b], lat[b], az[sent], seg_len[sent]
        else:
            a, b = s_idx, s_idx + 1
            x1, y1, x2, y2 = _wrap(lon[a]), lat[a], _wrap(lon[b]), lat[b]
        c = self.index.crossings(x1, y1, x2, y2, densify_m=self.step_m, azimuth=az, length_m=seg_len)
        seg = np.asarray(c.segment, dtype=np.int64)
        if len(seg) == 0:
            return _no_events()
        if sent is not None:
            seg = sent[seg]
        frac = np.asarray(c.fraction, dtype=np.float64)
        zone = np.asarray(c.zone, dtype=np.int64)
        row = s_idx[seg]
        a_f = alt[row] + frac * (alt[row + 1] - alt[row])
        ok = self._alt_ok(a_f, zone)
        return dict(row=row[ok], frac=frac[ok], zone=zone[ok], dir=np.asarray(c.direction, np.int64)[ok],
                    lon=np.asarray(c.lon, np.float64)[ok], lat=np.asarray(c.lat, np.float64)[ok],
                    start=np.zeros(int(ok.sum()), bool))

    def _vertical(self, s_idx: IntArray, lon: FloatArray, lat: FloatArray, az: FloatArray, seg_len: FloatArray,
                  alt: FloatArray) -> dict[str, np.ndarray]:
        """Climbs and descents through a zone's floor or ceiling, where the track is inside its area."""
        a0, a1 = alt[s_idx], alt[s_idx + 1]
        parts: list[dict[str, np.ndarray]] = []
        for bound_arr, up_enters in ((self.floor, True), (self.ceiling, False)):
            for z in self.limited:  # one pass per limited zone, vectorised over segments
                bnd = bound_arr[z]
                if not np.isfinite(bnd):
                    continue
                if up_enters:  # floor: inside from the floor up (inclusive)
                    cross = ((a0 < bnd) & (a1 >= bnd)) | ((a0 >= bnd) & (a1 < bnd))
                else:  # ceiling: inside up to the ceiling (inclusive)
                    cross = ((a0 <= bnd) & (a1 > bnd)) | ((a0 > bnd) & (a1 <= bnd))
                k = np.flatnonzero(cross)
                if len(k) == 0:
                    continue
                f = (bnd - a0[k]) / (a1[k] - a0[k])
                az_k, len_k = self._exact(lon, lat, s_idx[k])
                x, y, _ = direct(lon[s_idx[k]], lat[s_idx[k]], az_k, f * len_k)
                x, y = np.asarray(x, float), np.asarray(y, float)
                p, zz = self._contains(x, y)
                inside = np.zeros(len(k), dtype=bool)
                inside[p[zz == z]] = True
                # The other limit must hold at that height too.
                other_ok = (bnd >= self.floor[z]) & (bnd <= self.ceiling[z])
                if not other_ok:
                    continue
                k, f, x, y = k[inside], f[inside], x[inside], y[inside]
                rising = a1[k] > a0[k]
                d = np.where(rising == up_enters, 1, -1).astype(np.int64)
                parts.append(dict(row=s_idx[k], frac=f, zone=np.full(len(k), z, np.int64), dir=d, lon=x, lat=y,
                                  start=np.zeros(len(k), bool)))
        return _concat_events(parts)

    def _in_period(self, events: dict[str, np.ndarray], t_ns: IntArray) -> dict[str, np.ndarray]:
        """Drop the events of timed zones that happen outside the zone's validity period."""
        zone = events["zone"]
        if len(zone) == 0:
            return events
        t = _event_ns(events, t_ns)
        keep = np.ones(len(zone), dtype=bool)
        for z in np.intersect1d(zone, self.timed):  # the one validity rule, [valid_from, valid_to)
            m = zone == z
            keep[m] = self.zones[int(z)].active_at(t[m])
        return {k: v[keep] for k, v in events.items()}

    def _period_bounds(self, s_idx: IntArray, t_ns: IntArray, lon: FloatArray, lat: FloatArray, az: FloatArray,
                       seg_len: FloatArray, alt: FloatArray) -> dict[str, np.ndarray]:
        """Entries when a zone's period starts, and exits when it ends, for tracks inside it at that moment."""
        t0, t1 = t_ns[s_idx], t_ns[s_idx + 1]
        parts: list[dict[str, np.ndarray]] = []
        for z in self.timed:  # one pass per timed zone, vectorised over segments
            for bound, d in ((self.valid_from[z], 1), (self.valid_to[z], -1)):
                k = np.flatnonzero((t0 < bound) & (t1 >= bound))
                if len(k) == 0:
                    continue
                # Constant speed along the geodesic: the time fraction is the distance fraction.
                f = (bound - t0[k]).astype(np.float64) / (t1[k] - t0[k]).astype(np.float64)
                az_k, len_k = self._exact(lon, lat, s_idx[k])
                x, y, _ = direct(lon[s_idx[k]], lat[s_idx[k]], az_k, f * len_k)
                x, y = np.asarray(x, float), np.asarray(y, float)
                p, zz = self._contains(x, y)
                inside = np.zeros(len(k), dtype=bool)
                inside[p[zz == z]] = True
                row = s_idx[k]
                a_f = alt[row] + f * (alt[row + 1] - alt[row])
                inside &= self._alt_ok(a_f, np.full(len(k), z, np.int64))
                k, f, x, y = k[inside], f[inside], x[inside], y[inside]
                parts.append(dict(row=s_idx[k], frac=f, zone=np.full(len(k), z, np.int64),
                                  dir=np.full(len(k), d, np.int64), lon=_wrap(x), lat=y,
                                  start=np.zeros(len(k), bool), why=np.ones(len(k), np.int8)))
        return _concat_events(parts)

    def _pair(self, events: dict[str, np.ndarray], codes: IntArray, uniq_ids: npt.NDArray[np.object_],
              t_ns: IntArray, lon: FloatArray, lat: FloatArray, alt: FloatArray, cum: FloatArray,
              gap: npt.NDArray[np.bool_], full_len: FloatArray, first: npt.NDArray[np.bool_],
              is_carry: npt.NDArray[np.bool_]) -> dict[str, np.ndarray]:
        """Group events into visits per (track, zone).

        Keep the first of each run of equal directions, pair each entry with the next exit, and close visits
        carried open from earlier chunks.
        """
        st = self.state
        nz = len(self.ids)
        row = events["row"]
        trk = codes[row] if len(row) else np.zeros(0, np.int64)
        key = row + events["frac"]
        g = trk.astype(np.int64) * nz + events["zone"]
        o = np.lexsort((key, g))
        ev = {k: v[o] for k, v in events.items()}
        g, key, trk = g[o], key[o], trk[o]
        dirn = ev["dir"]
        # Initial state per group: inside when a visit is carried open.
        open_prev = st.open
        uniq_index = pd.Index(uniq_ids)
        n_open = _n_rows(open_prev)
        if n_open:
            oc = uniq_index.get_indexer(pd.Index(open_prev["track_id"]))
            here = oc >= 0
            open_g = oc[here].astype(np.int64) * nz + open_prev["zone"][here]
        else:
            here = np.zeros(0, dtype=bool)
            open_g = np.zeros(0, np.int64)
        open_g_sorted = np.sort(open_g)
        # A leave and an enter of the same zone at the same place cancel (a zone split at ±180°, a touch).
        if len(g) > 1:
            same = (g[1:] == g[:-1]) & (np.abs(key[1:] - key[:-1]) < _KEY_EPS) & (dirn[1:] != dirn[:-1])
            drop = np.zeros(len(g), dtype=bool)
            idx = np.flatnonzero(same)
            # Avoid overlapping pairs (a, b), (b, c): drop only pairs whose left member is not already dropped.
            if len(idx):
                take = np.ones(len(idx), dtype=bool)
                take[1:] = idx[1:] != idx[:-1] + 1
                idx = idx[take]
                drop[idx] = True
                drop[idx + 1] = True
            keep = ~drop
            ev = {k: v[keep] for k, v in ev.items()}
            g, key, trk, dirn = g[keep], key[keep], trk[keep], dirn[keep]
        gfirst = np.ones(len(g), dtype=bool)
        gfirst[1:] = g[1:] != g[:-1]
        prev = np.empty(len(g), dtype=np.int64)
        prev[1:] = dirn[:-1]
        init_in = np.isin(g, open_g_sorted)
        prev[gfirst] = np.where(init_in[gfirst], 1, -1)
        keep = dirn != prev
        ev = {k: v[keep] for k, v in ev.items()}
        g, key, trk, dirn = g[keep], key[keep], trk[keep], dirn[keep]
        row = ev["row"]
        is_start = ev["start"]
        fr = np.clip(ev["frac"], 0.0, 1.0)
        ev_ns = _event_ns(ev, t_ns)
        ev_cum = np.where(is_start, cum[row], cum[row] + fr * full_len[row])
        ev_obs = np.where(is_start, True, ~gap[row])
        ev_kind = np.where(is_start, "track_start", np.where(
            ev["why"] == 1, np.where(dirn == 1, "valid_from", "valid_to"), "crossing")).astype(object)
        ev_lon, ev_lat = ev["lon"], ev["lat"]
        ev_br = _event_brackets(row, is_start, ev_ns, t_ns, lon, lat)
        # Pairs within this chunk: an enter followed by a leave of the same group.
        nxt_same = np.zeros(len(g), dtype=bool)
        nxt_same[:-1] = g[1:] == g[:-1]
        e_i = np.flatnonzero((dirn == 1) & nxt_same)
        x_i = e_i + 1
        # Exits of visits carried open: the first event of their group is a leave.
        gfirst = np.ones(len(g), dtype=bool)
        gfirst[1:] = g[1:] != g[:-1]
        c_x = np.flatnonzero((dirn == -1) & gfirst)
        # Entries left open: an enter that is the last event of its group.
        o_i = np.flatnonzero((dirn == 1) & ~nxt_same)
        frames: list[dict[str, np.ndarray]] = []
        if len(e_i):
            frames.append({
                "track_id": uniq_ids[trk[e_i]], "zone": g[e_i] % nz,
                "entry_ns": ev_ns[e_i], "entry_lon": ev_lon[e_i], "entry_lat": ev_lat[e_i],
                "entry_cum": ev_cum[e_i], "entry_kind": ev_kind[e_i], "entry_obs": ev_obs[e_i],
                "exit_ns": ev_ns[x_i], "exit_lon": ev_lon[x_i], "exit_lat": ev_lat[x_i], "exit_cum": ev_cum[x_i],
                "exit_kind": ev_kind[x_i], "exit_obs": ev_obs[x_i],
            } | _take_brackets(ev_br, "entry", e_i) | _take_brackets(ev_br, "exit", x_i))
        # Close carried open visits.
        remaining = open_prev
        if len(c_x):
            closing_g = g[c_x]
            # open_g is unique (one open visit per track and zone): the open visit of each closing group
            srt = np.argsort(open_g, kind="stable")
            j = np.minimum(np.searchsorted(open_g[srt], closing_g), max(len(open_g) - 1, 0))
            ok = (open_g[srt][j] == closing_g) if len(open_g) else np.zeros(len(c_x), dtype=bool)
            c_x, pos_here = c_x[ok], srt[j[ok]]
            rows_open = np.flatnonzero(here)[pos_here]
            frames.append(_take(open_prev, rows_open) | {
                "exit_ns": ev_ns[c_x], "exit_lon": ev_lon[c_x], "exit_lat": ev_lat[c_x], "exit_cum": ev_cum[c_x],
                "exit_kind": ev_kind[c_x], "exit_obs": ev_obs[c_x]} | _take_brackets(ev_br, "exit", c_x))
            keep_open = np.ones(n_open, dtype=bool)
            keep_open[rows_open] = False
            remaining = _take(open_prev, keep_open)
        new_open = {
            "track_id": uniq_ids[trk[o_i]], "zone": g[o_i] % nz, "entry_ns": ev_ns[o_i], "entry_lon": ev_lon[o_i],
            "entry_lat": ev_lat[o_i], "entry_cum": ev_cum[o_i], "entry_kind": ev_kind[o_i], "entry_obs": ev_obs[o_i],
        } | _take_brackets(ev_br, "entry", o_i)
        parts = [x for x in (remaining, new_open) if _n_rows(x)]
        st.open = _concat_cols(parts, _OPEN_ALL) if parts else _empty_open_cols()
        frames = [f for f in frames if _n_rows(f)]
        if not frames:
            return {c: np.zeros(0, dtype=_RAW_DTYPES[c]) for c in _RAW_COLS}
        return _concat_cols(frames, _RAW_COLS)

    def finish(self) -> pd.DataFrame:
        """Close the visits still open at the end of their tracks (exit_kind ``track_end``)."""
        return raw_frame(self.finish_columns())

    def finish_columns(self) -> dict[str, np.ndarray]:
        """:meth:`finish`, the visits as columns."""
        st = self.state
        op = st.open
        st.open = _empty_open_cols()
        n = _n_rows(op)
        if n == 0:
            return {c: np.zeros(0, dtype=_RAW_DTYPES[c]) for c in _RAW_COLS}
        pos = st.last.find(op["track_id"])
        if (pos < 0).any():
            raise KeyError(str(op["track_id"][pos < 0][0]))
        t, x, y = st.last.time_ns[pos], st.last.lon[pos], st.last.lat[pos]
        # A track's end is its last fix: that fix brackets the exit on both sides.
        return {**op, "exit_ns": t, "exit_lon": x, "exit_lat": y, "exit_cum": st.last.cum_m[pos],
                "exit_kind": np.full(n, "track_end", dtype=object), "exit_obs": np.ones(n, dtype=bool),
                "exit_before_ns": t, "exit_before_lon": x, "exit_before_lat": y, "exit_after_ns": t,
                "exit_after_lon": x, "exit_after_lat": y}

    def visits(self, raw: pd.DataFrame, *, brackets: bool = False) -> pd.DataFrame:
        """Public visit table from raw closed visits (sorted, with durations, distances and dispute flags).

        ``brackets``: add the bracketing fixes and crossing time ranges
        (:data:`overflight.analysis.crossing_times.BRACKET_COLUMNS`, as ``bracket_visits`` gives them).
        """
        return _finish_visits(raw, self.ids, self.kinds, brackets_gap_s=self.max_gap_s if brackets else None)

    def provenance(self) -> dict[str, Any]:
        prov = self.zones.provenance.as_dict()
        prov["parameters"] = {"max_gap_s": self.max_gap_s, "step_m": self.step_m,
                              "locator": type(self.index).__name__,
                              "crossings": f"{type(self.index).__name__}.crossings", "n_zones": len(self.zones),
                              "n_fixes": self.state.n_fixes, "n_tracks": len(self.state.last)}
        return prov


def _event_ns(events: dict[str, np.ndarray], t_ns: IntArray) -> IntArray:
    """Time of each event: its fix's for a track start, else interpolated along its segment."""
    row = events["row"]
    nxt = np.minimum(row + 1, len(t_ns) - 1)
    fr = np.where(events["start"], 0.0, np.clip(events["frac"], 0.0, 1.0))
    out: IntArray = t_ns[row] + np.round((t_ns[nxt] - t_ns[row]).astype(np.float64) * fr).astype(np.int64)
    return out


def _put_carried(v: npt.NDArray[Any], carried: npt.NDArray[Any], keep: npt.NDArray[np.bool_]) -> npt.NDArray[Any]:
    """``v`` with the ``carried`` values at the rows where ``keep`` is False (in their order)."""
    out = np.empty(len(keep), dtype=v.dtype)
    out[keep] = v
    out[~keep] = carried
    return out


def _merge_grouped(codes: IntArray, t_ns: IntArray, carry_codes: IntArray,
                   carry_t: IntArray) -> tuple[IntArray, IntArray, npt.NDArray[np.bool_]] | None:
    """Codes and times with each carried fix in front of its track's rows, when the rows are grouped already.

    ``codes`` non-decreasing and each track's times strictly increasing after its carried one: the rows in the
    order of :func:`_track_time_order` (a stable sort by track of the carried fixes, then the rows), and
    ``keep`` (False at the carried fixes). None for any other input: then the sort decides.
    """
    if len(codes) > 1 and not bool((codes[1:] >= codes[:-1]).all()):
        return None
    n_c = len(carry_codes)
    keep = np.ones(len(codes) + n_c, dtype=bool)
    # carried fix i lands before the first row of its track, after the i carried fixes ahead of it
    keep[np.searchsorted(codes, carry_codes, side="left") + np.arange(n_c)] = False
    c = _put_carried(codes, carry_codes, keep)
    t = _put_carried(t_ns, carry_t, keep)
    if len(c) > 1 and not bool(((t[1:] > t[:-1]) | (c[1:] != c[:-1])).all()):
        return None
    return c, t, keep


def _track_time_order(codes: IntArray, t_ns: IntArray, is_carry: npt.NDArray[np.bool_], *,
                      sorted_out: bool = False) -> Any:
    """The order of ``lexsort((~is_carry, t_ns, codes))``: by track, then time, a carried fix first.

    Validated chunks hold each track's fixes in time order (strictly increasing, the carried fix ahead of
    them), so a stable sort by track alone gives that order; that is checked, and any other input (rows in
    any order) is sorted on all three keys. ``sorted_out``: return ``(order, (codes[order], t_ns[order]))``,
    the second None when the three-key sort was needed (the check made those arrays already).
    """
    small = len(codes) == 0 or int(codes.max()) < np.iinfo(np.int16).max
    # numpy sorts 16-bit integers stably by radix sort: linear in the rows
    order: IntArray = np.argsort(codes.astype(np.int16) if small else codes, kind="stable")
    c, t = codes[order], t_ns[order]
    if len(c) < 2 or bool(((t[1:] > t[:-1]) | (c[1:] != c[:-1])).all()):
        return (order, (c, t)) if sorted_out else order
    out: IntArray = np.lexsort((~is_carry, t_ns, codes))
    return (out, None) if sorted_out else out


def _event_brackets(row: IntArray, is_start: npt.NDArray[np.bool_], ev_ns: IntArray, t_ns: IntArray,
                    lon: FloatArray, lat: FloatArray) -> dict[str, np.ndarray]:
    """The fix at or before each event and the fix at or after it (time ns, lon, lat).

    An event lies at a fix (a track start: both brackets are that fix) or on the segment from fix ``row`` to
    ``row + 1``, at a time between theirs; a track's times strictly increase (validated), so the last fix at or
    before the event is ``row + 1`` only when the event is at that fix's time, and the first fix at or after it
    is ``row`` only when the event is at ``row``'s time.
    """
    nxt = np.minimum(row + 1, len(t_ns) - 1)
    before = np.where(is_start | (ev_ns != t_ns[nxt]), row, nxt)
    after = np.where(is_start | (ev_ns == t_ns[row]), row, nxt)
    return {"before_ns": t_ns[before], "before_lon": lon[before], "before_lat": lat[before],
            "after_ns": t_ns[after], "after_lon": lon[after], "after_lat": lat[after]}


def _take_brackets(br: dict[str, np.ndarray], side: str, i: IntArray) -> dict[str, np.ndarray]:
    return {f"{side}_{k}": v[i] for k, v in br.items()}


def _no_events() -> dict[str, np.ndarray]:
    return dict(row=np.zeros(0, np.int64), frac=np.zeros(0), zone=np.zeros(0, np.int64),
                dir=np.zeros(0, np.int64), lon=np.zeros(0), lat=np.zeros(0), start=np.zeros(0, bool),
                why=np.zeros(0, np.int8))


def _concat_events(parts: Iterable[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    # ``why`` marks validity-period events (1); the other event sources leave it out (0).
    ps = [p if "why" in p else {**p, "why": np.zeros(len(p["row"]), np.int8)} for p in parts if len(p["row"])]
    if not ps:
        return _no_events()
    return {k: np.concatenate([p[k] for p in ps]) for k in ps[0]}


_RAW_COLS = (*_OPEN_COLS, *_ENTRY_BRACKETS, "exit_ns", "exit_lon", "exit_lat", "exit_cum", "exit_kind", "exit_obs",
             *_EXIT_BRACKETS)
_OPEN_ALL = (*_OPEN_COLS, *_ENTRY_BRACKETS)  # the columns of an open visit (TransitState.open)
_RAW_DTYPES: dict[str, Any] = {
    c: (object if c == "track_id" or c.endswith("_kind") else bool if c.endswith("_obs")
        else np.int64 if c == "zone" or c.endswith("_ns") else np.float64) for c in _RAW_COLS}


def _empty_raw() -> pd.DataFrame:
    df = _empty_open()
    df["exit_ns"] = pd.Series([], dtype=np.int64)
    for c in ("exit_lon", "exit_lat", "exit_cum"):
        df[c] = pd.Series([], dtype=float)
    df["exit_kind"] = pd.Series([], dtype=object)
    df["exit_obs"] = pd.Series([], dtype=bool)
    for c, v in _empty_brackets("exit").items():
        df[c] = v
    return df


def _time_ns(t: pd.Series) -> IntArray:
    if isinstance(t.dtype, pd.ArrowDtype) and getattr(t.dtype.pyarrow_dtype, "tz", None):
        t = t.astype("datetime64[ns, UTC]")  # pyarrow-backed timestamps (e.g. from traffic or parquet)
    if not isinstance(t.dtype, pd.DatetimeTZDtype):
        raise InputError("times must be timezone-aware (datetime64[ns, UTC]); read tracks with overflight.tracks",
                         field="time")
    return _ns(t)


def _ns(t: pd.Series) -> IntArray:
    """Nanoseconds since the epoch of a tz-aware datetime column (NaT: the int64 minimum)."""
    arr = t.array
    if isinstance(arr, pd.arrays.DatetimeArray):  # held as UTC nanoseconds whatever its zone: read them as they are
        out: IntArray = np.asarray(cast(Any, arr.as_unit("ns")).asi8, dtype=np.int64)
        return out
    out = t.dt.tz_convert("UTC").dt.tz_localize(None).dt.as_unit("ns").to_numpy("datetime64[ns]").view(np.int64)
    return out


def _check_tracks(df: pd.DataFrame) -> None:
    for c in ("track_id", "time", "lon", "lat"):
        if c not in df.columns:
            raise InputError(f"track table has no {c!r} column; columns are {', '.join(map(str, df.columns))}",
                             field=c)
    lon = df["lon"].to_numpy(dtype=np.float64)
    lat = df["lat"].to_numpy(dtype=np.float64)
    # four reductions, no temporaries: NaN makes min/max NaN and every comparison False (then the full test)
    if len(lon) and not (lon.min() >= -540.0 and lon.max() <= 540.0 and lat.min() >= -90.0 and lat.max() <= 90.0):
        bad = ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90.0) & (np.abs(lon) <= 540.0))
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"bad coordinate lon={lon[i]!r} lat={lat[i]!r}", row=i + 1, field="lon/lat")
    if df["time"].isna().any():
        i = int(np.flatnonzero(df["time"].isna().to_numpy())[0])
        raise InputError("missing time", row=i + 1, field="time")


def _finish_visits(raw: pd.DataFrame, ids: npt.NDArray[np.object_], kinds: npt.NDArray[np.object_], *,
                   brackets_gap_s: float | None = None) -> pd.DataFrame:
    if len(raw) == 0:
        raw = _empty_raw()
    zone = raw["zone"].to_numpy(np.int64)
    # (as datetime64[ns]: pandas reads bare int64 through its per-value object path, ~15 ms per 50k values)
    entry = pd.to_datetime(raw["entry_ns"].to_numpy(np.int64).view("M8[ns]"), utc=True).as_unit("ns")
    exit_ = pd.to_datetime(raw["exit_ns"].to_numpy(np.int64).view("M8[ns]"), utc=True).as_unit("ns")
    out = pd.DataFrame({
        "track_id": raw["track_id"].astype(str).to_numpy(dtype=object),
        "zone_id": ids[zone] if len(zone) else np.zeros(0, dtype=object),
        "entry_time": entry, "entry_lon": raw["entry_lon"].to_numpy(float),
        "entry_lat": raw["entry_lat"].to_numpy(float),
        "exit_time": exit_, "exit_lon": raw["exit_lon"].to_numpy(float), "exit_lat": raw["exit_lat"].to_numpy(float),
        "duration_s": (raw["exit_ns"].to_numpy(np.int64) - raw["entry_ns"].to_numpy(np.int64)) / 1e9,
        "distance_m": raw["exit_cum"].to_numpy(float) - raw["entry_cum"].to_numpy(float),
        "entry_kind": raw["entry_kind"].to_numpy(dtype=object), "exit_kind": raw["exit_kind"].to_numpy(dtype=object),
        "observed": raw["entry_obs"].to_numpy(bool) & raw["exit_obs"].to_numpy(bool),
        "disputed": np.zeros(len(raw), dtype=bool),
    })
    out["_ec"] = raw["entry_cum"].to_numpy(float)
    out["_xc"] = raw["exit_cum"].to_numpy(float)
    out["_state"] = kinds[zone] if len(zone) else np.zeros(0, dtype=object)
    order = np.arange(len(out))
    out["_k"] = order
    out = out.sort_values(["track_id", "entry_time", "_ec", "exit_time", "zone_id"], kind="stable")
    order = out["_k"].to_numpy(np.int64)
    out = out.reset_index(drop=True)
    _flag_disputed(out)
    out = out.drop(columns=["_ec", "_xc", "_state", "_k"])
    if brackets_gap_s is not None:
        found = {side: tuple(raw[f"{side}_{c}"].to_numpy(np.int64 if c.endswith("_ns") else float)[order]
                             for c in _BRACKET_SUFFIXES) for side in ("entry", "exit")}
        out = with_brackets(out, found, brackets_gap_s)
    return out


def _flag_disputed(v: pd.DataFrame) -> None:
    """Mark visits that overlap in time and path with a visit of the same track to another zone of one level.

    One level of claims: a state with a state, a region (kind ``admin1``, e.g. ne-admin1's Crimea) with a region.
    """
    for kind in ("state", "admin1"):
        _flag_disputed_kind(v, v[v["_state"] == kind])


def _flag_disputed_kind(v: pd.DataFrame, s: pd.DataFrame) -> None:
    if len(s) < 2:
        return
    tr = s["track_id"].to_numpy(dtype=object)
    e_ns = _ns(s["entry_time"])
    x_ns = _ns(s["exit_time"])
    e_c, x_c = s["_ec"].to_numpy(float), s["_xc"].to_numpy(float)
    # Already sorted by (track, entry): sweep with the running maximum exit of earlier visits.
    same_prev = np.zeros(len(s), dtype=bool)
    same_prev[1:] = tr[1:] == tr[:-1]
    grp = np.cumsum(~same_prev)
    prev_max_x = np.array(pd.Series(x_c).groupby(grp).cummax().shift(1), dtype=float)
    prev_max_t = np.array(pd.Series(x_ns).groupby(grp).cummax().shift(1), dtype=float)
    prev_max_x[~same_prev] = -np.inf
    prev_max_t[~same_prev] = -np.inf
    nxt_e = np.full(len(s), np.inf)
    nxt_t = np.full(len(s), np.inf)
    nxt_e[:-1] = np.where(same_prev[1:], e_c[1:], np.inf)
    nxt_t[:-1] = np.where(same_prev[1:], e_ns[1:], np.inf)
    # Overlap of more than 1 m of path or 1 s of time (touching along a shared border is no overlap).
    over = ((prev_max_x - e_c > 1.0) | (prev_max_t - e_ns > 1e9) | (x_c - nxt_e > 1.0) | (x_ns - nxt_t > 1e9))
    v.loc[s.index[over], "disputed"] = True


# --------------------------------------------------------------------------------------------- public API

@dataclass
class TransitResult:
    """Visits, per-track summaries and the provenance of a transit analysis.

    Attributes
    ----------
    visits : pandas.DataFrame
        One row per visit: ``track_id, zone_id, entry_time, entry_lon, entry_lat, exit_time, exit_lon,
        exit_lat, duration_s, distance_m, entry_kind, exit_kind, observed, disputed``.
    summary : pandas.DataFrame
        One row per track with at least one visit: ``track_id, n_visits, zones`` (ids in order, joined by
        ``" → "``), ``sequence`` (text such as ``"RUS 01:02–03:40 → KAZ 03:40–04:10"``), ``first_entry``,
        ``last_exit``, ``all_observed``, ``any_disputed`` and ``legs`` (a list of dicts zone_id / entry_time /
        exit_time / observed / disputed).
    provenance : dict
        The zone set's provenance (boundary set name, version, sha256, kind: land, land+territorial-sea or
        user) and the parameters of the run.
    """

    visits: pd.DataFrame
    summary: pd.DataFrame
    provenance: dict[str, Any]


def parse_max_gap(max_gap: str | float | int) -> float:
    """``"10min"`` or seconds -> seconds (InputError for anything else)."""
    try:
        s = parse_duration(max_gap)
    except InputError as exc:
        raise InputError(exc.reason, field="max_gap") from None
    if not s > 0:
        raise InputError(f"max_gap must be positive, not {max_gap!r}", field="max_gap")
    return s


def summarize_transit(visits: pd.DataFrame, *, tz: str = "UTC") -> pd.DataFrame:
    """Per-track ordered sequence of zones with entry and exit times.

    Times in ``sequence`` are shown as HH:MM in ``tz`` (with the date when the track spans several days).
    """
    cols = ["track_id", "n_visits", "zones", "sequence", "first_entry", "last_exit", "all_observed",
            "any_disputed", "legs"]
    if len(visits) == 0:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    v = visits.sort_values(["track_id", "entry_time", "exit_time"], kind="stable")
    et = v["entry_time"].dt.tz_convert(tz)
    xt = v["exit_time"].dt.tz_convert(tz)
    span = v.groupby("track_id", sort=False)["entry_time"].transform("min").dt.tz_convert(tz).dt.date != \
        v.groupby("track_id", sort=False)["exit_time"].transform("max").dt.tz_convert(tz).dt.date
    fmt_e = np.where(span, et.dt.strftime("%Y-%m-%d %H:%M"), et.dt.strftime("%H:%M"))
    fmt_x = np.where(span, xt.dt.strftime("%Y-%m-%d %H:%M"), xt.dt.strftime("%H:%M"))
    mark = np.where(v["observed"], "", "?") + np.where(v["disputed"], "*", "")
    leg_txt = v["zone_id"].astype(str) + mark + " " + fmt_e + "–" + fmt_x
    legs = [
        {"zone_id": z, "entry_time": e.isoformat(), "exit_time": x.isoformat(), "observed": bool(o),
         "disputed": bool(d)}
        for z, e, x, o, d in zip(v["zone_id"], v["entry_time"], v["exit_time"], v["observed"], v["disputed"],
                                 strict=True)
    ]
    tmp = pd.DataFrame({"track_id": v["track_id"].to_numpy(), "zone_id": v["zone_id"].to_numpy(),
                        "leg": leg_txt.to_numpy(), "entry_time": v["entry_time"].to_numpy(),
                        "exit_time": v["exit_time"].to_numpy(), "observed": v["observed"].to_numpy(),
                        "disputed": v["disputed"].to_numpy(), "legs": legs})
    g = tmp.groupby("track_id", sort=True)
    out = pd.DataFrame({
        "n_visits": g.size(),
        "zones": g["zone_id"].agg(" → ".join),
        "sequence": g["leg"].agg(" → ".join),
        "first_entry": g["entry_time"].min(),
        "last_exit": g["exit_time"].max(),
        "all_observed": g["observed"].all(),
        "any_disputed": g["disputed"].any(),
        "legs": g["legs"].agg(list),
    }).reset_index()
    return out[cols]


def transit(
    tracks: pd.DataFrame,
    zones: ZoneSetLike,
    *,
    max_gap: DurationLike = "10min",
    step_m: DistanceLike = 5000.0,
    index: Locator | None = None,
    tz: str = "UTC",
) -> TransitResult:
    """Every visit of every track to every zone, with exact entry and exit on the zone borders.

    Parameters
    ----------
    tracks : pandas.DataFrame
        A track table (``track_id``, ``time`` as datetime64[ns, UTC], ``lon``, ``lat``, optional ``alt_m``),
        as produced by :func:`overflight.tracks.read_tracks`; rows in any order.
    zones : ZoneSetLike
        The zones (anything :func:`overflight.zones.as_zoneset` takes); point zones are ignored.
    max_gap : str or float
        Longest interval between fixes over which the path is taken as known (``"10min"`` or seconds).
        Crossings inside longer gaps make the visit ``observed=False``.
    step_m : str or float
        Largest step of the geodesic densification between fixes: text with a unit (``"5km"``) or metres.
    index : Locator, optional
        A zone index with ``locate_all(lon, lat) -> (point_idx, zone_idx)`` built on ``zones``
        (:class:`overflight.index.ZoneIndex`); built here when omitted.
    tz : str
        Time zone of the times shown in the summary's ``sequence`` text.

    Returns
    -------
    TransitResult
        ``visits``, ``summary`` and ``provenance``.

    Raises
    ------
    InputError
        Missing columns, bad coordinates, naive times, a non-positive step or gap.
    """
    eng = TransitEngine(as_zoneset(zones), max_gap_s=parse_max_gap(max_gap), step_m=step_m, index=index)
    raw = [eng.feed(tracks), eng.finish()]
    visits = eng.visits(pd.concat([r for r in raw if len(r)], ignore_index=True) if any(len(r) for r in raw)
                        else _empty_raw())
    return TransitResult(visits=visits, summary=summarize_transit(visits, tz=tz), provenance=eng.provenance())

# Renamed so that no two public functions share a name; the old name works, with a warning, for one release.
__getattr__ = deprecated_names(__name__, {"summarize": "summarize_transit"})
