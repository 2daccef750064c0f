"""Who is asking: the bearer token of a request, checked against the store on every use.

Writes call `authenticate` (in a thread: it reads the store), then `authorize_write` with the feature's
districts. The token is looked up in the store each time, never cached, so a token revoked on one instance stops
at once on all of them. Failures answer 401 with a `WWW-Authenticate: Bearer` challenge (RFC 6750), a scope that
does not allow the write 403. Each refused request is logged on "nbgis.auth" (client, token id, reason: never the
secret), and a client past FAILURES_PER_MINUTE failed token checks gets 429 until the oldest leaves the minute.
Only failures are counted: a valid token is accepted even from a limited address (an office behind one NAT shares
it with its neighbours), and guessing is hopeless anyway against a 256-bit secret; the 429 tells a misconfigured
client or a scanner to stop, and the log shows who went on.

`ReadsNeedToken` (installed when the setting read_requires_token is on) asks a token of any role for every request
but the landing page, /conformance, /api and the static files.
"""

from __future__ import annotations

import base64
import logging
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo.accounts import (
    UNKNOWN,
    WRONG_SECRET,
    TokenRecord,
    TokenRejected,
    may_read,
    parse_token,
    verify,
    write_denial,
)
from geo.store.base import FeatureStore, StoreUnavailable
from services.errors import ApiError, error_response
from services.state import Live

CHALLENGE = 'Bearer realm="nbgis"'
FAILURES_PER_MINUTE = 10  # per client address and worker process
CLIENTS_TRACKED = 4096  # addresses whose recent failures are remembered; the oldest are forgotten first
TOKEN = "nbgis.token"  # the ASGI scope key of a request's verified token: looked up once per request
log = logging.getLogger("nbgis.auth")


def store_of(request: Request) -> FeatureStore | None:
    """The store this app serves, or None for an app built from fixed layers (tests): it has no accounts and takes
    no writes, which its caller says in its own words."""
    holder = getattr(request.app.state, "service", None)
    return holder.store if isinstance(holder, Live) else None


class Failures:
    """Recent failed attempts per client address, within a sliding minute."""

    def __init__(self, limit: int = FAILURES_PER_MINUTE, window_s: float = 60.0) -> None:
        self.limit, self.window_s = limit, window_s
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()  # counted from the thread pool's threads

    def count(self, client: str) -> int:
        """Count one failure of `client`: 0 when it is within the limit, else the seconds until it is again."""
        now = time.monotonic()
        with self._lock:
            recent = self._seen.pop(client, None) or deque(maxlen=self.limit)  # the last `limit` are enough
            while recent and recent[0] <= now - self.window_s:
                recent.popleft()
            limited = len(recent) >= self.limit
            recent.append(now)
            self._seen[client] = recent
            if len(self._seen) > CLIENTS_TRACKED:
                self._seen.popitem(last=False)
            # a client that goes on failing stays limited: its refused attempts count too
            return max(1, math.ceil(recent[0] + self.window_s - now)) if limited else 0


def authenticate(request: Request) -> TokenRecord:
    """The verified token of this request; ApiError 401 (none, or a bad, expired or revoked one), 429 (too many
    failures from this client), 501 (no store) or StoreUnavailable (503). Looks the token up in the store, so it
    blocks: async code awaits it through run_in_threadpool."""
    known: TokenRecord | None = request.scope.get(TOKEN)
    if known is not None:  # ReadsNeedToken checked it already, in this same request
        return known
    header = request.headers.get("authorization", "")
    presented = _credentials(header)
    if presented is None:
        log.info("%s %s from %s refused: no bearer token", request.method, request.url.path, _client(request))
        raise _unauthorized("this needs a bearer token: send the header Authorization: Bearer nbgis_... "
                            "(an administrator gives one with `nbgis user add`)" if not header else
                            "this service takes bearer tokens: Authorization: Bearer nbgis_... (or Basic, with "
                            "the account's name and the token as its password)", None)
    store = store_of(request)
    if store is None:
        raise ApiError(501, "this instance serves layers given at start-up, not a store: it has no accounts and "
                            "takes no writes", "NotImplemented")
    text, name = presented
    try:
        token_id, _ = parse_token(text)
        record = verify(text, store.token(token_id), name=name)
    except TokenRejected as rejected:
        raise _refused(request, rejected) from None
    request.scope[TOKEN] = record
    return record


