"""Import of surveyed boundaries: a GIS file's rows matched to a collection's features, their new geometries
measured against the old and checked by the write rules, then written as one changeset (or nothing).

`read_boundaries` reads a Shapefile (or a .zip holding one), GeoPackage, DXF, KML, GeoJSON or FlatGeobuf through
GDAL (pyogrio) in any CRS, the file's own or one the user names (GCJ-02 too), and brings it to CRS84.
`plan_import` matches its rows to the store's current features by id or name_zh and returns an `ImportPlan`:
before and after of each matched feature, the diff table (area, distance moved, rules) and every problem found.
`commit_import` writes a plan that has no problem as ONE changeset, each edit conditional on the ETag the plan
saw. The CLI (`nbgis import`) and the service (POST /imports: `read_upload` for the uploaded bytes, the plan
staged with `to_payload` between the two requests) both go through these calls.
"""

from __future__ import annotations

import dataclasses
import tempfile
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pyogrio.errors
import pyproj
import shapely
import shapely.errors

from geo.boundaries import SURVEYED
from geo.crs import NINGBO_BOUNDS, CRSError, OutputCRS, parse_crs, transform_geometry_gcj02
from geo.layers import build_layers
from geo.measure import WGS84, geodesic_area_km2
from geo.rules import check_feature
from geo.schema import KINDS
from geo.store.base import Changeset, Edit, Feature, FeatureStore, feature_etag

