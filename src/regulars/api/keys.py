"""API keys: ``rg_<prefix>_<secret>``, shown once; the store keeps only SHA-256(secret).

The prefix is a public identifier used to find the row; the secret is checked with
:func:`hmac.compare_digest` on its hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from regulars.errors import RegularsError
from regulars.store.models import ApiKey
from regulars.store.session import session_scope

SCOPES = (
    "customers:read",
    "customers:write",
    "orders:write",
    "loyalty:read",
    "loyalty:write",
    "admin",
)
ADMIN = "admin"
KEY_PREFIX = "rg"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(text: str | Iterable[str]) -> list[str]:
    """Known scopes from ``'a,b'`` or a list; raises :class:`RegularsError` for unknown ones."""
    items = text.split(",") if isinstance(text, str) else list(text)
    scopes = sorted({s.strip() for s in items if s.strip()})
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise RegularsError(f"unknown scope(s) {', '.join(unknown)}; use {', '.join(SCOPES)}")
    if not scopes:
        raise RegularsError(f"give at least one scope: {', '.join(SCOPES)}")
    return scopes


def create_api_key(engine: Engine, name: str, scopes: str | Iterable[str]) -> tuple[ApiKey, str]:
    """Store a new key; returns the row and the full key (the only time it exists)."""
    if not name.strip():
        raise RegularsError("the key needs a name")
    scope_list = parse_scopes(scopes)
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    row = ApiKey(name=name.strip(), prefix=prefix, secret_hash=_hash(secret), scopes=scope_list)
    with session_scope(engine) as session:
        session.add(row)
    return row, f"{KEY_PREFIX}_{prefix}_{secret}"


def verify_api_key(session: Session, token: str) -> ApiKey | None:
    """The active key ``token`` belongs to, or ``None``."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    row = session.scalars(select(ApiKey).where(ApiKey.prefix == parts[1])).one_or_none()
    # Hash even when no row matched, so timing does not tell which prefixes exist.
    candidate = _hash(parts[2])
    expected = row.secret_hash if row is not None else _hash(secrets.token_hex(8))
    if not hmac.compare_digest(candidate, expected) or row is None:
        return None
    if row.revoked_at is not None:
        return None
    return row


def has_scope(key: ApiKey, scope: str) -> bool:
    """``admin`` implies every scope."""
    return ADMIN in key.scopes or scope in key.scopes
