"""Hook points: code that reacts to a recorded order or return, in the same transaction.

The order and return services call every function registered here once per order or
return they **create** (never for a replay), after it is written and before the request's
transaction commits, so a reaction (loyalty points earned on an order, points taken back
on a return) exists exactly when the order or return does; an exception rolls both back.
Register at import time of the reacting package::

    from regulars.api.services import hooks
    hooks.ORDER_RECORDED.append(earn_points)      # earn_points(session, order: OrderOut)
    hooks.RETURN_RECORDED.append(claw_back)       # claw_back(session, ret: ReturnOut)
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from regulars.api.schemas import OrderOut, ReturnOut

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
