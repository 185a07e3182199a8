"""Initial store: customers, consents, products with price and stock history, orders,
order lines, behavioural events and customer scores.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the column types as they were at this revision (never import them
# from the models: a migration must keep meaning what it meant when it was written).
# Integer cents on SQLite, which would store NUMERIC as a float (regulars.store.types.Money).
MONEY = sa.Numeric(18, 2).with_variant(sa.BigInteger(), "sqlite")
TS = sa.DateTime(timezone=True)
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column[int]:
    return sa.Column("id", BIG_ID, nullable=False)


def _customer_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["customer_id"],
        ["customers.customer_id"],
        name=op.f(f"fk_{table}_customer_id_customers"),
        ondelete="CASCADE",
        onupdate="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "customers",
        _id(),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("birthday", sa.Date(), nullable=True),
        sa.Column("time_zone", sa.String(64), nullable=True),
        sa.Column("language", sa.String(35), nullable=True),
        sa.Column("acquisition_channel", sa.String(64), nullable=True),
        sa.Column("household_id", sa.String(255), nullable=True),
        sa.Column("attributes", JSON_DOC, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_customers_customer_id")),
    )
    op.create_index(op.f("ix_customers_email"), "customers", ["email"])
    op.create_index(op.f("ix_customers_phone"), "customers", ["phone"])
    op.create_index(op.f("ix_customers_household_id"), "customers", ["household_id"])

    op.create_table(
        "consents",
        _id(),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(255), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
        _customer_fk("consents"),
        sa.UniqueConstraint(
            "customer_id", "channel", "topic", name=op.f("uq_consents_customer_id_channel_topic")
        ),
    )

    op.create_table(
        "products",
        _id(),
        sa.Column("sku", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("category", sa.String(255), nullable=True),
        sa.Column("price", MONEY, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("sku", name=op.f("uq_products_sku")),
    )
    op.create_index(op.f("ix_products_category"), "products", ["category"])

    op.create_table(
        "product_price_history",
        _id(),
        sa.Column("sku", sa.String(255), nullable=False),
        sa.Column("price", MONEY, nullable=False),
        sa.Column("valid_from", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_price_history")),
        sa.ForeignKeyConstraint(
            ["sku"],
            ["products.sku"],
            name=op.f("fk_product_price_history_sku_products"),
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.UniqueConstraint(
            "sku", "valid_from", name=op.f("uq_product_price_history_sku_valid_from")
        ),
    )

    op.create_table(
        "product_stock_history",
        _id(),
        sa.Column("sku", sa.String(255), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_stock_history")),
        sa.ForeignKeyConstraint(
            ["sku"],
            ["products.sku"],
            name=op.f("fk_product_stock_history_sku_products"),
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.UniqueConstraint(
            "sku", "recorded_at", name=op.f("uq_product_stock_history_sku_recorded_at")
        ),
    )

    op.create_table(
        "orders",
        _id(),
        sa.Column("shop_id", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(255), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("ordered_at", TS, nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("refunded_amount", MONEY, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("channel", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        _customer_fk("orders"),
        sa.UniqueConstraint("shop_id", "order_id", name=op.f("uq_orders_shop_id_order_id")),
        sa.CheckConstraint(
            "refunded_amount >= 0", name=op.f("ck_orders_refunded_amount_not_negative")
        ),
        sa.CheckConstraint(
            "status IN ('completed', 'refunded', 'partially_refunded', 'cancelled')",
            name=op.f("ck_orders_status_known"),
        ),
    )
    op.create_index(op.f("ix_orders_ordered_at"), "orders", ["ordered_at"])
    op.create_index(
        op.f("ix_orders_customer_id_ordered_at"), "orders", ["customer_id", "ordered_at"]
    )

    op.create_table(
        "order_lines",
        _id(),
        sa.Column("shop_id", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(255), nullable=False),
        sa.Column("sku", sa.String(255), nullable=True),
        sa.Column("product_name", sa.String(255), nullable=True),
        sa.Column("category", sa.String(255), nullable=True),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("unit_price", MONEY, nullable=False),
        sa.Column("line_amount", MONEY, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_lines")),
        sa.ForeignKeyConstraint(
            ["shop_id", "order_id"],
            ["orders.shop_id", "orders.order_id"],
            name=op.f("fk_order_lines_shop_id_order_id_orders"),
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
    )
    op.create_index(op.f("ix_order_lines_sku"), "order_lines", ["sku"])
    op.create_index(op.f("ix_order_lines_shop_id_order_id"), "order_lines", ["shop_id", "order_id"])

    op.create_table(
        "events",
        _id(),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("sku", sa.String(255), nullable=True),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        _customer_fk("events"),
    )
    op.create_index(op.f("ix_events_sku"), "events", ["sku"])
    op.create_index(
        op.f("ix_events_customer_id_occurred_at"), "events", ["customer_id", "occurred_at"]
    )
    op.create_index(op.f("ix_events_kind_occurred_at"), "events", ["kind", "occurred_at"])

    op.create_table(
        "customer_scores",
        _id(),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("segment", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(64), nullable=True),
        sa.Column("stage", sa.String(64), nullable=True),
        sa.Column("p_alive", sa.Float(), nullable=True),
        sa.Column("clv_12m", MONEY, nullable=True),
        sa.Column("churn_risk", sa.Float(), nullable=True),
        sa.Column("computed_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_scores")),
        _customer_fk("customer_scores"),
        sa.UniqueConstraint("customer_id", name=op.f("uq_customer_scores_customer_id")),
        sa.CheckConstraint(
            "p_alive >= 0 AND p_alive <= 1", name=op.f("ck_customer_scores_p_alive_probability")
        ),
        sa.CheckConstraint(
            "churn_risk >= 0 AND churn_risk <= 1",
            name=op.f("ck_customer_scores_churn_risk_probability"),
        ),
    )
    op.create_index(op.f("ix_customer_scores_segment"), "customer_scores", ["segment"])


def downgrade() -> None:
    # Children first: foreign keys are enforced (SQLite included) while tables are dropped.
    for table in (
        "customer_scores",
        "events",
        "order_lines",
        "orders",
        "product_stock_history",
        "product_price_history",
        "products",
        "consents",
        "customers",
    ):
        op.drop_table(table)
