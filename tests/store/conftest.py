"""Store fixtures: every test taking ``store_engine`` or ``empty_engine`` runs on a SQLite
file and, when REGULARS_TEST_POSTGRES_URL is set, on PostgreSQL in a schema of its own
(created for the test and dropped after it, so tests can run in parallel and rerun)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from regulars.store.migrate import upgrade
from regulars.store.session import make_engine

POSTGRES_URL = os.environ.get("REGULARS_TEST_POSTGRES_URL")

_DATABASES = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not POSTGRES_URL, reason="REGULARS_TEST_POSTGRES_URL not set"),
        ],
    ),
]


@pytest.fixture(params=_DATABASES)
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database (no tables)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
        yield engine
        engine.dispose()
        return
    assert POSTGRES_URL
    schema = f"regulars_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store_engine(empty_engine: Engine) -> Engine:
    """An engine on a database migrated to head."""
    upgrade(empty_engine)
    return empty_engine
