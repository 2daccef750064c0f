"""The HTML of the boxes on the map: the overview's legend, the industry summary, the feature's details.

All text is escaped here; ``maps.controls.HtmlControl`` puts the result on the map as is.
"""

from __future__ import annotations

from html import escape
from typing import Any

import geopandas as gpd
import pandas as pd

from geo import boundaries
from geo.layers import Layers
from geo.queries import industry_detail
from maps import draw, popups
from maps.i18n import boundary_note, t
from maps.style import HIT, KIND_STYLE, MARKER_CSS, MUTED, PLATFORM_ICONS, boundary_look


def legend(layers: Layers, colours: dict[str, str], lang: str) -> str:
    inds = layers.taxonomy.industries
    rows = "".join(f'<div><span class="nbgis-swatch" style="background:{c}"></span>'
                   f"{escape(getattr(inds[code], lang) if code in inds else code)}</div>"
                   for code, c in colours.items())
    pins = "".join(f'<div><i class="fa-solid fa-{icon}" style="color:{MARKER_CSS[colour]}"></i>'
                   f"{escape(t(f'platform.{ptype}', lang))}</div>"
                   for ptype, (icon, colour) in PLATFORM_ICONS.items())
    others = "".join(f"<div>{swatch(KIND_STYLE[key])}{escape(draw.layer_name(key, lang))}</div>"
                     for key in reversed(draw.AREA_KEYS) if key != "subpark")
    return (f"<details open><summary>{escape(t('legend.title', lang))}</summary>{rows}</details>"
            f"{boundaries_legend(boundaries.of_frame(layers.parks), lang)}"
            f"<details><summary>{escape(t('legend.others', lang))}</summary>{others}</details>"
            f"<details><summary>{escape(t('legend.platforms', lang))}</summary>{pins}</details>")


def boundaries_legend(bounds: boundaries.Boundaries, lang: str) -> str:
    """Once any boundary is surveyed: how a schematic and a surveyed outline look, how many there are of each,
    and the surveyed ones' sources. Nothing while all are schematic (the map's note says so)."""
    if not bounds.mixed:
        return ""
    sub = KIND_STYLE["subpark"]
    schematic = swatch({**sub, "fillColor": "#ffffff"})
    surveyed = swatch(boundary_look({**sub, "fillColor": "#ffffff"}, boundaries.SURVEYED))
    sources = ("；" if lang == "zh" else "; ").join(bounds.sources)
    return (f'<details open class="nbgis-boundaries"><summary>{escape(t("legend.boundaries", lang))}</summary>'
            f"<div>{schematic}{escape(t('legend.schematic', lang))} ({bounds.schematic})</div>"
            f"<div>{surveyed}{escape(t('legend.surveyed', lang))} ({bounds.surveyed})"
            f"{f'<br><small>{escape(sources)}</small>' if sources else ''}</div></details>")


def swatch(style: dict[str, Any]) -> str:
    """A legend swatch drawn like the layer: its fill (at its opacity), outline colour and dashes; lines as a bar."""
    if "fillOpacity" not in style:  # a line
        return f'<span class="nbgis-swatch" style="height:0;border:0;border-top:4px solid {style["color"]}"></span>'
    hex_colour = str(style.get("fillColor", "#ffffff")).lstrip("#")
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (0, 2, 4))
    border = "dashed" if style.get("dashArray") else "solid"
    weight = float(style.get("weight", 1))  # hairlines thin, surveyed outlines (maps.style.boundary_look) wide
    width = 1 if weight <= 1 else 2 if weight < 2.5 else 3
    return (f'<span class="nbgis-swatch" style="background:rgba({r},{g},{b},{style["fillOpacity"]});'
            f'border:{width}px {border} {style["color"]}"></span>')


def hit_legend(lang: str) -> str:
    return (f'<div><span class="nbgis-swatch" style="background:{HIT["fillColor"]};border-color:{HIT["color"]}">'
            f"</span>{escape(t('legend.hit', lang))}</div>"
            f'<div><span class="nbgis-swatch" style="background:{MUTED["fillColor"]};opacity:.6"></span>'
            f"{escape(t('legend.muted', lang))}</div>")


def industry(layers: Layers, hosts: gpd.GeoDataFrame, code: str, lang: str) -> str:
    summary = industry_detail(layers, code)  # the figures /industries/{code} gives, so map and API agree
    inds = layers.taxonomy.industries
    narrower = sorted(layers.taxonomy.narrower(code) - {code})
    areas = hosts[hosts["kind"] != "platform"]
    platforms = hosts[hosts["kind"] == "platform"]
    unplaced = platforms[platforms.geometry.isna()]
    names = popups.district_names(layers, lang)
    sep = "、" if lang == "zh" else ", "
    districts = sep.join(f"{names.get(a, a)} ({d['features']})" for a, d in summary["per_district"].items())
    km2 = t("unit.km2", lang)

    def p(key: str, text: str) -> str:
        return f"<p><b>{escape(t(key, lang))}</b>: {escape(text)}</p>"

    def items(frame: gpd.GeoDataFrame, on_map: bool) -> str:  # on the map: a click zooms to it (maps.page)
        return "<ul>" + "".join(
            f'<li data-feature="{escape(str(r["id"]))}" tabindex="0">{escape(popups.name(r, lang))}</li>' if on_map
            else f"<li>{escape(popups.name(r, lang))}</li>" for _, r in frame.iterrows()) + "</ul>"

    html = [f"<details open><summary>{escape(t('panel.industry', lang))}: "
            f"{escape(getattr(inds[code], lang))} ({escape(code)})</summary>"]
    if narrower:
        html.append(p("panel.narrower", sep.join(getattr(inds[c], lang) for c in narrower)))
    html.append(p("panel.features", f"{summary['features']} ({len(areas)} {t('panel.areas', lang)}, "
                                    f"{len(platforms)} {t('panel.platforms', lang)})"))
    planned = summary["planned_area_km2"]
    html.append(p("panel.planned", f"{planned:g} {km2}" if planned is not None else t("panel.no_figure", lang)))
    html.append(p("panel.computed", f"{summary['computed_area_km2']:.1f} {km2}"))
    bounds = escape(boundary_note(boundaries.of_frame(layers.parks), lang))
    html.append(f"<p><small>{escape(t('panel.overlap', lang))}{' ' if lang == 'en' else ''}{bounds}</small></p>")
    if districts:
        html.append(p("panel.districts", districts))
    placed = hosts[hosts.geometry.notna()]
    html.append(f"<p><b>{escape(t('panel.list', lang))}</b></p>{items(placed, True)}")
    if len(unplaced):
        html.append(f"<p><b>{escape(t('panel.unplaced', lang))}</b></p>{items(unplaced, False)}")
    html.append("</details>")
    return "".join(html)


def feature(layers: Layers, row: pd.Series, geom: Any, lang: str, links: str | None = None) -> str:
    notes = []
    if geom is None:
        notes.append(t("panel.no_site", lang))
    extra = "".join(f"<p><small>{escape(n)}</small></p>" for n in notes)
    return (f"<details open><summary>{escape(popups.name(row, lang))}</summary>"
            f"{popups.popup_html(row, layers, lang, links)}{extra}</details>")
