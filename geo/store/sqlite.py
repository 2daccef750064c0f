"""The embedded store: one GeoPackage file (SQLite in WAL mode), made and seeded on first start.

Readers poll the dataset version in the file (a few microseconds a query), so an edit by any process, QGIS
included, reaches every instance on the machine within POLL_S.
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import shapely

from geo.store import schema
from geo.store.base import (
    LAYERS,
    SRID,
    Edit,
    Feature,
    FeatureStore,
    Snapshot,
    Status,
    StoreError,
    StoreUnavailable,
    check_layers,
    ordered,
)
from geo.store.history import Dialect, History

if TYPE_CHECKING:
    import sqlalchemy as sa

POLL_S = 0.2
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}  # by the header's envelope indicator (GeoPackage 2.1.3)


def gpkg_geometry(geometry: shapely.Geometry | None) -> bytes | None:
    """A geometry as GeoPackage binary: the GP header (little-endian, SRID, xy envelope) before its WKB."""
    if geometry is None:
        return None
    wkb = shapely.to_wkb(geometry, byte_order=1)
    if geometry.is_empty:
        return b"GP\x00\x11" + struct.pack("<i", SRID) + wkb  # empty flag, no envelope
    west, south, east, north = geometry.bounds
    return b"GP\x00\x03" + struct.pack("<i4d", SRID, west, east, south, north) + wkb


def gpkg_wkb(blob: bytes | None) -> bytes | None:
    """The WKB inside GeoPackage binary."""
    if blob is None:
        return None
    if blob[:2] != b"GP":
        raise StoreError("a geometry is not GeoPackage binary")
    return blob[8 + _ENVELOPE_BYTES[(blob[3] >> 1) & 0b111]:]


def _time_text(at: datetime) -> str:
    """A time as the store writes it: UTC, fixed width, so text order is time order."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


GEOPACKAGE = Dialect(param="?", json_param="?", geom_param="?", geom_column="{}", json_column="{}", row_lock="",
                     encode_geometry=gpkg_geometry, decode_wkb=gpkg_wkb, encode_time=_time_text,
                     decode_time=datetime.fromisoformat, unique_violation=sqlite3.IntegrityError)


