"""The feature stores (geo.store) on both backends: seeding, snapshots that give back exactly what was seeded,
versions that move with every committed change and reach a watcher within a second, and files and tables that
GIS software reads (GDAL reads the GeoPackage; PostGIS holds SRID 4326 geometry columns with GiST indexes)."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pyogrio
import pytest
import shapely

from bench.postgres import Cluster
from geo.layers import build_layers, load_layers
from geo.seed import DATA_DIR, read_seed, seed_digest
from geo.store import schema
from geo.store.base import LAYERS, FeatureStore, StoreError, StoreUnavailable, open_store

ROOT = Path(__file__).resolve().parent.parent
SEED_COUNTS = {layer: len(json.loads((DATA_DIR / f"{layer}.geojson").read_text("utf-8"))["features"])
               for layer in LAYERS}


def seeded(url: str, data: Path = DATA_DIR) -> FeatureStore:
    store = open_store(url)
    assert store.init(lambda: read_seed(data), seed_digest(data)) == "seeded the new store"
    return store


def execute(store: FeatureStore, sql: str) -> None:
    """A change written to the store directly, as a GIS client or an administrator would."""
    if store.url.startswith("postgresql"):
        with psycopg.connect(store.url) as connection:
            connection.execute(sql)
    else:
        with sqlite3.connect(store.url.removeprefix("sqlite:///")) as connection:
            connection.execute(sql)


def test_init_seeds_once_and_status_counts(store_url: str) -> None:
    store = open_store(store_url)
    assert store.status().revision is None
    store = seeded(store_url)
    status = store.status()
    assert status.revision == schema.head() == schema.HEAD == "0002"
    assert status.counts == SEED_COUNTS and sum(status.counts.values()) > 80
    assert status.version == store.version() and status.changed_at is not None
    # a second start finds the store filled from the same seed: nothing is loaded again, the version stays
    assert store.init(lambda: pytest.fail("seeded twice"), seed_digest(DATA_DIR)) is None
    assert store.version() == status.version


def test_snapshot_gives_back_exactly_the_seed(store_url: str) -> None:
    snapshot = seeded(store_url).snapshot()
    files, stored = load_layers(DATA_DIR), build_layers(snapshot.features, DATA_DIR)
    for layer in LAYERS:
        a, b = getattr(files, layer), getattr(stored, layer)
        assert list(a.columns) == list(b.columns) and list(a.index) == list(b.index)
        assert a.drop(columns="geometry").to_json() == b.drop(columns="geometry").to_json()
        for x, y in zip(a.geometry.values, b.geometry.values, strict=True):  # every coordinate, bit for bit
            assert (x is None and y is None) or shapely.equals_exact(x, y, tolerance=0)
    # the key order of each feature's properties is the file's (json, not jsonb, in PostGIS)
    raw = json.loads((DATA_DIR / "parks.geojson").read_text("utf-8"))["features"]
    assert [list(f.properties) for f in snapshot.features["parks"]] == [list(f["properties"]) for f in raw]


def test_a_direct_edit_moves_the_version_and_reaches_a_watcher_within_a_second(store_url: str) -> None:
    store = seeded(store_url)
    before = store.version()
    seen: list[tuple[float, str]] = []
    health: list[bool] = []
    stop = threading.Event()
    watcher = threading.Thread(target=store.watch, args=(before, lambda v: seen.append((time.monotonic(), v)),
                                                         health.append, stop))
    watcher.start()
    try:
        time.sleep(0.3)
        assert seen == []  # nothing changed yet
        written = time.monotonic()
        execute(store, "UPDATE platforms SET id = id || '-x' WHERE fid = (SELECT min(fid) FROM platforms)")
        while not seen and time.monotonic() - written < 2:
            time.sleep(0.01)
    finally:
        stop.set()
        watcher.join(5)
    assert seen, "the watcher never saw the change"
    assert seen[0][1] == store.version() != before
    assert seen[0][0] - written < 1.0
    assert health == []
    first = store.snapshot().features["platforms"][0]
    assert first.id.endswith("-x")


def test_reseeded_when_the_seed_changes_but_never_over_an_edit(store_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    store = seeded(store_url, data)
    doc = json.loads((data / "platforms.geojson").read_text("utf-8"))
    doc["features"] = doc["features"][:-1]  # the data folder loses a platform
    (data / "platforms.geojson").write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    assert store.init(lambda: read_seed(data), seed_digest(data)).startswith("reseeded")
    assert store.status().counts["platforms"] == SEED_COUNTS["platforms"] - 1
    execute(store, "DELETE FROM districts WHERE fid = (SELECT max(fid) FROM districts)")  # an edit in the store
    (data / "platforms.geojson").write_text(json.dumps({**doc, "features": doc["features"][:-1]}), "utf-8")
    assert store.init(lambda: read_seed(data), seed_digest(data)) is None  # the edit wins over the seed
    assert store.status().counts == {**SEED_COUNTS, "platforms": SEED_COUNTS["platforms"] - 1,
                                     "districts": SEED_COUNTS["districts"] - 1}


def test_the_embedded_store_is_a_geopackage_gdal_reads(tmp_path: Path) -> None:
    path = tmp_path / "store.gpkg"
    seeded(str(path))
    layers = {name: kind for name, kind in pyogrio.list_layers(path)}
    assert set(LAYERS) <= set(layers)
    for layer in LAYERS:
        frame = pyogrio.read_dataframe(path, layer=layer)
        assert len(frame) == SEED_COUNTS[layer] and frame.crs.to_epsg() == 4326
        assert frame["id"].tolist() == [f.id for f in read_seed(DATA_DIR)[layer]]
    parks = pyogrio.read_dataframe(path, layer="parks")
    files = load_layers(DATA_DIR).parks
    assert all(shapely.equals_exact(a, b, 0) for a, b in zip(parks.geometry.values, files.geometry.values))
    assert pyogrio.read_info(path, layer="parks")["total_bounds"] == pytest.approx(files.total_bounds)


def test_postgis_tables_are_what_qgis_opens(postgis_cluster: Cluster) -> None:
    url = postgis_cluster.new_database()
    seeded(url)
    with psycopg.connect(url) as connection:
        columns = connection.execute("SELECT f_table_name, type, srid FROM geometry_columns ORDER BY 1").fetchall()
        indexes = connection.execute("SELECT tablename FROM pg_indexes WHERE indexdef LIKE '%USING gist%'"
                                     ).fetchall()
        counts = {layer: connection.execute(f"SELECT count(*) FROM {layer} WHERE ST_SRID(geom) = 4326").fetchone()[0]
                  for layer in LAYERS}
        labels = connection.execute("SELECT kind, name_zh FROM parks ORDER BY fid LIMIT 1").fetchone()
    # the layers, and every version of their features (history QGIS can open too)
    assert sorted(columns) == sorted((layer, "GEOMETRY", 4326) for layer in (*LAYERS, "nbgis_versions"))
    assert sorted(t for (t,) in indexes) == sorted(LAYERS)
    first = read_seed(DATA_DIR)["parks"][0].properties
    assert labels == (first["kind"], first["name_zh"])  # columns QGIS can style and label by
    nulls = sum(1 for f in read_seed(DATA_DIR)["platforms"] if f.geometry is None)
    assert counts == {**SEED_COUNTS, "platforms": SEED_COUNTS["platforms"] - nulls}


def test_bad_urls_and_unreachable_stores_say_so(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not a store URL"):
        open_store("mysql://x/y")
    with pytest.raises(StoreUnavailable, match="no such store file"):
        open_store(tmp_path / "missing.gpkg").version()
    with pytest.raises(StoreUnavailable):
        open_store("postgresql://nobody:secret@127.0.0.1:1/none").version()
    assert open_store("postgresql://nobody:secret@127.0.0.1:1/none").url_shown == "postgresql://nobody:***@127.0.0.1:1/none"


def nbgis(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nbgis", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_cli_store_init_status_and_export_read_the_store(store_url: str, tmp_path: Path) -> None:
    before = nbgis("store", "status", "--store", store_url)
    assert before.returncode == 0 and "none (run nbgis store init)" in before.stdout
    init = nbgis("store", "init", "--store", store_url)
    assert init.returncode == 0, init.stderr
    assert "seeded the new store" in init.stderr
    lines = dict(line.split(None, 1) for line in init.stdout.splitlines())
    assert lines["schema"] == schema.head() and re.fullmatch(r"[0-9a-f]{8}\.\d+", lines["version"])
    assert {layer: int(lines[layer].split()[0]) for layer in LAYERS} == SEED_COUNTS
    # an edit in the store is what every command reads: export sees one platform fewer
    execute(open_store(store_url), "DELETE FROM platforms WHERE fid = (SELECT max(fid) FROM platforms)")
    out = tmp_path / "platforms.geojson"
    done = nbgis("export", "platforms", "--format", "geojson", "--store", store_url, "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert len(json.loads(out.read_text("utf-8"))["features"]) == SEED_COUNTS["platforms"] - 1
    after = dict(line.split(None, 1) for line in nbgis("store", "status", "--store", store_url).stdout.splitlines())
    assert after["version"] != lines["version"] and int(after["platforms"].split()[0]) == SEED_COUNTS["platforms"] - 1


def test_cli_store_errors_are_one_line() -> None:
    done = nbgis("store", "status", "--store", "postgresql://nobody@127.0.0.1:1/none")
    assert done.returncode == 2 and done.stderr.startswith("nbgis: error: postgresql://nobody@127.0.0.1:1/none")
    done = nbgis("store", "status", "--store", "mysql://x/y")
    assert done.returncode == 2 and "not a store URL" in done.stderr
