"""Editing over HTTP (OGC API - Features Part 4) on both stores: what a write answers, what it leaves in the store
and in every later read, and the history it keeps. Requests are the ones QGIS and a script send."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyproj
import pytest
import shapely
from fastapi.testclient import TestClient

from bench import postgres
from geo.accounts import issue_token
from geo.measure import geodesic_area_km2
from services.app import create_app
from services.middleware import ConditionalGet
from services.settings import Settings

ITEM = "/collections/subparks/items/subpark-beilun"
GK = "http://www.opengis.net/def/crs/EPSG/0/4549"


@dataclass
class Editing:
    client: TestClient
    tokens: dict[str, str]  # role name -> token text

    def auth(self, who: str, **headers: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}", **headers}

    def read(self, path: str = ITEM) -> tuple[dict, str]:
        response = self.client.get(path)
        assert response.status_code == 200, response.text
        return response.json(), response.headers["etag"]


@pytest.fixture(params=["sqlite", "postgis"])
def editing(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Editing]:
    if request.param == "sqlite":
        url = str(tmp_path / "store.gpkg")
    else:
        cluster: postgres.Cluster = request.getfixturevalue("postgis_cluster")
        url = cluster.new_database()
    with TestClient(create_app(settings=Settings(store=url))) as client:
        store = client.app.state.service.store  # type: ignore[attr-defined]
        tokens = {}
        for who, role, collections, districts in (
                ("beilun", "editor", ("subparks", "innovation-nodes"), ("330206",)), ("city", "editor", ("*",), ()),
                ("viewer", "viewer", (), ()), ("admin", "admin", (), ())):
            text, record = issue_token(f"{who}-account", role, collections, districts)
            store.add_token(record)
            tokens[who] = text
        yield Editing(client, tokens)


def _moved(feature: dict, dx: float) -> dict:
    geometry = shapely.affinity.translate(shapely.geometry.shape(feature["geometry"]), dx)
    return {"type": "Feature", "properties": feature["properties"], "geometry": shapely.geometry.mapping(geometry)}


def test_replace_is_served_at_once_with_its_etag_and_history(editing: Editing) -> None:
    c = editing.client
    feature, etag = editing.read()
    assert etag.startswith('"') and not etag.startswith("W/")
    body = _moved(feature, 0.002)
    response = c.put(ITEM, json=body, headers=editing.auth("beilun", **{"If-Match": etag,
                                                                         "X-Edit-Reason": "%E6%B5%8B%E7%BB%98"}))
    assert response.status_code == 200, response.text
    receipt = response.json()
    assert receipt["version"] == 2 and receipt["action"] == "replace" and receipt["reason"] == "测绘"
    assert response.headers["etag"] == receipt["etag"] != etag
    now, new_etag = editing.read()  # the very next read of this instance has it
    assert new_etag == receipt["etag"]
    assert shapely.equals_exact(shapely.geometry.shape(now["geometry"]), shapely.geometry.shape(body["geometry"]),
                                1e-7)
    assert now["properties"]["area_km2"] == pytest.approx(
        round(geodesic_area_km2(shapely.geometry.shape(body["geometry"])), 3), abs=0.002)
    history = c.get(f"{ITEM}/versions").json()["versions"]
    assert [(v["version"], v["action"]) for v in history] == [(1, "seed"), (2, "replace")]
    assert "author" not in history[1]  # the public sees what and why, not who
    history = c.get(f"{ITEM}/versions", headers=editing.auth("admin")).json()["versions"]
    assert history[1]["author"] == "beilun-account" and history[1]["reason"] == "测绘"
    first = c.get(f"{ITEM}/versions/1").json()
    assert shapely.equals_exact(shapely.geometry.shape(first["geometry"]),
                                shapely.geometry.shape(feature["geometry"]), 1e-7)


def test_a_feature_answer_is_kept_with_its_own_etag_until_an_edit(editing: Editing) -> None:
    """Feature answers carry the feature's ETag (what If-Match needs); they are kept serialized like every other
    answer, revalidated against that ETag, and never replayed once an edit made a new version."""
    c = editing.client
    feature, etag = editing.read()
    conditional = c.app.middleware_stack  # type: ignore[attr-defined]
    while not isinstance(conditional, ConditionalGet):
        conditional = conditional.app
    assert [k.own_etag for k in conditional.kept.values()] == [etag]
    again = c.get(ITEM)  # replayed from what is kept
    assert again.content == c.get(ITEM, headers={"Cache-Control": "no-cache"}).content and again.headers["etag"] == etag
    revalidated = c.get(ITEM, headers={"If-None-Match": etag})
    assert revalidated.status_code == 304 and revalidated.headers["etag"] == etag
    assert c.get(ITEM, headers={"If-None-Match": '"other"'}).status_code == 200
    written = c.put(ITEM, json=_moved(feature, 0.001), headers=editing.auth("beilun", **{"If-Match": etag}))
    assert written.status_code == 200, written.text
    after = c.get(ITEM, headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["etag"] == written.headers["etag"] != etag
    assert after.json()["geometry"] != feature["geometry"]
    assert c.get(ITEM, headers={"If-None-Match": after.headers["etag"]}).status_code == 304


def test_stale_and_missing_if_match(editing: Editing) -> None:
    c = editing.client
    feature, etag = editing.read()
    assert c.put(ITEM, json=_moved(feature, 0.001), headers=editing.auth("beilun")).status_code == 428
    assert c.put(ITEM, json=_moved(feature, 0.001), headers=editing.auth("beilun", **{"If-Match": etag})
                 ).status_code == 200
    stale = c.put(ITEM, json=_moved(feature, 0.002), headers=editing.auth("city", **{"If-Match": etag}))
    assert stale.status_code == 412 and stale.headers["etag"] == editing.read()[1]
    assert len(c.get(f"{ITEM}/versions").json()["versions"]) == 2


def test_roles_and_scopes(editing: Editing) -> None:
    c = editing.client
    feature, etag = editing.read()
    body = _moved(feature, 0.001)
    none = c.put(ITEM, json=body, headers={"If-Match": etag})
    assert none.status_code == 401 and none.headers["www-authenticate"].startswith("Bearer")
    assert c.put(ITEM, json=body, headers=editing.auth("viewer", **{"If-Match": etag})).status_code == 403
    other, other_etag = editing.read("/collections/subparks/items/subpark-yinzhou")
    refused = c.put("/collections/subparks/items/subpark-yinzhou", json=_moved(other, 0.001),
                    headers=editing.auth("beilun", **{"If-Match": other_etag}))
    assert refused.status_code == 403 and "330206" in refused.json()["description"]
    district = c.patch("/collections/districts/items/330206", content=b"{}",
                       headers=editing.auth("admin", **{"If-Match": "*", "Content-Type":
                                                        "application/merge-patch+json"}))
    assert district.status_code == 405 and "PUT" not in district.headers["allow"]


def test_hard_rules_refuse_with_the_findings_and_soft_ones_are_kept(editing: Editing) -> None:
    c = editing.client
    feature, etag = editing.read()
    onto = editing.read("/collections/subparks/items/subpark-daxie")[0]["geometry"]
    overlap = c.put(ITEM, json={**_moved(feature, 0), "geometry": onto},
                    headers=editing.auth("city", **{"If-Match": etag}))
    assert overlap.status_code == 422
    rules = {(f["rule"], f["severity"]) for f in overlap.json()["findings"]}
    assert ("overlap", "hard") in rules and "subpark-daxie" in overlap.json()["description"]
    grown = shapely.affinity.scale(shapely.geometry.shape(feature["geometry"]), 1.15, 1.15)
    clipped = shapely.difference(grown, shapely.union_all([
        shapely.geometry.shape(editing.read(f"/collections/subparks/items/{fid}")[0]["geometry"])
        for fid in ("subpark-daxie", "subpark-yinzhou", "subpark-jiangbei")]))
    response = c.put(ITEM, json={**_moved(feature, 0), "geometry": shapely.geometry.mapping(clipped)},
                     headers=editing.auth("city", **{"If-Match": etag}))
    assert response.status_code == 200, response.text
    soft = response.json()["findings"]
    assert soft and all(f["severity"] == "soft" for f in soft) and {"area"} <= {f["rule"] for f in soft}
    assert c.get(f"{ITEM}/versions").json()["versions"][-1]["findings"] == soft
    assert editing.read()[1] == response.json()["etag"]


def test_create_in_gauss_kruger_as_qgis_sends_it(editing: Editing) -> None:
    """QGIS POSTs without an id, in the layer's CRS with a bare Content-Crs URI, and reads Location."""
    c = editing.client
    to_gk = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:4549", always_xy=True)
    square = shapely.box(121.83, 29.93, 121.84, 29.94)  # in Beilun, clear of the sub-parks
    in_gk = shapely.transform(square, lambda xy: __import__("numpy").column_stack(to_gk.transform(*xy.T))[:, ::-1])
    node = editing.read("/collections/innovation-nodes/items/node-beilun-overseas-engineers")[0]["properties"]
    properties = {k: v for k, v in node.items() if k not in ("id", "area_km2")} | {"name_en": "Survey Test Node"}
    response = c.post("/collections/innovation-nodes/items", content=json.dumps(
        {"type": "Feature", "properties": properties, "geometry": shapely.geometry.mapping(in_gk)}),
        headers=editing.auth("beilun", **{"Content-Type": "application/geo+json", "Content-Crs": GK}))
    assert response.status_code == 201, response.text
    location = response.headers["location"]
    assert location.endswith("/collections/innovation-nodes/items/innovation-node-survey-test-node")
    created, etag = editing.read(location.split("testserver", 1)[1])
    assert etag == response.headers["etag"]
    assert shapely.equals_exact(shapely.geometry.shape(created["geometry"]), square, 1e-7)
    again = c.post("/collections/innovation-nodes/items", json={**created, "properties": properties},
                   headers=editing.auth("beilun"))
    assert again.status_code == 409


