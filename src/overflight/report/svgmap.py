"""Static maps as inline SVG: zones, tracks, points and ellipses on a simple projection, with a legend.

The report must open offline and print well, so the map is vector SVG written here, not tiles from a server.
The projection is equirectangular scaled by cos(latitude) at the map's centre: shapes look right at the
regional scale the report shows, and no projection library is needed in the browser.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry


@dataclass(frozen=True)
class Style:
    """How one layer is drawn."""

    stroke: str = "#333"
    fill: str = "none"
    width: float = 1.0
    opacity: float = 1.0
    fill_opacity: float = 0.25
    dash: str | None = None
    marker: str = "circle"  # for points: circle | cross | star | square
    size: float = 4.0


@dataclass
class Layer:
    """A named set of geometries with one style; `labels` (optional) are drawn next to the shapes."""

    name: str
    geometries: Sequence[BaseGeometry]
    style: Style
    labels: Sequence[str] | None = None
    legend: str | None = None  # text in the legend; None hides the layer from the legend
    titles: Sequence[str] | None = None  # hover titles (SVG <title>), e.g. an id and a time


@dataclass
class MapView:
    """The projection from lon/lat to SVG pixels for a bounding box."""

    bounds: tuple[float, float, float, float]
    width: int = 900
    height: int = field(init=False)
    pad: int = 10

    def __post_init__(self) -> None:
        minx, miny, maxx, maxy = self.bounds
        self.k = math.cos(math.radians((miny + maxy) / 2.0))
        span_x = max((maxx - minx) * self.k, 1e-6)
        span_y = max(maxy - miny, 1e-6)
        self.scale = (self.width - 2 * self.pad) / span_x
        self.height = int(span_y * self.scale + 2 * self.pad)

    def xy(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map coordinates of lon/lat points."""
        minx, _, _, maxy = self.bounds
        return (self.pad + (lon - minx) * self.k * self.scale, self.pad + (maxy - lat) * self.scale)

    @property
    def pixel_deg(self) -> float:
        """Degrees of latitude per pixel: the tolerance to simplify shapes to without a visible change."""
        return 1.0 / self.scale


def _path_d(view: MapView, geom: BaseGeometry) -> str:
    parts = []
    for ring_or_line in _linework(geom):
        coords = shapely.get_coordinates(ring_or_line)
        if len(coords) < 2:
            continue
        x, y = view.xy(coords[:, 0], coords[:, 1])
        pts = " L".join(f"{a:.1f},{b:.1f}" for a, b in zip(x, y, strict=True))
        closed = ring_or_line.geom_type == "LinearRing"
        parts.append(f"M{pts}{' Z' if closed else ''}")
    return " ".join(parts)


def _linework(geom: BaseGeometry) -> Iterable[BaseGeometry]:
    for part in shapely.get_parts(geom):
        if part.geom_type == "Polygon":
            yield part.exterior
            yield from part.interiors
        elif part.geom_type in ("LineString", "LinearRing"):
            yield part
        elif part.geom_type.startswith("Multi") or part.geom_type == "GeometryCollection":
            yield from _linework(part)


def _marker(x: float, y: float, s: Style) -> str:
    r = s.size
    common = f'stroke="{s.stroke}" stroke-width="{s.width}" opacity="{s.opacity}"'
    if s.marker == "cross":
        return (f'<path d="M{x - r:.1f},{y - r:.1f} L{x + r:.1f},{y + r:.1f} M{x - r:.1f},{y + r:.1f} '
                f'L{x + r:.1f},{y - r:.1f}" {common} fill="none"/>')
    if s.marker == "square":
        return (f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r:.1f}" height="{2 * r:.1f}" '
                f'fill="{s.fill}" {common}/>')
    if s.marker == "star":
        pts = []
        for i in range(10):
            rr = r * (1.0 if i % 2 == 0 else 0.45)
            a = math.pi / 2 + i * math.pi / 5
            pts.append(f"{x + rr * math.cos(a):.1f},{y - rr * math.sin(a):.1f}")
        return f'<polygon points="{" ".join(pts)}" fill="{s.fill}" {common}/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{s.fill}" {common}/>'


