"""Rules every layer must obey, and a readable report of where it does not.

`validate(data_dir)` loads the layers with GeoPandas and checks geometry,
placement, areas, counts, industry codes, sources and verbatim quotes. The
report lists each broken rule and, per area feature, its computed area beside
the planned one and the share that lies inside its host district(s).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from geo.layers import Layers, load_layers
from geo.measure import geodesic_area_km2, geodesic_distances_km
from geo.monitoring import indicator_ids
from geo.plan import cited_ranges, lost_qualifier, qualifier_words
from geo.rules import (
    EXTENT_MARGIN_DEG,
    MIN_SHARE_IN_DISTRICT,
    SLUG,
    Districts,
    Finding,
    area_findings,
    corridor_findings,
    count_findings,
    district_findings,
    geometry_findings,
    industry_findings,
    overlapping,
    platform_findings,
    required_findings,
    share_inside,
)
from geo.schema import KINDS, NOT_QUOTED, PARK_KINDS, TERM_FIELDS
from geo.seed import DATA_DIR

__all__ = ["Finding", "Report", "validate"]  # Finding (and the per-feature rules) live in geo.rules
# Each must lie >= 95 % on land; the corridor's areas are left out: 东钱湖地区 holds its lake.
ON_LAND_KINDS = ("subpark", "corridor-unit", "innovation-node", "provincial-park", "innovation-street", "qianwan-zone")
MAX_IN_LAKE_KM2 = 0.01  # rounding only: a park bounded by a lake must not lie in it
MIN_PART_KM2 = 0.05  # a polygon part smaller than this is a sliver, not a block
MIN_DETACHED_SHARE = 0.02  # a smaller detached part, holding no block of its own, is a clip's leftover
# The comparator a qualifier implies (近/约 have none: the figure is approximate, not a bound)
COMPARATOR_OF = {"以上": ">=", "不少于": ">=", "不低于": ">=", "超过": ">", "突破": ">", "＞": ">", "≥": ">="}
MAX_NAMESAKE_KM = 0.5  # a platform's point to the park that bears its name
# The districts, as the plan shortens their names (北仑, 江北 ...), with their adcodes.
DISTRICT_SHORT = {"海曙": "330203", "江北": "330205", "北仑": "330206", "镇海": "330211", "鄞州": "330212",
                  "奉化": "330213", "象山": "330225", "宁海": "330226", "余姚": "330281", "慈溪": "330282"}


@dataclass(frozen=True)
class AreaRow:
    id: str
    kind: str
    area_km2: float
    planned_km2: float | None
    share_in_district: float | None
    share_on_land: float | None = None
    reclaimed: bool = False  # a land_exception allows it


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    rows: list[AreaRow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def text(self) -> str:
        lines = [f"{'feature':44} {'kind':17} {'area km²':>9} {'planned':>8} {'diff':>7} {'in district':>11} "
                 f"{'on land':>8}"]
        for r in self.rows:
            planned = f"{r.planned_km2:8.1f}" if r.planned_km2 else " " * 8
            diff = f"{(r.area_km2 / r.planned_km2 - 1) * 100:+6.1f}%" if r.planned_km2 else " " * 7
            share = f"{r.share_in_district * 100:10.1f}%" if r.share_in_district is not None else " " * 11
            land = f"{r.share_on_land * 100:7.1f}%" if r.share_on_land is not None else ""
            land += "*" if r.reclaimed else ""
            lines.append(f"{r.id:44} {r.kind:17} {r.area_km2:9.2f} {planned} {diff} {share} {land}")
        lines.append("on land: share on the GSHHS shoreline's land less 东钱湖 (data/land.geojson); "
                     "* = reclaimed-land exception, see its land_exception")
        lines.append("")
        if self.ok:
            lines.append("OK: every rule holds.")
        else:
            lines.append(f"FAILED: {len(self.findings)} problem(s)")
            lines += [f"  [{f.rule}] {f.feature}: {f.message}" for f in self.findings]
        return "\n".join(lines)


def validate(data_dir: Path | str = DATA_DIR) -> Report:
    report = Report()
    try:
        layers = load_layers(data_dir)
    except (OSError, ValueError, KeyError, TypeError) as exc:  # unreadable or malformed file
        report.findings.append(Finding("load", str(data_dir), f"{type(exc).__name__}: {exc}"))
        return report
    for check in (_required, _geometries, _counts, _placement, _land, _lakes, _slivers, _stated_districts,
                  _namesakes, _areas, _blocks, _overlaps, _corridor_units, _ids_and_kinds, _industries, _sources,
                  _quotes, _qualifiers, _tiers, _observations):
        try:
            report.findings += list(check(layers))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # data too broken for this rule
            report.findings.append(Finding(check.__name__.strip("_"), "-", f"could not check: {exc!r}"))
    report.rows = _area_rows(layers)
    return report


# --------------------------------------------------------------------------- rules

def _frames(layers: Layers) -> Iterator[tuple[str, gpd.GeoDataFrame]]:
    yield "parks", layers.parks
    yield "platforms", layers.platforms
    yield "districts", layers.districts


def _required(layers: Layers) -> Iterator[Finding]:
    for name, frame in _frames(layers):
        for rec in frame.drop(columns="geometry").to_dict("records"):
            yield from required_findings(name, str(rec.get("id")), rec)


def _ids_and_kinds(layers: Layers) -> Iterator[Finding]:
    allowed = {"parks": {k.name for k in PARK_KINDS}, "platforms": {"platform"}, "districts": {"district", "city"}}
    seen: set[str] = set()
    for name, frame in _frames(layers):
        for fid, kind in zip(frame["id"], frame["kind"]):
            if not isinstance(fid, str) or not SLUG.match(fid):
                yield Finding("id", str(fid), "id must be a lowercase slug")
            if fid in seen:
                yield Finding("id", str(fid), "id is not unique")
            seen.add(fid)
            if kind not in allowed[name]:
                yield Finding("kind", str(fid), f"kind {kind!r} does not belong in {name}")
    for rec in layers.platforms.drop(columns="geometry").to_dict("records"):
        yield from platform_findings(rec["id"], rec)


def _geometries(layers: Layers) -> Iterator[Finding]:
    extent = layers.city.buffer(EXTENT_MARGIN_DEG)
    shapely.prepare(extent)
    for _, frame in _frames(layers):
        for fid, kind, geom, row in zip(frame["id"], frame["kind"], frame.geometry, frame.to_dict("records")):
            yield from geometry_findings(fid, kind, geom, row, extent)


def _counts(layers: Layers) -> Iterator[Finding]:
    for kind in KINDS.values():
        yield from count_findings(kind.name, kind.name, len(layers.kind(kind.name)))


def _placement(layers: Layers) -> Iterator[Finding]:
    districts = Districts(layers.districts)
    for frame in (layers.parks, layers.platforms):
        for fid, kind, geom, codes, dnames in zip(frame["id"], frame["kind"], frame.geometry,
                                                   frame["district_adcodes"], frame["district_names_zh"]):
            yield from district_findings(fid, kind, geom, codes, dnames, districts)


def _lake_geoms(layers: Layers) -> list[tuple[str, shapely.Geometry]]:
    assert layers.land is not None
    lakes = layers.land[layers.land["kind"] == "lake"]
    return list(zip(lakes["name_zh"], lakes.geometry))


def _land(layers: Layers) -> Iterator[Finding]:
    """Blocks, units, nodes and the other parks lie >= 95 % on the GSHHS land less the lakes, or on reclaimed land
    that a cited, reasoned `land_exception` names (checked against the district polygons instead)."""
    dry = layers.dry_land
    districts = shapely.difference(
        shapely.union_all(layers.districts[layers.districts["kind"] == "district"].geometry.values),
        shapely.union_all([g for _, g in _lake_geoms(layers)]))
    p = layers.parks
    for rec, geom in zip(p.drop(columns="geometry").to_dict("records"), p.geometry):
        exception = rec.get("land_exception")
        if rec["kind"] not in ON_LAND_KINDS or geom is None or geom.is_empty:
            if exception:
                yield Finding("land", rec["id"], "land_exception on a kind the land rule does not check")
            continue
        on_land = share_inside(geom, dry)
        if not exception:
            if on_land < MIN_SHARE_IN_DISTRICT:
                yield Finding("land", rec["id"], f"only {on_land:.1%} on land (GSHHS shoreline less lakes; needs 95 %)")
            for i, part in _block_parts(rec, geom):  # and each block on its own: a small one cannot hide
                if (share := share_inside(part, dry)) < MIN_SHARE_IN_DISTRICT:
                    yield Finding("land", f"{rec['id']} block {i + 1}", f"only {share:.1%} on land (needs 95 %)")
            continue
        if not isinstance(exception, dict) or not exception.get("reason") or not cited_ranges(
                exception.get("source") or ""):
            yield Finding("land", rec["id"], "land_exception needs a reason and a source citing the plan's lines")
        elif on_land >= MIN_SHARE_IN_DISTRICT:
            yield Finding("land", rec["id"], f"land_exception not needed: {on_land:.1%} on GSHHS land")
        elif (reclaimed := share_inside(geom, districts)) < MIN_SHARE_IN_DISTRICT:
            yield Finding("land", rec["id"], f"reclaimed-land exception, yet only {reclaimed:.1%} inside the "
                                             "district polygons (needs 95 %)")


def _block_parts(rec: dict[str, Any], geom: shapely.Geometry) -> Iterator[tuple[int, shapely.Geometry]]:
    """(index, polygon part) of each drawn block of a sub-park: the part its label point lies on."""
    parts = shapely.get_parts(geom)
    for i, b in enumerate(rec.get("blocks") or []):
        point = shapely.Point(b["label_point"]) if b.get("drawn") and b.get("label_point") else None
        if point is not None and (part := next((p for p in parts if p.covers(point)), None)) is not None:
            yield i, part


def _lakes(layers: Layers) -> Iterator[Finding]:
    """The plan bounds 鄞州's central block by 东钱湖 and sets units on its shores: no park lies in a lake."""
    p = layers.parks[layers.parks["kind"].isin(ON_LAND_KINDS)]
    for name, lake in _lake_geoms(layers):
        for fid, geom in zip(p["id"], p.geometry):
            if geom is not None and (wet := geodesic_area_km2(shapely.intersection(geom, lake))) > MAX_IN_LAKE_KM2:
                yield Finding("lake", fid, f"{wet:.2f} km² lies in {name}")


