"""The validator catches broken copies of the data, and the CLI reports them with exit status 1."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import shapely
from shapely import affinity
from shapely.geometry import shape

from geo.validate import validate

ROOT = Path(__file__).resolve().parent.parent


def edit(data: Path, layer: str, fid: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = data / f"{layer}.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    feature = next(f for f in doc["features"] if f["id"] == fid)
    change(feature)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def move(dx: float, dy: float) -> Callable[[dict[str, Any]], None]:
    def change(f: dict[str, Any]) -> None:
        f["geometry"] = shapely.geometry.mapping(affinity.translate(shape(f["geometry"]), dx, dy))
    return change


def rules(data: Path) -> dict[str, set[str]]:
    report = validate(data)
    assert not report.ok
    found: dict[str, set[str]] = {}
    for f in report.findings:
        found.setdefault(f.rule, set()).add(f.feature)
    return found


def test_moved_park_leaves_its_district(data_copy: Path) -> None:
    edit(data_copy, "parks", "subpark-cixi", move(0.0, -0.25))  # 28 km south, into 余姚
    assert "subpark-cixi" in rules(data_copy)["district"]


def test_park_moved_out_to_sea(data_copy: Path) -> None:
    edit(data_copy, "parks", "subpark-daxie", move(0.3, 0.0))
    found = rules(data_copy)
    assert "subpark-daxie" in found["extent"]
    assert "subpark-daxie" in found["land"]


def test_wrong_planned_area(data_copy: Path) -> None:
    def change(f: dict[str, Any]) -> None:
        f["properties"]["planned_area_km2"] = 20
    edit(data_copy, "parks", "subpark-cixi", change)
    found = rules(data_copy)
    assert "subpark-cixi" in found["area"]  # drawn 10 km², now claims 20
    assert "subpark-cixi" in found["verbatim"]  # and 20 is not what the plan prints


def test_unknown_industry_code(data_copy: Path) -> None:
    def change(f: dict[str, Any]) -> None:
        f["properties"]["industries"].append("quantum-widgets")
    edit(data_copy, "parks", "subpark-ninghai", change)
    assert rules(data_copy)["industry"] == {"subpark-ninghai"}


def test_overlapping_subparks(data_copy: Path) -> None:
    doc = json.loads((data_copy / "parks.geojson").read_text(encoding="utf-8"))
    geoms = {f["id"]: f["geometry"] for f in doc["features"]}
    edit(data_copy, "parks", "subpark-daxie", lambda f: f.update(geometry=geoms["subpark-beilun"]))
    assert any("subpark-daxie" in key for key in rules(data_copy)["overlap"])


def test_unit_outside_corridor(data_copy: Path) -> None:
    edit(data_copy, "parks", "unit-meihu-town", move(-0.3, 0.0))
    assert "unit-meihu-town" in rules(data_copy)["corridor"]


def test_missing_source_and_misquoted_name(data_copy: Path) -> None:
    def change(f: dict[str, Any]) -> None:
        f["properties"]["source"] = ""
    edit(data_copy, "parks", "node-aerospace-city", change)

    def rename(f: dict[str, Any]) -> None:
        f["properties"]["name_zh"] = "宁波太空城"
    edit(data_copy, "parks", "unit-meihu-town", rename)
    found = rules(data_copy)
    assert "node-aerospace-city" in found["property"]
    assert "unit-meihu-town" in found["verbatim"]


def test_missing_subpark_is_counted(data_copy: Path) -> None:
    path = data_copy / "parks.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["features"] = [f for f in doc["features"] if f["id"] != "subpark-yuyao"]
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    assert "subpark" in rules(data_copy)["count"]


def test_invented_platform_location_is_caught(data_copy: Path) -> None:
    doc = json.loads((data_copy / "platforms.geojson").read_text(encoding="utf-8"))
    fid = next(f["id"] for f in doc["features"] if f["geometry"] is None)

    def place(f: dict[str, Any]) -> None:
        f["geometry"] = {"type": "Point", "coordinates": [121.55, 29.87]}
    edit(data_copy, "platforms", fid, place)
    assert fid in rules(data_copy)["schematic"]


def test_unreadable_file_is_a_finding_not_a_crash(data_copy: Path) -> None:
    (data_copy / "parks.geojson").write_text("{not json", encoding="utf-8")
    assert set(rules(data_copy)) == {"load"}


@pytest.mark.parametrize("broken", [False, True])
def test_cli_exit_status_and_report(data_copy: Path, broken: bool) -> None:
    if broken:
        edit(data_copy, "parks", "subpark-haishu", move(0.5, 0.0))
    run = subprocess.run([sys.executable, "-m", "nbgis", "validate", str(data_copy)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == (1 if broken else 0), run.stdout + run.stderr
    assert "subpark-yinzhou" in run.stdout and "128.7" in run.stdout  # the per-feature area table
    assert ("FAILED" in run.stdout) == broken


def test_feature_names_must_be_quoted_whole(data_copy: Path) -> None:
    """'甬江两岸片区' can be pieced together from the cited lines, but the plan never writes it."""
    def rename(f: dict[str, Any]) -> None:
        f["properties"]["name_zh"] = "甬江两岸片区"
    edit(data_copy, "parks", "corridor-north", rename)
    assert rules(data_copy)["verbatim"] == {"corridor-north"}


def test_each_drawn_block_needs_its_part(data_copy: Path) -> None:
    def merge(f: dict[str, Any]) -> None:  # one hull for the four blocks of 江北分园
        f["geometry"] = shapely.geometry.mapping(shapely.MultiPolygon([shape(f["geometry"]).convex_hull]))
    edit(data_copy, "parks", "subpark-jiangbei", merge)
    assert "subpark-jiangbei" in rules(data_copy)["blocks"]


# ------------------------------------------------------------------ issue 15: coast, lake, quotes, consistency

def findings(data: Path, rule: str) -> dict[str, str]:
    """feature -> message of one rule's findings."""
    return {f.feature: f.message for f in validate(data).findings if f.rule == rule}


