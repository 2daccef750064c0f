"""What the service holds in memory: a snapshot of the store's layers and everything derived from them.

`Service` is one dataset version, built once and never changed. `Live` keeps the Service of the store's current
version: it watches the store and, when the version moves, builds the next Service beside the old and swaps
them in one assignment. Each request pins the Service it started with (services.middleware.PinService), so it
answers from one version from start to end.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import shapely
from fastapi import Request

from geo import batch
from geo.boundaries import Boundaries, of_frame
from geo.layers import Layers, build_layers
from geo.locate import Locator
from geo.queries import indicators, industry_catalogue, industry_detail, stats
from geo.rules import Rules
from geo.search import SearchIndex
from geo.store.base import Feature, FeatureStore, StoreUnavailable, feature_etag
from services.catalog import Collection, build_collections
from services.crs import warm_up

T = TypeVar("T")
WARM_SETTLE_S = 0.25  # a new version is warmed once it has been served this long without a newer one
MEMO_SIZE = 256  # documents kept: per base URL (the client's Host header), the collection list and each collection


@dataclass(frozen=True)
class Service:
    layers: Layers
    collections: dict[str, Collection]
    version: str  # the store's dataset version these answers come from ("0": layers given directly, no store)
    etags: dict[str, str] = field(default_factory=dict)  # feature id -> its ETag as stored (none without a store)
    _industries: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)  # every code, once
    _memo: OrderedDict[Any, Any] = field(default_factory=OrderedDict, repr=False)
    _memo_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # thread-pool handlers too

    # The answers that do not depend on the request, computed once, on first use: a new version is served as soon
    # as its collections are ready (~0.1 s), and Live.warm computes these right after the swap.
    @cached_property
    def backdrop(self) -> dict[str, Any]:
        """District outlines for the HTML pages' maps, which have no tiles offline."""
        return _backdrop(self.layers)

    @cached_property
    def boundaries(self) -> Boundaries:
        """How many of the areas' boundaries are schematic and how many surveyed, for what the pages say."""
        return of_frame(self.layers.parks)

    @cached_property
    def catalogue(self) -> list[dict[str, Any]]:
        return industry_catalogue(self.layers)

    @cached_property
    def stats(self) -> dict[str, Any]:
        return stats(self.layers)

    @cached_property
    def indicators(self) -> dict[str, Any]:
        return indicators(self.layers)

    @cached_property
    def locator(self) -> Locator:
        """The plan's areas prepared for /locate."""
        return Locator.from_layers(self.layers)

    @cached_property
    def search(self) -> SearchIndex:
        """Every name, with its pinyin, for /search."""
        return SearchIndex.from_layers(self.layers)

    def warm(self, large_batches: bool = True) -> Service:
        """Everything computed now rather than at a first request; with large_batches, also what a large upload
        needs (~0.5 s: the compiled loops, once per process, and the segment grid), which a version swapped in
        after an edit leaves to its first large upload (under a burst of edits it would be built per edit)."""
        for name in ("backdrop", "catalogue", "stats", "indicators", "locator", "search"):
            getattr(self, name)
        Rules.of(self.layers)  # what the first write of this version checks against
        if large_batches:
            batch.warm(self.locator)
        return self

    def memo(self, key: Any, build: Callable[[], T]) -> T:
        """build(), once per key while it is among the MEMO_SIZE most recently used: for cheap documents that
        depend only on the data and the request's base URL. The callers must not change what it returns."""
        with self._memo_lock:
            if key in self._memo:
                self._memo.move_to_end(key)
            else:
                self._memo[key] = build()
                if len(self._memo) > MEMO_SIZE:
                    self._memo.popitem(last=False)
            value: T = self._memo[key]
            return value

    def industry(self, code: str) -> dict[str, Any]:
        """geo.queries.industry_detail, computed once per code (its union of areas takes ~20 ms)."""
        if code not in self._industries:  # a fixed set of codes: no client can evict them
            self._industries[code] = industry_detail(self.layers, code)
        return self._industries[code]

    @classmethod
    def build(cls, layers: Layers, version: str = "0", warm: bool = True,
              features: dict[str, list[Feature]] | None = None) -> Service:
        """The Service over `layers`; with the stored `features` they came from, each feature's ETag."""
        warm_up()  # the CRSs, before any request needs one
        etags = {f.id: feature_etag(f.properties, f.geometry) for rows in (features or {}).values() for f in rows}
        service = cls(layers, build_collections(layers), version, etags)
        return service.warm() if warm else service


def _backdrop(layers: Layers) -> dict[str, Any]:
    """District boundaries simplified to ~200 m (a few KB), as GeoJSON."""
    districts = layers.districts[layers.districts["kind"] == "district"]
    shapes = shapely.simplify(districts.geometry.values, 0.002, preserve_topology=True)
    shapes = shapely.transform(shapes, lambda xy: xy.round(4))
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name_zh": name, "name_en": name_en, "adcode": adcode},
         "geometry": shapely.geometry.mapping(shape)}
        for name, name_en, adcode, shape in zip(districts["name_zh"], districts["name_en"], districts["adcode"],
                                                shapes)
    ]}


