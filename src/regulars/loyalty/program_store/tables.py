"""Tables of the live program types (revisions 0005 and 0006).

* ``loyalty_rewards``: vouchers the programs granted (a stamp card's free item, a volume,
  coupon, birthday or holiday gift). ``reward_key`` is the outcome's idempotency key,
  unique per program, so re-evaluating a history grants nothing twice. ``state`` moves
  ``issued`` → ``redeemed`` (used at a checkout) or ``issued`` → ``revoked`` (its purchases
  were returned before it was used); a used reward is never revoked.
* ``loyalty_tier_states``: per program and customer, the tier club's evaluation state
  (:class:`~regulars.loyalty.program_types.tiers.TierState`): current tier, since when, the
  evaluation window's start, the grace period's end and the instant evaluated up to.
* ``loyalty_badges``: badges awarded, unique per (program, customer, badge code).
* ``loyalty_partner_transactions``: a sale at a coalition partner that issued points
  (``kind = 'issue'``) or a payment with points at a partner (``'redeem'``); unique per
  (program, partner, partner's transaction id), so a partner's retry is recorded once.
  The settlement per partner and period sums these rows.
* ``loyalty_donations``: points a customer gave to a charity program's cause and the
  points the company matched (fixed when the donation is made, so the cap goes to the
  earliest donations); unique per (program, donation id).
* ``loyalty_draws`` and ``loyalty_draw_winners``: a prize draw program's draw, with the seed,
  the rule it was drawn under, how many were eligible and the fingerprint of their list,
  and the winners by rank.

Partners and causes themselves, with their rates, are the programs' configs
(``loyalty_programs.config``), validated by :mod:`regulars.loyalty.program_types`.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from regulars.clock import utcnow
from regulars.store.tables import Base
from regulars.store.types import BIG_ID, JSON_DOC, MONEY, UTCDateTime, one_of

REWARD_KINDS = ("free_item", "gift")
REWARD_STATES = ("issued", "redeemed", "revoked")

_CUSTOMER_FK = "customers.customer_id"
_CASCADE: dict[str, Any] = {"ondelete": "CASCADE", "onupdate": "CASCADE"}
_PROGRAM_FK = "loyalty_programs.id"


def new_public_id() -> str:
    """A reward's public id: 128 random bits, URL-safe (22 characters)."""
    return secrets.token_urlsafe(16)


