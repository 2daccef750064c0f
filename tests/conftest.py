from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

# TestClient's requests name the host "testserver"; the service answers only to trusted names.
os.environ.setdefault("NBGIS_TRUSTED_HOSTS", "testserver,localhost,127.0.0.1,::1")

from bench import postgres
from geo.layers import Layers, load_layers
from geo.seed import DATA_DIR
from services.app import create_app
from services.server import server_options
from tests.browser_helpers import chromium, launch_without_cjk_fonts


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


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium (a skip when it is missing, a failure under CI)."""
    with chromium() as b:
        yield b


@pytest.fixture(scope="session")
def bare_browser(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium that sees no CJK font (only DejaVu), as a fresh machine: Chinese renders only through
    the web font the pages load."""
    b = launch_without_cjk_fonts(browser, tmp_path_factory.mktemp("fontconfig"))
    yield b
    b.close()


@pytest.fixture(scope="session")
def live_service(layers: Layers) -> Iterator[str]:
    """The real service under uvicorn on a free port of 127.0.0.1, in a thread; yields its base URL."""
    with serve_in_thread(create_app(layers)) as url:
        yield url


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """`app` under uvicorn, as `nbgis serve` runs it, on a free port of 127.0.0.1 in a thread; its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                          **server_options()))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the service did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def postgis_cluster() -> Iterator[postgres.Cluster]:
    """A throwaway PostgreSQL 15 + PostGIS cluster for the run (a skip when missing, a failure under CI)."""
    if not postgres.available():
        reason = "PostgreSQL 15 and PostGIS 3 are not installed (apt-get install postgresql-15-postgis-3)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    with postgres.cluster() as running:  # under /tmp: the postgres user cannot enter pytest's root-only folders
        yield running


@pytest.fixture(params=["sqlite", "postgis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store of each kind: a GeoPackage path, then a new PostGIS database."""
    if request.param == "sqlite":
        return str(tmp_path / "store.gpkg")
    cluster: postgres.Cluster = request.getfixturevalue("postgis_cluster")
    return cluster.new_database()
