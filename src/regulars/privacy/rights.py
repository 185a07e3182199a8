"""The customer's rights under the GDPR: access (article 15) and erasure (article 17).

* :func:`export_customer` gathers every row of every customer table (see
  :mod:`regulars.privacy.plan`) and every audit or job entry that mentions the customer,
  as one JSON-ready document: money as decimal strings, times in UTC ISO 8601.
* :func:`erase_customer` deletes those rows (referring tables first, so it does not rely on
  the cascades, which new tables might lack), replaces the mentions by the customer's
  pseudonym and leaves one ``customer.erase`` audit entry that names the customer only by
  the pseudonym.

Both run inside the caller's session (one transaction) and write their audit entry in it:
the export is recorded as ``customer.export``, also pseudonymised, so the log says who
looked at whom without itself holding personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from regulars.clock import utcnow
from regulars.errors import RegularsError
from regulars.privacy.mentions import Identifiers, mentioning_rows, scrub_mentions
from regulars.privacy.plan import CUSTOMERS, CustomerPlan
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
    identifiers = _identifiers(session, plan, customer_id)
    tables = {
        name: [_jsonable_row(row) for row in _rows(session, plan, name, customer_id)]
        for name in plan.tables
    }
    mentions = {
        name: [_jsonable_row(row) for row in mentioning_rows(session, table, identifiers)]
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
    """Remove ``customer_id`` from the store for good (article 17); see the module docstring."""
    identifiers = _identifiers(session, plan, customer_id)
    name = pseudonym(secret, customer_id)
    deleted = {}
    for table_name in plan.deletion_order():
        table = plan.metadata.tables[table_name]
        result = session.connection().execute(
            delete(table).where(plan.condition(table_name, customer_id))
        )
        deleted[table_name] = result.rowcount
    if deleted[CUSTOMERS] == 0:
        # Erased by a concurrent call since the profile was read: that call recorded the
        # erasure; this one rolls back and reports the customer as unknown.
        raise UnknownCustomerError(customer_id)
    scrubbed = {
        table_name: scrub_mentions(session, mentioning, identifiers, name)
        for table_name in plan.mention_tables
        if (mentioning := plan.metadata.tables.get(table_name)) is not None
    }
    record(
        session,
        actor=actor,
        action="customer.erase",
        target_type="customer",
        target_id=name,
        details={"deleted": deleted, "scrubbed": scrubbed},
    )
    return Erasure(name, deleted, scrubbed)


def _rows(
    session: Session, plan: CustomerPlan, table_name: str, customer_id: str
) -> list[dict[str, Any]]:
    table = plan.metadata.tables[table_name]
    query = (
        select(table).where(plan.condition(table_name, customer_id)).order_by(*table.primary_key)
    )
    return [dict(row) for row in session.execute(query).mappings()]


def _identifiers(session: Session, plan: CustomerPlan, customer_id: str) -> Identifiers:
    """The customer's identifiers; raises :class:`UnknownCustomerError` if there is none."""
    customers = plan.metadata.tables[CUSTOMERS]
    profile = (
        session.execute(select(customers).where(plan.condition(CUSTOMERS, customer_id)))
        .mappings()
        .one_or_none()
    )
    if profile is None:
        raise UnknownCustomerError(customer_id)
    values = [customer_id, profile.get("email"), profile.get("phone"), profile.get("name")]
    aliases = plan.metadata.tables.get("customer_aliases")
    if aliases is not None and "customer_aliases" in plan.references:
        values += session.scalars(
            select(aliases.c.alias_id).where(plan.condition("customer_aliases", customer_id))
        ).all()
    return Identifiers(values)


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
