"""The customer's rights under the GDPR: access (article 15) and erasure (article 17).

* :func:`export_customer` gathers every row of every customer table (see
  :mod:`regulars.privacy.plan`) and every audit or job entry that mentions the customer,
  as one JSON-ready document: money as decimal strings, times in UTC ISO 8601.
* :func:`erase_customer` follows each table's erasure rule: it deletes the customer's rows
  of the *deleted* tables (personal data: profile, consents, events, scores…; referring
  tables first, so it does not rely on the cascades, which new tables might lack), keeps the
  rows of the *kept* tables (the business's records: orders, the loyalty ledger,
  settlements, donations, draws, referrals) under a profile-less customer named by the
  pseudonym, replaces the mentions left in text and JSON by the pseudonym (each merged id
  by its own, so keys that differed by the id stay distinct) and leaves one
  ``customer.erase`` audit entry that names the customer only by the pseudonym.

Both run inside the caller's session (one transaction) and write their audit entry in it:
the export is recorded as ``customer.export``, also pseudonymised, so the log says who
looked at whom without itself holding personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.errors import RegularsError
from regulars.privacy.mentions import (
    Identifiers,
    mentioning_rows,
    scrub_mentions,
    text_columns,
)
from regulars.privacy.plan import CUSTOMER_KEY, CUSTOMERS, CustomerPlan
from regulars.privacy.secret import pseudonym
from regulars.store.audit import record

EXPORT_FORMAT = "regulars.customer-export/1"


class UnknownCustomerError(RegularsError):
    """No customer with this ``customer_id``."""

    def __init__(self, customer_id: str) -> None:
        super().__init__(f"no customer '{customer_id}'")
        self.customer_id = customer_id


@dataclass(frozen=True)
class Erasure:
    """What :func:`erase_customer` did: rows deleted and mentions scrubbed, per table."""

    pseudonym: str
    deleted: dict[str, int]
    kept: dict[str, int]
    """The customer's rows of each kept table, now under the pseudonym."""
    scrubbed: dict[str, int]


def export_customer(
    session: Session,
    customer_id: str,
    *,
    actor: str,
    secret: bytes,
    plan: CustomerPlan,
) -> dict[str, Any]:
    """Everything the store holds about ``customer_id`` (article 15), recorded in the audit log.

    ``{"format", "customer_id", "exported_at", "tables": {table: [row…]}, "mentions":
    {table: [row…]}}``; every customer table is present, empty or not.
    """
    identifiers = _identifiers(session, plan, customer_id, secret)
    tables = {
        name: [_jsonable_row(row) for row in _rows(session, plan, name, customer_id)]
        for name in plan.tables
    }
    mentions = {
        name: [
            _jsonable_row(row)
            for row in mentioning_rows(session, table, identifiers, plan.mention_columns.get(name))
        ]
        for name in plan.mention_tables
        if (table := plan.metadata.tables.get(name)) is not None
    }
    record(
        session,
        actor=actor,
        action="customer.export",
        target_type="customer",
        target_id=pseudonym(secret, customer_id),
        details={"rows": {name: len(rows) for name, rows in tables.items()}},
    )
    return {
        "format": EXPORT_FORMAT,
        "customer_id": customer_id,
        "exported_at": _jsonable(utcnow()),
        "tables": tables,
        "mentions": mentions,
    }


def erase_customer(
    session: Session,
    customer_id: str,
    *,
    actor: str,
    secret: bytes,
    plan: CustomerPlan,
) -> Erasure:
    """Remove ``customer_id``'s personal data from the store for good (article 17), keeping
    the business's records under the pseudonym; see the module docstring."""
    identifiers = _identifiers(session, plan, customer_id, secret)
    name = pseudonym(secret, customer_id)
    connection = session.connection()
    deleted = {}
    for table_name in plan.deletion_order():  # before re-keying: conditions follow the keys
        if table_name in plan.deleted and table_name != CUSTOMERS:
            table = plan.metadata.tables[table_name]
            condition = plan.condition(table_name, customer_id)
            deleted[table_name] = connection.execute(delete(table).where(condition)).rowcount
    kept = _rekey(session, plan, customer_id, name)
    customers = plan.metadata.tables[CUSTOMERS]
    deleted[CUSTOMERS] = connection.execute(
        delete(customers).where(plan.condition(CUSTOMERS, customer_id))
    ).rowcount
    if deleted[CUSTOMERS] == 0:
        # Erased by a concurrent call since the profile was read: that call recorded the
        # erasure; this one rolls back and reports the customer as unknown.
        raise UnknownCustomerError(customer_id)
    scrubbed = {
        table_name: scrub_mentions(
            session, scanned, identifiers, name, _scrubbed_columns(plan, table_name)
        )
        for table_name in (*plan.mention_tables, *plan.kept)
        if (scanned := plan.metadata.tables.get(table_name)) is not None
    }
    record(
        session,
        actor=actor,
        action="customer.erase",
        target_type="customer",
        target_id=name,
        details={"deleted": deleted, "kept": kept, "scrubbed": scrubbed},
    )
    return Erasure(name, deleted, kept, scrubbed)


