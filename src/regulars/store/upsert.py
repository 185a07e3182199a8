"""``INSERT … ON CONFLICT`` for the store's two databases.

SQLAlchemy's generic ``insert()`` has no ``ON CONFLICT``; the dialects' own constructs do,
with the same methods on SQLite and PostgreSQL. :func:`dialect_insert` picks the one of the
connection's database, so a writer states its conflict rule once for both.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from regulars.errors import RegularsError

Bind = Connection | Session | Engine


def dialect_name(bind: Bind) -> str:
    """``"sqlite"`` or ``"postgresql"``: the database behind a session, connection or engine."""
    if isinstance(bind, Session):
        return bind.get_bind().dialect.name
    return bind.dialect.name


def dialect_insert(bind: Bind, table: Table | type[Any]) -> postgresql.Insert | sqlite.Insert:
    """The database's ``INSERT`` into ``table`` (a table or a mapped class), which has
    ``on_conflict_do_nothing`` and ``on_conflict_do_update``."""
    name = dialect_name(bind)
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise RegularsError(f"the store runs on SQLite or PostgreSQL, not {name}")  # pragma: no cover


def insert_ignoring_conflicts(bind: Bind, table: Table | type[Any]) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING``: rows whose unique key exists are skipped."""
    return dialect_insert(bind, table).on_conflict_do_nothing()
