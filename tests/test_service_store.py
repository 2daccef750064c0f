"""The service over its stores: the same answers, byte for byte, from the files, the embedded GeoPackage and
PostGIS; two `nbgis serve` instances sharing one PostGIS that both serve a direct SQL edit within a second, while
no request in flight fails or mixes versions; and an outage of PostgreSQL (kill -9) answered with JSON 503s and
recovered from without a restart or a lost commit."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from email.message import Message
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from bench import peers, postgres
from geo.layers import Layers
from geo.seed import DATA_DIR, read_seed, seed_digest
from geo.store.base import Edit, open_store
from services import state
from services.app import create_app
from services.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PATHS = [
    "/", "/conformance", "/collections", "/api", "/industries", "/industries/biomedicine", "/stats", "/indicators",
    "/nearest?lon=121.55&lat=29.87&industry=new-materials", "/collections/subparks/items?f=html",
    "/collections/platforms/items?limit=10000", "/collections/districts/items?crs=http://www.opengis.net/def/crs/EPSG/0/4549",
    "/collections/corridor-units/items?filter=S_INTERSECTS(geometry,POINT(121.55 29.89))&sortby=-name_en",
    "/collections/subparks/items?industries=new-materials&sortby=area_km2",
    "/collections/innovation-nodes/items?district_adcode=330212", "/collections/subparks/items/subpark-yinzhou",
    "/collections/subparks/queryables", "/collections/platforms/schema", "/export?f=geojson&collections=subparks",
    "/locate?lon=121.55&lat=29.87",
]
STAMP = re.compile(rb'"timeStamp":"[^"]*"')


def answers(client: TestClient, collection_ids: list[str]) -> dict[str, tuple[int, bytes]]:
    paths = PATHS + [p for c in collection_ids for p in (f"/collections/{c}", f"/collections/{c}/items?limit=10000")]
    got = {}
    for path in paths:
        response = client.get(path)
        got[path] = (response.status_code, STAMP.sub(b"", response.content))
    return got


def test_answers_are_byte_identical_from_files_geopackage_and_postgis(
        client: TestClient, postgis_cluster: postgres.Cluster, tmp_path: Path) -> None:
    ids = [c["id"] for c in client.get("/collections").json()["collections"]]
    expected = answers(client, ids)
    assert all(status == 200 for status, _ in expected.values()), {p: s for p, (s, _) in expected.items()}
    for url in (str(tmp_path / "store.gpkg"), postgis_cluster.new_database()):
        with TestClient(create_app(settings=Settings(store=url))) as store_client:
            got = answers(store_client, ids)
            version = store_client.app.state.service.current.version
        assert version != "0" and re.fullmatch(r"[0-9a-f]{8}\.\d+", version)
        for path in expected:
            assert got[path] == expected[path], (url.split(":")[0], path)


def test_embedded_store_made_on_first_start_and_a_direct_edit_served(tmp_path: Path, layers: Layers) -> None:
    path = tmp_path / "var" / "nbgis.gpkg"
    with TestClient(create_app(settings=Settings(store=str(path)))) as c:
        assert path.is_file()  # made and seeded by the first start
        first = c.app.state.service.current.version
        assert c.get("/collections/platforms/items?limit=10000").json()["numberMatched"] == len(layers.platforms)
        import sqlite3
        with sqlite3.connect(path) as db:
            db.execute("DELETE FROM platforms WHERE fid = (SELECT max(fid) FROM platforms)")
        deadline = time.monotonic() + 2
        while c.app.state.service.current.version == first and time.monotonic() < deadline:
            time.sleep(0.02)
        assert c.app.state.service.current.version != first
        assert c.get("/collections/platforms/items?limit=10000").json()["numberMatched"] == len(layers.platforms) - 1


def get(url: str) -> tuple[int, bytes, Message]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers


@contextmanager
def instance(url: str, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`nbgis serve` on a free port over the store at url: its base URL and its process."""
    port = peers.free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "nbgis", "serve", "--store", url, "--port", str(port), "--log-level", "warning"]
    with peers.serve_process(command, {}, ROOT, log, f"{base}/collections") as process:
        yield base, process


