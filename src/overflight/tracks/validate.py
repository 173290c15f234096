"""Validation of track rows: vectorised rules, counts per rule, examples, drop or fail.

Rules, applied in this order; a row is counted under the first rule it breaks, so the counts add up to the
rows dropped:

``malformed``
    a record the reader could not split into fields (wrong field count, not a position message, cut line).
``bad_coordinate``
    lon or lat missing/NaN, ``|lat| > 90`` or ``|lon| > 180`` (``normalize_lon=True`` first wraps longitudes
    such as 190 to -170 instead of rejecting them).
``bad_altitude``
    an altitude given but not a number (``abc``), not finite (``1e400``) or outside
    [-1,000, 100,000] m (a unit error such as feet read as metres stays inside; ``-99999999`` does not).
    An empty altitude is unknown (NaN), not an error.
``bad_time``
    time missing, unreadable or outside 1900..2200 (e.g. epoch milliseconds read as seconds).
``naive_time``
    time without a zone while no ``tz`` was given: never guessed.
``duplicate_time``
    same time as the latest earlier fix of the same track (in file order).
``backwards_time``
    earlier than the latest earlier fix of the same track (in file order).
``speed``
    the geodesic speed (WGS84, pyproj.Geod) from the previous kept fix of the track is above
    ``max_speed_mps``. The later fix of a too-fast step is flagged, except a first fix that is off on its
    own (the step after it is fine but the step into it is not), which is flagged instead.  Known limit when
    reading in chunks: that exception looks ahead only within a chunk, so a track whose first fix is the last
    row of its chunk keeps it (and may lose the fixes after it instead); the Dask path and whole-file reading
    see whole tracks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from overflight.errors import InputError
from overflight.geodesy import GEOD as _GEOD
from overflight.tracks.table import (
    TIME_BAD,
    TIME_DST,
    TIME_NAIVE,
    TRACK_COLUMNS,
    empty_tracks,
    factorize_sorted,
    sort_tracks,
)
from overflight.units import ALT_MAX_M, ALT_MIN_M, SpeedLike, parse_speed

RULES: tuple[str, ...] = (
    "malformed",
    "bad_coordinate",
    "bad_altitude",
    "bad_time",
    "naive_time",
    "duplicate_time",
    "backwards_time",
    "speed",
)
OnInvalid = Literal["fail", "drop"]
_NAT = np.iinfo(np.int64).min


@dataclass(frozen=True)
class Issue:
    """One example of a broken rule: where (row or line number in the file), which field, what value, why."""

    rule: str
    row: int | str
    field: str
    value: str
    message: str


@dataclass
class ValidationReport:
    """What validation found in one file (or stream).

    Attributes
    ----------
    file
        The input named in messages.
    total_rows
        Records read that could have been fixes (including malformed ones).
    rows_kept
        Rows in the resulting table.
    counts
        Rows per rule (every rule present, zero when clean).
    examples
        Up to ``max_examples`` issues per rule.
    notes
        Records that are not fixes by nature or were adjusted, counted for transparency (e.g. SBS messages
        without a position, blank lines, repeated positions across aircraft.json snapshots).
    row_kind
        What the row numbers count: ``line`` (physical line, header is line 1), ``feature``, ``trkpt``, ...
    """

    file: str
    total_rows: int = 0
    rows_kept: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RULES, 0))
    examples: list[Issue] = field(default_factory=list)
    notes: dict[str, int] = field(default_factory=dict)
    row_kind: str = "row"
    columns: dict[str, str] = field(default_factory=dict)  # role (lon, lat, time, ...) -> source column taken

    @property
    def invalid_rows(self) -> int:
        """Rows that broke a rule."""
        return sum(self.counts.values())

    @property
    def ok(self) -> bool:
        """True when no row broke any rule."""
        return self.invalid_rows == 0

    def summary(self) -> str:
        """A few lines of text: totals, counts per rule, examples."""
        lines = [
            f"{self.file}: {self.total_rows} rows read, {self.rows_kept} kept, {self.invalid_rows} invalid"
        ]
        for rule in RULES:
            if self.counts.get(rule):
                lines.append(f"  {rule}: {self.counts[rule]}")
        for name, n in self.notes.items():
            lines.append(f"  (note: {name}: {n})")
        for ex in self.examples:
            lines.append(f"  {self.row_kind} {ex.row}: {ex.rule}: {ex.field}={ex.value!r}: {ex.message}")
        return "\n".join(lines)

    def to_dataframe(self) -> pd.DataFrame:
        """The examples as a frame: rule, row, field, value, message (one row per example)."""
        return pd.DataFrame(
            [(e.rule, e.row, e.field, e.value, e.message) for e in self.examples],
            columns=["rule", "row", "field", "value", "message"],
        )

    def counts_frame(self) -> pd.DataFrame:
        """Counts per rule as a frame with columns rule, rows."""
        return pd.DataFrame({"rule": list(RULES), "rows": [self.counts.get(r, 0) for r in RULES]})


@dataclass
class Staged:
    """What a reader hands to validation: fixes not yet checked.

    ``frame`` has the canonical columns (time NaT where ``time_code`` says it is unusable) plus extras;
    ``rows`` holds each fix's row/line number in the source; ``time_raw`` the original time text for
    examples; ``malformed`` records that never became rows.
    """

    frame: pd.DataFrame
    rows: np.ndarray
    time_code: np.ndarray
    time_raw: pd.Series | None = None
    malformed: list[Issue] = field(default_factory=list)
    n_malformed: int = 0
    notes: dict[str, int] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)  # canonical name -> source field name
    raw: dict[str, pd.Series] = field(default_factory=dict)  # canonical name -> source values (for messages)
    row_label: Callable[[int], int | str] | None = None
    #: Whether each fix has an altitude value (not blank), when the reader knows it without looking at text.
    alt_given: np.ndarray | None = None


@dataclass
class _State:
    """Per-track memory carried between chunks of a stream."""

    max_time: dict[str, int] = field(default_factory=dict)
    last_fix: dict[str, tuple[int, float, float]] = field(default_factory=dict)


class Validator:
    """Checks staged chunks one after another, keeping per-track state so a stream validates like a file.

    Parameters
    ----------
    file
        Named in the report and in errors.
    on_invalid
        ``"fail"`` raises :class:`InputError` at the first chunk with invalid rows, naming the first bad
        row and field and the counts; ``"drop"`` drops them and counts them in :attr:`report`.
    max_speed_mps
        Enables the ``speed`` rule: a number of metres per second or text with a unit (``"900kmh"``, ``"500kt"``).
    normalize_lon
        Wrap longitudes outside [-180, 180] instead of rejecting them.
    max_examples
        Examples kept per rule.
    sort_rows
        Return each chunk sorted by (track_id, time) (the canonical table). False hands the rows grouped by
        track in the order the duplicate/backwards check made anyway (file order within a track, which is
        time order once checked), with the index and columns as they are: for the transit kernel, which then
        needs no sort of its own.
    """

    def __init__(
        self,
        file: str | Path,
        *,
        on_invalid: OnInvalid = "fail",
        max_speed_mps: SpeedLike | None = None,
        normalize_lon: bool = False,
        max_examples: int = 5,
        row_kind: str = "row",
        sort_rows: bool = True,
    ) -> None:
        if on_invalid not in ("fail", "drop"):
            raise InputError(f"on_invalid must be 'fail' or 'drop', not {on_invalid!r}")
        self.file = str(file)
        self.on_invalid = on_invalid
        #: the top speed in m/s (given as a number of m/s or with a unit: "900kmh"), None: no speed rule
        self.max_speed_mps = None if max_speed_mps is None else parse_speed(max_speed_mps, default_unit="mps",
                                                                             field="max_speed_mps")
        self.normalize_lon = normalize_lon
        self.max_examples = max_examples
        self.sort_rows = sort_rows
        self.report = ValidationReport(file=self.file, row_kind=row_kind)
        self._state = _State()

    # -- examples -------------------------------------------------------------------------------------
    def _add_examples(
        self, rule: str, mask: np.ndarray, st: Staged, field_name: str, values: Any,
        message: str | Callable[[int], str] | Any
    ) -> None:
        if not mask.any():
            return
        have = sum(1 for e in self.report.examples if e.rule == rule)
        room = self.max_examples - have
        if room <= 0:
            return
        idx = np.flatnonzero(mask)[:room]
        for i in idx:
            row = int(st.rows[i])
            label = st.row_label(row) if st.row_label is not None else row
            v = values[i] if not isinstance(values, pd.Series) else values.iloc[i]
            msg = message if isinstance(message, str) else message(int(i)) if callable(message) else message[i]
            self.report.examples.append(Issue(rule, label, field_name, _fmt(v), msg))

    # -- main step ------------------------------------------------------------------------------------
    def process(self, st: Staged) -> pd.DataFrame:
        """Validate one staged chunk and return its kept rows as a canonical (sorted) track table."""
        rep = self.report
        df = st.frame
        n = len(df)
        rep.total_rows += n + st.n_malformed
        rep.counts["malformed"] += st.n_malformed
        for k, v in st.notes.items():
            rep.notes[k] = rep.notes.get(k, 0) + v
        room = self.max_examples - sum(1 for e in rep.examples if e.rule == "malformed")
        rep.examples.extend(st.malformed[: max(room, 0)])
        fld = {"lon": "lon", "lat": "lat", "time": "time", **st.fields}
        if not rep.columns:
            rep.columns = dict(st.fields)

        lon = df["lon"].to_numpy(dtype="float64", copy=self.normalize_lon)  # (a copy only to wrap it in place)
        lat = df["lat"].to_numpy(dtype="float64")
        if self.normalize_lon:
            wrap = np.isfinite(lon) & (np.abs(lon) > 180)
            lon[wrap] = (lon[wrap] + 180.0) % 360.0 - 180.0
        # A clean chunk (nearly every one) in a few reductions, no mask per rule: NaN fails every comparison.
        if n and lat.min() >= -90.0 and lat.max() <= 90.0 and lon.min() >= -180.0 and lon.max() <= 180.0:
            bad_lat = bad_lon = bad_coord = np.zeros(n, dtype=bool)
        else:
            bad_lat = ~np.isfinite(lat) | (np.abs(lat) > 90)
            bad_lon = ~np.isfinite(lon) | (np.abs(lon) > 180)
            bad_coord = bad_lat | bad_lon
        alt = df["alt_m"].to_numpy(dtype="float64") if "alt_m" in df.columns else np.full(n, np.nan)
        alt_raw = st.raw.get("alt")
        if n and alt.min() >= ALT_MIN_M and alt.max() <= ALT_MAX_M:  # every altitude a number within range
            bad_alt = np.zeros(n, dtype=bool)
        else:
            given = ~np.isnan(alt)
            if st.alt_given is not None:
                given = np.asarray(st.alt_given, dtype=bool)
            elif alt_raw is not None:
                blank = np.array(alt_raw.isna().to_numpy(), dtype=bool)
                if not pd.api.types.is_numeric_dtype(alt_raw.dtype):  # a number is never blank text
                    blank |= (alt_raw.astype("str").str.strip() == "").to_numpy(dtype=bool)
                given |= ~blank
            with np.errstate(invalid="ignore"):
                bad_alt = ~bad_coord & given & ~((alt >= ALT_MIN_M) & (alt <= ALT_MAX_M))
        tcode = st.time_code
        if not bad_coord.any() and not bad_alt.any() and not np.asarray(tcode).any():  # all TIME_OK (0)
            bad_time = naive = np.zeros(n, dtype=bool)
            alive = np.ones(n, dtype=bool)
        else:
            bad_time = ~bad_coord & ~bad_alt & ((tcode == TIME_BAD) | (tcode == TIME_DST))
            naive = ~bad_coord & ~bad_alt & (tcode == TIME_NAIVE)
            alive = ~(bad_coord | bad_alt | bad_time | naive)

        t = _ns_of(df["time"])
        # Per-track work on integer codes: a million id strings as Python objects would cost more than the rules.
        # (sorted codes: the final sort_tracks reuses them)
        codes, uniq = factorize_sorted(df["track_id"])

        # duplicate/backwards: compare with the running latest time of the track in file order.
        dup = np.zeros(n, dtype=bool)
        back = np.zeros(n, dtype=bool)
        grouped: np.ndarray | None = None  # the rows alive so far, grouped by track (file order within one)
        if alive.any():
            # (a clean chunk, nearly every one: its arrays as they are, no gather of every row and scatter back)
            ai = None if alive.all() else np.flatnonzero(alive)
            sub_c, sub_t = (codes, t) if ai is None else (codes[ai], t[ai])
            keys = [str(u) for u in uniq.tolist()]
            got = self._state.max_time.get
            carried = np.fromiter((got(k, _NAT) for k in keys), dtype=np.int64, count=len(keys))
            pv_o, t_o, run, by_track = _prev_max_grouped(sub_c, sub_t, carried)
            grouped = by_track if ai is None else ai[by_track]
            # compared in the grouped order (where the running maximum is), marked in file order only if any
            has = pv_o != _NAT
            dup_o = has & (t_o == pv_o)
            back_o = has & (t_o < pv_o)
            if dup_o.any():
                dup[grouped[dup_o]] = True
            if back_o.any():
                back[grouped[back_o]] = True
            # Each track's latest time so far (per track, not per row; _NAT, the smallest, never wins a max).
            seen = np.flatnonzero(run != _NAT)
            latest = np.maximum(carried[seen], run[seen]).tolist()
            self._state.max_time.update(zip([keys[i] for i in seen.tolist()], latest, strict=True))
        alive &= ~(dup | back)

        speed = np.zeros(n, dtype=bool)
        speed_msg: np.ndarray | None = None
        if self.max_speed_mps is not None and alive.any():
            speed, speed_msg = self._speed(uniq[codes], t, lon, lat, alive)
        alive &= ~speed
        # Remember each track's last kept fix for the next chunk's speed check.
        if alive.any() and self.max_speed_mps is not None:
            ai = np.flatnonzero(alive)
            last = pd.Series(ai).groupby(codes[ai], sort=False).last()
            for code, li in zip(last.index.to_numpy(), last.to_numpy(), strict=True):
                self._state.last_fix[str(uniq[code])] = (int(t[li]), float(lon[li]), float(lat[li]))

        masks = {
            "bad_coordinate": bad_coord,
            "bad_altitude": bad_alt,
            "bad_time": bad_time,
            "naive_time": naive,
            "duplicate_time": dup,
            "backwards_time": back,
            "speed": speed,
        }
        for rule, m in masks.items():
            rep.counts[rule] += int(m.sum())
        traw: Any = st.time_raw if st.time_raw is not None else df["time"]
        if bad_coord.any():
            coord_field = np.where(bad_lat, fld["lat"], fld["lon"])
            coord_val = np.where(bad_lat, df["lat"].to_numpy(), df["lon"].to_numpy())
            i0 = np.flatnonzero(bad_coord)
            have = sum(1 for e in rep.examples if e.rule == "bad_coordinate")
            for i in i0[: max(self.max_examples - have, 0)]:
                row = int(st.rows[i])
                label = st.row_label(row) if st.row_label is not None else row
                key = "lat" if bad_lat[i] else "lon"
                src = st.raw.get(key)
                shown = _fmt(src.iloc[i]) if src is not None else _fmt(coord_val[i])
                if np.isfinite(coord_val[i]):
                    what = "out of range"
                elif shown.strip() == "" or (shown.lower() == "nan" and src is None):
                    what = "missing"
                else:
                    what = "not a number"
                rep.examples.append(Issue("bad_coordinate", label, str(coord_field[i]), shown,
                                          f"{'latitude' if bad_lat[i] else 'longitude'} {what}"))
        self._add_examples("bad_altitude", bad_alt, st, fld.get("alt", "alt_m"),
                           alt_raw if alt_raw is not None else df["alt_m"],
                           f"altitude not a number of metres within [{ALT_MIN_M:,.0f}, {ALT_MAX_M:,.0f}]")
        def time_msg(i: int) -> str:  # per example, not a text array over the whole chunk
            if tcode[i] == TIME_DST:
                return ("local time that a daylight-saving change makes ambiguous (fold) or nonexistent (gap) in "
                        "the given zone: give the time with its UTC offset")
            return "unreadable or implausible time (ISO 8601 expected, years 1900-2199, epoch seconds from 1980)"

        self._add_examples("bad_time", bad_time, st, fld["time"], traw, time_msg)
        self._add_examples("naive_time", naive, st, fld["time"], traw,
                           "time has no zone: give one with --tz (tz= in Python)")
        self._add_examples("duplicate_time", dup, st, fld["time"], traw, "same time as the previous fix")
        self._add_examples("backwards_time", back, st, fld["time"], traw,
                           "earlier than a previous fix (--sort reads the file sorted)")
        if speed_msg is not None:
            self._add_examples("speed", speed, st, "lon/lat", _coords(lon, lat), speed_msg)

        if self.on_invalid == "fail" and not rep.ok:
            self._raise(masks, st, fld)
        if not self.sort_rows and grouped is not None:
            # Grouped by track (each track's kept fixes are in time order now): the transit kernel then orders
            # the chunk with no sort of its own, and this take costs what the copy of the file order did.
            g = grouped if not (dup.any() or back.any() or speed.any()) else grouped[alive[grouped]]
            cols = list(TRACK_COLUMNS) + [c for c in df.columns if c not in TRACK_COLUMNS]
            # one numpy take per column (pandas' frame take of the 2-D float block costs several times more)
            taken: dict[str, Any] = {c: df[c].array.take(g) for c in cols}
            if self.normalize_lon:
                taken["lon"] = lon[g]
            rep.rows_kept += len(g)
            return pd.DataFrame(taken, copy=False)
        kept = df if alive.all() and not self.normalize_lon else df.loc[alive].copy()
        if self.normalize_lon:
            kept["lon"] = lon[alive]
        rep.rows_kept += len(kept)
        if not self.sort_rows:
            cols = list(TRACK_COLUMNS) + [c for c in kept.columns if c not in TRACK_COLUMNS]
            return kept[cols].reset_index(drop=True)
        return sort_tracks(kept, codes=codes[alive])

    def _raise(self, masks: dict[str, np.ndarray], st: Staged, fld: dict[str, str]) -> None:
        rep = self.report
        first: tuple[int, str] | None = None
        for rule, m in masks.items():
            if m.any():
                r = int(st.rows[np.flatnonzero(m)].min())
                if first is None or r < first[0]:
                    first = (r, rule)
        ex: Issue | None = None
        if st.malformed and (first is None or _num(st.malformed[0].row) <= first[0]):
            ex = st.malformed[0]
        elif first is not None:
            ex = next((e for e in rep.examples if e.rule == first[1]), None)
            if ex is not None:
                # examples are the first few per rule, so the earliest row of that rule is among them
                cands = [e for e in rep.examples if e.rule == first[1]]
                ex = min(cands, key=lambda e: _num(e.row))
        counts = ", ".join(f"{k}={v}" for k, v in rep.counts.items() if v)
        if ex is None:
            raise InputError(f"invalid rows ({counts})", file=rep.file)
        raise InputError(
            f"{ex.rule}: {ex.message} (value {ex.value!r}); invalid rows: {counts}; "
            "use on_invalid='drop' (--drop in `tracks convert` and `transit`) to drop them",
            file=rep.file,
            row=f"{rep.row_kind} {ex.row}",
            field=ex.field,
        )

    def _speed(
        self, ids: np.ndarray, t: np.ndarray, lon: np.ndarray, lat: np.ndarray, alive: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Flag fixes reached too fast; iterate because removing a fix changes the next step."""
        assert self.max_speed_mps is not None
        vmax = self.max_speed_mps
        ai = np.flatnonzero(alive)
        sid = ids[ai]
        # Anchors: the last kept fix of each track from earlier chunks (never flagged themselves).
        anchors = [(k, *self._state.last_fix[k]) for k in pd.unique(sid) if k in self._state.last_fix]
        a_id = np.array([a[0] for a in anchors], dtype=object)
        a_t = np.array([a[1] for a in anchors], dtype=np.int64)
        a_lon = np.array([a[2] for a in anchors], dtype="float64")
        a_lat = np.array([a[3] for a in anchors], dtype="float64")
        g_id = np.concatenate([a_id, sid])
        g_t = np.concatenate([a_t, t[ai]])
        g_lon = np.concatenate([a_lon, lon[ai]])
        g_lat = np.concatenate([a_lat, lat[ai]])
        is_anchor = np.zeros(len(g_id), dtype=bool)
        is_anchor[: len(anchors)] = True
        src = np.concatenate([np.full(len(anchors), -1), ai])
        # Group rows of a track together, anchors first; file order within a track is time order now.
        codes, _ = pd.factorize(g_id)
        order = np.lexsort((np.arange(len(g_id)), codes))
        g, tt, lo, la = codes[order], g_t[order], g_lon[order], g_lat[order]
        anch, srco = is_anchor[order], src[order]
        live = np.ones(len(g), dtype=bool)
        flagged = np.zeros(len(g), dtype=bool)
        msg = np.empty(len(g), dtype=object)
        for _ in range(100_000):
            li = np.flatnonzero(live)
            if len(li) < 2:
                break
            first_live = np.zeros(len(g), dtype=bool)
            first_live[li[np.r_[True, g[li[1:]] != g[li[:-1]]]]] = True
            same = g[li[1:]] == g[li[:-1]]
            a, b = li[:-1][same], li[1:][same]
            if len(a) == 0:
                break
            _, _, d = _GEOD.inv(lo[a], la[a], lo[b], la[b])
            dt = (tt[b] - tt[a]) / 1e9
            v = np.asarray(d) / dt
            fast = v > vmax
            if not fast.any():
                break
            # Only the first too-fast step of each run: the fix after it may be fine once it is gone.
            prev_fast = np.r_[False, fast[:-1] & (b[:-1] == a[1:])]
            lead = fast & ~prev_fast
            # A lone bad first fix: flag it instead of everything after it.
            nxt_ok = np.r_[~fast[1:] & (a[1:] == b[:-1]), False]
            start = first_live[a] & ~anch[a] & nxt_ok
            victim = np.where(start, a, b)[lead]
            live[victim] = False
            flagged[victim] = True
            vv = v[lead]
            for j, val in zip(victim, vv, strict=True):
                msg[j] = f"implied speed {val:.1f} m/s > {vmax:g} m/s"
        out = np.zeros(len(ids), dtype=bool)
        out_msg = np.empty(len(ids), dtype=object)
        sel = flagged & (srco >= 0)
        out[srco[sel]] = True
        out_msg[srco[sel]] = msg[sel]
        return out, out_msg


