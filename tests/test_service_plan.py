"""The plan-aware queries and the downloads, over HTTP: values checked against the files and independent readers."""

from __future__ import annotations

import io
import json
import zipfile

import ezdxf
import pyogrio
import pyproj
import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.ops import nearest_points

from geo.layers import Layers
from geo.seed import DATA_DIR
from tests.api_helpers import assert_api_error

PARKS = {f["properties"]["id"]: f for f in json.loads((DATA_DIR / "parks.geojson").read_text("utf-8"))["features"]}
INDUSTRIES = json.loads((DATA_DIR / "industries.json").read_text("utf-8"))
INDICATORS = json.loads((DATA_DIR / "indicators.json").read_text("utf-8"))
GEOD = pyproj.Geod(ellps="WGS84")




def test_industries_list_every_code_with_counts(client: TestClient, layers: Layers) -> None:
    doc = client.get("/industries").json()
    codes = [i["code"] for i in doc["industries"]]
    assert codes == [i["code"] for i in INDUSTRIES["industries"]] and len(codes) == 69
    entry = next(i for i in doc["industries"] if i["code"] == "biomedicine")
    wanted = layers.taxonomy.narrower("biomedicine")
    assert entry["features"] == sum(bool(wanted & set(f["properties"]["industries"])) for f in PARKS.values()) + sum(
        bool(wanted & set(f["properties"]["industries"]))
        for f in json.loads((DATA_DIR / "platforms.geojson").read_text("utf-8"))["features"])


def test_industry_detail_hosts_link_to_their_features(client: TestClient) -> None:
    doc = client.get("/industries/new-materials").json()
    subparks = sorted(h["id"] for h in doc["hosts"] if h["kind"] == "subpark")
    assert subparks == ["subpark-haishu", "subpark-jiangbei", "subpark-yinzhou"]
    for host in doc["hosts"][:5]:
        feature = client.get(host["href"])
        assert feature.status_code == 200 and feature.json()["id"] == host["id"]
    assert doc["computed_area_km2"] <= sum(h["area_km2"] or 0 for h in doc["hosts"]) + 1e-6
    html = client.get("/industries/new-materials?f=html").text
    assert html.count('<tr><td><a href="/collections/') == len(doc["hosts"])
    assert_api_error(client.get("/industries/unobtainium"), 404, "unobtainium")


def test_nearest_ranks_by_geodesic_distance_to_the_boundary(client: TestClient) -> None:
    lon, lat = 121.30, 29.60  # open country south-west of the city, inside no host
    doc = client.get(f"/nearest?lon={lon}&lat={lat}&industry=new-materials&k=3").json()
    ranked = doc["features"]
    assert len(ranked) == 3
    distances = [f["distance_km"] for f in ranked]
    assert distances == sorted(distances) and distances[0] > 0
    for entry in ranked:
        shape = shapely.geometry.shape(PARKS[entry["id"]]["geometry"])
        near = nearest_points(shapely.Point(lon, lat), shape)[1]
        expected = GEOD.inv(lon, lat, near.x, near.y)[2] / 1000
        assert entry["distance_km"] == pytest.approx(expected, rel=0.01)
        assert "new-materials" in entry["matched"] or entry["matched"]


def test_nearest_inside_is_zero_and_site_crs_is_honoured(client: TestClient) -> None:
    lon, lat = PARKS["subpark-jiangbei"]["properties"]["blocks"][0]["label_point"]
    first = client.get(f"/nearest?lon={lon}&lat={lat}&kinds=subpark&k=1").json()["features"][0]
    assert first["id"] == "subpark-jiangbei" and first["distance_km"] == 0 and first["inside"] is True
    x, y = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:4549", always_xy=True).transform(lon, lat)
    same = client.get(f"/nearest?lon={x}&lat={y}&crs=EPSG:4549&kinds=subpark&k=1").json()
    assert same["features"][0]["id"] == "subpark-jiangbei"
    assert same["site"]["lon"] == pytest.approx(lon, abs=1e-7)


@pytest.mark.parametrize("url,words", [
    ("/nearest?lon=181&lat=29", ["lon", "range"]),
    ("/nearest?lon=121&lat=-91", ["lat", "range"]),
    ("/nearest?lon=abc&lat=29", ["lon"]),
    ("/nearest?lat=29", ["lon"]),
    ("/nearest?lon=121&lat=29&k=0", ["k"]),
    ("/nearest?lon=121&lat=29&k=51", ["k"]),
    ("/nearest?lon=121&lat=29&industry=warp-drives", ["industry", "warp-drives"]),
    ("/nearest?lon=121&lat=29&kinds=platform", ["kinds", "platform"]),
    ("/nearest?lon=121&lat=29&crs=EPSG:99999", ["crs"]),
    ("/nearest?lon=3306711&lat=649757&crs=EPSG:4549", ["lon", "area of use"]),
    ("/stats?detail=1", ["detail"]),
])
def test_nearest_errors(client: TestClient, url: str, words: list[str]) -> None:
    assert_api_error(client.get(url), 400, *words)


def test_stats_per_district_add_up(client: TestClient) -> None:
    doc = client.get("/stats").json()
    assert len(doc["districts"]) == 10
    inside = sum(d["subparks"]["area_km2"] for d in doc["districts"])
    assert inside == pytest.approx(doc["totals"]["subparks"]["area_km2"], rel=0.02)
    planned = sum(f["properties"]["planned_area_km2"] for f in PARKS.values() if f["properties"]["kind"] == "subpark")
    assert doc["totals"]["subparks"]["planned_area_km2"] == pytest.approx(planned)
    for d in doc["districts"]:
        assert 0 <= d["subparks"]["share"] <= 1
        assert d["subparks"]["share"] == pytest.approx(d["subparks"]["area_km2"] / d["area_km2"], abs=1e-4)


