"""Accounts (geo.accounts, services.auth, `nbgis user`): tokens issued with a salted HMAC only, verified in constant
time with expiry and revocation told apart, scope rules with the real district adcodes, the CLI on real stores, and
the HTTP answers (401 with WWW-Authenticate, 403, 429 after repeated failures, reads made private by a setting)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from openapi_spec_validator import validate

from geo import accounts
from geo.accounts import (
    ADMIN,
    EDITOR,
    VIEWER,
    AccountError,
    TokenRecord,
    TokenRejected,
    issue_token,
    may_read,
    may_write,
    parse_duration,
    parse_token,
    verify,
    write_denial,
)
from geo.layers import Layers
from geo.store.base import open_store
from services.app import create_app
from services.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
BEILUN, YINZHOU, ZHENHAI = "330206", "330212", "330211"


def editor(collections: tuple[str, ...] = ("subparks",), districts: tuple[str, ...] = (BEILUN,),
           expires_in: timedelta | None = None) -> tuple[str, TokenRecord]:
    return issue_token("beilun-bureau", EDITOR, collections, districts, expires_in, now=NOW)


def test_a_token_is_its_id_and_a_secret_and_only_a_salted_hmac_is_kept() -> None:
    text, record = editor(expires_in=timedelta(days=90))
    token_id, secret = parse_token(text)
    assert text == f"nbgis_{token_id}_{secret}" and record.token_id == token_id and len(token_id) == 12
    assert len(secret) == 43  # secrets.token_urlsafe(32)
    # the stored hash is HMAC-SHA256 keyed by the salt, recomputed here independently; the secret is nowhere
    assert record.hash == hmac.new(bytes.fromhex(record.salt), secret.encode(), hashlib.sha256).hexdigest()
    assert secret not in repr(record) and len(bytes.fromhex(record.salt)) == 16
    assert (record.name, record.role, record.collections, record.districts) == (
        "beilun-bureau", EDITOR, ("subparks",), (BEILUN,))
    assert record.created_at == NOW and record.expires_at == NOW + timedelta(days=90) and record.revoked_at is None
    # two tokens issued alike share nothing
    other, again = editor()
    assert other != text and again.salt != record.salt and again.token_id != record.token_id


def test_verify_tells_malformed_unknown_wrong_expired_and_revoked_apart() -> None:
    text, record = editor(expires_in=timedelta(hours=1))
    assert verify(text, record, NOW) is record
    assert verify(f"  {text}\n", record, NOW) is record

    def reason(presented: str, held: TokenRecord | None, at: datetime = NOW) -> tuple[str, str | None]:
        with pytest.raises(TokenRejected) as caught:
            verify(presented, held, at)
        assert parse_token(text)[1] not in str(caught.value)  # no message repeats the secret
        return caught.value.reason, caught.value.token_id

    token_id, secret = parse_token(text)
    assert reason("Bearer " + text, record) == (accounts.MALFORMED, None)
    assert reason(f"nbgis_{token_id}", record) == (accounts.MALFORMED, token_id)
    assert reason(f"nbgis_{token_id}_short", record) == (accounts.MALFORMED, token_id)
    assert reason(f"nbgis_XYZ_{secret}", record) == (accounts.MALFORMED, None)
    assert reason("", record) == (accounts.MALFORMED, None)
    assert reason(text, None) == (accounts.UNKNOWN, token_id)
    assert reason(text.replace(token_id, "0" * 12), record) == (accounts.UNKNOWN, "0" * 12)
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert reason(f"nbgis_{token_id}_{flipped}", record) == (accounts.WRONG_SECRET, token_id)
    # expired exactly at expires_at; a second earlier it still works
    assert verify(text, record, NOW + timedelta(minutes=59, seconds=59)) is record
    assert reason(text, record, NOW + timedelta(hours=1)) == (accounts.EXPIRED, token_id)
    revoked = TokenRecord(**{**record.__dict__, "revoked_at": NOW + timedelta(minutes=5)})
    assert verify(text, revoked, NOW + timedelta(minutes=4)) is revoked
    assert reason(text, revoked, NOW + timedelta(minutes=5)) == (accounts.REVOKED, token_id)
    # with an account name (HTTP Basic), it must be the token's
    assert verify(text, record, NOW, name="beilun-bureau") is record
    assert reason_named(text, record, "yinzhou-bureau") == (accounts.WRONG_SECRET, token_id)
    # the wrong secret of a revoked or expired token is told as a wrong secret: only the holder learns the state
    assert reason(f"nbgis_{token_id}_{flipped}", revoked, NOW + timedelta(hours=2)) == (accounts.WRONG_SECRET,
                                                                                        token_id)


def reason_named(text: str, record: TokenRecord, name: str) -> tuple[str, str | None]:
    with pytest.raises(TokenRejected) as caught:
        verify(text, record, NOW, name=name)
    return caught.value.reason, caught.value.token_id


def test_an_editor_writes_its_collections_in_its_districts_before_and_after() -> None:
    _, beilun = editor(("subparks", "corridor-units"), (BEILUN,))
    assert may_write(beilun, "subparks") and may_write(beilun, "corridor-units")
    assert not may_write(beilun, "platforms")  # a collection it was not granted
    assert may_write(beilun, "subparks", [BEILUN], [BEILUN])  # edit its own
    assert may_write(beilun, "subparks", None, [BEILUN])  # create in its district
    assert may_write(beilun, "subparks", [BEILUN], None)  # delete its own
    assert may_write(beilun, "subparks", [BEILUN, ZHENHAI], [ZHENHAI, BEILUN])  # a feature spanning two districts
    assert not may_write(beilun, "subparks", [YINZHOU], [YINZHOU])  # another bureau's feature
    assert not may_write(beilun, "subparks", [YINZHOU], [BEILUN])  # ... not even to take it over
    assert not may_write(beilun, "subparks", [BEILUN], [YINZHOU])  # moving its own feature out of its district
    assert not may_write(beilun, "subparks", None, [YINZHOU])  # creating in another's
    assert not may_write(beilun, "subparks", [YINZHOU], None)  # deleting another's
    assert not may_write(beilun, "subparks", [], [])  # a feature in no district is outside every scope
    denial = write_denial(beilun, "subparks", [BEILUN], [YINZHOU])
    assert denial is not None and "330206" in denial and "would lie in 330212" in denial
    # an editor without districts writes its collections anywhere; "*" is every editable collection
    _, city = issue_token("city-bureau", EDITOR, ["*"], [], None)
    assert may_write(city, "platforms", [YINZHOU], [ZHENHAI]) and may_write(city, "qianwan-zones", None, ["330282"])
    assert not may_write(city, "districts") and not may_write(city, "no-such-collection")


def test_viewers_only_read_and_admins_write_everything_but_reference_data() -> None:
    _, viewer = issue_token("reader", VIEWER, (), (), None)
    _, admin = issue_token("root", ADMIN, (), (), None)
    _, beilun = editor()
    assert viewer.collections == admin.collections == ("*",) and viewer.districts == admin.districts == ()
    assert all(may_read(r, "subparks") and may_read(r, "districts") for r in (viewer, admin, beilun))
    assert not may_write(viewer, "subparks", [BEILUN], [BEILUN])
    assert "reads, it does not write" in (write_denial(viewer, "subparks") or "")
    assert may_write(admin, "subparks", [YINZHOU], [BEILUN]) and may_write(admin, "platforms")
    assert not may_write(admin, "districts")  # the administrative boundaries are not edited by anyone


@pytest.mark.parametrize(("name", "role", "collections", "districts", "expires", "said"), [
    ("bureau", "superuser", (), (), None, "role 'superuser' is unknown"),
    ("bureau", EDITOR, (), (), None, "an editor needs collections"),
    ("bureau", EDITOR, ("parks",), (), None, "collection 'parks' is unknown"),
    ("bureau", EDITOR, ("districts",), (), None, "reference data"),
    ("bureau", EDITOR, ("*", "subparks"), (), None, "give it alone"),
    ("bureau", EDITOR, ("subparks",), ("330200",), None, "district '330200' is not an adcode"),
    ("bureau", EDITOR, ("subparks",), ("北仑",), None, "not an adcode"),
    ("bureau", VIEWER, ("subparks",), (), None, "only to an editor"),
    ("bureau", ADMIN, (), (BEILUN,), None, "only to an editor"),
    ("", EDITOR, ("subparks",), (), None, "name ''"),
    ("two words", EDITOR, ("subparks",), (), None, "no spaces"),
    ("deadbeef", EDITOR, ("subparks",), (), None, "looks like a token id"),
    ("bureau", EDITOR, ("subparks",), (), timedelta(0), "must expire in the future"),
])
def test_issuing_refuses_what_cannot_be_meant(name: str, role: str, collections: tuple[str, ...],
                                              districts: tuple[str, ...], expires: timedelta | None,
                                              said: str) -> None:
    with pytest.raises(AccountError, match=said.replace("*", r"\*")):
        issue_token(name, role, collections, districts, expires)


def test_names_may_be_chinese_and_durations_read_as_written() -> None:
    _, record = issue_token("北仑区科技局", EDITOR, ("subparks", "subparks"), (BEILUN, BEILUN), None)
    assert record.name == "北仑区科技局" and record.collections == ("subparks",) and record.districts == (BEILUN,)
    assert parse_duration("90d") == timedelta(days=90) and parse_duration("12H") == timedelta(hours=12)
    assert parse_duration("30m") == timedelta(minutes=30) and parse_duration("2w") == timedelta(weeks=2)
    for bad in ("0d", "90", "d", "1y", "-5d", "1.5d"):
        with pytest.raises(AccountError, match="duration"):
            parse_duration(bad)


# --- HTTP: reads made private by the setting -------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_fixed(layers: Layers) -> TestClient:
    """An app over fixed layers (no store, so no accounts) whose reads need a token."""
    return TestClient(create_app(layers, Settings(read_requires_token=True)))


def test_private_reads_leave_the_way_in_open_and_ask_a_token_for_the_rest(private_fixed: TestClient,
                                                                          client: TestClient) -> None:
    for path in ("/", "/conformance", "/api", "/favicon.ico", "/assets/nbgis/pages.css", "/?f=html"):
        assert private_fixed.get(path).status_code == 200, path
    for path in ("/collections", "/collections/subparks/items", "/collections/subparks/items/beilun",
                 "/industries", "/search?q=北仑", "/locate?lon=121.6&lat=29.9", "/stats", "/maps/overview",
                 "/export?collections=subparks&f=geojson"):
        r = private_fixed.get(path)
        assert r.status_code == 401, path
        assert r.headers["www-authenticate"] == 'Bearer realm="nbgis"' and r.json()["code"] == "Unauthorized"
        assert "etag" not in r.headers and b"beilun" not in r.content
    # POST /locate reads too; a CORS preflight is still answered
    assert private_fixed.post("/locate", json={"type": "Point", "coordinates": [121.6, 29.9]}).status_code == 401
    preflight = private_fixed.options("/collections", headers={"Origin": "https://example.org",
                                                               "Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 200
    # a browser is told on a page, with the same challenge
    page = private_fixed.get("/collections", headers={"Accept": "text/html"})
    assert page.status_code == 401 and page.headers["content-type"].startswith("text/html")
    assert page.headers["www-authenticate"] == 'Bearer realm="nbgis"'
    # a token cannot be checked without a store: said plainly, not a 500
    r = private_fixed.get("/collections", headers={"Authorization": "Bearer nbgis_0123456789ab_" + "x" * 43})
    assert r.status_code == 501 and "no accounts" in r.json()["description"]
    # the API's definition says which operations need the token
    doc = private_fixed.get("/api").json()
    validate(doc)
    assert doc["paths"]["/collections"]["get"]["security"] == [{"bearer": []}]
    assert "401" in doc["paths"]["/collections/{collectionId}/items"]["get"]["responses"]
    assert "security" not in doc["paths"]["/"]["get"] and "security" not in doc["paths"]["/conformance"]["get"]
    # the default: reads are open data, and said to be
    assert client.get("/collections").status_code == 200
    assert "security" not in client.get("/api").json()["paths"]["/collections"]["get"]


class Records(logging.Handler):
    """What "nbgis.auth" logs (the service's loggers do not propagate to pytest's caplog)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextmanager
