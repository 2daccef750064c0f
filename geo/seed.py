"""The seed files of a data folder (parks, platforms, districts) read as store Features, without GeoPandas: what
a store is seeded with, and the digest it remembers them by. geo.layers makes GeoDataFrames of them."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import shapely
import shapely.errors
import shapely.geometry

from geo.io import DataFileError, read_json
from geo.schema import KINDS, REQUIRED_PROPERTIES
from geo.store.base import LAYERS, Feature

DATA_DIR = Path(__file__).resolve().parent.parent / "data"  # the bundled layers; services.settings may name others
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


def _geometry(path: Path, feature: dict[str, Any]) -> Any:
    if not feature.get("geometry"):
        return None
    try:
        return shapely.geometry.shape(feature["geometry"])
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, shapely.errors.ShapelyError) as exc:
        name = feature.get("id") or (feature.get("properties") or {}).get("id")
        raise DataFileError(f"{path}: feature {name}: geometry is not valid GeoJSON ({exc})") from exc
