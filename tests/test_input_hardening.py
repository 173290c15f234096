"""Broken promises of issue 12 (input half): silent CSV loss, wrong answers without a warning, memory, messages.

Each class is tried with several variants, not only the reported example.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from overflight.demo import demo_file
from overflight.errors import InputError
from overflight.evidence.importing import parse_time, read_files
from overflight.tracks import read_tracks
from overflight.units import parse_speed
from overflight.zones import from_spec

DEMO = demo_file("tracks.csv").read_text().splitlines(keepends=True)


# ---------------------------------------------------------------- 1. silent data loss in CSV

def _demo_with(line_no: int, old: str, new: str, tmp: Path) -> Path:
    lines = list(DEMO)
    assert old in lines[line_no - 1]
    lines[line_no - 1] = lines[line_no - 1].replace(old, new, 1)
    p = tmp / "tracks.csv"
    p.write_text("".join(lines))
    return p


@pytest.mark.parametrize(("line", "old", "new", "at"), [
    (6, "True", '"True', 6),                      # the reported example: last field
    (6, "ILL-T1", '"ILL-T1', 6),                  # first field
    (40, "2025-06-20", '"2025-06-20', 40),        # time field, further down
    (6, "407.0", '"407.0', 6),                    # a number
    (6, ",True", ',"True"x\n"', 7),               # closed, then a new line opening one
])
@pytest.mark.parametrize("drop", ["fail", "drop"])
def test_stray_quote_in_track_csv_names_the_line(tmp_path: Path, line: int, old: str, new: str, at: int,
                                                 drop: str) -> None:
    p = _demo_with(line, old, new, tmp_path)
    with pytest.raises(InputError) as ei:
        read_tracks(p, on_invalid=drop)  # type: ignore[arg-type]
    assert ei.value.row == f"line {at}"
    assert "quote" in str(ei.value)


def test_stray_quote_in_a_middle_chunk(tmp_path: Path) -> None:
    p = _demo_with(300, "True", '"True', tmp_path)
    with pytest.raises(InputError) as ei:
        read_tracks(p, chunk_rows=50)
    assert ei.value.row == "line 300"


def test_stray_quote_in_cli_transit_and_case_import(tmp_path: Path) -> None:
    p = _demo_with(6, "True", '"True', tmp_path)
    env = {**os.environ, "COLUMNS": "200"}
    for argv in (["transit", str(p), "-o", str(tmp_path / "v.csv")], ["tracks", "validate", str(p)]):
        r = subprocess.run([sys.executable, "-m", "overflight", *argv], capture_output=True, text=True, env=env,
                           timeout=120)
        assert r.returncode == 2 and "line 6" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "v.csv").exists()


def test_quoted_values_on_one_line_are_fine(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text('track_id,time,lon,lat,note\n"a, b",2025-06-20T00:00:00Z,1,2,"say ""hi"""\n'
                 'a,2025-06-20T00:01:00Z,1,2,x"y\n')
    df, rep = read_tracks(p)
    assert (rep.total_rows == 2 and list(df["note"]) == ['say "hi"', 'x"y']) or set(df["note"]) == {'say "hi"', 'x"y'}


def _claims_csv(tmp: Path, statement2: str) -> Path:
    p = tmp / "claims.csv"
    p.write_text(textwrap.dedent(f"""\
        id,claimant,date,statement,stance,what,zones
        c1,A,2025-06-21,first claim,asserts,transit,KAZ
        c2,B,2025-06-21,{statement2},asserts,transit,KAZ
        c3,C,2025-06-21,third claim,denies,transit,KAZ
        c4,D,2025-06-21,fourth claim,denies,transit,KAZ
        """))
    return p


@pytest.mark.parametrize("statement", ['"Drones crossed', '"Drones" crossed', 'Drones crossed,"KAZ', '"a""'])
def test_stray_quote_in_claims_csv_names_the_line(tmp_path: Path, statement: str) -> None:
    p = _claims_csv(tmp_path, statement)
    with pytest.raises(InputError) as ei:
        read_files([p])
    assert ei.value.row == 3


def test_claims_csv_accounts_for_every_line(tmp_path: Path) -> None:
    p = _claims_csv(tmp_path, 'Drones "crossed" the border')  # a quote inside a value is literal
    b = read_files([p])
    assert [c.id for c in b.claims] == ["c1", "c2", "c3", "c4"]
    assert b.claims[1].statement == 'Drones "crossed" the border'


