"""Export the layers to the files GIS, CAD and spreadsheet users open: one registry of formats.

``FORMATS`` maps a format name to its writer, media type, file extension and whether one file holds
many layers, so the CLI and the HTTP service offer the same formats (as pygeoapi's formatters do).
A writer gets frames already in the output CRS and writes into a staging directory beside the
target; ``export`` zips several files together and renames the result over the target, so a failed
export never leaves half a file. GDAL (through pyogrio), pyarrow, ezdxf and simplekml write the
formats; nothing here hand-writes one.

What every format keeps: the attributes of the collection (areas keep ``geometry_quality``, "schematic" or
"surveyed", their ``geometry_method`` and ``geometry_source``, so a drawing is never passed off as surveyed nor
a survey as a drawing), the computed geodesic ``area_km2``, and a notice saying how many boundaries are which
(geo.boundaries, counted from the features written) where the format has a place for text. For GCJ-02 output,
which has no EPSG code, the files are labelled EPSG:4326 and every feature gets ``crs`` "GCJ-02".
"""

from __future__ import annotations

import csv
import errno
import html
import io
import json
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape as xml_escape

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyogrio
import pyproj
import shapely

from geo import boundaries
from geo.crs import OutputCRS, parse_crs, to_crs
from geo.io import publish
from geo.layers import Layers
from geo.schema import KINDS, PARK_KINDS

COLLECTIONS = tuple(dict.fromkeys(k.collection for k in KINDS.values()))  # schema order, each once
ALL = "all"
ALL_STEM = "ningbo-innovation-layout"  # the file name of an export of several collections
WGS84 = pyproj.CRS.from_epsg(4326)

NOTICE = ("Schematic: the areas of Ningbo's 14th Five-Year S&T Innovation Plan are drawn from the plan's "
          "words, not surveyed; not for parcel-level or legal use (see geometry_quality and geometry_method).")
# Columns kept even when empty in a collection (the rest are dropped when no feature of it has them).
KEEP_COLUMNS = ("id", "kind", "name_zh", "name_en", "source", "geometry_quality", "geometry_method",
                "geometry_source", "area_km2")
PARK_COLLECTIONS = {k.collection for k in PARK_KINDS}


class ExportError(ValueError):
    """An export that cannot be made as asked: unknown format or collection, or a CRS the format cannot hold."""


Writer = Callable[[dict[str, gpd.GeoDataFrame], Path, OutputCRS], None]


@dataclass(frozen=True)
class ExportFormat:
    name: str
    title: str
    writer: Writer  # writes the frames (already in the output CRS) into a staging directory
    media_type: str
    extension: str  # of one layer's file, or of the one file holding every layer
    multi_layer: bool  # one file holds many layers; otherwise several layers go into a zip, a file each
    crs_rule: Literal["any", "wgs84", "lonlat", "projected"] = "any"  # KML: WGS 84; GeoJSON: lon/lat; DXF: metres
    default_crs: str | None = None  # when the caller names none; otherwise the stored WGS 84

    def packed(self, n_layers: int) -> bool:
        """Whether the output is a zip of the writer's files."""
        return self.extension == "zip" or (not self.multi_layer and n_layers > 1)

    def filename(self, stem: str, n_layers: int) -> str:
        return f"{stem}.{'zip' if self.packed(n_layers) else self.extension}"

    def output_media_type(self, n_layers: int) -> str:
        return "application/zip" if self.packed(n_layers) else self.media_type


# --- collections --------------------------------------------------------------------------------


def collection_names(collection: str) -> tuple[str, ...]:
    """The collection ids `collection` stands for ('all' is every one); ExportError if unknown."""
    if collection == ALL:
        return COLLECTIONS
    if collection not in COLLECTIONS:
        raise ExportError(f"unknown collection {collection!r}; choose one of {', '.join(COLLECTIONS)} or {ALL}")
    return (collection,)


def collection_frames(layers: Layers, collection: str) -> dict[str, gpd.GeoDataFrame]:
    """One GeoDataFrame per collection id, as the service lists them (districts = districts + city)."""
    return {name: _collection(layers, name) for name in collection_names(collection)}


def _collection(layers: Layers, name: str) -> gpd.GeoDataFrame:
    frames = [layers.kind(k.name) for k in KINDS.values() if k.collection == name]
    frame = gpd.GeoDataFrame(pd.concat(frames), geometry="geometry", crs=frames[0].crs)
    if name in PARK_COLLECTIONS:
        # geometry_source beside geometry_method, empty while all are schematic: a file's fields stay put
        # when an edit surveys a boundary, so a GIS project linked to them keeps working
        source = frame.pop("geometry_source") if "geometry_source" in frame.columns else None
        frame.insert(frame.columns.get_loc("geometry_method") + 1, "geometry_source", source)
    # The loaded frames hold every kind's columns; a collection keeps those its features use.
    used = [c for c in frame.columns if c in KEEP_COLUMNS or c == "geometry" or frame[c].notna().any()]
    return frame[used]


