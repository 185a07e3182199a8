"""Hook points: code that reacts to a recorded order or return, in the same transaction.

The order and return services call every function registered here once per order or
return they **create** (never for a replay), after it is written and before the request's
transaction commits, so a reaction (loyalty points earned on an order, points taken back
on a return) exists exactly when the order or return does; an exception rolls both back.
Register at import time of the reacting package::

    from regulars.api.services import hooks
    hooks.ORDER_RECORDED.append(earn_points)      # earn_points(session, order: OrderOut)
    hooks.RETURN_RECORDED.append(claw_back)       # claw_back(session, ret: ReturnOut)

The loyalty engine is registered here, so every path that records orders and returns
(``POST /v1/orders``, ``POST /v1/returns``, ``POST /v1/bulk/orders``, a notebook calling
the services) earns and reverses points: :func:`earn_loyalty_points` and
:func:`reverse_loyalty_points`; an order recorded as cancelled gives back the points its
redemptions spent (:func:`cancel_loyalty_redemptions`). ``regulars import`` writes orders
in bulk without the services and earns nothing; historical balances go in through
``regulars loyalty import``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from regulars.api.schemas import OrderOut, ReturnOut
from regulars.loyalty.models import LoyaltyProgram
from regulars.loyalty.service import (
    cancel_order_redemptions,
    on_order_recorded,
    on_return_recorded,
)
from regulars.store.models import Order, OrderReturn

OrderHook = Callable[[Session, OrderOut], None]
ReturnHook = Callable[[Session, ReturnOut], None]

ORDER_RECORDED: list[OrderHook] = []
RETURN_RECORDED: list[ReturnHook] = []


def order_recorded(session: Session, order: OrderOut) -> None:
    """Run the order hooks for a newly created order."""
    for hook in ORDER_RECORDED:
        hook(session, order)


def return_recorded(session: Session, ret: ReturnOut) -> None:
    """Run the return hooks for a newly created return."""
    for hook in RETURN_RECORDED:
        hook(session, ret)


def _points_program_spans(session: Session) -> list[tuple[datetime, datetime | None]]:
    """``(starts_at, ends_at)`` of the active points programs, read once per transaction:
    a bulk write of orders when no program runs then costs one query, not one per order."""
    transaction = session.get_transaction()
    cached = session.info.get(_SPANS)
    if cached is not None and cached[0] is transaction:
        return list(cached[1])
    spans = [
        (starts, ends)
        for starts, ends in session.execute(
            select(LoyaltyProgram.starts_at, LoyaltyProgram.ends_at).where(
                LoyaltyProgram.type == "points", LoyaltyProgram.active.is_(True)
            )
        )
    ]
    session.info[_SPANS] = (transaction, spans)
    return spans


_SPANS = "regulars.loyalty.points_program_spans"


def earn_loyalty_points(session: Session, order: OrderOut) -> None:
    """Earn in every running points program (idempotent by order: a replay earns nothing)."""
    at = order.ordered_at
    spans = _points_program_spans(session)
    if not any(starts <= at and (ends is None or at < ends) for starts, ends in spans):
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


def cancel_loyalty_redemptions(session: Session, order: OrderOut) -> None:
    """An order recorded as cancelled (payment declined, say) gives back what the
    redemptions sent with its ``order_id`` spent (idempotent per redemption); any other
    order costs no query."""
    if order.status == "cancelled":
        cancel_order_redemptions(session, order.shop_id, order.order_id)


ORDER_RECORDED.append(earn_loyalty_points)
ORDER_RECORDED.append(cancel_loyalty_redemptions)
RETURN_RECORDED.append(reverse_loyalty_points)