def test_patch_delete_restore_and_changes(editing: Editing) -> None:
    c = editing.client
    mark = datetime.now(UTC).isoformat()
    _, etag = editing.read()
    patched = c.patch(ITEM, content=json.dumps({"properties": {"name_en": "Beilun Sub-park (surveyed)"}}),
                      headers=editing.auth("beilun", **{"If-Match": etag,
                                                        "Content-Type": "application/merge-patch+json"}))
    assert patched.status_code == 200 and patched.json()["action"] == "update"
    assert editing.read()[0]["properties"]["name_en"] == "Beilun Sub-park (surveyed)"
    removed = c.patch(ITEM, content=json.dumps({"properties": {"industries": None}}),
                      headers=editing.auth("beilun", **{"If-Match": patched.headers["etag"],
                                                        "Content-Type": "application/merge-patch+json"}))
    assert removed.status_code == 422 and "industries" in removed.text
    deleted = c.delete(ITEM, headers=editing.auth("beilun", **{"If-Match": patched.headers["etag"]}))
    assert deleted.status_code == 200 and c.get(ITEM).status_code == 404
    history = c.get(f"{ITEM}/versions").json()["versions"]
    assert [v["action"] for v in history] == ["seed", "update", "delete"] and history[-1]["deleted"]
    restored = c.post(f"{ITEM}/revert", json={"version": 1, "reason": "deleted by mistake"},
                      headers=editing.auth("admin"))
    assert restored.status_code == 201 and restored.json()["action"] == "restore", restored.text
    assert editing.read()[1] == history[0]["etag"]
    changes = c.get("/changes", params={"since": mark}).json()["changes"]
    assert [(ch["id"], ch["action"]) for ch in changes] == [
        ("subpark-beilun", "update"), ("subpark-beilun", "delete"), ("subpark-beilun", "restore")]
    assert all("author" not in ch for ch in changes)
    admin_view = c.get("/changes", params={"since": mark}, headers=editing.auth("admin")).json()["changes"]
    assert [ch["author"] for ch in admin_view] == ["beilun-account", "beilun-account", "admin-account"]
    assert c.get("/changes", params={"since": "yesterday"}).status_code == 400
    page = c.get("/changes", params={"limit": 2}).json()  # the seed is one changeset: a page holds all of it
    assert len(page["changes"]) > 2 and {ch["action"] for ch in page["changes"]} == {"seed"}
    nxt = next(link["href"] for link in page["links"] if link["rel"] == "next")
    assert [ch["action"] for ch in c.get(nxt.split("testserver", 1)[1]).json()["changes"]] == ["update", "delete"]


def test_options_conformance_and_html_history(editing: Editing) -> None:
    c = editing.client
    assert c.options("/collections/subparks/items").headers["allow"] == "GET, HEAD, OPTIONS, POST"
    assert "PATCH" in c.options(ITEM).headers["allow"]
    assert "POST" not in c.options("/collections/districts/items").headers["allow"]
    conformance = c.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete" in conformance
    page = c.get(f"{ITEM}/versions?f=html")
    assert page.status_code == 200 and "<table id=\"versions\">" in page.text and "seed" in page.text
    assert f'{ITEM}/versions?f=html' in c.get(f"{ITEM}?f=html").text
