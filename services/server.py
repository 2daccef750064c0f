"""The HTTP server: uvicorn, with the connection limits it lacks.

uvicorn never times out a connection that has not finished its headers (or sent nothing at all), nor bounds
the size or number of headers, so a few hundred slow clients can hold every connection (slowloris). The
protocol below adds, per worker process:
- a deadline for a request's line and headers (`header_timeout_s`), from the connection's first byte or the
  previous answer: past it the client gets 408 and is disconnected;
- limits on the number of headers and their total size: 431;
- a cap on open connections, in all and per client address: 503 with Retry-After, at once.
A reverse proxy in front should enforce the same (see the README), but the service must not depend on one.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, ClassVar

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from services.settings import Settings, get_settings

_STATUS = {408: b"408 Request Timeout", 414: b"414 URI Too Long", 431: b"431 Request Header Fields Too Large",
           503: b"503 Service Unavailable"}
_CODES = {408: "RequestTimeout", 414: "URITooLong", 431: "RequestHeaderFieldsTooLarge", 503: "ServiceUnavailable"}


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline, header limits and connection caps."""

    per_client: ClassVar[Counter[str]] = Counter()  # open connections per client address, in this worker

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits: Settings = get_settings()
        self.header_deadline: asyncio.TimerHandle | None = None
        self.url_bytes = self.header_bytes = self.header_count = 0
        self.refused = False
        self.address = ""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.address = self.client[0] if self.client else ""
        self.per_client[self.address] += 1
        if len(self.connections) > self.limits.max_connections:
            self._refuse(503, "the server holds as many connections as it takes; try again shortly")
        elif self.per_client[self.address] > self.limits.max_connections_per_client:
            self._refuse(503, f"this client already holds {self.limits.max_connections_per_client} connections; "
                              f"reuse them, or try again shortly")
        else:
            self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        self.per_client[self.address] -= 1
        if self.per_client[self.address] <= 0:
            del self.per_client[self.address]
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self.refused:
            super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.url_bytes = self.header_bytes = self.header_count = 0
        self._arm_header_deadline()

    def on_url(self, url: bytes) -> None:
        self.url_bytes += len(url)
        if self.url_bytes > self.limits.max_url_bytes and not self.refused:
            self._refuse(414, f"the request's URL may take at most {self.limits.max_url_bytes} bytes; send a long "
                              f"filter as CQL2 JSON in fewer characters, or split the request")
        if not self.refused:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4, 1)
        if not self.refused:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        if not self.refused:
            super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # The keep-alive timer now guards the idle connection; the next request's first byte re-arms the deadline.

    def send_400_response(self, msg: str) -> None:
        if not self.refused:  # the parser's complaint after we refused the request ourselves
            super().send_400_response(msg)

    def _count(self, size: int, headers: int) -> None:
        self.header_bytes += size
        self.header_count += headers
        if self.refused:
            return
        if self.header_count > self.limits.max_headers:
            self._refuse(431, f"a request may have at most {self.limits.max_headers} header fields")
        elif self.header_bytes > self.limits.max_header_bytes:
            self._refuse(431, f"the header fields may take at most {self.limits.max_header_bytes} bytes")

    def _arm_header_deadline(self) -> None:
        if self.header_deadline is None:
            self.header_deadline = self.loop.call_later(self.limits.header_timeout_s, self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def _headers_too_slow(self) -> None:
        self.header_deadline = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered; its headers were complete
        self._refuse(408, f"the request's headers did not arrive within {self.limits.header_timeout_s:g} s")

    def _refuse(self, status: int, description: str) -> None:
        """Answer `status` with an OGC API exception body and close the connection."""
        self.refused = True
        self._disarm_header_deadline()
        if self.transport.is_closing():
            return
        body = orjson.dumps({"code": _CODES[status], "description": description})
        head = [b"HTTP/1.1 " + _STATUS[status], b"content-type: application/json",
                b"content-length: " + str(len(body)).encode(), b"connection: close"]
        if status == 503:
            head.append(b"retry-after: 1")
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        self.transport.close()


def server_options(settings: Settings | None = None) -> dict[str, Any]:
    """uvicorn's options for the guarded protocol, the settings' timeouts and the trusted proxies."""
    settings = settings or get_settings()
    return {
        "http": GuardedHttpTools,
        "server_header": False,
        "timeout_keep_alive": max(1, round(settings.keep_alive_timeout_s)),
        # uvicorn's own backstop: beyond this many connections or tasks it answers 503 itself
        "limit_concurrency": settings.max_connections + 16,
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": settings.forwarded_allow_ips or None,
    }
