"""HTTP details every resource shares: HEAD answered like GET without a body, `Vary: Accept`, trusted Host
names, security headers, a request id, one dataset version per request, and conditional GETs (ETag,
Cache-Control, 304) with the latest answers kept serialized."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

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
                headers: list[tuple[bytes, bytes]] = []
                vary: list[tuple[bytes, bytes]] = []
                for k, v in message.get("headers", []):
                    (vary if k.lower() == b"vary" else headers).append((k, v))
                values = {part.strip() for _, value in vary for part in value.decode("latin-1").split(",")
                          if part.strip()} | {"Accept"}
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
        if PINNED not in scope:  # ConditionalGet, outside, pins the version its ETag names
            if isinstance(holder, Live) and scope["method"] in ("GET", "HEAD"):
                await holder.caught_up()  # a read after a write here sees the version it made (a write need
                # not wait: the store checks its If-Match against the feature as it is)
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
        request_id = given if _ID.fullmatch(given) else os.urandom(16).hex()  # uuid4().hex's form, 5x cheaper
        scope[REQUEST_ID] = request_id

        async def reply(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"x-request-id", request_id.encode("latin-1"))]}
            await send(message)

        await self.app(scope, receive, reply)


# Request headers an answer may vary with and still be tagged and kept: the tag and the key hold them (gzip and
# Origin, which change only the bytes and CORS headers, are in the key, not the tag).
_TAGGED_HEADERS = {b"accept", b"accept-language", b"accept-encoding", b"origin", b""}
CACHE_CONTROL = "public, no-cache"  # keep it, but ask again each time: a 304 costs next to nothing
CACHE_ENTRIES = 512  # answers kept serialized, the most recently used
CACHE_BODY_BYTES = 512 * 1024  # larger answers are built each time (they still get an ETag and 304s)


@dataclass(frozen=True)
class _Kept:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    own_etag: str | None  # the answer's own ETag (a stored feature's), which If-None-Match is compared with


class ConditionalGet:
    """An ETag and Cache-Control on every successful GET, a 304 for a matching If-None-Match, and the latest
    answers kept serialized.

    The ETag is made from the dataset's version (`Service.version`) and the request: path and query, Host
    (answers hold absolute links), Accept (HeadAndVary says answers vary with it) and Accept-Language (pages).
    It is weak, since a gzipped body and a plain one are the same answer in different bytes. Knowing it before
    the handler runs, a revalidation is answered without building anything. Answers up to CACHE_BODY_BYTES are
    kept (after gzip, per encoding) and replayed while the version stays the same (unless the request says
    no-cache); a new version empties the cache. Answers that carry their own ETag (a stored feature's, a file's)
    keep it, and a kept one is revalidated against it; errors, answers marked private or no-store, and answers
    varying with another request header get neither ETag nor caching.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.kept: OrderedDict[tuple[Any, ...], _Kept] = OrderedDict()
        self.version: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        holder = getattr(scope["app"].state, "service", None)
        if holder is None or (isinstance(holder, Live) and not holder.available):  # PinService answers 503
            await self.app(scope, receive, send)
            return
        if any(k == b"authorization" for k, _ in scope["headers"]):  # an answer for this account alone (who wrote
            await self.app(scope, receive, send)  # what): never replayed to another, nor marked public
            return
        # The answer's dataset version is the tag's: pin that Service for the handler (PinService keeps it).
        if isinstance(holder, Live):
            await holder.caught_up()  # after a write here, the version it made
        service = scope[PINNED] = current_service(scope["app"])
        version = service.version
        if version != self.version:  # the data changed: nothing kept is true any more
            self.kept.clear()
            self.version = version
        headers = _first_values(scope["headers"])  # one pass, where Starlette's Headers scans once per name
        parts = (version, scope.get("scheme", ""), scope.get("root_path", ""), scope["path"],
                 scope["query_string"].decode("latin-1"), headers.get(b"host", ""), headers.get(b"accept", ""),
                 headers.get(b"accept-language", ""))
        etag = 'W/"' + hashlib.blake2b("\0".join(parts).encode(), digest_size=12).hexdigest() + '"'
        wanted = headers.get(b"if-none-match")
        key = (etag, "gzip" in headers.get(b"accept-encoding", ""), b"origin" in headers)
        # A client asking for no-cache wants the answer built afresh (it is kept again afterwards).
        kept = None if "no-cache" in headers.get(b"cache-control", "").lower() else self.kept.get(key)
        if wanted is not None and _matches(wanted, etag):
            await _not_modified(send, etag)
            return
        if kept is not None:
            self.kept.move_to_end(key)
            if wanted is not None and kept.own_etag is not None and _matches(wanted, kept.own_etag):
                await _not_modified(send, kept.own_etag)
                return
            await send({"type": "http.response.start", "status": kept.status, "headers": kept.headers})
            await send({"type": "http.response.body", "body": kept.body})
            return
        await self._answer(scope, receive, send, key, etag, wanted)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, key: tuple[Any, ...], etag: str,
                      wanted: str | None) -> None:
        start: Message = {}
        body: list[bytes] = []
        size = 0
        keep = True
        replaced = False  # a 304 sent instead of the handler's own answer (files with their own ETag)
        own: str | None = None  # the answer's own ETag

        async def reply(message: Message) -> None:
            nonlocal start, size, keep, replaced, own
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                own = next((v.decode("latin-1") for k, v in raw if k.lower() == b"etag"), None)
                control = b",".join(v for k, v in raw if k.lower() == b"cache-control").lower()
                varies = {v.strip().lower() for k, value in raw if k.lower() == b"vary" for v in value.split(b",")}
                # An answer for this client alone (it holds a secret, say), or varying with a request header the
                # tag does not hold, is neither tagged nor kept.
                ok = (message["status"] == 200 and b"no-store" not in control and b"private" not in control
                      and varies <= _TAGGED_HEADERS)
                if ok and own is None:
                    raw.append((b"etag", etag.encode()))
                if ok and not any(k.lower() == b"cache-control" for k, _ in raw):
                    raw.append((b"cache-control", CACHE_CONTROL.encode()))
                # An answer with its own ETag is kept too (a feature's, from the store), unless it serves byte
                # ranges (a file): a later Range request must reach the handler.
                keep = ok and (own is None or not any(k.lower() == b"accept-ranges" for k, _ in raw))
                if ok and own is not None and wanted is not None and _matches(wanted, own):
                    replaced = True
                    await _not_modified(send, own)
                    return
                start = {**message, "headers": raw}
                await send(start)
            elif not replaced:
                if keep:
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    keep = size <= CACHE_BODY_BYTES
                    body.append(chunk)
                await send(message)
                if keep and not message.get("more_body", False):
                    self.kept[key] = _Kept(start["status"], start["headers"], b"".join(body), own)
                    if len(self.kept) > CACHE_ENTRIES:
                        self.kept.popitem(last=False)

        await self.app(scope, receive, reply)


_READ_HEADERS = frozenset({b"host", b"accept", b"accept-language", b"accept-encoding", b"origin", b"if-none-match",
                           b"cache-control"})


def _first_values(raw: list[tuple[bytes, bytes]]) -> dict[bytes, str]:
    """The first value of each header ConditionalGet reads (ASGI servers give names in lower case)."""
    found: dict[bytes, str] = {}
    for name, value in raw:
        if name in _READ_HEADERS and name not in found:
            found[name] = value.decode("latin-1")
    return found


def _matches(header: str, etag: str) -> bool:
    """If-None-Match's weak comparison: any listed tag equal to ours once W/ is set aside, or *."""
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


async def _not_modified(send: Send, etag: str) -> None:
    headers = [(b"etag", etag.encode("latin-1")), (b"cache-control", CACHE_CONTROL.encode()),
               (b"vary", b"Accept-Encoding")]
    await send({"type": "http.response.start", "status": 304, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
