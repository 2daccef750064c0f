"""Schemathesis against /api with every check: generated requests for every operation, valid and invalid by the
schema; none may produce a 5xx, and the answers must match the document (status codes, content types, headers,
schemas). What a schema cannot state (a 400 for a CRS text PROJ cannot read; a limit above the maximum clamped)
is configured in tests/schemathesis.toml and tests/schemathesis_hooks.py, each with its reason.

The suite runs a few dozen cases per operation; bench/README.md records the long run (5,000+ cases).
"""

from __future__ import annotations

import atexit
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection

from geo.accounts import issue_token
from geo.seed import DATA_DIR, read_seed, seed_digest
from geo.store.base import open_store
from services.app import create_app
from services.settings import Settings
from services.state import Live
from tests.schemathesis_hooks import negative_data_rejection_ogc

CONFIG = schemathesis.config.SchemathesisConfig.from_path(str(Path(__file__).with_name("schemathesis.toml")))
# A store of its own, so the writes are fuzzed for real, with an admin's token (the service keeps it serving).
_folder = tempfile.TemporaryDirectory(prefix="nbgis-fuzz-")
_store = open_store(Path(_folder.name) / "store.gpkg")
_store.init(lambda: read_seed(DATA_DIR), seed_digest(DATA_DIR))
ADMIN_TOKEN, _record = issue_token("fuzz-admin", "admin")
_store.add_token(_record)
# One generated client sends hundreds of distinct CRS texts: lift its per-minute budget (tested on its own).
app = create_app(settings=Settings(store=str(_store.path), crs_builds_per_client=10**9, trusted_hosts=["testserver"]))
app.state.service = _live = Live(_store, DATA_DIR)  # what the lifespan does, which an ASGI schema loader skips
_live.start()
atexit.register(_live.stop)
schema = schemathesis.openapi.from_asgi("/api", app, config=CONFIG)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_fails(case: schemathesis.Case) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"} if case.method.upper() not in ("GET", "HEAD") else None
    case.call_and_validate(headers=headers, excluded_checks=[negative_data_rejection],
                           additional_checks=[negative_data_rejection_ogc])
