"""Output CRSs: parsing every spelling, refusing CRSs that cannot hold Ningbo, and GCJ-02 against published values."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from pyproj import Geod

from geo.crs import (
    GCJ02,
    CRSError,
    OutputCRS,
    axis_order_is_lat_lon,
    gcj02_to_wgs84,
    parse_crs,
    to_crs,
    transform_geometry_gcj02,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")
NINGBO = (121.55, 29.87)  # lon, lat: Haishu/Jiangbei, the city centre

# Published WGS 84 -> GCJ-02 pairs, as (wgs lon, wgs lat, gcj lon, gcj lat).
REFERENCE_PAIRS = [
    # github.com/googollee/eviltransform, python/test.py and go/transform_test.go, TESTS (lat, lng order there):
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),  # shanghai
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),  # shenzhen
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),  # beijing
    # github.com/hujiulong/gcoord, test/unit/crs/WGS84.spec.js, 'WGS84 to GCJ02' (toBeCloseTo, 5 digits):
    (123.0, 45.0, 123.00607541, 45.00197815),
]


def metres(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


# --- GCJ-02 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("wlon", "wlat", "glon", "glat"), REFERENCE_PAIRS)
def test_wgs84_to_gcj02_matches_published_pairs(wlon: float, wlat: float, glon: float, glat: float) -> None:
    lon, lat = wgs84_to_gcj02(np.array([wlon]), np.array([wlat]))
    assert lon[0] == pytest.approx(glon, abs=1e-5)
    assert lat[0] == pytest.approx(glat, abs=1e-5)


@pytest.mark.parametrize(("wlon", "wlat", "glon", "glat"), REFERENCE_PAIRS)
def test_gcj02_to_wgs84_inverts_published_pairs(wlon: float, wlat: float, glon: float, glat: float) -> None:
    lon, lat = gcj02_to_wgs84(np.array([glon]), np.array([glat]))
    assert metres(lon, lat, np.array([wlon]), np.array([wlat]))[0] < 0.01


def test_gcj02_to_wgs84_matches_gcoord_published_inverse() -> None:
    # github.com/hujiulong/gcoord, test/unit/crs/GCJ02.spec.js: GCJ02 (123, 45) -> WGS84 (122.99395597, 44.99804071).
    lon, lat = gcj02_to_wgs84(np.array([123.0]), np.array([45.0]))
    assert lon[0] == pytest.approx(122.99395597, abs=1e-5)
    assert lat[0] == pytest.approx(44.99804071, abs=1e-5)


def test_gcj02_offset_in_ningbo_is_a_few_hundred_metres() -> None:
    lon, lat = wgs84_to_gcj02(np.array([NINGBO[0]]), np.array([NINGBO[1]]))
    offset = metres(np.array([NINGBO[0]]), np.array([NINGBO[1]]), lon, lat)[0]
    assert 300 < offset < 800
    assert lon[0] > NINGBO[0]  # in eastern China the shift is to the east


def test_round_trip_is_exact_on_random_ningbo_points() -> None:
    rng = np.random.default_rng(20210811)
    lon = rng.uniform(120.8, 122.3, 10_000)
    lat = rng.uniform(28.8, 30.5, 10_000)
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert metres(lon, lat, back_lon, back_lat).max() < 0.01
    assert np.abs(back_lon - lon).max() < 1e-8 and np.abs(back_lat - lat).max() < 1e-8


def test_points_outside_china_are_unchanged() -> None:
    lon = np.array([2.35, -74.0, 139.69, 183.0, 121.55])  # Paris, New York, Tokyo, off the map, Ningbo longitude
    lat = np.array([48.85, 40.7, 35.69, 45.0, -10.0])  # ... and south of the equator
    assert wgs84_to_gcj02(lon, lat) == (pytest.approx(lon), pytest.approx(lat))
    g_lon, g_lat = gcj02_to_wgs84(lon, lat)
    assert np.array_equal(g_lon, lon) and np.array_equal(g_lat, lat)


def test_transform_geometry_keeps_shape_z_and_null() -> None:
    poly = shapely.Polygon([(121.5, 29.8), (121.6, 29.8), (121.6, 29.9), (121.5, 29.8)])
    shifted = transform_geometry_gcj02(poly)
    assert shifted.geom_type == "Polygon" and len(shifted.exterior.coords) == 4
    assert not shifted.equals(poly)
    assert shapely.equals_exact(transform_geometry_gcj02(shifted, inverse=True), poly, tolerance=1e-9)
    point_z = transform_geometry_gcj02(shapely.Point(121.55, 29.87, 12.0))
    assert point_z.has_z and point_z.z == 12.0
    assert transform_geometry_gcj02(None) is None


# --- parse_crs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("EPSG:4549", "EPSG:4549"),
        ("epsg:4549", "EPSG:4549"),
        ("4549", "EPSG:4549"),
        (" EPSG:4550 ", "EPSG:4550"),
        ("EPSG:4528", "EPSG:4528"),
        ("EPSG:4529", "EPSG:4529"),
        ("EPSG:32651", "EPSG:32651"),
        ("EPSG:3857", "EPSG:3857"),
        ("EPSG:4326", "EPSG:4326"),
        ("EPSG:4490", "EPSG:4490"),
        ("http://www.opengis.net/def/crs/EPSG/0/4549", "EPSG:4549"),
        ("https://www.opengis.net/def/crs/EPSG/0/4549", "EPSG:4549"),
        ("urn:ogc:def:crs:EPSG::4326", "EPSG:4326"),
        ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", "OGC:CRS84"),
        ("CRS84", "OGC:CRS84"),
        ("crs84", "OGC:CRS84"),
        ("OGC:CRS84", "OGC:CRS84"),
        ("+proj=longlat +datum=WGS84 +no_defs", "OGC:CRS84"),  # exactly CRS84, so named so
        ("+proj=tmerc +lon_0=121.5 +k=1 +x_0=500000 +ellps=GRS80 +units=m", "custom"),
        (pyproj.CRS.from_epsg(4549).to_wkt(), "EPSG:4549"),
        ("GCJ02", "GCJ02"),
        ("gcj-02", "GCJ02"),
        ("Gcj02", "GCJ02"),
    ],
)
def test_parse_crs_accepts_every_form(text: str, label: str) -> None:
    out = parse_crs(text)
    assert isinstance(out, OutputCRS)
    assert out.label == label
    assert out.is_gcj02 == (label == GCJ02)
    assert (out.crs is None) == out.is_gcj02


def test_parse_crs_uris_and_geographic() -> None:
    assert parse_crs("4549").uri == "http://www.opengis.net/def/crs/EPSG/0/4549"
    assert parse_crs("CRS84").uri == "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    assert parse_crs("http://www.opengis.net/def/crs/OGC/1.3/CRS84").uri == (
        "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    )
    assert parse_crs("gcj-02").uri is None
    assert parse_crs("+proj=tmerc +lon_0=121.5 +k=1 +x_0=500000 +ellps=GRS80 +units=m").uri is None
    for text in ("CRS84", "EPSG:4326", "EPSG:4490", "GCJ02"):
        assert parse_crs(text).is_geographic, text
    for text in ("EPSG:4549", "EPSG:32651", "EPSG:3857", "+proj=tmerc +lon_0=121.5 +x_0=500000 +ellps=GRS80"):
        assert not parse_crs(text).is_geographic, text


def test_local_gauss_kruger_puts_its_central_meridian_at_500_km() -> None:
    out = parse_crs("+proj=tmerc +lon_0=121.5 +k=1 +x_0=500000 +ellps=GRS80 +units=m")
    assert out.crs is not None
    x, _ = pyproj.Transformer.from_crs("EPSG:4326", out.crs, always_xy=True).transform(121.5, 29.87)
    assert x == pytest.approx(500_000, abs=1e-3)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("xyz", ["unknown CRS 'xyz'"]),
        ("EPSG:999999", ["unknown CRS 'EPSG:999999'"]),
        ("", ["unknown CRS"]),
        ('PROJCS["broken", GEOGCS[', ["unknown CRS", "broken"]),
        ("EPSG:2154", ["'EPSG:2154'", "Lambert-93", "cannot hold Ningbo"]),
        ("EPSG:4978", ["'EPSG:4978'", "not a horizontal"]),  # geocentric X/Y/Z
    ],
)
def test_parse_crs_refuses_with_a_message_naming_the_input(text: str, words: list[str]) -> None:
    with pytest.raises(CRSError) as info:
        parse_crs(text)
    assert isinstance(info.value, ValueError)
    for word in words:
        assert word in str(info.value)


def test_axis_order_follows_the_authority() -> None:
    for code in ("EPSG:4326", "EPSG:4490", "EPSG:4549", "EPSG:4550", "EPSG:4528", "EPSG:4529"):
        assert axis_order_is_lat_lon(pyproj.CRS.from_user_input(code)), code
    for code in ("OGC:CRS84", "EPSG:32651", "EPSG:3857"):
        assert not axis_order_is_lat_lon(pyproj.CRS.from_user_input(code)), code


# --- to_crs -----------------------------------------------------------------------------------------


@pytest.fixture
def frame() -> gpd.GeoDataFrame:
    square = shapely.box(121.54, 29.86, 121.56, 29.88)
    return gpd.GeoDataFrame(
        {"id": ["a", "b", "c"], "name_zh": ["宁波", "空", "点"]},
        geometry=[square, None, shapely.Point(*NINGBO)],
        crs="EPSG:4326",
    )


def test_to_crs_gauss_kruger_gives_metres(frame: gpd.GeoDataFrame) -> None:
    out = to_crs(frame, parse_crs("EPSG:4549"))
    assert out.crs.to_epsg() == 4549
    # EPSG:4549 is CM 120E, false easting 500 km, no zone prefix: Ningbo sits ~150 km east of 120E.
    # GeoPandas keeps x = easting, y = northing whatever the authority axis order.
    x, y = out.geometry.iloc[2].x, out.geometry.iloc[2].y
    assert 640_000 < x < 660_000 and x == pytest.approx(649_757.5, abs=1)
    assert 3_300_000 < y < 3_310_000
    minx, _, maxx, _ = out.geometry.iloc[0].bounds
    assert 1_900 < maxx - minx < 2_000  # 0.02 degree of longitude at 29.9 N
    assert list(out.columns) == list(frame.columns) and list(out["name_zh"]) == ["宁波", "空", "点"]
    assert out.geometry.iloc[1] is None
    # The zoned variant prefixes the zone number (40) to the easting.
    zoned = to_crs(frame, parse_crs("EPSG:4528"))
    assert zoned.geometry.iloc[2].x == pytest.approx(40_000_000 + x, abs=1e-3)


def test_to_crs_gcj02_shifts_by_the_published_offset(frame: gpd.GeoDataFrame) -> None:
    out = to_crs(frame, parse_crs("GCJ02"))
    assert out.crs.to_epsg() == 4326  # GCJ-02 has no EPSG code
    point = out.geometry.iloc[2]
    exp_lon, exp_lat = wgs84_to_gcj02(np.array([NINGBO[0]]), np.array([NINGBO[1]]))
    assert (point.x, point.y) == (pytest.approx(exp_lon[0], abs=1e-12), pytest.approx(exp_lat[0], abs=1e-12))
    offset = metres(np.array([NINGBO[0]]), np.array([NINGBO[1]]), np.array([point.x]), np.array([point.y]))[0]
    assert 300 < offset < 800
    square = out.geometry.iloc[0]
    src = shapely.get_coordinates(frame.geometry.iloc[0])
    exp = np.column_stack(wgs84_to_gcj02(src[:, 0], src[:, 1]))
    assert square.geom_type == "Polygon" and np.allclose(shapely.get_coordinates(square), exp, rtol=0, atol=1e-12)
    assert out.geometry.iloc[1] is None
    assert list(out["id"]) == ["a", "b", "c"] and list(out.index) == list(frame.index)
    assert frame.geometry.iloc[2].equals(shapely.Point(*NINGBO))  # the input frame is untouched


def test_to_crs_crs84_and_utm(frame: gpd.GeoDataFrame) -> None:
    crs84 = to_crs(frame, parse_crs("CRS84"))
    assert crs84.geometry.iloc[2].equals_exact(shapely.Point(*NINGBO), tolerance=1e-12)
    utm = to_crs(frame, parse_crs("EPSG:32651"))
    assert 350_000 < utm.geometry.iloc[2].x < 360_000  # 1.45 degree west of 123E
