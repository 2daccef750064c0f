"""Geometry as a web map draws it: simplified to what the zoom shows, shifted for GCJ-02 tiles, rounded.

The layers keep their full detail; only the copy sent to the browser is thinned, so the pages stay small.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
import shapely.geometry

from geo.crs import transform_geometry_gcj02

M_PER_DEGREE = 111_320.0  # along a meridian; a tolerance, not a measurement, so the round figure will do
DECIMALS = 5  # ~1 m: far below what a schematic shape or a screen pixel at city zoom can show

# Simplification tolerances in metres, per map scale. At zoom 9 (the city) a pixel is ~270 m.
CITY = {"districts": 25.0, "areas": 10.0}
DETAIL = {"districts": 10.0, "areas": 2.0}


def simplify_coverage(geoms: Any, tolerance_m: float) -> np.ndarray:
    """Districts together, so neighbours keep one shared border (no slivers or gaps between them)."""
    return np.asarray(shapely.coverage_simplify(np.asarray(geoms, dtype=object), tolerance_m / M_PER_DEGREE))


def simplify(geoms: Any, tolerance_m: float) -> np.ndarray:
    return np.asarray(shapely.simplify(np.asarray(geoms, dtype=object), tolerance_m / M_PER_DEGREE,
                                       preserve_topology=True))


def for_display(geoms: Any, gcj02: bool, decimals: int = DECIMALS) -> np.ndarray:
    """Shift to GCJ-02 when the basemap is drawn in it (AMap), then round the coordinates."""
    arr = np.asarray(geoms, dtype=object)
    if gcj02:
        arr = transform_geometry_gcj02(arr)
    return np.asarray(shapely.transform(arr, lambda c: np.round(c, decimals)))


def to_geojson(geom: Any) -> dict[str, Any]:
    return dict(shapely.geometry.mapping(geom))


def label_point(geom: Any) -> Any:
    """Where a name goes: inside the largest part (a centroid can fall in the sea between islands)."""
    parts = list(getattr(geom, "geoms", [geom]))
    return max(parts, key=lambda g: g.area).point_on_surface()


def bounds_latlon(geoms: Any, pad: float = 0.0) -> list[list[float]]:
    """[[south, west], [north, east]] of the geometries, padded by a fraction of their size."""
    w, s, e, n = shapely.total_bounds(np.asarray(geoms, dtype=object))
    dx, dy = (e - w) * pad, (n - s) * pad
    return [[float(s - dy), float(w - dx)], [float(n + dy), float(e + dx)]]
