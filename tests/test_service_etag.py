"""Conditional GETs over real HTTP (uvicorn on 127.0.0.1, httpx): ETag and Cache-Control on every GET answer,
304 for a repeated request (GET and HEAD, gzipped or not), and a new answer once the data's version changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from geo.layers import load_layers
from services.app import create_app
from services.state import Service
from tests.conftest import serve_in_thread

URLS = ["/", "/collections", "/collections/subparks/items?limit=3", "/collections/subparks/items/subpark-beilun",
        "/collections/subparks/items/subpark-beilun?f=html", "/locate?lon=121.5&lat=29.8", "/api"]


@pytest.fixture
def served(data_copy: Path) -> Iterator[tuple[str, Any]]:
    app = create_app(load_layers(data_copy))
    with serve_in_thread(app) as url:
        yield url, app


def test_every_get_has_an_etag_and_a_repeat_is_304(served: tuple[str, Any]) -> None:
    base, _ = served
    with httpx.Client(base_url=base) as client:
        for url in URLS:
            first = client.get(url)
            assert first.status_code == 200, url
            etag = first.headers["etag"]
            assert etag.startswith('W/"') and first.headers["cache-control"] == "public, no-cache"
            again = client.get(url, headers={"If-None-Match": etag})
            assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag, url
            assert client.head(url, headers={"If-None-Match": etag}).status_code == 304
            assert client.get(url, headers={"If-None-Match": 'W/"other", ' + etag}).status_code == 304
            assert client.get(url, headers={"If-None-Match": 'W/"other"'}).status_code == 200
            # The answer kept serialized is the answer built.
            assert client.get(url).content == first.content or "timeStamp" in first.text
        # gzip or not, one weak ETag; another Accept, another answer and another ETag.
        url = "/collections/subparks/items?limit=3"
        zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
        plain = client.get(url, headers={"Accept-Encoding": "identity"})
        assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
        assert zipped.headers["etag"] == plain.headers["etag"] and zipped.headers["etag"].startswith("W/")
        zipped_doc, plain_doc = json.loads(zipped.content), json.loads(plain.content)
        zipped_doc.pop("timeStamp", None), plain_doc.pop("timeStamp", None)  # the two may straddle a second
        assert zipped_doc == plain_doc
        html = client.get(url, headers={"Accept": "text/html"})
        assert html.headers["etag"] != plain.headers["etag"] and "Accept" in html.headers["vary"]
        # Errors carry no ETag; files keep their own and answer 304 to it.
        assert "etag" not in client.get("/collections/nope").headers
        asset = client.get("/favicon.ico")
        assert asset.status_code == 200 and asset.headers["cache-control"] == "public, max-age=86400"


def test_a_new_data_version_gets_a_new_answer(served: tuple[str, Any], data_copy: Path) -> None:
    base, app = served
    url = "/collections/subparks/items/subpark-beilun"
    with httpx.Client(base_url=base) as client:
        first = client.get(url)
        etag = first.headers["etag"]
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
        # The data change: a sub-park renamed, and a Service of the new dataset version swapped in (as the
        # store's watcher does when a commit moves the version).
        parks = data_copy / "parks.geojson"
        parks.write_text(parks.read_text("utf-8").replace("北仑分园", "北仑新园"), encoding="utf-8")
        old_version = app.state.service.version
        app.state.service = Service.build(load_layers(data_copy), version=f"{old_version}-edited")
        after = client.get(url, headers={"If-None-Match": etag})
        assert after.status_code == 200 and after.headers["etag"] != etag
        assert after.json()["properties"]["name_zh"] == "北仑新园"
        assert first.json()["properties"]["name_zh"] == "北仑分园"
        assert client.get(url, headers={"If-None-Match": after.headers["etag"]}).status_code == 304


def test_language_and_unknown_vary_headers(served: tuple[str, Any]) -> None:
    base, _ = served
    with httpx.Client(base_url=base) as client:
        zh = client.get("/?f=html", headers={"Accept-Language": "zh-CN"})
        en = client.get("/?f=html", headers={"Accept-Language": "en"})
        assert '<html lang="zh-CN">' in zh.text and '<html lang="en">' in en.text  # not one kept for both
        assert zh.headers["etag"] != en.headers["etag"]
        assert client.get("/?f=html", headers={"Accept-Language": "en", "If-None-Match": zh.headers["etag"]}
                          ).status_code == 200
