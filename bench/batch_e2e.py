"""Batch location end to end: a CSV of seeded sites read, located and written, by ``nbgis locate``, by
``POST /locate`` and by DuckDB spatial (read_csv, the join, COPY TO), in the same run; and, on request
(``python -m bench batch --huge N``), N sites through ``nbgis locate`` Parquet in and out, with its peak memory.

Each engine runs in a fresh process. In-process figures put the prepared areas (ours) and the loaded polygons
(DuckDB) before the clock; the command line and the service are timed from outside, start-up included, and the
command line's start-up is measured alone on a one-row file and reported beside it.

Run one measure: ``python -m bench.batch_e2e KIND N CSV OUT`` prints a JSON line.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench import peers
from bench.batch import random_points, spatial_extension
from bench.report import Row

ROOT = Path(__file__).resolve().parent.parent
SIZE, SMOKE_SIZE = 10**6, 2_000
HUGE_FILE_ROWS = 10**6  # rows per file of the huge Parquet input
DUCK_KINDS = {"parks+nodes": ("subpark", "innovation-node"), "parks+nodes+districts": ("subpark", "innovation-node",
                                                                                       "district")}
# What ours adds for the same job as DuckDB's: the id of the sub-park, node (and district) holding each site.
SAME_COLUMNS = {"parks+nodes": "subpark,innovation_node",
                "parks+nodes+districts": "subpark,innovation_node,district_adcode"}
DUCK_COLUMN = {"subpark": "subpark", "innovation-node": "innovation_node", "district": "district_adcode"}


def write_sites_csv(path: Path, n: int) -> None:
    """id,lon,lat for the seeded points of bench.batch (the same points every engine gets)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    lon, lat = random_points(n)
    table = pa.table({"id": pa.array([f"site-{i}" for i in range(n)]), "lon": lon, "lat": lat})
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none"))


def _ours_in_process(src: Path, out: Path, columns: str | None = None) -> dict[str, Any]:
    from geo.batch import locate_file, warm
    from geo.layers import load_layers
    from geo.locate import Locator, parse_columns
    from geo.sites import csv_sites

    locator = Locator.from_layers(load_layers())
    warm(locator)  # as the service is at start: the segment grid built, the compiled loops loaded
    sites = next(csv_sites(src, block_bytes=1 << 30))  # the whole file as one block, for the join alone
    start = time.perf_counter()
    held = locator.holders(sites.lon, sites.lat)
    join_s = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    summary = locate_file(src, out, locator, columns=parse_columns(columns))
    return {"join_s": join_s, "seconds": time.perf_counter() - start, "cpu_s": time.process_time() - cpu,
            "rows": summary["sites"],
            "in_subparks": summary["in_subparks"], "held_in_subparks": int((held["subpark"] >= 0).sum())}


def _duckdb(src: Path, out: Path, kinds: tuple[str, ...]) -> dict[str, Any]:
    import duckdb
    import pandas as pd
    import shapely

    from geo.layers import load_layers

    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    con.execute(f"LOAD '{spatial_extension()}'")
    layers = load_layers()
    names = []
    for kind in kinds:
        name = DUCK_COLUMN[kind]
        frame = layers.kind(kind)
        key = frame["adcode" if kind == "district" else "id"].to_numpy(dtype=str)  # what ours writes
        wkb = pd.DataFrame({"id": key, "wkb": shapely.to_wkb(frame.geometry.to_numpy())})
        con.register("wkb", wkb)
        con.execute(f"CREATE TABLE {name} AS SELECT id, ST_GeomFromWKB(wkb) AS geom FROM wkb")
        con.unregister("wkb")
        names.append(name)
    start, cpu = time.perf_counter(), time.process_time()
    con.execute(_copy_sql(src, out, names))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    found = con.execute(f"SELECT count(*), count(subpark) FROM read_csv('{out}', header = true)").fetchone()
    assert found is not None
    rows, inside = found
    return {"seconds": seconds, "cpu_s": cpu, "rows": rows, "in_subparks": inside}


