"""Assertions shared by the service's tests."""

from __future__ import annotations

from typing import Any


def assert_api_error(response: Any, status: int, *words: str) -> None:
    """An OGC API exception: this status, a body of exactly {code, description}, the description naming `words`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "description"}
    for word in words:
        assert word in body["description"], body
