"""Paid membership: subscription periods that grant an extra earn multiplier and perks.

A period runs ``[period_start, period_end)``; a monthly plan adds one calendar month
(Jan 31 → Feb 28/29, the day clamped), a yearly plan twelve. Each period is paid in advance
(a :class:`Charge` keyed ``membership:<code>:<customer>:<period_start ISO>``). Renewal starts
the next period at the end of the current one unless the member cancelled at period end.

**Proration** is by whole UTC calendar days. For a period of ``D`` days and a moment ``t``:
the day ``t`` falls on counts as used, so ``used = min(D, days(start → t) + 1)`` and
``unused = D − used``. The refund of the unused part is

    refund = round_down_to_cent(price × unused / D)

and the member keeps having paid ``price − refund``: the two always sum to the price, and
the rounding (at most 0.01) stays with the shop.

* **Immediate cancellation** refunds the unused part and ends the membership at ``t``.
* **Cancellation at period end** refunds nothing; the membership ends at ``period_end``.
* **Changing plan** with the same period length keeps the period end: the member is
  credited the unused part of the old price and charged the unused part of the new one,
  both by the formula above; the difference is one Charge (upgrade) or Refund (downgrade).
  Changing to a plan with another period length starts a new period at ``t`` at the new
  plan's full price, less the old plan's unused credit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from regulars.loyalty.program_types.fields import Code, Multiplier
from regulars.loyalty.program_types.outcomes import Charge, Perk, Refund
from regulars.loyalty.program_types.timeutil import add_months, require_utc

CENT = Decimal("0.01")
Price = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)]


class MembershipPlan(BaseModel):
    """One paid plan."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Code
    price: Price = Field(description="Price of one period, paid in advance.")
    period: Literal["month", "year"]
    earn_multiplier: Multiplier = Decimal(1)
    perks: list[str] = Field(default_factory=list)


class MembershipConfig(BaseModel):
    """A paid membership program with one or more plans."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["membership"] = "membership"
    code: Code
    plans: Annotated[list[MembershipPlan], Field(min_length=1)]

    @model_validator(mode="after")
    def _plan_codes_unique(self) -> MembershipConfig:
        codes = [p.code for p in self.plans]
        if len(set(codes)) != len(codes):
            raise ValueError("plans: codes must be unique")
        return self

    def plan(self, code: str) -> MembershipPlan:
        """The plan called ``code``; an unknown code is an error naming it."""
        for plan in self.plans:
            if plan.code == code:
                return plan
        raise ValueError(f"plan: {code!r} is not a plan of membership {self.code}")


@dataclass(frozen=True)
class Subscription:
    """A customer's membership; ``ended_at`` is set once it is over."""

    customer_id: str
    plan: str
    period_start: datetime
    period_end: datetime
    cancel_at_period_end: bool = False
    ended_at: datetime | None = None


def period_end(plan: MembershipPlan, start: datetime) -> datetime:
    """End (exclusive) of the period of ``plan`` that starts at ``start``."""
    return add_months(start, 1 if plan.period == "month" else 12)


def _charge(config: MembershipConfig, sub: Subscription, amount: Decimal, why: str) -> Charge:
    key = f"membership:{config.code}:{sub.customer_id}:{sub.period_start.isoformat()}"
    return Charge(key=key, amount=amount, reason=why)


def subscribe(
    config: MembershipConfig, customer_id: str, plan_code: str, at: datetime
) -> tuple[Subscription, Charge]:
    """Start a membership at ``at``: the first period and its charge."""
    plan = config.plan(plan_code)
    require_utc(at, "at")
    sub = Subscription(customer_id, plan.code, at, period_end(plan, at))
    return sub, _charge(config, sub, plan.price, f"membership {plan.code}")


def renew(
    config: MembershipConfig, sub: Subscription, now: datetime
) -> tuple[Subscription, list[Charge]]:
    """Every period that has started by ``now``, charged; or the end if cancelled."""
    require_utc(now, "now")
    charges = []
    while sub.ended_at is None and sub.period_end <= now:
        if sub.cancel_at_period_end:
            sub = replace(sub, ended_at=sub.period_end)
            break
        plan = config.plan(sub.plan)
        sub = replace(sub, period_start=sub.period_end, period_end=period_end(plan, sub.period_end))
        charges.append(_charge(config, sub, plan.price, f"membership {plan.code} renewal"))
    return sub, charges


def unused_refund(price: Decimal, start: datetime, end: datetime, at: datetime) -> Decimal:
    """``round_down_to_cent(price × unused_days / period_days)``; see the module docstring."""
    start_day, end_day, day = (t.astimezone(UTC).date() for t in (start, end, at))
    total = (end_day - start_day).days
    if total <= 0:
        raise ValueError("period: period_end must be at least one day after period_start")
    used = min(total, max(0, (day - start_day).days + 1))
    return (price * (total - used) / total).quantize(CENT, rounding=ROUND_DOWN)


def _require_current(sub: Subscription, at: datetime) -> None:
    """A change applies to a running period only (call :func:`renew` up to ``at`` first)."""
    require_utc(at, "at")
    if sub.ended_at is not None:
        raise ValueError(f"customer {sub.customer_id}: membership already ended")
    if not sub.period_start <= at < sub.period_end:
        raise ValueError(f"at: {at} is outside the current period; renew the membership first")


def cancel(
    config: MembershipConfig, sub: Subscription, at: datetime, immediate: bool
) -> tuple[Subscription, list[Refund]]:
    """Cancel at ``at``: immediately with a prorated refund, or at the period's end."""
    _require_current(sub, at)
    if not immediate:
        return replace(sub, cancel_at_period_end=True), []
    plan = config.plan(sub.plan)
    refund = unused_refund(plan.price, sub.period_start, sub.period_end, at)
    key = f"membership:{config.code}:{sub.customer_id}:cancel:{at.isoformat()}"
    refunds = [Refund(key, refund, "membership cancelled")] if refund > 0 else []
    return replace(sub, ended_at=at), refunds


def change_plan(
    config: MembershipConfig, sub: Subscription, plan_code: str, at: datetime
) -> tuple[Subscription, list[Charge | Refund]]:
    """Move to another plan at ``at`` with proration (see the module docstring)."""
    _require_current(sub, at)
    old, new = config.plan(sub.plan), config.plan(plan_code)
    credit = unused_refund(old.price, sub.period_start, sub.period_end, at)
    if new.period == old.period:
        cost = unused_refund(new.price, sub.period_start, sub.period_end, at)
        changed = replace(sub, plan=new.code)
    else:
        cost = new.price
        changed = replace(sub, plan=new.code, period_start=at, period_end=period_end(new, at))
    key = f"membership:{config.code}:{sub.customer_id}:change:{at.isoformat()}"
    net = cost - credit
    reason = f"membership {old.code} -> {new.code}"
    if net > 0:
        return changed, [Charge(key, net, reason)]
    if net < 0:
        return changed, [Refund(key, -net, reason)]
    return changed, []


def is_active(sub: Subscription, at: datetime) -> bool:
    """Whether the membership covers the instant ``at``."""
    ended = sub.ended_at is not None and at >= sub.ended_at
    return not ended and sub.period_start <= at < sub.period_end


def benefits(
    config: MembershipConfig, sub: Subscription, at: datetime
) -> tuple[Decimal, list[Perk]]:
    """(earn multiplier, perks) at ``at``: the plan's while active, else (1, [])."""
    if not is_active(sub, at):
        return Decimal(1), []
    plan = config.plan(sub.plan)
    return plan.earn_multiplier, [Perk(name) for name in plan.perks]