def default_stem(layers: dict[str, gpd.GeoDataFrame]) -> str:
    return next(iter(layers)) if len(layers) == 1 else ALL_STEM


# --- the door -----------------------------------------------------------------------------------


# Other names users give the formats (any case): the extension or the usual long name.
FORMAT_ALIASES = {"shp": "shapefile", "json": "geojson", "geopackage": "gpkg", "flatgeobuf": "fgb",
                  "geoparquet": "parquet"}


def get_format(fmt: str) -> ExportFormat:
    """A format by name, extension or usual alias, in any case (GPKG, shp, GeoParquet ...)."""
    key = fmt.strip().lower() if isinstance(fmt, str) else ""
    try:
        return FORMATS[FORMAT_ALIASES.get(key, key)]
    except KeyError:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)} "
                          f"(or {', '.join(FORMAT_ALIASES)})") from None


def check_output_name(spec: ExportFormat, path: Path, n_layers: int) -> None:
    """Refuse a file name whose extension says another format than the one written: `all.geojson` for what
    is a zip of GeoJSON files, `f.shp` for a GeoPackage. A name without an extension is taken as given."""
    suffix = Path(path).suffix.lower().lstrip(".")
    expected = spec.filename("x", n_layers).rsplit(".", 1)[1]
    if suffix and suffix != expected:
        what = (f"{n_layers} collections as {spec.title} are a zip, a file each" if spec.packed(n_layers)
                and spec.extension != "zip" else f"{spec.title} is written as a .{expected} file")
        raise ExportError(f"output {Path(path).name!r} has the extension .{suffix}, but {what}: "
                          f"name it .{expected} (or give a directory to get the usual name)")


def resolve_crs(spec: ExportFormat, crs: OutputCRS | None) -> OutputCRS:
    """The CRS to write in: the caller's, or the format's default, or the stored WGS 84; checked against the format."""
    out = crs if crs is not None else parse_crs(spec.default_crs or "EPSG:4326")
    if spec.crs_rule == "lonlat" and not (is_wgs84(out) or out.is_gcj02):
        raise ExportError(f"{spec.title} is WGS 84 longitude/latitude by RFC 7946, which dropped the crs member; "
                          f"{out.label} cannot be said in it. Use gpkg, shapefile or fgb for {out.label}, or "
                          "leave out --crs (GCJ02 is allowed: its lon/lat are marked per feature)")
    if spec.crs_rule == "wgs84" and not is_wgs84(out):
        raise ExportError(f"{spec.title} is WGS 84 longitude/latitude by specification; it cannot be written in "
                          f"{out.label}: leave out --crs (or give EPSG:4326)")
    if spec.crs_rule == "projected":
        if out.is_geographic:
            raise ExportError(f"{spec.title} needs a projected CRS in metres; {out.label} is geographic (degrees): "
                              f"give e.g. --crs EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E)")
        assert out.crs is not None
        unit = out.crs.axis_info[0].unit_name if out.crs.axis_info else ""
        if unit not in ("metre", "meter"):
            raise ExportError(f"{spec.title} needs a projected CRS in metres; {out.label} is in "
                              f"{unit or 'unknown units'}")
    return out


def is_wgs84(out: OutputCRS) -> bool:
    return out.crs is not None and not out.is_gcj02 and out.crs.equals(WGS84, ignore_axis_order=True)


