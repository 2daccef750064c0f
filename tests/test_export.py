"""Exports read back with independent readers: GDAL (pyogrio), pyarrow, ezdxf, zipfile and the csv module."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import ezdxf
import geopandas as gpd
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely

from geo import export as ex
from geo.crs import CRSError, parse_crs
from geo.export import COLLECTIONS, FORMATS, ExportError, collection_frames, export, export_bytes
from geo.layers import Layers

ROOT = Path(__file__).resolve().parent.parent

# Features per collection, as the plan lists them (districts: ten districts and counties plus the city).
COUNTS = {"subparks": 10, "corridor": 3, "corridor-axis": 1, "corridor-units": 12, "innovation-nodes": 10,
          "provincial-parks": 2, "innovation-streets": 2, "qianwan-zones": 4, "platforms": 46, "districts": 11}
PLATFORMS_WITH_POINT = 7
EPSG4549 = parse_crs("EPSG:4549")


@pytest.fixture(scope="module")
def frames(layers: Layers) -> dict[str, gpd.GeoDataFrame]:
    return collection_frames(layers, "all")


@pytest.fixture(scope="module")
def subparks(layers: Layers) -> dict[str, gpd.GeoDataFrame]:
    return collection_frames(layers, "subparks")


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("export")


def geo_areas(frames: dict[str, gpd.GeoDataFrame], collection: str) -> dict[str, float]:
    return dict(zip(frames[collection]["id"], frames[collection]["area_km2"]))


def test_collections_and_registry(frames: dict[str, gpd.GeoDataFrame]) -> None:
    assert {name: len(gdf) for name, gdf in frames.items()} == COUNTS
    assert list(frames) == list(COLLECTIONS)
    assert set(FORMATS) == {"geojson", "gpkg", "shapefile", "kml", "fgb", "parquet", "csv", "dxf"}
    assert FORMATS["gpkg"].filename("all", 10) == "all.gpkg"  # one file holds every layer
    assert FORMATS["geojson"].filename("subparks", 1) == "subparks.geojson"
    assert FORMATS["geojson"].filename("all", 10) == "all.zip"  # a file per layer, zipped
    assert FORMATS["geojson"].output_media_type(10) == "application/zip"
    assert FORMATS["shapefile"].filename("subparks", 1) == "subparks.zip"
    # Areas keep their schematic quality; the city layer keeps only the columns its features use.
    assert set(frames["subparks"]["geometry_quality"]) == {"schematic"}
    assert "planned_area_km2" not in frames["districts"].columns


def test_geojson_rfc7946(subparks: dict[str, gpd.GeoDataFrame], out: Path) -> None:
    path = export(subparks, "geojson", None, out / "subparks.geojson")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert "crs" not in doc  # RFC 7946: WGS 84 lon/lat, no crs member
    assert "Schematic" in doc["description"]
    assert len(doc["features"]) == 10
    feature = next(f for f in doc["features"] if f["id"] == "subpark-yinzhou")
    props = feature["properties"]
    assert props["name_zh"] == "鄞州分园"
    assert props["geometry_quality"] == "schematic" and props["geometry_method"]
    assert props["industries"][0] == "electronic-information"  # lists stay JSON arrays
    assert props["area_km2"] == pytest.approx(subparks["subparks"].loc["subpark-yinzhou", "area_km2"])
    lon, lat = feature["geometry"]["coordinates"][0][0][0]
    assert 120.8 < lon < 122.3 and 28.8 < lat < 30.5
    assert max(len(n.split(".")[1]) for n in re.findall(r"\d+\.\d+", json.dumps(feature["geometry"]))) <= 7
    info = pyogrio.read_info(path)
    assert info["crs"] == "EPSG:4326" and info["features"] == 10


@pytest.mark.parametrize("crs", ["EPSG:4549", "EPSG:4490", "EPSG:32651"])
def test_geojson_refuses_crs_rfc7946_cannot_say(subparks: dict[str, gpd.GeoDataFrame], out: Path, crs: str) -> None:
    # RFC 7946 removed the crs member: metres written under it would read as degrees in any other tool
    with pytest.raises(ExportError, match="RFC 7946"):
        export(subparks, "geojson", parse_crs(crs), out / "p.geojson")
    assert not (out / "p.geojson").exists()
    doc = json.loads(export(subparks, "geojson", parse_crs("OGC:CRS84"), out / "w.geojson").read_text("utf-8"))
    assert "crs" not in doc


def test_geojson_all_is_a_zip_of_collections(frames: dict[str, gpd.GeoDataFrame], out: Path) -> None:
    path = export(frames, "geojson", None, out / "all-geojson.zip")
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == sorted(f"{c}.geojson" for c in COLLECTIONS)
    for name, count in COUNTS.items():
        assert pyogrio.read_info(f"/vsizip/{path}/{name}.geojson")["features"] == count, name


def test_gcj02_shifts_and_says_so(subparks: dict[str, gpd.GeoDataFrame], out: Path) -> None:
    doc = json.loads(export(subparks, "geojson", parse_crs("GCJ02"), out / "g.geojson").read_text(encoding="utf-8"))
    assert {f["properties"]["crs"] for f in doc["features"]} == {"GCJ-02"}
    assert "GCJ-02" in doc["description"]
    shifted = shapely.geometry.shape(doc["features"][0]["geometry"])
    original = subparks["subparks"].geometry.iloc[0]
    dx = shifted.centroid.x - original.centroid.x
    assert 0.002 < dx < 0.008  # GCJ-02 moves Ningbo a few hundred metres east


def test_gpkg_all_in_metres_keeps_areas(frames: dict[str, gpd.GeoDataFrame], out: Path) -> None:
    path = export(frames, "gpkg", EPSG4549, out / "all.gpkg")
    assert [name for name, _ in pyogrio.list_layers(path)] == [c.replace("-", "_") for c in COLLECTIONS]
    for name, count in COUNTS.items():
        info = pyogrio.read_info(path, layer=ex.table_name(name))
        assert info["features"] == count and info["crs"] == "EPSG:4549", name
    sub = pyogrio.read_dataframe(path, layer="subparks")
    assert "鄞州分园" in set(sub["name_zh"])
    assert set(sub["geometry_quality"]) == {"schematic"} and sub["geometry_method"].notna().all()
    expected = geo_areas(frames, "subparks")
    for fid, geom, area in zip(sub["id"], sub.geometry, sub["area_km2"]):
        assert area == pytest.approx(expected[fid])
        assert geom.area / 1e6 == pytest.approx(expected[fid], rel=0.005), fid  # planar metres vs geodesic


def test_shapefile_all(frames: dict[str, gpd.GeoDataFrame], out: Path) -> None:
    path = export(frames, "shapefile", None, out / "all-shp.zip")
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        for name in COLLECTIONS:
            assert {f"{name}.{ext}" for ext in ("shp", "shx", "dbf", "prj", "cpg")} <= names, name
            assert zf.read(f"{name}.cpg").decode().strip() == "UTF-8"
            assert "WGS_1984" in zf.read(f"{name}.prj").decode()
        rows = list(csv.reader(io.StringIO(zf.read("fields.csv").decode("utf-8"))))
    assert rows[0] == ["short", "full"]
    mapping = {short: full for short, full in rows[1:]}
    assert all(len(short) <= 10 for short in mapping) and len(set(mapping.values())) == len(mapping)
    assert mapping["geom_qual"] == "geometry_quality" and mapping["dist_zh"] == "district_names_zh"
    for name, count in COUNTS.items():
        gdf = pyogrio.read_dataframe(f"/vsizip/{path}/{name}.shp")
        assert len(gdf) == count, name
        fields = [c for c in gdf.columns if c != "geometry"]
        assert set(fields) <= set(mapping), name  # every .dbf field is in the mapping
        assert {mapping[f] for f in fields} <= set(frames[name].columns), name
    sub = pyogrio.read_dataframe(f"/vsizip/{path}/subparks.shp")
    assert "鄞州分园" in set(sub["name_zh"]) and set(sub["geom_qual"]) == {"schematic"}
    assert json.loads(sub.set_index("id").loc["subpark-yinzhou", "dist_codes"]) == ["330212"]
    platforms = pyogrio.read_dataframe(f"/vsizip/{path}/platforms.shp")
    assert platforms.geometry.notna().sum() == PLATFORMS_WITH_POINT  # the others stay as null shapes


def test_shapefile_projected_and_split_by_geometry_type(subparks: dict[str, gpd.GeoDataFrame], out: Path) -> None:
    mixed = subparks["subparks"].iloc[:3].copy()
    mixed.loc[mixed.index[0], "geometry"] = mixed.geometry.iloc[0].boundary  # a line among polygons
    path = export({"mixed": mixed}, "shapefile", EPSG4549, out / "mixed.zip")
    with zipfile.ZipFile(path) as zf:
        assert {"mixed-lines.shp", "mixed-polygons.shp"} <= set(zf.namelist())
        assert "GK_CM_120E" in zf.read("mixed-polygons.prj").decode()
    assert pyogrio.read_info(f"/vsizip/{path}/mixed-lines.shp")["geometry_type"] == "LineString"  # an arc file
    assert pyogrio.read_info(f"/vsizip/{path}/mixed-polygons.shp")["features"] == 2


def test_shapefile_names_are_stable_and_unique() -> None:
    names = ["geometry_quality", "abcdefghij_one", "abcdefghij_two", "abcdefghijk", "ABCDEFGHIJ", "id"]
    mapping = ex.shapefile_field_names(names)
    assert mapping == ex.shapefile_field_names(reversed(names))
    assert len({s.lower() for s in mapping.values()}) == len(names)
    assert all(len(s) <= 10 for s in mapping.values())
    assert mapping["geometry_quality"] == "geom_qual" and mapping["id"] == "id"
    assert ex._dbf_text("鄞" * 100).encode("utf-8").__len__() <= ex.DBF_TEXT_BYTES


def test_kml_styled_with_popups(frames: dict[str, gpd.GeoDataFrame], out: Path) -> None:
    path = export(frames, "kml", None, out / "all.kml")
    for name, count in COUNTS.items():
        expected = PLATFORMS_WITH_POINT if name == "platforms" else count  # KML maps places only
        assert len(pyogrio.read_dataframe(path, layer=name)) == expected, name
    sub = pyogrio.read_dataframe(path, layer="subparks").set_index("Name")
    popup = sub.loc["鄞州分园", "description"]
    computed = f"{frames['subparks'].loc['subpark-yinzhou', 'area_km2']:.2f} km²"  # the drawn area, not the plan's
    for text in ("Yinzhou Sub-park", "鄞州区", "128.7 km²", computed, "电子信息", "专栏 9", "Schematic"):
        assert text in popup, text
    assert sub.loc["鄞州分园", "geometry_quality"] == "schematic"

    ns = {"k": "http://www.opengis.net/kml/2.2"}
    root = ET.parse(path).getroot()
    styles = {s.get("id"): s for s in root.iter("{http://www.opengis.net/kml/2.2}Style")}
    first = frames["subparks"].loc["subpark-yinzhou", "industries"][0]
    rgb = ex.industry_colour(first)
    mark = next(p for p in root.iter("{http://www.opengis.net/kml/2.2}Placemark")
                if p.findtext("k:name", namespaces=ns) == "鄞州分园")
    style = styles[mark.findtext("k:styleUrl", namespaces=ns).lstrip("#")]
    assert style.findtext("k:LineStyle/k:color", namespaces=ns) == f"ff{rgb[4:6]}{rgb[2:4]}{rgb[0:2]}"
    assert ex.industry_colour(first) == rgb != ex.industry_colour(None)
    # no icon, link or image sends a reader to an outside server: the only URLs are the XML namespaces
    hrefs = [e.text for e in root.iter() if e.tag.endswith("}href") and e.text]
    assert hrefs == []
    assert set(re.findall(r"https?://[^\s<\"]+", path.read_text(encoding="utf-8"))) == {
        "http://www.opengis.net/kml/2.2", "http://www.google.com/kml/ext/2.2"}


@pytest.mark.parametrize("crs", ["EPSG:4549", "GCJ02", "EPSG:4490"])
def test_kml_refuses_other_crs(subparks: dict[str, gpd.GeoDataFrame], out: Path, crs: str) -> None:
    with pytest.raises(ExportError, match="WGS 84"):
        export(subparks, "kml", parse_crs(crs), out / "x.kml")
    assert export(subparks, "kml", parse_crs("EPSG:4326"), out / "ok.kml").exists()


def test_fgb(frames: dict[str, gpd.GeoDataFrame], subparks: dict[str, gpd.GeoDataFrame], out: Path) -> None:
    path = export(frames, "fgb", None, out / "all-fgb.zip")
    for name, count in COUNTS.items():
        info = pyogrio.read_info(f"/vsizip/{path}/{name}.fgb")
        assert info["features"] == count and info["crs"] == "EPSG:4326", name
    single = export(subparks, "fgb", EPSG4549, out / "subparks.fgb")
    assert pyogrio.read_info(single)["crs"] == "EPSG:4549"
    assert "鄞州分园" in set(pyogrio.read_dataframe(single)["name_zh"])


def test_geoparquet_metadata(subparks: dict[str, gpd.GeoDataFrame], out: Path) -> None:
    for crs, code in ((None, 4326), (EPSG4549, 4549)):
        path = export(subparks, "parquet", crs, out / f"subparks-{code}.parquet")
        geo = json.loads(pq.read_schema(path).metadata[b"geo"])
        column = geo["columns"][geo["primary_column"]]
        assert column["crs"]["id"] == {"authority": "EPSG", "code": code}
        assert column["encoding"] == "WKB"
        table = pq.read_table(path)
        assert table.num_rows == 10 and "鄞州分园" in table.column("name_zh").to_pylist()
        assert set(table.column("geometry_quality").to_pylist()) == {"schematic"}


def test_csv_has_bom_and_wkt(subparks: dict[str, gpd.GeoDataFrame], out: Path) -> None:
    path = export(subparks, "csv", None, out / "subparks.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 10 and "鄞州分园" in {r["name_zh"] for r in rows}
    yinzhou = next(r for r in rows if r["id"] == "subpark-yinzhou")
    assert shapely.from_wkt(yinzhou["WKT"]).geom_type == "MultiPolygon"
    assert json.loads(yinzhou["industries"])[0] == "electronic-information"
    assert float(yinzhou["area_km2"]) == pytest.approx(128.7, rel=0.01)
    assert len(pyogrio.read_dataframe(path)) == 10


def signed_area(points: list[tuple[float, float]]) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1])) / 2


def test_dxf_layers_per_kind_in_metres(frames: dict[str, gpd.GeoDataFrame], out: Path) -> None:
    path = export(frames, "dxf", None, out / "all.dxf")  # no CRS: EPSG:4549
    doc = ezdxf.readfile(path)
    assert doc.header["$INSUNITS"] == 6  # metres
    msp = doc.modelspace()
    kinds = {k for gdf in frames.values() for k in gdf["kind"]}
    assert kinds <= {layer.dxf.name for layer in doc.layers}
    assert {e.dxf.layer for e in msp} == kinds  # one layer per kind, and nothing on layer 0
    assert len(msp.query('POINT[layer=="platform"]')) == PLATFORMS_WITH_POINT
    assert "鄞州分园" in {t.dxf.text for t in msp.query('TEXT[layer=="subpark"]')}

    rings: dict[str, float] = {}
    for poly in msp.query('LWPOLYLINE[layer=="subpark"]'):
        tags = [value for _, value in poly.get_xdata(ex.DXF_APPID)]
        assert "geometry_quality=schematic" in tags
        points = [(x, y) for x, y in poly.get_points("xy")]
        assert all(4e5 < x < 8e5 and 3.1e6 < y < 3.5e6 for x, y in points)
        fid = tags[0].removeprefix("id=")
        rings[fid] = rings.get(fid, 0.0) + signed_area(points)  # holes are clockwise, so they subtract
    expected = geo_areas(frames, "subparks")
    assert set(rings) == set(expected)
    for fid, area in rings.items():
        assert area / 1e6 == pytest.approx(expected[fid], rel=0.005), fid


@pytest.mark.parametrize("crs", ["EPSG:4326", "GCJ02", "OGC:CRS84"])
def test_dxf_refuses_geographic_crs(subparks: dict[str, gpd.GeoDataFrame], out: Path, crs: str) -> None:
    with pytest.raises(ExportError, match="projected CRS in metres"):
        export(subparks, "dxf", parse_crs(crs), out / "x.dxf")


def test_unknown_format_collection_crs(layers: Layers, subparks: dict[str, gpd.GeoDataFrame], out: Path) -> None:
    with pytest.raises(ExportError, match="unknown format 'xlsx'"):
        export(subparks, "xlsx", None, out / "x.xlsx")
    with pytest.raises(ExportError, match="unknown collection 'subpark'"):
        collection_frames(layers, "subpark")
    with pytest.raises(CRSError):
        parse_crs("EPSG:999999")
    assert issubclass(ExportError, ValueError)


def test_failed_export_leaves_target_and_no_temporaries(subparks: dict[str, gpd.GeoDataFrame], out: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    folder = out / "atomic"
    folder.mkdir()
    target = folder / "subparks.geojson"
    target.write_text("old", encoding="utf-8")

    def broken(frames: object, out_dir: Path, crs: object) -> None:
        (out_dir / "subparks.geojson").write_text("half", encoding="utf-8")
        raise RuntimeError("disk full")

    monkeypatch.setitem(FORMATS, "geojson", ex.ExportFormat("geojson", "GeoJSON", broken, "x", "geojson", False))
    with pytest.raises(OSError, match="the GeoJSON writer failed: disk full") as failed:
        export(subparks, "geojson", None, target)
    assert isinstance(failed.value.__cause__, RuntimeError)  # the library's own error, kept as the cause
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in folder.iterdir()] == ["subparks.geojson"]


def test_export_bytes(frames: dict[str, gpd.GeoDataFrame], subparks: dict[str, gpd.GeoDataFrame]) -> None:
    data, media_type, filename = export_bytes(subparks, "gpkg")
    assert data.startswith(b"SQLite format 3") and media_type == "application/geopackage+sqlite3"
    assert filename == "subparks.gpkg"
    data, media_type, filename = export_bytes(frames, "csv")
    assert data.startswith(b"PK") and media_type == "application/zip" and filename.endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert len(zf.namelist()) == len(COLLECTIONS)


def nbgis(*args: str, cwd: Path = ROOT) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "nbgis", *args], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_cli_every_collection_and_all(tmp_path: Path) -> None:
    # Started together so the eleven runs share the machine's cores instead of queueing.
    runs = {name: nbgis("export", name, "--format", "gpkg", "-o", str(tmp_path / f"{name}.gpkg"))
            for name in (*COLLECTIONS, "all")}
    for name, proc in runs.items():
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"{name}: {stderr}"
        assert "wrote" in stdout
        layers = [layer for layer, _ in pyogrio.list_layers(tmp_path / f"{name}.gpkg")]
        assert layers == [ex.table_name(c) for c in (COLLECTIONS if name == "all" else [name])]
        if name != "all":
            assert pyogrio.read_info(tmp_path / f"{name}.gpkg")["features"] == COUNTS[name]


def test_cli_dxf_default_note_and_errors(tmp_path: Path) -> None:
    runs = {
        "dxf": nbgis("export", "corridor-axis", "--format", "dxf", "-o", str(tmp_path)),
        "format": nbgis("export", "subparks", "--format", "xlsx", "-o", str(tmp_path / "x")),
        "collection": nbgis("export", "subpark", "--format", "gpkg", "-o", str(tmp_path / "x")),
        "geographic": nbgis("export", "subparks", "--format", "dxf", "--crs", "EPSG:4326", "-o", str(tmp_path / "x")),
        "crs": nbgis("export", "subparks", "--format", "gpkg", "--crs", "EPSG:999999", "-o", str(tmp_path / "x")),
    }
    results = {name: (proc.communicate(timeout=120), proc.returncode) for name, proc in runs.items()}
    (_, stderr), code = results["dxf"]
    assert code == 0 and "EPSG:4549" in stderr and "note" in stderr
    assert (tmp_path / "corridor-axis.dxf").exists()  # -o a directory: the usual name inside it
    for name, needle in (("format", "unknown format"), ("collection", "unknown collection"),
                         ("geographic", "projected CRS"), ("crs", "unknown CRS")):
        (_, stderr), code = results[name]
        assert code == 2, name
        assert stderr.startswith("nbgis: error: ") and needle in stderr, (name, stderr)
    assert not (tmp_path / "x").exists()
