"""The server secret: settings first, else a private file next to a SQLite database."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from regulars.config import Settings
from regulars.errors import RegularsError
from regulars.privacy import pseudonym, server_secret
from regulars.privacy.secret import secret_file


def test_pseudonym_is_hmac_sha256_of_the_customer_id() -> None:
    # RFC 4231 test case 2: HMAC-SHA256(key "Jefe", "what do ya want for nothing?").
    assert pseudonym(b"Jefe", "what do ya want for nothing?") == (
        "pseudonym:5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )
    assert pseudonym(b"k" * 32, "anna") != pseudonym(b"j" * 32, "anna")


def test_sqlite_secret_is_created_once_privately_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REGULARS_SECRET_KEY", raising=False)
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    first = server_secret(url)
    path = secret_file(url)
    assert path == tmp_path / "shop.db.secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) == 64
    assert server_secret(url) == first
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    other = server_secret(f"sqlite:///{tmp_path / 'other.db'}")
    assert other != first


def test_configured_secret_wins(tmp_path: Path) -> None:
    settings = Settings(secret_key=SecretStr("s" * 40))
    assert server_secret(f"sqlite:///{tmp_path / 'shop.db'}", settings) == b"s" * 40
    assert not (tmp_path / "shop.db.secret").exists()
    assert server_secret("postgresql://db.internal/shop", settings) == b"s" * 40


def test_environment_variable_sets_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGULARS_SECRET_KEY", "e" * 32)
    assert server_secret("postgresql://db.internal/shop") == b"e" * 32


def test_short_secret_and_postgresql_without_one_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REGULARS_SECRET_KEY", raising=False)
    with pytest.raises(RegularsError, match="at least 32"):
        server_secret("sqlite:///x.db", Settings(secret_key=SecretStr("short")))
    with pytest.raises(RegularsError, match="set REGULARS_SECRET_KEY"):
        server_secret("postgresql://user:hunter2@db.internal/shop")
    with pytest.raises(RegularsError) as refused:
        server_secret("postgresql://user:hunter2@db.internal/shop")
    assert "hunter2" not in str(refused.value)
    with pytest.raises(RegularsError, match="set REGULARS_SECRET_KEY"):
        server_secret("sqlite://")


def test_empty_secret_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGULARS_SECRET_KEY", raising=False)
    (tmp_path / "shop.db.secret").write_text("\n")
    with pytest.raises(RegularsError, match="too short or empty"):
        server_secret(f"sqlite:///{tmp_path / 'shop.db'}")
