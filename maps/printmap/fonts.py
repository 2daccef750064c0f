"""The CJK font the print maps are set in, read from Debian's fonts-wqy-microhei by its path.

WenQuanYi Micro Hei has TrueType outlines (glyf), which matplotlib subsets and embeds in a PDF as Type 42;
Noto CJK's CFF outlines it cannot embed. It covers Latin too, so one face sets both languages. The machine's
fontconfig is never asked: a machine without CJK fonts must print the same sheet.
"""

from __future__ import annotations

import functools
from pathlib import Path

from matplotlib import font_manager
from matplotlib.font_manager import FontProperties
from matplotlib.ft2font import LoadFlags

FONT_PATH = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
FONT_PACKAGE = "fonts-wqy-microhei"


class FontMissing(RuntimeError):
    """The CJK font is not installed: a fault of the machine, not of the request."""


@functools.cache
def cjk_font() -> FontProperties:
    """The font as matplotlib properties (registered once); FontMissing says how to install it."""
    if not FONT_PATH.is_file():
        raise FontMissing(f"print maps need the CJK font {FONT_PATH}, which is missing; install it with "
                          f"`apt-get install {FONT_PACKAGE}`")
    font_manager.fontManager.addfont(str(FONT_PATH))
    return FontProperties(fname=str(FONT_PATH))


def font(size: float, weight: str = "normal") -> FontProperties:
    """The CJK font at ``size`` points (a copy: matplotlib's text keeps a reference to what it is given)."""
    props = cjk_font().copy()
    props.set_size(size)
    props.set_weight(weight)
    return props


def text_width(text: str, size: float) -> float:
    """Width in points of one line set at ``size`` points: the sum of the glyphs' advances. What matplotlib's
    renderer answers to within a point (CJK has no kerning), at a hundredth of its cost, which matters when
    wrapping the notes and sizing every label."""
    return sum(_advance(ch) for ch in text) * size


def line_height(size: float) -> float:
    """Height in points of a line at ``size``: ascender to descender."""
    face = font_manager.get_font(str(FONT_PATH))
    return (face.ascender - face.descender) / face.units_per_EM * size


@functools.cache
def _advance(ch: str) -> float:
    """A character's advance as a share of the em."""
    face = font_manager.get_font(str(FONT_PATH))
    glyph = face.load_glyph(face.get_char_index(ord(ch)), LoadFlags.NO_SCALE)
    return float(glyph.horiAdvance) / face.units_per_EM
