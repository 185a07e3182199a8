"""Hook points: code that reacts to a recorded order, return, event or profile save, in the
same transaction.

The order and return services call every function registered here once per order or
return they **create** (never for a replay), after it is written and before the request's
transaction commits, so a reaction (loyalty points earned on an order, points taken back
on a return) exists exactly when the order or return does; an exception rolls both back.
The event service does the same for every event it creates, and the customer services for
every profile they create or change (``before`` None for a new customer). Register at
import time of the reacting package::

    from regulars.api.services import hooks
    hooks.ORDER_RECORDED.append(earn_points)      # earn_points(session, order: OrderOut)
    hooks.RETURN_RECORDED.append(claw_back)       # claw_back(session, ret: ReturnOut)
    hooks.EVENT_RECORDED.append(on_event)         # on_event(session, event: EventOut)
    hooks.PROFILE_SAVED.append(on_profile)        # on_profile(session, id, before, after)

The loyalty engine is registered here, so every path that records orders, returns,
events and profiles (``POST /v1/orders``, ``POST /v1/returns``, ``POST /v1/events``,
``POST``/``PATCH /v1/customers``, the ``/v1/bulk/…`` endpoints, a notebook calling the
services) earns and reverses points: :func:`earn_loyalty_points`,
:func:`reverse_loyalty_points`, :func:`earn_review_bonus` and :func:`earn_profile_bonus`;
a review also moves the live badges (:func:`award_review_badges`); an order recorded as
cancelled gives back the points its redemptions spent (:func:`cancel_loyalty_redemptions`).
A customer merge runs the profile hooks for the survivor when the duplicate's profile fills
its empty fields. ``regulars import`` writes orders, customers and events in bulk without
the services and earns nothing; historical balances go in through ``regulars loyalty
import``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.api.schemas import EventOut, OrderOut, ReturnOut
from regulars.loyalty.points.action_bonuses import on_profile_saved, on_review_recorded
from regulars.loyalty.points.cancellation import cancel_order_redemptions
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.points.returns import on_return_recorded
from regulars.loyalty.program_cache import loaded_programs, runs_at
from regulars.loyalty.program_store.dispatch import apply_programs_for_review
from regulars.loyalty.program_store.history import REVIEW_EVENT
from regulars.store.tables import Order, OrderReturn

OrderHook = Callable[[Session, OrderOut], None]
ReturnHook = Callable[[Session, ReturnOut], None]

EventHook = Callable[[Session, EventOut], None]
Profile = Mapping[str, object]
ProfileHook = Callable[[Session, str, Profile | None, Profile], None]

ORDER_RECORDED: list[OrderHook] = []
RETURN_RECORDED: list[ReturnHook] = []
EVENT_RECORDED: list[EventHook] = []
PROFILE_SAVED: list[ProfileHook] = []


def order_recorded(session: Session, order: OrderOut) -> None:
    """Run the order hooks for a newly created order."""
    for hook in ORDER_RECORDED:
        hook(session, order)


def return_recorded(session: Session, ret: ReturnOut) -> None:
    """Run the return hooks for a newly created return."""
    for hook in RETURN_RECORDED:
        hook(session, ret)


def event_recorded(session: Session, event: EventOut) -> None:
    """Run the event hooks for a newly created event."""
    for hook in EVENT_RECORDED:
        hook(session, event)


def profile_saved(
    session: Session, customer_id: str, before: Profile | None, after: Profile
) -> None:
    """Run the profile hooks for a created (``before`` None) or changed profile."""
    for hook in PROFILE_SAVED:
        hook(session, customer_id, before, after)


def earn_loyalty_points(session: Session, order: OrderOut) -> None:
    """Earn in every running points program and apply the other running programs (stamp
    cards, tier clubs, badges…; idempotent by order: a replay earns nothing). No query
    beyond the transaction's programs when no program of any type runs at the order."""
    if not _a_program_runs(session, order.ordered_at):
        return
    stored = session.scalars(
        select(Order).where(Order.shop_id == order.shop_id, Order.order_id == order.order_id)
    ).one()
    on_order_recorded(session, stored)


def reverse_loyalty_points(session: Session, ret: ReturnOut) -> None:
    """Reverse what the returned order earned, re-credit what it spent (idempotent by return)."""
    stored = session.scalars(
        select(OrderReturn).where(
            OrderReturn.shop_id == ret.shop_id, OrderReturn.return_id == ret.return_id
        )
    ).one()
    on_return_recorded(session, stored)


def _a_program_runs(session: Session, at: datetime) -> bool:
    """Whether a program of any type runs at ``at``: the transaction's programs are read
    once (:func:`~regulars.loyalty.program_cache.loaded_programs`), so a bulk write of orders
    when no program runs costs one query, not one per order."""
    return any(runs_at(program, at) for program in loaded_programs(session))


def earn_review_bonus(session: Session, event: EventOut) -> None:
    """A ``review_written`` event earns the running points programs' review bonuses (once
    per customer and reviewed subject)."""
    if event.kind != REVIEW_EVENT or not _a_program_runs(session, event.occurred_at):
        return
    on_review_recorded(session, event.customer_id, event.sku, event.payload, event.occurred_at)


def award_review_badges(session: Session, event: EventOut) -> None:
    """A ``review_written`` event counts in the running badges programs' ``reviews`` metric
    (distinct reviewed subjects): a badge it completes is awarded, once per customer."""
    if event.kind == REVIEW_EVENT:
        apply_programs_for_review(session, event.customer_id, event.id, event.occurred_at)


def earn_profile_bonus(
    session: Session, customer_id: str, before: Profile | None, after: Profile
) -> None:
    """A save that completes a profile earns the running points programs' profile bonuses."""
    on_profile_saved(session, customer_id, before, after)


def cancel_loyalty_redemptions(session: Session, order: OrderOut) -> None:
    """An order recorded as cancelled (payment declined, say) gives back what the
    redemptions sent with its ``order_id`` spent (idempotent per redemption); any other
    order costs no query."""
    if order.status == "cancelled":
        cancel_order_redemptions(session, order.shop_id, order.order_id)


ORDER_RECORDED.append(earn_loyalty_points)
ORDER_RECORDED.append(cancel_loyalty_redemptions)
RETURN_RECORDED.append(reverse_loyalty_points)
EVENT_RECORDED.append(earn_review_bonus)
EVENT_RECORDED.append(award_review_badges)
PROFILE_SAVED.append(earn_profile_bonus)
