"""Sites to locate, read block by block with Arrow: CSV (UTF-8, BOM or not), Parquet and GeoParquet (a file or a
folder of files), and GeoJSON; each block's coordinates checked and moved to WGS 84.

CSV text stays exactly as written (every column a string), so a located CSV repeats its input byte for byte.
An upload is bounded before it is parsed: at most MAX_COLUMNS columns (counted in the header as it is read, so
a header of a million columns is refused after the first thousand) and MAX_FIELD_BYTES per value; memory is
bounded by the block, however long the file.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Callable, Generator, Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pyproj
import shapely

from geo.crs import CRSError, OutputCRS, parse_crs, xy_to_wgs84
from geo.locate import LOCATED_COLUMNS, MAX_LISTED, WGS84_COLUMNS, SitesError

if TYPE_CHECKING:
    import pandas as pd

# Header spellings accepted (case-insensitively) for the coordinate columns, preferred first.
LON_NAMES = ("lon", "lng", "longitude", "x")
LAT_NAMES = ("lat", "latitude", "y")
MAX_COLUMNS = 1000
MAX_FIELD_BYTES = 64 * 1024
BLOCK_BYTES = 4 << 20  # CSV bytes parsed at a time (~90,000 short rows); also bounds one row's length
BLOCK_ROWS = 1 << 18  # Parquet rows read at a time
_HEAD_CHUNK = 1 << 16
_BOM = b"\xef\xbb\xbf"

Source = bytes | str | os.PathLike[str] | BinaryIO


class LimitError(SitesError):
    """Input past a size limit (a value or a row too long): the service answers 413."""


@dataclass(frozen=True, eq=False)
class Sites:
    """A block of sites: the input columns as read, and their WGS 84 lon/lat."""

    table: pa.Table
    lon: np.ndarray
    lat: np.ndarray
    first_row: int  # 1-based number of the block's first data row


# --- CSV ------------------------------------------------------------------------------------------------------

# Spreadsheet files people upload in place of a CSV, by their first bytes.
_SPREADSHEETS = ((b"PK\x03\x04", "a zip archive, such as an Excel workbook (.xlsx) or an OpenDocument sheet (.ods)"),
                 (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls)"))


def _header(stream: Any) -> tuple[list[str], int]:
    """The header's column names and its length in bytes (BOM included), read a chunk at a time and refused as
    soon as it has more than MAX_COLUMNS columns or a name longer than MAX_FIELD_BYTES."""
    start = stream.tell()
    kind = next((kind for magic, kind in _SPREADSHEETS if stream.read(4).startswith(magic)), None)
    if kind is not None:
        raise SitesError(f"the file is {kind}, not CSV text: in Excel, 'Save As' 'CSV UTF-8 (.csv)' and upload that")
    stream.seek(start)
    head = bytearray()
    quoted = False  # inside quotes at the end of what was scanned
    fields, field_start, end = 1, 0, -1
    while end < 0:
        chunk = stream.read(_HEAD_CHUNK)
        if not chunk:
            break
        offset = len(head)
        head += chunk
        data = np.frombuffer(chunk, dtype=np.uint8)
        # Quote parity: a doubled quote toggles twice, so counting quotes tells inside from outside.
        inside = (np.cumsum(data == ord('"')) + quoted) % 2 == 1
        ends = np.flatnonzero(((data == ord("\n")) | (data == ord("\r"))) & ~inside)
        stop = int(ends[0]) if len(ends) else len(data)
        commas = np.flatnonzero((data[:stop] == ord(",")) & ~inside[:stop]) + offset
        if len(commas):
            widths = np.diff(np.r_[field_start, commas])
            if widths.max() > MAX_FIELD_BYTES:
                raise _field_too_long("the header")
            fields += len(commas)
            field_start = int(commas[-1]) + 1
        if fields > MAX_COLUMNS:  # a 400 (the file's shape), where a value too long is a 413 (its size)
            raise SitesError(f"the header has more than {MAX_COLUMNS:,} columns (the limit); keep the columns "
                             f"you need")
        if offset + stop - field_start > MAX_FIELD_BYTES:
            raise _field_too_long("the header")
        quoted = bool(inside[-1]) if len(inside) else quoted
        if len(ends):
            end = offset + int(ends[0])
    if not head.strip(_BOM + b" \t\r\n"):
        raise SitesError("the file is empty: expected a header row such as lon,lat,id and data rows")
    if end < 0:
        end = len(head)
    length = end + (2 if head[end:end + 2] == b"\r\n" else 1)
    text = bytes(head[:end])
    try:
        names = next(csv.reader([text.removeprefix(_BOM).decode("utf-8")]))
    except UnicodeDecodeError as exc:
        raise _not_utf8() from exc
    except csv.Error as exc:  # a NUL byte, say
        raise SitesError(f"the header is not readable CSV ({exc})") from exc
    stream.seek(stream.tell() - len(head) + length)  # back to the first data row
    return _unique(names), length


def _unique(names: list[str]) -> list[str]:
    """Repeated names made unique as pandas does (a, a.1, a.2), so no column is lost."""
    seen: set[str] = set()
    out = []
    for name in names:
        candidate, n = name, 0
        while candidate in seen:
            n += 1
            candidate = f"{name}.{n}"
        seen.add(candidate)
        out.append(candidate)
    return out


def _field_too_long(where: str) -> LimitError:
    return LimitError(f"{where} has a value longer than {MAX_FIELD_BYTES // 1024} KiB (the limit per value)")


def _not_utf8() -> SitesError:
    return SitesError("the file is not UTF-8 text (GBK or another encoding?); save it as UTF-8, e.g. Excel's "
                      "'CSV UTF-8'")


def _open(source: Source) -> tuple[Any, bool]:
    """A seekable binary stream over the source, and whether we opened it (and so close it). Bytes and paths get
    Arrow's own files: its reader then reads ahead without Python (and without a thread left holding a Python
    file when a command ends on an error, which aborts the interpreter)."""
    if isinstance(source, bytes):
        return pa.BufferReader(source), True
    if isinstance(source, str | os.PathLike):
        return pa.OSFile(os.fspath(source), "r"), True
    return source, False


def csv_tables(source: Source, block_bytes: int = BLOCK_BYTES) -> Generator[pa.Table]:
    """The CSV's data rows as tables of string columns, a block at a time; text as written (no NA guessing)."""
    stream, owned = _open(source)
    reader = None
    try:
        names, _ = _header(stream)
        try:
            reader = pacsv.open_csv(
                stream,
                # One thread: a bad row's error then gives its number (blocks are located in parallel anyway).
                # No Python handler for bad rows: one left in Arrow's reader can abort the interpreter at exit.
                read_options=pacsv.ReadOptions(column_names=names, block_size=block_bytes, use_threads=False),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                     strings_can_be_null=False, quoted_strings_can_be_null=False))
        except pa.ArrowInvalid as exc:  # open_csv reads the first block
            if "Empty CSV file" in str(exc):  # a header and nothing after it
                return
            raise _csv_error(exc, len(names), 0) from exc
        rows = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                raise _csv_error(exc, len(names), rows) from exc
            table = pa.Table.from_batches([batch])
            _check_field_sizes(table, rows)
            rows += len(table)
            yield table
    finally:
        if reader is not None:  # before the stream: its read-ahead thread reads from it
            reader.close()
        if owned:
            stream.close()


