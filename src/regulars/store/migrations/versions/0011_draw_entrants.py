"""Prize draws keep their entrants: ``loyalty_draw_entrants`` (draw, customer, ticket).

Written when a draw runs, so that erasing an entrant (re-keyed to their pseudonym with the
ticket they had) leaves the draw verifiable. Draws made before this revision have no
entrants stored and verify as before, from the eligible list's SHA-256.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copy of the column type at this revision (see 0001).
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE = "loyalty_draw_entrants"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("draw_id", BIG_ID, nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("ticket", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["draw_id"],
            ["loyalty_draws.id"],
            name=op.f(f"fk_{TABLE}_draw_id_loyalty_draws"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f(f"fk_{TABLE}_customer_id_customers"),
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TABLE}")),
        sa.UniqueConstraint("draw_id", "customer_id", name=op.f(f"uq_{TABLE}_draw_id_customer_id")),
    )
    op.create_index(op.f(f"ix_{TABLE}_customer_id"), TABLE, ["customer_id"])


def downgrade() -> None:
    op.drop_index(op.f(f"ix_{TABLE}_customer_id"), table_name=TABLE)
    op.drop_table(TABLE)
