"""The feature-source seam: what every store of the plan's layers offers, whatever holds them.

A store keeps the three feature layers (parks, platforms, districts) as rows of id, properties and geometry, and a
dataset version that changes with every committed change. Readers never query a store per request: they take a
`Snapshot` (every layer at one version, read in one transaction) and serve it from memory until `watch` says the
version moved. The reference documents (taxonomy, indicators, the plan's text) stay in the data folder.

Stores: geo.store.sqlite (an embedded GeoPackage file, the default) and geo.store.postgis (PostgreSQL + PostGIS,
shared by several instances). `open_store(url)` picks one by the URL's scheme.

Writes come as changesets (`apply`): edits of one or more features, written in one transaction or not at all,
each checked against the ETag its writer last saw (optimistic concurrency), each leaving a version of the
feature behind (who, when, why, the feature after it), so history can be listed, read and reverted. Version 1
of every feature is the seed. The stores also keep the accounts' tokens (salted hashes) and staged imports.
"""

from __future__ import annotations

import hashlib
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shapely

if TYPE_CHECKING:
    from geo.accounts import TokenRecord
    from geo.store.history import History

LAYERS = ("parks", "platforms", "districts")  # one table each, in this order
SRID = 4326


class StoreError(Exception):
    """The store cannot be used as asked (bad URL, not initialised, a schema from a newer release)."""


class StoreUnavailable(StoreError):
    """The store cannot be reached now (the database is down or unreachable); worth retrying."""


class NotFound(StoreError):
    """A changeset names a feature the layer does not hold (now)."""

    def __init__(self, layer: str, feature_id: str) -> None:
        super().__init__(f"{layer} holds no feature {feature_id!r}")
        self.layer, self.id = layer, feature_id


class AlreadyExists(StoreError):
    """A changeset creates a feature whose id the layer already holds."""

    def __init__(self, layer: str, feature_id: str) -> None:
        super().__init__(f"{layer} already holds a feature {feature_id!r}")
        self.layer, self.id = layer, feature_id


class Conflict(StoreError):
    """A feature changed since its writer read it: the ETag they sent is not the feature's now."""

    def __init__(self, layer: str, feature_id: str, expected: str, actual: str) -> None:
        super().__init__(f"{feature_id!r} changed since it was read (it is at {actual}, not {expected})")
        self.layer, self.id, self.expected, self.actual = layer, feature_id, expected, actual


@dataclass(frozen=True)
class Feature:
    """One stored feature: its id, its properties as the seed file wrote them (key order kept), its geometry."""

    id: str
    properties: dict[str, Any]
    geometry: shapely.Geometry | None


def feature_etag(properties: dict[str, Any], geometry: shapely.Geometry | None) -> str:
    """A feature's strong ETag (quoted): a digest of its properties (key order aside) and its geometry's WKB,
    the same on every store and instance, and changed by any edit, one made in QGIS on the tables included."""
    digest = hashlib.sha256(json.dumps(properties, sort_keys=True, ensure_ascii=False).encode())
    if geometry is not None:
        digest.update(shapely.to_wkb(geometry, byte_order=1))
    return f'"{digest.hexdigest()[:32]}"'


def etag_matches(if_match: str, etag: str) -> bool:
    """If-Match's comparison (RFC 9110 13.1.1): strong, one of a list, or * for any current feature."""
    tags = [tag.strip() for tag in if_match.split(",")]
    return "*" in tags or etag in tags


@dataclass(frozen=True)
class Edit:
    """One feature's change within a changeset. `op` is what the store does; `action` what the user did
    (create, replace, update, delete, revert, restore, import), kept in the version."""

    layer: str
    id: str
    op: str  # create | replace | delete
    properties: dict[str, Any] | None = None
    geometry: shapely.Geometry | None = None
    if_match: str | None = None  # the ETag the writer read; None only for create (the id must not be held)
    action: str = ""

    def __post_init__(self) -> None:
        if self.op not in ("create", "replace", "delete"):
            raise ValueError(f"unknown edit operation {self.op!r}")
        if self.layer not in LAYERS:
            raise ValueError(f"unknown layer {self.layer!r}")


