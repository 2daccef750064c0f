"""``python -m bench.soak [--minutes 10] [--readme]``: a mixed soak of `nbgis serve`, hostile requests included.

Four client threads ask, for the whole run, what users ask (feature pages in several CRSs, HTML pages, site
look-ups, nearest areas, map pages, downloads, small uploads), and two more send what the hardening issue saw
take the service down (CQL2 bombs, backtracking LIKE, sortby floods, grid-file CRSs, NUL bytes, forged Hosts,
header floods, slow and silent connections from 127.0.0.2, upload bursts). The server runs as users run it
(`nbgis serve`, one worker, the default limits), on 127.0.0.1. Reported: answers by status for each side,
latency of the users' requests, and the server's memory over time.

The users' side must see no 5xx at all; the hostile side may see the documented 503 (a full upload pool)
and 4xx, never another 5xx.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.peers import free_port
from geo.io import write_bytes_atomic

README = Path(__file__).resolve().parent / "README.md"
BEGIN, END = "<!-- soak -->", "<!-- /soak -->"
Request = tuple[str, str, bytes | None, dict[str, str]]  # method, target, body, headers


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int, seconds: float) -> None:
        with self.lock:
            self.statuses[status] += 1
            self.latencies.append(seconds)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0


def _get(path: str, **params: str) -> Request:
    return "GET", f"{path}?{urllib.parse.urlencode(params)}" if params else path, None, {}


SITES = ("lon,lat,name\n" + "".join(f"{121.3 + i * 0.001:.4f},{29.8 + i * 0.0007:.4f},site {i}\n"
                                     for i in range(2_000))).encode()


def users() -> list[Request]:
    crss = ("", "http://www.opengis.net/def/crs/EPSG/0/4549", "http://www.opengis.net/def/crs/EPSG/0/4326",
            "http://www.opengis.net/def/crs/EPSG/0/3857")
    out = [_get("/collections/subparks/items", **({"crs": c} if c else {}), limit="20") for c in crss]
    out += [_get("/"), _get("/collections"), _get("/collections/platforms/items", f="html"),
            _get("/collections/subparks/items/subpark-yinzhou", f="html"), _get("/industries/biomedicine"),
            _get("/locate", lon="121.55", lat="29.87"), _get("/locate", lon="121.62", lat="29.92", crs="GCJ02"),
            _get("/nearest", lon="121.55", lat="29.87", industry="new-materials"), _get("/maps/overview"),
            _get("/maps/industry/biomedicine"), _get("/export", f="gpkg", collections="subparks", crs="EPSG:4549"),
            _get("/collections/innovation-nodes/items", f="shapefile"),
            _get("/collections/subparks/items", filter="area_km2 > 30 AND name_en LIKE '%Park%'"),
            ("POST", "/locate?f=csv", SITES, {"Content-Type": "text/csv"})]
    return out


def hostile() -> list[Request]:
    def items(**params: str) -> Request:
        return _get("/collections/subparks/items", **params)

    return [
        items(filter="(" * 1500 + "area_km2>1" + ")" * 1500), items(filter="NOT " * 3000 + "area_km2>1"),
        items(filter="name_en LIKE '" + "%a" * 40 + "%b'"), items(sortby=",".join(["area_km2"] * 500)),
        items(filter='{"op":"not"}', **{"filter-lang": "cql2-json"}),
        _get("/locate", lon="121.5", lat="29.9", crs="+proj=longlat +datum=WGS84 +nadgrids=@/etc/shadow"),
        _get("/locate", lon="121.5", lat="29.9", crs="EPSG:4326\x00x"),
        _get("/locate", lon="500000", lat="3300000",
             crs=f"+proj=tmerc +lon_0=121.{random.randrange(1000):03d} +k=1 +x_0=500000 +ellps=GRS80 +units=m"),
        ("GET", "/collections", None, {"Host": "evil.example:666"}),
        ("GET", "/conformance", None, {f"X-Junk-{i}": "x" for i in range(150)}),
        ("POST", "/locate", (",".join(f"c{i}" for i in range(200_000)) + "\n").encode(), {"Content-Type": "text/csv"}),
        ("POST", "/locate", json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {
            "type": "Point", "coordinates": [121.5, 29.9]}, "properties": {"p": json.loads("[" * 300 + "]" * 300)}}]}
         ).encode(), {"Content-Type": "application/geo+json"}),
    ]


def ask(port: int, request: Request) -> int:
    method, target, body, headers = request
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, target, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return 0  # no answer at all
    finally:
        conn.close()


def slow_clients(port: int, count: int = 30, hold_s: float = 3.0) -> None:
    """Connections from 127.0.0.2 that start a request and never finish its headers, or send nothing."""
    held = []
    for i in range(count):
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.settimeout(15)
        try:
            s.connect(("127.0.0.1", port))
            if i % 2:
                s.sendall(b"GET /conformance HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        except OSError:
            s.close()
            continue
        held.append(s)
    time.sleep(hold_s)
    for s in held:
        s.close()


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024


def run(minutes: float) -> dict[str, object]:
    port = free_port()
    env = {**os.environ, "NBGIS_TRUSTED_HOSTS": "127.0.0.1,localhost"}
    server = subprocess.Popen([sys.executable, "-m", "nbgis", "serve", "--port", str(port), "--log-level",
                               "error"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while ask(port, _get("/conformance")) != 200:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.3)
        for request in users():  # every page once, so the memory baseline is the warm server's
            ask(port, request)
        memory = [(0.0, rss_mb(server.pid))]
        tallies = {"users": Tally(), "hostile": Tally()}
        started = time.monotonic()
        end = started + minutes * 60

        def loop(side: str, requests: Callable[[], list[Request]]) -> None:
            rng = random.Random(f"{side}-{threading.get_ident()}")
            while time.monotonic() < end:
                request = rng.choice(requests())
                t0 = time.monotonic()
                tallies[side].add(ask(port, request), time.monotonic() - t0)
                if side == "hostile" and rng.random() < 0.02:
                    slow_clients(port)

        threads = [threading.Thread(target=loop, args=("users", users)) for _ in range(4)]
        threads += [threading.Thread(target=loop, args=("hostile", hostile)) for _ in range(2)]
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            time.sleep(min(10.0, max(0.1, end - time.monotonic())))
            if server.poll() is not None:
                raise RuntimeError("the server process died during the soak")
            memory.append((time.monotonic() - started, rss_mb(server.pid)))
        for thread in threads:
            thread.join()
        alive = server.poll() is None
    finally:
        server.terminate()
        server.wait(timeout=30)
    user, bad = tallies["users"], tallies["hostile"]
    return {
        "minutes": minutes,
        "server_alive": alive,
        "users": {"requests": sum(user.statuses.values()), "statuses": dict(sorted(user.statuses.items())),
                  "p50_ms": round(user.percentile(0.5) * 1e3, 1), "p99_ms": round(user.percentile(0.99) * 1e3, 1)},
        "hostile": {"requests": sum(bad.statuses.values()), "statuses": dict(sorted(bad.statuses.items()))},
        "memory_mb": {"start": round(memory[0][1]), "end": round(memory[-1][1]),
                      "max": round(max(m for _, m in memory)),
                      "first_half_max": round(max(m for t, m in memory if t <= minutes * 30)),
                      "second_half_max": round(max((m for t, m in memory if t > minutes * 30), default=0))},
    }


def verdict(result: dict[str, object]) -> list[str]:
    """What the soak must show; each broken promise as a line (empty: all held)."""
    problems = []
    users_ = result["users"]
    hostile_ = result["hostile"]
    assert isinstance(users_, dict) and isinstance(hostile_, dict)
    if not result["server_alive"]:
        problems.append("the server died")
    bad_users = {s: n for s, n in users_["statuses"].items() if s >= 500 or s == 0}
    if bad_users:
        problems.append(f"users got 5xx or no answer: {bad_users}")
    bad_hostile = {s: n for s, n in hostile_["statuses"].items() if (s >= 500 and s != 503) or s == 0}
    if bad_hostile:
        problems.append(f"hostile requests got a 5xx other than 503, or no answer: {bad_hostile}")
    memory = result["memory_mb"]
    assert isinstance(memory, dict)
    if memory["second_half_max"] and memory["second_half_max"] - memory["first_half_max"] > 50:
        problems.append(f"memory grew in the second half: {memory}")
    return problems


def markdown(result: dict[str, object], problems: list[str]) -> str:
    users_, hostile_, memory = result["users"], result["hostile"], result["memory_mb"]
    assert isinstance(users_, dict) and isinstance(hostile_, dict) and isinstance(memory, dict)
    return (f"| side | requests | answers by status | latency |\n|---|---|---|---|\n"
            f"| users (4 threads) | {users_['requests']:,} | {users_['statuses']} | p50 {users_['p50_ms']} ms, "
            f"p99 {users_['p99_ms']} ms |\n"
            f"| hostile (2 threads, slow clients) | {hostile_['requests']:,} | {hostile_['statuses']} | |\n\n"
            f"Memory (RSS of the worker): {memory['start']} MB after warm-up, {memory['max']} MB at most, "
            f"{memory['end']} MB at the end; highest {memory['first_half_max']} MB in the first half and "
            f"{memory['second_half_max']} MB in the second. Verdict: "
            f"{'every promise held' if not problems else '; '.join(problems)}.\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the soak (default 10)")
    parser.add_argument("--readme", action="store_true", help="write the results into bench/README.md")
    args = parser.parse_args(argv)
    result = run(args.minutes)
    problems = verdict(result)
    print(json.dumps(result, indent=1))
    print("\n".join(problems) or "every promise held")
    if args.readme:
        page = README.read_text(encoding="utf-8")
        head, rest = page.split(BEGIN, 1)
        block = (f"{BEGIN}\nRun on {time.strftime('%Y-%m-%d')} with `python -m bench.soak --minutes "
                 f"{args.minutes:g} --readme`:\n\n{markdown(result, problems)}{END}")
        write_bytes_atomic(README, (head + block + rest.split(END, 1)[1]).encode("utf-8"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
