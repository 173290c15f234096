"""The analyst's flow from the command line, end to end, on a small case this test writes.

validate → transit --case → prism --case (place-name sightings with time windows) → evaluate → report →
export, then `case verify`. The README's "From files to verdicts" section shows the same commands.

Expected, by construction:
- track A flies west to east along 51.2°N every 5 minutes, across the Russia–Kazakhstan border: an observed
  crossing into KAZ on 21 June, graded B2 (radar) → supports `c-radar`, so the denial `c-deny` is
  contradicted;
- track B crosses the same border inside a 40-minute gap: not observed (no evidence), and its entry time's
  range is the two bracketing fixes;
- sightings over Astrakhan (00:00–00:30 UTC) and Orsk (06:00–06:30 UTC) on 22 June, both in Russia: at
  185 km/h every path between them must cross Kazakhstan (the avoiding path, ~1,310 km, exceeds the budget,
  ~1,200 km with the windows) → necessary, C2 → supports `c-witness`; at 240 km/h only possible, and under
  verdict rule 2 prism evidence counts at the highest speed run for the object, so `c-witness` ends unverified;
- nothing enters the polygon zone `corridor` → `c-corridor` stays unverified.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from overflight.case import Case
from overflight.cli.main import app

CLAIMS = """\
sources:
  - {id: radar, name: Border radar log, kind: sensor, reliability: B}
  - {id: witnesses, name: Eyewitness posts, kind: social, reliability: C}
  - {id: mfa, name: Foreign ministry, kind: official, reliability: B}
claims:
  - id: c-radar
    claimant: Ministry of Foreign Affairs
    source: mfa
    date: 2025-06-23
    statement: Drones crossed from Russia into Kazakhstan in the early hours of 21 June.
    stance: asserts
    what: transit
    where: {zones: [KAZ]}
    when: {start: 2025-06-20T18:00:00Z, end: 2025-06-21T06:00:00Z}
  - id: c-deny
    claimant: Ministry of Defence
    source: mfa
    date: 2025-06-24
    statement: No drone crossed into Kazakhstan on 21 June.
    stance: denies
    what: transit
    where: {zones: [KAZ]}
    when: {start: 2025-06-20T18:00:00Z, end: 2025-06-21T06:00:00Z}
    answers: [c-radar]
  - id: c-witness
    claimant: Telegram channel
    source: witnesses
    date: 2025-06-22
    statement: Drones seen near Astrakhan at night flew over Kazakhstan to Orsk.
    stance: asserts
    what: transit
    where: {zones: [KAZ]}
    when: {start: 2025-06-21T18:00:00Z, end: 2025-06-22T08:00:00Z}
  - id: c-corridor
    claimant: Blogger
    date: 2025-06-22
    statement: The drones used the corridor over the Aral Sea.
    stance: asserts
    what: transit
    where: {zones: [corridor]}
    when: {start: 2025-06-20T00:00:00Z, end: 2025-06-23T00:00:00Z}
"""

ZONES = """\
- id: corridor
  name: Aral corridor
  shape: polygon
  wkt: POLYGON ((59 45, 61 45, 61 46.5, 59 46.5, 59 45))
"""

SIGHTINGS = """\
group,place,country,time_from,time_to,description
night2,Astrakhan,RU,2025-06-22T00:00:00+00:00,2025-06-22T00:30:00+00:00,seen over the city
night2,Orsk,RU,2025-06-22T06:00:00+00:00,2025-06-22T06:30:00+00:00,heard over the river
"""


def _tracks(path: Path) -> None:
    """Radar plots with the radar's own column names and local (Asia/Oral, UTC+5) times, not in order."""
    rows = []
    t0 = pd.Timestamp("2025-06-21 05:00")  # local time: 00:00 UTC
    for k in range(20):  # A: every 5 minutes, 48.0 → 51.8 °E
        rows.append(("A", t0 + pd.Timedelta(minutes=5 * k), 48.0 + 0.2 * k, 51.2))
    for k, (minutes, lon) in enumerate([(0, 48.0), (5, 48.2), (10, 48.4), (50, 51.0), (55, 51.2)]):
        rows.append(("B", t0 + pd.Timedelta(minutes=minutes), lon, 50.9 + 0.0 * k))
    df = pd.DataFrame(rows, columns=["plot", "stamp", "x", "y"])
    df["stamp"] = df["stamp"].dt.strftime("%d.%m.%Y %H:%M")
    df = df.iloc[::-1]  # newest first, as the radar log lists them: --sort reads it in track and time order
    df.to_csv(path, index=False)