MATCH_FIELDS = ("id", "name_zh")
# Extension -> (format title, GDAL drivers that may open it). The driver is checked after opening and the
# content sniffed before, so a file cannot make GDAL use another driver (a VRT naming files on the server).
FORMATS = {
    ".shp": ("Shapefile", ("ESRI Shapefile",)),
    ".zip": ("zipped Shapefile", ("ESRI Shapefile",)),
    ".gpkg": ("GeoPackage", ("GPKG",)),
    ".dxf": ("DXF", ("DXF",)),
    ".kml": ("KML", ("LIBKML", "KML")),
    ".geojson": ("GeoJSON", ("GeoJSON",)),
    ".json": ("GeoJSON", ("GeoJSON",)),
    ".fgb": ("FlatGeobuf", ("FlatGeobuf",)),
}
SHAPEFILE_PARTS = {".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".xml", ".qmd", ".fix"}
MAX_UNZIPPED_BYTES = 512 * 1024 * 1024  # a zip bomb stops here, far above any surveyed boundary file
NINGBO_MARGIN_DEG = 0.5  # a geometry beyond Ningbo's box by more than this was read in the wrong CRS or axis order
MAX_NAME_CHARS = 200  # of an upload's file name, as kept in geometry_source
DXF_KEY = "Layer"  # a DXF names each boundary by the CAD layer its closed polylines are drawn on
KML_NAME = "Name"  # a KML placemark's <name>: the name_zh when the file has no name_zh column
HAUSDORFF_STEP_M = 5.0  # boundaries are sampled this often: the Hausdorff distance is within half of it

class ImportFileError(ValueError):
    """A file that cannot be imported at all (unreadable, no or unknown CRS, no match field, no row matching);
    the message names the file and says why."""


class ImportRefused(ValueError):
    """A plan with problems or hard findings was asked to be written; `problems` lists them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


# --- reading ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One row of the file: its number (1-based, in file order; a DXF's first entity on the layer), the match
    value it holds, and its geometry in CRS84 (None when it has none)."""

    number: int
    key: str | None
    geometry: shapely.Geometry | None


@dataclass(frozen=True)
class Boundaries:
    """What a file holds, in CRS84."""

    name: str  # the file's name as the user knows it, and the layer read (for geometry_source)
    format: str
    layer: str
    crs: str  # the CRS the coordinates were read in: its label (EPSG:4549, GCJ02, custom) and name
    crs_from: str  # "file" or "user"
    rows: list[Row]
    columns: list[str]  # the file's attribute columns
    key_field: str


def read_boundaries(path: Path, match: str, layer: str | None = None, crs: str | None = None,
                    name: str | None = None, encoding: str | None = None) -> Boundaries:
    """The rows of one layer of a GIS file, geometries in CRS84, each with the value of its `match` field.

    `crs` overrides the file's own CRS (or gives one to a file without); `name` is the file's name as the user
    knows it (an upload's temporary file has another); `encoding` that of a Shapefile's .dbf when it has no .cpg
    to say so (GBK, often, from Chinese GIS offices). ImportFileError for anything that stops the whole file.
    """
    name = name or path.name
    if match not in MATCH_FIELDS:
        raise ImportFileError(f"cannot match by {match!r}: choose {' or '.join(MATCH_FIELDS)}")
    suffix = Path(name).suffix.lower() if Path(name).suffix else path.suffix.lower()
    if suffix not in FORMATS:
        raise ImportFileError(f"{name}: cannot tell the format from its name; give a "
                              f"{', '.join(sorted(FORMATS))} file")
    title, drivers = FORMATS[suffix]
    if encoding is not None and drivers != ("ESRI Shapefile",):
        raise ImportFileError(f"an encoding is for a Shapefile's .dbf; {title} files say their own")
    _sniff(path, name, suffix)
    source = str(path)
    if suffix == ".zip":
        folder = _zip_folder(path, name)
        source = f"/vsizip/{path}" + (f"/{folder}" if folder else "")
    layer = _layer(source, name, layer)
    try:
        info = pyogrio.read_info(source, layer=layer)
        if info["driver"] not in drivers:
            raise ImportFileError(f"{name}: GDAL reads it as {info['driver']}, not as {title}")
        with warnings.catch_warnings():  # GDAL's warnings about odd fields are not the user's problem here
            warnings.simplefilter("ignore", RuntimeWarning)
            frame = pyogrio.read_dataframe(source, layer=layer, force_2d=True, encoding=encoding)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.GeometryError,
            pyogrio.errors.FieldError, pyogrio.errors.CRSError) as exc:
        raise ImportFileError(f"{name}: GDAL cannot read it as {title}: {_first_line(exc)}") from exc
    except (UnicodeDecodeError, LookupError) as exc:
        raise ImportFileError(f"{name}: its text is not in {repr(encoding) if encoding else 'the encoding it says'} "
                              f"({exc})") from exc
    except shapely.errors.GEOSException as exc:
        raise ImportFileError(f"{name}: a geometry in it is malformed ({exc}): a damaged file?") from exc
    columns = [str(c) for c in frame.columns if c != frame.geometry.name]
    key_field = _key_field(name, suffix, match, columns)
    in_crs, crs_from = _input_crs(name, frame.crs, crs)
    keys = [_key(v) for v in frame[key_field]]
    geoms = to_crs84(np.asarray(frame.geometry.values, dtype=object), in_crs)
    rows = [Row(i + 1, k, g) for i, (k, g) in enumerate(zip(keys, geoms))]
    if suffix == ".dxf":
        rows = _dxf_boundaries(rows)
    if not rows:
        raise ImportFileError(f"{name}: layer {layer!r} holds no {'closed polyline' if suffix == '.dxf' else 'row'}")
    crs_text = in_crs.label if in_crs.crs is None else f"{in_crs.label} ({in_crs.crs.name})"
    return Boundaries(name, title, layer, crs_text, crs_from, rows, columns, key_field)


