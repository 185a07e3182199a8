"""Reading the audit log: newest first, filtered, in pages with an opaque cursor.

Pages use keyset pagination on ``id`` (``WHERE id < last id seen ORDER BY id DESC``), so a
page costs the same however deep it is and entries appended meanwhile never shift it. The
cursor is the last id, base64url-encoded; clients must treat it as opaque.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.errors import RegularsError
from regulars.store.pages import keyset_page
from regulars.store.tables import AuditEntry

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditFilter:
    """Entries with this ``action``, ``target_type``, one of ``target_ids``, from ``since`` on."""

    action: str | None = None
    target_type: str | None = None
    target_ids: tuple[str, ...] | None = None
    since: datetime | None = None


@dataclass(frozen=True)
class AuditPage:
    entries: Sequence[AuditEntry]
    next_cursor: str | None


def audit_page(
    session: Session,
    where: AuditFilter | None = None,
    *,
    limit: int = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
) -> AuditPage:
    """Up to ``limit`` (1…200) entries, newest first, after ``cursor``; and the next cursor."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise RegularsError(f"limit must be between 1 and {MAX_PAGE_SIZE}, not {limit}")
    where = where or AuditFilter()
    query = select(AuditEntry)
    if where.action is not None:
        query = query.where(AuditEntry.action == where.action)
    if where.target_type is not None:
        query = query.where(AuditEntry.target_type == where.target_type)
    if where.target_ids is not None:
        query = query.where(AuditEntry.target_id.in_(where.target_ids))
    if where.since is not None:
        query = query.where(AuditEntry.occurred_at >= where.since)
    entries, next_cursor = keyset_page(
        session, query, AuditEntry.id, limit=limit, cursor=cursor, newest_first=True
    )
    return AuditPage(entries, next_cursor)


def collect_entries(session: Session, where: AuditFilter, *, limit: int) -> list[AuditEntry]:
    """The newest ``limit`` entries (any number), read page by page."""
    entries: list[AuditEntry] = []
    cursor = None
    while len(entries) < limit:
        page = audit_page(
            session, where, limit=min(MAX_PAGE_SIZE, limit - len(entries)), cursor=cursor
        )
        entries += page.entries
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return entries