def _slivers(layers: Layers) -> Iterator[Finding]:
    """No crumbs and no detached pieces: every polygon part is at least MIN_PART_KM2, and a part that is
    not the feature's largest holds at least MIN_DETACHED_SHARE of its area or (sub-parks) a block's label."""
    for rec, geom in zip(layers.parks.drop(columns="geometry").to_dict("records"), layers.parks.geometry):
        if geom is None or shapely.get_dimensions(geom) < 2:
            continue
        parts = sorted(shapely.get_parts(geom), key=geodesic_area_km2, reverse=True)
        total = sum(geodesic_area_km2(p) for p in parts)
        labels = [shapely.Point(b["label_point"]) for b in rec.get("blocks") or [] if b.get("label_point")]
        for part in parts[1:]:
            area = geodesic_area_km2(part)
            where = "({:.4f}, {:.4f})".format(*part.representative_point().coords[0])
            if area < MIN_PART_KM2:
                yield Finding("sliver", rec["id"], f"a polygon part of {area:.4f} km² at {where}, "
                                                   f"under {MIN_PART_KM2} km²")
            elif area < MIN_DETACHED_SHARE * total and not any(part.covers(pt) for pt in labels):
                yield Finding("sliver", rec["id"], f"a detached part of {area:.3f} km² at {where} "
                                                   f"({area / total:.1%} of the feature) that is no block of its own")


