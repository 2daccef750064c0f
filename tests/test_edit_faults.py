"""Faults on the write path (issue 13), against real `nbgis serve` processes on both stores.

kill -9 of the service, of a writer holding an open changeset and of PostgreSQL during a burst of writes: after the
restart every changeset is whole or absent, every acknowledged write is there, and the layers equal the latest
version of every feature. Two editors racing on one ETag: one wins, the others get 412. A revoked token is refused
by the very next write on every instance. Bad input: a 4xx naming the problem, and nothing written.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import psycopg
import pytest
import shapely

from bench import peers, postgres
from geo.accounts import issue_token
from geo.store.base import Edit, FeatureStore, Version, feature_etag, open_store

ROOT = Path(__file__).resolve().parent.parent
MAX_BYTES = 256 * 1024  # NBGIS_MAX_FEATURE_BYTES of the instances: a feature of the plan is at most ~12 KB
BURST_PLATFORMS = 3  # platforms the service is asked to move, a thread each (another thread creates and deletes)
CHURN_PLATFORMS = 3  # platforms the writer process moves together, in one changeset per round
CHURN_PAUSE_S = 0.5  # how long it holds each changeset open, written but not committed


# Processes and requests -------------------------------------------------------------------------------------------
@contextmanager
def serve(url: str, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`nbgis serve` on a free port of 127.0.0.1 over the store at url, in its own process group."""
    port = peers.free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "nbgis", "serve", "--store", url, "--port", str(port), "--log-level", "warning"]
    with peers.serve_process(command, {"NBGIS_MAX_FEATURE_BYTES": str(MAX_BYTES)}, ROOT, log,
                             f"{base}/collections") as process:
        yield base, process


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def said(self) -> str:
        return self.body.decode(errors="replace")


def call(base: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
         timeout: float = 30) -> Reply:
    """One request on a new connection; a dict body is sent as GeoJSON, bytes as they are, an iterator chunked."""
    host, port = base.removeprefix("http://").split(":")
    headers = dict(headers or {})
    if isinstance(body, dict):
        body = json.dumps(body, ensure_ascii=False).encode()
        headers.setdefault("Content-Type", "application/geo+json")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **{k.replace("_", "-"): v for k, v in headers.items()}}


def item(collection: str, feature_id: str) -> str:
    return f"/collections/{collection}/items/{feature_id}"


def editable(doc: dict[str, Any]) -> dict[str, Any]:
    """A feature as GET answered it, as a client sends it back."""
    return {"type": "Feature", "id": doc["id"], "geometry": doc["geometry"], "properties": doc["properties"]}


def add_token(store: FeatureStore, name: str, role: str, collections: tuple[str, ...] = (),
              districts: tuple[str, ...] = ()) -> str:
    text, record = issue_token(name, role, collections, districts)
    store.add_token(record)
    return text


def changeset_sizes(url: str) -> dict[int, int]:
    """Every changeset the store holds and how many versions it has, read with SQL (not through the store)."""
    sql = ("SELECT c.id, count(v.changeset) FROM nbgis_changesets c LEFT JOIN nbgis_versions v ON v.changeset = c.id "
           "GROUP BY c.id")
    if url.startswith("postgresql://"):
        with psycopg.connect(url) as db:
            return dict(db.execute(sql).fetchall())
    with sqlite3.connect(url) as db:
        return dict(db.execute(sql).fetchall())


# A burst of writes ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ack:
    """A write the service acknowledged (2xx): the version it says it made."""

    id: str
    seq: int
    changeset: int
    etag: str | None
    action: str


