"""The bundled layers against the plan: counts, names, areas, placement, sources."""

from __future__ import annotations

import json

import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Geod, Transformer

from geo.layers import Layers
from geo.seed import DATA_DIR
from geo.validate import validate

PLAN_SUBPARKS = {  # 专栏 9: name → (host adcode, planned km²)
    "鄞州分园": ("330212", 128.7), "江北分园": ("330205", 33), "慈溪分园": ("330282", 10),
    "奉化分园": ("330213", 9.0), "象山分园": ("330225", 46.6), "宁海分园": ("330226", 15.2),
    "余姚分园": ("330281", 23.1), "海曙分园": ("330203", 13), "北仑分园": ("330206", 130),
    "大榭分园": ("330206", 12.3),
}


def test_bundled_data_passes_every_rule() -> None:
    report = validate(DATA_DIR)
    assert report.ok, report.text()
    assert len([r for r in report.rows if r.kind == "subpark"]) == 10


def test_subparks_are_the_plans_ten(layers: Layers) -> None:
    sub = layers.kind("subpark")
    got = {n: (codes[0], area) for n, codes, area in zip(sub["name_zh"], sub["district_adcodes"],
                                                        sub["planned_area_km2"])}
    assert got == PLAN_SUBPARKS
    assert sum(sub["planned_area_km2"]) == pytest.approx(420.9)  # PLAN-INDEX: the areas add up to 420.9 km²
    assert (sub.geometry.geom_type == "MultiPolygon").all()


def test_subpark_areas_are_computed_and_near_planned(layers: Layers) -> None:
    sub = layers.kind("subpark")
    ratio = sub["area_km2"].astype(float) / sub["planned_area_km2"].astype(float)
    assert ratio.between(0.95, 1.05).all(), ratio.to_dict()
    raw = json.loads((DATA_DIR / "parks.geojson").read_text(encoding="utf-8"))
    assert all("area_km2" not in f["properties"] for f in raw["features"]), "areas must never be typed in"


def test_areas_agree_with_an_independent_projected_measure(layers: Layers) -> None:
    """Geodesic areas vs planar areas in CGCS2000 / 3-degree Gauss-Kruger CM 120E (EPSG:4549)."""
    to_gk = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)
    for geom, area in zip(layers.kind("subpark").geometry, layers.kind("subpark")["area_km2"]):
        planar = shapely.transform(geom, lambda xy: np.column_stack(to_gk.transform(xy[:, 0], xy[:, 1])))
        assert planar.area / 1e6 == pytest.approx(area, rel=0.005)


def test_kinds_counts(layers: Layers) -> None:
    counts = layers.parks["kind"].value_counts().to_dict()
    assert counts == {"subpark": 10, "corridor": 3, "corridor-axis": 1, "corridor-unit": 12,
                      "innovation-node": 10, "provincial-park": 2, "innovation-street": 2, "qianwan-zone": 4}
    assert set(layers.districts["adcode"]) == {"330200", "330203", "330205", "330206", "330211", "330212",
                                                "330213", "330225", "330226", "330281", "330282"}


def test_no_two_subparks_overlap(layers: Layers) -> None:
    geoms = list(layers.kind("subpark").geometry)
    for i, a in enumerate(geoms):
        for b in geoms[i + 1:]:
            assert shapely.intersection(a, b).area < 1e-8


def test_every_unit_inside_corridor_zone(layers: Layers) -> None:
    corridor = layers.kind("corridor")
    zone = corridor[corridor["role"] == "zone"].geometry.iloc[0]
    units = layers.kind("corridor-unit")
    assert len(units) == 12
    for geom in units.geometry:
        assert zone.buffer(1e-7).covers(geom)


def test_subparks_and_nodes_inside_their_districts(layers: Layers) -> None:
    geod = Geod(ellps="WGS84")
    d = layers.districts.set_index("adcode").geometry
    for kind in ("subpark", "innovation-node"):
        for geom, codes in zip(layers.kind(kind).geometry, layers.kind(kind)["district_adcodes"]):
            host = shapely.union_all([d[c] for c in codes])
            inside = abs(geod.geometry_area_perimeter(shapely.intersection(geom, host))[0])
            assert inside / abs(geod.geometry_area_perimeter(geom)[0]) >= 0.95


def test_daxie_stays_on_its_island(layers: Layers) -> None:
    daxie = layers.kind("subpark").loc["subpark-daxie"].geometry
    minx, miny, maxx, maxy = daxie.bounds
    assert minx >= 121.92 and maxx <= 122.0 and miny >= 29.91 and maxy <= 29.962


def test_qianwan_node_matches_its_100_km2(layers: Layers) -> None:
    node = layers.kind("innovation-node").loc["node-qianwan-corridor"]
    assert node["area_km2"] == pytest.approx(100, rel=0.05)


def test_every_area_feature_says_it_is_schematic(layers: Layers) -> None:
    assert (layers.parks["geometry_quality"] == "schematic").all()
    assert layers.parks["geometry_method"].map(lambda m: isinstance(m, str) and len(m) > 20).all()


def test_node_targets_are_structured(layers: Layers) -> None:
    node = layers.kind("innovation-node").loc["node-chengnan-corridor"]
    targets = {t["counted_zh"]: (t["value"], t["unit_zh"], t["comparator"]) for t in node["targets"]}
    assert targets["集聚省级及以上领军人才团队"] == (120, "个", ">=")
    assert targets["众创面积"] == (50, "万平方米", ">")


def test_corridor_carries_its_2025_targets(layers: Layers) -> None:
    corridor = layers.kind("corridor")
    zone = corridor[corridor["role"] == "zone"].iloc[0]
    values = {t["id"]: t["value"] for t in zone["targets"]}
    assert values["corridor-rd-share"] == 4.2
    assert values["corridor-key-labs"] == 40


def test_platforms_never_invent_a_location(layers: Layers) -> None:
    p = layers.platforms
    unknown = p[p.geometry.isna()]
    assert len(unknown) > 0
    assert (unknown["location_quality"] == "unknown").all()
    placed = p[p.geometry.notna()]
    assert (placed.geometry.geom_type == "Point").all()
    assert (placed["location_quality"] == "approximate").all()
    assert {"laboratory", "science-facility", "research-institute", "innovation-centre",
            "university"} <= set(p["platform_type"])


def test_indicators_table_1_has_18_rows_with_2019_baselines() -> None:
    doc = json.loads((DATA_DIR / "indicators.json").read_text(encoding="utf-8"))
    rows = {r["no"]: r for r in doc["table1"]}
    assert sorted(rows) == list(range(1, 19))
    assert {n for n, r in rows.items() if r["baseline"]["year"] == 2019} == {2, 4, 8, 9}
    assert rows[5]["target_2025"] == {"value": 60, "value_zh": "＞60", "qualifier_zh": "＞", "comparator": ">",
                                      "text": None}
    assert rows[15]["target_2025"]["value"] is None


def test_geojson_reads_with_gdal(layers: Layers) -> None:
    """An independent reader (GDAL through pyogrio) sees the same features and the Chinese names."""
    for name, frame in (("parks", layers.parks), ("platforms", layers.platforms), ("districts", layers.districts)):
        gdal = pyogrio.read_dataframe(DATA_DIR / f"{name}.geojson")
        assert len(gdal) == len(frame)
        assert gdal.crs.to_epsg() == 4326
        assert set(gdal["name_zh"]) == set(frame["name_zh"])
