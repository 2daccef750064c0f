"""Locating files of sites end to end, a block at a time: read (geo.sites), locate (geo.locate), write CSV or
GeoParquet (a file or a folder of files) with Arrow, and add up the summary.

The CSV written is what pandas' ``to_csv`` wrote before, byte for byte (floats as Python's repr, True/False,
quotes only where a value holds a comma, a quote or a newline), but built by Arrow's string kernels: no Python
object per row. Memory is bound by the block, not the file; outputs appear only when complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numba
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import shapely

from geo.crs import OutputCRS
from geo.io import atomic_file, publish
from geo.locate import ADDED_COLUMNS, GRID_MIN_POINTS, Located, Locator, SitesError, needs_nearest
from geo.measure import _LOCAL
from geo.memory import reuse_freed_memory
from geo.sites import BLOCK_BYTES, BLOCK_ROWS, Sites, Source, csv_sites, parquet_files, parquet_sites
from geo.textrows import TextColumn, join_lines, thousandths_text

BOM = "\ufeff".encode()  # lets Excel read the Chinese names
PARQUET_SUFFIXES = (".parquet", ".geoparquet", ".parq")
ROWS_PER_FILE = 10_000_000  # rows per file of a Parquet folder written by one process
SCHEMATIC = ("Boundaries are schematic, drawn from the plan's words (Ningbo 14th Five-Year Plan for Science and "
             "Technology Innovation): a site near an edge is uncertain.")
THREADS = min(2, os.cpu_count() or 1)  # blocks located at once
T = TypeVar("T")
R = TypeVar("R")
_NEEDS_QUOTES = r'[,"\n]'  # what makes Python's csv writer (QUOTE_MINIMAL, as pandas used it) quote a value


def output_kind(src: Source, dst: str | os.PathLike[str]) -> str:
    """csv, parquet (one file) or folder (a Parquet dataset): by the suffix, else like a folder input."""
    path = Path(dst)
    if path.is_dir() or str(dst).endswith(os.sep):
        return "folder"
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return "parquet"
    if not path.suffix and isinstance(src, str | os.PathLike) and Path(src).is_dir():
        return "folder"
    return "csv"


def is_parquet(path: str | os.PathLike[str]) -> bool:
    """Parquet by its suffix, or a folder (a Parquet dataset)."""
    path = Path(path)
    return path.suffix.lower() in PARQUET_SUFFIXES or path.is_dir() or str(path).endswith(os.sep)


# --- the located table ------------------------------------------------------------------------------------------

def located_table(sites: Sites, located: Located, columns: tuple[str, ...] = ADDED_COLUMNS) -> pa.Table:
    """The input columns, then the added columns named (lon84 and lat84 as floats, the located ones as strings,
    bool and float)."""
    out = {name: sites.table[name] for name in sites.table.column_names}
    for name in columns:
        if name in ("lon84", "lat84"):
            out[name] = pa.array(sites.lon if name == "lon84" else sites.lat)
        elif name in located.labels:  # dictionary-encoded: the writers turn each area's name into text once
            values, index = located.labels[name]
            out[name] = pa.DictionaryArray.from_arrays(pa.array(index, type=pa.int32(), mask=index < 0),
                                                       pa.array(values[:-1], type=pa.string()))
        else:
            out[name] = pa.array(located.column(name))
    return pa.table(out)


def locate_sites(locator: Locator, sites: Sites, columns: tuple[str, ...] = ADDED_COLUMNS) -> tuple[pa.Table, Located]:
    """The located table of a block (the added columns named), and what was found (for the summary)."""
    located = locator.find(sites.lon, sites.lat, nearest=needs_nearest(columns))
    return located_table(sites, located, columns), located


def warm(locator: Locator) -> None:
    """Get large batches ready before the first one: the segment grid built (~0.2 s), and the compiled loops
    loaded (~0.4 s for LLVM, once per process), by locating and writing a lattice of sites over the districts;
    and the threads that locate blocks started, each with its PROJ transformer."""
    west, south = locator.districts.bounds[:, :2].min(axis=0)
    east, north = locator.districts.bounds[:, 2:].max(axis=0)
    side = int(np.ceil(np.sqrt(GRID_MIN_POINTS * 1.2)))
    lon, lat = (v.ravel() for v in np.meshgrid(np.linspace(west, east, side), np.linspace(south, north, side)))
    table, _ = locate_sites(locator, Sites(pa.table({"id": pa.array(np.arange(len(lon)).astype(str))}), lon, lat, 1))
    csv_rows(table)
    _start_block_threads()


# --- CSV as pandas wrote it ---------------------------------------------------------------------------------------

def _quoted(text: pa.Array) -> pa.Array:
    """Values quoted (and their quotes doubled) where they need it; others as they are."""
    if not _may_need_quotes(text):
        return text
    needs = pc.match_substring_regex(text, _NEEDS_QUOTES)
    if not pc.any(needs).as_py():
        return text
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, text)


def _may_need_quotes(text: pa.Array) -> bool:
    """Whether any byte of the values' data is a comma, a quote or a newline (a scan, where a regex per value
    costs ~50 ns)."""
    data = text.buffers()[2]
    if data is None:
        return False
    return bool(_has_any(np.frombuffer(data, dtype=np.uint8), np.array([ord(c) for c in ',"\n'], dtype=np.uint8)))


@numba.njit(nogil=True, cache=True)
def _has_any(data: np.ndarray, wanted: np.ndarray) -> bool:
    table = np.zeros(256, dtype=np.bool_)
    table[wanted] = True
    for byte in data:  # noqa: SIM110 (a plain loop, which numba compiles; any() of a generator it does not)
        if table[byte]:
            return True
    return False


def _float_text(values: pa.Array, odd_text: Callable[[float], str] = repr) -> pa.Array:
    """Floats as Python's repr writes them ("1.0", "1e-05"); NaN and the other odd values by `odd_text`."""
    numbers = values.to_numpy(zero_copy_only=False)
    if _thousandths(numbers):
        return thousandths_text(np.rint(numbers * 1000.0).astype(np.int64))
    text = pc.cast(values, pa.string())
    size = np.abs(numbers)
    # Arrow writes integral values without ".0" (repr's other finite decimals alike): add it where no "." is.
    # Exponents ("e") come only from the odd sizes below, and "nan"/"inf" only from NaN and infinity.
    whole = pc.invert(pc.match_substring(text, "."))
    if pc.any(whole).as_py():
        text = pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)
    with np.errstate(invalid="ignore"):
        odd = np.flatnonzero(((size < 1e-4) & (size > 0)) | (size >= 1e15) | ~np.isfinite(numbers))
    if len(odd):  # rare (a site within 11 m of the equator or the meridian): one by one
        mask = np.zeros(len(numbers), dtype=bool)
        mask[odd] = True
        text = pc.replace_with_mask(text, pa.array(mask), pa.array([odd_text(float(v)) for v in numbers[odd]],
                                                                    type=pa.string()))
    return text