@dataclass
class Burst:
    """HTTP writers until stopped: a PUT thread per platform of `ids` moving it again and again, and a
    thread creating platforms and deleting the one it created before. Keeps every acknowledgement and status."""

    base: str
    token: str
    ids: list[str]
    acks: list[Ack] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    refused: int = 0  # requests that found no service (killed)
    cut: int = 0  # requests in flight when the service died
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Burst:
        docs = [call(self.base, "GET", item("platforms", fid)) for fid in self.ids]
        self.threads = [threading.Thread(target=self._replace, args=(editable(d.json()), d.headers["ETag"]))
                        for d in docs]
        self.threads.append(threading.Thread(target=self._create_and_delete, args=(editable(docs[0].json()),)))
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)

    def _send(self, method: str, path: str, body: Any = None, **headers: str) -> Reply | None:
        try:
            reply = call(self.base, method, path, body, bearer(self.token, **headers))
        except ConnectionRefusedError:  # the service is gone
            self.refused += 1
            self.stop.wait(0.05)
            return None
        except (OSError, http.client.HTTPException):  # the connection went with the service
            self.cut += 1
            return None
        self.statuses.append(reply.status)
        if 200 <= reply.status < 300:
            doc = reply.json()
            self.acks.append(Ack(doc["id"], doc["version"], doc["changeset"], doc["etag"], doc["action"]))
        elif reply.status == 503:
            self.stop.wait(0.05)
        return reply

    def _replace(self, doc: dict[str, Any], etag: str) -> None:
        lon, lat = doc["geometry"]["coordinates"]
        name = doc["properties"]["name_en"]
        n = 0
        while not self.stop.is_set():
            n += 1
            body = {**doc, "geometry": {"type": "Point", "coordinates": [lon + n * 1e-5, lat]},
                    "properties": {**doc["properties"], "name_en": f"{name} ({n})"}}
            reply = self._send("PUT", item("platforms", doc["id"]), body, If_Match=etag)
            if reply is not None and reply.status in (200, 412):  # a 412 names the ETag it holds now
                etag = reply.headers["ETag"]

    def _create_and_delete(self, template: dict[str, Any]) -> None:
        previous: tuple[str, str] | None = None
        n, run = 0, secrets.token_hex(3)  # ids no earlier burst on the store took
        while not self.stop.is_set():
            n += 1
            fid = f"platform-burst-{run}-{n}"
            body = {**template, "id": fid,
                    "properties": {**template["properties"], "id": fid, "name_zh": f"突发测试平台{n}",
                                   "name_en": f"Burst test platform {n}"}}
            created = self._send("POST", "/collections/platforms/items", body)
            if previous is not None:
                self._send("DELETE", item("platforms", previous[0]), If_Match=previous[1])
            previous = (fid, created.headers["ETag"]) if created is not None and created.status == 201 else None


def churn(url: str, ids: list[str], pause: float, run: str) -> None:
    """The writer process: rounds of one changeset moving every feature of `ids` (its reason: `run round N`), each
    held open for `pause` seconds once written; says `open N` then, and `committed N` once the store took it. Runs
    until killed."""
    store = open_store(url)
    state = {"round": 0}

    class Paused(type(store)):  # type: ignore[misc]
        def _after_apply(self, history: Any, layers: set[str]) -> None:  # inside the changeset's transaction
            super()._after_apply(history, layers)
            print(f"open {state['round']}", flush=True)
            time.sleep(pause)

    store.__class__ = Paused
    while True:
        state["round"] += 1
        try:
            edits = []
            for fid in ids:
                feature, etag = store.current("platforms", fid)  # type: ignore[misc]
                edits.append(Edit("platforms", fid, "replace", feature.properties,
                                  shapely.affinity.translate(feature.geometry, 1e-5), etag, "replace"))
            store.apply(edits, "churn", f"{run} round {state['round']}")
            print(f"committed {state['round']}", flush=True)
        except Exception as exc:  # PostgreSQL killed: try again once it is back
            print(f"failed {state['round']} {type(exc).__name__}", flush=True)
            time.sleep(0.1)


