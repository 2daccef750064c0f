"""The maps in a real browser, offline: headless Chromium (Debian's) through Playwright opens each page from
disk with every request that is not file: or data: aborted, and checks what a person would see.

Needs /usr/bin/chromium (apt-get install chromium) and the `playwright` package; never `playwright install`.
Under CI=true a missing browser fails the run; elsewhere these tests skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from geo.layers import Layers
from geo.queries import hosting_industry
from maps import builders
from maps.output import write_map
from tests.browser_helpers import (
    CLICK_INSIDE,
    SHOTS,
    VIEWPORT,
    Visit,
    assert_names_in_web_font,
    drawn_features,
    group_names,
    icon_font_loads,
    open_page,
    overlay_names,
    path_ids,
    pin_ids,
)


@dataclass
class Built:
    path: Path
    map: Any  # the folium.Map the page was written from


@pytest.fixture(scope="module")
def pages(layers: Layers, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    out = tmp_path_factory.mktemp("maps")
    specs = {
        "overview": (lambda: builders.overview(layers), True),
        "industry": (lambda: builders.industry(layers, "biomedicine"), True),
        "feature": (lambda: builders.feature(layers, "subpark-yinzhou"), True),
        "overview-linked": (lambda: builders.overview(layers, lang="en"), False),
    }
    built = {}
    for name, (build, single) in specs.items():
        m = build()
        write_map(m, out / f"{name}.html", self_contained=single)
        built[name] = Built(out / f"{name}.html", m)
    return built


@pytest.fixture
def visit(browser: Any, tmp_path: Path) -> Iterator[Any]:
    opened: list[Visit] = []

    def open_built(built: Built, shot: str) -> Visit:
        v = open_page(browser, built.path.as_uri(), ("file:", "data:"), tmp_path / f"{shot}.png")
        opened.append(v)
        return v

    yield open_built
    for v in opened:
        v.page.close()


@pytest.mark.parametrize("name", ["overview", "industry", "feature", "overview-linked"])
def test_page_works_offline(visit: Any, pages: dict[str, Built], name: str) -> None:
    built = pages[name]
    v = visit(built, name)
    assert v.errors == [] and v.failed == [] and v.outside == []
    assert sorted(path_ids(v.page)) == sorted(drawn_features(built.map))  # one SVG path per polygon or line
    assert overlay_names(v.page) == group_names(built.map)
    # the pins' icon font loads from the page or the folder beside it
    assert icon_font_loads(v.page) and v.failed == [] and v.outside == []
    note = v.page.locator(".nbgis-note")
    assert note.is_visible() and ("边界为示意" in note.inner_text() or "schematic" in note.inner_text())


def test_clicking_a_subpark_opens_its_popup(visit: Any, pages: dict[str, Built]) -> None:
    v = visit(pages["overview"], "overview-popup")
    assert v.page.locator("path.nbgis-f-subpark-yinzhou").evaluate(CLICK_INSIDE)
    popup = v.page.locator(".leaflet-popup-content")
    popup.wait_for()
    text = popup.inner_text()
    assert "鄞州分园 / Yinzhou Sub-park" in text and "128.7" in text and "规划面积" in text
    v.page.wait_for_timeout(400)  # the map pans to show the popup
    v.page.screenshot(path=str(SHOTS / "overview-popup.png"))


def test_search_finds_a_feature_in_english(visit: Any, pages: dict[str, Built]) -> None:
    v = visit(pages["overview-linked"], "overview-search")
    box = v.page.locator(".nbgis-search input")
    box.fill("ninghai sub")
    v.page.locator(".nbgis-search li", has_text="宁海分园 / Ninghai Sub-park").click()
    popup = v.page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert "15.2" in popup.inner_text()
    v.page.wait_for_timeout(400)
    v.page.screenshot(path=str(SHOTS / "overview-search.png"))


@pytest.mark.parametrize("query", ["beilunfen", "blfy", "北仑分"])
def test_search_finds_a_feature_by_pinyin_and_part_of_its_name(visit: Any, pages: dict[str, Built],
                                                                query: str) -> None:
    v = visit(pages["overview"], "overview-search-pinyin")
    v.page.locator(".nbgis-search input").fill(query)
    hits = v.page.locator(".nbgis-search li")
    assert hits.all_inner_texts() == ["北仑分园 / Beilun Sub-park"]
    hits.first.click()
    popup = v.page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert "北仑分园" in popup.inner_text()


def test_industry_map_highlights_exactly_the_hosts(visit: Any, pages: dict[str, Built], layers: Layers) -> None:
    v = visit(pages["industry"], "industry-hits")
    hosts = hosting_industry(layers, "biomedicine")
    placed = hosts[hosts.geometry.notna()]
    areas = set(placed[placed["kind"] != "platform"]["id"])
    platforms = set(placed[placed["kind"] == "platform"]["id"])
    hit_paths = path_ids(v.page, "nbgis-hit")
    assert sorted(hit_paths) == sorted(areas)
    assert sorted(pin_ids(v.page, "nbgis-hit")) == sorted(platforms)
    assert not set(path_ids(v.page, "nbgis-muted")) & areas
    panel = v.page.locator(".nbgis-panel").inner_text()
    assert f"{len(hosts)} (" in panel


def test_feature_map_shows_the_feature_in_its_district(visit: Any, pages: dict[str, Built]) -> None:
    v = visit(pages["feature"], "feature-focus")
    assert path_ids(v.page, "nbgis-focus") == ["subpark-yinzhou"]
    assert path_ids(v.page, "nbgis-host") == ["district-yinzhou"]
    assert path_ids(v.page, "nbgis-muted")  # neighbours
    panel = v.page.locator(".nbgis-panel").inner_text()
    assert "中心区块" in panel and "东至东钱湖" in panel
    # the feature fits in the view, clear of the side panel
    box = v.page.locator("path.nbgis-f-subpark-yinzhou").bounding_box()
    panel_box = v.page.locator(".nbgis-panel").bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= panel_box["x"]
    assert box["y"] + box["height"] <= VIEWPORT["height"]


FONT_CHECKS = {  # map -> (selector of elements holding names, how many must hold Chinese at least)
    "overview": [(".leaflet-control-layers-overlays label > span > span", 11), (".nbgis-label span", 18),
                 (".nbgis-legend div", 9)],
    "industry": [(".nbgis-label span", 10), (".nbgis-panel li", 5), (".nbgis-panel summary", 1)],
    "feature": [(".nbgis-label span", 5), (".nbgis-panel th", 5), (".nbgis-panel summary", 1)],
}


@pytest.mark.parametrize("name", list(FONT_CHECKS))
def test_names_render_in_the_web_font_from_the_file(bare_browser: Any, pages: dict[str, Built], tmp_path: Path,
                                                     name: str) -> None:
    """On a machine without CJK fonts, the self-contained page draws every name in the web font it carries, cut
    down to its own characters (maps.fonts)."""
    v = open_page(bare_browser, pages[name].path.as_uri(), ("file:", "data:"), tmp_path / f"font-file-{name}.png")
    assert v.errors == [] and v.failed == [] and v.outside == []
    for selector, at_least in FONT_CHECKS[name]:
        assert_names_in_web_font(v.page, selector, at_least)
    v.page.close()