def _stated_districts(layers: Layers) -> Iterator[Finding]:
    """A feature whose name names a district (北仑滨江…, 江北光电…) lies >= 95 % in it."""
    d = layers.districts.set_index("adcode")
    for frame in (layers.parks, layers.platforms):
        for fid, name, geom in zip(frame["id"], frame["name_zh"], frame.geometry):
            stated = [code for short, code in DISTRICT_SHORT.items() if str(name).startswith(short)]
            if not stated or geom is None or geom.is_empty:
                continue
            host = d.loc[stated[0]].geometry
            share = (1.0 if host.covers(geom) else 0.0) if geom.geom_type == "Point" else share_inside(geom, host)
            if share < MIN_SHARE_IN_DISTRICT:
                yield Finding("stated-district", fid, f"its name places it in {d.loc[stated[0]]['name_zh']}, "
                                                      f"yet only {share:.1%} lies there")


def _namesakes(layers: Layers) -> Iterator[Finding]:
    """A platform and the park named for it (甬江实验室 ...) are drawn at the same place."""
    parks = dict(zip(layers.parks["name_zh"], zip(layers.parks["id"], layers.parks.geometry)))
    for fid, name, point in zip(layers.platforms["id"], layers.platforms["name_zh"], layers.platforms.geometry):
        if name not in parks or point is None or point.is_empty:
            continue
        park_id, area = parks[name]
        km = float(geodesic_distances_km(np.array([point.x]), np.array([point.y]), np.array([area]))[0])
        if km > MAX_NAMESAKE_KM:
            yield Finding("namesake", fid, f"{km:.2f} km from {park_id}, the park of the same name "
                                           f"(at most {MAX_NAMESAKE_KM} km)")


