"""Economics of the live ledger, on a small ledger built through the service functions and
worked out by hand (service, API, CLI)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient
from loyalty_helpers import add_order, add_return, make_program
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from regulars.api import create_app
from regulars.api.keys import create_api_key
from regulars.cli import app
from regulars.config import Settings
from regulars.loyalty.catalogue import find_program
from regulars.loyalty.economics.ledger_mapping import program_economics
from regulars.loyalty.importing import import_history
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.points.expiry import expire_due
from regulars.loyalty.points.redemption import adjust, redeem
from regulars.loyalty.points.returns import on_return_recorded
from regulars.store.migrate import upgrade
from regulars.store.session import make_engine

BERLIN = Settings(timezone="Europe/Berlin")
START, END = date(2026, 1, 1), date(2026, 4, 1)


def _noon(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 12, tzinfo=UTC)


def _ledger(engine: Engine) -> None:
    """1 point per unit, worth 0.01, lots live 30 days.

    * 5 Jan: ann's A1 of 100.00 earns 100 (lot until 4 Feb); 10 Jan: she redeems 40.
    * 20 Jan: bob's B1 of 50.00 earns 50 (lot until 19 Feb); 25 Jan: half of it comes
      back: 50 − floor(50 × 25 / 50) = 25 reversed.
    * 10 Feb: expiry of ann's lot, 60 left; 15 Feb: bob gets 10 as goodwill.
    * 1 Mar: expiry of bob's lot, 25 left.
    """
    with Session(engine, expire_on_commit=False) as session:
        stars = make_program(session, "stars", config={"pending_days": 0, "expiry_days": 30})
        on_order_recorded(session, add_order(session, "A1", "ann", "100.00", at=_noon(1, 5)))
        redeem(session, stars, "ann", 40, key="r1", actor="pos", now=_noon(1, 10))
        b1 = add_order(session, "B1", "bob", "50.00", at=_noon(1, 20))
        on_order_recorded(session, b1)
        ret = add_return(session, "R1", b1, "25.00", at=_noon(1, 25))
        on_return_recorded(session, ret, now=_noon(1, 25))
        session.commit()
    assert expire_due(engine, _noon(2, 10)) == 60
    with Session(engine, expire_on_commit=False) as session:
        program = find_program(session, "stars")
        assert program is not None
        adjust(
            session,
            program,
            "bob",
            10,
            reason="goodwill",
            actor="cli",
            key="g1",
            now=_noon(2, 15),
        )
        session.commit()
    assert expire_due(engine, _noon(3, 1)) == 25


def test_live_economics_by_hand(store_engine: Engine) -> None:
    _ledger(store_engine)
    result = program_economics(store_engine, "stars", START, END, settings=BERLIN)
    assert result.outstanding_points == 10
    assert result.liability == Decimal("0.10")
    assert result.reward_cost == Decimal("0.40")  # 40 redeemed × 0.01
    flow = [
        (r.period_start, r.issued, r.redeemed, r.expired, r.reversed, r.adjusted, r.outstanding_end)
        for r in result.flow
    ]
    assert flow == [
        (date(2026, 1, 1), 150, 40, 0, 25, 0, 85),
        # An expiry takes effect when the lot expires (4 and 19 February), not when the
        # nightly job books it.
        (date(2026, 2, 1), 0, 0, 85, 0, 10, 10),
        (date(2026, 3, 1), 0, 0, 0, 0, 0, 10),
    ]
    assert [r.liability_end for r in result.flow] == [
        Decimal("0.85"),
        Decimal("0.10"),
        Decimal("0.10"),
    ]
    # Both earn lots ended: ann's 100 (60 expired, 40 redeemed), bob's 50 (25 reversed,
    # 25 expired); breakage = 85 / (85 + 40) = 0.68. The goodwill lot is no earning.
    b = result.breakage
    assert (b.lots, b.earned, b.expired, b.redeemed, b.reversed) == (2, 150, 85, 40, 25)
    assert b.rate == 0.68


def test_live_economics_over_http(store_engine: Engine) -> None:
    _ledger(store_engine)
    with TestClient(create_app(store_engine)) as client:
        _row, key = create_api_key(store_engine, "bi", ["loyalty:read"])
        client.headers["Authorization"] = f"Bearer {key}"
        response = client.get(
            "/v1/loyalty/programs/stars/economics", params={"start": START, "end": END}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["outstanding_points"], body["liability"]) == (10, "0.10")
        assert [r["issued"] for r in body["flow"]] == [150, 0, 0]
        assert body["breakage"]["rate"] == 0.68
        missing = client.get("/v1/loyalty/programs/nope/economics")
        assert missing.status_code == 404


def test_live_economics_cli(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    upgrade(url)
    engine = make_engine(url)
    _ledger(engine)
    engine.dispose()
    args = ["loyalty", "economics", "--program", "stars", "--url", url]
    period = ["--start", "2026-01-01", "--end", "2026-04-01"]
    result = CliRunner().invoke(app, [*args, *period, "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["reward_cost"] == "0.40"
    assert body["flow"][1]["expired"] == 85
    table = CliRunner().invoke(app, [*args, *period])
    assert table.exit_code == 0, table.output
    assert "breakage" in table.stdout


def test_imported_lots_are_earnings_in_the_flow_and_in_breakage(
    store_engine: Engine, tmp_path: Path
) -> None:
    """Besides the ledger above, cy's history is imported: 30 points earned on 3 Jan,
    expiring on 2 Feb, none spent; the expiry takes them. They are issued in January and
    an ended lot of breakage (30 more expired), not an adjustment."""
    _ledger(store_engine)
    history = tmp_path / "history.csv"
    history.write_text(
        "customer_id,points,occurred_at,expires_at,kind\n"
        "cy,30,2026-01-03T12:00:00Z,2026-02-02T12:00:00Z,import\n",
        encoding="utf-8",
    )
    import_history(store_engine, history, "stars")
    assert expire_due(store_engine, _noon(3, 2)) == 30
    result = program_economics(store_engine, "stars", START, END, settings=BERLIN)
    january, february, _march = result.flow
    assert (january.issued, january.adjusted) == (180, 0)
    assert february.expired == 85 + 30
    b = result.breakage
    assert (b.lots, b.earned, b.expired, b.redeemed) == (3, 180, 115, 40)


def test_the_cli_table_adds_up(tmp_path: Path) -> None:
    """Every month's outstanding = the line above + issued − redeemed − expired − reversed
    + recredited + adjusted, from an opening line."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    upgrade(url)
    engine = make_engine(url)
    _ledger(engine)
    engine.dispose()
    args = ["loyalty", "economics", "--program", "stars", "--url", url]
    period = ["--start", "2026-02-01", "--end", "2026-04-01"]
    table = CliRunner().invoke(app, [*args, *period], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    rows = [
        [cell.strip().replace(",", "") for cell in line.split("│")[1:-1]]
        for line in table.stdout.splitlines()
        if line.startswith("│") and ("opening" in line or "2026-" in line)
    ]
    assert rows[0][0] == "opening"
    outstanding = int(rows[0][-1])
    assert outstanding == 85  # the balance at the end of January
    for row in rows[1:]:
        issued, redeemed, expired, reversed_, recredited, adjusted = map(int, row[1:7])
        outstanding += issued - redeemed - expired - reversed_ + recredited + adjusted
        assert int(row[-1]) == outstanding
    assert outstanding == 10
