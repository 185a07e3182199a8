"""Whether a scored customer is still active: ``customer_scores.active``.

True when the customer's last counted purchase lies within the activity window as of the
refresh (:func:`regulars.analytics.customer_table.customer_table`'s ``active``). The web
app's "who to call" list takes active customers only, as the report does
(:mod:`regulars.models.risk`): a lapsed customer is a win-back, not a save. Existing rows
start NULL until the next refresh.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("customer_scores") as batch:
        batch.add_column(sa.Column("active", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customer_scores") as batch:
        batch.drop_column("active")
