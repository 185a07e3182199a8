"""``regulars loyalty draw / settlement / causes-report`` on a SQLite file."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from loyalty_helpers import add_customer, add_order, make_program
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from regulars.cli import app
from regulars.loyalty.accounting.enrolment import enroll
from regulars.loyalty.catalogue import ProgramSpec, create_program
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.program_store import charity, partners
from regulars.store.migrate import upgrade
from regulars.store.session import make_engine

NOV = datetime(2026, 11, 5, tzinfo=UTC)


def _store(tmp_path: Path) -> str:
    """A coalition with one café sale (25.40 → 25 points, 25 × 0.008 = 0.20 owed to the
    program) and a 10-point payment there (10 × 0.01 = 0.10 owed to it): net 0.10. A
    charity donation of 30 points matched 1:1 (0.30 + 0.30 = 0.60). A November draw for
    one winner among ann and bob (both bought and opted in)."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        cafe = {
            "code": "cafe",
            "name": "Café",
            "earn_per_unit": "1",
            "issue_value": "0.008",
            "accepts_points": True,
            "redeem_value": "0.01",
        }
        city = create_program(
            session, ProgramSpec("city", "City", "coalition", {"partners": [cafe]})
        )
        add_customer(session, "ann")
        partners.record_sale(
            session, city, "ann", "cafe", "S1", Decimal("25.40"), actor="t", at=NOV
        )
        partners.record_redemption(session, city, "ann", "cafe", "R1", 10, actor="t", now=NOV)
        stars = make_program(session, config={"pending_days": 0})
        give = create_program(
            session,
            ProgramSpec(
                "give",
                "Give",
                "charity",
                {"point_value": "0.01", "causes": [{"code": "trees", "name": "Trees"}]},
            ),
        )
        on_order_recorded(session, add_order(session, "A1", "ann", "50.00", at=NOV))
        on_order_recorded(session, add_order(session, "B1", "bob", "20.00", at=NOV))
        charity.donate(session, give, stars, "ann", "trees", 30, "D1", actor="t", now=NOV)
        draw = create_program(
            session,
            ProgramSpec(
                "nov",
                "November draw",
                "draw",
                {
                    "code": "nov",
                    "starts_at": "2026-11-01T00:00:00Z",
                    "ends_at": "2026-12-01T00:00:00Z",
                    "winners": 1,
                    "prize": "mug",
                },
            ),
        )
        enroll(session, draw, "ann")
        enroll(session, draw, "bob")
        session.commit()
    engine.dispose()
    return url


def test_settlement_causes_report_and_draw(tmp_path: Path) -> None:
    url = _store(tmp_path)
    runner = CliRunner()
    period = ["--start", "2026-11-01", "--end", "2026-12-01", "--url", url, "--json"]
    settled = runner.invoke(app, ["loyalty", "settlement", "--partner", "cafe", *period])
    assert settled.exit_code == 0, settled.output
    [line] = json.loads(settled.output)
    assert (line["owed_to_program"], line["owed_to_partner"], line["net"]) == (
        "0.20",
        "0.10",
        "0.10",
    )
    causes = runner.invoke(app, ["loyalty", "causes-report", *period])
    assert json.loads(causes.output)[0]["total_value"] == "0.60"
    october = runner.invoke(
        app, ["loyalty", "settlement", "--start", "2026-10-01", "--end", "2026-11-01", "--url", url]
    )
    assert "0.00" in october.output

    drawn = runner.invoke(app, ["loyalty", "draw", "nov", "--seed", "abc", "--url", url, "--json"])
    assert drawn.exit_code == 0, drawn.output
    winner = min(["ann", "bob"], key=lambda c: hashlib.sha256(f"abc\n{c}".encode()).hexdigest())
    assert json.loads(drawn.output)["winners"][0][1] == winner
    verified = runner.invoke(app, ["loyalty", "draw", "nov", "--verify", "--url", url])
    assert "re-run: same winners" in verified.output
    bad = runner.invoke(
        app, ["loyalty", "settlement", "--start", "2026-12-01", "--end", "2026-11-01", "--url", url]
    )
    assert bad.exit_code != 0
