"""The served maps (/maps/...): pages, their assets from the service's own /assets/, links to them, bad input."""

from __future__ import annotations

import re
from collections import OrderedDict
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from geo.layers import Layers
from maps import builders
from maps.basemap import TIANDITU_ENV
from services import map_pages
from tests.api_helpers import assert_api_error

PAGES = ["/maps/overview", "/maps/overview?lang=en", "/maps/industry/new-materials",
         "/maps/industry/biomedicine?lang=en", "/maps/feature/subpark-beilun", "/maps/feature/subpark-beilun?lang=en"]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}



class Refs(HTMLParser):
    """The URLs a page loads through <script src> and <link href>, and every <a href>."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.anchors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.loads.append(values["src"] or "")
        elif tag == "link" and values.get("href"):
            self.loads.append(values["href"] or "")
        elif tag == "a" and values.get("href"):
            self.anchors.append(values["href"] or "")


def refs(html: str) -> Refs:
    parser = Refs()
    parser.feed(html)
    return parser



@pytest.mark.parametrize("path", PAGES)
def test_map_page_is_html_with_every_asset_from_the_service(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    assert '<html lang="en">' in html if "lang=en" in path else '<html lang="zh-CN">' in html
    assert "<title>" in html and "L.map(" in html
    loads = refs(html).loads
    assert loads and all(url.startswith("/assets/") for url in loads), loads
    # every script and stylesheet, and every font and image the stylesheets name, comes from this service
    for url in loads:
        asset = client.get(url)
        assert asset.status_code == 200, url
        if url.endswith(".css"):
            for ref in re.findall(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)""", asset.text):
                if not ref.startswith(("data:", "#")):
                    assert client.get(urljoin(url, ref.split("#")[0])).status_code == 200, (url, ref)


@pytest.mark.parametrize("tiles", ["none", "osm", "amap"])
def test_no_script_or_stylesheet_leaves_the_machine(client: TestClient, tiles: str) -> None:
    for path in ("/maps/overview", "/maps/industry/new-materials", "/maps/feature/subpark-beilun"):
        html = client.get(path, params={"tiles": tiles}).text
        for url in refs(html).loads:
            host = urlsplit(url).hostname
            assert host is None or host in LOCAL_HOSTS, (path, url)


def test_tiles_choose_the_basemap(client: TestClient) -> None:
    assert "tile.openstreetmap.org" not in client.get("/maps/overview").text
    assert "tile.openstreetmap.org" in client.get("/maps/overview?tiles=osm").text
    amap = client.get("/maps/feature/subpark-beilun?tiles=amap").text
    assert "autonavi.com" in amap and "GCJ-02" in amap


def test_tianditu_needs_a_key_on_the_server(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TIANDITU_ENV, raising=False)
    assert_api_error(client.get("/maps/overview?tiles=tianditu"), 400, "tiles", TIANDITU_ENV, "none, osm, amap")
    monkeypatch.setenv(TIANDITU_ENV, "key-one")
    assert "tk=key-one" in client.get("/maps/overview?tiles=tianditu").text
    monkeypatch.setenv(TIANDITU_ENV, "key-two")  # a new key is not answered from the cache with the old one
    assert "tk=key-two" in client.get("/maps/overview?tiles=tianditu").text
    monkeypatch.delenv(TIANDITU_ENV)
    assert_api_error(client.get("/maps/overview?tiles=tianditu"), 400, TIANDITU_ENV)


@pytest.mark.parametrize(("path", "status", "words"), [
    ("/maps/industry/no-such-industry", 404, ("code", "no-such-industry")),
    ("/maps/feature/no-such-feature", 404, ("featureId", "no-such-feature")),
    ("/maps/feature/%00%27%3Cx%3E", 404, ("featureId",)),
    ("/maps/overview?tiles=google", 400, ("tiles", "none, osm, tianditu, amap")),
    ("/maps/overview?tiles=", 400, ("tiles",)),
    ("/maps/industry/biomedicine?lang=fr", 400, ("lang", "zh, en")),
    ("/maps/feature/subpark-beilun?tiles=none&zoom=3", 400, ("zoom", "unknown query parameter")),
    ("/maps/overview?f=json", 400, ("f",)),
])
def test_bad_requests_are_ogc_exceptions(client: TestClient, path: str, status: int, words: tuple[str, ...]) -> None:
    assert_api_error(client.get(path), status, *words)


