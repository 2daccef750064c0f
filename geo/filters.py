"""Selecting features: by bounding box, by a property value, by a CQL2 text expression, and sorting.

Every function takes a layer frame (WGS 84 lon/lat, as geo.layers loads it) and returns a boolean mask
or a reordered frame, so callers can combine them. CQL2 text is parsed by pygeofilter; the expression is
evaluated here, vectorised over pandas columns and shapely arrays, because pygeofilter's own pandas
backend lacks CQL2's BBOX literal and compares None values unsafely.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_text import parse as parse_cql2_text

Mask = np.ndarray


class FilterError(ValueError):
    """A filter that cannot be applied; the message says what is wrong with it."""


@dataclass(frozen=True)
class Queryable:
    """A property a client may filter and sort on: `string`, `number`, `integer`, or `array` (of strings)."""

    name: str
    type: str
    column: str  # the frame column it reads (`district_adcode` reads the `district_adcodes` list)
    title: str = ""


def within_bbox(frame: gpd.GeoDataFrame, bbox: tuple[float, float, float, float]) -> Mask:
    """Rows whose geometry intersects the lon/lat box (west, south, east, north); rows without geometry never do."""
    mask = np.zeros(len(frame), dtype=bool)
    mask[frame.sindex.query(shapely.box(*bbox), predicate="intersects")] = True
    return mask


def equals(frame: gpd.GeoDataFrame, queryable: Queryable, value: str, expand: Callable[[str], set[str]] | None = None
           ) -> Mask:
    """Rows whose property equals `value`; for an array property, rows whose list holds it.

    `expand` widens the value to a set (the narrower industry codes of a broader one, say).
    """
    column = frame[queryable.column] if queryable.column in frame.columns else pd.Series(None, index=frame.index)
    wanted = expand(value) if expand else {value}
    if queryable.type == "array":
        return column.map(lambda items: bool(wanted.intersection(items or []))).to_numpy(dtype=bool)
    if queryable.type in ("number", "integer"):
        try:
            number = float(value)
        except ValueError as exc:
            raise FilterError(f"{queryable.name} is a number; {value!r} is not") from exc
        return (pd.to_numeric(column, errors="coerce") == number).to_numpy(dtype=bool)
    return column.map(lambda item: item is not None and str(item) in wanted).to_numpy(dtype=bool)


def cql2_mask(frame: gpd.GeoDataFrame, text: str, queryables: Mapping[str, Queryable],
              to_lonlat: Callable[[shapely.Geometry], shapely.Geometry] | None = None) -> Mask:
    """Rows matching a CQL2 text expression (Basic CQL2 plus S_INTERSECTS, LIKE, IN and BETWEEN).

    Property names must be queryables (`geometry` is the spatial one). `to_lonlat` moves geometry literals
    from the filter's CRS into lon/lat.
    """
    try:
        node = parse_cql2_text(text)
    except Exception as exc:  # pygeofilter raises lark's errors, whose types vary by failure
        raise FilterError(f"not valid CQL2 text: {_first_line(exc)}") from exc
    result = _Evaluator(frame, queryables, to_lonlat).evaluate(node)
    if not isinstance(result, np.ndarray) or result.dtype != bool:
        raise FilterError("the filter is not a condition (a comparison, a spatial test or their combination)")
    return result


def sort_frame(frame: gpd.GeoDataFrame, keys: list[tuple[str, bool]], queryables: Mapping[str, Queryable]
               ) -> gpd.GeoDataFrame:
    """The frame sorted by (queryable, ascending) keys, missing values last, ties by id (a stable paging order)."""
    if not keys:
        return frame
    columns: dict[str, Any] = {}
    for i, (name, _ascending) in enumerate(keys):
        queryable = queryables.get(name)
        if queryable is None or queryable.type in ("array", "geometry"):
            sortable = ", ".join(sorted(n for n, q in queryables.items() if q.type not in ("array", "geometry")))
            raise FilterError(f"cannot sort by {name!r}; sortable properties: {sortable}")
        column = frame[queryable.column] if queryable.column in frame.columns else pd.Series(None, index=frame.index)
        numeric = queryable.type in ("number", "integer")
        columns[f"k{i}"] = (pd.to_numeric(column, errors="coerce") if numeric
                            else column.map(lambda v: None if v is None else str(v))).to_numpy()
    columns["id"] = frame["id"].to_numpy()
    order = pd.DataFrame(columns).sort_values(
        list(columns), ascending=[a for _, a in keys] + [True], na_position="last", kind="stable").index
    return frame.iloc[order.to_numpy()]


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class _Evaluator:
    """Evaluates a pygeofilter AST to a boolean mask over the frame's rows (values for its leaves)."""

    def __init__(self, frame: gpd.GeoDataFrame, queryables: Mapping[str, Queryable],
                 to_lonlat: Callable[[shapely.Geometry], shapely.Geometry] | None) -> None:
        self.frame = frame
        self.queryables = queryables
        self.to_lonlat = to_lonlat or (lambda g: g)

    def evaluate(self, node: Any) -> Any:
        if isinstance(node, ast.Not):
            return ~self._condition(node.sub_node)
        if isinstance(node, ast.And | ast.Or):
            lhs, rhs = self._condition(node.lhs), self._condition(node.rhs)
            return (lhs & rhs) if isinstance(node, ast.And) else (lhs | rhs)
        if isinstance(node, ast.Comparison):
            return self._compare(node)
        if isinstance(node, ast.Between):
            numbers = self._numbers(node.lhs)
            between = ((numbers >= self._number(node.low)) & (numbers <= self._number(node.high))).to_numpy(dtype=bool)
            return self._negate(between, node.not_, numbers.notna())
        if isinstance(node, ast.Like):
            return self._like(node)
        if isinstance(node, ast.In):
            column = self._column(node.lhs)
            options = {self._literal(option) for option in node.sub_nodes}
            listed = column.map(lambda v: v is not None and v in options).to_numpy(dtype=bool)
            return self._negate(listed, node.not_, column.notna())
        if isinstance(node, ast.IsNull):
            missing = self._column(node.lhs).isna().to_numpy(dtype=bool)
            return ~missing if node.not_ else missing
        if isinstance(node, ast.GeometryIntersects):
            return self._intersects(node)
        if isinstance(node, ast.SpatialComparisonPredicate | ast.TemporalPredicate | ast.ArrayPredicate):
            raise FilterError(f"{type(node).__name__} is not supported; spatial filters use S_INTERSECTS")
        if isinstance(node, bool):
            return np.full(len(self.frame), node)
        raise FilterError(f"unsupported filter element {node!r}")

    def _condition(self, node: Any) -> Mask:
        result = self.evaluate(node)
        if not isinstance(result, np.ndarray):
            raise FilterError(f"{node!r} is not a condition")
        return result

    def _negate(self, mask: Mask, negate: bool, present: pd.Series) -> Mask:
        # SQL semantics, as CQL2 has: a missing value matches neither a test nor its negation.
        return (~mask & present.to_numpy(dtype=bool)) if negate else mask

    def _queryable(self, node: Any) -> Queryable:
        if not isinstance(node, ast.Attribute):
            raise FilterError(f"expected a property name, got {node!r}")
        queryable = self.queryables.get(node.name)
        if queryable is None:
            raise FilterError(f"unknown property {node.name!r}; queryables: {', '.join(sorted(self.queryables))}")
        return queryable

    def _column(self, node: Any) -> pd.Series:
        queryable = self._queryable(node)
        if queryable.type == "array":
            raise FilterError(f"{queryable.name} is a list; filter it with the `{queryable.name}=` parameter")
        if queryable.type == "geometry":
            raise FilterError(f"{queryable.name} is the geometry; test it with S_INTERSECTS")
        if queryable.column not in self.frame.columns:
            return pd.Series([None] * len(self.frame), index=self.frame.index, dtype=object)
        return self.frame[queryable.column]

    def _numbers(self, node: Any) -> pd.Series:
        if self._queryable(node).type not in ("number", "integer"):
            raise FilterError(f"{node.name} is not a number")
        return pd.to_numeric(self._column(node), errors="coerce")

    def _number(self, node: Any) -> float:
        if isinstance(node, bool) or not isinstance(node, int | float):
            raise FilterError(f"expected a number, got {node!r}")
        return float(node)

    def _literal(self, node: Any) -> Any:
        if isinstance(node, str | int | float | bool):
            return node
        raise FilterError(f"expected a literal value, got {node!r}")

    def _compare(self, node: ast.Comparison) -> Mask:
        lhs, rhs = node.lhs, node.rhs
        if not isinstance(lhs, ast.Attribute):  # `5 < seq` reads as `seq > 5`
            lhs, rhs = rhs, lhs
            flipped = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}
            op = flipped.get(node.op.value, node.op.value)
        else:
            op = node.op.value
        value = self._literal(rhs)
        queryable = self._queryable(lhs)
        if queryable.type in ("number", "integer"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise FilterError(f"{queryable.name} is a number; compare it with a number, not {value!r}")
            column: pd.Series = pd.to_numeric(self._column(lhs), errors="coerce")
        else:
            if not isinstance(value, str):
                raise FilterError(f"{queryable.name} is text; compare it with a quoted string, not {value!r}")
            column = self._column(lhs).map(lambda v: None if v is None else str(v))
        present = column.notna()
        filled = column.where(present, 0.0 if queryable.type in ("number", "integer") else "")
        compare = {"=": filled.eq, "<>": filled.ne, "<": filled.lt, ">": filled.gt, "<=": filled.le, ">=": filled.ge}
        return (compare[op](value) & present).to_numpy(dtype=bool)

    def _like(self, node: ast.Like) -> Mask:
        column = self._column(node.lhs)
        # CQL2: % any run, _ one character; backslash escapes. pygeofilter reports its own wildcard spellings.
        pattern = "".join(
            ".*" if ch == node.wildcard else "." if ch in (node.singlechar, "_") else re.escape(ch)
            for ch in node.pattern
        )
        regex = re.compile(f"^{pattern}$", (re.IGNORECASE if node.nocase else 0) | re.DOTALL)
        mask = column.map(lambda v: v is not None and bool(regex.match(str(v)))).to_numpy(dtype=bool)
        return self._negate(mask, node.not_, column.notna())

    def _intersects(self, node: ast.GeometryIntersects) -> Mask:
        attribute, literal = (node.lhs, node.rhs) if isinstance(node.lhs, ast.Attribute) else (node.rhs, node.lhs)
        if self._queryable(attribute).type != "geometry":
            raise FilterError(f"S_INTERSECTS needs the geometry property, not {attribute.name!r}")
        shape = self.to_lonlat(self._geometry(literal))
        return np.asarray(shapely.intersects(self.frame.geometry.values, shape), dtype=bool) & ~np.asarray(
            shapely.is_missing(self.frame.geometry.values), dtype=bool)

    def _geometry(self, node: Any) -> shapely.Geometry:
        try:
            if isinstance(node, values.Geometry):
                geom = shapely.geometry.shape(node.geometry)
            elif isinstance(node, values.Envelope):
                geom = shapely.box(node.x1, node.y1, node.x2, node.y2)
            elif isinstance(node, ast.Function) and node.name.lower() == "bbox" and len(node.arguments) in (4, 6):
                args = [self._number(a) for a in node.arguments]
                west, south, east, north = (args[0], args[1], args[2], args[3]) if len(args) == 4 else (
                    args[0], args[1], args[3], args[4])
                if west > east or south > north:
                    raise FilterError(f"BBOX{tuple(args)} is inverted: give west, south, east, north")
                geom = shapely.box(west, south, east, north)
            else:
                raise FilterError(f"S_INTERSECTS needs a geometry literal (WKT or BBOX), got {node!r}")
        except (ValueError, TypeError, AttributeError) as exc:
            if isinstance(exc, FilterError):
                raise
            raise FilterError(f"not a valid geometry literal: {_first_line(exc)}") from exc
        if not shapely.is_valid(geom):
            raise FilterError(f"the geometry literal is not valid: {shapely.is_valid_reason(geom)}")
        return geom