# Values with at most three decimals (distances rounded to metres): repr writes such a value, of fewer than 16
# digits, as its decimals, trailing zeros dropped, and that is written here from integers (geo.textrows).
def _thousandths(numbers: np.ndarray) -> bool:
    """Whether every value is finite, below 10^12 and a whole number of thousandths, as np.round(v, 3) leaves
    it (the same float as m / 1000 for the integer m), and none is -0.0."""
    if not len(numbers) or numbers.dtype != np.float64:
        return False
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = np.rint(numbers * 1000.0)
        return bool(np.all(np.abs(numbers) < 1e12) and np.array_equal(scaled / 1000.0, numbers)
                    and not np.any(np.signbit(numbers) & (numbers == 0)))


def _csv_float(value: float) -> str:
    return "" if np.isnan(value) else repr(value)  # NaN: empty, as pandas wrote it


def _csv_column(column: pa.ChunkedArray | pa.Array) -> TextColumn:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(array.type):  # each value quoted once, then a code per row; null: the empty text
        dictionary = _csv_column(pa.concat_arrays([array.dictionary, pa.array([""], array.dictionary.type)]))
        codes = pc.fill_null(array.indices, len(array.dictionary)).to_numpy()
        return TextColumn(dictionary.values, codes if dictionary.codes is None else dictionary.codes[codes])
    if pa.types.is_boolean(array.type):
        codes = np.where(pc.fill_null(array, False).to_numpy(zero_copy_only=False), 1, 0)
        codes[np.asarray(array.is_null())] = 2
        return TextColumn(pa.array(["False", "True", ""]), codes)
    if pa.types.is_floating(array.type):
        text = _float_text(array.cast(pa.float64()), _csv_float)
    elif pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        text = _quoted(array.cast(pa.string()))
    elif pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type):  # GeoParquet's WKB: as WKT
        wkt = shapely.to_wkt(shapely.from_wkb(array.to_numpy(zero_copy_only=False), on_invalid="ignore"))
        text = _quoted(pa.array(wkt, type=pa.string()))
    else:
        text = _quoted(pc.cast(array, pa.string()))
    return TextColumn(pc.fill_null(text, "") if text.null_count else text)


