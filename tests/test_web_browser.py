"""The web app in Debian's Chromium (Playwright), against a real `overflight serve` on loopback.

Screenshots go to test-artifacts/web/ (gitignored). Every request the page makes is recorded: none may go to
another host than the server.
"""

from __future__ import annotations

import json
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


@pytest.fixture(scope="module")
def server(web_demo_case: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    case = tmp_path_factory.mktemp("webui") / "case.duckdb"
    shutil.copy2(web_demo_case, case)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "overflight", "serve", str(case), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/api/case", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(proc.stdout.read().decode() if proc.stdout else "server died") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(20)


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
    page.page.wait_for_timeout(400)
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
