"""``regulars db upgrade`` / ``regulars db current``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from regulars.cli import app
from regulars.store.migrate import current_revision, head_revision


def test_db_upgrade_creates_and_migrates_a_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    runner = CliRunner()
    before = runner.invoke(app, ["db", "current", "--url", url])
    assert before.exit_code == 0, before.output
    assert "none" in before.output

    result = runner.invoke(app, ["db", "upgrade", "--url", url])
    assert result.exit_code == 0, result.output
    assert f"revision {head_revision()}" in result.output
    assert current_revision(url) == head_revision()

    after = runner.invoke(app, ["db", "current", "--url", url])
    assert "up to date" in after.output


def test_db_upgrade_uses_the_configured_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'configured.db'}"
    monkeypatch.setenv("REGULARS_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert current_revision(url) == head_revision()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nonsense", "is not a database URL"),
        ("oracle://scott:tiger@host/db", "unsupported database"),
        ("sqlite:////nonexistent-dir/x/shop.db", "cannot connect to database"),
    ],
)
def test_bad_database_url_is_a_clean_error(url: str, message: str) -> None:
    command = [sys.executable, "-c", "from regulars.cli import main; main()"]
    run = subprocess.run(
        [*command, "db", "upgrade", "--url", url],
        capture_output=True,
        text=True,
        check=False,
        env={"COLUMNS": "200", "PATH": ""},
    )
    assert run.returncode == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr
