"""`overflight transit TRACKS --zones ne-admin0 -o crossings.csv`: every visit of every track to every zone."""

from __future__ import annotations

import ctypes
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from overflight.analysis.transit import TransitResult, parse_max_gap
from overflight.analysis.transit_stream import transit_chunks
from overflight.cli._common import (
    AltOpt,
    AltUnitOpt,
    CaseOpt,
    FormatOpt,
    IdFieldOpt,
    IdOpt,
    LatOpt,
    LonOpt,
    SortOpt,
    SourceOpt,
    TimeFmtOpt,
    TimeOpt,
    TzOpt,
    ZoneIdsOpt,
    ZonesOpt,
    check_output,
    console,
    err_console,
    esc,
    read_options,
)
from overflight.cli._engine import EngineOpt, SchedulerOpt, WorkersOpt, check_engine
from overflight.errors import InputError
from overflight.tracks.writers import write_summary, write_visits
from overflight.units import parse_distance, parse_speed
from overflight.zones import load_zones

DEFAULT_CHUNK_ROWS = 250_000  # peak RSS of the kernel grows with the chunk: ~0.35 GB per 250k fixes


def _count_lines(path: Path) -> int | None:
    """Data rows of a text file for the progress bar (newlines minus the header); None if not a plain file.

    A file of up to 64 MB is counted; a bigger one is estimated from the lines of its first 4 MB (counting
    every line of a 700 MB file cost about a second of CPU, for a bar; the bar's end is then approximate).
    """
    if not path.is_file():
        return None
    size = path.stat().st_size
    with open(path, "rb") as fh:
        if size <= 64 << 20:
            n = 0
            while block := fh.read(8 << 20):
                n += block.count(b"\n")
            return max(n - 1, 0)
        head = fh.read(4 << 20)
    lines = head.count(b"\n")
    return max(round(size * lines / max(len(head), 1)) - 1, 0) if lines else None


