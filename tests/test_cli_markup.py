"""User text printed by the CLI is data, never Rich markup: no MarkupError, nothing vanishes, no hyperlinks."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from overflight.cli._common import esc
from overflight.cli.main import main

NASTY = ["[/b]", "[red]", "[link=https://evil.example]click[/link]", "[bold red]x[/]", "\\[/b]"]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = 0
    try:
        main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out + out.err


def _flat(text: str) -> str:
    return "".join(text.split())  # Rich wraps long lines; compare without the whitespace it adds


@pytest.mark.parametrize("text", NASTY)
def test_csv_time_value_in_validation_report(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    p = tmp_path / "t.csv"
    p.write_text(f"track_id,time,lon,lat\na,2025-06-20T00:00:00Z,1,2\na,{text},1,2\n")
    code, out = _run(["tracks", "validate", str(p)], capsys)
    assert code == 1
    assert "Traceback" not in out and "MarkupError" not in out
    assert _flat(repr(text)) in _flat(out)
    assert "\x1b]8;" not in out  # no OSC 8 terminal hyperlink


@pytest.mark.parametrize("text", NASTY)
def test_file_name_in_error_message(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    name = text.replace("/", "_") + ".csv"
    p = tmp_path / name
    p.write_text("no,header,that,fits\n1,2,3,4\n")
    code, out = _run(["tracks", "validate", str(p)], capsys)
    assert code == 2
    assert _flat(name) in _flat(out)


@pytest.mark.parametrize("text", NASTY)
def test_gazetteer_query_in_error_message(capsys: pytest.CaptureFixture[str], text: str) -> None:
    code, out = _run(["gazetteer", "lookup", f"Qqzx{text}"], capsys)
    assert code == 2
    assert _flat(repr(f"Qqzx{text}")) in _flat(out)


def test_claim_statement_in_case_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stmt = "Drones [red]crossed[/red] [link=https://evil.example]click[/link] the [/b] border"
    claims = tmp_path / "claims.yaml"
    claims.write_text(
        "sources: [{id: s1, name: '[bold]TASS[/]', kind: media, reliability: C}]\n"
        f"claims: [{{id: 'c[/b]1', claimant: '[red]MoD', source: s1, date: 2025-06-21, statement: '{stmt}',"
        " stance: asserts, what: transit, where: {zones: [KAZ]}}]\n")
    case = tmp_path / "c.duckdb"
    assert _run(["case", "init", str(case)], capsys)[0] == 0
    code, out = _run(["case", "import", str(case), str(claims)], capsys)
    assert code == 0, out
    for cmd in (["case", "evaluate", str(case)], ["case", "show", str(case)]):
        code, out = _run(cmd, capsys)
        assert code == 0, out
        assert "\x1b]8;" not in out
        assert "[red]MoD" in _flat(out) or "[red]M" in out
        assert "c[/b]1" in _flat(out)
    code, out = _run(["case", "evaluate", str(case)], capsys)
    assert _flat("[link=https://evil.example]click[/link]") in _flat(out)


@settings(max_examples=500)
@given(st.text(alphabet="ab\\[]/=#@ :", max_size=30))
def test_esc_round_trips_through_rich(s: str) -> None:
    console = Console(file=io.StringIO(), width=1000, color_system=None, highlight=False, emoji=False)
    console.print(esc(s), end="")
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert out == s
