"""Attribution of points (wreckage, impacts) to zones, with the statistics to test a claim about them.

- `zone_membership`: every zone containing each point (a point in two state zones is *disputed*);
- `border_distance`: geodesic distance from each point to the nearest border of a zone (in
  `overflight.analysis.borders`, re-exported here);
- `distance_bands`: geodesic distance from reference points and whether it lies in a band
  ("22 to 800 km from Akhtubinsk");
- `wilson_interval` and `assess_share_claim`: the share of points inside a zone with its Wilson score
  interval, and whether that supports a claim such as "more than 90% lay inside zone Z";
- `cluster_points`: DBSCAN clusters on the sphere (scikit-learn, haversine metric, ball tree);
- `attribute_points`: all of the above as one table, in an `AttributionResult`; `run_attribution`: the same
  on a case, recorded as an analysis run (re-runnable by `overflight case verify`) with an
  ``attribution_stat`` evidence item.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import ArrayLike, NDArray

from overflight._deprecated import LegacyAccess, deprecated_names
from overflight.analysis.borders import _xy
from overflight.analysis.borders import border_distance as border_distance
from overflight.analysis.membership import members, point_in
from overflight.errors import InputError, OverflightError
from overflight.evidence.model import EvidenceItem
from overflight.geodesy import GEOD as _GEOD
from overflight.geodesy import R_MEAN
from overflight.zones import ZoneSetLike, as_zoneset

if TYPE_CHECKING:
    from overflight.case.store import Case

EARTH_MEAN_RADIUS_M = R_MEAN  # for the haversine metric of DBSCAN


# ---------------------------------------------------------------- membership


def contains(geometry: Any, lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Which points lie inside one zone geometry.

    Which points lie inside one zone geometry, by the one membership rule of every analysis
    (`overflight.analysis.membership`: a point on a border belongs to the zone north of an east-west edge,
    east of a north-south edge; longitude 180 is -180).
    """
    return point_in(geometry, lon, lat)


def zone_membership(lon: ArrayLike, lat: ArrayLike, zones: ZoneSetLike,
                    times: ArrayLike | None = None) -> NDArray[np.bool_]:
    """A boolean matrix (points × zones): True where the zone contains the point (the ZoneIndex rule).

    With ``times`` (UTC), a zone counts only while in force, ``valid_from <= t < valid_to``
    (`Zone.active_at`, as in transit and prism); points without a time (NaT) are tested against every zone.
    """
    x, y = _xy(lon, lat)
    t = None
    if times is not None:
        t = pd.to_datetime(pd.Series(times), utc=True)
        if len(t) != x.size:
            raise InputError(f"{len(t)} times for {x.size} points", field="time")
    return members(x, y, zones, t)


# ---------------------------------------------------------------- distance bands


@dataclass(frozen=True)
class Reference:
    """A reference point and a distance band around it (``min_km``–``max_km``)."""

    name: str
    lon: float
    lat: float
    min_km: float = 0.0
    max_km: float = math.inf

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> Reference:
        """A reference from a mapping (``name``, ``lon``, ``lat``, optional ``min_km``/``max_km``)."""
        try:
            return cls(str(m["name"]), float(m["lon"]), float(m["lat"]), float(m.get("min_km", 0.0)),
                       float(m.get("max_km", math.inf)))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"a reference needs name, lon, lat (and min_km, max_km): {exc}",
                             field="references") from None

    def as_dict(self) -> dict[str, Any]:
        """The reference as a plain mapping (the inverse of `from_mapping`)."""
        return {"name": self.name, "lon": self.lon, "lat": self.lat, "min_km": self.min_km,
                "max_km": None if math.isinf(self.max_km) else self.max_km}