class Churn:
    """`churn` in a child process: `opened` is set whenever it holds a changeset open, `lines` is what it said."""

    def __init__(self, url: str, ids: list[str]) -> None:
        self.ids, self.run = ids, secrets.token_hex(3)
        code = f"from tests.test_edit_faults import churn; churn({url!r}, {ids!r}, {CHURN_PAUSE_S}, {self.run!r})"
        # Its stderr apart, in a file: the connection pool's warnings, written while PostgreSQL is down, once ran
        # into a line of stdout ("failed 12 StoreUnavailableerror ...") when the two shared the pipe.
        self.errors = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed by end())
        self.process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                                        stderr=self.errors, text=True)
        self.lines: list[str] = []
        self.opened = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.strip())
            if line.startswith("open"):
                self.opened.set()

    def rounds(self, word: str) -> set[int]:
        return {int(line.split()[1]) for line in self.lines if line.startswith(word + " ")}

    def kill_inside_a_changeset(self, after: int = 2) -> int:
        """kill -9 while it holds a changeset open (after `after` more commits); the round it was killed in."""
        deadline = time.monotonic() + 60
        start = len(self.rounds("committed"))
        while len(self.rounds("committed")) < start + after:
            assert self.process.poll() is None and time.monotonic() < deadline, self.lines[-5:]
            time.sleep(0.02)
        self.opened.clear()
        assert self.opened.wait(30), self.lines[-5:]
        self.process.kill()
        self.process.wait(10)
        self._reader.join(10)
        killed = max(self.rounds("open"))
        assert killed not in self.rounds("committed"), "the kill came after the commit: raise CHURN_PAUSE_S"
        return killed

    def end(self) -> None:
        with suppress(ProcessLookupError):
            self.process.kill()
        self.process.wait(10)
        self.errors.close()


def check_whole(url: str, burst: Burst, churned: Churn, killed_rounds: set[int]) -> FeatureStore:
    """The store after the crash: every changeset whole or absent, every acknowledged write kept, the layers equal
    to the latest versions."""
    store = open_store(url)
    sizes = changeset_sizes(url)
    history = store.changes(limit=1_000_000)
    assert min(sizes.values()) >= 1 and sum(sizes.values()) == len(history), "a changeset without its versions"
    by_changeset: dict[int, list[Version]] = {}
    for version in history:
        by_changeset.setdefault(version.changeset, []).append(version)
    rounds = []
    for versions in by_changeset.values():
        if versions[0].author == "churn":  # a writer process's: all its features, or none
            assert len({v.id for v in versions}) == len(versions) == CHURN_PLATFORMS
            run, _, n = versions[0].reason.split()
            if run == churned.run:
                assert sorted(v.id for v in versions) == sorted(churned.ids)
                rounds.append(int(n))
        elif versions[0].author == "burst":
            assert len(versions) == 1
    assert sorted(rounds) == sorted(churned.rounds("committed")) and not killed_rounds & set(rounds)
    for ack in burst.acks:  # what the service acknowledged is there, as it said
        kept = store.version_of("platforms", ack.id, ack.seq)
        assert kept is not None and (kept.changeset, kept.etag, kept.action) == (ack.changeset, ack.etag,
                                                                                 ack.action), ack
    latest: dict[tuple[str, str], Version] = {}
    for version in history:
        key = (version.layer, version.id)
        if key not in latest or version.seq > latest[key].seq:
            latest[key] = version
    rows = {(layer, f.id): feature_etag(f.properties, f.geometry)
            for layer, features in store.snapshot().features.items() for f in features}
    assert rows == {key: v.etag for key, v in latest.items() if not v.deleted}
    return store


def located_platforms(base: str) -> list[str]:
    """The platforms with a location (a few have none), as the service lists them."""
    features = call(base, "GET", "/collections/platforms/items?limit=10000").json()["features"]
    return [f["id"] for f in features if f["geometry"] is not None]


def served(base: str, store: FeatureStore, collection: str, layer: str, feature_id: str) -> Reply:
    """The feature as `base` serves it, once it serves what the store holds (within a second of a commit)."""
    held = store.current(layer, feature_id)
    assert held is not None
    deadline = time.monotonic() + 10  # (a second, unless the machine is very busy: bench/ measures it)
    while (reply := call(base, "GET", item(collection, feature_id))).headers["ETag"] != held[1]:
        assert time.monotonic() < deadline, (base, feature_id, reply.status, reply.headers["ETag"], held[1])
        time.sleep(0.05)
    return reply


