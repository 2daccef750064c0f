"""Locating a Parquet dataset past one machine, on a Dask cluster (dask.distributed).

The client prepares the plan's areas once and hands them to every worker through a worker plugin, so each
worker process holds them once, however many tasks it runs. A task is a run of row groups of one input file
(about PARTITION_ROWS rows); it locates them block by block (geo.batch) and writes one Parquet file into a
staging folder beside the output, returning its summary. When every task is done, the staging folder is
renamed to the output: the files, read in name order, are the rows in input order, the same as
``nbgis locate`` writes on one machine. Every worker must be able to read the input and write beside the
output (a shared file system), and have nbgis installed.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from distributed import Client, LocalCluster, WorkerPlugin

from geo.batch import add_summaries, geoparquet_table, is_parquet, locate_sites
from geo.crs import OutputCRS
from geo.locate import ADDED_COLUMNS, Locator, SitesError
from geo.sites import BLOCK_ROWS, parquet_files, parquet_sites

PARTITION_ROWS = 1 << 20
PLUGIN = "nbgis-locator"
_held: dict[str, Locator] = {}  # in each worker process: the areas its plugin brought


@dataclass(frozen=True)
class Partition:
    file: str
    row_groups: tuple[int, ...]
    first_row: int  # 1-based, in the whole input, for error messages
    index: int  # its output file's number


def partitions(src: str | os.PathLike[str], rows: int | None = None) -> list[Partition]:
    """The input's row groups gathered into runs of about `rows` rows (PARTITION_ROWS), in order."""
    rows = rows or PARTITION_ROWS
    out: list[Partition] = []
    first = 1
    for file in parquet_files(src):
        meta = pq.ParquetFile(file).metadata
        run: list[int] = []
        run_rows = 0
        for group in range(meta.num_row_groups):
            run.append(group)
            run_rows += meta.row_group(group).num_rows
            if run_rows >= rows or group == meta.num_row_groups - 1:
                out.append(Partition(str(file), tuple(run), first, len(out)))
                first += run_rows
                run, run_rows = [], 0
    return out


class LocatorPlugin(WorkerPlugin):
    """A worker plugin carrying the prepared areas, pickled once by the client."""

    name = PLUGIN

    def __init__(self, prepared: bytes) -> None:
        self.prepared = prepared

    def setup(self, worker: Any) -> None:
        _held[PLUGIN] = pickle.loads(self.prepared)

    def teardown(self, worker: Any) -> None:
        _held.pop(PLUGIN, None)


def locate_partition(part: Partition, staging: str, crs: OutputCRS | None,
                     columns: tuple[str, ...] = ADDED_COLUMNS) -> dict[str, Any]:
    """One task: the partition's rows located into staging/part-NNNNN.parquet; its summary."""
    locator = _held.get(PLUGIN)
    if locator is None:
        raise RuntimeError("this worker has no prepared areas: the nbgis plugin was not registered")
    handle = pq.ParquetFile(part.file)
    geo = (handle.schema_arrow.metadata or {}).get(b"geo")
    total: dict[str, Any] | None = None
    target = Path(staging) / f"part-{part.index:05d}.parquet"
    writer: pq.ParquetWriter | None = None
    try:
        for sites in parquet_sites(part.file, crs, BLOCK_ROWS, [Path(part.file)], part.row_groups, part.first_row):
            table, located = locate_sites(locator, sites, columns)
            table = geoparquet_table(table, sites, geo)
            if writer is None:
                writer = pq.ParquetWriter(target, table.schema, compression="snappy")
            writer.write_table(table)
            total = add_summaries(total, locator.summary(located))
    finally:
        if writer is not None:
            writer.close()
    if total is None:
        raise SitesError(f"{part.file}: row groups {part.row_groups} hold no rows")
    return total


def client_for(address: str) -> tuple[Client, LocalCluster | None]:
    """A client of the cluster at `address` (tcp://HOST:PORT), or of a LocalCluster for local[:N]; and the
    LocalCluster to close, if one was started."""
    if address == "local" or address.startswith("local:"):
        workers = int(address.partition(":")[2] or os.cpu_count() or 1)
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None)
        return Client(cluster), cluster
    return Client(address, timeout=30), None


def locate_on_cluster(address: str, src: str | os.PathLike[str], dst: str | os.PathLike[str], locator: Locator,
                      crs: OutputCRS | None = None, columns: tuple[str, ...] = ADDED_COLUMNS) -> dict[str, Any]:
    """Locate a Parquet file or folder into the folder `dst` on the cluster at `address`, adding the columns
    named; the summary."""
    if not is_parquet(src):
        raise SitesError("on a cluster the input is Parquet (a .parquet file or a folder of them); convert a CSV "
                         "first, e.g. with nbgis locate IN.csv OUT.parquet on one machine")
    parts = partitions(src)
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".tmp"))
    os.chmod(staging, 0o755)
    locator.segment_grid()  # built here once, not once per worker
    prepared = pickle.dumps(locator)
    client, cluster = client_for(address)
    try:
        client.register_plugin(LocatorPlugin(prepared), name=PLUGIN)
        futures = client.map(locate_partition, parts, staging=str(staging), crs=crs, columns=columns,
                             pure=False)
        total: dict[str, Any] | None = None
        for summary in client.gather(futures):
            total = add_summaries(total, summary)
        if total is None:
            raise SitesError("the Parquet input has no rows")
        if dst.exists():
            shutil.rmtree(dst)
        os.replace(staging, dst)
        return total
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
        shutil.rmtree(staging, ignore_errors=True)
