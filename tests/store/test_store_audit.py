"""The audit log is written in the caller's transaction: it exists exactly when the change does."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from regulars.store.audit import record
from regulars.store.session import session_scope
from regulars.store.tables import AuditEntry


def test_entry_commits_with_the_change(store_engine: Engine) -> None:
    with session_scope(store_engine) as session:
        record(session, actor="cli", action="apikey.revoke", target_type="api_key", target_id="ab")
    with session_scope(store_engine) as session:
        entry = session.scalars(select(AuditEntry)).one()
    assert (entry.actor, entry.action, entry.target_id, entry.details) == (
        "cli",
        "apikey.revoke",
        "ab",
        {},
    )
    assert entry.occurred_at.tzinfo is not None


def _failing_change(engine: Engine) -> None:
    with session_scope(engine) as session:
        record(session, actor="cli", action="customer.erase", target_type="customer")
        raise RuntimeError("the change failed")


def test_entry_rolls_back_with_the_change(store_engine: Engine) -> None:
    with pytest.raises(RuntimeError):
        _failing_change(store_engine)
    with session_scope(store_engine) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0
