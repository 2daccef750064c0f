"""Accounts: bearer tokens with a role, the collections they may write and an optional district scope.

Pure logic, no HTTP: services/auth.py reads the header and answers 401/403; the store keeps the records.
A token's text is `nbgis_<token_id>_<secret>`. It is shown once; only a random salt and HMAC-SHA256(salt, secret)
are kept, so a copy of the store lets nobody write.

Roles: a viewer reads (when reads need a token at all); an editor writes the collections it was granted and, when
it has districts, only features that lie in one of them both before and after the edit (a bureau can neither edit
another's features nor move one of its own out of its district); an admin writes everything.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from geo.schema import DISTRICT, EDITABLE_COLLECTIONS
from geo.validate import DISTRICT_SHORT

VIEWER, EDITOR, ADMIN = "viewer", "editor", "admin"
ROLES = (VIEWER, EDITOR, ADMIN)
ALL_COLLECTIONS = ("*",)
DISTRICT_ADCODES = tuple(DISTRICT_SHORT.values())  # Ningbo's ten districts and counties

PREFIX = "nbgis_"
TOKEN_ID_HEX = 12  # 48 bits: only names the record; the secret carries the strength
SECRET_BYTES = 32  # secrets.token_urlsafe(32): 43 characters, 256 bits
_TOKEN = re.compile(r"nbgis_([0-9a-f]{8,16})_([A-Za-z0-9_-]{16,256})")
_NAME = re.compile(r"[\w.@-]{1,64}")  # \w: a bureau may be named in Chinese (北仑区科技局)
_TOKEN_ID = re.compile(r"[0-9a-f]{8,16}")
_DURATION = re.compile(r"(\d{1,5})([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

# Why a presented token was refused; services/auth.py logs the reason and answers 401 for each.
MALFORMED, UNKNOWN, WRONG_SECRET, EXPIRED, REVOKED = "malformed", "unknown", "wrong-secret", "expired", "revoked"


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


class AccountError(ValueError):
    """A token cannot be issued as asked (unknown role, collection or district; a bad name or duration)."""


class TokenRejected(Exception):
    """A presented token does not authenticate; `reason` is one of the constants above, `token_id` is None when the
    text could not even be parsed. The message never holds the secret."""

    def __init__(self, reason: str, token_id: str | None, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.token_id = token_id


def issue_token(name: str, role: str, collections: Iterable[str] = (), districts: Iterable[str] = (),
                expires_in: timedelta | None = None, now: datetime | None = None) -> tuple[str, TokenRecord]:
    """A new token: its text (to show once) and the record to store. Raises AccountError naming what is wrong."""
    name, collections, districts = check_name(name), tuple(collections), tuple(districts)
    if role not in ROLES:
        raise AccountError(f"role {role!r} is unknown; give one of {', '.join(ROLES)}")
    if role == EDITOR:
        collections = _check_collections(collections)
        districts = _check_districts(districts)
    elif collections or districts:  # a scope that would do nothing is more likely a mistake than a wish
        what = "reads every collection" if role == VIEWER else "writes every collection in every district"
        raise AccountError(f"a {role} {what}: give --collections and --districts only to an editor")
    else:
        collections = ALL_COLLECTIONS
    if expires_in is not None and expires_in <= timedelta(0):
        raise AccountError(f"the token must expire in the future, not in {expires_in}")
    created = now or datetime.now(UTC)
    token_id, secret, salt = secrets.token_hex(TOKEN_ID_HEX // 2), secrets.token_urlsafe(SECRET_BYTES), \
        secrets.token_hex(16)
    record = TokenRecord(token_id, name, role, collections, districts, salt, _mac(salt, secret), created,
                         created + expires_in if expires_in is not None else None, None)
    return f"{PREFIX}{token_id}_{secret}", record


def check_name(name: str) -> str:
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise AccountError(f"name {name[:80]!r}: use 1-64 letters, digits, '.', '@', '_' or '-' (no spaces)")
    if _TOKEN_ID.fullmatch(name):  # `nbgis user revoke NAME|TOKEN_ID` must tell them apart
        raise AccountError(f"name {name!r} looks like a token id (hex digits); choose a name with other letters")
    return name


def _check_collections(collections: tuple[str, ...]) -> tuple[str, ...]:
    if not collections:
        raise AccountError(f"an editor needs collections to write: some of {', '.join(EDITABLE_COLLECTIONS)}, "
                           f"or * for all of them")
    if "*" in collections:
        if len(collections) > 1:
            raise AccountError("collections: * already means every collection; give it alone")
        return ALL_COLLECTIONS
    for c in collections:
        if c == DISTRICT.collection:
            raise AccountError(f"collection {c!r} is reference data (the administrative boundaries): nobody edits it")
        if c not in EDITABLE_COLLECTIONS:
            raise AccountError(f"collection {c!r} is unknown; the editable ones are {', '.join(EDITABLE_COLLECTIONS)}")
    return tuple(dict.fromkeys(collections))


def _check_districts(districts: tuple[str, ...]) -> tuple[str, ...]:
    for d in districts:
        if d not in DISTRICT_ADCODES:
            raise AccountError(f"district {d!r} is not an adcode of Ningbo's districts; give some of "
                               f"{', '.join(DISTRICT_ADCODES)}")
    return tuple(dict.fromkeys(districts))


def parse_duration(text: str) -> timedelta:
    """'90d', '12h', '30m' or '2w' as a timedelta."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not match or int(match[1]) == 0:
        raise AccountError(f"duration {text!r}: give a positive number and a unit, like 90d, 12h, 30m or 2w")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def parse_token(text: str) -> tuple[str, str]:
    """(token_id, secret) of a token's text; TokenRejected(MALFORMED) when it is not shaped like one."""
    match = _TOKEN.fullmatch(text.strip())
    if not match:
        # The id, when its part is readable, still goes into the log: it names the account under attack.
        head = text.strip()[len(PREFIX):].split("_", 1)[0] if text.strip().startswith(PREFIX) else ""
        raise TokenRejected(MALFORMED, head if _TOKEN_ID.fullmatch(head) else None,
                            f"a token looks like {PREFIX}<id>_<secret>; this one does not")
    return match[1], match[2]


