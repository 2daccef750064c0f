"""The CJK web font every page and map uses, so Chinese renders on a machine with no Chinese font installed.

Noto Sans SC from the npm package @fontsource/noto-sans-sc: its stylesheet splits the font into ~100 files by
unicode-range, so a browser fetches only the few that the text on screen needs. A page that links its assets
(the service, a map with a folder beside it) links that stylesheet as is. A self-contained map cannot link, and
inlining every file would add 5 MB, so ``inline_css`` writes the same @font-face rules for the characters the
page holds only, each file cut down to them with fontTools (~170 KB for the overview's 600 characters).
"""

from __future__ import annotations

import base64
import io
import re
from functools import cache, lru_cache

from fontTools import subset
from fontTools.ttLib import TTFont

FAMILY = "Noto Sans SC"
STYLESHEET = "@fontsource/noto-sans-sc/400.css"  # regular only: browsers embolden it for bold text
# A CSS font stack with the web font first; the system fonts only if the stylesheet could not load.
STACK = f'"{FAMILY}", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", system-ui, sans-serif'

_RULE = re.compile(r"@font-face\s*\{[^}]*\}")
_WOFF2 = re.compile(r"url\(\./(files/[^)]+)\.woff2\)")
_RANGE = re.compile(r"unicode-range:\s*([^;]+);")


@cache
def faces() -> tuple[tuple[str, str, tuple[tuple[int, int], ...]], ...]:
    """(rule without src, file stem under the package, code point ranges) for each @font-face of the sheet."""
    from maps.assets import asset_path  # maps.assets lists this module's stylesheet in its manifest

    text = asset_path(STYLESHEET).read_text(encoding="utf-8")
    out = []
    for rule in _RULE.findall(text):
        file, ranges = _WOFF2.search(rule), _RANGE.search(rule)
        if file is None or ranges is None:
            raise ValueError(f"{STYLESHEET}: an @font-face without a woff2 file or a unicode-range: {rule[:80]}")
        body = re.sub(r"\s*src:[^;]+;", "", rule)
        out.append((body, file.group(1), _parse_ranges(ranges.group(1))))
    return tuple(out)


def _parse_ranges(text: str) -> tuple[tuple[int, int], ...]:
    out = []
    for part in text.split(","):
        first, _, last = part.strip().removeprefix("U+").removeprefix("u+").partition("-")
        out.append((int(first, 16), int(last or first, 16)))
    return tuple(out)


def inline_css(text: str) -> str:
    """@font-face rules, fonts as data: URIs, covering every character of ``text`` that the font has."""
    return _inline_css(frozenset(ord(c) for c in text if c >= " "))


@lru_cache(maxsize=16)  # the same map drawn again (a test, the benchmark) reuses its fonts
def _inline_css(points: frozenset[int]) -> str:
    from maps.assets import asset_path, media_type

    rules = []
    for body, stem, ranges in faces():
        wanted = sorted(p for p in points if any(a <= p <= b for a, b in ranges))
        if not wanted:
            continue
        # The .woff files of the package hold the same glyphs as the .woff2 ones, and need no Brotli to read.
        font = TTFont(asset_path(f"@fontsource/noto-sans-sc/{stem}.woff"))
        options = subset.Options(flavor="woff", layout_features=["*"], name_IDs=["*"], notdef_outline=True)
        cutter = subset.Subsetter(options)
        cutter.populate(unicodes=wanted)
        cutter.subset(font)
        out = io.BytesIO()
        font.save(out)
        data = base64.b64encode(out.getvalue()).decode("ascii")
        src = f'  src: url("data:{media_type(".woff")};base64,{data}") format("woff");'
        rules.append(f"{body.rstrip().removesuffix('}').rstrip()}\n{src}\n}}")
    return "\n".join(rules)
