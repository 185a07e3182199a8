"""The migrations build exactly the models' schema, and go down and up again cleanly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from regulars.store.migrate import (
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from regulars.store.models import Base

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
