"""Bulk ingestion: up to :data:`~regulars.api.schemas.MAX_BULK_ITEMS` items a request.

Every item is validated on its own; a bad item is answered ``rejected`` with its errors
and never keeps the others from being written. The valid items are written together with
a fixed number of statements (batched ``INSERT … ON CONFLICT``), not one round trip each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from regulars.api.schemas import (
    BulkCounts,
    BulkResult,
    ConsentIn,
    CustomerIn,
    CustomerPatch,
    EventIn,
    FieldError,
    ItemResult,
    OrderIn,
)
from regulars.api.schemas.bulk import ItemStatus
from regulars.api.services import hooks
from regulars.api.services.common import TABLES
from regulars.api.services.customers import profile_changes, upsert_consents
from regulars.api.services.events import write_events
from regulars.api.services.orders import order_content, write_orders
from regulars.clock import utcnow
from regulars.customers.aliases import resolve_aliases
from regulars.customers.profile import PROFILE_FIELDS, profile_of
from regulars.store.tables import Consent, Customer
from regulars.store.upsert import insert_ignoring_conflicts

Body = TypeVar("Body", bound=BaseModel)


@dataclass
class _Outcome:
    status: ItemStatus
    key: str | None
    errors: list[FieldError]


def _error(field: str, message: str, kind: str) -> FieldError:
    return FieldError(in_="body", field=field, message=message, type=kind)


def _validation_errors(exc: ValidationError) -> list[FieldError]:
    return [
        _error(".".join(str(p) for p in e["loc"]) or "item", e["msg"], e["type"])
        for e in exc.errors()
    ]


def _parse(
    model: type[Body], items: Sequence[Any], key_field: str
) -> tuple[dict[int, Body], dict[int, _Outcome]]:
    """The valid items by index, and the outcome of each invalid one."""
    valid: dict[int, Body] = {}
    rejected: dict[int, _Outcome] = {}
    for index, item in enumerate(items):
        raw_key = item.get(key_field) if isinstance(item, dict) else None
        key = raw_key if isinstance(raw_key, str) else None
        try:
            valid[index] = model.model_validate(item)
        except ValidationError as exc:
            rejected[index] = _Outcome("rejected", key, _validation_errors(exc))
    return valid, rejected


def _result(outcomes: dict[int, _Outcome]) -> BulkResult:
    results = [
        ItemResult(index=i, status=o.status, key=o.key, errors=o.errors)
        for i, o in sorted(outcomes.items())
    ]
    counts = BulkCounts()
    for result in results:
        setattr(counts, result.status, getattr(counts, result.status) + 1)
    return BulkResult(counts=counts, results=results)


def _first_occurrences(
    valid: dict[int, Body], key_of: Any
) -> tuple[dict[int, Body], dict[int, int]]:
    """Items whose key comes first in the batch, and ``{later index: first index}``."""
    first_index: dict[Any, int] = {}
    later: dict[int, int] = {}
    for index, body in valid.items():
        key = key_of(body)
        if key in first_index:
            later[index] = first_index[key]
        else:
            first_index[key] = index
    return {i: valid[i] for i in first_index.values()}, later


# -- orders -------------------------------------------------------------------------------


def bulk_orders(session: Session, items: Sequence[Any]) -> BulkResult:
    """Orders, idempotent like ``POST /v1/orders`` by ``(shop_id, order_id)``: a new one is
    ``created``, the same again ``replayed``, other content under its id ``rejected``. An
    order repeated within the batch counts once; the repeat is a replay of the first."""
    valid, outcomes = _parse(OrderIn, items, "order_id")
    firsts, later = _first_occurrences(valid, lambda b: (b.shop_id, b.order_id))
    writes = write_orders(session, list(firsts.values()))
    for index, write in zip(firsts, writes, strict=True):
        if write.conflicting:
            error = _error("order_id", "the order exists with different content", "conflict")
            outcomes[index] = _Outcome("rejected", write.order.order_id, [error])
        else:
            status: ItemStatus = "created" if write.created else "replayed"
            outcomes[index] = _Outcome(status, write.order.order_id, [])
    for index, first in later.items():
        body, original = valid[index], outcomes[first]
        if order_content(body) != order_content(valid[first]):
            message = f"item {first} has the same order_id with different content"
            outcomes[index] = _Outcome(
                "rejected", body.order_id, [_error("order_id", message, "conflict")]
            )
        elif original.status == "rejected":
            outcomes[index] = _Outcome("rejected", body.order_id, original.errors)
        else:
            outcomes[index] = _Outcome("replayed", body.order_id, [])
    return _result(outcomes)


# -- customers ----------------------------------------------------------------------------


def _as_patch(body: CustomerIn) -> CustomerPatch:
    return CustomerPatch.model_validate(
        body.model_dump(exclude_unset=True, exclude={"customer_id"})
    )


def _consents_differ(
    stored: dict[tuple[str, str], tuple[bool, str | None]], body: CustomerIn
) -> bool:
    return any(stored.get((c.channel, c.topic)) != (c.granted, c.source) for c in body.consents)


def bulk_customers(session: Session, items: Sequence[Any]) -> BulkResult:
    """Customer profiles: a new ``customer_id`` is ``created``; for a known one the fields
    the item sends are applied like ``PATCH`` (``updated``, or ``replayed`` when nothing
    changes). A ``customer_id`` merged away updates its survivor. A customer repeated
    within the batch is rejected after its first item."""
    valid, outcomes = _parse(CustomerIn, items, "customer_id")
    aliases = resolve_aliases(session, {b.customer_id for b in valid.values()})
    bodies = {
        i: b.model_copy(update={"customer_id": aliases.get(b.customer_id, b.customer_id)})
        for i, b in valid.items()
    }
    firsts, later = _first_occurrences(bodies, lambda b: b.customer_id)
    for index, first in later.items():
        message = f"item {first} already has this customer"
        outcomes[index] = _Outcome(
            "rejected", bodies[index].customer_id, [_error("customer_id", message, "duplicate")]
        )
    ids = [b.customer_id for b in firsts.values()]
    existing = (
        {
            c.customer_id: c
            for c in session.scalars(select(Customer).where(Customer.customer_id.in_(ids)))
        }
        if ids
        else {}
    )
    stored_consents: dict[str, dict[tuple[str, str], tuple[bool, str | None]]] = {}
    if existing:
        for consent in session.scalars(select(Consent).where(Consent.customer_id.in_(existing))):
            per_customer = stored_consents.setdefault(consent.customer_id, {})
            per_customer[(consent.channel, consent.topic)] = (consent.granted, consent.source)
    conn = session.connection()
    now = utcnow()
    new = {i: b for i, b in firsts.items() if b.customer_id not in existing}
    created: set[str] = set()
    if new:
        # Rows in one order (by id) in every request: concurrent requests creating the
        # same customers then wait for each other instead of deadlocking.
        rows = [
            {**b.model_dump(exclude={"consents"}), "created_at": now, "updated_at": now}
            for b in sorted(new.values(), key=lambda b: b.customer_id)
        ]
        inserted = conn.execute(
            insert_ignoring_conflicts(conn, TABLES["customers"]).returning(
                TABLES["customers"].c.customer_id
            ),
            rows,
        ).scalars()
        created = set(inserted)
    updates: list[dict[str, Any]] = []
    saved: list[tuple[str, dict[str, Any] | None, dict[str, Any]]] = []
    for index, body in firsts.items():
        customer = existing.get(body.customer_id)
        if customer is None:
            if body.customer_id in created:
                outcomes[index] = _Outcome("created", body.customer_id, [])
                saved.append((body.customer_id, None, profile_of(body)))
            else:
                error = _error(
                    "customer_id", "created concurrently by another request; retry", "conflict"
                )
                outcomes[index] = _Outcome("rejected", body.customer_id, [error])
            continue
        changes = {
            field: value
            for field, value in profile_changes(customer, _as_patch(body)).items()
            if getattr(customer, field) != value
        }
        if changes:
            current = {f: getattr(customer, f) for f in (*PROFILE_FIELDS, "attributes")}
            updates.append({"b_customer_id": customer.customer_id, **current, **changes})
            before = profile_of(customer)
            after = {f: changes.get(f, before[f]) for f in PROFILE_FIELDS}
            saved.append((customer.customer_id, before, after))
        changed = bool(changes) or _consents_differ(
            stored_consents.get(customer.customer_id, {}), body
        )
        outcomes[index] = _Outcome("updated" if changed else "replayed", body.customer_id, [])
    if updates:
        updates.sort(key=lambda u: str(u["b_customer_id"]))
        customers = TABLES["customers"]
        conn.execute(
            update(customers)
            .where(customers.c.customer_id == bindparam("b_customer_id"))
            .values(updated_at=now),
            updates,
        )
    consents: list[tuple[str, ConsentIn]] = [
        (body.customer_id, consent)
        for index, body in firsts.items()
        if outcomes[index].status != "rejected"
        for consent in body.consents
    ]
    upsert_consents(conn, consents)
    session.expire_all()
    for customer_id, old_profile, new_profile in saved:
        hooks.profile_saved(session, customer_id, old_profile, new_profile)  # a profile bonus
    return _result(outcomes)


# -- events -------------------------------------------------------------------------------


def bulk_events(session: Session, items: Sequence[Any]) -> BulkResult:
    """Events: ``created``, or ``replayed`` for an event already stored (same customer,
    kind, SKU, instant and payload); unknown customers are created bare."""
    valid, outcomes = _parse(EventIn, items, "customer_id")
    writes = write_events(session, list(valid.values()))
    for index, write in zip(valid, writes, strict=True):
        status: ItemStatus = "created" if write.created else "replayed"
        outcomes[index] = _Outcome(status, str(write.event.id), [])
    return _result(outcomes)