def export(layers: dict[str, gpd.GeoDataFrame], fmt: str, crs: OutputCRS | None, path: Path) -> Path:
    """Write the layers (collection id -> frame in EPSG:4326) to `path` in format `fmt`, atomically."""
    spec = get_format(fmt)
    if not layers:
        raise ExportError("nothing to export: no collection given")
    check_output_name(spec, path, len(layers))
    out = resolve_crs(spec, crs)
    frames = {name: _prepare(gdf, out) for name, gdf in layers.items()}
    path = Path(path)
    sweep_staging(path.parent)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}{_STAGING}{os.getpid()}-", suffix=".tmp"))
    try:
        _write(spec, frames, staging, out, path)
        files = sorted(p for p in staging.iterdir() if p.is_file())
        if spec.packed(len(frames)):
            result = staging / ".packed.zip"
            with zipfile.ZipFile(result, "w", zipfile.ZIP_DEFLATED) as zf:
                for f in files:
                    zf.write(f, f.name)
        else:
            if len(files) != 1:  # pragma: no cover - a single-file writer that wrote several is a bug here
                raise RuntimeError(f"{spec.name} writer produced {len(files)} files for one output")
            result = files[0]
        publish(result, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


# Staging folders are named for the process that made them, so one killed before it could clean up is found and
# removed by the next export into the same folder: `.NAME.nbgis-PID-XXXX.tmp` (or `nbgis-PID-XXXX.tmp` in /tmp).
_STAGING = ".nbgis-"
_STALE = re.compile(r"^\.?(?:.*\.)?nbgis-(\d+)-[^/]*\.tmp$")


def sweep_staging(folder: Path) -> int:
    """Remove staging folders in `folder` left by export processes that no longer run; how many were removed."""
    removed = 0
    try:
        candidates = [p for p in folder.glob("*nbgis-*.tmp") if p.is_dir()]
    except OSError:
        return 0
    for candidate in candidates:
        match = _STALE.match(candidate.name)
        if match is None or _alive(int(match.group(1))):
            continue
        shutil.rmtree(candidate, ignore_errors=True)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _write(spec: ExportFormat, frames: dict[str, gpd.GeoDataFrame], staging: Path, out: OutputCRS, path: Path) -> None:
    """The format's writer, with its libraries' failures said as one OSError: ENOSPC when the disk is full (GDAL
    says "Cannot write feature" or "no such table" then), EIO otherwise."""
    try:
        spec.writer(frames, staging, out)
    except (ExportError, OSError):
        raise
    except Exception as exc:
        if _disk_full(staging):
            raise OSError(errno.ENOSPC, f"no space left on the device of {path.parent}") from exc
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OSError(errno.EIO, f"the {spec.title} writer failed: {first[:300]}") from exc


def _disk_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < 1024 * 1024
    except OSError:
        return False


def export_bytes(layers: dict[str, gpd.GeoDataFrame], fmt: str, crs: OutputCRS | None = None,
                 stem: str | None = None) -> tuple[bytes, str, str]:
    """The export as (content, media type, filename), for an HTTP response."""
    spec = get_format(fmt)
    name = spec.filename(stem or default_stem(layers), len(layers))
    sweep_staging(Path(tempfile.gettempdir()))
    with tempfile.TemporaryDirectory(prefix=f"nbgis-{os.getpid()}-", suffix=".tmp") as tmp:
        data = export(layers, fmt, crs, Path(tmp) / name).read_bytes()
    return data, spec.output_media_type(len(layers)), name


def _prepare(frame: gpd.GeoDataFrame, out: OutputCRS) -> gpd.GeoDataFrame:
    gdf = to_crs(frame.reset_index(drop=True), out)
    if out.is_gcj02:  # the files say EPSG:4326; each feature says what its coordinates really are
        gdf.insert(len(gdf.columns) - 1, "crs", "GCJ-02")
    return gdf


def notice(out: OutputCRS, frames: Iterable[gpd.GeoDataFrame]) -> str:
    """The text a format's description slot carries: how many of the frames' boundaries are schematic and how
    many surveyed (NOTICE while none is surveyed), and the CRS."""
    if out.is_gcj02:
        where = "Coordinates: GCJ-02 (AMap/Tencent offset), labelled EPSG:4326 because GCJ-02 has no EPSG code."
    else:
        assert out.crs is not None
        where = f"Coordinates: {out.label} ({out.crs.name})."
    return f"{boundary_notice(boundaries.of_frames(frames))} {where}"


def boundary_notice(b: boundaries.Boundaries) -> str:
    """NOTICE while every boundary is schematic; else how many are which, and where the surveyed ones came from."""
    if not b.mixed:
        return NOTICE
    schematic = (" Schematic ones are drawn from the words of Ningbo's 14th Five-Year S&T Innovation Plan, not "
                 "surveyed; not for parcel-level or legal use." if b.schematic else "")
    return (f"Boundaries: {boundaries.summary(b)}.{schematic} Each feature's geometry_quality says which, "
            "geometry_method how it was drawn, geometry_source where a surveyed one came from.")


# --- attribute tables for GDAL ------------------------------------------------------------------


def _nested(series: pd.Series) -> bool:
    return any(isinstance(v, list | dict) for v in series)


def _to_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _promoted(geoms: gpd.GeoSeries) -> list[Any]:
    """Geometries with singles made multi where a layer mixes both (GDAL layers have one declared type)."""
    values = list(geoms.values)
    types = {g.geom_type for g in values if g is not None}
    for single, multi in ((shapely.Polygon, shapely.MultiPolygon), (shapely.LineString, shapely.MultiLineString),
                          (shapely.Point, shapely.MultiPoint)):
        if {single.__name__, multi.__name__} <= types:
            values = [multi([g]) if isinstance(g, single) else g for g in values]
    return values


def _geometry_type(values: list[Any]) -> str:
    types = {g.geom_type for g in values if g is not None}
    return types.pop() if len(types) == 1 else "Unknown"


def _arrow_table(gdf: gpd.GeoDataFrame, json_type: bool = True) -> tuple[pa.Table, str]:
    """The frame as an Arrow table with WKB geometry, and its layer geometry type.

    Lists and objects become JSON: typed as JSON where the format keeps it (GeoJSON writes them as
    arrays and objects, GeoPackage marks the column application/json), else plain text.
    """
    columns: dict[str, pa.Array] = {}
    for col in gdf.columns:
        if col == gdf.geometry.name:
            continue
        if _nested(gdf[col]):
            texts = [_to_json(v) for v in gdf[col]]
            columns[col] = pa.array(texts, type=pa.json_() if json_type else pa.string())
        else:
            array = pa.array(gdf[col].tolist(), from_pandas=True)
            # A column empty in this part (of a split layer) has no type; GDAL needs one.
            columns[col] = array.cast(pa.string()) if pa.types.is_null(array.type) else array
    geoms = _promoted(gdf.geometry)
    columns["geometry"] = pa.array(shapely.to_wkb(geoms).tolist(), type=pa.binary())
    return pa.table(columns), _geometry_type(geoms)


def _write_gdal(gdf: gpd.GeoDataFrame, path: Path, driver: str, layer: str, json_type: bool = True,
                **layer_options: str) -> None:
    table, geometry_type = _arrow_table(gdf, json_type)
    pyogrio.write_arrow(table, path, layer=layer, driver=driver, geometry_name="geometry",
                        geometry_type=geometry_type, crs=gdf.crs.to_wkt(),
                        encoding="UTF-8" if driver == "ESRI Shapefile" else None, layer_options=layer_options)


def _title(collection: str) -> str:
    return next(k.title for k in KINDS.values() if k.collection == collection)


# --- writers ------------------------------------------------------------------------------------


def _write_geojson(frames: dict[str, gpd.GeoDataFrame], out_dir: Path, out: OutputCRS) -> None:
    # RFC 7946: lon/lat, no crs member (resolve_crs lets only WGS 84 and GCJ-02 lon/lat through)
    for name, gdf in frames.items():
        _write_gdal(gdf, out_dir / f"{name}.geojson", "GeoJSON", name, RFC7946="YES",
                    COORDINATE_PRECISION="7", ID_FIELD="id", DESCRIPTION=notice(out, [gdf]))


def _write_gpkg(frames: dict[str, gpd.GeoDataFrame], out_dir: Path, out: OutputCRS) -> None:
    path = out_dir / "layers.gpkg"
    for name, gdf in frames.items():  # each write adds a layer to the same GeoPackage
        _write_gdal(gdf, path, "GPKG", table_name(name), IDENTIFIER=_title(name),
                    DESCRIPTION=notice(out, [gdf]))


def table_name(collection: str) -> str:
    """A collection's table in a GeoPackage: underscores, so SQL needs no quotes (corridor_units)."""
    return collection.replace("-", "_")


def _write_fgb(frames: dict[str, gpd.GeoDataFrame], out_dir: Path, out: OutputCRS) -> None:
    for name, gdf in frames.items():
        # FlatGeobuf's packed R-tree cannot hold features without geometry (platforms with no known site).
        index = "NO" if gdf.geometry.isna().any() else "YES"
        _write_gdal(gdf, out_dir / f"{name}.fgb", "FlatGeobuf", name, SPATIAL_INDEX=index,
                    TITLE=_title(name), DESCRIPTION=notice(out, [gdf]))


def _write_csv(frames: dict[str, gpd.GeoDataFrame], out_dir: Path, out: OutputCRS) -> None:
    # The BOM makes Excel read the file as UTF-8, so the Chinese shows; the geometry is WKT in the output CRS.
    for name, gdf in frames.items():
        _write_gdal(gdf, out_dir / f"{name}.csv", "CSV", name, json_type=False, GEOMETRY="AS_WKT", WRITE_BOM="YES")


def _write_parquet(frames: dict[str, gpd.GeoDataFrame], out_dir: Path, out: OutputCRS) -> None:
    for name, gdf in frames.items():
        flat = gdf.copy()
        for col in flat.columns:
            if col != flat.geometry.name and _nested(flat[col]):
                flat[col] = [_to_json(v) for v in flat[col]]
        flat.to_parquet(out_dir / f"{name}.parquet", index=False)


# --- shapefile ----------------------------------------------------------------------------------

# The stated short names of the layers' long fields (dBASE allows 10 characters). Stable: a field keeps
# its short name whatever else is exported. Fields not listed are cut to 10 characters, and where that
# collides, to 8 plus a two-digit counter in the order of their full names.
SHAPEFILE_NAMES = {
    "district_adcodes": "dist_codes",
    "district_names_zh": "dist_zh",
    "geometry_quality": "geom_qual",
    "geometry_method": "geom_meth",
    "geometry_source": "geom_src",
    "planned_area_km2": "plan_km2",
    "planned_area_source": "plan_src",
    "industry_zh": "indust_zh",
    "industry_source": "indust_src",
    "blocks_intro_zh": "blocks_zh",
    "description_zh": "descr_zh",
    "corridor_area": "corr_area",
    "unit_type_zh": "unittype",
    "positioning_zh": "posit_zh",
    "function_zh": "funct_zh",
    "platform_type": "plat_type",
    "source_other": "src_other",
    "location_quality": "loc_qual",
    "location_method": "loc_meth",
    "planned_area_zh": "plan_zh",
    "planned_area_qualifier_zh": "plan_qual",
    "land_exception": "land_exc",
    "status_source": "status_src",
}
DBF_TEXT_BYTES = 254  # a dBASE text field's limit, in bytes of UTF-8
FAMILIES = {"Point": "points", "MultiPoint": "points", "LineString": "lines", "MultiLineString": "lines",
            "Polygon": "polygons", "MultiPolygon": "polygons"}


def shapefile_field_names(columns: Iterable[str]) -> dict[str, str]:
    """Full attribute name -> its name of at most 10 characters in a .dbf; deterministic and collision-free."""
    full = sorted(set(columns))
    mapping = {c: c for c in full if len(c) <= 10}
    mapping |= {c: SHAPEFILE_NAMES[c] for c in full if c in SHAPEFILE_NAMES}
    taken = {s.lower() for s in mapping.values()}  # dBASE names compare case-insensitively
    for c in full:
        if c in mapping:
            continue
        short = c[:10]
        counter = 1
        while short.lower() in taken:
            short = f"{c[:8]}{counter:02d}"
            counter += 1
        mapping[c] = short
        taken.add(short.lower())
    if len({s.lower() for s in mapping.values()}) != len(mapping):
        raise ExportError(f"shapefile field names collide: {mapping}")
    return mapping


def _dbf_text(value: Any) -> Any:
    """Text cut to the .dbf's 254 bytes on a character boundary, ending in '…' when cut."""
    if not isinstance(value, str) or len(value.encode("utf-8")) <= DBF_TEXT_BYTES:
        return value
    cut = value.encode("utf-8")[: DBF_TEXT_BYTES - 3].decode("utf-8", errors="ignore")
    return cut + "…"


def _null_family(collection: str, families: list[str | None]) -> str:
    """Where a layer's features without geometry go: its kind's declared type, else its commonest."""
    declared = [FAMILIES[k.geometry_types[0]] for k in KINDS.values() if k.collection == collection]
    present = [f for f in families if f is not None]
    return declared[0] if declared else max(sorted(set(present)), key=present.count) if present else "points"


def _write_shapefile(frames: dict[str, gpd.GeoDataFrame], out_dir: Path, out: OutputCRS) -> None:
    """A .shp/.shx/.dbf/.prj/.cpg set per layer and geometry family, with fields.csv and a README.

    A shapefile holds one geometry type, so a layer mixing points, lines and polygons is split into
    `<collection>-points`, `-lines` and `-polygons`. Features without geometry (platforms with no known
    site) stay, as null shapes, in the file of their kind's declared type, so the table lists them all.
    """
    mapping = shapefile_field_names(c for gdf in frames.values() for c in gdf.columns if c != gdf.geometry.name)
    for name, gdf in frames.items():
        flat = gdf.rename(columns=mapping)
        for col in flat.columns:
            if col != flat.geometry.name:
                flat[col] = [_dbf_text(_to_json(v) if isinstance(v, list | dict) else v) for v in flat[col]]
        found = [FAMILIES[g.geom_type] if g is not None else None for g in flat.geometry]
        family = [f or _null_family(name, found) for f in found]
        groups = sorted(set(family))
        for group in groups:
            part = flat[[f == group for f in family]]
            stem = name if len(groups) == 1 else f"{name}-{group}"
            _write_gdal(part, out_dir / f"{stem}.shp", "ESRI Shapefile", stem, json_type=False)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["short", "full"])
    writer.writerows((short, full) for full, short in sorted(mapping.items(), key=lambda kv: kv[1]))
    (out_dir / "fields.csv").write_text(buf.getvalue(), encoding="utf-8")
    (out_dir / "README.txt").write_text(
        f"{notice(out, frames.values())}\n\nAttribute names are cut to the 10 characters a .dbf allows; fields.csv "
        f"maps each short name to the full one. Text is UTF-8 (see the .cpg); text over {DBF_TEXT_BYTES} bytes is cut "
        "and ends in '…', and lists and objects are JSON text. GeoPackage or GeoJSON keep everything whole.\n",
        encoding="utf-8")


