"""Schemathesis's checks as OGC API - Features needs them: load with SCHEMATHESIS_HOOKS=tests.schemathesis_hooks
for the command line, or import for the pytest run (tests/test_service_fuzz.py).

negative_data_rejection expects a request outside the schema to be refused. One such request must be accepted:
a `limit` above the advertised maximum is clamped to it, as Part 1 requires (/rec/core/fc-limit-response-2);
test_service_ogc checks the clamp. Every other negative case is checked as schemathesis does.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.specs.openapi.checks import negative_data_rejection

from services.ogc import MAX_LIMIT


@schemathesis.check
def negative_data_rejection_ogc(ctx: Any, response: Any, case: Any) -> bool | None:
    limit = (case.query or {}).get("limit")
    try:
        over = limit is not None and not isinstance(limit, bool) and int(str(limit)) > MAX_LIMIT
    except ValueError:
        over = False
    if over and response.status_code == 200:
        return None
    return negative_data_rejection(ctx, response, case)  # type: ignore[no-any-return]
