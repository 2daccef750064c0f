"""The FastAPI application: OGC API - Features over the plan's layers, and the plan-aware queries.

`create_app()` loads the layers once (or takes them, for tests); every request reads memory only.
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, Response

from geo.layers import DATA_DIR, DATA_ENV, Layers, load_layers
from services import downloads, errors, locate, map_pages, ogc, plan, search
from services.assets import asset_file
from services.guard import Guard
from services.middleware import ConditionalGet, HeadAndVary, SecurityHeaders, TrustedHosts
from services.openapi import openapi_document
from services.params import F, check_parameters
from services.render import HTML, OPENAPI, html_response, json_response, negotiate
from services.settings import Settings, get_settings
from services.state import Service

DESCRIPTION = (
    "Ningbo's 14th Five-Year Plan for Science and Technology Innovation, spatially: the high-tech zone's ten "
    "sub-parks, the Yongjiang corridor and its featured parks, the county innovation nodes, laboratories and "
    "institutes, as OGC API - Features (GeoJSON and HTML, 7 CRSs, CQL2 filters), with queries that only the "
    "plan can answer: what lies at a site, where an industry clusters, how far it is. Boundaries are "
    "schematic, drawn from the plan's words; every fact cites the plan's lines in `source`."
)

# A dot on the corridor's blue: small enough to inline, so no binary file to keep.
FAVICON = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
           b'<circle cx="8" cy="8" r="7" fill="#12355b"/><circle cx="8" cy="8" r="3" fill="#f5b700"/></svg>')


def create_app(layers: Layers | None = None, data_dir: Path | str | None = None,
               settings: Settings | None = None) -> FastAPI:
    """The application over `layers`, or over the layers in `data_dir` (default: $NBGIS_DATA, else the bundled
    data), loaded at start-up. Read at call time so `nbgis serve --data` reaches every worker process."""
    settings = settings or get_settings()
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not hasattr(app.state, "service"):
            app.state.service = Service.build(load_layers(data_dir or os.environ.get(DATA_ENV) or DATA_DIR))
        # What start-up built lives as long as the process: keep it out of the garbage collector's full passes,
        # which otherwise walk every feature record and stall requests (p99 ~80 ms, against a median of ~10).
        gc.collect()
        gc.freeze()
        yield
        gc.unfreeze()  # for a process that goes on (tests, an embedding application)

    app = FastAPI(title="Ningbo innovation layout", version="1.0.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None,
                  openapi_tags=[{"name": "OGC API - Features", "description": "The layers, as GIS clients read them"},
                                {"name": "Plan-aware queries", "description": "Answers only the plan can give"}])
    app.state.settings = settings
    app.state.guard = Guard(settings)
    if layers is not None:  # tests pass loaded layers: build now, so a TestClient without lifespan works
        app.state.service = Service.build(layers)
    # The last added runs first. Innermost: security headers, reading HTML pages before they are compressed.
    app.add_middleware(SecurityHeaders, frame_ancestors=settings.frame_ancestors)
    # Read-only open data: any web page may query it from the browser (GET and the POST of /locate).
    app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                       expose_headers=["Content-Crs", "X-Locate-Summary", "Content-Disposition"])
    # Feature collections and map pages are text that shrinks four-fold; clients that ask get it gzipped.
    app.add_middleware(GZipMiddleware, minimum_size=2048, compresslevel=5)  # level 9: 5x the time, 1 % smaller
    app.add_middleware(ConditionalGet)  # outside gzip: answers are kept compressed, revalidations cost nothing
    app.add_middleware(HeadAndVary)  # HEAD becomes GET before routing, and every answer says Vary
    hosts = [*settings.trusted_hosts, *([settings.public_url.split("://", 1)[1].split("/")[0].rsplit(":", 1)[0]]
                                        if settings.public_url else [])]
    app.add_middleware(TrustedHosts, hosts=hosts)  # outermost: a forged Host costs nothing
    errors.install(app)
    app.include_router(ogc.router)
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
            service: Service = request.app.state.service
            app.state.openapi = openapi_document(app, list(service.collections), ogc.MAX_LIMIT)
        return json_response(app.state.openapi, OPENAPI)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:  # browsers ask every page for one; the map pages (Folium's) name none
        return Response(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/assets/{path:path}", include_in_schema=False)
    def assets(path: str) -> FileResponse:
        return asset_file(path)

    return app
