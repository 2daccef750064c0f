"""The rules one feature obeys, checked as a write would leave it: `check_feature` before the store takes it.

Hard findings refuse the write; soft ones are reported with it and kept with the version. The per-feature
rules are shared with `nbgis validate` (geo.validate), under the same rule names, so a write the service
takes does not break what the validator checks. `Rules.of(layers)` builds what the checks need (the city
outline with its margin, the host districts, a tree of the sub-parks, the corridor zone, the property types)
once per Layers; a check is then a few milliseconds.
"""

from __future__ import annotations

import functools
import re
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import shapely

from geo.boundaries import SCHEMATIC, SURVEYED
from geo.layers import Layers
from geo.measure import geodesic_area_km2
from geo.plan import cited_ranges
from geo.schema import (
    EDITABLE_COLLECTIONS,
    KINDS,
    PARK_KINDS,
    PLATFORM,
    PLATFORM_STATUSES,
    PLATFORM_TYPES,
    REQUIRED_PROPERTIES,
    editable_kind,
)
from geo.seed import read_seed
from geo.taxonomy import Taxonomy

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MIN_SHARE_IN_DISTRICT = 0.95
MIN_SHARE_IN_CORRIDOR = 0.999
AREA_TOLERANCE = 0.05
EXTENT_MARGIN_DEG = 0.005  # about 500 m: the district coastline is simplified
MAX_OVERLAP_KM2 = 1e-4  # 100 m²: rounding to 6 decimals can leave slivers
# How an area's boundary was drawn: from the plan's words, surveyed (then `geometry_source` says by whom), or
# an administrative boundary.
GEOMETRY_QUALITIES = (SCHEMATIC, SURVEYED, "administrative")
# Names the service adds to every feature it serves: a client (QGIS) sends them back on PUT; they are ignored.
COMPUTED_PROPERTIES = ("area_km2",)
# Optional properties a kind may carry although no seeded feature does.
OPTIONAL_PROPERTIES = {k.name: {"geometry_source": "string"} for k in PARK_KINDS}
LIST_PROPERTIES = ("district_adcodes", "district_names_zh", "industries")
PARK_KIND_NAMES = frozenset(k.name for k in PARK_KINDS)

Severity = Literal["hard", "soft"]


@dataclass(frozen=True)
class Finding:
    rule: str
    feature: str
    message: str
    severity: Severity = "hard"  # hard refuses a write; soft is reported and kept with the version


# --------------------------------------------------------------------------- rules shared with geo.validate

def layer_of(kind: str) -> str:
    return "platforms" if kind == PLATFORM.name else "parks" if kind in PARK_KIND_NAMES else "districts"


def required_findings(layer: str, fid: str, props: Mapping[str, Any]) -> Iterator[Finding]:
    for key in REQUIRED_PROPERTIES[layer]:
        value = props.get(key)
        if value is None or value == "":
            yield Finding("property", fid, f"missing {key}")
        elif key in LIST_PROPERTIES and not isinstance(value, list):
            yield Finding("property", fid, f"{key} must be a list")


def platform_findings(fid: str, props: Mapping[str, Any]) -> Iterator[Finding]:
    """A platform's type and status are from the schema's lists; a known status quotes the plan's words."""
    ptype = props.get("platform_type")
    if ptype not in PLATFORM_TYPES:
        yield Finding("kind", fid, f"platform_type {ptype!r} is not one of {', '.join(PLATFORM_TYPES)}")
    status = props.get("status")
    if status not in PLATFORM_STATUSES:
        yield Finding("status", fid, f"status {status!r} is not one of {', '.join(PLATFORM_STATUSES)}")
    elif (status == "unknown") != (not props.get("status_zh")) or (props.get("status_zh") and not cited_ranges(
            props.get("status_source") or "")):
        yield Finding("status", fid, "a known status quotes the plan's words (status_zh) and cites "
                                     "their lines (status_source); 'unknown' has neither")


