"""The maps in a real browser, offline: headless Chromium (Debian's) through Playwright opens each page from
disk with every request that is not file: or data: aborted, and checks what a person would see.

Needs /usr/bin/chromium (apt-get install chromium) and the `playwright` package; never `playwright install`.
Under CI=true a missing browser fails the run; elsewhere these tests skip.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from geo.layers import Layers
from geo.queries import hosting_industry
from maps import builders
from maps.controls import GeoLayer
from maps.output import write_map

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path("/tmp/nbgis-shots")  # copies of the screenshots, for a person to look at
VIEWPORT = {"width": 1280, "height": 800}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is missing (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@dataclass
class Built:
    path: Path
    map: Any  # the folium.Map the page was written from

    def drawn(self) -> dict[str, dict[str, Any]]:
        """Features drawn as paths (polygons and lines), by id."""
        out = {}
        stack = [self.map]
        while stack:
            el = stack.pop()
            stack += list(el._children.values())
            if isinstance(el, GeoLayer):
                out.update({f["id"]: f for f in el.data["features"] if "id" in f and "style" in f["properties"]})
        return out

    def groups(self) -> list[str]:
        return [el.layer_name for el in self.map._children.values() if type(el).__name__ == "FeatureGroup"]


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


@dataclass
class Visit:
    page: Any
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)  # requests that would have left the machine


@pytest.fixture
def visit(browser: Any, tmp_path: Path) -> Iterator[Any]:
    opened: list[Visit] = []

    def open_page(built: Built, shot: str) -> Visit:
        page = browser.new_page(viewport=VIEWPORT)
        v = Visit(page)
        page.on("console", lambda msg: v.errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: v.errors.append(str(exc)))
        page.on("requestfailed", lambda req: v.failed.append(req.url))

        def route(r: Any) -> None:
            if r.request.url.startswith(("file:", "data:")):
                r.continue_()
            else:
                v.outside.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.goto(built.path.as_uri(), wait_until="load")
        page.wait_for_function("document.fonts.status === 'loaded'")
        page.wait_for_timeout(300)  # let Leaflet finish its first fit and draw
        path = tmp_path / f"{shot}.png"
        page.screenshot(path=str(path))
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SHOTS / path.name)
        opened.append(v)
        return v

    yield open_page
    for v in opened:
        v.page.close()


def path_ids(page: Any, css_class: str = "") -> list[str]:
    """The feature ids of the SVG paths on the main map (with ``css_class`` if given), one per path."""
    classes = page.eval_on_selector_all(
        f".folium-map > .leaflet-map-pane path.leaflet-interactive{'.' + css_class if css_class else ''}",
        "els => els.map(e => e.getAttribute('class'))")
    return [m.group(1) for c in classes if (m := re.search(r"nbgis-f-(\S+)", c))]


def pin_ids(page: Any, css_class: str) -> list[str]:
    """The feature ids of the platform pins on the main map with ``css_class``, one per pin."""
    selector = f".folium-map > .leaflet-map-pane .leaflet-marker-pane .nbgis-platform.{css_class}"
    classes = page.eval_on_selector_all(selector, "els => els.map(e => e.className)")
    return [m.group(1) for c in classes if (m := re.search(r"nbgis-f-(\S+)", c))]


@pytest.mark.parametrize("name", ["overview", "industry", "feature", "overview-linked"])
def test_page_works_offline(visit: Any, pages: dict[str, Built], name: str) -> None:
    built = pages[name]
    v = visit(built, name)
    assert v.errors == [] and v.failed == [] and v.outside == []
    drawn = built.drawn()
    ids = path_ids(v.page)
    assert sorted(ids) == sorted(drawn)  # one interactive SVG path per polygon or line feature
    overlays = v.page.eval_on_selector_all(".leaflet-control-layers-overlays label > span > span",
                                           "els => els.map(e => e.textContent.trim())")
    assert overlays == built.groups()
    # the pins' icon font loads from the page or the folder beside it (the browser fetches it on first use)
    loaded = v.page.evaluate("document.fonts.load('900 14px \"Font Awesome 6 Free\"', '\\uf0c3')"
                             ".then(faces => faces.length)")
    assert loaded >= 1 and v.failed == [] and v.outside == []
    note = v.page.locator(".nbgis-note")
    assert note.is_visible() and ("边界为示意" in note.inner_text() or "schematic" in note.inner_text())


# Click a path where it is filled (a sub-park's box centre may lie between its parts), as a person would.
CLICK_INSIDE = """el => {
  const box = el.getBBox(), toScreen = el.getScreenCTM();
  for (let i = 1; i < 24; i++) for (let j = 1; j < 24; j++) {
    const p = new DOMPoint(box.x + box.width * i / 24, box.y + box.height * j / 24);
    if (el.isPointInFill(p)) {
      const q = p.matrixTransform(toScreen);
      el.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true, clientX: q.x, clientY: q.y}));
      return true;
    }
  }
  return false;
}"""


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
