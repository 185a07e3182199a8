"""Alembic environment of the store.

Run through :mod:`regulars.store.migrate`, which passes an open connection (inside a
transaction) in ``config.attributes["connection"]``; there is no ``alembic.ini``. The
revisions create every domain's tables, so the environment compares them with the
composition root's metadata (:data:`regulars.wiring.METADATA`); this script directory is
loaded by Alembic from its path, not imported as a module of the store package.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from regulars.wiring import METADATA

config = context.config


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=METADATA,  # every domain's tables
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; use regulars db upgrade")
connection = config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through regulars.store.migrate (regulars db upgrade)")
run_migrations(connection)
