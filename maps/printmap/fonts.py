"""The CJK font the print maps are set in, read from Debian's fonts-wqy-microhei by its path.

WenQuanYi Micro Hei has TrueType outlines (glyf), which matplotlib subsets and embeds in a PDF as Type 42;
Noto CJK's CFF outlines it cannot embed. It covers Latin too, so one face sets both languages. The machine's
fontconfig is never asked: a machine without CJK fonts must print the same sheet.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont
from matplotlib import font_manager
from matplotlib.font_manager import FontProperties
from matplotlib.ft2font import LoadFlags

FONT_PATH = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
FONT_PACKAGE = "fonts-wqy-microhei"


ASCII = "".join(chr(c) for c in range(32, 127))  # always kept: the scale bar writes its label as it draws
SUBSETS_KEPT = 16
_subsets: OrderedDict[frozenset[str], Path] = OrderedDict()
_subsets_lock = threading.Lock()


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


def missing(text: str) -> list[str]:
    """The characters of ``text`` the font has no glyph for (they would print as empty boxes)."""
    face = font_manager.get_font(str(cjk_font().get_file()))
    return sorted({ch for ch in text if face.get_char_index(ord(ch)) == 0})


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


def subset_file(text: str) -> Path:
    """The font cut down to the characters of ``text`` (and ASCII), as a TrueType file, made once per set.

    matplotlib embeds a font in a PDF by reading the whole file again for every 256 glyphs it uses, and
    WenQuanYi's 49,531 glyphs take ~0.5 s a read; a sheet set in this cut-down copy embeds in milliseconds."""
    chars = frozenset(text) | frozenset(ASCII)
    with _subsets_lock:
        if chars in _subsets:
            _subsets.move_to_end(chars)
            return _subsets[chars]
        options = subset.Options(font_number=0, notdef_outline=True, hinting=False, name_IDs=["*"],
                                 layout_features=[], glyph_names=False)
        options.drop_tables += ["FFTM"]  # FontForge's timestamp, which fontTools cannot subset
        face = TTFont(str(FONT_PATH), fontNumber=0, lazy=True)
        subsetter = subset.Subsetter(options)
        subsetter.populate(text="".join(sorted(chars)))
        subsetter.subset(face)
        path = _folder() / f"wqy-microhei-{len(_subsets) + 1}-{abs(hash(chars)):x}.ttf"
        face.save(str(path))
        _subsets[chars] = path
        while len(_subsets) > SUBSETS_KEPT:
            _subsets.popitem(last=False)[1].unlink(missing_ok=True)
        return path


@functools.cache
def _folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="nbgis-fonts-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder
