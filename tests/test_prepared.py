"""The prepared areas kept between runs (geo.prepared): the same answers, and never a stale copy."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import shapely

from geo.layers import Layers
from geo.locate import Locator
from geo.prepared import key_of, prepared_locator


def sites(n: int = 50_000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)  # enough sites for the segment grid, over Ningbo and around it
    return rng.uniform(120.5, 122.5, n), rng.uniform(28.6, 30.6, n)


def test_a_kept_locator_gives_the_built_one_s_answers(tmp_path: Path, layers: Layers) -> None:
    built = prepared_locator(layers, tmp_path)
    kept_files = list(tmp_path.glob("locator-*.pickle"))
    assert len(kept_files) == 1 and built._segments  # kept with its segment grid
    stamp = kept_files[0].stat().st_mtime_ns
    kept = prepared_locator(layers, tmp_path)
    assert kept is not built and kept_files[0].stat().st_mtime_ns == stamp  # read, not written again
    lon, lat = sites()
    assert kept.locate(lon, lat).equals(Locator.from_layers(layers).locate(lon, lat))


def test_changed_areas_get_a_new_key_and_a_bad_copy_is_rebuilt(tmp_path: Path, layers: Layers) -> None:
    moved = layers.parks.copy()
    first = moved.index[moved["kind"] == "subpark"][0]
    moved.loc[first, "geometry"] = shapely.affinity.translate(moved.loc[first, "geometry"], 0.001, 0)
    other = Layers(**{**layers.__dict__, "parks": moved})
    assert key_of(other) != key_of(layers) == key_of(Layers(**layers.__dict__))
    path = tmp_path / f"locator-{key_of(layers)}.pickle"
    path.write_bytes(b"not a pickle")
    lon, lat = sites(1000)
    assert prepared_locator(layers, tmp_path).locate(lon, lat).equals(Locator.from_layers(layers).locate(lon, lat))
    assert path.stat().st_size > 1_000_000  # replaced by a good copy


def test_an_unwritable_cache_still_locates(tmp_path: Path, layers: Layers) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")  # a file where the folder would go
    lon, lat = sites(100)
    assert prepared_locator(layers, blocked / "nbgis").locate(lon, lat).shape == (100, 11)
    assert os.listdir(tmp_path) == ["file"]


def test_a_copy_others_could_write_is_not_loaded(tmp_path: Path, layers: Layers) -> None:
    prepared_locator(layers, tmp_path)
    path = next(tmp_path.glob("locator-*.pickle"))
    path.chmod(0o666)  # anyone may write it: it might not be ours
    stamp = path.stat().st_mtime_ns
    lon, lat = sites(100)
    assert prepared_locator(layers, tmp_path).locate(lon, lat).shape == (100, 11)
    assert path.stat().st_mtime_ns != stamp and not path.stat().st_mode & 0o022  # rebuilt, written afresh
