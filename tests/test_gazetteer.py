"""Gazetteer: forward lookup (names, scripts, accents, country, ranking) and reverse lookup (geodesic)."""

from __future__ import annotations

import hashlib
import json
import re
import string
import unicodedata

import numpy as np
import pytest
from geographiclib.geodesic import Geodesic
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from overflight import gazetteer as gz
from overflight.errors import InputError

GEOD = Geod(ellps="WGS84")
WGS84 = Geodesic.WGS84


# ---- data file and provenance


def test_data_file_checksum_size_and_provenance() -> None:
    path = gz.data_path()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == gz.DATA_SHA256 == gz.PROVENANCE.sha256
    assert path.stat().st_size <= 12_000_000
    assert gz.PROVENANCE.name == "geonames-cities1000"
    assert gz.PROVENANCE.licence == "CC BY 4.0"
    assert "geonames" in gz.PROVENANCE.source and "3.0.2" in gz.PROVENANCE.version


def test_places_table_shape_and_types() -> None:
    df = gz.places()
    assert len(df) == 170_391
    assert list(df.columns) == [
        "geonameid",
        "name",
        "ascii_name",
        "lon",
        "lat",
        "cc",
        "admin1",
        "population",
        "timezone",
        "alt_names",
    ]
    assert str(df["geonameid"].dtype) == "int32"
    assert str(df["population"].dtype) == "int64"
    assert df["geonameid"].is_unique
    assert df["lon"].between(-180, 180).all() and df["lat"].between(-90, 90).all()
    assert (df["cc"].str.len() == 2).all()
    # The stored folded name follows the documented recipe (checked here with Python's own unicodedata).
    row = df[df["geonameid"] == 2692969].iloc[0]
    assert row["name"] == "Malmö" and row["ascii_name"] == "malmo"


# ---- forward lookup


@pytest.mark.parametrize("query", ["Akhtubinsk", "akhtubinsk", "AKHTUBINSK", "Ахтубинск", "ахтубинск", " Akhtubinsk "])
def test_akhtubinsk_in_any_case_and_script(query: str) -> None:
    p = gz.resolve(query)
    assert p.name == "Akhtubinsk" and p.cc == "RU"
    assert p.lon == pytest.approx(46.165, abs=0.01) and p.lat == pytest.approx(48.283, abs=0.01)
    assert p.distance_m is None


def test_accent_insensitive() -> None:
    assert gz.resolve("Malmo").name == "Malmö"
    assert gz.resolve("MALMÖ").name == "Malmö"
    sp = gz.resolve("Sao Paulo", country="BR")
    assert sp.name == "São Paulo" and sp.cc == "BR"
    assert gz.resolve("são paulo", country="BRA").geonameid == sp.geonameid


@pytest.mark.parametrize("query", ["Uralsk", "Oral", "Уральск", "Ural'sk", "Ural’sk"])
def test_uralsk_and_oral_are_the_kazakh_city(query: str) -> None:
    p = gz.resolve(query)
    assert p.cc == "KZ"
    assert p.lon == pytest.approx(51.37, abs=0.2) and p.lat == pytest.approx(51.23, abs=0.2)


def test_country_filter_changes_the_answer_and_accepts_iso2_iso3_any_case() -> None:
    with pytest.raises(InputError, match="names 11 places"):
        gz.resolve("Paris")  # never silently the largest Paris
    assert gz.resolve("Paris", country="FR").cc == "FR"
    for c in ("US", "us", "USA", "usa"):
        found = gz.lookup("Paris", country=c, limit=20)
        assert found and all(p.cc == "US" for p in found)
        assert found[0].name == "Paris"
    assert gz.resolve("Paris", country="RUS").cc == "RU"
    with pytest.raises(InputError, match="unknown country"):
        gz.lookup("Paris", country="XYZ")


def test_ranked_by_population_and_matches_independent_filter() -> None:
    found = gz.lookup("Paris", limit=10)
    pops = [p.population for p in found]
    assert pops == sorted(pops, reverse=True)
    df = gz.places()
    # Every place literally named "Paris" is an exact match; the biggest must come first.
    literal = df[df["name"].str.casefold() == "paris"].sort_values("population", ascending=False)
    assert found[0].geonameid == int(literal.iloc[0]["geonameid"])
    assert {int(g) for g in literal["geonameid"]} <= {p.geonameid for p in gz.lookup("Paris", limit=1000)}


def test_exact_match_beats_prefix_and_prefix_is_the_fallback() -> None:
    # "Oral" is an exact name: nothing that merely starts with "oral" may be listed.
    assert all("oral" in {gz.fold(p.name)} | _folded_alts(p.geonameid) for p in gz.lookup("Oral", limit=50))
    pre = gz.lookup("Akhtubin")
    assert pre and pre[0].name == "Akhtubinsk"
    assert all(
        gz.fold(p.name).startswith("akhtubin") or any(a.startswith("akhtubin") for a in _folded_alts(p.geonameid))
        for p in pre
    )


