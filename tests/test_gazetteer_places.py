"""Named places as sighting positions: coordinates from the gazetteer, the town's extent as position error."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from overflight import gazetteer
from overflight.analysis.prism import verdicts
from overflight.zones import load_zones


def test_extent_grows_with_population_and_has_a_floor() -> None:
    saratov = gazetteer.resolve("Saratov", country="RU")
    akh = gazetteer.resolve("Akhtubinsk")
    assert saratov.extent_m == pytest.approx(1000 * math.sqrt(saratov.population / (math.pi * 2000)))
    assert 8_000 < saratov.extent_m < 16_000 and 2_000 < akh.extent_m < 4_000
    tiny = gazetteer.Place(1, "x", 0.0, 0.0, "XX", "", 50, "UTC")
    assert tiny.extent_m == 1000.0


def test_prism_sightings_by_place_name_take_coordinates_and_extent() -> None:
    t0 = pd.Timestamp("2025-06-21T00:40:00Z")
    named = pd.DataFrame({"track_id": ["s", "s"], "time": [t0, t0 + pd.Timedelta(hours=6)],
                          "lon": [float("nan")] * 2, "lat": [float("nan")] * 2, "place": ["Saratov", "Orenburg"]})
    sar, ore = gazetteer.resolve("Saratov"), gazetteer.resolve("Orenburg")
    explicit = pd.DataFrame({"track_id": ["s", "s"], "time": [t0, t0 + pd.Timedelta(hours=6)],
                             "lon": [sar.lon, ore.lon], "lat": [sar.lat, ore.lat],
                             "pos_err_m": [sar.extent_m, ore.extent_m]})
    zones = load_zones("ne-admin0", ids=["KAZ", "RUS"])
    a = verdicts(named, zones, 185 / 3.6)
    b = verdicts(explicit, zones, 185 / 3.6)
    cols = ["zone_id", "verdict", "budget_m", "direct_m"]
    pd.testing.assert_frame_equal(a[cols].reset_index(drop=True), b[cols].reset_index(drop=True))
