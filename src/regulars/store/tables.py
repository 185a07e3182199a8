"""SQLAlchemy 2 models of the operational store.

Column names follow the canonical schema (:mod:`regulars.data.schema`): ``orders``,
``order_lines``, ``customers`` and ``products`` carry the same columns the importers and the
analytics use, so the analytics plane can read the store as it reads an export.

Keys: every table has a surrogate integer ``id``. Child tables refer to a customer by the
natural key ``customer_id`` (``ON DELETE CASCADE ON UPDATE CASCADE``), so erasing a customer
removes their consents, events, scores, orders and order lines in one statement, and merging
duplicates can re-key a customer in place. Orders are unique per ``(shop_id, order_id)``.

Money is ``NUMERIC(18, 2)`` (:class:`~decimal.Decimal`); timestamps are timezone-aware UTC.
The schema is created and changed only by the Alembic migrations in ``migrations/``; a test
checks that they produce exactly these models.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from regulars.clock import utcnow
from regulars.store.types import BIG_ID, JSON_DOC, MONEY, UTCDateTime, one_of

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

DEFAULT_SHOP = "default"
ORDER_STATUSES = ("completed", "refunded", "partially_refunded", "cancelled")
JOB_STATES = ("pending", "running", "done", "failed")
"""``failed``: every attempt used up; ``pending`` with ``attempts > 0``: waiting to retry."""
USER_ROLES = ("owner", "marketer", "agent", "viewer")
"""Roles of the web app's staff users (``regulars.web.roles`` says what each may do)."""
EVENT_KINDS = ("viewed", "wished", "added_to_cart", "removed_from_cart", "searched", "visited")
"""Usual behavioural event kinds; the column accepts any short name."""

_CUSTOMER_FK = "customers.customer_id"
_CASCADE: dict[str, Any] = {"ondelete": "CASCADE", "onupdate": "CASCADE"}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Customer(Base):
    """A customer profile. ``customer_id`` is the shop's key (canonical schema)."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    birthday: Mapped[date | None] = mapped_column(Date)
    time_zone: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(35))
    acquisition_channel: Mapped[str | None] = mapped_column(String(64))
    household_id: Mapped[str | None] = mapped_column(String(255), index=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON_DOC, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    consents: Mapped[list[Consent]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", passive_deletes=True
    )
    score: Mapped[CustomerScore | None] = relationship(
        back_populates="customer", cascade="all, delete-orphan", passive_deletes=True
    )


class Consent(Base):
    """Permission to contact a customer on one channel about one topic."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("customer_id", "channel", "topic"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(255), ForeignKey(_CUSTOMER_FK, **_CASCADE))
    channel: Mapped[str] = mapped_column(String(32))
    topic: Mapped[str] = mapped_column(String(64))
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="consents")


class Product(Base):
    """A product; ``price`` is the current list price, history in the two tables below."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    sku: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    category: Mapped[str | None] = mapped_column(String(255), index=True)
    price: Mapped[Decimal | None] = mapped_column(MONEY)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ProductPrice(Base):
    """A list price valid from ``valid_from`` until the next row for the same SKU."""

    __tablename__ = "product_price_history"
    __table_args__ = (UniqueConstraint("sku", "valid_from"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    sku: Mapped[str] = mapped_column(String(255), ForeignKey("products.sku", **_CASCADE))
    price: Mapped[Decimal] = mapped_column(MONEY)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())


class ProductStock(Base):
    """Units in stock for a SKU at ``recorded_at``."""

    __tablename__ = "product_stock_history"
    __table_args__ = (UniqueConstraint("sku", "recorded_at"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    sku: Mapped[str] = mapped_column(String(255), ForeignKey("products.sku", **_CASCADE))
    quantity: Mapped[int] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Order(Base):
    """An order or a standalone return document (negative ``amount``)."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("shop_id", "order_id"),
        Index("ix_orders_customer_id_ordered_at", "customer_id", "ordered_at"),
        CheckConstraint("refunded_amount >= 0", name="refunded_amount_not_negative"),
        CheckConstraint(
            one_of("status", ORDER_STATUSES),
            name="status_known",
        ),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    shop_id: Mapped[str] = mapped_column(String(64), default=DEFAULT_SHOP)
    order_id: Mapped[str] = mapped_column(String(255))
    customer_id: Mapped[str] = mapped_column(String(255), ForeignKey(_CUSTOMER_FK, **_CASCADE))
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    refunded_amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0.00"))
    status: Mapped[str] = mapped_column(String(32), default="completed")
    currency: Mapped[str | None] = mapped_column(String(3))
    channel: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", passive_deletes=True
    )


