"""The interactive maps of maps.builders as pages of the service, every asset from its own /assets/ route.

Thin: the request is checked here, the map is drawn by maps.builders from the layers loaded at start-up.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated

import folium
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from geo.layers import Layers
from maps import builders
from maps.basemap import TILES, basemap
from maps.i18n import LANGS, check_lang
from maps.output import render_html
from services.errors import ApiError, bad_parameter
from services.params import check_parameters
from services.plan import industry_by_name
from services.state import Service, service_of

router = APIRouter(tags=["Maps"])

Tiles = Annotated[str, Query(description=f"Basemap: {', '.join(TILES)}. `none` needs no network; `tianditu` "
                                         "needs a Tianditu key on the server; `amap` shifts overlays to GCJ-02",
                             json_schema_extra={"enum": list(TILES)})]
Lang = Annotated[str, Query(description=f"Language of every label: {', '.join(LANGS)}",
                            json_schema_extra={"enum": list(LANGS)})]
PARAMETERS = {"tiles", "lang"}
LINKS = ""  # popups link to the feature's page, map and downloads on this service, by root-relative URLs

# Drawing and rendering a Folium map takes ~100-300 ms of CPU, so each page is kept once rendered. A page is
# ~350 KB and there are (1 + industries + features) x 4 basemaps x 2 languages of them: keep the last few.
CACHE_SIZE = 48
PageKey = tuple[int, str, str, tuple[str, ...], str]  # id(layers), kind, subject, (tiles, its URLs), lang
_pages: OrderedDict[PageKey, tuple[Layers, bytes]] = OrderedDict()
_lock = threading.Lock()


@router.get("/maps/overview", response_class=HTMLResponse,
            summary="Interactive map of every layer of the plan (HTML, Leaflet; assets from /assets/)")
def overview(request: Request, tiles: Tiles = "none", lang: Lang = "zh") -> HTMLResponse:
    service, source = _checked(request, tiles, lang)
    return _page(service.layers, "overview", "", source, lang,
                 lambda: builders.overview(service.layers, tiles, lang, LINKS))


@router.get("/maps/industry/{code}", response_class=HTMLResponse,
            summary="Interactive map of where an industry clusters: its hosts highlighted, with a summary")
def industry(request: Request, code: Annotated[str, Path(description="An industry code from /industries, or its "
                                                                     "name (redirects to the code)")],
             tiles: Tiles = "none", lang: Lang = "zh") -> Response:
    service, source = _checked(request, tiles, lang)
    if code not in service.layers.taxonomy:
        return industry_by_name(request, code, "/maps/industry/{code}")
    return _page(service.layers, "industry", code, source, lang,
                 lambda: builders.industry(service.layers, code, tiles, lang, LINKS))


@router.get("/maps/feature/{featureId}", response_class=HTMLResponse,
            summary="Interactive map of one feature, its blocks and its surroundings")
def feature(request: Request,
            feature_id: Annotated[str, Path(alias="featureId", description="A feature id from any collection")],
            tiles: Tiles = "none", lang: Lang = "zh") -> HTMLResponse:
    service, source = _checked(request, tiles, lang)
    # the ids the collections serve are the ids builders.feature draws (parks, platforms, districts)
    if all(c.position(feature_id) is None for c in service.collections.values()):
        raise ApiError(404, f"featureId: no feature {feature_id!r}; /collections lists them")
    return _page(service.layers, "feature", feature_id, source, lang,
                 lambda: builders.feature(service.layers, feature_id, tiles, lang, LINKS))


def _checked(request: Request, tiles: str, lang: str) -> tuple[Service, tuple[str, ...]]:
    """The service and the basemap's tile URLs (which hold the Tianditu key, so a new key means new pages)."""
    check_parameters(request, PARAMETERS)
    try:
        check_lang(lang)
    except ValueError as exc:
        raise bad_parameter("lang", str(exc)) from exc
    if tiles not in TILES:
        raise bad_parameter("tiles", f"{tiles!r} is not a basemap; choose one of {', '.join(TILES)}")
    try:  # checked before a cached page too: Tianditu's key comes from the environment and may be gone
        urls = tuple(spec.url for spec in basemap(tiles, lang).tiles)
    except ValueError as exc:  # a valid choice this server cannot draw: say so, never a 500
        others = ", ".join(t for t in TILES if t != tiles)
        raise bad_parameter("tiles", f"{exc}; this server has none configured, choose one of {others}") from exc
    return service_of(request), (tiles, *urls)


def _page(layers: Layers, kind: str, subject: str, source: tuple[str, ...], lang: str,
          build: Callable[[], folium.Map]) -> HTMLResponse:
    key = (id(layers), kind, subject, source, lang)
    # A Tianditu page holds the server's key, read from the environment: for this client only, never kept.
    headers = {"Cache-Control": "private, no-store"} if source[0] == "tianditu" else None
    with _lock:
        hit = _pages.get(key)
        if hit is not None:
            _pages.move_to_end(key)
            return HTMLResponse(hit[1], headers=headers)
    html, _ = render_html(build(), "link", "/assets/")  # outside the lock: two first requests may both draw
    body = html.encode("utf-8")
    with _lock:
        _pages[key] = (layers, body)  # holding the layers keeps id(layers) from being reused while cached
        while len(_pages) > CACHE_SIZE:
            _pages.popitem(last=False)
    return HTMLResponse(body, headers=headers)
