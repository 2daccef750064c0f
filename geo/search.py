"""Search the plan's names as a person types them: part of a Chinese word (生物 finds 生物医药), English words,
pinyin (shengwu, or the initials swyy), district and industry names.

``SearchIndex.from_layers`` builds the index once (pinyin computed by pypinyin, never typed in); ``search``
answers with three lists, industries, districts and features, best first. A feature is found by its own
names, or because it hosts a matching industry (or a narrower one), or lies in a matching district; ``via``
says which. Plain values only: the service adds the links.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from pypinyin import lazy_pinyin

from geo.layers import Layers
from geo.schema import KINDS

MAX_QUERY = 100  # characters: longer is no name in the plan
# Scores: the better the match, the higher; found through an industry or district, a little below it.
EXACT, PREFIX, PART, PINYIN, INITIALS = 100, 90, 70, 60, 50
VIA_PENALTY = 15
_SPACES = re.compile(r"\s+")
_NOT_LATIN = re.compile(r"[^a-z0-9]")


def normalise(text: str) -> str:
    """Full-width letters and digits folded (ＡＢ → ab), lower case, single spaces."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip().lower()


@dataclass(frozen=True)
class Entry:
    type: str  # "industry", "district" or "feature"
    id: str  # the industry code, or the feature id (a district is a feature of the districts collection)
    name_zh: str
    name_en: str
    kind: str | None  # the feature's kind; None for an industry
    collection: str | None  # the service's collection id of a feature
    syllables: tuple[str, ...]  # pinyin of name_zh, one syllable (or non-Chinese run) each, lower case
    industries: frozenset[str] = frozenset()  # a feature's industry codes
    adcodes: frozenset[str] = frozenset()  # a feature's districts (a district: its own adcode)

    def score(self, q: str) -> tuple[int, str] | None:
        """The best way ``q`` (normalised) matches this entry's own names: (score, what matched), or None."""
        zh, en, code = normalise(self.name_zh), normalise(self.name_en), self.id.lower()
        compact = q.replace(" ", "")
        if compact in (zh, en.replace(" ", "")) or q in (en, code):
            return EXACT, "name"
        if zh.startswith(compact) or en.startswith(q):
            return PREFIX, "name"
        if compact and compact in zh:
            return PART, "name_zh"
        words = q.split(" ")
        if all(w in en or w in code for w in words):
            return PART, "name_en"
        latin = _NOT_LATIN.sub("", compact)
        if len(latin) >= 2 and latin == compact:
            pinyin = [_NOT_LATIN.sub("", s) for s in self.syllables]
            if any("".join(pinyin[i:]).startswith(latin) for i in range(len(pinyin))):
                return PINYIN, "pinyin"
            if "".join(s[:1] for s in pinyin if s).startswith(latin):
                return INITIALS, "pinyin initials"
        return None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "id": self.id, "name_zh": self.name_zh, "name_en": self.name_en,
                               "pinyin": " ".join(self.syllables)}
        if self.type != "industry":
            out.update(kind=self.kind, collection=self.collection)
        return out