def auth_log() -> Iterator[Records]:
    handler, logger = Records(), logging.getLogger("nbgis.auth")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def bearer(text: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {text}"}


def test_private_reads_on_a_store_check_each_token_every_time_on_every_instance(store_url: str) -> None:
    settings = Settings(store=store_url, read_requires_token=True)
    with TestClient(create_app(settings=settings)) as one, TestClient(create_app(settings=settings)) as two, \
            auth_log() as logged:
        store = open_store(store_url)
        viewer_text, viewer = issue_token("reader", VIEWER, (), (), None)
        editor_text, editor_record = editor()
        old_text, old = issue_token("old", VIEWER, (), (), timedelta(minutes=1), now=datetime.now(UTC) - timedelta(
            minutes=2))
        for record in (viewer, editor_record, old):
            store.add_token(record)
        for app in (one, two):
            r = app.get("/collections/subparks/items", headers=bearer(viewer_text))
            assert r.status_code == 200 and len(r.json()["features"]) == 10
            # answers for a token holder only: no shared cache may keep them
            assert "public" not in r.headers.get("cache-control", "")
            # neither a kept answer nor a 304 reaches a client without a token
            app.get("/collections/subparks/items", headers=bearer(editor_text))
            for headers in ({}, {"If-None-Match": "*"}, {"If-None-Match": r.headers.get("etag", "*")}):
                refused = app.get("/collections/subparks/items", headers=headers)
                assert refused.status_code == 401 and refused.headers["www-authenticate"] == 'Bearer realm="nbgis"'
                assert b"subpark-beilun" not in refused.content
        secret = parse_token(viewer_text)[1]
        wrong = viewer_text[:-4] + ("AAAA" if not viewer_text.endswith("AAAA") else "BBBB")

        def refused(app: TestClient, text: str) -> str:
            r = app.get("/collections", headers=bearer(text))
            assert r.status_code == 401, r.text
            assert r.headers["www-authenticate"] == 'Bearer realm="nbgis", error="invalid_token"'
            description: str = r.json()["description"]
            return description

        assert "is not valid here" in refused(one, wrong)
        assert "is not valid here" in refused(one, "nbgis_0123456789ab_" + secret)  # unknown: told the same way
        assert "expired at" in refused(two, old_text)
        assert "a token looks like nbgis_<id>_<secret>" in refused(two, "letmein")
        # a revocation (nbgis user revoke) stops the token at once on both instances, with no restart
        assert store.revoke(viewer.token_id, datetime.now(UTC)) == 1
        assert "was revoked at" in refused(one, viewer_text) and "was revoked at" in refused(two, viewer_text)
        assert one.get("/collections", headers=bearer(editor_text)).status_code == 200
        # a role this release does not know (the table edited by hand) reads nothing
        odd_text, odd = issue_token("odd", VIEWER, (), (), None)
        store.add_token(TokenRecord(**{**odd.__dict__, "role": "auditor"}))
        assert one.get("/collections/subparks/items", headers=bearer(odd_text)).status_code == 403
        assert two.get("/stats", headers=bearer(odd_text)).status_code == 403
    # every failure is logged with the client, the token id and why, and never with a secret
    failures = [line for line in logged.lines if "refused: token" in line]
    assert len(failures) == 6
    assert sum("refused: no bearer token" in line for line in logged.lines) == 6  # 3 requests on each instance
    assert any(f"token {viewer.token_id}: wrong-secret" in line for line in failures)
    assert any("token 0123456789ab: unknown" in line for line in failures)
    assert any(f"token {old.token_id}: expired" in line for line in failures)
    assert any("token -: malformed" in line for line in failures)
    assert sum(f"token {viewer.token_id}: revoked" in line for line in failures) == 2
    assert all("testclient" in line for line in failures)
    assert not any(secret in line or parse_token(editor_text)[1] in line for line in logged.lines)


def test_repeated_failures_from_one_address_get_429_but_valid_tokens_pass(tmp_path: Path) -> None:
    settings = Settings(store=str(tmp_path / "store.gpkg"), read_requires_token=True)
    with TestClient(create_app(settings=settings)) as app:
        text, record = issue_token("reader", VIEWER, (), (), None)
        open_store(settings.store).add_token(record)
        bad = bearer("nbgis_0123456789ab_" + parse_token(text)[1])
        assert [app.get("/collections", headers=bad).status_code for _ in range(10)] == [401] * 10
        limited = app.get("/collections", headers=bad)
        assert limited.status_code == 429 and limited.json()["code"] == "TooManyRequests"
        assert 55 <= int(limited.headers["retry-after"]) <= 60
        assert app.get("/collections", headers=bearer("garbage")).status_code == 429
        # successes are neither counted nor refused; a request without a token is told it needs one
        assert all(app.get("/collections", headers=bearer(text)).status_code == 200 for _ in range(20))
        assert app.get("/collections").status_code == 401
        # another address has its own count
        other = TestClient(app.app, client=("192.0.2.7", 50000))
        assert other.get("/collections", headers=bad).status_code == 401


def nbgis(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nbgis", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def raw_tokens(store_url: str) -> list[tuple[str, ...]]:
    """nbgis_tokens as the database holds it, read without nbgis."""
    sql = ("SELECT token_id, name, role, salt, hash, CAST(expires_at AS TEXT), CAST(revoked_at AS TEXT) "
           "FROM nbgis_tokens")
    if store_url.startswith("postgresql"):
        with psycopg.connect(store_url) as connection:
            return [tuple(row) for row in connection.execute(sql)]
    with sqlite3.connect(store_url) as connection:
        rows = [tuple(row) for row in connection.execute(sql)]
        assert [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                if "token" in r[0]] == ["nbgis_tokens"]
        return rows


def test_cli_prints_the_token_once_and_stores_only_a_salted_hash(store_url: str) -> None:
    added = nbgis("user", "add", "beilun-bureau", "--role", "editor", "--collections", "subparks,corridor-units",
                  "--districts", "330206", "--expires", "90d", "--store", store_url)
    assert added.returncode == 0, added.stderr
    text = added.stdout.strip()
    token_id, secret = parse_token(text)
    assert "cannot be shown again" in added.stderr and secret not in added.stderr
    assert (f"added token {token_id} for beilun-bureau: editor writing subparks, corridor-units in 330206"
            in added.stderr)
    admin = nbgis("user", "add", "root", "--role", "admin", "--store", store_url)
    assert admin.returncode == 0, admin.stderr
    # the database holds the salt and the HMAC, never the secret; the HMAC is that of the printed secret
    rows = {row[0]: row for row in raw_tokens(store_url)}
    assert set(rows) == {token_id, parse_token(admin.stdout.strip())[0]}
    _, name, role, salt, digest, expires, revoked = rows[token_id]
    assert (name, role, revoked) == ("beilun-bureau", "editor", None) and expires is not None
    assert digest == hmac.new(bytes.fromhex(salt), secret.encode(), hashlib.sha256).hexdigest()
    assert not any(secret in str(cell) or text in str(cell) for row in rows.values() for cell in row)
    stored = open_store(store_url).token(token_id)
    assert stored is not None and verify(text, stored) == stored
    assert stored.collections == ("subparks", "corridor-units") and stored.districts == (BEILUN,)
    assert stored.expires_at is not None
    assert timedelta(days=89, hours=23) < stored.expires_at - stored.created_at <= timedelta(days=90)
    # list: every column but the hashes
    listed = nbgis("user", "list", "--store", store_url)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["NAME", "TOKEN", "ID", "ROLE", "COLLECTIONS", "DISTRICTS", "CREATED", "EXPIRES",
                                "REVOKED"]
    assert lines[1].split()[:5] == ["beilun-bureau", token_id, "editor", "subparks,corridor-units", "330206"]
    assert lines[2].split()[:5] == ["root", rows[lines[2].split()[1]][0], "admin", "*", "*"]
    assert lines[2].split()[-2:] == ["never", "-"]
    assert salt not in listed.stdout and digest not in listed.stdout
    # revoke by id, then by name; a second revoke has nothing left to revoke
    assert nbgis("user", "revoke", token_id, "--store", store_url).stdout.startswith("revoked 1 token of")
    assert "revoked 1 token of root" in nbgis("user", "revoke", "root", "--store", store_url).stdout
    again = nbgis("user", "revoke", "root", "--store", store_url)
    assert again.returncode == 2 and "no token in use has the name or id 'root'" in again.stderr
    assert all(row[-1] is not None for row in raw_tokens(store_url))
    with pytest.raises(TokenRejected, match="was revoked"):
        verify(text, open_store(store_url).token(token_id))
    assert nbgis("user", "list", "--store", store_url).stdout.count("Z  20") == 2  # both show when revoked


@pytest.mark.parametrize(("args", "said"), [
    (("--role", "owner"), "role 'owner' is unknown"),
    (("--role", "editor"), "an editor needs collections"),
    (("--role", "editor", "--collections", "subparks", "--districts", "330200"), "district '330200'"),
    (("--role", "editor", "--collections", "subparks", "--expires", "soon"), "duration 'soon'"),
])
def test_cli_refusals_are_one_line_and_write_nothing(tmp_path: Path, args: tuple[str, ...], said: str) -> None:
    store = tmp_path / "store.gpkg"
    done = nbgis("user", "add", "bureau", *args, "--store", str(store))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("nbgis: error: ") and said in done.stderr and len(done.stderr.splitlines()) == 1
    assert not store.exists()  # checked before the store is even made


def test_the_lookup_benchmark_times_real_checks(tmp_path: Path) -> None:
    from bench.auth import seeded, time_lookups

    store = seeded(str(tmp_path / "store.gpkg"))
    times = time_lookups(store, 20, 5)
    assert len(times) == 20 and all(t > 0 for t in times)
    assert len(store.tokens()) == 5 and {t.name for t in store.tokens()} == {f"bureau-{i}" for i in range(5)}


# --- HTTP: writes (services.edit) check the token, the role and the scope --------------------------------------

PATCH = "application/merge-patch+json"


def patch(app: TestClient, path: str, token: str | None, properties: dict[str, object]) -> Response:
    """A merge patch of the feature's properties over what it is now (its current ETag in If-Match)."""
    etag = app.get(path).headers["etag"]
    headers = {"Content-Type": PATCH, "If-Match": etag, **(bearer(token) if token else {})}
    return app.patch(path, content=json.dumps({"properties": properties}), headers=headers)


def test_writes_need_a_token_whose_role_collections_and_districts_allow_them(store_url: str) -> None:
    settings = Settings(store=store_url)
    with TestClient(create_app(settings=settings)) as one, TestClient(create_app(settings=settings)) as two, \
            auth_log() as logged:
        store = open_store(store_url)
        issued = {name: issue_token(name, role, collections, districts, None) for name, role, collections, districts
                  in (("reader", VIEWER, (), ()), ("beilun-bureau", EDITOR, ("subparks",), (BEILUN,)),
                      ("corridor-office", EDITOR, ("corridor-units",), ()), ("root", ADMIN, (), ()))}
        for _, record in issued.values():
            store.add_token(record)
        viewer_text, beilun_text, corridor_text, admin_text = (text for text, _ in issued.values())
        beilun_park = "/collections/subparks/items/subpark-beilun"
        yinzhou_park = "/collections/subparks/items/subpark-yinzhou"

        # no token, a bad one, a viewer's
        r = patch(one, beilun_park, None, {"name_en": "Beilun"})
        assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer realm="nbgis"'
        assert "Authorization: Bearer" in r.json()["description"]
        r = patch(one, beilun_park, "nbgis_0123456789ab_" + "x" * 43, {"name_en": "Beilun"})
        assert r.status_code == 401 and r.headers["www-authenticate"].endswith('error="invalid_token"')
        r = patch(one, beilun_park, viewer_text, {"name_en": "Beilun"})
        assert r.status_code == 403 and r.json()["code"] == "Forbidden" and "does not write" in r.json()["description"]
        assert r.headers["www-authenticate"] == 'Bearer realm="nbgis", error="insufficient_scope"'
        # the Beilun bureau: its own sub-park yes; another district's, or moving its own out, no
        r = patch(one, beilun_park, beilun_text, {"name_en": "Beilun Sub-park (surveyed)"})
        assert r.status_code == 200, r.text
        assert one.get(beilun_park).json()["properties"]["name_en"] == "Beilun Sub-park (surveyed)"  # the writer's
        r = patch(one, yinzhou_park, beilun_text, {"name_en": "Taken over"})
        assert r.status_code == 403 and "lies in 330212" in r.json()["description"]
        r = patch(one, "/collections/subparks/items/subpark-daxie", beilun_text, {"district_adcodes": [YINZHOU]})
        assert r.status_code == 403 and "would lie in 330212" in r.json()["description"]
        r = one.delete(yinzhou_park, headers={**bearer(beilun_text), "If-Match": one.get(yinzhou_park).headers["etag"]})
        assert r.status_code == 403
        r = patch(one, "/collections/corridor-units/items/unit-jiangwan-town", beilun_text, {"name_en": "Jiangwan"})
        assert r.status_code == 403 and "writes subparks, not corridor-units" in r.json()["description"]
        # an editor without districts writes its collection anywhere, and nothing else; an admin writes all
        assert patch(two, "/collections/corridor-units/items/unit-east-bund", corridor_text,
                     {"name_en": "East Bund"}).status_code == 200
        assert patch(two, yinzhou_park, corridor_text, {"name_en": "Yinzhou"}).status_code == 403
        assert patch(two, yinzhou_park, admin_text, {"name_en": "Yinzhou Sub-park (checked)"}).status_code == 200
        # QGIS's Basic authentication: the account's name and the token as its password
        def basic(user: str, password: str) -> str:
            return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

        for authorization, status in ((basic("root", admin_text), 200), (basic("beilun-bureau", admin_text), 401),
                                      (basic("root", "not-a-token"), 401), ("Basic %%%", 401)):
            etag = two.get(yinzhou_park).headers["etag"]
            r = two.patch(yinzhou_park, content=json.dumps({"properties": {"name_en": "Yinzhou Sub-park (checked)"}}),
                          headers={"Content-Type": PATCH, "If-Match": etag, "Authorization": authorization})
            assert r.status_code == status, (authorization, r.text)
            if status == 401:
                assert r.headers["www-authenticate"] == 'Bearer realm="nbgis", error="invalid_token"'
        # each refused write changed nothing; the history names who wrote what
        held = {fid: store.current("parks", fid) for fid in ("subpark-yinzhou", "subpark-daxie", "unit-jiangwan-town")}
        now = {fid: found[0].properties for fid, found in held.items() if found is not None}
        assert now["subpark-yinzhou"]["name_en"] == "Yinzhou Sub-park (checked)"
        assert now["subpark-daxie"]["district_adcodes"] == [BEILUN]
        assert now["unit-jiangwan-town"]["name_en"] != "Jiangwan"
        assert [v.author for v in store.versions("parks", "subpark-beilun")][-1] == "beilun-bureau"
        assert [v.author for v in store.versions("parks", "subpark-yinzhou")][-1] == "root"
        # revoked on the command line: both instances refuse it at the very next write
        assert nbgis("user", "revoke", "beilun-bureau", "--store", store_url).returncode == 0
        for app in (one, two):
            r = patch(app, beilun_park, beilun_text, {"name_en": "Beilun again"})
            assert r.status_code == 401 and "was revoked" in r.json()["description"]
        # no page of another origin may send a write with a token: the browser's preflight is refused
        for method, headers, said in (("PATCH", "", "Disallowed CORS method"),
                                      ("POST", "authorization,content-type", "Disallowed CORS headers")):
            preflight = one.options("/collections/subparks/items", headers={
                "Origin": "https://elsewhere.example", "Access-Control-Request-Method": method,
                **({"Access-Control-Request-Headers": headers} if headers else {})})
            assert preflight.status_code == 400 and preflight.text == said
            assert "PATCH" not in preflight.headers["access-control-allow-methods"]
    assert any("token 0123456789ab: unknown" in line for line in logged.lines)
    assert sum(": revoked" in line for line in logged.lines) == 2
