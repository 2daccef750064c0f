"""What a new user met (issue 15), each with the test that would have caught it."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pyproj
import pytest
import shapely
from fastapi.testclient import TestClient

from geo import export as ex
from geo.batch import locate_file
from geo.export import COLLECTIONS, ExportError, collection_frames, export
from geo.layers import Layers
from geo.locate import Locator, SitesError
from geo.measure import geodesic_area_km2
from maps import builders
from maps.output import write_map
from maps.popups import popup_rows

ROOT = Path(__file__).resolve().parent.parent


def nbgis(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nbgis", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_a_line_has_no_area(layers: Layers) -> None:
    axis = layers.parks.loc["corridor-axis-yongjiang-yaojiang"]
    assert axis.geometry.geom_type == "LineString" and axis["area_km2"] == 0.0  # was 143 km²
    assert geodesic_area_km2(shapely.LineString([(121.5, 29.8), (121.6, 29.8), (121.6, 29.9)])) == 0.0
    assert geodesic_area_km2(shapely.Point(121.5, 29.8)) == 0.0
    assert geodesic_area_km2(shapely.box(121.5, 29.8, 121.6, 29.9)) == pytest.approx(107.1, rel=0.01)


def test_comments_state_the_central_meridian_pyproj_knows() -> None:
    """Every comment that names a Gauss-Kruger EPSG code with a central meridian gets the meridian right."""
    checked = 0
    for path in [*ROOT.glob("geo/*.py"), *ROOT.glob("services/*.py"), *ROOT.glob("maps/*.py")]:
        for line in path.read_text(encoding="utf-8").splitlines():
            if "CM 12" not in line:
                continue
            codes = re.findall(r"EPSG[:/]0?/?(45\d\d)", line) or (
                ["4549"] if "_LOCAL" in line or "Gauss-Kruger plane geo.measure uses" in line else [])
            for code in codes:
                crs = pyproj.CRS.from_epsg(int(code))
                cm = next(p.value for p in crs.coordinate_operation.params if "central meridian" in p.name.lower()
                          or "longitude of natural origin" in p.name.lower())
                stated = re.search(r"CM (\d+)E", line)
                assert stated and int(stated.group(1)) == int(cm), f"{path.name}: {line.strip()}"
                checked += 1
    assert checked >= 2


def test_export_refuses_a_name_that_says_another_format(layers: Layers, tmp_path: Path) -> None:
    frames = collection_frames(layers, "all")
    with pytest.raises(ExportError, match=r"\.zip"):
        export(frames, "geojson", None, tmp_path / "all.geojson")  # was a zip under that name
    with pytest.raises(ExportError, match=r"\.gpkg"):
        export(collection_frames(layers, "subparks"), "gpkg", None, tmp_path / "f.shp")
    with pytest.raises(ExportError, match=r"\.zip"):
        export(collection_frames(layers, "subparks"), "shapefile", None, tmp_path / "f.shp")
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary file
    assert zipfile.is_zipfile(export(frames, "geojson", None, tmp_path / "all.ZIP"))  # any case
    assert export(collection_frames(layers, "subparks"), "gpkg", None, tmp_path / "plain").exists()  # no suffix
    run = nbgis("export", "all", "--format", "geojson", "-o", str(tmp_path / "all.geojson"))
    assert run.returncode == 2 and "name it .zip" in run.stderr and not (tmp_path / "all.geojson").exists()


def test_format_names_are_case_blind_and_know_aliases(layers: Layers, tmp_path: Path) -> None:
    assert ex.get_format("shp").name == "shapefile"
    assert ex.get_format("GPKG").name == "gpkg"
    assert ex.get_format(" GeoJSON ").name == "geojson"
    with pytest.raises(ExportError, match="unknown format"):
        ex.get_format("xlsx")
    run = nbgis("export", "subparks", "--format", "SHP", "-o", str(tmp_path))
    assert run.returncode == 0, run.stderr
    with zipfile.ZipFile(tmp_path / "subparks.zip") as zf:
        assert any(n.endswith(".shp") for n in zf.namelist())


def test_geopackage_tables_need_no_quoting(layers: Layers, tmp_path: Path) -> None:
    path = export(collection_frames(layers, "all"), "GPKG", None, tmp_path / "all.gpkg")
    names = [n for n, _ in pyogrio.list_layers(path)]
    assert len(names) == len(COLLECTIONS) and all(re.fullmatch(r"[a-z_]+", n) for n in names), names
    # plain SQL on a table whose collection id has a hyphen
    frame = pyogrio.read_dataframe(path, sql="SELECT id FROM corridor_units", sql_dialect="SQLITE")
    assert len(frame) == 12


def test_serve_refuses_a_port_out_of_range() -> None:
    run = nbgis("serve", "--port", "80000", timeout=30)  # uvicorn took it as 80000 % 65536 = 14464
    assert run.returncode == 2 and "out of range" in run.stderr
    assert nbgis("serve", "--port", "http", timeout=30).returncode == 2


def test_map_assets_are_readable_by_everyone(layers: Layers, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        written = write_map(builders.feature(layers, "subpark-cixi", "none", "en"), tmp_path / "m.html")
    finally:
        os.umask(old)
    assert written.asset_dir is not None and written.asset_files > 0
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in (written.asset_dir, *written.asset_dir.rglob("*"))}
    assert {m for p, m in modes.items() if p.is_dir()} == {0o755}  # was 0700 (mkdtemp)
    assert {m for p, m in modes.items() if p.is_file()} == {0o644}


def excel_like(path: Path) -> Path:
    """A file that starts as every .xlsx does: a zip holding the workbook's XML."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>' * 40)
        zf.writestr("xl/worksheets/sheet1.xml", "<sheetData>" + "宁波" * 400 + "</sheetData>")
    return path


