"""Property-based fuzzing of the API from its own OpenAPI schema (schemathesis).

Every operation gets generated requests, valid and invalid, with an admin key, against a
SQLite store; no request may cause a server error, and every response must match what
the schema declares for its status code (problem details included).

``make fuzz`` (a step of CI) runs it longer and on PostgreSQL too:
``REGULARS_FUZZ_EXAMPLES`` (default 25) examples per operation, on the database of
``REGULARS_FUZZ_DATABASE`` (``sqlite``, the default, or ``postgresql``: a fresh schema of
the test server, see tests/conftest.py).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine, text

from regulars.api import create_app
from regulars.api.keys import create_api_key
from regulars.store.migrate import upgrade
from regulars.store.session import make_engine, session_factory

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("REGULARS_FUZZ_EXAMPLES", "25"))
DATABASE = os.environ.get("REGULARS_FUZZ_DATABASE", "sqlite")
# tests/conftest.py sets it when the local server answers.
POSTGRES_URL = os.environ.get("REGULARS_TEST_POSTGRES_URL")

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


# The schema is read at import time from an app without a store; the fixture below gives
# that same app a migrated store (and a key) before the first request.
APP = create_app(make_engine("sqlite://"))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def fuzz_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated store on the database of ``REGULARS_FUZZ_DATABASE``."""
    if DATABASE == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'store.db'}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    assert DATABASE == "postgresql", f"unknown REGULARS_FUZZ_DATABASE {DATABASE!r}"
    assert POSTGRES_URL, "PostgreSQL is not available"
    schema = f"regulars_fuzz_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        upgrade(engine)
        # The server secret a PostgreSQL deployment sets (a SQLite store keeps its own).
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("REGULARS_SECRET_KEY", "fuzz-secret-" + "0" * 32)
            yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def admin_key(fuzz_engine: Engine) -> str:
    APP.state.engine = fuzz_engine
    APP.state.sessions = session_factory(fuzz_engine)
    _row, key = create_api_key(fuzz_engine, "fuzz", ["admin"])
    return key


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors_and_responses_match_the_schema(
    case: schemathesis.Case, admin_key: str
) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {admin_key}"}, checks=CHECKS)
