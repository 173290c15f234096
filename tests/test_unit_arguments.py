"""Speeds, durations and distances take the same unit strings in every public verb (issue 13).

Each verb given text with a unit must give exactly what it gives for the same quantity as a number in SI
units (m/s, s, m): the conversion factors are checked by hand (185 km/h = 185 / 3.6 m/s; 10 min = 600 s).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from overflight import ppa, transit
from overflight.analysis.prism import verdicts
from overflight.analysis.prism.paths import avoiding_paths
from overflight.analysis.transit import TransitEngine
from overflight.errors import InputError
from overflight.zones import Provenance, Zone, ZoneSet


def _zones() -> ZoneSet:
    return ZoneSet([Zone("A", "A", "test", box(0, 0, 1, 1))], Provenance("test", "1", "test", "test", "0" * 64))


def _tracks() -> pd.DataFrame:
    t0 = datetime(2025, 6, 1, tzinfo=UTC)
    return pd.DataFrame({"track_id": ["t"] * 3, "time": pd.to_datetime([t0, t0.replace(hour=1), t0.replace(hour=2)]),
                         "lon": [-0.5, 0.5, 1.5], "lat": [0.5, 0.5, 0.5]})


def test_ppa_takes_a_speed_with_a_unit() -> None:
    t1, t2 = datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 6, 1, 1, tzinfo=UTC)
    a = ppa((0.0, 0.0), t1, (1.0, 0.0), t2, "185kmh")
    b = ppa((0.0, 0.0), t1, (1.0, 0.0), t2, 185 / 3.6)
    assert shapely.equals_exact(a, b, tolerance=0.0)


def test_prism_verdicts_and_avoiding_paths_take_a_speed_with_a_unit() -> None:
    pd.testing.assert_frame_equal(verdicts(_tracks(), _zones(), "200kmh"), verdicts(_tracks(), _zones(), 200 / 3.6))
    a = avoiding_paths(_tracks(), list(_zones()), "200kmh", step_m="2km")
    b = avoiding_paths(_tracks(), list(_zones()), 200 / 3.6, step_m=2000.0)
    assert a == b


def test_transit_takes_a_step_and_a_gap_with_units() -> None:
    a = transit(_tracks(), _zones(), max_gap="90min", step_m="5km").visits
    b = transit(_tracks(), _zones(), max_gap=5400, step_m=5000.0).visits
    pd.testing.assert_frame_equal(a, b)
    assert TransitEngine(_zones(), max_gap_s="10min", step_m="5km").max_gap_s == 600.0


@pytest.mark.parametrize(("kw", "field"), [({"max_gap": "soon"}, "max_gap"), ({"step_m": "far"}, "step_m"),
                                           ({"step_m": -5}, "step_m")])
def test_bad_units_name_the_argument(kw: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as err:
        transit(_tracks(), _zones(), **kw)  # type: ignore[arg-type]
    assert err.value.field == field


@pytest.mark.parametrize("step", [-3, 0, "-2km", "far"])
def test_bad_drawing_step_names_step_m(step: object) -> None:
    with pytest.raises(InputError) as err:
        avoiding_paths(_tracks(), list(_zones()), "200kmh", step_m=step)  # type: ignore[arg-type]
    assert err.value.field == "step_m"


def test_bad_speed_names_vmax() -> None:
    with pytest.raises(InputError) as err:
        verdicts(_tracks(), _zones(), "fast")
    assert err.value.field == "vmax"


def test_prism_verdicts_on_a_table_refuses_file_options() -> None:
    # they would be ignored: a mistyped keyword (precise=False for fast=True) once ran the wrong mode silently
    from overflight import prism_verdicts

    with pytest.raises(InputError) as err:
        prism_verdicts(_tracks(), _zones(), "200kmh", precise=False)
    assert err.value.field == "precise" and "sightings file" in str(err.value)
    assert len(prism_verdicts(_tracks(), _zones(), "200kmh", fast=True).verdicts) == 2
