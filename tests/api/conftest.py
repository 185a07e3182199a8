"""API fixtures: an app on a migrated SQLite file and, when REGULARS_TEST_POSTGRES_URL is
set, on PostgreSQL in a schema of its own; a helper that mints API keys."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from regulars.api import create_app
from regulars.api.keys import create_api_key
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

Headers = dict[str, str]


@pytest.fixture(params=_DATABASES)
def api_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database migrated to head."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'api.db'}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    assert POSTGRES_URL
    schema = f"regulars_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(
        POSTGRES_URL,
        connect_args={"options": f"-csearch_path={schema}"},
        pool_size=20,
        max_overflow=10,
    )
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def client(api_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(api_engine)) as test_client:
        yield test_client


@pytest.fixture
def auth(api_engine: Engine) -> Callable[..., Headers]:
    """``auth("orders:write", ...)``: headers carrying a fresh key with those scopes."""

    def make(*scopes: str) -> Headers:
        _row, key = create_api_key(api_engine, "test", scopes)
        return {"Authorization": f"Bearer {key}"}

    return make
