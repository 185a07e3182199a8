"""Privacy fixtures: an app on the store engine of tests/conftest.py (SQLite file and, when
REGULARS_TEST_POSTGRES_URL is set, PostgreSQL), API keys, the server secret, and one customer
with data in every customer table next to a bystander whose data must survive an erasure."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from privacy_people import ANNA, TEST_SECRET, add_anna_and_bob
from sqlalchemy import Engine

from regulars.api import create_app
from regulars.api.keys import create_api_key
from regulars.privacy import server_secret

Headers = dict[str, str]


@pytest.fixture(autouse=True)
def _secret_for_postgres(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL needs REGULARS_SECRET_KEY; SQLite tests use the file next to the database."""
    if "store_engine" not in request.fixturenames:
        return
    engine: Engine = request.getfixturevalue("store_engine")
    if engine.dialect.name == "postgresql":
        monkeypatch.setenv("REGULARS_SECRET_KEY", TEST_SECRET)
    else:
        monkeypatch.delenv("REGULARS_SECRET_KEY", raising=False)


@pytest.fixture
def secret(store_engine: Engine) -> bytes:
    return server_secret(store_engine.url)


@pytest.fixture
def client(store_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(store_engine)) as test_client:
        yield test_client


@pytest.fixture
def auth(store_engine: Engine) -> Callable[..., Headers]:
    """``auth("admin")``: headers carrying a fresh key with those scopes."""

    def make(*scopes: str) -> Headers:
        _row, key = create_api_key(store_engine, "test", scopes)
        return {"Authorization": f"Bearer {key}"}

    return make


@pytest.fixture
def anna(store_engine: Engine) -> dict[str, str]:
    """Anna (with an old merged id) and Bob, each with data everywhere; returns Anna."""
    add_anna_and_bob(store_engine)
    return ANNA