def test_claims_csv_bad_byte_is_on_its_line(tmp_path: Path) -> None:
    p = _claims_csv(tmp_path, "x")
    data = p.read_bytes().replace(b"third claim", b"third cl\xe9im")
    p.write_bytes(data)
    with pytest.raises(InputError) as ei:
        read_files([p])
    assert ei.value.row == "line 4" and "UTF-8" in str(ei.value)


def test_latin1_claims_yaml(tmp_path: Path) -> None:
    p = tmp_path / "claims.yaml"
    p.write_bytes("claims:\n  - id: c1\n    statement: 'Drohnen über Kasachstan'\n".encode("latin-1"))
    with pytest.raises(InputError) as ei:
        read_files([p])
    assert ei.value.row == "line 3" and "UTF-8" in str(ei.value)


# ---------------------------------------------------------------- 5. wrong answers without a warning

@pytest.mark.parametrize("value", ["abc", "1e400", "-99999999", "-1e400", "nan", "12,5"])
def test_bad_altitudes_are_flagged(tmp_path: Path, value: str) -> None:
    p = tmp_path / "t.csv"
    p.write_text(f'track_id,time,lon,lat,alt_m\na,2025-06-20T00:00:00Z,1,2,"{value}"\na,2025-06-20T00:01:00Z,1,2,\n')
    with pytest.raises(InputError) as ei:
        read_tracks(p)
    assert ei.value.field == "alt_m" and ei.value.row == "line 2" and value in str(ei.value)
    df, rep = read_tracks(p, on_invalid="drop")
    assert rep.counts["bad_altitude"] == 1 and len(df) == 1  # the empty altitude is unknown, not bad


@pytest.mark.parametrize("text", ["0kmh", "0", "-5kt", "1e400kmh", "infmps"])
def test_speed_must_be_positive_and_finite(text: str) -> None:
    with pytest.raises(InputError):
        parse_speed(text, default_unit="mps")


@pytest.mark.parametrize("value", [20250621, 1750455000, "now", "today", "yesterday", True, 1750455000.5,
                                   "0001-01-01", "21/06/2025"])
def test_claim_dates_refused(value: object) -> None:
    with pytest.raises(InputError):
        parse_time(value, field="date")


@pytest.mark.parametrize("value", ["2025-06-21", "2025-06-21T18:00Z", "2025-06-21 18:00:00+03:00"])
def test_claim_dates_accepted(value: str) -> None:
    t = parse_time(value)
    assert t is not None and t.year == 2025 and t.tzinfo is not None


@pytest.mark.parametrize(("spec", "field"), [
    ({"shape": "circle", "center": [True, False], "radius_km": 5}, "center"),
    ({"shape": "circle", "center": ["46", "48"], "radius_km": 5}, "center"),
    ({"shape": "circle", "center": [46, 48, 1], "radius_km": 5}, "center"),
    ({"shape": "circle", "center": [46, 48], "radius_km": True}, "radius_km"),
    ({"shape": "sector", "center": [46, 48], "radius_km": 5, "from_deg": "abc", "to_deg": 90}, "from_deg"),
    ({"shape": "sector", "center": [46, 48], "radius_km": 5, "from_deg": 0, "to_deg": "inf"}, "to_deg"),
    ({"shape": "buffer", "around": [[46, 48], [47, 48]], "width_km": 0}, "width_km"),
    ({"shape": "circle", "center": "X", "radius_km": 5}, "center"),
    ({"shape": "circle", "center": "Springfield", "radius_km": 5}, "center"),
    ({"shape": "circle", "center": [46, 48], "radius_km": 5, "floor_m": 900, "ceiling_m": 100}, "floor_m"),
    ({"shape": "circle", "center": [46, 48], "radius_km": 5, "valid_from": "2025-06-22T00:00Z",
      "valid_to": "2025-06-21T00:00Z"}, "valid_from"),
    ({"shape": "circle", "center": [46, 48], "radius_km": 5, "ceiling_m": "1e400"}, "ceiling_m"),
])
def test_zone_spec_errors_name_the_users_field(spec: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as ei:
        from_spec({"id": "z", **spec}, file="zones.yaml", row=0)
    assert ei.value.field == field, str(ei.value)


def test_zone_spec_country_narrows_an_ambiguous_center() -> None:
    z = from_spec({"id": "z", "shape": "point", "center": "Springfield", "country": "AU"})
    assert z.geometry.x > 100


@pytest.mark.parametrize("coords", [[True, False], [True, 51.0], [50.0, False]])
def test_json_booleans_are_not_coordinates(tmp_path: Path, coords: list[object]) -> None:
    p = tmp_path / "t.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"time": "2025-06-20T00:00:00Z"},
         "geometry": {"type": "Point", "coordinates": coords}}]}))
    _, rep = read_tracks(p, on_invalid="drop")
    assert rep.counts["bad_coordinate"] == 1 and rep.rows_kept == 0


