from __future__ import annotations

import dataclasses
import itertools
import json
import math
from typing import Any

import pytest
import shapely
import shapely.geometry
import shapely.ops
from pyproj import Geod, Transformer

from geo.layers import Layers
from geo.queries import (
    AREAL_KINDS,
    NEAREST_KINDS,
    hosting_industry,
    indicators,
    industry_catalogue,
    industry_detail,
    nearest,
    stats,
)
from geo.seed import DATA_DIR


def test_biomedicine_is_found_in_ninghai_and_qianwan(layers: Layers) -> None:
    hosts = hosting_industry(layers, "biomedicine")
    ids = set(hosts["id"])
    assert {"subpark-ninghai", "qianwan-east-manufacturing"} <= ids
    assert all("biomedicine" in m or "marine-biomedicine" in m for m in hosts["matched"])


def test_new_materials_includes_narrower_terms(layers: Layers) -> None:
    ids = set(hosting_industry(layers, "new-materials")["id"])
    assert "subpark-jiangbei" in ids  # 膜材料 (membrane materials) is a narrower term
    assert "subpark-haishu" in ids  # 新能源材料
    assert "subpark-ninghai" not in ids


def test_unknown_code(layers: Layers) -> None:
    with pytest.raises(KeyError):
        hosting_industry(layers, "no-such-industry")


# The service's queries, checked against the data files read with json alone.

GEOD = Geod(ellps="WGS84")
TO_LOCAL = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)


