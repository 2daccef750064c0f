"""Schemathesis against /api: generated requests for every operation, none may produce a 5xx, and the
responses must match the document (status codes, content types, headers, schemas).

Two checks are left out, on purpose: a schema cannot say that a bbox must not be inverted or that a site
must lie in its CRS's area of use, so "schema-valid" requests may rightly get a 400; and OGC API -
Features requires a limit above the advertised maximum to be clamped, not refused.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from geo.layers import load_layers
from services.app import create_app
from services.settings import Settings

# One generated client sends hundreds of distinct CRS texts: lift its per-minute budget (tested on its own).
app = create_app(load_layers(), settings=Settings(crs_builds_per_client=10**9, trusted_hosts=["testserver"]))
schema = schemathesis.openapi.from_asgi("/api", app)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_fails(case: schemathesis.Case) -> None:
    case.call_and_validate(excluded_checks=[positive_data_acceptance, negative_data_rejection])
