"""The prepared areas kept between runs (geo.prepared): the same answers, and never a stale copy."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import shapely

from geo.layers import Layers, build_layers
from geo.locate import Locator
from geo.prepared import key_of, prepared_locator
from geo.seed import DATA_DIR, read_seed
from geo.store.base import Feature

FEATURES = read_seed()  # what a new store holds


def sites(n: int = 50_000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)  # enough sites for the segment grid, over Ningbo and around it
    return rng.uniform(120.5, 122.5, n), rng.uniform(28.6, 30.6, n)


def test_a_kept_locator_gives_the_built_one_s_answers(tmp_path: Path, layers: Layers) -> None:
    built = prepared_locator(FEATURES, DATA_DIR, tmp_path)
    kept_files = list(tmp_path.glob("locator-*.pickle"))
    assert len(kept_files) == 1 and built._segments  # kept with its segment grid
    stamp = kept_files[0].stat().st_mtime_ns
    kept = prepared_locator(read_seed(), DATA_DIR, tmp_path)  # equal features, not the same objects
    assert kept is not built and kept_files[0].stat().st_mtime_ns == stamp  # read, not written again
    lon, lat = sites()
    assert kept.locate(lon, lat).equals(Locator.from_layers(layers).locate(lon, lat))


def test_changed_areas_get_a_new_key_and_a_bad_copy_is_rebuilt(tmp_path: Path) -> None:
    def changed(layer: str, i: int, **change: object) -> dict[str, list[Feature]]:
        features = read_seed()
        old = features[layer][i]
        features[layer][i] = Feature(old.id, change.get("properties", old.properties),  # type: ignore[arg-type]
                                     change.get("geometry", old.geometry))
        return features

    subpark = next(i for i, f in enumerate(FEATURES["parks"]) if f.properties["kind"] == "subpark")
    moved = changed("parks", subpark, geometry=shapely.affinity.translate(FEATURES["parks"][subpark].geometry, 0.001))
    renamed = changed("districts", 0, properties={**FEATURES["districts"][0].properties, "name_zh": "改"})
    keys = {key_of(moved), key_of(renamed), key_of(FEATURES)}
    assert len(keys) == 3 and key_of(read_seed()) == key_of(FEATURES)
    moved_platform = changed("platforms", 0, properties={**FEATURES["platforms"][0].properties, "name_zh": "改"})
    assert key_of(moved_platform) == key_of(FEATURES)  # the platforms are not areas: no new key for them
    path = tmp_path / f"locator-{key_of(FEATURES)}.pickle"
    path.write_bytes(b"not a pickle")
    lon, lat = sites(1000)
    layers = build_layers(FEATURES)
    assert prepared_locator(FEATURES, DATA_DIR, tmp_path).locate(lon, lat).equals(
        Locator.from_layers(layers).locate(lon, lat))
    assert path.stat().st_size > 1_000_000  # replaced by a good copy
    shifted = prepared_locator(moved, DATA_DIR, tmp_path).locate(lon, lat)
    assert shifted.equals(Locator.from_layers(build_layers(moved)).locate(lon, lat))
    assert not shifted.equals(Locator.from_layers(layers).locate(lon, lat))  # not the stale copy


def test_an_unwritable_cache_still_locates(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")  # a file where the folder would go
    lon, lat = sites(100)
    assert prepared_locator(FEATURES, DATA_DIR, blocked / "nbgis").locate(lon, lat).shape == (100, 11)
    assert os.listdir(tmp_path) == ["file"]


def test_a_copy_others_could_write_is_not_loaded(tmp_path: Path) -> None:
    prepared_locator(FEATURES, DATA_DIR, tmp_path)
    path = next(tmp_path.glob("locator-*.pickle"))
    path.chmod(0o666)  # anyone may write it: it might not be ours
    stamp = path.stat().st_mtime_ns
    lon, lat = sites(100)
    assert prepared_locator(FEATURES, DATA_DIR, tmp_path).locate(lon, lat).shape == (100, 11)
    assert path.stat().st_mtime_ns != stamp and not path.stat().st_mode & 0o022  # rebuilt, written afresh
