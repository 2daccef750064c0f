"""The write benchmark's client: the same code drives every server, ours and pygeoapi, over HTTP on loopback.

Writes are OGC API - Features Part 4 requests: POST a new feature, PUT a feature back with its geometry moved a few
metres and a new name. A server that asks for them gets a bearer token and `If-Match` with the ETag its last
answer gave (ours); one that does not (pygeoapi) gets neither. N clients write at once for a fixed time, each on
its own connection and its own features, so no write waits for another's lock or loses to it; only 2xx answers
count, and every other status is counted apart. Propagation writes on one instance and polls another until the
change shows there.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx
import numpy as np

TIMEOUT_S = 60.0  # a slow write is slow, not failed
POLL_S = 0.005  # between two reads of the second instance
VISIBLE_WITHIN_S = 5.0  # a change not seen by then is counted as not seen
GEOJSON = "application/geo+json"


@dataclass(frozen=True)
class Endpoint:
    """One system under test: two instances over one store, and how it wants writes."""

    name: str
    first: str  # base URL of instance A (every write goes there)
    second: str  # instance B, on the same store (read by the propagation test)
    collection: str
    token: str | None = None  # an editor's bearer token, where writes need one
    etags: bool = False  # whether writes need If-Match

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": GEOJSON, "Accept": f"{GEOJSON}, application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def item(self, base: str, fid: str) -> str:
        return f"{base}/collections/{self.collection}/items/{fid}"


@dataclass
class Owned:
    """A feature a client wrote, as it wrote it last, and the ETag the server gave it (None if it gives none)."""

    feature: dict[str, Any]
    etag: str | None = None


@dataclass
class Writes:
    """What one load run did: 2xx writes, their latencies, other answers by status."""

    ok: int = 0
    late: int = 0  # 2xx answers that came after the run's end: written, but not counted in the rate
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    created: list[list[Owned]] = field(default_factory=list)  # per client, the features it created

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    def error_text(self) -> str:
        return ", ".join(f"{k} x{v}" for k, v in sorted(self.errors.items())) or "none"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile, one of the values (no interpolation: a change never seen, inf, stays inf)."""
    return float(np.percentile(values, q, method="inverted_cdf")) if values else math.nan


def merged(runs: list[Writes]) -> Writes:
    """Several runs of one kind as one: writes and time summed, latencies pooled."""
    total = Writes()
    for run in runs:
        total.ok += run.ok
        total.late += run.late
        total.seconds += run.seconds
        total.latencies_ms += run.latencies_ms
        total.errors += run.errors
    return total


def _client(base: str) -> httpx.AsyncClient:
    """One connection, kept alive: a client writes one request at a time."""
    return httpx.AsyncClient(base_url=base, timeout=TIMEOUT_S,
                             limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))


async def _etag(client: httpx.AsyncClient, endpoint: Endpoint, fid: str) -> str | None:
    """The feature's ETag as the first instance serves it now."""
    response = await client.get(endpoint.item(endpoint.first, fid), headers=endpoint.headers())
    return response.headers.get("ETag") if response.status_code == 200 else None


async def _write(client: httpx.AsyncClient, endpoint: Endpoint, method: str, url: str, feature: dict[str, Any],
                 etag: str | None, run: Writes, deadline: float) -> httpx.Response | None:
    """One write; counted in run if it ended before the deadline (its latency too, if 2xx); its answer, or None
    when there was none."""
    headers = endpoint.headers()
    if etag and endpoint.etags:
        headers["If-Match"] = etag
    started = time.perf_counter()
    try:
        response = await client.request(method, url, content=json.dumps(feature), headers=headers)
    except httpx.HTTPError as exc:
        run.errors[type(exc).__name__] += 1
        return None
    ended = time.perf_counter()
    if ended > deadline:  # finished after the run: neither a write of the run nor an error
        run.late += 200 <= response.status_code < 300
    elif 200 <= response.status_code < 300:
        run.ok += 1
        run.latencies_ms.append((ended - started) * 1000)
    else:
        run.errors[str(response.status_code)] += 1
    return response


