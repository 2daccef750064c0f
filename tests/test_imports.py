"""Import of surveyed boundaries (geo.imports, `nbgis import`): files of every format GIS offices send, built here
with GDAL (pyogrio) and ezdxf, read in their own CRS or the one given, matched to the store's features, measured
and written as one changeset, or nothing. Coordinates are checked against an independent transform (the
Gauss-Kruger projection spelled out as a PROJ string, not looked up by EPSG code)."""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import io
import json
import shutil
import sqlite3
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import psycopg
import pyogrio
import pyproj
import pytest
import shapely
import shapely.affinity

from bench.postgres import Cluster
from geo.crs import wgs84_to_gcj02
from geo.imports import (
    HAUSDORFF_STEP_M,
    ImportFileError,
    ImportPlan,
    ImportRefused,
    commit_import,
    plan_import,
    read_boundaries,
    read_upload,
)
from geo.layers import Layers
from geo.measure import geodesic_area_km2
from geo.seed import DATA_DIR, read_seed, seed_digest
from geo.store.base import Conflict, Edit, FeatureStore, open_store
from nbgis.cli import main

ROOT = Path(__file__).resolve().parent.parent
GK = "EPSG:4549"  # CGCS2000 / 3-degree Gauss-Kruger CM 120E: the zone most of Ningbo (120.9-122.3 E) lies in
# EPSG:4549 written out: CGCS2000 is on the GRS 80 ellipsoid, and PROJ takes CGCS2000 to WGS 84 as a null shift.
GK_BY_HAND = "+proj=tmerc +lat_0=0 +lon_0=120 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs"
HAND = pyproj.Transformer.from_crs(GK_BY_HAND, "+proj=longlat +ellps=GRS80 +no_defs", always_xy=True)


def gk(geom: shapely.Geometry) -> shapely.Geometry:
    """CRS84 to Gauss-Kruger metres, by the hand-written projection."""
    return shapely.transform(geom, lambda xy: np.column_stack(HAND.transform(xy[:, 0], xy[:, 1],
                                                                            direction="INVERSE")))


def lonlat(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, lambda xy: np.column_stack(HAND.transform(xy[:, 0], xy[:, 1])))


def surveyed(layers: Layers, fid: str, dx: float, dy: float, grow: float) -> shapely.MultiPolygon:
    """A realistic survey of a sub-park, in Gauss-Kruger metres: the schematic boundary moved by (dx, dy) metres,
    grown by `grow`, kept 50 m inside its district and 100 m off every other sub-park, without crumbs."""
    sub = layers.kind("subpark")
    row = sub.loc[fid]
    district = layers.districts[layers.districts["adcode"].isin(row["district_adcodes"])].geometry.union_all()
    others = shapely.union_all([gk(g) for i, g in zip(sub["id"], sub.geometry) if i != fid]).buffer(100)
    moved = shapely.affinity.translate(gk(row.geometry), dx, dy).buffer(grow, join_style="mitre")
    shape = moved.intersection(gk(district).buffer(-50)).difference(others)
    parts = [p for p in shapely.get_parts(shape) if isinstance(p, shapely.Polygon) and p.area > 50_000]
    return shapely.MultiPolygon(parts)


@pytest.fixture(scope="module")
def beilun(layers: Layers) -> shapely.MultiPolygon:
    return surveyed(layers, "subpark-beilun", 180, -120, 60)


@pytest.fixture(scope="module")
def daxie(layers: Layers) -> shapely.MultiPolygon:
    return surveyed(layers, "subpark-daxie", -90, 70, -40)


def write(path: Path, rows: list[dict[str, object]], geoms: list[shapely.Geometry | None], crs: str | None,
          **kwargs: object) -> Path:
    frame = gpd.GeoDataFrame(rows, geometry=gpd.GeoSeries(geoms), crs=crs)
    with warnings.catch_warnings():  # a file without a CRS is what some tests want
        warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
        pyogrio.write_dataframe(frame, path, **kwargs)
    return path


def zipped(shp: Path, folder: str = "") -> Path:
    """The Shapefile's parts in a zip, at its top or in a folder inside (as zipping a folder makes them)."""
    out = shp.with_suffix(".zip")
    with zipfile.ZipFile(out, "w") as z:
        for part in shp.parent.glob(shp.stem + ".*"):
            if part.suffix != ".zip":
                z.write(part, f"{folder}/{part.name}" if folder else part.name)
    return out


def within_m(a: shapely.Geometry, b: shapely.Geometry, metres: float) -> bool:
    """Two CRS84 geometries lie within `metres` of each other everywhere (Hausdorff, in Gauss-Kruger metres)."""
    return bool(shapely.hausdorff_distance(gk(a), gk(b), densify=0.25) < metres)


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seed") / "seeded.gpkg"
    open_store(path).init(lambda: read_seed(DATA_DIR), seed_digest(DATA_DIR))
    return path


