"""The program types live through the HTTP API, all running at once over the same orders:
a café's "6th coffee free", a cosmetics shop's growing discount card with VIP tiers, an
online store's cashback points, badges and birthday gifts; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from threading import Barrier
from typing import Any

import pytest
from fastapi.testclient import TestClient
from loyalty_helpers import add_customer, add_order
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from regulars.api import create_app
from regulars.api.keys import create_api_key
from regulars.loyalty.catalogue import ProgramSpec, create_program
from regulars.loyalty.jobs import LOYALTY_GIFTS
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.points.returns import on_return_recorded
from regulars.loyalty.program_store.gifts import grant_due_gifts
from regulars.loyalty.program_store.quote import quote_programs
from regulars.loyalty.program_store.tables import LoyaltyBadge, LoyaltyReward, LoyaltyTierState
from regulars.loyalty.tables import LoyaltyEntry, LoyaltyEvent
from regulars.store.tables import Base, Customer, Order, OrderReturn
from regulars.wiring import job_registry

BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
LAUNCH = "2020-01-01T00:00:00Z"

CASHBACK = {
    "code": "cashback",
    "name": "Cashback",
    "type": "points",
    "starts_at": LAUNCH,
    "config": {"earn_per_unit": "1", "point_value": "0.01", "pending_days": 0},
}
COFFEE = {
    "code": "coffee",
    "name": "6th coffee free",
    "type": "stamp_card",
    "starts_at": LAUNCH,
    "config": {"code": "coffee", "skus": ["coffee"], "stamps_required": 5},
}
CARD = {
    "code": "card",
    "name": "Discount card",
    "type": "discount_card",
    "starts_at": LAUNCH,
    "config": {
        "steps": [
            {"threshold": "0", "pct": "3"},
            {"threshold": "100", "pct": "5"},
            {"threshold": "300", "pct": "10"},
        ]
    },
}
VIP = {
    "code": "vip",
    "name": "VIP club",
    "type": "tiers",
    "starts_at": LAUNCH,
    "config": {
        "code": "vip",
        "tiers": [
            {"name": "silver", "threshold": "200", "discount_pct": "2", "perks": ["free_delivery"]},
            {"name": "gold", "threshold": "1000", "discount_pct": "5"},
        ],
        "window_days": 365,
        "grace_days": 30,
    },
}
BADGES = {
    "code": "explorer",
    "name": "Badges",
    "type": "badges",
    "starts_at": LAUNCH,
    "config": {
        "badges": [
            {"code": "two_worlds", "name": "Two worlds", "metric": "categories", "target": 2}
        ]
    },
}
ALL_PROGRAMS = [CASHBACK, COFFEE, CARD, VIP, BADGES]


@pytest.fixture
def client(store_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(store_engine)) as test_client:
        _row, key = create_api_key(store_engine, "pos", ["loyalty:read", "loyalty:write"])
        test_client.headers["Authorization"] = f"Bearer {key}"
        for program in ALL_PROGRAMS:
            response = test_client.post("/v1/loyalty/programs", json=program)
            assert response.status_code == 201, response.text
        yield test_client


def _order(
    engine: Engine, order_id: str, customer: str, lines: list[tuple[str, str, str]], hours: int
) -> None:
    """Record an order of (sku, category, amount) lines as the store's order hook does."""
    amount = str(sum((Decimal(a) for _s, _c, a in lines), Decimal(0)))
    with Session(engine, expire_on_commit=False) as session:
        order = add_order(
            session, order_id, customer, amount, at=BASE + timedelta(hours=hours), lines=lines
        )
        on_order_recorded(session, order)
        session.commit()


def _coffee(engine: Engine, order_id: str, customer: str, hours: int) -> None:
    _order(engine, order_id, customer, [("coffee", "drinks", "3.00")], hours)


def _return_coffee(engine: Engine, return_id: str, order_id: str, hours: int) -> None:
    with Session(engine, expire_on_commit=False) as session:
        order = session.scalars(select(Order).where(Order.order_id == order_id)).one()
        ret = OrderReturn(
            shop_id="default",
            return_id=return_id,
            order_id=order_id,
            customer_id=order.customer_id,
            returned_at=BASE + timedelta(hours=hours),
            amount=Decimal("3.00"),
            lines=[{"sku": "coffee", "quantity": 1, "line_amount": "3.00"}],
        )
        session.add(ret)
        order.refunded_amount += Decimal("3.00")
        session.flush()
        on_return_recorded(session, ret, now=ret.returned_at)
        session.commit()


