"""Accounts: bearer tokens with a role, the collections they may write and an optional district scope.

Pure logic, no HTTP: services/auth.py reads the header and answers 401/403; the store keeps the records.
A token is shown once; only a salt and an HMAC-SHA256 of its secret are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

VIEWER, EDITOR, ADMIN = "viewer", "editor", "admin"
ROLES = (VIEWER, EDITOR, ADMIN)
ALL_COLLECTIONS = ("*",)


@dataclass(frozen=True)
class TokenRecord:
    """One issued token as the store keeps it: never the secret, only its salt and HMAC."""

    token_id: str  # 8-16 hex digits, the public part of the token text
    name: str
    role: str  # one of ROLES
    collections: tuple[str, ...]  # ("*",) = every editable collection
    districts: tuple[str, ...]  # () = every district; adcodes like "330206"
    salt: str  # hex
    hash: str  # hex HMAC-SHA256(salt, secret)
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
