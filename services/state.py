"""What the service holds in memory: the layers and everything derived from them, built once at start-up."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import shapely
from fastapi import Request

from geo.layers import FILES, Layers
from geo.locate import Locator
from geo.queries import indicators, industry_catalogue, industry_detail, stats
from geo.search import SearchIndex
from services.catalog import Collection, build_collections
from services.crs import warm_up

T = TypeVar("T")
MEMO_SIZE = 256  # documents kept: per base URL (the client's Host header), the collection list and each collection


@dataclass(frozen=True)
class Service:
    layers: Layers
    collections: dict[str, Collection]
    backdrop: dict[str, Any]  # district outlines for the HTML pages' maps, which have no tiles offline
    catalogue: list[dict[str, Any]]  # the answers that do not depend on the request, computed once
    stats: dict[str, Any]
    indicators: dict[str, Any]
    locator: Locator  # the plan's areas prepared for /locate
    search: SearchIndex  # every name, with its pinyin, for /search
    version: str  # the dataset's version: a content hash of the data files loaded; part of every ETag
    _industries: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)  # every code, once
    _memo: OrderedDict[Any, Any] = field(default_factory=OrderedDict, repr=False)
    _memo_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # thread-pool handlers too

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
    def build(cls, layers: Layers) -> Service:
        warm_up()  # the CRSs, before any request needs one
        return cls(layers, build_collections(layers), _backdrop(layers), industry_catalogue(layers), stats(layers),
                   indicators(layers), Locator.from_layers(layers), SearchIndex.from_layers(layers),
                   data_version(layers.data_dir))


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


def data_version(data_dir: Path) -> str:
    """A hash of the content of the files the layers are loaded from: a new version whenever any changes."""
    digest = hashlib.blake2b(digest_size=12)
    for name in sorted([*FILES.values(), "industries.json", "indicators.json", "sources/plan.txt"]):
        path = data_dir / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"") + b"\0")
    return digest.hexdigest()


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service
