"""``regulars loyalty import``: historical balances into the ledger, bad rows rejected."""

from __future__ import annotations

import csv
from pathlib import Path

from loyalty_helpers import make_program
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from regulars.cli import app
from regulars.loyalty.importing import import_history
from regulars.loyalty.points.views import account_view
from regulars.store.migrate import upgrade
from regulars.store.session import make_engine

GOOD = """customer_id,points,occurred_at,expires_at,kind
ann,500,2025-01-01T00:00:00Z,2030-01-01T00:00:00Z,import
ann,-120,2025-02-01T00:00:00+01:00,,spend
bob,40,2025-03-01T00:00:00Z,,earn
"""
BAD = """customer_id,points,occurred_at,expires_at,kind
,5,2025-01-01T00:00:00Z,,import
carl,ten,2025-01-01T00:00:00Z,,import
carl,5,2025-01-01,,import
carl,-5,2025-01-01T00:00:00Z,,earn
carl,-5,2025-01-01T00:00:00Z,,spend
carl,7,2025-01-01T00:00:00Z,,import
=HYPERLINK(""http://x""),ten,2025-01-01T00:00:00Z,,import
carl,5,9999-12-31T23:59:59-05:00,,import
"""


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_import_is_idempotent_and_applies_debits(
    store_engine: Engine, session: Session, tmp_path: Path
) -> None:
    program = make_program(session)
    path = tmp_path / "history.csv"
    path.write_text(GOOD)
    assert import_history(store_engine, path, "points").written == 3
    assert import_history(store_engine, path, "points").replayed == 3
    session.expire_all()
    assert account_view(session, program, "ann").balance == 380
    assert account_view(session, program, "bob").balance == 40


def test_cli_rejects_bad_rows_naming_row_and_column(tmp_path: Path) -> None:
    # The CLI gets a URL: a SQLite file (a test schema on PostgreSQL has no URL of its own).
    store_engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(store_engine)
    session = Session(store_engine)
    program = make_program(session)
    path, rejects = tmp_path / "bad.csv", tmp_path / "rejects.csv"
    path.write_text(BAD)
    args = ["loyalty", "import", str(path), "--program", "points", "--url", _url(store_engine)]
    result = CliRunner().invoke(app, [*args, "--rejects", str(rejects)])
    assert result.exit_code == 0, result.output
    assert "1 imported" in result.output
    with rejects.open(encoding="utf-8-sig") as handle:
        found = list(csv.DictReader(handle))
    rows = [(r["row"], r["column"]) for r in found]
    assert found[-2]["customer_id"].startswith("'=")  # no formula in a spreadsheet
    assert rows == [
        ("2", "customer_id"),
        ("3", "points"),
        ("4", "occurred_at"),
        ("5", "kind"),
        ("6", "points"),  # a debit the balance does not cover
        ("8", "points"),
        ("9", "occurred_at"),  # outside the accepted range
    ]
    session.expire_all()
    assert account_view(session, program, "carl").balance == 7
    session.close()
    store_engine.dispose()
