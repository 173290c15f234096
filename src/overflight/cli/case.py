"""`overflight case init|import|show|evaluate|attribute|export|verify|approve|push|pull`: cases from the command line.

A case is a ``.duckdb`` file or a team case on PostgreSQL, ``postgresql://HOST/DB?case=NAME``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from overflight.cli._common import (
    AltOpt,
    AltUnitOpt,
    IdOpt,
    LatOpt,
    LonOpt,
    SortOpt,
    TimeFmtOpt,
    TimeOpt,
    TzOpt,
    check_output,
    console,
    esc,
    read_options,
)
from overflight.errors import InputError

sub = typer.Typer(help="Case files: sources, claims, evidence, analyses, verdicts.", no_args_is_help=True)

CaseArg = Annotated[str, typer.Argument(help="The case: a .duckdb file or postgresql://HOST/DB?case=NAME.")]
_COLOURS = {"supported": "green", "partly supported": "cyan", "contradicted": "red", "disputed": "yellow",
            "unverified": "dim"}


@sub.command("init")
def init_cmd(case: CaseArg) -> None:
    """Create a new, empty case file."""
    from overflight.case import Case

    Case.create(case).close()
    console.print(f"created {esc(case)}", highlight=False)


@sub.command("import")
def import_cmd(
    case: CaseArg,
    files: Annotated[list[Path] | None, typer.Argument(help="YAML/JSON/CSV files of sources, claims, "
                                                       "observations and evidence.")] = None,
    zones: Annotated[list[str] | None, typer.Option("--zones", help="Boundary set, zone file or zone spec "
                                                    "file to store in the case (repeatable).")] = None,
    tracks: Annotated[list[Path] | None, typer.Option("--tracks", help="Track file (repeatable).")] = None,
    source: Annotated[str | None, typer.Option("--track-source", help="Source id of the tracks.")] = None,
    illustrative: Annotated[bool, typer.Option("--illustrative", help="Mark the tracks illustrative.")] = False,
    id_col: IdOpt = None,
    time_col: TimeOpt = None,
    lon_col: LonOpt = None,
    lat_col: LatOpt = None,
    alt_col: AltOpt = None,
    alt_unit: AltUnitOpt = "m",
    tz: TzOpt = None,
    time_format: TimeFmtOpt = None,
    sort: SortOpt = False,
) -> None:
    """Import records, zones and tracks; each file set is stored all-or-nothing."""
    from overflight.case import Case

    with Case.open(case) as c:
        # Zones first: claims are checked against the zones the case holds.
        for spec in zones or []:
            from overflight.zones import load_zones

            n = c.add_zones(load_zones(spec))
            console.print(f"zones from {esc(spec)}: {n['inserted']} new, {n['updated']} updated", highlight=False)
        if files:
            counts = c.import_files(files)
            for table, n in counts.items():
                if any(n.values()):
                    console.print(f"{esc(table)}: {n['inserted']} new, {n['updated']} updated, "
                                  f"{n['unchanged']} unchanged", highlight=False)
        read = read_options(id_col=id_col, time_col=time_col, lon_col=lon_col, lat_col=lat_col, alt_col=alt_col,
                            alt_unit=alt_unit, tz=tz, time_format=time_format)
        for path in tracks or []:
            from overflight.workflow import import_tracks

            name, rows, _report = import_tracks(c, path, source_id=source, illustrative=illustrative, sort=sort,
                                                **read)
            console.print(f"tracks from {esc(str(path))}: {rows} fixes (dataset {esc(name)})", highlight=False)


@sub.command("show")
def show_cmd(case: CaseArg) -> None:
    """Summarise a case: table sizes, claims with their verdicts, analysis runs."""
    from overflight.case import Case

    with Case.open(case, read_only=True) as c:
        meta = c.meta()
        console.print(f"[bold]{esc(case)}[/]  created {esc(meta.get('created', '?'))} by "
                      f"{esc(meta.get('created_by', '?'))}",
                      highlight=False)
        console.print(esc("  ".join(f"{t}: {n}" for t, n in c.counts().items() if t != "meta")), highlight=False)
        verdicts = c.verdicts()
        t = Table(title="claims")
        for col in ("claim", "claimant", "date", "stance", "what", "verdict"):
            t.add_column(col, no_wrap=col != "claimant")
        for cid, cl in c.claims().items():
            v = verdicts.get(cid)
            t.add_row(esc(cid), esc(cl.claimant), cl.date_made.date().isoformat() if cl.date_made else "-",
                      esc(cl.stance), esc(cl.what), v.label if v else "(not evaluated)")
        console.print(t)
        runs = c.runs()
        if runs:
            rt = Table(title="analysis runs")
            for col in ("run", "kind", "boundary set", "rows", "finished", "result sha256"):
                rt.add_column(col, no_wrap=col in ("run", "kind"))
            for r in runs:
                bset = f"{r.zoneset.get('name')} {r.zoneset.get('version')}" if r.zoneset else "-"
                rt.add_row(esc(r.id), esc(r.kind), esc(bset), str(r.n_rows), r.finished.strftime("%Y-%m-%d %H:%M"),
                           r.result_hash[:12])
            console.print(rt)


@sub.command("evaluate")
def evaluate_cmd(
    case: CaseArg,
    trail: Annotated[bool, typer.Option("--trail/--no-trail", help="Print the reasoning trail.")] = True,
    rule: Annotated[str | None, typer.Option("--rule", help="Verdict rule version: 1, 2 or latest (default: the "
                                             "rule the case's verdicts were derived under; latest for a new case).")
                    ] = None,
) -> None:
    """Derive every claim's verdict from the evidence, store it, and print the table with its reasoning."""
    from overflight.case import Case
    from overflight.evidence.rule2 import number_text

    with Case.open(case) as c:
        claims = c.claims()
        verdicts = c.evaluate(rule=rule)
    t = Table(title=f"verdicts (rule {next(iter(verdicts.values())).rule_version if verdicts else '-'})")
    t.add_column("claim", no_wrap=True)
    t.add_column("verdict", no_wrap=True)
    t.add_column("objects", justify="right")
    t.add_column("claimant")
    t.add_column("statement")
    for cid, v in verdicts.items():
        t.add_row(esc(cid), f"[{_COLOURS[v.verdict]}]{v.label}[/]", esc(number_text(v, claims[cid])),
                  esc(claims[cid].claimant), esc(claims[cid].statement))
    console.print(t)
    if any(v.illustrative for v in verdicts.values()):
        console.print("verdicts marked (illustrative) rest on invented data: a demonstration, not a finding",
                      highlight=False)
    if trail:
        for cid, v in verdicts.items():
            console.print(f"\n[bold]{esc(cid)}[/]: [{_COLOURS[v.verdict]}]{v.label}[/]", highlight=False)
            for line in v.reasoning:
                console.print(f"  {line}", highlight=False, markup=False)


