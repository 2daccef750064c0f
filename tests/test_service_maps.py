"""The served maps (/maps/...): pages, their assets from the service's own /assets/, links to them, print maps
(f=png|pdf|svg), bad input."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import OrderedDict
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

from geo.layers import Layers
from maps import builders
from maps.basemap import TIANDITU_ENV
from maps.printmap import PrintMap, PrintOptions, fonts
from services import map_pages
from tests.api_helpers import assert_api_error
from tests.print_helpers import pdf_fonts, pdf_text, png_size

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


# --- print maps: /maps/...?f=png|pdf|svg ----------------------------------------------------------


@pytest.mark.parametrize(("path", "media", "filename"), [
    ("/maps/overview?f=pdf", "application/pdf", "nbgis-overview-A4-zh.pdf"),
    ("/maps/industry/biomedicine?f=pdf&paper=A3&landscape=true", "application/pdf",
     "nbgis-industry-biomedicine-A3-landscape-zh.pdf"),
    ("/maps/feature/subpark-beilun?f=svg&lang=en", "image/svg+xml", "nbgis-feature-subpark-beilun-A4-en.svg"),
    ("/maps/overview?f=png&dpi=72&paper=A3", "image/png", "nbgis-overview-A3-zh.png"),
])
def test_print_maps_are_served(client: TestClient, path: str, media: str, filename: str, tmp_path: Path) -> None:
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == media
    assert response.headers["content-disposition"] == f'inline; filename="{filename}"'
    if media == "application/pdf":
        pdf = tmp_path / filename
        pdf.write_bytes(response.content)
        assert {r["emb"] for r in pdf_fonts(pdf)} == {"yes"}
        text = pdf_text(pdf)
        assert "审图号" in text and ("生物医药—宁波" in text) == ("biomedicine" in path)  # the industry's title
    elif media == "image/png":
        assert png_size(response.content) == PrintOptions("png", "A3", False, 72).pixels()
    else:
        assert ET.fromstring(response.content).tag == "{http://www.w3.org/2000/svg}svg"


def test_print_map_fills_the_approval_number(client: TestClient, tmp_path: Path) -> None:
    response = client.get("/maps/overview", params={"f": "pdf", "approval": "浙S（2026）77号"})
    pdf = tmp_path / "approved.pdf"
    pdf.write_bytes(response.content)
    assert "审图号：浙S（2026）77号" in pdf_text(pdf)


@pytest.mark.parametrize(("path", "status", "words"), [
    ("/maps/overview?f=jpg", 400, ("f", "html, png, pdf, svg")),
    ("/maps/overview?f=pdf&dpi=5000", 400, ("dpi", "300")),
    ("/maps/overview?f=png&dpi=71", 400, ("dpi", "72")),
    ("/maps/overview?f=png&dpi=abc", 400, ("dpi",)),
    ("/maps/overview?f=pdf&paper=B5", 400, ("paper", "A4, A3")),
    ("/maps/overview?f=pdf&paper=a4", 400, ("paper", "A4, A3")),
    ("/maps/overview?f=pdf&landscape=maybe", 400, ("landscape",)),
    ("/maps/overview?f=pdf&lang=fr", 400, ("lang", "zh, en")),
    ("/maps/overview?f=pdf&tiles=osm", 400, ("tiles", "print map")),
    ("/maps/overview?f=pdf&approval=" + "x" * 41, 400, ("approval", "40")),
    ("/maps/overview?f=pdf&approval=%0A", 400, ("approval", "one line")),
    ("/maps/overview?f=pdf&approval=%F0%9F%98%80", 400, ("approval", "no glyph")),
    ("/maps/overview?paper=A3", 400, ("paper", "f=pdf")),
    ("/maps/feature/subpark-beilun?dpi=150", 400, ("dpi", "print maps")),
    ("/maps/overview?f=pdf&scale=5", 400, ("scale", "unknown query parameter")),
    ("/maps/industry/no-such-industry?f=pdf", 404, ("code", "no-such-industry")),
    ("/maps/feature/no-such-feature?f=png", 404, ("featureId",)),
])
def test_bad_print_requests(client: TestClient, path: str, status: int, words: tuple[str, ...]) -> None:
    assert_api_error(client.get(path), status, *words)


def test_print_maps_are_kept_once_rendered(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(map_pages, "_prints", OrderedDict())
    calls: list[tuple[str, str]] = []
    original = map_pages.render

    def counted(layers: Layers, kind: str, subject: str | None, options: PrintOptions) -> PrintMap:
        calls.append((kind, options.fmt))
        return original(layers, kind, subject, options)

    monkeypatch.setattr(map_pages, "render", counted)
    first = client.get("/maps/feature/street-cuibaili?f=svg").content
    assert client.get("/maps/feature/street-cuibaili?f=svg").content == first and calls == [("feature", "svg")]
    client.get("/maps/feature/street-cuibaili?f=svg&lang=en")
    assert len(calls) == 2


def test_missing_font_is_a_503_that_says_why(client: TestClient, monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.setattr(map_pages, "_prints", OrderedDict())
    monkeypatch.setattr(fonts, "FONT_PATH", tmp_path / "gone.ttc")
    fonts.cjk_font.cache_clear()
    try:
        # a URL no other test asks for: the service keeps its answers (services' answer cache) as well
        assert_api_error(client.get("/maps/feature/street-zhongguan-road?f=pdf&paper=A3"), 503, "fonts-wqy-microhei")
    finally:
        fonts.cjk_font.cache_clear()


def test_openapi_documents_the_print_maps(client: TestClient) -> None:
    doc = client.get("/api").json()
    for path in ("/maps/overview", "/maps/industry/{code}", "/maps/feature/{featureId}"):
        operation = doc["paths"][path]["get"]
        assert set(operation["responses"]["200"]["content"]) == {"text/html", "image/png", "application/pdf",
                                                                 "image/svg+xml"}
        parameters = {p["name"]: p for p in operation["parameters"]}
        assert parameters["f"]["schema"]["enum"] == ["html", "png", "pdf", "svg"]
        assert parameters["paper"]["schema"]["enum"] == ["A4", "A3"]
        assert parameters["dpi"]["schema"]["minimum"] == 72 and parameters["dpi"]["schema"]["maximum"] == 300
        assert parameters["landscape"]["schema"]["type"] == "boolean"
        assert parameters["approval"]["schema"]["maxLength"] == 40 and "审图号" in parameters["approval"]["description"]


def test_print_maps_share_the_pool_of_heavy_work(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """A print map is drawn in the guard's pool: with every slot taken it is a 503 to retry, not a queue."""
    monkeypatch.setattr(map_pages, "_prints", OrderedDict())
    pool = client.app.state.guard.downloads  # type: ignore[attr-defined]
    monkeypatch.setattr(pool, "in_use", pool.size)
    response = client.get("/maps/overview?f=pdf&landscape=true")
    assert_api_error(response, 503, "busy")
    assert response.headers["retry-after"] == "2"
    assert client.get("/maps/overview").status_code == 200  # the web map is not held up


def test_an_industry_named_redirects_to_its_print_map(client: TestClient) -> None:
    response = client.get("/maps/industry/生物医药?f=pdf&paper=A3", follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"].endswith("/maps/industry/biomedicine?f=pdf&paper=A3")