def check_served(base: str, store: FeatureStore, ids: list[str], token: str) -> None:
    """An instance serves what the store holds, and takes the next write."""
    for fid in ids:
        served(base, store, "platforms", "platforms", fid)
    # A platform a burst created after its last write to `ids` may be a version later: wait for it as for them.
    held = sorted(f.id for f in store.snapshot().features["platforms"])
    deadline = time.monotonic() + 10
    while (listed := sorted(f["id"] for f in call(base, "GET", "/collections/platforms/items?limit=10000")
                            .json()["features"])) != held:
        assert time.monotonic() < deadline, (base, sorted(set(held) ^ set(listed)))
        time.sleep(0.05)
    reply = served(base, store, "platforms", "platforms", ids[0])
    before = store.versions("platforms", ids[0])[-1].seq
    written = call(base, "PUT", item("platforms", ids[0]), editable(reply.json()),
                   bearer(token, If_Match=reply.headers["ETag"]))
    assert written.status == 200 and written.json()["version"] == before + 1, written.said


# Two instances over one store -------------------------------------------------------------------------------------
class Pair:
    """Two `nbgis serve` instances over one store (a GeoPackage file, or a database of the session's PostgreSQL),
    and the tokens the tests write with."""

    def __init__(self, kind: str, url: str, folder: Path) -> None:
        self.kind, self.url, self.folder = kind, url, folder
        self.bases: list[str] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        self._stacks: list[ExitStack] = []
        self._started = 0

    def start(self, index: int) -> None:
        """Start instance `index` (again, when it was killed)."""
        stack = ExitStack()
        self._started += 1
        base, process = stack.enter_context(serve(self.url, self.folder / f"serve-{index}-{self._started}.log"))
        if index < len(self.bases):
            self._stacks[index].close()  # the killed one: reaped
            self.bases[index], self.processes[index], self._stacks[index] = base, process, stack
        else:
            self.bases.append(base)
            self.processes.append(process)
            self._stacks.append(stack)

    def __enter__(self) -> Pair:
        self.start(0)
        self.start(1)
        self.store = open_store(self.url)
        self.editor = add_token(self.store, "editor", "editor", ("*",))
        self.beilun = add_token(self.store, "beilun-bureau", "editor", ("subparks",), ("330206",))
        self.viewer = add_token(self.store, "viewer", "viewer")
        self.burst = add_token(self.store, "burst", "editor", ("platforms",))
        return self

    def __exit__(self, *exc: object) -> None:
        for stack in self._stacks:
            stack.close()

    def mark(self) -> int:
        """The last changeset now."""
        return max(v.changeset for v in self.store.changes(limit=1_000_000))


@pytest.fixture(scope="module", params=["sqlite", "postgis"])
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    folder = tmp_path_factory.mktemp(request.param)
    url = (str(folder / "store.gpkg") if request.param == "sqlite"
           else request.getfixturevalue("postgis_cluster").new_database())
    with Pair(request.param, url, folder) as running:
        yield running


# kill -9 ----------------------------------------------------------------------------------------------------------
def test_kill_9_of_an_instance_and_a_writer_mid_burst_leaves_whole_changesets(pair: Pair) -> None:
    base, process = pair.bases[0], pair.processes[0]
    located = located_platforms(base)
    burst_ids, churn_ids = located[:BURST_PLATFORMS], located[BURST_PLATFORMS:BURST_PLATFORMS + CHURN_PLATFORMS]
    churned = Churn(pair.url, churn_ids)
    try:
        with Burst(base, pair.burst, burst_ids) as burst:
            while len(burst.acks) < 10:
                assert process.poll() is None and not burst.refused
                time.sleep(0.05)
            killed = churned.kill_inside_a_changeset()
            time.sleep(0.2)  # the service's writers, held by the writer process's lock on a GeoPackage, go on
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
            time.sleep(0.3)  # the writers find it gone
    finally:
        churned.end()
    assert burst.cut and burst.refused and set(burst.statuses) <= {200, 201}, (burst.cut, set(burst.statuses))
    assert {a.action for a in burst.acks} >= {"replace", "create"}
    store = check_whole(pair.url, burst, churned, {killed})
    check_served(pair.bases[1], store, [*burst_ids, *churn_ids], pair.burst)  # the other instance lived on
    pair.start(0)
    check_served(pair.bases[0], store, [*burst_ids, *churn_ids], pair.burst)


