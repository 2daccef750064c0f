"""``python -m bench [SECTION ...] [--smoke]``: run the benchmarks and print one table of results.

Sections: serving, batch, maps, export, writes (default: all). Results go to the terminal and, as Markdown and
JSON, to the work directory; ``--readme`` also writes them into bench/README.md with the date and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import time
from datetime import date
from pathlib import Path

from bench import batch, batch_e2e, export, maps, serving, writes
from bench.data import prepare
from bench.report import Row, markdown, text
from geo.io import write_bytes_atomic

SECTIONS = ("serving", "batch", "maps", "export", "writes")
README = Path(__file__).resolve().parent / "README.md"
BEGIN, END = "<!-- results -->", "<!-- /results -->"


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return (f"{os.cpu_count()} cores ({cpu}), {memory_kb / 2**20:.0f} GiB, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def _write_readme(rows: list[Row], command: str, seconds: float) -> None:
    page = README.read_text(encoding="utf-8")
    head, rest = page.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    block = (f"{BEGIN}\nRun on {date.today().isoformat()} with `{command}` ({seconds / 60:.1f} min), on "
             f"{machine()}.\n\n{markdown(rows)}{END}")
    write_bytes_atomic(README, (head + block + tail).encode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("sections", nargs="*", metavar="SECTION", help=f"{', '.join(SECTIONS)} or all (default all)")
    parser.add_argument("--smoke", action="store_true",
                        help="small sizes and our server alone, in seconds: checks the harness, not the speed")
    parser.add_argument("--work", type=Path, default=Path(__file__).resolve().parent / ".work",
                        help="where the peers' environments, the data and the results go (default bench/.work)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes per server (default 1)")
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run and write run (default 5)")
    parser.add_argument("--connections", type=int, default=16, help="wrk's open connections (default 16)")
    parser.add_argument("--clients", type=int, default=8, help="writes: clients writing at once (default 8)")
    parser.add_argument("--readme", action="store_true", help="write the table into bench/README.md")
    parser.add_argument("--huge", type=int, default=0, metavar="N",
                        help="with batch: also N sites (e.g. 100000000) through nbgis locate, Parquet in and out, "
                             "for rows/s and peak memory (minutes to hours; the input, N x 24 bytes, is kept)")
    args = parser.parse_args(argv)
    unknown = set(args.sections) - {*SECTIONS, "all"}
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)} or all")
    chosen = SECTIONS if not args.sections or "all" in args.sections else \
        tuple(s for s in SECTIONS if s in args.sections)
    # A SIGTERM unwinds like Ctrl-C, so every server, worker and database the run started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    started = time.perf_counter()
    args.work.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []

    def save() -> None:  # after every section, so a late failure keeps what was measured
        (args.work / "results.md").write_text(markdown(rows), encoding="utf-8")
        (args.work / "results.json").write_text(json.dumps([r.as_dict() for r in rows], indent=1), encoding="utf-8")

    datasets = prepare(args.work, synthetic_n=2_000 if args.smoke else 100_000)
    if "serving" in chosen:
        rows += serving.run(args.work, datasets, args.smoke, args.workers,
                            1 if args.smoke else args.seconds, args.connections, 1 if args.smoke else 2)
        save()
    if "batch" in chosen:
        batch.ensure_duckdb()
        rows += batch.run(args.work, args.smoke)
        save()
        rows += batch_e2e.run(args.work, args.smoke)
        save()
        if args.huge:
            rows += batch_e2e.huge(args.work, args.huge)
            save()
    if "maps" in chosen:
        with serving.ours_server(args.work, datasets, args.workers) as server:
            rows += maps.run(args.work, server.url, args.smoke)
        save()
    if "export" in chosen:
        rows += export.run(args.work, args.smoke)
        save()
    if "writes" in chosen:
        rows += writes.run(args.work, args.smoke, args.clients, args.seconds)
        save()
    elapsed = time.perf_counter() - started
    print()
    print(text(rows))
    print(f"{len(rows)} results in {elapsed / 60:.1f} min; {sum(r.met is False for r in rows)} targets missed")
    if args.readme:
        _write_readme(rows, "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]), elapsed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