def _folded_alts(geonameid: int) -> set[str]:
    df = gz.places()
    alts = df.loc[df["geonameid"] == geonameid, "alt_names"].iloc[0]
    return {gz.fold(a) for a in alts.split("|") if a}


def test_limit_and_empty_queries() -> None:
    assert len(gz.lookup("San", limit=3)) == 3
    assert gz.lookup("Paris", limit=0) == []
    assert gz.lookup("") == [] and gz.lookup("   ") == [] and gz.lookup("--''") == []


def test_resolve_unknown_name_says_so_with_suggestions() -> None:
    with pytest.raises(InputError, match="no place named 'Akhtubinskk'") as exc:
        gz.resolve("Akhtubinskk")
    assert "Akhtubinsk (RU)" in str(exc.value)
    assert "\n" not in str(exc.value)
    with pytest.raises(InputError, match="no place named"):
        gz.resolve("Qqxqzzyzvv")


def _fold_reference(s: str) -> str:
    # The documented recipe with Python's unicodedata (independent of Arrow and of fold's fast path).
    s = "".join(c for c in unicodedata.normalize("NFKD", s) if unicodedata.category(c) != "Mn").lower()
    s = s.replace("'", "").replace("`", "")
    s = "".join(" " if unicodedata.category(c).startswith("P") else c for c in s)
    return " ".join(s.split())


@given(st.text(alphabet=string.printable[:95], max_size=30))
def test_fold_ascii_fast_path_matches_arrow_and_reference(s: str) -> None:
    arrow = gz.fold_array([s])[0].as_py()
    assert gz.fold(s) == arrow
    assert gz.fold(s) == _fold_reference(s)


def test_fold_examples() -> None:
    assert gz.fold("São Paulo") == "sao paulo"
    assert gz.fold("Straße") == "strasse"
    assert gz.fold("Ust’-Kamenogorsk") == gz.fold("Ust-Kamenogorsk") == "ust kamenogorsk"
    assert gz.fold("Ёлки") == gz.fold("елки")


@settings(max_examples=200, deadline=None)
@given(st.text(), st.one_of(st.none(), st.sampled_from(["RU", "kz", "USA"])))
def test_lookup_never_raises_on_arbitrary_text(text: str, country: str | None) -> None:
    out = gz.lookup(text, country=country, limit=5)
    assert isinstance(out, list) and len(out) <= 5
    assert all(isinstance(p, gz.Place) for p in out)


def test_lookup_lone_surrogate_and_controls() -> None:
    assert isinstance(gz.lookup("\ud800Paris"), list)
    assert isinstance(gz.lookup("\x00\x0b\u200b"), list)


# ---- reverse lookup


def _brute(lon: float, lat: float, df_lon: np.ndarray, df_lat: np.ndarray) -> np.ndarray:
    _, _, d = GEOD.inv(np.full(df_lon.size, lon), np.full(df_lon.size, lat), df_lon, df_lat)
    return np.asarray(d)


def test_nearest_to_akhtubinsk_distance_matches_geographiclib() -> None:
    lon, lat = 46.20, 48.30
    found = gz.nearest(lon, lat, k=3)
    assert found[0].name == "Akhtubinsk"
    for p in found:
        ref = WGS84.Inverse(lat, lon, p.lat, p.lon)["s12"]
        assert p.distance_m == pytest.approx(ref, abs=1e-3)
    d = [float(p.distance_m or 0.0) for p in found]
    assert d == sorted(d)


@pytest.mark.parametrize(
    "lon,lat",
    [(179.99, -16.5), (-179.99, 65.0), (0.0, 89.9), (12.0, -89.0), (-30.0, 0.0), (51.4, 51.2), (135.0, 62.0)],
)
def test_nearest_k_matches_brute_force(lon: float, lat: float) -> None:
    df = gz.places()
    d = _brute(lon, lat, df["lon"].to_numpy(), df["lat"].to_numpy())
    want = np.sort(d)[:5]
    got = gz.nearest(lon, lat, k=5)
    assert np.allclose([float(p.distance_m or -1.0) for p in got], want, atol=1e-3)
    assert int(df["geonameid"].iloc[int(np.argmin(d))]) in {p.geonameid for p in got[:2]}  # ties aside


def test_nearest_max_distance() -> None:
    all5 = gz.nearest(46.2, 48.3, k=5)
    cut = gz.nearest(46.2, 48.3, k=5, max_distance_m=30_000)
    assert [p.geonameid for p in cut] == [
        p.geonameid for p in all5 if p.distance_m is not None and p.distance_m <= 30_000
    ]
    assert gz.nearest(-140.0, -50.0, k=3, max_distance_m=1000.0) == []  # open South Pacific


def test_nearest_bad_input() -> None:
    with pytest.raises(InputError, match="latitude"):
        gz.nearest(0.0, 95.0)
    with pytest.raises(InputError, match="longitude"):
        gz.nearest(float("nan"), 0.0)
    with pytest.raises(InputError, match="latitude") as exc:
        gz.nearest_many([0.0, 1.0], [0.0, -91.0])
    assert exc.value.row == 1


