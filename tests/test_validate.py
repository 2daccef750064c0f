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
