"""Draw data/parks.geojson from the plan's words (scripts/parks_spec.py).

Run: `PYTHONPATH=. python scripts/build_parks.py` (needs data/districts.geojson
and data/indicators.json). Every geometry is schematic;
how each one is drawn is written into its `geometry_method`.

Method, in a local transverse Mercator (CM 121.5°E) so distances are metres:
- a block between named roads is a box, a block known by its place a disc;
- a sub-park's blocks are scaled together about their own centres until the
  sub-park, clipped to its host district and kept 5 m clear of the sub-parks
  already drawn, has the plan's area (bisection to 0.01 %); blocks keep 5 m
  apart too, so each stays a part of its own;
- the 甬江—姚江 axis is traced from the district boundaries that run down the
  two rivers (江北/镇海 on the north bank, 海曙/鄞州/北仑 on the south);
- belts are buffers of their named axis, clipped to the host district;
- every shape is clipped to land: the GSHHS shoreline (data/land.geojson) within the
  districts, less 东钱湖; a feature on land reclaimed since GSHHS's shoreline
  (parks_spec.LAND_EXCEPTIONS) is clipped to the district polygons, less the lake.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely import affinity
from shapely.geometry import LineString, MultiPoint, Point, box, shape

sys.path.insert(0, str(Path(__file__).resolve().parent))
import parks_spec as spec

from geo.io import read_json, write_geojson_atomic
from geo.measure import geodesic_area_km2

DATA = Path(__file__).resolve().parent.parent / "data"
LOCAL = CRS.from_proj4("+proj=tmerc +lat_0=0 +lon_0=121.5 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m")
_TO_M = Transformer.from_crs("EPSG:4326", LOCAL, always_xy=True)
_TO_LL = Transformer.from_crs(LOCAL, "EPSG:4326", always_xy=True)
GAP_M = 5.0  # clearance kept between neighbouring sub-parks
AXIS_EAST_LON = 121.726  # the 甬江 meets the sea at 镇海口; the boundary beyond runs through the estuary
SANJIANGKOU_LON = 121.553  # where the 姚江 and the 奉化江 form the 甬江


def to_m(g: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(g, lambda xy: _xy(_TO_M, xy))


def to_ll(g: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(g, lambda xy: _xy(_TO_LL, xy))


def _xy(t: Transformer, xy: Any) -> Any:
    x, y = t.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def draw(s: dict[str, Any]) -> shapely.Geometry:
    """A spec shape, in metres."""
    if "box" in s:
        return to_m(shapely.segmentize(box(*s["box"]), 0.002))
    if "disc" in s:
        lon, lat, r = s["disc"]
        return to_m(Point(lon, lat)).buffer(r * 1000, quad_segs=16)
    if "belt" in s:
        b = s["belt"]
        return to_m(LineString(b["line"])).buffer(b["width_km"] * 500, cap_style="flat")
    if "hull" in s:
        return to_m(MultiPoint(s["hull"])).convex_hull.buffer(s["buffer_km"] * 1000)
    raise ValueError(f"unknown shape {s}")


def bisect(build: Callable[[float], shapely.Geometry], target_km2: float,
           lo: float = 0.05, hi: float = 8.0) -> tuple[shapely.Geometry, float]:
    """The scale at which build(scale) has the target area (metric area is monotone in scale), and that shape."""
    for _ in range(60):
        mid = (lo + hi) / 2
        area = build(mid).area / 1e6
        if abs(area - target_km2) / target_km2 < 1e-4:
            break
        lo, hi = (mid, hi) if area < target_km2 else (lo, mid)
    return build(mid), mid


class Context:
    def __init__(self) -> None:
        feats = read_json(DATA / "districts.geojson")["features"]
        self.districts = {f["properties"]["adcode"]: to_m(shape(f["geometry"])) for f in feats
                          if f["properties"]["kind"] == "district"}
        self.names = {f["properties"]["adcode"]: f["properties"]["name_zh"] for f in feats}
        self.districts_union = shapely.union_all(list(self.districts.values()))
        shore = {f["properties"]["kind"]: to_m(shape(f["geometry"]))
                 for f in read_json(DATA / "land.geojson")["features"]}
        self.lake = shore["lake"]
        # land within the districts and the lakes: the corridor's 东钱湖地区 holds its lake
        self.land_with_lakes = shapely.intersection(self.districts_union, shore["land"])
        self.land = shapely.difference(self.land_with_lakes, self.lake)
        self.reclaimed_land = shapely.difference(self.districts_union, self.lake)
        self.axis = self._trace_axis()

    def land_for(self, fid: str) -> shapely.Geometry:
        """The land a feature is clipped to: GSHHS's, or the districts' where it lies on reclaimed land."""
        return self.reclaimed_land if fid in spec.LAND_EXCEPTIONS else self.land

    def _trace_axis(self) -> LineString:
        d = self.districts
        north = shapely.union_all([d["330205"], d["330211"]])
        south = shapely.union_all([d["330203"], d["330212"], d["330206"]])
        shared = shapely.line_merge(shapely.intersection(north.boundary, south.boundary))
        inland = to_m(box(121.0, 29.5, AXIS_EAST_LON, 30.2))
        line = shapely.line_merge(shapely.intersection(shared, inland))
        if line.geom_type != "LineString":  # keep the longest run
            line = max(line.geoms, key=lambda g: g.length)
        if line.coords[0][0] > line.coords[-1][0]:
            line = line.reverse()  # west (姚江) to east (甬江 mouth)
        return line.simplify(50)

    def axis_between(self, west_lon: float, east_lon: float) -> shapely.Geometry:
        return shapely.intersection(self.axis, to_m(box(west_lon, 29.5, east_lon, 30.2)))

    def host_districts(self, g: shapely.Geometry) -> list[str]:
        """Districts holding at least 5 % of a shape, largest share first."""
        shares = {a: shapely.intersection(g, d).area / g.area for a, d in self.districts.items()}
        return [a for a, s in sorted(shares.items(), key=lambda p: -p[1]) if s >= 0.05]


def _land_note(fid: str, kind: str) -> str:
    """How the shape was clipped to land, as every geometry_method says."""
    if kind == "corridor-axis":
        return ""
    if fid in spec.LAND_EXCEPTIONS:
        return ("; on reclaimed land, so clipped to the district polygons less 东钱湖 rather than the GSHHS "
                "shoreline (see land_exception)")
    if kind == "corridor":
        return "; land is the GSHHS shoreline within the districts, 东钱湖 kept"
    return "; clipped to land: the GSHHS shoreline within the districts, less 东钱湖"


def base(fid: str, kind: str, name_zh: str, name_en: str, districts: list[str], ctx: Context,
         source: str, method: str) -> dict[str, Any]:
    return {
        "id": fid, "kind": kind, "name_zh": name_zh, "name_en": name_en,
        "district_adcodes": districts, "district_names_zh": [ctx.names[a] for a in districts],
        "source": source, "geometry_quality": "schematic",
        "geometry_method": method + _land_note(fid, kind),
        **({"land_exception": spec.LAND_EXCEPTIONS[fid]} if fid in spec.LAND_EXCEPTIONS else {}),
    }


def feature(props: dict[str, Any], geom_m: shapely.Geometry) -> dict[str, Any]:
    g = shapely.set_precision(to_ll(geom_m), 1e-6)
    g = shapely.orient_polygons(g) if g.geom_type in ("Polygon", "MultiPolygon") else g
    if g.geom_type == "Polygon" and props["kind"] == "subpark":
        g = shapely.MultiPolygon([g])
    return {"type": "Feature", "id": props["id"], "properties": props,
            "geometry": json.loads(shapely.to_geojson(g))}


def label_point(piece_m: shapely.Geometry) -> list[float]:
    """Where a block's name goes: a point inside its largest polygon, lon/lat."""
    largest = max(shapely.get_parts(piece_m), key=lambda p: p.area)
    lon, lat = to_ll(largest.point_on_surface()).coords[0]
    return [round(lon, 6), round(lat, 6)]


