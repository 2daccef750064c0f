"""Validation on write (geo.rules): each rule caught on a concretely modified feature of the bundled data."""

from __future__ import annotations

import math
from typing import Any

import pytest
import shapely
from shapely import affinity

from geo.layers import Layers
from geo.rules import (
    COMPUTED_PROPERTIES,
    EDITABLE_COLLECTIONS,
    Finding,
    Rules,
    check_delete,
    check_feature,
    clean_properties,
    writable_properties,
)
from geo.schema import KINDS
from geo.seed import read_seed
from geo.store.base import Feature

SEED = {f.id: f for layer in ("parks", "platforms") for f in read_seed()[layer]}


def seed(fid: str) -> Feature:
    return SEED[fid]


def check(layers: Layers, fid: str, geometry: Any = None, collection: str | None = None, **changes: Any
          ) -> list[Finding]:
    """The findings on a seeded feature with some properties changed (None drops one) and maybe a new shape."""
    f = seed(fid)
    props = {k: v for k, v in {**f.properties, **changes}.items() if v is not None}
    collection = collection or KINDS[f.properties["kind"]].collection
    return check_feature(layers, collection, fid, props, f.geometry if geometry is None else geometry)


def rules_of(found: list[Finding]) -> set[tuple[str, str, str]]:
    return {(f.rule, f.feature, f.severity) for f in found}


def only(found: list[Finding], rule: str) -> Finding:
    matching = [f for f in found if f.rule == rule]
    assert len(matching) == 1, found
    return matching[0]


def test_every_seeded_feature_passes_as_it_is(layers: Layers) -> None:
    checked = 0
    for fid, f in SEED.items():
        found = check_feature(layers, KINDS[f.properties["kind"]].collection, fid, f.properties, f.geometry)
        assert found == [], (fid, found)
        checked += 1
    assert checked == len(layers.parks) + len(layers.platforms) == 90


def test_a_subpark_moved_onto_another_overlaps_it(layers: Layers) -> None:
    found = check(layers, "subpark-daxie", seed("subpark-beilun").geometry)
    overlap = only(found, "overlap")
    assert (overlap.feature, overlap.severity) == ("subpark-daxie", "hard")
    assert "subpark-beilun" in overlap.message  # both ids: the feature written and the one it lies on
    assert float(overlap.message.split(" by ")[1].split()[0]) == pytest.approx(
        seed("subpark-beilun").properties["planned_area_km2"], rel=0.05)


def test_a_subpark_replaced_by_itself_does_not_overlap_itself(layers: Layers) -> None:
    moved = affinity.translate(seed("subpark-cixi").geometry, 0.001, 0.0)  # 100 m east, mostly on its old self
    assert not [f for f in check(layers, "subpark-cixi", moved) if f.rule == "overlap"]


def test_a_linestring_is_no_subpark(layers: Layers) -> None:
    line = shapely.LineString([(121.30, 30.10), (121.32, 30.12)])
    found = check(layers, "subpark-cixi", line)
    assert rules_of(found) == {("geometry", "subpark-cixi", "hard")}  # the spatial rules wait for a valid shape
    assert "LineString where subpark needs MultiPolygon" in found[0].message


def test_an_invalid_geometry_names_the_reason(layers: Layers) -> None:
    bowtie = shapely.MultiPolygon([shapely.Polygon([(121.30, 30.10), (121.32, 30.12), (121.32, 30.10),
                                                    (121.30, 30.12)])])
    msg = only(check(layers, "subpark-cixi", bowtie), "geometry").message
    assert msg.startswith("invalid geometry: Self-intersection")


def test_an_unknown_industry_code(layers: Layers) -> None:
    codes = [*seed("subpark-ninghai").properties["industries"], "quantum-widgets"]
    found = check(layers, "subpark-ninghai", industries=codes)
    assert rules_of(found) == {("industry", "subpark-ninghai", "hard")}
    assert "'quantum-widgets'" in found[0].message


def test_surveyed_needs_its_source(layers: Layers) -> None:
    found = check(layers, "subpark-cixi", geometry_quality="surveyed")
    assert rules_of(found) == {("schematic", "subpark-cixi", "hard")}
    assert "geometry_source" in found[0].message
    assert check(layers, "subpark-cixi", geometry_quality="surveyed",
                 geometry_source="慈溪市自然资源和规划局 2024 survey") == []
    assert rules_of(check(layers, "subpark-cixi", geometry_quality="guessed")) == {
        ("schematic", "subpark-cixi", "hard")}


def test_a_point_outside_ningbo(layers: Layers) -> None:
    shaoxing = shapely.Point(120.58, 30.00)
    found = check(layers, "platform-yongjiang-lab", shaoxing)
    assert ("extent", "platform-yongjiang-lab", "hard") in rules_of(found)
    assert ("district", "platform-yongjiang-lab", "soft") in rules_of(found)  # and outside its district


def test_a_subpark_out_at_sea(layers: Layers) -> None:
    found = check(layers, "subpark-daxie", affinity.translate(seed("subpark-daxie").geometry, 0.3, 0.0))
    assert ("extent", "subpark-daxie", "hard") in rules_of(found)


def test_a_corridor_unit_outside_the_zone(layers: Layers) -> None:
    found = check(layers, "unit-meihu-town", affinity.translate(seed("unit-meihu-town").geometry, -0.3, 0.0))
    assert ("corridor", "unit-meihu-town", "hard") in rules_of(found)


