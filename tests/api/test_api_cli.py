"""``regulars apikey create`` and ``regulars serve``."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from regulars.api import create_app
from regulars.cli import app
from regulars.errors import RegularsError
from regulars.store.migrate import upgrade
from regulars.store.session import make_engine
from regulars.store.tables import ApiKey


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    return url


def test_apikey_create_prints_the_key_last_and_stores_only_its_hash(db_url: str) -> None:
    result = CliRunner().invoke(
        app,
        ["apikey", "create", "--name", "checkout", "--scopes", "orders:write,customers:read"],
        env={"REGULARS_DATABASE_URL": db_url},
    )
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    _rg, prefix, secret = key.split("_", 2)
    assert _rg == "rg"

    engine = make_engine(db_url)
    with engine.connect() as conn:
        row = conn.execute(select(ApiKey)).one()
        dump = " ".join(str(v) for v in row)
    assert row.name == "checkout"
    assert row.prefix == prefix
    assert row.scopes == ["customers:read", "orders:write"]
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in dump
    assert key not in dump

    with TestClient(create_app(engine)) as client:
        headers = {"Authorization": f"Bearer {key}"}
        assert client.get("/v1/customers/x", headers=headers).status_code == 404
    engine.dispose()


def test_apikey_create_refuses_unknown_scopes(db_url: str) -> None:
    result = CliRunner().invoke(
        app, ["apikey", "create", "--name", "x", "--scopes", "everything", "--url", db_url]
    )
    assert isinstance(result.exception, RegularsError)
    assert "unknown scope" in str(result.exception)


def test_apikey_create_needs_a_migrated_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = CliRunner().invoke(
        app, ["apikey", "create", "--name", "x", "--scopes", "admin", "--url", url]
    )
    assert isinstance(result.exception, RegularsError)
    assert "db upgrade" in str(result.exception)


def test_serve_runs_uvicorn_on_the_app_factory(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``serve`` hands uvicorn the import string of ``create_app`` (so that every worker
    process builds its own app) and the store through the environment the workers
    inherit; the factory then serves that store."""
    import uvicorn

    from regulars.web.app import APP_FACTORY
    from regulars.web.app import create_app as create_web_app

    seen: dict[str, Any] = {}

    def fake_run(application: Any, **kwargs: Any) -> None:
        seen["app"] = application
        seen.update(kwargs)
        seen["app_built"] = create_web_app()  # as a worker does, from the environment

    monkeypatch.setattr(uvicorn, "run", fake_run)
    result = CliRunner().invoke(
        app,
        ["serve", "--url", db_url, "--port", "8123", "--workers", "3", "--no-access-log"],
        env={"REGULARS_DATABASE_URL": None},  # restored afterwards
    )
    assert result.exit_code == 0, result.output
    assert seen["app"] == APP_FACTORY == "regulars.web.app:create_app"
    assert seen["factory"] is True
    assert (seen["host"], seen["port"], seen["workers"]) == ("127.0.0.1", 8123, 3)
    assert seen["access_log"] is False
    assert "with 3 worker processes" in result.stderr
    built = seen["app_built"]
    assert str(built.state.engine.url) == db_url
    assert "/v1/orders" in built.openapi()["paths"]
    with TestClient(built) as client:  # and the pages
        assert client.get("/login").status_code == 200
    built.state.engine.dispose()


def test_serve_defaults_to_one_worker_with_an_access_log(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda application, **kwargs: seen.update(kwargs))
    result = CliRunner().invoke(
        app, ["serve", "--url", db_url], env={"REGULARS_DATABASE_URL": None}
    )
    assert result.exit_code == 0, result.output
    assert (seen["workers"], seen["access_log"], seen["port"]) == (1, True, 8000)


def test_serve_refuses_zero_workers(db_url: str) -> None:
    result = CliRunner().invoke(app, ["serve", "--url", db_url, "--workers", "0"])
    assert result.exit_code == 2
    assert "--workers" in result.output


def test_the_factory_app_closes_its_engine_at_shutdown(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``create_app()`` owns the engine it opened from the settings; one passed in stays
    the caller's."""
    monkeypatch.setenv("REGULARS_DATABASE_URL", db_url)
    monkeypatch.setenv("REGULARS_DATABASE_POOL_SIZE", "3")
    unknown_key = {"Authorization": "Bearer rg_unknown_secret"}  # looked up: a connection
    owned = create_app()
    assert owned.state.engine.pool.size() == 3
    with TestClient(owned) as client:
        assert client.get("/v1/customers", headers=unknown_key).status_code == 401
        assert owned.state.engine.pool.checkedin() == 1
    assert owned.state.engine.pool.checkedin() == 0  # disposed
    engine = make_engine(db_url)
    with TestClient(create_app(engine)) as client:
        assert client.get("/v1/customers", headers=unknown_key).status_code == 401
    assert engine.pool.checkedin() == 1  # left open for its owner
    engine.dispose()
