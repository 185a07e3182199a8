"""Hook dispatch: the installed domains react to a recorded order, return, event or profile
save, in the same transaction.

The order and return services call :func:`order_recorded` / :func:`return_recorded` once
per order or return they **create** (never for a replay), with the stored row, after it
is written and before the request's transaction commits, so a reaction (loyalty points
earned on an order, points taken back on a return) exists exactly when the order or
return does; an exception rolls both back. The event service does the same for every
event it creates, and the customer services for every profile they create or change
(``before`` None for a new customer). The hooks are the domains' contributions
(:mod:`regulars.wiring`, :class:`regulars.domain.Contribution`); ``regulars import``
writes history without them.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from regulars.domain import Profile
from regulars.store.tables import Event, Order, OrderReturn
from regulars.wiring import (
    EVENT_RECORDED,
    ORDER_CANCELLED,
    ORDER_RECORDED,
    PROFILE_SAVED,
    RETURN_RECORDED,
)


def order_recorded(session: Session, order: Order) -> None:
    """Run the order hooks for a newly created order."""
    for hook in ORDER_RECORDED:
        hook(session, order)


def order_cancelled(session: Session, order: Order) -> None:
    """Run the cancel hooks for an order just marked cancelled (``POST …/cancel``)."""
    for hook in ORDER_CANCELLED:
        hook(session, order)


def return_recorded(session: Session, ret: OrderReturn) -> None:
    """Run the return hooks for a newly created return."""
    for hook in RETURN_RECORDED:
        hook(session, ret)


def event_recorded(session: Session, event: Event) -> None:
    """Run the event hooks for a newly created event."""
    for hook in EVENT_RECORDED:
        hook(session, event)


def profile_saved(
    session: Session, customer_id: str, before: Profile | None, after: Profile
) -> None:
    """Run the profile hooks for a created (``before`` None) or changed profile."""
    for hook in PROFILE_SAVED:
        hook(session, customer_id, before, after)
