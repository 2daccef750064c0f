"""``python -m bench.auth [--lookups N] [--tokens N]``: what checking a bearer token costs each write.

services.auth looks every write's token up in the store (no cache, so a revocation stops it at once on every
instance) and verifies its HMAC. This times exactly that, `verify(text, store.token(token_id))`, on the embedded
GeoPackage and on PostgreSQL (a throwaway cluster on this machine, over TCP as the service connects), with
`--tokens` tokens in the table, and prints the median, p99 and mean in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench import postgres
from bench.report import Row, text
from geo.accounts import EDITOR, issue_token, parse_token, verify
from geo.seed import DATA_DIR, read_seed, seed_digest
from geo.store.base import FeatureStore, open_store


def time_lookups(store: FeatureStore, lookups: int, tokens: int) -> list[float]:
    """Seconds of each of `lookups` checks of one token among `tokens`."""
    texts = []
    for i in range(tokens):
        token_text, record = issue_token(f"bureau-{i}", EDITOR, ("subparks",), ("330206",), None)
        store.add_token(record)
        texts.append(token_text)
    checked = texts[len(texts) // 2]
    token_id, _ = parse_token(checked)
    for _ in range(min(lookups, 50)):  # warm: connections opened, statements prepared
        verify(checked, store.token(token_id))
    times = []
    for _ in range(lookups):
        started = time.perf_counter()
        verify(checked, store.token(token_id))
        times.append(time.perf_counter() - started)
    return times


def rows(name: str, times: list[float], tokens: int) -> list[Row]:
    ordered = sorted(times)
    case = f"token lookup + HMAC, {name}, {tokens} tokens"
    return [Row("auth", case, "median ms", statistics.median(ordered) * 1e3),
            Row("auth", case, "p99 ms", ordered[int(len(ordered) * 0.99) - 1] * 1e3),
            Row("auth", case, "mean ms", statistics.fmean(ordered) * 1e3, note=f"{len(ordered)} lookups")]


def seeded(url: str) -> FeatureStore:
    store = open_store(url)
    store.init(lambda: read_seed(DATA_DIR), seed_digest(DATA_DIR))
    return store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.auth", description=__doc__.split("\n\n")[0])
    parser.add_argument("--lookups", type=int, default=2000, help="timed checks per store (default 2000)")
    parser.add_argument("--tokens", type=int, default=1000, help="tokens in the table (default 1000)")
    args = parser.parse_args(argv)
    results: list[Row] = []
    with tempfile.TemporaryDirectory() as folder:
        store = seeded(str(Path(folder) / "store.gpkg"))
        results += rows("GeoPackage", time_lookups(store, args.lookups, args.tokens), args.tokens)
        store.close()
    if postgres.available():
        with postgres.cluster() as cluster:
            store = seeded(cluster.new_database())
            results += rows("PostgreSQL", time_lookups(store, args.lookups, args.tokens), args.tokens)
            store.close()
    else:
        print("PostgreSQL 15 + PostGIS 3 are not installed: the GeoPackage only")
    print(text(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
