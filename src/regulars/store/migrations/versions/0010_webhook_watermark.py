"""Webhook fan-out watermark: ``loyalty_webhook_endpoints.last_event_id``.

The id of the last event fanned out to the endpoint; fan-out reads only the events after it
(:func:`regulars.loyalty.webhooks.fan_out`). An existing endpoint starts at the last event
recorded before it was registered, so the first fan-out after the upgrade considers
exactly the events it considered before (those already fanned out are skipped by the
unique (event, endpoint) of ``loyalty_deliveries``).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copy of the column type at this revision (see 0001).
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

START = (
    "UPDATE loyalty_webhook_endpoints SET last_event_id = COALESCE(("
    "SELECT MAX(e.id) FROM loyalty_events e "
    "WHERE e.created_at < loyalty_webhook_endpoints.created_at), 0)"
)


def upgrade() -> None:
    with op.batch_alter_table("loyalty_webhook_endpoints") as batch:
        batch.add_column(sa.Column("last_event_id", BIG_ID, nullable=False, server_default="0"))
    op.execute(START)


def downgrade() -> None:
    with op.batch_alter_table("loyalty_webhook_endpoints") as batch:
        batch.drop_column("last_event_id")
