"""Order returns, customer aliases (merges), the audit log of administrative changes and
background jobs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the column types at this revision (see 0001).
TS = sa.DateTime(timezone=True)
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MONEY = sa.Numeric(18, 2).with_variant(sa.BigInteger(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "order_returns",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("shop_id", sa.String(64), nullable=False),
        sa.Column("return_id", sa.String(255), nullable=False),
        sa.Column("order_id", sa.String(255), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("returned_at", TS, nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("reason", sa.String(255), nullable=True),
        sa.Column("lines", JSON_DOC, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_order_returns_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_order_returns_customer_id_customers"),
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id", "order_id"],
            ["orders.shop_id", "orders.order_id"],
            name=op.f("fk_order_returns_shop_id_order_id_orders"),
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_returns")),
        sa.UniqueConstraint(
            "shop_id", "return_id", name=op.f("uq_order_returns_shop_id_return_id")
        ),
    )
    op.create_index(
        op.f("ix_order_returns_shop_id_order_id"), "order_returns", ["shop_id", "order_id"]
    )
    op.create_index(op.f("ix_order_returns_customer_id"), "order_returns", ["customer_id"])
    op.create_table(
        "customer_aliases",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("alias_id", sa.String(255), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("merged_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_customer_aliases_customer_id_customers"),
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_aliases")),
        sa.UniqueConstraint("alias_id", name=op.f("uq_customer_aliases_alias_id")),
    )
    op.create_index(op.f("ix_customer_aliases_customer_id"), "customer_aliases", ["customer_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_type", sa.String(64), nullable=False),
        sa.Column("target_id", sa.String(255), nullable=True),
        sa.Column("details", JSON_DOC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_occurred_at"), "audit_log", ["occurred_at"])
    op.create_index(op.f("ix_audit_log_action"), "audit_log", ["action"])
    op.create_index(
        op.f("ix_audit_log_target_type_target_id"), "audit_log", ["target_type", "target_id"]
    )
    op.create_table(
        "jobs",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("run_after", TS, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("locked_by", sa.String(255), nullable=True),
        sa.Column("locked_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(
            "state IN ('pending', 'running', 'done', 'failed')", name=op.f("ck_jobs_state_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("kind", "key", "due_at", name=op.f("uq_jobs_kind_key_due_at")),
    )
    op.create_index(op.f("ix_jobs_state_run_after"), "jobs", ["state", "run_after"])


def downgrade() -> None:
    op.drop_table("jobs")
    op.drop_table("audit_log")
    op.drop_table("customer_aliases")
    op.drop_table("order_returns")
