"""The audit log of administrative changes (``audit_log``): append-only, one row a change.

Every administrative write (API keys created or revoked, customers merged or erased, manual
points adjustments…) records who did it and what changed, in the same transaction as the
change itself, so an entry exists exactly when the change does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from regulars.store.tables import AuditEntry


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to ``session``'s transaction.

    ``actor`` names who acted: ``apikey:<prefix>`` for an API key, ``cli`` for the command
    line. ``action`` is a dotted verb such as ``customer.merge`` or ``apikey.revoke``.
    """
    entry = AuditEntry(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=details or {},
    )
    session.add(entry)
    return entry
