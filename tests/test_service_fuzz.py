"""Schemathesis against /api with every check: generated requests for every operation, valid and invalid by the
schema; none may produce a 5xx, and the answers must match the document (status codes, content types, headers,
schemas). What a schema cannot state (a 400 for a CRS text PROJ cannot read; a limit above the maximum clamped)
is configured in tests/schemathesis.toml and tests/schemathesis_hooks.py, each with its reason.

The suite runs a few dozen cases per operation; bench/README.md records the long run (5,000+ cases).
"""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection

from geo.layers import load_layers
from services.app import create_app
from services.settings import Settings
from tests.schemathesis_hooks import negative_data_rejection_ogc

CONFIG = schemathesis.config.SchemathesisConfig.from_path(str(Path(__file__).with_name("schemathesis.toml")))
# One generated client sends hundreds of distinct CRS texts: lift its per-minute budget (tested on its own).
app = create_app(load_layers(), settings=Settings(crs_builds_per_client=10**9, trusted_hosts=["testserver"]))
schema = schemathesis.openapi.from_asgi("/api", app, config=CONFIG)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_fails(case: schemathesis.Case) -> None:
    case.call_and_validate(excluded_checks=[negative_data_rejection], additional_checks=[negative_data_rejection_ogc])
