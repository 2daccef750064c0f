"""The data every server is benchmarked on: the plan's sub-parks and platforms, and a synthetic point layer.

The synthetic layer is generated here, seeded, so every run and every server has the same points. It is
not the plan's data: its collection says so in its id, its title and in every feature's properties.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio

from geo.export import collection_frames, export
from geo.layers import Layers, load_layers

PLAN_COLLECTIONS = ("subparks", "platforms")
SYNTHETIC = "synthetic-points"
SYNTHETIC_TITLE = "Synthetic points (benchmark only, not the plan's data)"
SYNTHETIC_SEED = 20251127


@dataclass(frozen=True)
class Dataset:
    """One collection as files: GeoJSON (RFC 7946, CRS84) and a one-layer GeoPackage of the same features,
    both with the feature id in the ``id`` property."""

    collection: str
    geojson: Path
    gpkg: Path
    count: int


def synthetic_points(n: int, bounds: tuple[float, float, float, float], seed: int = SYNTHETIC_SEED
                     ) -> gpd.GeoDataFrame:
    """n seeded random points, uniform in lon/lat within bounds (west, south, east, north)."""
    rng = np.random.default_rng(seed)
    west, south, east, north = bounds
    lon = rng.uniform(west, east, n).round(7)
    lat = rng.uniform(south, north, n).round(7)
    ids = [f"synthetic-{i:06d}" for i in range(n)]
    return gpd.GeoDataFrame(
        {"id": ids, "name": [f"synthetic point {i}" for i in range(n)],
         "value": rng.integers(0, 1000, n), "synthetic": np.ones(n, dtype=bool)},
        geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326", index=ids)


def prepare(work: Path, synthetic_n: int = 100_000, layers: Layers | None = None) -> dict[str, Dataset]:
    """Write the benchmark's collections under work/data, afresh each run; the same files feed every server."""
    layers = layers or load_layers()
    out = work / "data"
    out.mkdir(parents=True, exist_ok=True)
    datasets = {}
    for name, frame in collection_frames(layers, "all").items():
        if name in PLAN_COLLECTIONS:
            geojson, gpkg = out / f"{name}.geojson", out / f"{name}.gpkg"
            export({name: frame}, "geojson", None, geojson)
            export({name: frame}, "gpkg", None, gpkg)
            datasets[name] = Dataset(name, geojson, gpkg, len(frame))
    points = synthetic_points(synthetic_n, tuple(layers.city.bounds))
    geojson, gpkg = out / f"{SYNTHETIC}.geojson", out / f"{SYNTHETIC}.gpkg"
    for path, options in ((geojson, {"driver": "GeoJSON", "RFC7946": "YES", "ID_FIELD": "id"}),
                          (gpkg, {"driver": "GPKG"})):
        path.unlink(missing_ok=True)  # GDAL would add a layer to an existing GeoPackage
        pyogrio.write_dataframe(points, path, layer=SYNTHETIC, **options)
    datasets[SYNTHETIC] = Dataset(SYNTHETIC, geojson, gpkg, synthetic_n)
    return datasets
