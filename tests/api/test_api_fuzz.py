"""Property-based fuzzing of the API from its own OpenAPI schema (schemathesis).

Every operation gets generated requests, valid and invalid, with an admin key, against a
SQLite store; no request may cause a server error, and every response must match what
the schema declares for its status code (problem details included).
"""

from __future__ import annotations

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

from regulars.api import create_app
from regulars.api.keys import create_api_key
from regulars.store.migrate import upgrade
from regulars.store.session import make_engine, session_factory

pytestmark = pytest.mark.slow

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
def admin_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'store.db'}"
    upgrade(url)
    engine = make_engine(url)
    APP.state.engine = engine
    APP.state.sessions = session_factory(engine)
    _row, key = create_api_key(engine, "fuzz", ["admin"])
    yield key
    engine.dispose()


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors_and_responses_match_the_schema(
    case: schemathesis.Case, admin_key: str
) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {admin_key}"}, checks=CHECKS)