@contextmanager
def instances(url: str, tmp_path: Path, n: int = 2) -> Iterator[list[str]]:
    """n `nbgis serve` processes on free ports, all over the store at url."""
    with ExitStack() as stack:
        yield [stack.enter_context(instance(url, tmp_path / f"serve-{i}.log"))[0] for i in range(n)]


ITEMS = "/collections/subparks/items?limit=2&sortby=seq&properties=name_en"


def names(body: bytes) -> list[str]:
    return [f["properties"]["name_en"] for f in json.loads(body)["features"]]


class Load:
    """Threads asking every instance for ITEMS until stopped; every answer kept with its instance, the time its
    request was sent and the time it was read, its status and body."""

    def __init__(self, bases: list[str], threads_per_instance: int = 2) -> None:
        self.seen: list[tuple[str, float, float, int, bytes]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(base,)) for base in bases
                         for _ in range(threads_per_instance)]

    def _run(self, base: str) -> None:
        while not self._stop.is_set():
            sent = time.monotonic()
            status, body, _ = get(base + ITEMS)
            self.seen.append((base, sent, time.monotonic(), status, body))

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)


def test_a_burst_of_edits_warms_only_the_version_it_leaves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Warming a version (search, locator, rules...) costs ~0.3 s of CPU and the GIL the requests need: in a
    burst of edits only the last version is warmed, once no newer one has come for WARM_SETTLE_S."""
    monkeypatch.setattr(state, "WARM_SETTLE_S", 2.0)  # wider than the burst below on a busy machine
    store = open_store(str(tmp_path / "store.gpkg"))
    store.init(lambda: read_seed(DATA_DIR), seed_digest(DATA_DIR))
    live = state.Live(store, DATA_DIR)
    live.start()
    try:
        fid = store.snapshot().features["platforms"][0].id
        served = []
        for n in range(3):
            current = store.current("platforms", fid)
            assert current is not None
            feature, etag = current
            renamed = {**feature.properties, "name_en": f"renamed {n}"}
            store.apply([Edit("platforms", fid, "replace", renamed, feature.geometry, etag, "update")], "test", "burst")
            live._changed(store.version())  # what the watch or a local write's loader does
            served.append(live.current)
        assert len({s.version for s in served}) == 3 and served[-1].version == store.version()
        deadline = time.monotonic() + 20
        while "search" not in served[-1].__dict__:  # cached_property: computed by the warm
            assert time.monotonic() < deadline, "the burst's last version was never warmed"
            time.sleep(0.05)
        assert not any("search" in s.__dict__ for s in served[:-1])
    finally:
        live.stop()


def test_two_instances_on_one_postgis_serve_a_sql_edit_within_a_second_under_load(
        postgis_cluster: postgres.Cluster, tmp_path: Path) -> None:
    url = postgis_cluster.new_database()
    with instances(url, tmp_path) as bases:
        old = names(get(bases[0] + ITEMS)[1])
        assert len(old) == 2 and all(names(get(base + ITEMS)[1]) == old for base in bases)
        with Load(bases) as load:
            time.sleep(1)
            with psycopg.connect(url) as db:  # two features in one transaction: no answer may show one of them
                db.execute("UPDATE parks SET properties = json_build_object('id', id, 'kind', 'subpark', 'seq', "
                           "(properties->>'seq')::int, 'name_en', 'renamed ' || id) WHERE properties->>'seq' IN "
                           "('1', '2')")
            committed = time.monotonic()
            time.sleep(2)
        new = names(get(bases[0] + ITEMS)[1])
        assert new == [f"renamed {name}" for name in
                       [f["id"] for f in json.loads(get(bases[0] + ITEMS.replace("&properties=name_en", ""))[1])
                        ["features"]]]
        assert all(names(get(base + ITEMS)[1]) == new for base in bases)
    assert len(load.seen) > 100
    assert all(status == 200 for _, _, _, status, _ in load.seen), {s for _, _, _, s, _ in load.seen}
    for base in bases:
        mine = sorted((sent, read, names(body)) for b, sent, read, _, body in load.seen if b == base)
        assert all(n in (old, new) for _, _, n in mine), "an answer mixed two versions"
        first_new = min(read for _, read, n in mine if n == new)
        assert all(n == new for sent, _, n in mine if sent > first_new), "an instance went back to the old version"
        # every request sent a second or more after the commit was answered from the new version
        late = [n for sent, _, n in mine if sent > committed + 1.0]
        assert late and all(n == new for n in late), (
            f"{base}: first new answer {first_new - committed:.2f} s after the commit")


def test_postgresql_killed_under_load_gives_json_503_then_recovers_with_every_commit(tmp_path: Path) -> None:
    if not postgres.available():
        pytest.skip("PostgreSQL 15 and PostGIS 3 are not installed")
    with postgres.cluster() as cluster, instances(cluster.dsn, tmp_path, n=1) as bases:
        with psycopg.connect(cluster.dsn) as db:
            db.execute("UPDATE parks SET properties = json_build_object('id', id, 'kind', 'subpark', 'seq', 1, "
                       "'name_en', 'committed before the crash') WHERE properties->>'seq' = '1'")
        deadline = time.monotonic() + 2
        while names(get(bases[0] + ITEMS)[1])[0] != "committed before the crash":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with Load(bases, threads_per_instance=2) as load:
            time.sleep(0.5)
            cluster.kill()
            killed = time.monotonic()
            deadline = killed + 5
            while get(bases[0] + ITEMS)[0] != 503:
                assert time.monotonic() < deadline, "no 503 while PostgreSQL is down"
                time.sleep(0.05)
            status, body, headers = get(bases[0] + "/collections")
            assert status == 503 and headers["Content-Type"] == "application/json"
            assert json.loads(body)["code"] == "StoreUnavailable" and headers["Retry-After"] == "1"
            cluster.start()  # crash recovery replays the WAL
            restarted = time.monotonic()
            while get(bases[0] + ITEMS)[0] != 200:
                assert time.monotonic() < restarted + 10, "the instance did not recover"
                time.sleep(0.05)
            time.sleep(0.5)
        assert names(get(bases[0] + ITEMS)[1])[0] == "committed before the crash"
    statuses = {status for _, _, _, status, _ in load.seen}
    assert statuses <= {200, 503} and 503 in statuses
    for _, _, _, status, body in load.seen:
        assert json.loads(body)["code" if status == 503 else "type"] in ("StoreUnavailable", "FeatureCollection")


def test_an_instance_killed_under_load_costs_nothing_the_others_or_a_new_one_serve(
        postgis_cluster: postgres.Cluster, tmp_path: Path) -> None:
    url = postgis_cluster.new_database()
    with instance(url, tmp_path / "a.log") as (a, doomed), instance(url, tmp_path / "b.log") as (b, _):
        assert get(a + ITEMS)[0] == 200
        with Load([b], threads_per_instance=2) as load:
            time.sleep(0.5)
            os.killpg(doomed.pid, signal.SIGKILL)  # the whole instance, workers and all, as a crash would
            doomed.wait(10)
            with psycopg.connect(url) as db:  # a commit while one instance is dead
                db.execute("UPDATE parks SET properties = json_build_object('id', id, 'kind', 'subpark', 'seq', 1, "
                           "'name_en', 'after the crash') WHERE properties->>'seq' = '1'")
            time.sleep(1.5)
        assert {status for _, _, _, status, _ in load.seen} == {200} and len(load.seen) > 20
        assert names(get(b + ITEMS)[1])[0] == "after the crash"
        with instance(url, tmp_path / "c.log") as (c, _):  # its replacement starts on the current version
            assert names(get(c + ITEMS)[1])[0] == "after the crash"