def _reference(text: str) -> dict[str, object]:
    from overflight.analysis.attribution import parse_reference

    return parse_reference(text, field="--ref")


@sub.command("attribute", hidden=True, deprecated=True)
def attribute_cmd(
    case: CaseArg,
    target: Annotated[str | None, typer.Option("--target", help="Zone whose share is tested.")] = None,
    region: Annotated[str | None, typer.Option("--region", help="Only points inside this zone count.")] = None,
    kind: Annotated[list[str] | None, typer.Option("--kind", help="Observation kinds (default wreckage, "
                                                   "impact).")] = None,
    ref: Annotated[list[str] | None, typer.Option("--ref", help="Distance band NAME:LON,LAT:MIN-MAXkm.")] = None,
    claim: Annotated[str | None, typer.Option("--claim", help="Claim the share test is evidence for.")] = None,
    threshold: Annotated[float, typer.Option(help="Claimed share (0-1).")] = 0.9,
    direction: Annotated[str, typer.Option(help="'more' or 'less' than the threshold.")] = "more",
    eps_km: Annotated[float | None, typer.Option("--eps-km", help="DBSCAN radius (km) for clusters.")] = None,
) -> None:
    """Attribute the case's wreckage/impact points to its zones and record the run (and evidence).

    Kept for existing scripts: `overflight attribution --case CASE` is the form shared with transit and prism."""
    from overflight.analysis.attribution import run_attribution
    from overflight.case import Case

    if eps_km is not None and not (eps_km > 0 and eps_km < float("inf")):
        raise InputError(f"--eps-km must be a positive number of kilometres, not {eps_km:g}", field="--eps-km")
    if not 0 <= threshold <= 1:
        raise InputError(f"--threshold must be a share between 0 and 1, not {threshold:g}", field="--threshold")
    if direction not in ("more", "less"):
        raise InputError(f"--direction must be 'more' or 'less', not {direction!r}", field="--direction")
    with Case.open(case) as c:
        res = run_attribution(c, target=target, region=region, kinds=kind or ("wreckage", "impact"),
                              references=[_reference(r) for r in ref or []], claim=claim, threshold=threshold,
                              direction=direction, cluster_eps_m=eps_km * 1000 if eps_km else None)
    console.print(f"run {esc(res.run_id)}: {len(res.table)} points", highlight=False)
    if res.share:
        console.print(res.share.sentence(), highlight=False, markup=False)
    for e in res.evidence:
        console.print(f"evidence {e.id} {e.direction} {e.claim_id}", highlight=False, markup=False)


