"""Fuzz every reader: whatever the bytes, the only exception is InputError, and an accepted file accounts for
every record it holds (rows read + rows rejected = rows present).

Each reader gets mutated copies of a valid seed file (characters from a hostile alphabet inserted, lines
dropped, duplicated or cut) and, for the line formats, files built line by line from hostile fields.

Budget: ``OVERFLIGHT_FUZZ_EXAMPLES`` examples per reader (default 25: the whole file runs in well under a
minute). The full test run (scripts/test.sh) loads the derandomized ``ci`` profile, so CI draws the same
examples each time; for a longer local hunt, e.g. ``OVERFLIGHT_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz_readers.py``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overflight.errors import InputError
from overflight.evidence.importing import _records_csv, read_files
from overflight.tracks import read_tracks
from overflight.zones import from_spec, read_zone_file

DATA = Path(__file__).parent / "data"
N = int(os.environ.get("OVERFLIGHT_FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=N, deadline=None, suppress_health_check=list(HealthCheck))

# Characters that break parsers: quotes, separators, line ends, NUL, markup, bidi, surrogate-free astral.
NASTY = '",;\t\r\n\x00\\[]{}<>&\'=:/-+.eE0123456789 aZ\u00e9\u202e\U0001f600\ufffd'
nasty_text = st.text(alphabet=NASTY, max_size=12)


def _write(data: bytes | str, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(suffix=suffix, prefix="fuzz-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    return Path(name)


@st.composite
def mutated(draw: st.DrawFn, seed: str) -> str:
    """The seed text with a few random edits: insertions, deletions, line duplications, a cut."""
    text = seed
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["insert", "delete", "dup", "cut", "replace"]))
        pos = draw(st.integers(0, max(len(text) - 1, 0)))
        if op == "insert":
            text = text[:pos] + draw(nasty_text) + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 20)):]
        elif op == "dup":
            lines = text.splitlines(keepends=True)
            if lines:
                i = draw(st.integers(0, len(lines) - 1))
                lines.insert(i, lines[i])
                text = "".join(lines)
        elif op == "cut":
            text = text[:pos]
        else:
            text = text[:pos] + draw(st.sampled_from(['"', "\n", ",", "\x00", "NaN", "1e400", "-99999999", "true",
                                                       "[/b]", "\r"])) + text[pos + 1:]
    return text


def _physical_lines(data: str) -> int:
    """Lines as a CSV reader sees them: \\r\\n, \\r and \\n end a line; a last line without an end counts."""
    parts = re.split(r"\r\n|\r|\n", data)
    return len(parts) - (1 if parts[-1] == "" else 0)


def _check(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except InputError:
        return None


def _report_adds_up(rep: Any) -> None:
    assert rep.total_rows == rep.rows_kept + rep.invalid_rows
    assert sum(rep.counts.values()) == rep.invalid_rows


# ---------------------------------------------------------------- track CSV

_CSV_SEED = (DATA / "tracks" / "invalid.csv").read_text()
field = st.one_of(
    nasty_text, st.sampled_from(["2025-06-20T00:00:00Z", "2025-06-20 01:00", "1750455000", "NaN", "", "abc",
                                 "51.5", "-181", "95", "1e400", '"quoted, field"', '"open', "20250620T213100Z"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


@st.composite
def csv_files(draw: st.DrawFn) -> str:
    header = draw(st.sampled_from(["track_id,time,lon,lat", "track_id,time,lon,lat,alt_m", "time,lon,lat",
                                   "track_id;time;lon;lat"]))
    delim = ";" if ";" in header else ","
    width = header.count(delim) + 1
    rows = draw(st.lists(st.lists(field, min_size=width - 1, max_size=width + 1), max_size=12))
    ends = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    body = ends.join(delim.join(r) for r in rows)
    return header + ends + body + draw(st.sampled_from(["", ends]))


def _assert_csv_accounting(text: str, path: Path) -> None:
    res = _check(lambda: read_tracks(path, on_invalid="drop", tz="UTC"))
    if res is None:
        return
    _, rep = res
    _report_adds_up(rep)
    blank = rep.notes.get("blank lines", 0)
    assert rep.total_rows + blank == _physical_lines(text) - 1, (rep.summary(), text)


@FUZZ
@given(st.one_of(csv_files(), mutated(_CSV_SEED)))
def test_fuzz_track_csv(text: str) -> None:
    p = _write(text, ".csv")
    try:
        _assert_csv_accounting(text, p)
    finally:
        p.unlink()


_OPENSKY_SEED = (DATA / "tracks" / "opensky_states.csv").read_text()


@FUZZ
@given(mutated(_OPENSKY_SEED))
def test_fuzz_opensky_csv(text: str) -> None:
    p = _write(text, ".csv")
    try:
        _assert_csv_accounting(text, p)
    finally:
        p.unlink()


# ---------------------------------------------------------------- SBS-1

_SBS_SEED = (DATA / "tracks" / "basestation.sbs").read_text()
sbs_field = st.one_of(nasty_text, st.sampled_from(["3", "4840D6", "zzzzzz", "<script>", "", "2025/06/20",
                                                   "21:30:00.000", "51.5", "-1", "0", "1e400"]))


@st.composite
def sbs_files(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 10))):
        kind = draw(st.sampled_from(["MSG", "SEL", "AIR", "junk"]))
        n = draw(st.integers(1, 24))
        cells = [draw(sbs_field) for _ in range(n)]
        if kind != "junk":
            cells[0] = kind
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


@FUZZ
@given(st.one_of(sbs_files(), mutated(_SBS_SEED)))
def test_fuzz_sbs(text: str) -> None:
    p = _write(text, ".sbs")
    try:
        res = _check(lambda: read_tracks(p, format="sbs", tz="UTC", on_invalid="drop"))
        if res is None:
            return
        _, rep = res
        _report_adds_up(rep)
        other = rep.notes.get("blank lines", 0) + rep.notes.get("messages without position", 0)
        assert rep.total_rows + other == _physical_lines(text), (rep.summary(), text)
    finally:
        p.unlink()


# ---------------------------------------------------------------- JSON formats

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(), nasty_text,
              st.sampled_from([51.5, 1750455000, "2025-06-20T00:00:00Z", "4840d6", -1e9])),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.sampled_from(["type", "coordinates", "geometry", "properties",
                                                                "features", "time", "times", "id", "hex", "lat",
                                                                "lon", "seen_pos", "now", "aircraft", "states",
                                                                "alt_baro", "squawk", "x"]), children, max_size=5)),
    max_leaves=25,
)


@st.composite
def geojson_docs(draw: st.DrawFn) -> str:
    feats = []
    for _ in range(draw(st.integers(0, 4))):
        gtype = draw(st.sampled_from(["Point", "LineString", "MultiLineString", "Polygon", None]))
        feats.append({"type": "Feature", "geometry": {"type": gtype, "coordinates": draw(json_values)},
                      "properties": draw(st.dictionaries(st.sampled_from(["time", "times", "id", "alt"]),
                                                         json_values, max_size=3))})
    return json.dumps({"type": "FeatureCollection", "features": feats})


_GEOJSON_SEED = (DATA / "tracks" / "lines.geojson").read_text()


@FUZZ
@given(st.one_of(geojson_docs(), mutated(_GEOJSON_SEED)))
def test_fuzz_geojson(text: str) -> None:
    p = _write(text, ".geojson")
    try:
        res = _check(lambda: read_tracks(p, on_invalid="drop", tz="UTC"))
        if res is not None:
            _report_adds_up(res[1])
    finally:
        p.unlink()


_READSB_SEED = (DATA / "tracks" / "readsb" / "aircraft_001.json").read_text()
_OPENSKY_JSON_SEED = (DATA / "tracks" / "opensky_states.json").read_text()


@FUZZ
@given(st.one_of(mutated(_READSB_SEED),
                 st.builds(lambda a: json.dumps({"now": 1750455000, "aircraft": a}), st.lists(json_values, max_size=5)),
                 mutated(_OPENSKY_JSON_SEED)))
def test_fuzz_readsb_and_opensky_json(text: str) -> None:
    p = _write(text, ".json")
    try:
        res = _check(lambda: read_tracks(p, on_invalid="drop"))
        if res is not None:
            _report_adds_up(res[1])
    finally:
        p.unlink()


def test_deeply_nested_and_huge_number_json(tmp_path: Path) -> None:
    for i, text in enumerate(["[" * 100_000, '{"type": "FeatureCollection", "features": [{"type": "Feature", '
                              '"geometry": {"type": "Point", "coordinates": [' + "9" * 5000 + ', 1]}}]}',
                              '{"type":"Feature","geometry":{"type":"MultiLineString","coordinates":[1,2]},'
                              '"properties":{"times":[1,2]}}']):
        p = tmp_path / f"d{i}.geojson"
        p.write_text(text)
        res = _check(lambda p=p: read_tracks(p, on_invalid="drop"))
        if res is not None:
            _report_adds_up(res[1])


# ---------------------------------------------------------------- XML formats

_GPX_SEED = (DATA / "tracks" / "track.gpx").read_text()
_KML_SEED = (DATA / "tracks" / "track.kml").read_text()


@FUZZ
@given(st.one_of(mutated(_GPX_SEED).map(lambda t: (t, ".gpx")), mutated(_KML_SEED).map(lambda t: (t, ".kml")),
                 mutated(_KML_SEED).map(lambda t: (t, ".kmz"))))
def test_fuzz_gpx_kml_kmz(case: tuple[str, str]) -> None:
    text, suffix = case
    if suffix == ".kmz":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("doc.kml", text.encode("utf-8", "surrogatepass"))
        p = _write(buf.getvalue(), suffix)
    else:
        p = _write(text, suffix)
    try:
        res = _check(lambda: read_tracks(p, on_invalid="drop", tz="UTC"))
        if res is not None:
            _report_adds_up(res[1])
    finally:
        p.unlink()


# ---------------------------------------------------------------- zones

spec_values = st.one_of(json_values, st.sampled_from(["Akhtubinsk", "Springfield", "X", [46.2, 48.3], [True, False],
                                                      [200, 0], "abc", 1e400, -5, 0, "circle", "sector"]))


@FUZZ
@given(st.dictionaries(st.sampled_from(["id", "shape", "center", "country", "radius_km", "inner_km", "outer_km",
                                        "from_deg", "to_deg", "around", "width_km", "floor_m", "ceiling_m",
                                        "valid_from", "valid_to", "name"]), spec_values, max_size=8),
       st.sampled_from(["circle", "annulus", "sector", "buffer", "point"]))
def test_fuzz_zone_specs(spec: dict[str, Any], shape: str) -> None:
    spec = {"id": "z", "shape": shape, **spec} if "shape" not in spec else spec
    _check(lambda: from_spec(spec))


_ZONES_SEED = (DATA / "case" / "zones.geojson").read_text()


@FUZZ
@given(st.one_of(mutated(_ZONES_SEED), geojson_docs()))
def test_fuzz_zone_files(text: str) -> None:
    p = _write(text, ".geojson")
    try:
        _check(lambda: read_zone_file(p))
    finally:
        p.unlink()


# ---------------------------------------------------------------- claims, observations, evidence

_LEDGER_SEED = (DATA / "case" / "ledger.yaml").read_text()
_OBS_SEED = (DATA / "case" / "observations.csv").read_text()


@FUZZ
@given(mutated(_LEDGER_SEED))
def test_fuzz_case_yaml(text: str) -> None:
    p = _write(text, ".yaml")
    try:
        _check(lambda: read_files([p]))
    finally:
        p.unlink()


@FUZZ
@given(st.one_of(mutated(_OBS_SEED), st.builds(lambda body: "id,kind,lon,lat,time_start\n" + body, csv_body := st.text(
    alphabet=NASTY, max_size=200))))
def test_fuzz_case_csv_accounts_for_every_line(text: str) -> None:
    fd, name = tempfile.mkstemp(suffix=".csv", prefix="observations-")
    os.close(fd)
    p = Path(name)
    p.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        _check(lambda: read_files([p]))
        records = _check(lambda: _records_csv(p))
        if records is None:
            return
        lines = re.split(r"\r\n|\r|\n", text)
        if lines and lines[-1] == "":
            lines = lines[:-1]
        blank = sum(1 for ln in lines[1:] if all(not c.strip() for c in next(csv.reader([ln]), [])))
        assert len(records) + blank == max(len(lines) - 1, 0)
    finally:
        p.unlink()


del csv_body
