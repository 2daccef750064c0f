"""The served maps in a real browser: the service runs under uvicorn on 127.0.0.1, headless Chromium opens
each map with every request that leaves 127.0.0.1 aborted, and checks what a person would see.

Needs /usr/bin/chromium and the `playwright` package (see tests/browser_helpers.py); skips without them,
except under CI=true.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pyogrio
import pytest

from geo.layers import Layers
from geo.queries import hosting_industry
from maps import builders
from tests.browser_helpers import (
    CLICK_INSIDE,
    SHOTS,
    Visit,
    drawn_features,
    group_names,
    icon_font_loads,
    open_page,
    overlay_names,
    path_ids,
    pin_ids,
)

INDUSTRY = "new-materials"  # the longest list of hosts: the side panel's hardest case
MAPS = {  # name -> (path, the builder's map for the same page, as the oracle of what is drawn)
    "overview": ("/maps/overview", lambda layers: builders.overview(layers)),
    "industry": (f"/maps/industry/{INDUSTRY}", lambda layers: builders.industry(layers, INDUSTRY)),
    "feature": ("/maps/feature/subpark-beilun", lambda layers: builders.feature(layers, "subpark-beilun")),
}


@pytest.fixture
def visit(browser: Any, live_service: str, tmp_path: Path) -> Iterator[Any]:
    opened: list[Visit] = []

    def open_served(path: str, shot: str) -> Visit:
        v = open_page(browser, f"{live_service}{path}?tiles=none", (f"{live_service}/", "data:"),
                      tmp_path / f"served-{shot}.png")
        opened.append(v)
        return v

    yield open_served
    for v in opened:
        v.page.close()


@pytest.mark.parametrize("name", list(MAPS))
def test_served_map_works_offline(visit: Any, layers: Layers, name: str) -> None:
    path, build = MAPS[name]
    v = visit(path, name)
    assert v.errors == [] and v.failed == [] and v.outside == []
    m = build(layers)
    ids = path_ids(v.page)
    assert sorted(ids) == sorted(drawn_features(m))  # one interactive SVG path per polygon or line feature
    districts = set(layers.kind("district").index)
    assert districts <= set(ids)
    if name != "feature":  # the whole layout: every area and line of the plan is on the map
        assert set(layers.parks.index) <= set(ids)
    assert overlay_names(v.page) == group_names(m)  # the layer control lists every layer
    assert icon_font_loads(v.page) and v.failed == [] and v.outside == []  # the pins' font, from /assets/
    assert v.page.locator(".nbgis-note").is_visible()


@pytest.mark.parametrize("name", ["overview", "feature"])
def test_clicking_a_subpark_opens_its_popup_with_its_planned_area(visit: Any, name: str) -> None:
    v = visit(MAPS[name][0], f"{name}-popup")
    assert v.page.locator(".folium-map path.nbgis-f-subpark-beilun").evaluate(CLICK_INSIDE)
    popup = v.page.locator(".leaflet-popup-content")
    popup.wait_for()
    text = popup.inner_text()
    assert "北仑分园 / Beilun Sub-park" in text and "规划面积" in text and "130 平方公里" in text
    v.page.wait_for_timeout(400)  # the map pans to show the popup
    v.page.screenshot(path=str(SHOTS / f"served-{name}-popup.png"))
    assert v.errors == [] and v.outside == []


def test_industry_map_highlights_exactly_the_hosts_the_api_lists(visit: Any, live_service: str) -> None:
    hosts = httpx2.get(f"{live_service}/industries/{INDUSTRY}").json()["hosts"]
    areas = {h["id"] for h in hosts if h["kind"] != "platform"}
    platforms = {h["id"] for h in hosts if h["kind"] == "platform"}
    placed = {pid for pid in platforms
              if httpx2.get(f"{live_service}/collections/platforms/items/{pid}").json()["geometry"] is not None}
    assert areas and placed and placed != platforms  # the case has all three: areas, pins and unplaced platforms
    v = visit(MAPS["industry"][0], "industry-hits")
    hit_paths = path_ids(v.page, "nbgis-hit")
    assert len(hit_paths) == len(set(hit_paths)) and set(hit_paths) == areas
    hit_pins = pin_ids(v.page, "nbgis-hit")
    assert len(hit_pins) == len(set(hit_pins)) and set(hit_pins) == placed
    assert not set(path_ids(v.page, "nbgis-muted")) & areas
    panel = v.page.locator(".nbgis-panel")
    assert f"{len(hosts)} (" in panel.inner_text()


def test_side_panel_scrolls_clear_of_the_minimap(visit: Any) -> None:
    v = visit(MAPS["industry"][0], "industry-panel")
    panel = v.page.locator(".nbgis-panel")
    box, minimap = panel.bounding_box(), v.page.locator(".leaflet-control-minimap").bounding_box()
    v.page.mouse.move(400, 400)  # the mouse position shows and lifts the minimap a line
    v.page.wait_for_timeout(100)
    lifted = v.page.locator(".leaflet-control-minimap").bounding_box()
    assert box["y"] + box["height"] < min(minimap["y"], lifted["y"])
    # the long list is all there, reached by scrolling the panel
    assert panel.evaluate("el => el.scrollHeight > el.clientHeight && getComputedStyle(el).overflowY === 'auto'")
    panel.evaluate("el => { el.scrollTop = el.scrollHeight; }")
    v.page.screenshot(path=str(SHOTS / "served-industry-panel-scrolled.png"))


def test_overview_names_its_parks_without_collisions(visit: Any, layers: Layers) -> None:
    v = visit("/maps/overview", "overview-labels")
    v.page.evaluate("document.fonts.ready.then(() => true)")
    v.page.wait_for_timeout(200)  # the labels step aside again once the web font has arrived
    boxes = v.page.eval_on_selector_all(".nbgis-label span", """els => els.filter(e => e.checkVisibility({
        visibilityProperty: true})).map(e => { const r = e.getBoundingClientRect();
        return {text: e.textContent, park: e.parentNode.classList.contains('nbgis-park'),
                x0: r.left, y0: r.top, x1: r.right, y1: r.bottom}; })""")
    parks = [b["text"] for b in boxes if b["park"]]
    subparks = set(layers.kind("subpark")["name_zh"])
    assert set(parks) <= subparks and len(parks) >= 8, parks  # at the overview zoom, most sub-parks are named
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            if a["park"] or b["park"]:  # a park's name never covers another name
                assert a["x1"] <= b["x0"] or b["x1"] <= a["x0"] or a["y1"] <= b["y0"] or b["y1"] <= a["y0"], (a, b)


AIM = '.leaflet-control-minimap path[stroke="#c62828"]'  # the view's rectangle (maps.controls.OutlineMiniMap)


def test_attribution_has_no_flag_and_the_minimap_holds_the_view(visit: Any) -> None:
    v = visit("/maps/overview", "overview-minimap")
    attribution = v.page.locator(".folium-map > .leaflet-control-container .leaflet-control-attribution")
    assert attribution.inner_text().startswith("Leaflet") and attribution.locator("svg").count() == 0
    minimap = v.page.locator(".leaflet-control-minimap").bounding_box()
    aim = v.page.locator(AIM).first.bounding_box()  # the view's rectangle
    assert minimap["x"] < aim["x"] and aim["x"] + aim["width"] < minimap["x"] + minimap["width"]
    assert minimap["y"] < aim["y"] and aim["y"] + aim["height"] < minimap["y"] + minimap["height"]
    assert aim["width"] > 20  # the rectangle is drawn, not a sliver
    v.page.locator(".leaflet-control-zoom-in").click()
    v.page.wait_for_timeout(600)
    smaller = v.page.locator(AIM).first.bounding_box()
    assert smaller["width"] < aim["width"] * 0.75  # it follows the view


def test_industry_panel_items_zoom_to_their_feature(visit: Any, layers: Layers) -> None:
    v = visit(f"/maps/industry/{INDUSTRY}", "industry-panel-zoom")
    items = v.page.locator(".nbgis-panel li[data-feature]")
    placed = hosting_industry(layers, INDUSTRY)
    assert items.count() == int(placed.geometry.notna().sum())
    shape = v.page.locator("path.nbgis-f-subpark-jiangbei")
    before = shape.bounding_box()
    v.page.locator('.nbgis-panel li[data-feature="subpark-jiangbei"]').click()
    popup = v.page.locator(".leaflet-popup-content")
    popup.wait_for()
    v.page.wait_for_timeout(500)
    assert "江北分园" in popup.inner_text()
    after = shape.bounding_box()
    assert after["width"] > 2 * before["width"]  # zoomed in on it
    assert after["x"] < 1280 and after["x"] + after["width"] > 0 and after["y"] < 800  # and it is in view
    popup_box = popup.bounding_box()
    assert popup_box["x"] >= 0 and popup_box["x"] + popup_box["width"] <= 1280
    v.page.screenshot(path=str(SHOTS / "served-industry-panel-zoom.png"))


def test_popup_links_to_the_feature_page_map_and_downloads(visit: Any, live_service: str, tmp_path: Path) -> None:
    v = visit("/maps/overview", "overview-popup-links")
    assert v.page.locator("path.nbgis-f-subpark-yinzhou").evaluate(CLICK_INSIDE)
    links = v.page.locator(".leaflet-popup-content .nbgis-links a")
    links.first.wait_for()
    hrefs = links.evaluate_all("els => els.map(e => e.href)")
    assert len(hrefs) == 6 and all(h.startswith(f"{live_service}/") for h in hrefs)
    page, map_page, data, gpkg, kml, dxf = (httpx2.get(h) for h in hrefs)
    assert page.status_code == map_page.status_code == 200 and "鄞州分园" in page.text
    assert data.json()["id"] == "subpark-yinzhou" and data.json()["properties"]["source"]
    path = tmp_path / "yinzhou.gpkg"
    path.write_bytes(gpkg.content)
    frame = pyogrio.read_dataframe(path)
    assert list(frame["id"]) == ["subpark-yinzhou"] and frame.crs.to_epsg() == 4549
    (tmp_path / "yinzhou.kml").write_bytes(kml.content)
    assert len(pyogrio.read_dataframe(tmp_path / "yinzhou.kml")) == 1
    assert dxf.status_code == 200 and dxf.headers["content-type"] == "image/vnd.dxf"