def read_upload(data: bytes, filename: str, match: str, layer: str | None = None, crs: str | None = None,
                encoding: str | None = None) -> Boundaries:
    """`read_boundaries` of an uploaded file's bytes, named as the client named it (only its last part, and its
    extension tells the format): GDAL finds a zip's or GeoPackage's contents by the file's extension."""
    name = Path(filename.replace("\\", "/")).name[-MAX_NAME_CHARS:] or "upload"
    with tempfile.TemporaryDirectory(prefix="nbgis-import-") as folder:
        path = Path(folder) / f"upload{Path(name).suffix.lower()}"
        path.write_bytes(data)
        return read_boundaries(path, match, layer, crs, name, encoding)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _sniff(path: Path, name: str, suffix: str) -> None:
    """Refuse a file whose first bytes are not its format's (GDAL would pick a driver by content)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise ImportFileError(f"cannot read {name}: {exc.strerror or exc}") from exc
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    ok = {
        ".shp": head[:4] == b"\x00\x00\x27\x0a",
        ".zip": head[:4] == b"PK\x03\x04",
        ".gpkg": head[:16] == b"SQLite format 3\x00",
        ".dxf": text.startswith(b"0") or head.startswith(b"AutoCAD Binary DXF"),
        ".kml": text.startswith(b"<") and b"<kml" in head and b"OGRVRTDataSource" not in head,
        ".geojson": text.startswith(b"{"),
        ".json": text.startswith(b"{"),
        ".fgb": head[:3] == b"fgb",
    }[suffix]
    if not ok:
        raise ImportFileError(f"{name}: its content is not {FORMATS[suffix][0]}")


def _zip_folder(path: Path, name: str) -> str:
    """The folder inside the zip that holds its Shapefiles ("" for the top), after checking it holds nothing
    else (a zipped folder is as common as zipped files; macOS's and Windows' leftovers are passed over)."""
    try:
        with zipfile.ZipFile(path) as z:
            members = [m for m in z.infolist() if not m.is_dir() and not _zip_junk(m.filename)]
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFileError(f"{name}: not a readable zip ({exc})") from exc
    others = [m.filename for m in members if Path(m.filename).suffix.lower() not in SHAPEFILE_PARTS]
    if others:
        raise ImportFileError(f"{name}: a zip may hold only Shapefiles; it also holds {', '.join(others[:5])}")
    folders = sorted({str(Path(m.filename).parent) for m in members if m.filename.lower().endswith(".shp")})
    if not folders:
        raise ImportFileError(f"{name}: the zip holds no .shp file")
    if len(folders) > 1:
        raise ImportFileError(f"{name}: the zip holds Shapefiles in several folders ({', '.join(folders)}); "
                              f"zip one folder")
    if sum(m.file_size for m in members) > MAX_UNZIPPED_BYTES:
        raise ImportFileError(f"{name}: unzips to more than {MAX_UNZIPPED_BYTES // 2**20} MiB")
    return "" if folders[0] == "." else folders[0]


def _zip_junk(filename: str) -> bool:
    base = filename.rsplit("/", 1)[-1]
    return filename.startswith("__MACOSX/") or base.startswith("._") or base in (".DS_Store", "Thumbs.db")


def _layer(source: str, name: str, layer: str | None) -> str:
    """The layer to read: the one named, or the file's only one."""
    try:
        names = [str(n) for n in pyogrio.list_layers(source)[:, 0]]
    except pyogrio.errors.DataSourceError as exc:
        raise ImportFileError(f"{name}: GDAL cannot open it: {_first_line(exc)}") from exc
    if layer is not None:
        if layer not in names:
            raise ImportFileError(f"{name} has no layer {layer!r}; its layers: {', '.join(names)}")
        return layer
    if not names:
        raise ImportFileError(f"{name}: GDAL finds no layer in it (an empty or damaged file?)")
    if len(names) != 1:
        raise ImportFileError(f"{name} holds {len(names)} layers ({', '.join(names)}); name one with --layer")
    return names[0]


def _key_field(name: str, suffix: str, match: str, columns: list[str]) -> str:
    if suffix == ".dxf":
        return DXF_KEY
    if match in columns:
        return match
    if suffix == ".kml" and match == "name_zh" and KML_NAME in columns:
        return KML_NAME
    raise ImportFileError(f"{name} has no column {match!r} to match by; its columns: {', '.join(columns) or 'none'}")


def _key(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _input_crs(name: str, file_crs: Any, given: str | None) -> tuple[OutputCRS, str]:
    """The CRS the coordinates are in: the user's when given, else the file's; ImportFileError for none or an
    unknown one."""
    if given is not None:
        try:
            return parse_crs(given), "user"
        except CRSError as exc:
            raise ImportFileError(f"--crs: {exc}") from exc
    if file_crs is None:
        raise ImportFileError(f"{name} does not say its CRS (no .prj or CRS in the file); name it with --crs, "
                              f"e.g. EPSG:4549 (CGCS2000 Gauss-Kruger CM 120E), "
                              f"EPSG:4550 (CM 123E, east of 121.5E), EPSG:4490 or GCJ02")
    try:
        return parse_crs(pyproj.CRS.from_user_input(file_crs).to_wkt()), "file"
    except (CRSError, pyproj.exceptions.CRSError) as exc:
        raise ImportFileError(f"{name}: its own CRS cannot be used ({exc}); name the right one with --crs") from exc


def to_crs84(geoms: np.ndarray, crs: OutputCRS) -> np.ndarray:
    """Geometries in `crs` (x = easting or longitude, as GDAL hands them over) in CRS84 lon/lat."""
    if crs.is_gcj02:
        return np.asarray(transform_geometry_gcj02(geoms, inverse=True), dtype=object)
    assert crs.crs is not None
    transformer = _to_crs84(crs.crs)

    def move(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))

    return np.asarray(shapely.transform(geoms, move), dtype=object)