@pytest.fixture
def store(seeded_file: Path, tmp_path: Path) -> FeatureStore:
    """A freshly seeded embedded store of this test's own (a copy of one seeded once)."""
    path = tmp_path / "store.gpkg"
    path.write_bytes(seeded_file.read_bytes())
    return open_store(path)


# --- reading: formats and CRSs ------------------------------------------------------------------------


@pytest.mark.parametrize("packed", [None, "", "北仑 survey"], ids=["shp", "zip", "zipped-folder"])
def test_a_gauss_kruger_shapefile_comes_back_within_a_metre(tmp_path: Path, beilun: shapely.MultiPolygon,
                                                          packed: str | None) -> None:
    shp = write(tmp_path / "beilun.shp", [{"id": "subpark-beilun", "name_zh": "北仑分园"}], [beilun], GK)
    assert "CGCS2000_3_Degree_GK_CM_120E" in shp.with_suffix(".prj").read_text()  # the .prj ArcGIS writes
    got = read_boundaries(shp if packed is None else zipped(shp, packed), "id")
    assert got.crs.startswith("EPSG:4549") and got.crs_from == "file" and got.layer == "beilun"
    (row,) = got.rows
    assert row.key == "subpark-beilun" and row.number == 1
    expected = lonlat(beilun)
    assert 121.5 < row.geometry.bounds[0] < 122.3 and 29.6 < row.geometry.bounds[1] < 30.1  # lon first
    assert within_m(row.geometry, expected, 1.0)
    assert shapely.get_num_coordinates(row.geometry) == shapely.get_num_coordinates(beilun)
    assert geodesic_area_km2(row.geometry) == pytest.approx(geodesic_area_km2(expected), rel=1e-9)


def test_the_zone_east_of_121_5_is_read_too(tmp_path: Path, beilun: shapely.MultiPolygon) -> None:
    """北仑 (121.8-122.1 E) lies in the 3-degree zone of CM 123E (EPSG:4550) by the zones' own limits; a bureau
    there may well survey in it rather than in EPSG:4549 (CM 120E), which most of Ningbo uses."""
    east = pyproj.Transformer.from_crs("+proj=longlat +ellps=GRS80 +no_defs", GK_BY_HAND.replace("lon_0=120",
                                                                                                  "lon_0=123"),
                                       always_xy=True)
    in_4550 = shapely.transform(lonlat(beilun), lambda xy: np.column_stack(east.transform(xy[:, 0], xy[:, 1])))
    assert 300_000 < in_4550.bounds[0] < in_4550.bounds[2] < 500_000  # west of CM 123E: eastings under 500 km
    got = read_boundaries(write(tmp_path / "b.gpkg", [{"id": "subpark-beilun"}], [in_4550], "EPSG:4550"), "id")
    assert got.crs.startswith("EPSG:4550 (CGCS2000 / 3-degree Gauss-Kruger CM 123E)")
    assert within_m(got.rows[0].geometry, lonlat(beilun), 1.0)


@pytest.mark.parametrize(("suffix", "driver", "crs"), [
    (".gpkg", "GPKG", "EPSG:4326"), (".fgb", "FlatGeobuf", "EPSG:4490"), (".geojson", "GeoJSON", "EPSG:4326")])
def test_geographic_files_are_read_lon_lat(tmp_path: Path, beilun: shapely.MultiPolygon, suffix: str, driver: str,
                                           crs: str) -> None:
    """EPSG:4326 and 4490 put latitude first, yet GDAL hands their coordinates over lon/lat: nothing swaps."""
    path = write(tmp_path / f"b{suffix}", [{"id": "subpark-beilun"}], [lonlat(beilun)], crs, driver=driver)
    got = read_boundaries(path, "id")
    assert got.crs.startswith(crs)
    assert within_m(got.rows[0].geometry, lonlat(beilun), 0.01)


def test_a_gcj02_geojson_is_shifted_back(tmp_path: Path, beilun: shapely.MultiPolygon) -> None:
    truth = lonlat(beilun)
    shifted = shapely.transform(truth, lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
    path = write(tmp_path / "amap.geojson", [{"id": "subpark-beilun"}], [shifted], "EPSG:4326")
    got = read_boundaries(path, "id", crs="gcj-02")
    assert got.crs == "GCJ02" and got.crs_from == "user"
    assert within_m(got.rows[0].geometry, truth, 1.0)
    as_wgs84 = read_boundaries(path, "id").rows[0].geometry  # the file's own CRS: the obfuscation left in
    assert not within_m(as_wgs84, truth, 100.0)


def test_a_kml_placemark_name_matches_name_zh(tmp_path: Path, beilun: shapely.MultiPolygon) -> None:
    polygons = "".join(
        "<Polygon><outerBoundaryIs><LinearRing><coordinates>"
        + " ".join(f"{x:.9f},{y:.9f},0" for x, y in p.exterior.coords)
        + "</coordinates></LinearRing></outerBoundaryIs></Polygon>" for p in lonlat(beilun).geoms)
    path = tmp_path / "beilun.kml"
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
                    f"<Placemark><name>北仑分园</name><MultiGeometry>{polygons}</MultiGeometry></Placemark>"
                    f"</Document></kml>", encoding="utf-8")
    got = read_boundaries(path, "name_zh")
    assert got.key_field == "Name" and got.rows[0].key == "北仑分园"
    assert within_m(got.rows[0].geometry, lonlat(beilun), 0.01)  # 9 decimals: 0.1 mm