def _keep_freed_memory(*, arrow_too: bool = False) -> None:
    """glibc: serve arrays of up to 256 MB from the heap and keep freed memory for the next chunk.

    A stream allocates and frees the same few hundred MB of arrays chunk after chunk; by default glibc maps
    big arrays afresh each time and hands freed memory back to the system, so every chunk pays page faults
    again (a third of the system time of `overflight transit` on 10 M fixes). The peak RSS is unchanged.

    ``arrow_too`` (a Parquet input): Arrow's buffers, the decoded batches, then come from the same heap: Arrow's
    own pool (mimalloc) hands its freed pages back as well, and each chunk's decoding faulted them in again
    (0.1–0.4 s of system time on 10 M fixes from GeoParquet; the peak RSS grows by about 60 MB, the heap kept).
    Not for CSV: its reader decodes on a thread of its own, whose glibc arena then holds what the main thread
    freed (+300 MB peak RSS and +0.5 s CPU on 10 M fixes).
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD
        libc.mallopt(-3, 256 << 20)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):  # another C library: its defaults
        return
    if arrow_too and not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):  # (a pool the user chose stays)
        import pyarrow as pa

        pa.set_memory_pool(pa.system_memory_pool())


def _is_parquet(tracks: Path, fmt: str | None) -> bool:
    """Whether the track file is read as Parquet (False when that cannot be told: the reader then says why)."""
    if fmt is not None:
        return fmt == "parquet"
    from overflight.tracks.reader import detect_format

    try:
        return detect_format(tracks) == "parquet"
    except InputError:
        return False


def _check_tz(value: str, option: str) -> None:
    from overflight.tracks.table import parse_tz

    try:
        parse_tz(value)
    except InputError as exc:
        raise InputError(exc.reason, field=option) from None


def transit_cmd(
    tracks: Annotated[Path | None, typer.Argument(help="Track file (CSV, GeoJSON, GPX, KML, Parquet, SBS, ...); "
                                                  "with --case it may be left out to use the case's tracks.")] = None,
    zones: ZonesOpt = "ne-admin0",
    zone: ZoneIdsOpt = None,
    id_field: IdFieldOpt = None,
    output: Annotated[Path, typer.Option("-o", "--output", metavar="FILE",
                                         help="Visits CSV (one row per visit); with --engine dask a new directory "
                                              "of GeoParquet parts.")] = Path("crossings.csv"),
    max_gap: Annotated[str, typer.Option("--max-gap", metavar="DURATION",
                                         help="Longest gap between fixes taken as observed path.")] = "10min",
    step: Annotated[str, typer.Option("--step", metavar="DISTANCE",
                                      help="Geodesic densification step between fixes.")] = "5km",
    summary: Annotated[Path | None, typer.Option("--summary", metavar="FILE", help="Per-track summary CSV.")] = None,
    summary_tz: Annotated[str, typer.Option("--summary-tz", metavar="ZONE",
                                            help="Time zone of the summary's clock times.")] = "UTC",
    fmt: FormatOpt = None,
    lon_col: LonOpt = None,
    lat_col: LatOpt = None,
    time_col: TimeOpt = None,
    id_col: IdOpt = None,
    alt_col: AltOpt = None,
    alt_unit: AltUnitOpt = "m",
    tz: TzOpt = None,
    time_format: TimeFmtOpt = None,
    sort: SortOpt = False,
    drop: Annotated[bool, typer.Option("--drop", help="Drop invalid rows (counted) instead of failing.")] = False,
    max_speed: Annotated[str | None, typer.Option("--max-speed", metavar="SPEED",
                                                  help="Flag implied speeds above this.")] = None,
    chunk_rows: Annotated[int, typer.Option("--chunk-rows", metavar="N", help="Fixes per chunk (bounded memory).")] = (
        DEFAULT_CHUNK_ROWS),
    brackets: Annotated[bool, typer.Option("--brackets/--no-brackets", help="Give each crossing its bracketing "
                                           "fixes and time range.")] = True,
    case: CaseOpt = None,
    source: SourceOpt = None,
    dataset: Annotated[str | None, typer.Option("--dataset", metavar="NAME",
                                                help="With --case: dataset name of the tracks (default: file name).")
                       ] = None,
    engine: EngineOpt = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Every visit of every track to every zone: entry and exit on the border, with the bracketing fixes.

    Each visit gives entry and exit time and place, the fixes that bracket each crossing and its possible
    time range, path length, whether the crossing was observed; big files stream in chunks. With --case the
    tracks and zones are stored in the case, the run is recorded and observed visits become evidence for the
    claims whose zones and window they match."""
    from overflight.tracks import iter_tracks

    on_dask = check_engine(engine, scheduler, workers) == "dask"
    if chunk_rows < 1:
        raise InputError(f"--chunk-rows must be at least 1, not {chunk_rows}", field="--chunk-rows")
    step_m = parse_distance(step)
    gap_s = parse_max_gap(max_gap)
    if not on_dask:
        check_output(output, "--output")
    check_output(summary, "--summary")
    _check_tz(summary_tz, "--summary-tz")
    if tz is not None:
        _check_tz(tz, "--tz")
    opts: dict[str, Any] = dict(
        format=fmt, lon_col=lon_col, lat_col=lat_col, time_col=time_col, id_col=id_col, alt_col=alt_col,
        alt_unit=alt_unit, tz=tz, time_format=time_format, on_invalid="drop" if drop else "fail",
        max_speed_mps=parse_speed(max_speed, default_unit="mps") if max_speed is not None else None,
        chunk_rows=chunk_rows,
    )
    opts = read_options(**opts)
    if on_dask:
        # Every other option has the one-machine meaning on Dask too; these three record into a case store
        # (one process writes it), and the Dask engine reads (Geo)Parquet only.
        for name, given in (("--case", case is not None), ("--source", source is not None),
                            ("--dataset", dataset is not None)):
            if given:
                raise InputError(f"{name} records the run in a case, which --engine dask does not do: run it on "
                                 "one machine (--engine local)", field=name)
        if fmt is not None and fmt != "parquet":
            raise InputError(f"--engine dask reads (Geo)Parquet archives, not --format {fmt}", field="--format")
        if tracks is None:
            raise InputError("give TRACKS: (Geo)Parquet files, a directory or a quoted glob", field="TRACKS")
        _transit_on_dask(str(tracks), zones, zone, id_field, output, gap_s, step_m, scheduler, workers,
                         opts, sort=sort, brackets=brackets, summary=summary, summary_tz=summary_tz)
        return
    if case is not None:
        _into_case(case, tracks, zones, zone, id_field, dataset, source, gap_s, step_m, sort, opts, output)
        return
    if tracks is None:
        raise InputError("give a track file (or --case CASE to use the case's tracks)", field="TRACKS")
    zs = load_zones(zones, ids=zone or None, id_field=id_field)
    p = zs.provenance
    console.print(f"boundary set: [bold]{esc(p.name)}[/] {esc(p.version)} ({p.kind}), sha256 "
                  f"{p.sha256[:12]}…, {len(zs)} zones", highlight=False)
    if p.kind == "land":
        console.print("  land only: crossings over the territorial sea are not seen", highlight=False)
    _keep_freed_memory(arrow_too=_is_parquet(tracks, fmt))
    # The kernel orders each chunk's fixes itself: the validator need not sort them first.
    # (the ids as codes where the file has them so: the kernel factorizes them, it never needs a string per fix)
    chunks = iter_tracks(tracks, sort=sort, core_only=True, sort_chunks=False, categorical_ids=True, **opts)
    total = _count_lines(tracks) if tracks.suffix.lower() in (".csv", ".txt", ".tsv", ".sbs") else None
    with Progress(TextColumn("[bold]transit[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("fixes"),
                  TextColumn("{task.fields[visits]} visits"), TimeElapsedColumn(), console=err_console,
                  transient=not err_console.is_terminal) as bar:
        task = bar.add_task("transit", total=total, visits=0)

        def advance(rows: int, visits: int) -> None:
            bar.update(task, advance=rows, visits=visits)

        # The crossings' bracketing fixes are found by the kernel in this one pass (no second read of the file).
        result: TransitResult = transit_chunks(iter(chunks), zs, max_gap=gap_s, step_m=step_m, tz=summary_tz,
                                               on_chunk=advance, with_summary=summary is not None,
                                               brackets=brackets)
    report = chunks.report
    if report.invalid_rows:
        console.print(f"invalid rows dropped: {report.invalid_rows} ({esc(report.summary())})", highlight=False)
    write_visits(result.visits, output)
    v = result.visits
    n_unobs = int((~v["observed"]).sum()) if len(v) else 0
    n_disp = int(v["disputed"].sum()) if len(v) else 0
    console.print(f"{len(v)} visits by {v['track_id'].nunique() if len(v) else 0} tracks "
                  f"({n_unobs} not observed, {n_disp} disputed) -> {esc(str(output))}", highlight=False)
    if summary is not None:
        write_summary(result.summary, summary)
        console.print(f"summary of {len(result.summary)} tracks -> {esc(str(summary))}", highlight=False)
    prov_path = Path(os.fspath(output) + ".provenance.json")
    prov_path.write_text(json.dumps(result.provenance, indent=2, default=str), encoding="utf-8")


def _transit_on_dask(tracks: str, zones: str, zone: list[str] | None, id_field: str | None, output: Path,
                     gap_s: float, step_m: float, scheduler: str | None, workers: int | None, opts: dict[str, Any],
                     *, sort: bool, brackets: bool, summary: Path | None, summary_tz: str) -> None:
    from overflight.distributed import check_inputs, dask_client, transit_dask

    check_inputs(tracks, output)
    read = {k: v for k, v in opts.items() if k != "format"}
    zs = load_zones(zones, ids=zone or None, id_field=id_field)
    with dask_client(scheduler, workers) as client:
        run = transit_dask(tracks, zs, max_gap=gap_s, step_m=step_m, client=client, output=output, sort=sort,
                           brackets=brackets, summary_tz=summary_tz if summary is not None else None, **read)
    p, part = run.provenance, run.provenance["partitioning"]
    if run.report is not None and run.report.invalid_rows:
        console.print(f"invalid rows dropped: {run.report.invalid_rows} ({esc(run.report.summary())})",
                      highlight=False)
    console.print(f"{p['n_visits']} visits of {p['parameters']['n_tracks']} tracks ({p['parameters']['n_fixes']} "
                  f"fixes) on {p['engine']['workers']} Dask workers, {part['input_partitions']} row groups -> "
                  f"{part['partitions']} partitions by track -> {esc(str(output))}/part-*.parquet", highlight=False)
    if summary is not None and run.summary is not None:
        write_summary(run.summary, summary)
        console.print(f"summary of {len(run.summary)} tracks -> {esc(str(summary))}", highlight=False)


def _into_case(case: Path, tracks: Path | None, zones: str, zone: list[str] | None, id_field: str | None,
               dataset: str | None, source: str | None, gap_s: float, step_m: float, sort: bool,
               opts: dict[str, Any], output: Path) -> None:
    from overflight.case import Case
    from overflight.workflow import transit_into_case

    opts = {k: v for k, v in opts.items() if k != "chunk_rows"}
    with Case.open(case) as c:
        res = transit_into_case(c, tracks, zones=zones, zone_ids=zone, id_field=id_field, dataset=dataset,
                                source_id=source, max_gap_s=gap_s, step_m=step_m, sort=sort, **opts)
    print_case_run(res, case)
    write_visits(res.table, output)
    console.print(f"visits -> {esc(str(output))}", highlight=False)


def print_case_run(res: Any, case: Path) -> None:
    """What a recorded run added to the case (shared by transit, prism and attribution)."""
    for what, n in res.imported.items():
        console.print(f"imported {n} {esc(what)}", highlight=False)
    if res.report is not None and res.report.invalid_rows:
        console.print(f"invalid rows dropped: {res.report.invalid_rows}", highlight=False)
    console.print(f"recorded run {esc(res.run_id)} in {esc(str(case))}: {esc(res.sentence)}",
                  highlight=False)
    for e in res.evidence:
        console.print(f"  evidence {esc(e.id)}: {e.direction} {esc(e.claim_id)}", highlight=False)
    if not res.evidence:
        console.print("  no evidence for any claim of the case (see `overflight case evaluate`)", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``overflight transit``."""
    app.command("transit")(transit_cmd)


__all__ = ["DEFAULT_CHUNK_ROWS", "print_case_run", "register", "transit_cmd"]
