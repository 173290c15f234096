"""The audit events and prism sightings readers: bad files are one clear InputError, never a traceback or loss."""

from __future__ import annotations

from pathlib import Path

import pytest

from overflight.analysis.audit import read_events
from overflight.errors import InputError
from overflight.evidence.sightings import read_sightings

BAD = {
    "empty": (b"", "empty file"),
    "blank": (b"\n\n", "empty file"),
    "not-utf8": (b"id,country,lon,lat\n1,RU,50,\xff40\n", "not UTF-8"),
    "stray-quote": (b'id,country,lon,lat\n1,"RU,50,40\n2,KZ,51,47\n3,KZ,52,48\n', None),
}


@pytest.mark.parametrize("reader", [read_events, read_sightings])
@pytest.mark.parametrize("kind", list(BAD))
def test_bad_files_are_input_errors(tmp_path: Path, reader: object, kind: str) -> None:
    data, words = BAD[kind]
    p = tmp_path / "events.csv"
    p.write_bytes(data)
    with pytest.raises(InputError) as exc:
        reader(p)  # type: ignore[operator]
    assert "events.csv" in str(exc.value)
    if words:
        assert words in str(exc.value)


def test_a_quoted_line_break_is_refused_not_swallowed(tmp_path: Path) -> None:
    p = tmp_path / "events.csv"
    p.write_text('id,country,lon,lat\n1,"R\nU",50,40\n2,KZ,51,47\n', encoding="utf-8")
    with pytest.raises(InputError, match="data row 1"):
        read_events(str(p))


def test_good_file_keeps_every_row_as_text(tmp_path: Path) -> None:
    p = tmp_path / "events.csv"
    p.write_text("id,country,lon,lat\n1,RU,50,40\n2,NA,,47\n", encoding="utf-8")
    df = read_events(str(p))
    assert len(df) == 2 and df.loc[1, "country"] == "NA" and df.loc[1, "lon"] == ""