@pytest.mark.parametrize("value", ["100", "0", "-5", "315532799"])
def test_small_epoch_numbers_are_not_times(tmp_path: Path, value: str) -> None:
    p = tmp_path / "t.csv"
    p.write_text(f"track_id,time,lon,lat\na,{value},1,2\n")
    _, rep = read_tracks(p, on_invalid="drop")
    assert rep.counts["bad_time"] == 1


@pytest.mark.parametrize(("aircraft", "rule"), [
    ({"hex": "4840d6", "lat": 51, "lon": 50, "seen_pos": -1e9}, "bad_time"),
    ({"hex": "4840d6", "lat": 51, "lon": 50, "seen_pos": 1e9}, "bad_time"),
    ({"hex": "4840d6", "lat": 51, "lon": 50, "seen_pos": "abc"}, "bad_time"),
    ({"hex": "", "lat": 51, "lon": 50}, "malformed"),
    ({"hex": "zzzzzz", "lat": 51, "lon": 50}, "malformed"),
    ({"hex": "<script>", "lat": 51, "lon": 50}, "malformed"),
    ({"lat": 51, "lon": 50}, "malformed"),
    ({"hex": "4840d6", "lat": True, "lon": 50}, "bad_coordinate"),
])
def test_readsb_bad_values(tmp_path: Path, aircraft: dict[str, object], rule: str) -> None:
    p = tmp_path / "aircraft.json"
    good = {"hex": "~abc123", "lat": 51, "lon": 51, "seen_pos": 1}
    p.write_text(json.dumps({"now": 1750455000, "aircraft": [good, aircraft]}))
    _, rep = read_tracks(p, format="readsb", on_invalid="drop")
    assert rep.counts[rule] == 1 and rep.rows_kept == 1 and rep.total_rows == 2


@pytest.mark.parametrize("hexid", ["zzzzzz", "<script>", "", "4840D", "4840D6F"])
def test_sbs_bad_hex_ids(tmp_path: Path, hexid: str) -> None:
    line = "MSG,3,1,1,{},1,2025/06/20,21:30:00.000,2025/06/20,21:30:00.000,,1000,,,51.0,50.0,,,,,,0\n"
    p = tmp_path / "x.sbs"
    p.write_text(line.format("4840D6") + line.format(hexid).replace("21:30:00", "21:31:00"))
    _, rep = read_tracks(p, tz="UTC", on_invalid="drop")
    assert rep.counts["malformed"] == 1 and rep.rows_kept == 1


# ---------------------------------------------------------------- 6. memory exhaustion

_BOUNDED = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (BOUND, BOUND))
    from overflight.errors import InputError
    from overflight.evidence.importing import read_files
    from overflight.tracks import read_tracks
    kind, path = sys.argv[1], sys.argv[2]
    try:
        if kind == "tracks":
            read_tracks(path)
        else:
            read_files([path])
    except InputError as exc:
        print("INPUTERROR", str(exc)[:300])
        sys.exit(0)
    print("ACCEPTED")