def parse_reference(text: str, *, field: str = "references") -> dict[str, Any]:
    """A reference written ``NAME:LON,LAT[:MIN-MAXkm]``, as the mapping `run_attribution` takes.

    Parameters
    ----------
    text : str
        For example ``Akhtubinsk:46.2,48.3:22-800km`` (the band is optional).
    field : str
        The field or option named in the error.

    Returns
    -------
    dict
        ``name``, ``lon``, ``lat`` and, with a band, ``min_km`` and ``max_km``.

    Raises
    ------
    InputError
        Text not of that form.

    Examples
    --------
    >>> from overflight.analysis.attribution import parse_reference
    >>> parse_reference("Akhtubinsk:46.2,48.3:22-800km")
    {'name': 'Akhtubinsk', 'lon': 46.2, 'lat': 48.3, 'min_km': 22.0, 'max_km': 800.0}
    """
    try:
        parts = text.split(":")
        lon, lat = (float(v) for v in parts[1].split(","))
        ref: dict[str, Any] = {"name": parts[0], "lon": lon, "lat": lat}
        if len(parts) > 2:
            lo, hi = parts[2].lower().removesuffix("km").split("-")
            ref["min_km"], ref["max_km"] = float(lo), float(hi)
        return ref
    except (IndexError, ValueError):
        raise InputError(f"reference {text!r} must look like NAME:LON,LAT[:MIN-MAXkm]", field=field) from None


def distance_bands(lon: ArrayLike, lat: ArrayLike, references: Sequence[Reference]) -> pd.DataFrame:
    """Geodesic distance (km) of each point from each reference, and whether it lies in the band.

    Columns ``dist_km:<name>`` and ``in_band:<name>`` for each reference.
    """
    x, y = _xy(lon, lat)
    cols: dict[str, Any] = {}
    for r in references:
        _, _, d = _GEOD.inv(np.full(x.size, r.lon), np.full(x.size, r.lat), x, y)
        km = np.asarray(d, dtype=float) / 1000.0
        cols[f"dist_km:{r.name}"] = km
        cols[f"in_band:{r.name}"] = (km >= r.min_km) & (km <= r.max_km)
    return pd.DataFrame(cols)


# ---------------------------------------------------------------- shares and claims


