"""`overflight monitor --zones Z --feed URL ...` (the live monitor), `monitor status`, `monitor coverage`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from overflight.cli._common import ZoneIdsOpt, console
from overflight.errors import InputError
from overflight.units import parse_distance, parse_duration, parse_speed

sub = typer.Typer(help="Live monitor: geofence alerts on ADS-B feeds, with a record of when it was listening.")


@sub.callback(invoke_without_command=True)
def monitor_cmd(
    ctx: typer.Context,
    zones: Annotated[str | None, typer.Option("--zones", help="Boundary set, zone file or zone spec file "
                                              "(reloaded on SIGHUP).")] = None,
    zone: ZoneIdsOpt = None,
    feed: Annotated[list[str] | None, typer.Option("--feed", help="sbs://HOST:PORT[?tz=Europe/Berlin], "
                                                   "beast://HOST:PORT, aircraft-json:PATH_OR_URL, jsonl:- "
                                                   "(repeatable; options name=, grade=, tz=, interval=).")] = None,
    case: Annotated[Path | None, typer.Option("--case", help="Case file: alerts become observations, "
                                              "coverage records runs; a restart resumes from it.")] = None,
    webhook: Annotated[str | None, typer.Option("--webhook", help="POST each alert as JSON to this URL.")] = None,
    jsonl: Annotated[str | None, typer.Option("--jsonl", help="Write alerts as JSON lines to PATH or - .")] = None,
    status: Annotated[Path | None, typer.Option("--status", help="Status file rewritten every second.")] = None,
    stale: Annotated[str, typer.Option("--stale", help="Drop an aircraft not heard for this long.")] = "60s",
    hysteresis: Annotated[str, typer.Option("--hysteresis", help="Time outside before an exit counts.")] = "10s",
    max_speed: Annotated[str, typer.Option("--max-speed", help="Reject position jumps faster than this.")] = (
        "700mps"),
    step: Annotated[str, typer.Option("--step", help="Geodesic densification step (as transit).")] = "5km",
    altitude: Annotated[str, typer.Option("--altitude", help="Altitude for floors/ceilings: baro or geom.")] = (
        "baro"),
    gap: Annotated[str, typer.Option("--gap", help="Silence longer than this is a coverage gap.")] = "90s",
    bucket: Annotated[str, typer.Option("--bucket", help="Zone coverage bucket length.")] = "60s",
    cell: Annotated[float, typer.Option("--cell-deg", help="Coverage grid cell size in degrees.")] = 0.25,
    recent: Annotated[str, typer.Option("--recent", help="A cell counts as seen this long after a position.")] = (
        "10min"),
    coverage_every: Annotated[str, typer.Option("--coverage-every", help="Write coverage to the case this "
                                                "often.")] = "60s",
    duration: Annotated[str | None, typer.Option("--duration", help="Stop after this long.")] = None,
) -> None:
    """Watch live feeds; alert when an aircraft enters or leaves a zone; record when the monitor listened."""
    if ctx.invoked_subcommand is not None:
        return
    from overflight.monitor.runner import Monitor, MonitorConfig

    if not zones or not feed:
        raise InputError("overflight monitor needs --zones and at least one --feed", field="feed")
    cfg = MonitorConfig(
        zones=zones, feeds=feed, zone_ids=zone, case=case, webhook=webhook, jsonl=jsonl, status=status,
        stale_s=parse_duration(stale), hysteresis_s=parse_duration(hysteresis),
        max_speed_mps=parse_speed(max_speed, default_unit="mps"), step_m=parse_distance(step), altitude=altitude,
        gap_s=parse_duration(gap), bucket_s=parse_duration(bucket), cell_deg=cell, recent_s=parse_duration(recent),
        coverage_every_s=parse_duration(coverage_every))
    mon = Monitor(cfg)
    typer.echo(f"monitor {mon.session}: {len(mon.zones)} zones, feeds {', '.join(s.url for s in mon.specs)}",
               err=True)
    mon.run(duration_s=parse_duration(duration) if duration else None)
    st = mon.status(running=False)
    typer.echo(f"stopped: {st['lines']['lines_in'] + st['lines']['records_in']} messages in, "
               f"{st['alerts']} alerts", err=True)


@sub.command("status")
def status_cmd(
    path: Annotated[Path, typer.Argument(help="The monitor's --status file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw status JSON.")] = False,
) -> None:
    """Aircraft tracked, messages/s, alerts and feed gaps of a running monitor."""
    from overflight.monitor.runner import read_status

    st = read_status(path)
    if as_json:
        typer.echo(json.dumps(st, indent=1))
        return
    age = time.time() - float(st["now"])
    state = "running" if st["running"] and age < 10 else ("stopped" if not st["running"] else
                                                          f"not updated for {age:.0f} s")
    ln = st["lines"]
    console.print(f"monitor {st['session']} (pid {st['pid']}): {state}; {st['n_zones']} zones", highlight=False,
                  markup=False)
    console.print(f"aircraft {st['aircraft']}, {st['messages_per_s']} msg/s, alerts {st['alerts']}, "
                  f"open visits {st['open_visits']}", highlight=False, markup=False)
    console.print(f"lines in {ln['lines_in']} = parsed {ln['parsed']} + rejected {ln['rejected']}; "
                  f"records {ln['records_in']} ({ln['records_rejected']} rejected)", highlight=False, markup=False)
    g = st["geofence"]
    console.print(f"positions {g['positions']}: accepted {g['accepted']}, jumps {g['rejected_jump']}, "
                  f"out of order {g['rejected_out_of_order']}, flaps suppressed {g['flaps_suppressed']}",
                  highlight=False, markup=False)
    for f in st["feeds"]:
        console.print(f"feed {f['name']} ({f['url']}): {'connected' if f['connected'] else 'DISCONNECTED'}, "
                      f"{f['connects']} connects, last data {f['last_data_age_s']} s ago, {len(f['gaps'])} gaps",
                      highlight=False, markup=False)
        for gp in f["gaps"][-5:]:
            console.print(f"  gap {time.strftime('%H:%M:%S', time.gmtime(gp['start']))}Z - "
                          f"{time.strftime('%H:%M:%S', time.gmtime(gp['end']))}Z ({gp['why']})", highlight=False)


@sub.command("coverage")
def coverage_cmd(
    case: Annotated[Path, typer.Argument(help="The case file the monitor wrote to.")],
    min_cells: Annotated[int, typer.Option("--min-cells", help="Cells of a zone that must have been seen.")] = 1,
) -> None:
    """Judge every claim of absence against the monitor's coverage records and store the evidence."""
    from overflight.case import Case
    from overflight.monitor.coverage import check_coverage

    with Case.open(case) as c:
        run_id, rows = check_coverage(c, min_cells=min_cells)
    for r in rows.to_dict("records"):
        console.print(f"{r['claim_id']} {r['zone_id']}: {r['status']} (unlistened {r['unlistened_s']} s, "
                      f"zone unobserved {r['zone_unobserved_s']} s)", highlight=False, markup=False)
    console.print(f"{len(rows)} claim/zone rows -> run {run_id}; run `overflight case evaluate` for verdicts",
                  highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add ``overflight monitor``."""
    app.add_typer(sub, name="monitor")


__all__ = ["coverage_cmd", "monitor_cmd", "register", "status_cmd", "sub"]