@dataclass(frozen=True)
class SearchIndex:
    industries: tuple[Entry, ...]
    districts: tuple[Entry, ...]
    features: tuple[Entry, ...]  # every area and platform (the districts are in `districts`)
    narrower: dict[str, frozenset[str]]  # each industry code with every code below it

    @classmethod
    def from_layers(cls, layers: Layers) -> SearchIndex:
        taxonomy = layers.taxonomy
        industries = tuple(Entry("industry", i.code, i.zh, i.en, None, None, _pinyin(i.zh))
                           for i in taxonomy.industries.values())
        districts: list[Entry] = []
        features: list[Entry] = []
        for frame in (layers.parks, layers.platforms, layers.districts):
            for row in frame.itertuples(index=False):
                kind = str(row.kind)
                if kind == "city":
                    continue
                adcodes = [row.adcode] if kind == "district" else list(getattr(row, "district_adcodes", None) or [])
                entry = Entry("district" if kind == "district" else "feature", str(row.id), str(row.name_zh or ""),
                              str(row.name_en or ""), kind, KINDS[kind].collection, _pinyin(str(row.name_zh or "")),
                              frozenset(getattr(row, "industries", None) or []), frozenset(adcodes))
                (districts if kind == "district" else features).append(entry)
        narrower = {code: frozenset(taxonomy.narrower(code)) for code in taxonomy.industries}
        return cls(industries, tuple(districts), tuple(features), narrower)

    def industry_code(self, text: str) -> str | None:
        """The code of the industry named ``text``: its code, Chinese or English name, or pinyin; else None."""
        q = normalise(text)
        compact = q.replace(" ", "")
        for entry in self.industries:
            if q == entry.id.lower() or compact == normalise(entry.name_zh) or q == normalise(entry.name_en) \
                    or compact == "".join(entry.syllables):
                return entry.id
        return None

    def search(self, query: str, limit: int = 50) -> dict[str, Any]:
        """Industries, districts and features matching ``query``, best first, at most ``limit`` features.

        ValueError for an empty or overlong query.
        """
        q = normalise(query)
        if not q:
            raise ValueError("the query is empty")
        if len(q) > MAX_QUERY:
            raise ValueError(f"the query is {len(q)} characters long; at most {MAX_QUERY}")
        industries = _ranked(self.industries, q)
        districts = _ranked(self.districts, q)
        found: dict[str, tuple[int, dict[str, Any]]] = {}
        for entry, (score, matched) in _matches(self.features, q):
            found[entry.id] = (score, {**entry.describe(), "matched": matched, "via": None})
        # then what hosts a matching industry (or a narrower one), and what lies in a matching district
        for hit in industries:
            codes = self.narrower[hit["id"]]
            for entry in self.features:
                if entry.id not in found and entry.industries & codes:
                    found[entry.id] = (hit["score"] - VIA_PENALTY, {**entry.describe(), "matched": "industry",
                                       "via": {"type": "industry", "id": hit["id"], "name_zh": hit["name_zh"],
                                               "name_en": hit["name_en"]}})
        for hit in districts:
            adcode = next(iter(self._district(hit["id"]).adcodes))
            for entry in self.features:
                if entry.id not in found and adcode in entry.adcodes:
                    found[entry.id] = (hit["score"] - VIA_PENALTY, {**entry.describe(), "matched": "district",
                                       "via": {"type": "district", "id": hit["id"], "name_zh": hit["name_zh"],
                                               "name_en": hit["name_en"]}})
        order = sorted(found.values(), key=lambda item: -item[0])  # stable: the layers' order breaks ties
        features = [{**doc, "score": score} for score, doc in order]
        return {"query": query, "industries": industries, "districts": districts,
                "features": features[:limit], "numberMatched": len(features)}

    def _district(self, feature_id: str) -> Entry:
        return next(e for e in self.districts if e.id == feature_id)


def pinyin_keys(text: str) -> str:
    """The pinyin of ``text`` run together, then its initials ("shengwuyiyao swyy"): what a search box matches."""
    letters = [_NOT_LATIN.sub("", s) for s in _pinyin(text)]
    return f"{''.join(letters)} {''.join(s[:1] for s in letters if s)}".strip()


def _pinyin(text: str) -> tuple[str, ...]:
    return tuple(s.lower() for s in lazy_pinyin(text) if s.strip())


def _matches(entries: tuple[Entry, ...], q: str) -> list[tuple[Entry, tuple[int, str]]]:
    out = [(e, s) for e in entries if (s := e.score(q)) is not None]
    return sorted(out, key=lambda item: -item[1][0])


def _ranked(entries: tuple[Entry, ...], q: str) -> list[dict[str, Any]]:
    return [{**e.describe(), "matched": matched, "score": score} for e, (score, matched) in _matches(entries, q)]
