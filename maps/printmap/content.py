"""What each print map shows, in WGS 84: the layers in drawing order with their look, the labels, the legend,
the title and subtitle, and the ground the sheet must cover. The same choices as the web maps (maps.builders):
the overview colours sub-parks by lead industry, the industry map highlights the hosts, the feature map its one
feature among muted neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from geo import boundaries
from geo.boundaries import SURVEYED
from geo.layers import Layers
from geo.queries import hosting_industry, industry_detail
from maps import draw, popups
from maps.i18n import TEXT, t
from maps.printmap import symbols
from maps.printmap.symbols import Symbol
from maps.style import (
    FOCUS,
    HIT,
    HOST_DISTRICT,
    KIND_STYLE,
    LINE_KEYS,
    MUTED,
    NO_INDUSTRY,
    PLATFORM_HIT,
    PLATFORM_ICONS,
    PLATFORM_MUTED,
    boundary_look,
    industry_colours,
    path_style,
)

MIN_SPAN_DEG = {"industry": 0.25, "feature": 0.08}  # never zoom closer than ~25 km / ~8 km across
MAX_UNPLACED_NAMED = 4  # platforms with no known site, named in the notes; the rest counted


@dataclass
class Layer:
    """Features drawn alike: ``kind`` "area" (polygons; ``props`` for matplotlib's PatchCollection, where
    ``facecolor`` may be one colour per feature), "line" or "point" (``props`` for Line2D markers)."""

    key: str
    kind: str
    geoms: gpd.GeoSeries
    props: dict[str, Any]
    ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Label:
    key: str
    text: str
    geom: Any  # WGS 84; a district's label goes inside it, any other beside its feature
    district: bool = False
    required: bool = True  # a neighbour's label may be left out when there is no room
    emphasis: bool = False  # what the map is about: set larger, in the highlight colour


@dataclass
class Content:
    title: str
    subtitle: str
    layers: list[Layer]
    labels: list[Label]
    legend: list[tuple[str, list[tuple[Symbol, str]]]]  # (group title, entries)
    focus: Any  # the geometry the sheet must show (WGS 84)
    min_span_deg: float = 0.0
    notes: list[str] = field(default_factory=list)


def overview(layers: Layers, lang: str) -> Content:
    """Every layer of the plan; sub-parks coloured by lead industry, platforms by type; districts and sub-parks
    labelled."""
    areas = draw.area_frames(layers)
    colours = industry_colours(_lead(codes) for codes in areas["subpark"]["industries"])
    drawn = [_districts(layers)]
    for key, rows in areas.items():
        if key == "subpark":  # filled by lead industry, one colour per feature drawn
            rows = rows[rows.geometry.notna()]
            faces = [symbols.area(path_style(key, fillColor=colours.get(_lead(c) or "", NO_INDUSTRY)))["facecolor"]
                     for c in rows["industries"]]
            drawn.append(_layer(key, rows, {**symbols.area(path_style(key)), "facecolor": faces}))
        else:
            drawn.append(_styled(key, key, rows, path_style(key)))
        drawn += _surveyed(key, key, rows, path_style(key))
    placed = layers.platforms[layers.platforms.geometry.notna()]
    drawn += [_layer(f"platform-{ptype}", group, symbols.platform(ptype), "point")
              for ptype, group in placed.groupby("platform_type", sort=False)]
    inds = layers.taxonomy.industries
    legend = [
        (t("legend.title", lang), [(Symbol("fill", symbols.area(path_style("subpark", fillColor=c))),
                                    getattr(inds[code], lang) if code in inds else code)
                                   for code, c in colours.items()]),
        (t("legend.others", lang), [(_symbol(key, path_style(key)), draw.layer_name(key, lang))
                                    for key in reversed(draw.AREA_KEYS) if key != "subpark"]
         + [(Symbol("fill", symbols.area(KIND_STYLE["districts"])), draw.layer_name("districts", lang))]),
        (t("legend.platforms", lang), [(Symbol("marker", symbols.platform(ptype)), t(f"platform.{ptype}", lang))
                                       for ptype in PLATFORM_ICONS]),
        _boundaries_legend(layers, lang),
    ]
    labels = _district_labels(layers, lang) + [Label(fid, popups.name(row, lang), row.geometry)
                                               for fid, row in areas["subpark"].iterrows()]
    return Content(t("title", lang), t("print.subtitle.overview", lang), drawn, labels, legend,
                   layers.districts[layers.districts["kind"] == "district"].union_all())


def industry(layers: Layers, code: str, lang: str) -> Content:
    """Every feature hosting ``code`` (or a narrower term) highlighted and labelled, the rest muted; the
    subtitle gives the figures /industries/{code} gives. KeyError for an unknown code."""
    hosts = hosting_industry(layers, code)
    hits = set(hosts["id"])
    drawn = [_districts(layers)]
    for key, rows in draw.area_frames(layers).items():
        for hit, part in ((False, rows[~rows["id"].isin(hits)]), (True, rows[rows["id"].isin(hits)])):
            if len(part):
                look = path_style(key, color=(HIT if hit else MUTED)["color"], opacity=1.0 if hit else 0.5) \
                    if key in LINE_KEYS else dict(HIT if hit else MUTED)
                drawn.append(_styled(f"{key}-{'hit' if hit else 'muted'}", key, part, look))
                drawn += _surveyed(f"{key}-{'hit' if hit else 'muted'}", key, part, look)
    placed = layers.platforms[layers.platforms.geometry.notna()]
    for hit in (False, True):
        part = placed[placed["id"].isin(hits) == hit]
        drawn += [_layer(f"platform-{ptype}-{'hit' if hit else 'muted'}", group,
                         symbols.platform(ptype, PLATFORM_HIT if hit else PLATFORM_MUTED), "point")
                  for ptype, group in part.groupby("platform_type", sort=False)]
    hit_types = [p for p in PLATFORM_ICONS if (placed["id"].isin(hits) & (placed["platform_type"] == p)).any()]
    name = getattr(layers.taxonomy.industries[code], lang)
    legend = [(f"{t('panel.industry', lang)}{'：' if lang == 'zh' else ': '}{name}", [
        (Symbol("fill", symbols.area(HIT)), t("legend.hit", lang)),
        *[(Symbol("marker", symbols.platform(p, PLATFORM_HIT)), t(f"platform.{p}", lang)) for p in hit_types],
        (Symbol("fill", symbols.area(MUTED)), t("legend.muted", lang)),
        (Symbol("marker", symbols.platform("university", PLATFORM_MUTED)), t("legend.muted", lang) + " · "
         + t("layer.platform", lang)),
        (Symbol("fill", symbols.area(KIND_STYLE["districts"])), draw.layer_name("districts", lang)),
    ]), _boundaries_legend(layers, lang)]
    shown = hosts[hosts.geometry.notna()]
    labels = [Label(fid, popups.name(row, lang), row.geometry, emphasis=True) for fid, row in shown.iterrows()]
    labels += _district_labels(layers, lang)
    unplaced = hosts[hosts.geometry.isna()]
    notes = [_unplaced_note(unplaced, lang)] if len(unplaced) else []
    focus = shown.geometry.union_all() if len(shown) else layers.city
    return Content(f"{name} — {t('title', lang)}", _industry_subtitle(layers, code, hosts, lang), drawn, labels,
                   legend, focus, MIN_SPAN_DEG["industry"], notes)


def feature(layers: Layers, feature_id: str, lang: str) -> Content:
    """One feature (area, platform or district) highlighted with its blocks named, its host districts and
    neighbours around it. KeyError for an unknown id."""
    row = _find(layers, feature_id)
    is_district = row.get("kind") == "district"
    hosts = set(row.get("district_adcodes") or ([row["adcode"]] if is_district else []))
    host_rows = layers.districts[layers.districts["adcode"].isin(hosts) & (layers.districts["kind"] == "district")]
    drawn = [_districts(layers)]
    legend: list[tuple[Symbol, str]] = []
    if not is_district and len(host_rows):
        drawn.append(_layer("host-districts", host_rows, symbols.area(HOST_DISTRICT)))
        legend.append((Symbol("fill", symbols.area(HOST_DISTRICT)), t("h.districts", lang)))
    legend.append((Symbol("fill", symbols.area(KIND_STYLE["districts"])), draw.layer_name("districts", lang)))
    # a platform with no known site shows its districts, or the whole city when the plan names none
    focus = row.geometry if row.geometry is not None else host_rows.union_all() if len(host_rows) else layers.city
    labels: list[Label] = []
    if row.geometry is not None and not is_district:
        near, near_labels, near_legend = _neighbours(layers, row, lang)
        drawn += near
        labels += near_labels
        legend[:0] = near_legend
    frame = gpd.GeoDataFrame([row], geometry="geometry", crs=layers.parks.crs)
    if row.geometry is not None and row["kind"] == "platform":
        drawn.append(_layer("focus", frame, symbols.platform(row["platform_type"], PLATFORM_HIT), "point"))
        legend.insert(0, (Symbol("marker", symbols.platform(row["platform_type"], PLATFORM_HIT)),
                          t("layer.focus", lang)))
        labels.insert(0, Label(row["id"], popups.name(row, lang), row.geometry, emphasis=True))
    elif row.geometry is not None:
        key = "corridor-axis" if row["kind"] == "corridor-axis" else "focus"
        look = path_style(key, **FOCUS) if key in LINE_KEYS else FOCUS
        drawn.append(_styled("focus", key, frame, look))
        drawn += _surveyed("focus", key, frame, look)
        legend.insert(0, (_symbol(key, look), t("layer.focus", lang)))
        if not is_district:  # a district's name is its own label
            labels[:0] = [Label(f"{row['id']}#{i}", text, where, emphasis=True)
                          for i, (where, text) in enumerate(draw.block_labels(row, row.geometry, lang))]
    labels += _district_labels(layers, lang)
    notes = [] if row.geometry is not None else [t("panel.no_site" if len(host_rows) else "print.no_site_city", lang)]
    kind = t(f"kind.{row['kind']}", lang) if f"kind.{row['kind']}" in TEXT else str(row["kind"])
    return Content(f"{popups.name(row, lang)} — {t('title', lang)}", _feature_subtitle(layers, row, kind, lang),
                   drawn, labels, [(popups.name(row, lang), legend), _boundaries_legend(layers, lang)], focus,
                   MIN_SPAN_DEG["feature"], notes)


def _neighbours(layers: Layers, row: pd.Series, lang: str) -> tuple[list[Layer], list[Label],
                                                                    list[tuple[Symbol, str]]]:
    """The areas and platforms around a feature, muted, so it is seen in its place (as the web map shows them)."""
    window = shapely.box(*row.geometry.buffer(max(MIN_SPAN_DEG["feature"], 0.4 * _span(row.geometry))).bounds)
    others = layers.parks[(layers.parks["id"] != row["id"]) & layers.parks.intersects(window)]
    if row["kind"] != "corridor":  # the corridor zone covers everything near it; it would only add a veil
        others = others[others["role"] != "zone"]
    near = layers.platforms[(layers.platforms["id"] != row["id"]) & layers.platforms.geometry.notna()]
    near = near[near.intersects(window)]
    drawn = [_layer("neighbours", others, symbols.area(MUTED)), *_surveyed("neighbours", "neighbours", others, MUTED)]
    drawn += [_layer(f"platform-{ptype}-muted", group, symbols.platform(ptype, PLATFORM_MUTED), "point")
              for ptype, group in near.groupby("platform_type", sort=False)]
    labels = [Label(fid, popups.name(r, lang), r.geometry, required=False) for fid, r in others.iterrows()]
    legend = [(Symbol("fill", symbols.area(MUTED)), t("layer.neighbours", lang))] if len(others) else []
    if len(near):
        legend.append((Symbol("marker", symbols.platform("university", PLATFORM_MUTED)), t("layer.platform", lang)))
    return drawn, labels, legend


# --- pieces --------------------------------------------------------------------------------------


def _lead(codes: Any) -> str | None:
    """A feature's lead (first-listed) industry code, as the web map colours it."""
    return codes[0] if codes is not None and len(codes) else None


