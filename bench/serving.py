"""Serving: this service against pygeoapi (GeoJSON and GeoPackage providers) and tipg (PostGIS), on loopback.

Ours runs three ways: over the layers read from the files (as before stores), and over each store, the embedded
GeoPackage and PostGIS (the same cluster tipg reads): every way serves a snapshot from memory, so the stores'
rows are compared with the first (target: at least 90 % of its rate), and ours on PostGIS with tipg on PostGIS.

Every server runs under uvicorn with the same number of worker processes and serves the same three
collections (sub-parks, platforms, the synthetic points). Before any load, each query is asked once of every
server and the features returned are counted, so a fast wrong answer cannot win. wrk then runs each case
against each server in turn, A B C D A B C D, and between runs the benchmark waits for the machine to go
idle, so a slow server's queued requests do not eat into the next server's run.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import peers
from bench.ceiling_app import ANSWER_ENV
from bench.data import SYNTHETIC, Dataset
from bench.load import Load, combine, run_wrk
from bench.ours_app import STORE_ENV, SYNTHETIC_ENV
from bench.report import Row

ROOT = Path(__file__).resolve().parent.parent
OURS = "ours"
CEILING = "uvicorn's ceiling"
STORES = {"GeoPackage": "ours (GeoPackage store)", "PostGIS": "ours (PostGIS store)"}
PEERS = (("pygeoapi", ">=10"), ("tipg", ">=2"))  # name prefix and the target of ours/peer in requests/s
IDLE = 0.15  # the machine's busy fraction below which the next run may start
BACKLOG_S = 10.0  # a server still busy this long after its run is restarted
# Yinzhou, Beilun and Zhenhai: some of the sub-parks and of the located platforms. The platforms without a site
# match every bbox, as OGC API - Features Part 1 requires (/req/core/fc-bbox-response); tipg leaves them out.
BBOX_PLAN = "121.45,29.75,121.95,30.0"
BBOX_SYNTHETIC = "121.55,29.85,121.6,29.9"  # about a hundred of the synthetic points


@dataclass(frozen=True)
class Case:
    label: str
    collection: str | None  # our collection id; None for the collection list
    path: str  # with {cid} for the server's collection id and {fid} for a feature id

    def url(self, server: peers.Server, feature_ids: dict[str, str]) -> str:
        path = self.path.format(cid=server.collections.get(self.collection or "", ""),
                                fid=feature_ids.get(self.collection or "", ""))
        if server.query:
            path += ("&" if "?" in path else "?") + server.query
        return server.url + path


def cases(feature_ids: dict[str, str]) -> list[Case]:
    found = [Case("collection list", None, "/collections")]
    for name in ("subparks", "platforms"):
        found += [Case(f"{name} items?limit=100", name, "/collections/{cid}/items?limit=100"),
                  Case(f"{name} items?bbox", name, f"/collections/{{cid}}/items?bbox={BBOX_PLAN}&limit=100"),
                  Case(f"{name} items/{{id}}", name, "/collections/{cid}/items/{fid}")]
    found += [Case("100k points items?limit=1000", SYNTHETIC, "/collections/{cid}/items?limit=1000"),
              Case("100k points items?bbox", SYNTHETIC, f"/collections/{{cid}}/items?bbox={BBOX_SYNTHETIC}&limit=1000")]
    return found


@contextmanager
def ours_server(work: Path, datasets: dict[str, Dataset], workers: int, store: str = "", name: str = OURS
                ) -> Iterator[peers.Server]:
    """Our service under uvicorn, as `nbgis serve` runs it, with the synthetic collection added (bench.ours_app);
    over the layers' files, or over `store` (a GeoPackage path or a PostGIS URL, seeded on first start)."""
    port = peers.free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "uvicorn", "bench.ours_app:create", "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    env = {SYNTHETIC_ENV: str(datasets[SYNTHETIC].gpkg), "PYTHONPATH": str(ROOT), STORE_ENV: store,
           "NBGIS_LOG_LEVEL": "warning"}
    log = work / "logs" / f"{name.replace(' ', '-').replace('(', '').replace(')', '')}.log"
    with peers.serve_process(command, env, ROOT, log, f"{url}/collections"):
        yield peers.Server(name, url, {name: name for name in datasets})


@contextmanager
def ceiling_server(work: Path, answer: Path, workers: int) -> Iterator[peers.Server]:
    """bench.ceiling_app answering with the saved answer, under the same uvicorn command as ours."""
    port = peers.free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "uvicorn", "bench.ceiling_app:app", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers), "--log-level", "warning"]
    with peers.serve_process(command, {ANSWER_ENV: str(answer), "PYTHONPATH": str(ROOT)}, ROOT,
                             work / "logs" / "ceiling.log", url):
        yield peers.Server(CEILING, url, {})