def _copy_sql(src: Path, out: Path, tables: list[str]) -> str:
    """DuckDB's whole job: read the CSV, join each table's polygons (id, geom) to the sites, write a CSV."""
    joins = " ".join(f"LEFT JOIN {n} ON ST_Intersects({n}.geom, ST_Point(s.lon, s.lat))" for n in tables)
    columns = ", ".join(f"{n}.id AS {n}" for n in tables)
    return (f"COPY (SELECT s.*, {columns} FROM read_csv('{src}', header = true) s {joins}) "
            f"TO '{out}' (HEADER, DELIMITER ',')")


def _duckdb_command(src: Path, out: Path, kinds: tuple[str, ...]) -> float:
    """DuckDB as a command, as `nbgis locate` is one: a fresh process that loads the extension, reads the
    polygons from the seed files (ST_Read, the GDAL inside the extension) and runs the same COPY; its wall
    seconds from outside, start-up included."""
    from geo.seed import DATA_DIR, FILES

    where = {"subpark": ("parks", "id"), "innovation-node": ("parks", "id"), "district": ("districts", "adcode")}
    statements = [f"LOAD '{spatial_extension()}'"]
    for kind in kinds:
        layer, key = where[kind]
        statements.append(f"CREATE TABLE {DUCK_COLUMN[kind]} AS SELECT {key} AS id, geom "
                          f"FROM ST_Read('{DATA_DIR / FILES[layer]}') WHERE kind = '{kind}'")
    statements.append(_copy_sql(src, out, [DUCK_COLUMN[k] for k in kinds]))
    script = ("import json, sys, duckdb\ncon = duckdb.connect(config={'allow_unsigned_extensions': 'true'})\n"
              "for statement in json.loads(sys.argv[1]):\n    con.execute(statement)")
    seconds, _, _ = _peak_of([sys.executable, "-c", script, json.dumps(statements)])
    return seconds


def _peak_of(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run command; its wall seconds, its peak resident MB (VmHWM, read until it exits) and its stdout."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **(env or {})})
    peak = [0.0]

    def watch() -> None:
        status = Path(f"/proc/{process.pid}/status")
        while process.poll() is None:
            with contextlib.suppress(OSError, IndexError):  # gone, or not yet started
                peak[0] = max(peak[0], int(status.read_text().split("VmHWM:", 1)[1].split()[0]) / 1024)
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - start
    watcher.join()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {stderr[-2000:]}")
    return seconds, peak[0], stdout


def _post(url: str, src: Path, out: Path, columns: str | None = None) -> float:
    """POST the CSV to /locate?f=csv and write the answer; the seconds from the first byte sent to the last read."""
    start = time.perf_counter()
    query = f"&columns={columns}" if columns else ""
    request = urllib.request.Request(f"{url}/locate?f=csv{query}", data=src.read_bytes(),
                                     headers={"Content-Type": "text/csv"}, method="POST")
    with urllib.request.urlopen(request, timeout=600) as response, open(out, "wb") as f:
        while chunk := response.read(1 << 20):
            f.write(chunk)
    return time.perf_counter() - start


def _same_answers(ours: Path, duck: Path, kind: str) -> bool:
    """Whether DuckDB's output (rows in any order) holds the same ids for each site as ours."""
    import pyarrow.csv as pacsv

    names = [DUCK_COLUMN[k] for k in DUCK_KINDS[kind]]
    options = pacsv.ConvertOptions(column_types=dict.fromkeys(["id", *names], "string"), include_columns=["id", *names])
    mine, theirs = (pacsv.read_csv(path, convert_options=options).sort_by("id") for path in (ours, duck))
    return bool(mine.num_rows == theirs.num_rows and all(mine[n].equals(theirs[n]) for n in ["id", *names]))


def _measure(kind: str, n: int, src: Path, out: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "bench.batch_e2e", kind, str(n), str(src), str(out)], cwd=ROOT,
                          check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _rows_in(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b"")) - 1


