"""`overflight serve`: the case on a map and a timeline in the browser (local web app, no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from overflight.cli._common import console, esc


def serve(
    case: Annotated[Path | None, typer.Argument(help="Case file (.duckdb); created when missing. Without one the "
                                                "page opens the case picker.")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on (anything but loopback needs the token).")] = (
        "127.0.0.1"),
    port: Annotated[int, typer.Option(help="Port.")] = 8700,
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", help="Largest upload accepted.")] = 200.0,
    cases_dir: Annotated[list[Path] | None, typer.Option(
        "--cases-dir", help="Folder whose case files the picker lists (repeatable; the first receives new "
                            "cases). Default: the working directory.")] = None,
    monitor_feed: Annotated[list[str] | None, typer.Option(
        "--monitor-feed", help="Run the live monitor on this feed (as `overflight monitor --feed`, "
                               "repeatable) and show its alerts live.")] = None,
    monitor_zones: Annotated[str | None, typer.Option(
        "--monitor-zones", help="Zones the live monitor watches (boundary set, zone file or spec).")] = None,
    monitor_jsonl: Annotated[Path | None, typer.Option(
        "--monitor-jsonl", help="Show the alerts another monitor writes to this JSON-lines file "
                                "(`overflight monitor --jsonl`), followed as it grows.")] = None,
) -> None:
    """Serve a case as a web app: map, timeline, claims board, uploads and analyses, all offline."""
    import uvicorn

    from overflight.errors import InputError
    from overflight.web.app import LOOPBACK, create_app, new_token
    from overflight.web.cases import default_recent_file
    from overflight.web.live import JsonlLive, LiveFeed, MonitorLive

    live: LiveFeed | None = None
    for d in cases_dir or []:
        if not d.is_dir():
            raise InputError("no such folder (the picker lists the case files of existing folders)", file=d,
                             field="--cases-dir")
    if monitor_feed and monitor_jsonl:
        raise InputError("give --monitor-feed or --monitor-jsonl, not both", field="--monitor-jsonl")
    if monitor_feed:
        if not monitor_zones:
            raise InputError("--monitor-feed needs --monitor-zones (the zones to watch)", field="--monitor-zones")
        live = MonitorLive(monitor_feed, monitor_zones)
    elif monitor_jsonl:
        live = JsonlLive(monitor_jsonl)
    token = None if host in LOOPBACK else new_token()
    app = create_app(case, host=host, port=port, token=token, max_upload_mb=max_upload_mb, create=True,
                     cases_dirs=cases_dir or [Path.cwd()], recent_file=default_recent_file(), live=live)
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    state = app.state.workspace.state
    if state is not None and state.read_only_reason:
        console.print(f"[yellow]read-only:[/] {esc(state.read_only_reason)}", highlight=False)
    what = f"serving {case}" if case is not None else "case picker (no case named)"
    if token:
        console.print(f"{what}; listening on {host} (not loopback): every request needs the token.\n"
                      f"  open {url}?token={token}", highlight=False, markup=False)
    else:
        console.print(f"{what} at {url}  (loopback only; Ctrl-C stops)", highlight=False, markup=False)
    if live is not None:
        console.print(f"live layer: {live.describe}", highlight=False, markup=False)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=3)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


__all__ = ["register", "serve"]
