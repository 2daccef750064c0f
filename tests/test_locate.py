"""Batch location of sites (geo.locate) and `nbgis locate`: answers checked against the layers themselves."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from geo.batch import Progress, locate_file
from geo.crs import parse_crs, wgs84_to_gcj02
from geo.grid import CellGrid
from geo.layers import Layers
from geo.locate import LOCATED_COLUMNS, Locator, SitesError, _Areas
from geo.measure import _LOCAL, geodesic_distances_km
from geo.plane import _FOOT_Y, PLANE_ERROR_M, PLANE_HALF_WIDTH_M, PLANE_MAX_M, plane_geodesic_m, rounded_geodesic_km
from geo.sites import read_sites_csv, read_sites_geojson

ROOT = Path(__file__).resolve().parent.parent
GEOD = pyproj.Geod(ellps="WGS84")
SEA = (122.2, 29.3)  # open sea east of 象山: in no district, no sub-park
YUYAO = (121.154, 30.038)  # 余姚 city centre


@pytest.fixture(scope="module")
def locator(layers: Layers) -> Locator:
    return Locator.from_layers(layers)


def block_points(layers: Layers) -> list[tuple[str, str, float, float]]:
    """(sub-park id, block name, lon, lat) for every drawn block's label point."""
    sub = layers.kind("subpark")
    return [(fid, b["name_zh"], *b["label_point"]) for fid, blocks in zip(sub["id"], sub["blocks"])
            for b in blocks if b.get("drawn")]


def locate_one(locator: Locator, lon: float, lat: float) -> dict[str, Any]:
    row: dict[str, Any] = locator.locate(np.array([lon]), np.array([lat])).iloc[0].to_dict()
    return row


def test_every_block_label_point_locates_to_its_subpark_and_block(layers: Layers, locator: Locator) -> None:
    points = block_points(layers)
    assert len(points) == 31
    got = locator.locate(np.array([p[2] for p in points]), np.array([p[3] for p in points]))
    assert list(got.columns) == list(LOCATED_COLUMNS)
    assert isinstance(got.index, pd.RangeIndex)
    names = layers.kind("subpark")["name_zh"]
    for (fid, block, _, _), row in zip(points, got.itertuples()):
        assert (row.subpark, row.subpark_block_zh, row.subpark_name_zh) == (fid, block, names[fid])
        assert (row.nearest_subpark, row.nearest_subpark_km) == (fid, 0.0)


def test_corridor_unit_representative_points(layers: Layers, locator: Locator) -> None:
    units = layers.kind("corridor-unit")
    xy = shapely.get_coordinates(units.geometry.representative_point().to_numpy())
    got = locator.locate(xy[:, 0], xy[:, 1])
    assert got["corridor_unit"].tolist() == units["id"].tolist()
    assert got["corridor_zone"].all()  # every unit lies in the zone (a validated rule)
    # Each unit is drawn in the area its `corridor_area` names.
    assert got["corridor_area"].tolist() == [f"corridor-{a}" for a in units["corridor_area"]]


def test_overlapping_nodes_report_the_smallest(layers: Layers, locator: Locator) -> None:
    nodes = layers.kind("innovation-node")
    small, large = sorted(("node-haishu-moon-lake", "node-yaojiang-north-bank"), key=lambda n: nodes.area_km2[n])
    overlap = nodes.geometry[small].intersection(nodes.geometry[large])
    assert overlap.area > 0
    point = overlap.representative_point()
    assert locate_one(locator, point.x, point.y)["innovation_node"] == small


def test_a_site_at_sea_gets_the_nearest_subpark_and_its_geodesic_distance(layers: Layers, locator: Locator) -> None:
    row = locate_one(locator, *SEA)
    assert row["subpark"] is None and row["district_adcode"] is None and row["corridor_zone"] is False
    # Independently: the geodesic distance to every vertex of each sub-park's boundary, densified to ~10 m.
    best: dict[str, float] = {}
    for fid, geom in zip(layers.kind("subpark")["id"], layers.kind("subpark").geometry):
        xy = shapely.get_coordinates(shapely.segmentize(geom.boundary, 1e-4))
        best[fid] = GEOD.inv(np.full(len(xy), SEA[0]), np.full(len(xy), SEA[1]), xy[:, 0], xy[:, 1])[2].min() / 1e3
    nearest = min(best, key=lambda k: best[k])
    assert row["nearest_subpark"] == nearest
    assert row["nearest_subpark_km"] > 0
    assert row["nearest_subpark_km"] == pytest.approx(best[nearest], rel=0.01)


