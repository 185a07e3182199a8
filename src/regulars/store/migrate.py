"""Alembic migrations, driven from Python (no ``alembic.ini`` needed).

The scripts live in ``regulars/store/migrations`` inside the package, so an installed
``regulars`` can migrate any database it is pointed at::

    from regulars.store.migrate import upgrade
    upgrade("sqlite:///regulars.db")        # returns the revision now current

Migrations are written by hand (one file per change, ``versions/NNNN_name.py``); a test
checks that ``head`` yields exactly the tables of :mod:`regulars.store.tables`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError

from regulars.errors import RegularsError
from regulars.store.session import display_url, make_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

Target = str | URL | Engine


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config whose scripts are the package's migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision shipped with this version of regulars."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None  # the package always ships at least one revision
    return head


@contextmanager
def _connection(target: Target, *, migrating: bool = False) -> Iterator[Connection]:
    """A connection in a transaction that commits on success.

    ``migrating`` on SQLite: foreign keys are off while the scripts run and checked with
    ``PRAGMA foreign_key_check`` before the commit (SQLite's own procedure for changing a
    table). Batch mode rebuilds a table by dropping it, and dropping a table that other
    rows refer to would otherwise delete those rows (``ON DELETE CASCADE``).
    """
    engine = target if isinstance(target, Engine) else make_engine(target)
    try:
        try:
            connection = engine.connect()
        except DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise RegularsError(
                f"cannot connect to database {display_url(engine.url)}: {reason}"
            ) from None
        keys_off = migrating and connection.dialect.name == "sqlite"
        with connection:
            if keys_off:
                _sqlite_foreign_keys(connection, "OFF")
            try:
                with connection.begin():
                    yield connection
                    if keys_off:
                        _check_foreign_keys(connection)
            finally:
                if keys_off:
                    _sqlite_foreign_keys(connection, "ON")
    finally:
        if not isinstance(target, Engine):
            engine.dispose()


def _sqlite_foreign_keys(connection: Connection, state: str) -> None:
    """Switch SQLite's foreign keys; through the driver's cursor, outside any transaction
    (inside one the pragma does nothing)."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(f"PRAGMA foreign_keys={state}")
    finally:
        cursor.close()


def _check_foreign_keys(connection: Connection) -> None:
    dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if dangling:
        tables = sorted({row[0] for row in dangling})
        raise RegularsError(f"the migration left dangling references in {', '.join(tables)}")


def current_revision(target: Target) -> str | None:
    """The revision the database is at; ``None`` for a database never migrated."""
    with _connection(target) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(target: Target, revision: str = "head") -> str | None:
    """Migrate the database up to ``revision``; returns the revision now current."""
    with _connection(target, migrating=True) as connection:
        command.upgrade(alembic_config(connection), revision)
        return MigrationContext.configure(connection).get_current_revision()


def downgrade(target: Target, revision: str = "base") -> str | None:
    """Migrate the database down to ``revision`` (``base``: drop every table)."""
    with _connection(target, migrating=True) as connection:
        command.downgrade(alembic_config(connection), revision)
        return MigrationContext.configure(connection).get_current_revision()
