"""Selecting a collection's features for a query: what OGC API - Features' items request asks, without HTTP.

`FeatureQuery` is the query as typed values (a CRS84 box, property filters, a CQL2 filter, sort keys); `select`
answers it over a collection's frame with geo.filters. The plan's own rules live here too: which properties are
queryable, that an industry code matches its narrower industries, and that a district is its own district.
The HTTP module (services.ogc) only parses parameters into a FeatureQuery and renders the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from geo.filters import CQL2_LANGUAGES, FilterError, Queryable, cql2_mask, equals, sort_frame, within_bbox
from geo.taxonomy import Taxonomy

# Properties a client may filter and sort on, where a collection has them: short codes and names, not prose.
SCALAR_QUERYABLES = {
    "id": ("string", "Feature id"),
    "kind": ("string", "Kind of feature"),
    "name_zh": ("string", "Name in the plan (Chinese)"),
    "name_en": ("string", "Name in English"),
    "seq": ("integer", "Order in 专栏 9"),
    "planned_area_km2": ("number", "Planned area in the plan, km²"),
    "area_km2": ("number", "Area computed on the WGS 84 ellipsoid from the schematic boundary, km²"),
    "role": ("string", "Part of the corridor: zone, north-area or south-area"),
    "corridor_area": ("string", "Corridor area a unit belongs to"),
    "form": ("string", "Form of an innovation node"),
    "platform_type": ("string", "Type of platform"),
    "location_quality": ("string", "How well a platform's site is known"),
    "status": ("string", "A platform's status as the plan states it: planned, under-construction, operating, unknown"),
    "geometry_quality": ("string", "How the boundary was drawn (schematic, surveyed or administrative)"),
    "adcode": ("string", "Administrative division code"),
}
ARRAY_QUERYABLES = {
    "industries": ("industries", "Industry codes (see /industries); a broader code also matches its narrower ones"),
    "district_adcode": ("district_adcodes", "Adcode of a district the feature lies in"),
}

Box = tuple[float, float, float, float]


class QueryError(ValueError):
    """A query that cannot be answered: `parameter` names the part at fault, the message says why."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


@dataclass(frozen=True)
class FeatureQuery:
    bbox: Box | None = None  # CRS84 west, south, east, north
    properties: tuple[tuple[str, str], ...] = ()  # queryable = value, all of them
    filter: str | None = None  # CQL2
    filter_lang: str = CQL2_LANGUAGES[0]
    # moves the filter's geometries from filter-crs to CRS84
    filter_to_crs84: Callable[[shapely.Geometry], shapely.Geometry] | None = None
    sortby: tuple[tuple[str, bool], ...] = ()  # (queryable, ascending)


def queryables_of(frame: gpd.GeoDataFrame, columns: list[str]) -> dict[str, Queryable]:
    """The queryables of a collection whose frame has these (non-empty) property columns."""
    queryables = {name: Queryable(name, kind, name, label)
                  for name, (kind, label) in SCALAR_QUERYABLES.items() if name in columns}
    for name, (column, label) in ARRAY_QUERYABLES.items():
        if column in columns:
            queryables[name] = Queryable(name, "array", column, label)
        elif name == "district_adcode" and "adcode" in columns:  # a district is its own district
            queryables[name] = Queryable(name, "string", "adcode", label)
    queryables["geometry"] = Queryable("geometry", "geometry", frame.geometry.name, "The feature's geometry")
    return queryables


def select(frame: gpd.GeoDataFrame, queryables: Mapping[str, Queryable], query: FeatureQuery, taxonomy: Taxonomy
           ) -> np.ndarray:
    """Row positions of the features matching the query, in output order (stored order unless sorted)."""
    mask = np.ones(len(frame), dtype=bool)
    if query.bbox is not None:
        mask &= within_bbox(frame, query.bbox)
    for name, value in query.properties:
        queryable = queryables.get(name)
        if queryable is None:  # a property the collection lacks (platforms have no district_adcode): no feature has it
            mask[:] = False
            continue
        if queryable.type == "geometry":
            raise QueryError(name, "filter on the geometry with bbox or filter=S_INTERSECTS(geometry, ...)")
        expand = taxonomy.narrower if name == "industries" else None
        if expand is not None and value not in taxonomy:
            raise QueryError(name, f"unknown industry code {value!r}; /industries lists them")
        try:
            mask &= equals(frame, queryable, value, expand)
        except FilterError as exc:
            raise QueryError(name, str(exc)) from exc
    if query.filter_lang not in CQL2_LANGUAGES:
        raise QueryError("filter-lang", f"{query.filter_lang!r} is not supported; use {' or '.join(CQL2_LANGUAGES)}")
    if query.filter is not None:
        try:
            mask &= cql2_mask(frame, query.filter, queryables, query.filter_to_crs84, query.filter_lang)
        except FilterError as exc:
            raise QueryError("filter", str(exc)) from exc
    positions = np.flatnonzero(mask)
    if query.sortby:
        try:
            ordered = sort_frame(frame.iloc[positions].assign(_position=positions), list(query.sortby), queryables)
        except FilterError as exc:
            raise QueryError("sortby", str(exc)) from exc
        positions = ordered["_position"].to_numpy()
    return positions
