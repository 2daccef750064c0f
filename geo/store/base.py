"""The feature-source seam: what every store of the plan's layers offers, whatever holds them.

A store keeps the three feature layers (parks, platforms, districts) as rows of id, properties and geometry, and a
dataset version that changes with every committed change. Readers never query a store per request: they take a
`Snapshot` (every layer at one version, read in one transaction) and serve it from memory until `watch` says the
version moved. The reference documents (taxonomy, indicators, the plan's text) stay in the data folder.

Stores: geo.store.sqlite (an embedded GeoPackage file, the default) and geo.store.postgis (PostgreSQL + PostGIS,
shared by several instances). `open_store(url)` picks one by the URL's scheme. Writing features (create, replace,
update, delete with history) is the next step; `editable` says whether a store will take them.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import shapely

LAYERS = ("parks", "platforms", "districts")  # one table each, in this order
SRID = 4326


class StoreError(Exception):
    """The store cannot be used as asked (bad URL, not initialised, a schema from a newer release)."""


class StoreUnavailable(StoreError):
    """The store cannot be reached now (the database is down or unreachable); worth retrying."""


@dataclass(frozen=True)
class Feature:
    """One stored feature: its id, its properties as the seed file wrote them (key order kept), its geometry."""

    id: str
    properties: dict[str, Any]
    geometry: shapely.Geometry | None


@dataclass(frozen=True)
class Snapshot:
    """Every layer at one dataset version."""

    version: str
    changed_at: datetime | None
    features: dict[str, list[Feature]]  # per layer of LAYERS, in stored order


@dataclass(frozen=True)
class Status:
    url: str  # without any password
    revision: str | None  # the schema's migration revision; None when the store has no schema yet
    version: str | None
    changed_at: datetime | None
    counts: dict[str, int]


class FeatureStore(ABC):
    """A place the layers live. Implementations: SQLiteStore, PostGISStore."""

    editable = False  # the next step adds create/replace/update/delete, with history, to stores that say True

    def __init__(self, url: str) -> None:
        self.url = url

    @property
    def url_shown(self) -> str:
        """The URL without its password, for logs and messages."""
        return redacted(self.url)

    @abstractmethod
    def upgrade(self) -> None:
        """Create the schema, or migrate it to this release's (Alembic, revision 'head')."""

    @abstractmethod
    def is_empty(self) -> bool:
        """True when no layer holds a feature."""

    @abstractmethod
    def version(self) -> str:
        """The dataset version, cheaply (no feature is read)."""

    @abstractmethod
    def snapshot(self) -> Snapshot:
        """Every layer and the version they are at, read in one transaction."""

    @abstractmethod
    def status(self) -> Status:
        """Revision, version, feature counts and last change (for `nbgis store status`)."""

    @abstractmethod
    def watch(self, since: str, on_change: Callable[[str], None], on_health: Callable[[bool], None],
              stop: threading.Event) -> None:
        """Until `stop` is set: call on_change(version) whenever the version moves away from `since` or from the
        last one reported (promptly: well under a second), on_health(False) when the store cannot be reached and
        on_health(True) once it can again. Exceptions of the callbacks end the watch."""

    @abstractmethod
    def init_lock(self) -> AbstractContextManager[None]:
        """Held while one process initialises the store, so instances starting together do it once."""

    @abstractmethod
    def seeded(self) -> tuple[str | None, bool]:
        """The digest of the seed the store was last filled with, and whether it changed since (an edit)."""

    @abstractmethod
    def load(self, features: dict[str, list[Feature]], seed_digest: str | None = None) -> str:
        """Replace every layer's features in one transaction, recording the seed's digest when they are a seed;
        the new version."""

    def init(self, seed: Callable[[], dict[str, list[Feature]]], digest: str) -> str | None:
        """Upgrade the schema, and fill the store with seed() when it is empty, or when it holds an older seed
        untouched since (its data folder changed and nobody edited the store; edits are never overwritten).
        Why it (re)seeded, or None."""
        with self.init_lock():
            self.upgrade()
            if self.is_empty():
                why = "seeded the new store"
            else:
                stored, edited = self.seeded()
                if edited or stored in (None, digest):
                    return None
                why = "reseeded the store (the seed files changed and the store holds no edit)"
            self.load(seed(), digest)
            return why

    def close(self) -> None:  # noqa: B027 (a store without connections to close has nothing to do)
        """Release connections."""


def redacted(url: str) -> str:
    """The URL with any password replaced by ***, for logs and status."""
    head, sep, tail = url.partition("://")
    if not sep or "@" not in tail:
        return url
    credentials, _, host = tail.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{head}://{user}{':***' if ':' in credentials else ''}@{host}"


def open_store(url: str | Path) -> FeatureStore:
    """The store a URL names: postgresql://... (PostGIS), sqlite:///path or a file path (embedded GeoPackage)."""
    text = str(url)
    if text.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        from geo.store.postgis import PostGISStore

        return PostGISStore(text)
    if text.startswith("sqlite:///") or "://" not in text:
        from geo.store.sqlite import SQLiteStore

        return SQLiteStore(Path(text.removeprefix("sqlite:///")) if text.startswith("sqlite:///") else Path(text))
    raise StoreError(f"{redacted(text)}: not a store URL; use a file path, sqlite:///PATH or postgresql://...")


def check_layers(features: Mapping[str, Iterable[Feature]]) -> None:
    unknown = set(features) - set(LAYERS)
    if unknown:
        raise StoreError(f"unknown layers {sorted(unknown)}; a store holds {', '.join(LAYERS)}")


def ordered(features: Mapping[str, Iterable[Feature]]) -> dict[str, list[Feature]]:
    return {layer: list(features.get(layer, ())) for layer in LAYERS}
