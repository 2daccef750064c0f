"""What a feature's tooltip, popup and search entry say. Every piece of text is HTML-escaped here."""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape
from typing import Any
from urllib.parse import quote

import pandas as pd

from geo.boundaries import SCHEMATIC, SURVEYED
from geo.layers import Layers
from geo.schema import KINDS
from maps.i18n import TEXT, t

# The plan's own words about an area, shown verbatim, in this order.
PLAN_TEXT = (("unit_type_zh", "h.unit_type"), ("industry_zh", "h.industry"), ("positioning_zh", "h.positioning"),
             ("function_zh", "h.function"), ("focus_zh", "h.focus"), ("description_zh", "h.description"))
COMPARATORS = {">=": "≥", ">": ">", None: ""}
Row = Mapping[str, Any] | pd.Series  # a feature's properties: a dict, or a row of the layers' frames


def value(row: Row, key: str) -> Any:
    """A property, with pandas' missing values as None."""
    v = row.get(key)
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return None
    return v


def name(row: Row, lang: str) -> str:
    """The name in the map's language (the other one where it is missing)."""
    first, second = ("name_zh", "name_en") if lang == "zh" else ("name_en", "name_zh")
    return str(value(row, first) or value(row, second) or row.get("id", ""))


def bilingual(row: Row) -> str:
    zh, en = value(row, "name_zh"), value(row, "name_en")
    return " / ".join(str(n) for n in (zh, en) if n)


def tooltip(row: Row, lang: str) -> str:
    return escape(name(row, lang))


def search_label(row: Row) -> str:
    """Plain text (the search box sets it as text, never as HTML): matches a query in either language."""
    return bilingual(row)


def district_names(layers: Layers, lang: str) -> dict[str, str]:
    d = layers.districts
    return dict(zip(d["adcode"], d["name_zh" if lang == "zh" else "name_en"]))


def area(v: float, lang: str) -> str:
    return f"{v:g} {t('unit.km2', lang)}"


def target_text(target: Mapping[str, Any], lang: str) -> str:
    """'新增企业研发机构 ≥ 100 家': what is counted, the comparator, the value and its unit."""
    counted = target.get("counted_zh") or target.get("indicator_zh") or ""
    unit = target.get("unit_zh") or ""
    if lang == "en":
        counted = target.get("counted_en") or target.get("indicator_en") or counted
        unit = target.get("unit_en") or unit
    number = target.get("value")
    shown = f"{number:g}" if isinstance(number, int | float) else str(number or "")
    parts = [str(counted), COMPARATORS.get(target.get("comparator"), str(target.get("comparator") or "")), shown, unit]
    return " ".join(p for p in parts if p)


def popup_rows(row: Row, layers: Layers, lang: str) -> list[tuple[str, str]]:
    """(heading, HTML) pairs; headings in the map's language, the plan's text verbatim."""
    rows: list[tuple[str, str]] = []

    def add(key: str, html: str | None) -> None:
        if html:
            rows.append((escape(t(key, lang)), html))

    kind = str(row.get("kind", ""))
    if kind == "platform":
        add("h.kind", escape(t(f"platform.{row.get('platform_type')}", lang)))
    elif f"kind.{kind}" in TEXT:
        add("h.kind", escape(t(f"kind.{kind}", lang)))
    names = district_names(layers, lang)
    adcodes = value(row, "district_adcodes") or []
    add("h.districts", escape(("、" if lang == "zh" else ", ").join(names.get(a, a) for a in adcodes)))
    planned = value(row, "planned_area_km2")
    if planned is not None:
        add("h.planned", escape(area(float(planned), lang)))
    computed = value(row, "area_km2") or 0.0
    surveyed = value(row, "geometry_quality") == SURVEYED
    if computed > 0:
        add("h.computed_surveyed" if surveyed else "h.computed", escape(area(round(float(computed), 2), lang)))
    for col, key in PLAN_TEXT:
        add(key, escape(str(value(row, col) or "")))
    codes = value(row, "industries") or []
    if codes:
        inds = layers.taxonomy.industries
        add("h.industries", escape(", ".join(getattr(inds[c], lang) if c in inds else c for c in codes)))
    add("h.blocks", _blocks_html(value(row, "blocks") or [], lang))
    targets = value(row, "targets") or []
    add("h.targets", "<br>".join(escape(target_text(tg, lang)) for tg in targets))
    status = value(row, "status")
    if status and f"status.{status}" in TEXT:  # the plan's words beside our reading of them
        words = value(row, "status_zh")
        add("h.status", escape(t(f"status.{status}", lang) + (f"（{words}）" if words else "")))
    quality = value(row, "geometry_quality") or value(row, "location_quality")
    if quality and f"geometry.{quality}" in TEXT:
        method = value(row, "geometry_method") if quality in (SCHEMATIC, SURVEYED) else None
        add("h.geometry", escape(_location_text(t(f"geometry.{quality}", lang), method, lang)))
        if surveyed:
            add("h.geometry_source", escape(str(value(row, "geometry_source") or "")))
    elif quality and f"location.{quality}" in TEXT:
        location = t(f"location.{quality}", lang)
        method = value(row, "location_method")
        add("h.location", escape(_location_text(location, method if quality == "approximate" else None, lang)))
    source = value(row, "source")
    other = value(row, "source_other")
    add("h.source", escape("; ".join(str(s) for s in (source, other) if s)))
    return rows


