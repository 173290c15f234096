"""Start-up: `overflight --help` and `--version` import no command module, and the help table is true."""

from __future__ import annotations

import subprocess
import sys

import pytest

from overflight.cli.main import COMMANDS, load_command

HEAVY = ("numba", "pandas", "duckdb", "numpy", "pyarrow", "shapely", "pyproj", "overflight.index")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


@pytest.mark.parametrize("argv", [["--help"], ["--version"], []])
def test_top_level_help_and_version_import_nothing_heavy(argv: list[str]) -> None:
    code = f"from overflight.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
    loaded = _modules_after(code)
    assert not [m for m in HEAVY if m in loaded]
    if argv == ["--version"]:
        assert "typer" not in loaded  # answered before the command line framework is imported


def test_help_lists_every_command() -> None:
    out = subprocess.run([sys.executable, "-m", "overflight", "--help"], capture_output=True, text=True).stdout
    for name in COMMANDS:
        assert f" {name} " in out


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_table_matches_the_modules(name: str) -> None:
    """The one-line help kept in COMMANDS is what the command module itself says (first line)."""
    cmd = load_command(name)
    assert cmd.name == name
    first = " ".join((cmd.help or "").strip().split("\n\n")[0].split())
    assert COMMANDS[name][1] == first or first.startswith(COMMANDS[name][1].rstrip(".,"))


def test_a_command_imports_only_its_own_module() -> None:
    loaded = _modules_after("from overflight.cli import main\ntry:\n    main(['gazetteer', '--help'])\n"
                            "except SystemExit:\n    pass")
    assert "overflight.cli.gazetteer" in loaded
    assert "overflight.cli.transit" not in loaded and "overflight.cli.monitor" not in loaded