@lru_cache(maxsize=16)  # PROJ takes up to a second to pick the operation from CGCS2000 Gauss-Kruger to WGS 84
def _to_crs84(crs: pyproj.CRS) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(crs, "OGC:CRS84", always_xy=True)


def _dxf_boundaries(rows: list[Row]) -> list[Row]:
    """A DXF's closed polylines, one boundary per CAD layer: rings inside rings become holes (even-odd);
    texts, points and open lines are drawing, not boundary, and are left out."""
    rings: dict[str | None, list[Row]] = {}
    for row in rows:
        g = row.geometry
        if g is not None and (isinstance(g, shapely.Polygon) or (isinstance(g, shapely.LineString) and g.is_closed
                                                                  and len(g.coords) >= 4)):
            rings.setdefault(row.key, []).append(row)
    out = []
    for key, parts in rings.items():
        lines = [p.geometry.exterior if isinstance(p.geometry, shapely.Polygon) else p.geometry for p in parts]
        out.append(Row(parts[0].number, key, shapely.build_area(shapely.GeometryCollection(lines))))
    return out


# --- planning ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """One feature the import changes: as the store holds it now (with its ETag) and as it would be written."""

    id: str
    row: int
    before: Feature
    etag: str  # the If-Match of the write: the feature must still be as read
    after: Feature


@dataclass(frozen=True)
class DiffRow:
    id: str
    name_zh: str
    area_before_km2: float
    area_after_km2: float
    area_change_pct: float | None  # None when there was no area before
    centroid_moved_km: float  # geodesic distance between the two centroids
    hausdorff_m: float  # the farthest any point of either boundary lies from the other boundary
    hard: list[str]  # "rule: message" of each finding
    soft: list[str]

    @property
    def rules(self) -> str:
        if not self.hard and not self.soft:
            return "passed"
        return "; ".join([*(f"HARD {m}" for m in self.hard), *(f"soft {m}" for m in self.soft)])


