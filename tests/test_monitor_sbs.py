"""The compiled SBS-1 batch parser: every line counted once, numbers equal to float(), times as the file reader's."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from overflight.monitor.sbs import GARBAGE, HEARTBEAT, MESSAGE, OTHER, POSITION, SbsParser, hex_key, key_hex
from overflight.tracks import read_tracks

LINE = ("MSG,3,1,1,{hex},1,{d},{t},{d},{t},{cs},{alt},{gs},{trk},{lat},{lon},,,0,0,0,{gnd}\r\n")


def _line(hexid: str = "40621D", d: str = "2026/12/01", t: str = "21:10:03.123", lat: str = "52.26578",
          lon: str = "3.93891", alt: str = "38000", mtype: int = 3, cs: str = "", gnd: str = "0") -> bytes:
    return LINE.format(hex=hexid, d=d, t=t, lat=lat, lon=lon, alt=alt, gs="", trk="", cs=cs, gnd=gnd) \
        .replace("MSG,3", f"MSG,{mtype}", 1).encode()


def test_each_kind_of_line_is_counted_once() -> None:
    p = SbsParser()
    block = (_line() + _line(mtype=1, cs="KLM123  ", lat="", lon="", alt="") + b"\r\n" + b"STA,1,2,3\n"
             + b"CLK,,\n" + b"garbage\n" + _line(lat="52.2x") + _line(hexid="40621G") + _line(t="25:00:00.000")
             + _line(mtype=9) + b"MSG,3,1,1\n" + _line(hexid="~abc123") + b"MSG,3,tail")
    b = p.feed(block)
    assert list(b.status) == [POSITION, MESSAGE, HEARTBEAT, OTHER, OTHER, GARBAGE, GARBAGE, GARBAGE, GARBAGE,
                              GARBAGE, GARBAGE, POSITION]
    assert b.counts() == {"position": 2, "message": 1, "heartbeat": 1, "other": 2, "garbage": 6}
    assert len(b) == block.count(b"\n")  # lines in = parsed + rejected
    assert p.pending == len(b"MSG,3,tail")
    assert b.callsigns == {0x40621D: "KLM123"}
    assert key_hex(int(b.key[11])) == "~abc123" and hex_key("~ABC123") == int(b.key[11])
    assert b.lat[0] == 52.26578 and b.lon[0] == 3.93891 and b.alt_m[0] == 38000 * 0.3048
    assert b.time_ns[0] == pd.Timestamp("2026-12-01T21:10:03.123Z").value
    # the tail becomes a line when the rest arrives
    b2 = p.feed(b",1,1,40621D\n")
    assert list(b2.status) == [GARBAGE] and p.pending == 0


@settings(max_examples=200, deadline=None)
@given(lat=st.floats(-90, 90, allow_nan=False), lon=st.floats(-180, 180, allow_nan=False),
       digits=st.integers(0, 9), alt=st.integers(-1000, 60000))
def test_numbers_equal_python_float(lat: float, lon: float, digits: int, alt: int) -> None:
    ys, xs = f"{lat:.{digits}f}", f"{lon:.{digits}f}"
    b = SbsParser().feed(_line(lat=ys, lon=xs, alt=str(alt)))
    assert b.status[0] == POSITION
    assert b.lat[0] == float(ys) and b.lon[0] == float(xs) and b.alt_m[0] == alt * 0.3048


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_never_raises_and_is_counted(data: bytes) -> None:
    p = SbsParser()
    b = p.feed(data + b"\n")
    assert len(b) == (data + b"\n").count(b"\n")
    assert set(b.status.tolist()) <= {POSITION, MESSAGE, HEARTBEAT, OTHER, GARBAGE}


def test_local_time_zone_of_the_feed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lines = _line(t="12:00:00.500") + _line(t="12:00:01.000", lat="52.3")
    b = SbsParser(tz="Europe/Berlin").feed(lines)
    assert b.time_ns[0] == pd.Timestamp("2026-12-01T11:00:00.500Z").value  # CET = UTC+1 in December
    # the project's file reader, given the same zone, reads the same instants
    f = tmp_path / "x.sbs"
    f.write_bytes(lines)
    tracks, _ = read_tracks(f, format="sbs", tz="Europe/Berlin")
    assert list(tracks["time"].astype("int64")) == list(b.time_ns)
    assert list(tracks["lat"]) == list(b.lat) and list(tracks["lon"]) == list(b.lon)


def test_nonexistent_local_time_is_rejected_not_guessed() -> None:
    # 2026-03-29 02:30 does not exist in Berlin (clocks jump from 02:00 to 03:00)
    b = SbsParser(tz="Europe/Berlin").feed(_line(d="2026/03/29", t="02:30:00.000"))
    assert list(b.status) == [GARBAGE]