def test_pages_are_cached_per_subject_basemap_and_language(client: TestClient, monkeypatch: pytest.MonkeyPatch,
                                                          layers: Layers) -> None:
    monkeypatch.setattr(map_pages, "_pages", OrderedDict())
    monkeypatch.setattr(map_pages, "CACHE_SIZE", 3)
    calls: list[str] = []
    original = builders.feature

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(str(args[1]))
        return original(*args, **kwargs)

    monkeypatch.setattr(builders, "feature", counted)
    fresh = {"Cache-Control": "no-cache"}  # past the service's HTTP cache of answers, to the pages' own
    first = client.get("/maps/feature/subpark-beilun", headers=fresh).content
    assert client.get("/maps/feature/subpark-beilun", headers=fresh).content == first and calls == ["subpark-beilun"]
    client.get("/maps/feature/subpark-beilun?lang=en", headers=fresh)
    client.get("/maps/feature/subpark-beilun?tiles=osm", headers=fresh)
    assert len(calls) == 3
    client.get("/maps/feature/subpark-ninghai", headers=fresh)  # a fourth page pushes out the least recently used
    assert len(map_pages._pages) == 3
    client.get("/maps/feature/subpark-beilun", headers=fresh)
    assert calls[-1] == "subpark-beilun" and len(calls) == 5


def test_landing_and_header_link_the_overview(client: TestClient) -> None:
    anchors = refs(client.get("/?f=html").text).anchors
    assert "/maps/overview" in anchors and "/maps/overview?lang=en" in anchors
    assert "/maps/overview" in refs(client.get("/collections?f=html").text).anchors  # the header, on every page
    for href in ("/maps/overview", "/maps/overview?lang=en"):
        assert client.get(href).status_code == 200


def feature_examples(layers: Layers) -> list[tuple[str, str]]:
    """(collection, id) for each kind of feature map: area, line, platform with and without a site, district,
    the city outline."""
    platforms = layers.platforms
    return [("subparks", "subpark-beilun"), ("corridor-axis", layers.kind("corridor-axis").index[0]),
            ("platforms", platforms[platforms.geometry.notna()].index[0]),
            ("platforms", platforms[platforms.geometry.isna()].index[0]),
            ("districts", layers.kind("district").index[0]), ("districts", layers.kind("city").index[0])]


def test_feature_pages_link_their_map(client: TestClient, layers: Layers) -> None:
    for collection, fid in feature_examples(layers):
        anchors = refs(client.get(f"/collections/{collection}/items/{fid}?f=html").text).anchors
        for href in (f"/maps/feature/{fid}", f"/maps/feature/{fid}?lang=en"):
            assert href in anchors, (collection, fid)
            page = client.get(href)
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), href


def test_every_feature_id_the_collections_serve_has_a_map(client: TestClient, layers: Layers) -> None:
    # item pages link a map for every feature: the builder must know every id (drawing all 90 would take ~10 s)
    served = {f["id"] for c in client.get("/collections").json()["collections"]
              for f in client.get(f"/collections/{c['id']}/items", params={"limit": 200}).json()["features"]}
    drawable = {*layers.parks.index, *layers.platforms.index, *layers.districts.index}
    assert served == drawable


def test_industry_page_links_its_map(client: TestClient) -> None:
    anchors = refs(client.get("/industries/new-materials?f=html").text).anchors
    assert "/maps/industry/new-materials" in anchors and "/maps/industry/new-materials?lang=en" in anchors
    assert client.get("/maps/industry/new-materials?lang=en").status_code == 200


def test_openapi_documents_the_maps(client: TestClient) -> None:
    doc = client.get("/api").json()
    for path in ("/maps/overview", "/maps/industry/{code}", "/maps/feature/{featureId}"):
        operation = doc["paths"][path]["get"]
        assert operation["tags"] == ["Maps"]
        assert "text/html" in operation["responses"]["200"]["content"]
        assert {p["name"] for p in operation["parameters"]} >= {"tiles", "lang"}
