"""The service's own HTML pages in a real browser, offline: item lists and feature pages draw their maps from
the service's assets, clicking a shape opens its feature, and the API documentation (Swagger UI) renders."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx2
import pyogrio
import pyproj
import pytest

from services.query_pages import BLUES
from tests.browser_helpers import SHOTS, assert_names_in_web_font, open_page, wait_until


def visit(browser: Any, base: str, path: str, shot: Path) -> Any:
    v = open_page(browser, f"{base}{path}", (f"{base}/", "data:"), shot)
    assert v.errors == [] and v.failed == [] and v.outside == [], (v.errors, v.failed, v.outside)
    return v


def test_items_page_maps_the_page_and_links_each_shape(browser: Any, live_service: str, tmp_path: Path) -> None:
    v = visit(browser, live_service, "/collections/subparks/items?f=html&limit=4", tmp_path / "page-items.png")
    page = v.page
    wait_until(page, "window.nbgisMapReady === true")
    rows = page.locator("#features tr").count() - 1
    shapes = page.locator("#map path.leaflet-interactive").count()  # the backdrop's districts are not interactive
    assert rows == shapes == 4
    page.locator("#map path.leaflet-interactive").first.click()
    page.wait_for_url("**/collections/subparks/items/*?f=html")
    first = httpx2.get(f"{live_service}/collections/subparks/items?limit=4").json()["features"]
    assert page.url.split("/items/")[1].split("?")[0] in {f["id"] for f in first}
    page.close()


def test_feature_page_shows_every_attribute_and_its_map(browser: Any, live_service: str, tmp_path: Path) -> None:
    v = visit(browser, live_service, "/collections/innovation-nodes/items/node-haishu-moon-lake?f=html",
              tmp_path / "page-feature.png")
    page = v.page
    wait_until(page, "window.nbgisMapReady === true")
    properties = httpx2.get(f"{live_service}/collections/innovation-nodes/items/node-haishu-moon-lake"
                            ).json()["properties"]
    assert page.locator("#attributes tr").count() - 1 == len(properties)
    assert page.locator("#map path.leaflet-interactive").count() == 1
    assert page.locator(".notice").inner_text().startswith("This boundary is schematic")
    page.close()


def test_api_documentation_renders_every_operation_offline(browser: Any, live_service: str, tmp_path: Path) -> None:
    v = visit(browser, live_service, "/api?f=html", tmp_path / "page-api.png")
    page = v.page
    page.wait_for_selector(".opblock")
    doc = httpx2.get(f"{live_service}/api").json()
    operations = sum(len(methods) for methods in doc["paths"].values())
    assert page.locator(".opblock").count() == operations
    page.close()


# --- for people who are not GIS staff: Chinese on any machine, search, the query pages, downloads -------------

FONT_CHECKS = {  # page -> (selector of elements holding names, how many must hold Chinese at least)
    "/?f=html&lang=zh": [("h1", 1), ("header a", 7), ("p.lead", 1), ("ul.start a", 5)],
    "/maps/overview": [(".nbgis-label span", 18), (".leaflet-control-layers-overlays label span span", 11),
                       (".nbgis-legend div", 9), (".nbgis-legend summary", 3), (".nbgis-note", 1)],
    "/collections/subparks/items/subpark-yinzhou?f=html": [("h1", 1), ("#attributes td", 5)],
    "/search?q=%E7%94%9F%E7%89%A9&f=html&lang=zh": [(".results span.name", 8)],
    "/locate?f=html&lon=121.83&lat=29.93&lang=zh": [("#answer span.name", 10), ("#answer th", 5)],
    "/stats?f=html&lang=zh": [("#districts span[lang]", 10), ("#industry-totals a", 60)],
    "/indicators?f=html&lang=zh": [(".indicator h3 span[lang]", 18), (".indicator svg text", 36)],
}


@pytest.mark.parametrize("path", list(FONT_CHECKS))
def test_names_render_in_the_web_font_without_cjk_fonts(bare_browser: Any, live_service: str, tmp_path: Path,
                                                        path: str) -> None:
    shot = tmp_path / f"font-{path.strip('/').split('?')[0].replace('/', '-') or 'landing'}.png"
    v = visit(bare_browser, live_service, path, shot)
    for selector, at_least in FONT_CHECKS[path]:
        names = assert_names_in_web_font(v.page, selector, at_least)
        # and the browser's font API agrees: the web font has every glyph of every name, loaded
        assert v.page.evaluate("names => names.every(n => document.fonts.check('16px \"Noto Sans SC\"', n))", names)
    # form fields do not inherit fonts by default: the search box's placeholder is Chinese too
    inputs = v.page.eval_on_selector_all("input[type=search], input:not([type=hidden])",
                                         "els => els.map(e => getComputedStyle(e).fontFamily)")
    assert all(family.startswith('"Noto Sans SC"') for family in inputs), inputs
    # no flag: Leaflet's attribution prefix is plain text on every map
    for prefix in v.page.eval_on_selector_all(".leaflet-control-attribution", "els => els.map(e => e.innerHTML)"):
        assert prefix.startswith("Leaflet") and "<svg" not in prefix, prefix
    loaded = v.page.evaluate("Array.from(document.fonts).filter(f => f.family.includes('Noto Sans SC') && "
                             "f.status === 'loaded').length")
    assert loaded >= 3  # a few of the font's unicode-range files, not all hundred
    v.page.close()


@pytest.mark.parametrize(("query", "kind", "expected"), [
    ("生物", "industry", "biomedicine"), ("shengwu", "industry", "biomedicine"),
    ("biomedicine", "industry", "biomedicine"), ("鄞州", "district", "district-yinzhou"),
    ("yinzhou", "feature", "subpark-yinzhou")])
def test_search_from_the_landing_page(browser: Any, live_service: str, tmp_path: Path, query: str, kind: str,
                                      expected: str) -> None:
    v = visit(browser, live_service, "/?f=html", tmp_path / "landing.png")
    v.page.fill("form.search input[name=q]", query)
    v.page.press("form.search input[name=q]", "Enter")
    v.page.wait_for_url("**/search?**")
    listed = v.page.eval_on_selector_all(f"#{kind}-results li", "els => els.map(e => e.dataset.id)")
    assert expected in listed
    doc = httpx2.get(f"{live_service}/search", params={"q": query}).json()
    assert listed == [hit["id"] for hit in doc[f"{kind}s" if kind != "industry" else "industries"]]
    v.page.locator(f'#{kind}-results li[data-id="{expected}"] a').first.click()  # to its page
    v.page.wait_for_load_state()
    assert expected in v.page.url and v.page.locator("h1").inner_text()
    v.page.screenshot(path=str(SHOTS / f"search-{kind}.png"))
    v.page.close()


def _map_point(page: Any, css_class: str) -> tuple[float, float]:
    """A point on the screen inside the SVG path with this class (inside its fill, not only its box)."""
    point = page.locator(f"path.{css_class}").first.evaluate(POINT_INSIDE)
    assert point is not None, css_class
    return point["x"], point["y"]


# The inside point farthest from the outline along its row and column (a click is rounded to a whole pixel, a few
# hundred metres at city zoom: a point near the edge could land outside).
POINT_INSIDE = """el => {
  const box = el.getBBox(), toScreen = el.getScreenCTM(), n = 48;
  const inside = (i, j) => el.isPointInFill(new DOMPoint(box.x + box.width * i / n, box.y + box.height * j / n));
  let best = null, depth = -1;
  for (let i = 1; i < n; i++) for (let j = 1; j < n; j++) {
    if (!inside(i, j)) continue;
    let d = 0;
    while (d < n && inside(i - d, j) && inside(i + d, j) && inside(i, j - d) && inside(i, j + d)) d++;
    if (d > depth) { depth = d; best = [i, j]; }
  }
  if (!best) return null;
  const q = new DOMPoint(box.x + box.width * best[0] / n, box.y + box.height * best[1] / n).matrixTransform(toScreen);
  return {x: q.x, y: q.y};
}"""


def test_locate_page_click_the_map_see_the_answer(browser: Any, live_service: str, tmp_path: Path) -> None:
    v = visit(browser, live_service, "/locate?f=html", tmp_path / "locate.png")
    wait_until(v.page, "window.nbgisMapReady === true")
    x, y = _map_point(v.page, "nbgis-f-subpark-beilun")
    v.page.mouse.click(x, y)
    v.page.wait_for_url("**/locate?f=html&lon=*&lat=*")
    wait_until(v.page, "window.nbgisMapReady === true")
    held = v.page.locator("#held-subpark").inner_text()
    assert "北仑分园" in held
    lon, lat = (float(re.search(rf"{k}=([-\d.]+)", v.page.url).group(1)) for k in ("lon", "lat"))
    doc = httpx2.get(f"{live_service}/locate", params={"lon": lon, "lat": lat}).json()
    assert doc["subpark"]["id"] == "subpark-beilun" and doc["district"]["name_zh"] in v.page.locator(
        "#held-district").inner_text()
    platforms = v.page.eval_on_selector_all("#nearest-platforms tr[data-id]", "els => els.map(e => e.dataset.id)")
    parks = v.page.eval_on_selector_all("#nearest-parks tr[data-id]", "els => els.map(e => e.dataset.id)")
    assert len(platforms) == 5 and parks[0] == "subpark-beilun"
    assert v.page.locator("path.nbgis-site").count() == 1  # the site is marked where it was clicked
    v.page.screenshot(path=str(SHOTS / "locate-answer.png"), full_page=True)
    v.page.close()


def test_locate_page_takes_coordinates_in_a_gis_crs(browser: Any, live_service: str, tmp_path: Path) -> None:
    lon, lat = 121.83, 29.93  # in 北仑分园
    x, y = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True).transform(lon, lat)
    v = visit(browser, live_service, "/locate?f=html", tmp_path / "locate-crs.png")
    v.page.fill("#site-x", f"{x:.2f}")
    v.page.fill("#site-y", f"{y:.2f}")
    assert v.page.input_value("#site-crs") == "EPSG:4326"  # WGS 84 unless another is chosen or typed
    v.page.fill("#site-crs", "EPSG:4549")
    v.page.click(".locate-form button")
    v.page.wait_for_url("**crs=EPSG%3A4549**")
    assert "北仑分园" in v.page.locator("#held-subpark").inner_text()
    # the form in WGS 84, as it opens: the same answer
    v.page.fill("#site-x", str(lon))
    v.page.fill("#site-y", str(lat))
    v.page.fill("#site-crs", "EPSG:4326")
    v.page.click(".locate-form button")
    v.page.wait_for_url("**crs=EPSG%3A4326**")
    assert "北仑分园" in v.page.locator("#held-subpark").inner_text()
    v.page.close()


def test_nearest_page_ranks_the_hosts_of_an_industry(browser: Any, live_service: str, tmp_path: Path) -> None:
    v = visit(browser, live_service, "/nearest?f=html&industry=new-materials", tmp_path / "nearest.png")
    wait_until(v.page, "window.nbgisMapReady === true")
    x, y = _map_point(v.page, "nbgis-f-subpark-jiangbei")
    v.page.mouse.click(x, y)
    v.page.wait_for_url("**lon=*")
    ranked = v.page.eval_on_selector_all("#nearest-parks tr[data-id]", "els => els.map(e => e.dataset.id)")
    lon, lat = (float(re.search(rf"{k}=([-\d.]+)", v.page.url).group(1)) for k in ("lon", "lat"))
    doc = httpx2.get(f"{live_service}/nearest", params={"lon": lon, "lat": lat, "industry": "new-materials"}).json()
    assert ranked == [f["id"] for f in doc["features"]] and ranked[0] == "subpark-jiangbei"
    v.page.close()


def test_stats_page_colours_the_districts(browser: Any, live_service: str, tmp_path: Path) -> None:
    v = visit(browser, live_service, "/stats?f=html", tmp_path / "stats.png")
    wait_until(v.page, "window.nbgisMapReady === true")
    doc = httpx2.get(f"{live_service}/stats").json()
    fills = "els => els.map(e => e.getAttribute('data-fill'))"
    for measure, key in (("subparks", "subparks"), ("nodes", "innovation_nodes")):
        v.page.select_option("#stats-measure", measure)
        colours = v.page.eval_on_selector_all("#query-map path.nbgis-district", fills)
        assert len(colours) == 10
        # five classes: none, then four equal steps up to the largest district
        top = max(row[key]["area_km2"] for row in doc["districts"])
        expected = [BLUES[0] if not row[key]["area_km2"] else BLUES[min(4, 1 + int(row[key]["area_km2"] / top * 4))]
                    for row in doc["districts"]]
        assert colours == expected, measure
        assert colours.count(BLUES[0]) == sum(not row[key]["area_km2"] for row in doc["districts"])
    v.page.screenshot(path=str(SHOTS / "stats.png"), full_page=True)
    v.page.close()


def test_indicators_page_draws_every_chart(browser: Any, live_service: str, tmp_path: Path) -> None:
    v = visit(browser, live_service, "/indicators?f=html", tmp_path / "indicators.png")
    doc = httpx2.get(f"{live_service}/indicators").json()
    assert v.page.locator("figure.indicator svg").count() == len(doc["table1"])
    widths = v.page.eval_on_selector_all("figure.indicator", "els => els.map(e => Array.from("
                                         "e.querySelectorAll('rect')).map(r => r.getBoundingClientRect().width))")
    for row, bars in zip(doc["table1"], widths):
        if isinstance(row["baseline"]["value"], int | float) and isinstance(row["target_2025"]["value"], int | float):
            assert bars[0] / bars[1] == pytest.approx(row["baseline"]["value"] / row["target_2025"]["value"],
                                                      rel=0.02)
    v.page.screenshot(path=str(SHOTS / "indicators.png"), full_page=True)
    v.page.close()


def test_downloads_from_the_items_page_open_in_gdal(browser: Any, live_service: str, tmp_path: Path) -> None:
    v = visit(browser, live_service, "/collections/innovation-nodes/items?f=html", tmp_path / "downloads.png")
    page = v.page
    page.select_option(".download-format", "kml")  # KML is WGS 84: the form allows no other CRS
    assert page.eval_on_selector(".download-crs", "s => s.value") == "EPSG:4326"
    assert page.eval_on_selector_all(".download-crs option:not([disabled])", "os => os.map(o => o.value)") == [
        "EPSG:4326"]
    page.select_option(".download-format", "gpkg")
    page.select_option(".download-crs", "EPSG:4549")
    with page.expect_download() as info:
        page.click(".download-form button")
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    frame = pyogrio.read_dataframe(path)
    assert len(frame) == 10 and frame.crs.to_epsg() == 4549
    assert 3.2e6 < frame.total_bounds[1] < frame.total_bounds[3] < 3.4e6  # northings of Ningbo, in metres
    links = page.eval_on_selector_all(".export-links a", "els => els.map(e => [e.href, e.type])")
    assert len(links) == 8
    for href, media_type in links:  # the whole collection, from /export: each file as its link says
        response = httpx2.get(href)
        assert response.status_code == 200 and response.headers["content-type"] == media_type, href
    page.close()


def test_error_page_in_the_browser(browser: Any, live_service: str, tmp_path: Path) -> None:
    page = browser.new_page()
    response = page.goto(f"{live_service}/collections/nope")
    assert response.status == 404 and "text/html" in response.headers["content-type"]
    assert "nope" in page.locator("#error").inner_text()
    page.close()
