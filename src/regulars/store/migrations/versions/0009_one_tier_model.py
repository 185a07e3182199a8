"""One tier model: points programs lose their own tiers; the ``tiers`` program type is it.

Points program configs no longer hold ``tiers`` / ``tier_window_days``; the earn
multiplier comes from the customer's tier in the running ``tiers`` programs. This
revision

* removes both keys from every stored ``points`` config (every config created before it
  holds them, with their defaults ``[]`` and 365);
* turns the tiers of a points program that had some into a ``tiers`` program of its own:
  code ``<code>-tiers`` (``-tiers-2``, … if taken), basis ``spend``, ``window_days`` = the
  old ``tier_window_days``, ``grace_days`` 0 (the old rule had no grace), the tiers by
  increasing threshold (of equal thresholds the first listed, as the old rule picked; a
  repeated name gets ``-2``, …), and the points program's ``active``, ``starts_at``,
  ``ends_at`` and ``currency``. Its tier states are built on each customer's next order or
  return from their whole history;
* drops ``loyalty_accounts.tier``: the account's tier is the customer's tier in those
  programs (``loyalty_tier_states``).

Downgrade adds the column back (empty) and keeps the converted programs.

Revision ID: 0009
Revises: 0007 (0008 was not used)
Create Date: 2026-12-01
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the column types at this revision (see 0001).
TS = sa.DateTime(timezone=True)
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

PROGRAMS = sa.table(
    "loyalty_programs",
    sa.column("id", sa.BigInteger()),
    sa.column("code", sa.String(64)),
    sa.column("name", sa.String(255)),
    sa.column("type", sa.String(32)),
    sa.column("config", JSON_DOC),
    sa.column("active", sa.Boolean()),
    sa.column("starts_at", TS),
    sa.column("ends_at", TS),
    sa.column("currency", sa.String(3)),
    sa.column("shared_household", sa.Boolean()),
    sa.column("shortfall_policy", sa.String(32)),
    sa.column("created_at", TS),
)
OLD_KEYS = ("tiers", "tier_window_days")


def _ordered_tiers(tiers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """By increasing threshold, one per threshold (the first listed), names made unique."""
    kept: dict[Decimal, dict[str, Any]] = {}
    for tier in tiers:
        kept.setdefault(Decimal(str(tier["threshold"])), dict(tier))
    names: set[str] = set()
    ordered = []
    for _threshold, tier in sorted(kept.items()):
        name, n = tier["name"], 1
        while name in names:
            n += 1
            name = f"{tier['name'][:60]}-{n}"
        names.add(name)
        ordered.append({**tier, "name": name})
    return ordered


def _free_code(connection: sa.Connection, code: str) -> str:
    taken = set(connection.scalars(sa.select(PROGRAMS.c.code)))
    candidate, n = f"{code[:58]}-tiers", 1
    while candidate in taken:
        n += 1
        candidate = f"{code[:54]}-tiers-{n}"
    return candidate


def _tier_club(
    connection: sa.Connection, row: Any, tiers: list[dict[str, Any]], window: int
) -> None:
    code = _free_code(connection, row.code)
    config = {
        "type": "tiers",
        "code": code,
        "basis": "spend",
        "tiers": _ordered_tiers(tiers),
        "window_days": window,
        "grace_days": 0,
    }
    connection.execute(
        PROGRAMS.insert().values(
            code=code,
            name=f"{row.name[:245]} (tiers)",
            type="tiers",
            config=config,
            active=row.active,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            currency=row.currency,
            shared_household=False,
            shortfall_policy="allow_negative",
            created_at=datetime.now(UTC),
        )
    )


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(PROGRAMS).where(PROGRAMS.c.type == "points")).all()
    for row in rows:
        config = dict(row.config or {})
        if not any(key in config for key in OLD_KEYS):
            continue
        tiers = config.pop("tiers", None) or []
        window = int(config.pop("tier_window_days", None) or 365)
        connection.execute(PROGRAMS.update().where(PROGRAMS.c.id == row.id).values(config=config))
        if tiers:
            _tier_club(connection, row, tiers, window)
    op.drop_column("loyalty_accounts", "tier")


def downgrade() -> None:
    op.add_column("loyalty_accounts", sa.Column("tier", sa.String(64), nullable=True))