# --- KML ----------------------------------------------------------------------------------------

# A colour per first industry code: crc32 of the code picks one, so it never changes between exports.
PALETTE = ("1f77b4", "ff7f0e", "2ca02c", "d62728", "9467bd", "8c564b", "e377c2", "17becf", "bcbd22",
           "393b79", "637939", "ad494a")
NO_INDUSTRY = "7f7f7f"
# Attributes a placemark also carries as ExtendedData (readable by GIS, beside the popup's HTML).
KML_DATA = ("id", "kind", "name_en", "geometry_quality", "geometry_method", "geometry_source", "area_km2",
            "planned_area_km2", "crs")
# The plan's own words about what an area is for, as the popup shows them.
PLAN_TEXT = (("industry_zh", "产业 Industries"), ("function_zh", "功能 Function"),
             ("positioning_zh", "定位 Positioning"), ("focus_zh", "重点 Focus"), ("unit_type_zh", "类型 Type"),
             ("description_zh", "描述 Description"))


def industry_colour(code: str | None) -> str:
    """RRGGBB for an industry code (grey for none); stable across runs and machines."""
    return NO_INDUSTRY if not code else PALETTE[zlib.crc32(code.encode("utf-8")) % len(PALETTE)]


def _kml_colour(rgb: str, alpha: int) -> str:
    return f"{alpha:02x}{rgb[4:6]}{rgb[2:4]}{rgb[0:2]}"  # KML is aabbggrr


