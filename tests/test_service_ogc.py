"""OGC API - Features over the layers: every endpoint, parameter and error, against the source files."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pyproj
import pytest
import shapely
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from geo.layers import Layers
from geo.seed import DATA_DIR
from services.ogc import MAX_LIMIT
from tests.api_helpers import assert_api_error

COLLECTIONS = ["subparks", "corridor", "corridor-axis", "corridor-units", "innovation-nodes", "provincial-parks",
               "innovation-streets", "qianwan-zones", "platforms", "districts"]
CRS_URIS = ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"] + [
    f"http://www.opengis.net/def/crs/EPSG/0/{code}" for code in (4326, 4490, 4549, 4550, 32651, 3857)]



def source_features(name: str) -> dict[str, dict]:
    """The features of a data file, read with json alone: the truth the service must match."""
    doc = json.loads((DATA_DIR / name).read_text(encoding="utf-8"))
    return {f["properties"]["id"]: f for f in doc["features"]}


PARKS = source_features("parks.geojson")
PLATFORMS = source_features("platforms.geojson")


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [f["id"] for f in response.json()["features"]]



def test_landing_links_the_standard_resources_and_they_resolve(client: TestClient) -> None:
    doc = client.get("/").json()
    rels = {link["rel"]: link for link in doc["links"]}
    assert {"self", "alternate", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
    for rel in ("service-desc", "service-doc", "conformance", "data"):
        response = client.get(rels[rel]["href"])
        assert response.status_code == 200, rel
        assert response.headers["content-type"].startswith(rels[rel]["type"].split(";")[0]), rel
    assert "vnd.oai.openapi+json" in rels["service-desc"]["type"]


def test_conformance_lists_the_implemented_classes(client: TestClient) -> None:
    classes = client.get("/conformance").json()["conformsTo"]
    for part in ("ogcapi-features-1/1.0/conf/core", "ogcapi-features-1/1.0/conf/geojson",
                 "ogcapi-features-1/1.0/conf/html", "ogcapi-features-1/1.0/conf/oas30",
                 "ogcapi-features-2/1.0/conf/crs", "ogcapi-features-3/1.0/conf/filter",
                 "cql2/1.0/conf/cql2-text", "cql2/1.0/conf/basic-cql2"):
        assert f"http://www.opengis.net/spec/{part}" in classes
    assert len(classes) == len(set(classes))


def test_collections_are_the_plan_kinds_with_plain_slugs_and_seven_crs(client: TestClient) -> None:
    doc = client.get("/collections").json()
    assert [c["id"] for c in doc["collections"]] == COLLECTIONS
    for c in doc["collections"]:
        assert "." not in c["id"]
        assert c["crs"] == CRS_URIS
        assert c["storageCrs"] == CRS_URIS[0]
        west, south, east, north = c["extent"]["spatial"]["bbox"][0]
        assert 120.8 < west < east < 122.3 and 28.8 < south < north < 30.5
        rels = {link["rel"] for link in c["links"]}
        assert {"self", "items", "describedby", "http://www.opengis.net/def/rel/ogc/1.0/queryables"} <= rels
        for link in c["links"]:
            assert client.get(link["href"]).status_code == 200, link


def test_items_page_through_every_platform_with_next_links_keeping_parameters(client: TestClient) -> None:
    url = "/collections/platforms/items?limit=7&skipGeometry=false&sortby=id"
    seen, pages, keys = [], 0, set()
    while url:
        response = client.get(url)
        doc = response.json()
        assert response.headers["content-type"] == "application/geo+json"
        assert doc["numberMatched"] == len(PLATFORMS) == 46
        assert doc["numberReturned"] == len(doc["features"]) <= 7
        assert doc["timeStamp"].endswith("Z")
        for f in doc["features"]:
            keys.add(tuple(f["properties"]))
        seen += [f["id"] for f in doc["features"]]
        pages += 1
        nxt = [link["href"] for link in doc["links"] if link["rel"] == "next"]
        if nxt:
            query = parse_qs(urlsplit(nxt[0]).query)
            assert query["limit"] == ["7"] and query["sortby"] == ["id"] and query["skipGeometry"] == ["false"]
        url = nxt[0] if nxt else None
    assert pages == 7  # 46 platforms, 7 a page
    assert seen == sorted(PLATFORMS)
    assert len(keys) == 1  # every page has the same property set, as GDAL needs
    schema = client.get("/collections/platforms/schema").json()
    assert set(next(iter(keys))) == set(schema["properties"]) - {"geometry"}


def test_prev_link_and_last_page_has_no_next(client: TestClient) -> None:
    doc = client.get("/collections/platforms/items?limit=10&offset=40").json()
    rels = {link["rel"]: link["href"] for link in doc["links"]}
    assert "next" not in rels
    assert parse_qs(urlsplit(rels["prev"]).query)["offset"] == ["30"]
    assert doc["numberReturned"] == 6


def test_default_limit_and_large_limits_are_clamped_not_refused(client: TestClient) -> None:
    assert client.get("/collections/platforms/items").json()["numberReturned"] == 10
    for limit in (1000, 10**9):
        doc = client.get(f"/collections/platforms/items?limit={limit}").json()
        assert doc["numberReturned"] == 46 <= MAX_LIMIT


def test_feature_matches_the_source_file(client: TestClient) -> None:
    response = client.get("/collections/subparks/items/subpark-beilun")
    assert response.headers["content-type"] == "application/geo+json"
    assert response.headers["content-crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    doc = response.json()
    source = PARKS["subpark-beilun"]
    assert doc["properties"]["name_zh"] == "北仑分园" == source["properties"]["name_zh"]
    assert doc["properties"]["blocks"] == source["properties"]["blocks"]
    served = shapely.geometry.shape(doc["geometry"])
    assert served.equals_exact(shapely.geometry.shape(source["geometry"]), 1e-6)
    assert doc["properties"]["area_km2"] == pytest.approx(source["properties"]["planned_area_km2"], rel=0.05)
    assert {link["rel"] for link in doc["links"]} == {"self", "alternate", "collection"}


def test_platform_without_a_site_has_null_geometry(client: TestClient) -> None:
    unknown = next(i for i, f in PLATFORMS.items() if f["geometry"] is None)
    doc = client.get(f"/collections/platforms/items/{unknown}").json()
    assert doc["geometry"] is None
    assert doc["properties"]["location_quality"] == "unknown"


@pytest.mark.parametrize("code,lat_first", [(4326, True), (4490, True), (4549, True), (4550, True),
                                            (32651, False), (3857, False)])
def test_output_crs_follows_the_authority_axis_order(client: TestClient, code: int, lat_first: bool) -> None:
    pid, source = next((i, f) for i, f in PLATFORMS.items() if f["geometry"] is not None)
    lon, lat = source["geometry"]["coordinates"][:2]
    uri = f"http://www.opengis.net/def/crs/EPSG/0/{code}"
    response = client.get(f"/collections/platforms/items/{pid}", params={"crs": uri})
    assert response.headers["content-crs"] == f"<{uri}>"
    x, y = pyproj.Transformer.from_crs("OGC:CRS84", f"EPSG:{code}", always_xy=True).transform(lon, lat)
    expected = (y, x) if lat_first else (x, y)
    assert response.json()["geometry"]["coordinates"] == pytest.approx(expected, abs=1e-3)


def test_items_in_a_projected_crs(client: TestClient) -> None:
    uri = "http://www.opengis.net/def/crs/EPSG/0/4549"
    response = client.get("/collections/subparks/items", params={"crs": uri, "limit": 1})
    assert response.headers["content-crs"] == f"<{uri}>"
    northing, easting = response.json()["features"][0]["geometry"]["coordinates"][0][0][0]
    assert 3.2e6 < northing < 3.4e6 and 5.5e5 < easting < 7.5e5


def test_bbox_edge_cases_of_part_1(client: TestClient) -> None:
    # across the antimeridian (west > east): a valid box, far from Ningbo
    assert ids(client.get("/collections/subparks/items?bbox=177,65,-177,70")) == []
    # features without a geometry match every bbox
    unplaced = {i for i, f in PLATFORMS.items() if f["geometry"] is None}
    got = set(ids(client.get("/collections/platforms/items?bbox=0,0,1,1&limit=100")))
    assert got == unplaced and unplaced
    # a box larger than a projection's domain means all of it, not nonsense coordinates
    for crs in ("EPSG:3857", "EPSG:4549"):
        doc = client.get(f"/collections/subparks/items?bbox=-1e300,-1e300,1e300,1e300&bbox-crs={crs}").json()
        assert doc["numberMatched"] == 10, crs
    # the extent holds every feature even after rounding
    west, south, east, north = client.get("/collections/platforms").json()["extent"]["spatial"]["bbox"][0]
    located = [f["geometry"]["coordinates"] for f in PLATFORMS.values() if f["geometry"] is not None]
    assert all(west <= lon <= east and south <= lat <= north for lon, lat in located)


def test_head_vary_and_media_type_parameters(client: TestClient) -> None:
    head = client.head("/collections/subparks/items")
    assert head.status_code == 200 and head.content == b"" and head.headers["content-type"] == "application/geo+json"
    assert "Accept" in client.get("/collections").headers["vary"]
    api = client.get("/api", headers={"Accept": "application/vnd.oai.openapi+json;version=3.0"})
    assert api.status_code == 200 and api.json()["openapi"].startswith("3.0")


def test_bbox_in_every_axis_order_selects_the_same_features(client: TestClient) -> None:
    base = "/collections/subparks/items?skipGeometry=true&limit=100"
    lonlat = ids(client.get(base + "&bbox=121.4,29.8,121.7,30.0"))
    assert 0 < len(lonlat) < 10
    latlon = ids(client.get(base + "&bbox=29.8,121.4,30.0,121.7&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326"))
    assert latlon == lonlat
    to_gk = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:4549", always_xy=True)
    (e0, e1), (n0, n1) = to_gk.transform([121.4, 121.7], [29.8, 30.0])
    # a box in the projected CRS is a little larger than the lon/lat one; it holds at least the same parks
    gk = ids(client.get(base + f"&bbox={n0},{e0},{n1},{e1}&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4549"))
    assert set(lonlat) <= set(gk)
    expected = {i for i, f in PARKS.items() if f["properties"]["kind"] == "subpark"
                and shapely.geometry.shape(f["geometry"]).intersects(shapely.box(121.4, 29.8, 121.7, 30.0))}
    assert set(lonlat) == expected


def test_property_filters(client: TestClient, layers: Layers) -> None:
    wanted = layers.taxonomy.narrower("new-materials")
    expected = sorted(i for i, f in PARKS.items() if f["properties"]["kind"] == "subpark"
                      and wanted & set(f["properties"]["industries"]))
    got = ids(client.get("/collections/subparks/items?industries=new-materials&limit=100&sortby=id"))
    assert got == expected and got
    in_beilun = sorted(i for i, f in PARKS.items() if f["properties"]["kind"] == "corridor-unit"
                       and "330206" in f["properties"]["district_adcodes"])
    got = ids(client.get("/collections/corridor-units/items?district_adcode=330206&limit=100&sortby=id"))
    assert got == in_beilun and got
    assert ids(client.get("/collections/districts/items?kind=city")) == ["city-ningbo"]
    districts = json.loads((DATA_DIR / "districts.geojson").read_text(encoding="utf-8"))["features"]
    beilun = [f["properties"]["id"] for f in districts if f["properties"].get("adcode") == "330206"]
    assert ids(client.get("/collections/districts/items?district_adcode=330206")) == beilun and len(beilun) == 1


def test_cql2_filters(client: TestClient) -> None:
    base = "/collections/subparks/items?limit=100&skipGeometry=true&sortby=seq"
    assert len(ids(client.get(base, params={"filter": "seq > 5"}))) == 5
    assert len(ids(client.get(base, params={"filter": "seq BETWEEN 2 AND 4 AND NOT kind <> 'subpark'"}))) == 3
    assert ids(client.get(base, params={"filter": "name_en LIKE 'Beilun%'"})) == ["subpark-beilun"]
    assert ids(client.get(base, params={"filter": "id IN ('subpark-cixi', 'subpark-daxie')"})) == [
        "subpark-cixi", "subpark-daxie"]
    block = PARKS["subpark-jiangbei"]["properties"]["blocks"][0]
    lon, lat = block["label_point"]
    inside = ids(client.get(base, params={"filter": f"S_INTERSECTS(geometry, POINT({lon} {lat}))"}))
    assert inside == ["subpark-jiangbei"]
    in_4326 = ids(client.get(base, params={"filter": f"S_INTERSECTS(geometry, POINT({lat} {lon}))",
                                           "filter-crs": "http://www.opengis.net/def/crs/EPSG/0/4326"}))
    assert in_4326 == inside
    boxed = ids(client.get(base, params={"filter": "S_INTERSECTS(geometry, BBOX(121.4,29.8,121.7,30.0))"}))
    assert boxed == ids(client.get(base + "&bbox=121.4,29.8,121.7,30.0"))
    assert ids(client.get("/collections/platforms/items?limit=100", params={"filter": "platform_type IS NULL"})) == []
    polygon = "POLYGON((121.4 29.8, 121.7 29.8, 121.7 30.0, 121.4 30.0, 121.4 29.8))"
    assert ids(client.get(base, params={"filter": f"S_INTERSECTS(geometry, {polygon})"})) == boxed
    to_gk = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:4549", always_xy=True)
    easting, northing = to_gk.transform(lon, lat)
    in_gk = ids(client.get(base, params={"filter": f"S_INTERSECTS(geometry, POINT({northing} {easting}))",
                                         "filter-crs": "http://www.opengis.net/def/crs/EPSG/0/4549"}))
    assert in_gk == inside
    assert ids(client.get(base, params={"filter": '"name_zh" = \'江北分园\''})) == ["subpark-jiangbei"]


def test_cql2_json_and_three_valued_logic(client: TestClient) -> None:
    base = "/collections/innovation-nodes/items?limit=100&skipGeometry=true"
    with_figure = {i for i, f in PARKS.items() if f["properties"]["kind"] == "innovation-node"
                   and f["properties"].get("planned_area_km2") is not None}
    assert 0 < len(with_figure) < 10
    # a node without a planned area matches neither the test nor its negation, however it is written
    for text in ("NOT (planned_area_km2 > 1000000)", "planned_area_km2 <= 1000000",
                 "planned_area_km2 NOT BETWEEN 1000000 AND 2000000",
                 "NOT (planned_area_km2 BETWEEN 1000000 AND 2000000)"):
        assert set(ids(client.get(base, params={"filter": text}))) == with_figure, text
    as_json = json.dumps({"op": "<=", "args": [{"property": "planned_area_km2"}, 1000000]})
    assert set(ids(client.get(base, params={"filter": as_json, "filter-lang": "cql2-json"}))) == with_figure
    chain = "seq >= 1" + " AND seq >= 1" * 1500  # long, but within the limit: no recursion, no 500
    assert len(ids(client.get("/collections/subparks/items?limit=100", params={"filter": chain}))) == 10
    assert_api_error(client.get("/collections/subparks/items", params={"filter": "seq >= 1" * 3000}), 400, "filter")


def test_sortby_properties_and_skip_geometry(client: TestClient) -> None:
    doc = client.get("/collections/subparks/items?sortby=-area_km2&properties=area_km2,name_en&skipGeometry=true"
                     ).json()
    areas = [f["properties"]["area_km2"] for f in doc["features"]]
    assert areas == sorted(areas, reverse=True)
    assert all(set(f["properties"]) == {"area_km2", "name_en"} and f["geometry"] is None for f in doc["features"])
    names = [f["properties"]["name_en"] for f in client.get(
        "/collections/subparks/items?sortby=%2Bname_en&properties=name_en").json()["features"]]
    assert names == sorted(names)


def test_queryables_and_schema(client: TestClient) -> None:
    response = client.get("/collections/subparks/queryables")
    assert response.headers["content-type"] == "application/schema+json"
    props = response.json()["properties"]
    assert props["industries"]["type"] == "array"
    assert props["seq"]["type"] == "integer"
    assert props["geometry"]["format"] == "geometry-multipolygon"
    schema = client.get("/collections/subparks/schema").json()
    assert schema["properties"]["planned_area_km2"]["type"] == ["number", "null"]


@pytest.mark.parametrize("url,status,words", [
    ("/collections/nowhere", 404, ["collectionId", "subparks"]),
    ("/collections/nowhere/items", 404, ["collectionId"]),
    ("/collections/subparks/items/nothing", 404, ["featureId", "nothing"]),
    ("/collections/subparks/items?bbox=121,29,122", 400, ["bbox", "4 or 6"]),
    ("/collections/subparks/items?bbox=a,b,c,d", 400, ["bbox"]),
    ("/collections/subparks/items?bbox=121,30,122,29", 400, ["bbox", "inverted"]),
    ("/collections/subparks/items?bbox=3310000,650000,3300000,660000&bbox-crs=EPSG:4549", 400,
     ["bbox", "inverted", "northing"]),
    ("/collections/subparks/items?bbox=121,-95,122,30", 400, ["bbox", "out of range"]),
    ("/collections/subparks/items?bbox=29,121,30,122&bbox-crs=EPSG:4326&crs=EPSG:4326", 200, []),
    ("/collections/subparks/items?bbox=121,29,122,30&bbox-crs=EPSG:4326", 400, ["bbox", "latitude"]),
    ("/collections/subparks/items?crs=EPSG:2154", 400, ["crs", "EPSG:2154"]),
    ("/collections/subparks/items?crs=nonsense", 400, ["crs"]),
    ("/collections/subparks/items?bbox-crs=EPSG:9999", 400, ["bbox-crs"]),
    ("/collections/subparks/items?limit=0", 400, ["limit"]),
    ("/collections/subparks/items?limit=ten", 400, ["limit"]),
    ("/collections/subparks/items?offset=-1", 400, ["offset"]),
    ("/collections/subparks/items?f=xml", 400, ["f", "xml"]),
    ("/collections/subparks/items?colour=red", 400, ["colour", "unknown"]),
    ("/collections/subparks/items?properties=height", 400, ["properties", "height"]),
    ("/collections/subparks/items?sortby=industries", 400, ["sortby", "industries"]),
    ("/collections/subparks/items?sortby=-", 400, ["sortby"]),
    ("/collections/subparks/items?industries=spaceships", 400, ["industries", "spaceships"]),
    ("/collections/subparks/items?seq=first", 400, ["seq", "number"]),
    ("/collections/subparks/items?filter=seq%20%3E%20'a'", 400, ["filter", "seq"]),
    ("/collections/subparks/items?filter=height%20%3D%201", 400, ["filter", "height"]),
    ("/collections/subparks/items?filter=seq%20%3E", 400, ["filter", "CQL2"]),
    ("/collections/subparks/items?filter=S_INTERSECTS(geometry,BBOX(122,29,121,30))", 400, ["filter", "inverted"]),
    ("/collections/subparks/items?filter=seq=1&filter-lang=cql2-json", 400, ["filter", "CQL2-JSON"]),
    ("/collections/subparks/items?filter=seq=1&filter-lang=ecql", 400, ["filter-lang", "ecql"]),
    ("/collections/subparks/items?filter=S_INTERSECTS(geometry,LINESTRING(1%201))", 400, ["filter", "geometry"]),
    ("/collections/subparks/items?filter=seq%20%3E%205%20--%20c", 400, ["filter", "number"]),
    ("/collections/subparks/items?filter=CASEI(name_en)%3Dcasei('x')", 400, ["filter", "casei"]),
    ("/collections/subparks/items/subpark-cixi?crs=EPSG:27700", 400, ["crs"]),
    ("/conformance?f=pdf", 400, ["f"]),
    ("/collections/subparks/items?datetime=yesterday", 400, ["datetime"]),
    ("/collections/subparks/items?datetime=../..", 400, ["datetime"]),
    ("/collections/subparks/items?datetime=2025-12-31T00:00:00Z", 200, []),
    ("/collections/subparks/items?datetime=2021-01-01/..", 200, []),
])
def test_bad_input_gets_a_clear_4xx(client: TestClient, url: str, status: int, words: list[str]) -> None:
    response = client.get(url)
    if status == 200:
        assert response.status_code == 200
        return
    assert_api_error(response, status, *words)


def test_content_negotiation(client: TestClient) -> None:
    as_json = client.get("/collections/subparks/items", headers={"Accept": "application/json"})
    assert as_json.status_code == 200 and as_json.headers["content-type"] == "application/json"
    assert client.get("/collections/subparks/items", headers={"Accept": "application/geo+json"}).headers[
        "content-type"] == "application/geo+json"
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    assert client.get("/collections", headers={"Accept": browser}).headers["content-type"].startswith("text/html")
    assert client.get("/collections/subparks/items?f=json", headers={"Accept": browser}).headers[
        "content-type"] == "application/geo+json"
    assert_api_error(client.get("/collections/subparks/items", headers={"Accept": "application/xml"}), 406, "Accept")


def test_html_pages_are_usable(client: TestClient) -> None:
    landing = client.get("/?f=html").text
    for collection in COLLECTIONS:
        assert f'href="/collections/{collection}/items?f=html"' in landing
    items = client.get("/collections/subparks/items?f=html&limit=4").text
    assert items.count('<tr><td><a href="/collections/subparks/items/') == 4
    assert 'id="map"' in items and "/assets/leaflet/dist/leaflet.js" in items
    assert 'rel="next"' in items
    page = client.get("/collections/subparks/items/subpark-beilun?f=html").text
    assert "北仑分园" in page and "schematic" in page
    for name in PARKS["subpark-beilun"]["properties"]:
        assert f"<code>{name}</code>" in page, name
    assert client.get("/api?f=html").text.count("swagger-ui") >= 2


def test_html_pager_keeps_one_format_and_counts_past_the_end(client: TestClient) -> None:
    url = "/collections/platforms/items?f=html&limit=10"
    for _ in range(3):
        page = client.get(url).text
        url = re.search(r'<a rel="next" href="([^"]+)"', page).group(1).replace("&amp;", "&")
        assert parse_qs(urlsplit(url).query)["f"] == ["html"]
    assert parse_qs(urlsplit(url).query)["offset"] == ["30"]
    assert "No features on this page; 46 match." in client.get("/collections/platforms/items?f=html&offset=100").text


def test_openapi_document_is_3_0_and_advertises_the_limit_maximum(client: TestClient) -> None:
    response = client.get("/api")
    assert response.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    doc = response.json()
    assert doc["openapi"].startswith("3.0")
    validate(doc)  # a valid OpenAPI 3.0 document, by an independent validator
    params = {p["name"]: p for p in doc["paths"]["/collections/{collectionId}/items"]["get"]["parameters"]}
    assert params["limit"]["schema"]["maximum"] == MAX_LIMIT and params["limit"]["schema"]["default"] == 10
    assert params["bbox"]["schema"]["type"] == "array" and params["bbox"]["explode"] is False
    assert "datetime" in params
    assert params["collectionId"]["schema"]["enum"] == COLLECTIONS
    assert "anyOf" not in json.dumps(doc) or '"type": "null"' not in json.dumps(doc)


def test_assets_are_served_from_the_npm_packages_and_nothing_else(client: TestClient) -> None:
    response = client.get("/assets/leaflet/dist/leaflet.js")
    assert response.status_code == 200 and "javascript" in response.headers["content-type"]
    assert b"Leaflet" in response.content[:500]
    assert_api_error(client.get("/assets/leaflet/package.json"), 404, "asset")
    assert client.get("/assets/../pyproject.toml").status_code == 404
    icon = client.get("/favicon.ico")  # asked by browsers on every page, map pages included
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml" and b"<svg" in icon.content
