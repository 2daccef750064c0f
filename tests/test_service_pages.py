"""The service's pages for people who are not GIS staff, without a browser: the language they speak, errors as
pages, the query pages' content against the JSON, and the downloads every collection page offers."""

from __future__ import annotations

import html
import io
import re
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from fastapi.testclient import TestClient

from geo.export import FORMATS
from services.downloads import DOWNLOAD_CRSS, ITEM_DOWNLOADS

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(("headers", "params", "lang"), [
    ({}, {}, "zh-CN"),  # Chinese first
    ({"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}, {}, "zh-CN"),
    ({"Accept-Language": "en-GB,en;q=0.9"}, {}, "en"),
    ({"Accept-Language": "fr-FR,en;q=0.5,zh;q=0.4"}, {}, "en"),
    ({"Accept-Language": "en;q=0.3,zh-TW;q=0.6"}, {}, "zh-CN"),
    ({"Accept-Language": "en"}, {"lang": "zh"}, "zh-CN"),  # the switch wins over the browser
    ({}, {"lang": "en"}, "en"),
])
def test_landing_speaks_chinese_first(client: TestClient, headers: dict[str, str], params: dict[str, str],
                                      lang: str) -> None:
    page = client.get("/", params={"f": "html", **params}, headers=headers)
    assert page.status_code == 200 and f'<html lang="{lang}">' in page.text
    assert "Accept-Language" in page.headers["vary"]
    assert 'name="q"' in page.text and 'action="/search"' in page.text  # the search box
    switch = re.search(r'<a class="switch" href="([^"]+)"', page.text)
    assert switch is not None and ("lang=en" if lang == "zh-CN" else "lang=zh") in switch.group(1)
    if lang == "zh-CN":
        assert "本站把这些内容画成地图和数据" in page.text
    else:
        assert "This site draws them" in page.text
    # what a GIS office needs stays, lower on the page
    assert page.text.index('name="q"') < page.text.index('class="gis"') < page.text.index("/conformance")


def test_landing_json_is_the_ogc_document(client: TestClient) -> None:
    doc = client.get("/").json()
    assert {link["rel"] for link in doc["links"]} >= {"self", "service-desc", "conformance", "data"}
    assert client.get("/", params={"lang": "fr", "f": "html"}).status_code == 400


@pytest.mark.parametrize("path", ["/collections/nope", "/collections/subparks/items/nope", "/industries/nope",
                                  "/maps/feature/nope", "/locate?lon=500&lat=29", "/no/such/page"])
def test_errors_are_pages_for_browsers_and_json_for_clients(client: TestClient, path: str) -> None:
    page = client.get(path, headers={"Accept": BROWSER})
    assert page.status_code in (400, 404) and page.headers["content-type"].startswith("text/html")
    assert 'id="error"' in page.text and 'href="/?f=html"' in page.text
    api = client.get(path)
    assert api.status_code == page.status_code and set(api.json()) == {"code", "description"}
    assert client.get(path, headers={"Accept": "application/json"}).headers["content-type"] == "application/json"


def test_stats_page_tables_hold_the_json(client: TestClient) -> None:
    doc = client.get("/stats").json()
    page = client.get("/stats", params={"f": "html"}).text
    for row in doc["districts"]:
        assert f'data-adcode="{row["adcode"]}"' in page and row["name_zh"] in page
        assert f'{row["subparks"]["area_km2"]:.2f} ({row["subparks"]["share"] * 100:.2f} %)' in page
    data = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', page, re.S)
    assert data is not None
    values = __import__("json").loads(data.group(1))["values"]
    for row in doc["districts"]:
        both = row["subparks"]["area_km2"] + row["innovation_nodes"]["area_km2"]
        assert values[row["adcode"]]["both"] == pytest.approx(both, abs=1e-3)


def test_indicators_page_charts_each_indicator(client: TestClient) -> None:
    doc = client.get("/indicators").json()
    page = client.get("/indicators", params={"f": "html"}).text
    figures = re.findall(r'<figure class="indicator" data-no="(\d+)">(.*?)</figure>', page, re.S)
    assert [int(no) for no, _ in figures] == [row["no"] for row in doc["table1"]]
    for (_, svg), row in zip(figures, doc["table1"]):
        widths = {cls: float(w) for cls, w in re.findall(r'<rect class="(\w+)" x="110" y="\d+" width="(\d+)"', svg)}
        base, target = row["baseline"]["value"], row["target_2025"]["value"]
        if isinstance(base, int | float) and isinstance(target, int | float):
            assert max(widths.values()) == 520  # the larger bar spans the chart
            assert widths["baseline"] / widths["target"] == pytest.approx(base / target, rel=0.02)
        assert html.escape(row["name_zh"], quote=False) in svg


@pytest.mark.parametrize("path", ["/locate", "/nearest"])
def test_query_pages_open_without_a_site_and_answer_with_one(client: TestClient, path: str) -> None:
    empty = client.get(path, params={"f": "html"})
    assert empty.status_code == 200 and 'id="query-map"' in empty.text and 'id="holders"' not in empty.text
    answered = client.get(path, params={"f": "html", "lon": 121.83, "lat": 29.93})
    doc = client.get(path, params={"lon": 121.83, "lat": 29.93}).json()
    if path == "/locate":
        assert doc["subpark"]["name_zh"] in answered.text and 'id="nearest-platforms"' in answered.text
    else:
        rows = re.findall(r'<tr data-id="([^"]+)">', answered.text)
        assert rows == [f["id"] for f in doc["features"]]
    # the JSON is the API's, unchanged by the page: a site is still required there
    assert client.get(path).status_code == 400


def test_collection_json_lists_every_download(client: TestClient, tmp_path: Path) -> None:
    doc = client.get("/collections/subparks").json()
    enclosures = [link for link in doc["links"] if link["rel"] == "enclosure"]
    assert sorted(link["type"] for link in enclosures) == sorted(f.media_type for f in FORMATS.values())
    for link in enclosures:
        response = client.get(link["href"])
        assert response.status_code == 200 and response.headers["content-type"] == link["type"], link
        name = re.search(r'filename="([^"]+)"', response.headers["content-disposition"]).group(1)
        path = tmp_path / name
        path.write_bytes(response.content)
        frame = gpd.read_parquet(path) if name.endswith(".parquet") else pyogrio.read_dataframe(
            f"/vsizip/{path}" if name.endswith(".zip") else path)
        if name.endswith(".dxf"):  # CAD entities: outlines and labels on the kind's layer
            assert set(frame["Layer"]) == {"subpark"} and len(frame) >= 10, name
        else:
            assert len(frame) == 10, name


def test_collection_and_items_pages_offer_every_format_and_crs(client: TestClient) -> None:
    for path in ("/collections/platforms?f=html", "/collections/platforms/items?platform_type=laboratory&f=html"):
        page = client.get(path).text
        form = re.search(r'<form class="download-form" action="([^"]+)".*?</form>', page, re.S)
        assert form is not None and form.group(1) == "/collections/platforms/items"
        assert re.findall(r'<option value="([^"]+)" data-crs-rule', form.group(0)) == list(ITEM_DOWNLOADS)
        assert re.findall(r'<option value="([^"]+)" data-geographic', form.group(0)) == [c for c, _, _ in DOWNLOAD_CRSS]
        assert re.findall(r'href="/export\?f=(\w+)&amp;collections=platforms"', page) == list(FORMATS)
    # the items page's form keeps the page's filter, so the file holds what the page lists
    assert '<input type="hidden" name="platform_type" value="laboratory">' in page
    got = client.get("/collections/platforms/items", params={"platform_type": "laboratory", "f": "shapefile",
                                                             "crs": "EPSG:4549"})
    listed = client.get("/collections/platforms/items", params={"platform_type": "laboratory"}).json()
    with zipfile.ZipFile(io.BytesIO(got.content)) as z:
        assert any(n.endswith(".prj") and "CGCS2000" in z.read(n).decode() for n in z.namelist())
    assert got.status_code == 200 and listed["numberMatched"] > 0


def test_feature_page_downloads_the_feature(client: TestClient, tmp_path: Path) -> None:
    page = client.get("/collections/innovation-nodes/items/node-haishu-moon-lake", params={"f": "html"}).text
    section = re.search(r'<p class="formats" id="feature-downloads">(.*?)</p>', page, re.S)
    assert section is not None
    hrefs = [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"', section.group(1))]
    assert len(hrefs) == 5
    gpkg = client.get(hrefs[0])
    (tmp_path / "one.gpkg").write_bytes(gpkg.content)
    frame = pyogrio.read_dataframe(tmp_path / "one.gpkg")
    assert list(frame["id"]) == ["node-haishu-moon-lake"] and frame.crs.to_epsg() == 4549
    assert all(client.get(h).status_code == 200 for h in hrefs[1:])
