"""Output coordinate reference systems: what a user may ask for, and how the layers get there.

The layers are stored in WGS 84 lon/lat. Users ask for other CRSs by many spellings (EPSG codes,
OGC URIs, PROJ strings, WKT) and, for Chinese web maps, for GCJ-02: the obfuscated datum that AMap
and Tencent use, which is a published formula rather than a CRS PROJ knows. ``parse_crs`` turns the
spelling into an ``OutputCRS`` (refusing CRSs that cannot hold Ningbo), ``to_crs`` moves a frame into it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pyproj
import shapely
from pyproj.exceptions import CRSError as ProjCRSError
from pyproj.exceptions import ProjError

if TYPE_CHECKING:
    import geopandas as gpd

GCJ02 = "GCJ02"  # the token users pass for AMap/Tencent's obfuscated datum

# Ningbo's extent in WGS 84 lon/lat: every output CRS must be able to hold it.
NINGBO_BOUNDS = (120.8, 28.8, 122.3, 30.5)  # west, south, east, north

OGC_URI = "http://www.opengis.net/def/crs/{auth}/{version}/{code}"
MAX_CRS_CHARS = 8192  # a WKT2 definition of a projected CRS is 1-3 KB
# What PROJ would read from disk or the network: grid files, init files, `@` file lists, PROJ's own file
# references in WKT, and URLs other than the OGC URIs matched above. Refused: a client must not be able to make
# the server open, probe or block on a path of its choosing.
_FILE_REFERENCES = re.compile(
    r"(?:\+|\b)(?:nadgrids|geoidgrids|grids|init|file|hgridshift|vgridshift|tinshift|deformation|xyzgridshift)\s*="
    r"|@|PARAMETERFILE|\b(?:https?|ftp|file)://|^\s*/|\.\./|\\", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_URI_RE = re.compile(r"^https?://www\.opengis\.net/def/crs/(EPSG|OGC)/[^/]+/([A-Za-z0-9]+)/?$", re.IGNORECASE)

# GCJ-02: the published algorithm, on the Krasovsky 1940 ellipsoid.
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
_GCJ_TOLERANCE_DEG = 1e-9
_GCJ_MAX_ITERATIONS = 30


class CRSError(ValueError):
    """A CRS the user asked for that we cannot use; the message names the input and says why."""


@dataclass(frozen=True)
class OutputCRS:
    """A CRS to write the layers in: a pyproj CRS, or GCJ-02 (which PROJ does not know)."""

    label: str  # normalised: "EPSG:4549", "OGC:CRS84", "GCJ02", or "custom"
    crs: pyproj.CRS | None  # None only for GCJ-02
    is_gcj02: bool

    @property
    def is_geographic(self) -> bool:
        """Degrees rather than metres (GCJ-02 is lon/lat too)."""
        return self.is_gcj02 or (self.crs is not None and self.crs.is_geographic)

    @property
    def uri(self) -> str | None:
        """The OGC URI of the CRS, as OGC API and GeoJSON-LD name it; None when it has no authority code."""
        auth, _, code = self.label.partition(":")
        if auth == "EPSG":
            return OGC_URI.format(auth="EPSG", version="0", code=code)
        if auth == "OGC":
            return OGC_URI.format(auth="OGC", version="1.3", code=code)
        return None


@lru_cache(maxsize=64)  # checking that a CRS holds Ningbo builds a transformer: ~50 ms, the same every time
def parse_crs(text: str) -> OutputCRS:
    """The CRS a user asked for, by any usual spelling; CRSError if unknown or unable to hold Ningbo.

    Accepts ``EPSG:4549`` (any case), a bare code ``4549``, OGC URIs and URNs, ``CRS84``/``OGC:CRS84``,
    PROJ strings, WKT, and ``GCJ02``/``gcj-02``.
    """
    raw = text.strip() if isinstance(text, str) else ""
    if not raw:
        raise CRSError(f"unknown CRS {text!r}: empty; try EPSG:4549, OGC:CRS84 or GCJ02")
    check_crs_text(raw)
    if re.sub(r"[\s_-]", "", raw).upper() == GCJ02:
        return OutputCRS(label=GCJ02, crs=None, is_gcj02=True)

    spelled = raw
    if raw.isdigit():
        spelled = f"EPSG:{raw}"
    elif raw.upper() == "CRS84":
        spelled = "OGC:CRS84"
    elif match := _URI_RE.match(raw):  # PROJ reads these too, but not every spelling (https, trailing /)
        spelled = f"{match.group(1)}:{match.group(2)}".upper()
    try:
        crs = pyproj.CRS.from_user_input(spelled)
    except (ProjCRSError, ProjError, TypeError, ValueError) as exc:
        raise CRSError(
            f"unknown CRS {raw!r}: not an EPSG code, OGC URI, PROJ string or WKT PROJ can read "
            f"({_first_line(exc)}); try EPSG:4549, OGC:CRS84 or GCJ02"
        ) from exc

    if not (crs.is_geographic or crs.is_projected):
        raise CRSError(f"CRS {raw!r} ({crs.name}) is not a horizontal geographic or projected CRS")
    _check_holds_ningbo(raw, crs)
    return OutputCRS(label=_label(crs), crs=crs, is_gcj02=False)


def check_crs_text(raw: str) -> None:
    """CRSError for text that is too long, holds control characters, or refers PROJ to files or URLs."""
    if len(raw) > MAX_CRS_CHARS:
        raise CRSError(f"the CRS definition is {len(raw)} characters long; at most {MAX_CRS_CHARS} are read")
    if _CONTROL.search(raw):
        raise CRSError(f"the CRS definition {raw[:60]!r} holds control characters")
    if _URI_RE.match(raw):
        return
    if found := _FILE_REFERENCES.search(raw):
        raise CRSError(f"the CRS definition refers to a file, grid or URL ({found.group(0).strip()!r}), which "
                       f"this service does not read; give the CRS itself (EPSG code, PROJ string without grids, "
                       f"or WKT)")


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _label(crs: pyproj.CRS) -> str:
    """``AUTH:code`` when the CRS is exactly an EPSG or OGC one (axis order included), else "custom"."""
    auth = crs.to_authority()
    if auth is None or auth[0] not in ("EPSG", "OGC"):
        return "custom"
    label = f"{auth[0]}:{auth[1]}"
    try:
        same = pyproj.CRS.from_user_input(label).equals(crs)
    except ProjCRSError:  # pragma: no cover - an authority PROJ just named is always readable
        same = False
    return label if same else "custom"


def _check_holds_ningbo(raw: str, crs: pyproj.CRS) -> None:
    """Refuse a CRS whose area of use misses Ningbo, or in which Ningbo's extent is not finite."""
    west, south, east, north = NINGBO_BOUNDS
    area = crs.area_of_use
    if area is not None:
        a_west, a_south, a_east, a_north = area.bounds
        # A 3-degree zone need only overlap Ningbo (it straddles 121.5 E); an area crossing 180 has east < west.
        lon_ok = (a_west <= east and a_east >= west) if a_west <= a_east else (a_west <= east or a_east >= west)
        if not (lon_ok and a_south <= north and a_north >= south):
            raise CRSError(
                f"CRS {raw!r} ({crs.name}) cannot hold Ningbo: its area of use ({area.name.rstrip('.')}, "
                f"lon {a_west:g}..{a_east:g}, lat {a_south:g}..{a_north:g}) "
                f"misses lon {west}..{east}, lat {south}..{north}"
            )
    lon, lat = np.meshgrid(np.linspace(west, east, 5), np.linspace(south, north, 5))
    try:
        transformer = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        x, y = transformer.transform(lon.ravel(), lat.ravel(), errcheck=True)
    except ProjError as exc:
        raise CRSError(f"CRS {raw!r} ({crs.name}) cannot hold Ningbo: {_first_line(exc)}") from exc
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise CRSError(f"CRS {raw!r} ({crs.name}) cannot hold Ningbo: its extent transforms to infinite coordinates")


