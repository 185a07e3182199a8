"""The live program types: rewards (vouchers), tier-club state, badges awarded.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the column types at this revision (see 0001).
TS = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _program_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["program_id"],
        ["loyalty_programs.id"],
        name=op.f(f"fk_{table}_program_id_loyalty_programs"),
        ondelete="CASCADE",
    )


def _customer_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["customer_id"],
        ["customers.customer_id"],
        name=op.f(f"fk_{table}_customer_id_customers"),
        ondelete="CASCADE",
        onupdate="CASCADE",
    )


def _rewards() -> None:
    op.create_table(
        "loyalty_rewards",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("program_id", BIG_ID, nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("reward_key", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("gift", sa.String(255), nullable=True),
        sa.Column("sku", sa.String(255), nullable=True),
        sa.Column("category", sa.String(255), nullable=True),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("redeemed_at", TS, nullable=True),
        sa.Column("redeemed_order_id", sa.String(255), nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("revoke_reason", sa.String(255), nullable=True),
        sa.CheckConstraint(
            "kind IN ('free_item', 'gift')", name=op.f("ck_loyalty_rewards_kind_known")
        ),
        sa.CheckConstraint(
            "state IN ('issued', 'redeemed', 'revoked')",
            name=op.f("ck_loyalty_rewards_state_known"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_loyalty_rewards_quantity_positive")),
        _program_fk("loyalty_rewards"),
        _customer_fk("loyalty_rewards"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_rewards")),
        sa.UniqueConstraint(
            "program_id", "reward_key", name=op.f("uq_loyalty_rewards_program_id_reward_key")
        ),
    )
    op.create_index(
        op.f("ix_loyalty_rewards_customer_id_state"), "loyalty_rewards", ["customer_id", "state"]
    )


def _tier_states() -> None:
    op.create_table(
        "loyalty_tier_states",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("program_id", BIG_ID, nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("tier", sa.String(64), nullable=True),
        sa.Column("since", TS, nullable=True),
        sa.Column("window_start", TS, nullable=True),
        sa.Column("grace_until", TS, nullable=True),
        sa.Column("as_of", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _program_fk("loyalty_tier_states"),
        _customer_fk("loyalty_tier_states"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_tier_states")),
        sa.UniqueConstraint(
            "program_id",
            "customer_id",
            name=op.f("uq_loyalty_tier_states_program_id_customer_id"),
        ),
    )


def _badges() -> None:
    op.create_table(
        "loyalty_badges",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("program_id", BIG_ID, nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("awarded_at", TS, nullable=False),
        _program_fk("loyalty_badges"),
        _customer_fk("loyalty_badges"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_badges")),
        sa.UniqueConstraint(
            "program_id",
            "customer_id",
            "code",
            name=op.f("uq_loyalty_badges_program_id_customer_id_code"),
        ),
    )
    op.create_index(op.f("ix_loyalty_badges_customer_id"), "loyalty_badges", ["customer_id"])


def upgrade() -> None:
    _rewards()
    _tier_states()
    _badges()


def downgrade() -> None:
    op.drop_table("loyalty_badges")
    op.drop_table("loyalty_tier_states")
    op.drop_table("loyalty_rewards")
