"""Search as people type: part of a Chinese word, pinyin, English, districts and industries; geo.search directly
and GET /search (JSON and HTML), and industry names in place of codes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from geo.layers import Layers
from geo.queries import hosting_industry
from geo.search import SearchIndex
from tests.api_helpers import assert_api_error


@pytest.fixture(scope="module")
def index(layers: Layers) -> SearchIndex:
    return SearchIndex.from_layers(layers)


def ids(hits: list[dict[str, Any]]) -> list[str]:
    return [h["id"] for h in hits]


def test_part_of_a_chinese_word_finds_the_industry_and_every_host(index: SearchIndex, layers: Layers) -> None:
    found = index.search("生物")
    assert ids(found["industries"])[0] == "biomedicine"  # 生物医药 starts with 生物: ahead of 海洋生物种业
    assert set(ids(found["industries"])) == {c for c, i in layers.taxonomy.industries.items() if "生物" in i.zh}
    hosts = set(hosting_industry(layers, "biomedicine")["id"])
    features = {f["id"]: f for f in found["features"]}
    assert hosts <= set(features)
    via = features["subpark-ninghai"]["via"]
    assert features["subpark-ninghai"]["matched"] == "industry" and via["id"] in ids(found["industries"])
    assert found["numberMatched"] == len(found["features"])


@pytest.mark.parametrize(("query", "industry"), [
    ("shengwu", "biomedicine"),  # pinyin, from the first syllable
    ("yiyao", "biomedicine"),  # from a later syllable
    ("swyy", "biomedicine"),  # initials
    ("ShengWu YiYao", "biomedicine"),  # spaces and capitals
    ("xincailiao", "new-materials"),
    ("biomedicine", "biomedicine"),  # English
    ("Biomed", "biomedicine"),
    ("new materials", "new-materials"),  # English words
    ("ｎｅｗ　ｍａｔｅｒｉａｌｓ", "new-materials"),  # full-width, as a Chinese keyboard types it
])
def test_pinyin_and_english_find_the_industry(index: SearchIndex, query: str, industry: str) -> None:
    assert ids(index.search(query)["industries"])[0] == industry


def test_pinyin_is_computed_not_typed(index: SearchIndex) -> None:
    entry = next(e for e in index.industries if e.id == "biomedicine")
    assert entry.syllables == ("sheng", "wu", "yi", "yao")
    assert next(e for e in index.districts if e.name_zh == "鄞州区").syllables == ("yin", "zhou", "qu")
    # every name with Chinese characters has pinyin, one syllable a character
    for entry in (*index.industries, *index.districts, *index.features):
        hanzi = sum("\u4e00" <= c <= "\u9fff" for c in entry.name_zh)
        assert sum(s.isalpha() and s.isascii() for s in entry.syllables) >= hanzi, entry


@pytest.mark.parametrize("query", ["鄞州", "鄞州区", "yinzhou", "Yinzhou"])
def test_a_district_finds_itself_and_what_lies_in_it(index: SearchIndex, layers: Layers, query: str) -> None:
    found = index.search(query, limit=500)
    assert ids(found["districts"]) == ["district-yinzhou"]
    inside = {fid for frame in (layers.parks, layers.platforms)
              for fid, adcodes in zip(frame["id"], frame["district_adcodes"]) if "330212" in (adcodes or [])}
    assert set(ids(found["features"])) >= inside
    assert found["features"][0]["id"] == "subpark-yinzhou"  # its own name matches: before what lies in it


def test_english_words_find_features(index: SearchIndex) -> None:
    found = index.search("ningbo university")
    assert found["features"][0]["id"] == "platform-ningbo-university"
    assert all("ningbo" in f["name_en"].lower() and "universit" in f["name_en"].lower() for f in found["features"])


def test_nothing_and_bad_queries(index: SearchIndex) -> None:
    assert index.search("xyzzy") == {"query": "xyzzy", "industries": [], "districts": [], "features": [],
                                     "numberMatched": 0}
    for bad in ("", "   ", "生" * 101):
        with pytest.raises(ValueError):
            index.search(bad)


@pytest.mark.parametrize(("name", "code"), [("生物医药", "biomedicine"), ("Biomedicine", "biomedicine"),
                                            ("shengwuyiyao", "biomedicine"), ("new-materials", "new-materials"),
                                            ("新材料", "new-materials"), ("生物", None), ("", None)])
def test_industry_code_of_a_name(index: SearchIndex, name: str, code: str | None) -> None:
    assert index.industry_code(name) == code


def test_search_over_http_links_each_answer(client: TestClient) -> None:
    doc = client.get("/search", params={"q": "生物"}).json()
    top = doc["industries"][0]
    assert top["id"] == "biomedicine" and top["href"].endswith("/industries/biomedicine")
    assert top["map"].endswith("/maps/industry/biomedicine")
    assert client.get(top["href"]).json()["code"] == "biomedicine"
    feature = next(f for f in doc["features"] if f["id"] == "subpark-ninghai")
    assert feature["href"].endswith("/collections/subparks/items/subpark-ninghai")
    assert client.get(feature["href"]).json()["id"] == "subpark-ninghai"
    assert client.get(feature["map"]).status_code == 200
    district = client.get("/search", params={"q": "yinzhou"}).json()["districts"][0]
    assert district["href"].endswith("/collections/districts/items/district-yinzhou")
    assert len(client.get("/search", params={"q": "鄞州", "limit": 3}).json()["features"]) == 3


def test_search_page_lists_the_answers(client: TestClient) -> None:
    page = client.get("/search", params={"q": "shengwu", "f": "html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'data-id="biomedicine"' in page.text and "/industries/biomedicine?f=html" in page.text
    assert 'data-id="subpark-ninghai"' in page.text
    empty = client.get("/search", params={"q": "xyzzy", "f": "html"})
    assert 'id="no-results"' in empty.text
    form = client.get("/search", params={"f": "html"})
    assert form.status_code == 200 and 'name="q"' in form.text


@pytest.mark.parametrize(("params", "words"), [({}, ["q"]), ({"q": " "}, ["q"]), ({"q": "生" * 101}, ["q"]),
                                               ({"q": "a", "limit": "0"}, ["limit"]), ({"q": "a", "x": "1"}, ["x"])])
def test_search_errors(client: TestClient, params: dict[str, str], words: list[str]) -> None:
    assert_api_error(client.get("/search", params=params), 400, *words)


def test_an_industry_name_redirects_to_its_code(client: TestClient) -> None:
    moved = client.get("/industries/生物医药", params={"f": "html"}, follow_redirects=False)
    assert moved.status_code == 308
    assert moved.headers["location"].endswith("/industries/biomedicine?f=html")
    assert client.get("/industries/生物医药").json() == client.get("/industries/biomedicine").json()
    assert client.get("/industries/Biomedicine").json()["code"] == "biomedicine"
    assert client.get("/maps/industry/生物医药", follow_redirects=False).headers["location"].endswith(
        "/maps/industry/biomedicine")
    assert_api_error(client.get("/industries/生物"), 404, "生物", "/search")