def test_nearest_distances_agree_with_geo_measure(layers: Layers, locator: Locator) -> None:
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(120.8, 122.3, 300), rng.uniform(28.8, 30.5, 300)
    got = locator.locate(lon, lat)
    shapes = layers.kind("subpark").geometry[got["nearest_subpark"]].to_numpy()
    # the locator rounds to 1 m
    np.testing.assert_allclose(got["nearest_subpark_km"], geodesic_distances_km(lon, lat, shapes), atol=5e-4)


def test_plane_geodesic_lengths_hold_their_bound_over_their_domain() -> None:
    """geo.measure.plane_geodesic_m against the ellipsoid (pyproj's Karney solution) on random lines over the
    whole domain where its error bound is claimed: within a quarter of PLANE_ERROR_M; NaN outside the domain."""
    rng = np.random.default_rng(11)
    n = 300_000
    x1 = 500_000 + rng.uniform(-PLANE_HALF_WIDTH_M, PLANE_HALF_WIDTH_M, n)
    y1 = rng.uniform(_FOOT_Y[0], _FOOT_Y[-1], n)
    length, angle = PLANE_MAX_M * np.sqrt(rng.uniform(0, 1, n)), rng.uniform(0, 2 * np.pi, n)
    x2, y2 = x1 + length * np.cos(angle), y1 + length * np.sin(angle)
    estimate = plane_geodesic_m(x1, y1, x2, y2)
    middle = (y1 + y2) / 2
    inside = (np.abs(x2 - 500_000) <= PLANE_HALF_WIDTH_M) & (middle >= _FOOT_Y[0]) & (middle <= _FOOT_Y[-1])
    assert inside.mean() > 0.8 and np.isfinite(estimate[inside]).all() and np.isnan(estimate[~inside]).all()
    lon1, lat1 = _LOCAL.transform(x1[inside], y1[inside], direction="INVERSE")
    lon2, lat2 = _LOCAL.transform(x2[inside], y2[inside], direction="INVERSE")
    error = np.abs(estimate[inside] - GEOD.inv(lon1, lat1, lon2, lat2)[2])
    assert error.max() < PLANE_ERROR_M / 4, error.max()
    far = plane_geodesic_m(np.array([500_000.0, 500_000.0 + 2 * PLANE_HALF_WIDTH_M]), np.array([3.3e6, 3.3e6]),
                           np.array([500_000.0 + 1.5 * PLANE_MAX_M, 500_000.0]), np.array([3.3e6, 3.3e6]))
    assert np.isnan(far).all()  # too long; an end too far from the meridian


def test_rounded_geodesic_km_is_the_rounded_ellipsoid_distance() -> None:
    """The same floats as rounding pyproj's distance to metres, also for lines within a millimetre of half a metre
    (which the estimate cannot settle) and off the estimate's domain."""
    rng = np.random.default_rng(12)
    n = 100_000
    lon, lat = rng.uniform(120.8, 122.3, n), rng.uniform(28.8, 30.5, n)
    x, y = _LOCAL.transform(lon, lat)
    angle, length = rng.uniform(0, 2 * np.pi, n), rng.uniform(0, 150_000, n)
    # A third of the lines stretched so that their length on the ellipsoid is k + 0.5 m, give or take a millimetre.
    exact = GEOD.inv(lon, lat, *_LOCAL.transform(x + length * np.cos(angle), y + length * np.sin(angle),
                                                 direction="INVERSE"))[2]
    tie = np.arange(n) % 3 == 0
    length[tie] *= (np.floor(exact[tie]) + 0.5 + rng.uniform(-1e-3, 1e-3, tie.sum())) / exact[tie]
    near_x, near_y = x + length * np.cos(angle), y + length * np.sin(angle)
    want = np.round(GEOD.inv(lon, lat, *_LOCAL.transform(near_x, near_y, direction="INVERSE"))[2] / 1e3, 3)
    got = rounded_geodesic_km(lon, lat, x, y, near_x, near_y)
    assert np.array_equal(got, want)


