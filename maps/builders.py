"""The three maps: the whole layout, where one industry sits, and one feature in its surroundings.

Each takes the loaded ``geo.layers.Layers`` and returns a ``folium.Map``; nothing here fetches anything.
Write one with ``maps.output`` (local assets, linked or inlined).
"""

from __future__ import annotations

from typing import Any

import folium
import pandas as pd
import shapely
from folium.plugins import MarkerCluster

from geo import boundaries
from geo.layers import Layers
from geo.queries import hosting_industry
from maps import draw, geometry, panels, popups
from maps.basemap import Frame, finish, new_frame
from maps.controls import HtmlControl
from maps.i18n import t
from maps.style import (
    DISTRICTS_OVER_TILES,
    FOCUS,
    HIT,
    HOST_DISTRICT,
    KIND_STYLE,
    LINE_KEYS,
    MUTED,
    NO_INDUSTRY,
    PLATFORM_HIT,
    PLATFORM_MUTED,
    boundary_class,
    boundary_look,
    feature_class,
    industry_colours,
    path_style,
    platform_icon,
    with_class,
)

CLUSTER_OPTIONS = {"showCoverageOnHover": False, "maxClusterRadius": 40, "spiderfyOnMaxZoom": True}
# Grey clusters for what is not asked about, so they do not compete with the highlighted pins.
MUTED_CLUSTER = ("function (c) { return L.divIcon({html: '<div><span>' + c.getChildCount() + '</span></div>', "
                 "className: 'marker-cluster nbgis-cluster-muted', iconSize: L.point(40, 40)}); }")
PANEL_PAD = (330, 10)  # px kept clear on the right for the side panel when fitting the view


def overview(layers: Layers, tiles: str = "none", lang: str = "zh", links: str | None = None) -> folium.Map:
    """Every layer of the plan, each toggled in the layer control; sub-parks coloured by lead industry."""
    frame = new_frame(tiles, lang, links)
    districts = _districts(frame, layers, geometry.CITY["districts"])
    areas = draw.area_frames(layers)
    colours = industry_colours(_lead(codes) for codes in areas["subpark"]["industries"])
    for key, rows in areas.items():
        def style(row: pd.Series, key: str = key) -> dict[str, Any]:
            fill = {"fillColor": colours.get(_lead(row["industries"]) or "", NO_INDUSTRY)} if key == "subpark" else {}
            quality = row.get("geometry_quality")
            return with_class(boundary_look(path_style(key, **fill), quality), f"nbgis-kind-{key}",
                              feature_class(row["id"]), *boundary_class(quality))
        fg = draw.group(frame, key)
        geoms = draw.display_geoms(rows, geometry.CITY["areas"], frame.basemap.gcj02)
        draw.add_areas(frame, fg, layers, rows, geoms, style)
        if key == "subpark":  # the ten sub-parks named at city zoom, under their shapes (above: districts' names)
            draw.add_features(frame, fg, [draw.label(geoms[fid], popups.name(row, lang), "nbgis-park")
                                          for fid, row in rows.iterrows() if fid in geoms.index], searchable=False)
    fg = draw.group(frame, "platform")
    cluster = MarkerCluster(control=False, options=CLUSTER_OPTIONS)
    cluster.add_to(fg)
    feats = draw.platform_features(frame, layers, layers.platforms,
                                   lambda row, fan: platform_icon(row["platform_type"], row["id"]))
    draw.add_features(frame, fg, feats, cluster=cluster)
    frame.map.fit_bounds(draw.total_bounds(districts.values, pad=0.02))
    legend = HtmlControl(panels.legend(layers, colours, lang), "bottomleft", "nbgis-box nbgis-legend")
    return finish(frame, _outline(layers, frame), _title(lang, None), boundaries.of_frame(layers.parks),
                  panels=(legend,))