def _areas(layers: Layers) -> Iterator[Finding]:
    p = layers.parks
    for fid, kind, area, planned in zip(p["id"], p["kind"], p["area_km2"], p.get("planned_area_km2", [None] * len(p))):
        yield from area_findings(fid, kind, area, planned)


def _blocks(layers: Layers) -> Iterator[Finding]:
    """A sub-park's MultiPolygon has a part for every block drawn (a clip may split one into more)."""
    sub = layers.kind("subpark")
    for fid, geom, blocks in zip(sub["id"], sub.geometry, sub["blocks"]):
        drawn = sum(1 for b in blocks or [] if b.get("drawn"))
        parts = shapely.get_num_geometries(geom) if geom is not None else 0
        if parts < drawn:
            yield Finding("blocks", fid, f"{parts} polygon part(s) for {drawn} drawn blocks")
        for b in blocks or []:
            point = b.get("label_point")
            if b.get("drawn") and (point is None or geom is None or not geom.covers(shapely.Point(point))):
                yield Finding("blocks", fid, f"block {b.get('name_zh')}: label_point must lie on the sub-park")


def _overlaps(layers: Layers) -> Iterator[Finding]:
    sub = layers.kind("subpark")
    geoms = np.asarray(sub.geometry.values, dtype=object)
    tree = shapely.STRtree(geoms)
    for i, geom in enumerate(geoms):
        for j, shared in overlapping(geom, tree, geoms):
            if i < j:
                yield Finding("overlap", f"{sub['id'].iloc[i]} / {sub['id'].iloc[j]}",
                              f"sub-parks overlap by {shared:.3f} km²")


def _corridor_units(layers: Layers) -> Iterator[Finding]:
    corridor = layers.kind("corridor")
    zone = corridor[corridor["role"] == "zone"]
    if len(zone) != 1:
        yield Finding("corridor", "corridor", "exactly one corridor feature must have role 'zone'")
        return
    zone_geom = zone.geometry.iloc[0]
    for fid, geom in zip(layers.kind("corridor-unit")["id"], layers.kind("corridor-unit").geometry):
        yield from corridor_findings(fid, geom, zone_geom)


def _industries(layers: Layers) -> Iterator[Finding]:
    tax = layers.taxonomy
    yield from (Finding("industry", "industries.json", p) for p in tax.problems())
    for frame in (layers.parks, layers.platforms):
        for fid, codes in zip(frame["id"], frame.get("industries", [[]] * len(frame))):
            yield from industry_findings(fid, codes, tax)


