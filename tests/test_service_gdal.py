"""A real GIS client reads the real service: `nbgis serve` on a free port, every collection through GDAL's
OGC API - Features driver (what QGIS uses too), paging included, compared with the source files."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pyogrio
import pyproj
import pytest

from geo.seed import DATA_DIR

SOURCES = {}
for name in ("parks.geojson", "platforms.geojson", "districts.geojson"):
    for feature in json.loads((DATA_DIR / name).read_text(encoding="utf-8"))["features"]:
        SOURCES[feature["properties"]["id"]] = feature
COLLECTIONS = {"subparks": ["subpark"], "corridor": ["corridor"], "corridor-axis": ["corridor-axis"],
               "corridor-units": ["corridor-unit"], "innovation-nodes": ["innovation-node"],
               "provincial-parks": ["provincial-park"], "innovation-streets": ["innovation-street"],
               "qianwan-zones": ["qianwan-zone"], "platforms": ["platform"], "districts": ["district", "city"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "nbgis", "serve", "--port", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{base}/conformance", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail(f"nbgis serve did not start: {log.read_text()}")
        yield base, log
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_gdal_lists_every_collection(service: tuple[str, Path]) -> None:
    base, _ = service
    names = [name for name, _ in pyogrio.list_layers(f"OAPIF:{base}")]
    assert names == list(COLLECTIONS)


@pytest.mark.parametrize("collection", list(COLLECTIONS))
def test_gdal_reads_every_collection_across_pages(service: tuple[str, Path], collection: str) -> None:
    base, log = service
    frame = pyogrio.read_dataframe(f"OAPIF:{base}", layer=collection, PAGE_SIZE=4)
    expected = {i for i, f in SOURCES.items() if f["properties"]["kind"] in COLLECTIONS[collection]}
    assert set(frame["id"]) == expected and len(frame) == len(expected)
    assert frame.crs.to_authority() == ("OGC", "CRS84")
    for _, row in frame.iterrows():
        assert row["name_zh"] == SOURCES[row["id"]]["properties"]["name_zh"]  # Chinese text intact
    if len(expected) > 4:
        assert f"/collections/{collection}/items?" in log.read_text() and "offset=4" in log.read_text()


def test_gdal_reads_in_gauss_kruger(service: tuple[str, Path]) -> None:
    base, _ = service
    frame = pyogrio.read_dataframe(f"OAPIF:{base}", layer="platforms", CRS="EPSG:4549")
    assert frame.crs.to_epsg() == 4549
    located = frame[frame.geometry.notna()]
    assert len(located) == sum(1 for f in SOURCES.values()
                               if f["properties"]["kind"] == "platform" and f["geometry"] is not None)
    to_gk = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:4549", always_xy=True)
    for _, row in located.iterrows():
        lon, lat = SOURCES[row["id"]]["geometry"]["coordinates"]
        easting, northing = to_gk.transform(lon, lat)
        assert (row.geometry.x, row.geometry.y) == pytest.approx((easting, northing), abs=0.01)
    subparks = pyogrio.read_dataframe(f"OAPIF:{base}", layer="subparks", CRS="EPSG:4549")
    assert subparks.geometry.area.sum() / 1e6 == pytest.approx(420.9, rel=0.01)  # the plan's total
