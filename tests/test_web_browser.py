"""The web app in Debian's Chromium (Playwright), against a real `overflight serve` on loopback.

Screenshots go to test-artifacts/web/ (gitignored). Every request the page makes is recorded: none may go to
another host than the server.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

pw = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
DATA = Path(__file__).parent / "data" / "web"
SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "web"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(args: list[str], state_dir: Path, cwd: Path | None = None) -> Iterator[str]:
    """`overflight serve ARGS --port P` as a child process (its recent-cases list under `state_dir`)."""
    port = free_port()
    env = {**os.environ, "XDG_STATE_HOME": str(state_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "overflight", "serve", *args, "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/api/cases", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(proc.stdout.read().decode() if proc.stdout else "server died") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(20)


def add_timed_zone(case: Path) -> None:
    """An invented closure area in force on 20 June 2025 only (for the zone-period tests)."""
    import shapely

    from overflight.case import Case
    from overflight.zones import Provenance, Zone, ZoneSet

    z = Zone(id="ILL-CLOSURE", name="ILLUSTRATIVE closure area, 20 June only", kind="range",
             geometry=shapely.box(49.0, 50.0, 50.5, 51.0), valid_from=pd.Timestamp("2025-06-20T00:00Z").to_pydatetime(),
             valid_to=pd.Timestamp("2025-06-21T00:00Z").to_pydatetime())
    with Case.open(case) as c:
        c.add_zones(ZoneSet([z], Provenance(name="test-closures", version="1", licence="CC0", source="invented",
                                            sha256="0")))


@pytest.fixture(scope="module")
def server(web_demo_case: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    case = tmp_path_factory.mktemp("webui") / "case.duckdb"
    shutil.copy2(web_demo_case, case)
    add_timed_zone(case)
    with serving([str(case)], case.parent) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with pw.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Page:
    """A page with its requests, console errors and page errors recorded."""

    def __init__(self, browser: Any, server: str) -> None:
        self.server = server
        self.page = browser.new_page(viewport={"width": 1400, "height": 850})
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    def open(self, path: str = "/") -> None:
        self.page.goto(self.server + path)
        self.wait_loaded(1)

    def wait_loaded(self, n: int) -> None:
        self.page.wait_for_function(
            "(n) => window.__ovf && window.__ovf.mapReady && window.__ovf.windowLoaded >= n "
            "&& window.__ovf.tracksLoaded >= n", arg=n, timeout=60_000)
        self.page.wait_for_timeout(300)

    def state(self) -> dict[str, Any]:
        return self.page.evaluate("""() => { const s = window.__ovf; return {t0: s.t0, t1: s.t1, sel: s.sel,
            layers: [...s.layers].sort(), visible: s.visible, selected: s.selectedFeatures,
            loaded: s.windowLoaded, tracksLoaded: s.tracksLoaded}; }""")

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))

    def check_clean(self) -> None:
        others = [u for u in self.requests if not u.startswith(self.server + "/")]
        assert others == [], f"requests to other hosts: {others}"
        assert self.errors == []


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Page]:
    p = Page(browser, server)
    yield p
    p.check_clean()  # no request left the machine, no script error, in every test
    p.page.close()


def api(server: str, path: str) -> Any:
    return json.loads(urllib.request.urlopen(server + path, timeout=30).read())


def test_demo_case_loads(page: Page) -> None:
    page.open()
    assert page.page.locator(".claim").count() == len(api(page.server, "/api/claims")["claims"])
    assert page.page.locator("#banner-ill").is_visible() and page.page.locator("#ill-badge").is_visible()
    assert page.page.locator("#map canvas").count() == 1
    s = page.state()
    assert s["visible"]["tracks"] == ["ILL-T1", "ILL-T2"] and s["visible"]["prisms"]
    page.shot("01-demo-loaded")


def test_time_window_filters_every_layer(page: Page) -> None:
    page.open()
    x0, x1 = (page.page.evaluate("(t) => window.__ovf.tlX(Date.parse(t))", t) for t in
              ("2025-06-20T12:00:00Z", "2025-06-21T18:00:00Z"))
    box = page.page.locator("#tl").bounding_box()
    y = box["y"] + box["height"] * 0.5
    loaded = page.state()["loaded"]
    page.page.mouse.move(box["x"] + x0, y)
    page.page.mouse.down()
    page.page.mouse.move(box["x"] + (x0 + x1) / 2, y, steps=3)
    page.page.mouse.move(box["x"] + x1, y, steps=3)
    page.page.mouse.up()
    page.wait_loaded(loaded + 1)
    s = page.state()
    assert abs(s["t0"] - pd.Timestamp("2025-06-20T12:00Z").value / 1e6) < 3 * 3600e3
    # Sightings and tracks of 20-21 June remain; the May wreckage finds are gone; the API agrees.
    obs = s["visible"]["observations"]
    assert obs and all(o.startswith("ILL-S") for o in obs)
    assert s["visible"]["tracks"] == ["ILL-T1", "ILL-T2"]
    t0 = pd.Timestamp(s["t0"], unit="ms", tz="UTC").isoformat()
    t1 = pd.Timestamp(s["t1"], unit="ms", tz="UTC").isoformat()
    want = sorted(f["properties"]["id"] for f in api(page.server, f"/api/observations?start={t0}&end={t1}".replace(
        "+", "%2B"))["features"] if f["properties"]["layer"] == "observation")
    assert obs == want
    assert page.page.locator("#counts").get_attribute("data-observations") == ",".join(want)
    assert "window:" in page.page.locator("#tl-label").inner_text()
    page.shot("02-window-20-21-june")
    # A window of May keeps the wreckage and drops the tracks.
    page.page.goto(page.server + "/#t=2025-05-10T00:00:00Z/2025-05-31T00:00:00Z")
    page.page.reload()
    page.wait_loaded(1)
    s = page.state()
    assert s["visible"]["tracks"] == [] and s["visible"]["observations"]
    assert all(o.startswith("ILL-W") for o in s["visible"]["observations"])


def test_claim_evidence_is_selected_on_map_and_timeline(page: Page) -> None:
    page.open()
    page.page.locator("#claim-zakharova-transit > header").click()
    ev = page.page.locator("#claim-zakharova-transit .ev", has_text="ILL-S1").first
    ev.click()
    page.page.wait_for_function("() => window.__ovf.sel && window.__ovf.sel.startsWith('ev:')")
    page.wait_loaded(2)
    s = page.state()
    assert "ILL-S1-1" in s["selected"] and "ILL-S1-2" in s["selected"] and "KAZ" in s["selected"]
    assert {"ILL-S1-1", "ILL-S1-2"} <= set(s["visible"]["observations"])  # framed: in the window
    assert "ev" in ev.get_attribute("class") and "sel" in ev.get_attribute("class")
    assert pd.Timestamp(s["t0"], unit="ms", tz="UTC") < pd.Timestamp("2025-06-21T00:40Z")
    assert pd.Timestamp(s["t1"], unit="ms", tz="UTC") > pd.Timestamp("2025-06-21T05:25Z")
    # The timeline marks the selected sightings.
    assert page.page.locator("#tl rect.item.sel").count() >= 2
    assert "sel=ev" in page.page.url
    page.shot("03-claim-evidence-selected")


def test_map_feature_lists_its_claims(page: Page) -> None:
    page.open("/#map=6.00/51.0000/50.0000")
    f = next(f for f in api(page.server, "/api/observations")["features"] if f["properties"]["id"] == "ILL-S1-1"
             and f["properties"]["layer"] == "observation")
    xy = page.page.evaluate("(ll) => { const p = window.__ovf.map.project(ll); return [p.x, p.y]; }",
                            f["geometry"]["coordinates"])
    box = page.page.locator("#map").bounding_box()
    page.page.mouse.click(box["x"] + xy[0], box["y"] + xy[1])
    page.page.wait_for_selector("#sel-claims")
    text = page.page.locator("#tab-selection").inner_text()
    assert "Selected: ILL-S1-1" in text
    assert "zakharova-transit" in text and "kz-mfa-denial" in text and "cpc-kropotkinskaya-strike" not in text
    assert page.page.locator(".claim.hit").count() == 2
    assert "sel=f:ILL-S1-1" in page.page.url
    page.shot("04-map-click-claims")


def test_bad_upload_shows_the_validation_table_and_imports_nothing(page: Page) -> None:
    before = api(page.server, "/api/case")["counts"]
    page.open()
    page.page.locator("#tabs button[data-tab=work]").click()
    page.page.select_option("#upload-form select[name=kind]", "tracks")
    page.page.set_input_files("#upload-form input[name=file]", str(DATA / "bad_tracks.csv"))
    page.page.locator("#upload-form button[type=submit]").click()
    page.page.wait_for_selector("#rules-table")
    rows = {r.locator("td").nth(0).inner_text(): r.locator("td").nth(1).inner_text()
            for r in page.page.locator("#rules-table tr").all()[1:]}
    assert rows["bad_coordinate"] == "2" and rows["bad_time"] == "1"
    assert page.page.locator("#examples-table tr").count() == 4  # header + one example per bad row
    assert "nothing imported" in page.page.locator("#validation").inner_text()
    page.shot("05-bad-upload")
    assert api(page.server, "/api/case")["counts"] == before
    page.errors.clear()  # the 422 answer is logged by Chromium as a failed resource: expected here


def test_run_prism_from_the_form_adds_evidence(page: Page) -> None:
    page.open()
    n_before = page.page.locator(".ev").count()
    page.page.locator("#tabs button[data-tab=work]").click()
    page.page.select_option("#run-form select[name=kind]", "prism")
    page.page.fill("#run-form input[name=vmax]", "119kmh")
    page.page.fill("#run-form input[name=zones]", "KAZ")
    page.page.locator("#run-form button[type=submit]").click()
    page.page.wait_for_selector(".job .state-done", timeout=300_000)
    assert "1 new evidence item(s)" in page.page.locator(".job").first.inner_text()
    page.page.wait_for_function("(n) => document.querySelectorAll('.ev').length > n", arg=n_before)
    assert page.page.locator(".ev[data-ev*=':33.1:']").count() >= 1  # the new item, 119 km/h = 33.1 m/s
    page.shot("06-prism-job-done")
    runs = api(page.server, "/api/runs")["runs"]
    assert runs[-1]["parameters"]["vmax_mps"] == pytest.approx(119 / 3.6)


def test_copied_url_restores_the_view(page: Page, browser: Any) -> None:
    page.open()
    page.page.locator("#claim-zakharova-transit > header").click()
    page.page.locator("#claim-zakharova-transit .ev").first.click()
    page.wait_loaded(2)
    page.page.locator("#tabs button[data-tab=layers]").click()
    page.page.locator("input[data-layer=discs]").uncheck()
    # The hash is written 80 ms after the last change (later on a loaded machine): wait until it has been.
    page.page.wait_for_function("() => location.hash.includes('layers=') && !location.hash.includes('discs')")
    page.page.wait_for_timeout(200)
    url = page.page.url
    before = page.state()
    view = page.page.evaluate("() => location.hash")
    other = Page(browser, page.server)
    other.page.goto(url)
    other.wait_loaded(1)
    after = other.state()
    assert after["t0"] == before["t0"] and after["t1"] == before["t1"] and after["sel"] == before["sel"]
    assert after["layers"] == before["layers"] and "discs" not in after["layers"]
    assert sorted(after["selected"]) == sorted(before["selected"])
    assert after["visible"]["observations"] == before["visible"]["observations"]
    assert other.page.evaluate("() => location.hash").split("&map=")[0] == view.split("&map=")[0]
    other.shot("07-restored-from-url")
    other.check_clean()
    other.page.close()


def test_xss_payloads_render_as_text(page: Page) -> None:
    page.open()
    page.page.locator("#tabs button[data-tab=work]").click()
    page.page.select_option("#upload-form select[name=kind]", "claims")
    page.page.set_input_files("#upload-form input[name=file]", str(DATA / "xss_claims.yaml"))
    page.page.locator("#upload-form button[type=submit]").click()
    page.page.wait_for_selector("#claim-xss-claim", state="attached")
    assert "imported" in page.page.locator("#validation").inner_text()
    page.page.locator("#tabs button[data-tab=claims]").click()
    card = page.page.locator("#claim-xss-claim")
    text = card.inner_text()
    assert "<script>window.__pwned=1</script>" in text
    assert '<img src=x onerror="window.__pwned=2"> drones <b>everywhere</b>' in text
    assert "<img src=x onerror=alert(1)>" in text  # the source name
    assert card.locator("img, script, b").count() == 0
    assert page.page.evaluate("() => window.__pwned === undefined")
    page.page.locator("#claim-xss-claim > header").click()
    page.shot("08-xss-as-text")


def test_zone_in_force_only_inside_its_period(page: Page) -> None:
    page.open("/#t=2025-06-20T02:00:00Z/2025-06-20T05:00:00Z&map=6.00/50.8000/49.5000")
    page.page.wait_for_function("() => window.__ovf.visible.zones.length > 0")
    assert "ILL-CLOSURE" in page.state()["visible"]["zones"]
    assert page.page.evaluate("() => window.__ovf.map.queryRenderedFeatures({layers: ['zones-fill']})"
                              ".some((f) => f.properties.id === 'ILL-CLOSURE')")
    page.shot("09-zone-in-force")
    # Move the window to 21 June by URL: the closure (valid until 21 June 00:00, exclusive) is gone.
    n = page.page.evaluate("() => window.__ovf.zonesLoaded")
    page.page.evaluate("() => { location.hash = 't=2025-06-21T00:00:00Z/2025-06-21T05:00:00Z'; }")
    page.page.reload()
    page.wait_loaded(1)
    page.page.wait_for_function("(n) => window.__ovf.zonesLoaded >= 1 && window.__ovf.visible.zones.length", arg=n)
    zones = page.state()["visible"]["zones"]
    assert "ILL-CLOSURE" not in zones and "KAZ" in zones
    page.shot("10-zone-out-of-force")


def test_prism_evidence_draws_its_avoiding_path(page: Page) -> None:
    page.open()
    page.page.locator("#claim-zakharova-transit > header").click()
    ev = page.page.locator("#claim-zakharova-transit .ev[data-ev*=':33.3:']").first  # prism-2 at 120 km/h
    ev.click()
    page.page.wait_for_selector("#paths-list li")
    li = page.page.locator("#paths-list li").first
    assert li.get_attribute("data-kind") == "avoiding" and "KAZ (necessary)" in li.inner_text()
    assert "shortest path found around KAZ" in li.inner_text()
    page.wait_loaded(2)
    page.page.wait_for_function("() => window.__ovf.map.queryRenderedFeatures({layers: ['avoid']}).length > 0")
    page.shot("11-avoiding-path")
    paths = page.state()["visible"]["paths"]
    assert paths and all(p.startswith("prism-2:") and p.endswith(":KAZ") for p in paths)
    # The copied URL (selection ev:...) draws the same paths again.
    page.page.wait_for_timeout(300)
    other = Page(page.page.context.browser, page.server)
    other.page.goto(page.page.url)
    other.wait_loaded(1)
    other.page.wait_for_selector("#paths-list li")
    assert other.state()["visible"]["paths"] == paths
    other.check_clean()
    other.page.close()
    # The prism layer toggle hides the path with the ellipses.
    page.page.locator("#tabs button[data-tab=layers]").click()
    page.page.locator("input[data-layer=prisms]").uncheck()
    page.page.wait_for_timeout(300)
    assert page.page.evaluate("() => window.__ovf.map.getLayoutProperty('avoid', 'visibility')") == "none"


def test_case_picker_opens_switches_and_creates(browser: Any, web_demo_case: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "overflight-demo").mkdir(parents=True)
    shutil.copy2(web_demo_case, work / "overflight-demo" / "case.duckdb")
    shutil.copy2(web_demo_case, work / "second.duckdb")
    with serving([], tmp_path / "state", cwd=work) as url:
        p = Page(browser, url)
        p.page.goto(url + "/")
        p.page.wait_for_selector("#cases-table")
        assert p.page.locator("#picker").is_visible() and p.page.locator("#picker-close").is_hidden()
        rows = p.page.locator("#cases-table tr[data-path]")
        assert all("Open" in t for t in rows.all_inner_texts())
        assert {r.get_attribute("data-path") for r in rows.all()} == {
            str((work / "overflight-demo" / "case.duckdb").resolve()), str((work / "second.duckdb").resolve())}
        p.shot("12-case-picker")
        p.errors = [e for e in p.errors if "409" not in e]  # the first /api/case answers 409: no case yet
        second = (work / "second.duckdb").resolve()
        with p.page.expect_navigation():
            p.page.locator(f"#cases-table tr[data-path='{second}'] button.open-case").click()
        p.wait_loaded(1)
        assert p.page.locator(".claim").count() == 6
        assert p.page.locator("#case-path").inner_text().endswith("second.duckdb")
        # Switch to the other case in the page (the server keeps running).
        p.page.locator("#cases-btn").click()
        p.page.wait_for_selector("#cases-table tr.open")
        assert p.page.locator("#cases-table tr.open").get_attribute("data-path") == str(
            (work / "second.duckdb").resolve())
        with p.page.expect_navigation():
            p.page.locator("#cases-table button.open-case").first.click()
        p.wait_loaded(1)
        assert p.page.locator("#case-path").inner_text().endswith("overflight-demo/case.duckdb")
        # A copied link names its case: opened while the server has the other case open, the page says so and
        # offers the link's case; opening it restores the link's view.
        demo = str((work / "overflight-demo" / "case.duckdb").resolve())
        p.page.wait_for_function("() => location.hash.includes('case=')")
        link = p.page.url
        assert f"case={demo}" in link
        req = urllib.request.Request(url + "/api/cases/open", data=json.dumps({"path": str(second)}).encode(),
                                     headers={"X-Overflight-Request": "1", "Content-Type": "application/json"})
        assert urllib.request.urlopen(req, timeout=60).status == 200
        q = Page(browser, url)
        q.page.goto(link)
        q.page.wait_for_selector("#cases-table tr.wanted")
        assert q.page.locator("#cases-table tr.wanted").get_attribute("data-path") == demo
        assert "is a view of the case" in q.page.locator("#picker-link").inner_text()
        q.shot("12b-link-names-another-case")
        with q.page.expect_navigation():
            q.page.locator("#cases-table tr.wanted button.open-case").click()
        q.wait_loaded(1)
        assert q.page.locator("#case-path").inner_text() == demo and q.page.locator("#picker").is_hidden()
        q.check_clean()
        q.page.close()
        p.page.reload()
        p.wait_loaded(1)
        # A new case, then a bad name (shown as text, nothing created).
        p.page.locator("#cases-btn").click()
        p.page.wait_for_selector("#cases-table")
        p.page.fill("#new-case-form input[name=name]", "<img src=x onerror=alert(1)>")
        p.page.locator("#new-case-form button").click()
        p.page.wait_for_function("() => document.querySelector('#picker-msg').textContent.includes('422')")
        assert p.page.locator("#picker-msg img").count() == 0
        p.errors = [e for e in p.errors if "422" not in e]
        p.page.fill("#new-case-form input[name=name]", "fresh-case")
        with p.page.expect_navigation():
            p.page.locator("#new-case-form button").click()
        p.page.wait_for_function("() => window.__ovf && window.__ovf.mapReady")
        p.page.wait_for_function("() => document.querySelector('#case-path').textContent.endsWith('fresh-case.duckdb')")
        assert (work / "fresh-case.duckdb").exists() and p.page.locator(".claim").count() == 0
        # An empty case still has a base map: the embedded states.
        p.page.wait_for_function("() => window.__ovf.map.queryRenderedFeatures({layers: ['base-fill']}).length > 0")
        p.shot("13-new-case")
        assert sorted(x.name for x in work.glob("*.duckdb")) == ["fresh-case.duckdb", "second.duckdb"]
        p.check_clean()
        p.page.close()


def test_live_monitor_alert_appears(browser: Any, web_demo_case: Path, tmp_path: Path) -> None:
    from _monitor_support import Dump1090, send_beast
    from test_monitor_dump1090 import three_flights, write_zones

    case = tmp_path / "case.duckdb"
    shutil.copy2(web_demo_case, case)
    zones = write_zones(tmp_path / "zones.geojson")
    steps, _ = three_flights()
    with Dump1090() as d, serving([str(case), "--monitor-feed", f"sbs://127.0.0.1:{d.ports['sbs']}",
                                   "--monitor-zones", str(zones)], tmp_path) as url:
        p = Page(browser, url)
        p.page.goto(url + "/#map=11.00/52.2700/4.0500")
        p.wait_loaded(1)
        p.page.locator("#tabs button[data-tab=live]").click()
        p.page.wait_for_function(
            "() => (document.querySelector('#live-status') || {}).textContent?.includes('connected')", timeout=30_000)
        assert p.page.locator("#live-list li").count() == 0
        # Now: dump1090 decodes the frames and the monitor inside the server alerts (0.3 s apart, 170 m steps
        # stay under serve's default jump filter of 700 m/s; exits would come only after its 10 s hysteresis).
        send_beast(d.ports["bi"], steps, 0.3)
        p.page.wait_for_function("() => document.querySelectorAll('#live-list li[data-event=enter]').length >= 2",
                                 timeout=60_000)
        p.page.wait_for_timeout(500)
        items = p.page.locator("#live-list li[data-event=enter]").all_inner_texts()
        assert sorted(t.split(" ", 2)[2] for t in items) == [
            "enter Z1 · 4840d6 · 11582 m", "enter Z2 · 3c6444 · 11582 m"], items  # 3c6445 flew below Z2's floor
        api_alerts = api(url, "/api/live")["features"]
        # What the page got over server-sent events is what the server holds, in order.
        p.page.wait_for_function("(n) => window.__ovf.live.alerts.length >= n", arg=len(api_alerts))
        assert p.page.evaluate("() => window.__ovf.live.alerts.map((f) => f.properties.id)")[:len(api_alerts)] == [
            f["properties"]["id"] for f in api_alerts]
        p.page.wait_for_function("() => window.__ovf.map.queryRenderedFeatures({layers: ['live']}).length >= 2")
        p.shot("14-live-alerts")
        assert "Live (" in p.page.locator("#tabs button[data-tab=live]").inner_text()
        p.check_clean()
        p.page.close()
