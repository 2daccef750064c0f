"""Draw a print map: the content of maps.printmap.content on a sheet laid out by maps.printmap.layout, saved as
PNG, vector PDF (the CJK font embedded, subset) or SVG (text as paths).

matplotlib's object API only (no pyplot state); one sheet at a time, as matplotlib's font and text caches are
shared by every thread.
"""

from __future__ import annotations

import io
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import matplotlib
import numpy as np
import shapely
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patheffects import Stroke
from matplotlib.text import Text

from geo import boundaries
from geo.io import write_bytes_atomic
from geo.layers import Layers
from maps import geometry, popups
from maps.i18n import boundary_note, t
from maps.printmap import content, fonts, frame, layout, sheet
from maps.printmap.fonts import FONT_PATH, cjk_font, font, line_height, subset_file, text_width
from maps.printmap.labels import Box, Placement, Request, place
from maps.printmap.options import MM_PER_INCH, PrintError, PrintOptions
from maps.printmap.symbols import MARKER_PT
from maps.style import HIT

KINDS = ("overview", "industry", "feature")
LAYOUT_DPI = 72.0  # the figure's own dpi while it is laid out: display units are then points
SIMPLIFY_MM = 0.05  # detail finer than this on paper is dropped before drawing
NOTE_SIZE = 6.3  # points, the notes at the foot
_lock = threading.Lock()


def print_context() -> AbstractContextManager[None]:
    """matplotlib's settings for a sheet: TrueType fonts embedded as Type 42 (subset), SVG text as outlines,
    and no hinting, so text is as wide at every resolution as fonts.text_width measured it for the layout."""
    return matplotlib.rc_context({"pdf.fonttype": 42, "svg.fonttype": "path", "svg.hashsalt": "nbgis",
                                  "text.hinting": "no_hinting"})


@dataclass(frozen=True)
class PrintMap:
    data: bytes
    media_type: str
    denominator: int  # the scale, 1:denominator on the paper asked for
    dropped_labels: tuple[str, ...]  # required labels there was no free spot for (none, on the maps tested)


def render(layers: Layers, kind: str, subject: str | None, options: PrintOptions,
           today: date | None = None) -> PrintMap:
    """The sheet as bytes. KeyError for an unknown industry code or feature id; FontMissing without the font."""
    with _lock, print_context():
        fig, info = build(layers, kind, subject, options, today)
        if options.fmt == "pdf":
            _set_in_subset(fig, info["scale_bar"])
        out = io.BytesIO()
        metadata: dict[str, Any] = {"png": {"Software": "nbgis"},
                                    "pdf": {"Creator": "nbgis", "Title": info["title"], "CreationDate": None},
                                    "svg": {"Creator": "nbgis", "Title": info["title"], "Date": None}}[options.fmt]
        fig.savefig(out, format=options.fmt, dpi=options.dpi, metadata=metadata)
    return PrintMap(out.getvalue(), options.media_type, info["denominator"], tuple(info["dropped"]))


def write(layers: Layers, kind: str, subject: str | None, options: PrintOptions, path: Path) -> PrintMap:
    """Render and write atomically (a failed render leaves no file)."""
    result = render(layers, kind, subject, options)
    write_bytes_atomic(Path(path), result.data)
    return result


