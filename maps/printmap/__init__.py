"""Print maps: the overview, an industry or a feature as a cartographic sheet (PNG, PDF or SVG) for reports.

Built with matplotlib and GeoPandas from ``geo`` objects, styled and worded like the web maps (maps.style,
maps.i18n); no web code. ``render(layers, kind, subject, PrintOptions(...))`` answers the bytes,
``write(..., path)`` writes them atomically; ``PrintError`` names a bad option, ``FontMissing`` a machine
without the CJK font (Debian's fonts-wqy-microhei).
"""

from maps.printmap.fonts import FontMissing
from maps.printmap.options import DEFAULT_DPI, FORMATS, PrintError, PrintOptions, parse_dpi
from maps.printmap.render import KINDS, PrintMap, render, write

__all__ = ["DEFAULT_DPI", "FORMATS", "KINDS", "FontMissing", "PrintError", "PrintMap", "PrintOptions", "parse_dpi",
           "render", "write"]
