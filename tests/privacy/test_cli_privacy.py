"""The command line: apikey list/revoke (and create, audited), customer export/erase, audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from privacy_people import ANNA, OLD_ID, add_anna_and_bob
from sqlalchemy import func, select
from typer.testing import CliRunner

from regulars.api import create_app
from regulars.cli import app
from regulars.errors import RegularsError
from regulars.privacy import pseudonym, server_secret
from regulars.store.migrate import upgrade
from regulars.store.session import make_engine, session_scope
from regulars.store.tables import AuditEntry, Customer


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("REGULARS_SECRET_KEY", raising=False)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    return url


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def _create_key(db_url: str, scopes: str = "orders:write") -> str:
    return _run("apikey", "create", "--name", "pos", "--scopes", scopes, "--url", db_url)


def test_apikey_create_list_revoke_with_audit(db_url: str) -> None:
    key = _create_key(db_url).strip().splitlines()[-1]
    prefix, secret = key.split("_", 2)[1:]
    listed = json.loads(_run("apikey", "list", "--json", "--url", db_url))
    assert listed == [
        {
            "name": "pos",
            "prefix": prefix,
            "scopes": ["orders:write"],
            "created_at": listed[0]["created_at"],
            "revoked_at": None,
        }
    ]
    table = _run("apikey", "list", "--url", db_url)
    assert prefix in table
    assert secret not in table

    engine = make_engine(db_url)
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(engine)) as client:
        assert client.post("/v1/orders", json={}, headers=headers).status_code == 422
        assert "revoked" in _run("apikey", "revoke", prefix, "--url", db_url)
        assert client.post("/v1/orders", json={}, headers=headers).status_code == 401
    assert "already revoked" in _run("apikey", "revoke", prefix, "--url", db_url)
    assert json.loads(_run("apikey", "list", "--json", "--url", db_url))[0]["revoked_at"]

    entries = json.loads(_run("audit", "--json", "--url", db_url))
    assert [(e["actor"], e["action"], e["target_id"]) for e in entries] == [
        ("cli", "apikey.revoke", prefix),
        ("cli", "apikey.create", prefix),
    ]
    engine.dispose()


def test_revoking_an_unknown_prefix_is_a_clear_error(db_url: str) -> None:
    result = CliRunner().invoke(app, ["apikey", "revoke", "nope", "--url", db_url])
    assert isinstance(result.exception, RegularsError)
    assert "no API key with prefix 'nope'" in str(result.exception)


def test_customer_export_to_a_file_and_to_stdout(db_url: str, tmp_path: Path) -> None:
    add_anna_and_bob(make_engine(db_url))
    out = tmp_path / "export" / "anna.json"
    result = CliRunner().invoke(
        app, ["customer", "export", ANNA["customer_id"], "--url", db_url, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["tables"]["customers"][0]["email"] == ANNA["email"]
    assert document["tables"]["orders"][0]["amount"] == "59.80"
    printed = json.loads(_run("customer", "export", ANNA["customer_id"], "--url", db_url))
    assert printed["tables"] == document["tables"]


def test_customer_erase_asks_first_then_erases(db_url: str) -> None:
    engine = make_engine(db_url)
    add_anna_and_bob(engine)
    cid = ANNA["customer_id"]
    declined = CliRunner().invoke(app, ["customer", "erase", cid, "--url", db_url], input="n\n")
    assert declined.exit_code == 1
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 2

    erased = _run("customer", "erase", cid, "--url", db_url, "--yes")
    name = pseudonym(server_secret(db_url), cid)
    assert name in erased
    with session_scope(engine) as session:
        assert session.scalar(select(Customer.customer_id)) == "bob-1"
        erase = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "customer.erase")
        ).one()
    assert (erase.actor, erase.target_id) == ("cli", name)

    # "Was Anna erased?": --customer finds the entries by her pseudonym.
    about = json.loads(_run("audit", "--customer", cid, "--json", "--url", db_url))
    assert [e["action"] for e in about] == ["customer.erase", "customer.merge", "customer.update"]
    assert OLD_ID not in json.dumps(about)
    only = json.loads(_run("audit", "--action", "customer.erase", "--json", "--url", db_url))
    assert len(only) == 1
    table = _run("audit", "--limit", "1", "--url", db_url)
    assert "audit log: 1 entry" in table
    assert "cli" in table

    missing = CliRunner().invoke(app, ["customer", "erase", cid, "--url", db_url, "--yes"])
    assert isinstance(missing.exception, RegularsError)
    assert f"no customer '{cid}'" in str(missing.exception)
    engine.dispose()
