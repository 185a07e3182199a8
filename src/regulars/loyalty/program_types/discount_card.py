"""Discount card: the discount grows with the customer's cumulative spend.

The card has steps ``(threshold, pct)``. The percentage for the **next** order is the one of
the highest step whose threshold the customer's spend *before* that order reaches:

    spend(t) = Σ purchases in [t − window, t)  −  Σ returns in [t − window, t)

over all history when ``window_days`` is None (a lifetime card), else over a rolling window.
The order that crosses a threshold is charged at the old percentage; the new one applies
from the following order. Example "5 % from 0, 7 % from 10,000, 10 % from 25,000": after
9,999.99 of spend the next order gets 5 %, after 10,000.00 it gets 7 %.

The discount money of an order is ``amount × pct / 100`` rounded half-up to the cent.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from regulars.loyalty.program_types.fields import Money, Pct
from regulars.loyalty.program_types.history import Purchase, Return, net_spend
from regulars.loyalty.program_types.outcomes import Discount
from regulars.loyalty.program_types.timeutil import days, require_utc

CENT = Decimal("0.01")


class DiscountStep(BaseModel):
    """From ``threshold`` of cumulative spend on, orders get ``pct`` off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: Money
    pct: Pct


class DiscountCardConfig(BaseModel):
    """A growing discount card."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["discount_card"] = "discount_card"
    steps: Annotated[list[DiscountStep], Field(min_length=1)]
    window_days: Annotated[int | None, Field(ge=1)] = Field(
        None, description="Rolling window of the cumulative spend; None: lifetime spend."
    )

    @model_validator(mode="after")
    def _steps_grow(self) -> DiscountCardConfig:
        pairs = [(s.threshold, s.pct) for s in self.steps]
        for (t0, p0), (t1, p1) in itertools.pairwise(pairs):
            if t1 <= t0 or p1 <= p0:
                raise ValueError("steps: thresholds and pct must both strictly increase")
        return self


def cumulative_spend(
    config: DiscountCardConfig,
    customer_id: str,
    purchases: Sequence[Purchase],
    returns: Sequence[Return],
    as_of: datetime,
) -> Decimal:
    """The customer's spend the card counts before ``as_of`` (net of returns, in the window)."""
    require_utc(as_of, "as_of")
    start = None if config.window_days is None else as_of - days(config.window_days)
    return net_spend(customer_id, purchases, returns, start, as_of)


def pct_for_spend(config: DiscountCardConfig, spend: Decimal) -> Decimal:
    """The percentage of the highest step ``spend`` reaches (0 below the first step)."""
    reached = [s.pct for s in config.steps if spend >= s.threshold]
    return max(reached, default=Decimal(0))


def next_order_discount(
    config: DiscountCardConfig,
    customer_id: str,
    purchases: Sequence[Purchase],
    returns: Sequence[Return],
    as_of: datetime,
) -> Discount:
    """The discount the customer's order placed at ``as_of`` gets."""
    spend = cumulative_spend(config, customer_id, purchases, returns, as_of)
    return Discount(reason=f"discount card at spend {spend}", pct=pct_for_spend(config, spend))


def discount_amount(order_amount: Decimal, pct: Decimal) -> Decimal:
    """Money off ``order_amount`` at ``pct`` %, half-up to the cent."""
    return (order_amount * pct / 100).quantize(CENT, rounding=ROUND_HALF_UP)
