"""Merge aliases: a merged-away ``customer_id`` keeps working and means its survivor."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.store.tables import Customer, CustomerAlias


def resolve_aliases(session: Session, customer_ids: Iterable[str]) -> dict[str, str]:
    """``{id: survivor}`` for every id merged into another customer (one query)."""
    wanted = set(customer_ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(CustomerAlias.alias_id, CustomerAlias.customer_id).where(
            CustomerAlias.alias_id.in_(wanted)
        )
    ).all()
    return {alias: survivor for alias, survivor in rows}  # noqa: C416 (rows are Row objects)


def resolve_customer_id(session: Session, customer_id: str) -> str:
    """The customer ``customer_id`` stands for: itself, or the survivor it was merged into."""
    return resolve_aliases(session, [customer_id]).get(customer_id, customer_id)


def lookup_customer(session: Session, customer_id: str) -> Customer | None:
    """The customer ``customer_id`` stands for (following a merge alias), or None."""
    resolved = resolve_customer_id(session, customer_id)
    return session.scalars(select(Customer).where(Customer.customer_id == resolved)).one_or_none()