def verify(text: str, record: TokenRecord | None, now: datetime | None = None, name: str | None = None
           ) -> TokenRecord:
    """The record when `text` is its token and it may be used now; else TokenRejected saying why.

    `record` is what the store holds for the text's token id (None: no such token); `name`, when the token came
    with one (HTTP Basic: the account name and the token as password), must be the record's. The secret is
    compared in constant time, and before expiry or revocation, so only its holder learns that a token expired.
    """
    token_id, secret = parse_token(text)
    if record is None or record.token_id != token_id:
        _mac("00", secret)  # the same work as a known id, so timing does not tell which ids exist
        raise TokenRejected(UNKNOWN, token_id, f"token {token_id} is not known here")
    if not hmac.compare_digest(_mac(record.salt, secret), record.hash):
        raise TokenRejected(WRONG_SECRET, token_id, f"token {token_id}: the secret is wrong")
    if name is not None and name != record.name:
        raise TokenRejected(WRONG_SECRET, token_id, f"token {token_id} is not {name[:64]!r}'s")
    now = now or datetime.now(UTC)
    if record.revoked_at is not None and record.revoked_at <= now:
        raise TokenRejected(REVOKED, token_id, f"token {token_id} was revoked at {_iso(record.revoked_at)}")
    if record.expires_at is not None and record.expires_at <= now:
        raise TokenRejected(EXPIRED, token_id, f"token {token_id} expired at {_iso(record.expires_at)}")
    return record


def _mac(salt: str, secret: str) -> str:
    return hmac.new(bytes.fromhex(salt), secret.encode(), hashlib.sha256).hexdigest()


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def may_read(record: TokenRecord, collection: str) -> bool:
    """Every role reads every collection (reads need a token only when the service is set up so)."""
    return record.role in ROLES


def write_denial(record: TokenRecord, collection: str, adcodes_before: Iterable[str] | None = None,
                 adcodes_after: Iterable[str] | None = None) -> str | None:
    """Why `record` may not make this write, or None when it may.

    `adcodes_before`: the feature's district_adcodes as stored (None for a create); `adcodes_after`: as written
    (None for a delete). Both None checks the role and the collection only, before the body is read.
    """
    if collection not in EDITABLE_COLLECTIONS:
        return f"collection {collection!r} cannot be edited"
    if record.role == ADMIN:
        return None
    if record.role != EDITOR:
        return f"token {record.token_id} ({record.name}) is a {record.role}'s: it reads, it does not write"
    if record.collections != ALL_COLLECTIONS and collection not in record.collections:
        return (f"token {record.token_id} ({record.name}) writes {', '.join(record.collections)}, "
                f"not {collection}")
    if record.districts:
        scope = set(record.districts)
        for when, adcodes in (("lies", adcodes_before), ("would lie", adcodes_after)):
            codes = None if adcodes is None else tuple(adcodes)
            if codes is not None and not scope & set(codes):
                where = ", ".join(codes) or "no district"
                return (f"token {record.token_id} ({record.name}) writes features in {', '.join(record.districts)} "
                        f"only; this one {when} in {where}")
    return None


def may_write(record: TokenRecord, collection: str, adcodes_before: Iterable[str] | None = None,
              adcodes_after: Iterable[str] | None = None) -> bool:
    return write_denial(record, collection, adcodes_before, adcodes_after) is None
