"""The benchmark (bench/) in its smoke mode, so it never rots: every section runs on small sizes, our server
alone; what is checked is that each section measured something and that the engines agree, never a time."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyogrio
import pytest

from bench.data import SYNTHETIC, prepare
from bench.report import Row, markdown

ROOT = Path(__file__).resolve().parent.parent


def test_ratio_and_targets() -> None:
    assert Row("s", "c", "req/s", 50.0, "peer", 5.0, ">=10").met is True
    assert Row("s", "c", "req/s", 49.0, "peer", 5.0, ">=10").met is False
    assert Row("s", "c", "p99 ms", 3.0, "peer", 2.0, "<1").met is False
    assert Row("s", "c", "MB", 0.4, target="<1.5").met is True
    assert Row("s", "c", "MB", 0.4).met is None
    assert math.isnan(Row("s", "c", "MB", 0.4).ratio)
    assert Row("s", "c", "req/s", 7.0, "peer", 0.0, ">=10").met is False  # no ratio, no claim
    table = markdown([Row("serving", "a|b", "req/s", 1234.5, "tipg", 617.25, ">=2")])
    assert "| serving | a\\|b | req/s | 1,234 | tipg | 617 | 2.00 | >=2 | yes |" in table


def test_synthetic_layer_is_seeded_and_says_it_is_synthetic(tmp_path: Path) -> None:
    first = prepare(tmp_path / "a", synthetic_n=500)[SYNTHETIC]
    second = prepare(tmp_path / "b", synthetic_n=500)[SYNTHETIC]
    assert first.geojson.read_bytes() == second.geojson.read_bytes()
    frame = pyogrio.read_dataframe(first.gpkg)
    assert len(frame) == 500 and frame["synthetic"].all() and frame["id"].str.startswith("synthetic-").all()
    assert frame.geometry.x.between(120.8, 122.3).all() and frame.geometry.y.between(28.8, 30.5).all()


def _needs(tool: str) -> None:
    if shutil.which(tool) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tool} is missing under CI (.ci/run installs it)", pytrace=False)
        pytest.skip(f"{tool} is not installed")


def test_smoke_run_measures_every_section(tmp_path: Path) -> None:
    _needs("wrk")
    _needs("chromium")
    done = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--work", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "targets missed" in done.stdout
    rows: list[dict[str, Any]] = json.loads((tmp_path / "results.json").read_text())
    by_section: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_section.setdefault(row["section"], []).append(row)
    assert set(by_section) == {"serving", "batch location", "batch end to end", "maps", "export", "writes"}

    conditional = [r for r in by_section["serving"] if r["peer"] == "ours, answer built each time"]
    assert [r["case"] for r in conditional] == ["subparks items?limit=100, repeated",
                                                "subparks items?limit=100, kept answer"]
    assert all(r["ours"] > 0 and r["peer_value"] > 0 and "errors 0" in r["note"] for r in conditional)
    ceiling = [r for r in by_section["serving"] if r["peer"] == "uvicorn's ceiling"]
    assert [r["case"] for r in ceiling] == ["collection list, against the HTTP stack's ceiling"]
    assert ceiling[0]["ours"] > 0 and ceiling[0]["peer_value"] > 0 and "errors 0" in ceiling[0]["note"]
    serving = [r for r in by_section["serving"] if not r["peer"]]
    assert len(serving) == 9 and all(r["ours"] > 0 and "errors 0" in r["note"] for r in serving)
    # the same service over the embedded store: the same answers, its rate beside the files' one
    stored = [r for r in by_section["serving"] if r["peer"] and r not in conditional + ceiling]
    assert [r["case"] for r in stored] == [f"{r['case']} [ours (GeoPackage store)]" for r in serving]
    assert all(r["peer"] == "ours (no store)" and r["target"] == ">=0.9" and "errors 0" in r["note"]
               and r["ours"] > 0 and r["peer_value"] > 0 for r in stored)
    answers = {r["case"]: r["note"].split("ours ", 1)[1].split(",")[0] for r in serving}
    assert answers["collection list"] == "11 collections"  # the ten of the plan and the synthetic points
    assert answers["subparks items?limit=100"] == "10 features"
    assert answers["platforms items?limit=100"] == "46 features"
    assert answers["subparks items/{id}"] == "feature subpark-beilun"
    assert answers["100k points items?limit=1000"] == "1000 features"  # smoke mode makes 2,000 points

    batch = by_section["batch location"]
    compared = [r for r in batch if r["measure"] == "s" and r["peer"]]
    assert {r["peer"] for r in compared} == {"geopandas.sjoin", "DuckDB spatial"}
    assert all("identical assignments" in r["note"] for r in compared)
    times = [r for r in batch if r["measure"].startswith("s")]
    assert all(r["ours"] > 0 and (r["peer_value"] > 0 if r["peer"] else r["peer_value"] is None) for r in times)
    assert {r["measure"] for r in batch} == {"s", "s, one-off", "peak MB added"}

    e2e = by_section["batch end to end"]
    alike = {f"s, {how}{columns}" for columns in ("subpark,innovation_node", "subpark,innovation_node,district_adcode")
             for how in ("in process, ", "nbgis locate --columns ", "POST /locate?columns=")}
    assert {r["measure"] for r in e2e} == {"s", "s, nbgis locate", "s, POST /locate", *alike}
    assert "the three outputs of ours identical" in e2e[0]["note"]
    ducks = [r for r in e2e if "DuckDB" in r["peer"]]
    assert {r["measure"] for r in ducks} == alike and all(r["ours"] > 0 and r["peer_value"] > 0 for r in ducks)
    assert all("the same ids for every site as ours" in r["note"] for r in ducks)

    maps = {(r["case"], r["measure"]): r for r in by_section["maps"]}
    assert maps["overview, served", "MB"]["ours"] > 0.1
    for case in ("overview, served", "overview, self-contained file"):
        load = maps[case, "load event s"]
        assert load["ours"] > 0 and "0 failed requests" in load["note"]
        assert int(load["note"].split(" shapes drawn")[0].rsplit(" ", 1)[1]) > 40
    prints = [r for r in by_section["maps"] if r["measure"] == "render s"]
    assert [r["case"] for r in prints] == ["print map, overview, A4 PDF", "print map, industry new-materials, A4 PNG"]
    assert all(0 < r["ours"] < 30 and r["target"] == "<3.0" and "MB" in r["note"] for r in prints)

    export = by_section["export"]
    assert [r["case"] for r in export] == [f"all 10 layers to {f}" for f in ("gpkg", "shapefile", "dxf")]
    assert all("GDAL: ours" in r["note"] and r["ours"] > 0 and r["peer_value"] > 0 for r in export)
    assert all("ours 10" in r["note"] for r in export[:2])

    # two instances of ours on one GeoPackage, written by the same client as pygeoapi is in the full run
    writes = {r["case"]: r for r in by_section["writes"]}
    store = "[ours (GeoPackage store)]"
    assert list(writes) == [f"create (POST) {store}", f"replace (PUT, moved 3 m) {store}",
                            f"visible on a second instance {store}", f"one version rebuilt {store}"]
    for case in list(writes)[:2]:
        assert writes[case]["ours"] > 0 and "errors none" in writes[case]["note"], writes[case]
    created = writes[f"create (POST) {store}"]["note"]
    assert "created: all there)" in created  # the second instance lists every create answered 201
    visible = writes[f"visible on a second instance {store}"]
    assert 0 < visible["ours"] < 5000 and "not seen within 5 s: 0, writes refused: 0" in visible["note"]
    assert writes[f"one version rebuilt {store}"]["ours"] > 0


def test_short_soak_keeps_every_promise() -> None:
    """bench.soak for 20 s: users never see a 5xx, hostile requests only 4xx or the documented 503, the server
    lives (the 10-minute run's figures are in bench/README.md)."""
    from bench import soak

    result = soak.run(20 / 60)
    assert soak.verdict(result) == [], result
    users, hostile = result["users"], result["hostile"]
    assert isinstance(users, dict) and isinstance(hostile, dict)
    assert users["requests"] > 50 and hostile["requests"] > 10
    assert 400 in hostile["statuses"]  # the bombs were refused, not ignored
