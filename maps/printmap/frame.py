"""The map's ground: the projection it is drawn in, and a scale a planner can quote (1:500 000, not 1:487 312).

The projection is a transverse Mercator on the CGCS2000 ellipsoid with its central meridian through Ningbo
(121.5°E): the scale error is under 0.01 % across the city, so the scale bar and the stated scale hold
everywhere on the sheet, and true north is up along the central meridian.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pyproj

CENTRAL_MERIDIAN = 121.5
PRINT_CRS = pyproj.CRS.from_proj4(f"+proj=tmerc +lat_0=0 +lon_0={CENTRAL_MERIDIAN} +k=1 +x_0=500000 +y_0=0 "
                                  "+ellps=GRS80 +units=m +no_defs")
NICE = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.5)  # the steps a scale denominator takes per decade
PAD = 0.025  # share of the frame left around what it must show, on each side
_TO_PRINT = pyproj.Transformer.from_crs("OGC:CRS84", PRINT_CRS, always_xy=True)


@dataclass(frozen=True)
class Ground:
    denominator: int  # the sheet's scale is 1:denominator
    x0: float  # the map frame's extent, metres in PRINT_CRS
    y0: float
    x1: float
    y1: float


def nice_denominator(minimum: float) -> int:
    """The smallest nice scale denominator at least ``minimum``."""
    decade = 10 ** math.floor(math.log10(minimum))
    for step in (*NICE, 10.0):
        if step * decade >= minimum * (1 - 1e-9):
            return round(step * decade)
    raise AssertionError("unreachable: 10 x decade exceeds minimum")


def fit(bounds: tuple[float, float, float, float], frame_mm: tuple[float, float], min_span_m: float = 0.0) -> Ground:
    """The nice scale at which ``bounds`` (metres, padded; no narrower than ``min_span_m``) fit a frame of
    ``frame_mm`` (width, height), and the frame's extent centred on them."""
    x0, y0, x1, y1 = bounds
    w = max(x1 - x0, min_span_m) * (1 + 2 * PAD)
    h = max(y1 - y0, min_span_m) * (1 + 2 * PAD)
    denominator = nice_denominator(max(w / frame_mm[0], h / frame_mm[1]) * 1000)
    half_w = frame_mm[0] * denominator / 1000 / 2
    half_h = frame_mm[1] * denominator / 1000 / 2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return Ground(denominator, cx - half_w, cy - half_h, cx + half_w, cy + half_h)


def to_print(lon: float, lat: float) -> tuple[float, float]:
    x, y = _TO_PRINT.transform(lon, lat)
    return float(x), float(y)


def to_lonlat(x: Any, y: Any) -> tuple[Any, Any]:
    """PRINT_CRS metres to longitude and latitude (arrays or numbers)."""
    return _TO_PRINT.transform(x, y, direction="INVERSE")


def north_angle(x: float, y: float) -> float:
    """Degrees clockwise from the sheet's up to true north at (x, y) in PRINT_CRS (0 on the central meridian)."""
    lon, lat = _TO_PRINT.transform(x, y, direction="INVERSE")
    nx, ny = _TO_PRINT.transform(lon, lat + 0.01)
    return math.degrees(math.atan2(nx - x, ny - y))
