"""Control groups of a live program: held-out customers are never enrolled and earn
nothing; the effect compares members with them on the store's orders (service, API, CLI)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from loyalty_helpers import add_order, make_program
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from regulars.api import create_app
from regulars.api.keys import create_api_key
from regulars.cli import app
from regulars.errors import RegularsError
from regulars.loyalty.accounting.control import in_control_group
from regulars.loyalty.economics.effect import program_effect
from regulars.loyalty.errors import ControlGroupError
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.points.redemption import redeem
from regulars.loyalty.points.views import account_view
from regulars.loyalty.tables import LoyaltyAccount, LoyaltyProgram
from regulars.store.migrate import upgrade
from regulars.store.session import make_engine

CUSTOMERS = [f"c{i:02d}" for i in range(20)]
CONTROL = [c for c in CUSTOMERS if in_control_group(c, "stars", 0.5)]
MEMBERS = [c for c in CUSTOMERS if c not in CONTROL]
START, END = date(2026, 1, 1), date(2026, 2, 1)


def _shop(engine: Engine) -> None:
    """Everyone bought 20.00 in December; in January every other member buys 30.00 and the
    first control customer 10.00."""
    with Session(engine, expire_on_commit=False) as session:
        make_program(session, "stars", config={"pending_days": 0, "control_share": "0.5"})
        for c in CUSTOMERS:
            at = datetime(2025, 12, 1, 12, tzinfo=UTC)
            on_order_recorded(session, add_order(session, f"D-{c}", c, "20.00", at=at))
        for c in [*MEMBERS[::2], CONTROL[0]]:
            amount = "10.00" if c in CONTROL else "30.00"
            at = datetime(2026, 1, 15, 12, tzinfo=UTC)
            on_order_recorded(session, add_order(session, f"J-{c}", c, amount, at=at))
        session.commit()


def test_the_split_is_stable_and_not_degenerate() -> None:
    assert 5 <= len(CONTROL) <= 15
    assert [c for c in CUSTOMERS if in_control_group(c, "stars", 0.5)] == CONTROL


def test_control_customers_get_no_account_and_earn_nothing(store_engine: Engine) -> None:
    _shop(store_engine)
    with Session(store_engine) as session:
        holders = set(session.scalars(select(LoyaltyAccount.customer_id)))
        assert holders == set(MEMBERS)
        stars = session.scalars(select(LoyaltyProgram)).one()
        assert account_view(session, stars, CONTROL[0]).state == "control"
        assert account_view(session, stars, MEMBERS[0]).state == "active"
        assert account_view(session, stars, MEMBERS[0]).balance == 50  # 20 + 30
        with pytest.raises(ControlGroupError, match="control group of program 'stars'"):
            redeem(session, stars, CONTROL[0], 1, key="k", actor="pos")


def test_a_share_of_zero_holds_nobody_out(store_engine: Engine) -> None:
    with Session(store_engine) as session:
        make_program(session, "stars", config={"pending_days": 0})
        for c in CONTROL:
            on_order_recorded(session, add_order(session, f"D-{c}", c, "20.00"))
        session.commit()
        assert set(session.scalars(select(LoyaltyAccount.customer_id))) == set(CONTROL)
        with pytest.raises(RegularsError, match="no control group"):
            program_effect(store_engine, "stars", START, END)


def _expected() -> dict[str, float]:
    """By hand: members bought in January ⌈m/2⌉ times 30.00, control once 10.00."""
    buyers = len(MEMBERS[::2])
    return {
        "p_t": buyers / len(MEMBERS),
        "p_c": 1 / len(CONTROL),
        "m_t": 30 * buyers / len(MEMBERS),
        "m_c": 10 / len(CONTROL),
    }


def test_effect_members_against_control(store_engine: Engine) -> None:
    _shop(store_engine)
    effect = program_effect(store_engine, "stars", START, END)
    want = _expected()
    assert (effect.members.customers, effect.control.customers) == (len(MEMBERS), len(CONTROL))
    assert effect.repeat_rate_diff.estimate == pytest.approx(want["p_t"] - want["p_c"])
    assert effect.revenue_per_customer_diff.estimate == pytest.approx(want["m_t"] - want["m_c"])
    assert effect.incremental_revenue == pytest.approx((want["m_t"] - want["m_c"]) * len(MEMBERS))
    low, high = effect.repeat_rate_diff.low, effect.repeat_rate_diff.high
    assert low is not None
    assert high is not None
    assert -1 <= low < effect.repeat_rate_diff.estimate < high <= 1

    with TestClient(create_app(store_engine)) as client:
        _row, key = create_api_key(store_engine, "bi", ["loyalty:read", "loyalty:write"])
        client.headers["Authorization"] = f"Bearer {key}"
        response = client.get(
            "/v1/loyalty/programs/stars/effect", params={"start": START, "end": END}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["members"]["customers"] == len(MEMBERS)
        assert body["repeat_rate_diff"]["estimate"] == pytest.approx(want["p_t"] - want["p_c"])
        unknown = client.get(
            "/v1/loyalty/programs/nope/effect", params={"start": START, "end": END}
        )
        assert unknown.status_code == 404
        empty = client.get("/v1/loyalty/programs/stars/effect", params={"start": END, "end": START})
        assert empty.status_code == 422
        held = client.get(f"/v1/loyalty/accounts/{CONTROL[0]}").json()
        assert (held["state"], held["balance"]) == ("control", 0)
        refused = client.post(
            f"/v1/loyalty/accounts/{CONTROL[0]}/redeem",
            json={"points": 1},
            headers={"Idempotency-Key": "k1"},
        )
        assert refused.status_code == 409
        assert refused.json()["type"].endswith("control-group")


def test_effect_cli(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    upgrade(url)
    engine = make_engine(url)
    _shop(engine)
    engine.dispose()
    args = [
        "loyalty",
        "effect",
        "--program",
        "stars",
        "--start",
        "2026-01-01",
        "--end",
        "2026-02-01",
    ]
    result = CliRunner().invoke(app, [*args, "--url", url, "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    want = _expected()
    assert body["control"]["customers"] == len(CONTROL)
    assert body["revenue_per_customer_diff"]["estimate"] == pytest.approx(want["m_t"] - want["m_c"])
    table = CliRunner().invoke(app, [*args, "--url", url])
    assert table.exit_code == 0, table.output
    assert "incremental repeat rate" in table.stdout
    # A difference of two rates is in percentage points, never in percent.
    said = " ".join(table.stdout.split())
    rate = said.split("incremental repeat rate ")[1].split(";")[0]
    assert rate.split(" (")[0].endswith("percentage points")
    assert rate.endswith("percentage points)")


def test_effect_refuses_a_period_before_the_launch(store_engine: Engine) -> None:
    """The program launched on 2020-01-01: 2019 is before anything it did."""
    _shop(store_engine)
    with pytest.raises(RegularsError, match="before program 'stars' launched on 2020-01-01"):
        program_effect(store_engine, "stars", date(2019, 6, 1), date(2020, 2, 1))
