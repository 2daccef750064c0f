"""Writes: OGC API - Features Part 4 on this service against pygeoapi's on its PostgreSQL provider.

Three systems, each two instances over one store: pygeoapi 0.24 (PostgreSQL provider, `editable: true`) twice
over one table; ours (`nbgis serve`) twice over one PostGIS database in the same cluster; ours twice over one
GeoPackage file. All start from the plan's sub-parks and innovation nodes (data/parks.geojson; pygeoapi's
tables have one column per property, lists as jsonb). The same client (bench.write_client) writes to each:

- creates: N clients POST new innovation nodes (100 m squares in Haishu, clear of the sub-parks) for a fixed time;
- updates: each client PUTs one of its nodes back again and again, moved a few metres, renamed;
- propagation: one client PUTs on instance A and reads instance B every 5 ms until the new name shows there.

Ours checks every write against the plan's rules (a refused write is a 422, counted as an error) and needs an
editor's token and If-Match; pygeoapi checks nothing and asks for neither. Runs alternate between the systems
(A B C A B C) so that the shared machine's load falls on all of them alike.
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import shapely
from pyproj import Geod

from bench import peers, postgres
from bench.report import Row
from bench.serving import settle
from bench.write_client import Endpoint, Owned, Propagation, Writes, count, creates, merged, propagation, updates
from geo.layers import build_layers
from geo.seed import DATA_DIR
from geo.store.base import open_store

ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS = {"subparks": "subpark", "innovation-nodes": "innovation-node"}  # collection: kind in parks.geojson
WRITTEN = "innovation-nodes"
TEMPLATE = "node-haishu-moon-lake"  # new nodes copy its properties (its quotes of the plan stay verbatim)
HOST_ADCODE = "330203"  # Haishu, the template's district: new nodes lie inside it
SIDE_M, STEP_M, SPACING_M, CLEARANCE_M = 100.0, 3.0, 400.0, 200.0
PYGEOAPI = "pygeoapi (PostgreSQL)"
OURS = {"PostGIS": "ours (PostGIS store)", "GeoPackage": "ours (GeoPackage store)"}
TARGET_VISIBLE_MS = 1000
WARM_UP_S = 3.0
SETTLE_S = 2.0  # after a run, up to this long for the machine to go idle (ours rebuilds its snapshot per write)
PROPAGATION_BUDGET_S = 30.0  # per system: fewer than the samples asked for when each takes over 0.3 s
VALIDATION = {PYGEOAPI: "validates nothing", OURS["PostGIS"]: "validates every write against the plan's rules",
              OURS["GeoPackage"]: "validates every write against the plan's rules"}
GEOD = Geod(ellps="WGS84")


def seed_features(data_dir: Path = DATA_DIR) -> dict[str, list[dict[str, Any]]]:
    """The sub-parks and innovation nodes as data/parks.geojson has them, per collection."""
    features = json.loads((data_dir / "parks.geojson").read_text(encoding="utf-8"))["features"]
    return {c: [f for f in features if f["properties"]["kind"] == kind] for c, kind in COLLECTIONS.items()}


def _metres(lat: float) -> tuple[float, float]:
    """Degrees of longitude and latitude per metre at this latitude."""
    east = GEOD.fwd(121.5, lat, 90, 1000)[0] - 121.5
    north = GEOD.fwd(121.5, lat, 0, 1000)[1] - lat
    return east / 1000, north / 1000


def sites(data_dir: Path = DATA_DIR) -> list[shapely.Polygon]:
    """SIDE_M squares on a SPACING_M grid over Haishu's land, each CLEARANCE_M or more from every sub-park."""
    districts = json.loads((data_dir / "districts.geojson").read_text(encoding="utf-8"))["features"]
    host = next(shapely.geometry.shape(f["geometry"]) for f in districts
                if f["properties"].get("adcode") == HOST_ADCODE)
    land = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in
                              json.loads((data_dir / "land.geojson").read_text(encoding="utf-8"))["features"]])
    dx, dy = _metres(host.centroid.y)
    parks = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in seed_features(data_dir)["subparks"]])
    room = host.intersection(land).buffer(-SIDE_M * dx).difference(parks.buffer((CLEARANCE_M + SIDE_M) * dx))
    west, south, east, north = room.bounds
    half_x, half_y = SIDE_M * dx / 2, SIDE_M * dy / 2
    found = []
    y = south
    while y < north:
        x = west
        while x < east:
            if room.contains(shapely.Point(x, y)):
                found.append(shapely.box(x - half_x, y - half_y, x + half_x, y + half_y))
            x += SPACING_M * dx
        y += SPACING_M * dy
    return found


