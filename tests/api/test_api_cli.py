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
from regulars.store.models import ApiKey
from regulars.store.session import make_engine


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


def test_serve_runs_uvicorn_on_the_app(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    seen: dict[str, Any] = {}

    def fake_run(application: Any, **kwargs: Any) -> None:
        seen["app"] = application
        seen.update(kwargs)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    result = CliRunner().invoke(app, ["serve", "--url", db_url, "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert seen["host"] == "127.0.0.1"
    assert seen["port"] == 8123
    assert "/v1/orders" in seen["app"].openapi()["paths"]