def _styled(name: str, key: str, rows: gpd.GeoDataFrame, style: dict[str, Any]) -> Layer:
    """A layer in a web map's path style: lines for the line kinds (the corridor axis), polygons otherwise."""
    if key in LINE_KEYS:
        return _layer(name, rows, symbols.line(style), "line")
    return _layer(name, rows, symbols.area(style))


def _surveyed(name: str, key: str, rows: gpd.GeoDataFrame, style: dict[str, Any]) -> list[Layer]:
    """The surveyed among ``rows`` outlined again over their fill, solid and heavier (maps.style.boundary_look), as
    the web maps draw them; nothing while all are schematic."""
    if "geometry_quality" not in rows.columns:
        return []
    part = rows[rows["geometry_quality"] == SURVEYED]
    if not len(part):
        return []
    look = boundary_look(style, SURVEYED)
    if key in LINE_KEYS:
        return [_layer(f"{name}-surveyed", part, symbols.line(look), "line")]
    return [_layer(f"{name}-surveyed", part, {**symbols.area(look), "facecolor": "none"})]


def _boundaries_legend(layers: Layers, lang: str) -> tuple[str, list[tuple[Symbol, str]]]:
    """Once any boundary is surveyed, how a schematic and a surveyed outline look, with how many there are of
    each (an empty group, which the legend leaves out, while all are schematic)."""
    bounds = boundaries.of_frame(layers.parks)
    if not bounds.mixed:
        return t("legend.boundaries", lang), []
    plain = {**KIND_STYLE["subpark"], "fillColor": "#ffffff"}
    return t("legend.boundaries", lang), [
        (Symbol("fill", symbols.area(plain)), f"{t('legend.schematic', lang)} ({bounds.schematic})"),
        (Symbol("fill", symbols.area(boundary_look(plain, SURVEYED))),
         f"{t('legend.surveyed', lang)} ({bounds.surveyed})"),
    ]


