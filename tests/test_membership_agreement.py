"""One membership rule in every analysis: locate, transit, attribution and prism agree on the same points.

The rule (README, "One membership rule"): a point on a border belongs to the zone north of an east-west edge,
east of a north-south edge; longitude 180 is -180; a zone is in force during [valid_from, valid_to).
Each point below is put through

- locate: ``ZoneIndex.locate_all``;
- attribution: ``zone_membership`` (with the point's time);
- transit: a stationary track at the point, from its time for one second (a visit that starts then);
- prism: two fixes at the point a microsecond apart: *necessary* exactly when the fix is in a zone in force.

and the four answers must be the same, and the expected one where the rule gives it by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon, box

from overflight.analysis.attribution import zone_membership
from overflight.analysis.membership import members, point_in
from overflight.analysis.prism import verdicts
from overflight.analysis.transit import transit
from overflight.index import ZoneIndex
from overflight.zones import Provenance, Zone, ZoneSet

VF = datetime(2025, 6, 1, 0, 0, tzinfo=UTC)
VT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
NOON_BEFORE = pd.Timestamp("2025-05-31T12:00:00Z")


def _zones() -> ZoneSet:
    donut = Polygon([(3, 0), (6, 0), (6, 3), (3, 3)], [[(4, 1), (5, 1), (5, 2), (4, 2)]])
    zs = [
        Zone("A", "A", "state", box(0, 0, 1, 1)),
        Zone("B", "B", "state", box(0, 1, 1, 2)),  # shares A's northern edge (east-west)
        Zone("C", "C", "state", box(1, 0, 2, 1)),  # shares A's eastern edge (north-south)
        Zone("D", "D", "state", donut),  # a hole [4, 5] x [1, 2]
        Zone("T", "T", "restricted", box(10, 0, 11, 1), valid_from=VF, valid_to=VT),
        Zone("W", "W", "state", box(179, 0, 180, 1)),  # west of the antimeridian
        Zone("E", "E", "state", box(-180, 0, -179, 1)),  # east of it
    ]
    return ZoneSet(zs, Provenance("agreement", "1", "test", "tests", "0"))


# (lon, lat, time, zones expected by the rule)
CASES = [
    (0.5, 0.5, NOON_BEFORE, {"A"}),
    (0.5, 1.0, NOON_BEFORE, {"B"}),  # on the A/B edge: the zone north of it
    (1.0, 0.5, NOON_BEFORE, {"C"}),  # on the A/C edge: the zone east of it
    (0.5, 0.0, NOON_BEFORE, {"A"}),  # A's southern border: A is north of it
    (0.5, 2.0, NOON_BEFORE, set()),  # B's northern border: nothing north of it
    (0.0, 0.5, NOON_BEFORE, {"A"}),  # A's western border: A is east of it
    (2.0, 0.5, NOON_BEFORE, set()),  # C's eastern border
    (0.0, 0.0, NOON_BEFORE, {"A"}),  # a corner: north, then east, is inside A
    (1.0, 1.0, NOON_BEFORE, set()),  # the corner shared by A, B, C: north-east of it is nobody's
    (0.0, 1.0, NOON_BEFORE, {"B"}),
    (3.5, 1.5, NOON_BEFORE, {"D"}),
    (4.5, 1.5, NOON_BEFORE, set()),  # in the hole
    (4.5, 1.0, NOON_BEFORE, set()),  # the hole's southern edge: north of it is the hole
    (4.5, 2.0, NOON_BEFORE, {"D"}),  # the hole's northern edge: north of it is D
    (4.0, 1.5, NOON_BEFORE, set()),  # the hole's western edge: east of it is the hole
    (5.0, 1.5, NOON_BEFORE, {"D"}),  # the hole's eastern edge: east of it is D
    (180.0, 0.5, NOON_BEFORE, {"E"}),  # longitude 180 is -180
    (-180.0, 0.5, NOON_BEFORE, {"E"}),
    (179.5, 0.5, NOON_BEFORE, {"W"}),
    (10.5, 0.5, pd.Timestamp(VF) - pd.Timedelta(seconds=1), set()),  # before the period
    (10.5, 0.5, pd.Timestamp(VF), {"T"}),  # valid_from is in force
    (10.5, 0.5, pd.Timestamp("2025-06-01T06:00:00Z"), {"T"}),
    (10.5, 0.5, pd.Timestamp(VT) - pd.Timedelta(seconds=1), {"T"}),
    (10.5, 0.5, pd.Timestamp(VT), set()),  # valid_to is not
    (10.5, 0.5, pd.Timestamp(VT) + pd.Timedelta(hours=1), set()),
    (10.0, 0.5, pd.Timestamp("2025-06-01T06:00:00Z"), {"T"}),  # on T's western border, in force
    (11.0, 0.5, pd.Timestamp("2025-06-01T06:00:00Z"), set()),  # on T's eastern border
]


@pytest.fixture(scope="module")
def zs() -> ZoneSet:
    return _zones()


def _answers(zs: ZoneSet) -> dict[str, list[set[str]]]:
    ids = np.array(zs.ids, dtype=object)
    lon = np.array([c[0] for c in CASES])
    lat = np.array([c[1] for c in CASES])
    times = pd.Series([c[2] for c in CASES])
    out: dict[str, list[set[str]]] = {}
    # locate: the ZoneIndex (positions), with the validity rule applied by Zone.active_at
    p, z = ZoneIndex(zs).locate_all(lon, lat)
    loc: list[set[str]] = [set() for _ in CASES]
    for pi, zi in zip(p.tolist(), z.tolist(), strict=True):
        if zs[zi].active_at(times.iloc[pi])[0]:
            loc[pi].add(str(ids[zi]))
    out["locate"] = loc
    # attribution
    m = zone_membership(lon, lat, zs, times)
    out["attribution"] = [set(ids[row].tolist()) for row in m]
    # the shared helpers, per geometry and per set
    m2 = members(lon, lat, zs, times)
    out["members"] = [set(ids[row].tolist()) for row in m2]
    out["point_in"] = [{zid for j, zid in enumerate(ids) if point_in(zs[j].geometry, [x], [y])[0]
                        and zs[j].active_at(t)[0]} for x, y, t in zip(lon, lat, times, strict=True)]
    # transit: a stationary track from the point's time, for one second
    rows = []
    for k, (x, y, t, _) in enumerate(CASES):
        rows += [{"track_id": f"p{k}", "time": t, "lon": x, "lat": y},
                 {"track_id": f"p{k}", "time": t + pd.Timedelta(seconds=1), "lon": x, "lat": y}]
    tracks = pd.DataFrame(rows)
    tracks["time"] = pd.to_datetime(tracks["time"], utc=True)
    vis = transit(tracks, zs).visits
    tr: list[set[str]] = [set() for _ in CASES]
    for _, v in vis.iterrows():
        k = int(str(v["track_id"])[1:])
        if pd.Timestamp(v["entry_time"]) == CASES[k][2]:  # inside at the point's own time
            tr[k].add(str(v["zone_id"]))
    out["transit"] = tr
    # prism: two fixes at the point, the second a microsecond later (no moment of the gap but the point's
    # own time is one second away from the periods' ends); necessary exactly when the fix is in a zone in force
    fixes = tracks.copy()
    fixes.loc[1::2, "time"] = fixes["time"].iloc[0::2].to_numpy() + pd.Timedelta(microseconds=1)
    pv = verdicts(fixes, zs, 50.0)
    pr: list[set[str]] = [set() for _ in CASES]
    for _, v in pv.iterrows():
        if v["verdict"] == "necessary":
            pr[int(str(v["track_id"])[1:])].add(str(v["zone_id"]))
    out["prism"] = pr
    return out


def test_every_analysis_gives_the_rule_answer_for_every_point(zs: ZoneSet) -> None:
    got = _answers(zs)
    expected = [c[3] for c in CASES]
    for name, answer in got.items():
        for k, (a, e) in enumerate(zip(answer, expected, strict=True)):
            assert a == e, (name, CASES[k][:3], a, e)


def test_prism_never_calls_a_zone_containing_a_fix_impossible_on_a_border(zs: ZoneSet) -> None:
    """A fix on a border of a zone that the rule puts outside: the zone is touched, so not impossible."""
    t = pd.Timestamp("2025-05-31T12:00:00Z")
    tracks = pd.DataFrame({"track_id": "b", "time": [t, t + pd.Timedelta(seconds=60)], "lon": [0.5, 0.5],
                           "lat": [2.0, 2.0]})
    v = verdicts(tracks, zs.select(["B"]), 50.0)
    assert v["verdict"].astype(str).tolist() == ["possible"]


def test_tracks_crossing_shared_borders_the_hole_and_the_antimeridian(zs: ZoneSet) -> None:
    """A track's visits (transit) are the zones its fixes are in (locate) plus those crossed between, and
    prism calls each zone holding a fix necessary and none of the visited zones impossible."""
    t = pd.Timestamp("2025-05-31T12:00:00Z")
    paths = {
        "ab": [(0.5, 0.5), (0.5, 1.5)],  # A then B across their shared edge
        "donut": [(3.5, 1.5), (5.5, 1.5)],  # through the hole of D and back into D
        "dateline": [(179.5, 0.5), (-179.5, 0.5)],  # W then E across the antimeridian
    }
    rows = []
    for tid, pts in paths.items():
        for k, (x, y) in enumerate(pts):
            rows.append({"track_id": tid, "time": t + pd.Timedelta(minutes=60 * k), "lon": x, "lat": y})
    tracks = pd.DataFrame(rows)
    tracks["time"] = pd.to_datetime(tracks["time"], utc=True)
    vis = transit(tracks, zs, max_gap="2h").visits
    visited = {tid: set(vis[vis["track_id"] == tid]["zone_id"].astype(str)) for tid in paths}
    assert visited == {"ab": {"A", "B"}, "donut": {"D"}, "dateline": {"W", "E"}}
    assert (vis[vis["track_id"] == "donut"].shape[0]) == 2  # out into the hole and back
    pv = verdicts(tracks, zs, 300_000 / 3600)  # 300 km/h: 300 km per gap, more than each direct path
    for tid in paths:
        sub = pv[pv["track_id"] == tid]
        nec = set(sub[sub["verdict"] == "necessary"]["zone_id"].astype(str))
        imp = set(sub[sub["verdict"] == "impossible"]["zone_id"].astype(str))
        assert nec == visited[tid], tid
        assert not (imp & visited[tid]), tid


def test_real_shared_border_points_agree_and_belong_to_exactly_one_state(ne_admin0: ZoneSet) -> None:
    """Vertices and edge midpoints of the Germany-Poland border of ne-admin0: in exactly one of the two
    states, and the same one for locate, attribution, transit and prism."""
    import shapely

    zs = ne_admin0.select(["DEU", "POL"])
    a, b = (shapely.get_coordinates(zs[i].geometry.boundary) for i in ("DEU", "POL"))
    shared = np.array(sorted(set(map(tuple, a.tolist())) & set(map(tuple, b.tolist()))))
    assert len(shared) > 50
    pts = shared[::max(1, len(shared) // 40)]
    mids = (shared[:-1] + shared[1:]) / 2  # consecutive shared vertices: mostly on a shared edge
    on_both = shapely.intersects_xy(zs["DEU"].geometry, mids[:, 0], mids[:, 1]) & shapely.intersects_xy(
        zs["POL"].geometry, mids[:, 0], mids[:, 1])
    pts = np.vstack([pts, mids[on_both][::max(1, int(on_both.sum()) // 40)]])
    ids = np.array(zs.ids, dtype=object)
    p, z = ZoneIndex(zs).locate_all(pts[:, 0], pts[:, 1])
    loc = [set() for _ in pts]
    for pi, zi in zip(p.tolist(), z.tolist(), strict=True):
        loc[pi].add(str(ids[zi]))
    att = [set(ids[row].tolist()) for row in zone_membership(pts[:, 0], pts[:, 1], zs)]
    t = pd.Timestamp("2025-05-31T12:00:00Z")
    rows = []
    for k, (x, y) in enumerate(pts):
        rows += [{"track_id": f"p{k}", "time": t, "lon": x, "lat": y},
                 {"track_id": f"p{k}", "time": t + pd.Timedelta(microseconds=1), "lon": x, "lat": y}]
    tracks = pd.DataFrame(rows)
    tracks["time"] = pd.to_datetime(tracks["time"], utc=True)
    vis = transit(tracks, zs).visits
    tr = [set() for _ in pts]
    for tid, zid in zip(vis["track_id"].astype(str), vis["zone_id"].astype(str), strict=True):
        tr[int(tid[1:])].add(zid)
    pv = verdicts(tracks, zs, 50.0)
    pr = [set() for _ in pts]
    for tid, zid, v in zip(pv["track_id"].astype(str), pv["zone_id"].astype(str), pv["verdict"].astype(str),
                           strict=True):
        if v == "necessary":
            pr[int(tid[1:])].add(zid)
    for k in range(len(pts)):
        assert loc[k] == att[k] == tr[k] == pr[k], (k, pts[k].tolist(), loc[k], att[k], tr[k], pr[k])
    n_one = sum(len(s) == 1 for s in loc)
    assert n_one >= len(pts) - 2  # tri-points aside, exactly one state (none has both)
    assert all(len(s) <= 1 for s in loc)


def test_active_at_is_half_open_and_takes_every_time_type() -> None:
    z = _zones()["T"]
    vf, vt = pd.Timestamp(VF), pd.Timestamp(VT)
    times = pd.Series([vf - pd.Timedelta(nanoseconds=1), vf, vt - pd.Timedelta(nanoseconds=1), vt, pd.NaT])
    assert z.active_at(times).tolist() == [False, True, True, False, True]  # NaT excludes nothing
    assert z.active_at(times.astype("int64").iloc[:4].to_numpy()).tolist() == [False, True, True, False]
    assert z.active_at(vf.to_pydatetime()).tolist() == [True]
    assert z.active_at(np.datetime64("2025-06-01T12:00:00")).tolist() == [False]  # naive = UTC
    # The same instant in another time zone.
    assert z.active_at(pd.Timestamp("2025-06-01T14:59:59+03:00")).tolist() == [True]
    assert _zones()["A"].active_at(times).all()  # no period: always in force


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-20, 20), st.integers(-20, 20)), min_size=3, max_size=9, unique=True),
       st.lists(st.tuples(st.integers(-42, 42), st.integers(-42, 42)), min_size=1, max_size=30))
def test_point_in_equals_the_zone_index_on_and_off_borders(ring: list[tuple[int, int]],
                                                           halves: list[tuple[int, int]]) -> None:
    """`membership.point_in` (shapely off the border, the ZoneIndex on it) is the ZoneIndex rule: points
    on half-integer grids hit vertices and edges of integer polygons exactly."""
    import shapely

    poly = shapely.make_valid(Polygon(ring))
    polys = [g for g in shapely.get_parts(poly) if g.geom_type == "Polygon" and g.area > 0]
    if not polys:
        return
    g = shapely.multipolygons(polys) if len(polys) > 1 else polys[0]
    xy = np.array(halves, dtype=float) / 2.0
    xy = np.vstack([xy, shapely.get_coordinates(g)])  # every vertex too
    ref = ZoneIndex([g]).locate(xy[:, 0], xy[:, 1]) == 0
    assert (point_in(g, xy[:, 0], xy[:, 1]) == ref).all()
