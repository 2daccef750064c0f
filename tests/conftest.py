from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from geo.layers import DATA_DIR, Layers, load_layers
from services.app import create_app


@pytest.fixture(scope="session")
def layers() -> Layers:
    return load_layers(DATA_DIR)


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A scratch copy of the bundled data, for breaking on purpose."""
    dest = tmp_path / "data"
    shutil.copytree(DATA_DIR, dest)
    return dest


@pytest.fixture(scope="session")
def client(layers: Layers) -> TestClient:
    """The service over the bundled layers, in process (one app for the whole run)."""
    return TestClient(create_app(layers))
