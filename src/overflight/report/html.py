"""The investigation report: one self-contained HTML file (inline styles and SVG, no network), printable.

Every user string is HTML-escaped; ClaimReview JSON-LD embedded in the head (on request) goes through
`overflight.evidence.claimreview.jsonld_script` (no ``</script>`` or ``<!--`` can survive in it). The page has
no links made from user URLs.

`render_report` takes a `ReportContext` — plain tables and SVG strings — so the page layout knows nothing of
how the case was analysed; `overflight.report.build` fills the context from a case file.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from overflight.evidence.claimreview import jsonld_script

VERDICT_COLOURS = {
    "supported": "#1a7f37", "partly supported": "#0e7490", "contradicted": "#b42318", "disputed": "#b54708",
    "unverified": "#667085",
}

CSS = """
body { font-family: -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif; margin: 0 auto;
       max-width: 1000px; padding: 16px 24px; color: #1d2939; line-height: 1.45; }
h1 { font-size: 1.7em; margin: 0.2em 0; } h2 { border-bottom: 2px solid #d0d5dd; padding-bottom: 4px;
margin-top: 1.6em; } h3 { margin-bottom: 0.3em; }
.subtitle { color: #475467; margin-top: 0; }
.banner { background: #fff4e5; border: 1px solid #f79009; padding: 8px 12px; border-radius: 6px; margin: 12px 0; }
.illustrative { background: #fff4e5; color: #93370d; border: 1px solid #f79009; border-radius: 4px;
                padding: 0 4px; font-size: 0.8em; font-weight: 600; text-transform: uppercase; }
table { border-collapse: collapse; width: 100%; font-size: 0.8em; margin: 8px 0 14px; }
.tablewrap { overflow-x: auto; }
th, td { border: 1px solid #d0d5dd; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f2f4f7; }
tr:nth-child(even) td { background: #fcfcfd; }
.verdict { font-weight: 700; color: white; padding: 1px 6px; border-radius: 4px; white-space: nowrap; }
.reasoning { font-size: 0.85em; color: #344054; margin: 2px 0 0 0; padding-left: 18px; }
.map { width: 100%; height: auto; border: 1px solid #d0d5dd; }
.maplabel { font-size: 11px; fill: #101828; paint-order: stroke; stroke: white; stroke-width: 3px; }
.legendtext { font-size: 11px; fill: #101828; }
.grat { stroke: #c5d3dd; stroke-width: 0.5; } .gratlabel { font-size: 9px; fill: #667085; }
.tl-label { font-size: 10px; fill: #101828; } .tl-axis { stroke: #667085; } .tl-tick { font-size: 9px; fill: #475467; }
.small { font-size: 0.85em; color: #475467; }
footer { margin-top: 2em; font-size: 0.8em; color: #667085; }
@media print { body { max-width: none; padding: 0; }
               .tablewrap { overflow: visible; }
               table { table-layout: fixed; font-size: 7pt; } th, td { overflow-wrap: anywhere; }
               h2, h3 { break-after: avoid; } svg, tr { break-inside: avoid; }
               .banner { border-width: 2px; } }
"""


@dataclass
class TableSection:
    """A table behind a verdict or an analysis, with a title and a short explanation."""

    title: str
    description: str
    table: pd.DataFrame
    illustrative: bool = False


@dataclass
class ReportContext:
    """Everything the report shows, already computed."""

    title: str
    subtitle: str
    generated_at: datetime
    overflight_version: str
    claims: pd.DataFrame  # id, claimant, date_made, statement, stance, what, source, reliability, credibility, verdict
    reasoning: dict[str, list[str]]  # claim id -> lines of the reasoning trail
    map_svg: str = ""
    timeline_svg: str = ""
    sections: list[TableSection] = field(default_factory=list)
    provenance: list[dict[str, Any]] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    illustrative_note: str | None = None
    #: schema.org JSON-LD (ClaimReview objects) embedded in the page's head for search engines and fact-check tools
    jsonld: Any = None


_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?(Z|\+00:00)$")


def _fmt(v: Any) -> str:
    """A cell value as short, readable text (times to the second in UTC, floats rounded)."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, str):
        m = _ISO.match(v)
        return f"{m.group(1)} {m.group(2)}Z" if m else v
    if isinstance(v, pd.Timestamp | datetime):
        return pd.Timestamp(v).strftime("%Y-%m-%d %H:%M UTC") if pd.Timestamp(v).tzinfo else str(v)
    if isinstance(v, float):
        return f"{v:,.1f}" if abs(v) >= 100 else f"{v:.4g}"
    return str(v)


def table_html(df: pd.DataFrame, *, illustrative_col: str | None = "illustrative") -> str:
    """A DataFrame as an escaped HTML table; rows flagged illustrative get a visible label."""
    if df.empty:
        return '<p class="small">(no rows)</p>'
    cols = [c for c in df.columns if c != illustrative_col]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    rows = []
    flags = df[illustrative_col].astype(bool).to_numpy() if illustrative_col in df.columns else None
    for i, rec in enumerate(df[cols].itertuples(index=False)):
        cells = [html.escape(_fmt(v)) for v in rec]
        if flags is not None and flags[i]:
            cells[0] = f'{cells[0]} <span class="illustrative">illustrative</span>'
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<div class='tablewrap'><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"


def _verdict_badge(v: str) -> str:
    colour = VERDICT_COLOURS.get(v, "#667085")
    return f'<span class="verdict" style="background:{colour}">{html.escape(v)}</span>'


def _claims_summary(ctx: ReportContext) -> str:
    out = ["<table><thead><tr><th>claim</th><th>claimant, date</th><th>source grade</th><th>stance, scope</th>"
           "<th>verdict</th></tr></thead><tbody>"]
    for rec in ctx.claims.to_dict("records"):
        trail = ctx.reasoning.get(str(rec["id"]), [])
        reasons = "".join(f"<li>{html.escape(line)}</li>" for line in trail)
        out.append(
            f"<tr><td><b>{html.escape(str(rec['id']))}</b><br>{html.escape(str(rec.get('statement', '')))}"
            f'<ul class="reasoning">{reasons}</ul></td>'
            f"<td>{html.escape(str(rec.get('claimant', '')))}<br>{html.escape(_fmt(rec.get('date_made')))}</td>"
            f"<td>{html.escape(str(rec.get('reliability', '')))}{html.escape(str(rec.get('credibility', '')))}"
            f"<br><span class='small'>{html.escape(str(rec.get('source', '')))}</span></td>"
            f"<td>{html.escape(str(rec.get('stance', '')))} {html.escape(str(rec.get('what', '')))}"
            f"<br><span class='small'>{html.escape(str(rec.get('scope', '')))}</span></td>"
            f"<td>{_verdict_badge(str(rec.get('verdict', 'unverified')))}"
            + (" <span class='illustrative'>illustrative</span>" if rec.get("rests_on_illustrative") else "")
            + (f"<br><span class='small'>objects established: {html.escape(str(rec['number']))}</span>"
               if rec.get("number") not in (None, "-") else "") + "</td></tr>"
        )
    out.append("</tbody></table>")
    return "".join(out)


def render_report(ctx: ReportContext) -> str:
    """The whole report page as one HTML string."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(ctx.title)}</title><style>{CSS}</style>",
        jsonld_script(ctx.jsonld) if ctx.jsonld is not None else "",
        "</head><body>",
        f"<h1>{html.escape(ctx.title)}</h1><p class='subtitle'>{html.escape(ctx.subtitle)}</p>",
    ]
    if ctx.illustrative_note:
        parts.append(f"<div class='banner'><b>About <span class='illustrative'>illustrative</span> data.</b> "
                     f"{html.escape(ctx.illustrative_note)}</div>")
    parts += ["<h2>Claims and verdicts</h2>",
              "<p class='small'>Verdicts are derived from the evidence by the rule in docs/verdicts.md, never typed "
              "in; grades are source reliability (A–F) and information credibility (1–6) on the Admiralty scale.</p>",
              _claims_summary(ctx)]
    if ctx.map_svg:
        parts += ["<h2>Map</h2>", ctx.map_svg]
    if ctx.timeline_svg:
        parts += ["<h2>Timeline</h2>", ctx.timeline_svg]
    if ctx.sections:
        parts.append("<h2>The tables behind the verdicts</h2>")
        for s in ctx.sections:
            flag = " <span class='illustrative'>illustrative</span>" if s.illustrative else ""
            parts += [f"<h3>{html.escape(s.title)}{flag}</h3><p class='small'>{html.escape(s.description)}</p>",
                      table_html(s.table)]
    parts.append("<h2>Boundary data, versions and parameters</h2>")
    if ctx.provenance:
        parts.append(table_html(pd.DataFrame(ctx.provenance), illustrative_col=None))
    if ctx.parameters:
        params = pd.DataFrame({"parameter": list(ctx.parameters), "value": [str(v) for v in ctx.parameters.values()]})
        parts.append(table_html(params, illustrative_col=None))
    parts.append(f"<footer>Generated {html.escape(_fmt(pd.Timestamp(ctx.generated_at)))} by overflight "
                 f"{html.escape(ctx.overflight_version)}. Every verdict can be re-derived with "
                 f"<code>overflight case verify</code>.</footer></body></html>")
    return "\n".join(parts)


TICK_STEPS = ("15min", "30min", "1h", "2h", "3h", "6h", "12h", "1D", "2D", "7D", "14D", "30D", "91D", "365D")


def time_ticks(t0: pd.Timestamp, t1: pd.Timestamp, most: int = 8) -> tuple[list[pd.Timestamp], str]:
    """Round tick times between t0 and t1 and the layout that tells them apart.

    Round tick times between t0 and t1 (at most `most`) and the strftime layout that tells them apart:
    hours for a night, dates for weeks.
    """
    span = (t1 - t0).total_seconds()
    step = next((pd.Timedelta(f) for f in TICK_STEPS if span / pd.Timedelta(f).total_seconds() <= most),
                pd.Timedelta(TICK_STEPS[-1]))
    first = t0.ceil(step) if step <= pd.Timedelta("1D") else t0.ceil("1D")
    ticks = list(pd.date_range(first, t1, freq=step)) or [t0]
    return ticks, ("%H:%M" if step < pd.Timedelta("1D") else "%Y-%m-%d")


def render_timeline(events: Sequence[tuple[pd.Timestamp, str, str, bool]],
                    windows: Sequence[tuple[pd.Timestamp, pd.Timestamp, str, str, bool]], *, width: int = 900,
                    focus: tuple[pd.Timestamp, pd.Timestamp] | None = None) -> str:
    """An SVG timeline: point events (time, label, kind, illustrative) and windows (start, end, label, kind, illus.).

    Kinds colour the marks: claim, denial, observation, track, crossing. With `focus` the axis spans that
    range (the night of the events, not the claims' long windows): what lies outside is drawn at the edge with
    an arrow and its date, so the events of one night are spread over the width instead of one pixel column.
    """
    colours = {"claim": "#175cd3", "denial": "#b42318", "observation": "#b54708", "track": "#1a7f37",
               "crossing": "#7a2e8e"}
    times = [e[0] for e in events] + [w[0] for w in windows] + [w[1] for w in windows]
    if not times:
        return ""
    t0, t1 = focus if focus is not None else (min(times), max(times))
    if (t1 - t0).total_seconds() < 3600.0:
        mid = t0 + (t1 - t0) / 2
        t0, t1 = mid - pd.Timedelta("30min"), mid + pd.Timedelta("30min")
    span = (t1 - t0).total_seconds()
    left, right = 10.0, width - 250.0

    def x(t: pd.Timestamp) -> float:
        return left + min(max((t - t0).total_seconds() / span, 0.0), 1.0) * (right - left)

    def outside(t: pd.Timestamp) -> str:
        return (f" ◂ {t:%Y-%m-%d}" if t < t0 else f" ▸ {t:%Y-%m-%d}") if (t < t0 or t > t1) else ""

    rows = sorted([(w[0], "w", w) for w in windows] + [(e[0], "e", e) for e in events], key=lambda r: r[0])
    h = 44 + 16 * len(rows)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {h}" class="map timeline" role="img" '
           f'aria-label="timeline">', '<rect width="100%" height="100%" fill="white"/>']
    ticks, layout = time_ticks(t0, t1)
    ya = h - 24
    for t in ticks:  # light vertical guides, so marks can be read against the axis
        out.append(f'<line x1="{x(t):.1f}" y1="6" x2="{x(t):.1f}" y2="{ya}" stroke="#eaecf0" stroke-width="1"/>')
    for i, (_, kind, item) in enumerate(rows):
        y = 16 + 16 * i
        if kind == "w":
            s, e, label, k, illus = item  # type: ignore[misc]
            c = colours.get(k, "#475467")
            out.append(f'<rect x="{x(s):.1f}" y="{y - 5}" width="{max(x(e) - x(s), 2):.1f}" height="8" fill="{c}" '
                       f'fill-opacity="0.35" stroke="{c}" data-kind="{html.escape(k)}"/>')
            lx = x(e) + 4
            where = outside(s) if s < t0 else ""
            where += outside(e) if e > t1 else ""
        else:
            t, label, k, illus = item  # type: ignore[misc]
            c = colours.get(k, "#475467")
            out.append(f'<circle cx="{x(t):.1f}" cy="{y - 1}" r="4" fill="{c}" data-kind="{html.escape(k)}"/>')
            lx = x(t) + 7
            where = outside(t)
        tag = " [illustrative]" if illus else ""
        anchor = "start"
        text_w = 6.2 * len(str(label) + tag + where)  # about 6 px a character at the label's 11 px
        if lx > right or lx + text_w > width - 4:
            lx, anchor = lx - (12 if kind == "e" else 8 + (x(e) - x(s))), "end"
        out.append(f'<text x="{lx:.1f}" y="{y + 2}" class="tl-label" text-anchor="{anchor}">'
                   f"{html.escape(str(label) + tag + where)}</text>")
    out.append(f'<line x1="{left}" y1="{ya}" x2="{right}" y2="{ya}" class="tl-axis"/>')
    for t in ticks:
        anchor = "start" if x(t) - left < 30 else ("end" if right - x(t) < 30 else "middle")
        out.append(f'<text x="{x(t):.1f}" y="{ya + 12}" class="tl-tick" text-anchor="{anchor}">'
                   f"{t.strftime(layout)}</text>")
    if layout == "%H:%M":  # the date once, under the axis
        day = t0.strftime("%Y-%m-%d") + ("" if t0.date() == t1.date() else f" – {t1:%Y-%m-%d}")
        out.append(f'<text x="{left}" y="{ya + 22}" class="tl-tick">{day} (UTC)</text>')
    out.append("</svg>")
    return "".join(out)


__all__ = [
    "CSS",
    "TICK_STEPS",
    "VERDICT_COLOURS",
    "ReportContext",
    "TableSection",
    "render_report",
    "render_timeline",
    "table_html",
    "time_ticks",
]
