"""HTTP details every resource shares: HEAD answered like GET without a body, `Vary: Accept`, and one dataset
version per request."""

from __future__ import annotations

import re
import uuid

import orjson
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.errors import REQUEST_ID
from services.state import PINNED, Live, current_service


class HeadAndVary:
    """HEAD runs the GET handler and drops the body (FastAPI routes answer GET only); every answer says it
    varies with Accept, since `f` and Accept choose between JSON and HTML at the same URL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}

        async def reply(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"vary"]
                vary = [v.decode("latin-1") for k, v in message.get("headers", []) if k.lower() == b"vary"]
                values = {part.strip() for value in vary for part in value.split(",") if part.strip()} | {"Accept"}
                headers.append((b"vary", ", ".join(sorted(values)).encode("latin-1")))
                message = {**message, "headers": headers}
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b"", "more_body": message.get("more_body", False)}
            await send(message)

        await self.app(scope, receive, reply)


class PinService:
    """Pins the Service of the store's current version on each request, so every part of the answer comes from
    one dataset version even when the store changes meanwhile; answers 503 while the store cannot be reached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        holder = scope["app"].state.service
        if isinstance(holder, Live) and not holder.available and not scope["path"].startswith(UNPINNED):
            await unavailable(scope, receive, send)
            return
        scope[PINNED] = current_service(scope["app"])
        await self.app(scope, receive, send)


UNPINNED = ("/assets/", "/favicon.ico")  # files of the installation, not of the store


async def unavailable(scope: Scope, receive: Receive, send: Send) -> None:
    body = orjson.dumps({"code": "StoreUnavailable", "description": "the feature store cannot be reached; this "
                         "instance answers again as soon as it can (nothing committed is lost)"})
    await Response(body, status_code=503, media_type="application/json", headers={"Retry-After": "1"})(
        scope, receive, send)


_ID = re.compile(r"[\w.:-]{1,64}")


class RequestId:
    """Gives each request an id (the client's X-Request-Id when it is a sane token, else a new one), sent back
    in X-Request-Id and written beside every logged server error, so a report can be matched to its log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = given if _ID.fullmatch(given) else uuid.uuid4().hex
        scope[REQUEST_ID] = request_id

        async def reply(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"x-request-id", request_id.encode("latin-1"))]}
            await send(message)

        await self.app(scope, receive, reply)