def _facts(layers: Layers) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(where, record, source) for every fact-bearing record: features, blocks, targets, indicators."""
    for frame in (layers.parks, layers.platforms):
        for row in frame.drop(columns="geometry").to_dict("records"):
            fid = row["id"]
            yield fid, row, row.get("source") or ""
            for i, b in enumerate(row.get("blocks") or []):
                yield f"{fid} block {i + 1}", b, b.get("source") or ""
            for t in row.get("targets") or []:
                yield f"{fid} target {t.get('id')}", t, t.get("source") or ""
    ind = layers.indicators
    for r in ind.get("table1", []):
        yield f"表 1 row {r.get('no')}", r, r.get("source") or ""
    for t in ind.get("targets", []):
        yield f"target {t.get('id')}", t, t.get("source") or ""
    for tier in ind.get("cluster_tiers", []):
        yield f"246 tier {tier.get('tier')}", tier, tier.get("source") or ""
    if ind.get("vision_2035"):
        yield "2035 vision", ind["vision_2035"], ind["vision_2035"].get("source") or ""
    for industry in layers.taxonomy.industries.values():
        yield f"industry {industry.code}", {"name_zh": industry.zh}, industry.source


def _sources(layers: Layers) -> Iterator[Finding]:
    for where, _, source in _facts(layers):
        ranges = cited_ranges(source)
        if not ranges:
            yield Finding("source", where, "no source citing the plan's lines")
        for first, last in ranges:
            if not layers.plan.valid_range(first, last):
                yield Finding("source", where, f"cites lines {first}-{last}, outside the plan")


def _quoted_fields(record: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for key, value in record.items():
        if key in NOT_QUOTED or not isinstance(value, str):
            continue
        if key.endswith("_zh") or key == "text":
            yield key, value


def _quotes(layers: Layers) -> Iterator[Finding]:
    """A name or term (TERM_FIELDS) stands on its cited lines in one run; any other quote is a whole
    clause of them (geo.plan.PlanText.quotes_clause), possibly read across interleaved table cells."""
    plan = layers.plan
    for where, record, source in _facts(layers):
        sources = [source, record.get("source_other") or "", record.get("industry_source") or ""]
        for key, value in _quoted_fields(record):
            if key == "status_zh":  # the plan's words on a platform's state stand on their own lines
                if not plan.quotes(value, record.get("status_source") or "", max_pieces=1):
                    yield Finding("verbatim", where, f"status_zh {value[:30]!r}… is not on its status_source lines")
                continue
            if key in TERM_FIELDS:
                if not any(plan.quotes(value, s, max_pieces=1) for s in sources if s):
                    yield Finding("verbatim", where, f"{key} {value[:30]!r}… is not on the lines it cites "
                                                     "(a name or term is quoted in one run)")
            elif not any(plan.quotes_clause(value, s) for s in sources if s):
                why = ("is only part of a clause" if any(plan.quotes(value, s) for s in sources if s)
                       else "is not on the lines it cites")
                yield Finding("verbatim", where, f"{key} {value[:30]!r}… {why}")
        planned = record.get("planned_area_km2")
        if planned and planned not in plan.numbers(record.get("planned_area_source") or source):
            yield Finding("verbatim", where, f"planned area {planned} is not on the lines it cites")
        for part in ("baseline", "target_2025"):
            number = (record.get(part) or {}).get("value")
            if number is not None and number not in plan.numbers(source):
                yield Finding("verbatim", where, f"{part} value {number} is not on the lines it cites")


def _targets(layers: Layers) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every target with a figure: the nodes', the corridor's, indicators.json's, and 表 1's 2025 column."""
    for where, record, _ in _facts(layers):
        if " target " in where or where.startswith("target "):
            yield where, record
    for row in layers.indicators.get("table1", []):
        target = row.get("target_2025") or {}
        if target.get("value") is not None:
            yield f"表 1 row {row.get('no')} target", {**target, "source": row.get("source")}