class Live:
    """The Service of a store's current version, swapped for the next one whenever the store changes.

    While the store cannot be reached, `available` is False and the service answers 503 (see PinService): an
    instance cut off from the store cannot know whether the others already serve a newer version, and instances
    that answer differently are worse for a GIS office than one that says "try again". It recovers by itself.
    """

    def __init__(self, store: FeatureStore, data_dir: Path) -> None:
        self.store = store
        self.data_dir = data_dir
        self.available = True
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._swap = threading.Lock()  # the watch and a local write may both ask for the next version
        self._written = threading.Event()  # set by a local write: load its version now, not at the next poll
        self._expected = 0  # the newest version this process committed (its counter)
        self._to_warm = threading.Event()  # a new version is served and not warmed yet
        self._settled = 0  # the newest version found unservable: reads do not wait for it
        self.current = self._build().warm()

    def _build(self) -> Service:
        started = time.perf_counter()
        snapshot = self.store.snapshot()
        service = Service.build(build_layers(snapshot.features, self.data_dir), snapshot.version, warm=False,
                                features=snapshot.features)
        log.info("dataset version %s ready in %.2f s (%s)", snapshot.version, time.perf_counter() - started,
                 ", ".join(f"{len(v)} {k}" for k, v in snapshot.features.items()))
        return service

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="nbgis-store-watch", daemon=True)
        self._thread.start()
        for name, signal, work in (("writes", self._written, self._load_written),
                                   ("warm", self._to_warm, self._warm_current)):
            threading.Thread(target=self._each_time, args=(signal, work), name=f"nbgis-store-{name}",
                             daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self._written.set()
        self._to_warm.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.store.close()

    def _watch(self) -> None:
        self.store.watch(self.current.version, self._changed, self._health, self._stop)

    def committed(self, version: str) -> None:
        """A write of this process committed `version`: serve it as soon as it is built (the next read of this
        instance waits for it, see caught_up), without waiting for the watch's next poll."""
        self._expected = max(self._expected, _counter(version))
        self._written.set()

    def _each_time(self, signal: threading.Event, work: Callable[[], None]) -> None:
        """work() each time `signal` is set, until stop (sets made while it runs count once: it works on the
        newest state, skipping what that replaced)."""
        while not self._stop.is_set():
            signal.wait()
            signal.clear()
            if self._stop.is_set():
                return
            work()

    def _load_written(self) -> None:
        try:
            self._changed(self.store.version())
        except Exception:  # the store is down: the watch says so and catches up once it is back
            log.debug("a written version could not be loaded yet", exc_info=True)

    async def caught_up(self, timeout_s: float = 10.0) -> None:
        """Wait (up to timeout_s) until the version this process last wrote is served: read your own writes."""
        deadline = time.monotonic() + timeout_s
        while max(_counter(self.current.version), self._settled) < self._expected and time.monotonic() < deadline:
            await asyncio.sleep(0.005)

    def _changed(self, version: str) -> None:
        with self._swap:
            self._swap_to(version)

    def _swap_to(self, version: str) -> None:
        if version == self.current.version or _counter(version) < _counter(self.current.version):
            return
        try:
            service = self._build()
        except StoreUnavailable:
            raise  # the watch notices the outage, and calls again once the store is back
        except Exception:  # the new version cannot be served (a bad edit): keep answering from the last good one
            log.exception("dataset version %s cannot be served; still serving %s", version, self.current.version)
            self._settled = max(self._settled, _counter(version))  # reads waiting for it stop waiting
            return
        self.current = service  # one assignment: a request has either the old Service or the new one
        self._to_warm.set()  # off this thread, which goes on to the next version at once

    def _warm_current(self) -> None:
        """Warm the version being served, once no newer one has come for WARM_SETTLE_S: in a burst of edits only
        the last is warmed (each warm and collection costs ~0.3 s of CPU, and of the GIL the requests need);
        a request meanwhile computes what it needs itself (a write: its rules)."""
        while self._to_warm.wait(WARM_SETTLE_S) and not self._stop.is_set():
            self._to_warm.clear()
        if self._stop.is_set():
            return
        try:
            self.current.warm(large_batches=False)
        except Exception:  # a request computes what is missing; the log says why it could not be done here
            log.exception("warming dataset version %s failed", self.current.version)
        # The old version is garbage once its last request ends; let the collector see the new objects, then
        # keep them out of its full passes again (see services.app's lifespan)
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    def _health(self, reachable: bool) -> None:
        if reachable:
            log.warning("the store %s is reachable again", self.store.url_shown)
        else:
            log.error("the store %s cannot be reached; answering 503 until it can", self.store.url_shown)
        self.available = reachable


def _counter(version: str) -> int:
    """The change counter of a dataset version uid.counter (the uid is the store's, the same for all)."""
    return int(version.rpartition(".")[2] or 0)


def service_of(request: Request) -> Service:
    """The Service this request answers from: the one pinned when it arrived, else the app's current one."""
    pinned = request.scope.get(PINNED)
    if pinned is not None:
        service: Service = pinned
        return service
    return current_service(request.app)


def current_service(app: Any) -> Service:
    holder = app.state.service
    service: Service = holder.current if isinstance(holder, Live) else holder
    return service


PINNED = "nbgis.service"  # the ASGI scope key of a request's Service
log = logging.getLogger("nbgis.store")