def geometry_findings(fid: str, kind: str, geom: shapely.Geometry | None, props: Mapping[str, Any],
                      extent: shapely.Geometry) -> Iterator[Finding]:
    """Present (a platform the plan names no place for has none), valid, of its kind's types, inside Ningbo
    (`extent`: the city outline grown by EXTENT_MARGIN_DEG), and saying how it was drawn."""
    if geom is None or geom.is_empty:
        if not (kind == PLATFORM.name and props.get("location_quality") == "unknown"):
            yield Finding("geometry", fid, "geometry is missing or empty")
        return
    if not geom.is_valid:
        yield Finding("geometry", fid, f"invalid geometry: {shapely.is_valid_reason(geom)}")
    spec = KINDS.get(kind)
    if spec and geom.geom_type not in spec.geometry_types:
        yield Finding("geometry", fid, f"{geom.geom_type} where {kind} needs {'/'.join(spec.geometry_types)}")
    if kind != "city" and geom.is_valid and not extent.covers(geom):
        yield Finding("extent", fid, "lies (partly) outside Ningbo")
    if kind in PARK_KIND_NAMES:
        quality = props.get("geometry_quality")
        if quality not in GEOMETRY_QUALITIES:
            yield Finding("schematic", fid, f"geometry_quality {quality!r} is not one of "
                                            f"{', '.join(GEOMETRY_QUALITIES)}")
        elif quality == SURVEYED and not props.get("geometry_source"):
            yield Finding("schematic", fid, "a surveyed boundary names where it came from in geometry_source")
    if kind == PLATFORM.name and (props.get("location_quality") != "approximate" or not props.get("location_method")):
        yield Finding("schematic", fid, "a placed platform needs location_quality 'approximate' "
                                        "and a location_method")


def share_inside(geom: shapely.Geometry, host: shapely.Geometry) -> float:
    """The share of geom's geodesic area that lies inside host (prepared here, since it is asked again)."""
    area = geodesic_area_km2(geom)
    if not area:
        return 0.0
    shapely.prepare(host)
    if host.covers(geom):
        return 1.0
    return geodesic_area_km2(shapely.intersection(geom, host)) / area


class Districts:
    """The districts by adcode, and the union of any set of them (a feature's host), each made once."""

    def __init__(self, districts: pd.DataFrame) -> None:
        rows = districts[districts["kind"] == "district"]
        self.names = dict(zip(rows["adcode"], rows["name_zh"]))
        self._geoms = dict(zip(rows["adcode"], rows.geometry))
        self._hosts: dict[tuple[str, ...], shapely.Geometry] = {}
        self._near: dict[tuple[str, ...], shapely.Geometry] = {}

    def host(self, adcodes: Iterable[str]) -> shapely.Geometry:
        key = tuple(adcodes)
        if key not in self._hosts:
            self._hosts[key] = shapely.union_all([self._geoms[c] for c in key if c in self._geoms])
        return self._hosts[key]

    def near(self, adcodes: Iterable[str]) -> shapely.Geometry:
        """The host grown by EXTENT_MARGIN_DEG, where a platform's point may lie (the coast is simplified)."""
        key = tuple(adcodes)
        if key not in self._near:
            self._near[key] = self.host(key).buffer(EXTENT_MARGIN_DEG)
            shapely.prepare(self._near[key])
        return self._near[key]


def district_findings(fid: str, kind: str, geom: shapely.Geometry | None, codes: Any, dnames: Any,
                      districts: Districts) -> Iterator[Finding]:
    """Known adcodes with their names; a point inside its district; an area >= 95 % in its host (soft)."""
    if not isinstance(codes, list) or not isinstance(dnames, list):
        return  # required_findings names it
    unknown = [c for c in codes if c not in districts.names]
    if unknown:
        yield Finding("district", fid, f"unknown district adcode(s) {unknown}")
        return
    if dnames != [districts.names[c] for c in codes]:
        yield Finding("district", fid, "district_names_zh do not match district_adcodes")
    if geom is None or geom.is_empty:
        return
    if kind == PLATFORM.name and codes and not districts.near(codes).covers(geom):
        yield Finding("district", fid, f"point lies outside {'/'.join(dnames)}", "soft")
    if KINDS[kind].in_host_district and (share := share_inside(geom, districts.host(codes))) < MIN_SHARE_IN_DISTRICT:
        yield Finding("district", fid, f"only {share:.1%} inside {'/'.join(dnames)} (needs 95 %)", "soft")


def area_findings(fid: str, kind: str, area_km2: float | None, planned: Any) -> Iterator[Finding]:
    """A sub-park states its planned area, and a planned area is drawn within ±5 % (soft; None: no shape)."""
    if kind == "subpark" and not planned:
        yield Finding("area", fid, "a sub-park needs its planned_area_km2")
    if planned and area_km2 is not None and abs(area_km2 / planned - 1) > AREA_TOLERANCE:
        yield Finding("area", fid, f"computed {area_km2:.2f} km² is not within ±5 % of planned {planned} km²",
                      "soft")