def test_a_geopackage_layer_is_chosen(tmp_path: Path, beilun: shapely.MultiPolygon) -> None:
    path = tmp_path / "survey.gpkg"
    write(path, [{"id": "subpark-beilun"}], [beilun], GK, layer="boundaries")
    write(path, [{"id": "gate"}], [shapely.Point(700000, 3300000)], GK, layer="gates")
    with pytest.raises(ImportFileError, match=r"holds 2 layers \(boundaries, gates\); name one with --layer"):
        read_boundaries(path, "id")
    with pytest.raises(ImportFileError, match="has no layer 'roads'; its layers: boundaries, gates"):
        read_boundaries(path, "id", layer="roads")
    got = read_boundaries(path, "id", layer="boundaries")
    assert within_m(got.rows[0].geometry, lonlat(beilun), 1.0)


def test_a_dxf_boundary_is_its_layers_closed_polylines(tmp_path: Path, beilun: shapely.MultiPolygon) -> None:
    """CAD draws a boundary as closed polylines on a layer named for it, holes as rings inside, labels beside."""
    import ezdxf

    doc = ezdxf.new("R2010", units=ezdxf.units.M)
    doc.layers.add("subpark-beilun")
    msp = doc.modelspace()
    for part in beilun.geoms:
        for ring in (part.exterior, *part.interiors):
            msp.add_lwpolyline(list(ring.coords)[:-1], close=True, dxfattribs={"layer": "subpark-beilun"})
    msp.add_text("北仑分园", dxfattribs={"layer": "subpark-beilun"}).set_placement(beilun.centroid.coords[0])
    msp.add_line((0, 0), (10, 10), dxfattribs={"layer": "roads"})  # drawing, not boundary: left out
    path = tmp_path / "beilun.dxf"
    doc.saveas(path)
    with pytest.raises(ImportFileError, match="does not say its CRS"):
        read_boundaries(path, "id")
    got = read_boundaries(path, "id", crs="EPSG:4549")
    (row,) = got.rows
    assert row.key == "subpark-beilun"
    assert within_m(row.geometry, lonlat(beilun), 0.01)
    assert geodesic_area_km2(row.geometry) == pytest.approx(geodesic_area_km2(lonlat(beilun)), rel=1e-6)


def test_no_crs_and_unknown_crs_are_refused_with_the_way_out(tmp_path: Path, beilun: shapely.MultiPolygon) -> None:
    shp = write(tmp_path / "bare.shp", [{"id": "subpark-beilun"}], [beilun], None)
    assert not shp.with_suffix(".prj").exists()
    with pytest.raises(ImportFileError, match=r"bare.shp does not say its CRS .*--crs, e.g. EPSG:4549"):
        read_boundaries(shp, "id")
    assert within_m(read_boundaries(shp, "id", crs="http://www.opengis.net/def/crs/EPSG/0/4549").rows[0].geometry,
                    lonlat(beilun), 1.0)
    with pytest.raises(ImportFileError, match="unknown CRS 'EPSG:999999'"):
        read_boundaries(shp, "id", crs="EPSG:999999")
    with pytest.raises(ImportFileError, match="cannot hold Ningbo"):
        read_boundaries(shp, "id", crs="EPSG:32633")
    with pytest.raises(ImportFileError, match="refers to a file"):
        read_boundaries(shp, "id", crs="+proj=longlat +nadgrids=/etc/passwd")
    wrong = write(tmp_path / "wrong.gpkg", [{"id": "subpark-beilun"}], [beilun], "EPSG:32633")  # mislabelled
    with pytest.raises(ImportFileError, match=r"wrong.gpkg: its own CRS cannot be used \(CRS .*UTM zone 33N\) "
                                              r"cannot hold Ningbo.*name the right one with --crs"):
        read_boundaries(wrong, "id")
    fixed = read_boundaries(wrong, "id", crs="EPSG:4549")  # the user's CRS over the file's
    assert fixed.crs_from == "user" and within_m(fixed.rows[0].geometry, lonlat(beilun), 1.0)


