"""The DF17 frame builder and the Beast framing, checked with pyModeS (an independent decoder)."""

from __future__ import annotations

import pyModeS as pms
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pyModeS.position._cpr import airborne_position_pair, cprNL

from overflight.monitor import modes
from overflight.monitor.beast import BeastDecoder, BeastFramer


def test_published_example_frame() -> None:
    # The even frame of the pair in "The 1090 MHz Riddle" (Sun), also in DESIGN.md's dump1090 check.
    assert modes.airborne_position(0x40621D, 52.2572, 3.91937, 38000, odd=False) == "8D40621D58C382D690C8AC2863A7"


@settings(max_examples=300, deadline=None)
@given(lat=st.floats(-86.9, 86.9), lon=st.floats(-179.99, 179.99), alt=st.integers(-40, 2000).map(lambda k: k * 25),
       icao=st.integers(0, 0xFFFFFF))
def test_pymodes_decodes_what_we_encode(lat: float, lon: float, alt: int, icao: int) -> None:
    even = modes.airborne_position(icao, lat, lon, alt, odd=False)
    odd = modes.airborne_position(icao, lat, lon, alt, odd=True)
    de, do = pms.decode(even), pms.decode(odd)
    for d in (de, do):
        assert d["crc_valid"] and d["df"] == 17 and d["icao"] == f"{icao:06X}" and d["altitude"] == alt
    assert modes.nl(lat) == cprNL(lat) or abs(abs(lat) - round(abs(lat), 2)) < 1e-6
    pos = airborne_position_pair(de["cpr_lat"], de["cpr_lon"], do["cpr_lat"], do["cpr_lon"], even_is_newer=False)
    assume(pos is not None)  # a pair straddling an NL boundary does not resolve (DO-260B), for any encoder
    y, x = pos  # type: ignore[misc]
    x = (x + 180) % 360 - 180
    # 17-bit CPR: the odd zone is 360/59/2**17 deg of latitude (about 5.2 m)
    assert y == pytest.approx(lat, abs=360 / 59 / 2 ** 17)
    assert min(abs(x - lon), 360 - abs(x - lon)) <= 360 / max(cprNL(y) - 1, 1) / 2 ** 17 + 1e-9


def test_identification() -> None:
    d = pms.decode(modes.identification(0x3C6444, "DLH4AB"))
    assert d["crc_valid"] and d["callsign"] == "DLH4AB" and d["typecode"] == 4


def test_beast_escaping_mlat_and_resync() -> None:
    msg = modes.airborne_position(0x1A1A1A, 50.0, 10.0, 30000, odd=False)
    f = modes.beast_frame(msg, counter=0x1A1A1A1A1A1A, signal=0x1A)
    assert f.count(b"\x1a\x1a") >= 7  # every 0x1a in counter, signal and payload doubled
    mlat = modes.beast_frame(msg, mlat=True)
    fr = BeastFramer()
    stream = b"\x00\x1a\x1a junk" + f + mlat + b"\x1a3\x00\x01" + f  # a frame cut short, then a good one
    out = fr.feed(stream[:17]) + fr.feed(stream[17:])
    assert [(k, c, s, p.hex().upper()) for k, c, s, p in out] == [
        (0x33, 0x1A1A1A1A1A1A, 0x1A, msg), (0x33, modes.MLAT_COUNTER, 0x80, msg), (0x33, 0x1A1A1A1A1A1A, 0x1A, msg)]
    assert fr.counts.bad_frames >= 2 and fr.counts.frames == 3


def test_beast_decoder_tags_mlat_and_uses_the_wall_clock() -> None:
    dec = BeastDecoder()
    got = []
    for i in range(10):
        m = modes.airborne_position(0x4840D6, 52.0 + 0.001 * i, 4.0, 20000, odd=i % 2 == 1)
        p = dec.feed(modes.beast_frame(m, counter=123456789 * i, mlat=i >= 7), recv=1_800_000_000.0 + i)
        got += [(int(p.time_ns[k]), int(p.source[k])) for k in range(len(p))]
    assert got, "pyModeS resolved no position"
    assert all(t == int((1_800_000_000.0 + i) * 1e9) for (t, _), i in zip(got, range(10 - len(got), 10),
                                                                           strict=True))
    assert [s for _, s in got][-3:] == [1, 1, 1]  # SOURCES.index("mlat")
    dec.feed(b"\x1a3" + b"\x00" * 7 + bytes.fromhex("8D4840D6" + "00" * 10), recv=0.0)  # a DF17 failing its CRC
    assert dec.counts.undecoded >= 1
