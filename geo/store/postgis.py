"""PostgreSQL + PostGIS: the store several instances share, and GIS staff open in QGIS.

Each layer is a table with a geometry(Geometry, 4326) column and a GiST index. A statement trigger moves the
dataset version and NOTIFYs the channel nbgis_dataset on commit; every instance LISTENs, so a change reaches
all of them within milliseconds, and checks the version every HEARTBEAT_S besides (a lost connection is noticed
there, and nothing is missed while it was down).
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
import psycopg_pool
import shapely
import sqlalchemy as sa

from geo.store import schema
from geo.store.base import (
    LAYERS,
    SRID,
    Feature,
    FeatureStore,
    Snapshot,
    Status,
    StoreError,
    StoreUnavailable,
    check_layers,
    ordered,
    redacted,
)
from geo.store.history import Dialect, History

CHANNEL = "nbgis_dataset"
HEARTBEAT_S = 0.25
CONNECT_TIMEOUT_S = 3
RETRY_S = 0.5
INIT_LOCK = 0x6E62676973  # 'nbgis': the advisory lock of `init`
POOL_SIZE = 8  # connections a process keeps for reads and writes (the watch has its own)


def _same(value: Any) -> Any:
    return value


POSTGIS = Dialect(param="%s", json_param="%s::json", geom_param=f"ST_GeomFromWKB(%s, {SRID})",
                  geom_column="ST_AsBinary({})", json_column="{}::text", row_lock=" FOR UPDATE",
                  encode_geometry=lambda geometry: None if geometry is None else shapely.to_wkb(geometry),
                  decode_wkb=lambda value: None if value is None else bytes(value),
                  encode_time=_same, decode_time=_same, unique_violation=psycopg.errors.UniqueViolation)


class PostGISStore(FeatureStore):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        # psycopg takes libpq's URL; SQLAlchemy (for Alembic) names its driver in the scheme
        self.dsn = "postgresql://" + url.split("://", 1)[1]
        self.sqlalchemy_url = "postgresql+psycopg://" + url.split("://", 1)[1]
        self._pool: psycopg_pool.ConnectionPool | None = None
        self._pool_lock = threading.Lock()

    def _pooled(self) -> psycopg_pool.ConnectionPool:
        """Connections kept open, made on first use in this process: a new one costs ~10 ms, more than a write.
        Each is checked as it is taken, so one broken by a database restart is replaced, not used."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = psycopg_pool.ConnectionPool(
                    self.dsn, min_size=1, max_size=POOL_SIZE, open=False, timeout=CONNECT_TIMEOUT_S,
                    kwargs={"connect_timeout": CONNECT_TIMEOUT_S}, check=psycopg_pool.ConnectionPool.check_connection,
                    name="nbgis-store")
                self._pool.open(wait=False)
                weakref.finalize(self, self._pool.close)  # a store dropped unclosed gives its connections back
            return self._pool

    def _connect(self, autocommit: bool = False) -> psycopg.Connection:
        try:
            return psycopg.connect(self.dsn, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_S)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"{redacted(self.url)}: {str(exc).strip().splitlines()[-1]}") from exc

    @contextmanager
    def _transaction(self, read_only: bool = True) -> Iterator[psycopg.Cursor]:
        """One transaction on a pooled connection; REPEATABLE READ, so every query of a read sees the same
        committed state."""
        try:
            with self._pooled().connection() as connection:
                connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ if read_only else None
                connection.read_only = read_only
                with connection.transaction(), connection.cursor() as cursor:
                    yield cursor
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise StoreUnavailable(f"{redacted(self.url)}: {str(exc).strip().splitlines()[-1]}") from exc
        except psycopg.errors.UndefinedTable as exc:
            raise StoreError(f"the store has no schema ({exc}); `nbgis store init` makes it") from exc

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def _engine(self) -> sa.Engine:
        return sa.create_engine(self.sqlalchemy_url, poolclass=sa.pool.NullPool,
                                connect_args={"connect_timeout": CONNECT_TIMEOUT_S})

    def upgrade(self) -> None:
        engine = self._engine()
        try:
            schema.upgrade(engine)
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(f"{redacted(self.url)}: {exc.orig}") from exc
        finally:
            engine.dispose()

    def is_empty(self) -> bool:
        with self._transaction() as cursor:
            for layer in LAYERS:
                cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {layer})")
                if cursor.fetchone()[0]:  # type: ignore[index]
                    return False
        return True

    @contextmanager
    def init_lock(self) -> Iterator[None]:
        with self._connect(autocommit=True) as connection:  # a session lock, released when the connection ends
            connection.execute("SELECT pg_advisory_lock(%s)", (INIT_LOCK,))
            yield

    def seeded(self) -> tuple[str | None, bool]:
        with self._transaction() as cursor:
            cursor.execute("SELECT seed_digest, seed_counter, counter FROM nbgis_dataset")
            digest, at, counter = cursor.fetchone()  # type: ignore[misc]
        return digest, at != counter

    def load(self, features: dict[str, list[Feature]], seed_digest: str | None = None) -> str:
        check_layers(features)
        with self._transaction(read_only=False) as cursor:
            for layer, rows in ordered(features).items():
                cursor.execute(f"DELETE FROM {layer}")
                # hex EWKB (SRID 4326), as COPY's text format takes a geometry; None stays NULL
                ewkb = shapely.to_wkb(shapely.set_srid([f.geometry for f in rows], SRID), hex=True, include_srid=True)
                with cursor.copy(f"COPY {layer} (id, properties, geom) FROM STDIN") as copy:
                    for f, geometry in zip(rows, ewkb):
                        copy.write_row((f.id, json.dumps(f.properties, ensure_ascii=False), geometry))
            cursor.execute("UPDATE nbgis_dataset SET seed_digest = %s, seed_counter = counter", (seed_digest,))
            History(cursor, POSTGIS).seed(ordered(features))
            return _version(cursor)[0]

    @contextmanager
    def _history(self, write: bool = False) -> Iterator[History]:
        with self._transaction(read_only=not write) as cursor:
            yield History(cursor, POSTGIS)

    def version(self) -> str:
        with self._transaction() as cursor:
            return _version(cursor)[0]

    def snapshot(self) -> Snapshot:
        with self._transaction() as cursor:
            version, changed_at = _version(cursor)
            features = {}
            for layer in LAYERS:
                # properties::text is the json as stored, byte for byte (key order kept)
                cursor.execute(f"SELECT id, properties::text, ST_AsBinary(geom) FROM {layer} ORDER BY fid")
                rows = cursor.fetchall()
                geometries = shapely.from_wkb([None if geom is None else bytes(geom) for _, _, geom in rows])
                features[layer] = [Feature(feature_id, json.loads(properties), geometry)
                                   for (feature_id, properties, _), geometry in zip(rows, geometries)]
        return Snapshot(version, changed_at, features)

    def status(self) -> Status:
        engine = self._engine()
        try:
            revision = schema.current(engine)
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(f"{redacted(self.url)}: {exc.orig}") from exc
        finally:
            engine.dispose()
        if revision is None:
            return Status(redacted(self.url), None, None, None, {})
        with self._transaction() as cursor:
            version, changed_at = _version(cursor)
            counts = {}
            for layer in LAYERS:
                cursor.execute(f"SELECT count(*) FROM {layer}")
                counts[layer] = cursor.fetchone()[0]  # type: ignore[index]
        return Status(redacted(self.url), revision, version, changed_at, counts)

    def watch(self, since: str, on_change: Callable[[str], None], on_health: Callable[[bool], None],
              stop: threading.Event) -> None:
        seen, healthy = since, True
        while not stop.is_set():
            try:
                with self._connect(autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    # after LISTEN, so a change committed in between is seen by this read or notified
                    version = _version(connection.cursor())[0]
                    if not healthy:
                        healthy = True
                        on_health(True)
                    while not stop.is_set():
                        if version != seen:
                            on_change(version)
                            seen = version  # only once served: a failed reload is tried again
                        for _ in connection.notifies(timeout=HEARTBEAT_S, stop_after=1):
                            pass  # the payload may be older than a later commit: read the version itself
                        version = _version(connection.cursor())[0]
            except (psycopg.Error, StoreUnavailable):
                if healthy:
                    healthy = False
                    on_health(False)
                stop.wait(RETRY_S)


def _version(cursor: psycopg.Cursor) -> tuple[str, datetime | None]:
    cursor.execute("SELECT uid || '.' || counter, changed_at FROM nbgis_dataset")
    row = cursor.fetchone()
    if row is None:
        raise StoreError("nbgis_dataset is empty; `nbgis store upgrade` repairs it")
    return row[0], row[1]
