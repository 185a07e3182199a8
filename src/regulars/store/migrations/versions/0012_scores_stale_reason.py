"""Scores a refresh could not recompute stay, marked: ``customer_scores.stale_reason``.

Written by the scores refresh when a model cannot be fitted (its columns keep the values
of the last run that computed them) or no customer can be scored; NULL when the last run
computed every score. Existing rows start NULL.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("customer_scores") as batch:
        batch.add_column(sa.Column("stale_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customer_scores") as batch:
        batch.drop_column("stale_reason")