def build(layers: Layers, kind: str, subject: str | None, options: PrintOptions,
          today: date | None = None) -> tuple[Figure, dict[str, Any]]:
    """The laid-out figure (for saving, or for a test to inspect its artists) and what was decided; draw it
    under ``print_context()``."""
    cjk_font()  # fail first, with the install hint, when the font is missing
    if absent := fonts.missing(options.approval):
        raise PrintError("approval", f"the print font has no glyph for {''.join(absent)!r}")
    lang = options.lang
    if kind == "overview":
        c = content.overview(layers, lang)
    elif kind == "industry":
        c = content.industry(layers, str(subject), lang)
    elif kind == "feature":
        c = content.feature(layers, str(subject), lang)
    else:
        raise ValueError(f"unknown map {kind!r}; choose one of {', '.join(KINDS)}")
    width, height = options.size_mm
    if options.fmt == "png":  # matplotlib truncates the figure to whole pixels: let it hold round(paper x dpi)
        width, height = ((p + 0.5) / options.dpi * MM_PER_INCH for p in options.pixels())
    fig = Figure(figsize=(width / MM_PER_INCH, height / MM_PER_INCH), dpi=LAYOUT_DPI)
    k = layout.scale_of(width, height)
    note_size = NOTE_SIZE * k
    focus = _project(gpd.GeoSeries([c.focus], crs="OGC:CRS84")).iloc[0]
    min_span = c.min_span_deg * 111_320.0
    lines: list[tuple[str, str]] = []
    lay = None
    for _ in range(3):  # the notes' height depends on the scale they state, the scale on the map's room
        lay = layout.layout(width, height, sheet.notes_height(max(len(lines), 1), note_size))
        ground = frame.fit(focus.bounds, (lay.map[2], lay.map[3]), min_span)
        wanted = _notes(layers, c, ground.denominator, options, today or date.today(), note_size)
        settled = len(wanted) == len(lines)
        lines = wanted  # always the last: they state this scale
        if settled:
            break
    assert lay is not None
    sheet.borders(fig, lay)
    sheet.title(fig, lay, c.title, c.subtitle)
    ax = fig.add_axes((lay.map[0] / width, lay.map[1] / height, lay.map[2] / width, lay.map[3] / height))
    ax.set_xlim(ground.x0, ground.x1)
    ax.set_ylim(ground.y0, ground.y1)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("white")
    for spine in ax.spines.values():
        spine.set_linewidth(0.8)
    tolerance = ground.denominator * SIMPLIFY_MM / 1000
    projected = [_draw(ax, layer, tolerance, ground) for layer in c.layers]
    ax.set_xlabel("")  # GeoPandas names a projected map's axes; the sheet has none
    ax.set_ylabel("")
    # A canvas only now: GeoPandas asks the canvas to redraw after every layer, which Agg's does at once (~0.1 s
    # each), the figure's default canvas not at all. Its renderer measures the furniture, to keep labels off it.
    renderer = FigureCanvasAgg(fig).get_renderer()
    sheet.graticule(fig, lay, ground)
    note = boundary_note(boundaries.of_frame(layers.parks), lang, paper=True)
    bar, obstacles = _furniture(fig, ax, lay, ground, note, t("print.north", lang), renderer)
    dropped = _labels(ax, c, projected, obstacles, lay.k, renderer)
    sheet.legend(fig, lay, t("print.legend", lang), c.legend)
    sheet.inset(fig, lay, t("print.locator", lang), _locator(layers), ground)
    sheet.notes(fig, lay.notes, lines, note_size)
    return fig, {"title": c.title, "denominator": ground.denominator, "dropped": dropped, "layout": lay,
                 "map_axes": ax, "scale_bar": bar}


def _set_in_subset(fig: Figure, bar: Any) -> None:
    """Set every text in the font cut down to the sheet's characters (fonts.subset_file), so that embedding
    it in the PDF is quick; the glyphs, and so the layout, are the same."""
    texts = [text for text in fig.findobj(Text) if text.get_fontproperties().get_file() == str(FONT_PATH)]
    path = str(subset_file("".join(text.get_text() for text in texts)))
    for text in texts:
        props = text.get_fontproperties().copy()
        props.set_file(path)
        text.set_fontproperties(props)
    bar.font_properties = {"fname": path, "size": bar.font_properties.get_size()}