@pytest.fixture
def files(tmp_path: Path, case_at: Callable[[str], Path]) -> dict[str, Path]:
    # the case on each backend: a .duckdb file and a postgresql:// URL (tests/conftest.py)
    out = {"claims": tmp_path / "claims.yaml", "zones": tmp_path / "zones.yaml", "tracks": tmp_path / "radar.csv",
           "sightings": tmp_path / "sightings.csv", "case": case_at("case")}
    out["claims"].write_text(CLAIMS, encoding="utf-8")
    out["zones"].write_text(ZONES, encoding="utf-8")
    out["sightings"].write_text(SIGHTINGS, encoding="utf-8")
    _tracks(out["tracks"])
    return out


def run(*args: str | Path) -> str:
    res = CliRunner().invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, f"{args}: {res.output}\n{res.exception!r}"
    return " ".join(res.output.split())  # rich wraps long lines at the terminal width


COLS = ["--id-col", "plot", "--time-col", "stamp", "--lon-col", "x", "--lat-col", "y", "--tz", "Asia/Oral",
        "--time-format", "%d.%m.%Y %H:%M"]


def test_flow_from_files_to_verdicts(files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # transit writes its default crossings.csv into the working directory
    case = files["case"]
    out = run("tracks", "validate", files["tracks"], *COLS, "--sort")
    assert "track_id ← plot" in out and "time ← stamp" in out and "Asia/Oral" in out

    run("case", "init", case)
    run("case", "import", case, files["claims"])
    out = run("transit", files["tracks"], "--case", case, "--source", "radar", "--zones", "ne-admin0",
              "--zone", "KAZ", "--zone", "RUS", *COLS, "--sort", "--max-gap", "10min", "-o", tmp_path / "v.csv")
    assert "recorded run transit-1" in out and "supports c-radar" in out
    visits = pd.read_csv(tmp_path / "v.csv")
    a_kaz = visits[(visits["track_id"] == "A") & (visits["zone_id"] == "KAZ")].iloc[0]
    assert bool(a_kaz["observed"]) and a_kaz["entry_time"].endswith("Z") and "." not in a_kaz["entry_time"]
    # The entry lies between the bracketing fixes, 5 minutes apart, and its range is the interpolated time.
    before, after = pd.Timestamp(a_kaz["entry_before_time"]), pd.Timestamp(a_kaz["entry_after_time"])
    assert after - before == pd.Timedelta(minutes=5)
    assert before <= pd.Timestamp(a_kaz["entry_time"]) <= after
    assert a_kaz["entry_time_min"] == a_kaz["entry_time"] == a_kaz["entry_time_max"]
    assert a_kaz["entry_before_lon"] < a_kaz["entry_lon"] < a_kaz["entry_after_lon"]
    b_kaz = visits[(visits["track_id"] == "B") & (visits["zone_id"] == "KAZ")].iloc[0]
    assert not bool(b_kaz["observed"])
    assert b_kaz["entry_time_min"] == "2025-06-21T00:10:00Z" and b_kaz["entry_time_max"] == "2025-06-21T00:50:00Z"
    assert (b_kaz["entry_before_lon"], b_kaz["entry_after_lon"]) == (48.4, 51.0)

    out = run("prism", files["sightings"], "--case", case, "--vmax", "185kmh", "--zones", "ne-admin0",
              "--zone", "KAZ", "--credibility", "2", "--source", "witnesses")
    assert "at 185kmh: 1 necessary" in out and "supports c-witness" in out
    # Without --case the same file gives the same verdict, with the sightings' ids and times on the row.
    run("prism", files["sightings"], "--vmax", "185kmh", "--zones", "ne-admin0", "--zone", "KAZ",
        "-o", tmp_path / "p.csv")
    row = pd.read_csv(tmp_path / "p.csv").iloc[0]
    assert row["verdict"] == "necessary" and row["from_observation"] == "night2-1"
    assert (row["from_time"], row["to_time"]) == ("2025-06-22T00:15:00Z", "2025-06-22T06:15:00Z")  # midpoints
    out = run("prism", "--case", case, "--vmax", "240kmh", "--zone", "KAZ")  # the case's sightings, faster
    assert "1 possible" in out and "no evidence" in out
    run("transit", "--case", case, "--zones", files["zones"], "--zone", "corridor")  # the case's tracks

    out = run("case", "evaluate", case)
    with Case.open(case, read_only=True) as c:
        verdicts = {k: v.verdict for k, v in c.verdicts().items()}
        obs = {o.id: o for o in c.observations(["sighting"])}
        runs = [r.kind for r in c.runs()]
    assert verdicts == {"c-radar": "supported", "c-deny": "contradicted", "c-witness": "unverified",
                        "c-corridor": "unverified"}
    assert "highest" in out or "240" in out  # the trail says why the 185 km/h necessary no longer counts
    assert runs == ["transit", "prism", "prism", "transit"]
    # The place names were resolved and the match recorded; the windows kept as windows.
    ast = obs["night2-1"]
    assert ast.area == "Astrakhan" and ast.properties["place_match"] == "Astrakhan"
    assert ast.properties["place_cc"] == "RU"
    assert ast.precision_m == pytest.approx(ast.properties["place_extent_m"], abs=0.1)
    assert ast.time_end is not None and ast.time_start is not None
    assert (ast.time_end - ast.time_start).total_seconds() == 1800

    out = run("case", "verify", case)
    assert "0 failed" in out

    run("report", case, "-o", tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "c-witness" in html and "supported" in html
    run("case", "export", case, "--format", "geojson", "-o", tmp_path / "case.geojson")
    run("case", "export", case, "--format", "kml", "-o", tmp_path / "case.kml")
    run("case", "export", case, "--format", "claimreview", "-o", tmp_path / "cr.json", "--url",
        "https://factcheck.example/reviews/kaz", "--publisher", "Example Desk")
    gj = json.loads((tmp_path / "case.geojson").read_text(encoding="utf-8"))
    zone_ids = {f["properties"]["id"] for f in gj["features"] if f["properties"]["layer"] == "zone"}
    assert zone_ids == {"KAZ", "RUS", "corridor"}
    layers = {f["properties"]["layer"] for f in gj["features"]}
    assert {"zone", "track", "fix", "observation", "crossing", "verdict"} <= layers
    ET.parse(tmp_path / "case.kml")  # well-formed XML
    reviews = json.loads((tmp_path / "cr.json").read_text(encoding="utf-8"))
    by_id = {r["identifier"]: r for r in reviews}
    assert by_id["c-radar"]["author"]["name"] == "Example Desk"
    assert by_id["c-radar"]["url"].startswith("https://factcheck.example/reviews/kaz")


def test_errors_name_the_cli_options(files: dict[str, Path]) -> None:
    res = CliRunner().invoke(app, ["tracks", "validate", str(files["tracks"])])
    assert res.exit_code != 0
    assert "--time-col" in str(res.exception) or "--time-col" in res.output
    bad = files["sightings"].with_name("bad.csv")
    bad.write_text("group,place,time\ng,Nowhereville Xq,2025-06-22T00:00:00Z\n", encoding="utf-8")
    run("case", "init", files["case"])
    out = run("case", "import", files["case"], "--tracks", files["tracks"], *COLS, "--sort")
    assert "25 fixes (dataset radar.csv)" in out  # the same column options as transit and validate
    res = CliRunner().invoke(app, ["prism", str(bad), "--case", str(files["case"]), "--vmax", "185kmh"])
    assert res.exit_code != 0
    msg = str(res.exception)
    assert "bad.csv" in msg and "line 2" in msg and "Nowhereville" in msg


def test_the_format_examples_in_docs_read(tmp_path: Path) -> None:
    """Every example of docs/formats.md reads: ledger YAML into a case, the sightings CSV, the zone spec."""
    import re

    import yaml

    from overflight.evidence.sightings import read_sightings
    from overflight.zones import from_specs

    text = (Path(__file__).parents[1] / "docs" / "formats.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(\w+)\n(.*?)```", text, flags=re.S)
    kinds = [k for k, _ in blocks]
    assert kinds.count("yaml") == 4 and kinds.count("csv") == 1
    with Case.create(tmp_path / "d.duckdb") as c:
        for i, (kind, body) in enumerate(blocks):
            if kind == "csv":
                (tmp_path / "s.csv").write_text(body, encoding="utf-8")
                obs = read_sightings(tmp_path / "s.csv")
                assert [o.area for o in obs] == ["Astrakhan", "Orsk"]
            elif "shape:" in body:
                assert from_specs(yaml.safe_load(body))[0].geometry.area == pytest.approx(3.0)
            else:
                (tmp_path / f"{i}.yaml").write_text(body, encoding="utf-8")
                c.import_files([tmp_path / f"{i}.yaml"])
        assert c.evidence()[0].grade.reliability == "B" and c.observations()[0].area == "Uralsk"


def test_help_names_value_types_and_flags_take_none() -> None:
    for cmd, valued in ((["transit"], ("--max-gap", "DURATION")), (["prism"], ("--vmax", "SPEED")),
                        (["tracks", "validate"], ("--time-format", "STRPTIME")),
                        (["attribution"], ("--case", "CASE.duckdb"))):
        res = CliRunner().invoke(app, [*cmd, "--help"], terminal_width=160)
        assert res.exit_code == 0, res.output
        assert "<bool>" not in res.output, cmd
        line = next(ln for ln in res.output.splitlines() if valued[0] + " " in ln)
        assert valued[1] in line, line


def test_attribution_from_a_points_file(tmp_path: Path) -> None:
    """`attribution POINTS --case`: points imported as wreckage, the share test recorded as evidence, and the
    report warns that a target holding the whole region makes the share 100% by construction."""
    rng = np.random.default_rng(7)
    n = 40
    pts = pd.DataFrame({"id": [f"w{i}" for i in range(n)], "lon": 46.0 + rng.uniform(-0.3, 0.3, n),
                        "lat": 48.5 + rng.uniform(-0.2, 0.2, n), "time": "2025-06-21T03:00:00Z"})
    pts.to_csv(tmp_path / "wreckage.csv", index=False)
    (tmp_path / "zones.yaml").write_text(
        "- {id: range, shape: circle, center: [46.0, 48.5], radius_km: 300}\n"
        "- {id: area, shape: circle, center: [46.0, 48.5], radius_km: 60}\n", encoding="utf-8")
    (tmp_path / "claims.yaml").write_text(
        "sources: [{id: mod, name: Defence ministry, kind: official, reliability: C},\n"
        "          {id: finds, name: Field team, kind: own, reliability: B}]\n"
        "claims:\n  - {id: c90, claimant: Defence ministry, source: mod, date: 2025-06-25, what: wreckage,\n"
        "     statement: More than 90% of the drones found lay inside the range., where: {zones: [range]}}\n",
        encoding="utf-8")
    case = tmp_path / "a.duckdb"
    run("case", "init", case)
    run("case", "import", case, tmp_path / "claims.yaml")
    out = run("attribution", tmp_path / "wreckage.csv", "--case", case, "--zones", tmp_path / "zones.yaml",
              "--target", "range", "--region", "area", "--claim", "c90", "--source", "finds", "--credibility", "2")
    assert "imported 40 wreckage" in out and "40 of 40" in out and "supports c90" in out
    run("case", "evaluate", case)
    run("case", "verify", case)
    run("report", case, "-o", tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "range contains the whole of area" in html
