"""The frame every map shares: basemap tiles (or none), the standard controls, the note, the page's head."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from html import escape
from typing import Any

import folium
import folium.plugins as plugins
from branca.element import Element

from geo.boundaries import Boundaries
from maps.controls import Declutter, HtmlControl, OutlineMiniMap, PlainAttribution, SearchControl, WebFont
from maps.i18n import boundary_note, check_lang, t
from maps.page import CSS, HELPERS_JS, SEA_CSS

TILES = ("none", "osm", "tianditu", "amap")
TIANDITU_ENV = "TIANDITU_TOKEN"

OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTR = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
# Tianditu's Web Mercator ("_w") WMTS tiles; CGCS2000 coincides with WGS 84 at map scales, so no shift.
TIANDITU_URL = ("https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
                "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}"
                "&tk={token}")
TIANDITU_ATTR = '&copy; <a href="https://www.tianditu.gov.cn/">天地图 Tianditu</a>'
# AMap's road tiles are drawn in GCJ-02: overlays must be shifted to match them.
AMAP_URL = "https://webrd0{s}.is.autonavi.com/appmaptile?lang={lang}&size=1&scale=1&style=8&x={x}&y={y}&z={z}"
AMAP_ATTR = '&copy; <a href="https://www.amap.com/">高德地图 AMap</a>'
NINGBO = (29.75, 121.55)  # lat, lon: where a map opens before it is fitted to its features


@dataclass(frozen=True)
class TileSpec:
    url: str
    name_key: str
    options: dict[str, Any]
    overlay: bool = False  # Tianditu's labels come as a second layer over the base


@dataclass(frozen=True)
class Basemap:
    key: str
    tiles: tuple[TileSpec, ...] = ()
    gcj02: bool = False  # overlays must be shifted to GCJ-02 to sit on these tiles


@dataclass
class Frame:
    """A map under construction and what its finishing step needs to know."""

    map: folium.Map
    basemap: Basemap
    lang: str
    links: str | None = None  # the service's root URL ("" on its own pages): popups link there; None: no links
    search: SearchControl = field(init=False)

    def __post_init__(self) -> None:
        self.search = SearchControl(t("search.placeholder", self.lang), t("search.none", self.lang))


def basemap(tiles: str, lang: str) -> Basemap:
    """The tile layers for a ``tiles`` choice; ValueError for an unknown one or a missing Tianditu token."""
    if tiles == "none":
        return Basemap("none")
    if tiles == "osm":
        return Basemap("osm", (TileSpec(OSM_URL, "tiles.osm", {"attribution": OSM_ATTR, "maxZoom": 19}),))
    if tiles == "tianditu":
        token = os.environ.get(TIANDITU_ENV, "").strip()
        if not token:
            raise ValueError(f"tiles 'tianditu' need a Tianditu API key in the environment variable {TIANDITU_ENV} "
                             "(a browser-side key: it ends up in the page)")
        opts = {"attribution": TIANDITU_ATTR, "subdomains": "01234567", "maxZoom": 18}
        labels = "cva" if lang == "zh" else "eva"  # Chinese or English annotation over the vector map
        return Basemap("tianditu", (
            TileSpec(TIANDITU_URL.format(s="{s}", layer="vec", token=token, z="{z}", x="{x}", y="{y}"),
                     "tiles.tianditu", opts),
            TileSpec(TIANDITU_URL.format(s="{s}", layer=labels, token=token, z="{z}", x="{x}", y="{y}"),
                     "tiles.tianditu-labels", opts, overlay=True),
        ))
    if tiles == "amap":
        url = AMAP_URL.format(s="{s}", lang="zh_cn" if lang == "zh" else "en", x="{x}", y="{y}", z="{z}")
        return Basemap("amap", (TileSpec(url, "tiles.amap", {"attribution": AMAP_ATTR, "subdomains": "1234",
                                                              "maxZoom": 18}),), gcj02=True)
    raise ValueError(f"unknown tiles {tiles!r}; choose one of {', '.join(TILES)}")


def new_frame(tiles: str, lang: str, links: str | None = None) -> Frame:
    """An empty map with its basemap (the builder fits it to its features); checks ``tiles`` and ``lang``.
    ``links``: the service's root URL, for the popups' links to each feature's page, map and downloads."""
    check_lang(lang)
    base = basemap(tiles, lang)
    # maxZoom on the map itself (folium's max_zoom goes to its tiles): the marker clusters need one
    m = folium.Map(location=NINGBO, zoom_start=9, tiles=None, control_scale=True, zoom_snap=0.25, zoom_delta=0.5)
    m.options.update(minZoom=6, maxZoom=18)
    for spec in base.tiles:
        folium.TileLayer(spec.url, name=t(spec.name_key, lang), overlay=spec.overlay, control=True,
                         **{_snake(k): v for k, v in spec.options.items() if k != "attribution"},
                         attr=spec.options["attribution"]).add_to(m)
    return Frame(m, base, lang, links)


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)