async def creates(endpoint: Endpoint, make: Callable[[int, int], dict[str, Any]], clients: int, seconds: float
                  ) -> Writes:
    """`clients` clients POST new features (make(client, n), each id new) for `seconds`."""
    run = Writes(created=[[] for _ in range(clients)])
    url = f"{endpoint.first}/collections/{endpoint.collection}/items"

    async def one(k: int) -> None:
        async with _client(endpoint.first) as client:
            n = 0
            while time.perf_counter() < deadline:
                feature = make(k, n)
                n += 1
                response = await _write(client, endpoint, "POST", url, feature, None, run, deadline)
                if response is not None and response.status_code == 201:
                    run.created[k].append(Owned(feature, response.headers.get("ETag")))

    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(one(k) for k in range(clients)))
    run.seconds = min(time.perf_counter(), deadline) - started
    return run


async def updates(endpoint: Endpoint, owned: list[Owned], move: Callable[[dict[str, Any], int], dict[str, Any]],
                  seconds: float) -> Writes:
    """One client per feature PUTs it back moved (move(feature, n)) for `seconds`, with If-Match the ETag of its
    previous write where the server needs one."""
    run = Writes()

    async def one(mine: Owned) -> None:
        fid = mine.feature["id"]
        async with _client(endpoint.first) as client:
            n = 0
            while time.perf_counter() < deadline:
                n += 1
                if endpoint.etags and mine.etag is None:  # none in the last answer: ask, outside the count
                    mine.etag = await _etag(client, endpoint, fid)
                body = move(mine.feature, n)
                response = await _write(client, endpoint, "PUT", endpoint.item(endpoint.first, fid), body,
                                        mine.etag, run, deadline)
                if response is not None and response.status_code < 300:
                    mine.feature, mine.etag = body, response.headers.get("ETag")
                else:
                    mine.etag = None

    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(one(mine) for mine in owned))
    run.seconds = min(time.perf_counter(), deadline) - started
    return run


@dataclass
class Propagation:
    """Per write: ms from its 2xx to the first read of the second instance that shows it (inf: never seen)."""

    visible_ms: list[float] = field(default_factory=list)
    failed: Counter[str] = field(default_factory=Counter)  # writes refused, by status

    def percentile(self, q: float) -> float:
        return percentile(self.visible_ms, q)

    @property
    def unseen(self) -> int:
        return sum(math.isinf(v) for v in self.visible_ms)


async def propagation(endpoint: Endpoint, mine: Owned, move: Callable[[dict[str, Any], int], dict[str, Any]],
                      samples: int, budget_s: float) -> Propagation:
    """`samples` times, or as many as fit in budget_s: PUT the feature moved on the first instance, then GET it
    from the second every POLL_S until it shows the new version (marker_of)."""
    result = Propagation()
    fid = mine.feature["id"]
    deadline = time.perf_counter() + budget_s
    async with _client(endpoint.first) as writer, _client(endpoint.second) as reader:
        for n in range(1, samples + 1):
            if time.perf_counter() > deadline:
                break
            if endpoint.etags and mine.etag is None:
                mine.etag = await _etag(writer, endpoint, fid)
            body = move(mine.feature, 1_000_000 + n)
            headers = endpoint.headers()
            if endpoint.etags and mine.etag:
                headers["If-Match"] = mine.etag
            response = await writer.put(endpoint.item(endpoint.first, fid), content=json.dumps(body), headers=headers)
            written = time.perf_counter()
            if not 200 <= response.status_code < 300:
                result.failed[str(response.status_code)] += 1
                mine.etag = None
                continue
            mine.feature, mine.etag = body, response.headers.get("ETag")
            result.visible_ms.append(await _seen(reader, endpoint, fid, marker_of(body), written))
    return result


async def _seen(reader: httpx.AsyncClient, endpoint: Endpoint, fid: str, expected: Any, since: float) -> float:
    """ms from `since` until the second instance answers with the expected marker; inf after VISIBLE_WITHIN_S."""
    url = endpoint.item(endpoint.second, fid)
    while True:
        response = await reader.get(url, headers=endpoint.headers())
        now = time.perf_counter()
        if response.status_code == 200 and marker_of(response.json()) == expected:
            return (now - since) * 1000
        if now - since > VISIBLE_WITHIN_S:
            return math.inf
        await asyncio.sleep(POLL_S)


async def count(base: str, collection: str) -> int:
    """How many features the instance lists in the collection."""
    async with _client(base) as client:
        response = await client.get(f"/collections/{collection}/items", params={"limit": 10_000},
                                    headers={"Accept": f"{GEOJSON}, application/json"})
        response.raise_for_status()
        return len(response.json()["features"])


def marker_of(feature: dict[str, Any]) -> Any:
    """What a moved feature carries to tell one write from the next: its English name."""
    return (feature.get("properties") or {}).get("name_en")