def test_an_upload_is_read_by_the_name_its_client_gave(tmp_path: Path, beilun: shapely.MultiPolygon) -> None:
    shp = write(tmp_path / "beilun.shp", [{"id": "subpark-beilun"}], [beilun], GK)
    got = read_upload(zipped(shp).read_bytes(), "C:\\surveys\\北仑 2026.zip", "id")
    assert got.name == "北仑 2026.zip" and got.format == "zipped Shapefile"
    assert within_m(got.rows[0].geometry, lonlat(beilun), 1.0)
    gpkg = write(tmp_path / "b.gpkg", [{"id": "subpark-beilun"}], [beilun], GK, layer="parcels")
    assert read_upload(gpkg.read_bytes(), "../../etc/b.gpkg", "id").name == "b.gpkg"
    with pytest.raises(ImportFileError, match="its content is not GeoPackage"):
        read_upload(zipped(shp).read_bytes(), "b.gpkg", "id")


def test_files_that_are_not_what_they_say_are_refused(tmp_path: Path) -> None:
    vrt = tmp_path / "trick.geojson"  # a VRT would make GDAL read any file the server can
    vrt.write_text('<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/etc/passwd</SrcDataSource>'
                   "</OGRVRTLayer></OGRVRTDataSource>")
    with pytest.raises(ImportFileError, match="its content is not GeoJSON"):
        read_boundaries(vrt, "id")
    kml = tmp_path / "trick.kml"
    kml.write_text('<?xml version="1.0"?><OGRVRTDataSource><!-- <kml> --></OGRVRTDataSource>')
    with pytest.raises(ImportFileError, match="its content is not KML"):
        read_boundaries(kml, "id")
    bad_zip = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad_zip, "w") as z:
        z.writestr("__MACOSX/._a.shp", "")  # passed over
        z.writestr("a.vrt", "<OGRVRTDataSource/>")
    with pytest.raises(ImportFileError, match=r"a zip may hold only Shapefiles; it also holds a\.vrt"):
        read_boundaries(bad_zip, "id")
    with zipfile.ZipFile(bad_zip, "w") as z:
        z.writestr("2025/a.shp", "")
        z.writestr("2026/a.shp", "")
    with pytest.raises(ImportFileError, match=r"Shapefiles in several folders \(2025, 2026\); zip one folder"):
        read_boundaries(bad_zip, "id")
    with pytest.raises(ImportFileError, match="cannot tell the format"):
        read_boundaries(tmp_path / "x.csv", "id")
    with pytest.raises(ImportFileError, match="cannot match by 'name'"):
        read_boundaries(vrt, "name")


def test_damaged_files_are_refused_in_words(tmp_path: Path, beilun: shapely.MultiPolygon) -> None:
    """Every format cut short or with bytes overwritten: read, or refused with ImportFileError, never a crash."""
    import ezdxf

    row, geoms = [{"id": "subpark-beilun"}], [beilun]
    files = {name: write(tmp_path / name, row, geoms, GK, **kwargs) for name, kwargs in (
        ("a.gpkg", {}), ("a.fgb", {}), ("a.geojson", {"driver": "GeoJSON"}), ("a.shp", {}))}
    files["a.geojson"] = write(tmp_path / "a.geojson", row, [lonlat(beilun)], "EPSG:4326")
    files["a.kml"] = write(tmp_path / "a.kml", row, [lonlat(beilun)], "EPSG:4326", driver="LIBKML")
    files["a.zip"] = zipped(files["a.shp"])
    doc = ezdxf.new("R2010")
    doc.modelspace().add_lwpolyline(list(beilun.geoms[0].exterior.coords)[:-1], close=True,
                                    dxfattribs={"layer": "subpark-beilun"})
    doc.saveas(tmp_path / "a.dxf")
    files["a.dxf"] = tmp_path / "a.dxf"
    random = np.random.default_rng(13)
    outcomes = {"read": 0, "refused": 0}
    for name, path in files.items():
        data = path.read_bytes()
        for _ in range(8):
            damaged = bytearray(data[:int(random.integers(1, len(data)))])
            spoilt = bytearray(data)
            for i in random.integers(0, len(data), int(random.integers(1, 30))):
                spoilt[i] = int(random.integers(0, 256))
            for content in (damaged, spoilt):
                target = tmp_path / "damaged" / name
                target.parent.mkdir(exist_ok=True)
                for part in path.parent.glob(path.stem + ".*"):  # a .shp's .shx, .dbf and .prj beside it
                    if path.suffix == ".shp" and part.suffix != ".shp":
                        shutil.copy(part, target.with_suffix(part.suffix))
                target.write_bytes(bytes(content))
                try:
                    read_boundaries(target, "id", crs="EPSG:4549" if name.endswith(".dxf") else None)
                    outcomes["read"] += 1
                except ImportFileError:
                    outcomes["refused"] += 1
    assert outcomes["refused"] > 40 and sum(outcomes.values()) == len(files) * 16


