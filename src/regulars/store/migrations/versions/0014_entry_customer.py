"""The ledger says who spent: ``loyalty_entries.customer_id``.

Set on spends and adjustments: on a shared household account, the member who redeemed or
was adjusted. No foreign key (the ledger is kept when a customer is erased, re-keyed to the
pseudonym; a merge moves it to the survivor). Existing entries stay NULL.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("loyalty_entries") as batch:
        batch.add_column(sa.Column("customer_id", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("loyalty_entries") as batch:
        batch.drop_column("customer_id")
