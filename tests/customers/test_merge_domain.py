"""Merging from a notebook: :func:`regulars.customers.merge.merge_customers` with the
installed rules, and its errors (the API turns them into 404, 422 and 409)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from regulars.customers.aliases import resolve_customer_id
from regulars.customers.merge import (
    AlreadyMergedError,
    CustomerNotFoundError,
    SelfMergeError,
    merge_customers,
)
from regulars.store.session import session_scope
from regulars.store.tables import AuditEntry, Customer
from regulars.wiring import MERGE_RULES, PROFILE_SAVED


def _merge(engine: Engine, survivor: str, duplicate: str) -> dict[str, int]:
    with session_scope(engine) as session:
        merged = merge_customers(
            session,
            survivor,
            duplicate,
            actor="notebook",
            rules=MERGE_RULES,
            profile_hooks=PROFILE_SAVED,
        )
        return merged.counts


def _customers(engine: Engine, *ids: str) -> None:
    with session_scope(engine) as session:
        session.add_all(Customer(customer_id=cid, attributes={}) for cid in ids)


def test_merge_moves_and_aliases(store_engine: Engine) -> None:
    _customers(store_engine, "ann", "ann-old")
    counts = _merge(store_engine, "ann", "ann-old")
    assert list(counts) == list(MERGE_RULES)
    with session_scope(store_engine) as session:
        assert resolve_customer_id(session, "ann-old") == "ann"
        ids = session.scalars(select(Customer.customer_id)).all()
        assert ids == ["ann"]
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "customer.merge"))
        assert entry.one().details["duplicate_id"] == "ann-old"
    assert _merge(store_engine, "ann", "ann-old") == {}  # merged before: nothing to do


def test_merge_errors(store_engine: Engine) -> None:
    _customers(store_engine, "ann", "bob", "cy")
    with pytest.raises(CustomerNotFoundError, match="no customer 'zed'"):
        _merge(store_engine, "zed", "ann")
    with pytest.raises(CustomerNotFoundError, match="no customer 'zed'"):
        _merge(store_engine, "ann", "zed")
    with pytest.raises(SelfMergeError):
        _merge(store_engine, "ann", "ann")
    _merge(store_engine, "bob", "cy")
    with pytest.raises(AlreadyMergedError, match="'cy' was already merged into 'bob'"):
        _merge(store_engine, "ann", "cy")
