"""`overflight demo` and `overflight report`: the main job on the embedded data, and a case's report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from overflight.cli._common import check_output, console, esc


def demo(
    out: Annotated[Path, typer.Option("--out", help="Directory for the case file, report and exports.")] = Path(
        "overflight-demo"),
) -> None:
    """Build the demo case "Drones over western Kazakhstan? June 2025" and write its report and exports."""
    from overflight.demo import TITLE, build_demo

    t0 = time.perf_counter()
    console.print(f"[bold]{TITLE}[/] (tracks, sightings and wreckage are ILLUSTRATIVE)")
    with console.status("starting") as status:
        def step(msg: str) -> None:
            console.print(f"  [dim]{time.perf_counter() - t0:5.1f}s[/] {esc(msg)}", highlight=False)
            status.update(esc(msg))

        result = build_demo(out, progress=step)
    t = Table(title="verdicts (derived from the evidence; see the report for the reasoning)")
    t.add_column("claim")
    t.add_column("verdict")
    for cid, v in result.verdicts.items():
        t.add_row(esc(cid), esc(v))
    console.print(t)
    for name, path in result.files.items():
        console.print(f"  wrote {esc(path)}" + ("  <- open this in a browser" if name == "report.html" else ""),
                      highlight=False)
    console.print(f"  inputs in {esc(str(result.out_dir / 'inputs'))}: change the claims or zones there and run "
                  "`overflight demo` again with the same --out", highlight=False)
    console.print(f"done in {time.perf_counter() - t0:.1f}s; check it with: overflight case verify "
                  f"{esc(result.files['case.duckdb'])}", highlight=False)
    console.print(f"explore it in the browser: overflight serve {esc(result.files['case.duckdb'])}", highlight=False)


def report(
    case: Annotated[Path, typer.Argument(help="Case file (.duckdb).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="HTML file to write.")] = Path("report.html"),
    title: Annotated[str | None, typer.Option(help="Title of the report.")] = None,
) -> None:
    """Write a case's investigation report: one self-contained HTML file (no network, prints well)."""
    from overflight.report.build import write_report

    check_output(output, "--output")
    path = write_report(case, output, title=title)
    console.print(f"wrote {esc(path)}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
    app.command("report")(report)


__all__ = ["demo", "register", "report"]
