"""The CRSs the service offers (OGC API - Features Part 2), named by OGC URI, and how features get there.

Output follows each CRS's authority axis order, as Part 2 requires: CRS84 is lon/lat, EPSG:4326 and
EPSG:4490 are lat/lon, and the CGCS2000 Gauss-Kruger CRSs are northing/easting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyproj
import shapely

from geo.crs import CRSError, OutputCRS, axis_order_is_lat_lon, parse_crs, usable_area

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
SUPPORTED = (
    CRS84,
    "http://www.opengis.net/def/crs/EPSG/0/4326",  # WGS 84, lat/lon
    "http://www.opengis.net/def/crs/EPSG/0/4490",  # CGCS2000, lat/lon
    "http://www.opengis.net/def/crs/EPSG/0/4549",  # CGCS2000 / 3-degree Gauss-Kruger CM 120E, northing/easting
    "http://www.opengis.net/def/crs/EPSG/0/4550",  # CGCS2000 / 3-degree Gauss-Kruger CM 123E
    "http://www.opengis.net/def/crs/EPSG/0/32651",  # WGS 84 / UTM zone 51N
    "http://www.opengis.net/def/crs/EPSG/0/3857",  # Web Mercator
)
_CURIE = re.compile(r"^\[?(EPSG|OGC):([A-Za-z0-9]+)\]?$", re.IGNORECASE)
_WGS84 = pyproj.CRS.from_user_input("OGC:CRS84")


@dataclass(frozen=True)
class ServiceCRS:
    uri: str
    output: OutputCRS
    lat_first: bool  # the authority's first axis points north
    decimals: int  # coordinates are rounded: 1e-7 degree or 1 mm, both finer than any schematic boundary

    @property
    def is_crs84(self) -> bool:
        return self.uri == CRS84

    @property
    def domain(self) -> tuple[float, float, float, float]:
        """The CRS's area of use, widened by 3 degrees (Ningbo straddles two Gauss-Kruger zones), in its x/y."""
        return _domain(self.uri)

    def transformer(self, inverse: bool = False) -> pyproj.Transformer:
        return _transformer(self.uri, inverse)

    def from_crs84(self, geoms: np.ndarray) -> np.ndarray:
        """Lon/lat geometries in this CRS, in its authority axis order, rounded."""
        forward = self.transformer()

        def move(xy: np.ndarray) -> np.ndarray:
            x, y = forward.transform(xy[:, 0], xy[:, 1])
            out = np.column_stack([y, x] if self.lat_first else [x, y])
            return np.round(out, self.decimals)

        return np.asarray(shapely.transform(geoms, move), dtype=object)

    def to_crs84(self, geom: shapely.Geometry) -> shapely.Geometry:
        """A geometry given in this CRS's axis order, in lon/lat."""
        back = self.transformer(inverse=True)

        def move(xy: np.ndarray) -> np.ndarray:
            x, y = (xy[:, 1], xy[:, 0]) if self.lat_first else (xy[:, 0], xy[:, 1])
            return np.column_stack(back.transform(x, y))

        return shapely.transform(geom, move)

    def bbox_to_crs84(self, bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        """A bbox given in this CRS's axis order as a lon/lat (west, south, east, north) box; inf where the box
        reaches beyond the CRS's domain."""
        a, b, c, d = bbox
        x0, y0, x1, y1 = (b, a, d, c) if self.lat_first else (a, b, c, d)
        # Beyond its domain a projection returns nonsense: a box larger than the domain means all of it.
        dx0, dy0, dx1, dy1 = self.domain
        x0, y0, x1, y1 = max(x0, dx0), max(y0, dy0), min(x1, dx1), min(y1, dy1)
        if x0 > x1 or y0 > y1:  # wholly outside the domain: a box that holds nothing
            return 0.0, 0.0, 0.0, 0.0
        west, south, east, north = self.transformer(inverse=True).transform_bounds(x0, y0, x1, y1, densify_pts=21)
        return float(west), float(south), float(east), float(north)


def service_crs(text: str) -> ServiceCRS:
    """One of SUPPORTED, from its URI, a CURIE such as ``EPSG:4549`` / ``[EPSG:4549]``, a bare EPSG code
    (``4549``) or ``CRS84``, the spellings the CLI takes; CRSError otherwise.

    The spelling is normalised before the (cached) lookup, so the cache holds at most the seven CRSs.
    """
    uri = text.strip()
    if uri.isdigit():  # a bare EPSG code, as `nbgis export --crs 4549` takes it
        uri = f"EPSG:{uri}"
    elif uri.upper() == "CRS84":
        uri = "OGC:CRS84"
    if match := _CURIE.match(uri):
        auth, code = match.group(1).upper(), match.group(2)
        uri = CRS84 if (auth, code.upper()) == ("OGC", "CRS84") else f"http://www.opengis.net/def/crs/{auth}/0/{code}"
    uri = uri.replace("https://", "http://").rstrip("/")
    if uri not in SUPPORTED:
        raise CRSError(f"{text!r} is not a CRS this service offers; use one of {', '.join(SUPPORTED)}")
    return _service_crs(uri)


def warm_up() -> None:
    """Build every supported CRS's transformers and domain now, at start-up: on first use they take up to a few
    hundred ms, which the handlers (coroutines, on the event loop) must not spend."""
    for uri in SUPPORTED:
        _service_crs(uri)
        _domain(uri)
        _transformer(uri, True)


@cache
def _service_crs(uri: str) -> ServiceCRS:
    output = parse_crs(uri)
    assert output.crs is not None
    lat_first = not output.crs.equals(_WGS84) and axis_order_is_lat_lon(output.crs)
    return ServiceCRS(uri, output, lat_first, 7 if output.crs.is_geographic else 3)


@cache
def _transformer(uri: str, inverse: bool) -> pyproj.Transformer:
    crs = parse_crs(uri).crs
    assert crs is not None
    # always_xy: PROJ's lon/lat and easting/northing order; the authority order is applied by the caller
    return pyproj.Transformer.from_crs(crs, _WGS84, always_xy=True) if inverse else pyproj.Transformer.from_crs(
        _WGS84, crs, always_xy=True)


@cache
def _domain(uri: str) -> tuple[float, float, float, float]:
    crs = parse_crs(uri).crs
    assert crs is not None
    area = usable_area(crs)
    assert area is not None
    west, south, east, north = area
    box = (west, max(south, -85.0), east, min(north, 85.0))  # Web Mercator has no poles
    x0, y0, x1, y1 = _transformer(uri, False).transform_bounds(*box, densify_pts=21)
    return float(x0), float(y0), float(x1), float(y1)
