"""Badges / achievements: rule-based, each awarded once, with progress.

A badge counts one metric over the customer's history, replayed in time order, and is
awarded at the first moment the metric reaches its target:

* ``orders``: paid orders (``amount > 0``);
* ``categories`` / ``skus``: distinct categories / SKUs on paid lines;
* ``spend``: purchases minus returns (so buying and returning earns nothing);
* ``reviews``: distinct reviewed subjects.

A badge, once awarded, stays (a later return does not take it back); the key
``badge:<code>:<customer>`` makes it once per customer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from regulars.loyalty.program_types.fields import Code
from regulars.loyalty.program_types.history import Purchase, Return
from regulars.loyalty.program_types.outcomes import BadgeAwarded

Metric = Literal["orders", "categories", "skus", "spend", "reviews"]


class Badge(BaseModel):
    """A badge: awarded when ``metric`` reaches ``target``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Code
    name: Annotated[str, Field(min_length=1)]
    metric: Metric
    target: Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)]


class BadgesConfig(BaseModel):
    """A set of badges."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["badges"] = "badges"
    badges: Annotated[list[Badge], Field(min_length=1)]

    @model_validator(mode="after")
    def _codes_unique(self) -> BadgesConfig:
        codes = [b.code for b in self.badges]
        if len(set(codes)) != len(codes):
            raise ValueError("badges: codes must be unique")
        return self


@dataclass(frozen=True)
class Review:
    """A review the customer wrote about ``subject`` (a product or order id)."""

    customer_id: str
    at: datetime
    subject: str


@dataclass(frozen=True)
class BadgeProgress:
    """A badge's current value against its target; ``achieved_at`` None: not yet."""

    code: str
    value: Decimal
    target: Decimal
    achieved_at: datetime | None


class _Tally:
    """The running metrics of one customer."""

    def __init__(self) -> None:
        self.orders = 0
        self.spend = Decimal(0)
        self.categories: set[str] = set()
        self.skus: set[str] = set()
        self.reviews: set[str] = set()

    def add(self, event: Purchase | Return | Review) -> None:
        if isinstance(event, Review):
            self.reviews.add(event.subject)
        elif isinstance(event, Return):
            self.spend -= event.amount
        elif event.amount > 0:
            self.orders += 1
            self.spend += event.amount
            for line in event.lines:
                if line.amount > 0 and line.quantity > 0:
                    self.categories.update([line.category] if line.category else [])
                    self.skus.update([line.sku] if line.sku else [])

    def value(self, metric: Metric) -> Decimal:
        sizes = {"categories": self.categories, "skus": self.skus, "reviews": self.reviews}
        if metric == "orders":
            return Decimal(self.orders)
        if metric == "spend":
            return self.spend
        return Decimal(len(sizes[metric]))


def progress(
    config: BadgesConfig,
    customer_id: str,
    purchases: Sequence[Purchase],
    returns: Sequence[Return] = (),
    reviews: Sequence[Review] = (),
) -> list[BadgeProgress]:
    """Each badge's current value, target and the moment it was achieved (None: not yet)."""
    history: list[Purchase | Return | Review] = [*purchases, *returns, *reviews]
    events = [e for e in history if e.customer_id == customer_id]
    events.sort(key=lambda e: e.at)
    tally = _Tally()
    achieved: dict[str, datetime] = {}
    for event in events:
        tally.add(event)
        for badge in config.badges:
            if badge.code not in achieved and tally.value(badge.metric) >= badge.target:
                achieved[badge.code] = event.at
    return [
        BadgeProgress(b.code, tally.value(b.metric), b.target, achieved.get(b.code))
        for b in config.badges
    ]


def awards(
    config: BadgesConfig,
    customer_id: str,
    purchases: Sequence[Purchase],
    returns: Sequence[Return] = (),
    reviews: Sequence[Review] = (),
) -> list[BadgeAwarded]:
    """Every badge the history has earned, with the time it was reached."""
    return [
        BadgeAwarded(key=f"badge:{p.code}:{customer_id}", code=p.code, awarded_at=p.achieved_at)
        for p in progress(config, customer_id, purchases, returns, reviews)
        if p.achieved_at is not None
    ]
