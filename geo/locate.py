"""Which of the plan's areas hold a site: batch lookups of many lon/lat points at once.

``Locator.from_layers(layers)`` prepares the areas once; ``Locator.locate(lon, lat)`` says, for each
point, which sub-park (and block), corridor area and unit, innovation node and district hold it, and
how far the nearest sub-park is; ``Locator.find`` says the same as indices, for writers of millions of
rows (geo.batch). geo.sites reads sites from files; bad points raise ``SitesError``.

Everything is vectorised over the points (numpy, shapely's array functions); Python loops run only
over the ~60 areas or over chunks of points, so a million sites take seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from shapely import STRtree

from geo.grid import MIXED, CellGrid
from geo.measure import _LOCAL, WGS84, geodesic_areas_km2
from geo.nearest import SegmentGrid
from geo.plane import rounded_geodesic_km

if TYPE_CHECKING:  # GeoPandas and pandas are not needed to locate: `nbgis locate` starts without them
    import pandas as pd

    from geo.layers import Layers

LOCATED_COLUMNS = (
    "subpark", "subpark_name_zh", "subpark_block_zh", "corridor_zone", "corridor_area", "corridor_unit",
    "innovation_node", "district_adcode", "district_name_zh", "nearest_subpark", "nearest_subpark_km",
)
WGS84_COLUMNS = ("lon84", "lat84")
ADDED_COLUMNS = (*WGS84_COLUMNS, *LOCATED_COLUMNS)  # what locating adds to a site's own columns, in this order
NEAREST_COLUMNS = frozenset({"nearest_subpark", "nearest_subpark_km"})  # the dear ones: a measure per site
MAX_LISTED = 5  # bad rows named in an error message
# The nearest boundary point is found in geo.measure's Gauss-Kruger plane (_LOCAL: CGCS2000 / 3-degree zone, CM
# 120E), with its very transformer: pyproj builds a transformer once per thread (~0.1 s), so one is shared.

_PIECE_VERTICES = 8  # boundary pieces in the nearest-point index; with node capacity 4 the fastest measured
_NEAREST_BLOCK = 100_000  # points per batch of shapely objects in the nearest search, to bound memory
_GRID_BLOCK = 1 << 18  # points per block of grid lookups
GRID_MIN_POINTS = 20_000  # points outside the sub-parks from which the segment grid pays for its building
GRID_MIN_VERTICES = 5000  # areas with fewer vertices in all are tested exactly: as fast as a grid look-up (measured)


_GRID_LOCK = threading.Lock()


class SitesError(ValueError):
    """Sites we cannot read or locate; the message names the column, the rows and what is wrong."""


def parse_columns(text: str | None) -> tuple[str, ...]:
    """The added columns asked for, as "subpark,innovation_node" (in that order; each once): every one of
    ADDED_COLUMNS when none is named. Asking only for what is needed saves time: above all, leaving out the
    nearest sub-park, which is measured on the ellipsoid for each site outside the sub-parks."""
    if text is None or not text.strip():
        return ADDED_COLUMNS
    names = [name.strip() for name in text.split(",")]
    unknown = [name for name in names if name not in ADDED_COLUMNS]
    if unknown:
        raise SitesError(f"unknown column(s) {', '.join(map(repr, unknown))}; choose from {', '.join(ADDED_COLUMNS)}")
    return tuple(dict.fromkeys(names))


def needs_nearest(columns: Iterable[str]) -> bool:
    """Whether any of the columns asked for is the nearest sub-park's (Locator.find's `nearest`)."""
    return not NEAREST_COLUMNS.isdisjoint(columns)


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
        _prepare(copies)
        cols = {k: np.array([*np.asarray(list(v), dtype=object)[order], None], dtype=object)
                for k, v in labels.items()}
        # A grid costs a look-up per point and ~0.1 s to build: it pays only where the exact tests are dear.
        grid = CellGrid.of(copies) if shapely.get_num_coordinates(copies).sum() >= GRID_MIN_VERTICES else None
        return cls(copies, shapely.bounds(copies), cols, grid, np.append(order, -1).astype(np.intp))

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickled (on a cluster's worker): prepared again, since pickles carry the shapes only."""
        self.__dict__.update(state)
        _prepare(self.geoms)

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


