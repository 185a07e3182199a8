"""Engines and sessions.

``make_engine(url)`` accepts the two supported databases:

* SQLite (``sqlite:///path.db``; the embedded default): every connection gets
  ``PRAGMA journal_mode=WAL`` (readers do not block the writer), ``PRAGMA foreign_keys=ON``
  (SQLite ignores foreign keys, cascades included, without it), ``PRAGMA secure_delete=ON``
  (deleted and overwritten values are zeroed in the file, not left in free space: an
  erasure must not stay readable there; see :func:`checkpoint`) and a busy timeout.
* PostgreSQL through psycopg 3: ``postgresql+psycopg://…``; plain ``postgresql://`` and
  ``postgres://`` are rewritten to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from regulars.errors import RegularsError

SQLITE_BUSY_TIMEOUT_MS = 5_000


def normalize_url(url: str | URL) -> URL:
    """Parse and check a database URL; pick psycopg 3 for PostgreSQL."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        raise RegularsError(
            f"'{url}' is not a database URL; use sqlite:///path.db or "
            "postgresql://user:password@host/dbname"
        ) from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if parsed.get_driver_name() not in ("pysqlite", ""):
            raise RegularsError(f"unsupported SQLite driver '{parsed.drivername}'; use sqlite://")
        return parsed
    raise RegularsError(
        f"unsupported database '{parsed.drivername}'; regulars runs on SQLite and PostgreSQL"
    )


def display_url(url: str | URL) -> str:
    """The URL with its password hidden, for messages."""
    return normalize_url(url).render_as_string(hide_password=True)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for ``url``; extra keyword arguments go to :func:`sqlalchemy.create_engine`.

    Raises :class:`~regulars.errors.RegularsError` for a malformed or unsupported URL.
    """
    parsed = normalize_url(url)
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise RegularsError(f"cannot use database {display_url(parsed)}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
    return engine


def checkpoint(engine: Engine) -> None:
    """After an erasure on SQLite: copy the write-ahead log into the database file and
    truncate it, so the erased values do not stay readable in the ``-wal`` file while the
    server runs (in the file itself ``secure_delete`` has zeroed them). Nothing on other
    databases (PostgreSQL: see docs/privacy.md on VACUUM)."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(bind: Engine | sessionmaker[Session]) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any error."""
    factory = session_factory(bind) if isinstance(bind, Engine) else bind
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