class SQLiteStore(FeatureStore):
    def __init__(self, path: Path) -> None:
        super().__init__(f"sqlite:///{path}")
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        if not self.path.exists():
            raise StoreUnavailable(f"{self.path}: no such store file; `nbgis store init` makes one")
        connection = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
        connection.execute("PRAGMA busy_timeout = 30000")
        return connection

    @contextmanager
    def _transaction(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction on a fresh connection: readers see one committed state (WAL), writers wait their turn."""
        with closing(self._connect()) as connection:
            connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def _engine(self) -> sa.Engine:
        import sqlalchemy as sa

        return sa.create_engine(f"sqlite:///{self.path}", poolclass=sa.pool.NullPool)

    def upgrade(self) -> None:
        if self._quick_revision() == schema.HEAD:
            return  # nothing to migrate: Alembic is not even imported
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path)) as connection:  # WAL: readers never wait for a writer
            connection.execute("PRAGMA journal_mode = WAL")
        engine = self._engine()
        try:
            schema.upgrade(engine)
        finally:
            engine.dispose()

    def _quick_revision(self) -> str | None:
        """The revision in Alembic's version table, read with sqlite3; None without one."""
        if not self.path.exists():
            return None
        try:
            with closing(sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, timeout=30)) as connection:
                rows = connection.execute(f"SELECT version_num FROM {schema.VERSION_TABLE}").fetchall()
        except sqlite3.Error:
            return None
        return str(rows[0][0]) if len(rows) == 1 else None

    def _revision(self) -> str | None:
        if not self.path.exists():
            return None
        engine = self._engine()
        try:
            return schema.current(engine)
        finally:
            engine.dispose()

    def is_empty(self) -> bool:
        with self._transaction() as connection:
            return all(connection.execute(f"SELECT count(*) FROM {layer}").fetchone()[0] == 0 for layer in LAYERS)

    @contextmanager
    def init_lock(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def seeded(self) -> tuple[str | None, bool]:
        with self._transaction() as connection:
            digest, at, counter = connection.execute(
                "SELECT seed_digest, seed_counter, counter FROM nbgis_dataset").fetchone()
        return digest, at != counter

    def load(self, features: dict[str, list[Feature]], seed_digest: str | None = None) -> str:
        check_layers(features)
        with self._transaction(write=True) as connection:
            for layer, rows in ordered(features).items():
                connection.execute(f"DELETE FROM {layer}")
                connection.executemany(
                    f"INSERT INTO {layer} (id, properties, geom) VALUES (?, ?, ?)",
                    [(f.id, json.dumps(f.properties, ensure_ascii=False), gpkg_geometry(f.geometry)) for f in rows])
                self._extent(connection, layer)
            connection.execute("UPDATE nbgis_dataset SET seed_digest = ?, seed_counter = counter", (seed_digest,))
            History(connection.cursor(), GEOPACKAGE).seed(ordered(features))
            return _version(connection)[0]

    @staticmethod
    def _extent(connection: sqlite3.Connection | sqlite3.Cursor, layer: str) -> None:
        """gpkg_contents' bounds of the layer, which QGIS shows as its extent."""
        blobs = [row[0] for row in connection.execute(f"SELECT geom FROM {layer} WHERE geom IS NOT NULL")]
        geometries = shapely.from_wkb([gpkg_wkb(b) for b in blobs])
        bounds = shapely.total_bounds(geometries) if len(blobs) else [None] * 4
        connection.execute("UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ? WHERE table_name = ?",
                           (*(None if b is None else float(b) for b in bounds), layer))

    @contextmanager
    def _history(self, write: bool = False) -> Iterator[History]:
        try:
            with self._transaction(write) as connection:
                yield History(connection.cursor(), GEOPACKAGE)
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"{self.path}: {exc}") from exc

    def _after_apply(self, history: History, edits: list[Edit]) -> None:
        """gpkg_contents' bounds grown to hold the written geometries (a bound may stay wider than the features
        once one shrinks or goes: GeoPackage's extent is informative; a reload makes it tight again)."""
        for edit in edits:
            if edit.geometry is None or edit.geometry.is_empty:
                continue
            west, south, east, north = (float(v) for v in edit.geometry.bounds)
            history.cursor.execute(
                "UPDATE gpkg_contents SET min_x = min(coalesce(min_x, ?), ?), min_y = min(coalesce(min_y, ?), ?), "
                "max_x = max(coalesce(max_x, ?), ?), max_y = max(coalesce(max_y, ?), ?) WHERE table_name = ?",
                (west, west, south, south, east, east, north, north, edit.layer))

    def version(self) -> str:
        try:
            with closing(self._connect()) as connection:
                return _version(connection)[0]
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"{self.path}: {exc}") from exc

    def snapshot(self) -> Snapshot:
        with self._transaction() as connection:
            version, changed_at = _version(connection)
            features = {}
            for layer in LAYERS:
                rows = connection.execute(f"SELECT id, properties, geom FROM {layer} ORDER BY fid").fetchall()
                geometries = shapely.from_wkb([gpkg_wkb(geom) for _, _, geom in rows])
                features[layer] = [Feature(feature_id, json.loads(properties), geometry)
                                   for (feature_id, properties, _), geometry in zip(rows, geometries)]
        return Snapshot(version, changed_at, features)

    def status(self) -> Status:
        revision = self._revision()
        if revision is None:
            return Status(self.url, None, None, None, {})
        with self._transaction() as connection:
            version, changed_at = _version(connection)
            counts = {layer: connection.execute(f"SELECT count(*) FROM {layer}").fetchone()[0] for layer in LAYERS}
        return Status(self.url, revision, version, changed_at, counts)

    def watch(self, since: str, on_change: Callable[[str], None], on_health: Callable[[bool], None],
              stop: threading.Event) -> None:
        seen, healthy = since, True
        while not stop.wait(POLL_S):
            try:
                version = self.version()
                if not healthy:
                    healthy = True
                    on_health(True)
                if version != seen:
                    on_change(version)
                    seen = version  # only once served: a failed reload is tried again at the next poll
            except (sqlite3.Error, StoreUnavailable):
                if healthy:
                    healthy = False
                    on_health(False)


def _version(connection: sqlite3.Connection) -> tuple[str, datetime | None]:
    try:
        uid, counter, changed_at = connection.execute("SELECT uid, counter, changed_at FROM nbgis_dataset").fetchone()
    except sqlite3.OperationalError as exc:
        raise StoreError(f"the store has no schema ({exc}); `nbgis store init` makes it") from exc
    return f"{uid}.{counter}", None if changed_at is None else datetime.fromisoformat(changed_at)
