"""Bonus / cashback points: the base earn of :mod:`regulars.loyalty.rules` plus bonus events.

An order earns its base points (``rules.points_earned``). Multiplier bonuses (a double-points
period, a first-purchase multiplier) do not stack: the largest multiplier ``M`` that applies
to the order wins, and it earns an extra

    extra = points_earned(rules, order, tier × M) − points_earned(rules, order, tier)

so the order's total is exactly what earning at ``M`` would give (one floor). Fixed-point
bonuses add their points on top. Action bonuses (review written, profile completed) are
granted on the action, not on an order.

Keys (each bonus granted once where it should be):

* base earn ``points:order:<order_id>``;
* period bonus ``points:bonus:<code>:<order_id>`` (once per order, every order in the period);
* first purchase ``points:bonus:<code>:<customer_id>`` for its multiplier part and
  ``points:bonus:<code>:<customer_id>:points`` for its fixed points (once per customer);
* profile completed ``points:bonus:<code>:<customer_id>`` (once per customer);
* review written ``points:bonus:<code>:<customer_id>:<subject>`` (once per reviewed subject,
  e.g. product: rewriting a review of the same product earns nothing more).

Order points become spendable ``pending_days`` after the order (the returns window); action
points at once (there is nothing to return). A lot expires ``expiry_days`` after it became
spendable, or never.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from regulars.loyalty.programs.common import Code, Multiplier, Points
from regulars.loyalty.programs.history import Purchase
from regulars.loyalty.programs.household import HouseholdRules
from regulars.loyalty.programs.outcomes import Earn
from regulars.loyalty.programs.timeutil import days, require_utc, zone
from regulars.loyalty.rules import PointsRules, points_earned

ONE = Decimal(1)


class PeriodBonus(BaseModel):
    """Extra multiplier on orders placed in a period and/or on given local weekdays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["period"] = "period"
    code: Code
    multiplier: Multiplier = Field(description="Earn multiplier in the period, e.g. 2.")
    starts_at: AwareDatetime | None = Field(None, description="First instant (inclusive).")
    ends_at: AwareDatetime | None = Field(None, description="Last instant (exclusive).")
    weekdays: frozenset[Annotated[int, Field(ge=1, le=7)]] = Field(
        frozenset(),
        description="ISO weekdays (1 = Monday) in the customer's time zone; empty: all.",
    )

    @model_validator(mode="after")
    def _period_is_ordered(self) -> PeriodBonus:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError(f"bonus {self.code}: ends_at must be after starts_at")
        return self

    def applies(self, at: datetime, time_zone: str | None) -> bool:
        """Whether an order at ``at`` (customer in ``time_zone``) falls in the bonus."""
        if self.starts_at is not None and at < self.starts_at:
            return False
        if self.ends_at is not None and at >= self.ends_at:
            return False
        return not self.weekdays or at.astimezone(zone(time_zone)).isoweekday() in self.weekdays


class FirstPurchaseBonus(BaseModel):
    """A bonus on the customer's first order: fixed points and/or a multiplier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["first_purchase"] = "first_purchase"
    code: Code
    points: Points | None = None
    multiplier: Multiplier | None = None

    @model_validator(mode="after")
    def _gives_something(self) -> FirstPurchaseBonus:
        if self.points is None and self.multiplier is None:
            raise ValueError(f"bonus {self.code}: give points, multiplier or both")
        return self


class ActionBonus(BaseModel):
    """Fixed points for an action outside an order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["review_written", "profile_completed"]
    code: Code
    points: Points


Bonus = Annotated[PeriodBonus | FirstPurchaseBonus | ActionBonus, Field(discriminator="kind")]


class PointsProgramConfig(PointsRules):
    """The whole config of a ``points`` program, stored flat: the earning rules of
    :class:`~regulars.loyalty.rules.PointsRules`, its bonus events, and who shares and
    spends a household account (used when the program has ``shared_household``)."""

    type: Literal["points"] = "points"
    bonuses: list[Bonus] = Field(default_factory=list)
    household: HouseholdRules = Field(default_factory=HouseholdRules)

    @model_validator(mode="after")
    def _codes_unique(self) -> PointsProgramConfig:
        codes = [b.code for b in self.bonuses]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"bonuses: duplicate code(s) {', '.join(duplicates)}")
        return self


