"""Turn the layers' rows into map features: one FeatureGroup per kind, each feature with its look and popup."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from html import escape
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from folium.map import FeatureGroup
from folium.plugins import MarkerCluster

from geo.layers import Layers
from geo.search import pinyin_keys
from maps import geometry, popups
from maps.basemap import Frame
from maps.controls import GeoLayer
from maps.i18n import t
from maps.style import Style

# Layer keys in drawing order, bottom to top: large areas under small ones, so small ones stay clickable.
AREA_KEYS = ("corridor-zone", "corridor-areas", "innovation-node", "qianwan-zone", "provincial-park", "subpark",
             "corridor-unit", "innovation-street", "corridor-axis")
LAYER_KEYS = ("districts", *AREA_KEYS, "platform")


def area_frames(layers: Layers) -> dict[str, gpd.GeoDataFrame]:
    """The plan's areas by layer key; the corridor kind splits into its zone and its two areas."""
    parks = layers.parks
    corridor = parks[parks["kind"] == "corridor"]
    out = {"corridor-zone": corridor[corridor["role"] == "zone"],
           "corridor-areas": corridor[corridor["role"] != "zone"]}
    for key in AREA_KEYS:
        if key not in out:
            out[key] = parks[parks["kind"] == key]
    return {key: out[key] for key in AREA_KEYS}


def layer_name(key: str, lang: str) -> str:
    return t(f"layer.{key}", lang)


def display_districts(layers: Layers, tolerance_m: float, gcj02: bool) -> pd.Series:
    """The ten districts' display geometry by id, simplified together as one coverage."""
    d = layers.districts[layers.districts["kind"] == "district"]
    geoms = geometry.for_display(geometry.simplify_coverage(d.geometry.values, tolerance_m), gcj02)
    return pd.Series(list(geoms), index=d.index)


def display_geoms(frame: gpd.GeoDataFrame, tolerance_m: float, gcj02: bool) -> pd.Series:
    placed = frame[frame.geometry.notna()]
    geoms = geometry.for_display(geometry.simplify(placed.geometry.values, tolerance_m), gcj02)
    return pd.Series(list(geoms), index=placed.index)


def feature(row: pd.Series, geom: Any, layers: Layers, lang: str, style: Style | None = None,
            icon: dict[str, Any] | None = None, tooltip: bool = True, links: str | None = None) -> dict[str, Any]:
    """A GeoJSON feature carrying its look, tooltip, popup (linking under ``links``, if given) and search label."""
    props: dict[str, Any] = {"id": row["id"], "popup": popups.popup_html(row, layers, lang, links),
                             "search": popups.search_label(row), "keys": pinyin_keys(str(row.get("name_zh") or ""))}
    if tooltip:
        props["tip"] = popups.tooltip(row, lang)
    if style is not None:
        props["style"] = style
    if icon is not None:
        props["icon"] = icon
    return {"type": "Feature", "id": row["id"], "properties": props, "geometry": geometry.to_geojson(geom)}


def label(geom: Any, text: str, css_class: str = "") -> dict[str, Any]:
    """A text label at a point inside the shape (not interactive, no popup)."""
    point = geometry.label_point(geom)
    return {"type": "Feature", "properties": {"label": f"<span>{escape(text)}</span>", "labelClass": css_class},
            "geometry": geometry.to_geojson(point)}


def group(frame: Frame, key: str, show: bool = True) -> FeatureGroup:
    """The FeatureGroup of one layer key, named in the map's language (what the layer control lists)."""
    fg = FeatureGroup(name=layer_name(key, frame.lang), show=show)
    fg.add_to(frame.map)
    return fg


def add_features(frame: Frame, fg: FeatureGroup, features: list[dict[str, Any]], searchable: bool = True,
                 cluster: MarkerCluster | None = None) -> GeoLayer | None:
    if not features:
        return None
    layer = GeoLayer(features)
    layer.add_to(cluster if cluster is not None else fg)
    if searchable:
        frame.search.add_source(layer, fg, cluster)
    return layer


def add_areas(frame: Frame, fg: FeatureGroup, layers: Layers, rows: gpd.GeoDataFrame, geoms: pd.Series,
              style_for: Callable[[pd.Series], Style], tooltips: bool = True) -> GeoLayer | None:
    feats = [feature(row, geoms[fid], layers, frame.lang, style=style_for(row), tooltip=tooltips, links=frame.links)
             for fid, row in rows.iterrows() if fid in geoms.index and not geoms[fid].is_empty]
    return add_features(frame, fg, feats)


def add_district_labels(frame: Frame, fg: FeatureGroup, layers: Layers, geoms: pd.Series) -> None:
    rows = layers.districts.loc[geoms.index]
    feats = [label(geoms[fid], popups.name(row, frame.lang)) for fid, row in rows.iterrows()]
    add_features(frame, fg, feats, searchable=False)


def fan_offsets(frame: gpd.GeoDataFrame) -> dict[str, float]:
    """Platforms sharing a point get offsets -1, 0, +1 (or -0.5, +0.5, ...) so their pins sit side by side."""
    offsets: dict[str, float] = {}
    by_point: dict[tuple[float, float], list[str]] = {}
    for fid, geom in frame.geometry.items():
        if geom is not None:
            by_point.setdefault((round(geom.x, 5), round(geom.y, 5)), []).append(str(fid))
    for ids in by_point.values():
        for i, fid in enumerate(ids):
            offsets[fid] = i - (len(ids) - 1) / 2
    return offsets


def platform_features(frame: Frame, layers: Layers, rows: gpd.GeoDataFrame,
                      icon_for: Callable[[pd.Series, float], dict[str, Any]]) -> list[dict[str, Any]]:
    placed = rows[rows.geometry.notna()]
    geoms = geometry.for_display(placed.geometry.values, frame.basemap.gcj02)
    fans = fan_offsets(placed)
    return [feature(row, geom, layers, frame.lang, icon=icon_for(row, fans.get(str(fid), 0.0)), links=frame.links)
            for (fid, row), geom in zip(placed.iterrows(), geoms)]


def ids_with_class(layer_features: Iterable[dict[str, Any]], css_class: str) -> set[str]:
    """Ids of the features whose path or icon carries ``css_class`` (what a browser would find)."""
    out = set()
    for f in layer_features:
        props = f.get("properties", {})
        classes = (props.get("style") or props.get("icon") or {}).get("className", "")
        if css_class in classes.split():
            out.add(str(props.get("id")))
    return out


def total_bounds(geoms: Iterable[Any], pad: float = 0.05) -> list[list[float]]:
    return geometry.bounds_latlon(np.asarray([g for g in geoms if g is not None], dtype=object), pad)


def block_labels(row: pd.Series, geom: Any, lang: str, gcj02: bool = False) -> list[tuple[Any, str]]:
    """(where, text) labels: each drawn block of a sub-park at its recorded ``label_point``, else the feature's
    name on its largest part. Label points are WGS 84 like the layers, so they are shifted with them."""
    blocks = [b for b in (row.get("blocks") or []) if b.get("drawn") and b.get("label_point")]
    if blocks:
        points = geometry.for_display([shapely.Point(b["label_point"]) for b in blocks], gcj02)
        return [(p, str(b["name_zh"] if lang == "zh" else b.get("name_en") or b["name_zh"]))
                for p, b in zip(points, blocks)]
    if row.get("kind") in ("subpark", "corridor-unit", "innovation-node", "provincial-park", "innovation-street",
                           "qianwan-zone", "corridor"):
        return [(geom, popups.name(row, lang))]
    return []