def _locator(layers: Layers) -> gpd.GeoSeries:
    """The districts for the locator inset: whole (the main map's are cut to its frame), and coarse."""
    rows = layers.districts[layers.districts["kind"] == "district"]
    projected = _project(gpd.GeoSeries(rows.geometry.values, crs=rows.crs))
    return gpd.GeoSeries(shapely.coverage_simplify(projected.values, 300.0), crs=projected.crs)


def _project(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    return geoms.to_crs(frame.PRINT_CRS)


def _draw(ax: Axes, layer: content.Layer, tolerance: float, ground: frame.Ground) -> gpd.GeoSeries:
    """Draw one layer in the map's projection, thinned to what the paper shows and cut to a little more than
    the frame (a vector file then holds no hidden detail); answer its projected geometry (for the labels)."""
    geoms = _project(gpd.GeoSeries(layer.geoms.values, crs=layer.geoms.crs, index=layer.ids))
    if layer.key in ("districts", "host-districts"):  # neighbours keep one shared border when thinned together
        geoms = gpd.GeoSeries(shapely.coverage_simplify(geoms.values, tolerance), index=geoms.index, crs=geoms.crs)
    elif layer.kind != "point":
        geoms = geoms.simplify(tolerance)
    margin = 0.05 * (ground.x1 - ground.x0)
    geoms = geoms.clip_by_rect(ground.x0 - margin, ground.y0 - margin, ground.x1 + margin, ground.y1 + margin)
    geoms = geoms[~geoms.is_empty]
    if geoms.empty:
        return geoms

    if layer.kind == "point":
        xy = shapely.get_coordinates(geoms.values)
        ax.add_line(Line2D(xy[:, 0], xy[:, 1], gid=f"layer-{layer.key}", zorder=5, **layer.props))
    elif layer.kind == "line":
        geoms.plot(ax=ax, gid=f"layer-{layer.key}", zorder=3, **layer.props)
    else:
        geoms.plot(ax=ax, gid=f"layer-{layer.key}", zorder=2, **layer.props)
    return geoms


def _furniture(fig: Figure, ax: Axes, lay: layout.Layout, ground: frame.Ground, note: str, north: str,
               renderer: Any) -> tuple[Any, list[Box]]:
    """The scale bar, north arrow and schematic note inside the map frame; answers the boxes they take
    (display points), which no label may cover."""
    x, y, w, h = lay.map
    bar = sheet.scale_bar(ax, 7.0 * lay.k)
    size = 11.0 * lay.k
    at = (x + w - 4.0 * lay.k - size * 0.3, y + h - 3.0 * lay.k - size * 0.6)
    cx = ground.x0 + (at[0] - x) / w * (ground.x1 - ground.x0)
    cy = ground.y0 + (at[1] - y) / h * (ground.y1 - ground.y0)
    arrow = sheet.north_arrow(fig, at, size, frame.north_angle(cx, cy), north)
    ax.text(0.012, 0.988, note, transform=ax.transAxes, ha="left", va="top", color="#b71c1c",
            fontproperties=font(7.5 * lay.k), gid="schematic-note",
            bbox={"facecolor": "white", "edgecolor": "#b71c1c", "linewidth": 0.5, "alpha": 0.9, "pad": 2.0})
    boxes = [_box(a.get_window_extent(renderer)) for a in [*ax.artists, *ax.texts]]
    pt = 72 / 25.4
    ax0 = x * pt
    ay0 = y * pt
    bar_w, bar_h = w * pt * 0.3, 12.0 * lay.k
    boxes.append(Box(ax0, ay0, ax0 + bar_w, ay0 + bar_h))  # the scale bar, whatever length it chose
    boxes.append(Box(arrow[0] * pt, arrow[1] * pt, (arrow[0] + arrow[2]) * pt, (arrow[1] + arrow[3]) * pt))
    return bar, boxes


def _box(bbox: Any) -> Box:
    return Box(float(bbox.x0), float(bbox.y0), float(bbox.x1), float(bbox.y1))


def _labels(ax: Axes, c: content.Content, projected: list[gpd.GeoSeries], obstacles: list[Box], k: float,
            renderer: Any) -> list[str]:
    """Place and draw every label; answer the keys of required labels left out."""
    to_display = ax.transData
    matrix = to_display.get_matrix()
    affine = (matrix[0, 0], matrix[0, 1], matrix[1, 0], matrix[1, 1], matrix[0, 2], matrix[1, 2])
    frame_box = _box(ax.get_window_extent(renderer))
    points: list[Box] = []
    avoid: list[tuple[str, Box]] = []
    half = MARKER_PT * 0.6
    for layer, geoms in zip(c.layers, projected):
        for fid, g in geoms.items():
            shown = shapely.affinity.affine_transform(g, affine)
            if layer.kind == "point":
                points.append(Box(shown.x - half, shown.y - half, shown.x + half, shown.y + half))
            elif layer.key not in ("districts", "host-districts"):
                bx = _box_of(shown)
                if (bx.x1 - bx.x0) * (bx.y1 - bx.y0) < (frame_box.x1 - frame_box.x0) ** 2 / 20:
                    avoid.append((str(fid), bx))
    requests = []
    styles: dict[str, tuple[Any, str]] = {}
    for label in sorted(c.labels, key=lambda label: not label.required):  # what must be named first
        shown = shapely.affinity.affine_transform(_project(gpd.GeoSeries([label.geom], crs="OGC:CRS84")).iloc[0],
                                                  affine)
        props = font((8.0 if label.district else 7.0 if label.emphasis else 6.5) * k)
        size = (text_width(label.text, props.get_size_in_points()) + 2.0,
                line_height(props.get_size_in_points()) + 2.0)
        if label.district:
            anchors = _inside_points(shown, frame_box, size)
            if anchors:
                requests.append(Request(label.key, anchors, size, centred=True, rings=2, leaders=False))
        else:
            requests.append(_beside(label.key, shown, size))
        styles[label.key] = (props, "#6f6f6f" if label.district else HIT["color"] if label.emphasis else "#1a1a1a")
    placed, dropped = place(requests, frame_box, obstacles + points, avoid, step=5.0 * k)
    inverse = ax.transData.inverted()
    texts = {label.key: label for label in c.labels}
    for p in placed:
        _draw_label(ax, p, texts[p.key].text, *styles[p.key], inverse)
    required = {label.key for label in c.labels if label.required}
    return [key for key in dropped if key in required]


def _beside(key: str, shown: Any, size: tuple[float, float]) -> Request:
    """A feature's label: beside it, clear of a small feature's outline (or its symbol), inside a large one
    when it fits there."""
    bx = _box_of(shown)
    anchor = geometry.label_point(shown) if shown.geom_type != "Point" else shown
    clearance = min(max(bx.x1 - bx.x0, bx.y1 - bx.y0) / 2, 9.0) + 2.5
    w, h = size
    fits = shown.geom_type != "Point" and shown.contains(
        shapely.box(anchor.x - w / 2, anchor.y - h / 2, anchor.x + w / 2, anchor.y + h / 2))
    return Request(key, [(anchor.x, anchor.y)], size, clearance, centred=fits, rings=10)


def _draw_label(ax: Axes, p: Placement, text: str, props: Any, colour: str, inverse: Any) -> None:
    cx, cy = inverse.transform(p.box.centre)
    # The white halo is a stroked outline under the text, drawn apart: text with a path effect becomes a path
    # altogether, which a PDF reader can neither search nor copy.
    ax.text(cx, cy, text, ha="center", va="center", fontproperties=props, zorder=7, gid=f"halo-{p.key}",
            path_effects=[Stroke(linewidth=2.2, foreground="white")])
    ax.text(cx, cy, text, ha="center", va="center", color=colour, fontproperties=props, zorder=7,
            gid=f"label-{p.key}")
    if p.leader:
        (ax_, ay_), (bx_, by_) = inverse.transform([p.anchor, p.box.nearest_point(p.anchor)])
        ax.add_line(Line2D([ax_, bx_], [ay_, by_], color="#4a4a4a", linewidth=0.45, zorder=6, gid="leader"))


def _box_of(geom: Any) -> Box:
    x0, y0, x1, y1 = geom.bounds
    return Box(x0, y0, x1, y1)


def _inside_points(shape: Any, frame_box: Box, size: tuple[float, float]) -> list[tuple[float, float]]:
    """Points deep inside the visible part of a district, deepest first: where its name can sit."""
    visible = shape.intersection(shapely.box(frame_box.x0, frame_box.y0, frame_box.x1, frame_box.y1))
    if visible.is_empty or visible.area < size[0] * size[1] * 2:
        return []
    x0, y0, x1, y1 = visible.bounds
    xs, ys = np.meshgrid(np.linspace(x0, x1, 12)[1:-1], np.linspace(y0, y1, 12)[1:-1])
    grid = shapely.points(xs.ravel(), ys.ravel())
    inside = grid[shapely.contains(visible, grid)]
    if not len(inside):
        return [(geometry.label_point(visible).x, geometry.label_point(visible).y)]
    depth = shapely.distance(visible.boundary, inside)
    order = np.argsort(-depth)[:16]
    return [(float(inside[i].x), float(inside[i].y)) for i in order]


def _boundaries_note(layers: Layers, lang: str) -> str:
    """The schematic notice, or, once any boundary is surveyed, how many are which and whence the surveyed came."""
    bounds = boundaries.of_frame(layers.parks)
    if not bounds.mixed:
        return t("print.schematic", lang)
    rows = layers.parks.loc[list(bounds.surveyed_ids)]
    named = [f"{popups.name(row, lang)}（{row.get('geometry_source') or '—'}）" if lang == "zh"
             else f"{popups.name(row, lang)} ({row.get('geometry_source') or 'no source given'})"
             for _, row in rows.iterrows()]
    return t("print.mixed", lang).format(schematic=bounds.schematic, surveyed=bounds.surveyed,
                                         surveyed_list=("；" if lang == "zh" else "; ").join(named))


def _notes(layers: Layers, c: content.Content, denominator: int, options: PrintOptions, today: date,
           size: float) -> list[tuple[str, str]]:
    """The notes at the foot, wrapped: sources, the schematic notice, projection and scale, extra notes, the
    date and the approval number (审图号) field."""
    lang = options.lang
    sep = "：" if lang == "zh" else ": "
    districts = str(layers.districts["source"].dropna().iloc[0])
    denominator_text = f"{denominator:,}".replace(",", "\u00a0")  # 1:600 000, never broken across lines
    approval = options.approval or "＿＿＿＿＿＿＿＿"
    approval_line = f"{t('print.approval', lang)}{sep}{approval}"
    if not options.approval:
        approval_line += f"（{t('print.approval_note', lang)}）" if lang == "zh" else \
            f" ({t('print.approval_note', lang)})"
    entries = [
        ("note-sources", f"{t('print.sources', lang)}{sep}{t('print.plan', lang)}; "
                         f"{t('print.district_source', lang)}{sep}{districts}"),
        ("note-schematic", _boundaries_note(layers, lang)),
        ("note-crs", f"{t('print.crs', lang).format(lon=frame.CENTRAL_MERIDIAN)}; "
                     f"{t('print.scale', lang).format(denominator=denominator_text, paper=options.paper)}"),
        *[("note-extra", n) for n in c.notes],
        ("note-date", f"{t('print.maker', lang)}{sep}nbgis · {t('print.date', lang)}{sep}{today.isoformat()}"),
        ("note-approval", approval_line),
    ]
    width = layout.notes_width(*options.size_mm)
    return [(gid, line) for gid, text in entries for line in sheet.wrap(text, width, size)]