def _layer_svg(view: MapView, layer: Layer) -> str:
    s = layer.style
    box = view.bounds
    out = [f'<g class="layer" data-layer="{html.escape(layer.name)}">']
    for i, geom in enumerate(layer.geometries):
        if geom is None or geom.is_empty:
            continue
        title = f"<title>{html.escape(layer.titles[i])}</title>" if layer.titles else ""
        if geom.geom_type in ("Point", "MultiPoint"):
            for p in shapely.get_parts(geom):
                if not (box[0] <= p.x <= box[2] and box[1] <= p.y <= box[3]):
                    continue
                x, y = view.xy(np.array([p.x]), np.array([p.y]))
                out.append(f"<g>{title}{_marker(float(x[0]), float(y[0]), s)}</g>")
            continue
        clipped = shapely.clip_by_rect(geom, *box)
        clipped = shapely.simplify(clipped, view.pixel_deg * 0.5, preserve_topology=True)
        if clipped.is_empty:
            continue
        d = _path_d(view, clipped)
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        areal = clipped.geom_type in ("Polygon", "MultiPolygon")
        fill = f'fill="{s.fill}" fill-opacity="{s.fill_opacity}" fill-rule="evenodd"' if areal else 'fill="none"'
        out.append(f'<path d="{d}" stroke="{s.stroke}" stroke-width="{s.width}" opacity="{s.opacity}" '
                   f'{fill}{dash} stroke-linejoin="round">{title}</path>')
    if layer.labels:
        for geom, label in zip(layer.geometries, layer.labels, strict=True):
            if not label or geom is None or geom.is_empty:
                continue
            c = shapely.clip_by_rect(geom, *box)
            if c.is_empty:
                continue
            p = c.representative_point() if c.geom_type != "Point" else c
            x, y = view.xy(np.array([p.x]), np.array([p.y]))
            out.append(f'<text x="{x[0] + 6:.1f}" y="{y[0] - 4:.1f}" class="maplabel">{html.escape(label)}</text>')
    out.append("</g>")
    return "\n".join(out)


LEGEND_ROW = 18.0
LEGEND_COL = 440.0


def _legend(layers: Sequence[Layer], x: float, y: float, width: float) -> tuple[str, float]:
    """The legend as a band below the map.

    The legend as a band of one or two columns starting at (x, y), below the map (never over the data);
    returns the SVG and the band's height.
    """
    items = [la for la in layers if la.legend]
    if not items:
        return "", 0.0
    cols = 2 if width >= 2 * LEGEND_COL and len(items) > 3 else 1
    per_col = math.ceil(len(items) / cols)
    h = LEGEND_ROW * per_col + 10
    out = [f'<g class="legend"><rect x="{x}" y="{y}" width="{width - 2 * x:.0f}" height="{h}" fill="white" '
           f'stroke="#d0d5dd"/>']
    for i, la in enumerate(items):
        cx = x + (i // per_col) * LEGEND_COL
        cy = y + 14 + LEGEND_ROW * (i % per_col)
        s = la.style
        if la.geometries and la.geometries[0] is not None and la.geometries[0].geom_type in ("Point", "MultiPoint"):
            sym = _marker(cx + 14, cy - 4, s)
        else:
            dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
            sym = (f'<rect x="{cx + 6}" y="{cy - 10}" width="16" height="10" fill="{s.fill}" '
                   f'fill-opacity="{s.fill_opacity if s.fill != "none" else 0}" stroke="{s.stroke}" '
                   f'stroke-width="{s.width}"{dash}/>')
        out.append(f'{sym}<text x="{cx + 30}" y="{cy}" class="legendtext">{html.escape(la.legend or "")}</text>')
    out.append("</g>")
    return "\n".join(out), h


def render_map(layers: Sequence[Layer], bounds: tuple[float, float, float, float], *, width: int = 900,
               title: str = "") -> str:
    """An inline SVG of the layers within bounds (lon/lat), with a legend and a graticule."""
    view = MapView(bounds, width=width)
    minx, miny, maxx, maxy = bounds
    grat = []
    step = 5.0 if max(maxx - minx, maxy - miny) > 12 else 2.0
    for lon in np.arange(math.ceil(minx / step) * step, maxx, step):
        x, _ = view.xy(np.array([lon]), np.array([miny]))
        grat.append(f'<line x1="{x[0]:.1f}" y1="0" x2="{x[0]:.1f}" y2="{view.height}" class="grat"/>'
                    f'<text x="{x[0] + 2:.1f}" y="{view.height - 3}" class="gratlabel">{lon:g}°E</text>')
    for lat in np.arange(math.ceil(miny / step) * step, maxy, step):
        _, y = view.xy(np.array([minx]), np.array([lat]))
        grat.append(f'<line x1="0" y1="{y[0]:.1f}" x2="{view.width}" y2="{y[0]:.1f}" class="grat"/>'
                    f'<text x="3" y="{y[0] - 2:.1f}" class="gratlabel">{lat:g}°N</text>')
    body = "\n".join(_layer_svg(view, la) for la in layers)
    legend, lh = _legend(layers, 0.0, view.height + 6, view.width)
    total = view.height + (lh + 8 if lh else 0)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {view.width} {total:.0f}" role="img" '
        f'aria-label="{html.escape(title)}" class="map">'
        f'<rect width="{view.width}" height="{view.height}" fill="#eef4f8"/>'
        + "\n".join(grat) + body + legend + "</svg>"
    )


__all__ = ["LEGEND_COL", "LEGEND_ROW", "Layer", "MapView", "Style", "render_map"]
