"""The editing story end to end, over real HTTP (uvicorn on 127.0.0.1), on both stores: Beilun's bureau imports a
surveyed boundary of its sub-park from a Gauss-Kruger Shapefile; a second editor's write from before it gets 412;
a viewer's write gets 403; the admin reverts; and every step shows in the history, the changes, the exports (read
back with GDAL) and the map popups."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx
import pyogrio
import pytest
import shapely

from bench import postgres
from geo.accounts import issue_token
from geo.layers import Layers
from services.app import create_app
from services.crs import service_crs
from services.settings import Settings
from tests.conftest import serve_in_thread
from tests.test_imports import GK, lonlat, surveyed, within_m, write, zipped

ITEM = "/collections/subparks/items/subpark-beilun"
SOURCE = "北仑区规划局 2026 年测绘成果"


@pytest.fixture(params=["sqlite", "postgis"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    if request.param == "sqlite":
        url = str(tmp_path / "store.gpkg")
    else:
        cluster: postgres.Cluster = request.getfixturevalue("postgis_cluster")
        url = cluster.new_database()
    app = create_app(settings=Settings(store=url))
    with serve_in_thread(app) as base:
        store = app.state.service.store
        tokens = {}
        for who, role, collections, districts in (("beilun-bureau", "editor", ("subparks",), ("330206",)),
                                                   ("city-planning", "editor", ("*",), ()),
                                                   ("investor", "viewer", (), ()), ("gis-admin", "admin", (), ())):
            text, record = issue_token(who, role, collections, districts)
            store.add_token(record)
            tokens[who] = text
        yield base, tokens


def _exported_quality(client: httpx.Client) -> dict[str, tuple[str, str | None]]:
    """geometry_quality and geometry_source of each sub-park in the GeoPackage download, as GDAL reads them."""
    response = client.get("/collections/subparks/items", params={"f": "gpkg", "crs": "EPSG:4549"})
    assert response.status_code == 200, response.text
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "subparks.gpkg"
        path.write_bytes(response.content)
        frame = pyogrio.read_dataframe(path)
    assert frame.crs.to_epsg() == 4549
    sources = frame["geometry_source"] if "geometry_source" in frame.columns else [None] * len(frame)
    return {fid: (quality, source or None) for fid, quality, source in zip(frame["id"], frame["geometry_quality"],
                                                                           sources)}


def test_the_whole_story(service: tuple[str, dict[str, str]], layers: Layers, tmp_path: Path) -> None:
    base, tokens = service
    start = datetime.now(UTC)

    def auth(who: str, **headers: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[who]}", **headers}

    with httpx.Client(base_url=base, timeout=60) as client:
        schematic = client.get(ITEM)
        seen_by_city = schematic.headers["etag"]  # the second editor reads the feature before the import

        # 1. Beilun's bureau uploads its survey (a zipped Shapefile in CGCS2000 / Gauss-Kruger CM 120E)
        survey = surveyed(layers, "subpark-beilun", 180, -120, 60)
        shp = write(tmp_path / "beilun.shp", [{"id": "subpark-beilun"}], [survey], GK)
        upload = client.post("/imports", headers=auth("beilun-bureau"),
                             files={"file": ("北仑分园测绘.zip", zipped(shp).read_bytes(), "application/zip")},
                             data={"collection": "subparks", "match": "id", "source": SOURCE,
                                   "reason": "surveyed boundary replaces the schematic one"})
        assert upload.status_code == 201, upload.text
        staged = upload.json()
        assert staged["ok"] and [row["id"] for row in staged["diff"]] == ["subpark-beilun"]
        assert staged["diff"][0]["area_after_km2"] != pytest.approx(staged["diff"][0]["area_before_km2"])
        assert client.get(ITEM).headers["etag"] == seen_by_city  # shown, not written
        committed = client.post(f"/imports/{staged['id']}", headers=auth("beilun-bureau"))
        assert committed.status_code == 201, committed.text
        assert [v["id"] for v in committed.json()["versions"]] == ["subpark-beilun"]

        now = client.get(ITEM)
        assert now.status_code == 200 and now.headers["etag"] == committed.json()["versions"][0]["etag"]
        assert now.json()["properties"]["geometry_quality"] == "surveyed"
        assert now.json()["properties"]["geometry_source"] == SOURCE
        assert within_m(shapely.geometry.shape(now.json()["geometry"]), lonlat(survey), 1.0)

        # 2. the second editor's write, made from what it read before the import, is refused
        stale = client.put(ITEM, json=schematic.json(), headers=auth("city-planning", **{"If-Match": seen_by_city}))
        assert stale.status_code == 412 and stale.headers["etag"] == now.headers["etag"]

        # 3. a viewer cannot write at all
        viewer = client.patch(ITEM, content=b'{"properties": {"name_en": "x"}}',
                              headers=auth("investor", **{"If-Match": now.headers["etag"],
                                                          "Content-Type": "application/merge-patch+json"}))
        assert viewer.status_code == 403

        # the export and the map say, per feature, which boundary is surveyed and from where
        exported = _exported_quality(client)
        assert exported["subpark-beilun"] == ("surveyed", SOURCE)
        assert exported["subpark-yinzhou"][0] == "schematic"
        page = client.get("/maps/feature/subpark-beilun").text
        assert SOURCE in page and "surveyed" in page

        # 4. the admin reverts to the plan's boundary
        reverted = client.post(f"{ITEM}/revert", json={"version": 1, "reason": "survey to be checked first"},
                               headers=auth("gis-admin", **{"If-Match": now.headers["etag"]}))
        assert reverted.status_code == 200, reverted.text
        assert client.get(ITEM).headers["etag"] == seen_by_city
        assert _exported_quality(client)["subpark-beilun"] == ("schematic", None)
        assert SOURCE not in client.get("/maps/feature/subpark-beilun").text

        # every step is in the history and the changes, with who, when and why
        history = client.get(f"{ITEM}/versions", headers=auth("gis-admin")).json()["versions"]
        assert [(v["version"], v["action"], v["author"], v["geometry_quality"]) for v in history] == [
            (1, "seed", "seed", "schematic"), (2, "import", "beilun-bureau", "surveyed"),
            (3, "revert", "gis-admin", "schematic")]
        assert history[1]["reason"] == "surveyed boundary replaces the schematic one"
        assert history[1]["geometry_source"] == SOURCE
        page = client.get(f"{ITEM}/versions", params={"f": "html"}).text
        assert "import" in page and "revert" in page and SOURCE in page
        changes = client.get("/changes", params={"since": start.isoformat()}, headers=auth("gis-admin")).json()
        assert [(c["id"], c["action"], c["author"]) for c in changes["changes"]] == [
            ("subpark-beilun", "import", "beilun-bureau"), ("subpark-beilun", "revert", "gis-admin")]
        # the surveyed version stays readable, in the survey's own CRS (EPSG axis order: northing, easting)
        crs = service_crs(GK)
        old = client.get(f"{ITEM}/versions/2", params={"crs": crs.uri})
        assert old.status_code == 200 and old.headers["content-crs"] == f"<{crs.uri}>"
        metres = shapely.geometry.shape(old.json()["geometry"])
        metres = shapely.transform(metres, lambda xy: xy[:, ::-1]) if crs.lat_first else metres
        assert shapely.hausdorff_distance(metres, survey) < 1.0
