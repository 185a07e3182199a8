"""Who to call, from an index: ``ix_customer_scores_value_at_risk`` on churn risk ×
12-month CLV of the active customers, so the dashboard's "who to call" (the ten largest
values at risk above the threshold) reads ten index entries instead of sorting every
scored customer (1 M customers on PostgreSQL: 680 ms → a few ms).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision: str | None = "0018"
branch_labels: str | None = None
depends_on: str | None = None

NAME = "ix_customer_scores_value_at_risk"


def upgrade() -> None:
    op.execute(
        f"CREATE INDEX {NAME} ON customer_scores ((churn_risk * clv_12m) DESC) "
        "WHERE active IS TRUE AND clv_12m IS NOT NULL"
    )


def downgrade() -> None:
    op.execute(f"DROP INDEX {NAME}")
