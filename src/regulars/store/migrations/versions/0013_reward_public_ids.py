"""Rewards get unguessable public ids: ``loyalty_rewards.public_id``.

128 random bits (URL-safe, 22 characters), unique; the API's reward URLs and answers use it
instead of the sequential primary key, so no reward can be found by counting. Existing
rewards get one each here.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None

TABLE = "loyalty_rewards"


def upgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.add_column(sa.Column("public_id", sa.String(32), nullable=True))
    rewards = sa.table(TABLE, sa.column("id", sa.BigInteger()), sa.column("public_id"))
    connection = op.get_bind()
    for (reward_id,) in connection.execute(sa.select(rewards.c.id)).all():
        connection.execute(
            sa.update(rewards)
            .where(rewards.c.id == reward_id)
            .values(public_id=secrets.token_urlsafe(16))
        )
    with op.batch_alter_table(TABLE) as batch:
        batch.alter_column("public_id", existing_type=sa.String(32), nullable=False)
        batch.create_unique_constraint(op.f(f"uq_{TABLE}_public_id"), ["public_id"])


def downgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_constraint(op.f(f"uq_{TABLE}_public_id"), type_="unique")
        batch.drop_column("public_id")