def industry(layers: Layers, code: str, tiles: str = "none", lang: str = "zh", links: str | None = None) -> folium.Map:
    """Every feature hosting ``code`` (or a narrower term) highlighted, the rest muted, with a summary panel.

    Highlighted paths and pins carry the class ``nbgis-hit`` (the others ``nbgis-muted``), and every one
    ``nbgis-f-<id>``. KeyError for an unknown code.
    """
    hosts = hosting_industry(layers, code)
    frame = new_frame(tiles, lang, links)
    hits = set(hosts["id"])
    districts = _districts(frame, layers, geometry.CITY["districts"])
    hit_geoms: list[Any] = []
    for key, rows in draw.area_frames(layers).items():
        geoms = draw.display_geoms(rows, geometry.CITY["areas"], frame.basemap.gcj02)
        hit_geoms += [g for fid, g in geoms.items() if fid in hits]

        def style(row: pd.Series, key: str = key) -> dict[str, Any]:
            return _hit_style(key, row["id"] in hits, row)
        draw.add_areas(frame, draw.group(frame, key), layers, rows, geoms, style)
    fg = draw.group(frame, "platform")
    cluster = MarkerCluster(control=False, options=CLUSTER_OPTIONS, icon_create_function=MUTED_CLUSTER)
    cluster.add_to(fg)
    platforms = layers.platforms
    muted = platforms[~platforms["id"].isin(hits)]
    draw.add_features(frame, fg, draw.platform_features(
        frame, layers, muted, lambda row, fan: platform_icon(row["platform_type"], row["id"], PLATFORM_MUTED,
                                                              "nbgis-muted")), cluster=cluster)
    hit_pins = draw.platform_features(
        frame, layers, platforms[platforms["id"].isin(hits)],
        lambda row, fan: platform_icon(row["platform_type"], row["id"], PLATFORM_HIT, "nbgis-hit", fan))
    draw.add_features(frame, fg, hit_pins)  # not clustered: each hit stays on the map to be seen and counted
    hit_geoms += [shapely.geometry.shape(f["geometry"]) for f in hit_pins]
    frame.map.fit_bounds(draw.total_bounds(hit_geoms or districts.values, pad=0.05), padding_bottom_right=PANEL_PAD)
    panel = HtmlControl(panels.industry(layers, hosts, code, lang), "topright", "nbgis-box nbgis-panel")
    legend = HtmlControl(panels.hit_legend(lang), "bottomleft", "nbgis-box nbgis-legend")
    name = getattr(layers.taxonomy.industries[code], lang)
    return finish(frame, _outline(layers, frame), _title(lang, name), boundaries.of_frame(layers.parks),
                  panels=(legend, panel), collapsed=True)


def feature(layers: Layers, feature_id: str, tiles: str = "none", lang: str = "zh", links: str | None = None
            ) -> folium.Map:
    """One feature (area, platform or district) highlighted, with its host district and neighbours muted.

    KeyError for an unknown id.
    """
    row = _find(layers, feature_id)
    frame = new_frame(tiles, lang, links)
    gcj = frame.basemap.gcj02
    hosts = set(row.get("district_adcodes") or ([row["adcode"]] if row.get("kind") == "district" else []))
    districts = _districts(frame, layers, geometry.DETAIL["districts"], hosts)
    focus_geom = None
    if row.geometry is not None:
        focus_geom = geometry.for_display(geometry.simplify([row.geometry], geometry.DETAIL["areas"]), gcj)[0]
    _neighbours(frame, layers, row)
    fg = draw.group(frame, "focus")
    # (a platform without a known site draws nothing here: the panel says so, its districts show where)
    if focus_geom is not None and row["kind"] == "platform":
        icon = platform_icon(row["platform_type"], row["id"], PLATFORM_HIT, "nbgis-focus")
        draw.add_features(frame, fg, [draw.feature(row, focus_geom, layers, lang, icon=icon, links=links)])
    elif focus_geom is not None:
        key = "corridor-axis" if row["kind"] == "corridor-axis" else "focus"
        quality = row.get("geometry_quality")
        look = boundary_look(path_style(key, **FOCUS) if key in LINE_KEYS else dict(FOCUS), quality)
        style = with_class(look, "nbgis-focus", feature_class(row["id"]), *boundary_class(quality))
        draw.add_features(frame, fg, [draw.feature(row, focus_geom, layers, lang, style=style, links=links)])
        labels = [draw.label(where, text, "nbgis-block")
                  for where, text in draw.block_labels(row, focus_geom, lang, gcj)]
        draw.add_features(frame, fg, labels, searchable=False)
    shown = [focus_geom] if focus_geom is not None else [g for fid, g in districts.items()
                                                         if layers.districts.loc[fid, "adcode"] in hosts]
    frame.map.fit_bounds(draw.total_bounds(shown or districts.values, pad=0.1), padding_bottom_right=PANEL_PAD,
                         max_zoom=15)
    panel = HtmlControl(panels.feature(layers, row, focus_geom, lang, links), "topright", "nbgis-box nbgis-panel")
    return finish(frame, _outline(layers, frame), _title(lang, popups.name(row, lang)),
                  boundaries.of_frame(layers.parks), panels=(panel,), collapsed=True)


