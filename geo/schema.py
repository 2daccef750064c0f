"""What each kind of feature is: its collection, its geometry types, and the rules it obeys."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str
    collection: str  # the service's collection id: a plain slug
    title: str
    geometry_types: tuple[str, ...]
    expected_count: int | None = None  # as the plan lists them
    in_host_district: bool = False  # must lie >= 95 % inside its declared districts


PARK_KINDS = (
    Kind("subpark", "subparks", "High-tech zone sub-parks (专栏 9)", ("MultiPolygon",), 10, True),
    Kind("corridor", "corridor", "Yongjiang corridor zone and areas (四（二）)", ("Polygon", "MultiPolygon"), 3),
    Kind("corridor-axis", "corridor-axis", "Yongjiang–Yaojiang axis (四（二）)", ("LineString",), 1),
    Kind("corridor-unit", "corridor-units", "Corridor featured parks (专栏 10)", ("Polygon", "MultiPolygon"), 12),
    Kind("innovation-node", "innovation-nodes", "County innovation nodes (专栏 11)", ("Polygon", "MultiPolygon"),
         10, True),
    Kind("provincial-park", "provincial-parks", "Provincial high-tech parks (四（三）)",
         ("Polygon", "MultiPolygon"), 2),
    Kind("innovation-street", "innovation-streets", "Innovation streets (四（三）)", ("Polygon", "MultiPolygon"), 2),
    Kind("qianwan-zone", "qianwan-zones", "Qianwan New Area layout (专栏 14)", ("Polygon", "MultiPolygon"), 4),
)
PLATFORM = Kind("platform", "platforms", "Laboratories, facilities, institutes and universities", ("Point",))
DISTRICT = Kind("district", "districts", "Districts and counties of Ningbo", ("Polygon", "MultiPolygon"), 10)
CITY = Kind("city", "districts", "Ningbo city outline", ("Polygon", "MultiPolygon"), 1)

KINDS = {k.name: k for k in (*PARK_KINDS, PLATFORM, DISTRICT, CITY)}
# Every collection but the districts (reference data: the administrative boundaries are not ours to edit); each
# holds features of one kind.
EDITABLE_COLLECTIONS = tuple(dict.fromkeys(k.collection for k in (*PARK_KINDS, PLATFORM)))


def editable_kind(collection_id: str) -> Kind:
    """The kind of feature an editable collection holds; KeyError for a collection that is not editable."""
    if collection_id not in EDITABLE_COLLECTIONS:
        raise KeyError(f"collection {collection_id!r} is not editable; editable: {', '.join(EDITABLE_COLLECTIONS)}")
    return next(k for k in KINDS.values() if k.collection == collection_id)
PLATFORM_TYPES = ("laboratory", "science-facility", "research-institute", "innovation-centre", "university")
# A platform's state as the plan describes it (谋划/布局 planned, 加快建设 under construction, 存量/获批 operating)
PLATFORM_STATUSES = ("planned", "under-construction", "operating", "unknown")

# Properties whose text is quoted from the plan and checked against the lines it cites.
NOT_QUOTED = {"district_names_zh", "label_zh"}  # label_zh: a block name composed by us, never quoted
# Quoted names and terms: they stand inside the plan's sentences, so they are checked as one
# contiguous run; every other quoted field (descriptions, bounds, indicators) is a whole clause.
TERM_FIELDS = {"name_zh", "counted_zh", "unit_zh", "unit_type_zh", "positioning_zh", "focus_zh",
               "value_zh", "qualifier_zh", "planned_area_zh", "planned_area_qualifier_zh", "zh", "scale_zh", "count_zh"}

_COMMON = ("id", "kind", "name_zh", "name_en", "source")
REQUIRED_PROPERTIES = {
    "parks": (*_COMMON, "district_adcodes", "district_names_zh", "geometry_quality", "geometry_method", "industries"),
    "platforms": (*_COMMON, "district_adcodes", "district_names_zh", "platform_type", "location_quality",
                  "location_method", "industries"),
    "districts": (*_COMMON, "adcode"),
}
