"""Request and response bodies of the partner, charity and draw endpoints of
``/v1/loyalty``. Points are integers, money decimal strings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from regulars.api.schemas.common import In, Key, Money, UTCTime
from regulars.api.schemas.loyalty import Code, Points


class PartnerSaleIn(In):
    customer_id: Key
    transaction_id: Key = Field(description="The partner's id of the sale: the idempotency key.")
    amount: Money = Field(gt=0)
    occurred_at: UTCTime | None = Field(None, description="When the sale happened; default: now.")


class PartnerRedemptionIn(In):
    customer_id: Key
    transaction_id: Key = Field(description="The partner's id of the payment: the idempotency key.")
    points: Points


class PartnerTransactionOut(BaseModel):
    partner: str
    transaction_id: str
    kind: str = Field(description="issue (a sale that earned points) or redeem.")
    customer_id: str
    points: int
    balance: int = Field(description="The customer's balance in the coalition program after it.")


class SettlementLineOut(BaseModel):
    partner: str
    issued_points: int
    owed_to_program: Decimal
    redeemed_points: int
    owed_to_partner: Decimal
    net: Decimal = Field(description="owed_to_program − owed_to_partner; > 0: the partner pays.")


class SettlementOut(BaseModel):
    program: str
    start: datetime
    end: datetime
    lines: list[SettlementLineOut]


class DonationIn(In):
    customer_id: Key
    donation_id: Key = Field(description="The caller's id of the donation: the idempotency key.")
    cause: Code
    points: Points
    points_program: Code | None = Field(
        None, description="The points program paid from; default: the oldest running one."
    )


class DonationOut(BaseModel):
    donation_id: str
    customer_id: str
    cause: str
    points: int
    matched_points: int = Field(description="The company's match, fixed when donated.")
    balance: int


class CauseLineOut(BaseModel):
    cause: str
    donations: int
    donated_points: int
    matched_points: int
    donated_value: Decimal
    matched_value: Decimal
    total_value: Decimal


class CausesReportOut(BaseModel):
    program: str
    start: datetime
    end: datetime
    causes: list[CauseLineOut]


class DrawIn(In):
    seed: str | None = Field(
        None, min_length=1, max_length=255, description="Default: 128 random bits, hex."
    )


class WinnerOut(BaseModel):
    rank: int
    customer_id: str
    ticket: str = Field(description="SHA-256(seed + '\\n' + customer_id), hex.")


class RerunOut(BaseModel):
    eligible_sha256_now: str
    winners_now: list[str]
    same_eligible: bool
    same_winners: bool


class DrawOut(BaseModel):
    program: str
    seed: str
    seed_sha256: str
    rule: dict[str, object]
    eligible_count: int
    eligible_sha256: str = Field(description="SHA-256 of the sorted eligible ids, '\\n'-joined.")
    winners: list[WinnerOut]
    drawn_at: datetime
    rerun: RerunOut | None = Field(
        None, description="GET only: the draw re-run from the stored seed and today's store."
    )


class SubscribeIn(In):
    customer_id: Key
    plan: Code


class ChangePlanIn(In):
    plan: Code = Field(description="The plan to move to, now, with proration.")


class CancelIn(In):
    immediate: bool = Field(
        False, description="true: end now with the prorated refund; false: at period end."
    )


class MembershipOut(BaseModel):
    program: str
    customer_id: str
    plan: str
    period_start: datetime
    period_end: datetime
    cancel_at_period_end: bool
    ended_at: datetime | None
    active: bool
    charged: Decimal = Field(description="Σ charges of the membership so far.")
    refunded: Decimal = Field(description="Σ refunds of the membership so far.")
    last_refund: Decimal | None = Field(None, description="The refund of this cancellation.")


class ReferralIn(In):
    referrer_id: Key
    referee_id: Key = Field(description="The new customer: the natural id of the referral.")
    code: Code | None = Field(None, description="The referral code used, if any.")


class ReferralOut(BaseModel):
    program: str
    referrer_id: str
    referee_id: str
    state: str = Field(description="pending, rewarded or rejected.")
    reason: str
    due_at: datetime | None = Field(description="When the reward is (or was) due.")
    rewarded_at: datetime | None
    referrer_rewarded: bool


class EvaluationOut(BaseModel):
    pending: int
    rewarded: int
    rejected: int
