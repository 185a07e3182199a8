"""Tables of the loyalty engine (migration 0004; 0007: ``cancel_spend``, negative
consumptions, endpoint subscriptions; 0009 dropped ``loyalty_accounts.tier``: an account's
tier is the customer's tier in the ``tiers`` programs).

* ``loyalty_programs``: one row per program; ``type`` names the kind of program and
  ``config`` holds its settings, validated by the pydantic model registered for the type
  (:mod:`regulars.loyalty.catalogue`).
* ``loyalty_accounts``: one account per (program, holder). The holder is a customer, or a
  household (``customers.household_id``) when the program has a shared household card.
  ``balance`` caches the sum of the account's entries and is updated in the same
  transaction as every entry; ``debt`` is points owed after a return under the
  ``claw_back_future`` policy (recovered from later earnings, not part of the balance).
* ``loyalty_entries``: the append-only ledger. ``points`` is signed; the balance is
  ``Σ points``. ``idempotency_key`` is unique per account, so an operation retried under
  the same key is written once.
* ``loyalty_lots``: what each earning (or re-credit) put in, with ``available_at`` (end of
  the pending period) and ``expires_at``; ``remaining`` is what is left of it.
* ``loyalty_lot_consumptions``: which lots each debit (spend, reversal, claw-back) took
  points from, and how many; a cancelled redemption (``cancel_spend``, revision 0007)
  puts points back into the lots its spend took them from, recorded as negative
  consumptions. An expiry names its lot in ``loyalty_entries.lot_id``.
* ``loyalty_events`` (the outbox), ``loyalty_webhook_endpoints`` and
  ``loyalty_deliveries``: events such as ``tier_changed`` and ``points_expiring``, and their
  signed delivery to each endpoint (:mod:`regulars.loyalty.webhooks`).

Points are ``BIGINT``; money is :data:`~regulars.store.types.MONEY`.
"""

from __future__ import annotations

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
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from regulars.clock import utcnow
from regulars.store.tables import Base
from regulars.store.types import BIG_ID, JSON_DOC, MONEY, UTCDateTime, one_of

ENTRY_KINDS = (
    "earn",
    "spend",
    "expire",
    "reverse_earn",
    "recredit",
    "adjust",
    "import",
    "claw_back",
    "cancel_spend",
)
SHORTFALL_POLICIES = ("allow_negative", "claw_back_future", "deduct_from_refund")
"""What a return does with points it must reverse that were already spent."""
ACCOUNT_STATES = ("active", "opted_out")

_CASCADE: dict[str, Any] = {"ondelete": "CASCADE", "onupdate": "CASCADE"}