def axis_order_is_lat_lon(crs: pyproj.CRS) -> bool:
    """True when the authority's first axis points north (lat, lon or northing, easting), as in EPSG:4326 and 4549.

    Read from the CRS's axes, since GML/WFS-style outputs must follow the authority order, not x/y.
    """
    axes = crs.axis_info
    return bool(axes) and axes[0].direction.lower() == "north"


# Gauss-Kruger zones serve well a few degrees past their area of use (Ningbo straddles EPSG:4549 and 4550).
AREA_OF_USE_MARGIN_DEG = 3.0


def usable_area(crs: pyproj.CRS) -> tuple[float, float, float, float] | None:
    """The CRS's area of use widened by AREA_OF_USE_MARGIN_DEG, as lon/lat (west, south, east, north) within
    the world; None when the CRS names no area of use."""
    if crs.area_of_use is None:
        return None
    west, south, east, north = crs.area_of_use.bounds
    m = AREA_OF_USE_MARGIN_DEG
    return max(west - m, -180.0), max(south - m, -90.0), min(east + m, 180.0), min(north + m, 90.0)


def xy_to_wgs84(x: np.ndarray, y: np.ndarray, crs: OutputCRS | None) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates in `crs`, x (longitude, easting) first whatever its axis order, as WGS 84 lon/lat; points
    `crs` cannot hold come back as inf. None means they are WGS 84 already."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if crs is None:
        return x, y
    if crs.is_gcj02:
        return gcj02_to_wgs84(x, y)
    assert crs.crs is not None
    lon, lat = _from_crs_to_wgs84(crs.crs).transform(x, y)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


