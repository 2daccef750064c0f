"""The nearest point of a set of boundaries, for millions of points at once, with GEOS's answer to the bit.

A grid of cells over the boundaries (in a projected plane, metres) lists for each cell the segments that can
be nearest to some point in it: those within d0 + 2h of the cell's centre, where d0 is the centre's distance to
the nearest segment and h the cell's half diagonal (a point p in the cell has its nearest segment s within
d0 + h of p, so within d0 + 2h of the centre). Each point is then measured against its cell's few candidates
in numpy: a cheap distance first, and GEOS's own formulas (Distance::pointToSegment, LineSegment::closestPoint)
on those that tie with the best, so the nearest point is the one ``shapely.shortest_line`` gives, bit for bit.
Points off the grid are left to the caller (an STRtree does those, as before).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

CELL_M = 1000.0  # cell side; 1 km: ~25 candidates per point, and a grid built in well under a second
MARGIN_M = 60_000.0  # how far past the boundaries the grid reaches (Ningbo's extent and more)
_SLACK_M = 1e-3  # widening of the candidate radius, far above float error, far below any segment's length
_LOW_SLACK_M = 0.5  # float32 rounding of the lower bounds (centimetres), with a wide margin
_BLOCK = 1 << 15  # points per block: their ~25 candidates each stay under ~50 MB


@dataclass(frozen=True, eq=False)
class SegmentGrid:
    ax: np.ndarray  # segment start and end, x and y, per segment, in the order of the boundaries' vertices
    ay: np.ndarray
    bx: np.ndarray
    by: np.ndarray
    owner: np.ndarray  # per segment, the caller's index of the shape it belongs to
    west: float
    south: float
    cols: int
    rows: int
    start: np.ndarray  # per cell (row-major), where its candidates begin in `members`; one more at the end
    members: np.ndarray  # segment indices, cell after cell
    tangent_d: np.ndarray  # per member (float32): its distance from the cell's centre, and the unit vector
    tangent_ux: np.ndarray  # from its nearest point to the centre: the lower bound d(c) + u.(p - c)
    tangent_uy: np.ndarray

    @classmethod
    def of(cls, lines: np.ndarray, owner: np.ndarray, cell_m: float = CELL_M,
           margin_m: float = MARGIN_M) -> SegmentGrid:
        """The grid of `lines` (linestrings in a plane), `owner` giving each line's shape."""
        ax, ay, bx, by, seg_owner = [], [], [], [], []
        for line, who in zip(lines, owner):
            xy = shapely.get_coordinates(line)
            ax.append(xy[:-1, 0])
            ay.append(xy[:-1, 1])
            bx.append(xy[1:, 0])
            by.append(xy[1:, 1])
            seg_owner.append(np.full(len(xy) - 1, who, dtype=np.intp))
        a_x, a_y, b_x, b_y = (np.concatenate(v) for v in (ax, ay, bx, by))
        segments = shapely.linestrings(np.stack([np.column_stack([a_x, a_y]), np.column_stack([b_x, b_y])], axis=1))
        west, south = min(a_x.min(), b_x.min()) - margin_m, min(a_y.min(), b_y.min()) - margin_m
        cols = int(np.ceil((max(a_x.max(), b_x.max()) + margin_m - west) / cell_m))
        rows = int(np.ceil((max(a_y.max(), b_y.max()) + margin_m - south) / cell_m))
        cx, cy = np.meshgrid(west + (np.arange(cols) + 0.5) * cell_m, south + (np.arange(rows) + 0.5) * cell_m)
        centres = shapely.points(cx.ravel(), cy.ravel())
        tree = shapely.STRtree(segments)
        _, d0 = tree.query_nearest(centres, return_distance=True, all_matches=False)
        reach = d0 + 2 * cell_m * np.sqrt(0.5) + _SLACK_M
        cell, member = tree.query(centres, predicate="dwithin", distance=reach)
        order = np.lexsort((member, cell))  # by cell, then in segment order (GEOS's order, for ties)
        cell, member = cell[order], member[order].astype(np.intp)
        start = np.searchsorted(cell, np.arange(rows * cols + 1))
        # The distance to a segment is convex, so above its tangent plane at the cell's centre c:
        # d(p) >= d(c) + u.(p - c), u the unit vector from the segment's nearest point to c. Kept per pair.
        ccx, ccy = cx.ravel()[cell], cy.ravel()[cell]
        qx, qy = _geos_closest_point(ccx, ccy, a_x[member], a_y[member], b_x[member], b_y[member])
        dist = np.hypot(ccx - qx, ccy - qy)
        on_it = dist < 1e-6  # the centre on the segment: no gradient; d(p) >= 0 >= -|p - c| instead
        with np.errstate(invalid="ignore", divide="ignore"):
            ux, uy = np.where(on_it, 0.0, (ccx - qx) / dist), np.where(on_it, 0.0, (ccy - qy) / dist)
        dist = np.where(on_it, -cell_m, dist)
        return cls(a_x, a_y, b_x, b_y, np.concatenate(seg_owner), float(west), float(south), cols, rows,
                   start.astype(np.intp), member, dist.astype(np.float32), ux.astype(np.float32),
                   uy.astype(np.float32))

    @property
    def cell_m(self) -> float:
        return CELL_M

    def cell_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Each point's cell, or -1 off the grid (NaN and infinity included)."""
        with np.errstate(invalid="ignore"):
            col = np.floor((x - self.west) / CELL_M)
            row = np.floor((y - self.south) / CELL_M)
            on = (col >= 0) & (col < self.cols) & (row >= 0) & (row < self.rows)
        return np.where(on, np.where(on, row, 0).astype(np.intp) * self.cols + np.where(on, col, 0).astype(np.intp),
                        -1)

    def nearest(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per point: the nearest segment's owner (-1 off the grid) and the nearest point on it (NaN off it)."""
        owner = np.full(len(x), -1, dtype=np.intp)
        near_x, near_y = np.full(len(x), np.nan), np.full(len(x), np.nan)
        cells = self.cell_of(x, y)
        on = np.flatnonzero(cells >= 0)
        for begin in range(0, len(on), _BLOCK):
            rows = on[begin:begin + _BLOCK]
            seg, nx, ny = self._nearest_in_cells(x[rows], y[rows], cells[rows])
            owner[rows], near_x[rows], near_y[rows] = self.owner[seg], nx, ny
        return owner, near_x, near_y

    def _nearest_in_cells(self, px: np.ndarray, py: np.ndarray, cells: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        first, counts = self.start[cells], self.start[cells + 1] - self.start[cells]
        offsets = np.cumsum(counts) - counts  # where each point's candidates begin
        point = np.repeat(np.arange(len(px)), counts)
        pair = np.arange(len(point)) - np.repeat(offsets - first, counts)  # index into members
        # Lower bounds from the tangent planes (float32: centimetres at these distances, and half the memory).
        row, col = np.divmod(cells, self.cols)
        dx = (px - (self.west + (col + 0.5) * CELL_M)).astype(np.float32)
        dy = (py - (self.south + (row + 0.5) * CELL_M)).astype(np.float32)
        low = self.tangent_d[pair] + self.tangent_ux[pair] * dx[point] + self.tangent_uy[pair] * dy[point]
        # The candidate of least lower bound, measured exactly, bounds the answer from above: only candidates
        # whose lower bound is under it can be nearer, and those are measured exactly too (GEOS's formulas).
        least = np.minimum.reduceat(low, offsets)
        probe = np.flatnonzero(low == least[point])
        probe = probe[np.r_[True, point[probe][1:] != point[probe][:-1]]]  # the first of each point
        seg = self.members[pair]
        upper = _geos_point_to_segment(px, py, self.ax[seg[probe]], self.ay[seg[probe]], self.bx[seg[probe]],
                                       self.by[seg[probe]])
        close = np.flatnonzero(low <= (upper + _LOW_SLACK_M).astype(np.float32)[point])
        exact = _geos_point_to_segment(px[point[close]], py[point[close]], self.ax[seg[close]],
                                       self.ay[seg[close]], self.bx[seg[close]], self.by[seg[close]])
        # The first of the smallest exact distances per point (GEOS keeps the first it meets on a tie).
        order = np.lexsort((close, exact, point[close]))
        chosen = close[order[np.r_[True, point[close][order][1:] != point[close][order][:-1]]]]
        nx, ny = _geos_closest_point(px, py, self.ax[seg[chosen]], self.ay[seg[chosen]], self.bx[seg[chosen]],
                                     self.by[seg[chosen]])
        return seg[chosen], nx, ny


def _geos_point_to_segment(px: np.ndarray, py: np.ndarray, ax: np.ndarray, ay: np.ndarray, bx: np.ndarray,
                           by: np.ndarray) -> np.ndarray:
    """GEOS's Distance::pointToSegment, operation for operation, so that ties break as GEOS breaks them."""
    dx, dy = bx - ax, by - ay
    len2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        r = ((px - ax) * dx + (py - ay) * dy) / len2
        s = ((ay - py) * dx - (ax - px) * dy) / len2
        to_a = np.sqrt((px - ax) * (px - ax) + (py - ay) * (py - ay))
        to_b = np.sqrt((px - bx) * (px - bx) + (py - by) * (py - by))
        out = np.abs(s) * np.sqrt(len2)
    out = np.where(r >= 1.0, to_b, out)
    return np.where((r <= 0.0) | ((ax == bx) & (ay == by)), to_a, out)


def _geos_closest_point(px: np.ndarray, py: np.ndarray, ax: np.ndarray, ay: np.ndarray, bx: np.ndarray,
                        by: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GEOS's LineSegment::closestPoint: the projection when it falls inside, else the nearer end."""
    dx, dy = bx - ax, by - ay
    with np.errstate(invalid="ignore", divide="ignore"):
        r = ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)
        r = np.where((px == ax) & (py == ay), 0.0, np.where((px == bx) & (py == by), 1.0, r))
        inside = (r > 0) & (r < 1)
        to_a = np.sqrt((ax - px) * (ax - px) + (ay - py) * (ay - py))
        to_b = np.sqrt((bx - px) * (bx - px) + (by - py) * (by - py))
    a_end = to_a < to_b
    nx = np.where(inside, ax + r * dx, np.where(a_end, ax, bx))
    ny = np.where(inside, ay + r * dy, np.where(a_end, ay, by))
    return nx, ny
