"""The plan's text, for checking that every quoted fact stands on the lines it cites."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise
from pathlib import Path

_SOURCE_LINES = re.compile(r"lines? (\d+)(?:-(\d+))?")
_PAGE_NUMBER = re.compile(r"^\s*-\s*\d+\s*-\s*$")
_WS = re.compile(r"\s+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_CELL_GAP = re.compile(r"(?<=[\u4e00-\u9fff])\s+|\s+(?=[\u4e00-\u9fff])")
CLAUSE_MARKS = "，。；：、！？,;:"  # a quoted clause starts and ends at one of these or at a line's edge


# Words that bound a figure: 近 100 is not 100, 1000 人以上 is a floor.
QUALIFIERS_BEFORE = ("不少于", "不低于", "超过", "突破", "近", "约", "＞", "≥")  # ＞60 in 表 1
QUALIFIERS_AFTER = ("以上", "左右", "以内", "以下")
_BEFORE = re.compile("(?:" + "|".join(QUALIFIERS_BEFORE) + ")$")
_AFTER = re.compile("^(?:" + "|".join(QUALIFIERS_AFTER) + ")")


def qualifier_words(figure: str) -> list[str]:
    """The qualifiers a quoted figure carries, in order (['近'], ['以上'], [])."""
    f = squeeze(figure)
    return [w for w in QUALIFIERS_BEFORE if f.startswith(w)] + [w for w in QUALIFIERS_AFTER if f.endswith(w)]


def lost_qualifier(text: str, figure: str) -> str | None:
    """A qualifier printed right before or after `figure` in `text` that the figure leaves out."""
    f = squeeze(figure)
    at = text.find(f)
    while at >= 0:
        before, after = _BEFORE.search(text[:at]), _AFTER.search(text[at + len(f):])
        if before and not f.startswith(before.group()):
            return before.group()
        if after and not f.endswith(after.group()):
            return after.group()
        at = text.find(f, at + 1)
    return None


def squeeze(text: str) -> str:
    """Text with all white space removed: the PDF extraction breaks lines and spaces at random."""
    return _WS.sub("", text)


def cited_ranges(source: str) -> list[tuple[int, int]]:
    """Every 'lines A-B' (or 'line A') range named in a source string."""
    return [(int(a), int(b or a)) for a, b in _SOURCE_LINES.findall(source)]


@dataclass(frozen=True)
class PlanText:
    path: Path

    @cached_property
    def lines(self) -> list[str]:
        return self.path.read_text(encoding="utf-8").split("\n")

    def text(self, first: int, last: int) -> str:
        """Lines first..last (1-based, inclusive), page numbers dropped, white space removed."""
        kept = [ln for ln in self.lines[first - 1 : last] if not _PAGE_NUMBER.match(ln)]
        return squeeze("".join(kept))

    def flattened(self, first: int, last: int) -> tuple[str, set[int], set[int]]:
        """text(first, last), the positions where its lines meet (the PDF's line and table-cell
        boundaries), and those positions plus the edges of every clause mark (，。；：、…)."""
        kept = [ln for ln in self.lines[first - 1 : last] if not _PAGE_NUMBER.match(ln)]
        joints, pos = {0}, 0
        for ln in kept:
            for cell in _CELL_GAP.split(ln.strip()):  # a space beside a Han character parts table cells
                pos += len(squeeze(cell))
                joints.add(pos)
        kept = [squeeze(ln) for ln in kept]
        text = "".join(kept)
        edges = set(joints)
        for i, ch in enumerate(text):
            if ch in CLAUSE_MARKS:
                edges |= {i, i + 1}
        return text, joints, edges

    def quotes_clause(self, quote: str, source: str, max_pieces: int = 3) -> bool:
        """Whether `quote` is a whole clause (or run of clauses) of the lines `source` cites: it starts
        and ends at a clause mark or line boundary. Read across interleaved table cells, its pieces
        must meet at line boundaries."""
        wanted = squeeze(quote)
        if not wanted:
            return False
        for first, last in cited_ranges(source):
            if not self.valid_range(first, last):
                continue
            text, joints, edges = self.flattened(first, last)
            at = text.find(wanted)
            while at >= 0:
                if at in edges and at + len(wanted) in edges:
                    return True
                at = text.find(wanted, at + 1)
            runs = _pieces(wanted, text, max_pieces)
            if runs and len(runs) > 1 and runs[0][0] in edges and runs[-1][1] in edges and all(
                    end in joints and start in joints for (_, end), (start, _) in pairwise(runs)):
                return True
        return False

    def valid_range(self, first: int, last: int) -> bool:
        return 1 <= first <= last <= len(self.lines)

    def numbers(self, source: str) -> set[float]:
        """Every number printed on the lines a source cites."""
        found: set[float] = set()
        for first, last in cited_ranges(source):
            if self.valid_range(first, last):
                found |= {float(n) for n in _NUMBER.findall("\n".join(self.lines[first - 1 : last]))}
        return found

    def quotes(self, quote: str, source: str, max_pieces: int = 3) -> bool:
        """Whether `quote` stands on the lines `source` cites.

        Table cells of a flattened row can interleave (a page break splits the
        北仑 row), so a quote may be read in up to `max_pieces` runs, in order.
        """
        wanted = squeeze(quote)
        if not wanted:
            return False
        for first, last in cited_ranges(source):
            if self.valid_range(first, last) and _in_pieces(wanted, self.text(first, last), max_pieces):
                return True
        return False


def _in_pieces(wanted: str, text: str, max_pieces: int) -> bool:
    return _pieces(wanted, text, max_pieces) is not None


def _pieces(wanted: str, text: str, max_pieces: int) -> list[tuple[int, int]] | None:
    """Greedy: take the longest prefix of what is left that occurs after the previous run.
    The runs as (start, end) positions in `text`, or None."""
    pos = 0
    runs: list[tuple[int, int]] = []
    while wanted:
        if len(runs) >= max_pieces:
            return None
        lo, hi, found, best = 1, len(wanted), -1, 0
        # the longest prefix found at or after pos (binary search: a prefix of a match also matches)
        while lo <= hi:
            mid = (lo + hi) // 2
            at = text.find(wanted[:mid], pos)
            if at >= 0:
                found, best, lo = at, mid, mid + 1
            else:
                hi = mid - 1
        if found < 0:
            return None
        at = text.find(wanted[:best], pos)
        runs.append((at, at + best))
        pos, wanted = at + best, wanted[best:]
    return runs
