"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from overflight import boundaries

# The full run (scripts/test.sh, hence CI) draws the same hypothesis examples every time, so a red CI always
# means a change broke something; local runs keep exploring new examples.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("OVERFLIGHT_REQUIRE_DATA"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def ne_admin0() -> boundaries.ZoneSet:
    return boundaries.load("ne-admin0")


@pytest.fixture(scope="session")
def osm_maritime() -> boundaries.ZoneSet:
    """The installed OSM maritime set; the full test run (scripts/test.sh) installs it and requires it."""
    if not boundaries.info("osm-maritime").installed:
        if os.environ.get("OVERFLIGHT_REQUIRE_DATA"):
            pytest.fail("osm-maritime is not installed but OVERFLIGHT_REQUIRE_DATA is set")
        pytest.skip("osm-maritime not installed (overflight boundaries install osm-maritime)")
    return boundaries.load("osm-maritime")


@pytest.fixture(scope="session")
def web_demo_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo case, built once per session for the web tests (copy it before writing to it)."""
    from overflight.demo import build_demo

    out = tmp_path_factory.mktemp("web-demo")
    return build_demo(out).files["case.duckdb"]
