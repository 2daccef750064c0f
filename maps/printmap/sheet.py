"""The sheet's furniture around and on the map: borders, title, legend, notes, locator inset, north arrow, scale bar.

Everything is placed in millimetres on the sheet (``mm``), text measured with the renderer so that nothing is
cut: a title too long for its band is set smaller, the legend takes as many columns and as small a type as it
needs, and the notes are wrapped to their width.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon, Rectangle
from matplotlib.transforms import Affine2D, Transform
from matplotlib_scalebar.scalebar import ScaleBar

from maps.printmap.fonts import FONT_PATH, font, line_height, text_width
from maps.printmap.frame import Ground, to_lonlat
from maps.printmap.layout import Layout, Rect
from maps.printmap.symbols import Symbol

INK = "#222222"
SOFT = "#555555"
LEGEND_SIZES = (7.5, 7.0, 6.5, 6.0, 5.5, 5.0)  # points, tried in turn until the legend fits
SWATCH = (6.0, 3.2)  # mm
PT = 25.4 / 72  # mm per point


def mm(fig: Figure) -> Transform:
    """Millimetres from the sheet's lower left corner to display units."""
    return Affine2D().scale(1 / 25.4) + fig.dpi_scale_trans


def text_mm(text: str, size: float) -> tuple[float, float]:
    """A line's width and height in mm, set at ``size`` points."""
    return text_width(text, size) * PT, line_height(size) * PT


def wrap(text: str, width_mm: float, size: float) -> list[str]:
    """Break ``text`` into lines no wider than ``width_mm``: between Chinese characters, or at spaces."""
    lines: list[str] = []
    line = ""
    for token in _tokens(text):
        trial = line + token
        if line and text_mm(trial, size)[0] > width_mm:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line = trial
    if line.strip():
        lines.append(line.rstrip())
    return lines


# Line-breaking rules of Chinese typesetting: these never begin a line, and these never end one.
NO_LINE_START = set("，。、；：？！）》」』”’・·%")
NO_LINE_END = set("（《「『“‘")


def _tokens(text: str) -> list[str]:
    """The pieces a line may break between: a word with its following space, each CJK character (or full-width
    mark) on its own; a closing mark stays with what it follows, an opening mark with what follows it."""
    pieces: list[str] = []
    word = ""
    for ch in text:
        if ord(ch) > 0x2E7F or ch in NO_LINE_START or ch in NO_LINE_END:
            if word:
                pieces.append(word)
                word = ""
            pieces.append(ch)
        else:
            word += ch
            if ch == " ":  # a no-break space (U+00A0) keeps "1:600 000" whole
                pieces.append(word)
                word = ""
    if word:
        pieces.append(word)
    out: list[str] = []
    for piece in pieces:
        if out and (piece in NO_LINE_START or out[-1][-1] in NO_LINE_END):
            out[-1] += piece
        else:
            out.append(piece)
    return out


def borders(fig: Figure, lay: Layout) -> None:
    t = mm(fig)
    x, y, w, h = lay.neat
    fig.add_artist(Rectangle((x, y), w, h, transform=t, fill=False, linewidth=1.4, edgecolor=INK, gid="neat-line"))
    fig.add_artist(Rectangle((x + 1.2, y + 1.2), w - 2.4, h - 2.4, transform=t, fill=False, linewidth=0.4,
                             edgecolor=INK))
    for x0, y0, x1, y1 in lay.dividers:
        fig.add_artist(Line2D([x0, x1], [y0, y1], transform=t, linewidth=0.4, color=SOFT))


def title(fig: Figure, lay: Layout, text: str, subtitle: str) -> None:
    t = mm(fig)
    x, y, w, h = lay.title
    size = _fitting(text, 17.0 * lay.k, w)
    fig.text(x + w / 2, y + h * 0.62, text, transform=t, ha="center", va="baseline", color=INK,
             fontproperties=font(size), gid="title")
    sub = _fitting(subtitle, 9.0 * lay.k, w)
    fig.text(x + w / 2, y + h * 0.18, subtitle, transform=t, ha="center", va="baseline", color=SOFT,
             fontproperties=font(sub), gid="subtitle")