def _csv_error(exc: Exception, columns: int, rows_before: int) -> SitesError:
    message = str(exc)
    fields = re.search(r"Row #(\d+): Expected \d+ columns, got (\d+)", message)
    if fields:
        return SitesError(f"data row {fields[1]} has {fields[2]} fields but the header {columns}: a trailing comma, "
                          f"a comma in an unquoted value, or a missing value?")
    if "UTF8" in message or "UTF-8" in message:
        return _not_utf8()
    if "straddling" in message or "block size" in message:
        return LimitError(f"a data row after row {rows_before} is longer than {BLOCK_BYTES // 2**20} MiB")
    return SitesError(f"not a readable CSV: {message.strip().splitlines()[0]}")


def _check_field_sizes(table: pa.Table, rows_before: int) -> None:
    for name, column in zip(table.column_names, table.columns):
        lengths = pc.binary_length(column)
        if len(lengths) and pc.max(lengths).as_py() > MAX_FIELD_BYTES:
            row = rows_before + int(pc.index(pc.greater(lengths, MAX_FIELD_BYTES), True).as_py()) + 1
            raise _field_too_long(f"data row {row}, column {name!r},")


def csv_sites(source: Source, crs: OutputCRS | None = None, block_bytes: int = BLOCK_BYTES) -> Generator[Sites]:
    """Blocks of sites from a CSV with a header naming lon and lat columns (any spelling of LON_NAMES and
    LAT_NAMES; x/easting and y/northing with a projected ``crs``); SitesError naming the rows that are bad."""
    rows = 0
    with closing(csv_tables(source, block_bytes)) as tables:  # closed at once on an error, reader and all
        for table in tables:
            if rows == 0:
                lon_col, lat_col = coordinate_columns(table.column_names)
            lon, lat = wgs84_points(table[lon_col], table[lat_col], (lon_col, lat_col), crs,
                                    _numbered("data row", rows + 1))
            yield Sites(table, lon, lat, rows + 1)
            rows += len(table)
    if rows == 0:
        raise SitesError("the file has a header but no data rows")