def test_a_shrunk_corridor_zone_names_the_units_it_drops(layers: Layers) -> None:
    zone = next(f for f in SEED.values() if f.properties.get("role") == "zone")
    found = check(layers, zone.id, affinity.scale(zone.geometry, 0.5, 0.5, origin="centroid"))
    corridor = only(found, "corridor")
    assert corridor.feature == zone.id and corridor.severity == "hard"
    outside = corridor.message.split(": ")[1].split(", ")
    assert "unit-meihu-town" in outside and all(u.startswith("unit-") for u in outside)
    assert rules_of(check(layers, zone.id, role="north-area")) == {("corridor", zone.id, "hard")}


def test_required_unknown_and_mistyped_properties(layers: Layers) -> None:
    found = check(layers, "subpark-cixi", name_zh=None, colour="red", planned_area_km2="10", industries="ai")
    messages = {f.message.split(" for ")[0] for f in found if f.rule == "property"}
    assert messages == {"missing name_zh", "unknown properties colour", "industries must be a list",
                        "planned_area_km2 must be a number, not a string"}
    assert {f.severity for f in found} == {"hard"}
    # a mistyped value is read as absent by the other rules: no crash, no second guess at the number
    assert only(found, "area").message == "a sub-park needs its planned_area_km2"


def test_ids_and_kinds(layers: Layers) -> None:
    cixi = seed("subpark-cixi")
    found = check_feature(layers, "subparks", "Subpark_Cixi", {**cixi.properties, "id": "Subpark_Cixi"},
                          cixi.geometry)
    assert rules_of(found) >= {("id", "Subpark_Cixi", "hard")}
    found = check_feature(layers, "subparks", "subpark-cixi-2", cixi.properties, cixi.geometry)
    assert "'subpark-cixi' is not the feature's id" in only(found, "id").message
    lab = seed("platform-yongjiang-lab")
    found = check_feature(layers, "platforms", "unit-meihu-town", {**lab.properties, "id": "unit-meihu-town"},
                          lab.geometry)
    assert only(found, "id").message == "id is already used in collection corridor-units"
    assert "does not belong in subparks" in only(check(layers, "subpark-cixi", kind="corridor-unit"), "kind").message


def test_a_larger_subpark_is_reported_not_refused(layers: Layers) -> None:
    grown = affinity.scale(seed("subpark-jiangbei").geometry, math.sqrt(1.2), math.sqrt(1.2), origin="centroid")
    found = check(layers, "subpark-jiangbei", grown)
    assert rules_of(found) == {("area", "subpark-jiangbei", "soft"), ("district", "subpark-jiangbei", "soft")}
    assert only(found, "area").message == "computed 39.60 km² is not within ±5 % of planned 33 km²"
    assert "inside 江北区 (needs 95 %)" in only(found, "district").message


def test_a_platform_without_a_place_needs_none(layers: Layers) -> None:
    fid = next(f.id for f in SEED.values() if f.properties["kind"] == "platform" and f.geometry is None)
    assert check_feature(layers, "platforms", fid, seed(fid).properties, None) == []
    found = check(layers, fid, shapely.Point(121.55, 29.87))  # placed, yet its location_quality says unknown
    assert rules_of(found) == {("schematic", fid, "hard")}


def test_a_feature_beyond_the_plans_count_is_reported(layers: Layers) -> None:
    park = next(f for f in SEED.values() if f.properties["kind"] == "provincial-park")
    found = check_feature(layers, "provincial-parks", "provincial-park-new", {**park.properties,
                          "id": "provincial-park-new"}, affinity.translate(park.geometry, 0.0, 0.01))
    assert rules_of(found) == {("count", "provincial-park-new", "soft")}
    assert found[0].message == "3 provincial-park features; the plan has 2"


def test_what_a_delete_breaks(layers: Layers) -> None:
    zone = next(f for f in SEED.values() if f.properties.get("role") == "zone")
    found = check_delete(layers, "corridor", zone.id)
    assert rules_of(found) == {("corridor", zone.id, "hard"), ("count", zone.id, "soft")}
    assert "holds 12 corridor units" in only(found, "corridor").message
    assert rules_of(check_delete(layers, "subparks", "subpark-cixi")) == {("count", "subpark-cixi", "soft")}
    assert check_delete(layers, "subparks", "unit-meihu-town") == []  # not a sub-park: the store's 404
    with pytest.raises(KeyError, match="not editable"):
        check_delete(layers, "districts", "district-beilun")


def test_what_a_client_sends_back_is_cleaned(layers: Layers) -> None:
    """QGIS sends every property the service served: the computed area and nulls for what the feature lacks."""
    served = {**{k: None for k in layers.parks.columns if k != "geometry"},
              **seed("subpark-cixi").properties, "area_km2": 10.02, "colour": "red"}
    cleaned, unknown = clean_properties(layers, "subparks", served)
    assert cleaned == {**seed("subpark-cixi").properties, "colour": "red"}
    assert unknown == ["colour"]
    assert rules_of(check_feature(layers, "subparks", "subpark-cixi", cleaned, seed("subpark-cixi").geometry)) == {
        ("property", "subpark-cixi", "hard")}


def test_writable_properties(layers: Layers) -> None:
    subparks = writable_properties(layers, "subparks")
    assert {"planned_area_km2", "blocks", "geometry_source", "geometry_quality", "industries"} <= set(subparks)
    assert not set(COMPUTED_PROPERTIES) & set(subparks)
    assert "role" not in subparks and "status" not in subparks
    platforms = writable_properties(layers, "platforms")
    assert {"status", "location_quality", "platform_type"} <= set(platforms) and "geometry_source" not in platforms
    assert "districts" not in EDITABLE_COLLECTIONS
    with pytest.raises(KeyError, match="not editable"):
        writable_properties(layers, "districts")


def test_the_rules_are_built_once_per_layers(layers: Layers) -> None:
    assert Rules.of(layers) is Rules.of(layers)
