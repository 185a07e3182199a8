"""Engines, URLs and the session scope."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from regulars.errors import RegularsError
from regulars.store.session import make_engine, normalize_url, session_scope
from regulars.store.tables import Customer


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:p@db.example:5432/shop",
        "postgres://u:p@db.example:5432/shop",
        "postgresql+psycopg://u:p@db.example:5432/shop",
    ],
)
def test_postgres_urls_use_psycopg_3(url: str) -> None:
    parsed = normalize_url(url)
    assert parsed.drivername == "postgresql+psycopg"
    assert parsed.database == "shop"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "is not a database URL"),
        ("mysql://u@host/db", "unsupported database 'mysql'"),
        ("sqlite+aiosqlite:///x.db", "unsupported SQLite driver"),
    ],
)
def test_bad_urls_are_user_errors(url: str, message: str) -> None:
    with pytest.raises(RegularsError, match=message):
        make_engine(url)


def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/wal.db")
    try:
        connections = [engine.connect(), engine.connect()]  # each new connection is set up
        for connection in connections:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            # Erased values are zeroed, not left in free pages (whatever the build default).
            assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
            connection.close()
    finally:
        engine.dispose()


def test_session_scope_commits_or_rolls_back(store_engine: Engine) -> None:
    with session_scope(store_engine) as session:
        session.add(Customer(customer_id="kept"))

    def fail_after_a_write() -> None:
        with session_scope(store_engine) as session:
            session.add(Customer(customer_id="dropped"))
            session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_after_a_write()
    with session_scope(store_engine) as session:
        ids = session.scalars(select(Customer.customer_id)).all()
        assert ids == ["kept"]
        assert session.scalar(select(func.count()).select_from(Customer)) == 1
