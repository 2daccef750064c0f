"""Which boundaries are schematic and which surveyed, counted from the features themselves.

Every area of the seed is schematic (drawn from the plan's words); an edit may replace one with a surveyed
boundary (``geometry_quality`` "surveyed", ``geometry_source`` naming where it came from). Exports, maps and pages
say what holds for the features they show, so one surveyed sub-park never makes a file call itself surveyed,
and no file calls every boundary schematic once one is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

SCHEMATIC = "schematic"
SURVEYED = "surveyed"


@dataclass(frozen=True)
class Boundaries:
    """How many of some features' boundaries are schematic and how many surveyed, and the surveyed ones' sources
    (each once, in the features' order). Features of neither quality (districts, platforms) are not counted."""

    schematic: int = 0
    surveyed: int = 0
    sources: tuple[str, ...] = ()
    surveyed_ids: tuple[str, ...] = ()

    @property
    def mixed(self) -> bool:
        """Whether anything is surveyed: then "every boundary is schematic" is no longer true."""
        return self.surveyed > 0


def _value(row: Mapping[Any, Any] | pd.Series, key: str) -> Any:
    v = row.get(key)
    return None if v is None or (isinstance(v, float) and pd.isna(v)) else v


def count(rows: Iterable[Mapping[Any, Any] | pd.Series]) -> Boundaries:
    """The boundaries of these features (dicts of properties, or a frame's rows)."""
    schematic = 0
    sources: dict[str, None] = {}
    surveyed: list[str] = []
    for row in rows:
        quality = _value(row, "geometry_quality")
        if quality == SCHEMATIC:
            schematic += 1
        elif quality == SURVEYED:
            surveyed.append(str(_value(row, "id")))
            source = _value(row, "geometry_source")
            if source:
                sources[str(source)] = None
    return Boundaries(schematic, len(surveyed), tuple(sources), tuple(surveyed))


def of_frame(frame: pd.DataFrame) -> Boundaries:
    """The boundaries of a layer's features (a frame without ``geometry_quality`` has none to count)."""
    if "geometry_quality" not in frame.columns:
        return Boundaries()
    columns = [c for c in ("id", "geometry_quality", "geometry_source") if c in frame.columns]
    return count(frame[columns].to_dict("records"))


def of_frames(frames: Iterable[pd.DataFrame]) -> Boundaries:
    parts = [of_frame(f) for f in frames]
    return Boundaries(sum(p.schematic for p in parts), sum(p.surveyed for p in parts),
                      tuple(dict.fromkeys(s for p in parts for s in p.sources)),
                      tuple(i for p in parts for i in p.surveyed_ids))


def summary(b: Boundaries) -> str:
    """'3 schematic, 1 surveyed (sources: ...)': what a file or a page says about its boundaries when not all
    are schematic."""
    text = f"{b.schematic} schematic, {b.surveyed} surveyed"
    return f"{text} (sources: {'; '.join(b.sources)})" if b.sources else text