@dataclass
class ImportPlan:
    """What an import would write. `ok` when every row matched once with a usable geometry and no hard rule
    failed; only then does `commit_import` write it."""

    collection: str
    layer: str  # the store's table: parks
    file: str
    file_layer: str
    crs: str
    match: str
    source: str  # the geometry_source written
    version: str  # the store's dataset version the plan was made at
    matches: list[Match] = field(default_factory=list)
    diff: list[DiffRow] = field(default_factory=list)
    findings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # per feature id, every severity
    problems: list[str] = field(default_factory=list)  # rows that stop the import, each named
    unmatched: list[Row] = field(default_factory=list)  # rows matching no feature
    unchanged: list[str] = field(default_factory=list)  # features already as the file has them: not written again

    @property
    def hard_findings(self) -> list[dict[str, Any]]:
        return [f for found in self.findings.values() for f in found if f["severity"] == "hard"]

    @property
    def ok(self) -> bool:
        return not self.problems and not self.hard_findings

    def errors(self) -> list[str]:
        """Everything that stops the write, in words."""
        return [*self.problems, *(f"{f['feature']}: [{f['rule']}] {f['message']}" for f in self.hard_findings)]

    def soft_findings(self) -> dict[str, list[dict[str, Any]]]:
        """The findings stored with each version (soft ones only: a plan with a hard one is never written)."""
        return {fid: [f for f in found if f["severity"] != "hard"] for fid, found in self.findings.items()
                if any(f["severity"] != "hard" for f in found)}

    def text(self) -> str:
        """The diff table and what stops the import, for a terminal."""
        head = ["id", "name_zh", "area before km²", "after km²", "change", "centroid moved km", "Hausdorff m",
                "rules"]
        body = [[d.id, d.name_zh, f"{d.area_before_km2:.3f}", f"{d.area_after_km2:.3f}",
                 "-" if d.area_change_pct is None else f"{d.area_change_pct:+.1f}%", f"{d.centroid_moved_km:.3f}",
                 f"{d.hausdorff_m:,.0f}", d.rules] for d in self.diff]
        widths = [max(_width(r[i]) for r in [head, *body]) for i in range(len(head) - 1)]
        lines = [f"{self.file} (layer {self.file_layer}, {self.crs}) -> {self.collection}, matched by {self.match}: "
                 f"{len(self.matches)} feature(s)"]
        for r in [head, *body]:
            cells = [_pad(c, w, left=i < 2) for i, (c, w) in enumerate(zip(r, widths))]
            lines.append("  ".join([*cells, r[-1]]))
        if self.unchanged:
            lines.append(f"unchanged (already as the file has them): {', '.join(self.unchanged)}")
        if self.errors():
            lines.append("")
            lines.append(f"NOT importable: {len(self.errors())} problem(s)")
            lines += [f"  {e}" for e in self.errors()]
        return "\n".join(lines)

    def to_payload(self) -> dict[str, Any]:
        """The plan as JSON-able data (geometries as WKB hex, exact), to stage it between two requests."""
        def feature(f: Feature) -> dict[str, Any]:
            return {"id": f.id, "properties": f.properties,
                    "geometry": None if f.geometry is None else shapely.to_wkb(f.geometry, hex=True)}

        data = {k.name: getattr(self, k.name) for k in dataclasses.fields(self)
                if k.name not in ("matches", "diff", "unmatched")}
        data["matches"] = [{"id": m.id, "row": m.row, "etag": m.etag, "before": feature(m.before),
                            "after": feature(m.after)} for m in self.matches]
        data["diff"] = [dataclasses.asdict(d) for d in self.diff]
        data["unmatched"] = [{"number": r.number, "key": r.key} for r in self.unmatched]
        return data

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> ImportPlan:
        def feature(d: dict[str, Any]) -> Feature:
            return Feature(d["id"], d["properties"], None if d["geometry"] is None else shapely.from_wkb(d["geometry"]))

        plain = {k: v for k, v in data.items() if k not in ("matches", "diff", "unmatched")}
        return cls(**plain,
                   matches=[Match(m["id"], m["row"], feature(m["before"]), m["etag"], feature(m["after"]))
                            for m in data["matches"]],
                   diff=[DiffRow(**d) for d in data["diff"]],
                   unmatched=[Row(r["number"], r["key"], None) for r in data["unmatched"]])

    def summary(self) -> dict[str, Any]:
        """The diff as an answer to a client: rows, findings, problems, no geometry."""
        return {"collection": self.collection, "file": self.file, "layer": self.file_layer, "crs": self.crs,
                "match": self.match, "source": self.source, "ok": self.ok,
                "diff": [{**dataclasses.asdict(d), "rules": d.rules} for d in self.diff],
                "findings": self.findings, "problems": self.problems, "errors": self.errors(),
                "unmatched": [{"row": r.number, "key": r.key} for r in self.unmatched], "unchanged": self.unchanged}