def csv_header(names: list[str]) -> bytes:
    return (",".join(_quoted(pa.array(names, type=pa.string())).to_pylist()) + "\n").encode("utf-8")


def csv_rows(table: pa.Table) -> bytes:
    """The table's rows as CSV text, one "\\n" after each, as pandas' to_csv wrote them."""
    return join_lines(_once_per_float_column(table, _csv_column), len(table))


def _once_per_float_column(table: pa.Table, text_of: Callable[[pa.ChunkedArray], T]) -> list[T]:
    """text_of(column) for each column, a float column equal to an earlier one given the earlier one's text:
    lon84 and lat84 of sites given in WGS 84 are their lon and lat (a comparison costs 1/50 of the text)."""
    texts: list[T] = []
    floats: list[tuple[np.ndarray, T]] = []
    for column in table.columns:
        if not pa.types.is_floating(column.type) or column.null_count:
            texts.append(text_of(column))
            continue
        values = column.to_numpy()
        bits = values.view(f"u{values.itemsize}")  # equal to the bit: -0.0 is not 0.0 in text
        text = next((t for seen, t in floats if seen.dtype == bits.dtype and np.array_equal(seen, bits)), None)
        if text is None:
            text = text_of(column)
            floats.append((bits, text))
        texts.append(text)
    return texts


def _json_value(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Each value as orjson writes it: strings quoted and escaped, floats shortest, null, true and false."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(array.type):  # each value written once, then taken per row
        dictionary = _json_value(pa.concat_arrays([array.dictionary, pa.nulls(1, array.dictionary.type)]))
        return pc.take(dictionary, pc.fill_null(array.indices, len(array.dictionary)))
    if pa.types.is_floating(array.type):
        text = _float_text(array.cast(pa.float64()), lambda v: orjson.dumps(v).decode())
    elif pa.types.is_boolean(array.type):
        text = pc.if_else(array, "true", "false")
    elif pa.types.is_integer(array.type):
        text = pc.cast(array, pa.string())
    else:
        strings = array.cast(pa.string())
        escaped = pc.replace_substring(pc.replace_substring(strings, "\\", "\\\\"), '"', '\\"')
        text = pc.binary_join_element_wise('"', escaped, '"', "")
        control = pc.fill_null(pc.match_substring_regex(strings, r"[\x00-\x1f]"), False)
        if pc.any(control).as_py():  # rare: orjson's own escapes for control characters, value by value
            odd = strings.filter(control).to_pylist()
            text = pc.replace_with_mask(text, control, pa.array([orjson.dumps(v).decode() for v in odd]))
    return pc.fill_null(text, "null")


def json_rows(table: pa.Table) -> bytes:
    """The rows as JSON objects separated by commas (no brackets), as orjson wrote the rows' dicts."""
    if not len(table):
        return b""
    parts: list[Any] = []
    for i, (name, value) in enumerate(zip(table.column_names, _once_per_float_column(table, _json_value))):
        parts += [("{" if i == 0 else ",") + orjson.dumps(name).decode() + ":", value]
    objects = pc.binary_join_element_wise(*parts, "}", "")
    lines = pc.binary_join_element_wise(objects, "", ",")  # object + "," + ""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset:lines.offset + len(lines) + 1]
    return lines.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]) - 1).to_pybytes()


# --- GeoParquet ---------------------------------------------------------------------------------------------------

def _wkb_points(lon: np.ndarray, lat: np.ndarray) -> pa.Array:
    """WKB points (little-endian, 21 bytes each), built in numpy."""
    record = np.zeros(len(lon), dtype=[("order", "u1"), ("kind", "<u4"), ("x", "<f8"), ("y", "<f8")])
    record["order"], record["kind"], record["x"], record["y"] = 1, 1, lon, lat
    offsets = np.arange(len(lon) + 1, dtype=np.int32) * 21
    return pa.Array.from_buffers(pa.binary(), len(lon), [None, pa.py_buffer(offsets), pa.py_buffer(record.tobytes())])