def _symbol(key: str, style: dict[str, Any]) -> Symbol:
    return Symbol("line", symbols.line(style)) if key in LINE_KEYS else Symbol("fill", symbols.area(style))


def _layer(key: str, rows: gpd.GeoDataFrame, props: dict[str, Any], kind: str = "area") -> Layer:
    rows = rows[rows.geometry.notna()]
    return Layer(key, kind, rows.geometry, props, [str(i) for i in rows.index])


def _districts(layers: Layers) -> Layer:
    rows = layers.districts[layers.districts["kind"] == "district"]
    return _layer("districts", rows, symbols.area(KIND_STYLE["districts"]))


def _district_labels(layers: Layers, lang: str) -> list[Label]:
    rows = layers.districts[layers.districts["kind"] == "district"]
    return [Label(fid, popups.name(row, lang), row.geometry, district=True) for fid, row in rows.iterrows()]


def _find(layers: Layers, feature_id: str) -> pd.Series:
    for frame in (layers.parks, layers.platforms, layers.districts):
        if feature_id in frame.index:
            return frame.loc[feature_id]
    raise KeyError(f"unknown feature id {feature_id!r}")


def _span(geom: Any) -> float:
    w, s, e, n = geom.bounds
    return float(max(e - w, n - s))


def _industry_subtitle(layers: Layers, code: str, hosts: gpd.GeoDataFrame, lang: str) -> str:
    """The figures the web map's panel and /industries/{code} give, so the sheet agrees with both."""
    summary = industry_detail(layers, code)
    areas = int((hosts["kind"] != "platform").sum())
    platforms = int((hosts["kind"] == "platform").sum())
    name = getattr(layers.taxonomy.industries[code], lang)
    area_text = f"{summary['computed_area_km2']:.1f} {t('unit.km2', lang)}"
    if lang == "zh":  # 承载要素 20（片区 10，平台 10）
        return (f"{t('panel.industry', lang)}：{name}（{code}） · {t('panel.features', lang)} {summary['features']}"
                f"（{t('panel.areas', lang)} {areas}，{t('panel.platforms', lang)} {platforms}） · "
                f"{t('panel.computed', lang)} {area_text}")
    return (f"{t('panel.industry', lang)}: {name} ({code}) · {t('panel.features', lang)} {summary['features']} "
            f"({areas} {t('panel.areas', lang)}, {platforms} {t('panel.platforms', lang)}) · "
            f"{t('panel.computed', lang)} {area_text}")