class OrderLine(Base):
    """One line of an order; ``quantity`` is negative for a returned line."""

    __tablename__ = "order_lines"
    __table_args__ = (
        ForeignKeyConstraint(
            ["shop_id", "order_id"], ["orders.shop_id", "orders.order_id"], **_CASCADE
        ),
        Index("ix_order_lines_shop_id_order_id", "shop_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    shop_id: Mapped[str] = mapped_column(String(64), default=DEFAULT_SHOP)
    order_id: Mapped[str] = mapped_column(String(255))
    sku: Mapped[str | None] = mapped_column(String(255), index=True)
    product_name: Mapped[str | None] = mapped_column(String(255))
    category: Mapped[str | None] = mapped_column(String(255))
    quantity: Mapped[int] = mapped_column(BigInteger)
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    line_amount: Mapped[Decimal] = mapped_column(MONEY)

    order: Mapped[Order] = relationship(back_populates="lines")


class Event(Base):
    """A behavioural event: a customer viewed, wished or added a product to the cart…"""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_customer_id_occurred_at", "customer_id", "occurred_at"),
        Index("ix_events_kind_occurred_at", "kind", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(255), ForeignKey(_CUSTOMER_FK, **_CASCADE))
    kind: Mapped[str] = mapped_column(String(32))
    sku: Mapped[str | None] = mapped_column(String(255), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JSON_DOC, default=dict)


class CustomerScore(Base):
    """The latest scores the analytics wrote back for one customer."""

    __tablename__ = "customer_scores"
    __table_args__ = (
        CheckConstraint("p_alive >= 0 AND p_alive <= 1", name="p_alive_probability"),
        CheckConstraint("churn_risk >= 0 AND churn_risk <= 1", name="churn_risk_probability"),
        # Who to call (regulars.scoring.at_risk): the largest values at risk first.
        Index(
            "ix_customer_scores_value_at_risk",
            text("(churn_risk * clv_12m) DESC"),
            postgresql_where=text("active IS TRUE AND clv_12m IS NOT NULL"),
            sqlite_where=text("active IS TRUE AND clv_12m IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        String(255), ForeignKey(_CUSTOMER_FK, **_CASCADE), unique=True
    )
    segment: Mapped[str | None] = mapped_column(String(64), index=True)
    kind: Mapped[str | None] = mapped_column(String(64))
    stage: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool | None] = mapped_column(Boolean)
    """Whether the last counted purchase is within the activity window (as of the refresh)."""
    p_alive: Mapped[float | None] = mapped_column(Float)
    clv_12m: Mapped[Decimal | None] = mapped_column(MONEY)
    churn_risk: Mapped[float | None] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    stale_reason: Mapped[str | None] = mapped_column(Text)
    """Why some scores are older than ``computed_at`` (a model could not be fitted on the
    last run, which kept them); None when the last run computed every one."""

    customer: Mapped[Customer] = relationship(back_populates="score")


class ApiKey(Base):
    """A key for the HTTP API. Only the SHA-256 of its secret is stored; ``prefix`` finds it."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON_DOC, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class User(Base):
    """A member of the shop's staff who logs in to the web app (not a customer).

    Only the argon2 hash of the password is stored. ``failed_logins`` and ``locked_until``
    lock the account after repeated wrong passwords; ``session_version`` is part of every
    session cookie, so bumping it (a password reset) ends every open session at once.
    """

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(one_of("role", USER_ROLES), name="role_known"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    username: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(16), default="en")
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    session_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """Set while the account is disabled (revision 0018): it cannot log in."""


class ShopSettings(Base):
    """The shop's own settings, edited in the web app (revision 0018): one row, ``id`` 1.

    A column left NULL falls back to the environment (:class:`regulars.config.Settings`);
    a value here takes precedence (:func:`regulars.store.shop_settings.effective`).
    """

    __tablename__ = "shop_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    timezone: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str | None] = mapped_column(String(3))
    locale: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IdempotencyKey(Base):
    """An ``Idempotency-Key`` an API client sent with a POST, and what it created."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("api_key_id", "key"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    api_key_id: Mapped[int] = mapped_column(BIG_ID, ForeignKey("api_keys.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    shop_id: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OrderReturn(Base):
    """A return (refund) against an order, recorded once per ``(shop_id, return_id)``.

    The order's ``refunded_amount`` is the sum of its returns' ``amount``; ``lines`` lists
    what came back (``sku``, ``quantity`` > 0, ``line_amount``) as the shop sent it.
    """

    __tablename__ = "order_returns"
    __table_args__ = (
        UniqueConstraint("shop_id", "return_id"),
        ForeignKeyConstraint(
            ["shop_id", "order_id"], ["orders.shop_id", "orders.order_id"], **_CASCADE
        ),
        Index("ix_order_returns_shop_id_order_id", "shop_id", "order_id"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    shop_id: Mapped[str] = mapped_column(String(64), default=DEFAULT_SHOP)
    return_id: Mapped[str] = mapped_column(String(255))
    order_id: Mapped[str] = mapped_column(String(255))
    customer_id: Mapped[str] = mapped_column(
        String(255), ForeignKey(_CUSTOMER_FK, **_CASCADE), index=True
    )
    returned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    amount: Mapped[Decimal] = mapped_column(MONEY)
    reason: Mapped[str | None] = mapped_column(String(255))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON_DOC, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CustomerAlias(Base):
    """A ``customer_id`` merged into another customer: later writes under it go to the survivor."""

    __tablename__ = "customer_aliases"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    alias_id: Mapped[str] = mapped_column(String(255), unique=True)
    customer_id: Mapped[str] = mapped_column(
        String(255), ForeignKey(_CUSTOMER_FK, **_CASCADE), index=True
    )
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEntry(Base):
    """One administrative change: who (``actor``) did what (``action``) to which target.

    Append-only. It holds no personal data: an erased customer is named by a keyed hash.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target_type_target_id", "target_type", "target_id"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict[str, Any]] = mapped_column(JSON_DOC, default=dict)


class Job(Base):
    """A unit of background work, due at ``due_at``, claimed and run by ``regulars worker``.

    ``(kind, key, due_at)`` is unique, so the same job for the same due time exists once and
    runs once. A failed attempt sets ``run_after`` (backoff) and ``last_error``.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("kind", "key", "due_at"),
        Index("ix_jobs_state_run_after", "state", "run_after"),
        CheckConstraint(one_of("state", JOB_STATES), name="state_known"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255), default="")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    run_after: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON_DOC, default=dict)
    last_error: Mapped[str | None] = mapped_column(Text)
    locked_by: Mapped[str | None] = mapped_column(String(255))
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class DashboardSnapshot(Base):
    """What the web app's dashboard shows, computed by one scores refresh.

    ``document`` is JSON: the KPIs of each period choice and the period before it, the
    retention goal, the KPI trend, lifecycle, cohorts, the RFM grid and the sizes of the
    segments, kinds and stages (:mod:`regulars.scoring.dashboard`). Only aggregates: no
    customer's data. The last :data:`regulars.scoring.dashboard.KEEP_SNAPSHOTS` are kept,
    so the segments page can show the change since the refresh before.
    """

    __tablename__ = "dashboard_snapshots"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    as_of: Mapped[date] = mapped_column(Date)
    document: Mapped[dict[str, Any]] = mapped_column(JSON_DOC)
