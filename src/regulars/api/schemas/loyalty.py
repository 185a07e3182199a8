"""Request and response bodies of ``/v1/loyalty``. Points are integers, money decimal
strings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from regulars.api.schemas import In, Key, Money, MoneyOut, StrictInt, UTCTime
from regulars.store.tables import DEFAULT_SHOP

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
Policy = Literal["allow_negative", "claw_back_future", "deduct_from_refund"]
Points = Annotated[StrictInt, Field(gt=0, le=10**12)]


class ProgramIn(In):
    code: Code
    name: Annotated[str, Field(min_length=1, max_length=255)]
    type: Annotated[str, Field(min_length=1, max_length=32)] = "points"
    config: dict[str, Any] = Field(
        description="Settings of the program type; for 'points' a PointsProgramConfig: the "
        "earning rules, `bonuses`, `default_time_zone` and the `household` section "
        "(docs/loyalty-programs.md)."
    )
    currency: Annotated[str | None, Field(min_length=3, max_length=3)] = None
    starts_at: UTCTime | None = None
    ends_at: UTCTime | None = None
    shared_household: bool = False
    shortfall_policy: Policy = "allow_negative"
    active: bool = True


class ProgramPatchIn(In):
    """What to change on a program; a field left out keeps its value. ``config`` holds the
    top-level config keys to replace (the others stay); ``ends_at: null`` removes a planned
    end. ``code`` and ``type`` never change (docs/loyalty-programs.md)."""

    name: Annotated[str | None, Field(min_length=1, max_length=255)] = None
    config: dict[str, Any] | None = Field(
        None, description="Config keys to replace; the result is validated whole by the type."
    )
    currency: Annotated[str | None, Field(min_length=3, max_length=3)] = None
    starts_at: UTCTime | None = None
    ends_at: UTCTime | None = None
    shared_household: bool | None = None
    shortfall_policy: Policy | None = None


class ProgramOut(BaseModel):
    code: str
    name: str
    type: str
    config: dict[str, Any]
    currency: str | None
    starts_at: datetime
    ends_at: datetime | None
    shared_household: bool
    shortfall_policy: str
    active: bool
    state: str = Field(
        default="running", description="Now: running, paused, scheduled (starts later) or ended."
    )
    created_at: datetime


class LotOut(BaseModel):
    lot_id: int
    points: int
    remaining: int
    available_at: datetime
    expires_at: datetime | None


class AccountOut(BaseModel):
    customer_id: str
    program: str
    state: str = Field(
        description="active, opted_out, not_enrolled, or control (held out of the program)."
    )
    balance: int = Field(description="Σ of the ledger entries, in points.")
    available: int = Field(description="Spendable now: pending period over, not expired.")
    pending: int = Field(description="Earned, not spendable until the returns window ends.")
    debt: int = Field(description="Owed after a return (claw_back_future), not in balance.")
    overdraft: int = Field(description="How far a return took the balance below zero.")
    tier: str | None
    lots: list[LotOut]
    tiers: list[TierOut] = Field(
        default_factory=list, description="The customer's standing in every tier club."
    )


class EntryOut(BaseModel):
    entry_id: int
    kind: str
    points: int
    money: MoneyOut | None
    shop_id: str | None
    order_id: str | None
    return_id: str | None
    lot_id: int | None
    actor: str
    customer_id: str | None = Field(
        None,
        description="Who redeemed or was adjusted (on a household card: the member); null "
        "on other entries.",
    )
    reason: str | None
    occurred_at: datetime
    created_at: datetime


class AdjustIn(In):
    program: Code | None = None
    points: Annotated[StrictInt, Field(ge=-(10**12), le=10**12)] = Field(
        description="Positive: credit; negative: debit. Not 0."
    )
    reason: Annotated[str, Field(min_length=1, max_length=255)]


class RedeemIn(In):
    program: Code | None = None
    points: Points
    shop_id: Annotated[str, Field(min_length=1, max_length=64)] = DEFAULT_SHOP
    order_id: Key | None = None
    order_amount: Annotated[Money | None, Field(gt=0)] = Field(
        None, description="With it, the program's cap per order applies."
    )


class PostedOut(BaseModel):
    entry_id: int
    kind: str
    points: int
    money: MoneyOut | None
    balance: int


class CancelRedemptionIn(In):
    program: Code | None = None
    reason: Annotated[str | None, Field(min_length=1, max_length=255)] = Field(
        None, description="Why, for the ledger and the audit log (e.g. 'payment declined')."
    )


class CancellationOut(BaseModel):
    entry_id: int = Field(description="The cancel_spend entry.")
    redemption_entry_id: int = Field(description="The spend entry it cancels.")
    kind: str
    points: int = Field(
        description="Given back into the lots the redemption took them from; less what "
        "returns of its order already re-credited."
    )
    expired: int = Field(description="Of those, came back into expired lots and expired at once.")
    clawed_back: int = Field(description="Of those, repaid claw-back debt.")
    money: MoneyOut | None
    balance: int


class QuoteLineIn(In):
    sku: Annotated[str | None, Field(max_length=255)] = None
    category: Annotated[str | None, Field(max_length=255)] = None
    quantity: Annotated[StrictInt, Field(ge=1, le=10**6)] = 1
    line_amount: Money


class QuoteIn(In):
    customer_id: Key
    program: Code | None = None
    amount: Annotated[Money, Field(ge=0)]
    lines: list[QuoteLineIn] = Field(default_factory=list)


class QuotePartOut(BaseModel):
    """Points of the cart from one source."""

    kind: str = Field(description="base, or the bonus kind: period or first_purchase.")
    code: str | None = Field(description="The bonus code; null for the base points.")
    points: int


class QuoteOut(BaseModel):
    program: str
    points_earned: int = Field(
        description="What the cart would earn as an order now: base points and bonuses."
    )
    earned_from: list[QuotePartOut] = Field(
        default_factory=list, description="points_earned by source, base first."
    )
    tier: str | None
    available: int
    max_redeemable_points: int
    max_redeemable_money: MoneyOut
    programs: list[ProgramQuoteOut] = Field(
        default_factory=list,
        description="What the cart gets from the discount card, tier club and stamp cards.",
    )


class StateIn(In):
    program: Code | None = None


# -- the other program types: quotes, rewards, badges, tiers (loyalty.program_store) ---


class ProgramQuoteOut(BaseModel):
    """One live program's part of a quote; fields that do not apply to its type are null."""

    program: str
    type: str
    discount_pct: Decimal | None = None
    discount_amount: MoneyOut | None = None
    tier: str | None = None
    tier_after: str | None = Field(None, description="The tier this cart reaches.")
    perks: list[str] = Field(default_factory=list)
    stamps_added: int | None = None
    stamps_now: int | None = None
    stamps_required: int | None = None
    completes_free_item: bool | None = None
    open_vouchers: int | None = None