@pytest.mark.parametrize("pair", ["postgis"], indirect=True)
def test_kill_9_of_postgresql_mid_burst_leaves_whole_changesets(pair: Pair, request: pytest.FixtureRequest) -> None:
    cluster: postgres.Cluster = request.getfixturevalue("postgis_cluster")
    located = located_platforms(pair.bases[0])
    burst_ids, churn_ids = located[:BURST_PLATFORMS], located[BURST_PLATFORMS:BURST_PLATFORMS + CHURN_PLATFORMS]
    churned = Churn(pair.url, churn_ids)
    try:
        with Burst(pair.bases[0], pair.burst, burst_ids) as burst:
            while len(burst.acks) < 10:
                time.sleep(0.05)
            churned.opened.clear()  # PostgreSQL dies with the writer's changeset open; it goes on once it is back
            assert churned.opened.wait(30)
            cluster.kill()
            crashed = max(churned.rounds("open"))
            try:  # down until a writer is told so: the pool waits CONNECT_TIMEOUT_S for a connection, then 503
                deadline = time.monotonic() + 30
                while 503 not in burst.statuses:
                    assert time.monotonic() < deadline, "no 503 while PostgreSQL is down"
                    time.sleep(0.05)
                acked_before = len(burst.acks)
            finally:
                cluster.start()
            deadline = time.monotonic() + 30
            while len(burst.acks) < acked_before + 10:
                assert time.monotonic() < deadline, "no write acknowledged after PostgreSQL restarted"
                time.sleep(0.05)
            killed = churned.kill_inside_a_changeset()
    finally:
        churned.end()
    assert all(p.poll() is None for p in pair.processes) and not burst.refused and not burst.cut
    assert crashed not in churned.rounds("committed") and churned.rounds("failed")
    failures = {line.split()[2] for line in churned.lines if line.startswith("failed ")}
    assert failures == {"StoreUnavailable"}, failures  # the store's own error for a database that went away
    assert 503 in burst.statuses and set(burst.statuses) <= {200, 201, 412, 503}, set(burst.statuses)
    store = check_whole(pair.url, burst, churned, {crashed, killed})
    for base in pair.bases:  # both instances came back by themselves
        check_served(base, store, [*burst_ids, *churn_ids], pair.burst)


# Two editors, one ETag --------------------------------------------------------------------------------------------
def test_two_editors_writing_one_feature_at_once_one_wins_the_others_get_412(pair: Pair) -> None:
    fid = located_platforms(pair.bases[0])[-1]
    reply = served(pair.bases[0], pair.store, "platforms", "platforms", fid)
    doc, etag = editable(reply.json()), reply.headers["ETag"]
    before = pair.store.versions("platforms", fid)
    writers = 8
    barrier = threading.Barrier(writers)

    def write(n: int) -> Reply:  # half PUT, half PATCH, on both instances
        name = f"written by editor {n}"
        base, headers = pair.bases[n % 2], bearer(pair.editor, If_Match=etag)
        if n % 4 < 2:
            body: Any = {**doc, "properties": {**doc["properties"], "name_en": name}}
            barrier.wait()
            return call(base, "PUT", item("platforms", fid), body, headers)
        body = json.dumps({"properties": {"name_en": name}}).encode()
        barrier.wait()
        return call(base, "PATCH", item("platforms", fid), body,
                    {**headers, "Content-Type": "application/merge-patch+json"})

    with ThreadPoolExecutor(writers) as pool:
        replies = list(pool.map(write, range(writers)))
    assert sorted(r.status for r in replies) == [200] + [412] * (writers - 1), [r.said for r in replies]
    winner = next(r for r in replies if r.status == 200)
    assert all(r.headers["ETag"] == winner.headers["ETag"] for r in replies)  # each 412 names the winner's ETag
    after = pair.store.versions("platforms", fid)
    assert len(after) == len(before) + 1 and after[-1].etag == winner.headers["ETag"]
    assert after[-1].properties is not None and after[-1].properties["name_en"] == (
        f"written by editor {replies.index(winner)}")
    for base in pair.bases:
        assert served(base, pair.store, "platforms", "platforms", fid).json()["properties"]["name_en"] == (
            after[-1].properties["name_en"])


