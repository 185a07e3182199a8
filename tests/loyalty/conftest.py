"""Loyalty fixtures: a session on the migrated store (a SQLite file and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session


@pytest.fixture
def session(store_engine: Engine) -> Iterator[Session]:
    """A session on the migrated store; the test commits when it wants to."""
    with Session(store_engine, expire_on_commit=False) as s:
        yield s