def _prepare(geoms: np.ndarray) -> None:
    shapely.prepare(geoms)
    # GEOS's prepared polygons are not thread-safe (libgeos/geos#825): each builds its point locators lazily,
    # a simple one on the first point test inside its envelope and the indexed one (and its index) on the
    # second (PreparedPolygon::getPointLocator). Two tests here build both, so that the threads locating
    # blocks, and the web service's, only read them; with one, two threads built the index at once and
    # corrupted the heap ("malloc(): unaligned tcache chunk detected").
    for g, (west, south, east, north) in zip(geoms, shapely.bounds(geoms)):
        for _ in range(2):
            shapely.intersects_xy(g, (west + east) / 2, (south + north) / 2)


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
class Located:
    """What holds each of a batch of points, as indices: a writer turns them into text or Arrow columns
    without a Python object per row."""

    labels: dict[str, tuple[np.ndarray, np.ndarray]]  # column -> (its values, ending with None; index, -1 = None)
    corridor_zone: np.ndarray  # bool
    nearest_subpark_km: np.ndarray | None  # None (and no nearest_subpark label) when the nearest was not asked for
    subpark: np.ndarray  # for the summary: index into Locator.subpark_ids, unit_ids, node_ids, district_adcodes
    unit: np.ndarray
    node: np.ndarray
    district: np.ndarray

    def column(self, name: str) -> np.ndarray:
        """One of LOCATED_COLUMNS, per point: object arrays hold None where no area does."""
        if name == "corridor_zone":
            return self.corridor_zone
        if name == "nearest_subpark_km":
            if self.nearest_subpark_km is None:
                raise KeyError(name)
            return self.nearest_subpark_km
        values, index = self.labels[name]
        return values[index]

    def frame(self, columns: Iterable[str] = LOCATED_COLUMNS) -> pd.DataFrame:
        """The located columns named (LOCATED_COLUMNS by default) as a frame."""
        # Each column keeps its numpy dtype: object keeps None as None (pandas 3 would infer str with NaN).
        # The arrays are fresh, so the frame may own them: no copy halves the peak memory of a big batch.
        import pandas as pd

        arrays = {name: self.column(name) for name in columns}
        return pd.DataFrame({k: pd.Series(v, dtype=v.dtype, copy=False) for k, v in arrays.items()}, copy=False)


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
    # The boundaries' segments gridded, built on the first large batch (~0.2 s): the same nearest points, fast.
    _segments: list[SegmentGrid] = field(default_factory=list, repr=False)

    def segment_grid(self) -> SegmentGrid:
        with _GRID_LOCK:  # one build, however many threads ask at once
            if not self._segments:
                self._segments.append(SegmentGrid.of(self.boundary.geometries, self.boundary_owner))
            return self._segments[0]

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
            industries={fid: tuple(codes or ()) for listed in (sub, units, nodes)
                        for fid, codes in zip(listed["id"], listed["industries"])},
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
        return self.find(lon, lat).frame()

    def find(self, lon: np.ndarray, lat: np.ndarray, nearest: bool = True) -> Located:
        """As locate, as indices into each column's labels: what the batch writers and summary work from.
        Without `nearest`, no nearest sub-park is measured (most of the work for sites outside the sub-parks)."""
        lon = np.asarray(lon, dtype=float).reshape(-1)
        lat = np.asarray(lat, dtype=float).reshape(-1)
        if lon.shape != lat.shape:
            raise SitesError(f"lon and lat differ in length ({len(lon)} and {len(lat)})")
        bad = np.flatnonzero(~_in_range(lon, lat))
        if len(bad):
            listed = ", ".join(f"{i + 1} ({lon[i]:g}, {lat[i]:g})" for i in bad[:MAX_LISTED])
            raise SitesError(f"{len(bad)} point(s) not a lon -180..180, lat -90..90 pair; points (1-based): {listed}")
        part = self.subparks.holder(lon, lat)
        part_owner = np.append(self.subparks.labels["index"][:-1].astype(np.intp), -1)  # part -1 -> -1
        km: np.ndarray | None = None
        if nearest:
            closest, km = part_owner[part], np.zeros(len(lon))
            outside = np.flatnonzero(part < 0)
            closest[outside], km[outside] = self._nearest(lon[outside], lat[outside])
        area, unit, node, district = (
            a.holder(lon, lat) for a in (self.corridor_areas, self.units, self.nodes, self.districts))
        sub, units, nodes, dist = self.subparks.labels, self.units.labels, self.nodes.labels, self.districts.labels
        labels = {"subpark": (sub["id"], part), "subpark_name_zh": (sub["name_zh"], part),
                  "subpark_block_zh": (sub["block"], part), "corridor_area": (self.corridor_areas.labels["id"], area),
                  "corridor_unit": (units["id"], unit), "innovation_node": (nodes["id"], node),
                  "district_adcode": (dist["adcode"], district), "district_name_zh": (dist["name_zh"], district)}
        if nearest:
            labels["nearest_subpark"] = (np.array([*self.subpark_ids, None], dtype=object), closest)
        return Located(
            labels=labels,
            corridor_zone=self.zone.holder(lon, lat) >= 0,
            nearest_subpark_km=km,
            subpark=part_owner[part], unit=self.units.given[unit], node=self.nodes.given[node],
            district=self.districts.given[district],
        )

    def _nearest(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest sub-park (index) and geodesic km, rounded to metres (the shapes are schematic to hundreds of
        metres), for points outside every sub-park.

        As geo.measure.geodesic_distances_km: the nearest boundary point in the Gauss-Kruger plane, the
        distance on the ellipsoid. That function projects each shape once per point (about 60 s a million);
        here the shapes are projected once: a grid of their segments (geo.nearest) answers large batches, an
        STRtree of boundary pieces small ones and points far away; both give GEOS's nearest point, to the bit.
        """
        x, y = _LOCAL.transform(lon, lat)
        if len(x) >= GRID_MIN_POINTS:
            index, near_x, near_y = self.segment_grid().nearest(x, y)
        else:
            index, near_x, near_y = np.full(len(x), -1, dtype=np.intp), np.full(len(x), np.nan), np.full(len(x), np.nan)
        # Off the grid (far from Ningbo) or in a small batch, an index of boundary pieces finds the nearest one.
        plane = np.flatnonzero((index < 0) & np.isfinite(x) & np.isfinite(y))
        for start in range(0, len(plane), _NEAREST_BLOCK):
            rows = plane[start:start + _NEAREST_BLOCK]
            points = shapely.points(x[rows], y[rows])
            which, piece = self.boundary.query_nearest(points, all_matches=False)
            ends = shapely.get_coordinates(shapely.shortest_line(points[which], self.boundary.geometries[piece]))
            index[rows[which]] = self.boundary_owner[piece]
            near_x[rows[which]], near_y[rows[which]] = ends[1::2, 0], ends[1::2, 1]
        found = np.flatnonzero(index >= 0)
        km = np.full(len(lon), np.nan)
        km[found] = rounded_geodesic_km(lon[found], lat[found], x[found], y[found], near_x[found], near_y[found])
        # Near the far side of the globe the plane has no finite coordinates; at those distances (9,000 km
        # and more) a point inside each sub-park stands in for its nearest boundary point.
        far = np.flatnonzero(index < 0)
        if len(far):
            n_sub = len(self.subpark_ids)
            dist = WGS84.inv(np.repeat(lon[far], n_sub), np.repeat(lat[far], n_sub),
                             np.tile(self.subpark_points[:, 0], len(far)),
                             np.tile(self.subpark_points[:, 1], len(far)))[2].reshape(len(far), n_sub)
            index[far] = dist.argmin(axis=1)
            km[far] = np.round(dist.min(axis=1) / 1e3, 3)
        return index, km

    def summary(self, located: Located) -> dict[str, Any]:
        """Counts of ``find``'s rows, as plain JSON-ready types; every sub-park, unit, node, district and
        listed industry appears, with 0 where no site falls."""
        per_industry = dict.fromkeys(sorted({c for codes in self.industries.values() for c in codes}), 0)
        # A site counts once per code, however many of its areas list it: count per combination of areas.
        ids = [(*self.subpark_ids, None), (*self.unit_ids, None), (*self.node_ids, None)]
        sizes = [len(i) for i in ids]
        combo = np.ravel_multi_index((located.subpark, located.unit, located.node), sizes, mode="wrap")
        counts = np.bincount(combo, minlength=0)
        for key in np.flatnonzero(counts):
            keys = [ids[k][i] for k, i in enumerate(np.unravel_index(key, sizes))]
            for code in {c for fid in keys if fid is not None for c in self.industries.get(fid, ())}:
                per_industry[code] += int(counts[key])
        return {
            "sites": len(located.subpark),
            "in_subparks": int((located.subpark >= 0).sum()),
            "per_subpark": _counts(located.subpark, self.subpark_ids),
            "per_corridor_unit": _counts(located.unit, self.unit_ids),
            "per_innovation_node": _counts(located.node, self.node_ids),
            "per_district": _counts(located.district, self.district_adcodes),
            "per_industry": per_industry,
        }


def _counts(index: np.ndarray, keys: tuple[str, ...]) -> dict[str, int]:
    counts = np.bincount(index[index >= 0], minlength=len(keys))
    return {k: int(n) for k, n in zip(keys, counts)}


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
