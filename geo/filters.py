"""Selecting features: by bounding box, by a property value, by a CQL2 expression, and sorting.

Every function takes a layer frame (WGS 84 lon/lat, as geo.layers loads it) and returns a boolean mask
or a reordered frame, so callers can combine them. CQL2 (text or JSON) is parsed and validated by the
`cql2` library into CQL2 JSON; the expression is evaluated here, vectorised over pandas columns and
shapely arrays, with SQL's three-valued logic: a missing value matches neither a test nor its negation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import cql2
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.errors

from geo.io import nested_deeper_than

Mask = np.ndarray
CQL2_LANGUAGES = ("cql2-text", "cql2-json")
MAX_FILTER_CHARS = 20_000  # far above any hand-written filter; bounds the parser's work per request
# The cql2 parser recurses natively: a few thousand nested parentheses, NOTs or signs overflow its stack and kill
# the process (no exception). These bounds are checked on the text before it is parsed, and on the parsed tree
# before it is evaluated (our evaluator recurses too); every hand-written filter stays far below them.
MAX_FILTER_DEPTH = 32  # nested parentheses or brackets
MAX_FILTER_NOTS = 64  # NOT operators in one filter
MAX_SIGN_RUN = 8  # consecutive + or - signs before a number
MAX_TREE_DEPTH = 64  # nesting of the parsed CQL2 JSON
MAX_SORT_KEYS = 16
COMPARISONS = {"=": "eq", "<>": "ne", "<": "lt", ">": "gt", "<=": "le", ">=": "ge"}
SUPPORTED_OPS = ("and", "or", "not", *COMPARISONS, "like", "between", "in", "isNull", "s_intersects")


class FilterError(ValueError):
    """A filter that cannot be applied; the message says what is wrong with it."""


@dataclass(frozen=True)
class Queryable:
    """A property a client may filter and sort on: `string`, `number`, `integer`, `array` (of strings) or
    `geometry`."""

    name: str
    type: str
    column: str  # the frame column it reads (`district_adcode` reads the `district_adcodes` list)
    title: str = ""


def within_bbox(frame: gpd.GeoDataFrame, bbox: tuple[float, float, float, float]) -> Mask:
    """Rows whose geometry intersects the lon/lat box (west, south, east, north), and rows without a geometry,
    which OGC API - Features matches to every bbox. A west greater than east crosses the antimeridian."""
    west, south, east, north = bbox
    boxes = [shapely.box(west, south, east, north)] if west <= east else [
        shapely.box(west, south, 180.0, north), shapely.box(-180.0, south, east, north)]
    mask = np.asarray(shapely.is_missing(frame.geometry.values), dtype=bool).copy()
    for box in boxes:
        mask[frame.sindex.query(box, predicate="intersects")] = True
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


def parse_cql2(text: str, language: str = "cql2-text") -> Any:
    """A CQL2 filter (text or JSON) as CQL2 JSON, validated; FilterError with the parser's message if not."""
    if language not in CQL2_LANGUAGES:
        raise FilterError(f"filter language {language!r} is not supported; use {' or '.join(CQL2_LANGUAGES)}")
    if len(text) > MAX_FILTER_CHARS:
        raise FilterError(f"the filter is {len(text)} characters long; at most {MAX_FILTER_CHARS} are read")
    if language == "cql2-text":
        _check_text_nesting(text)
    try:
        expr = cql2.parse_text(text) if language == "cql2-text" else cql2.parse_json(text)
        tree = expr.to_json()
    except (cql2.ParseError, cql2.ValidationError, ValueError) as exc:
        raise FilterError(f"not valid {language.upper()}: {_first_line(exc)}") from exc
    _check_tree_depth(tree)
    return tree


_NOT = re.compile(r"(?<![A-Za-z0-9_])NOT(?![A-Za-z0-9_])", re.IGNORECASE)