def _fresh_store(work: Path) -> str:
    """A GeoPackage path where no store is yet, so the store is seeded from this run's data."""
    path = work / "store" / "nbgis.gpkg"
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in path.parent.glob("nbgis.gpkg*"):
        old.unlink()
    return str(path)


def _answer_size(server: peers.Server, url: str) -> str:
    """What one request returns, to compare servers: the number of features or collections, or the id."""
    status, body = peers.get(url)
    if status != 200:
        return f"HTTP {status}"
    doc: dict[str, Any] = json.loads(body)
    if "features" in doc:
        return f"{len(doc['features'])} features"
    if "collections" in doc:
        return f"{len(doc['collections'])} collections"
    return f"feature {doc.get('id')}"


def _cpu_busy(interval: float = 0.5) -> float:
    """The machine's busy fraction over interval, from /proc/stat."""
    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    total, idle = sample()
    time.sleep(interval)
    total_after, idle_after = sample()
    return 1 - (idle_after - idle) / max(total_after - total, 1)


def settle(limit_s: float) -> bool:
    """Wait until the machine is idle, up to limit_s; whether it is."""
    deadline = time.monotonic() + limit_s
    while _cpu_busy() > IDLE:
        if time.monotonic() > deadline:
            return False
    return True


class Running:
    """A server that can be started afresh: one still working through requests that wrk has given up on
    would otherwise steal the CPU from the next server's run."""

    def __init__(self, start: Callable[[], AbstractContextManager[peers.Server]]) -> None:
        self._start = start
        self._stack = ExitStack()
        self.server = self._stack.enter_context(start())
        self.restarts = 0

    def restart(self) -> None:
        self._stack.close()
        self._stack = ExitStack()
        self.server = self._stack.enter_context(self._start())
        self.restarts += 1

    def close(self) -> None:
        self._stack.close()


def run(work: Path, datasets: dict[str, Dataset], smoke: bool = False, workers: int = 1, seconds: int = 5,
        connections: int = 16, rounds: int = 2, log: Callable[[str], Any] = print) -> list[Row]:
    """Smoke mode serves ours alone, briefly: it checks the harness, not the peers."""
    feature_ids = {"subparks": "subpark-beilun", "platforms": _located_platform(datasets["platforms"]),
                   SYNTHETIC: "synthetic-000000"}
    with ExitStack() as stack:
        def running(start: Callable[[], AbstractContextManager[peers.Server]]) -> Running:
            server = Running(start)
            stack.callback(server.close)
            return server

        servers = [running(lambda: ours_server(work, datasets, workers)),
                   running(lambda: ours_server(work, datasets, workers, _fresh_store(work), STORES["GeoPackage"]))]
        if not smoke:
            try:
                peers.ensure_pygeoapi(work)
                servers += [running(lambda: peers.pygeoapi_server(work, datasets, "geojson", workers)),
                            running(lambda: peers.pygeoapi_server(work, datasets, "gpkg", workers))]
            except RuntimeError as exc:  # e.g. no Python 3.12 on the machine: the other peers still run
                log(f"serving: pygeoapi left out: {exc}")
            cluster = stack.enter_context(peers.postgis(work, datasets))
            servers.append(running(lambda: peers.tipg_server(work, cluster.dsn, workers)))
            ours_db = cluster.new_database()  # our tables beside tipg's, in the same cluster
            servers.append(running(lambda: ours_server(work, datasets, workers, ours_db, STORES["PostGIS"])))
        results: dict[tuple[str, str], Load] = {}
        answers: dict[tuple[str, str], str] = {}
        for case in cases(feature_ids):
            if not smoke:
                settle(BACKLOG_S)
            for s in servers:
                answers[case.label, s.server.name] = _answer_size(s.server, case.url(s.server, feature_ids))
            runs: dict[str, list[Load]] = {s.server.name: [] for s in servers}
            for _ in range(rounds):
                for s in servers:
                    runs[s.server.name].append(run_wrk(case.url(s.server, feature_ids), work, seconds, connections))
                    if not smoke and not settle(BACKLOG_S):
                        log(f"serving {s.server.name} still busy {BACKLOG_S:.0f} s after its run: restarting it")
                        s.restart()
                        settle(BACKLOG_S)
            for s in servers:
                load = results[case.label, s.server.name] = combine(runs[s.server.name])
                log(f"serving {case.label:<30} {s.server.name:<22} {load.rate:9.1f} req/s  p50 {load.p50_ms:8.1f} ms"
                    f"  p99 {load.p99_ms:8.1f} ms  errors {load.errors}  ({answers[case.label, s.server.name]})")
        names = [s.server.name for s in servers]
        restarts = {s.server.name: s.restarts for s in servers if s.restarts}
        revalidated = _conditional(servers[0].server, cases(feature_ids)[1].url(servers[0].server, feature_ids), work,
                                   seconds, connections, rounds, smoke, log)
        listed = cases(feature_ids)[0]
        pygeoapi = [s.server for s in servers if s.server.name.startswith("pygeoapi")]
        bounded = _ceiling(servers[0].server, pygeoapi, listed, feature_ids, work, workers, seconds, connections,
                           rounds, smoke, log)
    rows = [*_rows(cases(feature_ids), names, results, answers, workers, connections, seconds), *revalidated,
            *bounded]
    if restarts:
        log("serving restarts, after a run left a backlog: " + ", ".join(f"{n} {k}" for n, k in restarts.items()))
    return rows


