"""Customer merges keep loyalty points: the survivor holds the sum of both balances, the
ledger invariants hold, and the duplicate's history (returns included) goes on working."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from loyalty_helpers import T0, add_order, add_return, check_ledger, make_program
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from regulars.api import create_app
from regulars.api.keys import create_api_key
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.points.redemption import adjust, redeem
from regulars.loyalty.points.returns import on_return_recorded
from regulars.loyalty.points.views import account_view
from regulars.loyalty.tables import LoyaltyAccount, LoyaltyEntry, LoyaltyLot, LoyaltyProgram

NOW = T0 + timedelta(days=30)
NO_PENDING = {"pending_days": 0}


@pytest.fixture
def client(store_engine: Engine) -> Iterator[TestClient]:
    scopes = ["customers:write", "customers:read", "orders:write", "loyalty:read"]
    with TestClient(create_app(store_engine)) as test_client:
        _row, key = create_api_key(store_engine, "crm", scopes)
        test_client.headers["Authorization"] = f"Bearer {key}"
        yield test_client


def _balances(session: Session) -> dict[tuple[str, str | None], int]:
    rows = session.execute(
        select(LoyaltyProgram.code, LoyaltyAccount.customer_id, LoyaltyAccount.balance)
        .join(LoyaltyProgram, LoyaltyProgram.id == LoyaltyAccount.program_id)
        .execution_options(populate_existing=True)
    )
    return {(code, customer): balance for code, customer, balance in rows}


def _count(session: Session, model: type[LoyaltyEntry] | type[LoyaltyLot]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _merge(client: TestClient) -> None:
    response = client.post("/v1/customers/ann/merge", json={"duplicate_id": "bob"})
    assert response.status_code == 200, response.text


def test_merge_moves_the_ledger_and_rekeys_a_lone_account(
    client: TestClient, store_engine: Engine
) -> None:
    """stars: ann 100 − 30 = 70, bob 50 − 20 = 30 (both redeemed under key 'k1');
    club (started after ann's order): only bob, 50. After the merge ann has 100 stars and
    the 50 club points; returning half of bob's old order B1 then reverses 25 in each."""
    with Session(store_engine, expire_on_commit=False) as session:
        stars = make_program(session, "stars", config=NO_PENDING)
        make_program(session, "club", config=NO_PENDING, starts_at=T0 + timedelta(days=5))
        on_order_recorded(session, add_order(session, "A1", "ann", "100.00"))
        on_order_recorded(session, add_order(session, "B1", "bob", "50.00", at=T0 + timedelta(10)))
        redeem(session, stars, "ann", 30, key="k1", actor="pos", now=NOW)
        redeem(session, stars, "bob", 20, key="k1", actor="pos", now=NOW)
        session.commit()
        assert _balances(session) == {
            ("stars", "ann"): 70,
            ("stars", "bob"): 30,
            ("club", "bob"): 50,
        }
        entries, lots = _count(session, LoyaltyEntry), _count(session, LoyaltyLot)

    _merge(client)
    _merge(client)  # idempotent: merged before, nothing changes
    with Session(store_engine) as session:
        assert _balances(session) == {("stars", "ann"): 100, ("club", "ann"): 50}
        assert (_count(session, LoyaltyEntry), _count(session, LoyaltyLot)) == (entries, lots)
        keys = session.scalars(
            select(LoyaltyEntry.idempotency_key).where(LoyaltyEntry.kind == "spend")
        ).all()
        # Both used the key 'k1': the duplicate's is kept under a prefixed key.
        prefixed, kept = sorted(keys)
        assert kept == "redeem:k1"
        assert re.fullmatch(r"merged:\d+:redeem:k1", prefixed)
        check_ledger(session)

    ret = {
        "shop_id": "default",
        "return_id": "R-B1",
        "order_id": "B1",
        "returned_at": "2026-02-05T10:00:00Z",
        "amount": "25.00",
    }
    assert client.post("/v1/returns", json=ret).status_code == 201
    with Session(store_engine) as session:
        assert _balances(session) == {("stars", "ann"): 75, ("club", "ann"): 25}
        check_ledger(session)
    summary = client.get("/v1/customers/bob").json()  # the alias answers ann's 360
    assert [(a["program"], a["balance"]) for a in summary["loyalty"]] == [
        ("stars", 75),
        ("club", 25),
    ]


@pytest.mark.parametrize("seed", range(4))
def test_merge_adds_balances_for_random_histories(
    client: TestClient, store_engine: Engine, seed: int
) -> None:
    """Random earnings, redemptions, adjustments and returns (negative balances included):
    after the merge the survivor's balance is the sum of both before, per program."""
    rng = random.Random(seed)
    with Session(store_engine, expire_on_commit=False) as session:
        programs = [make_program(session, code, config=NO_PENDING) for code in ("p1", "p2")]
        for step in range(12):
            customer = rng.choice(["ann", "bob"])
            at = T0 + timedelta(days=step)
            order = add_order(session, f"O{step}", customer, f"{rng.randint(1, 90)}.50", at=at)
            on_order_recorded(session, order)
            program = rng.choice(programs)
            if rng.random() < 0.4:
                redeem(session, program, customer, 1, key=f"r{step}", actor="pos", now=NOW)
            if rng.random() < 0.3:
                adjust(
                    session,
                    program,
                    customer,
                    rng.choice([7, 15]),
                    reason="goodwill",
                    actor="cli",
                    key=f"a{step}",
                    now=NOW,
                )
            if rng.random() < 0.3:  # a full return after a spend: the balance may go negative
                spendable = account_view(session, program, customer, NOW).available
                redeem(session, program, customer, spendable, key=f"s{step}", actor="pos", now=NOW)
                ret = add_return(session, f"R{step}", order, str(order.amount), at=NOW)
                on_return_recorded(session, ret, now=NOW)
        session.commit()
        before = _balances(session)
        check_ledger(session, allow_negative=True)

    _merge(client)
    with Session(store_engine) as session:
        after = _balances(session)
        check_ledger(session, allow_negative=True)
    for code in ("p1", "p2"):
        expected = before.get((code, "ann"), 0) + before.get((code, "bob"), 0)
        assert after.get((code, "ann"), 0) == expected
        assert (code, "bob") not in after