def _check_text_nesting(text: str) -> None:
    """Refuse CQL2 text nested deeper than the parser can take, in one pass and before parsing it."""
    depth = deepest = signs = longest_signs = 0
    quote = ""
    plain = []  # the text outside quoted strings and identifiers, where NOT is an operator
    for char in text:
        if quote:
            if char == quote:
                quote = ""  # a doubled quote ('') closes and reopens: the same outcome
            continue
        if char in "'\"":
            quote = char
            plain.append(" ")
            continue
        plain.append(char)
        if char in "([":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]":
            depth -= 1
        if char in "+-":
            signs += 1
            longest_signs = max(longest_signs, signs)
        elif not char.isspace():
            signs = 0
    nots = len(_NOT.findall("".join(plain)))
    if deepest > MAX_FILTER_DEPTH:
        raise FilterError(f"the filter nests parentheses {deepest} deep; at most {MAX_FILTER_DEPTH} are allowed")
    if nots > MAX_FILTER_NOTS:
        raise FilterError(f"the filter has {nots} NOT operators; at most {MAX_FILTER_NOTS} are allowed")
    if longest_signs > MAX_SIGN_RUN:
        raise FilterError(f"the filter has a run of {longest_signs} signs (+ or -); at most {MAX_SIGN_RUN} are "
                          f"allowed")


def _check_tree_depth(tree: Any) -> None:
    """Refuse a parsed filter nested deeper than MAX_TREE_DEPTH, before the evaluator recurses into it."""
    if nested_deeper_than(tree, MAX_TREE_DEPTH):
        raise FilterError(f"the filter nests deeper than {MAX_TREE_DEPTH} levels; simplify it")


def cql2_mask(frame: gpd.GeoDataFrame, text: str, queryables: Mapping[str, Queryable],
              to_lonlat: Callable[[shapely.Geometry], shapely.Geometry] | None = None,
              language: str = "cql2-text") -> Mask:
    """Rows matching a CQL2 expression: Basic CQL2 (comparisons, IS NULL, AND/OR/NOT), LIKE, BETWEEN, IN and
    S_INTERSECTS with any geometry literal or BBOX.

    Property names must be queryables (`geometry` is the spatial one). `to_lonlat` moves geometry literals
    from the filter's CRS into lon/lat.
    """
    node = parse_cql2(text, language)
    return _Evaluator(frame, queryables, to_lonlat).condition(node).true


def sort_frame(frame: gpd.GeoDataFrame, keys: list[tuple[str, bool]], queryables: Mapping[str, Queryable]
               ) -> gpd.GeoDataFrame:
    """The frame sorted by (queryable, ascending) keys, missing values last, ties by id (a stable paging order)."""
    if not keys:
        return frame
    if len(keys) > MAX_SORT_KEYS:
        raise FilterError(f"{len(keys)} sort keys; at most {MAX_SORT_KEYS} are allowed")
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


def like_matcher(pattern: str) -> Callable[[str], bool]:
    """A test of CQL2 LIKE (`%` any run of characters, `_` any one, a backslash escapes the next) that runs in
    time linear in the pattern times the value: a backtracking regex takes exponential time on a few `%`."""
    segments: list[list[str | None]] = [[]]  # the pattern split at `%`; None stands for `_`
    for part in re.findall(r"\\.|[%_]|.", pattern, flags=re.DOTALL):
        if part == "%":
            segments.append([])
        else:
            segments[-1].append(None if part == "_" else part[-1])
    head, *middle = segments
    tail = middle.pop() if middle else None

    def fits(value: str, at: int, segment: list[str | None]) -> bool:
        return all(c is None or value[at + i] == c for i, c in enumerate(segment))

    def find(value: str, start: int, stop: int, segment: list[str | None]) -> int:
        """The first position in value[start:stop] where segment fits, or -1."""
        if None not in segment:
            return value.find("".join(segment), start, stop)  # type: ignore[arg-type]
        for at in range(start, stop - len(segment) + 1):
            if fits(value, at, segment):
                return at
        return -1

    def matches(value: str) -> bool:
        if tail is None:  # no `%`: the whole value, character for character
            return len(value) == len(head) and fits(value, 0, head)
        end = len(value) - len(tail)
        if end < len(head) or not fits(value, 0, head) or not fits(value, end, tail):
            return False
        at = len(head)
        for segment in middle:  # each as early as it fits leaves the most room for the rest: no backtracking
            found = find(value, at, end, segment)
            if found < 0:
                return False
            at = found + len(segment)
        return True

    return matches


def _first_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return " ".join(lines[:6]) if lines else type(exc).__name__


