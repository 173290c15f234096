"""Prism verdicts: between two sightings, whether entering a zone was impossible, possible or necessary.

For a pair of fixes p1, p2 with a time gap and a top speed, ``budget = vmax * dt``. With
``D = d(p1, p2)``, ``E = min over x in Z of d(p1, x) + d(x, p2)`` (the shortest path that enters the zone)
and ``A`` the shortest path from p1 to p2 that avoids the zone (all true WGS84 geodesic lengths):

- ``inconsistent``: D > budget (the fixes cannot both be right at that speed);
- ``impossible``: E > budget (the potential path area misses the zone);
- ``necessary``: a fix lies in the zone, or A > budget (every path within the budget meets the zone);
- ``possible``: otherwise.

Uncertainty. Fix i may be anywhere within ``r_i`` metres (``pos_err_m``) and its time anywhere within
``± e_i`` seconds (``time_err_s``). A verdict is reported only if it holds for every such configuration,
using conservative bounds (``r = r1 + r2``, ``budget_hi = vmax * (dt + e1 + e2)``):

- inconsistent for all: ``D - r > budget_hi`` (the triangle inequality bounds every moved pair);
- impossible for all: ``E - r > budget_hi`` (moving a focus by r_i changes every focal sum by <= r_i);
- necessary for all: a fix's whole error disc lies in the zone, or ``A' - r > budget_hi`` where A' is the
  avoiding length for the zone minus both error discs (a path from a moved fix, prefixed by the short
  geodesic from the nominal fix, avoids the zone without the discs, hence ``A(moved) >= A' - r``);
- possible otherwise — which then also covers "undetermined by the uncertainty".

Membership. "A fix lies in the zone" is decided by the one membership rule of every analysis
(``overflight.analysis.membership``: the ZoneIndex rule, a fix on a border belongs to the zone north or east
of it). Zone objects with a validity period ``[valid_from, valid_to)`` are entered only while in force: the
reachable set shrinks to the period's part of the gap and ``necessary`` follows a stricter rule (``period``).

``margin_m`` is how much the budget (``budget_hi``) would have to change for the verdict to flip, the
nearest flip either way; ``detour_m`` is A for necessary/possible (inf when a fix lies in the zone), E for
impossible, NaN for inconsistent. Both are computed to 0.1 % when the value is within 1.25 budgets (when
``precise``); beyond that (a far-away zone) they are certified lower bounds, flagged ``detour_exact=False``.
The same flag marks the bounds given when a search reaches its memory ceiling (``fast.SPLIT_MAX``,
``avoid.GRAPH_MAX_EDGES``): a verdict that would need the exact value then stays ``possible``. Under a
validity period, ``detour_m`` of a ``possible`` row is the entering length within the period (not exact).

Fast mode (``precise=False``, ``bench_prism --fast``) computes only as far as the verdict needs: each stage
stops as soon as a certified bound settles the verdict (and the evaluate stage tries the cheapest decisive
obstacle first: convex hulls, then the zone within the budget's ellipse, the simplification levels only when
that graph is beyond its ceiling). The verdicts are those of precise mode; ``detour_m`` and ``margin_m`` are
then whichever certified bound settled it, on a known side of the precise value: for ``necessary`` a lower
bound on A (typically the budget plus about a metre), for ``possible`` an upper bound on A (the length of
an avoiding path found within the budget), for ``impossible`` a lower bound on E, and ``margin_m`` a lower
bound on the margin. Which bound that is may change with the order of the search (it is not part of the
result's contract); ``detour_exact`` is True only where the value is the precise one (0.1 %).
``benchmarks/check_prism_bounds.py`` checks a fast table against a precise one on these terms.

Stages (one module each): ``caps`` (cap bounds settle the zones out of reach), ``inside`` (a fix in the
zone), ``bulk`` (vectorised settlement per zone, ``fast``) and ``evaluate`` (one pair at a time, ``avoid``);
inputs in ``pairs``. This module runs them and builds the table.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from overflight._deprecated import deprecated_names
from overflight.analysis import membership
from overflight.analysis.prism._captree import reach_far
from overflight.analysis.prism._geo import FloatArray, dist, unit
from overflight.analysis.prism.bulk import SETTLE_IMPOSSIBLE, SETTLE_NECESSARY, SETTLE_POSSIBLE, settle
from overflight.analysis.prism.caps import PIECE, ZoneCaps, _focal_lb, _ZoneCaps, zone_caps
from overflight.analysis.prism.evaluation import (
    EXACT_FACTOR,
    MAX_REACH_M,
    Evaluation,
    _evaluate_in_period,
    _evaluate_reach,
    evaluate,
    evaluate_many,
)
from overflight.analysis.prism.inside import inside_far
from overflight.analysis.prism.pairs import Pairs, _zone_items, make_pairs
from overflight.units import SpeedLike, parse_speed
from overflight.zones import as_zoneset

VERDICTS = ("impossible", "possible", "necessary", "inconsistent")
VERDICT_COLUMNS = [
    "track_id", "from_index", "to_index", "zone_id", "verdict", "budget_m", "direct_m", "detour_m", "margin_m",
    "detour_exact",
]


@dataclass
class PairVerdicts:
    """Verdicts and the avoiding paths found (for maps)."""

    table: pd.DataFrame  # the verdict table (columns ``VERDICT_COLUMNS``)
    paths: dict[tuple[int, str], tuple[FloatArray, FloatArray]] = field(default_factory=dict)
    """``(pair number, zone_id) -> (lon array, lat array)`` of each avoiding path found (with ``with_paths``)."""


def _deprecated_paths(paths: dict[tuple[int, str], Any] | None, res: PairVerdicts) -> None:
    if paths is not None:
        paths.update(res.paths)


def _warn_paths() -> None:
    warnings.warn("the paths= output argument is deprecated: use verdicts_with_paths() (or verdicts_for_pairs("
                  "..., with_paths=True)) and read the result's .paths", DeprecationWarning, stacklevel=3)


def verdicts(
    sightings: Any, zones: Any, vmax: SpeedLike, *, pos_err_col: str = "pos_err_m", time_err_col: str = "time_err_s",
    precise: bool = True, keep_impossible: bool = True, paths: dict[tuple[int, str], Any] | None = None,
) -> pd.DataFrame:
    """Prism verdicts for each consecutive pair of sightings in each track and each zone.

    Parameters
    ----------
    sightings : DataFrame or path
        A track table (``track_id``, ``time`` tz-aware, ``lon``, ``lat``; optional position error in metres
        and time error in seconds, ± each; a ``place`` column names a place for rows without coordinates)
        or a track file read with ``overflight.tracks.read_tracks``.
    zones : ZoneSetLike
        Anything ``overflight.zones.as_zoneset`` accepts (a ZoneSet, a boundary-set name or zone file, zone
        specs, Zones, a mapping id -> shapely geometry in lon/lat WGS84): areas (or points). Zone objects
        with a validity period are entered only while in force (``overflight.analysis.prism.period``);
        altitude limits are not used.
    vmax : str or float
        Top speed: text with a unit (``"185kmh"``, ``"100kn"``) or a number of metres per second.
    pos_err_col, time_err_col : str
        Columns holding the position error radius (m) and time error (± s); missing means 0.
    precise : bool
        Refine detour and margin to 0.1 % (otherwise only as far as the verdict needs: the same verdicts,
        with certified bounds for detour and margin, e.g. a "necessary" detour within 1e-6 of the budget
        plus 1 m above it, however long the real detour; see ``fast.settle_zone``).
    keep_impossible : bool
        Keep rows whose verdict is ``impossible`` (most rows, for a world-wide zone set).
    paths : dict, optional
        Deprecated (an output argument): use ``verdicts_with_paths``, whose result carries the paths. Still
        filled with ``(pair number, zone_id) -> (lon array, lat array)`` for one release, with a warning.

    Returns
    -------
    DataFrame
        Columns ``track_id, from_index, to_index, zone_id, verdict, budget_m, direct_m, detour_m, margin_m,
        detour_exact`` (indices are the sightings' index labels), ordered by pair then zone.
    """
    if paths is not None:
        _warn_paths()
    res = verdicts_with_paths(sightings, zones, vmax, pos_err_col=pos_err_col, time_err_col=time_err_col,
                              precise=precise, keep_impossible=keep_impossible, with_paths=paths is not None)
    _deprecated_paths(paths, res)
    return res.table


def verdicts_with_paths(
    sightings: Any, zones: Any, vmax: SpeedLike, *, pos_err_col: str = "pos_err_m", time_err_col: str = "time_err_s",
    precise: bool = True, keep_impossible: bool = True, with_paths: bool = True,
) -> PairVerdicts:
    """``verdicts``, with the avoiding paths found (``PairVerdicts.paths``, for maps) when `with_paths`."""
    vmax = parse_speed(vmax, default_unit="mps", field="vmax")
    pairs = make_pairs(sightings, pos_err_col=pos_err_col, time_err_col=time_err_col)
    zs = as_zoneset(zones)  # the one coercion: the ZoneSet then carries the validity periods and the index cache
    caps = zone_caps(_zone_items(zs), source=zs)
    return verdicts_for_pairs(pairs, caps, vmax, precise=precise, keep_impossible=keep_impossible,
                              with_paths=with_paths)


def _verdicts_for_pairs(
    pairs: Pairs, caps: ZoneCaps, vmax: float, *, precise: bool, keep_impossible: bool,
    paths: dict[tuple[int, str], Any] | None = None, chunk: int = 4096, bulk: bool = True,
    stats: dict[str, int] | None = None,
) -> pd.DataFrame:
    """The verdict table of ``verdicts_for_pairs`` (the former entry point; `paths` is deprecated)."""
    if paths is not None:
        _warn_paths()
    res = verdicts_for_pairs(pairs, caps, vmax, precise=precise, keep_impossible=keep_impossible,
                             with_paths=paths is not None, chunk=chunk, bulk=bulk, stats=stats)
    _deprecated_paths(paths, res)
    return res.table


STAGES = ("caps", "inside", "bulk", "evaluate", "table")


def verdicts_for_pairs(
    pairs: Pairs, caps: ZoneCaps, vmax: float, *, precise: bool, keep_impossible: bool = True,
    with_paths: bool = False, chunk: int = 4096, bulk: bool = True, stats: dict[str, int] | None = None,
    timings: dict[str, float] | None = None,
) -> PairVerdicts:
    """Verdicts for every (pair, zone), stage by stage.

    The stages: ``caps`` (cap bounds), ``inside`` (fixes in zones),
    ``bulk`` (``fast.settle_zone``, vectorised; `bulk` False leaves everything to the next stage, same
    verdicts) and ``evaluate`` (one at a time). `stats` (if given) counts the (pair, zone) combinations
    settled by each stage, `timings` adds the CPU seconds spent in each of ``STAGES``.
    """
    n, nz = len(pairs.lon1), len(caps.ids)
    st: dict[str, int] = {"caps": 0, "inside": 0, "bulk_impossible": 0, "bulk_possible": 0, "bulk_necessary": 0,
                          "evaluate": 0,
                          "inconsistent": 0}
    tm = dict.fromkeys(STAGES, 0.0)
    clock = [time.process_time()]

    def lap(stage: str) -> None:
        now = time.process_time()
        tm[stage] += now - clock[0]
        clock[0] = now

    found: dict[tuple[int, str], tuple[FloatArray, FloatArray]] = {}
    if n == 0 or nz == 0:
        return PairVerdicts(pd.DataFrame({c: [] for c in VERDICT_COLUMNS}), found)
    budget = vmax * pairs.dt
    b_hi = vmax * (pairs.dt + pairs.e)
    r = pairs.r1 + pairs.r2
    direct = dist(pairs.lon1, pairs.lat1, pairs.lon2, pairs.lat2)
    # Zeros from calloc (pages mapped when first written: most verdicts stay 0, "impossible", and most rows
    # inexact) and, for detour and margin, no fill at all: the caps pass writes each of their elements.
    verdict = np.zeros((n, nz), dtype=np.int8)  # index into VERDICTS
    detour = np.empty((n, nz))
    margin = np.empty((n, nz))
    exact = np.zeros((n, nz), dtype=bool)
    u1, u2 = unit(pairs.lon1, pairs.lat1), unit(pairs.lon2, pairs.lat2)
    incons = direct - r > b_hi
    periods = [caps.period(z) for z in range(nz)]
    code = np.array([0, VERDICTS.index("impossible"), VERDICTS.index("possible"), VERDICTS.index("necessary")],
                    dtype=np.int8)  # fast.SETTLE_* -> index into VERDICTS
    flip_all = b_hi - (direct - r)  # the margin of a necessary row, and the cap of an impossible row's
    zone_u, zone_r, parts, pieces = caps.zone_u, caps.zone_r, caps.forest("part"), caps.forest("piece")
    poly = np.array([g.geom_type in ("Polygon", "MultiPolygon") for g in caps.geoms], dtype=bool)
    untimed = np.array([p is None for p in periods], dtype=bool)
    sure1, sure2 = pairs.r1 == 0, pairs.r2 == 0
    lap("caps")
    for s in range(0, n, chunk):
        sl = slice(s, min(s + chunk, n))
        need = (b_hi[sl] + r[sl])[:, None]
        # Caps and inside, each one compiled pass over the chunk's (pair, zone) combinations, writing the
        # settled ones straight into the chunk's rows of the result (C order: a chunk's slice is contiguous).
        cand = np.zeros((sl.stop - s, nz), dtype=bool)
        st["caps"] += reach_far(u1[sl], u2[sl], need, flip_all[sl], incons[sl], zone_u, zone_r, parts, verdict[sl],
                                detour[sl], margin[sl], cand, exact=precise)
        lap("caps")
        # (the zones coerced once per ZoneCaps, not per chunk: no times are given, so only their number matters)
        m1 = membership.members(pairs.lon1[sl], pairs.lat1[sl], caps.zones(), index=caps.index())
        m2 = membership.members(pairs.lon2[sl], pairs.lat2[sl], caps.zones(), index=caps.index())
        n_far, n_nec = inside_far(u1[sl], u2[sl], need, flip_all[sl], incons[sl], m1, m2, sure1[sl], sure2[sl],
                                  poly, untimed, pieces, cand, verdict[sl], detour[sl], margin[sl], exact[sl],
                                  exact_lb=precise)
        st["caps"] += n_far
        st["inside"] += n_nec
        lap("inside")
        if bulk:
            done = settle(pairs, s, cand, caps, b_hi, direct, r, need[:, 0], precise=precise,
                          two_leg=not precise and not with_paths)
            verdict[done.row, done.zone] = code[done.status]
            detour[done.row, done.zone], margin[done.row, done.zone] = done.detour, done.margin
            exact[done.row, done.zone] = done.exact
            cand[done.row - s, done.zone] = False
            st["bulk_impossible"] += done.count(SETTLE_IMPOSSIBLE)
            st["bulk_possible"] += done.count(SETTLE_POSSIBLE)
            st["bulk_necessary"] += done.count(SETTLE_NECESSARY)
            lap("bulk")
        st["evaluate"] += int(cand.sum())
        i_loc, zz = np.nonzero(cand)
        keep = ~incons[s + i_loc]
        ev = evaluate_many(pairs, s + i_loc[keep], zz[keep], m1, m2, caps.geoms, periods, vmax, b_hi, direct,
                           precise=precise, start=s)
        verdict[ev.row, ev.zone] = np.array([VERDICTS.index(v) for v in ev.verdict], dtype=np.int8)
        detour[ev.row, ev.zone], margin[ev.row, ev.zone], exact[ev.row, ev.zone] = ev.detour, ev.margin, ev.exact
        if with_paths:
            found.update({(i, caps.ids[z]): p for (i, z), p in ev.paths.items()})
        lap("evaluate")
    st["inconsistent"] += int(incons.sum()) * nz
    if stats is not None:
        for k, v in st.items():
            stats[k] = stats.get(k, 0) + v
    verdict[incons, :] = VERDICTS.index("inconsistent")
    detour[incons, :] = np.nan
    margin[incons, :] = (direct - r - b_hi)[incons, None]
    exact[incons, :] = True
    out = _table(pairs, caps.ids, budget, direct, verdict, detour, margin, exact)
    if not keep_impossible:
        out = out[out["verdict"] != "impossible"].reset_index(drop=True)
    lap("table")
    if timings is not None:
        for k, t in tm.items():
            timings[k] = timings.get(k, 0.0) + t
    return PairVerdicts(out, found)


def _table(pairs: Pairs, ids: list[str], budget: FloatArray, direct: FloatArray, verdict: NDArray[np.int8],
           detour: FloatArray, margin: FloatArray, exact: NDArray[np.bool_]) -> pd.DataFrame:
    """The verdict table, pair-major (rows pair x zone)."""
    n, nz = verdict.shape
    zone_cats = list(dict.fromkeys(ids))
    zone_pos = {z: k for k, z in enumerate(zone_cats)}
    # Codes in the dtype Categorical keeps for this many categories, so from_codes takes
    # them as they are: no second (rows)-long copy. Every (rows)-long column is a fresh array: on a machine
    # where touching new memory is dear, fewer and narrower ones are what the table costs.
    nc = len(zone_cats)  # (pandas: int8 below 127 categories, int16 below 32767)
    cdt = np.int8 if nc < 127 else np.int16 if nc < 32767 else np.int32
    zone_codes = np.array([zone_pos[z] for z in ids], dtype=cdt)
    # One construction over fresh arrays (copy=False: nothing else holds them); the track ids are typed
    # once per pair, then repeated (int32 positions: half the index array), instead of inferring the type
    # of n x nz objects.
    pos: NDArray[np.signedinteger] = np.repeat(np.arange(n, dtype=np.int32) if n < 2**31 else np.arange(n), nz)
    tid = pd.Series(pairs.track_id).array.take(pos)
    del pos
    return pd.DataFrame({
        "track_id": tid,
        "from_index": np.repeat(pairs.from_index, nz),
        "to_index": np.repeat(pairs.to_index, nz),
        "zone_id": pd.Categorical.from_codes(np.tile(zone_codes, n), categories=pd.Index(zone_cats)),
        "verdict": pd.Categorical.from_codes(verdict.ravel(), categories=pd.Index(list(VERDICTS))),
        "budget_m": np.repeat(budget, nz),
        "direct_m": np.repeat(direct, nz),
        "detour_m": detour.ravel(),
        "margin_m": margin.ravel(),
        "detour_exact": exact.ravel(),
    }, copy=False)


SUMMARY_ORDER = ("inconsistent", "necessary", "impossible", "possible")


def summarize_prism(verdicts_df: pd.DataFrame, by: tuple[str, ...] = ("track_id", "zone_id")) -> pd.DataFrame:
    """Combine pair verdicts per track and zone.

    Rule, in order: ``inconsistent`` if any pair is inconsistent (a fix or the speed is wrong, and every
    other verdict of the track rests on them); ``necessary`` if any pair is necessary (the object must have
    been in the zone during that gap); ``impossible`` if every pair is impossible; ``possible`` otherwise.
    Also counts the pairs per verdict and gives the smallest margin among the pairs with the summary verdict.
    """
    if verdicts_df.empty:
        return pd.DataFrame(columns=[*by, "verdict", "n_pairs", *(f"n_{v}" for v in VERDICTS), "margin_m"])
    df = verdicts_df.copy()
    df["verdict"] = df["verdict"].astype(str)
    counts = pd.crosstab([df[c].astype(str) for c in by], df["verdict"]).reindex(columns=list(VERDICTS), fill_value=0)
    counts.columns = [f"n_{c}" for c in counts.columns]
    counts["n_pairs"] = counts.sum(axis=1)
    v = np.where(counts["n_inconsistent"] > 0, "inconsistent",
        np.where(counts["n_necessary"] > 0, "necessary",
        np.where(counts["n_impossible"] == counts["n_pairs"], "impossible", "possible")))
    counts["verdict"] = v
    key = [df[c].astype(str) for c in by]
    mm = df.assign(**{c: k for c, k in zip(by, key, strict=True)})
    merged = mm.merge(counts[["verdict"]].rename(columns={"verdict": "summary"}), left_on=list(by), right_index=True)
    mins = merged[merged["verdict"] == merged["summary"]].groupby(list(by))["margin_m"].min()
    counts["margin_m"] = mins.reindex(counts.index)
    out = counts.reset_index()
    return out[[*by, "verdict", "n_pairs", *(f"n_{v}" for v in VERDICTS), "margin_m"]]


__all__ = [
    "EXACT_FACTOR",
    "MAX_REACH_M",
    "PIECE",
    "STAGES",
    "VERDICTS",
    "VERDICT_COLUMNS",
    "Evaluation",
    "PairVerdicts",
    "Pairs",
    "ZoneCaps",
    "_ZoneCaps",
    "_evaluate_in_period",
    "_evaluate_reach",
    "_focal_lb",
    "_verdicts_for_pairs",
    "_zone_items",
    "evaluate",
    "make_pairs",
    "summarize_prism",
    "verdicts",
    "verdicts_for_pairs",
    "verdicts_with_paths",
    "zone_caps",
]

# Renamed so that no two public functions share a name; the old name works, with a warning, for one release.
__getattr__ = deprecated_names(__name__, {"summarize": "summarize_prism"})