def _qualifiers(layers: Layers) -> Iterator[Finding]:
    """A target keeps the plan's qualifier (近 100, 1000 人以上): `value_zh` quotes the figure with it,
    `qualifier_zh` names it, and no qualifier printed next to the figure is left out."""
    plan = layers.plan
    for where, t in _targets(layers):
        value_zh, qualifier = t.get("value_zh"), t.get("qualifier_zh")
        if not value_zh:
            yield Finding("qualifier", where, "a target needs value_zh, the figure as the plan prints it")
            continue
        found = qualifier_words(value_zh)
        if not plan.quotes(value_zh, t.get("source") or "", max_pieces=1):
            yield Finding("qualifier", where, f"value_zh {value_zh!r} is not printed on the lines it cites")
        elif (qualifier or None) != ("".join(found) or None):
            yield Finding("qualifier", where, f"qualifier_zh {qualifier!r} but the figure reads {value_zh!r}")
        elif found and (want := COMPARATOR_OF.get(found[0])) and t.get("comparator") != want:
            yield Finding("qualifier", where, f"{found[0]} needs comparator {want!r}, not {t.get('comparator')!r}")
        for first, last in cited_ranges(t.get("source") or ""):
            if plan.valid_range(first, last) and (lost := lost_qualifier(plan.text(first, last), value_zh)):
                yield Finding("qualifier", where, f"the plan prints {lost!r} beside {value_zh!r}; keep it")
    for fid, rec in zip(layers.parks["id"], layers.parks.drop(columns="geometry").to_dict("records")):
        planned = rec.get("planned_area_km2")
        if planned and rec.get("planned_area_zh") is None:
            text = "".join(plan.text(a, b) for a, b in cited_ranges(rec.get("planned_area_source") or rec["source"]))
            if lost := lost_qualifier(text, f"{planned:g}"):
                yield Finding("qualifier", fid, f"the plan prints {lost!r} beside {planned:g}: "
                                                "quote it in planned_area_zh")


def _tiers(layers: Layers) -> Iterator[Finding]:
    """The “246” tiers: each names as many clusters as it counts, by industry codes that exist."""
    for tier in layers.indicators.get("cluster_tiers", []):
        codes = tier.get("industries") or []
        if len(codes) != tier.get("count"):
            yield Finding("tiers", str(tier.get("tier")), f"{len(codes)} industries for a count of {tier.get('count')}")
        if unknown := [c for c in codes if c not in layers.taxonomy]:
            yield Finding("tiers", str(tier.get("tier")), f"industry codes not in industries.json: {unknown}")


def _observations(layers: Layers) -> Iterator[Finding]:
    """Every observation names a known indicator, a year, a number and a source; one that cites the plan's
    lines must carry a number printed there, so none is invented."""
    known = indicator_ids(layers.indicators)
    for i, obs in enumerate((layers.observations or {}).get("observations", [])):
        where = f"observation {i + 1} ({obs.get('indicator')}, {obs.get('year')})"
        if obs.get("indicator") not in known:
            yield Finding("observation", where, "names no indicator of indicators.json")
        if not isinstance(obs.get("year"), int) or not 2015 <= obs["year"] <= 2035:
            yield Finding("observation", where, "needs a year between 2015 and 2035")
        value = obs.get("value")
        if not isinstance(value, int | float) or isinstance(value, bool):
            yield Finding("observation", where, "needs a numeric value")
        elif not obs.get("source"):
            yield Finding("observation", where, "cites no source: an observation without one is not kept")
        elif cited_ranges(obs["source"]) and not {float(value), float(value) / 1e4} & layers.plan.numbers(
                obs["source"]):  # as printed, or in 万 (3 万名 is 30000 persons)
            yield Finding("observation", where, f"value {value} is not on the plan's lines it cites")


def _area_rows(layers: Layers) -> list[AreaRow]:
    rows = []
    p = layers.parks
    districts = Districts(layers.districts)
    dry = layers.dry_land
    for rec, geom in zip(p.drop(columns="geometry").to_dict("records"), p.geometry):
        if rec["kind"] == "corridor-axis":
            continue
        share = on_land = None
        if KINDS[rec["kind"]].in_host_district and geom is not None:
            share = share_inside(geom, districts.host(rec["district_adcodes"]))
        if geom is not None and not geom.is_empty:
            on_land = share_inside(geom, dry)
        rows.append(AreaRow(rec["id"], rec["kind"], rec["area_km2"], rec.get("planned_area_km2"), share, on_land,
                            bool(rec.get("land_exception"))))
    return rows