def _group_cummax(v: np.ndarray, first: np.ndarray, *, copy: bool = True) -> np.ndarray:
    """Running maximum of int64 ``v`` within runs that start where ``first`` is True (rows grouped already).

    Run g is lifted by g times the span of the values, so one running maximum over all rows never carries a
    value into the next run; when that would overflow, pandas' grouped cummax. ``copy=False``: ``v`` itself
    when it is its own running maximum (each run in order).
    """
    if len(v) == 0:
        return v.copy() if copy else v
    if bool(((v[1:] >= v[:-1]) | first[1:]).all()):  # each run in order already (a stream in time order)
        return v.copy() if copy else v
    lo, hi = int(v.min()), int(v.max())
    span = hi - lo + 1
    g = np.cumsum(first) - 1
    if span * (int(g[-1]) + 1) < 2**62:
        lift = g * span
        out: np.ndarray = np.maximum.accumulate((v - lo) + lift) - lift + lo
        return out
    return pd.Series(v).groupby(g, sort=False).cummax().to_numpy(dtype=np.int64)


def _prev_max(codes: np.ndarray, t: np.ndarray, uniq: np.ndarray, carried: dict[str, int], *,
              carried_arr: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_prev_max_ordered` without the order."""
    prev, run, _ = _prev_max_ordered(codes, t, uniq, carried, carried_arr=carried_arr)
    return prev, run


def _prev_max_ordered(codes: np.ndarray, t: np.ndarray, uniq: np.ndarray, carried: dict[str, int], *,
                      carried_arr: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latest earlier time of each row's track, and each track's latest time in the chunk (NaT-int: none).

    For a track's first row of the chunk the earlier time is the one carried from earlier chunks; for its
    later rows, the latest of that and of its earlier rows in this chunk (file order): a row between an
    earlier chunk's latest time and a backwards row before it in this chunk is backwards too, whatever the
    chunk size. The third array is the rows' stable order by track (the caller groups its rows with it).
    (numpy and pandas only: reading tracks must work where numba cannot load, e.g. under a small address-space
    limit.)
    """
    if carried_arr is None:  # (``carried`` per code, when the caller has not looked it up already)
        carried_arr = np.array([carried.get(str(u), _NAT) for u in uniq], dtype=np.int64)
    prev_o, _, run, order = _prev_max_grouped(codes, t, carried_arr)
    prev = np.empty(len(codes), dtype=np.int64)
    prev[order] = prev_o
    return prev, run, order


def _prev_max_grouped(codes: np.ndarray, t: np.ndarray,
                      carried_arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_prev_max_ordered` in the rows' order by track: (latest earlier time, time, run, order).

    The first two are ``prev[order]`` and ``t[order]``; ``carried_arr`` holds the carried time of each code.
    """
    run = np.full(len(carried_arr), _NAT, dtype=np.int64)
    if len(codes) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, run, empty
    small = int(codes.max()) < np.iinfo(np.int16).max
    order = np.argsort(codes.astype(np.int16) if small else codes, kind="stable")  # radix sort for 16 bits
    oc = codes[order]
    t_o = t[order]
    first = np.empty(len(oc), dtype=bool)
    first[0] = True
    np.not_equal(oc[1:], oc[:-1], out=first[1:])
    cmo = _group_cummax(t_o, first, copy=False)
    prev_o = np.empty(len(oc), dtype=np.int64)
    prev_o[0] = _NAT
    prev_o[1:] = cmo[:-1]
    last = np.empty(len(oc), dtype=bool)
    last[:-1] = first[1:]
    last[-1] = True
    run[oc[last]] = cmo[last]  # the running max at a track's last row is its latest time
    np.maximum(prev_o, carried_arr[oc], out=prev_o)  # _NAT (no carried time) leaves a row's value as it is
    fi = np.flatnonzero(first)
    prev_o[fi] = carried_arr[oc[fi]]
    return prev_o, t_o, run, order


def _ns_of(t: pd.Series) -> np.ndarray:
    """int64 nanoseconds of a datetime column, the int64 minimum for NaT (of a zoned one: UTC, as held)."""
    arr = t.array
    if isinstance(arr, pd.arrays.DatetimeArray) and arr.tz is not None:
        return np.asarray(cast(Any, arr.as_unit("ns")).asi8, dtype=np.int64)  # (no asi8 in the stubs)
    return np.asarray(t.to_numpy(dtype="datetime64[ns]", na_value=np.datetime64("NaT")).view(np.int64))


def _num(row: int | str) -> int:
    if isinstance(row, int):
        return row
    digits = "".join(ch if ch.isdigit() else " " for ch in str(row)).split()
    return int(digits[0]) if digits else 0


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, pd.Timestamp) and v is pd.NaT:
        return ""
    return str(v)


def _coords(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return np.array([f"{a:.6f},{b:.6f}" for a, b in zip(lon, lat, strict=True)], dtype=object)


def validate_tracks(
    df: pd.DataFrame,
    *,
    file: str | Path = "<table>",
    on_invalid: OnInvalid = "fail",
    max_speed_mps: SpeedLike | None = None,
    normalize_lon: bool = False,
    tz: str | None = None,
    max_examples: int = 5,
) -> tuple[pd.DataFrame, ValidationReport]:
    """Validate a frame already in memory (rows numbered 1.. in its current order).

    Parameters
    ----------
    df
        Columns track_id, time, lon, lat (alt_m optional). Times may be text, numbers or datetimes.
    file, on_invalid, max_speed_mps, normalize_lon, tz, max_examples
        As for :func:`overflight.tracks.read_tracks`.

    Returns
    -------
    (table, report)
    """
    from overflight.tracks.table import parse_times, require_column, to_float

    for c in ("track_id", "time", "lon", "lat"):
        require_column(list(df.columns), None, (c,), c, c, file)
    times, codes = parse_times(df["time"].reset_index(drop=True), tz=tz)
    frame = df.reset_index(drop=True).copy()
    frame["time"] = times
    frame["track_id"] = frame["track_id"].astype(str)
    frame["lon"] = to_float(frame["lon"])
    frame["lat"] = to_float(frame["lat"])
    frame["alt_m"] = to_float(frame["alt_m"]) if "alt_m" in frame.columns else np.nan
    st = Staged(frame=frame, rows=np.arange(1, len(frame) + 1), time_code=codes,
                time_raw=df["time"].reset_index(drop=True))
    v = Validator(file, on_invalid=on_invalid, max_speed_mps=max_speed_mps, normalize_lon=normalize_lon,
                  max_examples=max_examples)
    out = v.process(st)
    return out, v.report


def finish(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate validated chunks into one canonical table."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_tracks()
    out = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    out["time"] = pd.to_datetime(out["time"], utc=True).dt.as_unit("ns")
    return sort_tracks(out) if len(frames) > 1 else out


__all__ = ["RULES", "TRACK_COLUMNS", "Issue", "Staged", "ValidationReport", "Validator", "validate_tracks"]