def run(work: Path, smoke: bool = False, log: Callable[[str], None] = print) -> list[Row]:
    n = SMOKE_SIZE if smoke else SIZE
    folder = work / "batch-e2e"
    folder.mkdir(parents=True, exist_ok=True)
    src, one = folder / f"sites-{n}.csv", folder / "one-site.csv"
    if not src.exists():
        write_sites_csv(src, n)
    write_sites_csv(one, 1)
    size_mb = src.stat().st_size / 2**20
    ours = _measure("ours", n, src, folder / "ours.csv")
    ducks = {kind: _measure(kind, n, src, folder / f"duckdb-{i}.csv") for i, kind in enumerate(DUCK_KINDS)}
    # Ours doing DuckDB's job: the same id columns added, nothing else (no nearest sub-park measured).
    alike = {kind: _measure(f"ours:{SAME_COLUMNS[kind]}", n, src, folder / f"ours-{i}.csv")
             for i, kind in enumerate(DUCK_KINDS)}
    cli_one, _, _ = _peak_of([sys.executable, "-m", "nbgis", "locate", str(one), str(folder / "one-out.csv")])
    cli_s, cli_mb, _ = _peak_of([sys.executable, "-m", "nbgis", "locate", str(src), str(folder / "cli.csv")])
    cli_alike = {kind: _peak_of([sys.executable, "-m", "nbgis", "locate", "--columns", SAME_COLUMNS[kind], str(src),
                                 str(folder / f"cli-{i}.csv")])[0] for i, kind in enumerate(DUCK_KINDS)}
    duck_cli = {kind: _duckdb_command(src, folder / f"duckdb-cli-{i}.csv", DUCK_KINDS[kind])
                for i, kind in enumerate(DUCK_KINDS)}
    port = peers.free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "uvicorn", "services.app:create_app", "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning"]
    with peers.serve_process(command, {"PYTHONPATH": str(ROOT)}, ROOT, work / "logs" / "ours-locate.log",
                             f"{url}/collections"):
        post_s = _post(url, src, folder / "post.csv")  # the server's first upload: the dearest (memory first touched)
        post_alike = {kind: _post(url, src, folder / f"post-{i}.csv", SAME_COLUMNS[kind])
                      for i, kind in enumerate(DUCK_KINDS)}
    same = (folder / "cli.csv").read_bytes() == (folder / "ours.csv").read_bytes() == (folder / "post.csv").read_bytes()
    same_alike = {kind: (folder / f"cli-{i}.csv").read_bytes() == (folder / f"ours-{i}.csv").read_bytes()
                  == (folder / f"post-{i}.csv").read_bytes() for i, kind in enumerate(DUCK_KINDS)}
    checked = {kind: d["rows"] == ours["rows"] == _rows_in(folder / "cli.csv") and d["in_subparks"] ==
               ours["in_subparks"] and same_alike[kind] and _same_answers(folder / f"ours-{i}.csv",
                                                                          folder / f"duckdb-{i}.csv", kind)
               and _same_answers(folder / f"ours-{i}.csv", folder / f"duckdb-cli-{i}.csv", kind)
               for i, (kind, d) in enumerate(ducks.items())}
    case = f"10^{round(np.log10(n))} sites, CSV ({size_mb:.0f} MB)" if n == SIZE else f"{n:,} sites, CSV"
    log(f"batch e2e {case}: in process {ours['seconds']:.2f} s (join {ours['join_s']:.2f} s); nbgis locate "
        f"{cli_s:.2f} s (start-up {cli_one:.2f} s, peak {cli_mb:,.0f} MB); POST /locate {post_s:.2f} s; "
        + "; ".join(f"{k}: DuckDB {d['seconds']:.2f} s (as a command {duck_cli[k]:.2f} s), ours "
                    f"{alike[k]['seconds']:.2f} s in process, {cli_alike[k]:.2f} s nbgis locate, {post_alike[k]:.2f} s "
                    f"POST" for k, d in ducks.items()))
    gate = not smoke
    agree = "the three outputs of ours identical" if same else "ours' outputs DIFFER"
    duck_note = {k: f"the same ids for every site as ours ({d['in_subparks']:,} in sub-parks)" if checked[k] else
                 "answers DIFFER from ours" for k, d in ducks.items()}
    rows = [Row("batch end to end", case, "s", ours["seconds"], "in-process join (Locator.holders)", ours["join_s"],
                target="<=5" if gate else "",
                note=f"geo.batch.locate_file, areas prepared (geo.batch.warm) before the clock: read, locate (all "
                     f"13 added columns, nearest distances included), write; CPU {ours['cpu_s']:.2f} s; {agree}"),
            Row("batch end to end", case, "s, nbgis locate", cli_s, "in-process join (Locator.holders)",
                ours["join_s"], target="<=5" if gate else "",
                note=f"the command, start-up included ({cli_one:.2f} s for a one-row file); peak {cli_mb:,.0f} MB"),
            Row("batch end to end", case, "s, POST /locate", post_s, "in-process join (Locator.holders)",
                ours["join_s"], target="<=5" if gate else "",
                note="upload, locate, CSV answer read to the end, over 127.0.0.1; the server's first upload")]
    for kind, d in ducks.items():
        target = "<1" if kind == "parks+nodes" else "<=0.1"
        for measure, value in ((f"s, in process, {SAME_COLUMNS[kind]}", alike[kind]["seconds"]),
                               (f"s, POST /locate?columns={SAME_COLUMNS[kind]}", post_alike[kind])):
            rows.append(Row("batch end to end", case, measure, value, f"DuckDB spatial, {kind}", d["seconds"],
                            target=target if gate and checked[kind] else "",
                            note=f"DuckDB: read_csv, LEFT JOIN ON ST_Intersects, COPY TO CSV, polygons loaded "
                                 f"before its clock; CPU {d['cpu_s']:.2f} s (ours in process "
                                 f"{alike[kind]['cpu_s']:.2f} s); load average {os.getloadavg()[0]:.1f}; "
                                 f"{duck_note[kind]}"))
        # Command against command: each a fresh process timed from outside, start-up and polygons included.
        rows.append(Row("batch end to end", case, f"s, nbgis locate --columns {SAME_COLUMNS[kind]}", cli_alike[kind],
                        f"DuckDB spatial as a command, {kind}", duck_cli[kind],
                        target=target if gate and checked[kind] else "",
                        note=f"both fresh processes timed from outside, start-up included; DuckDB's: import duckdb, "
                             f"LOAD spatial, ST_Read of the seed GeoJSON files, the same COPY; ours reads its store "
                             f"(prepared areas kept in ~/.cache/nbgis); {duck_note[kind]}"))
    return rows