def _value(row: dict[str, Any], col: str) -> Any:
    value = row.get(col)
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def popup_rows(row: dict[str, Any]) -> list[tuple[str, str]]:
    """The (label, text) pairs a feature's KML popup shows."""
    rows: list[tuple[str, str]] = []

    def add(label: str, value: Any) -> None:
        if value not in (None, "", []):
            rows.append((label, str(value)))

    add("名称 Name", _value(row, "name_zh"))
    add("Name (en)", _value(row, "name_en"))
    add("区县 District", "、".join(_value(row, "district_names_zh") or []))
    planned = _value(row, "planned_area_km2")
    add("规划面积 Planned area", f"{planned:g} km²" if planned is not None else None)
    area = _value(row, "area_km2") or 0.0
    shape = "surveyed boundary" if _value(row, "geometry_quality") == boundaries.SURVEYED else "drawn shape"
    add("计算面积 Computed area", f"{area:.2f} km² (geodesic, of the {shape})" if area > 0 else None)
    for col, label in PLAN_TEXT:
        add(label, _value(row, col))
    add("Industry codes", ", ".join(_value(row, "industries") or []))
    add("来源 Source", _value(row, "source"))
    quality = _value(row, "geometry_quality") or _value(row, "location_quality")
    method = _value(row, "geometry_method") or _value(row, "location_method")
    if quality == boundaries.SCHEMATIC:
        add("示意 Notice", "Schematic boundary drawn from the plan's words, not surveyed; not for parcel-level "
                           "or legal use.")
    elif quality == boundaries.SURVEYED:
        add("测绘 Surveyed", f"Surveyed boundary, from {_value(row, 'geometry_source') or 'an unnamed source'}")
    add("Geometry", f"{quality}: {method}" if quality else None)
    if _value(row, "crs"):
        add("CRS", _value(row, "crs"))
    return rows


