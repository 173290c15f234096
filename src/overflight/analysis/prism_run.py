"""`prism_verdicts`: the space-time prism run of a sightings file or table, as one result object.

The verdict engine is `overflight.analysis.prism`; this module is its front door for callers (the command
line, the web app, a notebook): it reads sightings (place names and time windows allowed), coerces the
zones with `overflight.zones.as_zoneset`, accepts the top speed with a unit, runs the pairs in batches
(with an optional progress callback), and returns a `PrismVerdicts` that holds the verdict rows, the
per-track summary and, when asked, the avoiding paths, and writes the map (`PrismVerdicts.to_geojson`).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from overflight.errors import InconsistentFixesWarning, InputError
from overflight.units import SpeedLike, parse_speed
from overflight.zones import ZoneSetLike, as_zoneset

__all__ = ["BATCH_PAIRS", "PrismVerdicts", "prism_verdicts"]

#: Pairs per batch when no paths are kept (the progress callback's step).
BATCH_PAIRS = 2000

#: ``(pair number, zone id) -> (lon array, lat array)`` of an avoiding path.
Paths = dict[tuple[int, str], tuple[Any, Any]]


@dataclass
class PrismVerdicts:
    """What a prism run found.

    Attributes
    ----------
    verdicts : pandas.DataFrame
        One row per (pair of consecutive sightings, zone): ``track_id, from_index, to_index, zone_id, verdict,
        budget_m, direct_m, detour_m, margin_m, detour_exact``, and for sightings read from a file the pair's
        ``from_observation, from_time, to_observation, to_time``. Without ``keep_impossible`` the
        ``impossible`` rows are left out here (not from the summary).
    summary : pandas.DataFrame
        Per track and zone, the pairs combined (``overflight.analysis.prism.summarize_prism``).
    vmax_mps : float
        The top speed used, in metres per second.
    pairs : Pairs
        The sighting pairs, flattened to arrays (what the map is drawn from).
    paths : dict
        ``(pair number, zone id) -> (lon, lat)`` of each avoiding path found (only with ``with_paths``).
    """

    verdicts: pd.DataFrame
    summary: pd.DataFrame
    vmax_mps: float
    pairs: Any
    paths: Paths = field(default_factory=dict)
    _all: pd.DataFrame | None = field(default=None, repr=False)

    def to_geojson(self) -> dict[str, Any]:
        """The prism ellipses (one per pair) and the avoiding paths as a GeoJSON FeatureCollection.

        Returns
        -------
        dict
            Features of ``kind`` ``ppa`` (the potential path area; no geometry when the pair is inconsistent)
            and ``avoiding_path`` (with the zone, the verdict and the path length).
        """
        from shapely.geometry import LineString, mapping

        from overflight.analysis.prism import ppa

        pairs, vmax = self.pairs, self.vmax_mps
        table = self._all if self._all is not None else self.verdicts
        t0 = pd.Timestamp("2000-01-01", tz="UTC")
        features: list[dict[str, Any]] = []
        for i in range(len(pairs.lon1)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", InconsistentFixesWarning)
                geom = ppa((pairs.lon1[i], pairs.lat1[i]), t0, (pairs.lon2[i], pairs.lat2[i]),
                           t0 + timedelta(seconds=float(pairs.dt[i])), vmax, max_error_m=50.0, max_vertices=2048)
            props = {"kind": "ppa", "track_id": str(pairs.track_id[i]), "from_index": str(pairs.from_index[i]),
                     "to_index": str(pairs.to_index[i]), "budget_m": float(vmax * pairs.dt[i]),
                     "inconsistent": bool(geom.is_empty)}
            features.append({"type": "Feature", "properties": props,
                             "geometry": None if geom.is_empty else mapping(geom)})
        nz = table["zone_id"].nunique() if len(table) else 0
        for (i, zid), (lon, lat) in self.paths.items():
            row = table[(table["zone_id"] == zid)].iloc[i] if nz else None
            props = {"kind": "avoiding_path", "track_id": str(pairs.track_id[i]),
                     "from_index": str(pairs.from_index[i]), "to_index": str(pairs.to_index[i]), "zone_id": zid,
                     "verdict": str(row["verdict"]) if row is not None else None,
                     "length_m": float(row["detour_m"]) if row is not None and math.isfinite(row["detour_m"])
                     else None}
            features.append({"type": "Feature", "properties": props,
                             "geometry": mapping(LineString(list(zip(lon, lat, strict=True))))})
        return {"type": "FeatureCollection", "features": features}

    def write_geojson(self, path: str | Path) -> int:
        """Write `to_geojson` to a file; returns the number of features."""
        doc = self.to_geojson()
        Path(path).write_text(json.dumps(doc))
        return len(doc["features"])


def _batch_runner(caps: Any, v: float, precise: bool, with_paths: bool, paths: Paths) -> Callable[[Any], pd.DataFrame]:
    """The engine's call for one batch of pairs; avoiding paths, when asked, are gathered into `paths`."""
    from overflight.analysis.prism.verdicts import verdicts_for_pairs

    def run(batch: Any) -> pd.DataFrame:
        res = verdicts_for_pairs(batch, caps, v, precise=precise, keep_impossible=True, with_paths=with_paths)
        paths.update(res.paths)
        return res.table

    return run


