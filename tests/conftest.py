from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from geo.layers import DATA_DIR, Layers, load_layers


@pytest.fixture(scope="session")
def layers() -> Layers:
    return load_layers(DATA_DIR)


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A scratch copy of the bundled data, for breaking on purpose."""
    dest = tmp_path / "data"
    shutil.copytree(DATA_DIR, dest)
    return dest
