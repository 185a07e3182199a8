"""Earning rules of a points (bonus / cashback) program, shared by the live ledger and the
simulator so that a simulated program earns exactly what the real one would.

Points are integers. An order earns

    points = floor( Σ_lines  line_net × earn_per_unit × m(line) × tier_multiplier )

where ``line_net`` is the line's amount in currency units (Decimal), ``m(line)`` the SKU
multiplier if one is set, else the category multiplier, else 1. Rounding down happens once
per order, not per line, so splitting an order into lines never loses points. An order
without lines earns on its net amount with ``m = 1``. ``tier_multiplier`` comes from the
customer's tier in a ``tiers`` program (:mod:`regulars.loyalty.program_types.tiers`, the one
tier model) and any paid membership; :class:`Tier` is its tier definition.

Redeeming ``p`` points is worth ``p × point_value`` money and may cover at most
``max_redeem_share`` of the order's amount.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Rate = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=6)]


class Tier(BaseModel):
    """A VIP level of a ``tiers`` program (:class:`~regulars.loyalty.program_types.tiers.
    TierClubConfig`), reached when the qualifying value in its window reaches ``threshold``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=64)]
    threshold: Annotated[Decimal, Field(ge=0, decimal_places=2)]
    earn_multiplier: Rate = Decimal(1)
    discount_pct: Annotated[Decimal, Field(ge=0, le=100, decimal_places=2)] = Decimal(0)
    perks: list[str] = Field(default_factory=list)


class PointsRules(BaseModel):
    """How a points program earns and redeems."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    earn_per_unit: Rate = Field(description="Points per currency unit of net spend.")
    point_value: Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=6)] = Field(
        description="Money one point is worth when redeemed, e.g. 0.01."
    )
    pending_days: Annotated[int, Field(ge=0)] = Field(
        14, description="Days before earned points can be spent (the returns window)."
    )
    expiry_days: Annotated[int | None, Field(ge=1)] = Field(
        365, description="Days an earn lot lives; None: points never expire."
    )
    max_redeem_share: Annotated[Decimal, Field(ge=0, le=1, decimal_places=4)] = Decimal("0.5")
    sku_multipliers: dict[str, Rate] = Field(default_factory=dict)
    category_multipliers: dict[str, Rate] = Field(default_factory=dict)
    control_share: Annotated[Decimal, Field(ge=0, lt=1, decimal_places=4)] = Field(
        Decimal(0),
        description="Share of customers held out as the control group: never enrolled, "
        "earn nothing (regulars.loyalty.accounting.control.in_control_group); 0 ≤ share < 1.",
    )


@dataclass(frozen=True)
class Line:
    """What earning needs of an order line."""

    amount: Decimal
    sku: str | None = None
    category: str | None = None


def line_multiplier(rules: PointsRules, line: Line) -> Decimal:
    """The SKU multiplier, else the category multiplier, else 1."""
    if line.sku is not None and line.sku in rules.sku_multipliers:
        return rules.sku_multipliers[line.sku]
    if line.category is not None and line.category in rules.category_multipliers:
        return rules.category_multipliers[line.category]
    return Decimal(1)


def points_earned(
    rules: PointsRules,
    net_amount: Decimal,
    lines: Sequence[Line] = (),
    tier_multiplier: Decimal = Decimal(1),
) -> int:
    """Points an order earns (never negative; floor once per order)."""
    if lines:
        raw = sum((line.amount * line_multiplier(rules, line) for line in lines), Decimal(0))
    else:
        raw = net_amount
    total = raw * rules.earn_per_unit * tier_multiplier
    if total <= 0:
        return 0
    return int(total.to_integral_value(rounding=ROUND_FLOOR))


def highest_tier(tiers: Sequence[Tier], value: Decimal) -> Tier | None:
    """The highest of ``tiers`` whose threshold ``value`` reaches, or None."""
    reached = [t for t in tiers if value >= t.threshold]
    return max(reached, key=lambda t: t.threshold) if reached else None


def max_redeemable(rules: PointsRules, order_amount: Decimal, balance: int) -> int:
    """Most points one order may redeem: the cap share of the amount, and the balance."""
    if order_amount <= 0 or balance <= 0:
        return 0
    cap_money = order_amount * rules.max_redeem_share
    cap_points = math.floor(cap_money / rules.point_value)
    return max(0, min(balance, cap_points))
