"""SBS-1 / BaseStation logs (dump1090, readsb port 30003): ``MSG,<type>,...`` lines of 22 fields.

Positions come from MSG,3 (airborne) and MSG,2 (surface). The callsign (MSG,1) and squawk (MSG,6, or any
line that has one) are carried forward per aircraft (hex) onto later positions. The date and time fields are
the receiver's local time without a zone, so ``tz`` is required (pass ``tz="UTC"`` if the receiver clock
runs on UTC); the generated date/time (fields 7, 8) is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import tzinfo
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from overflight.errors import InputError
from overflight.tracks.read_csv import DEFAULT_CHUNK_ROWS, _Invalid, iter_csv_tables
from overflight.tracks.table import FEET, parse_times, to_float
from overflight.tracks.validate import Issue, Staged

SBS_FIELDS = (
    "message", "type", "session_id", "aircraft_id", "hex", "flight_id", "date_gen", "time_gen",
    "date_log", "time_log", "callsign", "altitude", "ground_speed", "track", "lat", "lon",
    "vertical_rate", "squawk", "alert", "emergency", "spi", "on_ground",
)
# Other BaseStation record types (fewer fields): not fixes, counted in the report notes.
_OTHER_RECORDS = ("SEL,", "ID,", "AIR,", "STA,", "CLK,")
_POSITION_TYPES = ("2", "3")


class _SbsInvalid(_Invalid):
    """Short/long lines: other record kinds are notes, anything else is malformed."""

    others: int = 0

    def __call__(self, row: object) -> str:
        text = str(getattr(row, "text", ""))
        if text.startswith(_OTHER_RECORDS):
            self.others += 1
            return "skip"
        return super().__call__(row)


def iter_sbs_staged(
    path: str | Path,
    *,
    tz: str | tzinfo | None,
    chunk_rows: int | None = None,
    max_examples: int = 5,
) -> Iterator[Staged]:
    """Stage an SBS-1 log chunk by chunk; each position line becomes one fix, track_id = hex (lower case)."""
    p = Path(path)
    if tz is None:
        raise InputError(
            "SBS-1 date/time fields are the receiver's local time with no zone: pass tz= (--tz), "
            "e.g. tz='UTC' if the receiver clock runs on UTC",
            file=p,
            field="time_gen",
        )
    invalid = _SbsInvalid(max_examples=max_examples)
    callsign: dict[str, str] = {}
    squawk: dict[str, str] = {}
    for df, lines, blank in iter_csv_tables(
        p, list(SBS_FIELDS), ",", chunk_rows or DEFAULT_CHUNK_ROWS, invalid, header=False, quoting=False
    ):
        notes: dict[str, int] = {}
        if blank:
            notes["blank lines"] = blank
        df = df.reset_index(drop=True)
        msg = df["message"].fillna("").str.strip()
        typ = df["type"].fillna("").str.strip()
        hex_arr = pa.array(df["hex"].fillna("").str.strip().to_numpy(dtype=object), type=pa.string())
        hex_ok = np.asarray(pc.match_substring_regex(hex_arr, r"^~?[0-9A-Fa-f]{6}$").to_numpy(zero_copy_only=False),
                            dtype=bool)
        good = (
            (msg == "MSG").to_numpy()
            & typ.isin([str(i) for i in range(1, 9)]).to_numpy()
            & hex_ok
        )
        bad_idx = np.flatnonzero(~good)
        malformed: list[Issue] = []
        for i in bad_idx[: max(max_examples - len(invalid.examples), 0)]:
            if (msg.iloc[i] == "MSG") and typ.iloc[i] in [str(t) for t in range(1, 9)]:
                malformed.append(Issue("malformed", int(lines[i]), "hex (5)", str(df["hex"].iloc[i])[:80],
                                       "hex id must be a 24-bit ICAO address: 6 hex digits"))
            else:
                malformed.append(Issue("malformed", int(lines[i]), "message",
                                       f"{msg.iloc[i]},{typ.iloc[i]}"[:80],
                                       "not an SBS MSG line with a type 1-8 and a hex id"))
        df, lines, typ = df.loc[good].reset_index(drop=True), lines[good], typ[good].reset_index(drop=True)
        hexes = df["hex"].fillna("").str.strip().str.lower()
        # Carry callsign and squawk forward per aircraft, across chunks too.
        cs = df["callsign"].str.strip()
        cs = cs.where(cs != "")
        sq = df["squawk"].str.strip()
        sq = sq.where(sq != "")
        carry = pd.DataFrame({"hex": hexes, "cs": cs, "sq": sq})
        filled = carry.groupby("hex", sort=False)[["cs", "sq"]].ffill()
        if callsign:
            filled["cs"] = filled["cs"].fillna(hexes.map(callsign))
        if squawk:
            filled["sq"] = filled["sq"].fillna(hexes.map(squawk))
        last = carry.assign(cs=cs, sq=sq).groupby("hex", sort=False)[["cs", "sq"]].last()
        callsign.update({str(k): str(v) for k, v in last["cs"].dropna().items()})
        squawk.update({str(k): str(v) for k, v in last["sq"].dropna().items()})

        pos = typ.isin(_POSITION_TYPES).to_numpy()
        notes["messages without position"] = int((~pos).sum()) + invalid.others
        invalid.others = 0
        d = df.loc[pos]
        traw = (d["date_gen"].fillna("").str.strip().str.replace("/", "-", regex=False) + " "
                + d["time_gen"].fillna("").str.strip()).reset_index(drop=True)
        times, codes = parse_times(traw, tz=tz)
        ground = d["on_ground"].fillna("").str.strip()
        frame = pd.DataFrame(
            {
                "track_id": hexes[pos].reset_index(drop=True).astype(str),
                "time": times,
                "lon": to_float(d["lon"]).reset_index(drop=True),
                "lat": to_float(d["lat"]).reset_index(drop=True),
                "alt_m": (to_float(d["altitude"]) * FEET).reset_index(drop=True),
                "callsign": filled["cs"][pos].reset_index(drop=True),
                "squawk": filled["sq"][pos].reset_index(drop=True),
                "on_ground": ground.map({"-1": True, "1": True, "0": False}).reset_index(drop=True),
                "msg_type": typ[pos].astype(int).reset_index(drop=True),
            }
        )
        new = len(invalid.lines) - invalid.reported
        issues = invalid.examples[invalid.examples_reported:] + malformed
        invalid.examples_reported = len(invalid.examples)
        invalid.examples.extend(malformed)
        invalid.examples_reported = len(invalid.examples)
        invalid.reported = len(invalid.lines)
        yield Staged(
            frame=frame,
            rows=lines[pos],
            time_code=codes,
            time_raw=traw,
            malformed=sorted(issues, key=lambda e: int(e.row)),
            n_malformed=new + len(bad_idx),
            notes=notes,
            fields={"lon": "lon (16)", "lat": "lat (15)", "time": "date/time (7, 8)"},
        )


__all__ = ["SBS_FIELDS", "iter_sbs_staged"]
