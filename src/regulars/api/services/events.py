"""Behavioural events: record (idempotently) and list per customer.

Events have no id of their own from the client, so an event is identified by its content:
the same customer, kind, SKU, instant and payload again is a replay of the stored event,
not a second event. Retrying a POST is therefore safe. Every event created (not a replay)
runs the event hooks (:mod:`regulars.api.services.hooks`): a ``review_written`` event earns
the running points programs' review bonuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.api.schemas import EventIn, EventOut, Page
from regulars.api.services import hooks
from regulars.api.services.common import TABLES, create_bare_customers, find_customer, paginate
from regulars.customers.aliases import resolve_aliases
from regulars.store.tables import Customer, Event

EVENTS = TABLES["events"]


def _identity(customer_id: str, kind: str, sku: str | None, occurred_at: Any) -> tuple[Any, ...]:
    return (customer_id, kind, sku, occurred_at)


def _event_out(event: Event) -> EventOut:
    return EventOut.model_validate(event, from_attributes=True)


@dataclass(frozen=True)
class EventWrite:
    event: EventOut
    created: bool


def _existing(session: Session, bodies: Sequence[EventIn]) -> dict[tuple[Any, ...], list[Event]]:
    """Stored events that may equal one of ``bodies``: same customers, within their span."""
    query = select(Event).where(
        Event.customer_id.in_({b.customer_id for b in bodies}),
        Event.occurred_at >= min(b.occurred_at for b in bodies),
        Event.occurred_at <= max(b.occurred_at for b in bodies),
    )
    found: dict[tuple[Any, ...], list[Event]] = {}
    for event in session.scalars(query.order_by(Event.id)):
        key = _identity(event.customer_id, event.kind, event.sku, event.occurred_at)
        found.setdefault(key, []).append(event)
    return found


def write_events(session: Session, bodies: Sequence[EventIn]) -> list[EventWrite]:
    """Insert the events not stored yet, in one statement; replays return the stored event.

    Unknown customers are created with just their id, like orders do; a customer id that
    was merged away is written as its survivor. Equal events within ``bodies`` are one event.
    """
    if not bodies:
        return []
    aliases = resolve_aliases(session, {b.customer_id for b in bodies})
    bodies = [
        b.model_copy(update={"customer_id": aliases[b.customer_id]})
        if b.customer_id in aliases
        else b
        for b in bodies
    ]
    customer_ids = sorted({b.customer_id for b in bodies})
    create_bare_customers(session.connection(), customer_ids)  # SQLite: takes the write lock
    # PostgreSQL: lock the customers' rows, so concurrent writers of the same customer's
    # events queue here and each sees what the other stored (no double event on a retry).
    session.execute(
        select(Customer.id).where(Customer.customer_id.in_(customer_ids)).with_for_update()
    ).all()
    existing = _existing(session, bodies)
    pending: list[tuple[EventIn, Event]] = []
    outcomes: list[tuple[Event, bool]] = []
    for body in bodies:
        key = _identity(body.customer_id, body.kind, body.sku, body.occurred_at)
        stored = next((e for e in existing.get(key, []) if e.payload == body.payload), None)
        earlier = next((event for b, event in pending if b == body), None)
        found = stored if stored is not None else earlier
        if found is None:
            event = Event(**body.model_dump())
            pending.append((body, event))
            outcomes.append((event, True))
        else:
            outcomes.append((found, False))
    session.add_all(event for _, event in pending)
    session.flush()  # one INSERT … RETURNING id for all of them
    for event, created in outcomes:
        if created:
            hooks.event_recorded(session, event)  # e.g. a review earns its bonus
    return [EventWrite(_event_out(event), created) for event, created in outcomes]


def customer_events(
    session: Session, customer_id: str, *, limit: int, cursor: str | None
) -> Page[EventOut]:
    """A customer's events in the order they were recorded; 404 for an unknown customer."""
    customer = find_customer(session, customer_id)
    query = select(Event).where(Event.customer_id == customer.customer_id)
    return paginate(
        session,
        query,
        Event.id,
        limit=limit,
        cursor=cursor,
        render=lambda rows: [_event_out(e) for e in rows],
    )


def recent_events(session: Session, customer_id: str, limit: int) -> list[EventOut]:
    """The customer's latest events, newest first."""
    rows = session.scalars(
        select(Event)
        .where(Event.customer_id == customer_id)
        .order_by(Event.occurred_at.desc(), Event.id.desc())
        .limit(limit)
    ).all()
    return [_event_out(e) for e in rows]
