"""Changesets on both stores: all or nothing, checked against the ETag the writer read, every version kept and
readable, history that starts with the seed, and a store made by the previous release upgraded with its rows'
history."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import shapely

from geo.store.base import AlreadyExists, Conflict, Edit, FeatureStore, NotFound, Staged, feature_etag, open_store
from tests.test_store import SEED_COUNTS, seeded


def _moved(store: FeatureStore, feature_id: str, dx: float = 0.001) -> Edit:
    feature, etag = store.current("parks", feature_id)  # type: ignore[misc]
    return Edit("parks", feature_id, "replace", feature.properties,
                shapely.affinity.translate(feature.geometry, dx), etag, "replace")


def test_a_replace_is_a_new_version_and_moves_the_dataset(store_url: str) -> None:
    store = seeded(store_url)
    before = store.version()
    edit = _moved(store, "subpark-beilun")
    changeset = store.apply([edit], "editor-a", "surveyed by the bureau", {"subpark-beilun": [{"rule": "area"}]})
    assert changeset.dataset_version == store.version() != before
    held, etag = store.current("parks", "subpark-beilun")  # type: ignore[misc]
    assert shapely.equals_exact(held.geometry, edit.geometry, 1e-12) and etag == changeset.versions[0].etag
    assert etag != edit.if_match and etag == feature_etag(held.properties, held.geometry)
    versions = store.versions("parks", "subpark-beilun")
    assert [(v.seq, v.action, v.author) for v in versions] == [(1, "seed", "seed"), (2, "replace", "editor-a")]
    assert versions[0].etag == edit.if_match and versions[1].reason == "surveyed by the bureau"
    assert versions[1].findings == [{"rule": "area"}] and versions[0].findings == []
    first = store.version_of("parks", "subpark-beilun", 1)
    assert first is not None and first.properties == held.properties
    assert shapely.equals_exact(first.geometry, shapely.affinity.translate(edit.geometry, -0.001), 1e-9)
    assert store.version_of("parks", "subpark-beilun", 3) is None and store.versions("parks", "nothing") == []


def test_a_stale_etag_conflicts_and_writes_nothing(store_url: str) -> None:
    store = seeded(store_url)
    edit = _moved(store, "subpark-beilun")
    store.apply([edit], "a", "first")
    version = store.version()
    with pytest.raises(Conflict) as raised:
        store.apply([edit], "b", "second, from the same read")
    assert raised.value.id == "subpark-beilun" and raised.value.expected == edit.if_match
    with pytest.raises(Conflict):  # a write without If-Match cannot replace
        store.apply([Edit("parks", "subpark-beilun", "replace", edit.properties, edit.geometry, None)], "b", "")
    assert store.version() == version and len(store.versions("parks", "subpark-beilun")) == 2


def test_a_changeset_is_whole_or_not_at_all(store_url: str) -> None:
    store = seeded(store_url)
    good = _moved(store, "subpark-beilun")
    stale = Edit("parks", "subpark-jiangbei", "replace", good.properties | {"id": "subpark-jiangbei"}, good.geometry,
                 '"not-its-etag"')
    version = store.version()
    with pytest.raises(Conflict):
        store.apply([good, stale], "a", "two features")
    assert store.version() == version
    assert store.current("parks", "subpark-beilun")[1] == good.if_match  # type: ignore[index]
    assert len(store.versions("parks", "subpark-beilun")) == 1


def test_create_delete_restore(store_url: str) -> None:
    store = seeded(store_url)
    node, _ = store.current("parks", "node-haishu-moon-lake")  # type: ignore[misc]
    properties = node.properties | {"id": "node-test", "name_zh": "测试节点"}
    created = store.apply([Edit("parks", "node-test", "create", properties, node.geometry, action="create")],
                          "a", "new node")
    with pytest.raises(AlreadyExists):
        store.apply([Edit("parks", "node-test", "create", properties, node.geometry)], "a", "again")
    etag = created.versions[0].etag
    assert etag is not None
    store.apply([Edit("parks", "node-test", "delete", if_match=etag, action="delete")], "a", "gone")
    assert store.current("parks", "node-test") is None
    with pytest.raises(NotFound):
        store.apply([Edit("parks", "node-test", "delete", if_match=etag)], "a", "gone twice")
    versions = store.versions("parks", "node-test")
    assert [(v.seq, v.action, v.deleted) for v in versions] == [(1, "create", False), (2, "delete", True)]
    store.apply([Edit("parks", "node-test", "create", versions[0].properties, versions[0].geometry,
                      action="restore")], "admin", "restored")
    assert store.current("parks", "node-test")[1] == etag  # type: ignore[index]
    assert [v.action for v in store.versions("parks", "node-test")] == ["create", "delete", "restore"]
    assert store.status().counts["parks"] == SEED_COUNTS["parks"] + 1


def test_changes_since(store_url: str) -> None:
    store = seeded(store_url)
    everything = store.changes()
    assert len(everything) == sum(SEED_COUNTS.values()) and {v.action for v in everything} == {"seed"}
    mark = datetime.now(UTC)
    store.apply([_moved(store, "subpark-beilun")], "a", "one")
    store.apply([_moved(store, "subpark-jiangbei")], "b", "two")
    since = store.changes(mark)
    assert [(v.id, v.author, v.reason) for v in since] == [("subpark-beilun", "a", "one"),
                                                           ("subpark-jiangbei", "b", "two")]
    assert store.changes(since[0].at) == since[1:] and store.changes(mark, limit=1) == since[:1]
    assert store.changes(datetime.now(UTC) + timedelta(seconds=1)) == []


def test_two_writers_one_wins(store_url: str) -> None:
    store = seeded(store_url)
    edits = [_moved(store, "subpark-beilun", dx) for dx in (0.001, 0.002, 0.003, 0.004)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(edits))

    def write(edit: Edit) -> None:
        barrier.wait()
        try:
            open_store(store_url).apply([edit], "w", "race")
            outcomes.append("won")
        except Conflict:
            outcomes.append("412")

    threads = [threading.Thread(target=write, args=(edit,)) for edit in edits]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["412", "412", "412", "won"]
    assert len(store.versions("parks", "subpark-beilun")) == 2


def test_staged_imports(store_url: str) -> None:
    store = seeded(store_url)
    at = datetime.now(UTC).replace(microsecond=0)
    store.stage(Staged("abc123", "editor", at, {"collection": "subparks", "edits": [1, 2]}))
    staged = store.staged("abc123")
    assert staged is not None and staged.payload == {"collection": "subparks", "edits": [1, 2]}
    assert staged.author == "editor" and staged.at == at
    store.unstage("abc123")
    assert store.staged("abc123") is None


def test_an_older_store_is_upgraded_with_its_history(store_url: str) -> None:
    """A store made and edited by the previous release (revision 0001) gains version 1 of every row it holds."""
    store = seeded(store_url)
    # back to what release 0001 left: no history tables, and an edit made since (in QGIS, say)
    undo = ["DROP TABLE nbgis_versions", "DROP TABLE nbgis_changesets", "DROP TABLE nbgis_tokens",
            "DROP TABLE nbgis_staged", "UPDATE alembic_version SET version_num = '0001'"]
    edit = "UPDATE parks SET properties = replace(properties::text, '北仑', '北侖')::json WHERE id = 'subpark-beilun'"
    if store_url.startswith("postgresql"):
        with psycopg.connect(store_url) as connection:
            for sql in [*undo, edit]:
                connection.execute(sql)
    else:
        undo[:0] = ["DELETE FROM gpkg_geometry_columns WHERE table_name = 'nbgis_versions'",
                    "DELETE FROM gpkg_contents WHERE table_name IN "
                    "('nbgis_versions', 'nbgis_changesets', 'nbgis_tokens', 'nbgis_staged')"]
        with sqlite3.connect(store_url) as connection:
            for sql in [*undo, edit.replace("::text", "").replace("::json", "")]:
                connection.execute(sql)
    assert store.status().revision == "0001"
    store.upgrade()
    assert store.status().revision == "0002"
    versions = store.versions("parks", "subpark-beilun")
    assert len(versions) == 1 and versions[0].action == "seed" and "北侖" in versions[0].properties["name_zh"]
    assert versions[0].etag == store.current("parks", "subpark-beilun")[1]  # type: ignore[index]
    assert len(store.changes()) == sum(SEED_COUNTS.values())


def test_tokens_are_kept_revoked_and_read_afresh(store_url: str) -> None:
    from geo.accounts import TokenRecord

    store = seeded(store_url)
    at = datetime.now(UTC).replace(microsecond=0)
    for token_id, name in (("a1b2c3d4", "beilun-bureau"), ("e5f6a7b8", "beilun-bureau"), ("c0ffee00", "admin")):
        store.add_token(TokenRecord(token_id, name, "editor", ("subparks",), ("330206",), "00ff", "ab" * 32, at,
                                    at + timedelta(days=90), None))
    assert [t.token_id for t in store.tokens()] == ["a1b2c3d4", "c0ffee00", "e5f6a7b8"]
    token = store.token("a1b2c3d4")
    assert token is not None and token.collections == ("subparks",) and token.districts == ("330206",)
    assert token.expires_at == at + timedelta(days=90) and token.revoked_at is None
    assert store.revoke("beilun-bureau", at) == 2 and store.revoke("beilun-bureau", at) == 0
    revoked = open_store(store_url).token("e5f6a7b8")  # another instance's store object sees it at once
    assert revoked is not None and revoked.revoked_at == at
    assert store.token("c0ffee00").revoked_at is None and store.token("nothing") is None  # type: ignore[union-attr]


def test_the_geopackage_extent_holds_what_is_written(tmp_path: Path) -> None:
    """QGIS zooms to gpkg_contents' bounds: a feature written beyond them widens them in the same transaction."""
    store = seeded(str(tmp_path / "store.gpkg"))
    node, _ = store.current("parks", "node-haishu-moon-lake")  # type: ignore[misc]
    with sqlite3.connect(tmp_path / "store.gpkg") as connection:
        before = connection.execute("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents "
                                    "WHERE table_name = 'parks'").fetchone()
    far = shapely.box(before[2] + 0.01, before[1] + 0.1, before[2] + 0.02, before[1] + 0.11)
    store.apply([Edit("parks", "node-far", "create", node.properties | {"id": "node-far"}, far)], "a", "far east")
    with sqlite3.connect(tmp_path / "store.gpkg") as connection:
        after = connection.execute("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents "
                                   "WHERE table_name = 'parks'").fetchone()
    assert after == (before[0], before[1], far.bounds[2], before[3])
