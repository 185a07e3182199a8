"""API fixtures: an app on the store engine of tests/conftest.py (a migrated SQLite file
and, when REGULARS_TEST_POSTGRES_URL is set, PostgreSQL); a helper that mints API keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from regulars.api import create_app
from regulars.api.keys import create_api_key

Headers = dict[str, str]


@pytest.fixture
def client(store_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(store_engine)) as test_client:
        yield test_client


@pytest.fixture
def auth(store_engine: Engine) -> Callable[..., Headers]:
    """``auth("orders:write", ...)``: headers carrying a fresh key with those scopes."""

    def make(*scopes: str) -> Headers:
        _row, key = create_api_key(store_engine, "test", scopes)
        return {"Authorization": f"Bearer {key}"}

    return make