def _feature_subtitle(layers: Layers, row: pd.Series, kind: str, lang: str) -> str:
    names = popups.district_names(layers, lang)
    sep, colon = ("、", "：") if lang == "zh" else (", ", ": ")
    parts = [kind]
    adcodes = row.get("district_adcodes") or []
    if len(adcodes):
        parts.append(f"{t('h.districts', lang)}{colon}{sep.join(names.get(a, a) for a in adcodes)}")
    if row.get("kind") not in ("platform", "corridor-axis", "district", "city") and row.geometry is not None:
        computed = "h.computed_surveyed" if row.get("geometry_quality") == SURVEYED else "h.computed"
        parts.append(f"{t(computed, lang)}{colon}{row['area_km2']:.2f} {t('unit.km2', lang)}")
    return " · ".join(parts)


def _unplaced_note(unplaced: gpd.GeoDataFrame, lang: str) -> str:
    sep = "、" if lang == "zh" else "; "
    names = [popups.name(r, lang) for _, r in unplaced.iterrows()]
    text = sep.join(names[:MAX_UNPLACED_NAMED])
    if len(names) > MAX_UNPLACED_NAMED:
        text += (" " if lang == "en" else "") + t("print.more_unplaced", lang).format(n=len(names))
    return f"{t('panel.unplaced', lang)}{'：' if lang == 'zh' else ': '}{text}"