def test_two_editors_creating_one_id_at_once_one_wins_the_others_get_409(pair: Pair) -> None:
    template = editable(call(pair.bases[0], "GET", item("platforms", located_platforms(pair.bases[0])[0])).json())
    fid = f"platform-race-{secrets.token_hex(3)}"
    writers = 6
    barrier = threading.Barrier(writers)

    def create(n: int) -> Reply:
        body = {**template, "id": fid, "properties": {**template["properties"], "id": fid,
                                                      "name_zh": f"竞争平台{n}", "name_en": f"Race {n}"}}
        barrier.wait()
        return call(pair.bases[n % 2], "POST", "/collections/platforms/items", body, bearer(pair.editor))

    with ThreadPoolExecutor(writers) as pool:
        replies = list(pool.map(create, range(writers)))
    assert sorted(r.status for r in replies) == [201] + [409] * (writers - 1), [r.said for r in replies]
    versions = pair.store.versions("platforms", fid)
    winner = next(n for n, r in enumerate(replies) if r.status == 201)
    assert [(v.seq, v.action) for v in versions] == [(1, "create")]
    assert versions[0].properties is not None and versions[0].properties["name_en"] == f"Race {winner}"


# Revocation -------------------------------------------------------------------------------------------------------
def test_a_revoked_token_is_refused_by_the_next_write_on_every_instance(pair: Pair) -> None:
    fid = located_platforms(pair.bases[0])[-2]
    token = add_token(pair.store, "bureau-leaving", "editor", ("platforms",))

    def rename(base: str, name: str) -> Reply:
        held = pair.store.current("platforms", fid)
        assert held is not None
        return call(base, "PATCH", item("platforms", fid), json.dumps({"properties": {"name_en": name}}).encode(),
                    bearer(token, If_Match=held[1], Content_Type="application/merge-patch+json"))

    for n, base in enumerate(pair.bases):
        assert rename(base, f"renamed on instance {n}").status == 200
    mark = pair.mark()
    done = subprocess.run([sys.executable, "-m", "nbgis", "user", "revoke", "bureau-leaving", "--store", pair.url],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and "revoked 1 token" in done.stdout, done.stderr
    for base in pair.bases:  # at once: no cache to expire, no restart
        refused = rename(base, "written after the revocation")
        assert refused.status == 401, refused.said
        assert refused.headers["WWW-Authenticate"] == 'Bearer realm="nbgis", error="invalid_token"'
        assert "was revoked at" in refused.json()["description"]
    assert pair.store.changes(after=mark) == []


# Bad input --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bad:
    what: str
    method: str
    path: str
    body: Any
    headers: dict[str, str]
    status: int
    says: tuple[str, ...]  # what the answer's description names


GAUSS_KRUGER = "http://www.opengis.net/def/crs/EPSG/0/4549"  # CGCS2000 / 3-degree Gauss-Kruger CM 120E: N, E


def bad_writes(pair: Pair, platform: dict[str, Any], platform_etag: str, subpark: dict[str, Any],
               subpark_etag: str) -> list[Bad]:
    fid = platform["id"]
    northing, easting = call(pair.bases[0], "GET", f"{item('platforms', fid)}?crs={GAUSS_KRUGER}").json()[
        "geometry"]["coordinates"]
    path = item("platforms", fid)
    editor = bearer(pair.editor, If_Match=platform_etag)
    props = platform["properties"]
    lon, lat = platform["geometry"]["coordinates"]
    huge = {**platform, "properties": {**props, "description_zh": "长" * (MAX_BYTES // 3 + 1)}}
    huge_bytes = json.dumps(huge).encode()
    patch = {**editor, "Content-Type": "application/merge-patch+json"}
    yinzhou = {**subpark, "id": "subpark-yinzhou", "properties": {**subpark["properties"], "id": "subpark-yinzhou"}}
    return [
        Bad("malformed JSON", "PUT", path, b'{"type": "Feature", "geometry": {', {**editor, "Content-Type":
            "application/geo+json"}, 400, ("not JSON",)),
        Bad("a polygon of one position", "PUT", path, {**platform, "geometry": {"type": "Polygon", "coordinates":
            [[lon, lat]]}}, editor, 400, ("not valid GeoJSON Polygon",)),
        Bad("a feature collection", "PUT", path, {"type": "FeatureCollection", "features": [platform]}, editor,
            400, ("not a GeoJSON Feature",)),
        Bad("a LineString for a sub-park", "PUT", item("subparks", subpark["id"]),
            {**subpark, "geometry": {"type": "LineString", "coordinates": [[121.85, 29.85], [121.9, 29.9]]}},
            bearer(pair.editor, If_Match=subpark_etag), 422, ("LineString where subpark needs MultiPolygon",
                                                             subpark["id"])),
        Bad("lon/lat sent as EPSG:4326 (lat/lon)", "PUT", path, platform,
            {**editor, "Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/4326>"}, 422,
            ("axes are swapped", "EPSG/0/4326 takes them in the order latitude, longitude")),
        Bad("lat/lon sent as CRS84 (lon/lat)", "PUT", path, {**platform, "geometry": {"type": "Point",
            "coordinates": [lat, lon]}}, editor, 422, ("axes are swapped", "CRS84 takes them in the order x (east")),
        Bad("easting/northing sent as EPSG:4549 (northing/easting)", "PUT", path, {**platform, "geometry": {
            "type": "Point", "coordinates": [easting, northing]}}, {**editor, "Content-Crs": f"<{GAUSS_KRUGER}>"},
            422, ("axes are swapped", "EPSG/0/4549 takes them in the order northing, easting")),
        Bad("a body over NBGIS_MAX_FEATURE_BYTES", "PUT", path, huge, editor, 413, (f"{MAX_BYTES:,}",)),
        Bad("a body over NBGIS_MAX_FEATURE_BYTES, chunked", "PUT", path,
            iter([huge_bytes[i:i + 16384] for i in range(0, len(huge_bytes), 16384)]),
            {**editor, "Content-Type": "application/geo+json"}, 413, (f"{MAX_BYTES:,}",)),
        Bad("a deeply nested body", "PUT", path, b'{"type": "Feature", "properties": ' + b'{"a": ' * 200 + b"1"
            + b"}" * 201, {**editor, "Content-Type": "application/geo+json"}, 400, ("nested deeper than",)),
        Bad("unknown properties", "PUT", path, {**platform, "properties": {**props, "colour": "red", "zz": 1}},
            editor, 422, ("colour, zz are not a property of platforms",)),
        Bad("an id that is taken", "POST", "/collections/platforms/items", platform, bearer(pair.editor), 409,
            (f"already holds a feature '{fid}'",)),
        Bad("another feature's body", "PUT", path, {**platform, "id": "platform-elsewhere", "properties": {
            **props, "id": "platform-elsewhere"}}, editor, 400, ("names 'platform-elsewhere'", "ids do not change")),
        Bad("a reason over 500 characters", "PUT", path, platform, {**editor, "X-Edit-Reason": "x" * 501}, 400,
            ("the reason is 501 characters",)),
        Bad("a merge patch removing a required property", "PATCH", path,
            json.dumps({"properties": {"name_zh": None}}).encode(), patch, 422, ("missing name_zh",)),
        Bad("no If-Match", "PUT", path, platform, bearer(pair.editor), 428, ("needs If-Match",)),
        Bad("a weak If-Match", "PUT", path, platform, bearer(pair.editor, If_Match=f"W/{platform_etag}"), 412,
            ("changed since it was read",)),
        Bad("a stale If-Match", "PUT", path, platform, bearer(pair.editor, If_Match=f'"{"0" * 32}"'), 412,
            ("changed since it was read",)),
        Bad("no token", "PUT", path, platform, {"If-Match": platform_etag}, 401, ("needs a bearer token",)),
        Bad("a wrong token", "PUT", path, platform, bearer(pair.editor[:-4] + "AAAA", If_Match=platform_etag), 401,
            ("is not valid here",)),
        Bad("a viewer's token", "PUT", path, platform, bearer(pair.viewer, If_Match=platform_etag), 403,
            ("a viewer's: it reads, it does not write",)),
        Bad("a Beilun editor's token on Yinzhou's sub-park", "PUT", item("subparks", "subpark-yinzhou"), yinzhou,
            bearer(pair.beilun, If_Match="*"), 403, ("writes features in 330206 only", "330212")),
        Bad("a Beilun editor's token on a platform", "PUT", path, platform, bearer(pair.beilun,
            If_Match=platform_etag), 403, ("writes subparks, not platforms",)),
        Bad("a new district", "POST", "/collections/districts/items", platform, bearer(pair.editor), 405,
            ("reference data",)),
        Bad("a district replaced", "PUT", item("districts", "330206"), platform, bearer(pair.editor, If_Match="*"),
            405, ("reference data",)),
        Bad("a Content-Crs the service does not offer", "PUT", path, platform,
            {**editor, "Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/2000>"}, 400, ("Content-Crs",)),
        Bad("a body that is not JSON", "PUT", path, b"name=x", {**editor, "Content-Type": "text/plain"}, 415,
            ("application/geo+json",)),
    ]


def test_bad_writes_get_a_4xx_naming_the_problem_and_write_nothing(pair: Pair) -> None:
    located = located_platforms(pair.bases[0])
    platform_reply = served(pair.bases[0], pair.store, "platforms", "platforms", located[0])
    subpark_reply = served(pair.bases[0], pair.store, "subparks", "parks", "subpark-beilun")
    platform, subpark = editable(platform_reply.json()), editable(subpark_reply.json())
    mark, version = pair.mark(), pair.store.version()
    for n, bad in enumerate(bad_writes(pair, platform, platform_reply.headers["ETag"], subpark,
                                       subpark_reply.headers["ETag"])):
        reply = call(pair.bases[n % 2], bad.method, bad.path, bad.body, bad.headers)
        assert reply.status == bad.status, (bad.what, reply.said)
        assert reply.headers["Content-Type"] == "application/json", bad.what
        description = reply.json()["description"]
        assert all(said in description for said in bad.says), (bad.what, description)
        if reply.status == 401:
            assert reply.headers["WWW-Authenticate"].startswith('Bearer realm="nbgis"'), bad.what
        if reply.status == 405:
            assert reply.headers["Allow"] == "GET, HEAD, OPTIONS", bad.what
        if reply.status == 412:
            assert reply.headers["ETag"] == platform_reply.headers["ETag"], bad.what
        assert pair.store.changes(after=mark) == [] and pair.store.version() == version, f"{bad.what}: written"
    for base in pair.bases:  # nothing changed either in what the instances serve
        for reply, path in ((platform_reply, item("platforms", platform["id"])),
                            (subpark_reply, item("subparks", subpark["id"]))):
            assert call(base, "GET", path).headers["ETag"] == reply.headers["ETag"]


def test_no_foreign_origin_may_write_from_a_browser(pair: Pair) -> None:
    """CORS: reads are open to every origin; a preflight for PUT, PATCH or DELETE, or for a request carrying the
    Authorization header a write needs, is refused, so a browser never sends another site's write."""
    origin = {"Origin": "https://elsewhere.example"}
    path = item("platforms", located_platforms(pair.bases[0])[0])
    read = call(pair.bases[0], "OPTIONS", path, headers={**origin, "Access-Control-Request-Method": "GET"})
    assert read.status == 200 and "GET" in read.headers["Access-Control-Allow-Methods"]
    for method in ("PUT", "PATCH", "DELETE"):
        preflight = call(pair.bases[0], "OPTIONS", path, headers={**origin, "Access-Control-Request-Method": method})
        assert preflight.status == 400 and method not in preflight.headers["Access-Control-Allow-Methods"]
    preflight = call(pair.bases[1], "OPTIONS", "/collections/platforms/items",
                     headers={**origin, "Access-Control-Request-Method": "POST",
                              "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status == 400 and "Disallowed CORS headers" in preflight.said
    assert "authorization" not in preflight.headers["Access-Control-Allow-Headers"].lower()