def test_nearest_many_matches_brute_force_in_eurasia() -> None:
    rng = np.random.default_rng(20240621)
    lon = rng.uniform(20.0, 140.0, 200)
    lat = rng.uniform(35.0, 70.0, 200)
    idx, dist = gz.nearest_many(lon, lat)
    df = gz.places()
    # Brute force over a box 20 degrees wider on every side (>= 760 km at 70N); the assertion on the
    # distances below shows no place outside the box could have been nearer.
    box = df[df["lon"].between(0.0, 160.0) & df["lat"].between(15.0, 90.0)]
    blon, blat = box["lon"].to_numpy(), box["lat"].to_numpy()
    for i in range(lon.size):
        d = _brute(float(lon[i]), float(lat[i]), blon, blat)
        j = int(np.argmin(d))
        assert d[j] < 700_000
        assert dist[i] == pytest.approx(d[j], abs=1e-3)
        # Same place, or (a tie) another place at the same distance.
        assert idx[i] == box.index[j] or d[box.index.get_loc(idx[i])] == pytest.approx(d[j], abs=1e-3)
    assert idx.dtype == np.int64 and dist.shape == (200,)


def test_nearest_many_shape_and_agreement_with_nearest() -> None:
    lon = np.array([[46.2, 179.99], [-74.0, 2.35]])
    lat = np.array([[48.3, -16.5], [40.7, 48.85]])
    idx, dist = gz.nearest_many(lon, lat)
    assert idx.shape == dist.shape == (2, 2)
    gid = gz.places()["geonameid"].to_numpy()
    for i in np.ndindex(lon.shape):
        top = gz.nearest(float(lon[i]), float(lat[i]), k=1)[0]
        assert dist[i] == pytest.approx(top.distance_m, abs=1e-6)
        assert int(gid[idx[i]]) == top.geonameid


# ---- CLI


@pytest.fixture(scope="module")
def cli_app():  # type: ignore[no-untyped-def]
    from overflight.cli import gazetteer as cli_gz
    from overflight.cli import main

    # Until the lead lists "gazetteer" in _COMMAND_MODULES, register it here (once).
    if not any(getattr(g, "name", None) == "gazetteer" for g in main.app.registered_groups):
        cli_gz.register(main.app)
    return main


def test_cli_lookup_prints_akhtubinsk(cli_app) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    res = CliRunner().invoke(cli_app.app, ["gazetteer", "lookup", "Akhtubinsk"])
    assert res.exit_code == 0, res.output
    assert "Akhtubinsk" in res.output and "RU" in res.output and "46.16519" in res.output


def test_cli_lookup_json_and_nearest(cli_app) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    res = CliRunner().invoke(cli_app.app, ["gazetteer", "lookup", "Paris", "--country", "US", "--limit", "2", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert len(rows) == 2 and all(r["cc"] == "US" for r in rows)
    res = CliRunner().invoke(cli_app.app, ["gazetteer", "nearest", "46.2", "48.3", "-k", "2", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert rows[0]["name"] == "Akhtubinsk" and rows[0]["distance_m"] > 0
    res = CliRunner().invoke(cli_app.app, ["gazetteer", "nearest", "-74.0", "40.7", "--json"])
    assert res.exit_code == 0, res.output
    assert all(r["cc"] == "US" for r in json.loads(res.output))


def test_cli_unknown_name_exits_2_with_one_line(cli_app, capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exc:
        cli_app.main(["gazetteer", "lookup", "Qqxqzzyzvv"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "no place named 'Qqxqzzyzvv'" in err
    assert "Traceback" not in err


# ---- strict resolution (no prefix fallback, no silent pick among namesakes)


@pytest.mark.parametrize("query", ["X", "Akhtu", "Springf", "Shangha"])
def test_resolve_never_falls_back_to_a_prefix(query: str) -> None:
    assert gz.lookup(query, limit=1)  # lookup still offers prefix matches
    with pytest.raises(InputError, match="no place named"):
        gz.resolve(query)


@pytest.mark.parametrize(("query", "country", "n"), [("Springfield", None, 9), ("Springfield", "US", 9),
                                                    ("Moscow", None, 2), ("Sao Paulo", None, 3)])
def test_ambiguous_name_lists_candidates(query: str, country: str | None, n: int) -> None:
    with pytest.raises(InputError) as ei:
        gz.resolve(query, country=country)
    msg = str(ei.value)
    m = re.search(r"names (\d+) places", msg)
    assert m and int(m.group(1)) >= n
    assert "[lon, lat]" in msg
    expected = {p.cc for p in gz.lookup(query, country=country, limit=3)}
    assert all(f"({cc}," in msg for cc in expected)


def test_country_narrows_an_ambiguous_name_to_one() -> None:
    assert gz.resolve("Moscow", country="RU").cc == "RU"
    assert gz.resolve("Springfield", country="AU").cc == "AU"
