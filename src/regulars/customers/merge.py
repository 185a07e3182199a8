"""Merging a duplicate customer into the survivor, in the caller's transaction.

Every domain contributes the rules for its own customer-keyed data
(:class:`regulars.domain.MergeRule`); :data:`CORE_MERGE_RULES` are the store's own tables
(orders, returns, events, aliases, consents). :func:`merge_customers` runs the rules it is
given, in their order, then fills the survivor's empty profile fields from the duplicate,
deletes the duplicate and makes its id an alias of the survivor: later orders and events
under the old id land on the survivor, and reading it answers the survivor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, delete, select, update
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.customers.aliases import lookup_customer, resolve_customer_id
from regulars.customers.profile import PROFILE_FIELDS, profile_of
from regulars.domain import MergeRule, ProfileHook
from regulars.errors import RegularsError
from regulars.store import audit
from regulars.store.tables import Consent, Customer, CustomerAlias, Event, Order, OrderReturn
from regulars.store.upsert import insert_ignoring_conflicts

MergeFunction = Callable[[Connection, str, str], int]
"""``(conn, survivor_id, duplicate_id) -> rows affected``: one kind of data merged."""

CUSTOMERS: Table = Customer.__table__  # type: ignore[assignment]
CONSENTS: Table = Consent.__table__  # type: ignore[assignment]
ALIASES: Table = CustomerAlias.__table__  # type: ignore[assignment]


class CustomerNotFoundError(RegularsError):
    """No customer with this id (nor an alias of one)."""

    def __init__(self, customer_id: str) -> None:
        super().__init__(f"no customer '{customer_id}'")
        self.customer_id = customer_id


class SelfMergeError(RegularsError):
    """A customer cannot be merged into itself."""


class AlreadyMergedError(RegularsError):
    """The duplicate was merged into another customer before."""

    def __init__(self, duplicate_id: str, survivor_id: str) -> None:
        super().__init__(f"customer '{duplicate_id}' was already merged into '{survivor_id}'")
        self.duplicate_id = duplicate_id
        self.survivor_id = survivor_id


def _move(table: Table) -> MergeFunction:
    def move(conn: Connection, survivor_id: str, duplicate_id: str) -> int:
        moved = conn.execute(
            update(table).where(table.c.customer_id == duplicate_id).values(customer_id=survivor_id)
        )
        return moved.rowcount

    move.__doc__ = f"Re-key the duplicate's {table.name} to the survivor."
    return move


def merge_consents(conn: Connection, survivor_id: str, duplicate_id: str) -> int:
    """Move the duplicate's consents; for a channel and topic both have, the more recently
    updated consent wins. Each keeps its own ``updated_at`` (when it was given)."""
    theirs = conn.execute(select(CONSENTS).where(CONSENTS.c.customer_id == duplicate_id)).all()
    mine = {
        (c.channel, c.topic): c
        for c in conn.execute(select(CONSENTS).where(CONSENTS.c.customer_id == survivor_id))
    }
    changed = 0
    for consent in theirs:
        own = mine.get((consent.channel, consent.topic))
        if own is None:
            conn.execute(
                update(CONSENTS)
                .where(CONSENTS.c.id == consent.id)
                .values(customer_id=survivor_id, updated_at=consent.updated_at)
            )
        elif consent.updated_at > own.updated_at:
            conn.execute(
                update(CONSENTS)
                .where(CONSENTS.c.id == own.id)
                .values(
                    granted=consent.granted, source=consent.source, updated_at=consent.updated_at
                )
            )
        else:
            continue
        changed += 1
    conn.execute(delete(CONSENTS).where(CONSENTS.c.customer_id == duplicate_id))
    return changed


def _moved(name: str, table: Table) -> MergeRule:
    return MergeRule(name, (table.name,), _move(table))


CORE_MERGE_RULES = (
    _moved("orders", Order.__table__),  # type: ignore[arg-type]
    _moved("returns", OrderReturn.__table__),  # type: ignore[arg-type]
    _moved("events", Event.__table__),  # type: ignore[arg-type]
    _moved("aliases", ALIASES),
    MergeRule("consents", ("consents",), merge_consents),
)
"""The store's own customer-keyed tables; the scores and every domain's tables are merged
by the rules those domains contribute."""


@dataclass(frozen=True)
class Merged:
    """The outcome of :func:`merge_customers`: the survivor's id, and the rows each rule
    affected (empty when the duplicate had been merged into the survivor before)."""

    survivor_id: str
    counts: dict[str, int]


def merge_customers(
    session: Session,
    survivor_id: str,
    duplicate_id: str,
    *,
    actor: str,
    rules: Mapping[str, MergeFunction],
    profile_hooks: Sequence[ProfileHook],
) -> Merged:
    """Merge customer ``duplicate_id`` into ``survivor_id`` (both may be aliases).

    The duplicate's data move by ``rules`` (name → function, run in order), its profile
    fills the survivor's empty fields, the duplicate is deleted and its id becomes an alias
    of the survivor. Audited as ``customer.merge`` with each rule's count. Merging an
    already merged duplicate again changes nothing. When the duplicate's fields change the
    survivor's profile, ``profile_hooks`` run last (``before``: the survivor's profile
    before the merge), as for any other save: a profile the merge completes earns a
    profile bonus, unless the survivor or the duplicate earned it before.

    Raises :class:`CustomerNotFoundError`, :class:`SelfMergeError` and
    :class:`AlreadyMergedError` (merged into someone else).
    """
    survivor = lookup_customer(session, survivor_id)
    if survivor is None:
        raise CustomerNotFoundError(survivor_id)
    if resolve_customer_id(session, duplicate_id) == survivor.customer_id:
        if duplicate_id == survivor.customer_id:
            raise SelfMergeError("a customer cannot be merged into itself")
        return Merged(survivor.customer_id, {})  # merged before: same answer
    conn = session.connection()
    # A write first: takes SQLite's write lock (and PostgreSQL's row lock) before reading.
    conn.execute(
        update(CUSTOMERS)
        .where(CUSTOMERS.c.customer_id == survivor.customer_id)
        .values(updated_at=utcnow())
    )
    duplicate = _locked_customer(session, duplicate_id)
    if duplicate is None:
        elsewhere = resolve_customer_id(session, duplicate_id)
        if elsewhere != duplicate_id:
            raise AlreadyMergedError(duplicate_id, elsewhere)
        raise CustomerNotFoundError(duplicate_id)
    counts = {
        name: merge(conn, survivor.customer_id, duplicate_id) for name, merge in rules.items()
    }
    before = profile_of(survivor)
    filled = _filled_profile(survivor, duplicate)
    conn.execute(
        update(CUSTOMERS).where(CUSTOMERS.c.customer_id == survivor.customer_id).values(**filled)
    )
    conn.execute(delete(CUSTOMERS).where(CUSTOMERS.c.customer_id == duplicate_id))
    conn.execute(
        insert_ignoring_conflicts(conn, ALIASES),
        {"alias_id": duplicate_id, "customer_id": survivor.customer_id, "merged_at": utcnow()},
    )
    session.expire_all()
    audit.record(
        session,
        actor=actor,
        action="customer.merge",
        target_type="customer",
        target_id=survivor.customer_id,
        details={"duplicate_id": duplicate_id, **counts},
    )
    after = {**before, **{k: v for k, v in filled.items() if k in PROFILE_FIELDS}}
    if after != before:  # after the alias: the bonus rule sees the duplicate as merged
        for hook in profile_hooks:
            hook(session, survivor.customer_id, before, after)
    return Merged(survivor.customer_id, counts)


def _filled_profile(survivor: Customer, duplicate: Customer) -> dict[str, Any]:
    """The survivor's empty profile fields filled from the duplicate; attributes united
    (the survivor's value wins for a key both have)."""
    values: dict[str, Any] = {
        field: getattr(duplicate, field)
        for field in PROFILE_FIELDS
        if getattr(survivor, field) in (None, "") and getattr(duplicate, field) is not None
    }
    values["attributes"] = {**(duplicate.attributes or {}), **(survivor.attributes or {})}
    return values


def _locked_customer(session: Session, customer_id: str) -> Customer | None:
    return session.scalars(
        select(Customer).where(Customer.customer_id == customer_id).with_for_update()
    ).one_or_none()
