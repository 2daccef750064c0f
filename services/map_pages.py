"""The maps as the service answers them: interactive pages (maps.builders, every asset from the service's own
/assets/ route) or, with `f=png|pdf|svg`, print maps (maps.printmap).

Thin: the request is checked here, the map is drawn by maps.builders or maps.printmap from the layers loaded at
start-up.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated

import anyio.from_thread
import folium
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from geo.layers import Layers
from maps import builders
from maps.basemap import TILES, basemap
from maps.i18n import LANGS, check_lang
from maps.output import render_html
from maps.printmap import DEFAULT_DPI, FORMATS, FontMissing, PrintError, PrintOptions, render
from maps.printmap.options import DPI_RANGE, MAX_APPROVAL_CHARS, PAPERS
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
PRINT_PARAMETERS = ("paper", "landscape", "dpi", "approval")
PARAMETERS = {"tiles", "lang", "f", *PRINT_PARAMETERS}
LINKS = ""  # popups link to the feature's page, map and downloads on this service, by root-relative URLs
PRINT_CACHE_BYTES = 64 << 20  # print maps kept rendered (~0.2-1.5 MB each)
# A PNG of A3 at 600 dpi takes ~8 s and ~0.5 GB to draw: the command line may, a shared service should not.
MAX_DPI = 300

# Drawing and rendering a Folium map takes ~100-300 ms of CPU, so each page is kept once rendered. A page is
# ~350 KB and there are (1 + industries + features) x 4 basemaps x 2 languages of them: keep the last few.
CACHE_SIZE = 48
PageKey = tuple[int, str, str, tuple[str, ...], str]  # id(layers), kind, subject, (tiles, its URLs), lang
_pages: OrderedDict[PageKey, tuple[Layers, bytes]] = OrderedDict()
PrintKey = tuple[int, str, str, PrintOptions, date]
_prints: OrderedDict[PrintKey, tuple[Layers, bytes]] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class Sheet:
    """What a request asks of the map's format: None for the interactive page, else the print map's options
    (its language still to come from `lang`)."""

    fmt: str
    paper: str
    landscape: bool
    dpi: int
    approval: str


def print_query(
    f: Annotated[str, Query(description="html (the interactive map, default) or a print map: png, pdf or svg "
                                        "(an A4 or A3 sheet with title, legend, scale bar, north arrow, locator, "
                                        "sources and the 审图号 field; PDF and SVG are vector, the CJK font embedded)",
                            json_schema_extra={"enum": ["html", *FORMATS]})] = "html",
    paper: Annotated[str | None, Query(description="Print maps: paper size, A4 (default) or A3",
                                       json_schema_extra={"enum": [*PAPERS]})] = None,
    landscape: Annotated[bool | None, Query(description="Print maps: landscape (true) or portrait (false, "
                                                        "default)")] = None,
    dpi: Annotated[int | None, Query(ge=DPI_RANGE[0], le=MAX_DPI,
                                     description=f"Print maps: resolution of a PNG in dots per inch (default "
                                                 f"{DEFAULT_DPI}; `nbgis map` draws up to {DPI_RANGE[1]}); PDF and "
                                                 f"SVG are vector")] = None,
    approval: Annotated[str | None, Query(max_length=MAX_APPROVAL_CHARS,
                                          description="Print maps: the map approval number (审图号) the reviewing "
                                                      "office gave; blank by default, with a note that the office "
                                                      "fills it in")] = None,
) -> Sheet | None:
    if f == "html":
        given = [name for name, value in zip(PRINT_PARAMETERS, (paper, landscape, dpi, approval)) if value is not None]
        if given:
            raise bad_parameter(given[0], "only for print maps: add f=png, f=pdf or f=svg")
        return None
    if f not in FORMATS:
        raise bad_parameter("f", f"{f!r} is not a format of the maps; use html, {', '.join(FORMATS)}")
    if paper is not None and paper not in PAPERS:  # as the document's enum says (the command line takes a4 too)
        raise bad_parameter("paper", f"{paper!r} is not a paper size; choose one of {', '.join(PAPERS)}")
    return Sheet(f, paper or "A4", bool(landscape), DEFAULT_DPI if dpi is None else dpi, approval or "")


SheetQuery = Annotated[Sheet | None, Depends(print_query)]


@router.get("/maps/overview", response_class=HTMLResponse,
            summary="Map of every layer of the plan: interactive (HTML, Leaflet; assets from /assets/) or a print "
                    "map (f=png, pdf or svg)")
def overview(request: Request, print_as: SheetQuery, tiles: Tiles = "none", lang: Lang = "zh") -> Response:
    if print_as is not None:
        return _print(request, print_as, tiles, lang, "overview", "")
    service, source = _checked(request, tiles, lang)
    return _page(service.layers, "overview", "", source, lang,
                 lambda: builders.overview(service.layers, tiles, lang, LINKS))


@router.get("/maps/industry/{code}", response_class=HTMLResponse,
            summary="Map of where an industry clusters, its hosts highlighted: interactive with a summary (HTML) "
                    "or a print map (f=png, pdf or svg)")
def industry(request: Request, code: Annotated[str, Path(description="An industry code from /industries, or its "
                                                                     "name (redirects to the code)")],
             print_as: SheetQuery, tiles: Tiles = "none", lang: Lang = "zh") -> Response:
    if code not in service_of(request).layers.taxonomy:  # a name: to its code, keeping the query (f=pdf too)
        check_parameters(request, PARAMETERS)
        return industry_by_name(request, code, "/maps/industry/{code}")
    if print_as is not None:
        return _print(request, print_as, tiles, lang, "industry", code)
    service, source = _checked(request, tiles, lang)
    return _page(service.layers, "industry", code, source, lang,
                 lambda: builders.industry(service.layers, code, tiles, lang, LINKS))


@router.get("/maps/feature/{featureId}", response_class=HTMLResponse,
            summary="Map of one feature, its blocks and its surroundings: interactive (HTML) or a print map "
                    "(f=png, pdf or svg)")
def feature(request: Request,
            feature_id: Annotated[str, Path(alias="featureId", description="A feature id from any collection")],
            print_as: SheetQuery, tiles: Tiles = "none", lang: Lang = "zh") -> Response:
    # the ids the collections serve are the ids the builders draw (parks, platforms, districts)
    if all(c.position(feature_id) is None for c in service_of(request).collections.values()):
        raise ApiError(404, f"featureId: no feature {feature_id!r}; /collections lists them")
    if print_as is not None:
        return _print(request, print_as, tiles, lang, "feature", feature_id)
    service, source = _checked(request, tiles, lang)
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


async def _render_guarded(request: Request, layers: Layers, kind: str, subject: str | None,
                          options: PrintOptions) -> bytes:
    async with request.app.state.guard.downloads.slot() as slot:
        result = await slot.run(render, layers, kind, subject, options)
    return result.data


def _print(request: Request, sheet: Sheet, tiles: str, lang: str, kind: str, subject: str) -> Response:
    """The print map, rendered once per subject, options and day (the sheet is dated) and then kept."""
    check_parameters(request, PARAMETERS)
    if tiles != "none":
        raise bad_parameter("tiles", "a print map draws no tiles; leave tiles out or give none")
    try:
        options = PrintOptions(sheet.fmt, sheet.paper, sheet.landscape, sheet.dpi, lang, sheet.approval)
    except PrintError as exc:
        raise bad_parameter(exc.parameter, exc.problem) from exc
    layers = service_of(request).layers
    key = (id(layers), kind, subject, options, date.today())
    with _lock:
        hit = _prints.get(key)
        if hit is not None:
            _prints.move_to_end(key)
    if hit is not None:
        body = hit[1]
    else:
        try:  # heavy work (0.5-4 s of CPU): in the guard's pool, under its time budget, 503 when it is full
            body = anyio.from_thread.run(_render_guarded, request, layers, kind, subject or None, options)
        except FontMissing as exc:
            raise ApiError(503, str(exc), "ServiceUnavailable") from exc
        except PrintError as exc:  # what only the font can tell: a character it cannot print
            raise bad_parameter(exc.parameter, exc.problem) from exc
        with _lock:
            _prints[key] = (layers, body)
            while sum(len(b) for _, b in _prints.values()) > PRINT_CACHE_BYTES and len(_prints) > 1:
                _prints.popitem(last=False)
    name = "-".join(p for p in ("nbgis", kind, subject, options.paper, "landscape" if options.landscape else "",
                                lang) if p)
    return Response(body, media_type=options.media_type,
                    headers={"Content-Disposition": f'inline; filename="{name}.{options.fmt}"'})
