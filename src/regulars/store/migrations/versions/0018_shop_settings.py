"""The shop's settings edited in the web app (``shop_settings``, one row) and disabled
staff accounts (``users.disabled_at``).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision: str | None = "0017"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copy of the column type at this revision (see 0001).
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "shop_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("locale", sa.String(16), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_settings")),
    )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("disabled_at", TS, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("disabled_at")
    op.drop_table("shop_settings")
