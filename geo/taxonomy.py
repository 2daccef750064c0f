"""The plan's industry vocabulary: codes, names, the groups the plan uses, and broader terms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Industry:
    code: str
    zh: str
    en: str
    broader: str | None
    groups: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Taxonomy:
    industries: dict[str, Industry]
    groups: dict[str, dict[str, Any]]

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Taxonomy:
        inds = {
            d["code"]: Industry(d["code"], d["zh"], d["en"], d.get("broader"), tuple(d.get("groups", [])),
                                d.get("source", ""))
            for d in doc["industries"]
        }
        return cls(inds, {g["code"]: g for g in doc["groups"]})

    def __contains__(self, code: object) -> bool:
        return code in self.industries

    def narrower(self, code: str) -> set[str]:
        """The code and every code below it: asking for new materials also finds membrane materials."""
        found = {code}
        changed = True
        while changed:
            more = {c for c, i in self.industries.items() if i.broader in found} - found
            found |= more
            changed = bool(more)
        return found

    def problems(self) -> list[str]:
        out = []
        for ind in self.industries.values():
            if ind.broader is not None and ind.broader not in self.industries:
                out.append(f"{ind.code}: broader term {ind.broader!r} is not a code")
            out += [f"{ind.code}: group {g!r} is not a group" for g in ind.groups if g not in self.groups]
            if ind.broader is not None and ind.broader in self.narrower(ind.code):
                out.append(f"{ind.code}: broader terms form a cycle")
        return out
