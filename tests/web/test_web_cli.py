"""``regulars user create|reset-password``: logins for the web app from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from regulars.cli import app
from regulars.errors import RegularsError
from regulars.store.migrate import upgrade
from regulars.store.session import make_engine, session_scope
from regulars.store.tables import AuditEntry, User
from regulars.web.users import authenticate


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def _login_works(url: str, username: str, password: str) -> bool:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return authenticate(session, username, password).user is not None
    finally:
        engine.dispose()


def test_create_asks_for_the_password_twice_and_hashes_it(db_url: str) -> None:
    result = CliRunner().invoke(
        app,
        ["user", "create", "Anna", "--role", "marketer", "--url", db_url],
        input="a long password\na long password\n",
    )
    assert result.exit_code == 0, result.output
    assert "user 'anna' (marketer) created" in result.stdout
    assert "a long password" not in result.stdout  # not echoed
    engine = make_engine(db_url)
    with session_scope(engine) as session:
        user = session.scalars(select(User)).one()
        assert user.password_hash.startswith("$argon2")
        audit = session.execute(select(AuditEntry.actor, AuditEntry.action)).all()
    engine.dispose()
    assert audit == [("cli", "user.create")]
    assert _login_works(db_url, "ANNA", "a long password")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "boss", "--password", "a long password"], "unknown role 'boss'"),
        (["--password", "short"], "at least 10 characters"),
    ],
)
def test_create_refuses_bad_input(db_url: str, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["user", "create", "bob", *args, "--url", db_url])
    assert isinstance(result.exception, RegularsError)
    assert message in str(result.exception)


def test_a_taken_name_and_a_reset(db_url: str) -> None:
    runner = CliRunner()
    create = ["user", "create", "bob", "--password", "first password", "--url", db_url]
    assert runner.invoke(app, create).exit_code == 0
    again = runner.invoke(app, create)
    assert isinstance(again.exception, RegularsError)
    assert "exists" in str(again.exception)
    reset = runner.invoke(
        app, ["user", "reset-password", "bob", "--password", "second password", "--url", db_url]
    )
    assert reset.exit_code == 0, reset.output
    assert not _login_works(db_url, "bob", "first password")
    assert _login_works(db_url, "bob", "second password")
    missing = runner.invoke(
        app, ["user", "reset-password", "nobody", "--password", "x" * 12, "--url", db_url]
    )
    assert "no user 'nobody'" in str(missing.exception)
