"""Live program types: partner transactions, charity donations, prize draws and winners,
paid memberships and their payments, referrals.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the column types at this revision (see 0001).
TS = sa.DateTime(timezone=True)
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MONEY = sa.Numeric(18, 2).with_variant(sa.BigInteger(), "sqlite")
POINTS = sa.BigInteger()


def _fk(table: str, column: str, target: str, *, onupdate: bool = False) -> sa.ForeignKeyConstraint:
    referred = target.partition(".")[0]
    return sa.ForeignKeyConstraint(
        [column],
        [target],
        name=op.f(f"fk_{table}_{column}_{referred}"),
        ondelete="CASCADE",
        onupdate="CASCADE" if onupdate else None,
    )


def _customer_fk(table: str) -> sa.ForeignKeyConstraint:
    return _fk(table, "customer_id", "customers.customer_id", onupdate=True)


def _index(table: str, *columns: str) -> None:
    op.create_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns))


def _partner_transactions() -> None:
    t = "loyalty_partner_transactions"
    op.create_table(
        t,
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("program_id", BIG_ID, nullable=False),
        sa.Column("partner", sa.String(64), nullable=False),
        sa.Column("transaction_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("points", POINTS, nullable=False),
        sa.Column("amount", MONEY, nullable=True),
        sa.Column("entry_id", BIG_ID, nullable=True),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("kind IN ('issue', 'redeem')", name=op.f(f"ck_{t}_kind_known")),
        sa.CheckConstraint("points >= 0", name=op.f(f"ck_{t}_points_not_negative")),
        _fk(t, "program_id", "loyalty_programs.id"),
        _customer_fk(t),
        _fk(t, "entry_id", "loyalty_entries.id"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        sa.UniqueConstraint(
            "program_id",
            "partner",
            "transaction_id",
            name=op.f(f"uq_{t}_program_id_partner_transaction_id"),
        ),
    )
    _index(t, "customer_id")
    _index(t, "occurred_at")


def _donations() -> None:
    t = "loyalty_donations"
    op.create_table(
        t,
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("program_id", BIG_ID, nullable=False),
        sa.Column("donation_id", sa.String(255), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("cause", sa.String(64), nullable=False),
        sa.Column("points", POINTS, nullable=False),
        sa.Column("matched_points", POINTS, nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("entry_id", BIG_ID, nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("points > 0", name=op.f(f"ck_{t}_points_positive")),
        sa.CheckConstraint("matched_points >= 0", name=op.f(f"ck_{t}_matched_not_negative")),
        _fk(t, "program_id", "loyalty_programs.id"),
        _customer_fk(t),
        _fk(t, "entry_id", "loyalty_entries.id"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        sa.UniqueConstraint(
            "program_id", "donation_id", name=op.f(f"uq_{t}_program_id_donation_id")
        ),
    )
    _index(t, "customer_id")
    _index(t, "occurred_at")


def _draws() -> None:
    t = "loyalty_draws"
    op.create_table(
        t,
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("program_id", BIG_ID, nullable=False),
        sa.Column("seed", sa.String(255), nullable=False),
        sa.Column("rule", JSON_DOC, nullable=False),
        sa.Column("eligible_count", sa.Integer(), nullable=False),
        sa.Column("eligible_sha256", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("drawn_at", TS, nullable=False),
        _fk(t, "program_id", "loyalty_programs.id"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        sa.UniqueConstraint("program_id", name=op.f(f"uq_{t}_program_id")),
    )
    w = "loyalty_draw_winners"
    op.create_table(
        w,
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("draw_id", BIG_ID, nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("ticket", sa.String(64), nullable=False),
        _fk(w, "draw_id", "loyalty_draws.id"),
        _customer_fk(w),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{w}")),
        sa.UniqueConstraint("draw_id", "rank", name=op.f(f"uq_{w}_draw_id_rank")),
        sa.UniqueConstraint("draw_id", "customer_id", name=op.f(f"uq_{w}_draw_id_customer_id")),
    )
    _index(w, "customer_id")


def _memberships() -> None:
    t = "loyalty_memberships"
    op.create_table(
        t,
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("program_id", BIG_ID, nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("plan", sa.String(64), nullable=False),
        sa.Column("period_start", TS, nullable=False),
        sa.Column("period_end", TS, nullable=False),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("charged", MONEY, nullable=False),
        sa.Column("refunded", MONEY, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        _fk(t, "program_id", "loyalty_programs.id"),
        _customer_fk(t),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        sa.UniqueConstraint(
            "program_id", "customer_id", name=op.f(f"uq_{t}_program_id_customer_id")
        ),
    )
    _index(t, "customer_id")
    p = "loyalty_membership_payments"
    op.create_table(
        p,
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("membership_id", BIG_ID, nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.CheckConstraint("kind IN ('charge', 'refund')", name=op.f(f"ck_{p}_kind_known")),
        sa.CheckConstraint("amount > 0", name=op.f(f"ck_{p}_amount_positive")),
        _fk(p, "membership_id", "loyalty_memberships.id"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{p}")),
        sa.UniqueConstraint("key", name=op.f(f"uq_{p}_key")),
    )
    _index(p, "membership_id")


def _referrals() -> None:
    t = "loyalty_referrals"
    op.create_table(
        t,
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("program_id", BIG_ID, nullable=False),
        sa.Column("referrer_id", sa.String(255), nullable=False),
        sa.Column("referee_id", sa.String(255), nullable=False),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("due_at", TS, nullable=True),
        sa.Column("rewarded_at", TS, nullable=True),
        sa.Column("referrer_rewarded", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "state IN ('pending', 'rewarded', 'rejected')", name=op.f(f"ck_{t}_state_known")
        ),
        _fk(t, "program_id", "loyalty_programs.id"),
        _fk(t, "referrer_id", "customers.customer_id", onupdate=True),
        _fk(t, "referee_id", "customers.customer_id", onupdate=True),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        sa.UniqueConstraint("program_id", "referee_id", name=op.f(f"uq_{t}_program_id_referee_id")),
    )
    _index(t, "referrer_id")
    _index(t, "referee_id")


def upgrade() -> None:
    _partner_transactions()
    _donations()
    _draws()
    _memberships()
    _referrals()


def downgrade() -> None:
    op.drop_table("loyalty_referrals")
    op.drop_table("loyalty_membership_payments")
    op.drop_table("loyalty_memberships")
    op.drop_table("loyalty_draw_winners")
    op.drop_table("loyalty_draws")
    op.drop_table("loyalty_donations")
    op.drop_table("loyalty_partner_transactions")