def _rekey(session: Session, plan: CustomerPlan, customer_id: str, name: str) -> dict[str, int]:
    """Count the customer's rows of every kept table, then give the rows that name the
    customer directly the pseudonym ``name`` instead, under a profile-less customer of that
    id (the foreign keys need one); returns the kept rows per table.

    The same id erased a second time (the shop sent it again after the first erasure)
    keeps its records under ``name#2`` (then ``#3``…): one key per erased customer, so the
    second one's account or membership in a program cannot collide with the first's."""
    connection = session.connection()
    kept = {
        table_name: connection.scalar(
            select(func.count())
            .select_from(plan.metadata.tables[table_name])
            .where(plan.condition(table_name, customer_id))
        )
        or 0
        for table_name in plan.tables
        if table_name in plan.kept
    }
    if not any(kept.values()):
        return kept
    customers = plan.metadata.tables[CUSTOMERS]
    taken = set(
        connection.scalars(
            select(customers.c[CUSTOMER_KEY]).where(
                customers.c[CUSTOMER_KEY].startswith(name, autoescape=True)
            )
        )
    )
    base, number = name, 1
    while name in taken:
        number += 1
        name = f"{base}#{number}"
    connection.execute(insert(customers).values({CUSTOMER_KEY: name}))
    for table_name in kept:
        table = plan.metadata.tables[table_name]
        for ref in plan.references[table_name]:
            if ref.target == CUSTOMERS and ref.target_columns == (CUSTOMER_KEY,):
                column = table.c[ref.columns[0]]
                connection.execute(
                    update(table).where(column == customer_id).values({column: name})
                )
    return kept


def _scrubbed_columns(plan: CustomerPlan, table_name: str) -> list[str] | None:
    """Where erasure looks for mentions in a table: the declared columns of a mention table,
    every text and JSON column of another mention table (None), and of a kept table those
    that are no key of a reference (an order number stays the shop's order number)."""
    if table_name in plan.mention_columns:
        return list(plan.mention_columns[table_name])
    if table_name in plan.mention_tables:
        return None
    table = plan.metadata.tables[table_name]
    keys = {c.name for c in table.columns if c.foreign_keys} | {
        key.column.name
        for other in plan.metadata.tables.values()
        for key in other.foreign_keys
        if key.column.table is table
    }
    return [c for c in text_columns(table) if c not in keys]


def _rows(
    session: Session, plan: CustomerPlan, table_name: str, customer_id: str
) -> list[dict[str, Any]]:
    table = plan.metadata.tables[table_name]
    query = (
        select(table).where(plan.condition(table_name, customer_id)).order_by(*table.primary_key)
    )
    return [dict(row) for row in session.execute(query).mappings()]


def _identifiers(
    session: Session, plan: CustomerPlan, customer_id: str, secret: bytes
) -> Identifiers:
    """The customer's identifiers, each id with its own pseudonym; raises
    :class:`UnknownCustomerError` if there is no such customer."""
    customers = plan.metadata.tables[CUSTOMERS]
    profile = (
        session.execute(select(customers).where(plan.condition(CUSTOMERS, customer_id)))
        .mappings()
        .one_or_none()
    )
    if profile is None:
        raise UnknownCustomerError(customer_id)
    ids = [customer_id]
    aliases = plan.metadata.tables.get("customer_aliases")
    if aliases is not None and "customer_aliases" in plan.references:
        ids += session.scalars(
            select(aliases.c.alias_id).where(plan.condition("customer_aliases", customer_id))
        ).all()
    values = [*ids, profile.get("email"), profile.get("phone"), profile.get("name")]
    return Identifiers(values, own={i: pseudonym(secret, i) for i in ids})


def _jsonable_row(row: dict[str, Any]) -> dict[str, Any]:
    return {key: _jsonable(value) for key, value in row.items()}


def _jsonable(value: Any) -> Any:
    """Money as a decimal string, times in UTC ISO 8601 (``…Z``), dates as ``YYYY-MM-DD``."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value