def test_far_from_ningbo_still_gets_a_nearest_subpark(locator: Locator) -> None:
    # lon 31 on the equator is 90 degrees from the Gauss-Kruger meridian: the plane has no coordinates there.
    got = locator.locate(np.array([31.0, 0.0]), np.array([0.0, 0.0]))
    assert got["nearest_subpark"].notna().all()
    assert (got["nearest_subpark_km"] > 9000).all() and np.isfinite(got["nearest_subpark_km"]).all()


def test_districts(locator: Locator) -> None:
    row = locate_one(locator, *YUYAO)
    assert (row["district_adcode"], row["district_name_zh"]) == ("330281", "余姚市")
    assert locate_one(locator, 121.87, 29.47)["district_adcode"] == "330225"  # 象山 丹城


def test_locate_refuses_nan_and_out_of_range(locator: Locator) -> None:
    with pytest.raises(SitesError, match=r"points \(1-based\): 2 .*, 3 "):
        locator.locate(np.array([121.5, np.nan, 121.5]), np.array([29.8, 29.8, 95.0]))


def test_summary_counts(layers: Layers, locator: Locator) -> None:
    points = block_points(layers)
    beilun_node = layers.kind("innovation-node").geometry["node-beilun-overseas-engineers"].representative_point()
    lon = np.array([p[2] for p in points] + [SEA[0], YUYAO[0], beilun_node.x])
    lat = np.array([p[3] for p in points] + [SEA[1], YUYAO[1], beilun_node.y])
    located = locator.locate(lon, lat)
    summary = locator.summary(locator.find(lon, lat))
    json.dumps(summary)  # plain types only
    blocks_per_subpark = pd.Series([p[0] for p in points]).value_counts()
    assert summary["sites"] == 34
    assert summary["in_subparks"] == 32  # the block points and the 北仑 node's point
    assert set(summary["per_subpark"]) == set(layers.kind("subpark")["id"])
    assert summary["per_subpark"]["subpark-beilun"] == blocks_per_subpark["subpark-beilun"] + 1
    assert summary["per_subpark"]["subpark-cixi"] == 1
    assert summary["per_innovation_node"]["node-beilun-overseas-engineers"] == 1
    yongxi = layers.kind("innovation-node").geometry["node-yongxi-corridor"]  # overlaps no other node
    assert summary["per_innovation_node"]["node-yongxi-corridor"] == shapely.intersects(yongxi, shapely.points(
        lon, lat)).sum() >= 1  # 余姚's centre at least
    assert summary["per_district"]["330281"] == located["district_adcode"].eq("330281").sum()
    assert sum(summary["per_district"].values()) == 33  # all but the sea point
    # The 北仑 sub-park and node both list high-end-equipment: the node's point counts once, as does
    # each 北仑 block; 慈溪 lists it too.
    assert summary["per_industry"]["high-end-equipment"] == blocks_per_subpark["subpark-beilun"] + 1 + 1
    # And every code against a direct count of the codes each site's areas list.
    listed = {fid: set(codes or ()) for fid, codes in zip(layers.parks["id"], layers.parks["industries"])}
    for code, count in summary["per_industry"].items():
        assert count == sum(any(code in listed.get(fid, ()) for fid in (r.subpark, r.corridor_unit, r.innovation_node))
                            for r in located.itertuples()), code


def test_100k_random_sites_agree_with_plain_shapely(layers: Layers, locator: Locator) -> None:
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(120.8, 122.3, 100_000), rng.uniform(28.8, 30.5, 100_000)
    got = locator.locate(lon, lat)
    points = shapely.points(lon, lat)
    in_subpark = shapely.intersects(layers.kind("subpark").geometry.union_all(), points)
    assert (got["subpark"].notna().to_numpy() == in_subpark).all()
    assert got["subpark_block_zh"].notna().sum() == in_subpark.sum()  # split parts get a block too
    assert ((got["nearest_subpark_km"] == 0).to_numpy() == in_subpark).all()
    assert (got["district_adcode"].notna().to_numpy() == shapely.intersects(layers.city, points)).all()
    zone = layers.kind("corridor").geometry["corridor-zone"]
    assert (got["corridor_zone"].to_numpy() == shapely.intersects(zone, points)).all()