# --- pieces --------------------------------------------------------------------------------------


def _lead(codes: Any) -> str | None:
    """A feature's lead (first-listed) industry code."""
    return codes[0] if codes else None


def _title(lang: str, subject: str | None) -> str:
    base = t("title", lang)
    return f"{subject} — {base}" if subject else base


def _districts(frame: Frame, layers: Layers, tolerance_m: float, hosts: set[str] | None = None) -> pd.Series:
    """The districts as the base layer (filled when there are no tiles), their names as labels."""
    geoms = draw.display_districts(layers, tolerance_m, frame.basemap.gcj02)
    base = dict(KIND_STYLE["districts"] if not frame.basemap.tiles else DISTRICTS_OVER_TILES)

    def style(row: pd.Series) -> dict[str, Any]:
        host = hosts is not None and row["adcode"] in hosts
        look = {**base, **HOST_DISTRICT} if host else base
        if host and frame.basemap.tiles:
            look["fillOpacity"] = 0.0
        return with_class(look, "nbgis-kind-districts", *(["nbgis-host"] if host else []), feature_class(row["id"]))

    fg = draw.group(frame, "districts")
    rows = layers.districts.loc[geoms.index]
    draw.add_areas(frame, fg, layers, rows, geoms, style, tooltips=False)  # labelled already; a tooltip
    draw.add_district_labels(frame, fg, layers, geoms)                      # everywhere would only get in the way
    return geoms


def _hit_style(key: str, hit: bool, row: pd.Series) -> dict[str, Any]:
    if key in LINE_KEYS:
        look = path_style(key, color=HIT["color"] if hit else MUTED["color"], opacity=1.0 if hit else 0.5)
    else:
        look = dict(HIT if hit else MUTED)
    quality = row.get("geometry_quality")
    return with_class(boundary_look(look, quality), "nbgis-hit" if hit else "nbgis-muted", f"nbgis-kind-{key}",
                      feature_class(row["id"]), *boundary_class(quality))


def _outline(layers: Layers, frame: Frame) -> dict[str, Any]:
    """A coarse city outline for the minimap when there are no tiles (islands under 1 km² left out)."""
    city = layers.city
    parts = [p for p in getattr(city, "geoms", [city]) if p.area > 1e-4]
    geom = geometry.for_display(geometry.simplify([shapely.MultiPolygon(parts)], 400.0), frame.basemap.gcj02,
                                decimals=3)[0]
    return {"type": "Feature", "properties": {}, "geometry": geometry.to_geojson(geom)}


def _find(layers: Layers, feature_id: str) -> pd.Series:
    for frame in (layers.parks, layers.platforms, layers.districts):
        if feature_id in frame.index:
            return frame.loc[feature_id]
    raise KeyError(f"unknown feature id {feature_id!r}")


def _neighbours(frame: Frame, layers: Layers, row: pd.Series) -> None:
    """Areas and platforms around the feature, muted, so it is seen in its place."""
    if row.geometry is None:
        return
    w, s, e, n = row.geometry.bounds
    margin = max((e - w) * 0.4, (n - s) * 0.4, 0.02)
    window = shapely.box(w - margin, s - margin, e + margin, n + margin)
    fg = draw.group(frame, "neighbours")
    others = layers.parks[(layers.parks["id"] != row["id"]) & layers.parks.intersects(window)]
    if row["kind"] != "corridor":  # the corridor zone covers everything near it; it would only add a veil
        others = others[others["role"] != "zone"]
    geoms = draw.display_geoms(others, geometry.DETAIL["areas"], frame.basemap.gcj02)
    draw.add_areas(frame, fg, layers, others, geoms, lambda r: _hit_style(
        "corridor-axis" if r["kind"] == "corridor-axis" else "neighbour", False, r))
    platforms = layers.platforms[(layers.platforms["id"] != row["id"]) & layers.platforms.geometry.notna()]
    platforms = platforms[platforms.intersects(window)]
    draw.add_features(frame, fg, draw.platform_features(
        frame, layers, platforms, lambda r, fan: platform_icon(r["platform_type"], r["id"], PLATFORM_MUTED,
                                                                "nbgis-muted", fan)))
