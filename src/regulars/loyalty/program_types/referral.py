"""Referral: reward both sides once the referee's first paid order can no longer be returned.

A referral ``(referrer, referee, created_at)`` is decided as follows, in this order:

1. **Self-referral** is rejected, with the reason: the same customer id, or the two share an
   email (case-insensitive, trimmed), a phone (digits only, so ``+49 30 1234`` equals
   ``+49301234``), a household id, or a payment fingerprint.
2. A referee who had a paid order before the referral was created is no new customer:
   rejected (``existing customer``).
3. The **first paid order** is the referee's earliest order with ``amount > 0`` at or after
   ``created_at``. Without one the referral is ``pending``.
4. The reward waits until the order's **return window** has passed:
   ``due_at = order.at + return_window_days``; before that the referral is ``pending``.
   A first order below ``min_order_amount``, or whose returns bring it below that (or to
   nothing), is rejected (``first order below …`` / ``first order returned``).
5. **Limits** on the referrer: at most ``max_rewards_per_referrer`` rewards ever and at
   most ``max_rewards_per_period`` in the ``period_days`` before ``due_at``; over a limit
   the referee still gets their reward, the referrer does not (reason given).

Keys: ``referral:<referee>:referrer`` and ``referral:<referee>:referee``: a referee brings
one reward per side, ever, whoever claims to have referred them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from regulars.loyalty.program_types.fields import Money, Points
from regulars.loyalty.program_types.history import Purchase, Return
from regulars.loyalty.program_types.outcomes import Earn
from regulars.loyalty.program_types.timeutil import days, require_utc


class ReferralConfig(BaseModel):
    """A refer-a-friend program."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["referral"] = "referral"
    referrer_points: Points
    referee_points: Points
    return_window_days: Annotated[int, Field(ge=0)] = 14
    min_order_amount: Money = Decimal(0)
    max_rewards_per_referrer: Annotated[int | None, Field(ge=1)] = None
    max_rewards_per_period: Annotated[int | None, Field(ge=1)] = None
    period_days: Annotated[int, Field(ge=1)] = 30
    expiry_days: Annotated[int | None, Field(ge=1)] = Field(
        365, description="Days the reward points live; None: never expire."
    )


@dataclass(frozen=True)
class Identity:
    """What self-referral detection compares of a customer."""

    customer_id: str
    email: str | None = None
    phone: str | None = None
    household_id: str | None = None
    payment_fingerprints: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Referral:
    """``referrer_id`` says they referred ``referee_id``, recorded at ``created_at``."""

    referrer_id: str
    referee_id: str
    created_at: datetime


@dataclass(frozen=True)
class ReferralDecision:
    """The decision on a referral; ``due_at`` is when the reward is (or was) due."""

    status: Literal["rewarded", "pending", "rejected"]
    reason: str
    rewards: list[Earn] = field(default_factory=list)
    due_at: datetime | None = None


def _email(value: str | None) -> str | None:
    return value.strip().casefold() if value and value.strip() else None


def _phone(value: str | None) -> str | None:
    digits = re.sub(r"\D", "", value or "")
    return digits or None


def self_referral_reason(referrer: Identity, referee: Identity) -> str | None:
    """Why the two look like one person, or None."""
    if referrer.customer_id == referee.customer_id:
        return "same customer"
    if _email(referrer.email) and _email(referrer.email) == _email(referee.email):
        return "same email"
    if _phone(referrer.phone) and _phone(referrer.phone) == _phone(referee.phone):
        return "same phone"
    if referrer.household_id and referrer.household_id == referee.household_id:
        return "same household"
    if referrer.payment_fingerprints & referee.payment_fingerprints:
        return "same payment fingerprint"
    return None


def _reward(config: ReferralConfig, referral: Referral, side: str, at: datetime) -> Earn:
    points = config.referrer_points if side == "referrer" else config.referee_points
    expires = None if config.expiry_days is None else at + days(config.expiry_days)
    key = f"referral:{referral.referee_id}:{side}"
    return Earn(key, points, f"referral {side}", available_at=at, expires_at=expires)


def _limit_reason(
    config: ReferralConfig, rewarded_at: Sequence[datetime], due_at: datetime
) -> str | None:
    """Why the referrer gets nothing more, given when their earlier rewards were granted."""
    limit = config.max_rewards_per_referrer
    if limit is not None and len(rewarded_at) >= limit:
        return f"referrer limit of {limit} reached"
    if config.max_rewards_per_period is not None:
        since = due_at - days(config.period_days)
        recent = sum(1 for t in rewarded_at if since < t <= due_at)
        if recent >= config.max_rewards_per_period:
            return f"referrer limit of {config.max_rewards_per_period} per period reached"
    return None


def decide(
    config: ReferralConfig,
    referral: Referral,
    referrer: Identity,
    referee: Identity,
    referee_purchases: Sequence[Purchase],
    referee_returns: Sequence[Return],
    referrer_rewarded_at: Sequence[datetime],
    now: datetime,
) -> ReferralDecision:
    """Decide a referral at ``now``; ``referrer_rewarded_at`` lists the referrer's earlier
    referral rewards (times they were granted)."""
    require_utc(now, "now")
    reason = self_referral_reason(referrer, referee)
    if reason is not None:
        return ReferralDecision("rejected", f"self-referral: {reason}")
    paid = sorted(
        (p for p in referee_purchases if p.amount > 0 and p.customer_id == referral.referee_id),
        key=lambda p: (p.at, p.order_id),
    )
    if any(p.at < referral.created_at for p in paid):
        return ReferralDecision("rejected", "existing customer")
    if not paid:
        return ReferralDecision("pending", "no paid order yet")
    first = paid[0]
    if first.amount < config.min_order_amount:
        return ReferralDecision("rejected", f"first order below {config.min_order_amount}")
    due_at = first.at + days(config.return_window_days)
    if now < due_at:
        return ReferralDecision("pending", "return window open", due_at=due_at)
    returned = sum((r.amount for r in referee_returns if r.order_id == first.order_id), Decimal(0))
    if returned >= first.amount or first.amount - returned < config.min_order_amount:
        return ReferralDecision("rejected", "first order returned", due_at=due_at)
    rewards = [_reward(config, referral, "referee", due_at)]
    limit = _limit_reason(config, referrer_rewarded_at, due_at)
    if limit is None:
        rewards.insert(0, _reward(config, referral, "referrer", due_at))
        return ReferralDecision("rewarded", "both rewarded", rewards, due_at)
    return ReferralDecision("rewarded", f"referee only: {limit}", rewards, due_at)