def test_the_grid_answers_as_the_exact_test_on_boundaries_and_off_the_grid(locator: Locator) -> None:
    """Every ring vertex and edge midpoint (on a boundary), points a hair either side of them, random points
    and points beyond the extent: the grid's answers equal the point-in-polygon test's, area by area."""
    rng = np.random.default_rng(7)
    for areas in (locator.subparks, locator.zone, locator.corridor_areas, locator.units, locator.nodes,
                  locator.districts):
        areas = dataclasses.replace(areas, grid=CellGrid.of(areas.geoms))  # a grid for each, used or not
        ring = shapely.get_coordinates(shapely.boundary(areas.geoms))
        mid = (ring[:-1] + ring[1:]) / 2
        west, south, east, north = areas.bounds[:, 0].min(), areas.bounds[:, 1].min(), areas.bounds[:, 2].max(), \
            areas.bounds[:, 3].max()
        xy = np.vstack([ring, mid, ring + 1e-9, mid - 1e-9, [[west, south], [east, north], [east, south]],
                        np.column_stack([rng.uniform(west - 0.1, east + 0.1, 200_000),
                                         rng.uniform(south - 0.1, north + 0.1, 200_000)])])
        got = areas.holder(xy[:, 0], xy[:, 1])
        assert (got == areas.exact_holder(xy[:, 0], xy[:, 1])).all()
        assert (got >= 0).any() and (got == -1).any()


def test_the_grid_on_its_edges_with_nan_empty_areas_and_overlaps() -> None:
    """The extent's east and north edges, where lon * cells-per-degree can overshoot by an ulp; NaN; no areas;
    an empty polygon; a small area inside a big one (the smaller wins) and a hole."""
    big = shapely.box(121.0, 29.0, 121.16, 29.3)
    small = shapely.box(121.05, 29.05, 121.06, 29.06)
    holed = shapely.Polygon([(121.2, 29.0), (121.4, 29.0), (121.4, 29.2), (121.2, 29.2)],
                            [[(121.25, 29.05), (121.35, 29.05), (121.35, 29.15), (121.25, 29.15)]])
    areas = _Areas.of([big, small, holed, shapely.Polygon()], id=["big", "small", "holed", "empty"])
    areas = dataclasses.replace(areas, grid=CellGrid.of(areas.geoms))  # a grid, however few the vertices
    rng = np.random.default_rng(11)
    xs = np.concatenate([[121.16, 121.4, 121.0, 121.2, 121.16 + 1e-12, np.nan, 121.1],
                         rng.uniform(120.99, 121.41, 100_000)])
    ys = np.concatenate([[29.15, 29.2, 29.3, 29.1, 29.15, 29.1, np.nan], rng.uniform(28.99, 29.31, 100_000)])
    xs[-1000:] = rng.choice([121.0, 121.16, 121.2, 121.4, 121.25, 121.35], 1000)  # on vertical edges
    got = areas.holder(xs, ys)
    assert (got == areas.exact_holder(xs, ys)).all()
    named = areas.label("id", got)
    assert list(named[:7]) == ["big", "holed", "big", "holed", None, None, None]
    assert areas.label("id", areas.holder(np.array([121.055, 121.3]), np.array([29.055, 29.1]))).tolist() == \
        ["small", None]
    none = _Areas.of([], id=[])
    assert none.holder(np.array([121.1]), np.array([29.1])).tolist() == [-1]


def test_holders_index_the_ids_and_match_locate(layers: Layers, locator: Locator) -> None:
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(120.8, 122.3, 50_000), rng.uniform(28.8, 30.5, 50_000)
    held, located = locator.holders(lon, lat), locator.locate(lon, lat)
    for key, ids, column in (("subpark", locator.subpark_ids, "subpark"),
                             ("innovation_node", locator.node_ids, "innovation_node"),
                             ("district", locator.district_adcodes, "district_adcode")):
        named = np.array([*ids, None], dtype=object)[held[key]]
        assert (named == located[column].to_numpy()).all(), key
    assert (held["district"] >= 0).sum() == shapely.intersects(layers.city, shapely.points(lon, lat)).sum()