class _Truth(NamedTuple):
    """A condition's value per row in three-valued logic: true where `true`, unknown where not `known`."""

    true: Mask
    known: Mask


class _Evaluator:
    """Evaluates CQL2 JSON over the frame's rows, vectorised."""

    def __init__(self, frame: gpd.GeoDataFrame, queryables: Mapping[str, Queryable],
                 to_lonlat: Callable[[shapely.Geometry], shapely.Geometry] | None) -> None:
        self.frame = frame
        self.queryables = queryables
        self.to_lonlat = to_lonlat or (lambda g: g)
        self.everywhere = np.ones(len(frame), dtype=bool)

    def condition(self, node: Any) -> _Truth:
        if isinstance(node, bool):
            return _Truth(np.full(len(self.frame), node), self.everywhere)
        if not (isinstance(node, dict) and "op" in node):
            raise FilterError(f"{_show(node)} is not a condition (a comparison, a spatial test or their combination)")
        op, args = node["op"], node.get("args", [])
        if not isinstance(args, list):
            raise FilterError(f"the arguments of {op!r} must be a list, not {_show(args)}")
        if op in ("and", "or"):
            if not args:
                raise FilterError(f"{op.upper()} takes at least one condition")
            parts = [self.condition(a) for a in args]
            true = [p.true for p in parts]
            false = [p.known & ~p.true for p in parts]
            if op == "and":  # false if any is false, true if all are true, else unknown
                return _Truth(np.logical_and.reduce(true), np.logical_and.reduce(true) | np.logical_or.reduce(false))
            return _Truth(np.logical_or.reduce(true), np.logical_or.reduce(true) | np.logical_and.reduce(false))
        if op == "not":
            if len(args) != 1:
                raise FilterError("NOT takes one condition")
            inner = self.condition(args[0])
            return _Truth(~inner.true & inner.known, inner.known)
        if op in COMPARISONS:
            return self._compare(op, args)
        if op == "like":
            return self._like(args)
        if op == "between":
            return self._between(args)
        if op == "in":
            return self._in(args)
        if op == "isNull":
            if len(args) != 1:
                raise FilterError("IS NULL takes one property")
            return _Truth(self._column(args[0]).isna().to_numpy(dtype=bool), self.everywhere)
        if op == "s_intersects":
            return self._intersects(args)
        raise FilterError(f"operator {op!r} is not supported; use {', '.join(SUPPORTED_OPS)}")

    def _queryable(self, node: Any) -> Queryable:
        if not (isinstance(node, dict) and set(node) == {"property"}):
            raise FilterError(f"expected a property name, got {_show(node)}")
        queryable = self.queryables.get(node["property"])
        if queryable is None:
            known = ", ".join(sorted(self.queryables))
            raise FilterError(f"unknown property {node['property']!r}; queryables: {known}")
        return queryable

    def _column(self, node: Any) -> pd.Series:
        queryable = self._queryable(node)
        if queryable.type == "array":
            raise FilterError(f"{queryable.name} is a list; filter it with the `{queryable.name}=` parameter")
        if queryable.type == "geometry":
            raise FilterError(f"{queryable.name} is the geometry; test it with S_INTERSECTS")
        if queryable.column not in self.frame.columns:
            return pd.Series([None] * len(self.frame), index=self.frame.index, dtype=object)
        column = self.frame[queryable.column]
        if queryable.type in ("number", "integer"):
            return pd.to_numeric(column, errors="coerce")
        return column.map(lambda v: None if v is None else str(v))

    def _literal(self, node: Any, queryable: Queryable) -> Any:
        numeric = queryable.type in ("number", "integer")
        if numeric and isinstance(node, int | float) and not isinstance(node, bool):
            return float(node)
        if not numeric and isinstance(node, str):
            return node
        kind = "a number" if numeric else "a quoted string"
        raise FilterError(f"{queryable.name} is {'a number' if numeric else 'text'}; compare it with {kind}, "
                          f"not {_show(node)}")

    def _operands(self, args: list[Any]) -> tuple[Queryable, Any, bool]:
        """(queryable, literal, flipped) of a two-argument test written either way round."""
        if len(args) != 2:
            raise FilterError("a comparison takes two operands")
        flipped = not (isinstance(args[0], dict) and "property" in args[0])
        prop, literal = (args[1], args[0]) if flipped else (args[0], args[1])
        queryable = self._queryable(prop)
        return queryable, self._literal(literal, queryable), flipped

    def _compare(self, op: str, args: list[Any]) -> _Truth:
        queryable, value, flipped = self._operands(args)
        if flipped:  # `5 < seq` reads as `seq > 5`
            op = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)
        column = self._column({"property": queryable.name})
        known = column.notna().to_numpy(dtype=bool)
        filled = column.where(column.notna(), 0.0 if isinstance(value, float) else "")
        true = getattr(filled, COMPARISONS[op])(value).to_numpy(dtype=bool) & known
        return _Truth(true, known)

    def _like(self, args: list[Any]) -> _Truth:
        queryable, pattern, _ = self._operands(args)
        if not isinstance(pattern, str):
            raise FilterError("LIKE takes a quoted pattern")
        matches = like_matcher(pattern)
        column = self._column({"property": queryable.name})
        known = column.notna().to_numpy(dtype=bool)
        true = column.map(lambda v: v is not None and matches(v)).to_numpy(dtype=bool)
        return _Truth(true, known)

    def _between(self, args: list[Any]) -> _Truth:
        if len(args) != 3:
            raise FilterError("BETWEEN takes a property and two numbers")
        queryable = self._queryable(args[0])
        if queryable.type not in ("number", "integer"):
            raise FilterError(f"BETWEEN needs a number; {queryable.name} is not one")
        low, high = self._literal(args[1], queryable), self._literal(args[2], queryable)
        column = self._column(args[0])
        known = column.notna().to_numpy(dtype=bool)
        return _Truth(((column >= low) & (column <= high)).to_numpy(dtype=bool) & known, known)

    def _in(self, args: list[Any]) -> _Truth:
        if len(args) != 2 or not isinstance(args[1], list):
            raise FilterError("IN takes a property and a list of values")
        queryable = self._queryable(args[0])
        options = {self._literal(option, queryable) for option in args[1]}
        column = self._column(args[0])
        known = column.notna().to_numpy(dtype=bool)
        return _Truth(column.map(lambda v: v in options).to_numpy(dtype=bool) & known, known)

    def _intersects(self, args: list[Any]) -> _Truth:
        if len(args) != 2:
            raise FilterError("S_INTERSECTS takes the geometry property and a geometry")
        prop, literal = (args[0], args[1]) if isinstance(args[0], dict) and "property" in args[0] else (
            args[1], args[0])
        if self._queryable(prop).type != "geometry":
            raise FilterError(f"S_INTERSECTS needs the geometry property, not {_show(prop)}")
        shape = self.to_lonlat(_geometry(literal))
        geoms = self.frame.geometry.values
        known = ~np.asarray(shapely.is_missing(geoms), dtype=bool)
        return _Truth(np.asarray(shapely.intersects(geoms, shape), dtype=bool) & known, known)


