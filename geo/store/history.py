"""Changesets, versions, tokens and staged imports, as SQL both stores run (geo/store/migrations 0002).

The two stores differ only in how a parameter, a geometry, a JSON value and a time are written and read
(`Dialect`); what a write does is the same: inside the caller's transaction, lock each feature's row, compare its
ETag with the one its writer read, write the row, and add a version of it to the changeset.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import shapely

from geo.store.base import (
    LAYERS,
    AlreadyExists,
    Changeset,
    Conflict,
    Edit,
    Feature,
    NotFound,
    Staged,
    Version,
    etag_matches,
    feature_etag,
)

if TYPE_CHECKING:
    from geo.accounts import TokenRecord

SEED_AUTHOR = "seed"
SEED_REASON = "the layers as first loaded from the data folder"


@dataclass(frozen=True)
class Dialect:
    param: str  # a parameter's placeholder
    json_param: str  # a JSON parameter's
    geom_param: str  # a geometry parameter's (its value: encode_geometry's)
    geom_column: str  # the SELECT expression of a geometry column {} (its value: decode_wkb's)
    json_column: str  # the SELECT expression of a JSON column {}, as its text
    row_lock: str  # appended to a SELECT of the rows a write changes
    encode_geometry: Callable[[shapely.Geometry | None], Any]
    decode_wkb: Callable[[Any], bytes | None]
    encode_time: Callable[[datetime], Any]
    decode_time: Callable[[Any], datetime]
    unique_violation: type[Exception]  # what the driver raises when a concurrent transaction took an id

    def sql(self, text: str) -> str:
        """SQL written with ? placeholders, in this dialect."""
        return text.replace("?", self.param)


def now() -> datetime:
    return datetime.now(UTC)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _loads(text: Any) -> Any:
    return None if text is None else json.loads(text)


class History:
    """The history tables, through one DB-API cursor inside the caller's transaction."""

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self.cursor, self.d = cursor, dialect

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        self.cursor.execute(self.d.sql(sql), params)
        return self.cursor

    # features ------------------------------------------------------------------------------------------------
    def current(self, layer: str, feature_id: str, lock: bool = False) -> tuple[Feature, str] | None:
        _check_layer(layer)
        row = self._run(f"SELECT {self.d.json_column.format('properties')}, {self.d.geom_column.format('geom')} "
                        f"FROM {layer} WHERE id = ?"
                        f"{self.d.row_lock if lock else ''}", (feature_id,)).fetchone()
        if row is None:
            return None
        properties, geometry = json.loads(row[0]), _geometry(self.d.decode_wkb(row[1]))
        return Feature(feature_id, properties, geometry), feature_etag(properties, geometry)

    def dataset_version(self) -> str:
        return str(self._run("SELECT uid || '.' || counter FROM nbgis_dataset").fetchone()[0])

    def apply(self, edits: list[Edit], author: str, reason: str,
              findings: Mapping[str, list[dict[str, Any]]] | None) -> Changeset:
        if not edits:
            raise ValueError("a changeset holds at least one edit")
        at = now()
        findings = findings or {}
        changeset = self._run(f"INSERT INTO nbgis_changesets (author, at, reason, findings) "
                              f"VALUES (?, ?, ?, {self.d.json_param}) RETURNING id",
                              (author, self.d.encode_time(at), reason, _dumps(findings))).fetchone()[0]
        versions = []
        for edit in edits:
            held = self.current(edit.layer, edit.id, lock=True)
            if edit.op == "create":
                if held is not None:
                    raise AlreadyExists(edit.layer, edit.id)
            elif held is None:
                raise NotFound(edit.layer, edit.id)
            elif edit.if_match is None or not etag_matches(edit.if_match, held[1]):
                raise Conflict(edit.layer, edit.id, edit.if_match or "(none)", held[1])
            try:
                self._write_row(edit)
            except self.d.unique_violation as exc:  # created by a transaction that committed since we looked
                raise AlreadyExists(edit.layer, edit.id) from exc
            # a deletion keeps what the feature was (its collection, names), without a geometry
            properties = held[0].properties if held is not None and edit.op == "delete" else edit.properties
            geometry = None if edit.op == "delete" else edit.geometry
            seq = self._run("SELECT coalesce(max(seq), 0) + 1 FROM nbgis_versions WHERE layer = ? AND id = ?",
                            (edit.layer, edit.id)).fetchone()[0]
            action = "delete" if edit.op == "delete" else edit.action or edit.op  # Version.deleted reads it
            self._run(f"INSERT INTO nbgis_versions (layer, id, seq, changeset, action, properties, geom) "
                      f"VALUES (?, ?, ?, ?, ?, {self.d.json_param}, {self.d.geom_param})",
                      (edit.layer, edit.id, seq, changeset, action,
                       None if properties is None else _dumps(properties), self.d.encode_geometry(geometry)))
            versions.append(Version(edit.layer, edit.id, seq, changeset, action, author, at, reason,
                                    list(findings.get(edit.id, [])), properties, geometry))
        return Changeset(changeset, author, at, reason, versions, self.dataset_version())

    def _write_row(self, edit: Edit) -> None:
        if edit.op == "delete":
            self._run(f"DELETE FROM {edit.layer} WHERE id = ?", (edit.id,))
            return
        if edit.properties is None or edit.properties.get("id") != edit.id:
            raise ValueError(f"{edit.id}: an edit's properties carry its id")
        values = (_dumps(edit.properties), self.d.encode_geometry(edit.geometry))
        if edit.op == "create":
            self._run(f"INSERT INTO {edit.layer} (id, properties, geom) "
                      f"VALUES (?, {self.d.json_param}, {self.d.geom_param})", (edit.id, *values))
        else:
            self._run(f"UPDATE {edit.layer} SET properties = {self.d.json_param}, geom = {self.d.geom_param} "
                      f"WHERE id = ?", (*values, edit.id))

    def seed(self, features: Mapping[str, list[Feature]]) -> None:
        """Start the history afresh: one changeset holding version 1 of every feature (after a load)."""
        for table in ("nbgis_versions", "nbgis_changesets", "nbgis_staged"):
            self._run(f"DELETE FROM {table}")
        changeset = self._run("INSERT INTO nbgis_changesets (author, at, reason, findings) VALUES (?, ?, ?, '{}') "
                              "RETURNING id", (SEED_AUTHOR, self.d.encode_time(now()), SEED_REASON)).fetchone()[0]
        self.cursor.executemany(
            self.d.sql(f"INSERT INTO nbgis_versions (layer, id, seq, changeset, action, properties, geom) "
                       f"VALUES (?, ?, 1, ?, 'seed', {self.d.json_param}, {self.d.geom_param})"),
            [(layer, f.id, changeset, _dumps(f.properties), self.d.encode_geometry(f.geometry))
             for layer, rows in features.items() for f in rows])

    # versions ------------------------------------------------------------------------------------------------
    def _versions(self, where: str, params: tuple[Any, ...], tail: str = "") -> list[Version]:
        rows = self._run(
            f"SELECT v.layer, v.id, v.seq, v.changeset, v.action, c.author, c.at, c.reason, "
            f"{self.d.json_column.format('c.findings')}, {self.d.json_column.format('v.properties')}, "
            f"{self.d.geom_column.format('v.geom')} "
            f"FROM nbgis_versions v JOIN nbgis_changesets c ON c.id = v.changeset WHERE {where} {tail}",
            params).fetchall()
        return [Version(layer, feature_id, seq, changeset, action, author, self.d.decode_time(at), reason,
                        list((_loads(findings) or {}).get(feature_id, [])), _loads(properties),
                        _geometry(self.d.decode_wkb(geom)))
                for layer, feature_id, seq, changeset, action, author, at, reason, findings, properties, geom in rows]

    def versions(self, layer: str, feature_id: str) -> list[Version]:
        return self._versions("v.layer = ? AND v.id = ?", (layer, feature_id), "ORDER BY v.seq")

    def version_of(self, layer: str, feature_id: str, seq: int) -> Version | None:
        found = self._versions("v.layer = ? AND v.id = ? AND v.seq = ?", (layer, feature_id, seq))
        return found[0] if found else None

    def changes(self, since: datetime | None, limit: int, after: int | None = None,
                through: int | None = None) -> list[Version]:
        where, params = ["1 = 1"], []
        for clause, value in (("c.at > ?", None if since is None else self.d.encode_time(since)),
                              ("c.id > ?", after), ("c.id <= ?", through)):
            if value is not None:
                where.append(clause)
                params.append(value)
        return self._versions(" AND ".join(where), tuple(params), f"ORDER BY v.vid LIMIT {int(limit)}")

    # tokens ----------------------------------------------------------------------------------------------------
    TOKEN_COLUMNS = "token_id, name, role, collections, districts, salt, hash, created_at, expires_at, revoked_at"

    def add_token(self, token: TokenRecord) -> None:
        encode = self.d.encode_time
        self._run(f"INSERT INTO nbgis_tokens ({self.TOKEN_COLUMNS}) "
                  f"VALUES (?, ?, ?, {self.d.json_param}, {self.d.json_param}, ?, ?, ?, ?, ?)",
                  (token.token_id, token.name, token.role, _dumps(list(token.collections)),
                   _dumps(list(token.districts)), token.salt, token.hash, encode(token.created_at),
                   None if token.expires_at is None else encode(token.expires_at),
                   None if token.revoked_at is None else encode(token.revoked_at)))

    def _tokens(self, where: str, params: tuple[Any, ...]) -> list[TokenRecord]:
        from geo.accounts import TokenRecord

        columns = self.TOKEN_COLUMNS.replace("collections", self.d.json_column.format("collections")).replace(
            "districts", self.d.json_column.format("districts"))
        rows = self._run(f"SELECT {columns} FROM nbgis_tokens WHERE {where} ORDER BY created_at, token_id",
                         params).fetchall()
        decode = self.d.decode_time
        return [TokenRecord(token_id, name, role, tuple(json.loads(collections)), tuple(json.loads(districts)),
                            salt, digest, decode(created), None if expires is None else decode(expires),
                            None if revoked is None else decode(revoked))
                for token_id, name, role, collections, districts, salt, digest, created, expires, revoked in rows]

    def tokens(self) -> list[TokenRecord]:
        return self._tokens("1 = 1", ())

    def token(self, token_id: str) -> TokenRecord | None:
        found = self._tokens("token_id = ?", (token_id,))
        return found[0] if found else None

    def revoke(self, name_or_token_id: str, at: datetime) -> int:
        cursor = self._run("UPDATE nbgis_tokens SET revoked_at = ? WHERE (name = ? OR token_id = ?) "
                           "AND revoked_at IS NULL", (self.d.encode_time(at), name_or_token_id, name_or_token_id))
        return int(cursor.rowcount)

    # staged imports ----------------------------------------------------------------------------------------------
    def stage(self, staged: Staged) -> None:
        self._run(f"INSERT INTO nbgis_staged (id, author, at, payload) VALUES (?, ?, ?, {self.d.json_param})",
                  (staged.id, staged.author, self.d.encode_time(staged.at), _dumps(staged.payload)))

    def staged(self, staged_id: str) -> Staged | None:
        row = self._run(f"SELECT id, author, at, {self.d.json_column.format('payload')} "
                        f"FROM nbgis_staged WHERE id = ?", (staged_id,)).fetchone()
        return None if row is None else Staged(row[0], row[1], self.d.decode_time(row[2]), json.loads(row[3]))

    def unstage(self, staged_id: str) -> None:
        self._run("DELETE FROM nbgis_staged WHERE id = ?", (staged_id,))


def _geometry(wkb: bytes | None) -> shapely.Geometry | None:
    return None if wkb is None else shapely.from_wkb(wkb)


def _check_layer(layer: str) -> None:
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}")
