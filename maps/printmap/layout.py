"""Where each part of the sheet goes, in millimetres from the sheet's lower left corner.

Portrait: title band on top, the map, then a band with the legend and the locator inset, and the notes at the
foot. Landscape: title band on top, the map on the left, a column on the right with legend, inset and notes.
A3 sets the same sheet with everything 1.2 times larger, and more map.
"""

from __future__ import annotations

from dataclasses import dataclass

Rect = tuple[float, float, float, float]  # x, y, width, height (mm)

MARGIN = 10.0  # paper edge to the neat line
PAD = 4.0  # neat line to what is inside it, and between parts
TICKS = 3.0  # kept left of and below the map frame for its longitude and latitude labels


@dataclass(frozen=True)
class Layout:
    width: float
    height: float
    k: float  # type and furniture scale: 1 on A4, 1.2 on A3
    neat: Rect  # the sheet's border
    title: Rect
    map: Rect
    legend: Rect
    inset: Rect
    notes: Rect
    dividers: tuple[tuple[float, float, float, float], ...]  # lines (x0, y0, x1, y1) between the parts


def layout(width: float, height: float, notes_height: float) -> Layout:
    """The parts of a ``width`` x ``height`` mm sheet whose notes need ``notes_height`` mm (at the scale
    ``scale_of(width, height)`` gives)."""
    k = scale_of(width, height)
    x0, y0, x1, y1 = MARGIN, MARGIN, width - MARGIN, height - MARGIN
    title_h = 20.0 * k
    title = (x0 + PAD, y1 - title_h, x1 - x0 - 2 * PAD, title_h - PAD / 2)
    top = y1 - title_h
    if height >= width:
        notes = (x0 + PAD, y0 + PAD / 2, x1 - x0 - 2 * PAD, notes_height)
        band_h = 50.0 * k
        band_y = notes[1] + notes_height + PAD
        inset_w = 46.0 * k
        inset = (x1 - PAD - inset_w, band_y, inset_w, band_h)
        legend = (x0 + PAD, band_y, x1 - x0 - 3 * PAD - inset_w, band_h)
        map_y = band_y + band_h + PAD
        map_rect = (x0 + PAD + TICKS, map_y + TICKS, x1 - x0 - 2 * PAD - TICKS, top - PAD - map_y - TICKS)
        dividers = ((x0, top, x1, top), (x0, map_y - PAD / 2, x1, map_y - PAD / 2),
                    (x0, band_y - PAD / 2, x1, band_y - PAD / 2), (inset[0] - PAD / 2, band_y - PAD / 2,
                                                                inset[0] - PAD / 2, map_y - PAD / 2))
    else:
        col_w = 80.0 * k
        col_x = x1 - PAD - col_w
        notes = (col_x, y0 + PAD / 2, col_w, notes_height)
        inset_h = 46.0 * k
        inset = (col_x, notes[1] + notes_height + PAD, col_w, inset_h)
        legend_y = inset[1] + inset_h + PAD
        legend = (col_x, legend_y, col_w, top - PAD - legend_y)
        map_rect = (x0 + PAD + TICKS, y0 + PAD + TICKS, col_x - x0 - 2 * PAD - TICKS, top - 2 * PAD - y0 - TICKS)
        dividers = ((x0, top, x1, top), (col_x - PAD / 2, y0, col_x - PAD / 2, top),
                    (col_x - PAD / 2, legend_y - PAD / 2, x1, legend_y - PAD / 2),
                    (col_x - PAD / 2, inset[1] - PAD / 2, x1, inset[1] - PAD / 2))
    return Layout(width, height, k, (x0, y0, x1 - x0, y1 - y0), title, map_rect, legend, inset, notes, dividers)


def scale_of(width: float, height: float) -> float:
    return 1.2 if min(width, height) > 250 else 1.0


def notes_width(width: float, height: float) -> float:
    """How wide the notes are set, to wrap them before the layout is made."""
    k = scale_of(width, height)
    if height >= width:
        return width - 2 * MARGIN - 2 * PAD
    return 80.0 * k
