"""Errors as OGC API exceptions: a status with a JSON body {code, description} naming what was wrong.

Handlers raise; this module turns what they raise into answers: ApiError as it says, geo's exceptions by the
GEO_ERRORS table, anything else as a 500 that is logged with the request's id (services.middleware.RequestId).
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Awaitable, Callable, Mapping

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from geo.features import QueryError
from geo.store.base import StoreError, StoreUnavailable

CODES = {400: "InvalidParameterValue", 404: "NotFound", 405: "MethodNotAllowed", 406: "NotAcceptable",
         408: "RequestTimeout", 413: "PayloadTooLarge", 415: "UnsupportedMediaType", 422: "InvalidParameterValue",
         429: "TooManyRequests", 431: "RequestHeaderFieldsTooLarge", 500: "ServerError",
         503: "ServiceUnavailable", 507: "InsufficientStorage"}
# geo's exceptions that can reach a handler: the status and code each means; the first match in this order wins
GEO_ERRORS: tuple[tuple[type[Exception], int, str], ...] = (
    (QueryError, 400, "InvalidParameterValue"), (StoreUnavailable, 503, "StoreUnavailable"),
    (StoreError, 500, "ServerError"))
REQUEST_ID = "nbgis.request_id"  # the ASGI scope key of a request's id (services.middleware.RequestId)
log = logging.getLogger("nbgis.service")


class ApiError(Exception):
    def __init__(self, status: int, description: str, code: str | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.code = code or CODES.get(status, "Error")
        self.description = description
        self.headers: dict[str, str] = {}
        self.extra: dict[str, object] = {}  # more members of the JSON body (a write's rule findings)


def bad_parameter(name: str, problem: str) -> ApiError:
    return ApiError(400, f"{name}: {problem}")


def not_found(what: str) -> ApiError:
    return ApiError(404, what)


def error_response(request: Request, error: ApiError) -> Response:
    """The answer to `error` where the exception handlers do not reach (a middleware's)."""
    return _response(request, error.status, error.code, error.description, error.headers, error.extra)


def _response(request: Request, status: int, code: str, description: str,
              headers: Mapping[str, str] | None = None, extra: Mapping[str, object] | None = None) -> Response:
    if wants_html(request):  # a person in a browser gets a page saying what was wrong, with a way back
        from services.render import html_response  # services.render raises ApiError: imported when needed

        try:
            page = html_response("error.html", request, status=status, http_status=status, code=code,
                                 description=description)
        except Exception:  # the page itself failed: the JSON answer still says what was wrong
            log.exception("the error page for %s %s failed", request.method, request.url.path)
        else:
            page.headers.update(headers or {})
            return page
    body = orjson.dumps({"code": code, "description": description, **(extra or {})})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def wants_html(request: Request) -> bool:
    """Whether the failed request asked for a page: f=html, or an Accept header preferring HTML to JSON, as a
    browser's does (an API client's */* or application/json gets JSON)."""
    f = request.query_params.get("f")
    if f is not None:
        return f.lower() == "html"
    html = json = 0.0
    for part in request.headers.get("accept", "").split(","):
        media, *params = (p.strip().lower() for p in part.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media == "text/html":
            html = max(html, quality)
        elif media in ("application/json", "application/geo+json", "application/schema+json"):
            json = max(json, quality)
    return html > 0 and html >= json


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return error_response(request, exc)

    @app.exception_handler(OSError)
    async def os_error(request: Request, exc: OSError) -> Response:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):  # a full temporary folder: the server's fault, said plainly
            log.error("%s %s: no space left to write a file (%s)", request.method, request.url.path, exc)
            return _response(request, 507, "InsufficientStorage",
                             "the server has no space left to write this file; try again later, and tell its operator")
        return await unexpected(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # A fault of ours: logged with its traceback and the request's id, answered as JSON without internals.
        request_id = _request_id(request)
        log.error("%s %s failed (request %s)", request.method, request.url.path, request_id, exc_info=exc)
        return _response(request, 500, "ServerError", f"the server failed to answer this request; it has been "
                                                      f"logged as request {request_id}", {"X-Request-Id": request_id})

    for exception, status, code in GEO_ERRORS:
        app.add_exception_handler(exception, _geo_handler(status, code))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "path", "body"))
            problems.append(f"{where or 'request'}: {error.get('msg', 'invalid')}")
        return _response(request, 400, "InvalidParameterValue", "; ".join(problems))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        description = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 404 and description == "Not Found":
            description = "no such resource; the landing page / lists what the service offers"
        if exc.status_code == 405:  # Starlette's Allow names only the first route of a path (GET of /locate)
            allowed = _allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)
            description = f"{request.method} is not allowed here; use {' or '.join(allowed)}"
        return _response(request, exc.status_code, CODES.get(exc.status_code, "Error"), description, headers)


def _allowed_methods(request: Request) -> list[str]:
    """The methods the API defines for this path, read from its OpenAPI paths (which span every router)."""
    methods: set[str] = set()
    for path, operations in request.app.openapi()["paths"].items():
        if compile_path(path)[0].match(request.url.path):
            methods |= {method.upper() for method in operations}
    return sorted(methods | ({"HEAD"} if "GET" in methods else set()))


def _request_id(request: Request) -> str:
    return str(request.scope.get(REQUEST_ID, "-"))


def _geo_handler(status: int, code: str) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handle(request: Request, exc: Exception) -> Response:
        request_id = _request_id(request)
        if status >= 500:
            log.error("%s %s: %d (request %s): %s", request.method, request.url.path, status, request_id, exc,
                      exc_info=exc if status == 500 else None)
        headers = {"X-Request-Id": request_id, **({"Retry-After": "1"} if status == 503 else {})}
        return _response(request, status, code, str(exc), headers)

    return handle