# --- planning: matches, problems, diff ---------------------------------------------------------------


def plan_of(store: FeatureStore, path: Path, match: str = "id", **kwargs: str) -> ImportPlan:
    return plan_import(store, DATA_DIR, read_boundaries(path, match, **kwargs), "subparks", match)


def test_the_diff_measures_what_the_file_holds(store: FeatureStore, tmp_path: Path, layers: Layers,
                                               beilun: shapely.MultiPolygon, daxie: shapely.MultiPolygon) -> None:
    path = write(tmp_path / "two.shp", [{"id": "subpark-beilun", "remark": "A"}, {"id": "subpark-daxie"}],
                 [beilun, daxie], GK)
    plan = plan_of(store, path)
    assert plan.ok, plan.errors()
    assert [m.id for m in plan.matches] == ["subpark-beilun", "subpark-daxie"]
    sub = layers.kind("subpark")
    for d, written in zip(plan.diff, (beilun, daxie)):
        assert d.area_before_km2 == pytest.approx(sub.loc[d.id, "area_km2"], rel=1e-9)
        assert d.area_after_km2 == pytest.approx(geodesic_area_km2(lonlat(written)), rel=1e-7)
        assert d.area_change_pct == pytest.approx((d.area_after_km2 / d.area_before_km2 - 1) * 100)
        # GEOS's Hausdorff distance, every segment cut in 200 (the geometries here are small enough for it)
        independent = shapely.hausdorff_distance(gk(sub.loc[d.id].geometry), written, densify=0.005)
        assert d.hausdorff_m == pytest.approx(independent, abs=HAUSDORFF_STEP_M / 2)
    beilun_row = plan.diff[0]
    assert beilun_row.name_zh == "北仑分园"
    assert 0.05 < beilun_row.centroid_moved_km < 1.0  # moved (180, -120) m, grown 60 m, clipped
    assert 100 < beilun_row.hausdorff_m < 2000
    after = plan.matches[0].after
    assert after.properties["geometry_quality"] == "surveyed"
    assert after.properties["geometry_source"] == "two.shp, layer two"
    assert "imported from two.shp" in after.properties["geometry_method"] and "EPSG:4549" in after.properties[
        "geometry_method"]
    before = plan.matches[0].before.properties
    assert {k: v for k, v in after.properties.items() if not k.startswith("geometry_")} == {
        k: v for k, v in before.items() if not k.startswith("geometry_")}  # everything else kept, "remark" ignored
    assert after.geometry.geom_type == "MultiPolygon"
    text = plan.text()
    assert "subpark-beilun" in text and "北仑分园" in text and "NOT importable" not in text
    again = ImportPlan.from_payload(json.loads(json.dumps(plan.to_payload())))
    assert again.to_payload() == plan.to_payload() and again.matches[0].after.geometry.equals(after.geometry)


def test_rows_that_do_not_match_one_feature_are_each_named(store: FeatureStore, tmp_path: Path,
                                                           beilun: shapely.MultiPolygon) -> None:
    bow_tie = shapely.Polygon([(700000, 3300000), (701000, 3301000), (701000, 3300000), (700000, 3301000)])
    path = write(tmp_path / "mixed.gpkg",
                 [{"id": "subpark-beilun"}, {"id": "subpark-nowhere"}, {"id": "subpark-beilun"}, {"id": None},
                  {"id": "subpark-yinzhou"}, {"id": "subpark-jiangbei"}],
                 [beilun, beilun, beilun, beilun, bow_tie, shapely.Polygon()], GK)
    plan = plan_of(store, path)
    assert not plan.ok
    assert [r.key for r in plan.unmatched] == ["subpark-nowhere"]
    errors = "\n".join(plan.errors())
    assert "row 2 (id 'subpark-nowhere') matches no feature of subparks" in errors
    assert "rows 1 and 3 both match subpark-beilun" in errors
    assert "row 4: no id to match by" in errors
    assert "row 5 (id 'subpark-yinzhou') for subpark-yinzhou: invalid geometry: Self-intersection" in errors
    assert "row 6 (id 'subpark-jiangbei') for subpark-jiangbei: empty geometry" in errors
    assert "NOT importable: 5 problem(s)" in plan.text()


def test_a_file_matching_nothing_or_lacking_the_field_stops_at_once(store: FeatureStore, tmp_path: Path,
                                                                    beilun: shapely.MultiPolygon) -> None:
    none = write(tmp_path / "none.shp", [{"id": "park-a"}, {"id": "park-b"}], [beilun, beilun], GK)
    with pytest.raises(ImportFileError, match=r"no row of none.shp matches a feature of subparks by id: the "
                                              r"file's id values are 'park-a', 'park-b'"):
        plan_of(store, none)
    with pytest.raises(ImportFileError, match="has no column 'name_zh' to match by; its columns: id"):
        plan_of(store, none, "name_zh")
    with pytest.raises(ImportFileError, match="districts are reference data"):
        plan_import(store, DATA_DIR, read_boundaries(none, "id"), "districts", "id")