# --- reading CSV --------------------------------------------------------------------------------------------

def test_csv_with_bom_upper_case_headers_and_extra_columns(locator: Locator) -> None:
    text = "ID,LNG,Latitude,名称,note\nA-1,121.154,30.038,余姚,x\nB-2,122.2,29.3,海上,\n"
    sites = read_sites_csv(("\ufeff" + text).encode("utf-8"))
    assert list(sites.columns) == ["ID", "LNG", "Latitude", "名称", "note", "lon84", "lat84"]
    assert sites["ID"].tolist() == ["A-1", "B-2"]
    assert sites["名称"].tolist() == ["余姚", "海上"] and sites["note"].tolist() == ["x", ""]
    assert sites["LNG"].tolist() == ["121.154", "122.2"]  # passed through as text
    assert sites["lon84"].tolist() == [121.154, 122.2] and sites["lat84"].tolist() == [30.038, 29.3]


def test_csv_from_a_path_and_a_file_object(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text("x,y\n121.5,29.8\n", encoding="utf-8")
    for source in (path, str(path)):
        assert read_sites_csv(source)["lon84"].tolist() == [121.5]
    with open(path, "rb") as f:
        assert read_sites_csv(f)["lat84"].tolist() == [29.8]


@pytest.mark.parametrize(("data", "message"), [
    (b"id,name,where\n1,a,b\n", r"no longitude column .* and no latitude column .*found are: 'id', 'name', 'where'"),
    (b"lon,lat\n121.5,29.8\n121.5,north\n", r"1 row\(s\): data row 2: lat 'north' is not a number"),
    (b"lon,lat\n121.5,95\n", r"data row 1: lat 95 is out of range -90..90"),
    (b"lon,lat\n121.5,\n", r"data row 1: lat is empty"),
    (b"", r"empty"),
    (b"lon,lat\n", r"no data rows"),
    ("lon,lat,名称\n121.5,29.8,宁波\n".encode("gbk"), r"not UTF-8"),
    (b"lon,lat,subpark\n121.5,29.8,x\n", r"already has column\(s\) 'subpark'"),
    (b"lon,lat\n121.5,29.8,9\n", r"data row 1 has 3 fields but the header 2"),
])
def test_csv_errors(data: bytes, message: str) -> None:
    with pytest.raises(SitesError, match=message):
        read_sites_csv(data)


def test_csv_errors_list_at_most_five_rows() -> None:
    data = "lon,lat\n" + "".join(f"121.5,{'bad' if i % 2 else 29.8}\n" for i in range(20))
    with pytest.raises(SitesError) as err:
        read_sites_csv(data.encode())
    assert "10 row(s) (the first 5 listed)" in str(err.value)
    assert "data row 10:" in str(err.value) and "data row 12:" not in str(err.value)


def test_input_in_epsg_4549_and_gcj02_gives_the_same_answers(layers: Layers, locator: Locator) -> None:
    points = block_points(layers)
    lon, lat = np.array([p[2] for p in points]), np.array([p[3] for p in points])
    want = locator.locate(lon, lat)
    x, y = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True).transform(lon, lat)
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    for crs, (a, b) in ((parse_crs("EPSG:4549"), (x, y)), (parse_crs("GCJ02"), (g_lon, g_lat))):
        text = "x,y\n" + "".join(f"{float(u)!r},{float(v)!r}\n" for u, v in zip(a, b))
        sites = read_sites_csv(text.encode(), crs)
        np.testing.assert_allclose(sites["lon84"], lon, atol=1e-8)
        np.testing.assert_allclose(sites["lat84"], lat, atol=1e-8)
        got = locator.locate(sites["lon84"].to_numpy(), sites["lat84"].to_numpy())
        pd.testing.assert_frame_equal(got.drop(columns="nearest_subpark_km"), want.drop(columns="nearest_subpark_km"))


def test_projected_input_is_range_checked_after_the_transform() -> None:
    with pytest.raises(SitesError, match=r"data row 1: \(1e\+12, 3\.3e\+06\) in EPSG:4549 has no WGS 84 lon/lat"):
        read_sites_csv(b"x,y\n1e12,3300000\n", parse_crs("EPSG:4549"))


