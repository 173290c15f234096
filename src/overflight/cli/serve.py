"""`overflight serve`: the case on a map and a timeline in the browser (local web app, no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from overflight.cli._common import console, esc


def _default_case() -> Path:
    from overflight.errors import InputError

    demo = Path("overflight-demo") / "case.duckdb"
    if demo.exists():
        return demo
    here = sorted(Path(".").glob("*.duckdb"))
    if len(here) == 1:
        return here[0]
    raise InputError("name a case file (or run `overflight demo` first, which writes overflight-demo/case.duckdb)",
                     field="CASE")


def serve(
    case: Annotated[Path | None, typer.Argument(help="Case file (.duckdb); created when missing. "
                                                "Default: overflight-demo/case.duckdb.")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on (anything but loopback needs the token).")] = (
        "127.0.0.1"),
    port: Annotated[int, typer.Option(help="Port.")] = 8700,
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", help="Largest upload accepted.")] = 200.0,
) -> None:
    """Serve a case as a web app: map, timeline, claims board, uploads and analyses, all offline."""
    import uvicorn

    from overflight.web.app import LOOPBACK, create_app, new_token

    path = case or _default_case()
    token = None if host in LOOPBACK else new_token()
    app = create_app(path, host=host, port=port, token=token, max_upload_mb=max_upload_mb, create=True)
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    if app.state.case.read_only_reason:
        console.print(f"[yellow]read-only:[/] {esc(app.state.case.read_only_reason)}", highlight=False)
    if token:
        console.print(f"listening on {host} (not loopback): every request needs the token.\n"
                      f"  open {url}?token={token}", highlight=False, markup=False)
    else:
        console.print(f"serving {path} at {url}  (loopback only; Ctrl-C stops)", highlight=False, markup=False)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


__all__ = ["register", "serve"]