def _width(text: str) -> int:
    """Columns a terminal gives the text (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, left: bool) -> str:
    fill = " " * (width - _width(text))
    return text + fill if left else fill + text


def collection_layer(collection: str) -> tuple[str, tuple[str, ...]]:
    """The store table and the kinds of a collection of boundaries; ImportFileError otherwise."""
    kinds = tuple(k.name for k in KINDS.values() if k.collection == collection)
    if not kinds:
        known = dict.fromkeys(k.collection for k in KINDS.values() if k.collection != "districts")
        raise ImportFileError(f"unknown collection {collection!r}; choose one of {', '.join(known)}")
    if collection == "districts":
        raise ImportFileError("districts are reference data (the administrative boundaries): not editable")
    if kinds == ("platform",):
        raise ImportFileError("platforms are points, not boundaries: move one through the API (PUT or PATCH)")
    return "parks", kinds


def plan_import(store: FeatureStore, data_dir: Path, boundaries: Boundaries, collection: str, match: str,
                source: str | None = None) -> ImportPlan:
    """Match the rows to the collection's features as the store holds them now, and measure and check what
    writing their geometries would do. `source` is the geometry_source written (default: the file and layer).
    The rules are the service's write rules (geo.rules), each feature checked beside the others as the whole
    import would leave them (two surveyed sub-parks must not overlap each other either)."""
    layer, kinds = collection_layer(collection)
    snapshot = store.snapshot()
    features = [f for f in snapshot.features[layer] if f.properties.get("kind") in kinds]
    label = source.strip() if source and source.strip() else f"{boundaries.name}, layer {boundaries.layer}"
    plan = ImportPlan(collection, layer, boundaries.name, boundaries.layer, boundaries.crs, match, label,
                      snapshot.version)
    by_key: dict[str, list[Feature]] = {}
    for f in features:
        if (value := _key(f.properties.get(match, f.id if match == "id" else None))) is not None:
            by_key.setdefault(value, []).append(f)
    claimed: dict[str, Row] = {}
    for row in boundaries.rows:
        where = f"row {row.number}" + (f" ({boundaries.key_field} {row.key!r})" if row.key else "")
        if row.key is None:
            plan.problems.append(f"row {row.number}: no {boundaries.key_field} to match by")
            continue
        candidates = by_key.get(row.key, [])
        if not candidates:
            plan.unmatched.append(row)
            continue
        if len(candidates) > 1:
            plan.problems.append(f"{where}: {len(candidates)} features of {collection} have this {match} "
                                 f"({', '.join(f.id for f in candidates)}); match by id")
            continue
        target = candidates[0]
        if target.id in claimed:
            plan.problems.append(f"rows {claimed[target.id].number} and {row.number} both match {target.id}")
            continue
        claimed[target.id] = row
        geometry, problem = _usable(row.geometry, kinds)
        if problem:
            plan.problems.append(f"{where} for {target.id}: {problem}")
            continue
        properties = {**target.properties, "geometry_quality": SURVEYED, "geometry_source": label,
                      "geometry_method": f"surveyed boundary imported from {boundaries.name} "
                                         f"(layer {boundaries.layer}, {boundaries.crs})"}
        if properties == target.properties and target.geometry is not None and (
                shapely.to_wkb(target.geometry) == shapely.to_wkb(geometry)):
            plan.unchanged.append(target.id)  # imported before: a version that changes nothing is noise
            continue
        plan.matches.append(Match(target.id, row.number, target, feature_etag(target.properties, target.geometry),
                                  Feature(target.id, properties, geometry)))
    if not plan.matches and not plan.problems and not plan.unchanged:
        values = sorted({r.key for r in boundaries.rows if r.key})[:8]
        raise ImportFileError(f"no row of {boundaries.name} matches a feature of {collection} by {match}: the "
                              f"file's {boundaries.key_field} values are {', '.join(map(repr, values)) or 'empty'}; "
                              f"the collection's are {', '.join(sorted(by_key)[:8])}, ...{_garbled(values)}")
    for row in plan.unmatched:
        plan.problems.append(f"row {row.number} ({boundaries.key_field} {row.key!r}) matches no feature of "
                             f"{collection}")
    after = build_layers(_replaced(snapshot.features, layer, plan.matches), data_dir)
    for m in plan.matches:
        found = [dataclasses.asdict(f) for f in check_feature(after, collection, m.id, m.after.properties,
                                                              m.after.geometry)]
        if found:
            plan.findings[m.id] = found
        plan.diff.append(diff_row(m, found))
    return plan


def _garbled(values: list[str]) -> str:
    """A hint when the values look like GBK or UTF-8 read as Latin-1 (a .dbf without its .cpg)."""
    if any(0x80 <= ord(c) <= 0xFF for v in values for c in v):
        return " (the names look garbled: give the Shapefile's encoding, e.g. --encoding GBK)"
    return ""


def _replaced(features: dict[str, list[Feature]], layer: str, matches: list[Match]) -> dict[str, list[Feature]]:
    new = {m.id: m.after for m in matches}
    return {name: [new.get(f.id, f) if name == layer else f for f in rows] for name, rows in features.items()}


def _usable(geometry: shapely.Geometry | None, kinds: tuple[str, ...]) -> tuple[Any, str | None]:
    """The row's geometry as it would be written, or why it cannot be: none, empty, invalid (never repaired:
    a surveyed boundary that needs repair is the surveyor's to fix), of a type the kind does not take, or far
    from Ningbo (a wrong CRS or swapped axes)."""
    if geometry is None:
        return None, "no geometry"
    if geometry.is_empty:
        return None, "empty geometry"
    bounds = np.asarray(geometry.bounds, dtype=float)
    if not np.all(np.isfinite(bounds)):
        return None, "coordinates outside the CRS's range (is the CRS right?)"
    west, south, east, north = NINGBO_BOUNDS
    m = NINGBO_MARGIN_DEG
    if bounds[2] < west - m or bounds[0] > east + m or bounds[3] < south - m or bounds[1] > north + m:
        return None, (f"lies at lon {bounds[0]:.4f}..{bounds[2]:.4f}, lat {bounds[1]:.4f}..{bounds[3]:.4f}, "
                      f"not in Ningbo: is the CRS right, and x the easting (longitude)?")
    if not shapely.is_valid(geometry):
        return None, f"invalid geometry: {shapely.is_valid_reason(geometry)}"
    types = {t for k in kinds for t in KINDS[k].geometry_types}
    if geometry.geom_type == "Polygon" and "Polygon" not in types and "MultiPolygon" in types:
        geometry = shapely.MultiPolygon([geometry])  # a one-part boundary; Shapefile cannot say Multi
    if geometry.geom_type not in types:
        return None, f"a {geometry.geom_type}; {'/'.join(kinds)} take {' or '.join(sorted(types))}"
    return geometry, None


def diff_row(m: Match, findings: list[dict[str, Any]]) -> DiffRow:
    """How far the feature moves: areas on the ellipsoid; the centroids' geodesic distance; the Hausdorff
    distance between the two boundaries in a transverse Mercator centred on the feature (scale error about 1e-6 at
    10 km from its centre)."""
    before, after = m.before.geometry, m.after.geometry
    a0, a1 = geodesic_area_km2(before), geodesic_area_km2(after)
    moved_km, hausdorff_m = 0.0, 0.0
    if before is not None and not before.is_empty and after is not None:
        lon, lat = shapely.centroid(after).coords[0]
        local = pyproj.Transformer.from_crs(
            "OGC:CRS84", f"+proj=tmerc +lon_0={lon} +lat_0={lat} +ellps=WGS84 +units=m", always_xy=True)

        def project(g: shapely.Geometry) -> shapely.Geometry:
            return shapely.transform(g, lambda xy: np.column_stack(local.transform(xy[:, 0], xy[:, 1])))

        p0, p1 = project(before), project(after)
        hausdorff_m = max(_farthest_m(p0, p1), _farthest_m(p1, p0))
        (x0, y0), (x1, y1) = shapely.centroid(p0).coords[0], shapely.centroid(p1).coords[0]
        lons, lats = local.transform([x0, x1], [y0, y1], direction="INVERSE")
        moved_km = float(WGS84.inv(lons[0], lats[0], lons[1], lats[1])[2]) / 1e3
    return DiffRow(m.id, str(m.before.properties.get("name_zh") or ""), a0, a1,
                   (a1 / a0 - 1) * 100 if a0 else None, moved_km, hausdorff_m,
                   [f"{f['rule']}: {f['message']}" for f in findings if f["severity"] == "hard"],
                   [f"{f['rule']}: {f['message']}" for f in findings if f["severity"] != "hard"])


def _farthest_m(a: shapely.Geometry, b: shapely.Geometry) -> float:
    """How far the farthest point of a's boundary (sampled every HAUSDORFF_STEP_M) lies from b's boundary.

    A tree of b's boundary segments answers each sample in log time, where GEOS's Hausdorff distance compares
    every vertex with every segment: 40 s for two boundaries of 30,000 vertices each, as surveys have."""
    points = shapely.points(shapely.get_coordinates(shapely.segmentize(shapely.boundary(a), HAUSDORFF_STEP_M)))
    rings = [shapely.get_coordinates(ring) for ring in shapely.get_parts(shapely.boundary(b))]
    segments = shapely.linestrings(np.concatenate([np.stack([c[:-1], c[1:]], axis=1) for c in rings]))
    _, distances = shapely.STRtree(segments).query_nearest(points, return_distance=True, all_matches=False)
    return float(distances.max())


# --- writing ----------------------------------------------------------------------------------------


def commit_import(store: FeatureStore, plan: ImportPlan, author: str, reason: str) -> Changeset | None:
    """Write every matched feature as one changeset, each only if it is still as the plan read it (else the
    store's Conflict, and nothing written); None when every feature is already as the file has it.
    ImportRefused for a plan that is not ok."""
    if not plan.ok:
        raise ImportRefused(plan.errors())
    if not plan.matches:
        return None
    edits = [Edit(plan.layer, m.id, "replace", m.after.properties, m.after.geometry, m.etag, action="import")
             for m in plan.matches]
    return store.apply(edits, author, reason, plan.soft_findings())
