"""The inputs program rules read: a customer's purchases and returns.

These are small frozen dataclasses, filled by the caller from the store (``orders``,
``order_lines``, ``order_returns``) or from an export; the rules never query anything.
Amounts are net of discounts and tax as the shop reports them (Decimal currency units).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from regulars.loyalty.program_types.earning import Line
from regulars.loyalty.program_types.timeutil import require_utc


@dataclass(frozen=True)
class OrderLine:
    """One line of an order (or of a return: then ``quantity`` and ``amount`` are returned)."""

    quantity: int
    amount: Decimal
    sku: str | None = None
    category: str | None = None

    def __post_init__(self) -> None:
        if self.quantity < 0:
            raise ValueError(f"OrderLine.quantity must not be negative, got {self.quantity}")

    def as_rule_line(self) -> Line:
        """The line as the points rules (:mod:`regulars.loyalty.program_types.earning`) see it."""
        return Line(amount=self.amount, sku=self.sku, category=self.category)


@dataclass(frozen=True)
class Purchase:
    """A paid order of one customer (``shop_id``: the store's shop, ``"default"`` unless
    the shop runs several)."""

    order_id: str
    customer_id: str
    at: datetime
    amount: Decimal
    lines: tuple[OrderLine, ...] = field(default_factory=tuple)
    shop_id: str = "default"

    def __post_init__(self) -> None:
        require_utc(self.at, f"Purchase {self.order_id}.at")


@dataclass(frozen=True)
class Return:
    """Goods or money returned against ``order_id``; ``amount`` is the refunded money (> 0)."""

    return_id: str
    order_id: str
    customer_id: str
    at: datetime
    amount: Decimal
    lines: tuple[OrderLine, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        require_utc(self.at, f"Return {self.return_id}.at")
        if self.amount < 0:
            raise ValueError(f"Return {self.return_id}.amount must not be negative")


def chronological(purchases: Iterable[Purchase]) -> list[Purchase]:
    """Purchases by time, ties broken by order id, so every replay sees the same order."""
    return sorted(purchases, key=lambda p: (p.at, p.order_id))


def net_spend(
    customer_id: str,
    purchases: Iterable[Purchase],
    returns: Iterable[Return],
    start: datetime | None,
    end: datetime,
) -> Decimal:
    """The customer's spend in ``[start, end)`` (all history before ``end`` when ``start`` is
    None); other customers' rows in the inputs are ignored.

    Purchases add their amount, returns subtract theirs, each counted at its own time, so a
    return inside the window cancels the spend even when the order was older.
    """

    def inside(moment: datetime) -> bool:
        return (start is None or moment >= start) and moment < end

    spent = sum(
        (p.amount for p in purchases if p.customer_id == customer_id and inside(p.at)),
        Decimal(0),
    )
    refunded = sum(
        (r.amount for r in returns if r.customer_id == customer_id and inside(r.at)),
        Decimal(0),
    )
    return spent - refunded
