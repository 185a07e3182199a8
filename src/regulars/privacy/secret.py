"""The server secret and the pseudonyms made with it.

An erased customer must stay absent from the store, yet the audit log has to be able to say
"this customer was erased on that day, by that key". It does so with a pseudonym: the keyed
hash ``HMAC-SHA256(secret, customer_id)``. Without the secret the pseudonym reveals nothing
(an unkeyed hash of an e-mail address can be reversed by hashing candidate addresses); with
it, an administrator who is given a customer id can check whether and when it was erased.

Where the secret comes from, first match wins:

1. ``REGULARS_SECRET_KEY`` (``Settings.secret_key``), at least 32 characters. Required for
   PostgreSQL: several servers share one database, and every one of them must compute the
   same pseudonyms, which a file on one host cannot guarantee.
2. For a SQLite file ``shop.db``: the file ``shop.db.secret`` next to it, created on first
   use with 32 random bytes (hex) and mode 0600. It sits beside the database rather than in
   it, so a copy or dump of the database alone cannot be used to recompute pseudonyms; and
   it needs no table (no migration). Back it up with the database, or the pseudonyms of past
   erasures can no longer be matched.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from sqlalchemy import URL

from regulars.config import Settings
from regulars.errors import RegularsError
from regulars.store.session import display_url, normalize_url

MIN_SECRET_LENGTH = 32
SECRET_SUFFIX = ".secret"
PSEUDONYM_PREFIX = "pseudonym:"


def pseudonym(secret: bytes, customer_id: str) -> str:
    """``pseudonym:`` + hex ``HMAC-SHA256(secret, customer_id)`` (UTF-8), 64 hex digits."""
    digest = hmac.new(secret, customer_id.encode(), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest


def secret_file(database_url: str | URL) -> Path | None:
    """Where the secret of a SQLite file database lives; ``None`` for other databases."""
    url = normalize_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    database = Path(url.database)
    return database.with_name(database.name + SECRET_SUFFIX)


def server_secret(database_url: str | URL, settings: Settings | None = None) -> bytes:
    """The secret for the store at ``database_url`` (see the module docstring)."""
    configured = (settings or Settings()).secret_key
    if configured is not None:
        value = configured.get_secret_value()
        if len(value) < MIN_SECRET_LENGTH:
            raise RegularsError(
                f"REGULARS_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters; "
                "generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"
            )
        return value.encode()
    path = secret_file(database_url)
    if path is None:
        raise RegularsError(
            f"set REGULARS_SECRET_KEY (at least {MIN_SECRET_LENGTH} characters) to use "
            f"{display_url(database_url)}: only a SQLite file keeps its own secret next to it"
        )
    return _file_secret(path)


def _file_secret(path: Path) -> bytes:
    """Read the secret in ``path``, creating it first if there is none."""
    if not path.exists():
        _create_secret_file(path)
    value = path.read_text(encoding="ascii").strip()
    if len(value) < MIN_SECRET_LENGTH:
        raise RegularsError(f"{path}: the secret in this file is too short or empty")
    return value.encode()


def _create_secret_file(path: Path) -> None:
    """Write a new secret to a private temporary file and link it into place.

    ``os.link`` fails if ``path`` exists, so two processes starting at once agree on one
    secret, and nobody ever reads a half-written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        with contextlib.suppress(FileExistsError):  # another process won the race
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
