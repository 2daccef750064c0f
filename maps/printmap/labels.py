"""Greedy label placement: each label takes the first free spot near its anchor, or none; no two labels overlap.

Works on boxes in any one unit (the sheet's display points). A label tries, in order of preference, to sit
centred on each of its anchors (districts: points well inside them) and then beside them at growing
distances in eight directions; a spot is free when it lies inside the frame and touches no obstacle (the
scale bar, the north arrow, a platform's symbol), no label placed before it and no leader line, and when its
own leader line would cross no label. Among free spots the one covering least of the ``avoid`` boxes (other
features, which a label may cross but should not hide) wins, the earlier on ties. A label set away from its
anchor gets a leader line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Point = tuple[float, float]
# east, west, north, south, then the diagonals: beside a feature reads better than above it
DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1))


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: Box, pad: float = 0.0) -> bool:
        return (self.x0 < other.x1 + pad and other.x0 < self.x1 + pad
                and self.y0 < other.y1 + pad and other.y0 < self.y1 + pad)

    def within(self, frame: Box) -> bool:
        return frame.x0 <= self.x0 and self.x1 <= frame.x1 and frame.y0 <= self.y0 and self.y1 <= frame.y1

    def overlap_area(self, other: Box) -> float:
        w = min(self.x1, other.x1) - max(self.x0, other.x0)
        h = min(self.y1, other.y1) - max(self.y0, other.y0)
        return w * h if w > 0 and h > 0 else 0.0

    @property
    def centre(self) -> Point:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2

    def nearest_point(self, p: Point) -> Point:
        return min(max(p[0], self.x0), self.x1), min(max(p[1], self.y0), self.y1)

    def contains(self, p: Point) -> bool:
        return self.x0 <= p[0] <= self.x1 and self.y0 <= p[1] <= self.y1


def crosses(a: Point, b: Point, box: Box, samples: int = 16) -> bool:
    """Whether the segment a-b passes through ``box`` (sampled: leader lines are short, boxes are text)."""
    return any(box.contains((a[0] + (b[0] - a[0]) * i / samples, a[1] + (b[1] - a[1]) * i / samples))
               for i in range(1, samples))


@dataclass(frozen=True)
class Request:
    key: str
    anchors: Sequence[Point]  # best first
    size: tuple[float, float]  # the label's width and height
    clearance: float = 0.0  # distance kept from the anchor when beside it (the symbol's radius)
    centred: bool = False  # may sit centred on an anchor (a label inside its area)
    rings: int = 8  # how many distances out to try
    leaders: bool = True  # away from its anchor, a line points back to it (not for a name inside its area)


@dataclass(frozen=True)
class Placement:
    key: str
    box: Box
    anchor: Point
    leader: bool  # far enough from its anchor to need a line to it


def candidates(request: Request, step: float) -> list[tuple[Box, Point, bool]]:
    """Every spot the label may take, in order of preference, with the anchor it belongs to and its leader flag."""
    w, h = request.size
    out = []
    for ax, ay in request.anchors:
        if request.centred:
            out.append((Box(ax - w / 2, ay - h / 2, ax + w / 2, ay + h / 2), (ax, ay), False))
    for ring in range(request.rings):
        d = request.clearance + ring * step
        for ax, ay in request.anchors:
            for dx, dy in DIRECTIONS:
                scale = 0.71 if dx and dy else 1.0  # the diagonals at the same distance
                x = ax + dx * d * scale
                y = ay + dy * d * scale
                x0 = x if dx > 0 else x - w if dx < 0 else x - w / 2
                y0 = y if dy > 0 else y - h if dy < 0 else y - h / 2
                out.append((Box(x0, y0, x0 + w, y0 + h), (ax, ay), request.leaders and ring >= 1))
    return out


def place(requests: Sequence[Request], frame: Box, obstacles: Sequence[Box] = (),
          avoid: Sequence[tuple[str, Box]] = (), step: float = 6.0,
          pad: float = 1.0) -> tuple[list[Placement], list[str]]:
    """Place the labels in the order given; answer the placements and the keys of those with no free spot.

    ``avoid`` holds (key, box) of features; a label is not kept off its own feature.
    """
    taken = list(obstacles)
    leaders: list[tuple[Point, Point]] = []
    placed: list[Placement] = []
    dropped: list[str] = []
    for request in requests:
        best: tuple[float, Box, Point, bool] | None = None
        for box, anchor, leader in candidates(request, step):
            if not box.within(frame) or any(box.overlaps(o, pad) for o in taken):
                continue
            if leader and any(crosses(anchor, box.nearest_point(anchor), p.box) for p in placed):
                continue  # a leader line through another label would tie it to the wrong name
            if any(crosses(a, b, box) for a, b in leaders):
                continue  # nor may a label sit on another's leader line
            area = (box.x1 - box.x0) * (box.y1 - box.y0) or 1.0
            cost = sum(box.overlap_area(a) for key, a in avoid if key != request.key) / area
            if best is None or cost < best[0]:
                best = (cost, box, anchor, leader)
            if cost == 0.0:
                break
        if best is None:
            dropped.append(request.key)
            continue
        _, box, anchor, leader = best
        taken.append(box)
        placed.append(Placement(request.key, box, anchor, leader))
        if leader:
            leaders.append((anchor, box.nearest_point(anchor)))
    return placed, dropped
