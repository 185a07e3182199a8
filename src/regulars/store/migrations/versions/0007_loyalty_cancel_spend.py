"""Cancelled redemptions and webhook subscriptions: the entry kind ``cancel_spend``; lot
consumptions may be negative (a cancellation puts points back into the lots its spend
took them from); an endpoint may subscribe to some event kinds only.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies at this revision (see 0001).
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
KINDS_BEFORE = (
    "earn",
    "spend",
    "expire",
    "reverse_earn",
    "recredit",
    "adjust",
    "import",
    "claw_back",
)
KINDS_AFTER = (*KINDS_BEFORE, "cancel_spend")


def _kinds(values: tuple[str, ...]) -> str:
    return "kind IN ({})".format(", ".join(f"'{v}'" for v in values))


def _replace_check(table: str, old: str, new: str, condition: str) -> None:
    """Swap a CHECK constraint; on SQLite batch mode rebuilds the table (the migration
    runs with foreign keys off there, so rebuilding a referenced table cascades nothing)."""
    with op.batch_alter_table(table, recreate="auto") as batch:
        batch.drop_constraint(op.f(f"ck_{table}_{old}"), type_="check")
        batch.create_check_constraint(op.f(f"ck_{table}_{new}"), condition)


def upgrade() -> None:
    _replace_check("loyalty_entries", "kind_known", "kind_known", _kinds(KINDS_AFTER))
    _replace_check("loyalty_lot_consumptions", "points_positive", "points_not_zero", "points <> 0")
    with op.batch_alter_table("loyalty_webhook_endpoints") as batch:
        batch.add_column(sa.Column("kinds", JSON_DOC, nullable=True))


def downgrade() -> None:
    # Refused by the database while cancelled redemptions exist: their entries and
    # negative consumptions do not fit the old constraints (nothing is dropped silently).
    with op.batch_alter_table("loyalty_webhook_endpoints") as batch:
        batch.drop_column("kinds")
    _replace_check("loyalty_lot_consumptions", "points_not_zero", "points_positive", "points > 0")
    _replace_check("loyalty_entries", "kind_known", "kind_known", _kinds(KINDS_BEFORE))