def _geometry(node: Any) -> shapely.Geometry:
    """A CQL2 JSON geometry literal (GeoJSON, or {"bbox": [...]}) as a valid shapely geometry."""
    if isinstance(node, dict) and "bbox" in node:
        box = node["bbox"]
        if not (isinstance(box, list) and len(box) in (4, 6) and all(isinstance(v, int | float) for v in box)):
            raise FilterError(f"BBOX takes 4 or 6 numbers, not {_show(box)}")
        west, south, east, north = (box[0], box[1], box[2], box[3]) if len(box) == 4 else (
            box[0], box[1], box[3], box[4])
        if west > east or south > north:
            raise FilterError(f"BBOX{tuple(box)} is inverted: give west, south, east, north")
        return shapely.box(west, south, east, north)
    if not (isinstance(node, dict) and "type" in node):
        raise FilterError(f"S_INTERSECTS needs a geometry literal (WKT or BBOX), got {_show(node)}")
    try:
        geom = shapely.geometry.shape(node)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, shapely.errors.ShapelyError) as exc:
        raise FilterError(f"not a valid geometry literal: {_first_line(exc)}") from exc
    if geom.is_empty or not shapely.is_valid(geom):
        raise FilterError(f"the geometry literal is not valid: {shapely.is_valid_reason(geom)}")
    return geom


def _show(node: Any) -> str:
    text = json.dumps(node, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."