def test_a_gbk_shapefile_without_its_cpg_matches_once_its_encoding_is_given(store: FeatureStore, tmp_path: Path,
                                                                           beilun: shapely.MultiPolygon) -> None:
    shp = write(tmp_path / "gbk.shp", [{"name_zh": "北仑分园"}], [beilun], GK, encoding="GBK")
    shp.with_suffix(".cpg").unlink()  # as many Chinese GIS offices send them: GBK, and nothing says so
    with pytest.raises(ImportFileError, match=r"look garbled: give the Shapefile.s encoding, e\.g\. --encoding GBK"):
        plan_of(store, shp, "name_zh")
    plan = plan_import(store, DATA_DIR, read_boundaries(shp, "name_zh", encoding="gbk"), "subparks", "name_zh")
    assert plan.ok and [m.id for m in plan.matches] == ["subpark-beilun"]
    with pytest.raises(ImportFileError, match=r"an encoding is for a Shapefile.s \.dbf"):
        read_boundaries(write(tmp_path / "b.gpkg", [{"id": "x"}], [beilun], GK), "id", encoding="GBK")


def test_swapped_axes_are_caught_not_imported(store: FeatureStore, tmp_path: Path,
                                              beilun: shapely.MultiPolygon) -> None:
    swapped = shapely.transform(lonlat(beilun), lambda xy: xy[:, ::-1])  # lat, lon as some tools write 4326
    path = write(tmp_path / "swapped.geojson", [{"name_zh": "北仑分园"}], [swapped], "EPSG:4326")
    plan = plan_of(store, path, "name_zh")
    assert not plan.ok and plan.matches == []
    assert "not in Ningbo: is the CRS right, and x the easting (longitude)?" in plan.errors()[0]


# --- the command ------------------------------------------------------------------------------------