def test_an_excel_upload_is_called_one(layers: Layers, client: TestClient, tmp_path: Path) -> None:
    xlsx = excel_like(tmp_path / "sites.xlsx")
    with pytest.raises(SitesError, match="Excel workbook"):
        locate_file(xlsx, tmp_path / "out.csv", Locator.from_layers(layers))
    response = client.post("/locate", files={"file": ("sites.xlsx", xlsx.read_bytes(), "application/octet-stream")})
    assert response.status_code == 400 and "Excel" in response.json()["description"]
    assert "not UTF-8" not in response.json()["description"]


def test_service_takes_a_bare_epsg_code_like_the_cli(client: TestClient) -> None:
    bare = client.get("/collections/subparks/items", params={"crs": "4549", "limit": 1})
    curie = client.get("/collections/subparks/items", params={"crs": "EPSG:4549", "limit": 1})
    assert bare.status_code == 200 and bare.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4549>"
    assert bare.json()["features"] == curie.json()["features"]
    assert client.get("/collections/subparks/items", params={"crs": "99999"}).status_code == 400


def test_geojson_export_in_metres_is_refused_by_cli_and_service(client: TestClient, tmp_path: Path) -> None:
    run = nbgis("export", "subparks", "--format", "geojson", "--crs", "EPSG:4549", "-o", str(tmp_path / "s.geojson"))
    assert run.returncode == 2 and "RFC 7946" in run.stderr and not (tmp_path / "s.geojson").exists()
    response = client.get("/export", params={"f": "geojson", "crs": "EPSG:4549", "collections": "subparks"})
    assert response.status_code == 400 and "RFC 7946" in response.json()["description"]


def test_points_show_no_computed_area(client: TestClient) -> None:
    page = client.get("/collections/platforms/items", params={"f": "html", "limit": 50}).text
    cells = re.findall(r"<tr><td><a [^>]*>(platform-[^<]+)</a>.*?</td></tr>", page, re.S)
    assert len(cells) == 46
    assert not re.search(r"<td>0\.0</td>", page)
    item = client.get("/collections/platforms/items/platform-ningbo-university", params={"f": "html"}).text
    assert "<code>area_km2</code>" not in item
    park = client.get("/collections/subparks/items/subpark-cixi", params={"f": "html"}).text
    assert "<code>area_km2</code>" in park


def test_nearest_subpark_distance_is_rounded(layers: Layers, tmp_path: Path) -> None:
    src = tmp_path / "sites.csv"
    src.write_text("lon,lat\n121.55,29.87\n121.6123456,29.9123456\n", encoding="utf-8")
    locate_file(src, tmp_path / "out.csv", Locator.from_layers(layers))
    kms = [line.rsplit(",", 1)[1] for line in (tmp_path / "out.csv").read_text("utf-8-sig").splitlines()[1:]]
    assert all(len(k.split(".")[1]) <= 3 for k in kms) and any(float(k) > 0 for k in kms), kms


def test_progress_bar_stays_off_a_log(tmp_path: Path) -> None:
    src = tmp_path / "sites.csv"
    src.write_text("lon,lat\n121.55,29.87\n121.60,29.90\n", encoding="utf-8")
    run = nbgis("locate", str(src), "-o", str(tmp_path / "out.csv"))  # stderr is a pipe, as in a log
    assert run.returncode == 0 and "rows/s" not in run.stderr and "%|" not in run.stderr


def test_chinese_map_location_row_is_chinese(layers: Layers) -> None:
    row = layers.platforms.loc["platform-ningbo-university"]
    zh = dict(popup_rows(row, layers, "zh"))
    assert "位置" in zh and re.search(r"约 ±[\d.]+ 公里", zh["位置"]) and not re.search(r"[A-Za-z]{3,}", zh["位置"])
    en = dict(popup_rows(row, layers, "en"))
    assert "campus" in en["Location"]


def test_all_layers_export_names_match_content(layers: Layers, tmp_path: Path) -> None:
    """The file each format writes for 'all' opens as what its extension says."""
    frames = collection_frames(layers, "all")
    for fmt in ("gpkg", "csv", "kml"):
        path = export(frames, fmt, None, tmp_path / ex.get_format(fmt).filename("all", len(frames)))
        if path.suffix == ".zip":
            assert zipfile.is_zipfile(path)
        else:
            assert not zipfile.is_zipfile(path)
    assert isinstance(gpd.read_file(tmp_path / "all.gpkg", layer="corridor_units"), gpd.GeoDataFrame)


def test_platforms_filter_by_status(client: TestClient) -> None:
    doc = client.get("/collections/platforms/items", params={"status": "planned", "limit": 100}).json()
    assert doc["numberMatched"] == 13 and {f["properties"]["status"] for f in doc["features"]} == {"planned"}
    assert all(f["properties"]["status_zh"] for f in doc["features"])


def test_popups_show_status_in_the_plans_words(layers: Layers) -> None:
    row = layers.platforms.loc["platform-extreme-conditions-materials-facility"]
    assert dict(popup_rows(row, layers, "zh"))["建设状态（据规划）"] == "谋划/布局（谋划建设极端条件材料综合研究装置）"
    assert dict(popup_rows(row, layers, "en"))["Status (as the plan says)"].startswith("planned")