@sub.command("export")
def export_cmd(
    case: CaseArg,
    fmt: Annotated[str, typer.Option("--format", metavar="claimreview|geojson|kml", help="Output format.")],
    out: Annotated[Path, typer.Option("-o", "--output", metavar="FILE", help="Output file.")],
    all_zones: Annotated[bool, typer.Option("--all-zones", help="GeoJSON/KML: every zone of the case, not only "
                                            "those the claims and analyses use.")] = False,
    publisher: Annotated[str | None, typer.Option("--publisher", metavar="NAME", help="ClaimReview: the publishing "
                                                  "organisation (default: case config publisher.name).")] = None,
    publisher_url: Annotated[str | None, typer.Option("--publisher-url", metavar="URL",
                                                      help="ClaimReview: the publisher's address.")] = None,
    url: Annotated[str | None, typer.Option("--url", metavar="URL", help="ClaimReview: where the reviews are "
                                            "published (default: case config review.url).")] = None,
    include_illustrative: Annotated[bool, typer.Option(
        "--include-illustrative", help="ClaimReview: also write reviews whose verdict rests on illustrative "
        "data (marked so in name, rating and reviewBody); left out by default.")] = False,
) -> None:
    """Export claims and verdicts as ClaimReview JSON-LD, or the spatial data as GeoJSON or KML."""
    from overflight.case import Case
    from overflight.case.export import export

    check_output(out, "--output")
    with Case.open(case, read_only=True) as c:
        p = export(c, fmt, out, reviewer=publisher, reviewer_url=publisher_url, url=url, all_zones=all_zones,
                   include_illustrative=include_illustrative)
    console.print(f"wrote {esc(str(p))} ({p.stat().st_size:,} bytes)", highlight=False)


config_app = typer.Typer(help="A case's settings: publisher.name, publisher.url, review.url.", no_args_is_help=True)
sub.add_typer(config_app, name="config")


@config_app.command("set")
def config_set_cmd(
    case: CaseArg,
    key: Annotated[str, typer.Argument(metavar="KEY", help="publisher.name, publisher.url or review.url.")],
    value: Annotated[str, typer.Argument(metavar="VALUE", help="The value.")],
) -> None:
    """Set one setting of the case (recorded in the audit log)."""
    from overflight.case import Case

    with Case.open(case) as c:
        c.set_config(key, value)
    console.print(f"{esc(key)} = {esc(value)}", highlight=False)


@config_app.command("show")
def config_show_cmd(case: CaseArg) -> None:
    """Print the case's settings."""
    from overflight.case import Case

    with Case.open(case, read_only=True) as c:
        cfg = c.config()
    for k in Case.CONFIG_KEYS:
        console.print(f"{k} = {esc(cfg.get(k, '(not set)'))}", highlight=False)


@sub.command("verify")
def verify_cmd(
    case: CaseArg,
    expect: Annotated[str | None, typer.Option("--expect", help="A head hash printed by an earlier verify and "
                                               "kept outside the file (<seq>:<sha256> or <sha256>): fail unless "
                                               "the audit chain still passes through it.")] = None,
) -> None:
    """Re-run analyses, re-derive verdicts, check the audit chain and every table; exit 1 on any difference."""
    from overflight.case import Case

    with Case.open(case, read_only=True) as c:
        rep = c.verify(expect=expect)
    for line in rep.lines():  # the line holds user text (ids, values): escaped, only the status is markup
        console.print(("[red]FAIL[/]" if line.startswith("FAIL") else "[green]ok[/]  ") + esc(line[4:]),
                      highlight=False)
    console.print(f"{len(rep.checks) - len(rep.failures)} checks passed, {len(rep.failures)} failed",
                  highlight=False)
    if rep.head:
        console.print(f"audit head {esc(rep.head)}", highlight=False, soft_wrap=True)
        console.print("keep the head outside the case file: `case verify --expect HEAD` later shows that the log "
                      "up to it is unchanged", highlight=False)
    if not rep.ok:
        raise typer.Exit(1)


@sub.command("approve")
def approve_cmd(
    case: CaseArg,
    claims: Annotated[list[str], typer.Argument(help="Claim ids whose stored verdict is approved for publication.")],
) -> None:
    """Approve claims' verdicts for publication (on PostgreSQL only a reviewer may); records who and when."""
    from overflight.case import Case

    with Case.open(case) as c:
        for cid in claims:
            doc = c.approve(cid)
            console.print(f"approved {esc(cid)}: {esc(doc['verdict'])} by {esc(doc['approved_by'])} at "
                          f"{esc(doc['approved_at'])}", highlight=False)


@sub.command("push")
def push_cmd(
    local: Annotated[Path, typer.Argument(help="The local case file (.duckdb).")],
    url: Annotated[str, typer.Argument(help="The team case: postgresql://HOST/DB?case=NAME (created if new).")],
) -> None:
    """Copy a local case to the server; refuses, writing nothing, when the server changed since the last sync."""
    from overflight.case.sync import push

    console.print(esc(push(local, url).message()), highlight=False)


@sub.command("pull")
def pull_cmd(
    url: Annotated[str, typer.Argument(help="The team case: postgresql://HOST/DB?case=NAME.")],
    local: Annotated[Path, typer.Argument(help="The local case file (.duckdb; created if new).")],
) -> None:
    """Copy a server case into a local file; refuses, writing nothing, when the file changed since the last sync."""
    from overflight.case.sync import pull

    console.print(esc(pull(url, local).message()), highlight=False)


def register(app: typer.Typer) -> None:
    """Add the `case` sub-app to the main app."""
    app.add_typer(sub, name="case")


__all__ = [
    "CaseArg",
    "attribute_cmd",
    "config_app",
    "config_set_cmd",
    "config_show_cmd",
    "evaluate_cmd",
    "export_cmd",
    "import_cmd",
    "init_cmd",
    "register",
    "show_cmd",
    "sub",
    "verify_cmd",
]
