"""The purchase rule for one order held in Python, without the analytics engine.

The rule is defined in :mod:`regulars.analytics.transactions` (docs/metrics.md): a
purchase is an order whose status is neither ``cancelled`` nor ``refunded`` and whose net
amount ``amount − refunded_amount`` is positive, or a zero-value order with nothing
refunded. The engine's version there uses :data:`NOT_COUNTED_STATUSES` from here, and a
test checks that both agree. It lives apart so that the API (Customer 360) applies it
without importing Ibis.
"""

from __future__ import annotations

from decimal import Decimal

NOT_COUNTED_STATUSES = ("cancelled", "refunded")


def counts_as_purchase(
    amount: Decimal, refunded_amount: Decimal | None, status: str | None
) -> bool:
    """The purchase rule for one order held in Python (the operational store's Customer
    360); ``regulars.analytics.transactions._classified`` is the same rule in the engine."""
    net = amount - (refunded_amount or 0)
    if (status or "completed") in NOT_COUNTED_STATUSES:
        return False
    return net > 0 or (amount == 0 and net == 0)