class Features:
    """The features the benchmark writes: new innovation nodes, and the same moved and renamed."""

    def __init__(self, data_dir: Path = DATA_DIR) -> None:
        nodes = seed_features(data_dir)[WRITTEN]
        self.template = next(f["properties"] for f in nodes if f["id"] == TEMPLATE)
        self.sites = sites(data_dir)
        self.dx = _metres(self.sites[0].centroid.y)[0]

    def new(self, fid: str, index: int) -> dict[str, Any]:
        """A new node: the template's properties (its district, industries, quotes of the plan) on a square of
        its own, named and described as the benchmark's."""
        properties = {**copy.deepcopy(self.template), "id": fid, "name_en": f"Benchmark node {fid}", "targets": [],
                      "geometry_method": f"a {SIDE_M:.0f} m square placed by the write benchmark (bench/writes.py); "
                                         "not the plan's data"}
        square = self.sites[index % len(self.sites)]
        return {"type": "Feature", "id": fid, "geometry": shapely.geometry.mapping(square), "properties": properties}

    def maker(self, prefix: str, clients: int) -> Callable[[int, int], dict[str, Any]]:
        """For the create runs: client k's n-th new node, id PREFIX-k-n, each client on squares of its own."""
        return lambda k, n: self.new(f"{prefix}-{k}-{n}", n * clients + k)

    def moved(self, feature: dict[str, Any], n: int) -> dict[str, Any]:
        """The feature STEP_M east (n odd) or west (n even) of where it is, renamed revision n."""
        shift = STEP_M * self.dx * (1 if n % 2 else -1)
        geometry = shapely.affinity.translate(shapely.geometry.shape(feature["geometry"]), xoff=shift)
        properties = {**feature["properties"], "name_en": f"Benchmark node {feature['id']} rev {n}"}
        return {**feature, "geometry": shapely.geometry.mapping(geometry), "properties": properties}


def _pygeoapi_tables(cluster: postgres.Cluster, folder: Path) -> dict[str, str]:
    """The collections loaded into tables of pygeoapi's own (one column per property); collection: table."""
    folder.mkdir(parents=True, exist_ok=True)
    tables, sql = {}, ["CREATE EXTENSION IF NOT EXISTS postgis;\n"]
    for collection, features in seed_features().items():
        table = tables[collection] = collection.replace("-", "_")
        path = folder / f"{table}.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
                        encoding="utf-8")
        sql.append(peers.load_sql(table, path))
    cluster.psql("".join(sql))
    return tables


@contextmanager
def pygeoapi_pair(work: Path, cluster: postgres.Cluster) -> Iterator[Endpoint]:
    """Two pygeoapi instances, one uvicorn worker each, over the same PostgreSQL tables, editable."""
    tables = _pygeoapi_tables(cluster, work / "writes" / "pygeoapi")
    connection = {"host": "127.0.0.1", "port": cluster.port, "dbname": cluster.database, "user": postgres.PG_USER,
                  "search_path": ["public"]}
    bounds = [120.8, 28.8, 122.3, 30.5]
    resources = {c: peers.pygeoapi_resource(c, bounds, {"name": "PostgreSQL", "data": connection, "table": t,
                                                         "geom_field": "geom", "editable": True})
                 for c, t in tables.items()}
    with ExitStack() as stack:
        urls = [stack.enter_context(peers.pygeoapi_process(work, work / "writes" / f"pygeoapi-{n}", resources, 1,
                                                           f"pygeoapi-postgresql-{n}")) for n in "ab"]
        yield Endpoint(PYGEOAPI, urls[0], urls[1], WRITTEN)