def industry_findings(fid: str, codes: Any, taxonomy: Taxonomy) -> Iterator[Finding]:
    if not isinstance(codes, list):
        yield Finding("industry", fid, "industries must be a list of codes")
        return
    for code in codes:
        if code not in taxonomy:
            yield Finding("industry", fid, f"industry code {code!r} is not in industries.json")


def count_findings(where: str, kind: str, n: int, severity: Severity = "hard") -> Iterator[Finding]:
    """A kind the plan counts (10 sub-parks, 12 corridor units ...) has that many features."""
    expected = KINDS[kind].expected_count
    if expected is not None and n != expected:
        yield Finding("count", where, f"{n} {kind} features; the plan has {expected}", severity)


def overlapping(geom: shapely.Geometry, tree: shapely.STRtree, geoms: np.ndarray) -> Iterator[tuple[int, float]]:
    """(index in geoms, km² shared) of every geometry that overlaps geom by more than MAX_OVERLAP_KM2."""
    for j in tree.query(geom, predicate="intersects"):
        shared = geodesic_area_km2(shapely.intersection(geom, geoms[j]))
        if shared > MAX_OVERLAP_KM2:
            yield int(j), shared


def corridor_findings(fid: str, geom: shapely.Geometry | None, zone: shapely.Geometry) -> Iterator[Finding]:
    if geom is not None and share_inside(geom, zone) < MIN_SHARE_IN_CORRIDOR:
        yield Finding("corridor", fid, "corridor unit is not inside the corridor zone")


# --------------------------------------------------------------------------- the checks of a write