# --- reading GeoJSON ----------------------------------------------------------------------------------------

def point(lon: float, lat: float, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": props}


def test_geojson_sites(locator: Locator) -> None:
    doc = {"type": "FeatureCollection", "features": [
        {**point(*YUYAO, name="余姚", tags=["a", "b"], size=3), "id": "f1"},
        point(*SEA, name="sea", meta={"k": "值"}),
    ]}
    sites = read_sites_geojson(doc)
    assert list(sites.columns) == ["id", "name", "tags", "size", "meta", "lon84", "lat84"]
    assert sites["id"].tolist() == ["f1", None]
    assert sites["tags"].tolist() == ['["a", "b"]', None] and sites["meta"].tolist() == [None, '{"k": "值"}']
    assert sites["size"].tolist() == [3, None]
    got = locator.locate(sites["lon84"].to_numpy(), sites["lat84"].to_numpy())
    assert got["district_adcode"].tolist() == ["330281", None]


def test_geojson_in_gcj02() -> None:
    g_lon, g_lat = wgs84_to_gcj02(np.array([YUYAO[0]]), np.array([YUYAO[1]]))
    doc = {"type": "FeatureCollection", "features": [point(float(g_lon[0]), float(g_lat[0]))]}
    sites = read_sites_geojson(doc, parse_crs("GCJ02"))
    assert sites["lon84"][0] == pytest.approx(YUYAO[0], abs=1e-8)
    assert sites["lat84"][0] == pytest.approx(YUYAO[1], abs=1e-8)


@pytest.mark.parametrize(("doc", "message"), [
    ({"type": "FeatureCollection", "features": [point(*YUYAO), {"type": "Feature", "properties": {},
      "geometry": {"type": "LineString", "coordinates": [[121, 29], [122, 30]]}}]},
     r"features\[1\]: a LineString, not a Point"),
    ({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": None, "properties": {}}]},
     r"features\[0\]: no geometry"),
    ({"type": "FeatureCollection", "features": [point(121.5, 95)]}, r"features\[0\]: lat 95 is out of range"),
    ({"type": "FeatureCollection", "features": []}, r"no features"),
    ({"type": "FeatureCollection", "features": [{**point(*YUYAO), "properties": [1]}]},
     r"features\[0\]: properties is not an object"),
    ({"type": "Feature", "geometry": None}, r"not a GeoJSON FeatureCollection"),
])
def test_geojson_errors(doc: Any, message: str) -> None:
    with pytest.raises(SitesError, match=message):
        read_sites_geojson(doc)


# --- streaming --------------------------------------------------------------------------------------------------

def test_locate_csv_streams_in_chunks_to_a_file(tmp_path: Path, layers: Layers, locator: Locator) -> None:
    rows = [(f"s{i}", *p[2:]) for i, p in enumerate(block_points(layers))] + [("sea", *SEA)]
    src = tmp_path / "in.csv"
    src.write_text("id,lon,lat,comment\n" + "".join(f"{i},{x},{y},c {i}\n" for i, x, y in rows), encoding="utf-8")
    dst = tmp_path / "out.csv"
    done: list[Progress] = []
    summary = locate_file(src, dst, locator, block_bytes=300, progress=done.append)
    assert len(done) >= 3 and done[-1].rows == 32 and done[-1].fraction == 1.0  # blocks of 300 bytes
    assert [p.rows for p in done] == sorted(p.rows for p in done)
    with open(dst, encoding="utf-8-sig", newline="") as f:
        out = list(csv.DictReader(f))
    assert list(out[0]) == ["id", "lon", "lat", "comment", "lon84", "lat84", *LOCATED_COLUMNS]
    assert [r["id"] for r in out] == [r[0] for r in rows] and out[0]["comment"] == "c s0"
    assert [r["subpark"] for r in out[:-1]] == [p[0] for p in block_points(layers)]
    assert out[-1]["subpark"] == "" and float(out[-1]["nearest_subpark_km"]) > 0
    lon, lat = np.array([r[1] for r in rows]), np.array([r[2] for r in rows])
    assert summary == locator.summary(locator.find(lon, lat))  # block summaries add up to the whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]  # no temporary file left


def test_locate_csv_leaves_nothing_behind_on_error(tmp_path: Path, locator: Locator) -> None:
    dst = tmp_path / "out.csv"
    dst.write_text("old\n")
    data = "lon,lat\n" + "121.5,29.8\n" * 25 + "121.5,oops\n"
    with pytest.raises(SitesError, match="data row 26: lat 'oops'"):
        locate_file(io.BytesIO(data.encode()), dst, locator, block_bytes=100)
    assert dst.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


# --- the command line -----------------------------------------------------------------------------------------

def nbgis(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nbgis", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_cli_locate(tmp_path: Path) -> None:
    src = tmp_path / "sites.csv"
    src.write_text(f"id,lon,lat\n1,{YUYAO[0]},{YUYAO[1]}\n2,{SEA[0]},{SEA[1]}\n3,121.194996,30.0462\n",
                   encoding="utf-8")
    result = nbgis("locate", str(src), "-o", str(tmp_path / "out.csv"))
    assert result.returncode == 0, result.stderr
    assert "3 sites, 1 in sub-parks" in result.stdout
    assert any(line.split() == ["subpark-yuyao", "1"] for line in result.stdout.splitlines())
    with open(tmp_path / "out.csv", encoding="utf-8-sig", newline="") as f:
        assert [r["district_adcode"] for r in csv.DictReader(f)] == ["330281", "", "330281"]


def test_cli_locate_with_crs(tmp_path: Path) -> None:
    x, y = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True).transform(*YUYAO)
    src = tmp_path / "sites.csv"
    src.write_text(f"x,y\n{x},{y}\n", encoding="utf-8")
    result = nbgis("locate", str(src), "-o", str(tmp_path / "out.csv"), "--crs", "EPSG:4549")
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "out.csv", encoding="utf-8-sig", newline="") as f:
        assert next(csv.DictReader(f))["district_name_zh"] == "余姚市"


@pytest.mark.parametrize(("content", "extra", "message"), [
    (None, (), "cannot read"),
    ("lon,lat\n121.5,95\n", (), "data row 1: lat 95 is out of range"),
    ("lon,lat\n121.5,29.8\n", ("--crs", "EPSG:99999"), "unknown CRS"),
    ("name\nx\n", (), "no longitude column"),
])
def test_cli_locate_errors(tmp_path: Path, content: str | None, extra: tuple[str, ...], message: str) -> None:
    src = tmp_path / "sites.csv"
    if content is not None:
        src.write_text(content, encoding="utf-8")
    result = nbgis("locate", str(src), "-o", str(tmp_path / "out.csv"), *extra)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith("nbgis: error: ") and message in result.stderr
    assert not (tmp_path / "out.csv").exists()


def test_geo_locate_imports_no_web_code() -> None:
    code = "import sys, geo.locate; print({'fastapi', 'starlette', 'folium'} & set(sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "set()", result.stdout + result.stderr


RACE = """
import threading, numpy as np, shapely
from geo.layers import load_layers
from geo.locate import _prepare
districts = load_layers().kind("district").geometry.to_numpy()
rng = np.random.default_rng(3)
lon, lat = rng.uniform(120.8, 122.3, 20_000), rng.uniform(28.8, 30.5, 20_000)
for _ in range(20):  # fresh prepared copies each round, first tested by two threads at once
    geoms = shapely.from_wkb(shapely.to_wkb(districts))
    _prepare(geoms)
    start = threading.Barrier(2)
    def test(part):
        start.wait()
        for g in geoms:
            shapely.intersects_xy(g, lon[part::2], lat[part::2])
    threads = [threading.Thread(target=test, args=(k,)) for k in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
print("ok")
"""


def test_prepared_areas_are_safe_to_test_from_two_threads_at_once() -> None:
    """GEOS builds a prepared polygon's indexed point locator lazily (libgeos/geos#825); built by two threads at
    once it corrupted the heap (4 of 5 runs of this script aborted before the fix). In a child process: a crash
    fails the test, not the test run."""
    done = subprocess.run([sys.executable, "-c", RACE], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