class LoyaltyProgram(Base):
    """A loyalty program: a ``type`` (``points``, …) and its validated ``config``."""

    __tablename__ = "loyalty_programs"
    __table_args__ = (
        CheckConstraint(one_of("shortfall_policy", SHORTFALL_POLICIES), name="policy_known"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict[str, Any]] = mapped_column(JSON_DOC, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    currency: Mapped[str | None] = mapped_column(String(3))
    shared_household: Mapped[bool] = mapped_column(Boolean, default=False)
    shortfall_policy: Mapped[str] = mapped_column(String(32), default="allow_negative")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LoyaltyAccount(Base):
    """One holder's account in one program: a customer's, or a household's shared card."""

    __tablename__ = "loyalty_accounts"
    __table_args__ = (
        UniqueConstraint("program_id", "customer_id"),
        UniqueConstraint("program_id", "household_id"),
        CheckConstraint("(customer_id IS NULL) <> (household_id IS NULL)", name="one_holder"),
        CheckConstraint("debt >= 0", name="debt_not_negative"),
        CheckConstraint(one_of("state", ACCOUNT_STATES), name="state_known"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    program_id: Mapped[int] = mapped_column(
        BIG_ID, ForeignKey("loyalty_programs.id", ondelete="CASCADE")
    )
    customer_id: Mapped[str | None] = mapped_column(
        String(255), ForeignKey("customers.customer_id", **_CASCADE), index=True
    )
    household_id: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default="active")
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    debt: Mapped[int] = mapped_column(BigInteger, default=0)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoyaltyLot(Base):
    """Points put in by one earning or re-credit; spendable from ``available_at``."""

    __tablename__ = "loyalty_lots"
    __table_args__ = (
        CheckConstraint("remaining >= 0", name="remaining_not_negative"),
        CheckConstraint("remaining <= points", name="remaining_within_points"),
        Index("ix_loyalty_lots_account_id_expires_at", "account_id", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        BIG_ID, ForeignKey("loyalty_accounts.id", ondelete="CASCADE")
    )
    points: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    shop_id: Mapped[str | None] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LoyaltyEntry(Base):
    """One ledger entry; never updated or deleted (only cascaded away with its account)."""

    __tablename__ = "loyalty_entries"
    __table_args__ = (
        UniqueConstraint("account_id", "idempotency_key"),
        CheckConstraint(one_of("kind", ENTRY_KINDS), name="kind_known"),
        Index("ix_loyalty_entries_shop_id_order_id", "shop_id", "order_id"),
        Index("ix_loyalty_entries_account_id_id", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        BIG_ID, ForeignKey("loyalty_accounts.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(BigInteger)
    money: Mapped[Decimal | None] = mapped_column(MONEY)
    shop_id: Mapped[str | None] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(255))
    return_id: Mapped[str | None] = mapped_column(String(255))
    lot_id: Mapped[int | None] = mapped_column(
        BIG_ID, ForeignKey("loyalty_lots.id", ondelete="CASCADE"), index=True
    )
    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(255))
    customer_id: Mapped[str | None] = mapped_column(String(255))
    """Who redeemed or was adjusted, on spends and adjustments: on a shared household account,
    the member (no foreign key: the ledger outlives a merge or an erasure, which re-key it)."""
    reason: Mapped[str | None] = mapped_column(String(255))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LoyaltyLotConsumption(Base):
    """``points`` taken from lot ``lot_id`` by entry ``entry_id``: positive for a debit,
    negative for a ``cancel_spend`` entry putting points back, so for every lot
    ``remaining = points − Σ consumptions − expired``."""

    __tablename__ = "loyalty_lot_consumptions"
    __table_args__ = (CheckConstraint("points <> 0", name="points_not_zero"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        BIG_ID, ForeignKey("loyalty_entries.id", ondelete="CASCADE"), index=True
    )
    lot_id: Mapped[int] = mapped_column(
        BIG_ID, ForeignKey("loyalty_lots.id", ondelete="CASCADE"), index=True
    )
    points: Mapped[int] = mapped_column(BigInteger)


DELIVERY_STATES = ("pending", "delivered", "failed")


class LoyaltyWebhookEndpoint(Base):
    """Where loyalty events are POSTed. ``secret`` signs the payloads (HMAC-SHA256); it is
    stored because signing needs it, and never logged or returned after creation.
    ``kinds``: the event kinds it subscribes to (a JSON list, revision 0007); ``NULL``:
    every kind. ``last_event_id``: the fan-out watermark, the last event id given to it
    (revision 0010; :func:`regulars.loyalty.webhooks.fan_out`)."""

    __tablename__ = "loyalty_webhook_endpoints"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    kinds: Mapped[list[str] | None] = mapped_column(JSON_DOC)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_event_id: Mapped[int] = mapped_column(BIG_ID, default=0, server_default="0")


class LoyaltyEvent(Base):
    """The outbox: one row per event, ``event_key`` unique so an event is recorded once."""

    __tablename__ = "loyalty_events"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    event_key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[int | None] = mapped_column(
        BIG_ID, ForeignKey("loyalty_accounts.id", ondelete="CASCADE"), index=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSON_DOC, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LoyaltyDelivery(Base):
    """One event to one endpoint: attempts, the next try, and whether it got through."""

    __tablename__ = "loyalty_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        CheckConstraint(one_of("state", DELIVERY_STATES), name="state_known"),
        Index("ix_loyalty_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    event_id: Mapped[int] = mapped_column(
        BIG_ID, ForeignKey("loyalty_events.id", ondelete="CASCADE")
    )
    endpoint_id: Mapped[int] = mapped_column(
        BIG_ID, ForeignKey("loyalty_webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