# --- Parquet ----------------------------------------------------------------------------------------------------

def parquet_files(path: str | os.PathLike[str]) -> list[Path]:
    """A Parquet file, or the .parquet files of a folder (a dataset) in name order."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.parquet") if not p.name.startswith((".", "_")))
        if not files:
            raise SitesError(f"{path} holds no .parquet files")
        return files
    return [path]


def parquet_sites(path: str | os.PathLike[str], crs: OutputCRS | None = None, rows: int = BLOCK_ROWS,
                  files: list[Path] | None = None, row_groups: tuple[int, ...] | None = None,
                  first_row: int = 1) -> Generator[Sites]:
    """Blocks of sites from Parquet: lon/lat columns (numbers or text) or, in GeoParquet, the primary geometry
    column's points (in the CRS its metadata names, unless ``crs`` is given). ``files`` and ``row_groups``
    select part of the input (a cluster's task), whose first row is ``first_row`` of the whole."""
    done = first_row - 1
    for file in files if files is not None else parquet_files(path):
        try:
            handle = pq.ParquetFile(file)
        except (OSError, pa.ArrowException) as exc:
            raise SitesError(f"{file}: not a readable Parquet file ({exc})") from exc
        geometry, file_crs = _geo_column(handle.schema_arrow.metadata)
        names = handle.schema_arrow.names
        _refuse_clashes(names)
        if geometry is None or geometry not in names:
            lon_col, lat_col = coordinate_columns(names)
        for batch in handle.iter_batches(batch_size=rows, row_groups=row_groups):
            table = pa.Table.from_batches([batch])
            if geometry is not None and geometry in names:
                x, y = _wkb_points(table[geometry], done)
                lon, lat = wgs84_points(x, y, ("x", "y"), crs or file_crs, _numbered("row", done + 1))
            else:
                lon, lat = wgs84_points(table[lon_col], table[lat_col], (lon_col, lat_col), crs,
                                        _numbered("row", done + 1))
            yield Sites(table, lon, lat, done + 1)
            done += len(table)
    if done == first_row - 1:
        raise SitesError("the Parquet input has no rows")


def _geo_column(metadata: dict[bytes, bytes] | None) -> tuple[str | None, OutputCRS | None]:
    """The primary geometry column named by GeoParquet metadata, and its CRS (None: OGC:CRS84)."""
    if not metadata or b"geo" not in metadata:
        return None, None
    geo = json.loads(metadata[b"geo"])
    name = geo.get("primary_column")
    spec = geo.get("columns", {}).get(name, {})
    if spec.get("encoding", "WKB") != "WKB":
        raise SitesError(f"geometry column {name!r} is encoded as {spec['encoding']}; only WKB is read")
    crs = spec.get("crs")
    if crs is None:
        return name, None
    try:  # PROJJSON, which names its schema by URL: read by pyproj, then given by its code (or its WKT)
        found = pyproj.CRS.from_json_dict(crs) if isinstance(crs, dict) else pyproj.CRS.from_user_input(crs)
        code = found.to_authority()
        return name, parse_crs(f"{code[0]}:{code[1]}" if code else found.to_wkt())
    except (CRSError, pyproj.exceptions.CRSError, TypeError, ValueError) as exc:
        raise SitesError(f"geometry column {name!r}: its CRS is not usable here ({exc})") from exc


def _wkb_points(column: pa.ChunkedArray, first: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y of WKB points (NaN for nulls and empty points); SitesError naming rows that are not points."""
    geoms = shapely.from_wkb(column.to_numpy(zero_copy_only=False), on_invalid="ignore")
    kinds = shapely.get_type_id(geoms)
    bad = np.flatnonzero((kinds != shapely.GeometryType.POINT) & (kinds != shapely.GeometryType.MISSING))
    if len(bad):
        listed = ", ".join(str(first + int(i)) for i in bad[:MAX_LISTED])
        raise SitesError(f"{len(bad)} geometries are not points; rows (1-based): {listed}")
    return shapely.get_x(geoms), shapely.get_y(geoms)


# --- GeoJSON ----------------------------------------------------------------------------------------------------

def read_sites_geojson(doc: Any, crs: OutputCRS | None = None) -> pd.DataFrame:
    """Sites from a GeoJSON FeatureCollection of Points: ``id`` (the feature's id, else its ``id`` property,
    else None), each property as a column (lists and objects as JSON text), and ``lon84``, ``lat84``.
    A frame, not Arrow: a property may hold numbers in one feature and text in another."""
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(features, list):
        raise SitesError("not a GeoJSON FeatureCollection (expected {\"type\": \"FeatureCollection\", "
                         "\"features\": [...]})")
    if not features:
        raise SitesError("the FeatureCollection has no features")
    bad = [f"features[{i}]: {why}" for i, f in enumerate(features) if (why := _not_a_point(f))]
    if bad:
        raise SitesError(f"{len(bad)} feature(s) are not Points with [lon, lat]: " + "; ".join(bad[:MAX_LISTED]))
    import pandas as pd  # here, not above: the batch path (`nbgis locate`) starts without pandas

    rows = []
    for f in features:
        props = f.get("properties") or {}
        row = {"id": f.get("id", props.get("id"))}
        row.update({k: v if v is None or isinstance(v, str | int | float | bool)
                    else json.dumps(v, ensure_ascii=False) for k, v in props.items() if k != "id"})
        rows.append(row)
    frame = pd.DataFrame(rows, dtype=object)
    frame = frame.where(frame.notna(), None)  # a property some features lack is None, not NaN
    _refuse_clashes(frame.columns)
    coords = np.array([f["geometry"]["coordinates"][:2] for f in features], dtype=float)
    frame["lon84"], frame["lat84"] = wgs84_points(coords[:, 0], coords[:, 1], ("lon", "lat"), crs,
                                                  lambda i: f"features[{i}]")
    return frame


def read_sites_csv(source: Source, crs: OutputCRS | None = None) -> pd.DataFrame:
    """A whole CSV as one frame: every input column as text, and float ``lon84``, ``lat84`` (for small files
    and tests; files of any size go through csv_sites block by block)."""
    import pandas as pd

    blocks = list(csv_sites(source, crs))
    table = pa.concat_tables([b.table for b in blocks])
    frame = table.to_pandas(types_mapper={pa.string(): pd.ArrowDtype(pa.string())}.get).astype(object)
    frame["lon84"], frame["lat84"] = np.concatenate([b.lon for b in blocks]), np.concatenate([b.lat for b in blocks])
    return frame


def _not_a_point(feature: Any) -> str | None:
    """Why a feature is not a Point feature, or None if it is one."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return "not a Feature"
    if not isinstance(feature.get("properties") or {}, dict):
        return "properties is not an object"
    geom = feature.get("geometry")
    if not isinstance(geom, dict):
        return "no geometry"
    if geom.get("type") != "Point":
        return f"a {geom.get('type')}, not a Point"
    coords = geom.get("coordinates")
    if not (isinstance(coords, list) and 2 <= len(coords) <= 3
            and all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords)):
        return f"coordinates {json.dumps(coords)} are not [lon, lat]"
    return None


# --- coordinates ------------------------------------------------------------------------------------------------

def _refuse_clashes(columns: Iterable[str]) -> None:
    """Input columns must not share a name with what locating adds, or the output would hold both."""
    clash = [c for c in columns if c in (*WGS84_COLUMNS, *LOCATED_COLUMNS)]
    if clash:
        raise SitesError(f"the input already has column(s) {', '.join(map(repr, clash))}, which locating "
                         f"adds; rename or drop them")


def coordinate_columns(columns: Iterable[Any]) -> tuple[str, str]:
    """The lon and lat columns by any accepted spelling; SitesError naming the columns found otherwise."""
    columns = [str(c) for c in columns]
    _refuse_clashes(columns)
    by_name: dict[str, str] = {}
    for c in columns:
        by_name.setdefault(c.strip().lower(), c)
    lon, lat = (next((by_name[n] for n in names if n in by_name), None) for names in (LON_NAMES, LAT_NAMES))
    missing = [f"{what} column ({' / '.join(names)})" for what, names, col in
               (("longitude", LON_NAMES, lon), ("latitude", LAT_NAMES, lat)) if col is None]
    if lon is None or lat is None:
        raise SitesError(f"no {' and no '.join(missing)}; the columns found are: "
                         f"{', '.join(map(repr, columns)) or 'none'}")
    return lon, lat


def _numbered(what: str, first: int) -> Callable[[int], str]:
    """Names a block's row i as the file's row (1-based): "data row 1234"."""
    return lambda i: f"{what} {first + i}"


def _numbers(values: Any) -> np.ndarray:
    """Floats from a column of numbers or text, NaN where the text is not a number (as pandas.to_numeric)."""
    if isinstance(values, np.ndarray):
        return values.astype(float)
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        try:  # Arrow's parser gives pandas' values (checked in the tests), ten times faster
            return np.asarray(pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
        except pa.ArrowInvalid:  # some text is not a plain number: pandas says which, and parses " 1.5" too
            import pandas as pd

            text = pd.Series(values.to_numpy(zero_copy_only=False), dtype=object)
            return pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type) or pa.types.is_decimal(values.type):
        return np.asarray(pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
    raise SitesError(f"coordinates of type {values.type} are not numbers")


def _text(values: Any, i: int) -> Any:
    return values[i] if isinstance(values, np.ndarray) else values[i].as_py()


def wgs84_points(x_values: Any, y_values: Any, names: tuple[str, str], crs: OutputCRS | None,
                 row_label: Callable[[int], str]) -> tuple[np.ndarray, np.ndarray]:
    """Parse and check coordinates (Arrow text or numbers, or numpy floats), then move them to WGS 84;
    SitesError listing the first bad rows."""
    values = [_numbers(v) for v in (x_values, y_values)]
    raw = (x_values, y_values)
    # Ranges are checked on the input only when it is in degrees; after any transform, on the result.
    limits = (180.0, 90.0) if crs is None or crs.is_geographic else (np.inf, np.inf)
    nan = [np.isnan(v) for v in values]
    out_of_range = [~n & ~(np.abs(v) <= limit) for v, n, limit in zip(values, nan, limits)]
    bad = np.flatnonzero(nan[0] | nan[1] | out_of_range[0] | out_of_range[1])
    what: Callable[[int], str]
    if len(bad):
        def what(i: int) -> str:
            parts = []
            for k in (0, 1):
                text = _text(raw[k], i)
                if nan[k][i]:
                    empty = text is None or (isinstance(text, float) and np.isnan(text)) or not str(text).strip()
                    parts.append(f"{names[k]} is empty" if empty else f"{names[k]} {text!r} is not a number")
                elif out_of_range[k][i]:
                    parts.append(f"{names[k]} {values[k][i]:g} is out of range -{limits[k]:g}..{limits[k]:g}")
            return ", ".join(parts)
    else:
        lon, lat = xy_to_wgs84(values[0], values[1], crs)
        bad = np.flatnonzero(~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)))
        label = crs.label if crs is not None else "WGS 84"

        def what(i: int) -> str:
            return f"({values[0][i]:g}, {values[1][i]:g}) in {label} has no WGS 84 lon/lat"
    if len(bad):
        listed = "; ".join(f"{row_label(int(i))}: {what(int(i))}" for i in bad[:MAX_LISTED])
        more = f" (the first {MAX_LISTED} listed)" if len(bad) > MAX_LISTED else ""
        raise SitesError(f"bad coordinates in {len(bad)} row(s){more}: {listed}")
    return lon, lat
