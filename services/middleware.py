"""HTTP details every resource shares: HEAD answered like GET without a body, `Vary: Accept`, trusted Host
names, security headers, a request id, and one dataset version per request."""

from __future__ import annotations

import base64
import hashlib
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


class TrustedHosts:
    """Answers 400 to a request whose Host is not a trusted name: links are built from the Host (unless
    public_url is set), and a forged one would send every client of a cache or proxy elsewhere."""

    def __init__(self, app: ASGIApp, hosts: list[str]) -> None:
        self.app = app
        self.any = "*" in hosts
        self.hosts = {h.lower().strip("[]") for h in hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.any:
            await self.app(scope, receive, send)
            return
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
        name = host.rsplit("]", 1)[0].lstrip("[") if host.startswith("[") else host.rsplit(":", 1)[0]
        if name.lower() in self.hosts:
            await self.app(scope, receive, send)
            return
        body = orjson.dumps({"code": "InvalidHost", "description": (
            f"Host: {host[:100]!r} is not a name of this service; it answers to {', '.join(sorted(self.hosts))} "
            f"(set NBGIS_PUBLIC_URL or NBGIS_TRUSTED_HOSTS to change that)")})
        await send({"type": "http.response.start", "status": 400, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


_INLINE_SCRIPT = re.compile(rb"<script\b(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.DOTALL | re.IGNORECASE)
# Tiles of the basemaps a map page may ask for (maps.basemap); every other image, script, style and font is ours.
TILE_HOSTS = "https://tile.openstreetmap.org https://*.tianditu.gov.cn https://*.is.autonavi.com"


class SecurityHeaders:
    """nosniff and a referrer policy on every answer; on HTML pages a Content-Security-Policy that allows our own
    scripts, styles and fonts, and inline scripts only by their SHA-256 (computed from the page itself), and who
    may frame the page. Sits inside the gzip middleware, so it reads the page uncompressed."""

    def __init__(self, app: ASGIApp, frame_ancestors: list[str]) -> None:
        self.app = app
        self.frame_ancestors = " ".join(frame_ancestors) or "'none'"
        self.frame_options = b"SAMEORIGIN" if frame_ancestors == ["'self'"] else (
            b"DENY" if not frame_ancestors or frame_ancestors == ["'none'"] else None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def reply(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"x-content-type-options", b"nosniff"),
                           (b"referrer-policy", b"strict-origin-when-cross-origin")]
                message = {**message, "headers": headers}
                if _content_type(headers).startswith(b"text/html"):
                    start = message  # held until the page is whole: its scripts' hashes go in a header
                    return
                await send(message)
            elif start is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                page = b"".join(chunks)
                headers = [*start["headers"], (b"content-security-policy", self._policy(page)),
                           (b"cross-origin-opener-policy", b"same-origin")]
                if self.frame_options:
                    headers.append((b"x-frame-options", self.frame_options))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": page})
            else:
                await send(message)

        await self.app(scope, receive, reply)

    def _policy(self, page: bytes) -> bytes:
        hashes = sorted({"'sha256-" + base64.b64encode(hashlib.sha256(s).digest()).decode() + "'"
                         for s in _INLINE_SCRIPT.findall(page)})
        # leaflet-measure (the maps' distance tool) compiles its templates with Function(): its pages need eval
        if re.search(rb"<script[^>]+src=[^>]*leaflet-measure", page):
            hashes.append("'unsafe-eval'")
        return ("default-src 'self'; script-src 'self' " + " ".join(hashes) + "; style-src 'self' 'unsafe-inline'; "
                f"img-src 'self' data: blob: {TILE_HOSTS}; font-src 'self' data:; connect-src 'self'; "
                f"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors {self.frame_ancestors}"
                ).encode("latin-1")


def _content_type(headers: list[tuple[bytes, bytes]]) -> bytes:
    return next((v.lower() for k, v in headers if k.lower() == b"content-type"), b"")


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
