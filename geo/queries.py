"""Questions people ask of the layout: where does an industry cluster, and how much room does it have."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

from geo.layers import Layers


def hosting_industry(layers: Layers, code: str) -> gpd.GeoDataFrame:
    """Every area and platform whose `industries` name `code` or a narrower term of it.

    Adds a `matched` column with the codes that matched. Raises KeyError for an unknown code.
    """
    if code not in layers.taxonomy:
        raise KeyError(f"unknown industry code {code!r}")
    wanted = layers.taxonomy.narrower(code)
    frames = []
    for frame in (layers.parks, layers.platforms):
        matched = frame["industries"].map(lambda codes: sorted(wanted.intersection(codes or [])))
        hits = frame[matched.map(bool)].copy()
        hits["matched"] = matched[matched.map(bool)]
        frames.append(hits)
    return gpd.GeoDataFrame(pd.concat(frames), geometry="geometry", crs=layers.parks.crs)


@dataclass(frozen=True)
class IndustrySummary:
    code: str
    features: int
    planned_area_km2: float  # sum of the plan's figures where it gives one
    computed_area_km2: float  # sum of the drawn (schematic) areas
    district_counts: dict[str, int]  # adcode -> features hosted there


def summarise(layers: Layers, hosts: gpd.GeoDataFrame, code: str) -> IndustrySummary:
    """Totals for `hosting_industry`'s result; areas only of sub-parks, nodes, units and zones, not platforms."""
    areas = hosts[hosts["kind"] != "platform"]
    planned = pd.to_numeric(areas.get("planned_area_km2"), errors="coerce").fillna(0).sum() if len(areas) else 0.0
    counts: dict[str, int] = {}
    for codes in hosts["district_adcodes"]:
        for adcode in codes or []:
            counts[adcode] = counts.get(adcode, 0) + 1
    return IndustrySummary(code, len(hosts), float(planned), float(areas["area_km2"].sum()), counts)
