"""The service's own HTML pages in a real browser, offline: item lists and feature pages draw their maps from
the service's assets, clicking a shape opens its feature, and the API documentation (Swagger UI) renders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2

from tests.browser_helpers import open_page


def visit(browser: Any, base: str, path: str, shot: Path) -> Any:
    v = open_page(browser, f"{base}{path}", (f"{base}/", "data:"), shot)
    assert v.errors == [] and v.failed == [] and v.outside == [], (v.errors, v.failed, v.outside)
    return v


def test_items_page_maps_the_page_and_links_each_shape(browser: Any, live_service: str, tmp_path: Path) -> None:
    v = visit(browser, live_service, "/collections/subparks/items?f=html&limit=4", tmp_path / "page-items.png")
    page = v.page
    page.wait_for_function("window.nbgisMapReady === true")
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
    page.wait_for_function("window.nbgisMapReady === true")
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
