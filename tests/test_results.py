"""Result objects of `locate` and `attribute`, the old return values kept for one release, and the one zone coercion.

References are independent of the code under test: shapely's predicates on hand-drawn boxes away from borders.
"""

from __future__ import annotations

import copy
import json
import pickle
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely

import overflight
from overflight.analysis.attribution import AttributionResult, assess_share_claim, share_inside
from overflight.analysis.locate import LocateResult
from overflight.errors import InputError, OverflightDeprecationWarning
from overflight.index import ZoneIndex

BOXES = {"west": shapely.box(0, 0, 2, 2), "east": shapely.box(1, 0, 3, 2), "far": shapely.box(10, 10, 11, 11)}


def _points(n: int = 400, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(-1, 12, n), rng.uniform(-1, 12, n)
    # keep clear of every border: the border rule is tested elsewhere, here shapely is the reference
    edges = np.array([0, 1, 2, 3, 10, 11])
    near = (np.abs(lon[:, None] - edges).min(axis=1) < 1e-6) | (np.abs(lat[:, None] - edges).min(axis=1) < 1e-6)
    return lon[~near], lat[~near]


def _shapely_zones(lon: np.ndarray, lat: np.ndarray, sep: str) -> list[str]:
    return [sep.join(k for k, g in BOXES.items() if g.contains(shapely.Point(x, y)))
            for x, y in zip(lon, lat, strict=True)]


def test_locate_returns_a_result_matching_shapely() -> None:
    lon, lat = _points()
    res = overflight.locate(lon, lat, BOXES)
    assert isinstance(res, LocateResult)
    assert res.zones.tolist() == _shapely_zones(lon, lat, "|")
    assert len(res) == lon.size
    assert (res.lon == lon).all() and (res.lat == lat).all()
    assert res.located.tolist() == [z != "" for z in res.zones]
    assert res.multiple.tolist() == ["|" in z for z in res.zones]
    assert res.provenance["kind"] == "user" and res.provenance["normalize_lon"] is False
    frame = res.to_frame()
    assert list(frame.columns) == ["lon", "lat", "zones"] and frame["zones"].tolist() == res.zones.tolist()
    table = res.to_arrow()
    assert table.schema.field("zones").type == pa.string() and table.column("zones").to_pylist() == res.zones.tolist()
    assert json.loads(table.schema.metadata[b"overflight"])["sha256"] == res.provenance["sha256"]
    n_in, n_many = int(res.located.sum()), int(res.multiple.sum())
    assert repr(res) == f"LocateResult({lon.size:,} points, {n_in:,} in a zone, {n_many:,} in more than one; " \
                        "zone set 'zones')"


def test_locate_with_an_index_and_another_separator() -> None:
    lon, lat = _points(50)
    index = ZoneIndex(BOXES)
    res = overflight.locate(lon, lat, index, sep=";")
    assert res.zones.tolist() == _shapely_zones(lon, lat, ";")
    assert res.sep == ";" and res.provenance["sep"] == ";"


def test_locate_result_still_answers_as_the_old_array() -> None:
    res = overflight.locate([0.5, 1.5, 5.0], [1.0, 1.0, 1.0], BOXES)
    with pytest.warns(OverflightDeprecationWarning, match=r"use its \.zones") as rec:
        assert res.tolist() == ["west", "west|east", ""]
    assert rec[0].filename == __file__  # the warning points at the caller
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert res[1] == "west|east"
        assert (res == "").tolist() == [False, False, True]
        assert (res != "").tolist() == [True, True, False]
        assert list(res) == ["west", "west|east", ""]
        assert np.asarray(res).tolist() == ["west", "west|east", ""]
        assert "west" in res
        assert res.shape == (3,)
    assert len(caught) == 7 and all(w.category is OverflightDeprecationWarning for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(res) == 3 and res.zones.tolist() == ["west", "west|east", ""]  # the new way does not warn
        assert res == res and res != overflight.locate([0.5], [1.0], BOXES)
        again = pickle.loads(pickle.dumps(res))  # copy and pickle probe dunders: none may reach the old array
        assert again.zones.tolist() == res.zones.tolist() and copy.deepcopy(res).sep == res.sep
        with pytest.raises(AttributeError):
            _ = res.no_such_thing


def test_attribute_returns_a_result_with_the_table_and_shares() -> None:
    lon, lat = _points()
    pts = pd.DataFrame({"id": [f"p{i}" for i in range(lon.size)], "lon": lon, "lat": lat})
    res = overflight.attribute(pts, BOXES, border_zones=["west"])
    assert isinstance(res, AttributionResult) and res.run_id is None and res.share is None and res.evidence == []
    assert res.table["zones"].tolist() == _shapely_zones(lon, lat, ";")
    assert len(res) == lon.size and res.to_frame() is res.table
    assert res.provenance["name"] == "zones" and res.provenance["parameters"]["border_zones"] == ["west"]
    inside_west = sum(BOXES["west"].contains(shapely.Point(x, y)) for x, y in zip(lon, lat, strict=True))
    inside_both = sum(BOXES["west"].contains(shapely.Point(x, y)) and BOXES["east"].contains(shapely.Point(x, y))
                      for x, y in zip(lon, lat, strict=True))
    assert res.share_inside("west") == (inside_west, lon.size) == share_inside(res, "west")
    assert res.share_inside("east", region="west") == (inside_both, inside_west)
    assert res.assess_share("east", "west", threshold=0.2) == assess_share_claim(inside_both, inside_west, 0.2)
    table = res.to_arrow()
    assert table.column_names == list(res.table.columns)
    assert json.loads(table.schema.metadata[b"overflight"])["parameters"]["max_step_m"] == 200.0
    assert repr(res).startswith(f"AttributionResult({lon.size:,} points, ")


def test_attribution_result_still_answers_as_the_old_dataframe() -> None:
    pts = pd.DataFrame({"id": ["a", "b"], "lon": [0.5, 2.5], "lat": [1.0, 1.0]})
    res = overflight.attribute(pts, BOXES)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert res["zones"].tolist() == ["west", "east"]
        assert res[["id", "zones"]].values.tolist() == [["a", "west"], ["b", "east"]]
        assert "zones" in res.columns and "zones" in res
        assert res.loc[1, "id"] == "b"
    assert len(caught) == 5 and all(w.category is OverflightDeprecationWarning for w in caught)
    assert "use its .table" in str(caught[0].message)


def test_zone_index_takes_any_zone_set_like() -> None:
    lon, lat = _points(100)
    by_mapping = ZoneIndex(BOXES)
    by_geoms = ZoneIndex(list(BOXES.values()))
    by_zoneset = ZoneIndex(overflight.as_zoneset(BOXES))
    assert by_mapping.ids == ["west", "east", "far"] and by_geoms.ids == ["0", "1", "2"]
    assert isinstance(by_geoms.zoneset, overflight.ZoneSet)
    for idx in (by_geoms, by_zoneset):
        assert (idx.locate(lon, lat) == by_mapping.locate(lon, lat)).all()
    with pytest.raises(InputError, match="zones must all be"):
        ZoneIndex([shapely.box(0, 0, 1, 1), "not a geometry"])


def test_old_zone_set_like_names_warn_and_give_the_one_type() -> None:
    import overflight.index
    import overflight.index.core
    from overflight import admin1, zones
    from overflight.analysis import audit

    with pytest.warns(OverflightDeprecationWarning):
        assert overflight.index.ZoneSetLike is zones.ZoneSetLike
    with pytest.warns(OverflightDeprecationWarning):
        assert overflight.index.core.ZoneSetLike is zones.ZoneSetLike
    with pytest.warns(OverflightDeprecationWarning, match="analysis.audit.geonames_agreement"):
        assert admin1.geonames_agreement is audit.geonames_agreement


def test_durations_and_speeds_take_unit_strings_everywhere(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from overflight.analysis.crossing_times import bracket_visits
    from overflight.case.export_layers import track_segments
    from overflight.monitor.coverage import CellCoverage, CoverageRecorder, FeedLiveness
    from overflight.monitor.geofence import Geofence
    from overflight.monitor.runner import MonitorConfig
    from overflight.tracks import validate_tracks
    from overflight.tracks.validate import Validator

    zs = overflight.as_zoneset(BOXES)
    # text with a unit gives the same number as the unit's factor by hand: 1 min = 60 s, 1 kt = 1852 m / 3600 s
    gf = Geofence(zs, stale_s="2min", hysteresis_s="10s", max_speed_mps="1000kt", step_m="5km")
    assert (gf.stale_s, gf.hysteresis_s, gf.max_speed, gf.step_m) == (120.0, 10.0, 1000 * 1852 / 3600, 5000.0)
    assert Geofence(zs, stale_s=120, max_speed_mps=1000 * 1852 / 3600).max_speed == gf.max_speed
    assert FeedLiveness("rx", gap_s="1.5min").gap_s == 90.0
    cells = CellCoverage(zs, 0.5, recent_s="10min")
    assert cells.recent_s == 600.0 and CoverageRecorder([], cells, bucket_s="1h").bucket_s == 3600.0
    cfg = MonitorConfig(zones="z", feeds=[], stale_s="1min", max_speed_mps="2520kmh", step_m="2km", gap_s=30)
    assert (cfg.stale_s, cfg.max_speed_mps, cfg.step_m, cfg.gap_s) == (60.0, 700.0, 2000.0, 30.0)
    assert Validator("f", max_speed_mps="900kmh").max_speed_mps == 250.0
    assert Validator("f", max_speed_mps=250).max_speed_mps == 250.0
    times = pd.Series(pd.to_datetime(["2025-01-01T00:00Z", "2025-01-01T00:05Z", "2025-01-01T00:30Z"]))
    assert [len(s) for s in track_segments(times, "10min")] == [2, 1] == [len(s) for s in track_segments(times, 600)]
    df = pd.DataFrame({"track_id": ["a", "a"], "time": ["2025-01-01T00:00Z", "2025-01-01T00:01Z"],
                       "lon": [0.0, 5.0], "lat": [0.0, 0.0]})  # 556 km in a minute
    _, rep_text = validate_tracks(df, max_speed_mps="900kmh", on_invalid="drop")
    _, rep_num = validate_tracks(df, max_speed_mps=250.0, on_invalid="drop")
    assert rep_text.rows_kept == rep_num.rows_kept == 1
    tracks = pd.DataFrame({"track_id": ["t"] * 3, "lon": [0.5, 2.5, 5.0], "lat": [1.0, 1.0, 1.0],
                           "time": pd.to_datetime(["2025-01-01T00:00Z", "2025-01-01T00:20Z", "2025-01-01T00:25Z"])})
    tracks, _ = validate_tracks(tracks)
    visits = overflight.transit(tracks, BOXES, max_gap="1h").visits
    by_text = bracket_visits(visits, tracks, "10min")
    pd.testing.assert_frame_equal(by_text, bracket_visits(visits, tracks, 600))
    assert by_text["exit_time_max"].notna().any()
    with pytest.raises(InputError, match="cannot read speed") as err:
        Geofence(zs, max_speed_mps="fast")
    assert err.value.field == "max speed"
    with pytest.raises(InputError) as err:
        MonitorConfig(zones="z", feeds=[], hysteresis_s="soon")
    assert err.value.field == "hysteresis"
