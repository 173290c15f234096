"""The report's timeline scales to the case: a one-night case shows hours, its events apart (real Chromium)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from overflight import boundaries
from overflight.analysis.case_runs import run_transit
from overflight.case import Case
from overflight.evidence.model import Claim, Observation, Source
from overflight.report.build import write_report
from overflight.report.html import render_timeline, time_ticks

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
NIGHT = pd.Timestamp("2025-06-21T00:00Z")
SIGHTING_HOURS = (0.3, 1.0, 1.6, 2.4)


@pytest.fixture(scope="module")
def one_night(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tracks and sightings within three hours; claims made days later about a two-day window."""
    d = tmp_path_factory.mktemp("night")
    with Case.create(d / "night.duckdb", user="t") as c:
        c.add_sources([Source("s", "Witnesses", reliability="C")])
        c.add_claims([Claim("c1", "Drones crossed into Kazakhstan.", claimant="Ministry", what="transit",
                            where_zones=("KAZ",), window_start=(NIGHT - pd.Timedelta("1D")).to_pydatetime(),
                            window_end=(NIGHT + pd.Timedelta("1D")).to_pydatetime(),
                            date_made=(NIGHT + pd.Timedelta("3D")).to_pydatetime()),
                      Claim("c2", "No drone crossed.", claimant="Defence", stance="denies", what="transit",
                            where_zones=("KAZ",), answers=("c1",),
                            date_made=(NIGHT + pd.Timedelta("4D")).to_pydatetime())])
        c.add_zones(boundaries.load("ne-admin0").select(["KAZ", "RUS"]))
        n = 20
        c.add_tracks(pd.DataFrame({"track_id": "A", "time": [NIGHT + pd.Timedelta(minutes=5 * k) for k in range(n)],
                                   "lon": np.linspace(48.0, 51.8, n), "lat": 51.2}), dataset="radar")
        c.add_observations([Observation(f"o{i}", "sighting", source_id="s", lon=50.0 + 0.3 * i, lat=51.0,
                                        time_start=(NIGHT + pd.Timedelta(hours=h)).to_pydatetime(),
                                        time_end=(NIGHT + pd.Timedelta(hours=h)).to_pydatetime(), credibility=3)
                            for i, h in enumerate(SIGHTING_HOURS)])
        run_transit(c, dataset="radar", zones=["KAZ", "RUS"])
        c.evaluate()
    write_report(d / "night.duckdb", d / "report.html", title="One night")
    yield d


def test_ticks_are_hours_for_a_night_and_dates_for_weeks() -> None:
    ticks, layout = time_ticks(NIGHT, NIGHT + pd.Timedelta(hours=3))
    assert layout == "%H:%M" and ticks[0] == NIGHT and (ticks[1] - ticks[0]) <= pd.Timedelta("1h")
    ticks, layout = time_ticks(NIGHT, NIGHT + pd.Timedelta("30D"))
    assert layout == "%Y-%m-%d" and len(ticks) <= 8


def test_events_outside_the_focus_sit_at_the_edge_with_their_date() -> None:
    svg = render_timeline([(NIGHT + pd.Timedelta("3D"), "Ministry: asserts transit", "claim", False),
                           (NIGHT + pd.Timedelta("1h"), "sighting", "observation", False)], [],
                          focus=(NIGHT, NIGHT + pd.Timedelta("2h")))
    assert "▸ 2025-06-24" in svg and ">00:00<" in svg and "2025-06-21 (UTC)" in svg


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_one_night_timeline_in_chromium_shows_the_events_apart(one_night: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    shot = one_night / "timeline.png"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((one_night / "report.html").resolve().as_uri())
        tl = page.locator("svg.timeline")
        tl.screenshot(path=str(shot))
        box = tl.bounding_box()
        xs = page.eval_on_selector_all('svg.timeline circle[data-kind="observation"]',
                                       "els => els.map(e => e.getBoundingClientRect().x)")
        ticks = page.eval_on_selector_all("svg.timeline text.tl-tick", "els => els.map(e => e.textContent)")
        browser.close()
    assert errors == []
    assert box is not None and len(xs) == len(SIGHTING_HOURS)
    # Sightings 36-48 minutes apart lie tens of pixels apart (one hour is about a quarter of the axis).
    gaps = np.diff(sorted(xs))
    assert (gaps > 40).all(), gaps
    assert any(t.endswith(":00") for t in ticks) and any("2025-06-21 (UTC)" in t for t in ticks), ticks
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    # the observations' colour (#b54708) appears in as many separate column runs as there are sightings
    mask = (np.abs(img - np.array([0xB5, 0x47, 0x08])).sum(axis=2) < 60).any(axis=0)
    runs = int(np.sum(mask[1:] & ~mask[:-1]) + mask[0])
    assert runs >= len(SIGHTING_HOURS), runs