def huge(work: Path, n: int, log: Callable[[str], None] = print) -> list[Row]:
    """n seeded sites as a Parquet dataset through `nbgis locate` into a Parquet dataset: rows/s, peak memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from geo.layers import load_layers

    folder = work / f"huge-{n}"
    src, out = folder / "in", folder / "out"
    if not (src / "done").exists():
        src.mkdir(parents=True, exist_ok=True)
        west, south, east, north = load_layers().city.bounds
        for i, start in enumerate(range(0, n, HUGE_FILE_ROWS)):
            rows = min(HUGE_FILE_ROWS, n - start)
            rng = np.random.default_rng([i, 20251127])
            table = pa.table({"id": np.arange(start, start + rows), "lon": rng.uniform(west, east, rows),
                              "lat": rng.uniform(south, north, rows)})
            pq.write_table(table, src / f"part-{i:05d}.parquet")
        (src / "done").write_text("")
    seconds, peak_mb, stdout = _peak_of([sys.executable, "-m", "nbgis", "locate", str(src), str(out)])
    written = sum(pq.read_metadata(p).num_rows for p in out.glob("*.parquet"))
    log(f"batch huge: {n:,} sites in {seconds:,.0f} s ({n / seconds:,.0f} rows/s), peak {peak_mb:,.0f} MB, "
        f"{written:,} rows written; {stdout.splitlines()[0]}")
    load = os.getloadavg()
    return [Row("batch end to end", f"10^{round(np.log10(n))} sites, Parquet dataset", "rows/s", n / seconds,
                note=f"nbgis locate in {seconds:,.0f} s; {written:,} rows written; load average at the end "
                     f"{load[0]:.1f} on {os.cpu_count()} cores"),
            Row("batch end to end", f"10^{round(np.log10(n))} sites, Parquet dataset", "peak MB", peak_mb,
                target="<1000", note="VmHWM of the nbgis locate process")]


if __name__ == "__main__":
    what, size, source, target = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    if what.startswith("ours"):  # ours, or ours:COLUMNS
        print(json.dumps(_ours_in_process(source, target, what.partition(":")[2] or None)))
    else:
        print(json.dumps(_duckdb(source, target, DUCK_KINDS[what])))