def _fitting(text: str, size: float, width_mm: float) -> float:
    """``size``, or the size at which ``text`` just fits ``width_mm``."""
    w, _ = text_mm(text, size)
    return size if w <= width_mm else size * width_mm / w * 0.98


def notes(fig: Figure, rect: Rect, lines: Sequence[tuple[str, str]], size: float) -> None:
    """Lines from the top of ``rect`` down; each (gid, text)."""
    t = mm(fig)
    x, y, _, h = rect
    step = size * 1.45 * 25.4 / 72
    for i, (gid, line) in enumerate(lines):
        fig.text(x, y + h - (i + 0.8) * step, line, transform=t, ha="left", va="baseline", color=SOFT,
                 fontproperties=font(size), gid=gid)


def notes_height(count: int, size: float) -> float:
    return (count + 0.3) * size * 1.45 * 25.4 / 72


def legend(fig: Figure, lay: Layout, heading: str,
           groups: Sequence[tuple[str, Sequence[tuple[Symbol, str]]]]) -> float:
    """Draw the legend in its box, in columns, at the largest type that fits; answer that type size."""
    t = mm(fig)
    x, y, w, h = lay.legend
    _, head_h = text_mm(heading, 8.5 * lay.k)
    fig.text(x, y + h - head_h, heading, transform=t, fontproperties=font(8.5 * lay.k), color=INK, va="baseline",
             gid="legend")
    rows: list[tuple[Symbol | None, str, str]] = []  # (symbol, text, "group" or "entry")
    for group, entries in groups:
        if entries:
            rows.append((None, group, "group"))
            rows += [(symbol, label, "entry") for symbol, label in entries]
    sw, sh = SWATCH[0] * lay.k, SWATCH[1] * lay.k
    top = y + h - head_h - 2.0
    for size in (s * lay.k for s in LEGEND_SIZES):
        step = size * 1.75 * 25.4 / 72
        per_column = max(1, int((top - y) // step))
        columns = _columns(rows, per_column)
        widths = [max((text_mm(label, size)[0] + (0 if kind == "group" else sw + 1.5))
                      for _, label, kind in column) for column in columns]
        if sum(widths) + 3.0 * (len(widths) - 1) <= w or size == LEGEND_SIZES[-1] * lay.k:
            break
    cx = x
    for column, width in zip(columns, widths):
        for i, (symbol, label, kind) in enumerate(column):
            cy = top - (i + 0.5) * step
            if kind == "group":
                fig.text(cx, cy, label, transform=t, fontproperties=font(size), color=INK, va="center",
                         gid="legend-group")
                continue
            _swatch(fig, t, symbol, cx, cy, sw, sh)
            fig.text(cx + sw + 1.5, cy, label, transform=t, fontproperties=font(size), color=INK, va="center",
                     gid="legend-entry")
        cx += width + 3.0
    return size


def _columns(rows: list[Any], per_column: int) -> list[list[Any]]:
    """Rows cut into columns of at most ``per_column``: a group starts a new column rather than break, unless it
    is longer than a column; a group's heading never ends a column."""
    groups: list[list[Any]] = []
    for row in rows:
        if row[2] == "group" or not groups:
            groups.append([])
        groups[-1].append(row)
    columns: list[list[Any]] = [[]]
    for group in groups:
        room = per_column - len(columns[-1])
        if len(group) > room and columns[-1] and len(group) <= per_column:
            columns.append([])
        for row in group:
            if len(columns[-1]) >= per_column:
                columns.append([])
            columns[-1].append(row)
    for i in range(len(columns) - 1):
        if columns[i] and columns[i][-1][2] == "group":
            columns[i + 1].insert(0, columns[i].pop())
    return [c for c in columns if c]


def _swatch(fig: Figure, t: Transform, symbol: Symbol, x: float, cy: float, w: float, h: float) -> None:
    p = symbol.props
    if symbol.kind == "fill":
        fig.add_artist(Rectangle((x, cy - h / 2), w, h, transform=t, facecolor=p["facecolor"],
                                 edgecolor=p["edgecolor"], linewidth=max(p["linewidth"], 0.5),
                                 linestyle=p["linestyle"]))
    elif symbol.kind == "line":
        fig.add_artist(Line2D([x, x + w], [cy, cy], transform=t, color=p["color"], linewidth=max(p["linewidth"], 1.0),
                              linestyle=p["linestyle"]))
    else:
        fig.add_artist(Line2D([x + w / 2], [cy], transform=t, **p))


def inset(fig: Figure, lay: Layout, heading: str, districts: gpd.GeoSeries, ground: Ground) -> Axes:
    """The locator: Ningbo's districts with the main map's frame drawn on them."""
    x, y, w, h = lay.inset
    _, head_h = text_mm(heading, 7.5 * lay.k)
    fig.text(x, y + h - head_h, heading, transform=mm(fig), fontproperties=font(7.5 * lay.k), color=INK,
             va="baseline", gid="locator")
    box = (x, y, w, h - head_h - 1.5)
    ax = fig.add_axes((box[0] / lay.width, box[1] / lay.height, box[2] / lay.width, box[3] / lay.height))
    ax.set_axis_off()
    districts.plot(ax=ax, facecolor="#efe9da", edgecolor="#9a9a9a", linewidth=0.3)
    bx0, by0, bx1, by1 = districts.total_bounds
    fx0, fy0, fx1, fy1 = min(bx0, ground.x0), min(by0, ground.y0), max(bx1, ground.x1), max(by1, ground.y1)
    _fit_limits(ax, (fx0, fy0, fx1, fy1), box[2] / box[3], 0.06)
    ax.add_patch(Rectangle((ground.x0, ground.y0), ground.x1 - ground.x0, ground.y1 - ground.y0, fill=False,
                           edgecolor="#c62828", linewidth=0.9))
    for spine in ("left", "right", "top", "bottom"):
        ax.spines[spine].set_visible(True)
    return ax


def _fit_limits(ax: Axes, bounds: tuple[float, float, float, float], aspect: float, pad: float) -> None:
    """Limits showing ``bounds`` at one scale on both axes in a box of ``aspect`` (width / height)."""
    x0, y0, x1, y1 = bounds
    w, h = (x1 - x0) * (1 + 2 * pad), (y1 - y0) * (1 + 2 * pad)
    if w / h < aspect:
        w = h * aspect
    else:
        h = w / aspect
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ax.set_xlim(cx - w / 2, cx + w / 2)
    ax.set_ylim(cy - h / 2, cy + h / 2)


def north_arrow(fig: Figure, at: tuple[float, float], size: float, angle: float, label: str) -> Rect:
    """A north arrow centred on ``at`` (mm), ``size`` mm tall, turned ``angle`` degrees clockwise to true
    north; answers the box it takes."""
    t = mm(fig)
    cx, cy = at
    r = math.radians(-angle)

    def turn(px: float, py: float) -> tuple[float, float]:
        return cx + px * math.cos(r) - py * math.sin(r), cy + px * math.sin(r) + py * math.cos(r)

    half = size / 2
    tip, base_l, base_r, notch = (0, half * 0.55), (-half * 0.32, -half * 0.55), (half * 0.32, -half * 0.55), \
        (0, -half * 0.25)
    fig.add_artist(Polygon([turn(*tip), turn(*base_l), turn(*notch)], closed=True, transform=t, facecolor=INK,
                           edgecolor=INK, linewidth=0.5, gid="north-arrow"))
    fig.add_artist(Polygon([turn(*tip), turn(*notch), turn(*base_r)], closed=True, transform=t, facecolor="white",
                           edgecolor=INK, linewidth=0.5))
    lx, ly = turn(0, half * 0.62)
    fig.text(lx, ly, label, transform=t, ha="center", va="bottom", color=INK, fontproperties=font(size * 1.1),
             gid="north-label")
    return (cx - half * 0.6, cy - half * 0.6, half * 1.2, size * 1.05)


GRATICULE_MINUTES = (60, 30, 20, 15, 10, 5, 2, 1)  # steps between ticks, coarse to fine


def graticule(fig: Figure, lay: Layout, ground: Ground) -> None:
    """Longitude ticks along the frame's bottom and top, latitude ticks along its left and right, labelled
    (121°30′E, 29°50′N) outside the bottom and left edges: where a reader takes coordinates off the sheet. The
    meridians are not quite vertical in the projection, so each tick sits where its meridian meets that edge."""
    x, y, w, h = lay.map
    tick, size = 1.3 * lay.k, 5.5 * lay.k
    xs = np.linspace(ground.x0, ground.x1, 200)
    ys = np.linspace(ground.y0, ground.y1, 200)
    for edge_y, inward, labelled in ((ground.y0, tick, True), (ground.y1, -tick, False)):
        lon = np.asarray(to_lonlat(xs, np.full_like(xs, edge_y))[0])
        for minutes, share in _ticks(lon, w):
            px, py = x + share * w, y if labelled else y + h
            fig.add_artist(Line2D([px, px], [py, py + inward], transform=mm(fig), linewidth=0.5, color=INK))
            if labelled:
                fig.text(px, y - 0.8, _dms(minutes, "E", "W"), transform=mm(fig), ha="center", va="top",
                         fontproperties=font(size), color=SOFT, gid="graticule")
    for edge_x, inward, labelled in ((ground.x0, tick, True), (ground.x1, -tick, False)):
        lat = np.asarray(to_lonlat(np.full_like(ys, edge_x), ys)[1])
        for minutes, share in _ticks(lat, h):
            px, py = x if labelled else x + w, y + share * h
            fig.add_artist(Line2D([px, px + inward], [py, py], transform=mm(fig), linewidth=0.5, color=INK))
            if labelled:
                fig.text(x - 0.8, py, _dms(minutes, "N", "S"), transform=mm(fig), rotation=90, ha="right",
                         va="center", fontproperties=font(size), color=SOFT, gid="graticule")


def _ticks(degrees: np.ndarray, length_mm: float) -> list[tuple[int, float]]:
    """(whole minutes, share of the edge) of the ticks along an edge whose degrees rise as ``degrees``; none in
    the corners, where a label would run into the other edge's."""
    step = _step(float(degrees[0]), float(degrees[-1]), length_mm)
    first = math.ceil(degrees[0] * 60 / step) * step
    shares = np.linspace(0.0, 1.0, len(degrees))
    out = []
    for minutes in range(int(first), math.floor(degrees[-1] * 60) + 1, step):
        share = float(np.interp(minutes / 60, degrees, shares))
        if 0.03 < share < 0.97:
            out.append((minutes, share))
    return out


def _step(a: float, b: float, length_mm: float) -> int:
    """Minutes between ticks: the finest step leaving at least 35 mm between them."""
    span = abs(b - a) * 60
    for step in reversed(GRATICULE_MINUTES):
        if span / step * 35.0 <= length_mm:
            return step
    return GRATICULE_MINUTES[0]


def _dms(minutes: int, positive: str, negative: str) -> str:
    m = abs(minutes)
    return f"{m // 60}°{m % 60:02d}′{positive if minutes >= 0 else negative}"


def scale_bar(ax: Axes, size: float) -> ScaleBar:
    """A scale bar in km at the map's lower left, measured in the map's metres (true: see maps.printmap.frame)."""
    bar = ScaleBar(1, "m", location="lower left", length_fraction=0.22, width_fraction=0.008, box_alpha=0.85,
                   color=INK, scale_loc="top", border_pad=0.6,
                   font_properties={"fname": str(FONT_PATH), "size": size})  # it takes no FontProperties
    bar.set_gid("scale-bar")
    ax.add_artist(bar)
    return bar