def _lot(rules: PointsRules, key: str, points: int, reason: str, available_at: datetime) -> Earn:
    expires = None if rules.expiry_days is None else available_at + days(rules.expiry_days)
    return Earn(
        key=key, points=points, reason=reason, available_at=available_at, expires_at=expires
    )


def _order_points(rules: PointsRules, purchase: Purchase, multiplier: Decimal) -> int:
    lines = [line.as_rule_line() for line in purchase.lines]
    return points_earned(rules, purchase.amount, lines, multiplier)


def is_first_purchase(purchase: Purchase, history: Sequence[Purchase]) -> bool:
    """No other paid order of the customer comes before it (time, then order id)."""
    rank = (purchase.at, purchase.order_id)
    return not any(
        (p.at, p.order_id) < rank and p.amount > 0
        for p in history
        if p.customer_id == purchase.customer_id
    )


def _best_multiplier(
    config: PointsProgramConfig, purchase: Purchase, first: bool, time_zone: str | None
) -> tuple[Decimal, str, str] | None:
    """(multiplier, code, key) of the largest multiplier bonus for the order, if any > 1."""
    candidates: list[tuple[Decimal, str, str]] = []
    for bonus in config.bonuses:
        if isinstance(bonus, PeriodBonus) and bonus.applies(purchase.at, time_zone):
            key = f"points:bonus:{bonus.code}:{purchase.order_id}"
            candidates.append((bonus.multiplier, bonus.code, key))
        elif isinstance(bonus, FirstPurchaseBonus) and first and bonus.multiplier is not None:
            key = f"points:bonus:{bonus.code}:{purchase.customer_id}"
            candidates.append((bonus.multiplier, bonus.code, key))
    candidates = [c for c in candidates if c[0] > ONE]
    # Largest multiplier wins; equal multipliers: the smallest code, so the choice is stable.
    return min(candidates, key=lambda c: (-c[0], c[1])) if candidates else None


def earn_for_purchase(
    config: PointsProgramConfig,
    purchase: Purchase,
    history: Sequence[Purchase] = (),
    time_zone: str | None = None,
    tier_multiplier: Decimal = ONE,
) -> list[Earn]:
    """Earn lots for one order: base points, the best multiplier bonus, first-purchase points.

    ``history`` is the customer's other purchases (used to tell a first purchase);
    ``tier_multiplier`` comes from a tier or membership program.
    """
    rules = config
    available_at = purchase.at + days(rules.pending_days)
    base = _order_points(rules, purchase, tier_multiplier)
    earns: list[Earn] = []
    if base > 0:
        key = f"points:order:{purchase.order_id}"
        earns.append(_lot(rules, key, base, "purchase", available_at))
    first = purchase.amount > 0 and is_first_purchase(purchase, history)
    best = _best_multiplier(config, purchase, first, time_zone)
    if best is not None:
        multiplier, code, key = best
        extra = _order_points(rules, purchase, tier_multiplier * multiplier) - base
        if extra > 0:
            earns.append(_lot(rules, key, extra, f"bonus {code} x{multiplier}", available_at))
    for bonus in config.bonuses:
        if isinstance(bonus, FirstPurchaseBonus) and first and bonus.points is not None:
            key = f"points:bonus:{bonus.code}:{purchase.customer_id}:points"
            earns.append(_lot(rules, key, bonus.points, f"bonus {bonus.code}", available_at))
    return earns


def earn_for_action(
    config: PointsProgramConfig,
    customer_id: str,
    action: Literal["review_written", "profile_completed"],
    at: datetime,
    subject: str | None = None,
) -> list[Earn]:
    """Earn lots for an action; a review needs the reviewed ``subject`` (product or order id)."""
    require_utc(at, "at")
    if action == "review_written" and not subject:
        raise ValueError("subject: a review bonus needs the reviewed product or order id")
    earns = []
    for bonus in config.bonuses:
        if isinstance(bonus, ActionBonus) and bonus.kind == action:
            key = f"points:bonus:{bonus.code}:{customer_id}"
            if action == "review_written":
                key += f":{subject}"
            earns.append(_lot(config, key, bonus.points, f"bonus {bonus.code}", at))
    return earns