class TierOut(BaseModel):
    program: str
    tier: str | None
    since: datetime | None
    window_start: datetime | None
    window_ends_at: datetime | None
    grace_until: datetime | None
    perks: list[str]


class RewardOut(BaseModel):
    reward_id: str = Field(description="The reward's public id (random, not sequential).")
    program: str
    customer_id: str
    reward_key: str
    kind: str = Field(description="free_item or gift.")
    gift: str | None
    sku: str | None
    category: str | None
    quantity: int
    reason: str
    state: str = Field(description="issued, redeemed or revoked.")
    issued_at: datetime
    redeemed_at: datetime | None
    redeemed_order_id: str | None
    revoked_at: datetime | None


class RedeemRewardIn(In):
    shop_id: Annotated[str, Field(min_length=1, max_length=64)] = DEFAULT_SHOP
    order_id: Key | None = Field(
        None,
        description="The order it is used on: it must be recorded and the reward's "
        "customer's (422 otherwise); a retry with the same order_id is a replay.",
    )


class BadgeOut(BaseModel):
    program: str
    code: str
    name: str
    awarded_at: datetime


AccountOut.model_rebuild()
QuoteOut.model_rebuild()


class WebhookIn(In):
    url: Annotated[str, Field(min_length=8, max_length=2048)] = Field(
        description="Where the events are POSTed: https:// (or http://)."
    )
    kinds: list[Annotated[str, Field(max_length=32)]] | None = Field(
        None, max_length=32, description="Only these event kinds; null: every kind."
    )


class WebhookOut(BaseModel):
    endpoint_id: int
    url: str
    kinds: list[str] | None
    active: bool
    created_at: datetime
    secret: str | None = Field(
        None, description="The signing secret: in the answer to its creation only."
    )
