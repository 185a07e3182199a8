"""Tables of the live program types (migration 0005).

* ``loyalty_rewards``: vouchers the programs granted (a stamp card's free item, a volume,
  coupon, birthday or holiday gift). ``reward_key`` is the outcome's idempotency key,
  unique per program, so re-evaluating a history grants nothing twice. ``state`` moves
  ``issued`` → ``redeemed`` (used at a checkout) or ``issued`` → ``revoked`` (its purchases
  were returned before it was used); a used reward is never revoked.
* ``loyalty_tier_states``: per program and customer, the tier club's evaluation state
  (:class:`~regulars.loyalty.programs.tiers.TierState`): current tier, since when, the
  evaluation window's start, the grace period's end and the instant evaluated up to.
* ``loyalty_badges``: badges awarded, unique per (program, customer, badge code).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from regulars.store.models import Base
from regulars.store.types import BIG_ID, UTCDateTime, utcnow

REWARD_KINDS = ("free_item", "gift")
REWARD_STATES = ("issued", "redeemed", "revoked")

_CUSTOMER_FK = "customers.customer_id"
_CASCADE: dict[str, Any] = {"ondelete": "CASCADE", "onupdate": "CASCADE"}
_PROGRAM_FK = "loyalty_programs.id"


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return "{} IN ({})".format(column, ", ".join(f"'{v}'" for v in values))


class LoyaltyReward(Base):
    """A voucher a program granted to a customer."""

    __tablename__ = "loyalty_rewards"
    __table_args__ = (
        UniqueConstraint("program_id", "reward_key"),
        CheckConstraint(_one_of("kind", REWARD_KINDS), name="kind_known"),
        CheckConstraint(_one_of("state", REWARD_STATES), name="state_known"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_loyalty_rewards_customer_id_state", "customer_id", "state"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
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
    """Where a customer stands in a tier club (see :mod:`regulars.loyalty.programs.tiers`)."""

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