MIN_PART_M2 = 50_000  # geo.validate.MIN_PART_KM2: a clip's detached crumbs are not parts of a park
MIN_DETACHED_SHARE = 0.02  # geo.validate.MIN_DETACHED_SHARE


def polygons_only(g: shapely.Geometry) -> shapely.Geometry:
    """Drop the slivers a clip can leave: lines, points and detached polygons under 0.05 km²."""
    parts = [p for p in shapely.get_parts(g) if p.geom_type == "Polygon" and p.area >= MIN_PART_M2]
    return shapely.union_all(parts)


def whole(g: shapely.Geometry, total_m2: float | None = None) -> shapely.Geometry:
    """The shape without detached leftovers of a clip: its largest part, and the others that hold
    at least MIN_DETACHED_SHARE of `total_m2` (default: the shape's own area)."""
    parts = sorted(shapely.get_parts(polygons_only(g)), key=lambda p: -p.area)
    if not parts:
        return polygons_only(g)
    floor = MIN_DETACHED_SHARE * (total_m2 if total_m2 is not None else sum(p.area for p in parts))
    return shapely.union_all([parts[0], *[p for p in parts[1:] if p.area >= floor]])


def build_subparks(ctx: Context) -> list[dict[str, Any]]:
    placed: list[shapely.Geometry] = []
    out = {}
    # 大榭 first: it must fit on its island before 北仑 takes the land around it.
    order = sorted(spec.SUBPARKS, key=lambda s: (s["id"] != "subpark-daxie", s["seq"]))
    for sp in order:
        mask = shapely.intersection(shapely.union_all([ctx.districts[a] for a in sp["districts"]]),
                                    ctx.land_for(sp["id"]))
        if "mask_box" in sp:
            mask = shapely.intersection(mask, to_m(box(*sp["mask_box"])))
        if placed:
            mask = shapely.difference(mask, shapely.union_all(placed).buffer(GAP_M))
        parts = [draw(b["shape"]) for b in sp["blocks"] if b["shape"]]
        area = sp["planned_area_km2"]

        def pieces(f: float, parts: list[shapely.Geometry] = parts, mask: shapely.Geometry = mask,
                   area: float = area) -> list[shapely.Geometry]:
            # each block stays its own part: a later block yields to an earlier one, with a gap
            taken: list[shapely.Geometry] = []
            for p in parts:
                piece = shapely.intersection(affinity.scale(p, f, f, origin="centroid"), mask)
                if taken:
                    piece = shapely.difference(piece, shapely.union_all(taken).buffer(GAP_M))
                taken.append(whole(piece, area * 1e6))  # a block's cut-off crumbs are dropped
            return taken

        geom, scale = bisect(lambda f: polygons_only(shapely.union_all(pieces(f))), area)
        placed.append(geom)
        labels = iter(label_point(p) for p in pieces(scale))
        industry_zh = sp.get("industry_zh") or spec.plan(*sp["industry_lines"])
        blocks = [{"name_zh": b["name_zh"], "name_en": b["name_en"],
                   **({"label_zh": b["label_zh"]} if b["label_zh"] else {}), "boundary_zh": b["boundary_zh"],
                   "drawn": b["shape"] is not None, "label_point": next(labels) if b["shape"] else None,
                   "geometry_method": b["method"], "source": b["source"]}
                  for b in sp["blocks"]]
        props = base(sp["id"], "subpark", sp["name_zh"], sp["name_en"], sp["districts"], ctx,
                     spec.src(spec.S9, *sp["row_lines"]),
                     "blocks drawn as boxes between their named bounding roads or as discs at their named "
                     "places, then scaled together about their centres until the sub-park, clipped to its "
                     "host district and clear of the other sub-parks, has the planned area")
        props.update({
            "seq": sp["seq"], "planned_area_km2": area,
            "planned_area_source": spec.src(spec.S9, *sp["area_lines"]),
            "industry_zh": industry_zh, "industry_source": spec.src(spec.S9, *sp["industry_lines"]),
            "industries": sp["industries"], "blocks": blocks,
        })
        if "blocks_intro_zh" in sp:
            props["blocks_intro_zh"] = sp["blocks_intro_zh"]
        out[sp["id"]] = feature(props, geom)
    return [out[sp["id"]] for sp in spec.SUBPARKS]


