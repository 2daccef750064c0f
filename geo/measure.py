"""Geodesic measures on the WGS 84 ellipsoid: areas and lengths that do not depend on a projection."""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Geod

WGS84 = Geod(ellps="WGS84")


def geodesic_area_km2(geom: shapely.Geometry | None) -> float:
    """Area of a lon/lat (multi)polygon in km²; 0 for empty, null or non-areal geometry."""
    if geom is None or geom.is_empty:
        return 0.0
    return abs(WGS84.geometry_area_perimeter(geom)[0]) / 1e6


def geodesic_length_km(geom: shapely.Geometry | None) -> float:
    if geom is None or geom.is_empty:
        return 0.0
    return WGS84.geometry_length(geom) / 1e3


def geodesic_areas_km2(geoms: np.ndarray) -> np.ndarray:
    return np.array([geodesic_area_km2(g) for g in geoms], dtype=float)