def _credentials(header: str) -> tuple[str, str | None] | None:
    """The token text of an Authorization header, and the account name it came with: `Bearer TOKEN`, or `Basic`
    with NAME:TOKEN (what QGIS's Basic authentication sends); None when it holds neither."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer":
        return value, None
    if scheme.lower() != "basic":
        return None
    try:
        name, colon, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError
        return "", None  # refused as a malformed token, and counted
    return (password, name) if colon else ("", None)


def authorize_write(record: TokenRecord, collection: str, adcodes_before: Iterable[str] | None = None,
                    adcodes_after: Iterable[str] | None = None) -> None:
    """403 unless `record` may write this feature of `collection`: adcodes_before are the district_adcodes it has
    now (None: a create), adcodes_after those it will have (None: a delete); both None checks the collection only."""
    denial = write_denial(record, collection, adcodes_before, adcodes_after)
    if denial is not None:
        error = ApiError(403, denial, "Forbidden")
        error.headers = {"WWW-Authenticate": f'{CHALLENGE}, error="insufficient_scope"'}
        raise error


def _client(request: Request) -> str:
    return request.client.host if request.client else "-"


def _unauthorized(description: str, error: str | None) -> ApiError:
    exc = ApiError(401, description, "Unauthorized")
    exc.headers = {"WWW-Authenticate": CHALLENGE + (f', error="{error}"' if error else "")}
    return exc


def _refused(request: Request, rejected: TokenRejected) -> ApiError:
    client = _client(request)
    wait = request.app.state.auth_failures.count(client)
    log.warning("%s %s from %s refused: token %s: %s%s", request.method, request.url.path, client,
                rejected.token_id or "-", rejected.reason, f" (rate-limited for {wait} s)" if wait else "")
    if wait:
        exc = ApiError(429, f"too many failed token checks from this address in the last minute; try again in "
                            f"{wait} s", "TooManyRequests")
        exc.headers = {"Retry-After": str(wait)}
        return exc
    if rejected.reason in (UNKNOWN, WRONG_SECRET):  # one answer for both: ids that exist are not told
        rejected = TokenRejected(rejected.reason, rejected.token_id, f"token {rejected.token_id} is not valid here")
    return _unauthorized(f"{rejected}; ask an administrator for a token", "invalid_token")


EXEMPT = ("/", "/conformance", "/api", "/favicon.ico")  # what a client needs to find out that it needs a token
EXEMPT_PREFIXES = ("/assets/",)


class ReadsNeedToken:
    """Every request but OPTIONS (CORS preflights), the landing page, /conformance, /api and the static files
    needs a valid token of any role. Sits outside ConditionalGet, so no kept answer and no 304 reaches a client
    without one; the answers say Cache-Control: private, so no shared cache keeps them either."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (scope["type"] != "http" or scope["method"] == "OPTIONS" or path in EXEMPT
                or path.startswith(EXEMPT_PREFIXES)):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            record = await run_in_threadpool(authenticate, request)
            parts = path.split("/")
            collection = parts[2] if len(parts) > 2 and parts[1] == "collections" else ""
            if not may_read(record, collection):  # a role the store holds that this release does not know
                raise ApiError(403, f"token {record.token_id} ({record.name}) may not read this", "Forbidden")
        except StoreUnavailable as exc:  # outside the app's exception handlers: answered here, as they would
            unavailable = ApiError(503, str(exc), "StoreUnavailable")
            unavailable.headers = {"Retry-After": "1"}
            await error_response(request, unavailable)(scope, receive, send)
            return
        except ApiError as exc:
            await error_response(request, exc)(scope, receive, send)
            return

        async def private(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [
                    (k, v.replace(b"public", b"private")) if k.lower() == b"cache-control" else (k, v)
                    for k, v in message.get("headers", [])]}
            await send(message)

        await self.app(scope, receive, private)