def wilson_interval(k: ArrayLike, n: ArrayLike, confidence: float = 0.95
                    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Wilson score interval for a binomial proportion k/n (vectorised; n = 0 gives (0, 1)).

    Same as ``statsmodels.stats.proportion.proportion_confint(k, n, alpha, method="wilson")``.
    """
    kk = np.asarray(k, dtype=float)
    nn = np.asarray(n, dtype=float)
    if np.any(kk < 0) or np.any(kk > nn):
        raise InputError("need 0 <= k <= n", field="k")
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = kk / nn
        denom = 1 + z * z / nn
        center = (p + z * z / (2 * nn)) / denom
        half = z * np.sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn)) / denom
    low = np.where(nn > 0, np.clip(center - half, 0, 1), 0.0)
    high = np.where(nn > 0, np.clip(center + half, 0, 1), 1.0)
    return low, high


@dataclass(frozen=True)
class ShareTest:
    """The outcome of testing a claim about a share against the data."""

    k: int
    n: int
    share: float
    low: float
    high: float
    threshold: float
    direction: str
    confidence: float
    outcome: str  # supported | contradicted | inconclusive

    def sentence(self) -> str:
        """One line: the share, its interval, the claim and the outcome."""
        rel = ">" if self.direction == "more" else "<"
        share = f"{self.share:.0%}" if self.n else "n/a"
        return (f"{self.k} of {self.n} = {share} (Wilson {self.confidence:.0%}: {self.low:.1%}–{self.high:.1%}) "
                f"vs claim share {rel} {self.threshold:.0%}: {self.outcome}")


def assess_share_claim(k: int, n: int, threshold: float = 0.9, direction: str = "more",
                     confidence: float = 0.95) -> ShareTest:
    """Test a claim "more (or less) than `threshold` of the n points lie inside" given k of n inside.

    ``more``: supported when the whole interval lies above the threshold, contradicted when it lies at or
    below it, inconclusive when the interval straddles it (also when n = 0). ``less`` mirrors that.
    """
    if direction not in ("more", "less"):
        raise InputError(f"direction {direction!r} must be 'more' or 'less'", field="direction")
    if not 0 <= threshold <= 1:
        raise InputError(f"threshold {threshold} must lie in [0, 1]", field="threshold")
    lo_a, hi_a = wilson_interval(k, n, confidence)
    lo, hi = float(lo_a), float(hi_a)
    if n == 0:
        outcome = "inconclusive"
    elif direction == "more":
        outcome = "supported" if lo > threshold else "contradicted" if hi <= threshold else "inconclusive"
    else:
        outcome = "supported" if hi < threshold else "contradicted" if lo >= threshold else "inconclusive"
    return ShareTest(int(k), int(n), k / n if n else math.nan, lo, hi, threshold, direction, confidence, outcome)




# ---------------------------------------------------------------- clusters


def cluster_points(lon: ArrayLike, lat: ArrayLike, eps_m: float, min_samples: int = 2) -> NDArray[np.int64]:
    """DBSCAN cluster labels (−1 = noise) with great-circle distance.

    DBSCAN cluster labels (−1 = noise) with great-circle distance: scikit-learn's haversine ball tree,
    ``eps = eps_m / 6,371,008.8 m`` (spherical; within 0.5% of the WGS84 geodesic distance).
    """
    try:
        from sklearn.cluster import DBSCAN
    except ImportError as exc:  # optional dependency
        raise OverflightError("clustering needs scikit-learn: pip install scikit-learn") from exc
    x, y = _xy(lon, lat)
    if x.size == 0:
        return np.zeros(0, dtype=np.int64)
    model = DBSCAN(eps=eps_m / EARTH_MEAN_RADIUS_M, min_samples=min_samples, metric="haversine",
                   algorithm="ball_tree")
    labels: NDArray[np.int64] = model.fit_predict(np.radians(np.column_stack([y, x]))).astype(np.int64)
    return labels


# ---------------------------------------------------------------- the result


@dataclass(frozen=True, eq=False, repr=False)
class AttributionResult(LegacyAccess):
    """Points attributed to zones: what `attribute_points` and `run_attribution` return.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per point: ``id, lon, lat, [time], zones, states, disputed`` and the optional columns
        (``inside:<id>``, ``border_m:<id>``, ``dist_km:<name>``, ``in_band:<name>``, ``cluster``).
    provenance : dict
        The zone set's provenance (name, version, sha256, kind) and, under ``parameters``, the call's.
    share : ShareTest or None
        The share test of `run_attribution` with a ``target`` (None otherwise: call `assess_share`).
    evidence : list of EvidenceItem
        The ``attribution_stat`` evidence `run_attribution` recorded for a claim (empty otherwise).
    run_id : str or None
        The analysis run recorded in the case (None when not recorded).

    Notes
    -----
    Until the next release a result of `attribute_points` still answers as the DataFrame it used to return
    (``res["zones"]``, ``res.columns``, ...), with an :class:`~overflight.errors.OverflightDeprecationWarning`:
    use ``.table``.
    """

    _legacy_field: ClassVar[str] = "table"
    _legacy_was: ClassVar[str] = "attribute() returned a DataFrame"

    table: pd.DataFrame
    provenance: dict[str, Any] = field(default_factory=dict)
    share: ShareTest | None = None
    evidence: list[EvidenceItem] = field(default_factory=list)
    run_id: str | None = None

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        t = self.table
        located = int((t["zones"] != "").sum()) if "zones" in t else 0
        disputed = int(t["disputed"].sum()) if "disputed" in t else 0
        out = (f"AttributionResult({len(t):,} points, {located:,} in a zone, {disputed:,} disputed; "
               f"zone set {self.provenance.get('name', '?')!r}")
        if self.run_id is not None:
            out += f"; run {self.run_id}"
        if self.share is not None:
            out += f"; {self.share.k} of {self.share.n} inside: {self.share.outcome}"
        return out + ")"

    def share_inside(self, target: str, region: str | None = None) -> tuple[int, int]:
        """(k, n): the points inside `region` (all when None), and of those the ones inside `target`."""
        return share_inside(self.table, target, region)

    def assess_share(self, target: str, region: str | None = None, *, threshold: float = 0.9,
                     direction: str = "more", confidence: float = 0.95) -> ShareTest:
        """Test a claimed share of the points (of `region`) inside `target` (`assess_share_claim`)."""
        k, n = self.share_inside(target, region)
        return assess_share_claim(k, n, threshold, direction, confidence)

    def to_frame(self) -> pd.DataFrame:
        """The table, one row per point (the DataFrame itself, not a copy)."""
        return self.table

    def to_arrow(self) -> pa.Table:
        """The table as an Arrow table, with the provenance as JSON in its schema metadata."""
        table = pa.Table.from_pandas(self.table, preserve_index=False)
        meta = {**(table.schema.metadata or {}), b"overflight": json.dumps(self.provenance, default=str).encode()}
        return table.replace_schema_metadata(meta)


# ---------------------------------------------------------------- the table


def attribute_points(points: pd.DataFrame, zones: ZoneSetLike, *, border_zones: Sequence[str] = (),
                     references: Sequence[Reference] = (), cluster_eps_m: float | None = None,
                     min_samples: int = 2, max_step_m: float = 200.0) -> AttributionResult:
    """Attribute points to zones: one row per point.

    Parameters
    ----------
    points
        DataFrame with ``lon``, ``lat`` and optional ``id`` and ``time``.
    zones
        The zones: anything `overflight.zones.as_zoneset` takes (a ZoneSet, a boundary-set name, a mapping
        id -> geometry, ...); their kinds and validity periods are used.
    border_zones
        Zone ids for which to add ``inside:<id>`` and ``border_m:<id>`` (geodesic distance to its border).
    references
        Distance bands (`Reference`): adds ``dist_km:<name>`` and ``in_band:<name>``.
    cluster_eps_m, min_samples
        When given, adds DBSCAN ``cluster`` labels (−1 = noise).

    Returns
    -------
    AttributionResult
        ``table``: ``id, lon, lat, [time], zones`` (ids of every containing zone, ``;``-separated), ``states``
        (state zones only), ``disputed`` (inside more than one state zone), then the optional columns;
        ``provenance``: the zone set's and the parameters. ``share_inside`` and ``assess_share`` test a share.

    Examples
    --------
    >>> import pandas as pd, shapely
    >>> from overflight import attribute
    >>> zones = {"A": shapely.box(0, 0, 2, 2), "B": shapely.box(1, 0, 3, 2)}
    >>> pts = pd.DataFrame({"id": ["w1", "w2", "w3"], "lon": [0.5, 1.5, 2.5], "lat": [1.0, 1.0, 1.0]})
    >>> res = attribute(pts, zones, border_zones=["A"])
    >>> res.table[["id", "zones", "inside:A"]].values.tolist()
    [['w1', 'A', True], ['w2', 'A;B', True], ['w3', 'B', False]]
    >>> res
    AttributionResult(3 points, 3 in a zone, 0 disputed; zone set 'zones')
    >>> res.share_inside("A"), res.assess_share("A", threshold=0.5).outcome
    ((2, 3), 'inconclusive')
    """
    for c in ("lon", "lat"):
        if c not in points.columns:
            raise InputError(f"points lack a {c!r} column", field=c)
    x, y = _xy(points["lon"], points["lat"])
    n = x.size
    zs = as_zoneset(zones)
    zl = list(zs)
    ids = np.array([z.id for z in zl], dtype=object)
    times = points["time"] if "time" in points.columns else None
    member = zone_membership(x, y, zl, times)
    is_state = np.array([z.kind == "state" for z in zl], dtype=bool)
    out = pd.DataFrame({"id": points["id"].astype(str).to_numpy() if "id" in points.columns
                        else np.arange(n).astype(str), "lon": x, "lat": y})
    if times is not None:
        out["time"] = pd.to_datetime(times, utc=True).to_numpy()

    def joined(m: NDArray[np.bool_]) -> NDArray[np.object_]:
        cnt = m.sum(axis=1)
        s = np.full(n, "", dtype=object)
        if m.shape[1]:
            one = cnt == 1
            s[one] = ids[m[one].argmax(axis=1)]
            for i in np.flatnonzero(cnt > 1):  # rare: overlapping zones
                s[i] = ";".join(ids[m[i]])
        return s

    out["zones"] = joined(member)
    state_m = member & is_state[None, :]
    out["states"] = joined(state_m)
    out["disputed"] = state_m.sum(axis=1) > 1
    for zid in border_zones:
        z = next((z for z in zl if z.id == zid), None)
        if z is None:
            raise InputError(f"no zone {zid!r} among the zones given", field="border_zones")
        j = [zz.id for zz in zl].index(zid)
        out[f"inside:{zid}"] = member[:, j]
        out[f"border_m:{zid}"] = border_distance(x, y, z.geometry, max_step_m=max_step_m) if n else []
    if references:
        bands = distance_bands(x, y, references)
        for c in bands.columns:
            out[c] = bands[c].to_numpy()
    if cluster_eps_m is not None:
        out["cluster"] = cluster_points(x, y, cluster_eps_m, min_samples)
    params = {"border_zones": list(border_zones), "references": [r.as_dict() for r in references],
              "cluster_eps_m": cluster_eps_m, "min_samples": min_samples, "max_step_m": max_step_m}
    return AttributionResult(out, {**zs.provenance.as_dict(), "parameters": params})


def share_inside(table: pd.DataFrame | AttributionResult, target: str, region: str | None = None
                 ) -> tuple[int, int]:
    """Count the points inside a region, and of those inside a target zone.

    (k, n): points of `table` (an `AttributionResult`, or its ``table`` as a case stores it) inside `region`
    (all when None), and of those the ones inside `target`.
    """
    if isinstance(table, AttributionResult):
        table = table.table

    def has(zid: str) -> NDArray[np.bool_]:
        return np.array([zid in s.split(";") for s in table["zones"]], dtype=bool)

    inr = has(region) if region else np.ones(len(table), dtype=bool)
    k = int((inr & has(target)).sum())
    return k, int(inr.sum())


# ---------------------------------------------------------------- on a case


def _params(p: Mapping[str, Any]) -> dict[str, Any]:
    return {"kinds": list(p.get("kinds") or ["wreckage", "impact"]), "zones": p.get("zones"),
            "target": p.get("target"), "region": p.get("region"),
            "references": [Reference.from_mapping(r).as_dict() for r in p.get("references") or []],
            "claim": p.get("claim"), "threshold": float(p.get("threshold", 0.9)),
            "direction": str(p.get("direction", "more")), "confidence": float(p.get("confidence", 0.95)),
            "cluster_eps_m": p.get("cluster_eps_m"), "min_samples": int(p.get("min_samples", 2)),
            "max_step_m": float(p.get("max_step_m", 200.0)), "grade": p.get("grade")}


def _zone_ids(params: Mapping[str, Any]) -> list[str] | None:
    ids = params.get("zones")
    if not ids:
        return None
    extra = [z for z in (params.get("target"), params.get("region")) if z and z not in ids]
    return [*ids, *extra]


def rerun_attribution(case: Case, params: Mapping[str, Any]) -> pd.DataFrame:
    """The registered re-run of an attribution: the result table from the case and the parameters."""
    return _attribute_case(case, params).table


def _attribute_case(case: Case, params: Mapping[str, Any]) -> AttributionResult:
    p = _params(params)
    obs = case.observations_frame(p["kinds"])
    obs = obs[obs["lon"].notna() & obs["lat"].notna()]
    pts = pd.DataFrame({"id": obs["id"], "lon": obs["lon"], "lat": obs["lat"], "time": obs["time_start"]})
    zs = case.zones(_zone_ids(p))
    border = [z for z in (p["target"], p["region"]) if z]
    refs = [Reference.from_mapping({**r, "max_km": r["max_km"] if r["max_km"] is not None else math.inf})
            for r in p["references"]]
    return attribute_points(pts.reset_index(drop=True), zs, border_zones=border, references=refs,
                            cluster_eps_m=p["cluster_eps_m"], min_samples=p["min_samples"],
                            max_step_m=p["max_step_m"])


def attribution_inputs(case: Case, params: Mapping[str, Any]) -> dict[str, str]:
    """Input hashes of an attribution: the observations of the kinds used, and the zones used."""
    p = _params(params)
    ids = _zone_ids(p)
    zone_where, zone_params = ("WHERE id IN (SELECT unnest(?))", [ids]) if ids else ("", [])
    return {"observations": case.table_hash("observations", "WHERE kind IN (SELECT unnest(?))", [p["kinds"]]),
            "zones": case.table_hash("zones", zone_where, zone_params)}


def run_attribution(case: Case, *, target: str | None = None, region: str | None = None,
                    kinds: Sequence[str] = ("wreckage", "impact"), zones: Sequence[str] | None = None,
                    references: Sequence[Reference | Mapping[str, Any]] = (), claim: str | None = None,
                    threshold: float = 0.9, direction: str = "more", confidence: float = 0.95,
                    cluster_eps_m: float | None = None, min_samples: int = 2, max_step_m: float = 200.0,
                    grade: str | None = None, record: bool = True) -> AttributionResult:
    """Attribute the case's point observations to its zones, record the run and, for a claim, its evidence.

    With ``target`` (and optionally ``region``) the share of points in the region that lie inside the
    target is tested against ``threshold`` (`assess_share_claim`); with ``claim`` that test becomes an
    ``attribution_stat`` evidence item (supports / contradicts; none when inconclusive). Its grade is
    ``grade`` when given, else the weakest reliability and credibility among the points used.
    """
    started = datetime.now(UTC)
    refs = [r if isinstance(r, Reference) else Reference.from_mapping(r) for r in references]
    params = _params({"kinds": list(kinds), "zones": list(zones) if zones else None, "target": target,
                      "region": region, "references": [r.as_dict() for r in refs], "claim": claim,
                      "threshold": threshold, "direction": direction, "confidence": confidence,
                      "cluster_eps_m": cluster_eps_m, "min_samples": min_samples, "max_step_m": max_step_m,
                      "grade": grade})
    if claim is not None and claim not in case.claims():
        raise InputError(f"unknown claim {claim!r}", field="claim")
    attributed = _attribute_case(case, params)
    table = attributed.table
    share: ShareTest | None = None
    items: list[EvidenceItem] = []
    if target:
        k, n = share_inside(table, target, region)
        share = assess_share_claim(k, n, threshold, direction, confidence)
        if claim is not None and share.outcome != "inconclusive":
            obs = {o.id: o for o in case.observations(list(kinds))}
            used = [obs[i] for i in table["id"] if i in obs]
            srcs = case.sources()
            if grade:
                from overflight.evidence.grading import parse_grade
                g = parse_grade(grade, field="grade")
                rel, cred = g.reliability, g.credibility
            else:
                rel = max((srcs[o.source_id].reliability if o.source_id in srcs else "F") for o in used) \
                    if used else "F"
                cred = max(o.credibility for o in used) if used else 6
            illus = " [illustrative data]" if any(o.illustrative for o in used) else ""
            where = f" in {region}" if region else ""
            items.append(EvidenceItem(
                id=f"attr-{claim}-{target}", claim_id=claim, kind="attribution_stat",
                direction="supports" if share.outcome == "supported" else "contradicts",
                reasoning=f"points{where} inside {target}: {share.sentence()}{illus}",
                reliability=rel, credibility=cred))
    run_id = None
    if record:
        prov = None
        try:
            prov = case.zones(_zone_ids(params)).provenance
        except InputError:
            prov = None
        run_id = case.record_run("attribution", params, attribution_inputs(case, params), prov, table, items,
                                 started=started)
        items = [EvidenceItem(**{**e.__dict__, "run_id": run_id}) for e in items]
    return AttributionResult(table, attributed.provenance, share, items, run_id)



__getattr__ = deprecated_names(__name__, {"rerun": "rerun_attribution", "inputs": "attribution_inputs"})

__all__ = [
    "AttributionResult",
    "Reference",
    "ShareTest",
    "assess_share_claim",
    "attribute_points",
    "attribution_inputs",
    "border_distance",
    "cluster_points",
    "contains",
    "distance_bands",
    "parse_reference",
    "rerun_attribution",
    "run_attribution",
    "share_inside",
    "wilson_interval",
    "zone_membership",
]
