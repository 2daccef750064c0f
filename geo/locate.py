"""Which of the plan's areas hold a site: batch lookups of many lon/lat points at once.

``Locator.from_layers(layers)`` prepares the areas once; ``Locator.locate(lon, lat)`` says, for each
point, which sub-park (and block), corridor area and unit, innovation node and district hold it, and
how far the nearest sub-park is. ``read_sites_csv`` and ``read_sites_geojson`` turn an upload into
WGS 84 points with friendly errors (``SitesError``); ``locate_csv`` streams a large CSV through it.

Everything is vectorised over the points (numpy, shapely's array functions); Python loops run only
over the ~60 areas or over chunks of points, so a million sites take seconds.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely import STRtree

from geo.crs import OutputCRS, xy_to_wgs84
from geo.grid import MIXED, CellGrid
from geo.io import atomic_file
from geo.layers import Layers
from geo.measure import WGS84, geodesic_areas_km2

LOCATED_COLUMNS = (
    "subpark", "subpark_name_zh", "subpark_block_zh", "corridor_zone", "corridor_area", "corridor_unit",
    "innovation_node", "district_adcode", "district_name_zh", "nearest_subpark", "nearest_subpark_km",
)
WGS84_COLUMNS = ("lon84", "lat84")
# Header spellings accepted (case-insensitively) for the coordinate columns, preferred first.
LON_NAMES = ("lon", "lng", "longitude", "x")
LAT_NAMES = ("lat", "latitude", "y")
MAX_LISTED = 5  # bad rows named in an error message

# The Gauss-Kruger plane geo.measure uses (CGCS2000 / 3-degree zone, CM 120E): the nearest boundary
# point is found there, the distance to it measured on the ellipsoid, as geodesic_distances_km does.
_LOCAL = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)
_PIECE_VERTICES = 8  # boundary pieces in the nearest-point index; with node capacity 4 the fastest measured
_NEAREST_BLOCK = 100_000  # points per batch of shapely objects in the nearest search, to bound memory
_GRID_BLOCK = 1 << 18  # points per block of grid lookups
GRID_MIN_VERTICES = 5000  # areas with fewer vertices in all are tested exactly: as fast as a grid look-up (measured)


class SitesError(ValueError):
    """Sites we cannot read or locate; the message names the column, the rows and what is wrong."""


@dataclass(frozen=True, eq=False)  # eq=False: numpy fields cannot be compared or hashed field by field
class _Areas:
    """Areas of one kind, to tell which holds each point; a point in several gets the smallest."""

    geoms: np.ndarray  # prepared copies, largest first, so a smaller area overwrites a larger one
    bounds: np.ndarray  # (n, 4): west, south, east, north
    labels: dict[str, np.ndarray]  # per area, the values to report; each ends with None for "no area"
    grid: CellGrid | None  # settles most points without a point-in-polygon test; None for simple areas
    given: np.ndarray  # per area, its position among the geoms given to of(); ends with -1 for "no area"

    @classmethod
    def of(cls, geoms: Iterable[Any], **labels: Iterable[Any]) -> _Areas:
        # Copies, so that preparing them leaves the layers' shared geometries as they are.
        copies: np.ndarray = shapely.from_wkb(shapely.to_wkb(np.asarray(list(geoms), dtype=object)))
        order = np.argsort(-geodesic_areas_km2(copies), kind="stable")
        copies = copies[order]
        shapely.prepare(copies)
        # A prepared polygon builds its point-in-area index on the first point inside its envelope; do it
        # here, so that concurrent locate() calls (the web service's threads) only read it.
        for g, (west, south, east, north) in zip(copies, shapely.bounds(copies)):
            shapely.intersects_xy(g, (west + east) / 2, (south + north) / 2)
        cols = {k: np.array([*np.asarray(list(v), dtype=object)[order], None], dtype=object)
                for k, v in labels.items()}
        # A grid costs a look-up per point and ~0.1 s to build: it pays only where the exact tests are dear.
        grid = CellGrid.of(copies) if shapely.get_num_coordinates(copies).sum() >= GRID_MIN_VERTICES else None
        return cls(copies, shapely.bounds(copies), cols, grid, np.append(order, -1).astype(np.intp))

    def holder(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Index of the smallest area holding each point (boundary included), -1 for none."""
        if self.grid is None:
            return self.exact_holder(lon, lat)
        out = np.empty(len(lon), dtype=np.intp)
        # A block at a time, so the temporaries stay a few MB (and in cache) however many points there are.
        for start in range(0, len(lon), _GRID_BLOCK):
            block = slice(start, start + _GRID_BLOCK)
            found = self.grid.lookup(lon[block], lat[block])
            mixed = np.flatnonzero(found == MIXED)
            found[mixed] = self.exact_holder(lon[block][mixed], lat[block][mixed])
            out[block] = found
        return out

    def exact_holder(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """As holder, by testing each point against each area whose envelope holds it (no grid)."""
        out = np.full(len(lon), -1, dtype=np.intp)
        for i, (geom, (west, south, east, north)) in enumerate(zip(self.geoms, self.bounds)):
            candidates = np.flatnonzero((lon >= west) & (lon <= east) & (lat >= south) & (lat <= north))
            out[candidates[shapely.intersects_xy(geom, lon[candidates], lat[candidates])]] = i
        return out

    def label(self, name: str, index: np.ndarray) -> np.ndarray:
        return self.labels[name][index]  # index -1 picks the trailing None


def _block_names(geom: Any, blocks: list[dict[str, Any]] | None) -> list[str | None]:
    """The block each polygon part of a sub-park belongs to, by the label_point inside it.

    A clip to land may split a block (geo.validate allows more parts than drawn blocks): a part
    holding no label_point takes the block of the nearest part that does.
    """
    parts = shapely.get_parts(geom)
    drawn = [b for b in blocks or [] if b.get("drawn") and b.get("label_point")]
    names: list[str | None] = [None] * len(parts)
    for b in drawn:
        point = shapely.Point(b["label_point"])
        for i, part in enumerate(parts):
            if names[i] is None and part.covers(point):
                names[i] = b["name_zh"]
                break
    named = [i for i, n in enumerate(names) if n is not None]
    for i, part in enumerate(parts):
        if names[i] is None and named:
            names[i] = names[min(named, key=lambda j: part.distance(parts[j]))]
    return names


@dataclass(frozen=True, eq=False)
class Locator:
    """The plan's areas, prepared once for fast lookups of many points."""

    subparks: _Areas  # one entry per polygon part, labelled with its sub-park and block
    zone: _Areas
    corridor_areas: _Areas
    units: _Areas
    nodes: _Areas
    districts: _Areas
    subpark_ids: tuple[str, ...]
    subpark_points: np.ndarray  # (n, 2) lon/lat of a point inside each sub-park, for sites the plane cannot hold
    boundary: STRtree  # pieces of the sub-parks' boundaries in the Gauss-Kruger plane
    boundary_owner: np.ndarray  # index into subpark_ids, per piece
    unit_ids: tuple[str, ...]
    node_ids: tuple[str, ...]
    district_adcodes: tuple[str, ...]
    industries: dict[str, tuple[str, ...]]  # sub-park, unit and node id -> the codes it lists

    @classmethod
    def from_layers(cls, layers: Layers) -> Locator:
        sub = layers.kind("subpark")
        parts, part_sub, part_block = [], [], []
        for i, (geom, blocks) in enumerate(zip(sub.geometry, sub["blocks"])):
            for part, block in zip(shapely.get_parts(geom), _block_names(geom, blocks)):
                parts.append(part)
                part_sub.append(i)
                part_block.append(block)
        ids, names = sub["id"].to_numpy(dtype=object), sub["name_zh"].to_numpy(dtype=object)
        corridor = layers.kind("corridor")
        areas = corridor[corridor["role"].isin(["north-area", "south-area"])]
        zone = corridor[corridor["role"] == "zone"]
        units, nodes = layers.kind("corridor-unit"), layers.kind("innovation-node")
        districts = layers.kind("district")
        pieces, owner = _boundary_pieces(sub.geometry.to_numpy())
        listed = pd.concat([sub, units, nodes])
        return cls(
            subparks=_Areas.of(parts, id=ids[part_sub], name_zh=names[part_sub], block=part_block,
                               index=part_sub),
            zone=_Areas.of(zone.geometry, id=zone["id"]),
            corridor_areas=_Areas.of(areas.geometry, id=areas["id"]),
            units=_Areas.of(units.geometry, id=units["id"]),
            nodes=_Areas.of(nodes.geometry, id=nodes["id"]),
            districts=_Areas.of(districts.geometry, adcode=districts["adcode"], name_zh=districts["name_zh"]),
            subpark_ids=tuple(ids),
            subpark_points=shapely.get_coordinates(shapely.point_on_surface(sub.geometry.to_numpy())),
            boundary=STRtree(pieces, node_capacity=4),
            boundary_owner=owner,
            unit_ids=tuple(units["id"]),
            node_ids=tuple(nodes["id"]),
            district_adcodes=tuple(districts["adcode"]),
            industries={fid: tuple(codes or ()) for fid, codes in zip(listed["id"], listed["industries"])},
        )

    def holders(self, lon: np.ndarray, lat: np.ndarray) -> dict[str, np.ndarray]:
        """For a batch join: the index of the sub-park, innovation node and district holding each point
        (boundary included; -1 for none), into subpark_ids, node_ids and district_adcodes."""
        part_owner = np.append(self.subparks.labels["index"][:-1].astype(np.intp), -1)  # part -1 -> -1
        return {"subpark": part_owner[self.subparks.holder(lon, lat)],
                "innovation_node": self.nodes.given[self.nodes.holder(lon, lat)],
                "district": self.districts.given[self.districts.holder(lon, lat)]}

    def locate(self, lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
        """One row per point, in order: the areas holding it (None where none does), the nearest sub-park
        and its geodesic distance in km (0 inside). SitesError for NaN or out-of-range coordinates."""
        lon = np.asarray(lon, dtype=float).reshape(-1)
        lat = np.asarray(lat, dtype=float).reshape(-1)
        if lon.shape != lat.shape:
            raise SitesError(f"lon and lat differ in length ({len(lon)} and {len(lat)})")
        bad = np.flatnonzero(~_in_range(lon, lat))
        if len(bad):
            listed = ", ".join(f"{i + 1} ({lon[i]:g}, {lat[i]:g})" for i in bad[:MAX_LISTED])
            raise SitesError(f"{len(bad)} point(s) not a lon -180..180, lat -90..90 pair; points (1-based): {listed}")
        part = self.subparks.holder(lon, lat)
        nearest = np.full(len(lon), -1, dtype=np.intp)
        inside = part >= 0
        nearest[inside] = self.subparks.labels["index"][part[inside]].astype(np.intp)
        km = np.zeros(len(lon))
        outside = np.flatnonzero(~inside)
        nearest[outside], km[outside] = self._nearest(lon[outside], lat[outside])
        corridor_area, unit, node, district = (
            a.holder(lon, lat) for a in (self.corridor_areas, self.units, self.nodes, self.districts))
        columns = {
            "subpark": self.subparks.label("id", part),
            "subpark_name_zh": self.subparks.label("name_zh", part),
            "subpark_block_zh": self.subparks.label("block", part),
            "corridor_zone": self.zone.holder(lon, lat) >= 0,
            "corridor_area": self.corridor_areas.label("id", corridor_area),
            "corridor_unit": self.units.label("id", unit),
            "innovation_node": self.nodes.label("id", node),
            "district_adcode": self.districts.label("adcode", district),
            "district_name_zh": self.districts.label("name_zh", district),
            "nearest_subpark": np.array(self.subpark_ids, dtype=object)[nearest],
            "nearest_subpark_km": np.round(km, 3),  # metres: the shapes are schematic to hundreds of metres
        }
        # Each column keeps its numpy dtype: object keeps None as None (pandas 3 would infer str with NaN).
        # The arrays are fresh, so the frame may own them: no copy halves the peak memory of a big batch.
        series = {k: pd.Series(v, dtype=v.dtype, copy=False) for k, v in columns.items()}
        return pd.DataFrame(series, copy=False)

    def _nearest(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest sub-park (index) and geodesic km for points outside every sub-park.

        As geo.measure.geodesic_distances_km: the nearest boundary point in the Gauss-Kruger plane, the
        distance on the ellipsoid. That function projects each shape once per point (about 60 s a million);
        here the shapes are projected once and an index of boundary pieces finds the nearest one.
        """
        index = np.full(len(lon), -1, dtype=np.intp)
        km = np.full(len(lon), np.nan)
        x, y = _LOCAL.transform(lon, lat)
        plane = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
        for start in range(0, len(plane), _NEAREST_BLOCK):
            rows = plane[start:start + _NEAREST_BLOCK]
            points = shapely.points(x[rows], y[rows])
            which, piece = self.boundary.query_nearest(points, all_matches=False)
            ends = shapely.get_coordinates(shapely.shortest_line(points[which], self.boundary.geometries[piece]))
            near_lon, near_lat = _LOCAL.transform(ends[1::2, 0], ends[1::2, 1], direction="INVERSE")
            index[rows[which]] = self.boundary_owner[piece]
            km[rows[which]] = WGS84.inv(lon[rows[which]], lat[rows[which]], near_lon, near_lat)[2] / 1e3
        # Near the far side of the globe the plane has no finite coordinates; at those distances (9,000 km
        # and more) a point inside each sub-park stands in for its nearest boundary point.
        far = np.flatnonzero(index < 0)
        if len(far):
            n_sub = len(self.subpark_ids)
            dist = WGS84.inv(np.repeat(lon[far], n_sub), np.repeat(lat[far], n_sub),
                             np.tile(self.subpark_points[:, 0], len(far)),
                             np.tile(self.subpark_points[:, 1], len(far)))[2].reshape(len(far), n_sub)
            index[far] = dist.argmin(axis=1)
            km[far] = dist.min(axis=1) / 1e3
        return index, km

    def summary(self, located: pd.DataFrame) -> dict[str, Any]:
        """Counts of ``locate``'s rows, as plain JSON-ready types; every sub-park, unit, node, district and
        listed industry appears, with 0 where no site falls."""
        per_industry = dict.fromkeys(sorted({c for codes in self.industries.values() for c in codes}), 0)
        # A site counts once per code, however many of its areas list it: count per combination of areas.
        combos = located.groupby(["subpark", "corridor_unit", "innovation_node"], dropna=False).size()
        for keys, count in zip(combos.index, combos.to_numpy()):
            for code in {c for fid in keys if isinstance(fid, str) for c in self.industries.get(fid, ())}:
                per_industry[code] += int(count)
        return {
            "sites": len(located),
            "in_subparks": int(located["subpark"].notna().sum()),
            "per_subpark": _counts(located["subpark"], self.subpark_ids),
            "per_corridor_unit": _counts(located["corridor_unit"], self.unit_ids),
            "per_innovation_node": _counts(located["innovation_node"], self.node_ids),
            "per_district": _counts(located["district_adcode"], self.district_adcodes),
            "per_industry": per_industry,
        }


def _counts(column: pd.Series, keys: tuple[str, ...]) -> dict[str, int]:
    counts = column.value_counts()
    return {k: int(counts.get(k, 0)) for k in keys}


def _boundary_pieces(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rings of each shape, in the Gauss-Kruger plane, cut into short lines, with the shape each came from."""
    pieces, owner = [], []
    for i, geom in enumerate(geoms):
        for ring in shapely.get_rings(shapely.get_parts(geom)):
            xy = shapely.get_coordinates(ring)
            x, y = _LOCAL.transform(xy[:, 0], xy[:, 1])
            xy = np.column_stack([x, y])
            for start in range(0, len(xy) - 1, _PIECE_VERTICES):
                pieces.append(shapely.linestrings(xy[start:start + _PIECE_VERTICES + 1]))
                owner.append(i)
    return np.array(pieces, dtype=object), np.array(owner, dtype=np.intp)


def _in_range(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)


# --- reading sites --------------------------------------------------------------------------------------------

Source = bytes | str | os.PathLike[str] | BinaryIO


# Spreadsheet files people upload in place of a CSV, by their first bytes.
_SPREADSHEETS = ((b"PK\x03\x04", "a zip archive, such as an Excel workbook (.xlsx) or an OpenDocument sheet (.ods)"),
                 (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls)"))


def _binary_kind(source: Source) -> str | None:
    """What a non-text upload is, when its first bytes say (an .xlsx is a zip)."""
    if isinstance(source, bytes):
        head = source[:4]
    elif hasattr(source, "seek") and hasattr(source, "read"):
        source.seek(0)
        head = source.read(4)
    else:
        with open(source, "rb") as f:
            head = f.read(4)
    return next((kind for magic, kind in _SPREADSHEETS if head.startswith(magic)), None)


def _csv_chunks(source: Source, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The CSV's data rows as string columns, chunk by chunk; text stays exactly as written (no NA guessing)."""
    handle: Any = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with pd.read_csv(handle, dtype=str, keep_default_na=False, encoding="utf-8-sig",
                         chunksize=chunk_rows) as reader:
            for chunk in reader:
                # When the first data row has more fields than the header, pandas silently takes the extra
                # leading fields as an index instead of failing as it does for later rows.
                if not isinstance(chunk.index, pd.RangeIndex):
                    raise SitesError(f"data row 1 has {chunk.index.nlevels + chunk.shape[1]} fields but the "
                                     f"header {chunk.shape[1]}: a trailing comma, or a comma in an unquoted value?")
                yield chunk
    except UnicodeDecodeError as exc:
        if (kind := _binary_kind(source)) is not None:
            raise SitesError(f"the file is {kind}, not CSV text: in Excel, 'Save As' 'CSV UTF-8 (.csv)' "
                             "and upload that") from exc
        raise SitesError("the file is not UTF-8 text (GBK or another encoding?); save it as UTF-8, "
                         "e.g. Excel's 'CSV UTF-8'") from exc
    except pd.errors.EmptyDataError as exc:
        raise SitesError("the file is empty: expected a header row such as lon,lat,id and data rows") from exc
    except pd.errors.ParserError as exc:
        raise SitesError(f"not a readable CSV: {str(exc).strip()}") from exc


def _refuse_clashes(columns: Iterable[str]) -> None:
    """Input columns must not share a name with what locating adds, or the output would hold both."""
    clash = [c for c in columns if c in (*WGS84_COLUMNS, *LOCATED_COLUMNS)]
    if clash:
        raise SitesError(f"the input already has column(s) {', '.join(map(repr, clash))}, which locating "
                         f"adds; rename or drop them")


def _coordinate_columns(columns: Iterable[Any]) -> tuple[str, str]:
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


def _wgs84_points(x_text: pd.Series, y_text: pd.Series, names: tuple[str, str], crs: OutputCRS | None,
                  row_label: Callable[[int], str]) -> tuple[np.ndarray, np.ndarray]:
    """Parse and check coordinates, then move them to WGS 84; SitesError listing the first bad rows."""
    values = [pd.to_numeric(t, errors="coerce").to_numpy(dtype=float) for t in (x_text, y_text)]
    # Ranges are checked on the input only when it is in degrees; after any transform, on the result.
    limits = (180.0, 90.0) if crs is None or crs.is_geographic else (np.inf, np.inf)
    nan = [np.isnan(v) for v in values]
    out_of_range = [~n & ~(np.abs(v) <= limit) for v, n, limit in zip(values, nan, limits)]
    bad = np.flatnonzero(nan[0] | nan[1] | out_of_range[0] | out_of_range[1])
    what: Callable[[int], str]
    if len(bad):
        texts = (x_text, y_text)

        def what(i: int) -> str:
            return ", ".join(
                (f"{names[k]} {texts[k].iloc[i]!r} is not a number" if str(texts[k].iloc[i]).strip()
                 else f"{names[k]} is empty") if nan[k][i]
                else f"{names[k]} {values[k][i]:g} is out of range -{limits[k]:g}..{limits[k]:g}"
                for k in (0, 1) if nan[k][i] or out_of_range[k][i])
    else:
        lon, lat = xy_to_wgs84(values[0], values[1], crs)
        bad = np.flatnonzero(~_in_range(lon, lat))
        label = crs.label if crs is not None else "WGS 84"

        def what(i: int) -> str:
            return f"({values[0][i]:g}, {values[1][i]:g}) in {label} has no WGS 84 lon/lat"
    if len(bad):
        listed = "; ".join(f"{row_label(int(i))}: {what(int(i))}" for i in bad[:MAX_LISTED])
        more = f" (the first {MAX_LISTED} listed)" if len(bad) > MAX_LISTED else ""
        raise SitesError(f"bad coordinates in {len(bad)} row(s){more}: {listed}")
    return lon, lat


def _located_sites(frame: pd.DataFrame, crs: OutputCRS | None, first_row: int) -> pd.DataFrame:
    """A chunk of CSV rows with lon84/lat84 added; rows are numbered from first_row (1 = after the header)."""
    lon_col, lat_col = _coordinate_columns(frame.columns)
    lon, lat = _wgs84_points(frame[lon_col], frame[lat_col], (lon_col, lat_col), crs,
                             lambda i: f"data row {first_row + i}")
    out = frame.reset_index(drop=True)
    out["lon84"], out["lat84"] = lon, lat
    return out


def read_sites_csv(source: Source, crs: OutputCRS | None = None) -> pd.DataFrame:
    """Sites from a UTF-8 CSV (BOM or not) with a header: lon,lat[,id] and any other columns. ``source`` is
    the file's bytes, a binary file, or a path (a str is a path, not CSV text).

    Every original column comes back as the text it was, plus float ``lon84``, ``lat84`` in WGS 84. With
    ``crs`` the lon column holds x/easting and the lat column y/northing in that CRS (or GCJ-02).
    """
    frames = list(_csv_chunks(source, 200_000))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if frame.empty:
        raise SitesError("the file has a header but no data rows")
    return _located_sites(frame, crs, first_row=1)


def read_sites_geojson(doc: Any, crs: OutputCRS | None = None) -> pd.DataFrame:
    """Sites from a GeoJSON FeatureCollection of Points: ``id`` (the feature's id, else its ``id`` property,
    else None), each property as a column (lists and objects as JSON text), and ``lon84``, ``lat84``."""
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(features, list):
        raise SitesError("not a GeoJSON FeatureCollection (expected {\"type\": \"FeatureCollection\", "
                         "\"features\": [...]})")
    if not features:
        raise SitesError("the FeatureCollection has no features")
    bad = [f"features[{i}]: {why}" for i, f in enumerate(features) if (why := _not_a_point(f))]
    if bad:
        raise SitesError(f"{len(bad)} feature(s) are not Points with [lon, lat]: " + "; ".join(bad[:MAX_LISTED]))
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
    lon, lat = _wgs84_points(pd.Series(coords[:, 0]), pd.Series(coords[:, 1]), ("lon", "lat"), crs,
                             lambda i: f"features[{i}]")
    frame["lon84"], frame["lat84"] = lon, lat
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


# --- streaming -----------------------------------------------------------------------------------------------

def locate_csv(src: Source, dst: str | os.PathLike[str], locator: Locator, crs: OutputCRS | None = None,
               chunk_rows: int = 200_000, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Locate every row of a CSV, chunk by chunk, into ``dst``: the input columns, ``lon84``, ``lat84`` and
    the located columns, UTF-8 with a BOM (so Excel reads the Chinese names). Returns the summary of all rows.

    ``dst`` appears only when every row has been located (temporary file, then rename); on any error the
    old file, if any, is left as it was. ``progress`` is called with the number of rows done after each chunk.
    """
    total: dict[str, Any] | None = None
    rows = 0
    with atomic_file(dst, "w", encoding="utf-8-sig", newline="") as out:
        for chunk in _csv_chunks(src, chunk_rows):
            sites = _located_sites(chunk, crs, first_row=rows + 1)
            located = locator.locate(sites["lon84"].to_numpy(), sites["lat84"].to_numpy())
            pd.concat([sites, located], axis=1).to_csv(out, header=rows == 0, index=False)
            rows += len(sites)
            total = _add(total, locator.summary(located))
            if progress is not None:
                progress(rows)
        if total is None or rows == 0:
            raise SitesError("the file has a header but no data rows")
    return total


def _add(total: dict[str, Any] | None, part: dict[str, Any]) -> dict[str, Any]:
    """Two summaries added count by count (their keys are the same: every area appears in each)."""
    if total is None:
        return part
    return {k: _add(total[k], v) if isinstance(v, dict) else total[k] + v for k, v in part.items()}
