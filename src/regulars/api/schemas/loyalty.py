"""Request and response bodies of ``/v1/loyalty``. Points are integers, money decimal
strings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from regulars.api.schemas import In, Key, Money, UTCTime
from regulars.store.models import DEFAULT_SHOP

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
Policy = Literal["allow_negative", "claw_back_future", "deduct_from_refund"]
Points = Annotated[int, Field(gt=0, le=10**12)]


class ProgramIn(In):
    code: Code
    name: Annotated[str, Field(min_length=1, max_length=255)]
    type: Annotated[str, Field(min_length=1, max_length=32)] = "points"
    config: dict[str, Any] = Field(
        description="Settings of the program type; for 'points' the PointsRules fields."
    )
    currency: Annotated[str | None, Field(min_length=3, max_length=3)] = None
    starts_at: UTCTime | None = None
    ends_at: UTCTime | None = None
    shared_household: bool = False
    shortfall_policy: Policy = "allow_negative"
    active: bool = True


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


class EntryOut(BaseModel):
    entry_id: int
    kind: str
    points: int
    money: Money | None
    shop_id: str | None
    order_id: str | None
    return_id: str | None
    lot_id: int | None
    actor: str
    reason: str | None
    occurred_at: datetime
    created_at: datetime


class EntriesOut(BaseModel):
    entries: list[EntryOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")


class AdjustIn(In):
    program: Code | None = None
    points: Annotated[int, Field(ge=-(10**12), le=10**12)] = Field(
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
    money: Money | None
    balance: int


class QuoteLineIn(In):
    sku: Annotated[str | None, Field(max_length=255)] = None
    category: Annotated[str | None, Field(max_length=255)] = None
    line_amount: Money


class QuoteIn(In):
    customer_id: Key
    program: Code | None = None
    amount: Annotated[Money, Field(ge=0)]
    lines: list[QuoteLineIn] = Field(default_factory=list)


class QuoteOut(BaseModel):
    program: str
    points_earned: int
    tier: str | None
    available: int
    max_redeemable_points: int
    max_redeemable_money: Money


class StateIn(In):
    program: Code | None = None
