"""Geodesic measures on the WGS 84 ellipsoid: areas and lengths that do not depend on a projection."""

from __future__ import annotations

import numpy as np
import pyproj
import shapely
from pyproj import Geod

WGS84 = Geod(ellps="WGS84")


def geodesic_area_km2(geom: shapely.Geometry | None) -> float:
    """Area of a lon/lat (multi)polygon in km²; 0 for empty, null or non-areal geometry."""
    if geom is None or geom.is_empty or shapely.get_dimensions(geom) < 2:
        return 0.0  # pyproj would close a line into a ring and return the ring's area
    return abs(WGS84.geometry_area_perimeter(geom)[0]) / 1e6


def geodesic_length_km(geom: shapely.Geometry | None) -> float:
    if geom is None or geom.is_empty:
        return 0.0
    return WGS84.geometry_length(geom) / 1e3


def geodesic_areas_km2(geoms: np.ndarray) -> np.ndarray:
    return np.array([geodesic_area_km2(g) for g in geoms], dtype=float)


# A conformal projection over Ningbo (CGCS2000 / 3-degree Gauss-Kruger CM 120E, EPSG:4549), used only
# to find which point of a shape is nearest; the distance itself is then measured on the ellipsoid.
_LOCAL = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)


def geodesic_distances_km(lon: np.ndarray, lat: np.ndarray, geoms: np.ndarray) -> np.ndarray:
    """Geodesic distance in km from each point (lon[i], lat[i]) to geoms[i]; 0 inside, NaN for a null shape.

    The nearest point of each shape is found in the local Gauss-Kruger plane (scale error < 1e-3 across
    Ningbo), then the distance between the two points is measured on the WGS 84 ellipsoid.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    geoms = np.asarray(geoms, dtype=object)
    out = np.full(len(lon), np.nan)
    ok = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    if not ok.any():
        return out
    x, y = _LOCAL.transform(lon[ok], lat[ok])
    far = ~(np.isfinite(x) & np.isfinite(y))  # beyond where the local plane is defined (a site across the globe)
    if far.any():
        rows = np.flatnonzero(ok)
        out[rows[far]] = [_nearest_vertex_km(lo, la, g) for lo, la, g in
                          zip(lon[rows[far]], lat[rows[far]], geoms[rows[far]])]
        ok[rows[far]] = False
        if not ok.any():
            return out
        x, y = x[~far], y[~far]
    shapes = shapely.transform(geoms[ok], lambda xy: np.column_stack(_LOCAL.transform(xy[:, 0], xy[:, 1])))
    points = shapely.points(x, y)
    inside = shapely.intersects(points, shapes)
    nearest = shapely.get_coordinates(shapely.shortest_line(points, shapes).reshape(-1)).reshape(-1, 2, 2)[:, 1]
    nlon, nlat = _LOCAL.transform(nearest[:, 0], nearest[:, 1], direction="INVERSE")
    dist = WGS84.inv(lon[ok], lat[ok], nlon, nlat)[2] / 1e3
    out[ok] = np.where(inside, 0.0, dist)
    return out


def _nearest_vertex_km(lon: float, lat: float, geom: shapely.Geometry) -> float:
    """Geodesic km from a site far from Ningbo to the nearest vertex of `geom`: at thousands of km the vertex and
    the nearest point of a boundary a few km long differ by far less than the answer's precision."""
    coords = shapely.get_coordinates(geom)
    return float(np.min(WGS84.inv(np.full(len(coords), lon), np.full(len(coords), lat), coords[:, 0],
                                  coords[:, 1])[2]) / 1e3)