def build_units(ctx: Context) -> tuple[list[dict[str, Any]], dict[str, shapely.Geometry]]:
    feats, geoms = [], {}
    for u in spec.UNITS:
        g = whole(shapely.intersection(draw(u["shape"]), ctx.land_for(u["id"])))
        geoms[u["id"]] = g
        radius = u["shape"]["disc"][2]
        props = base(u["id"], "corridor-unit", u["name_zh"], u["name_en"], ctx.host_districts(g), ctx,
                     u["source"], f"disc of {radius} km radius at {u['where']}; the plan gives no boundary")
        props.update({"corridor_area": u["area"], "unit_type_zh": u["unit_type_zh"],
                      "positioning_zh": u["positioning_zh"], "function_zh": u["function_zh"],
                      "industries": u["industries"]})
        feats.append(feature(props, g))
    return feats, geoms


def build_corridor(ctx: Context, unit_geoms: dict[str, shapely.Geometry]) -> list[dict[str, Any]]:
    c = spec.CORRIDOR
    north_units = [g for u, g in zip(spec.UNITS, unit_geoms.values()) if u["area"] == "north"]
    south_units = [g for u, g in zip(spec.UNITS, unit_geoms.values()) if u["area"] == "south"]
    yongjiang = ctx.axis_between(SANJIANGKOU_LON, AXIS_EAST_LON)
    north = shapely.union_all([yongjiang.buffer(2500), *[g.buffer(500) for g in north_units]])
    north = whole(shapely.intersection(north, ctx.land_with_lakes))
    south = shapely.union_all([ctx.lake, *south_units]).convex_hull.buffer(500)
    south = whole(shapely.intersection(south, ctx.land_with_lakes))
    spine = whole(shapely.intersection(ctx.axis.buffer(1500), ctx.land_with_lakes))
    zone = shapely.union_all([north, south, spine])
    indicators = read_json(DATA / "indicators.json")
    targets = [t for t in indicators["targets"] if t["scope"] == "corridor"]

    def corridor(fid: str, role: str, name_zh: str, name_en: str, g: shapely.Geometry, method: str,
                 extra: dict[str, Any]) -> dict[str, Any]:
        props = base(fid, "corridor", name_zh, name_en, ctx.host_districts(g), ctx, c["source"], method)
        props.update({"role": role, **extra})
        return feature(props, g)

    axis_props = base("corridor-axis-yongjiang-yaojiang", "corridor-axis", "甬江—姚江", "Yongjiang–Yaojiang axis",
                      ctx.host_districts(ctx.axis.buffer(100)), ctx, spec.src(spec.S4_2, 1665, 1665),
                      "traced along the district boundaries that follow the 姚江 (江北/海曙) and the 甬江 "
                      "(江北·镇海/鄞州·北仑) from 江北's western edge to the river mouth at 镇海, simplified to 50 m")
    axis_props.update({"description_zh": c["axis_zh"], "industries": []})
    return [
        corridor("corridor-zone", "zone", "甬江科创大走廊", "Yongjiang Science and Innovation Corridor", zone,
                 "union of the two areas and a 1.5 km band either side of the 甬江—姚江 axis, clipped to land",
                 {"description_zh": c["description_zh"], "focus_zh": c["focus_zh"], "industries": c["industries"],
                  "targets": targets}),
        corridor("corridor-north", "north-area", "甬江两岸", "Yongjiang banks (northern) area", north,
                 "2.5 km either side of the 甬江 from 三江口 to its mouth, widened to hold the units placed "
                 "there, clipped to land",
                 {"description_zh": c["areas_zh"], "focus_zh": None, "industries": [], "targets": []}),
        corridor("corridor-south", "south-area", "东钱湖地区", "Dongqian Lake (southern) area", south,
                 "convex hull of 东钱湖 and the units placed around it, widened by 0.5 km, clipped to land",
                 {"description_zh": c["areas_zh"], "focus_zh": None, "industries": [], "targets": []}),
        feature(axis_props, ctx.axis),
    ]