def nbgis(*args: str) -> subprocess.CompletedProcess[str]:
    """`nbgis ARGS` in this process (the command's own main, output captured): a second a run, not five."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def nbgis_process(*args: str) -> subprocess.CompletedProcess[str]:
    """`nbgis ARGS` as its own process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "nbgis", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def sql(store: FeatureStore, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Rows read from the store's own file or database (sqlite3, psycopg), not through geo.store."""
    if store.url.startswith("postgresql"):
        with psycopg.connect(store.url) as connection:
            return list(connection.execute(query.replace("?", "%s"), params).fetchall())
    with sqlite3.connect(store.url.removeprefix("sqlite:///")) as connection:
        return list(connection.execute(query, params).fetchall())


def stored(store: FeatureStore) -> dict[str, tuple[dict[str, object], shapely.Geometry]]:
    """The store's parks: GDAL reads the GeoPackage; PostGIS hands over WKB."""
    if store.url.startswith("postgresql"):
        return {fid: (json.loads(props), shapely.from_wkb(wkb))
                for fid, props, wkb in sql(store, "SELECT id, properties::text, ST_AsBinary(geom) FROM parks")}
    frame = pyogrio.read_dataframe(store.url.removeprefix("sqlite:///"), layer="parks")
    return {fid: (json.loads(props), geom) for fid, props, geom in zip(frame["id"], frame["properties"],
                                                                      frame.geometry)}


def store_bytes_state(store: FeatureStore) -> tuple[object, list[tuple[object, ...]]]:
    """The dataset version and every park's properties and geometry as stored, to compare before and after."""
    version = sql(store, "SELECT uid || '.' || counter FROM nbgis_dataset")[0][0]
    geom = "ST_AsBinary(geom)" if store.url.startswith("postgresql") else "geom"
    return version, sql(store, f"SELECT id, CAST(properties AS text), {geom} FROM parks ORDER BY id")


@pytest.fixture
def any_store(store_url: str) -> FeatureStore:
    """A freshly seeded store of each kind (GeoPackage, PostGIS)."""
    store = open_store(store_url)
    store.init(lambda: read_seed(DATA_DIR), seed_digest(DATA_DIR))
    return store


def test_cli_dry_run_prints_the_diff_and_writes_nothing(store: FeatureStore, tmp_path: Path,
                                                        beilun: shapely.MultiPolygon) -> None:
    shp = write(tmp_path / "beilun.shp", [{"id": "subpark-beilun"}], [beilun], GK)
    before = store_bytes_state(store)
    done = nbgis_process("import", str(zipped(shp)), "--collection", "subparks", "--match", "id", "--dry-run",
                 "--store", store.url)
    assert done.returncode == 0, done.stderr
    assert "subpark-beilun" in done.stdout and "dry run: nothing written (1 feature(s) would change)" in done.stdout
    assert store_bytes_state(store) == before


def test_cli_refuses_a_file_with_a_bad_row_and_writes_nothing(store: FeatureStore, tmp_path: Path,
                                                              beilun: shapely.MultiPolygon) -> None:
    path = write(tmp_path / "bad.shp", [{"id": "subpark-beilun"}, {"id": "subpark-atlantis"}], [beilun, beilun], GK)
    before = store_bytes_state(store)
    done = nbgis_process("import", str(path), "--collection", "subparks", "--match", "id", "--store", store.url)
    assert done.returncode == 2
    assert "row 2 (id 'subpark-atlantis') matches no feature of subparks" in done.stdout
    assert done.stderr.startswith("nbgis: error: nothing written")
    nocrs = write(tmp_path / "nocrs.shp", [{"id": "subpark-beilun"}], [beilun], None)
    done = nbgis("import", str(nocrs), "--collection", "subparks", "--match", "id", "--store", store.url)
    assert done.returncode == 2 and "does not say its CRS" in done.stderr
    assert store_bytes_state(store) == before


def test_cli_writes_every_matched_feature_as_one_changeset(any_store: FeatureStore, tmp_path: Path,
                                                           beilun: shapely.MultiPolygon,
                                                           daxie: shapely.MultiPolygon) -> None:
    store = any_store
    shp = write(tmp_path / "survey.shp", [{"id": "subpark-beilun"}, {"id": "subpark-daxie"}], [beilun, daxie], GK)
    _, parks_before = store_bytes_state(store)
    done = nbgis("import", str(zipped(shp)), "--collection", "subparks", "--match", "id", "--reason",
                 "high-tech zone survey 2026", "--source", "宁波高新区管委会 2026 survey", "--store", store.url)
    assert done.returncode == 0, done.stderr
    assert "wrote changeset" in done.stdout and "2 feature(s) of subparks" in done.stdout
    parks = stored(store)
    for fid, written in (("subpark-beilun", beilun), ("subpark-daxie", daxie)):
        props, geometry = parks[fid]
        assert within_m(geometry, lonlat(written), 1.0)
        assert props["geometry_quality"] == "surveyed" and props["geometry_source"] == "宁波高新区管委会 2026 survey"
    untouched = {r[0]: r for r in parks_before if r[0] not in ("subpark-beilun", "subpark-daxie")}
    assert {r[0]: r for r in store_bytes_state(store)[1] if r[0] in untouched} == untouched
    changeset, author, reason, findings = sql(
        store, "SELECT id, author, reason, CAST(findings AS text) FROM nbgis_changesets ORDER BY id DESC LIMIT 1")[0]
    versions = sql(store, "SELECT id, seq, action FROM nbgis_versions WHERE changeset = ? ORDER BY id", (changeset,))
    assert author == f"cli:{getpass.getuser()}" and reason == "high-tech zone survey 2026"
    assert versions == [("subpark-beilun", 2, "import"), ("subpark-daxie", 2, "import")]
    assert [f["rule"] for f in json.loads(str(findings))["subpark-daxie"]] == ["area"]  # -7.4 %: soft, kept
    after = store_bytes_state(store)
    again = nbgis("import", str(zipped(shp)), "--collection", "subparks", "--match", "id", "--reason",
                  "high-tech zone survey 2026", "--source", "宁波高新区管委会 2026 survey", "--store", store.url)
    assert again.returncode == 0, again.stderr
    assert "unchanged (already as the file has them): subpark-beilun, subpark-daxie" in again.stdout
    assert "nothing written: every matched feature is already as the file has it" in again.stdout
    assert store_bytes_state(store) == after


def test_a_hard_rule_stops_the_whole_import(store: FeatureStore, tmp_path: Path, layers: Layers,
                                            beilun: shapely.MultiPolygon) -> None:
    """A boundary over another sub-park (大榭) is refused, and with it the good one beside it."""
    sub = layers.kind("subpark")
    grabbed = shapely.MultiPolygon(list(shapely.get_parts(shapely.union_all(
        [gk(sub.loc["subpark-daxie"].geometry), gk(sub.loc["subpark-beilun"].geometry)]))))
    path = write(tmp_path / "greedy.gpkg", [{"name_zh": "北仑分园"}, {"name_zh": "江北分园"}],
                 [grabbed, gk(sub.loc["subpark-jiangbei"].geometry)], GK)
    before = store_bytes_state(store)
    done = nbgis("import", str(path), "--collection", "subparks", "--match", "name_zh", "--store", store.url)
    assert done.returncode == 2 and "nothing written" in done.stderr
    assert "HARD overlap: overlaps subpark-daxie" in done.stdout
    assert store_bytes_state(store) == before


def test_imported_features_are_checked_against_each_other(store: FeatureStore, tmp_path: Path, layers: Layers,
                                                          beilun: shapely.MultiPolygon) -> None:
    """大榭 drawn onto the strip 北仑's survey adds: clear of 北仑 as stored, not of 北仑 as imported beside it."""
    old = gk(layers.kind("subpark").loc["subpark-beilun"].geometry)
    strip = max(shapely.get_parts(beilun.difference(old.buffer(5))), key=lambda g: g.area)
    assert strip.area > 10_000 and not strip.intersects(old)
    path = write(tmp_path / "both.gpkg", [{"id": "subpark-beilun"}, {"id": "subpark-daxie"}],
                 [beilun, shapely.MultiPolygon([strip])], GK)
    plan = plan_of(store, path)
    assert any(e.startswith("subpark-daxie: [overlap] overlaps subpark-beilun") for e in plan.errors()), plan.errors()
    alone = plan_of(store, write(tmp_path / "daxie.gpkg", [{"id": "subpark-daxie"}], [shapely.MultiPolygon([strip])],
                                 GK))
    assert not any("overlap" in e for e in alone.errors())


def test_a_feature_changed_after_the_diff_was_shown_stops_the_commit(any_store: FeatureStore, tmp_path: Path,
                                                                     beilun: shapely.MultiPolygon,
                                                                     daxie: shapely.MultiPolygon) -> None:
    store = any_store
    path = write(tmp_path / "survey.gpkg", [{"id": "subpark-beilun"}, {"id": "subpark-daxie"}], [beilun, daxie], GK)
    plan = ImportPlan.from_payload(json.loads(json.dumps(plan_of(store, path).to_payload())))  # staged and back
    assert [m.id for m in plan.matches] == ["subpark-beilun", "subpark-daxie"]  # daxie's edit comes second
    held = store.current("parks", "subpark-daxie")
    assert held is not None and held[1] == {m.id: m.etag for m in plan.matches}["subpark-daxie"]
    feature, etag = held
    store.apply([Edit("parks", feature.id, "replace", {**feature.properties, "name_en": "Daxie"}, feature.geometry,
                      etag, "update")], "editor-b", "a name fixed meanwhile")
    before = store_bytes_state(store)
    with pytest.raises(Conflict) as caught:
        commit_import(store, plan, "cli:test", "survey")
    assert caught.value.id == "subpark-daxie"
    assert store_bytes_state(store) == before  # beilun's edit, applied first, rolled back with the changeset
    with pytest.raises(ImportRefused):
        commit_import(store, dataclasses.replace(plan, problems=["row 9: x"]), "cli:test", "survey")
    fresh = plan_of(store, path)
    changeset = commit_import(store, fresh, "cli:test", "survey")
    assert [v.id for v in changeset.versions] == ["subpark-beilun", "subpark-daxie"]
    assert store.current("parks", "subpark-daxie")[0].properties["name_en"] == "Daxie"  # the other edit kept


def test_kill_9_in_the_middle_of_an_import_leaves_nothing_of_it(postgis_cluster: Cluster, tmp_path: Path,
                                                                beilun: shapely.MultiPolygon,
                                                                daxie: shapely.MultiPolygon) -> None:
    """The import's process killed inside its changeset, 北仑 written and 大榭 waiting for a row another session
    holds: PostgreSQL rolls the changeset back whole."""
    store = open_store(postgis_cluster.new_database())
    store.init(lambda: read_seed(DATA_DIR), seed_digest(DATA_DIR))
    shp = write(tmp_path / "survey.shp", [{"id": "subpark-beilun"}, {"id": "subpark-daxie"}], [beilun, daxie], GK)
    before = store_bytes_state(store)
    with psycopg.connect(store.url) as holder:
        holder.execute("SELECT 1 FROM parks WHERE id = 'subpark-daxie' FOR UPDATE")  # until this transaction ends
        process = subprocess.Popen([sys.executable, "-m", "nbgis", "import", str(shp), "--collection", "subparks",
                                    "--match", "id", "--store", store.url], cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while not sql(store, "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                 "AND strpos(query, 'FOR UPDATE') > 0"):
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "the import never reached 大榭's row"
                time.sleep(0.05)
            written = sql(store, "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                                 "WHERE a.wait_event_type = 'Lock' AND l.granted AND l.mode = 'RowExclusiveLock' "
                                 "AND l.relation = 'parks'::regclass")
            assert written[0][0] == 1  # the waiting session has updated parks (北仑's row) before it waits
            process.kill()
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
        holder.rollback()
    deadline = time.monotonic() + 30  # the server notices the dropped connection and rolls it back
    while sql(store, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")[0][0]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert store_bytes_state(store) == before
    assert sql(store, "SELECT count(*) FROM nbgis_changesets")[0][0] == 1  # the seed's only