def geoparquet_table(table: pa.Table, sites: Sites, input_geo: bytes | None) -> pa.Table:
    """The located table of `sites` as GeoParquet: the input's geometry column and metadata kept, or else a
    `geometry` column of the WGS 84 points added (GeoParquet 1.1, WKB, OGC:CRS84)."""
    # Plain strings, so that readers give text, not categories (Parquet's own dictionary pages stay).
    table = pa.table({name: column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column
                      for name, column in zip(table.column_names, table.columns)})
    metadata = {b"nbgis": json.dumps({"note": SCHEMATIC}).encode()}
    if input_geo is not None:
        metadata[b"geo"] = input_geo
    else:
        table = table.append_column("geometry", _wkb_points(sites.lon, sites.lat))
        metadata[b"geo"] = json.dumps({"version": "1.1.0", "primary_column": "geometry", "columns": {
            "geometry": {"encoding": "WKB", "geometry_types": ["Point"]}}}).encode()
    return table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})


# --- streaming ----------------------------------------------------------------------------------------------------

@dataclass
class Progress:
    """What a caller sees after each block: rows done, and how far through the input (0..1)."""

    rows: int
    fraction: float


def read_blocks(src: Source, crs: OutputCRS | None, block_bytes: int = BLOCK_BYTES,
                block_rows: int = BLOCK_ROWS) -> tuple[Generator[Sites], Callable[[], float], bytes | None]:
    """Blocks of sites from a CSV or Parquet input, a function saying how far through it the reading is, and
    the input's GeoParquet metadata (to keep in a Parquet output)."""
    if isinstance(src, str | os.PathLike) and is_parquet(src):
        files = parquet_files(src)
        try:
            total = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
            geo = (pq.ParquetFile(files[0]).schema_arrow.metadata or {}).get(b"geo")
        except (OSError, pa.ArrowException) as exc:
            raise SitesError(f"not a readable Parquet input ({exc})") from exc
        seen = [0]

        def parquet_blocks() -> Generator[Sites]:
            for sites in parquet_sites(src, crs, block_rows, files):
                seen[0] += len(sites.table)
                yield sites
        return parquet_blocks(), lambda: seen[0] / max(total, 1), geo
    if isinstance(src, str | os.PathLike):
        size = max(os.path.getsize(src), 1)
        opened: list[pa.NativeFile] = []

        def csv_blocks() -> Generator[Sites]:
            with pa.OSFile(os.fspath(src), "r") as handle:  # Arrow's file: see geo.sites._open
                opened.append(handle)
                yield from csv_sites(handle, crs, block_bytes)

        def fraction() -> float:  # how far Arrow has read (it reads a block ahead)
            return 1.0 if not opened or opened[0].closed else min(opened[0].tell() / size, 1.0)
        return csv_blocks(), fraction, None
    return csv_sites(src, crs, block_bytes), lambda: 0.0, None