def read(name: str) -> Any:
    return json.loads((DATA_DIR / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def parks() -> dict[str, dict[str, Any]]:
    return {f["properties"]["id"]: f for f in read("parks.geojson")["features"]}


@pytest.fixture(scope="module")
def platforms() -> dict[str, dict[str, Any]]:
    return {f["properties"]["id"]: f for f in read("platforms.geojson")["features"]}


@pytest.fixture(scope="module")
def catalogue(layers: Layers) -> list[dict[str, Any]]:
    return industry_catalogue(layers)


@pytest.fixture(scope="module")
def statistics(layers: Layers) -> dict[str, Any]:
    return stats(layers)


def below(code: str) -> set[str]:
    """`code` and every code whose chain of broader terms reaches it, from industries.json."""
    broader = {i["code"]: i["broader"] for i in read("industries.json")["industries"]}

    def reaches(c: str | None) -> bool:
        while c is not None:
            if c == code:
                return True
            c = broader[c]
        return False
    return {c for c in broader if reaches(c)}


def hosts_in_files(code: str, *collections: dict[str, dict[str, Any]]) -> set[str]:
    wanted = below(code)
    return {fid for features in collections for fid, f in features.items()
            if wanted & set(f["properties"]["industries"])}


def area_km2(geometry: dict[str, Any]) -> float:
    return abs(GEOD.geometry_area_perimeter(shapely.geometry.shape(geometry))[0]) / 1e6


def assert_plain_json(value: Any) -> None:
    """Only the types json.dumps writes as they are: no numpy scalars, no NaN."""
    if isinstance(value, dict):
        assert all(isinstance(k, str) for k in value)
        for v in value.values():
            assert_plain_json(v)
    elif isinstance(value, list):
        for v in value:
            assert_plain_json(v)
    else:
        assert value is None or type(value) in (str, int, float, bool), repr(value)
        assert not (isinstance(value, float) and not math.isfinite(value))


def test_every_answer_is_plain_json(layers: Layers, catalogue: list[dict[str, Any]],
                                    statistics: dict[str, Any]) -> None:
    answers = [catalogue, statistics, indicators(layers), nearest(layers, 121.55, 29.87, k=40),
               nearest(layers, 121.55, 29.87, industry="biomedicine", kinds=AREAL_KINDS)]
    answers += [industry_detail(layers, c) for c in ("new-materials", "biomedicine", "smart-appliances")]
    for answer in answers:
        assert_plain_json(answer)
        json.dumps(answer, allow_nan=False)


def test_catalogue_has_every_code_in_file_order(catalogue: list[dict[str, Any]]) -> None:
    industries = read("industries.json")["industries"]
    assert len(catalogue) == len(industries) == 69
    assert [e["code"] for e in catalogue] == [i["code"] for i in industries]
    for entry, ind in zip(catalogue, industries):
        assert (entry["name_zh"], entry["name_en"], entry["broader"], entry["groups"], entry["source"]) == (
            ind["zh"], ind["en"], ind["broader"], ind["groups"], ind["source"])
        assert entry["narrower"] == [i["code"] for i in industries if i["broader"] == ind["code"]]


def test_catalogue_lists_direct_children_only(catalogue: list[dict[str, Any]]) -> None:
    life = next(e for e in catalogue if e["code"] == "life-health")
    assert "biomedicine" in life["narrower"]
    assert "marine-biomedicine" not in life["narrower"]  # a grandchild, under biomedicine


def test_catalogue_counts_hosts_with_narrower_terms(catalogue: list[dict[str, Any]], parks: dict[str, Any],
                                                    platforms: dict[str, Any]) -> None:
    for entry in catalogue:
        assert entry["features"] == len(hosts_in_files(entry["code"], parks, platforms)), entry["code"]
    new_materials = next(e for e in catalogue if e["code"] == "new-materials")
    # 江北 names only membrane materials, 海曙 only new-energy materials: both narrower terms
    assert new_materials["planned_area_km2"] == pytest.approx(128.7 + 33 + 13)


def test_planned_area_is_none_where_the_plan_gives_none(catalogue: list[dict[str, Any]]) -> None:
    by_code = {e["code"]: e for e in catalogue}
    assert by_code["industrial-internet"]["planned_area_km2"] is None  # corridor, units, nodes: no figure
    assert by_code["smart-appliances"]["features"] == 0
    assert by_code["smart-appliances"]["computed_area_km2"] == 0.0


def test_computed_area_counts_overlaps_once(catalogue: list[dict[str, Any]], parks: dict[str, Any]) -> None:
    disjoint_codes = set()
    for entry in catalogue:
        areas = [parks[fid]["geometry"] for fid in hosts_in_files(entry["code"], parks)
                 if parks[fid]["geometry"]["type"] in ("Polygon", "MultiPolygon")]
        total = sum(area_km2(g) for g in areas)
        assert entry["computed_area_km2"] <= total + 1e-3, entry["code"]
        shapes = [shapely.geometry.shape(g) for g in areas]
        if all(a.disjoint(b) for a, b in itertools.combinations(shapes, 2)):
            disjoint_codes.add(entry["code"])
            assert entry["computed_area_km2"] == pytest.approx(total, abs=2e-3), entry["code"]
    # 宁海分园 and a 前湾 zone; 鄞州分园 and a 前湾 zone: two disjoint areas each, counted in full
    assert {"biomedicine", "auto-parts"} <= disjoint_codes
    by_code = {e["code"]: e for e in catalogue}
    # the corridor zone holds both new-materials units and overlaps nodes: counted once, so less than the sum
    new_materials = [parks[f]["geometry"] for f in hosts_in_files("new-materials", parks)]
    assert by_code["new-materials"]["computed_area_km2"] < sum(area_km2(g) for g in new_materials) - 50
    assert by_code["energy-trade"]["computed_area_km2"] == pytest.approx(
        area_km2(parks["subpark-daxie"]["geometry"]), abs=1e-3)


def test_detail_lists_the_hosting_subparks(layers: Layers, parks: dict[str, Any],
                                           platforms: dict[str, Any]) -> None:
    detail = industry_detail(layers, "new-materials")
    subparks = {fid for fid in hosts_in_files("new-materials", parks) if parks[fid]["properties"]["kind"] == "subpark"}
    assert subparks == {"subpark-yinzhou", "subpark-jiangbei", "subpark-haishu"}
    assert {h["id"] for h in detail["hosts"] if h["kind"] == "subpark"} == subparks
    assert {h["id"] for h in detail["hosts"]} == hosts_in_files("new-materials", parks, platforms)
    hosts = {h["id"]: h for h in detail["hosts"]}
    jiangbei = hosts["subpark-jiangbei"]
    assert jiangbei["matched"] == ["membrane-materials"]
    assert set(jiangbei) == {"id", "kind", "collection", "name_zh", "name_en", "matched", "planned_area_km2",
                             "area_km2", "district_adcodes", "geometry_quality", "location_quality"}
    assert (jiangbei["collection"], jiangbei["name_zh"], jiangbei["planned_area_km2"]) == ("subparks", "江北分园", 33)
    assert jiangbei["area_km2"] == pytest.approx(area_km2(parks["subpark-jiangbei"]["geometry"]), abs=1e-3)
    assert (jiangbei["geometry_quality"], jiangbei["location_quality"]) == ("schematic", None)
    lab = hosts["platform-yongjiang-lab"]
    assert (lab["area_km2"], lab["planned_area_km2"], lab["geometry_quality"]) == (None, None, None)
    assert lab["location_quality"] == "approximate"
    assert detail["features"] == len(hosts)


def test_detail_extends_the_catalogue_entry(layers: Layers, catalogue: list[dict[str, Any]]) -> None:
    for entry in catalogue:
        detail = industry_detail(layers, entry["code"])
        assert {k: v for k, v in detail.items() if k not in ("hosts", "per_district")} == entry


def test_detail_counts_per_district(layers: Layers, parks: dict[str, Any], platforms: dict[str, Any]) -> None:
    detail = industry_detail(layers, "biomedicine")
    expected: dict[str, int] = {}
    for fid in hosts_in_files("biomedicine", parks, platforms):
        for adcode in (parks.get(fid) or platforms[fid])["properties"]["district_adcodes"]:
            expected[adcode] = expected.get(adcode, 0) + 1
    assert {a: d["features"] for a, d in detail["per_district"].items()} == expected
    assert detail["per_district"]["330226"]["name_zh"] == "宁海县"


def test_detail_of_unknown_code(layers: Layers) -> None:
    with pytest.raises(KeyError, match="no-such-industry"):
        industry_detail(layers, "no-such-industry")


def reference_distance_km(lon: float, lat: float, geometry: dict[str, Any]) -> float:
    """Site to shape: nearest point in EPSG:4549 (shapely.ops.nearest_points), distance on the ellipsoid."""
    local = shapely.transform(shapely.geometry.shape(geometry), TO_LOCAL.transform, interleaved=False)
    site = shapely.geometry.Point(*TO_LOCAL.transform(lon, lat))
    if local.contains(site):
        return 0.0
    near = shapely.ops.nearest_points(site, local)[1]
    nlon, nlat = TO_LOCAL.transform(near.x, near.y, direction="INVERSE")
    return float(GEOD.inv(lon, lat, nlon, nlat)[2]) / 1e3


def test_nearest_inside_a_subpark(layers: Layers, parks: dict[str, Any]) -> None:
    site = shapely.geometry.shape(parks["subpark-jiangbei"]["geometry"]).representative_point()
    first = nearest(layers, site.x, site.y, kinds=("subpark",))[0]
    assert (first["id"], first["distance_km"], first["inside"]) == ("subpark-jiangbei", 0.0, True)
    found = nearest(layers, site.x, site.y, k=40)
    inside = [r["id"] for r in found if r["inside"]]
    assert "subpark-jiangbei" in inside
    assert [r["id"] for r in found[:len(inside)]] == sorted(inside)  # every area holding the site first, by id
    assert all(r["distance_km"] == 0 for r in found[:len(inside)])


def test_nearest_distances_match_an_independent_measure(layers: Layers, parks: dict[str, Any]) -> None:
    lon, lat = 121.40, 29.70  # open country between 海曙 and 奉化, in no area
    found = nearest(layers, lon, lat, k=40)
    candidates = [f for f in parks if parks[f]["properties"]["kind"] in NEAREST_KINDS]
    assert len(found) == len(candidates) == 32
    assert not any(r["inside"] for r in found)
    reference = {f: reference_distance_km(lon, lat, parks[f]["geometry"]) for f in candidates}
    for r in found:
        assert r["distance_km"] == pytest.approx(reference[r["id"]], rel=0.01), r["id"]
        assert set(r) == {"id", "kind", "collection", "name_zh", "name_en", "distance_km", "inside", "matched",
                          "area_km2"}
        assert r["matched"] is None
    assert found[0]["id"] == min(reference, key=lambda f: reference[f])
    ranked = [(r["distance_km"], r["id"]) for r in found]
    assert ranked == sorted(ranked)


def test_nearest_respects_k_kinds_and_industry(layers: Layers, parks: dict[str, Any]) -> None:
    assert len(nearest(layers, 121.55, 29.87, k=1)) == 1
    assert len(nearest(layers, 121.55, 29.87, k=3)) == 3
    units = nearest(layers, 121.55, 29.87, k=100, kinds=("corridor-unit",))
    assert len(units) == 12 and {r["kind"] for r in units} == {"corridor-unit"}
    found = nearest(layers, 121.55, 29.87, industry="new-materials", k=100)
    expected = {f for f in hosts_in_files("new-materials", parks) if parks[f]["properties"]["kind"] in NEAREST_KINDS}
    assert {r["id"] for r in found} == expected
    assert {r["id"]: r["matched"] for r in found}["subpark-jiangbei"] == ["membrane-materials"]
    assert nearest(layers, 121.55, 29.87, industry="smart-appliances") == []  # no area hosts it


@pytest.mark.parametrize(("args", "error", "named"), [
    ({"k": 0}, ValueError, "k"),
    ({"k": -3}, ValueError, "k"),
    ({"lon": 181.0}, ValueError, "lon"),
    ({"lon": math.nan}, ValueError, "lon"),
    ({"lat": -90.5}, ValueError, "lat"),
    ({"industry": "no-such-industry"}, KeyError, "no-such-industry"),
    ({"kinds": ("no-such-kind",)}, ValueError, "no-such-kind"),
    ({"kinds": ("platform",)}, ValueError, "platform"),  # points, not areas
    ({"kinds": ()}, ValueError, "kinds"),
])
def test_nearest_refuses_bad_arguments(layers: Layers, args: dict[str, Any], error: type[Exception],
                                       named: str) -> None:
    call: dict[str, Any] = {"lon": 121.55, "lat": 29.87, **args}
    with pytest.raises(error, match=named):
        nearest(layers, **call)


def test_stats_share_subparks_among_districts(statistics: dict[str, Any], parks: dict[str, Any]) -> None:
    districts = statistics["districts"]
    files = [f["properties"] for f in read("districts.geojson")["features"] if f["properties"]["kind"] == "district"]
    assert [d["adcode"] for d in districts] == [p["adcode"] for p in files]
    subparks = [f for f in parks.values() if f["properties"]["kind"] == "subpark"]
    total = sum(area_km2(f["geometry"]) for f in subparks)
    assert sum(d["subparks"]["area_km2"] for d in districts) == pytest.approx(total, rel=0.02)
    zone = area_km2(parks["corridor-zone"]["geometry"])
    assert sum(d["corridor"]["area_km2"] for d in districts) == pytest.approx(zone, rel=0.02)
    for d in districts:
        for group in ("subparks", "innovation_nodes", "corridor"):
            assert 0 <= d[group]["share"] <= 1
            assert d[group]["share"] == pytest.approx(d[group]["area_km2"] / d["area_km2"], abs=1e-4)
    by_adcode = {d["adcode"]: d for d in districts}
    # 北仑 holds two sub-parks (北仑, 大榭); 鄞州 most corridor units
    assert by_adcode["330206"]["counts"]["subparks"] == 2
    assert by_adcode["330206"]["subparks"]["area_km2"] == pytest.approx(130 + 12.3, rel=0.01)
    assert sum(d["counts"]["subparks"] for d in districts) == 10
    assert sum(d["counts"]["innovation_nodes"] for d in districts) == 10
    totals = statistics["totals"]
    assert totals["subparks"]["count"] == 10
    assert totals["subparks"]["area_km2"] == pytest.approx(total, abs=1e-2)  # 5 m apart: the union is the sum
    assert totals["subparks"]["planned_area_km2"] == pytest.approx(420.9)
    assert totals["corridor"]["planned_area_km2"] is None


def test_stats_industries_match_the_catalogue(statistics: dict[str, Any], catalogue: list[dict[str, Any]]) -> None:
    assert statistics["industries"] == [
        {k: e[k] for k in ("code", "features", "planned_area_km2", "computed_area_km2")} for e in catalogue]


def test_indicators_are_the_file(layers: Layers) -> None:
    doc = read("indicators.json")
    got = indicators(layers)
    assert len(got["table1"]) == len(doc["table1"]) == 18
    assert len(got["targets"]) == len(doc["targets"]) == 52
    # the file's rows, each with its observations and progress beside it (geo.monitoring)
    def plain(rows: list[dict]) -> list[dict]:
        return [{k: v for k, v in r.items() if k not in ("observations", "progress")} for r in rows]
    assert plain(got["table1"]) == doc["table1"] and plain(got["targets"]) == doc["targets"]
    assert got["cluster_tiers"] == doc["cluster_tiers"] and got["vision_2035"] == doc["vision_2035"]
    assert all(row["source"] for row in got["table1"] + got["targets"])
    got["table1"].clear()  # a copy: the loaded layers keep theirs
    assert len(indicators(layers)["table1"]) == 18


def test_indicators_clean_nan_and_refuse_rows_without_source(layers: Layers) -> None:
    doc = read("indicators.json")
    doc["table1"][0]["baseline"]["value"] = math.nan
    assert indicators(dataclasses.replace(layers, indicators=doc))["table1"][0]["baseline"]["value"] is None
    del doc["targets"][2]["source"]
    with pytest.raises(ValueError, match=r"targets\[2\]"):
        indicators(dataclasses.replace(layers, indicators=doc))
