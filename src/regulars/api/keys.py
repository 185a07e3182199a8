"""API keys: ``rg_<prefix>_<secret>``, shown once; the store keeps only SHA-256(secret).

The prefix is a public identifier used to find the row (and to name the key in lists, the
audit log and revocation); the secret is checked with :func:`hmac.compare_digest` on its
hash. Creating and revoking a key are administrative changes: with an ``actor`` they are
recorded in the audit log (``apikey.create``, ``apikey.revoke``) in the same transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.errors import RegularsError
from regulars.store.audit import record
from regulars.store.session import session_scope
from regulars.store.tables import ApiKey

SCOPES = (
    "customers:read",
    "customers:write",
    "orders:read",
    "orders:write",
    "products:read",
    "products:write",
    "events:write",
    "privacy:admin",
    "loyalty:read",
    "loyalty:write",
    "admin",
)
ADMIN = "admin"
PRIVACY_ADMIN = "privacy:admin"
"""Export and erase customers (GDPR articles 15 and 17); nothing else."""


class UnknownApiKeyError(RegularsError):
    """No API key with this prefix."""

    def __init__(self, prefix: str) -> None:
        super().__init__(f"no API key with prefix '{prefix}'")
        self.prefix = prefix


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


def create_api_key(
    engine: Engine, name: str, scopes: str | Iterable[str], *, actor: str | None = None
) -> tuple[ApiKey, str]:
    """Store a new key in its own transaction; returns the row and the full key.

    The full key exists only in the return value. With ``actor`` (``cli``,
    ``apikey:<prefix>``) the creation is recorded in the audit log.
    """
    with session_scope(engine) as session:
        return add_api_key(session, name, scopes, actor=actor)


def add_api_key(
    session: Session, name: str, scopes: str | Iterable[str], *, actor: str | None = None
) -> tuple[ApiKey, str]:
    """:func:`create_api_key` inside the caller's transaction."""
    if not name.strip():
        raise RegularsError("the key needs a name")
    scope_list = parse_scopes(scopes)
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    row = ApiKey(name=name.strip(), prefix=prefix, secret_hash=_hash(secret), scopes=scope_list)
    session.add(row)
    session.flush()
    if actor is not None:
        record(
            session,
            actor=actor,
            action="apikey.create",
            target_type="api_key",
            target_id=prefix,
            details={"name": row.name, "scopes": scope_list},
        )
    return row, f"{KEY_PREFIX}_{prefix}_{secret}"


def list_api_keys(session: Session) -> Sequence[ApiKey]:
    """Every key, revoked ones included, oldest first (secrets are never stored)."""
    return session.scalars(select(ApiKey).order_by(ApiKey.id)).all()


def revoke_api_key(session: Session, prefix: str, *, actor: str) -> tuple[ApiKey, bool]:
    """Revoke the key with ``prefix``; returns it and whether this call revoked it.

    Revoking a revoked key changes nothing (and records nothing): the call is safe to
    retry, also concurrently — the conditional ``UPDATE … WHERE revoked_at IS NULL`` lets
    exactly one caller revoke it and write the audit entry. Raises
    :class:`UnknownApiKeyError` for an unknown prefix.
    """
    now = utcnow()
    revoked = session.execute(
        update(ApiKey)
        .where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(ApiKey.id)
    ).first()
    row = session.scalars(
        select(ApiKey).where(ApiKey.prefix == prefix).execution_options(populate_existing=True)
    ).one_or_none()
    if row is None:
        raise UnknownApiKeyError(prefix)
    if revoked is None:
        return row, False
    record(
        session,
        actor=actor,
        action="apikey.revoke",
        target_type="api_key",
        target_id=prefix,
        details={"name": row.name},
    )
    return row, True


def actor_of(key: ApiKey) -> str:
    """How the audit log names an API key: ``apikey:<prefix>``."""
    return f"apikey:{key.prefix}"


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
