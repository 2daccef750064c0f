"""The layers as GeoDataFrames with computed areas: built from a store's snapshot (build_layers), or straight
from the seed files of a data folder (load_layers, read_seed).

Every layer is in WGS 84 longitude/latitude (OGC:CRS84 axis order). Areas are
computed on the ellipsoid at load time and never read from the files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
import shapely.errors
import shapely.geometry

from geo.io import DataFileError, read_json
from geo.measure import geodesic_areas_km2
from geo.plan import PlanText
from geo.schema import KINDS, REQUIRED_PROPERTIES
from geo.store.base import LAYERS, Feature
from geo.taxonomy import Taxonomy

DATA_DIR = Path(__file__).resolve().parent.parent / "data"  # the bundled layers; services.settings may name others
CRS = "EPSG:4326"
FILES = {"parks": "parks.geojson", "platforms": "platforms.geojson", "districts": "districts.geojson"}


def read_feature_file(path: Path, columns: tuple[str, ...] = ()) -> list[Feature]:
    """The features of a GeoJSON FeatureCollection, properties as written (key order kept); a DataFileError
    naming the file and the feature for what is not a feature of this dataset."""
    doc = read_json(path)
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(features, list):
        raise DataFileError(f"{path}: not a GeoJSON FeatureCollection")
    for i, f in enumerate(features):
        name = f"feature {f.get('id') or (f.get('properties') or {}).get('id') or i}" if isinstance(f, dict) else (
            f"feature {i}")
        if not isinstance(f, dict) or not isinstance(f.get("properties") or {}, dict):
            raise DataFileError(f"{path}: {name}: not a GeoJSON Feature with an object of properties")
        kind = (f.get("properties") or {}).get("kind")
        if "kind" in columns and kind not in KINDS:
            raise DataFileError(f"{path}: {name}: kind {kind!r} is not a kind of this dataset; known kinds: "
                                f"{', '.join(KINDS)}")
    return [Feature(props.get("id", f.get("id")), props, _geometry(path, f))
            for f in features for props in (f.get("properties") or {},)]


def read_seed(data_dir: Path | str = DATA_DIR) -> dict[str, list[Feature]]:
    """Every feature layer of a data folder, as a store is seeded with them."""
    return {layer: read_feature_file(Path(data_dir) / FILES[layer], REQUIRED_PROPERTIES[layer]) for layer in LAYERS}


def seed_digest(data_dir: Path | str = DATA_DIR) -> str:
    """A digest of the seed files' bytes: a store remembers it, to know when its data folder changed."""
    digest = hashlib.sha256()
    for layer in LAYERS:
        digest.update((Path(data_dir) / FILES[layer]).read_bytes())
    return digest.hexdigest()[:16]


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


def _geometry(path: Path, feature: dict[str, Any]) -> Any:
    if not feature.get("geometry"):
        return None
    try:
        return shapely.geometry.shape(feature["geometry"])
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, shapely.errors.ShapelyError) as exc:
        name = feature.get("id") or (feature.get("properties") or {}).get("id")
        raise DataFileError(f"{path}: feature {name}: geometry is not valid GeoJSON ({exc})") from exc


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