@lru_cache(maxsize=32)
def _from_crs_to_wgs84(crs: pyproj.CRS) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def to_crs(gdf: gpd.GeoDataFrame, target: OutputCRS) -> gpd.GeoDataFrame:
    """The frame (in WGS 84 lon/lat) in the target CRS, other columns kept and null geometries left null.

    GCJ-02 has no EPSG code: the shifted frame keeps ``crs`` EPSG:4326 (lon/lat degrees), so whoever
    writes it must say GCJ-02 from ``target.is_gcj02``, never from the frame's crs.
    """
    if gdf.crs is None:
        raise ValueError("the frame has no CRS; the layers are in EPSG:4326")
    if not target.is_gcj02:
        assert target.crs is not None
        return gdf.to_crs(target.crs)
    wgs84 = pyproj.CRS.from_epsg(4326)
    src = gdf if gdf.crs.equals(wgs84, ignore_axis_order=True) else gdf.to_crs(wgs84)
    import geopandas as gpd  # here: the batch path (geo.batch) needs this module, and GeoPandas takes 0.5 s to import

    out = src.copy()
    out[out.geometry.name] = gpd.GeoSeries(
        transform_geometry_gcj02(np.asarray(src.geometry.values, dtype=object)), index=src.index, crs=wgs84
    )
    return out


G = TypeVar("G")


def transform_geometry_gcj02(geom: G, inverse: bool = False) -> G:
    """A geometry (or array of them) shifted WGS 84 -> GCJ-02, or back with ``inverse``; Z kept, None stays None."""
    shift = gcj02_to_wgs84 if inverse else wgs84_to_gcj02

    def move(coords: np.ndarray) -> np.ndarray:
        out = np.array(coords, dtype=float, copy=True)
        out[:, 0], out[:, 1] = shift(coords[:, 0], coords[:, 1])
        return out

    result: Any = shapely.transform(geom, move, include_z=None)
    return result


def out_of_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The published GCJ-02 test: outside this box the offset is not applied."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02's (dlon, dlat) in degrees at WGS 84 (lon, lat), zero outside China."""
    x, y = lon - 105.0, lat - 35.0
    pi = np.pi
    # The shared term, then each axis's own: the published polynomial-plus-sines in metre-like units.
    wave = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + wave
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + wave
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    # Metres to degrees on the Krasovsky ellipsoid (meridian and parallel radii of curvature).
    rad_lat = np.radians(lat)
    w = 1.0 - _KRASOVSKY_EE * np.sin(rad_lat) ** 2
    sqrt_w = np.sqrt(w)
    dlat = dlat * 180.0 / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (w * sqrt_w) * pi)
    dlon = dlon * 180.0 / (_KRASOVSKY_A / sqrt_w * np.cos(rad_lat) * pi)
    outside = out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS 84 lon/lat to GCJ-02 (vectorised); points outside China come back unchanged."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 lon/lat back to WGS 84, exact to 1e-9 degree by fixed-point iteration.

    The one-step inverse (subtracting the offset at the GCJ-02 point) is off by metres; the offset
    varies slowly, so iterating w <- w - (gcj(w) - g) contracts fast (a few steps).
    """
    g_lon, g_lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(_GCJ_MAX_ITERATIONS):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        r_lon, r_lat = f_lon - g_lon, f_lat - g_lat
        w_lon, w_lat = w_lon - r_lon, w_lat - r_lat
        residual = np.concatenate([np.abs(r_lon).ravel(), np.abs(r_lat).ravel()])
        residual = residual[np.isfinite(residual)]
        if residual.size == 0 or residual.max() < _GCJ_TOLERANCE_DEG:  # the next step is ~1000x smaller still
            break
    return w_lon, w_lat
