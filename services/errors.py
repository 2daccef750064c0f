"""Errors as OGC API exceptions: a 4xx status with a JSON body {code, description} naming what was wrong."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

CODES = {400: "InvalidParameterValue", 404: "NotFound", 405: "MethodNotAllowed", 406: "NotAcceptable",
         413: "PayloadTooLarge", 415: "UnsupportedMediaType", 422: "InvalidParameterValue"}


class ApiError(Exception):
    def __init__(self, status: int, description: str, code: str | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.code = code or CODES.get(status, "Error")
        self.description = description


def bad_parameter(name: str, problem: str) -> ApiError:
    return ApiError(400, f"{name}: {problem}")


def not_found(what: str) -> ApiError:
    return ApiError(404, what)


def _response(status: int, code: str, description: str, headers: Mapping[str, str] | None = None) -> Response:
    body = orjson.dumps({"code": code, "description": description})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> Response:
        return _response(exc.status, exc.code, exc.description)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "path", "body"))
            problems.append(f"{where or 'request'}: {error.get('msg', 'invalid')}")
        return _response(400, "InvalidParameterValue", "; ".join(problems))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        description = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and description == "Not Found":
            description = "no such resource; the landing page / lists what the service offers"
        # keep the handler's headers: a 405 must say which methods are allowed (Allow)
        return _response(exc.status_code, CODES.get(exc.status_code, "Error"), description, exc.headers)
