"""Results as rows of one table: what was measured, ours against a peer, their ratio and the target."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Row:
    section: str  # serving, locate, maps, export
    case: str  # what was done, e.g. "subparks items?limit=100"
    measure: str  # e.g. "req/s", "p99 ms", "s", "MB"
    ours: float
    peer: str = ""  # the peer's name; empty where there is no peer (maps, export)
    peer_value: float = math.nan
    target: str = ""  # e.g. ">=10" (ours/peer at least 10) or "<1.5" (ours below 1.5)
    note: str = ""

    @property
    def ratio(self) -> float:
        """ours/peer, as the issue asks: above 1 is better for rates, below 1 for times and sizes."""
        if not self.peer or not self.peer_value or math.isnan(self.peer_value):
            return math.nan
        return self.ours / self.peer_value

    @property
    def met(self) -> bool | None:
        """Whether the target holds: on the ratio where there is a peer, else on our own value."""
        if not self.target:
            return None
        op, limit = (self.target[:2], self.target[2:]) if self.target[:2] in (">=", "<=") else \
            (self.target[:1], self.target[1:])
        value = self.ratio if self.peer else self.ours
        if math.isnan(value):
            return False
        return {">=": value >= float(limit), "<=": value <= float(limit),
                ">": value > float(limit), "<": value < float(limit)}[op]

    def as_dict(self) -> dict[str, Any]:
        """The row for JSON, which has no NaN: a missing number is null."""
        values = {**asdict(self), "ratio": self.ratio, "met": self.met}
        return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in values.items()}


def _number(value: float) -> str:
    if math.isnan(value):
        return "–"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 0.01:
        return f"{value:.3g}"
    return f"{value:.2g}"


HEADER = ("section", "case", "measure", "ours", "peer", "peer value", "ours/peer", "target", "met", "note")


def cells(row: Row) -> tuple[str, ...]:
    met = {None: "", True: "yes", False: "NO"}[row.met]
    ratio = "–" if math.isnan(row.ratio) else f"{row.ratio:.2f}" if row.ratio < 100 else f"{row.ratio:.0f}"
    return (row.section, row.case, row.measure, _number(row.ours), row.peer, _number(row.peer_value),
            ratio, row.target, met, row.note)


def markdown(rows: list[Row]) -> str:
    """The rows as one GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def text(rows: list[Row]) -> str:
    """The rows as one plain-text table with aligned columns, for the terminal."""
    table = [HEADER, *(cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in table) + "\n"