def build_nodes(ctx: Context) -> list[dict[str, Any]]:
    feats = []
    for n in spec.NODES:
        host = shapely.intersection(shapely.union_all([ctx.districts[a] for a in n["districts"]]),
                                    ctx.land_for(n["id"]))
        s = n["shape"]
        if "axis_belt" in s:
            ab = s["axis_belt"]
            line = ctx.axis_between(ab["west"], ab["east"])
            g = whole(shapely.intersection(line.buffer(ab["width_km"] * 1000), host))
        elif n["planned_area_km2"]:
            line = to_m(LineString(s["belt"]["line"]))

            def widen(f: float, line: shapely.Geometry = line, host: shapely.Geometry = host) -> shapely.Geometry:
                return whole(shapely.intersection(line.buffer(f * 1000, cap_style="flat"), host))

            g, _ = bisect(widen, n["planned_area_km2"], 0.1, 10.0)
        else:
            g = whole(shapely.intersection(draw(s), host))
        props = base(n["id"], "innovation-node", n["name_zh"], n["name_en"], n["districts"], ctx, n["source"],
                     n["method"])
        props.update({"form": n["form"], "description_zh": n["description_zh"], "industries": n["industries"],
                      "targets": n["targets"], "planned_area_km2": n["planned_area_km2"]})
        if n["planned_area_zh"]:  # the plan's words, 近 100 平方公里: the figure is not exact
            props.update({"planned_area_zh": n["planned_area_zh"],
                          "planned_area_qualifier_zh": "".join(spec.qualifier_words(n["planned_area_zh"])) or None})
        feats.append(feature(props, g))
    return feats