def prism_verdicts(
    sightings: str | Path | pd.DataFrame,
    zones: ZoneSetLike,
    vmax: SpeedLike,
    *,
    keep_impossible: bool = True,
    fast: bool = False,
    with_paths: bool = False,
    credibility: int | str | None = None,
    progress: Callable[[int, int], None] | None = None,
    **read: Any,
) -> PrismVerdicts:
    """Tell whether entering each zone was impossible, possible or necessary between consecutive sightings.

    Parameters
    ----------
    sightings : path or pandas.DataFrame
        A sightings file (CSV with place names and time windows allowed, or any track file; read with
        ``overflight.evidence.sightings.read_sightings``), or a track table (``track_id``, ``time`` tz-aware,
        ``lon``, ``lat``, optional ``pos_err_m`` and ``time_err_s``).
    zones : ZoneSetLike
        The zones (anything :func:`overflight.zones.as_zoneset` takes).
    vmax : str or float
        Top speed: with a unit (``"185kmh"``, ``"100kt"``) or a number of metres per second.
    keep_impossible : bool
        Keep the ``impossible`` rows in ``verdicts`` (most rows, for a world-wide zone set).
    fast : bool
        Same verdicts, faster; where ``detour_exact`` is false, margins and detours are certified bounds,
        not values (for most ``impossible`` rows a lower bound on the entering length, from the zone's caps).
        Ignored with ``with_paths``, which needs the exact avoiding paths.
    with_paths : bool
        Keep every avoiding path found (for `PrismVerdicts.to_geojson`).
    credibility : int or str, optional
        Admiralty credibility of sightings read from a file that do not give their own.
    progress : callable, optional
        ``progress(done, total)`` in (pair x zone) combinations, after every batch.
    **read
        Column and time options of ``read_sightings`` (``id_col``, ``time_col``, ``tz``, ...).

    Returns
    -------
    PrismVerdicts
        The verdict rows, the per-track summary, the speed and (``with_paths``) the avoiding paths.

    Raises
    ------
    InputError
        A speed that is not above zero or has no known unit, an unreadable sightings file, bad zones.

    Examples
    --------
    >>> import pandas as pd, shapely
    >>> from overflight import prism_verdicts
    >>> fixes = pd.DataFrame({"track_id": ["d1", "d1"], "lon": [0.0, 2.0], "lat": [0.0, 0.0],
    ...                       "time": pd.to_datetime(["2025-06-21T01:00Z", "2025-06-21T02:00Z"])})
    >>> zones = {"wall": shapely.box(0.9, -5, 1.1, 5), "far": shapely.box(10, 10, 11, 11)}
    >>> res = prism_verdicts(fixes, zones, "300kmh")
    >>> res.verdicts[["zone_id", "verdict"]].values.tolist()
    [['wall', 'necessary'], ['far', 'impossible']]
    """
    from overflight.analysis.prism import summarize_prism
    from overflight.analysis.prism.caps import zone_caps
    from overflight.analysis.prism.pairs import Pairs, _zone_items, make_pairs
    from overflight.evidence.sightings import label_pairs, observations_frame, read_sightings, sightings_table

    v = parse_speed(vmax, default_unit="mps")
    zs = as_zoneset(zones)
    table: pd.DataFrame | None = None
    if isinstance(sightings, pd.DataFrame):
        if read or credibility is not None:  # would be ignored: say so rather than run without them
            given = sorted([*read, *(["credibility"] if credibility is not None else [])])
            raise InputError(f"{', '.join(given)}: options for reading a sightings file, not for a table",
                             field=given[0])
        pairs = make_pairs(sightings)
    elif isinstance(sightings, str | Path):
        table = sightings_table(observations_frame(read_sightings(sightings, credibility=credibility, **read)))
        pairs = make_pairs(table.drop(columns=["observation"]))
    else:
        raise InputError(f"sightings must be a file or a DataFrame, not {type(sightings).__name__}",
                         field="sightings")
    caps = zone_caps(_zone_items(zs), source=zs)
    paths: Paths = {}
    precise = not fast or with_paths
    run_batch = _batch_runner(caps, v, precise, with_paths, paths)
    n = len(pairs.lon1)
    # Without paths, pairs go in batches (rows are pair-major, so the batches' rows join in the same order).
    step = n if with_paths else BATCH_PAIRS
    total = n * len(zs)
    done = 0
    parts = []
    for a in range(0, max(n, 1), max(step, 1)):
        batch = Pairs(**{f.name: getattr(pairs, f.name)[a:a + step] for f in fields(Pairs)})
        parts.append(run_batch(batch))
        done += len(batch.lon1) * len(zs)
        if progress is not None:
            progress(done, total)
    df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    if table is not None:
        df = label_pairs(df, table)
    shown = df if keep_impossible else df[df["verdict"] != "impossible"].reset_index(drop=True)
    return PrismVerdicts(verdicts=shown, summary=summarize_prism(df), vmax_mps=v, pairs=pairs,
                       paths={k: (np.asarray(lo), np.asarray(la)) for k, (lo, la) in paths.items()}, _all=df)