_ACCURACY = re.compile(r"±\s*(\d+(?:\.\d+)?)\s*km")


def _location_text(location: str, method: str | None, lang: str) -> str:
    """The location (or geometry) row: in English with its method; in Chinese with the stated accuracy only,
    since the method is written in English."""
    if not method:
        return location
    if lang != "zh":
        return f"{location}: {method}"
    accuracy = _ACCURACY.search(method)
    return f"{location}（约 ±{accuracy.group(1)} 公里）" if accuracy else location


def _blocks_html(blocks: list[Mapping[str, Any]], lang: str) -> str | None:
    items = []
    for b in blocks:
        label = b.get("name_zh") if lang == "zh" else f"{b.get('name_zh')} ({b.get('name_en')})"
        bounds = b.get("boundary_zh") or t("block.no_bounds", lang)
        drawn = "" if b.get("drawn", True) else f" [{t('block.not_drawn', lang)}]"
        items.append(f"<li><b>{escape(str(label))}</b>{escape(drawn)}: {escape(str(bounds))}</li>")
    return f"<ul>{''.join(items)}</ul>" if items else None


def popup_html(row: Row, layers: Layers, lang: str, links: str | None = None) -> str:
    """The popup: the feature's name and facts, and with ``links`` (the service's root URL) where to go next."""
    cells = "".join(f"<tr><th>{h}</th><td>{v}</td></tr>" for h, v in popup_rows(row, layers, lang))
    more = links_html(row, lang, links) if links is not None else ""
    return f'<div class="nbgis-pop"><h4>{escape(bilingual(row))}</h4><table>{cells}</table>{more}</div>'


def links_html(row: Row, lang: str, root: str) -> str:
    """Links to the feature's page, its map, its data as JSON (its `source` and the current version: the layers
    keep no history yet) and its downloads in EPSG:4549, under the service's root URL."""
    kind = str(row.get("kind", ""))
    if kind not in KINDS:
        return ""
    fid = quote(str(row.get("id", "")))
    item = f"{root}/collections/{KINDS[kind].collection}/items"
    suffix = "?lang=en" if lang == "en" else ""
    anchors = [(f"{item}/{fid}?f=html", t("link.page", lang)),
               (f"{root}/maps/feature/{fid}{suffix}", t("link.map", lang)),
               (f"{item}/{fid}?f=json", t("link.version", lang)),
               (f"{item}?id={fid}&f=gpkg&crs=EPSG:4549", "GeoPackage"), (f"{item}?id={fid}&f=kml", "KML"),
               (f"{item}?id={fid}&f=dxf&crs=EPSG:4549", "DXF")]
    body = "".join(f'<a href="{escape(href)}" target="_top">{escape(text)}</a>' for href, text in anchors)
    return f'<div class="nbgis-links">{body}</div>'