def build_simple(ctx: Context, kind: str, items: list[dict[str, Any]],
                 extra: Callable[[dict[str, Any]], dict[str, Any]]) -> list[dict[str, Any]]:
    feats = []
    for it in items:
        g = whole(shapely.intersection(draw(it["shape"]), ctx.land_for(it["id"])))
        source = it.get("source") or spec.src(spec.S14, *it["lines"])
        props = base(it["id"], kind, it["name_zh"], it["name_en"], ctx.host_districts(g), ctx, source, it["method"])
        props.update(extra(it))
        feats.append(feature(props, g))
    return feats


def main(out: Path = DATA / "parks.geojson") -> None:
    ctx = Context()
    units, unit_geoms = build_units(ctx)
    features = (
        build_subparks(ctx)
        + build_corridor(ctx, unit_geoms)
        + units
        + build_nodes(ctx)
        + build_simple(ctx, "provincial-park", spec.PROVINCIAL_PARKS,
                       lambda p: {"focus_zh": p["focus_zh"], "industries": p["industries"]})
        + build_simple(ctx, "innovation-street", spec.STREETS,
                       lambda s: {"source_other": s["source_other"], "industries": []})
        + build_simple(ctx, "qianwan-zone", spec.QIANWAN_ZONES,
                       lambda z: {"description_zh": spec.after_colon(*z["lines"]), "industries": z["industries"]})
    )
    write_geojson_atomic(out, {
        "type": "FeatureCollection", "name": "parks",
        "description": "Schematic areas of Ningbo's 14th Five-Year S&T Innovation Plan; not surveyed boundaries.",
        "features": features,
    })
    for f in features:
        p = f["properties"]
        area = geodesic_area_km2(shape(f["geometry"]))
        planned = p.get("planned_area_km2")
        print(f"{p['id']:42} {p['kind']:17} {area:8.2f} km²" + (f"  (planned {planned})" if planned else ""))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA / "parks.geojson")