def _popup_html(row: dict[str, Any]) -> str:
    cells = "".join(f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                    for k, v in popup_rows(row))
    return f"<table>{cells}</table>"


def _coords(line: Any) -> list[tuple[float, float]]:
    return [(round(x, 7), round(y, 7)) for x, y, *_ in line.coords]


def _kml_add(container: Any, geom: Any, name: str) -> Any:
    """A placemark for a shapely geometry in a simplekml Folder (or a MultiGeometry's part)."""
    if isinstance(geom, shapely.Polygon):
        return container.newpolygon(name=name, outerboundaryis=_coords(geom.exterior),
                                    innerboundaryis=[_coords(r) for r in geom.interiors])
    if isinstance(geom, shapely.LineString):
        return container.newlinestring(name=name, coords=_coords(geom))
    if isinstance(geom, shapely.Point):
        return container.newpoint(name=name, coords=[(round(geom.x, 7), round(geom.y, 7))])
    multi = container.newmultigeometry(name=name)
    for part in geom.geoms:
        _kml_add(multi, part, name)
    return multi


def _write_kml(frames: dict[str, gpd.GeoDataFrame], out_dir: Path, out: OutputCRS) -> None:
    """One KML document, a Folder per collection; features without a place are left out (KML maps places)."""
    import simplekml

    kml = simplekml.Kml(name="Ningbo 14th Five-Year S&T Innovation Plan",
                        description=notice(out, frames.values()))
    styles: dict[tuple[str, bool], Any] = {}
    for name, gdf in frames.items():
        folder = kml.newfolder(name=name, description=_title(name))
        for row in gdf.to_dict("records"):
            geom = row.pop(gdf.geometry.name)
            if geom is None or geom.is_empty:
                continue
            industries = _value(row, "industries") or []
            code = industries[0] if industries else ""
            surveyed = _value(row, "geometry_quality") == boundaries.SURVEYED
            if (code, surveyed) not in styles:
                rgb = industry_colour(code)
                style = simplekml.Style()
                style.polystyle.color = _kml_colour(rgb, 0x66)
                style.linestyle.color = _kml_colour(rgb, 0xFF)
                style.linestyle.width = 4 if surveyed else 2  # a surveyed outline stands out from the drawn ones
                style.iconstyle.color = _kml_colour(rgb, 0xFF)
                # simplekml's default icon is a pushpin on maps.google.com: no file may send a reader to an
                # outside server, so no href (Google Earth then draws its own point, QGIS its default marker)
                style.iconstyle.icon.href = None
                styles[code, surveyed] = style
            mark = _kml_add(folder, geom, str(_value(row, "name_zh") or row["id"]))
            mark.style = styles[code, surveyed]
            mark.description = _popup_html(row)
            data = {col: str(row[col]) for col in KML_DATA if _value(row, col) is not None}
            if industries:
                data["industries"] = ",".join(industries)
            for col, text in data.items():  # simplekml escapes names and descriptions, not Data values
                mark.extendeddata.newdata(col, xml_escape(text))
    kml.save(str(out_dir / "layers.kml"))


