"""Questions people ask of the layout: where does an industry cluster, how much room does it have, what lies
near a site, and how the plan's areas share out among the districts.

``hosting_industry`` and ``summarise`` answer in GeoDataFrames for the maps. The plan-aware queries a web
service exposes (``industry_catalogue``, ``industry_detail``, ``nearest``, ``stats``, ``indicators``)
answer in JSON-ready plain values: dict, list, str, int, float, bool and None, never numpy scalars or NaN.
Areas are in km² and distances in km, both geodesic (WGS 84 ellipsoid) and rounded to 3 decimals
(1,000 m², 1 m); shares are rounded to 4. A feature is referred to as
``{"id", "kind", "collection", "name_zh", "name_en"}``, ``collection`` being the service's collection id.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.layers import Layers
from geo.measure import geodesic_area_km2, geodesic_areas_km2, geodesic_distances_km
from geo.monitoring import annotate
from geo.schema import KINDS, PARK_KINDS

AREA_DIGITS = 3  # km²: 1,000 m², far finer than the schematic boundaries
DISTANCE_DIGITS = 3  # km: 1 m
SHARE_DIGITS = 4
AREAL_TYPES = ("Polygon", "MultiPolygon")
AREAL_TYPE_IDS = (3, 6)  # shapely.get_type_id of those
# The kinds `nearest` ranks: the plan's areas, not the axis line, the platforms' points or the districts.
AREAL_KINDS = tuple(k.name for k in PARK_KINDS if set(k.geometry_types) <= set(AREAL_TYPES))
NEAREST_KINDS = ("subpark", "corridor-unit", "innovation-node")


def hosting_industry(layers: Layers, code: str) -> gpd.GeoDataFrame:
    """Every area and platform whose `industries` name `code` or a narrower term of it.

    Adds a `matched` column with the codes that matched. Raises KeyError for an unknown code.
    """
    _check_industry(layers, code)
    return _hosts(_candidates(layers), layers.taxonomy.narrower(code))


def industry_catalogue(layers: Layers) -> list[dict[str, Any]]:
    """One entry per taxonomy code, in the order of industries.json.

    Each entry: ``code``, ``name_zh``, ``name_en``, ``broader`` (a code or None), ``narrower`` (the direct
    children's codes), ``groups`` (the group codes industries.json lists), ``source``, and over the features
    hosting the code or a narrower term:

    - ``features``: how many, of any kind, platforms included;
    - ``planned_area_km2``: the sum of the plan's area figures among the hosting areas, None when the plan
      gives a figure for none of them (the plan being silent is not an area of 0);
    - ``computed_area_km2``: the geodesic area of the *union* of the hosting areas (polygons only, so not
      the platforms' points). Kinds overlap (the corridor zone holds its areas and units, nodes cross
      sub-parks), so summing their areas would count the same ground twice or more; the union counts it
      once. The union is taken in lon/lat, where every stored area is drawn, and measured on the
      ellipsoid like every other area. 0 when no hosting feature is an area.
    """
    frame = _candidates(layers)
    # Plain arrays: 69 codes over ~80 features, where pandas' per-selection overhead would dominate.
    named = [frozenset(codes or ()) for codes in frame["industries"]]
    areal, geoms, figures = _areal(frame), frame.geometry.to_numpy(), _figures(frame)
    entries = []
    for code in layers.taxonomy.industries:
        wanted = layers.taxonomy.narrower(code)
        hits = np.array([not wanted.isdisjoint(codes) for codes in named], dtype=bool)
        entries.append(_entry(layers, code, int(hits.sum()), geoms[hits & areal], figures[hits & areal]))
    return entries


def industry_detail(layers: Layers, code: str) -> dict[str, Any]:
    """The catalogue entry of `code`, plus its ``hosts`` and their count ``per_district``.

    ``hosts``: every hosting feature (areas in the order of parks.geojson, then platforms) as a feature
    reference with ``matched`` (the codes it names among `code` and its narrower terms), ``planned_area_km2``
    (None where the plan gives none), ``area_km2`` (computed; None for a platform), ``district_adcodes``,
    ``geometry_quality`` (areas) and ``location_quality`` (platforms), the other None.
    ``per_district``: ``{adcode: {"name_zh", "features"}}`` by the features' ``district_adcodes``, a feature
    in two districts counting in both; platforms whose district is unknown count in none.
    Raises KeyError for an unknown code.
    """
    _check_industry(layers, code)
    hosts = _hosts(_candidates(layers), layers.taxonomy.narrower(code))
    names = _district_names(layers)
    areal = _areal(hosts)
    per_district = Counter(a for adcodes in hosts["district_adcodes"] for a in adcodes or [])
    return {
        **_entry(layers, code, len(hosts), hosts.geometry.to_numpy()[areal], _figures(hosts)[areal]),
        "hosts": [{
            **_ref(row),
            "matched": list(row["matched"]),
            "planned_area_km2": _rounded(row.get("planned_area_km2"), AREA_DIGITS),
            "area_km2": _rounded(row["area_km2"], AREA_DIGITS) if is_area else None,
            "district_adcodes": list(row["district_adcodes"] or []),
            "geometry_quality": row.get("geometry_quality"),
            "location_quality": row.get("location_quality"),
        } for (_, row), is_area in zip(hosts.iterrows(), areal)],
        "per_district": {a: {"name_zh": names.get(a), "features": n} for a, n in sorted(per_district.items())},
    }


def nearest(layers: Layers, lon: float, lat: float, industry: str | None = None, k: int = 5,
            kinds: tuple[str, ...] = NEAREST_KINDS) -> list[dict[str, Any]]:
    """The `k` areas of `kinds` nearest to the site (lon, lat), nearest first, ties by id.

    With `industry`, only areas hosting it or a narrower term. Each: a feature reference, ``distance_km``
    (geodesic, from the site to the nearest point of the area; 0 inside or on the edge), ``inside``,
    ``matched`` (the industry codes the area names; None without `industry`) and ``area_km2``.
    Distances hold within Ningbo, where the nearest point is found (see geo.measure.geodesic_distances_km).
    Raises ValueError for a bad `lon`, `lat`, `k` or kind (`kinds` must be areal kinds of the plan),
    KeyError for an unknown industry.
    """
    lon = _coordinate("lon", lon, 180.0)
    lat = _coordinate("lat", lat, 90.0)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    kinds = tuple(dict.fromkeys(kinds))  # a kind asked twice is still one kind
    if not kinds:
        raise ValueError("kinds must name at least one kind")
    for name in kinds:
        if name not in AREAL_KINDS:
            raise ValueError(f"kinds: {name!r} is not an area kind; choose from {', '.join(AREAL_KINDS)}")
    areas = layers.parks[layers.parks["kind"].isin(kinds)]
    if industry is not None:
        _check_industry(layers, industry)
        areas = _hosts(areas, layers.taxonomy.narrower(industry))
    return [{**entry, "matched": list(areas.loc[entry["id"], "matched"]) if industry is not None else None,
             "area_km2": _rounded(areas.loc[entry["id"], "area_km2"], AREA_DIGITS)}
            for entry in _ranked(areas, lon, lat, k)]


def nearest_platforms(layers: Layers, lon: float, lat: float, k: int = 5) -> list[dict[str, Any]]:
    """The `k` platforms with a known site nearest to (lon, lat), nearest first, ties by id: a feature reference
    with ``platform_type`` and ``distance_km`` (geodesic; the sites are approximate, ±1-2 km)."""
    lon = _coordinate("lon", lon, 180.0)
    lat = _coordinate("lat", lat, 90.0)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    placed = layers.platforms[layers.platforms.geometry.notna()]
    return [{**entry, "platform_type": placed.loc[entry["id"], "platform_type"]}
            for entry in _ranked(placed, lon, lat, k)]


def _ranked(frame: gpd.GeoDataFrame, lon: float, lat: float, k: int) -> list[dict[str, Any]]:
    """The k rows nearest the site as feature references with ``distance_km`` and ``inside``."""
    if frame.empty:
        return []
    n = len(frame)
    distances = np.round(geodesic_distances_km(np.full(n, lon), np.full(n, lat), frame.geometry.to_numpy()),
                         DISTANCE_DIGITS)
    ids = frame["id"].to_numpy(dtype=str)
    order = np.lexsort((ids, distances))[:k]  # ties (every area the site is in, at 0) by id
    return [{**_ref(frame.iloc[i]), "distance_km": _rounded(distances[i], DISTANCE_DIGITS),
             "inside": bool(distances[i] == 0.0)} for i in order]


def stats(layers: Layers) -> dict[str, Any]:
    """How the plan's areas share out among the ten districts, with per-industry totals.

    ``districts``: per district (layer order) ``adcode``, ``name_zh``, ``name_en``, ``area_km2``; for each
    group ``subparks``, ``innovation_nodes`` and ``corridor`` (the corridor zone, which holds its two areas
    and its units) ``{"area_km2", "share"}``: the geodesic area of the group's union inside the district and
    its share of the district (0..1); ``counts`` of sub-parks, innovation nodes, corridor units and
    platforms there, by their ``district_adcodes`` (a feature in two districts counts in both; platforms
    of unknown district in none).
    ``industries``: per code ``code``, ``features``, ``planned_area_km2``, ``computed_area_km2`` as in
    `industry_catalogue`. ``totals``: per group its feature count, the area of its union, the plan's
    figures (None where there are none) and the part inside the districts; counts of units, platforms
    (and those with a point) and industries; the districts' total area.
    """
    districts = layers.kind("district")
    district_geoms = districts.geometry.to_numpy()
    district_areas = districts["area_km2"].to_numpy(dtype=float)
    corridor = layers.kind("corridor")
    groups = {
        "subparks": layers.kind("subpark"),
        "innovation_nodes": layers.kind("innovation-node"),
        "corridor": corridor[corridor["role"] == "zone"],
    }
    unions = {name: shapely.union_all(frame.geometry.to_numpy()) for name, frame in groups.items()}
    # One vectorised intersection per group against every district at once.
    inside = {name: geodesic_areas_km2(shapely.intersection(district_geoms, union))
              for name, union in unions.items()}
    counted = {"subparks": groups["subparks"], "innovation_nodes": groups["innovation_nodes"],
               "corridor_units": layers.kind("corridor-unit"), "platforms": layers.platforms}
    counts = {name: Counter(a for adcodes in frame["district_adcodes"] for a in adcodes or [])
              for name, frame in counted.items()}
    rows = []
    for i, (_, district) in enumerate(districts.iterrows()):
        row: dict[str, Any] = {
            "adcode": district["adcode"], "name_zh": district["name_zh"], "name_en": district["name_en"],
            "area_km2": _rounded(district_areas[i], AREA_DIGITS),
        }
        for name in groups:
            row[name] = {"area_km2": _rounded(inside[name][i], AREA_DIGITS),
                         "share": _rounded(inside[name][i] / district_areas[i], SHARE_DIGITS)}
        row["counts"] = {name: counts[name][district["adcode"]] for name in counted}
        rows.append(row)
    totals: dict[str, Any] = {
        name: {"count": len(frame),
               "area_km2": _rounded(geodesic_area_km2(unions[name]), AREA_DIGITS),
               "planned_area_km2": _planned(_figures(frame)),
               "in_districts_km2": _rounded(inside[name].sum(), AREA_DIGITS)}
        for name, frame in groups.items()
    }
    totals.update({
        "district_area_km2": _rounded(district_areas.sum(), AREA_DIGITS),
        "corridor_units": len(counted["corridor_units"]),
        "platforms": len(layers.platforms),
        "platforms_with_point": int(layers.platforms.geometry.notna().sum()),
        "industries": len(layers.taxonomy.industries),
    })
    industries = [{key: entry[key] for key in ("code", "features", "planned_area_km2", "computed_area_km2")}
                  for entry in industry_catalogue(layers)]
    return {"districts": rows, "industries": industries, "totals": totals}


def indicators(layers: Layers) -> dict[str, Any]:
    """indicators.json as written: ``document``, ``table1`` (表 1's rows), ``table1_note_zh``,
    ``table1_note_source``, ``targets`` (the city's, the corridor's and the high-tech zone's 2025 targets),
    ``cluster_tiers`` (the "246") and ``vision_2035``; each row and target with its ``observations`` and
    ``progress`` (geo.monitoring).

    Checked first: every row of ``table1`` and ``targets`` is an object citing its ``source``, and every
    value is plain JSON (a NaN or infinite number becomes None). A fresh copy, so a caller may change it.
    Raises ValueError when the file breaks that shape.
    """
    doc = layers.indicators
    for key in ("table1", "targets"):
        rows = doc.get(key)
        if not isinstance(rows, list):
            raise ValueError(f"indicators.json: {key!r} is not a list")
        for i, row in enumerate(rows):
            if not isinstance(row, dict) or not isinstance(row.get("source"), str) or not row["source"]:
                raise ValueError(f"indicators.json: {key}[{i}] cites no source")
    clean: dict[str, Any] = _json_ready(annotate(doc, layers.observations))
    return clean


def _candidates(layers: Layers) -> gpd.GeoDataFrame:
    """Every feature that can host an industry: the plan's areas, then the platforms."""
    frame = gpd.GeoDataFrame(pd.concat([layers.parks, layers.platforms]), geometry="geometry", crs=layers.parks.crs)
    # A property one layer lacks (a platform's geometry_quality) is None, as within a layer, not NaN.
    props = frame.select_dtypes(include="object").columns.drop("geometry", errors="ignore")
    frame[props] = frame[props].where(frame[props].notna(), None)
    return frame


def _hosts(frame: gpd.GeoDataFrame, wanted: set[str]) -> gpd.GeoDataFrame:
    """The rows of `frame` naming any code of `wanted`, with a `matched` column of those codes, sorted."""
    matched = frame["industries"].map(lambda codes: sorted(wanted.intersection(codes or [])))
    hits = matched.map(bool)
    return frame[hits].assign(matched=matched[hits])


def _entry(layers: Layers, code: str, features: int, areas: np.ndarray, figures: np.ndarray) -> dict[str, Any]:
    """A catalogue entry from the count of hosting features and their areas' shapes and plan figures."""
    industry = layers.taxonomy.industries[code]
    return {
        "code": code,
        "name_zh": industry.zh,
        "name_en": industry.en,
        "broader": industry.broader,
        "narrower": [c for c, i in layers.taxonomy.industries.items() if i.broader == code],
        "groups": list(industry.groups),
        "source": industry.source,
        "features": features,
        "planned_area_km2": _planned(figures),
        "computed_area_km2": _rounded(geodesic_area_km2(shapely.union_all(areas)), AREA_DIGITS),
    }


def _figures(frame: gpd.GeoDataFrame) -> np.ndarray:
    """Each row's planned area in km², NaN where the plan gives none."""
    if "planned_area_km2" not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame["planned_area_km2"], errors="coerce").to_numpy(dtype=float)


def _planned(figures: np.ndarray) -> float | None:
    """The sum of the plan's figures; None when it gives none (the plan being silent is not 0 km²)."""
    given = figures[np.isfinite(figures)]
    return _rounded(given.sum(), AREA_DIGITS) if len(given) else None


def _ref(row: pd.Series) -> dict[str, Any]:
    return {"id": row["id"], "kind": row["kind"], "collection": KINDS[row["kind"]].collection,
            "name_zh": row["name_zh"], "name_en": row["name_en"]}


def _areal(frame: gpd.GeoDataFrame) -> np.ndarray:
    """Which rows are (multi)polygons: the areas, not the axis line or a platform's point or null."""
    geoms = frame.geometry.to_numpy()
    return np.isin(shapely.get_type_id(geoms), AREAL_TYPE_IDS) & ~shapely.is_empty(geoms)


def _district_names(layers: Layers) -> dict[str, str]:
    districts = layers.kind("district")
    return dict(zip(districts["adcode"], districts["name_zh"]))


def _check_industry(layers: Layers, code: str) -> None:
    if code not in layers.taxonomy:
        raise KeyError(f"unknown industry code {code!r}")


def _coordinate(name: str, value: float, limit: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not -limit <= number <= limit:  # also refuses NaN
        raise ValueError(f"{name} must lie in [-{limit:g}, {limit:g}], got {value!r}")
    return number


def _rounded(value: Any, digits: int) -> float | None:
    """A plain float rounded to `digits`; None for a missing or non-finite value (JSON has no NaN)."""
    if value is None:
        return None
    number = float(value)
    return round(number, digits) if math.isfinite(number) else None


def _json_ready(value: Any) -> Any:
    """A copy of `value` in plain JSON types; non-finite numbers become None. TypeError for anything else."""
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError(f"JSON object keys must be strings: {list(value)!r}")
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):  # before int: a bool is an int to Python
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    raise TypeError(f"not a JSON value: {value!r}")