""")


def _bounded(kind: str, path: Path, limit_mb: int = 900) -> str:
    code = _BOUNDED.replace("BOUND", str(limit_mb << 20))
    r = subprocess.run([sys.executable, "-c", code, kind, str(path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


@pytest.fixture(scope="module")
def big_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("big")
    files: dict[str, Path] = {}
    with open(d / "nul.csv", "wb") as fh:  # 40 MB of NUL bytes, no line break
        for _ in range(40):
            fh.write(b"\x00" * (1 << 20))
    files["nul"] = d / "nul.csv"
    with open(d / "nul_body.csv", "wb") as fh:
        fh.write(b"track_id,time,lon,lat\n")
        for _ in range(40):
            fh.write(b"\x00" * (1 << 20))
    files["nul_body"] = d / "nul_body.csv"
    (d / "header.csv").write_text("a" * 200_000 + ",time,lon,lat\n")
    files["header"] = d / "header.csv"
    (d / "field.csv").write_text("track_id,time,lon,lat\n" + "x" * 200_000 + ",2025-06-20T00:00:00Z,1,2\n")
    files["field"] = d / "field.csv"
    (d / "claims.csv").write_text("id,statement\nc1," + "x" * 200_000 + "\n")
    files["claims_field"] = d / "claims.csv"
    with open(d / "claims_nul.csv", "wb") as fh:
        fh.write(b"id,statement\n")
        for _ in range(40):
            fh.write(b"\x00" * (1 << 20))
    files["claims_nul"] = d / "claims_nul.csv"
    with zipfile.ZipFile(d / "bomb.kmz", "w", zipfile.ZIP_DEFLATED) as z, z.open("doc.kml", "w") as fh:
        fh.write(b'<kml xmlns="http://www.opengis.net/kml/2.2"><Document><!--')
        for _ in range(700):
            fh.write(b" " * (1 << 20))
        fh.write(b"--></Document></kml>")
    files["kmz"] = d / "bomb.kmz"
    return files


@pytest.mark.parametrize(("name", "kind", "expect"), [
    ("nul", "tracks", "longer than 64 KiB"),
    ("nul_body", "tracks", "longer than"),
    ("header", "tracks", "longer than 64 KiB"),
    ("claims_field", "case", "field larger than field limit"),
    ("claims_nul", "case", "line 2"),
    ("kmz", "tracks", "limit"),
])
def test_hostile_files_fail_cleanly_within_bounded_memory(big_files: dict[str, Path], name: str, kind: str,
                                                          expect: str) -> None:
    out = _bounded(kind, big_files[name])
    assert out.startswith("INPUTERROR") and expect in out, out


def test_a_long_field_is_read_within_bounded_memory(big_files: dict[str, Path]) -> None:
    assert _bounded("tracks", big_files["field"]).startswith("ACCEPTED")
    assert big_files["kmz"].stat().st_size < 2_000_000  # 700 MB of XML in a small archive


# ---------------------------------------------------------------- messages and tracebacks

@pytest.mark.parametrize(("value", "shown"), [("NaN", "'NaN'"), ("34,9", "'34,9'"), ("abc", "'abc'"),
                                              ("", "''")])
def test_coordinate_messages_keep_the_raw_value(tmp_path: Path, value: str, shown: str) -> None:
    p = tmp_path / "t.csv"
    p.write_text(f'track_id,time,lon,lat\na,2025-06-20T00:00:00Z,"{value}",2\n')
    with pytest.raises(InputError) as ei:
        read_tracks(p)
    msg = str(ei.value)
    assert f"(value {shown})" in msg
    assert ("missing" in msg) == (value == "")


def test_dst_gap_and_fold_say_so(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("track_id,time,lon,lat\na,2025-03-30T02:30:00,1,2\nb,2025-10-26T02:30:00,1,2\n"
                 "c,2025-06-20T12:00:00,1,2\n")
    _, rep = read_tracks(p, tz="Europe/Berlin", on_invalid="drop")
    assert rep.counts["bad_time"] == 2 and rep.rows_kept == 1
    assert all("daylight-saving" in e.message for e in rep.examples if e.rule == "bad_time")


def test_mixed_time_formats_with_tz(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("track_id,time,lon,lat\na,2025-06-20T21:30:00,1,2\na,20250620T213100Z,1,2\n")
    df, rep = read_tracks(p, tz="UTC")
    assert rep.rows_kept == 2 and (df["time"].diff().dropna().dt.total_seconds() == 60).all()


@pytest.mark.parametrize("tz", ["+25:00", "-15:00", "+03:75", "Mars/Olympus", "../../etc/passwd"])
def test_bad_time_zones(tz: str) -> None:
    from overflight.tracks.table import parse_tz

    with pytest.raises(InputError):
        parse_tz(tz)


def test_cli_options_validated_before_anything_is_written(tmp_path: Path) -> None:
    tracks = tmp_path / "t.csv"
    tracks.write_text("track_id,time,lon,lat\na,2025-06-20T00:00:00Z,49,51\na,2025-06-20T01:00:00Z,53,51\n")
    out = tmp_path / "v.csv"
    env = {**os.environ, "COLUMNS": "200"}
    cases = [
        ["transit", str(tracks), "-o", str(out), "--summary-tz", "Mars/Olympus"],
        ["transit", str(tracks), "-o", str(out), "--tz", "+25:00"],
        ["transit", str(tracks), "-o", str(tmp_path / "missing" / "v.csv")],
        ["transit", str(tracks), "-o", str(out), "--summary", str(tmp_path / "missing" / "s.csv")],
        ["transit", str(tracks), "-o", str(tmp_path)],
        ["tracks", "convert", str(tracks), "-o", str(tmp_path / "missing" / "x.kml")],
        ["tracks", "convert", str(tracks), "-o", str(out), "--tz", "+25:00"],
        ["prism", str(tracks), "--vmax", "0kmh", "-o", str(out)],
        ["prism", str(tracks), "--vmax", "185kmh", "-o", str(tmp_path / "missing" / "p.csv")],
        ["prism", str(tracks), "--vmax", "185kmh", "--geojson", str(tmp_path / "missing" / "p.geojson")],
        ["report", str(tmp_path / "none.duckdb"), "-o", str(tmp_path)],
        ["locate", str(tracks), "-o", str(tmp_path / "missing" / "l.csv")],
    ]
    for argv in cases:
        r = subprocess.run([sys.executable, "-m", "overflight", *argv], capture_output=True, text=True, env=env,
                           timeout=120)
        assert r.returncode == 2, (argv, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr and "error:" in r.stderr, (argv, r.stderr)
        assert not out.exists(), argv


def test_header_only_and_mixed_types_convert(tmp_path: Path) -> None:
    from overflight.tracks import write_tracks

    p = tmp_path / "h.csv"
    p.write_text("track_id,time,lon,lat\n")
    df, _ = read_tracks(p)
    for ext in (".kml", ".geojson", ".parquet", ".csv"):
        write_tracks(df, tmp_path / f"out{ext}")
    write_tracks(df, tmp_path / "lines.geojson", geojson_mode="lines")
    rs = tmp_path / "aircraft.json"
    rs.write_text(json.dumps({"now": 1750455000, "aircraft": [
        {"hex": "4840d6", "lat": 51, "lon": 50, "squawk": "7000", "seen_pos": 1},
        {"hex": "4840d7", "lat": 51, "lon": 50.1, "squawk": 1200, "seen_pos": 1}]}))
    df, _ = read_tracks(rs)
    write_tracks(df, tmp_path / "rs.parquet")
    import pyarrow.parquet as pq

    assert sorted(pq.read_table(tmp_path / "rs.parquet").column("squawk").to_pylist()) == ["1200", "7000"]


def test_control_characters_in_track_ids_keep_kml_well_formed(tmp_path: Path) -> None:
    from xml.etree import ElementTree as ET

    from overflight.tracks import make_tracks, write_tracks

    df = make_tracks(__import__("pandas").DataFrame({
        "track_id": ["a\x01b\x1f<c>&"], "time": ["2025-06-20T00:00:00Z"], "lon": [1.0], "lat": [2.0]}))
    write_tracks(df, tmp_path / "t.kml")
    ET.parse(tmp_path / "t.kml")


@pytest.mark.parametrize("body", ['1,50,50\n2,"51,50\n3,52,50\n', '1,50,50\n2,51,"50\n3,52,50\n4,53,50\n',
                                  '1,50,"50\n'])
def test_locate_refuses_a_stray_quote(tmp_path: Path, body: str) -> None:
    from overflight.cli.locate import locate_csv
    from overflight.index import ZoneIndex
    from overflight.zones import from_specs

    p = tmp_path / "points.csv"
    p.write_text("id,lon,lat\n" + body)
    index = ZoneIndex(from_specs([{"id": "z", "shape": "circle", "center": [50, 50], "radius_km": 100}]))
    with pytest.raises(InputError, match="quote"):
        locate_csv(p, tmp_path / "out.csv", index, progress=False)
