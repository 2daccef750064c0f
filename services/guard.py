"""Bounds on the expensive requests, so that no client can starve the others.

Per worker process: uploads, downloads, and CRS definitions never seen before each take a slot from a small
pool, answered 503 with Retry-After when the pool stays full; their work runs in threads under a time budget
(503 when it runs out; the slot is given back only when the thread is done, so abandoned work cannot pile up);
and each client may have only so many new CRS definitions built per minute (429). PROJ holds the GIL for the
~80 ms of building a CRS, so those are built one at a time: several at once stall the event loop for seconds.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from services.errors import ApiError
from services.settings import Settings

T = TypeVar("T")
RETRY_AFTER_S = 2
CLIENTS_TRACKED = 4096  # clients whose recent CRS builds are remembered; the oldest are forgotten first


class Busy(ApiError):
    def __init__(self, description: str, status: int = 503) -> None:
        super().__init__(status, description, "ServiceUnavailable" if status == 503 else "TooManyRequests")
        self.headers = {"Retry-After": str(RETRY_AFTER_S)}


class Slot:
    """One place in a pool, taken on entering (or 503), held until leaving or until the work it started is done."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.handed_off = False

    async def __aenter__(self) -> Slot:
        # Polled rather than an asyncio.Semaphore, which would tie the pool to one event loop.
        deadline = time.monotonic() + self.pool.wait_s
        while self.pool.in_use >= self.pool.size:
            if time.monotonic() >= deadline:  # refused: a long queue would only hold connections open
                raise Busy(f"the server is busy with {self.pool.size} {self.pool.name} already; try again in "
                           f"{RETRY_AFTER_S} s")
            await asyncio.sleep(0.02)
        self.pool.in_use += 1
        return self

    async def __aexit__(self, *exc: object) -> None:
        if not self.handed_off:
            self.pool.release()

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """work(*args) in a thread, within the time budget; the slot is freed when the thread finishes."""
        self.handed_off = True
        future = asyncio.get_running_loop().run_in_executor(self.pool.threads, functools.partial(work, *args))
        future.add_done_callback(self._finished)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.pool.budget_s)
        except TimeoutError:
            raise Busy(f"this request needed more than {self.pool.budget_s:g} s of work; narrow it (fewer "
                       f"collections, a smaller file), or use the nbgis command line, which has no budget") from None

    def _finished(self, future: asyncio.Future[Any]) -> None:
        self.pool.release()
        if not future.cancelled():
            future.exception()  # retrieved, so an abandoned failure is not reported as "never retrieved"


class Pool:
    def __init__(self, name: str, size: int, budget_s: float, wait_s: float = 0.0) -> None:
        self.name, self.size, self.budget_s, self.wait_s = name, size, budget_s, wait_s
        self.in_use = 0
        self.threads = ThreadPoolExecutor(max_workers=size, thread_name_prefix="nbgis-pool")

    def slot(self) -> Slot:
        return Slot(self)

    def release(self) -> None:
        self.in_use -= 1


class Guard:
    def __init__(self, settings: Settings) -> None:
        # A request waits a few seconds for a slot (users who happen to come together), then is told to retry.
        self.uploads = Pool("uploads", settings.max_concurrent_uploads, settings.request_time_budget_s, wait_s=5.0)
        self.downloads = Pool("downloads", settings.max_concurrent_downloads, settings.request_time_budget_s,
                              wait_s=5.0)
        self.crs = Pool("new CRS definitions", 1, settings.request_time_budget_s, wait_s=2.0)
        self.crs_per_minute = settings.crs_builds_per_client
        self._builds: OrderedDict[str, deque[float]] = OrderedDict()

    def count_crs_build(self, client: str) -> None:
        """Count a new CRS definition built for `client`; 429 past its budget for the last minute."""
        now = time.monotonic()
        recent = self._builds.pop(client, None) or deque()
        while recent and recent[0] < now - 60:
            recent.popleft()
        self._builds[client] = recent
        if len(self._builds) > CLIENTS_TRACKED:
            self._builds.popitem(last=False)
        if len(recent) >= self.crs_per_minute:
            raise Busy(f"crs: this client had {self.crs_per_minute} new CRS definitions read in the last minute; "
                       f"use one of the CRSs you already sent, or wait a minute", 429)
        recent.append(now)
