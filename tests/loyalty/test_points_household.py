"""The household section of a live points program: who shares the account, who may spend
from it, and control groups drawn per household (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from loyalty_helpers import T0, add_customer, add_order, check_ledger, make_program
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from regulars.api import create_app
from regulars.api.keys import create_api_key
from regulars.loyalty.accounting.control import control_unit, in_control_group
from regulars.loyalty.accounting.enrolment import holder_for
from regulars.loyalty.accounting.ledger import OrderRef
from regulars.loyalty.economics.effect import program_effect
from regulars.loyalty.errors import HouseholdSpendError
from regulars.loyalty.points.cancellation import cancel_redemption
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.points.redemption import redeem
from regulars.loyalty.points.views import account_view, quote
from regulars.loyalty.tables import LoyaltyAccount, LoyaltyEntry, LoyaltyProgram
from regulars.store.session import session_scope

NOW = T0 + timedelta(days=30)


def _family(session: Session, household: dict[str, Any]) -> LoyaltyProgram:
    """mum joined first, dad and kid a day later (dad < kid by id); pending_days 0."""
    program = make_program(
        session,
        shared_household=True,
        config={"pending_days": 0, "household": household},
    )
    add_customer(session, "mum", "h1", created_at=T0 - timedelta(days=10))
    add_customer(session, "dad", "h1", created_at=T0 - timedelta(days=9))
    add_customer(session, "kid", "h1", created_at=T0 - timedelta(days=9))
    return program


def test_the_first_max_members_share_the_account(session: Session) -> None:
    """max_members 2: mum and dad share household:h1 (mum owns it); kid, third by join
    time, keeps a personal account. mum 10 + dad 20 = 30 shared; kid 30 alone."""
    program = _family(session, {"max_members": 2})
    for customer, amount in (("mum", "10.00"), ("dad", "20.00"), ("kid", "30.00")):
        on_order_recorded(session, add_order(session, f"{customer}-1", customer, amount))
    session.commit()
    assert holder_for(session, program, "dad").household_id == "h1"
    assert holder_for(session, program, "kid").customer_id == "kid"
    assert account_view(session, program, "mum").balance == 30
    assert account_view(session, program, "kid").balance == 30
    assert holder_for(session, program, "mum").household_id == "h1"
    check_ledger(session)


def test_owner_only_lets_only_the_owner_spend(session: Session) -> None:
    program = _family(session, {"spend_policy": "owner_only"})
    on_order_recorded(session, add_order(session, "dad-1", "dad", "100.00"))
    with pytest.raises(HouseholdSpendError, match="only the account owner may spend"):
        redeem(session, program, "dad", 10, key="d1", actor="pos", now=NOW)
    assert redeem(session, program, "mum", 10, key="m1", actor="pos", now=NOW).balance == 90
    cart = quote(session, program, "dad", Decimal("100.00"), [], now=NOW)
    assert cart.max_redeemable_points == 0
    assert (
        quote(session, program, "mum", Decimal("100.00"), [], now=NOW).max_redeemable_points == 90
    )


def test_members_spend_at_most_member_points_per_order(session: Session) -> None:
    """Limit 25 per order for members other than the owner, counted with what the account
    already spent on that order: dad 20 on O1 (20 ≤ 25), 10 more on O1 refused (30), 25 on
    O2 fine; without an order a member may not redeem at all (the limit is per order: 5
    points at a time without one would add up past it); mum is not limited. A retry of an
    accepted redemption is its replay, not a refusal. The ledger names who spent."""
    program = _family(session, {"member_points_per_order": 25})
    on_order_recorded(session, add_order(session, "mum-1", "mum", "200.00"))
    o1, o2 = OrderRef("default", "O1"), OrderRef("default", "O2")
    redeem(session, program, "dad", 20, key="a", actor="pos", order=o1, now=NOW)
    with pytest.raises(HouseholdSpendError, match="at most 25 points per order"):
        redeem(session, program, "dad", 10, key="b", actor="pos", order=o1, now=NOW)
    redeem(session, program, "dad", 25, key="c", actor="pos", order=o2, now=NOW)
    with pytest.raises(HouseholdSpendError, match="only on an order"):
        redeem(session, program, "kid", 5, key="d", actor="pos", now=NOW)
    redeem(session, program, "mum", 100, key="e", actor="pos", order=o1, now=NOW)
    redeem(session, program, "mum", 1, key="f", actor="pos", now=NOW)  # the owner may
    assert redeem(session, program, "dad", 20, key="a", actor="pos", order=o1, now=NOW).replay
    session.commit()
    assert account_view(session, program, "mum", now=NOW).balance == 200 - 20 - 25 - 100 - 1
    spenders = session.execute(
        select(LoyaltyEntry.idempotency_key, LoyaltyEntry.customer_id)
        .where(LoyaltyEntry.kind == "spend")
        .order_by(LoyaltyEntry.id)
    ).all()
    assert [tuple(row) for row in spenders] == [
        ("redeem:a", "dad"),
        ("redeem:c", "dad"),
        ("redeem:e", "mum"),
        ("redeem:f", "mum"),
    ]
    assert (
        quote(session, program, "kid", Decimal("200.00"), [], now=NOW).max_redeemable_points == 25
    )
    check_ledger(session)


def test_a_cancelled_redemption_no_longer_counts_towards_the_member_limit(
    session: Session,
) -> None:
    """Limit 25 per order: dad redeems 20 on O1, cancels it (0 spent on O1 now), then 25
    on O1 fits (0 + 25 ≤ 25) where it would not have before the cancel (20 + 25 = 45)."""
    program = _family(session, {"member_points_per_order": 25})
    on_order_recorded(session, add_order(session, "mum-1", "mum", "200.00"))
    o1 = OrderRef("default", "O1")
    redeem(session, program, "dad", 20, key="a", actor="pos", order=o1, now=NOW)
    with pytest.raises(HouseholdSpendError):
        redeem(session, program, "dad", 25, key="b", actor="pos", order=o1, now=NOW)
    cancel_redemption(session, program, "dad", "a", actor="pos", now=NOW)
    redeem(session, program, "dad", 25, key="c", actor="pos", order=o1, now=NOW)
    session.commit()
    assert account_view(session, program, "mum", now=NOW).balance == 200 - 25
    check_ledger(session)


def _try(engine: Engine, program: LoyaltyProgram, key: str) -> bool:
    try:
        with session_scope(engine) as session:
            order = OrderRef("default", "O1")
            redeem(session, program, "dad", 20, key=key, actor="pos", order=order, now=NOW)
    except HouseholdSpendError:
        return False
    return True


def test_concurrent_member_redemptions_on_one_order_respect_the_limit(
    store_engine: Engine,
) -> None:
    """16 threads each redeem 20 on O1 with a limit of 25: exactly one goes through."""
    with Session(store_engine, expire_on_commit=False) as session:
        program = _family(session, {"member_points_per_order": 25})
        on_order_recorded(session, add_order(session, "mum-1", "mum", "500.00"))
        session.commit()
    workers = 8 if store_engine.dialect.name == "sqlite" else 16
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda i: _try(store_engine, program, f"k{i}"), range(16)))
    assert sum(results) == 1
    with Session(store_engine) as session:
        assert account_view(session, program, "mum", now=NOW).balance == 480


# -- the API -----------------------------------------------------------------------------


@pytest.fixture
def client(store_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(store_engine)) as test_client:
        _row, key = create_api_key(store_engine, "pos", ["loyalty:read", "loyalty:write"])
        test_client.headers["Authorization"] = f"Bearer {key}"
        yield test_client


def test_api_refuses_a_member_with_403_and_a_stray_household_section_with_422(
    client: TestClient, store_engine: Engine
) -> None:
    stray = {
        "code": "stray",
        "name": "Stray",
        "config": {"earn_per_unit": "1", "point_value": "0.01", "household": {"max_members": 2}},
    }
    refused = client.post("/v1/loyalty/programs", json=stray)
    assert refused.status_code == 422
    assert "config.household only applies with shared_household" in refused.json()["detail"]
    with Session(store_engine) as session:
        _family(session, {"spend_policy": "owner_only"})
        on_order_recorded(session, add_order(session, "dad-1", "dad", "100.00"))
        session.commit()
    response = client.post(
        "/v1/loyalty/accounts/dad/redeem",
        json={"points": 10},
        headers={"Idempotency-Key": "dad-1"},
    )
    assert response.status_code == 403, response.text
    assert response.json()["type"].endswith("household-spend-denied")
    assert "only the account owner may spend" in response.json()["detail"]
    owner = client.post(
        "/v1/loyalty/accounts/mum/redeem",
        json={"points": 10},
        headers={"Idempotency-Key": "mum-1"},
    )
    assert owner.status_code == 201, owner.text
    openapi = client.get("/openapi.json").json()
    responses = openapi["paths"]["/v1/loyalty/accounts/{customer_id}/redeem"]["post"]["responses"]
    assert "household" in responses["403"]["description"]


# -- control groups by household -----------------------------------------------------------


def _households(drawn: bool, count: int) -> list[str]:
    found = [
        f"h{i}" for i in range(200) if in_control_group(f"household:h{i}", "stars", 0.5) == drawn
    ]
    return found[:count]


def _customers_against_their_draw(household: str, drawn: bool) -> list[str]:
    """Two customer ids whose own draw is the opposite of their household's, so that only
    drawing by household gives the right answer."""
    ids = [f"{household}-c{i}" for i in range(100)]
    return [c for c in ids if in_control_group(c, "stars", 0.5) != drawn][:2]


def _household_shop(engine: Engine) -> dict[str, list[str]]:
    """Households drawn into control (HC1, HC2) and not (HM1, HM2), two customers each,
    all buying 20.00 in December. In January both customers of HM1 buy 30.00, one
    customer of HC1 buys 10.00."""
    control, members = _households(True, 2), _households(False, 2)
    people = {h: _customers_against_their_draw(h, h in control) for h in control + members}
    with Session(engine, expire_on_commit=False) as session:
        make_program(
            session,
            "stars",
            shared_household=True,
            config={"pending_days": 0, "control_share": "0.5"},
        )
        for household, customers in people.items():
            for customer in customers:
                add_customer(session, customer, household)
                at = datetime(2025, 12, 1, 12, tzinfo=UTC)
                on_order_recorded(
                    session, add_order(session, f"D-{customer}", customer, "20.00", at=at)
                )
        january = datetime(2026, 1, 15, 12, tzinfo=UTC)
        buys = [(c, "30.00") for c in people[members[0]]] + [(people[control[0]][0], "10.00")]
        for customer, amount in buys:
            on_order_recorded(
                session, add_order(session, f"J-{customer}", customer, amount, at=january)
            )
        session.commit()
    return {"control": control, "members": members, **people}


def test_a_household_is_wholly_in_or_out_of_the_control_group(store_engine: Engine) -> None:
    shop = _household_shop(store_engine)
    with Session(store_engine) as session:
        stars = session.scalars(select(LoyaltyProgram)).one()
        for household in shop["control"]:
            for customer in shop[household]:
                assert control_unit(session, stars, customer) == f"household:{household}"
                assert account_view(session, stars, customer).state == "control"
        for household in shop["members"]:
            for customer in shop[household]:
                assert account_view(session, stars, customer).state == "active"
        holders = set(session.scalars(select(LoyaltyAccount.household_id)))
        assert holders == set(shop["members"])


def test_effect_compares_households_as_the_units_drawn(store_engine: Engine) -> None:
    """Per household: members HM1 bought (60.00), HM2 did not → p_t = 1/2, m_t = 30;
    control HC1 bought (10.00), HC2 did not → p_c = 1/2, m_c = 5. Δp = 0, Δm = 25, incremental
    revenue 25 × 2 households = 50. (Per customer it would have been 2/4 against 1/4.)"""
    _household_shop(store_engine)
    effect = program_effect(store_engine, "stars", date(2026, 1, 1), date(2026, 2, 1))
    assert (effect.members.customers, effect.control.customers) == (2, 2)
    assert (effect.members.buyers, effect.control.buyers) == (1, 1)
    assert effect.repeat_rate_diff.estimate == pytest.approx(0)
    assert effect.revenue_per_customer_diff.estimate == pytest.approx(25)
    assert effect.incremental_revenue == pytest.approx(50)