# --- DXF ----------------------------------------------------------------------------------------

DXF_APPID = "NBGIS"  # the XDATA application that carries each entity's id, quality and area
DXF_TEXT_STYLE = "NBGIS-CJK"
DXF_FONT = "simsun.ttc"  # a font with Chinese glyphs that CAD installs in China carry
POINT_RADIUS_M = 100.0  # the circle marking a platform, so it shows at city scale
ACI_COLOURS = (1, 3, 5, 6, 4, 2, 30, 140, 200, 8, 7)  # AutoCAD colour index per kind, in schema order


def _xdata(row: dict[str, Any], ring: str) -> list[tuple[int, Any]]:
    """XDATA of one entity: id, kind, ring role, quality, method and (when surveyed) source, each in 250-byte
    pieces, and area_km2."""
    tags: list[tuple[int, Any]] = [(1000, f"id={row['id']}"), (1000, f"kind={row['kind']}"), (1000, f"ring={ring}")]
    quality = _value(row, "geometry_quality") or _value(row, "location_quality")
    method = str(_value(row, "geometry_method") or _value(row, "location_method") or "")
    tags.append((1000, f"geometry_quality={quality}"))
    tags += _pieces(f"geometry_method={method}")
    if _value(row, "geometry_source"):
        tags += _pieces(f"geometry_source={row['geometry_source']}")
    tags.append((1040, float(_value(row, "area_km2") or 0.0)))
    return tags


def _pieces(text: str) -> list[tuple[int, str]]:
    """XDATA strings of at most 250 bytes, cut on character boundaries (a reader joins them back)."""
    data = text.encode()
    tags = []
    while data:
        piece = data[:250].decode("utf-8", errors="ignore")
        tags.append((1000, piece))
        data = data[len(piece.encode("utf-8")):]
    return tags