def _quote(client: TestClient, customer: str, amount: str, lines: list[dict[str, Any]]) -> Any:
    body = {"customer_id": customer, "program": "cashback", "amount": amount, "lines": lines}
    response = client.post("/v1/loyalty/quote", json=body)
    assert response.status_code == 200, response.text
    return {p["program"]: p for p in response.json()["programs"]} | {"_": response.json()}


def _rewards(client: TestClient, customer: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/loyalty/accounts/{customer}/rewards")
    assert response.status_code == 200, response.text
    rewards: list[dict[str, Any]] = response.json()
    return rewards


def test_every_type_is_created_and_a_bad_config_names_the_field(client: TestClient) -> None:
    listed = {p["code"]: p["type"] for p in client.get("/v1/loyalty/programs").json()}
    assert listed == {
        "cashback": "points",
        "coffee": "stamp_card",
        "card": "discount_card",
        "vip": "tiers",
        "explorer": "badges",
    }
    bad = {**CARD, "code": "card2"}
    bad["config"] = {"steps": [{"threshold": "0", "pct": "5"}, {"threshold": "10", "pct": "500"}]}
    response = client.post("/v1/loyalty/programs", json=bad)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "config.steps.1.pct"
    gifts = {"code": "gifts", "name": "Gifts", "type": "gifts", "config": {"birthday": {}}}
    response = client.post("/v1/loyalty/programs", json=gifts)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "config.birthday.reward"


def test_cafe_sixth_coffee_free_with_a_return_before_redeeming(
    client: TestClient, store_engine: Engine
) -> None:
    for i in range(4):
        _coffee(store_engine, f"C{i}", "ann", hours=i)
    quote = _quote(client, "ann", "3.00", [{"sku": "coffee", "line_amount": "3.00"}])
    coffee = quote["coffee"]
    assert (coffee["stamps_now"], coffee["stamps_added"], coffee["completes_free_item"]) == (
        4,
        1,
        True,
    )
    assert quote["_"]["points_earned"] == 3  # the cashback program on the same cart
    _coffee(store_engine, "C4", "ann", hours=4)  # 5 paid coffees: the 6th is free
    [voucher] = _rewards(client, "ann")
    assert (voucher["kind"], voucher["sku"], voucher["state"]) == ("free_item", "coffee", "issued")
    assert voucher["reward_key"] == "stamp:coffee:ann:1"

    _return_coffee(store_engine, "R1", "C2", hours=5)  # card empty: the voucher goes back
    [revoked] = _rewards(client, "ann")
    assert revoked["state"] == "revoked"
    assert _quote(client, "ann", "0", [])["coffee"]["stamps_now"] == 4

    _coffee(store_engine, "C5", "ann", hours=6)  # five kept coffees again: a new voucher
    new, old = _rewards(client, "ann")
    assert (new["reward_key"], new["state"], old["state"]) == (
        "stamp:coffee:ann:2",
        "issued",
        "revoked",
    )
    assert len(new["reward_id"]) == 22  # 128 random bits, not a counter
    redeem = f"/v1/loyalty/rewards/{new['reward_id']}/redeem"
    with Session(store_engine) as session:  # orders without coffee: no stamps
        for order_id, customer in [("C6", "ann"), ("C7", "ann"), ("B9", "bob")]:
            add_order(session, order_id, customer, "3.00", at=BASE + timedelta(hours=8))
        session.commit()
    unknown = client.post(redeem, json={"order_id": "nope"})
    assert (unknown.status_code, unknown.json()["detail"]) == (
        422,
        "order_id: no order 'nope' in shop 'default'",
    )
    theirs = client.post(redeem, json={"order_id": "B9"})
    assert theirs.status_code == 422
    assert "another customer's" in theirs.json()["detail"]
    assert client.post(redeem, json={"order_id": "C6"}).status_code == 201
    assert client.post(redeem, json={"order_id": "C6"}).status_code == 200  # a retry
    used = client.post(redeem, json={"order_id": "C7"})
    assert used.status_code == 409
    assert used.json()["state"] == "redeemed"
    assert client.post(f"/v1/loyalty/rewards/{old['reward_id']}/redeem", json={}).status_code == 409
    # The primary key (1 is the first reward's) is no public id.
    assert client.post("/v1/loyalty/rewards/1/redeem", json={}).status_code == 404
    # A return dated before the redemption (a backdated import): the used voucher stays used.
    _return_coffee(store_engine, "R2", "C3", hours=7)
    assert [r["state"] for r in _rewards(client, "ann")] == ["redeemed", "revoked"]


def _tier_events(engine: Engine) -> list[dict[str, Any]]:
    with Session(engine) as session:
        rows = session.scalars(
            select(LoyaltyEvent.payload)
            .where(LoyaltyEvent.kind == "tier_changed")
            .order_by(LoyaltyEvent.id)
        )
        return [dict(p) for p in rows if p.get("program") == "vip"]


def test_cosmetics_discount_card_grows_and_vip_tier_changes_once(
    client: TestClient, store_engine: Engine
) -> None:
    cart = [{"sku": "cream", "category": "skin", "line_amount": "50.00"}]
    first = _quote(client, "bob", "50.00", cart)
    assert (first["card"]["discount_pct"], first["card"]["discount_amount"]) == ("3", "1.50")
    assert first["vip"]["tier"] is None
    _order(store_engine, "K1", "bob", [("cream", "skin", "150.00")], hours=0)
    assert _quote(client, "bob", "50.00", cart)["card"]["discount_pct"] == "5"  # spend 150
    crossing = _quote(client, "bob", "100.00", cart)
    assert crossing["vip"]["tier_after"] == "silver"  # 150 + 100 reaches 200
    _order(store_engine, "K2", "bob", [("serum", "skin", "200.00")], hours=1)
    quote = _quote(client, "bob", "50.00", cart)
    assert quote["card"]["discount_pct"] == "10"  # spend 350 ≥ 300
    vip = quote["vip"]
    assert (vip["tier"], vip["discount_pct"], vip["discount_amount"]) == ("silver", "2", "1.00")
    assert vip["perks"] == ["free_delivery"]
    assert [(e["from"], e["to"]) for e in _tier_events(store_engine)] == [(None, "silver")]
    _order(store_engine, "K3", "bob", [("soap", "skin", "10.00")], hours=2)
    with Session(store_engine) as session:  # the same order again: nothing new
        on_order_recorded(
            session, session.scalars(select(Order).where(Order.order_id == "K2")).one()
        )
        session.commit()
    assert len(_tier_events(store_engine)) == 1
    [tier] = client.get("/v1/loyalty/accounts/bob").json()["tiers"]
    assert (tier["program"], tier["tier"], tier["perks"]) == ("vip", "silver", ["free_delivery"])
    assert tier["since"] is not None


def test_all_programs_over_the_same_orders_and_idempotent_replays(
    client: TestClient, store_engine: Engine
) -> None:
    _order(store_engine, "M1", "cat", [("coffee", "drinks", "3.00")], hours=0)
    _order(store_engine, "M2", "cat", [("cream", "skin", "250.00")], hours=1)
    account = client.get("/v1/loyalty/accounts/cat").json()
    assert (account["program"], account["balance"]) == ("cashback", 253)
    assert account["tiers"][0]["tier"] == "silver"
    [badge] = client.get("/v1/loyalty/accounts/cat/badges").json()
    assert (badge["program"], badge["code"], badge["name"]) == (
        "explorer",
        "two_worlds",
        "Two worlds",
    )
    assert client.get("/v1/loyalty/accounts/nobody/badges").status_code == 404

    def counts() -> tuple[int, ...]:
        with Session(store_engine) as session:
            return tuple(
                session.scalar(select(func.count()).select_from(table)) or 0
                for table in (LoyaltyEntry, LoyaltyEvent, LoyaltyReward, LoyaltyBadge)
            )

    before = counts()
    with Session(store_engine) as session:  # re-evaluate every order and return
        for order in session.scalars(select(Order).where(Order.customer_id == "cat")):
            on_order_recorded(session, order)
        session.commit()
    assert counts() == before


def test_quote_writes_nothing(client: TestClient, store_engine: Engine) -> None:
    _coffee(store_engine, "Q1", "dan", hours=0)

    def rows() -> dict[str, int]:
        with Session(store_engine) as session:
            return {
                t.name: session.scalar(select(func.count()).select_from(t)) or 0
                for t in Base.metadata.sorted_tables
            }

    before = rows()
    quote = _quote(client, "dan", "10.00", [{"sku": "coffee", "quantity": 4, "line_amount": "10"}])
    assert quote["coffee"]["completes_free_item"] is True  # 1 + 4 stamps
    _quote(client, "newcomer", "10.00", [])
    assert rows() == before
    with Session(store_engine) as session:
        assert session.scalar(select(func.count()).select_from(LoyaltyTierState)) == 1


def test_two_concurrent_orders_completing_one_card_give_one_free_item(
    store_engine: Engine,
) -> None:
    """Two stamps fill the card; each order alone has one. Without serialising the
    evaluation per customer, each transaction would see one stamp and grant nothing.

    Only the stamp card runs (a points program would serialise the two orders already, on
    the account row). On PostgreSQL both orders are written before either is evaluated;
    SQLite has one writer, so there the threads only start together."""
    config = {"code": "espresso", "skus": ["espresso"], "stamps_required": 2}
    spec = ProgramSpec("espresso", "Espresso", "stamp_card", config, starts_at=BASE)
    with Session(store_engine) as session:
        create_program(session, spec)
        add_customer(session, "eve")
        session.commit()
    barrier = Barrier(2)
    postgres = store_engine.dialect.name == "postgresql"

    def order(i: int) -> None:
        with Session(store_engine, expire_on_commit=False) as session:
            if not postgres:
                barrier.wait()
            lines = [("espresso", "drinks", "2.00")]
            placed = add_order(session, f"E{i}", "eve", "2.00", at=BASE + timedelta(i), lines=lines)
            if postgres:
                barrier.wait()
            on_order_recorded(session, placed)
            session.commit()

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(order, range(2)))
    with Session(store_engine) as session:
        keys = session.scalars(select(LoyaltyReward.reward_key)).all()
    assert keys == ["stamp:espresso:eve:1"]


