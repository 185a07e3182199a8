"""Keyset pages: every row once, in order, in both directions; foreign cursors refused."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from regulars.store.pages import InvalidCursorError, encode_cursor, keyset_page
from regulars.store.session import session_scope
from regulars.store.tables import AuditEntry


def _read_all(engine: Engine, *, newest_first: bool, limit: int) -> list[int]:
    seen: list[int] = []
    cursor: str | None = None
    with session_scope(engine) as session:
        while True:
            rows, cursor = keyset_page(
                session,
                select(AuditEntry),
                AuditEntry.id,
                limit=limit,
                cursor=cursor,
                newest_first=newest_first,
            )
            seen += [row.id for row in rows]
            if cursor is None:
                return seen


def test_pages_cover_every_row_once_in_order(store_engine: Engine) -> None:
    with session_scope(store_engine) as session:
        session.add_all(
            AuditEntry(actor="cli", action="x", target_type="t", details={}) for _ in range(7)
        )
    oldest_first = _read_all(store_engine, newest_first=False, limit=3)
    assert oldest_first == sorted(oldest_first)
    assert len(oldest_first) == 7
    assert _read_all(store_engine, newest_first=True, limit=3) == oldest_first[::-1]
    # An exact multiple of the page size ends without an empty extra page.
    assert _read_all(store_engine, newest_first=False, limit=7) == oldest_first


@pytest.mark.parametrize("cursor", ["nonsense", encode_cursor(-1), "eyJpZCI6dHJ1ZX0"])
def test_foreign_cursor_is_refused(store_engine: Engine, cursor: str) -> None:
    with session_scope(store_engine) as session, pytest.raises(InvalidCursorError):
        keyset_page(session, select(AuditEntry), AuditEntry.id, limit=5, cursor=cursor)
