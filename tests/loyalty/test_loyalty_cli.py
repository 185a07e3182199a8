"""``regulars loyalty expire / balance / cancel-redemption / webhook-add / deliver`` on a
SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from loyalty_helpers import add_order, make_program
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from regulars.cli import app
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.points.redemption import redeem
from regulars.store.migrate import upgrade
from regulars.store.session import make_engine


def test_expire_balance_and_webhooks(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        make_program(session, config={"pending_days": 0, "expiry_days": 30})
        long_ago = datetime.now(UTC) - timedelta(days=40)
        on_order_recorded(session, add_order(session, "A1", "ann", "12.00", at=long_ago))
        recent = datetime.now(UTC) - timedelta(days=1)
        on_order_recorded(session, add_order(session, "A2", "ann", "5.00", at=recent))
        session.commit()
    engine.dispose()
    runner = CliRunner()
    expired = runner.invoke(app, ["loyalty", "expire", "--url", url])
    assert expired.exit_code == 0, expired.output
    assert "12 point(s) expired" in expired.output
    balance = runner.invoke(app, ["loyalty", "balance", "ann", "--url", url])
    assert "points" in balance.output
    assert " 5 " in balance.output
    added = runner.invoke(app, ["loyalty", "webhook-add", "http://127.0.0.1:9/x", "--url", url])
    assert added.exit_code == 0
    assert len(added.stdout.strip().splitlines()[-1]) >= 32  # the secret, alone on its line
    bad = runner.invoke(app, ["loyalty", "webhook-add", "ftp://x", "--url", url])
    assert bad.exit_code != 0


def test_cancel_redemption(tmp_path: Path) -> None:
    """ann earned 12, redeemed 5 through the API key 'abc123' under key 'pay': 7; the CLI
    cancels it (12), a second time answers the same, an unknown key fails in one line."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    with Session(engine) as session:
        program = make_program(session, config={"pending_days": 0})
        on_order_recorded(session, add_order(session, "A1", "ann", "12.00", at=now))
        redeem(session, program, "ann", 5, key="abc123:pay", actor="apikey:abc123", now=now)
        session.commit()
    engine.dispose()
    runner = CliRunner()
    args = ["loyalty", "cancel-redemption", "ann", "pay", "--api-key", "abc123", "--url", url]
    done = runner.invoke(app, [*args, "--reason", "payment declined"])
    assert done.exit_code == 0, done.output
    assert "cancelled: 5 point(s) given back" in done.output
    assert "balance 12" in done.output
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "was already cancelled: 5 point(s)" in again.output
    unknown = runner.invoke(app, ["loyalty", "cancel-redemption", "ann", "pay", "--url", url])
    assert unknown.exit_code != 0
    assert "no redemption with idempotency key 'pay'" in str(unknown.exception) + unknown.output