def test_daily_gifts_job_grants_birthday_and_holiday_gifts_once(
    client: TestClient, store_engine: Engine
) -> None:
    now = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)  # already 2 December in Tokyo
    gifts = {
        "code": "gifts",
        "name": "Gifts",
        "type": "gifts",
        "starts_at": LAUNCH,
        "config": {
            "birthday": {"reward": {"gift": "cake"}, "valid_days": 1},
            "holidays": [{"code": "winter", "dates": ["2026-12-01"], "reward": {"points": 50}}],
        },
    }
    assert client.post("/v1/loyalty/programs", json=gifts).status_code == 201
    with Session(store_engine) as session:
        session.add(Customer(customer_id="yui", birthday=date(1990, 12, 2), time_zone="Asia/Tokyo"))
        session.add(Customer(customer_id="ed", birthday=date(1990, 12, 2), time_zone="UTC"))
        session.commit()
        assert grant_due_gifts(session, now) == {"rewards": 1, "points": 50}
        assert grant_due_gifts(session, now) == {"rewards": 0, "points": 0}  # a rerun
        session.commit()
    # yui: 2 Dec in Tokyo → the birthday cake, the 1 Dec holiday is over; ed: still 1 Dec.
    [cake] = _rewards(client, "yui")
    assert (cake["kind"], cake["gift"], cake["reward_key"]) == ("gift", "cake", "birthday:yui:2026")
    assert _rewards(client, "ed") == []
    assert client.get("/v1/loyalty/accounts/ed?program=cashback").json()["balance"] == 50
    registry = job_registry()
    assert registry.get(LOYALTY_GIFTS) is not None


def test_quote_moves_a_stale_tier_on_to_now_without_writing(store_engine: Engine) -> None:
    """Silver from 250 spent 30 days ago; the 10-day window ended 20 days ago with nothing
    in it and there is no grace: the tier now is none, though the stored state (last
    evaluated at the order) still says silver."""
    config = {
        "code": "short",
        "tiers": [{"name": "silver", "threshold": "200", "discount_pct": "2"}],
        "window_days": 10,
        "grace_days": 0,
    }
    spec = ProgramSpec("short", "Short club", "tiers", config, starts_at=BASE - timedelta(1))
    with Session(store_engine, expire_on_commit=False) as session:
        create_program(session, spec)
        on_order_recorded(session, add_order(session, "S1", "sam", "250.00", at=BASE))
        session.commit()
        stored = session.scalars(select(LoyaltyTierState.tier)).one()
        [part] = quote_programs(session, "sam", Decimal("100.00"), [], datetime.now(UTC))
        assert (stored, part.tier, part.discount_pct, part.tier_after) == (
            "silver",
            None,
            Decimal(0),
            None,  # 100 in the window does not reach 200
        )
        assert session.scalars(select(LoyaltyTierState.tier)).one() == "silver"