def _conditional(server: peers.Server, url: str, work: Path, seconds: int, connections: int, rounds: int,
                 smoke: bool, log: Callable[[str], Any]) -> list[Row]:
    """Ours on one URL three ways, alternated run by run: the answer built each time (the request says
    `Cache-Control: no-cache`), the answer kept serialized (a plain repeated request), and a revalidation
    (`If-None-Match` with the answer's ETag: a 304)."""
    request = urllib.request.Request(url, headers={"Accept": peers.ACCEPT})
    with urllib.request.urlopen(request, timeout=60) as response:
        etag = response.headers["ETag"]
    ways = {"built": (url, ("Cache-Control: no-cache",)), "kept": (url, ()),
            "304": (url, (f"If-None-Match: {etag}",))}
    loads = _alternated(ways, work, seconds, connections, rounds, smoke)
    built, kept, revalidated = (loads[way] for way in ways)
    log(f"serving {'conditional GET':<30} ours: 304 {revalidated.rate:9.1f} req/s, kept {kept.rate:9.1f}, "
        f"built {built.rate:9.1f}")
    errors = built.errors + kept.errors + revalidated.errors
    return [Row("serving", "subparks items?limit=100, repeated", "req/s", revalidated.rate,
                "ours, answer built each time", built.rate, target="" if smoke else ">=2",
                note=f"If-None-Match with the answer's ETag: a 304, before anything is built; p99 ms "
                     f"{revalidated.p99_ms:.1f} against {built.p99_ms:.1f}; errors {errors}"),
            Row("serving", "subparks items?limit=100, kept answer", "req/s", kept.rate,
                "ours, answer built each time", built.rate,
                note=f"a plain repeated request, answered from the answers kept serialized; p99 ms "
                     f"{kept.p99_ms:.1f}; errors {errors}")]


def _ceiling(ours: peers.Server, pygeoapi: list[peers.Server], case: Case, feature_ids: dict[str, str], work: Path,
             workers: int, seconds: int, connections: int, rounds: int, smoke: bool, log: Callable[[str], Any]
             ) -> list[Row]:
    """Ours on one query against the same answer (status, headers, body) from bench.ceiling_app, and pygeoapi,
    alternated run by run: how far ours is from what the HTTP stack itself allows, and whether 10x pygeoapi is
    within that at all (all three measured in the same minutes)."""
    url = case.url(ours, feature_ids)
    request = urllib.request.Request(url, headers={"Accept": peers.ACCEPT})
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = {"headers": list(response.headers.items()), "body": response.read().decode("utf-8")}
    saved = work / "ceiling-answer.json"
    saved.write_text(json.dumps(answer), encoding="utf-8")
    with ceiling_server(work, saved, workers) as bare:
        status, body = peers.get(bare.url + url.removeprefix(ours.url))
        assert status == 200 and body == answer["body"].encode("utf-8"), "the ceiling must give ours' answer"
        loads = _alternated({s.name: (case.url(s, feature_ids), ()) for s in [ours, bare, *pygeoapi]}, work,
                            seconds, connections, rounds, smoke)
    mine, ceiling = loads[OURS], loads[CEILING]
    peer = max((loads[s.name] for s in pygeoapi), key=lambda load: load.rate, default=None)
    log(f"serving {case.label + ', ceiling':<30} ours {mine.rate:9.1f} req/s, the same answer from a bare ASGI app "
        f"{ceiling.rate:9.1f}" + ("" if peer is None else f", pygeoapi {peer.rate:9.1f}"))
    tenfold = "" if peer is None else (f"; pygeoapi in the same runs {peer.rate:,.0f} req/s (the better provider): "
                                       f"ours {mine.rate / peer.rate:.1f}x it, and 10x it would be "
                                       f"{10 * peer.rate / ceiling.rate:.2f}x the ceiling")
    return [Row("serving", f"{case.label}, against the HTTP stack's ceiling", "req/s", mine.rate, CEILING,
                ceiling.rate, note=f"the ceiling: bench.ceiling_app, a bare ASGI app answering ours' bytes and headers "
                                   f"({len(answer['body']):,} bytes) under the same uvicorn, no framework{tenfold}; "
                                   f"errors {mine.errors + ceiling.errors}")]


