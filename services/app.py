"""The FastAPI application: OGC API - Features over the plan's layers, and the plan-aware queries.

`create_app()` opens the store the settings name (seeding a new embedded store from the data folder) and serves
a snapshot of it from memory, swapped when the store changes (services.state.Live); tests may pass layers instead.
Every request reads memory only.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, Response

from geo.layers import Layers
from geo.seed import read_seed, seed_digest
from geo.store.base import open_store
from services import downloads, edit, errors, imports, locate, map_pages, ogc, plan, search
from services.assets import asset_file
from services.auth import Failures, ReadsNeedToken
from services.guard import Guard
from services.middleware import ConditionalGet, HeadAndVary, PinService, RequestId, SecurityHeaders, TrustedHosts
from services.openapi import openapi_document
from services.params import F, check_parameters
from services.render import HTML, OPENAPI, html_response, json_response, negotiate
from services.settings import Settings, get_settings
from services.state import Live, Service, current_service

DESCRIPTION = (
    "Ningbo's 14th Five-Year Plan for Science and Technology Innovation, spatially: the high-tech zone's ten "
    "sub-parks, the Yongjiang corridor and its featured parks, the county innovation nodes, laboratories and "
    "institutes, as OGC API - Features (GeoJSON and HTML, 7 CRSs, CQL2 filters), with queries that only the "
    "plan can answer: what lies at a site, where an industry clusters, how far it is. Boundaries are "
    "schematic, drawn from the plan's words, unless a feature's `geometry_quality` says surveyed (its "
    "`geometry_source` then names the survey); every fact cites the plan's lines in `source`."
)

# A dot on the corridor's blue: small enough to inline, so no binary file to keep.
FAVICON = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
           b'<circle cx="8" cy="8" r="7" fill="#12355b"/><circle cx="8" cy="8" r="3" fill="#f5b700"/></svg>')


def create_app(layers: Layers | None = None, settings: Settings | None = None) -> FastAPI:
    """The application over `layers` (fixed, for tests), or over the store the settings name (default: the
    environment's, read at call time so `nbgis serve --store` reaches every worker process), opened at start-up."""
    config = settings or get_settings()
    configure_logging(config.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        live = None
        if not hasattr(app.state, "service"):
            store = open_store(config.store)
            why = store.init(lambda: read_seed(config.data), seed_digest(config.data))
            if why:
                log.info("%s %s from %s", why, store.url_shown, config.data)
            live = app.state.service = Live(store, config.data)
            live.start()
        # What start-up built lives as long as the process: keep it out of the garbage collector's full passes,
        # which otherwise walk every feature record and stall requests (p99 ~80 ms, against a median of ~10).
        gc.collect()
        gc.freeze()
        yield
        if live is not None:
            live.stop()
        gc.unfreeze()  # for a process that goes on (tests, an embedding application)

    app = FastAPI(title="Ningbo innovation layout", version="1.0.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None,
                  telemetry={"tracing": config.telemetry, "metrics": config.telemetry, "logs": config.telemetry},
                  openapi_tags=[{"name": "OGC API - Features", "description": "The layers, as GIS clients read them"},
                                {"name": "Plan-aware queries", "description": "Answers only the plan can give"}])
    app.state.settings = config
    app.state.guard = Guard(config)
    app.state.auth_failures = Failures()
    if layers is not None:  # tests pass loaded layers: build now, so a TestClient without lifespan works
        app.state.service = Service.build(layers)
    # The last added runs first. Innermost: the request's dataset version pinned (or a 503 while the store is
    # down, which still gets every header below); then security headers, reading pages before they are compressed.
    app.add_middleware(PinService)
    app.add_middleware(SecurityHeaders, frame_ancestors=config.frame_ancestors)
    # Open data: any web page may read it from the browser (GET and the POST of /locate). No page of another
    # origin may write: PUT, PATCH and DELETE are not allowed across origins, nor the Authorization header a
    # write needs, so a browser never sends another site's write with a token (there are no cookies to send).
    app.add_middleware(CORSMiddleware, allow_origins=config.cors_origins, allow_methods=["GET", "POST"],
                       expose_headers=["Content-Crs", "X-Locate-Summary", "Content-Disposition"])
    # Feature collections and map pages are text that shrinks four-fold; clients that ask get it gzipped.
    app.add_middleware(GZipMiddleware, minimum_size=2048, compresslevel=5)  # level 9: 5x the time, 1 % smaller
    app.add_middleware(ConditionalGet)  # outside gzip: answers are kept compressed, revalidations cost nothing
    if config.read_requires_token:  # outside ConditionalGet: no kept answer or 304 reaches a client without one
        app.add_middleware(ReadsNeedToken)
    app.add_middleware(HeadAndVary)  # HEAD becomes GET before routing, and every answer says Vary
    hosts = [*config.trusted_hosts, *([config.public_url.split("://", 1)[1].split("/")[0].rsplit(":", 1)[0]]
                                        if config.public_url else [])]
    app.add_middleware(TrustedHosts, hosts=hosts)  # a forged Host costs nothing
    app.add_middleware(RequestId)  # outermost: every answer and every logged error carries the request's id
    errors.install(app)
    app.include_router(ogc.router)
    app.include_router(edit.router)
    app.include_router(imports.router)
    app.include_router(plan.router)
    app.include_router(locate.router)
    app.include_router(downloads.router)
    app.include_router(map_pages.router)
    app.include_router(search.router)

    @app.get("/api", summary="This API's definition (OpenAPI 3.0), or its documentation as HTML",
             tags=["OGC API - Features"])
    async def api(request: Request, f: F = None) -> Response:
        check_parameters(request, {"f"})
        if negotiate(request, (OPENAPI, HTML)) == HTML:
            return html_response("api.html", request)
        if not hasattr(app.state, "openapi"):  # the routes are fixed once the app is built: write it once
            service: Service = current_service(request.app)
            app.state.openapi = openapi_document(app, list(service.collections), ogc.MAX_LIMIT)
        return json_response(app.state.openapi, OPENAPI)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:  # browsers ask every page for one; the map pages (Folium's) name none
        return Response(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/assets/{path:path}", include_in_schema=False)
    def assets(path: str) -> FileResponse:
        return asset_file(path)

    return app


def configure_logging(level: str) -> None:
    """The service's own messages (store versions, outages, 5xx with their request ids) on stderr, once."""
    logger = logging.getLogger("nbgis")
    logger.setLevel(level.upper())
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False


log = logging.getLogger("nbgis.app")
