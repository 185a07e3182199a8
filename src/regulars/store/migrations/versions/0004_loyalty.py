"""The loyalty engine: programs, accounts, the append-only points ledger, earn lots,
which lots each debit consumed, and the webhook outbox.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the column types at this revision (see 0001).
TS = sa.DateTime(timezone=True)
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MONEY = sa.Numeric(18, 2).with_variant(sa.BigInteger(), "sqlite")
POINTS = sa.BigInteger()


def _programs() -> None:
    op.create_table(
        "loyalty_programs",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("config", JSON_DOC, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("shared_household", sa.Boolean(), nullable=False),
        sa.Column("shortfall_policy", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "shortfall_policy IN ('allow_negative', 'claw_back_future', 'deduct_from_refund')",
            name=op.f("ck_loyalty_programs_policy_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_programs")),
        sa.UniqueConstraint("code", name=op.f("uq_loyalty_programs_code")),
    )


def _accounts() -> None:
    op.create_table(
        "loyalty_accounts",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("program_id", BIG_ID, nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=True),
        sa.Column("household_id", sa.String(255), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("balance", POINTS, nullable=False),
        sa.Column("debt", POINTS, nullable=False),
        sa.Column("tier", sa.String(64), nullable=True),
        sa.Column("enrolled_at", TS, nullable=False),
        sa.Column("opted_out_at", TS, nullable=True),
        sa.CheckConstraint(
            "(customer_id IS NULL) <> (household_id IS NULL)",
            name=op.f("ck_loyalty_accounts_one_holder"),
        ),
        sa.CheckConstraint("debt >= 0", name=op.f("ck_loyalty_accounts_debt_not_negative")),
        sa.CheckConstraint(
            "state IN ('active', 'opted_out')", name=op.f("ck_loyalty_accounts_state_known")
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["loyalty_programs.id"],
            name=op.f("fk_loyalty_accounts_program_id_loyalty_programs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_loyalty_accounts_customer_id_customers"),
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_accounts")),
        sa.UniqueConstraint(
            "program_id", "customer_id", name=op.f("uq_loyalty_accounts_program_id_customer_id")
        ),
        sa.UniqueConstraint(
            "program_id",
            "household_id",
            name=op.f("uq_loyalty_accounts_program_id_household_id"),
        ),
    )
    op.create_index(op.f("ix_loyalty_accounts_customer_id"), "loyalty_accounts", ["customer_id"])


def _lots() -> None:
    op.create_table(
        "loyalty_lots",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("points", POINTS, nullable=False),
        sa.Column("remaining", POINTS, nullable=False),
        sa.Column("available_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("shop_id", sa.String(64), nullable=True),
        sa.Column("order_id", sa.String(255), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("remaining >= 0", name=op.f("ck_loyalty_lots_remaining_not_negative")),
        sa.CheckConstraint(
            "remaining <= points", name=op.f("ck_loyalty_lots_remaining_within_points")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["loyalty_accounts.id"],
            name=op.f("fk_loyalty_lots_account_id_loyalty_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_lots")),
    )
    op.create_index(
        op.f("ix_loyalty_lots_account_id_expires_at"), "loyalty_lots", ["account_id", "expires_at"]
    )
    op.create_index(op.f("ix_loyalty_lots_expires_at"), "loyalty_lots", ["expires_at"])


def _entries() -> None:
    op.create_table(
        "loyalty_entries",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("points", POINTS, nullable=False),
        sa.Column("money", MONEY, nullable=True),
        sa.Column("shop_id", sa.String(64), nullable=True),
        sa.Column("order_id", sa.String(255), nullable=True),
        sa.Column("return_id", sa.String(255), nullable=True),
        sa.Column("lot_id", BIG_ID, nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=True),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.String(255), nullable=True),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "kind IN ('earn', 'spend', 'expire', 'reverse_earn', 'recredit', 'adjust', "
            "'import', 'claw_back')",
            name=op.f("ck_loyalty_entries_kind_known"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["loyalty_accounts.id"],
            name=op.f("fk_loyalty_entries_account_id_loyalty_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"],
            ["loyalty_lots.id"],
            name=op.f("fk_loyalty_entries_lot_id_loyalty_lots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_entries")),
        sa.UniqueConstraint(
            "account_id",
            "idempotency_key",
            name=op.f("uq_loyalty_entries_account_id_idempotency_key"),
        ),
    )
    op.create_index(
        op.f("ix_loyalty_entries_shop_id_order_id"), "loyalty_entries", ["shop_id", "order_id"]
    )
    op.create_index(
        op.f("ix_loyalty_entries_account_id_id"), "loyalty_entries", ["account_id", "id"]
    )
    op.create_index(op.f("ix_loyalty_entries_lot_id"), "loyalty_entries", ["lot_id"])


def _consumptions() -> None:
    op.create_table(
        "loyalty_lot_consumptions",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("entry_id", BIG_ID, nullable=False),
        sa.Column("lot_id", BIG_ID, nullable=False),
        sa.Column("points", POINTS, nullable=False),
        sa.CheckConstraint("points > 0", name=op.f("ck_loyalty_lot_consumptions_points_positive")),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["loyalty_entries.id"],
            name=op.f("fk_loyalty_lot_consumptions_entry_id_loyalty_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"],
            ["loyalty_lots.id"],
            name=op.f("fk_loyalty_lot_consumptions_lot_id_loyalty_lots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_lot_consumptions")),
    )
    op.create_index(
        op.f("ix_loyalty_lot_consumptions_entry_id"), "loyalty_lot_consumptions", ["entry_id"]
    )
    op.create_index(
        op.f("ix_loyalty_lot_consumptions_lot_id"), "loyalty_lot_consumptions", ["lot_id"]
    )


def _webhooks() -> None:
    op.create_table(
        "loyalty_webhook_endpoints",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("secret", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_webhook_endpoints")),
    )
    op.create_table(
        "loyalty_events",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("event_key", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("account_id", BIG_ID, nullable=True),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["loyalty_accounts.id"],
            name=op.f("fk_loyalty_events_account_id_loyalty_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_events")),
        sa.UniqueConstraint("event_key", name=op.f("uq_loyalty_events_event_key")),
    )
    op.create_index(op.f("ix_loyalty_events_account_id"), "loyalty_events", ["account_id"])
    op.create_table(
        "loyalty_deliveries",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("event_id", BIG_ID, nullable=False),
        sa.Column("endpoint_id", BIG_ID, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("delivered_at", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'delivered', 'failed')",
            name=op.f("ck_loyalty_deliveries_state_known"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["loyalty_events.id"],
            name=op.f("fk_loyalty_deliveries_event_id_loyalty_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["loyalty_webhook_endpoints.id"],
            name=op.f("fk_loyalty_deliveries_endpoint_id_loyalty_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_deliveries")),
        sa.UniqueConstraint(
            "event_id", "endpoint_id", name=op.f("uq_loyalty_deliveries_event_id_endpoint_id")
        ),
    )
    op.create_index(
        op.f("ix_loyalty_deliveries_state_next_attempt_at"),
        "loyalty_deliveries",
        ["state", "next_attempt_at"],
    )
    op.create_index(
        op.f("ix_loyalty_deliveries_endpoint_id"), "loyalty_deliveries", ["endpoint_id"]
    )


def upgrade() -> None:
    _programs()
    _accounts()
    _lots()
    _entries()
    _consumptions()
    _webhooks()


def downgrade() -> None:
    op.drop_table("loyalty_deliveries")
    op.drop_table("loyalty_events")
    op.drop_table("loyalty_webhook_endpoints")
    op.drop_table("loyalty_lot_consumptions")
    op.drop_table("loyalty_entries")
    op.drop_table("loyalty_lots")
    op.drop_table("loyalty_accounts")
    op.drop_table("loyalty_programs")