def _alternated(targets: dict[str, tuple[str, tuple[str, ...]]], work: Path, seconds: int, connections: int,
                rounds: int, smoke: bool) -> dict[str, Load]:
    """wrk on each named (URL, extra headers) in turn, `rounds` times over (A B C A B C), waiting for an idle
    machine between runs; each name's runs combined."""
    runs: dict[str, list[Load]] = {name: [] for name in targets}
    for _ in range(rounds):
        for name, (url, headers) in targets.items():
            runs[name].append(run_wrk(url, work, seconds, connections, headers))
            if not smoke:
                settle(BACKLOG_S)
    return {name: combine(loads) for name, loads in runs.items()}


def _count(answer: str) -> int | None:
    """The number in an answer such as "35 features" or "3 collections"; None for a single feature or an error."""
    first = answer.split(" ", 1)[0]
    return int(first) if first.isdigit() else None


def _located_platform(dataset: Dataset) -> str:
    doc = json.loads(dataset.geojson.read_text(encoding="utf-8"))
    return next(f["id"] for f in doc["features"] if f["geometry"])


def _rows(all_cases: list[Case], names: list[str], results: dict[tuple[str, str], Load],
          answers: dict[tuple[str, str], str], workers: int, connections: int, seconds: int) -> list[Row]:
    rows = []
    setting = f"{workers} worker(s), {connections} connections"
    for case in all_cases:
        ours = results[case.label, OURS]
        note = f"{setting}; ours {answers[case.label, OURS]}, errors {ours.errors}"
        # The better pygeoapi provider of the two, per query, and tipg
        best = [(max(group, key=lambda n: results[case.label, n].rate), target) for prefix, target in PEERS
                if (group := [n for n in names if n.startswith(prefix)])]
        if not best:
            rows.append(Row("serving", case.label, "req/s", ours.rate, note=note))
        for variant in (n for n in names if n in STORES.values()):  # each store against the files' service
            load = results[case.label, variant]
            same = answers[case.label, variant] == answers[case.label, OURS]
            rows.append(Row("serving", f"{case.label} [{variant}]", "req/s", load.rate, f"{OURS} (no store)",
                            ours.rate, ">=0.9" if same else "", f"{variant}: {answers[case.label, variant]}"
                            f"{'' if same else ' (DIFFERS: not compared)'}, errors {load.errors}"))
        pairs = [(OURS, peer, target) for peer, target in best]
        if STORES["PostGIS"] in names:  # the same database behind both
            pairs += [(STORES["PostGIS"], peer, target) for peer, target in best if peer.startswith("tipg")]
        for mine, peer, target in pairs:
            load, theirs = results[case.label, mine], results[case.label, peer]
            ours_count, their_count = _count(answers[case.label, mine]), _count(answers[case.label, peer])
            same = answers[case.label, peer] == answers[case.label, mine]
            # A ratio is claimed only where ours answered at least what the peer did: a fast short answer
            # must not win. Where ours returns more (features without geometry, more collections) it stands.
            fair = same or (ours_count is not None and their_count is not None and ours_count >= their_count)
            differs = "" if same else " (DIFFERS; ours returns more)" if fair else " (DIFFERS: not compared)"
            label = case.label if mine == OURS else f"{case.label} [{mine}]"
            peer_note = (f"{setting}; {mine} {answers[case.label, mine]}, errors {load.errors}; {peer}: "
                         f"{answers[case.label, peer]}{differs}, errors {theirs.errors}")
            rows.append(Row("serving", label, "req/s", load.rate, peer, theirs.rate, target if fair else "",
                            peer_note))
            rows.append(Row("serving", label, "p99 ms", load.p99_ms, peer, theirs.p99_ms, "<1" if fair else "",
                            f"p50 ms: {mine} {load.p50_ms:.1f}, {peer} {theirs.p50_ms:.1f}"))
    return rows
