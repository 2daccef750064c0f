"""GET and POST /locate over HTTP: answers checked against the files, uploads in every accepted form, and errors."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import numpy as np
import pyproj
import pytest
import shapely
from fastapi.testclient import TestClient

from geo.batch import locate_file
from geo.crs import wgs84_to_gcj02
from geo.layers import Layers
from geo.locate import Locator
from geo.seed import DATA_DIR
from services import locate
from tests.api_helpers import assert_api_error

PARKS = {f["properties"]["id"]: f for f in json.loads((DATA_DIR / "parks.geojson").read_text("utf-8"))["features"]}
BLOCK = PARKS["subpark-beilun"]["properties"]["blocks"][0]
INSIDE = BLOCK["label_point"]  # a point inside that block of 北仑分园
SEA = (122.9, 29.9)  # east of Zhoushan, in no district




def test_a_site_in_a_subpark_block(client: TestClient) -> None:
    doc = client.get(f"/locate?lon={INSIDE[0]}&lat={INSIDE[1]}").json()
    assert doc["subpark"]["id"] == "subpark-beilun" and doc["subpark"]["name_zh"] == "北仑分园"
    assert doc["subpark"]["block_zh"] == BLOCK["name_zh"]
    assert doc["district"]["adcode"] == "330206"
    assert doc["nearest_subpark"]["id"] == "subpark-beilun" and doc["nearest_subpark"]["distance_km"] == 0
    assert client.get(doc["subpark"]["href"]).json()["id"] == "subpark-beilun"


def test_a_site_outside_gets_the_nearest_subpark_and_its_distance(client: TestClient) -> None:
    doc = client.get(f"/locate?lon={SEA[0]}&lat={SEA[1]}").json()
    assert doc["subpark"] is None and doc["district"] is None and doc["corridor_zone"] is False
    shapes = {i: shapely.geometry.shape(f["geometry"])
              for i, f in PARKS.items() if f["properties"]["kind"] == "subpark"}
    geod = pyproj.Geod(ellps="WGS84")
    site = shapely.Point(SEA)
    distances = {}
    for i, shape in shapes.items():
        near = shapely.ops.nearest_points(site, shape)[1]
        distances[i] = geod.inv(SEA[0], SEA[1], near.x, near.y)[2] / 1000
    nearest = min(distances, key=distances.__getitem__)
    assert doc["nearest_subpark"]["id"] == nearest
    assert doc["nearest_subpark"]["distance_km"] == pytest.approx(distances[nearest], rel=0.01)


def test_a_site_in_the_corridor(client: TestClient) -> None:
    unit = next(f for f in PARKS.values() if f["properties"]["kind"] == "corridor-unit")
    point = shapely.geometry.shape(unit["geometry"]).point_on_surface()
    doc = client.get(f"/locate?lon={point.x}&lat={point.y}").json()
    assert doc["corridor_zone"] is True
    assert doc["corridor_unit"]["id"] == unit["properties"]["id"]
    assert doc["corridor_area"] is not None


def test_a_site_given_in_gauss_kruger(client: TestClient) -> None:
    x, y = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:4549", always_xy=True).transform(*INSIDE)
    doc = client.get(f"/locate?lon={x}&lat={y}&crs=http://www.opengis.net/def/crs/EPSG/0/4549").json()
    assert doc["subpark"]["id"] == "subpark-beilun"


def test_a_site_given_in_gcj02_as_amap_shows_it(client: TestClient) -> None:
    lon, lat = wgs84_to_gcj02(np.array([INSIDE[0]]), np.array([INSIDE[1]]))
    doc = client.get(f"/locate?lon={lon[0]}&lat={lat[0]}&crs=GCJ02").json()
    assert doc["subpark"]["id"] == "subpark-beilun"
    assert doc["site"]["lon"] == pytest.approx(INSIDE[0], abs=1e-7)


def sites_csv(bom: bool = True) -> bytes:
    text = "名称,LON,Lat,note\n北仑,{},{},inside\n海上,{},{},sea\n".format(*INSIDE, *SEA)
    return (("\ufeff" if bom else "") + text).encode("utf-8")


def test_post_csv_body_as_json(client: TestClient) -> None:
    response = client.post("/locate", content=sites_csv(), headers={"Content-Type": "text/csv"})
    assert response.status_code == 200
    doc = response.json()
    assert [s["名称"] for s in doc["sites"]] == ["北仑", "海上"]
    assert [s["subpark"] for s in doc["sites"]] == ["subpark-beilun", None]
    assert doc["summary"]["sites"] == 2 and doc["summary"]["in_subparks"] == 1
    assert doc["summary"]["per_subpark"]["subpark-beilun"] == 1
    for code in PARKS["subpark-beilun"]["properties"]["industries"]:
        assert doc["summary"]["per_industry"][code] == 1


def test_post_csv_form_upload_answered_as_csv(client: TestClient) -> None:
    response = client.post("/locate?f=csv", files={"file": ("sites.csv", sites_csv(bom=False), "text/csv")})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [r["note"] for r in rows] == ["inside", "sea"]
    assert rows[0]["subpark"] == "subpark-beilun" and rows[0]["district_adcode"] == "330206"
    assert float(rows[1]["nearest_subpark_km"]) > 0
    assert json.loads(response.headers["x-locate-summary"])["in_subparks"] == 1


def test_post_geojson(client: TestClient) -> None:
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "a", "properties": {"name": "北仑"}, "geometry": {"type": "Point",
                                                                                   "coordinates": INSIDE}},
        {"type": "Feature", "id": "b", "properties": {}, "geometry": {"type": "Point", "coordinates": list(SEA)}}]}
    response = client.post("/locate", json=doc, headers={"Content-Type": "application/geo+json"})
    assert response.status_code == 200
    assert [(s["id"], s["subpark"]) for s in response.json()["sites"]] == [("a", "subpark-beilun"), ("b", None)]


@pytest.mark.parametrize("body,content_type,status,words", [
    (b"a,b\n1,2\n", "text/csv", 400, ["file", "lon"]),
    (b"lon,lat\n121.5,ninety\n", "text/csv", 400, ["file", "lat"]),
    (b"lon,lat\n121.5,95\n", "text/csv", 400, ["file", "1"]),
    (b"lon,lat\n", "text/csv", 400, ["file", "no data rows"]),
    ("lon,lat,名称\n121.5,29.8,北仑\n".encode("gbk"), "text/csv", 400, ["UTF-8"]),
    (b"{not json", "application/geo+json", 400, ["JSON"]),
    (b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": '
     b'{"type": "LineString", "coordinates": [[121, 29], [122, 30]]}}]}', "application/geo+json", 400, ["Point"]),
    (b"lon,lat\n121.5,29.8\n", "image/png", 415, ["Content-Type"]),
])
def test_post_errors(client: TestClient, body: bytes, content_type: str, status: int, words: list[str]) -> None:
    assert_api_error(client.post("/locate", content=body, headers={"Content-Type": content_type}), status, *words)


def test_post_over_the_limit_is_413(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locate, "MAX_UPLOAD_BYTES", 64)
    body = b"lon,lat\n" + b"121.5,29.8\n" * 10
    assert_api_error(client.post("/locate", content=body, headers={"Content-Type": "text/csv"}), 413, "MiB")
    assert_api_error(client.post("/locate", files={"file": ("s.csv", body, "text/csv")}), 413)


@pytest.mark.parametrize("url,words", [
    ("/locate?lon=200&lat=29", ["lon"]),
    ("/locate?lon=121&lat=95", ["lat"]),
    ("/locate?lon=121", ["lat"]),
    ("/locate?lon=121&lat=29&crs=EPSG:0", ["crs"]),
    ("/locate?lon=121&lat=29&radius=3", ["radius"]),
])
def test_get_errors(client: TestClient, url: str, words: list[str]) -> None:
    assert_api_error(client.get(url), 400, *words)


def test_post_bad_crs_and_format(client: TestClient) -> None:
    csv_body = {"content": sites_csv(), "headers": {"Content-Type": "text/csv"}}
    assert_api_error(client.post("/locate?crs=EPSG:2154", **csv_body), 400, "crs")
    assert_api_error(client.post("/locate?f=xml", **csv_body), 400, "f")
    assert_api_error(client.post("/locate?columns=subpark,zone", content=sites_csv(),
                                 headers={"Content-Type": "text/csv"}), 400, "columns", "'zone'", "choose from")


def test_post_chosen_columns_as_csv_json_and_from_geojson(client: TestClient) -> None:
    as_csv = client.post("/locate?f=csv&columns=district_adcode,subpark", content=sites_csv(),
                         headers={"Content-Type": "text/csv"})
    assert as_csv.status_code == 200
    assert as_csv.content.decode("utf-8-sig").splitlines() == [
        "名称,LON,Lat,note,district_adcode,subpark", f"北仑,{INSIDE[0]},{INSIDE[1]},inside,330206,subpark-beilun",
        f"海上,{SEA[0]},{SEA[1]},sea,,"]
    whole = client.post("/locate", content=sites_csv(), headers={"Content-Type": "text/csv"}).json()
    assert json.loads(as_csv.headers["x-locate-summary"]) == whole["summary"]  # the counts stay whole
    as_json = client.post("/locate?columns=nearest_subpark_km", content=sites_csv(),
                          headers={"Content-Type": "text/csv"}).json()
    assert [list(s) for s in as_json["sites"]] == [["名称", "LON", "Lat", "note", "nearest_subpark_km"]] * 2
    assert [s["nearest_subpark_km"] for s in as_json["sites"]] == [s["nearest_subpark_km"] for s in whole["sites"]]
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "a", "properties": {"name": "北仑"}, "geometry": {"type": "Point",
                                                                                   "coordinates": INSIDE}}]}
    located = client.post("/locate?columns=lat84,subpark", json=doc, headers={"Content-Type": "application/geo+json"})
    assert located.json()["sites"] == [{"id": "a", "name": "北仑", "lat84": INSIDE[1], "subpark": "subpark-beilun"}]


def test_post_limits_are_4xx_and_fast(client: TestClient) -> None:
    wide = b"lon,lat," + b",".join(b"c%d" % i for i in range(10**6)) + b"\n121.5,29.8\n"
    start = time.perf_counter()
    response = client.post("/locate", content=wide, headers={"Content-Type": "text/csv"})
    assert time.perf_counter() - start < 5
    assert_api_error(response, 400, "1,000 columns")
    long_value = b"lon,lat,note\n121.5,29.8," + b"x" * 70_000 + b"\n"
    assert_api_error(client.post("/locate", files={"file": ("s.csv", long_value, "text/csv")}), 413, "64 KiB",
                     "note")


def test_post_csv_answer_is_the_cli_file(client: TestClient, tmp_path: Path, layers: Layers) -> None:
    rng = np.random.default_rng(2)
    body = "id,lon,lat,名称\n" + "".join(f"{i},{x!r},{y!r},点{i}\n" for i, (x, y) in
                                        enumerate(zip(rng.uniform(121, 122, 5000).tolist(),
                                                      rng.uniform(29.5, 30.2, 5000).tolist())))
    response = client.post("/locate?f=csv", content=body.encode(), headers={"Content-Type": "text/csv"})
    assert response.status_code == 200
    locate_file(io.BytesIO(body.encode()), tmp_path / "out.csv", Locator.from_layers(layers))
    assert response.content == (tmp_path / "out.csv").read_bytes()
    as_json = client.post("/locate", content=body.encode(), headers={"Content-Type": "text/csv"}).json()
    assert len(as_json["sites"]) == 5000 and as_json["summary"] == json.loads(response.headers["x-locate-summary"])
