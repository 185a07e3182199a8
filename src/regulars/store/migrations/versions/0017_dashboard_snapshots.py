"""The web dashboard's numbers, computed by the nightly scores refresh:
``dashboard_snapshots`` (one JSON document of aggregates per refresh, no customer's data).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017"
down_revision: str | None = "0016"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the column types at this revision (see 0001).
TS = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "dashboard_snapshots",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("computed_at", TS, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("document", JSON_DOC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_snapshots")),
    )
    op.create_index(
        op.f("ix_dashboard_snapshots_computed_at"), "dashboard_snapshots", ["computed_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_dashboard_snapshots_computed_at"), "dashboard_snapshots")
    op.drop_table("dashboard_snapshots")