class _Writer:
    """Where located blocks go: a CSV file, a Parquet file, or a folder of Parquet files; each appears (renamed
    into place) only when close() is called after the last block."""

    def __init__(self, dst: str | os.PathLike[str], kind: str, input_geo: bytes | None, stack: ExitStack) -> None:
        self.dst, self.kind, self.input_geo = Path(dst), kind, input_geo
        self.rows = 0
        self.parquet: pq.ParquetWriter | None = None
        self.file_rows = self.files = 0
        if self.kind in ("csv", "parquet"):
            self.out = stack.enter_context(atomic_file(self.dst, "wb"))
        else:
            self.dst.parent.mkdir(parents=True, exist_ok=True)
            self.staging = Path(tempfile.mkdtemp(dir=self.dst.parent, prefix=f".{self.dst.name}.", suffix=".tmp"))
            stack.callback(shutil.rmtree, self.staging, ignore_errors=True)

    def write(self, out: pa.Table | bytes, rows: int, names: list[str]) -> None:
        """A block: CSV rows (bytes; the header of `names` before the first) or a GeoParquet table."""
        if isinstance(out, bytes):
            if self.rows == 0:
                self.out.write(BOM + csv_header(names))
            self.out.write(out)
        else:
            table = out
            if self.parquet is not None and self.kind == "folder" and self.file_rows >= ROWS_PER_FILE:
                self.parquet.close()
                self.parquet = None
            if self.parquet is None:
                sink = self.out if self.kind == "parquet" else self.staging / f"part-{self.files:05d}.parquet"
                self.files += self.kind == "folder"
                self.parquet = pq.ParquetWriter(sink, table.schema, compression="snappy")
                self.file_rows = 0
            self.parquet.write_table(table)
            self.file_rows += len(table)
        self.rows += rows

    def close(self) -> None:
        if self.parquet is not None:
            self.parquet.close()
        if self.kind == "folder":
            if self.dst.exists():  # a folder replaced whole: the old one goes only once the new one is complete
                old = self.dst.with_name(f".{self.dst.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(self.dst, old)
                os.replace(self.staging, self.dst)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(self.staging, self.dst)
            for part in self.dst.iterdir():
                publish(part, part)  # ordinary permissions, as for single files


def locate_file(src: Source, dst: str | os.PathLike[str], locator: Locator, crs: OutputCRS | None = None,
                progress: Callable[[Progress], None] | None = None, block_bytes: int = BLOCK_BYTES,
                block_rows: int = BLOCK_ROWS, columns: tuple[str, ...] = ADDED_COLUMNS) -> dict[str, Any]:
    """Locate every site of a CSV or Parquet input into ``dst`` (CSV, Parquet, or a folder for a Parquet
    dataset), block by block, adding the columns named; returns the summary of all rows (every count, whatever
    the columns). On any error nothing is left at ``dst`` (an older file there stays as it was)."""
    reuse_freed_memory()
    blocks, fraction, geo = read_blocks(src, crs, block_bytes, block_rows)
    kind = output_kind(src, dst)
    total: dict[str, Any] | None = None

    def work(sites: Sites) -> tuple[pa.Table | bytes, int, list[str], dict[str, Any]]:
        table, located = locate_sites(locator, sites, columns)
        out = csv_rows(table) if kind == "csv" else geoparquet_table(table, sites, geo)
        return out, len(table), table.column_names, locator.summary(located)

    with ExitStack() as stack:
        stack.enter_context(closing(blocks))  # on an error, the reader (and its file) closes at once
        writer = _Writer(dst, kind, geo, stack)
        for out, rows, names, summary in ordered_map(work, blocks):
            writer.write(out, rows, names)
            total = add_summaries(total, summary)
            if progress is not None:
                progress(Progress(writer.rows, fraction()))
        if total is None:
            raise SitesError("the file has a header but no data rows")
        writer.close()
    return total


def ordered_map(work: Callable[[T], R], items: Iterator[T]) -> Iterator[R]:
    """work(item) for each item, on the THREADS kept threads (numpy, PROJ, GEOS and Arrow let go of the GIL), in
    order, with at most 2 x THREADS items in flight: memory stays bound by the block."""
    if THREADS <= 1:
        yield from map(work, items)
        return
    pool = _block_pool()
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(work, item))
            if len(pending) >= 2 * THREADS:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _block_pool() -> ThreadPoolExecutor:
    """The process's threads for blocks, kept: each thread builds its own PROJ transformers (pyproj keeps them
    per thread, ~0.1 s each), so new threads per file cost a request 0.2-0.6 s (measured on POST /locate)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(THREADS, thread_name_prefix="nbgis-blocks", initializer=_ready_thread)
        return _pool


def _forget_pool() -> None:
    global _pool
    _pool = None  # a forked child has none of its parent's threads


os.register_at_fork(after_in_child=_forget_pool)


def _ready_thread() -> None:
    _LOCAL.transform(121.5, 29.9)  # the plane's transformer, both ways, built for this thread


def _start_block_threads() -> None:
    """Every thread of the pool started (and its transformers built), before the first file."""
    if THREADS <= 1:
        return
    barrier = threading.Barrier(THREADS)
    for done in [_block_pool().submit(barrier.wait, 60) for _ in range(THREADS)]:
        done.result()


def add_summaries(total: dict[str, Any] | None, part: dict[str, Any]) -> dict[str, Any]:
    """Two summaries added count by count (their keys are the same: every area appears in each)."""
    if total is None:
        return part
    return {k: add_summaries(total[k], v) if isinstance(v, dict) else total[k] + v for k, v in part.items()}