def props(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda f: change(f["properties"])


def test_the_bundled_data_passes_the_new_rules() -> None:
    report = validate()
    assert report.ok, report.text()
    rows = {r.id: r for r in report.rows}
    assert rows["subpark-cixi"].share_on_land == pytest.approx(1.0, abs=0.001)
    assert rows["qianwan-coastal-core"].reclaimed and rows["qianwan-coastal-core"].share_on_land < 0.5


def test_a_unit_at_sea_breaks_the_land_rule(data_copy: Path) -> None:
    edit(data_copy, "parks", "node-aerospace-city", move(0.06, 0.0))  # 6 km east of 象山: the sea, still in 象山县
    msg = findings(data_copy, "land")
    assert "node-aerospace-city" in msg and "on land" in msg["node-aerospace-city"]


def test_reclaimed_land_needs_a_cited_exception(data_copy: Path) -> None:
    edit(data_copy, "parks", "qianwan-coastal-core", props(lambda p: p.pop("land_exception")))
    edit(data_copy, "parks", "qianwan-west-emerging", props(lambda p: p["land_exception"].update(source="")))
    edit(data_copy, "parks", "subpark-cixi", props(lambda p: p.update(
        land_exception={"reason": "made up", "source": "专栏 9, lines 1527-1530"})))
    msg = findings(data_copy, "land")
    assert "only 1.3% on land" in msg["qianwan-coastal-core"]
    assert "needs a reason and a source" in msg["qianwan-west-emerging"]
    assert "not needed" in msg["subpark-cixi"]  # an exception must be needed, not a blanket pass


def test_a_unit_in_the_lake_breaks_the_lake_rule(data_copy: Path) -> None:
    lake = shapely.Point(121.655, 29.775).buffer(0.006)  # in the middle of 东钱湖
    edit(data_copy, "parks", "unit-zhejiang-innovation-center",
         lambda f: f.update(geometry=shapely.geometry.mapping(lake)))
    assert "东钱湖" in findings(data_copy, "lake")["unit-zhejiang-innovation-center"]


def test_yinzhou_central_block_must_stop_at_the_lake(data_copy: Path) -> None:
    """The plan bounds it 东至东钱湖; stretching it east into the lake is caught."""
    def grow(f: dict[str, Any]) -> None:
        g = shape(f["geometry"])
        f["geometry"] = shapely.geometry.mapping(shapely.union(g, shapely.box(121.60, 29.76, 121.645, 29.78)))
    edit(data_copy, "parks", "subpark-yinzhou", grow)
    assert "subpark-yinzhou" in findings(data_copy, "lake")


def test_a_detached_sliver_is_caught(data_copy: Path) -> None:
    def add(f: dict[str, Any], part: shapely.Geometry) -> None:
        g = shape(f["geometry"])
        f["geometry"] = shapely.geometry.mapping(shapely.MultiPolygon([*shapely.get_parts(g), part]))
    edit(data_copy, "parks", "subpark-yinzhou", lambda f: add(f, shapely.box(121.50, 29.70, 121.505, 29.705)))
    edit(data_copy, "parks", "subpark-cixi", lambda f: add(f, shapely.box(121.20, 30.16, 121.201, 30.161)))
    msg = findings(data_copy, "sliver")
    assert "detached part" in msg["subpark-yinzhou"]  # 0.25 km², 0.2 % of it, no block of its own
    assert "under 0.05 km²" in msg["subpark-cixi"]


def test_a_feature_named_for_a_district_lies_in_it(data_copy: Path) -> None:
    edit(data_copy, "parks", "unit-beilun-binjiang", move(-0.1, 0.0))  # 北仑滨江… moved west into 镇海/江北
    assert "北仑区" in findings(data_copy, "stated-district")["unit-beilun-binjiang"]


def test_a_platform_sits_at_the_park_named_for_it(data_copy: Path) -> None:
    edit(data_copy, "platforms", "platform-yongjiang-lab", move(0.0, 0.03))  # ~3 km north
    assert "unit-yongjiang-lab" in findings(data_copy, "namesake")["platform-yongjiang-lab"]


def test_a_quote_cut_from_its_clause_is_caught(data_copy: Path) -> None:
    def cut(p: dict[str, Any]) -> None:
        p["blocks"][0]["boundary_zh"] = "东钱湖"  # one word of 中心区块东至东钱湖、南至…
    edit(data_copy, "parks", "subpark-yinzhou", props(cut))

    def compose(p: dict[str, Any]) -> None:
        p["blocks"][1]["name_zh"] = "生物产业园产业化基地"  # our composition, stored as if quoted
    edit(data_copy, "parks", "subpark-ninghai", props(compose))
    found = {f.feature: f.message for f in validate(data_copy).findings if f.rule == "verbatim"}
    assert "only part of a clause" in found["subpark-yinzhou block 1"]
    assert "name_zh" in found["subpark-ninghai block 2"]


def test_a_dropped_qualifier_is_caught(data_copy: Path) -> None:
    edit(data_copy, "parks", "node-qianwan-corridor", props(lambda p: p.pop("planned_area_zh")))

    def drop(p: dict[str, Any]) -> None:
        p["targets"][0].update(value_zh="1000人", qualifier_zh=None)  # the plan: 1000 人以上
        p["targets"][1].update(qualifier_zh=None)  # value_zh 50个以上 keeps it, the field does not
    edit(data_copy, "parks", "node-qianwan-corridor", props(drop))
    found = {f.feature: f.message for f in validate(data_copy).findings if f.rule == "qualifier"}
    assert "近" in found["node-qianwan-corridor"]  # 近 100 平方公里 is not 100
    assert "以上" in found["node-qianwan-corridor target node-qianwan-talents"]
    assert "qualifier_zh None" in found["node-qianwan-corridor target node-qianwan-platforms"]


def test_the_cli_table_shows_the_share_on_land() -> None:
    run = subprocess.run([sys.executable, "-m", "nbgis", "validate"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout
    header = run.stdout.splitlines()[0]
    assert header.rstrip().endswith("on land")
    row = next(line for line in run.stdout.splitlines() if line.startswith("qianwan-coastal-core"))
    assert row.rstrip().endswith("%*")


def test_an_observation_without_a_real_source_is_caught(data_copy: Path) -> None:
    path = data_copy / "observations.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["observations"] += [
        {"indicator": "table1-6", "year": 2023, "value": 5000, "source": "", "note": "made up"},
        {"indicator": "table1-6", "year": 2020, "value": 3500, "source": "表 1, lines 388-388", "note": "misread"},
        {"indicator": "no-such-indicator", "year": 2022, "value": 1, "source": "a bulletin", "note": ""},
    ]
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    found = {f.feature: f.message for f in validate(data_copy).findings if f.rule == "observation"}
    assert len(found) == 3
    assert any("cites no source" in m for m in found.values())
    assert any("3500 is not on the plan's lines" in m for m in found.values())
    assert any("names no indicator" in m for m in found.values())


def test_tiers_and_platform_status_are_checked(data_copy: Path) -> None:
    path = data_copy / "indicators.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["cluster_tiers"][0]["industries"].append("quantum-widgets")  # 3 codes for a count of 2, one unknown
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    edit(data_copy, "platforms", "platform-blockchain-key-lab", props(lambda p: p.update(status="operating")))
    edit(data_copy, "platforms", "platform-national-tic", props(lambda p: p.update(status_zh="已建成")))
    report = validate(data_copy)
    tiers = [f.message for f in report.findings if f.rule == "tiers"]
    assert any("3 industries for a count of 2" in m for m in tiers) and any("quantum-widgets" in m for m in tiers)
    assert "platform-blockchain-key-lab" in {f.feature for f in report.findings if f.rule == "status"}
    assert "platform-national-tic" in {f.feature for f in report.findings if f.rule == "verbatim"}


def test_each_block_is_checked_on_land_not_only_its_sub_park(data_copy: Path) -> None:
    """鄞州分园 is 128.7 km²: one block moved out to sea is under 5 % of it, yet caught on its own."""
    def sink(f: dict[str, Any]) -> None:
        g = shape(f["geometry"])
        label = shapely.Point(f["properties"]["blocks"][4]["label_point"])  # 五乡镇, a 1.6 km disc
        part = next(p for p in shapely.get_parts(g) if p.covers(label))
        moved = affinity.translate(part, 0.0, 0.0)
        sea = shapely.Point(122.05, 29.90).buffer(0.012)  # open sea east of 北仑, inside no district
        rest = [p for p in shapely.get_parts(g) if not p.equals(moved)]
        f["geometry"] = shapely.geometry.mapping(shapely.MultiPolygon([*rest, sea]))
        f["properties"]["blocks"][4]["label_point"] = [122.05, 29.90]
    edit(data_copy, "parks", "subpark-yinzhou", sink)
    found = findings(data_copy, "land")
    assert "subpark-yinzhou" not in found  # the sub-park as a whole is still ≥ 95 % on land
    assert "on land" in found["subpark-yinzhou block 5"]


def test_table1_keeps_its_greater_than(data_copy: Path) -> None:
    """表 1 prints row 5's target as ＞60: a plain 60 loses the bound."""
    path = data_copy / "indicators.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["table1"][4]["target_2025"].update(value_zh="60", qualifier_zh=None)
    doc["table1"][5]["target_2025"].update(value_zh="9000")  # not what the table prints
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    found = {f.feature: f.message for f in validate(data_copy).findings if f.rule == "qualifier"}
    assert "＞" in found["表 1 row 5 target"]
    assert "not printed" in found["表 1 row 6 target"]
