"""The layers as GeoDataFrames with computed areas: built from a store's snapshot (build_layers), or straight
from the seed files of a data folder (load_layers; geo.seed reads them).

Every layer is in WGS 84 longitude/latitude (OGC:CRS84 axis order). Areas are
computed on the ellipsoid at load time and never read from the files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from geo.io import read_json
from geo.measure import geodesic_areas_km2
from geo.plan import PlanText
from geo.schema import KINDS, REQUIRED_PROPERTIES
from geo.seed import DATA_DIR, read_feature_file, read_seed
from geo.store.base import Feature
from geo.taxonomy import Taxonomy

CRS = "EPSG:4326"


def read_features(path: Path, columns: tuple[str, ...] = ()) -> gpd.GeoDataFrame:
    return features_frame(read_feature_file(path, columns), columns)


def features_frame(features: list[Feature], columns: tuple[str, ...] = ()) -> gpd.GeoDataFrame:
    """Features as a GeoDataFrame indexed by id, whose list and object properties (the plan's blocks, targets,
    industry codes) stay the Python values they are in the file."""
    # Object dtype keeps each value as written (33 stays 33, a list stays a list); a property
    # that one kind lacks is None, not NaN, since a layer holds several kinds side by side.
    props = pd.DataFrame([f.properties for f in features], dtype=object)
    props = props.where(props.notna(), None)
    for col in ("id", *columns):  # a layer always has its required columns, even when empty
        if col not in props.columns:
            props[col] = [f.id for f in features] if col == "id" else None
    geoms = [f.geometry for f in features]
    gdf = gpd.GeoDataFrame(props, geometry=gpd.GeoSeries(geoms, crs=CRS))
    gdf["area_km2"] = geodesic_areas_km2(gdf.geometry.values)
    return gdf.set_index("id", drop=False).rename_axis(None)


@dataclass(frozen=True)
class Layers:
    """The plan's spatial layout, as the service, maps and exports use it."""

    parks: gpd.GeoDataFrame  # every area of the plan, one row per feature, `kind` tells which
    platforms: gpd.GeoDataFrame  # points; null geometry where the plan gives no place
    districts: gpd.GeoDataFrame  # ten districts and counties plus the city outline (kind 'city')
    taxonomy: Taxonomy
    indicators: dict[str, Any]
    plan: PlanText
    data_dir: Path
    land: gpd.GeoDataFrame | None = None  # GSHHS land ('land') and the lakes the plan names ('lake')
    observations: dict[str, Any] | None = None  # observations.json: indicators' observed values, with sources

    def kind(self, name: str) -> gpd.GeoDataFrame:
        """All features of one kind (see geo.schema.KINDS)."""
        if name not in KINDS:
            raise KeyError(f"unknown kind {name!r}")
        for frame in (self.parks, self.platforms, self.districts):
            if "kind" in frame.columns and (frame["kind"] == name).any():
                return frame[frame["kind"] == name]
        return self.parks.iloc[0:0]

    @property
    def dry_land(self) -> Any:
        """The GSHHS land less the lakes: where a park may lie (see data/README.md, Land)."""
        assert self.land is not None
        kinds = self.land["kind"]
        return shapely.difference(shapely.union_all(self.land[kinds == "land"].geometry.values),
                                  shapely.union_all(self.land[kinds == "lake"].geometry.values))

    @property
    def city(self) -> Any:
        return self.districts[self.districts["kind"] == "city"].geometry.iloc[0]

    def all_features(self) -> gpd.GeoDataFrame:
        return pd.concat([self.parks, self.platforms, self.districts])


def load_layers(data_dir: Path | str = DATA_DIR) -> Layers:
    """The layers straight from a data folder's files (what a store is seeded with)."""
    return build_layers(read_seed(data_dir), data_dir)


def build_layers(features: dict[str, list[Feature]], data_dir: Path | str = DATA_DIR) -> Layers:
    """The layers over stored features (a store's snapshot), with the data folder's reference documents."""
    data_dir = Path(data_dir)
    return Layers(
        parks=features_frame(features["parks"], REQUIRED_PROPERTIES["parks"]),
        platforms=features_frame(features["platforms"], REQUIRED_PROPERTIES["platforms"]),
        districts=features_frame(features["districts"], REQUIRED_PROPERTIES["districts"]),
        taxonomy=Taxonomy.from_json(read_json(data_dir / "industries.json")),
        indicators=read_json(data_dir / "indicators.json"),
        plan=PlanText(data_dir / "sources" / "plan.txt"),
        data_dir=data_dir,
        land=read_features(data_dir / "land.geojson", ("name_zh",)),  # kinds land and lake, not park kinds
        observations=read_json(data_dir / "observations.json"),
    )