def _label_height(geom: Any) -> float:
    """Text height in metres: grows with the area's size, within what reads at city scale."""
    if isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
        return float(min(400.0, max(40.0, geom.area**0.5 / 15)))
    return 150.0


def _write_dxf(frames: dict[str, gpd.GeoDataFrame], out_dir: Path, out: OutputCRS) -> None:
    """One DXF in metres, a layer per kind; rings as closed LWPOLYLINEs (exteriors counter-clockwise,
    holes clockwise, so a feature's signed ring areas add up to its area), points as POINT and a circle,
    a TEXT label with the Chinese name; XDATA on each entity keeps id, geometry_quality and area_km2."""
    import ezdxf
    from ezdxf.enums import TextEntityAlignment

    doc = ezdxf.new("R2010", setup=True, units=ezdxf.units.M)
    doc.header["$MEASUREMENT"] = 1  # metric
    doc.appids.add(DXF_APPID)
    doc.styles.add(DXF_TEXT_STYLE, font=DXF_FONT)
    doc.header.custom_vars.append("CRS", out.label)
    doc.header.custom_vars.append("NOTICE", notice(out, frames.values())[:250])
    msp = doc.modelspace()
    kinds = list(KINDS)
    for gdf in frames.values():
        for row in gdf.to_dict("records"):
            geom = row.pop(gdf.geometry.name)
            if geom is None or geom.is_empty:
                continue
            layer = row["kind"]
            if layer not in doc.layers:
                doc.layers.add(layer, color=ACI_COLOURS[kinds.index(layer) % len(ACI_COLOURS)])
            attribs = {"layer": layer}
            geom = shapely.orient_polygons(geom)
            parts = list(getattr(geom, "geoms", [geom]))
            for part in parts:
                if isinstance(part, shapely.Polygon):
                    rings = [("exterior", part.exterior), *(("interior", r) for r in part.interiors)]
                    for role, ring in rings:
                        pts = [(x, y) for x, y, *_ in ring.coords][:-1]
                        msp.add_lwpolyline(pts, close=True, dxfattribs=attribs).set_xdata(DXF_APPID, _xdata(row, role))
                elif isinstance(part, shapely.LineString):
                    pts = [(x, y) for x, y, *_ in part.coords]
                    msp.add_lwpolyline(pts, dxfattribs=attribs).set_xdata(DXF_APPID, _xdata(row, "line"))
                else:
                    msp.add_point((part.x, part.y), dxfattribs=attribs).set_xdata(DXF_APPID, _xdata(row, "point"))
                    msp.add_circle((part.x, part.y), POINT_RADIUS_M, dxfattribs=attribs)
            if isinstance(geom, shapely.LineString | shapely.MultiLineString):
                anchor = geom.interpolate(0.5, normalized=True)
            elif isinstance(geom, shapely.Point | shapely.MultiPoint):
                anchor = shapely.Point(geom.centroid.x, geom.centroid.y + 2 * POINT_RADIUS_M)
            else:
                anchor = geom.point_on_surface()
            label = str(_value(row, "name_zh") or row["id"])
            text = msp.add_text(label, height=_label_height(geom), dxfattribs={**attribs, "style": DXF_TEXT_STYLE})
            text.set_placement((anchor.x, anchor.y), align=TextEntityAlignment.MIDDLE_CENTER)
    doc.saveas(out_dir / "layers.dxf")


# --- the registry -------------------------------------------------------------------------------

FORMATS: dict[str, ExportFormat] = {f.name: f for f in (
    ExportFormat("geojson", "GeoJSON", _write_geojson, "application/geo+json", "geojson", False, crs_rule="lonlat"),
    ExportFormat("gpkg", "GeoPackage", _write_gpkg, "application/geopackage+sqlite3", "gpkg", True),
    ExportFormat("shapefile", "Shapefile", _write_shapefile, "application/zip", "zip", False),
    ExportFormat("kml", "KML", _write_kml, "application/vnd.google-earth.kml+xml", "kml", True, crs_rule="wgs84"),
    ExportFormat("fgb", "FlatGeobuf", _write_fgb, "application/flatgeobuf", "fgb", False),
    ExportFormat("parquet", "GeoParquet", _write_parquet, "application/vnd.apache.parquet", "parquet", False),
    ExportFormat("csv", "CSV with WKT geometry", _write_csv, "text/csv; charset=utf-8", "csv", False),
    ExportFormat("dxf", "DXF", _write_dxf, "image/vnd.dxf", "dxf", True, crs_rule="projected",
                 default_crs="EPSG:4549"),
)}