@dataclass(frozen=True)
class Version:
    """A feature as one changeset left it. A deletion keeps the properties the feature had, and no geometry."""

    layer: str
    id: str
    seq: int  # 1: as seeded
    changeset: int
    action: str
    author: str
    at: datetime
    reason: str
    findings: list[dict[str, Any]]  # the soft rules it broke, as reported when it was written
    properties: dict[str, Any] | None
    geometry: shapely.Geometry | None

    @property
    def deleted(self) -> bool:
        return self.action == "delete"

    @property
    def etag(self) -> str | None:
        """The ETag the feature had after this version; None once deleted."""
        return None if self.deleted or self.properties is None else feature_etag(self.properties, self.geometry)


@dataclass(frozen=True)
class Changeset:
    id: int
    author: str
    at: datetime
    reason: str
    versions: list[Version]
    dataset_version: str  # the store's version once it was committed


@dataclass(frozen=True)
class Staged:
    """An import shown to its editor and not yet committed."""

    id: str
    author: str
    at: datetime
    payload: dict[str, Any]


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

    editable = True  # takes changesets (apply), keeping every version

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

    @abstractmethod
    def _history(self, write: bool = False) -> AbstractContextManager[History]:
        """The history tables in one transaction (a writing one when `write`)."""

    def _after_apply(self, history: History, edits: list[Edit]) -> None:  # noqa: B027 (most stores: nothing)
        """What the store keeps up to date besides the rows, within a changeset's transaction."""

    def current(self, layer: str, feature_id: str) -> tuple[Feature, str] | None:
        """The feature as the store holds it now, and its ETag; None when there is none."""
        with self._history() as history:
            return history.current(layer, feature_id)

    def apply(self, edits: list[Edit], author: str, reason: str,
              findings: Mapping[str, list[dict[str, Any]]] | None = None) -> Changeset:
        """Write the edits as one changeset, in one transaction: every one or none. Raises Conflict when a
        feature's ETag is not its edit's if_match, NotFound / AlreadyExists when an id is missing / held.
        `findings`: the soft-rule findings per feature id, kept with its version."""
        with self._history(write=True) as history:
            changeset = history.apply(edits, author, reason, findings)
            self._after_apply(history, edits)
            return changeset

    def versions(self, layer: str, feature_id: str) -> list[Version]:
        """Every version of a feature, oldest first; [] when the layer never held it."""
        with self._history() as history:
            return history.versions(layer, feature_id)

    def version_of(self, layer: str, feature_id: str, seq: int) -> Version | None:
        with self._history() as history:
            return history.version_of(layer, feature_id, seq)

    def changes(self, since: datetime | None = None, limit: int = 1000, after: int | None = None,
                through: int | None = None) -> list[Version]:
        """The versions written after the time `since` and in changesets numbered after `after` and up to
        `through` (each bound: none when None), oldest first, at most `limit`."""
        with self._history() as history:
            return history.changes(since, limit, after, through)

    def add_token(self, token: TokenRecord) -> None:
        """Keep an account's token (its salted hash; never the token)."""
        with self._history(write=True) as history:
            history.add_token(token)

    def tokens(self) -> list[TokenRecord]:
        """Every token, revoked and expired ones too, oldest first."""
        with self._history() as history:
            return history.tokens()

    def token(self, token_id: str) -> TokenRecord | None:
        """One token, read now: a revocation is seen by the next request on every instance."""
        with self._history() as history:
            return history.token(token_id)

    def revoke(self, name_or_token_id: str, at: datetime) -> int:
        """Revoke a token, or every token of an account; how many were revoked."""
        with self._history(write=True) as history:
            return history.revoke(name_or_token_id, at)

    def stage(self, staged: Staged) -> None:
        """Keep an import until its editor commits it (on any instance)."""
        with self._history(write=True) as history:
            history.stage(staged)

    def staged(self, staged_id: str) -> Staged | None:
        with self._history() as history:
            return history.staged(staged_id)

    def unstage(self, staged_id: str) -> None:
        """Forget a staged import (committed, or dropped)."""
        with self._history(write=True) as history:
            history.unstage(staged_id)

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
