"""The migrations build exactly the models' schema, and go down and up again cleanly."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from regulars.loyalty.program_types import TierClubConfig
from regulars.store.migrate import (
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from regulars.store.tables import Base

MODEL_TABLES = set(Base.metadata.tables)


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def _diff(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_one_head_and_it_is_the_initial_revision() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == [head_revision()]
    assert [s.revision for s in script.walk_revisions()][-1] == "0001"


def test_round_trip_empty_upgrade_downgrade_upgrade(empty_engine: Engine) -> None:
    assert current_revision(empty_engine) is None
    assert _tables(empty_engine) == set()

    assert upgrade(empty_engine) == head_revision()
    assert _tables(empty_engine) == MODEL_TABLES

    assert downgrade(empty_engine, "base") is None
    assert _tables(empty_engine) == set()

    assert upgrade(empty_engine) == head_revision()
    assert _tables(empty_engine) == MODEL_TABLES
    assert upgrade(empty_engine) == head_revision()  # idempotent


def test_migrated_schema_matches_the_models(empty_engine: Engine) -> None:
    # On an empty database the comparison sees every table missing: it is really comparing.
    missing = {diff[1].name for diff in _diff(empty_engine) if diff[0] == "add_table"}  # type: ignore[index]
    assert missing == MODEL_TABLES

    upgrade(empty_engine)
    assert _diff(empty_engine) == []


def test_migrations_speak_the_canonical_column_names(store_engine: Engine) -> None:
    from regulars.data.schema import TABLES

    inspector = inspect(store_engine)
    for table, columns in TABLES.items():
        stored = {c["name"] for c in inspector.get_columns(table)}
        assert {c.name for c in columns} <= stored, table


def test_0009_moves_points_tiers_into_a_tiers_program(empty_engine: Engine) -> None:
    """A points program with tiers (unordered, a repeated threshold) and one without, at
    revision 0006; after 0009: both points configs lose tiers/tier_window_days, 'stars'
    gets the tier club 'stars-tiers' (window 30 days, no grace; gold's threshold 100 kept
    once, by increasing threshold), and loyalty_accounts.tier is gone."""
    upgrade(empty_engine, "0006")
    at = datetime(2025, 1, 1, tzinfo=UTC)
    tiers = [
        {"name": "gold", "threshold": "500.00", "earn_multiplier": "2"},
        {"name": "silver", "threshold": "100.00", "earn_multiplier": "1.5"},
        {"name": "copper", "threshold": "100.00", "earn_multiplier": "1.1"},
    ]
    base = {"earn_per_unit": "1", "point_value": "0.01"}
    programs = sa.table("loyalty_programs", *(sa.column(c) for c in PROGRAM_COLUMNS))
    with empty_engine.begin() as connection:
        for code, extra in (
            ("stars", {"tiers": tiers, "tier_window_days": 30}),
            ("plain", {"tiers": [], "tier_window_days": 365}),
        ):
            connection.execute(
                programs.insert().values(
                    code=code,
                    name=code.title(),
                    type="points",
                    config=json.dumps({**base, **extra}),
                    active=True,
                    starts_at=at,
                    currency="EUR",
                    shared_household=False,
                    shortfall_policy="allow_negative",
                    created_at=at,
                )
            )
    upgrade(empty_engine)
    with empty_engine.connect() as connection:
        rows = connection.execute(
            text("SELECT code, type, config, currency, starts_at FROM loyalty_programs ORDER BY id")
        ).all()
    configs = {code: _json(config) for code, _t, config, _c, _s in rows}
    assert configs["stars"] == base
    assert configs["plain"] == base
    assert [(code, kind, currency) for code, kind, _c, currency, _s in rows] == [
        ("stars", "points", "EUR"),
        ("plain", "points", "EUR"),
        ("stars-tiers", "tiers", "EUR"),
    ]
    club = TierClubConfig.model_validate(configs["stars-tiers"])
    assert (club.code, club.basis, club.window_days, club.grace_days) == (
        "stars-tiers",
        "spend",
        30,
        0,
    )
    assert [(t.name, t.threshold) for t in club.tiers] == [("silver", 100), ("gold", 500)]
    assert "tier" not in {c["name"] for c in inspect(empty_engine).get_columns("loyalty_accounts")}
    assert _diff(empty_engine) == []


PROGRAM_COLUMNS = (
    "code",
    "name",
    "type",
    "config",
    "active",
    "starts_at",
    "currency",
    "shared_household",
    "shortfall_policy",
    "created_at",
)


def _json(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else value


_LEDGER_AT_0006 = [
    "INSERT INTO customers (customer_id, attributes, created_at, updated_at) "
    "VALUES ('c1', '{}', :t, :t)",
    "INSERT INTO loyalty_programs (code, name, type, config, active, starts_at, "
    "shared_household, shortfall_policy, created_at) "
    "VALUES ('p', 'P', 'points', '{}', true, :t, false, 'allow_negative', :t)",
    "INSERT INTO loyalty_accounts (program_id, customer_id, state, balance, debt, enrolled_at) "
    "VALUES (1, 'c1', 'active', 5, 0, :t)",
    "INSERT INTO loyalty_lots (account_id, points, remaining, available_at, created_at) "
    "VALUES (1, 10, 5, :t, :t)",
    "INSERT INTO loyalty_entries (account_id, kind, points, lot_id, idempotency_key, actor, "
    "occurred_at, created_at) VALUES (1, 'earn', 10, 1, 'k1', 'a', :t, :t)",
    "INSERT INTO loyalty_entries (account_id, kind, points, idempotency_key, actor, "
    "occurred_at, created_at) VALUES (1, 'spend', -5, 'k2', 'a', :t, :t)",
    "INSERT INTO loyalty_lot_consumptions (entry_id, lot_id, points) VALUES (2, 1, 5)",
]


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_0007_rebuilds_the_ledger_tables_keeping_every_row(empty_engine: Engine) -> None:
    """0007 swaps CHECK constraints (SQLite: by rebuilding loyalty_entries, which other
    rows refer to with ON DELETE CASCADE); the rows referring to it must survive, both ways,
    and the new constraints must hold."""
    upgrade(empty_engine, "0006")
    moment = {"t": datetime(2026, 1, 1, tzinfo=UTC)}
    with empty_engine.begin() as connection:
        for statement in _LEDGER_AT_0006:
            connection.execute(text(statement), moment)
    assert upgrade(empty_engine) == head_revision()
    assert (
        _count(empty_engine, "loyalty_entries"),
        _count(empty_engine, "loyalty_lot_consumptions"),
    ) == (2, 1)
    negative = "INSERT INTO loyalty_lot_consumptions (entry_id, lot_id, points) VALUES (2, 1, -1)"
    zero = "INSERT INTO loyalty_lot_consumptions (entry_id, lot_id, points) VALUES (2, 1, 0)"
    with empty_engine.begin() as connection:
        connection.execute(text(negative))
        connection.execute(text("DELETE FROM loyalty_lot_consumptions WHERE points < 0"))
    with pytest.raises(IntegrityError), empty_engine.begin() as connection:
        connection.execute(text(zero))
    assert downgrade(empty_engine, "0006") == "0006"
    assert _count(empty_engine, "loyalty_lot_consumptions") == 1
    with pytest.raises(IntegrityError), empty_engine.begin() as connection:
        connection.execute(text(negative))
    if empty_engine.dialect.name == "sqlite":  # foreign keys are back on after migrating
        with empty_engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