def finish(frame: Frame, outline: dict[str, Any], title: str, bounds: Boundaries,
           panels: tuple[HtmlControl, ...] = (), collapsed: bool = False) -> folium.Map:
    """Add the controls, the note (saying which of the areas' ``bounds`` are schematic), the builder's panels
    (legend, summary), the page's own script and style, and give every element a stable name."""
    m, lang, base = frame.map, frame.lang, frame.basemap
    m.add_child(WebFont())
    m.add_child(PlainAttribution())
    plugins.Fullscreen(position="topleft", title="全屏" if lang == "zh" else "Full screen",
                       title_cancel="退出全屏" if lang == "zh" else "Exit full screen").add_to(m)
    m.add_child(frame.search)
    plugins.MeasureControl(position="topleft", primary_length_unit="kilometers", secondary_length_unit="meters",
                           primary_area_unit="sqkilometers", secondary_area_unit="hectares",
                           localization="cn" if lang == "zh" else "en",
                           units={"sqkilometers": {"factor": 1e-6, "display": t("unit.km2", lang),
                                                   "decimals": 2}}).add_to(m)
    plugins.MousePosition(position="bottomright", separator=", ", lng_first=True, num_digits=5,
                          prefix="GCJ-02" if base.gcj02 else "WGS 84", empty_string="").add_to(m)
    first = base.tiles[0] if base.tiles else None
    OutlineMiniMap(first.url if first else None,
                   {k: v for k, v in (first.options if first else {}).items() if k != "attribution"},
                   outline, NINGBO).add_to(m)
    note = escape(boundary_note(bounds, lang))
    if base.gcj02:
        note += f"<br>{escape(t('note.gcj02', lang))}"
    m.add_child(HtmlControl(note, "bottomleft", "nbgis-note"))  # first: it sits lowest, beside the scale
    folium.LayerControl(position="topright", collapsed=collapsed).add_to(m)  # before panels: it heads its corner
    for panel in panels:
        m.add_child(panel)
    m.add_child(Declutter())  # last: every label is on the map by then
    head = m.get_root().header  # type: ignore[attr-defined]
    head.add_child(Element(f"<title>{escape(title)}</title>"), name="nbgis_title")
    head.add_child(Element(f"<style>{CSS}{SEA_CSS if not base.tiles else ''}</style>"), name="nbgis_css")
    head.add_child(Element(f"<script>{HELPERS_JS}</script>"), name="nbgis_helpers")
    stable_names(m)
    setattr(m, "nbgis_lang", lang)  # noqa: B010 - for the page's <html lang>, see maps.output
    return m


def stable_names(m: folium.Map) -> None:
    """Number the elements in tree order, so the same map renders to the same page (branca picks random ids)."""
    count = 0

    def visit(el: Any) -> None:
        nonlocal count
        el._id = f"{count:x}"
        count += 1
        for child in list(el._children.values()):
            visit(child)

    visit(m)