def _nbgis(*args: str, store: str) -> str:
    """`nbgis ARGS` on the store; its standard output."""
    done = subprocess.run([sys.executable, "-m", "nbgis", *args], env=_env(store), cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"nbgis {' '.join(args)} exited with {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def _env(store: str) -> dict[str, str]:
    return {**os.environ, "NBGIS_STORE": store, "NBGIS_LOG_LEVEL": "warning", "PYTHONPATH": str(ROOT)}


def editor_token(store: str) -> str:
    """A new editor of the written collection, made with `nbgis user add`; the token it prints once."""
    said = _nbgis("user", "add", "bench-editor", "--role", "editor", "--collections", WRITTEN, store=store)
    found = re.search(r"nbgis_[0-9a-f]{8,16}_[A-Za-z0-9_-]+", said)
    if not found:
        raise RuntimeError(f"`nbgis user add` printed no token: {said[-500:]}")
    return found.group(0)


@contextmanager
def ours_pair(work: Path, store: str, kind: str) -> Iterator[Endpoint]:
    """Two `nbgis serve` instances (one worker each) over one store, seeded by the first; an editor's token."""
    with ExitStack() as stack:
        urls = []
        for n in "ab":
            port = peers.free_port()
            url = f"http://127.0.0.1:{port}"
            command = [sys.executable, "-m", "nbgis", "serve", "--port", str(port), "--workers", "1"]
            log = work / "logs" / f"writes-ours-{kind.lower()}-{n}.log"
            stack.enter_context(peers.serve_process(command, _env(store), ROOT, log, f"{url}/collections"))
            urls.append(url)
        yield Endpoint(OURS[kind], urls[0], urls[1], WRITTEN, token=editor_token(store), etags=True)


def _fresh_gpkg(work: Path) -> str:
    path = work / "writes" / "store" / "nbgis.gpkg"
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in path.parent.glob("nbgis.gpkg*"):
        old.unlink()
    return str(path)


async def _measure(endpoints: list[Endpoint], features: Features, clients: int, seconds: float, rounds: int,
                   samples: int, settle_s: float, log: Callable[[str], Any]) -> dict[str, dict[str, Any]]:
    """Creates, then updates, each run A B C A B C; then propagation on each system in turn."""
    results: dict[str, dict[str, Any]] = {e.name: {"creates": [], "updates": []} for e in endpoints}
    owned: dict[str, list[Owned]] = {}
    for e in endpoints:  # writes and reads before the clock: pygeoapi reflects its tables on a first request
        warm = await creates(e, features.maker("bench-warm", 1), 1, WARM_UP_S)
        results[e.name]["made"] = warm.ok + warm.late
        await count(e.second, WRITTEN)
    for r in range(rounds):
        for e in endpoints:
            run = await creates(e, features.maker(f"bench-{r}", clients), clients, seconds)
            results[e.name]["creates"].append(run)
            results[e.name]["made"] += run.ok + run.late
            owned.setdefault(e.name, [c[0] for c in run.created if c])
            _log_run(log, "creates", e, run)
            settle(settle_s)
    for _ in range(rounds):
        for e in endpoints:
            if not owned[e.name]:
                raise RuntimeError(f"writes: {e.name} created nothing ({results[e.name]['creates'][0].error_text()})")
            run = await updates(e, owned[e.name], features.moved, seconds)
            results[e.name]["updates"].append(run)
            _log_run(log, "updates", e, run)
            settle(settle_s)
    for e in endpoints:
        seen = results[e.name]["propagation"] = await propagation(e, owned[e.name][0], features.moved, samples,
                                                                  PROPAGATION_BUDGET_S)
        log(f"writes {'propagation':<12} {e.name:<26} p50 {seen.percentile(50):7.1f} ms  p99 "
            f"{seen.percentile(99):7.1f} ms  unseen {seen.unseen}  refused {dict(seen.failed)}")
        settle(settle_s)
        # every create answered 2xx is there, on the other instance too
        results[e.name]["listed"] = await count(e.second, WRITTEN)
    return results


def _log_run(log: Callable[[str], Any], kind: str, e: Endpoint, run: Writes) -> None:
    log(f"writes {kind:<12} {e.name:<26} {run.rate:8.1f} writes/s  p50 {run.percentile(50):7.1f} ms  "
        f"p99 {run.percentile(99):7.1f} ms  errors {run.error_text()}")


def run(work: Path, smoke: bool = False, clients: int = 8, seconds: float = 5, rounds: int = 2, samples: int = 200,
        log: Callable[[str], Any] = print) -> list[Row]:
    """Smoke mode writes to ours on the GeoPackage store alone, briefly: it checks the harness, not the peers."""
    features = Features()
    if smoke:
        clients, seconds, rounds, samples = 2, 3, 1, 5
    with ExitStack() as stack:
        stores: dict[str, str] = {}
        if not smoke:
            peers.apt_install(*postgres.PACKAGES)
            cluster = stack.enter_context(postgres.cluster(work, peers.DATABASE))
            stores["PostGIS"] = cluster.new_database()
        stores["GeoPackage"] = _fresh_gpkg(work)
        endpoints = [stack.enter_context(pygeoapi_pair(work, cluster))] if not smoke else []
        endpoints += [stack.enter_context(ours_pair(work, store, kind)) for kind, store in stores.items()]
        results = asyncio.run(_measure(endpoints, features, clients, seconds, rounds, samples,
                                       0 if smoke else SETTLE_S, log))
        for kind, store in stores.items():
            name = OURS[kind]
            results[name]["rebuild"] = rebuild_seconds(store, 1 if smoke else 3)
            log(f"writes {'rebuild':<12} {name:<26} {results[name]['rebuild'][0]:.2f} s, then warm-up "
                f"{results[name]['rebuild'][1]:.2f} s")
    return _rows(results, clients, seconds, rounds, samples, smoke)


def rebuild_seconds(store: str, repeats: int) -> tuple[float, float]:
    """What an instance does for each new version before it serves it (services.state.Live._build): read the
    snapshot, build the layers and the collections; then, after the swap, warm the derived answers. Medians, s."""
    from services.state import Service  # the service, imported only where it is measured

    opened = open_store(store)
    builds, warm_ups = [], []
    try:
        for repeat in range(repeats + 1):  # the first, which imports and caches, untimed
            started = time.perf_counter()
            snapshot = opened.snapshot()
            service = Service.build(build_layers(snapshot.features, DATA_DIR), snapshot.version, warm=False)
            built = time.perf_counter()
            service.warm()
            if repeat:
                builds.append(built - started)
                warm_ups.append(time.perf_counter() - built)
    finally:
        opened.close()
    return statistics.median(builds), statistics.median(warm_ups)


def _listed(result: dict[str, Any]) -> str:
    """Whether the second instance lists every node: the seeded ones and every create answered 2xx."""
    seeded = len(seed_features()[WRITTEN])
    expected = seeded + result["made"]
    verdict = "all there" if result["listed"] == expected else f"DIFFERS from the {expected} expected"
    return f"instance B lists {result['listed']} nodes after ({seeded} seeded + {result['made']} created: {verdict})"


def _rows(results: dict[str, dict[str, Any]], clients: int, seconds: float, rounds: int, samples: int,
          smoke: bool = False) -> list[Row]:
    rows = []
    peer = results.get(PYGEOAPI)
    setting = f"{clients} clients, {rounds} x {seconds:g} s, one uvicorn worker per instance"
    for kind, label in (("creates", "create (POST)"), ("updates", "replace (PUT, moved 3 m)")):
        theirs = merged(peer[kind]) if peer else None
        for name in (n for n in results if n != PYGEOAPI):
            ours = merged(results[name][kind])
            note = (f"{setting}; ours {VALIDATION[name]} (422s count as errors) and needs a token and If-Match; "
                    f"write p50/p99 ms {ours.percentile(50):.0f}/{ours.percentile(99):.0f}; errors {ours.error_text()}")
            if kind == "creates":
                note += f"; {_listed(results[name])}"
            if theirs is not None and peer is not None:
                note += (f"; {PYGEOAPI} {VALIDATION[PYGEOAPI]}, p50/p99 ms {theirs.percentile(50):.0f}/"
                         f"{theirs.percentile(99):.0f}, errors {theirs.error_text()}")
                if kind == "creates":
                    note += f", {_listed(peer)}"
            rows.append(Row("writes", f"{label} [{name}]", "writes/s", ours.rate, PYGEOAPI if theirs else "",
                            theirs.rate if theirs else math.nan, ">=1" if theirs else "", note))
    their_seen: Propagation | None = peer["propagation"] if peer else None
    for name in (n for n in results if n != PYGEOAPI):
        seen: Propagation = results[name]["propagation"]
        note = (f"{len(seen.visible_ms)} writes (of {samples} asked; at most {PROPAGATION_BUDGET_S:.0f} s) on "
                f"instance A, one at a time, each polled on B every 5 ms from A's 2xx until "
                f"it shows; p50 {seen.percentile(50):.0f} ms, not seen within 5 s: {seen.unseen}, "
                f"writes refused: {sum(seen.failed.values())}")
        if their_seen is not None:
            note += (f"; {PYGEOAPI} (both instances read the table per request) p50 "
                     f"{their_seen.percentile(50):.1f} ms, p99 {their_seen.percentile(99):.1f} ms")
        rows.append(Row("writes", f"visible on a second instance [{name}]", "p99 ms", seen.percentile(99),
                        target="" if smoke else f"<{TARGET_VISIBLE_MS}", note=note))
        build, warm_up = results[name]["rebuild"]
        rows.append(Row("writes", f"one version rebuilt [{name}]", "s", build,
                        note=f"what every instance does for each new version before serving it (the store's "
                             f"snapshot, the layers, the collections), median, in the benchmark's process after "
                             f"the runs; then {warm_up:.2f} s warming the derived answers, off the watch thread; "
                             f"reads on the writing instance wait for the version it wrote (up to 10 s)"))
    return rows