def value_type(value: Any) -> str:
    """A property value's JSON type, lists by their items: what a write must keep of the seed's values."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | np.number):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        kinds = {value_type(v) for v in value}
        return "list" if not kinds else f"list of {kinds.pop()}s" if len(kinds) == 1 else "list of mixed values"
    return type(value).__name__


@dataclass(frozen=True)
class _Collection:
    kind: str
    layer: str
    types: dict[str, str | None]  # every writable property -> its JSON type (None: any)


class Rules:
    """What the checks of a write need from one version of the layers, built once (`Rules.of`)."""

    _made: ClassVar[dict[int, tuple[weakref.ref[Layers], Rules]]] = {}

    @classmethod
    def of(cls, layers: Layers) -> Rules:
        """The Rules of these layers, made on first use and kept while the layers live."""
        made = cls._made.get(id(layers))
        if made is None or made[0]() is not layers:
            made = (weakref.ref(layers), cls(layers))
            cls._made[id(layers)] = made
            weakref.finalize(layers, cls._made.pop, id(layers), None)
        return made[1]

    def __init__(self, layers: Layers) -> None:
        # Checks run one at a time (~1 ms each): the prepared extent and districts they test against build
        # their indexes lazily and keep state while they test, and GEOS's prepared geometries are not
        # thread-safe (libgeos/geos#825), while the service checks writes on several threads.
        self._lock = threading.Lock()
        self.taxonomy = layers.taxonomy
        self.extent = layers.city.buffer(EXTENT_MARGIN_DEG)
        shapely.prepare(self.extent)
        self.districts = Districts(layers.districts)
        sub = layers.kind("subpark")
        sub = sub[sub.geometry.notna()]
        self.subpark_ids = list(sub["id"])
        self.subparks = np.asarray(sub.geometry.values, dtype=object)
        self.subpark_tree = shapely.STRtree(self.subparks)
        corridor = layers.kind("corridor")
        zones = corridor[corridor["role"] == "zone"] if "role" in corridor.columns else corridor.iloc[0:0]
        self.zone_id = zones["id"].iloc[0] if len(zones) == 1 else None
        self.zone = zones.geometry.iloc[0] if len(zones) == 1 else None
        units = layers.kind("corridor-unit")
        self.units = list(zip(units["id"], units.geometry))
        self.owner = {fid: KINDS[kind].collection for frame in (layers.parks, layers.platforms, layers.districts)
                      for fid, kind in zip(frame["id"], frame["kind"])}
        self.collections = {c: self._collection(layers, c) for c in EDITABLE_COLLECTIONS}
        self.counts = {c.kind: len(layers.kind(c.kind)) for c in self.collections.values()}

    @staticmethod
    def _collection(layers: Layers, collection_id: str) -> _Collection:
        kind = editable_kind(collection_id).name
        layer = layer_of(kind)
        frame = layers.kind(kind).drop(columns=["geometry", *COMPUTED_PROPERTIES])
        # the properties of the kind now, and as the plan's seed has them (so a deleted feature can be restored)
        values: dict[str, list[Any]] = {column: list(frame[column]) for column in frame.columns}
        for name, seeded in _seed_values(layers.data_dir, layer, kind).items():
            values.setdefault(name, []).extend(seeded)
        types: dict[str, str | None] = {}
        for column, column_values in values.items():
            seen = {value_type(v) for v in column_values if v is not None}
            if seen:  # carried by a feature of this kind: as its values are (an empty list says only "list")
                typed = seen - {"list"}
                types[column] = typed.pop() if len(typed) == 1 else "list" if not typed else None
        for name in REQUIRED_PROPERTIES[layer]:  # codes and names are strings, even where every list is empty
            if types.get(name) in (None, "list"):
                types[name] = "list of strings" if name in LIST_PROPERTIES else "string"
        types.update(OPTIONAL_PROPERTIES.get(kind, {}))
        return _Collection(kind, layer, types)

    def collection(self, collection_id: str) -> _Collection:
        try:
            return self.collections[collection_id]
        except KeyError:
            raise KeyError(f"collection {collection_id!r} is not editable; editable: "
                           f"{', '.join(EDITABLE_COLLECTIONS)}") from None

    def clean(self, collection_id: str, properties: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The properties as written: without the computed ones and without nulls (a null is an absent
        property); and the names among them that this collection does not know."""
        types = self.collection(collection_id).types
        cleaned = {k: v for k, v in properties.items() if v is not None and k not in COMPUTED_PROPERTIES}
        return cleaned, [k for k in cleaned if k not in types]

    def check(self, collection_id: str, feature_id: str, properties: Mapping[str, Any],
              geometry: shapely.Geometry | None) -> list[Finding]:
        """Every finding on the feature as the write would leave it, beside the other features as they are."""
        with self._lock:
            return self._check(collection_id, feature_id, properties, geometry)

    def _check(self, collection_id: str, feature_id: str, properties: Mapping[str, Any],
               geometry: shapely.Geometry | None) -> list[Finding]:
        spec = self.collection(collection_id)
        kind, fid = spec.kind, feature_id
        found = list(self._identity(collection_id, spec, fid, properties))
        found += required_findings(spec.layer, fid, properties)
        unknown = sorted(k for k in properties if k not in spec.types)
        if unknown:
            found.append(Finding("property", fid, f"unknown properties {', '.join(unknown)} for {kind}; known: "
                                                  f"{', '.join(sorted(spec.types))}"))
        mistyped = self._mistyped(spec, properties)
        found += [Finding("property", fid, f"{key} must be a {want}, not a {got}")
                  for key, (want, got) in mistyped.items()
                  if not (key in LIST_PROPERTIES and not got.startswith("list"))]  # required_findings says so
        # The rules below read values: one of the wrong type is left out, as if absent (and named above).
        props = {k: v for k, v in properties.items() if k not in mistyped}
        if kind == PLATFORM.name:
            found += platform_findings(fid, props)
        found += geometry_findings(fid, kind, geometry, props, self.extent)
        if props.get("industries") is not None:  # else required_findings names it
            found += industry_findings(fid, props["industries"], self.taxonomy)
        shaped = not any(f.rule == "geometry" for f in found)  # present, valid and of its kind's type
        geom = geometry if shaped else None
        found += district_findings(fid, kind, geom, props.get("district_adcodes"), props.get("district_names_zh"),
                                   self.districts)
        if spec.layer == "parks":
            area = geodesic_area_km2(geom) if geom is not None else None
            found += area_findings(fid, kind, area, props.get("planned_area_km2"))
        if geom is not None:
            found += self._neighbours(fid, kind, geom, props)
        if fid not in self.owner:  # a new feature
            found += count_findings(fid, kind, self.counts[kind] + 1, "soft")
        return found

    def check_delete(self, collection_id: str, feature_id: str) -> list[Finding]:
        """What deleting a feature of this collection would break: the corridor zone while units lie in it
        (hard), a count the plan gives (soft)."""
        spec = self.collection(collection_id)
        if self.owner.get(feature_id) != collection_id:
            return []  # nothing to delete: the store answers 404
        found = []
        if feature_id == self.zone_id and self.units:
            found.append(Finding("corridor", feature_id, f"the corridor zone holds {len(self.units)} corridor units "
                                                         "(delete them first)"))
        found += count_findings(feature_id, spec.kind, self.counts[spec.kind] - 1, "soft")
        return found

    def _identity(self, collection_id: str, spec: _Collection, fid: str, props: Mapping[str, Any]
                  ) -> Iterator[Finding]:
        if not isinstance(fid, str) or not SLUG.match(fid):
            yield Finding("id", str(fid), "id must be a lowercase slug")
        if props.get("id") not in (None, fid):
            yield Finding("id", str(fid), f"the id property {props['id']!r} is not the feature's id {fid!r}")
        if (owner := self.owner.get(fid, collection_id)) != collection_id:
            yield Finding("id", str(fid), f"id is already used in collection {owner}")
        if props.get("kind") not in (None, spec.kind):
            yield Finding("kind", fid, f"kind {props['kind']!r} does not belong in {collection_id} "
                                       f"(its features are {spec.kind})")

    @staticmethod
    def _mistyped(spec: _Collection, props: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
        """Property -> (type wanted, type sent) for every value whose JSON type is not the seed's."""
        wrong = {}
        for key, value in props.items():
            want = spec.types.get(key)
            if value is None or want is None:
                continue
            got = value_type(value)
            if got != want and not (got == "list" and want.startswith("list")) and not (
                    want == "list" and got.startswith("list")):
                wrong[key] = (want, got)
        return wrong

    def _neighbours(self, fid: str, kind: str, geom: shapely.Geometry, props: Mapping[str, Any]
                    ) -> Iterator[Finding]:
        """No sub-park overlaps another; a corridor unit lies inside the zone, and the zone holds every unit."""
        if kind == "subpark":
            for j, shared in overlapping(geom, self.subpark_tree, self.subparks):
                if self.subpark_ids[j] != fid:
                    yield Finding("overlap", fid, f"overlaps {self.subpark_ids[j]} by {shared:.3f} km²")
        elif kind == "corridor-unit" and self.zone is not None:
            yield from corridor_findings(fid, geom, self.zone)
        elif kind == "corridor":
            is_zone = props.get("role") == "zone"
            if is_zone and self.zone_id not in (None, fid):
                yield Finding("corridor", fid, f"{self.zone_id} is the corridor zone already")
            elif not is_zone and fid == self.zone_id:
                yield Finding("corridor", fid, "the corridor zone must keep role 'zone'")
            elif is_zone:
                outside = [uid for uid, unit in self.units
                           if unit is not None and share_inside(unit, geom) < MIN_SHARE_IN_CORRIDOR]
                if outside:
                    yield Finding("corridor", fid, f"corridor units outside the zone: {', '.join(outside)}")


@functools.cache
def _seed_values(data_dir: Path, layer: str, kind: str) -> dict[str, list[Any]]:
    """Every value each property has in the seed's features of a kind."""
    values: dict[str, list[Any]] = {}
    for feature in read_seed(data_dir)[layer]:
        if feature.properties.get("kind") == kind:
            for name, value in feature.properties.items():
                values.setdefault(name, []).append(value)
    return values


def check_feature(layers: Layers, collection_id: str, feature_id: str, properties: Mapping[str, Any],
                  geometry: shapely.Geometry | None) -> list[Finding]:
    """The findings on one feature as a write (create or replace) would leave it. KeyError for a collection
    that is not editable."""
    return Rules.of(layers).check(collection_id, feature_id, properties, geometry)


def check_delete(layers: Layers, collection_id: str, feature_id: str) -> list[Finding]:
    """The findings on deleting one feature (KeyError for a collection that is not editable)."""
    return Rules.of(layers).check_delete(collection_id, feature_id)


def writable_properties(layers: Layers, collection_id: str) -> list[str]:
    """The properties a client may send for a feature of this collection."""
    return list(Rules.of(layers).collection(collection_id).types)


def clean_properties(layers: Layers, collection_id: str, properties: Mapping[str, Any]
                     ) -> tuple[dict[str, Any], list[str]]:
    """A client's properties without the computed ones and the nulls, and the unknown names among them."""
    return Rules.of(layers).clean(collection_id, properties)