class LoyaltyReward(Base):
    """A voucher a program granted to a customer."""

    __tablename__ = "loyalty_rewards"
    __table_args__ = (
        UniqueConstraint("program_id", "reward_key"),
        CheckConstraint(one_of("kind", REWARD_KINDS), name="kind_known"),
        CheckConstraint(one_of("state", REWARD_STATES), name="state_known"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_loyalty_rewards_customer_id_state", "customer_id", "state"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    """The id in URLs and answers: 128 random bits, so no reward can be found by counting."""
    program_id: Mapped[int] = mapped_column(BIG_ID, ForeignKey(_PROGRAM_FK, ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(255), ForeignKey(_CUSTOMER_FK, **_CASCADE))
    reward_key: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    gift: Mapped[str | None] = mapped_column(String(255))
    sku: Mapped[str | None] = mapped_column(String(255))
    category: Mapped[str | None] = mapped_column(String(255))
    quantity: Mapped[int] = mapped_column(BigInteger, default=1)
    reason: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default="issued")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    redeemed_order_id: Mapped[str | None] = mapped_column(String(255))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoke_reason: Mapped[str | None] = mapped_column(String(255))


class LoyaltyTierState(Base):
    """Where a customer stands in a tier club (see :mod:`regulars.loyalty.program_types.tiers`)."""

    __tablename__ = "loyalty_tier_states"
    __table_args__ = (UniqueConstraint("program_id", "customer_id"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    program_id: Mapped[int] = mapped_column(BIG_ID, ForeignKey(_PROGRAM_FK, ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(255), ForeignKey(_CUSTOMER_FK, **_CASCADE))
    tier: Mapped[str | None] = mapped_column(String(64))
    since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    grace_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    as_of: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LoyaltyBadge(Base):
    """A badge awarded to a customer, once."""

    __tablename__ = "loyalty_badges"
    __table_args__ = (UniqueConstraint("program_id", "customer_id", "code"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    program_id: Mapped[int] = mapped_column(BIG_ID, ForeignKey(_PROGRAM_FK, ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(
        String(255), ForeignKey(_CUSTOMER_FK, **_CASCADE), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    awarded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PartnerTransaction(Base):
    """Points a coalition partner issued for a sale or accepted as payment."""

    __tablename__ = "loyalty_partner_transactions"
    __table_args__ = (
        UniqueConstraint("program_id", "partner", "transaction_id"),
        CheckConstraint("kind IN ('issue', 'redeem')", name="kind_known"),
        CheckConstraint("points >= 0", name="points_not_negative"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    program_id: Mapped[int] = mapped_column(BIG_ID, ForeignKey(_PROGRAM_FK, ondelete="CASCADE"))
    partner: Mapped[str] = mapped_column(String(64))
    transaction_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(8))
    customer_id: Mapped[str] = mapped_column(
        String(255), ForeignKey(_CUSTOMER_FK, **_CASCADE), index=True
    )
    points: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    entry_id: Mapped[int | None] = mapped_column(
        BIG_ID, ForeignKey("loyalty_entries.id", ondelete="CASCADE")
    )
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Donation(Base):
    """Points a customer donated to a cause, and the company's match."""

    __tablename__ = "loyalty_donations"
    __table_args__ = (
        UniqueConstraint("program_id", "donation_id"),
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("matched_points >= 0", name="matched_not_negative"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    program_id: Mapped[int] = mapped_column(BIG_ID, ForeignKey(_PROGRAM_FK, ondelete="CASCADE"))
    donation_id: Mapped[str] = mapped_column(String(255))
    customer_id: Mapped[str] = mapped_column(
        String(255), ForeignKey(_CUSTOMER_FK, **_CASCADE), index=True
    )
    cause: Mapped[str] = mapped_column(String(64))
    points: Mapped[int] = mapped_column(BigInteger)
    matched_points: Mapped[int] = mapped_column(BigInteger)
    request_hash: Mapped[str] = mapped_column(String(64))
    entry_id: Mapped[int] = mapped_column(
        BIG_ID, ForeignKey("loyalty_entries.id", ondelete="CASCADE")
    )
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Draw(Base):
    """The draw of a prize draw program; one per program, never re-drawn."""

    __tablename__ = "loyalty_draws"
    __table_args__ = (UniqueConstraint("program_id"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    program_id: Mapped[int] = mapped_column(BIG_ID, ForeignKey(_PROGRAM_FK, ondelete="CASCADE"))
    seed: Mapped[str] = mapped_column(String(255))
    rule: Mapped[dict[str, Any]] = mapped_column(JSON_DOC)
    eligible_count: Mapped[int] = mapped_column(Integer)
    eligible_sha256: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(255))
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DrawWinner(Base):
    """A winner of a draw; ``rank`` 1 is the smallest ticket."""

    __tablename__ = "loyalty_draw_winners"
    __table_args__ = (
        UniqueConstraint("draw_id", "rank"),
        UniqueConstraint("draw_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    draw_id: Mapped[int] = mapped_column(BIG_ID, ForeignKey("loyalty_draws.id", ondelete="CASCADE"))
    rank: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[str] = mapped_column(
        String(255), ForeignKey(_CUSTOMER_FK, **_CASCADE), index=True
    )
    ticket: Mapped[str] = mapped_column(String(64))


class DrawEntrant(Base):
    """Who a draw was drawn from, with their ticket, stored when it ran: an erased entrant
    stays an entrant under their pseudonym with the ticket they had, so the draw still
    verifies (:func:`regulars.loyalty.program_store.draws.verify`)."""

    __tablename__ = "loyalty_draw_entrants"
    __table_args__ = (UniqueConstraint("draw_id", "customer_id"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    draw_id: Mapped[int] = mapped_column(BIG_ID, ForeignKey("loyalty_draws.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(
        String(255), ForeignKey(_CUSTOMER_FK, **_CASCADE), index=True
    )
    ticket: Mapped[str] = mapped_column(String(64))


class Membership(Base):
    """A customer's paid membership of a membership program: the current period, and
    whether (and when) it ends. One row per customer and program; subscribing again after
    it ended starts a new period in the same row."""

    __tablename__ = "loyalty_memberships"
    __table_args__ = (UniqueConstraint("program_id", "customer_id"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    program_id: Mapped[int] = mapped_column(BIG_ID, ForeignKey(_PROGRAM_FK, ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(
        String(255), ForeignKey(_CUSTOMER_FK, **_CASCADE), index=True
    )
    plan: Mapped[str] = mapped_column(String(64))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    charged: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))
    refunded: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MembershipPayment(Base):
    """A charge (a period paid in advance, an upgrade) or a refund of a membership; ``key``
    is the rule's idempotency key, so a period is charged once."""

    __tablename__ = "loyalty_membership_payments"
    __table_args__ = (
        UniqueConstraint("key"),
        CheckConstraint("kind IN ('charge', 'refund')", name="kind_known"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    membership_id: Mapped[int] = mapped_column(
        BIG_ID, ForeignKey("loyalty_memberships.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(8))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    reason: Mapped[str] = mapped_column(String(255))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())


REFERRAL_STATES = ("pending", "rewarded", "rejected")


class Referral(Base):
    """``referrer_id`` referred ``referee_id`` in a referral program; one referral per
    referee and program (a referee brings one reward per side, ever)."""

    __tablename__ = "loyalty_referrals"
    __table_args__ = (
        UniqueConstraint("program_id", "referee_id"),
        CheckConstraint("state IN ('pending', 'rewarded', 'rejected')", name="state_known"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    program_id: Mapped[int] = mapped_column(BIG_ID, ForeignKey(_PROGRAM_FK, ondelete="CASCADE"))
    referrer_id: Mapped[str] = mapped_column(
        String(255), ForeignKey(_CUSTOMER_FK, **_CASCADE), index=True
    )
    referee_id: Mapped[str] = mapped_column(
        String(255), ForeignKey(_CUSTOMER_FK, **_CASCADE), index=True
    )
    code: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str] = mapped_column(String(255))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rewarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    referrer_rewarded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
