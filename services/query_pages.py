"""What the HTML pages of the plan-aware queries show beyond their JSON: the areas to click on (/locate,
/nearest), the districts coloured by area (/stats), each indicator as a bar chart (/indicators), the CRSs a
site may be given in. Computed from the service's own answers; the pages' script is services/static/pages.js."""

from __future__ import annotations

from typing import Any

import shapely

from geo.queries import NEAREST_KINDS
from geo.schema import KINDS
from services.state import Service

# The CRSs a person is likely to have a site's coordinates in (any other: type it, /locate takes any).
SITE_CRSS = (("EPSG:4326", "WGS 84 (经纬度 lon/lat)"), ("GCJ02", "GCJ-02 (高德、腾讯地图)"),
             ("EPSG:4490", "CGCS2000 (EPSG:4490)"), ("EPSG:4549", "CGCS2000 / 3° GK 120°E (EPSG:4549)"),
             ("EPSG:4550", "CGCS2000 / 3° GK 123°E (EPSG:4550)"), ("EPSG:32651", "WGS 84 / UTM 51N (EPSG:32651)"),
             ("EPSG:3857", "Web Mercator (EPSG:3857)"))
# Sequential blues, light to dark: the stats choropleth's five classes.
BLUES = ("#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c")
NOTE = "Schematic boundaries, not surveyed · 边界为示意"


def map_note(service: Service) -> str:
    """The pages' map attribution: NOTE while every boundary is schematic, else how many are which."""
    b = service.boundaries
    if not b.mixed:
        return NOTE
    return (f"{b.schematic} schematic boundaries, not surveyed; {b.surveyed} surveyed · "
            f"边界 {b.schematic} 处为示意，{b.surveyed} 处为测绘成果")


def areas_overlay(service: Service) -> dict[str, Any]:
    """The sub-parks, corridor units and innovation nodes as light GeoJSON (~20 m detail), for clicking on."""
    def build() -> dict[str, Any]:
        parks = service.layers.parks
        rows = parks[parks["kind"].isin(NEAREST_KINDS)]
        shapes = shapely.simplify(rows.geometry.values, 0.0002, preserve_topology=True)
        shapes = shapely.transform(shapes, lambda xy: xy.round(5))
        return {"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": fid, "geometry": shapely.geometry.mapping(shape),
             "properties": {"name_zh": name_zh, "name_en": name_en, "kind": kind,
                            "href": f"/collections/{KINDS[kind].collection}/items/{fid}?f=html"}}
            for fid, name_zh, name_en, kind, shape in zip(rows["id"], rows["name_zh"], rows["name_en"], rows["kind"],
                                                          shapes)]}
    return service.memo(("areas-overlay",), build)


def choropleth(service: Service) -> dict[str, Any]:
    """Per district (by adcode) the area in km² of its sub-parks, of its nodes, and of both; the classes' breaks."""
    values = {}
    for row in service.stats["districts"]:
        subparks, nodes = row["subparks"]["area_km2"] or 0.0, row["innovation_nodes"]["area_km2"] or 0.0
        values[row["adcode"]] = {"subparks": subparks, "nodes": nodes, "both": round(subparks + nodes, 3)}
    return {"values": values, "colours": list(BLUES)}


def indicator_bars(row: dict[str, Any], width: int = 520) -> dict[str, Any]:
    """The two bars of an indicator's chart, each scaled to the larger of baseline and target."""
    baseline = (row.get("baseline") or {}).get("value")
    target = (row.get("target_2025") or {}).get("value")
    numbers = [v for v in (baseline, target) if isinstance(v, int | float)]
    top = max(numbers) if numbers else 0
    def bar(value: Any) -> int | None:
        return round(width * value / top) if isinstance(value, int | float) and top > 0 else None
    return {"baseline": bar(baseline), "target": bar(target), "width": width}