def test_indicators_are_the_file(client: TestClient) -> None:
    doc = client.get("/indicators").json()
    assert len(doc["table1"]) == len(INDICATORS["table1"]) == 18
    assert [{k: v for k, v in r.items() if k not in ("observations", "progress")} for r in doc["table1"]] == \
        INDICATORS["table1"]
    assert all(row["source"] for row in doc["table1"])


def test_export_every_collection_as_geopackage_in_gauss_kruger(client: TestClient, tmp_path) -> None:
    response = client.get("/export?f=gpkg&crs=EPSG:4549")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="ningbo-innovation-layout_EPSG-4549.gpkg"'
    assert "content-crs" not in response.headers  # files hold easting first; EPSG:4549's authority order is north-first
    path = tmp_path / "layout.gpkg"
    path.write_bytes(response.content)
    names = [name for name, _ in pyogrio.list_layers(path)]
    assert len(names) == 10 and "subparks" in names
    subparks = pyogrio.read_dataframe(path, layer="subparks")
    assert subparks.crs.to_epsg() == 4549
    assert len(subparks) == 10 and "北仑分园" in set(subparks["name_zh"])
    assert subparks.geometry.area.sum() / 1e6 == pytest.approx(420.9, rel=0.01)


def test_items_download_keeps_the_filter(client: TestClient, tmp_path) -> None:
    response = client.get("/collections/subparks/items?f=shapefile&industries=new-materials&crs=EPSG:4490")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == 'attachment; filename="subparks_EPSG-4490.zip"'
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert any(name.endswith(".prj") for name in archive.namelist())
    archive.extractall(tmp_path)
    shp = next(tmp_path.rglob("*.shp"))
    frame = pyogrio.read_dataframe(shp)
    assert len(frame) == 3 and frame.crs.to_epsg() == 4490


@pytest.mark.parametrize("url,words", [
    ("/export", ["f"]),
    ("/export?f=svg", ["f", "svg"]),
    ("/export?f=kml&crs=EPSG:4549", ["crs", "KML"]),
    ("/export?f=dxf&crs=EPSG:4326", ["crs", "DXF"]),
    ("/export?f=gpkg&crs=EPSG:2154", ["crs"]),
    ("/export?f=gpkg&collections=subparks,moon", ["collections", "moon"]),
    ("/export?f=gpkg&collections=subparks,subparks", ["collections", "twice"]),
    ("/collections/subparks/items?f=dxf&crs=EPSG:4326", ["crs"]),
])
def test_export_errors(client: TestClient, url: str, words: list[str]) -> None:
    assert_api_error(client.get(url), 400, *words)


def test_downloads_name_their_crs(client: TestClient) -> None:
    wgs84 = client.get("/collections/subparks/items?f=csv")
    assert wgs84.headers["content-disposition"] == 'attachment; filename="subparks.csv"'
    assert wgs84.headers["content-crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"  # lon, lat in the file
    utm = client.get("/collections/subparks/items?f=fgb&crs=EPSG:32651")
    assert utm.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/32651>"
    amap = client.get("/collections/subparks/items?f=csv&crs=GCJ02")
    assert amap.headers["content-disposition"] == 'attachment; filename="subparks_GCJ02.csv"'


def test_dxf_download_defaults_to_metres_and_says_which_crs(client: TestClient, tmp_path) -> None:
    response = client.get("/collections/subparks/items?f=dxf")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="subparks_EPSG-4549.dxf"'
    path = tmp_path / "subparks.dxf"
    path.write_bytes(response.content)
    doc = ezdxf.readfile(path)
    xs = [v[0] for e in doc.modelspace().query("LWPOLYLINE") for v in e.get_points("xy")]
    assert xs and 5.5e5 < min(xs) < max(xs) < 7.5e5  # Gauss-Kruger eastings around Ningbo, in metres


def test_indicators_carry_observations_and_progress(client: TestClient, data_copy) -> None:
    import dataclasses

    from geo.layers import load_layers
    from services.app import create_app

    doc = client.get("/indicators").json()
    row = next(r for r in doc["table1"] if r["id"] == "table1-6")  # 高新技术企业数量: 3102 in 2020, 8000 in 2025
    assert [(o["year"], o["value"]) for o in row["observations"]] == [(2015, 1519), (2020, 3102)]
    assert row["observations"][1]["source"] == "宁波市“十四五”科技创新规划, 表 1, lines 388-388"
    assert row["progress"]["share_of_way"] is None and row["progress"]["status"].startswith("baseline only")
    observed = {t["id"] for t in doc["targets"] if t["observations"]}
    assert observed == {"institutes-talents", "tech-credit-loans"}  # the plan's own 2020 figures, nothing else
    assert all(t["progress"]["status"] == "no observation" for t in doc["targets"] if t["id"] not in observed)
    assert [t["count"] for t in doc["cluster_tiers"]] == [2, 4, 6] and doc["vision_2035"]["year"] == 2035
    # a later observation, as the store will add them: progress is computed from it
    layers = load_layers(data_copy)
    observations = {"observations": [*layers.observations["observations"],
                                     {"indicator": "table1-6", "year": 2022, "value": 5551, "source": "test"}]}
    other = TestClient(create_app(dataclasses.replace(layers, observations=observations)))
    row = next(r for r in other.get("/indicators").json()["table1"] if r["id"] == "table1-6")
    assert row["progress"]["share_of_way"] == pytest.approx((5551 - 3102) / (8000 - 3102), abs=1e-4)
    assert row["progress"]["met"] is False and row["progress"]["latest"]["year"] == 2022
