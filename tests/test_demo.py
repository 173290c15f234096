"""The main job: `overflight demo` writes the five files, the report renders cleanly, verdicts re-derive."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from overflight.case import Case
from overflight.demo import INPUTS, OUTPUTS, build_demo
from overflight.evidence.claimreview import missing_fields

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    build_demo(out)
    return out


def test_demo_writes_the_five_files(demo_dir: Path) -> None:
    for name in OUTPUTS:
        p = demo_dir / name
        assert p.exists() and p.stat().st_size > 0, name


def test_demo_verdicts_re_derive(demo_dir: Path) -> None:
    with Case.open(demo_dir / "case.duckdb", read_only=True) as case:
        report = case.verify()
        verdicts = {k: v.verdict for k, v in case.verdicts().items()}
        runs = {r.kind for r in case.runs()}
    assert report.ok, "\n".join(report.lines())
    assert runs == {"transit", "prism", "attribution"}
    # The illustrative gap crossing makes Kazakhstan necessary for track ILL-T2: a transit is established, but
    # one object is not the claimed 24–99, so the claim is partly supported; the denial of any overflight is
    # contradicted whatever the count. Both rest on illustrative data and say so.
    assert verdicts["zakharova-transit"] == "partly supported"
    assert verdicts["kz-mfa-denial"] == "contradicted"
    # Nothing speaks to the supply-route claim: absence of evidence leaves both it and its denial unverified.
    assert verdicts["telegram-supply-route"] == "unverified"
    assert verdicts["smadiyarov-no-confirmation"] == "unverified"


def test_demo_zakharova_claim_weighs_the_count_and_the_speed(demo_dir: Path) -> None:
    with Case.open(demo_dir / "case.duckdb", read_only=True) as case:
        v = case.verdicts()
    z, d = v["zakharova-transit"], v["kz-mfa-denial"]
    assert (z.rule_version, z.number, z.illustrative) == ("2", 1, True)
    assert z.reasoning[-1] == "=> partly supported: a transit is established; 1 of the claimed 24–99 is"
    assert "objects established: 1 (object:ILL-T2)" in z.reasoning
    assert (d.verdict, d.number, d.illustrative) == ("contradicted", 1, True)
    # The 120 km/h run's "necessary" for ILL-S1 does not count: 185 km/h was also run for it (the highest
    # plausible speed recorded), where Kazakhstan is only possible.
    s1 = [line for line in z.reasoning if "ILL-S1" in line]
    assert len(s1) == 1 and "not counted: run prism-2 assumes at most 120 km/h" in s1[0]
    assert "highest plausible speed recorded for ILL-S1 (185 km/h" in s1[0]
    for verdict in (z, d):
        assert any(line.startswith("rests on illustrative item(s)") for line in verdict.reasoning)


def test_demo_prism_verdicts_differ_by_speed(demo_dir: Path) -> None:
    with Case.open(demo_dir / "case.duckdb", read_only=True) as case:
        prism = {round(r.parameters["vmax_mps"] * 3.6): case.run_results(r.id) for r in case.runs()
                 if r.kind == "prism" and r.parameters.get("source") == "observations"}
    fast, slow = prism[185], prism[120]
    assert dict(zip(fast["track_id"], fast["verdict"], strict=True)) == {"ILL-S1": "possible", "ILL-S2": "impossible"}
    assert dict(zip(slow["track_id"], slow["verdict"], strict=True)) == {"ILL-S1": "necessary",
                                                                         "ILL-S2": "inconsistent"}


def test_transit_marks_the_gap_crossing_unobserved(demo_dir: Path) -> None:
    with Case.open(demo_dir / "case.duckdb", read_only=True) as case:
        run = next(r for r in case.runs() if r.kind == "transit")
        v = case.run_results(run.id)
    kaz = v[(v["track_id"] == "ILL-T2") & (v["zone_id"] == "KAZ")]
    assert len(kaz) == 1 and not bool(kaz["observed"].iloc[0])
    t1 = v[v["track_id"] == "ILL-T1"]["zone_id"].tolist()
    assert "UKR" in t1 and "RUS" in t1 and "KAZ" not in t1


def test_claimreview_has_the_required_fields(demo_dir: Path) -> None:
    doc = json.loads((demo_dir / "claims.claimreview.json").read_text())
    reviews = doc if isinstance(doc, list) else doc.get("@graph", [doc])
    # The two verdicts resting on illustrative tracks are not published as ratings (see --include-illustrative).
    assert {r["identifier"] for r in reviews} == {"telegram-supply-route", "smadiyarov-no-confirmation",
                                                 "kamaletdinov-wreckage", "cpc-kropotkinskaya-strike"}
    assert "Supported by the evidence" not in json.dumps(reviews)
    for r in reviews:
        assert missing_fields(r) == []
        assert r["claimReviewed"] and r["reviewRating"]["alternateName"]
        assert r["itemReviewed"]["@type"] == "Claim"
        assert r["itemReviewed"]["author"]["name"] and r["itemReviewed"]["datePublished"]


def test_report_is_self_contained_and_labels_illustrative(demo_dir: Path) -> None:
    html = (demo_dir / "report.html").read_text()
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
    assert "<script" not in html and "<link" not in html
    assert html.count("illustrative") > 10
    for cid in ("zakharova-transit", "kz-mfa-denial", "kamaletdinov-wreckage", "cpc-kropotkinskaya-strike"):
        assert cid in html
    assert "ne-admin0" in html and "<svg" in html
    assert "partly supported</span> <span class='illustrative'>illustrative</span>" in html
    assert "objects established: 1 of 24–99" in html
    assert "Prism verdicts at each speed run" in html and "prism-2 (120 km/h)" in html


def test_kml_has_time_stamps(demo_dir: Path) -> None:
    kml = (demo_dir / "case.kml").read_text()
    assert "<TimeSpan>" in kml or "<TimeStamp>" in kml
    assert "<Style" in kml and "illustrative" in kml


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
def test_report_renders_in_chromium_without_errors(demo_dir: Path, tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    errors: list[str] = []
    failed: list[str] = []
    shot = tmp_path / "report.png"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.goto((demo_dir / "report.html").resolve().as_uri())
        page.screenshot(path=str(shot), full_page=True)
        title = page.title()
        n_svg = page.locator("svg").count()
        verdict_badges = page.locator(".verdict").count()
        browser.close()
    assert errors == [] and failed == []
    assert title.startswith("Drones over western Kazakhstan")
    assert n_svg >= 2 and verdict_badges == 6
    from PIL import Image

    img = Image.open(shot)
    assert img.width == 1100 and img.height > 3000  # the whole page: claims, map, timeline, tables
    colours = img.convert("RGB").resize((50, 200)).getcolors(maxcolors=100000)
    assert colours is not None and len(colours) > 50  # not a blank page


def test_demo_command_runs(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "overflight", "demo", "--out", str(tmp_path / "d")],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "report.html" in r.stdout and "partly supported (illustrative)" in r.stdout
    assert sorted(p.name for p in (tmp_path / "d").iterdir() if p.suffix != ".wal") == sorted([*OUTPUTS, "inputs"])
    assert sorted(p.name for p in (tmp_path / "d" / "inputs").iterdir()) == sorted(INPUTS)


def test_demo_reads_its_copied_inputs(tmp_path: Path) -> None:
    """A claim removed from <out>/inputs/claims.yaml is gone from the case the next run builds."""
    import yaml

    from overflight.demo import copy_inputs

    inputs = copy_inputs(tmp_path)
    doc = yaml.safe_load((inputs / "claims.yaml").read_text(encoding="utf-8"))
    doc["claims"] = [c for c in doc["claims"] if c["id"] != "cpc-kropotkinskaya-strike"]
    (inputs / "claims.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    res = build_demo(tmp_path)
    assert "cpc-kropotkinskaya-strike" not in res.verdicts and "zakharova-transit" in res.verdicts
